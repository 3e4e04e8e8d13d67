//! The lock engine's use cases: file a lock or unlock request, take it through the officers' steps, make it
//! effective, cancel it, and read locks and requests. Every decision is a call into the domain: `authorization`
//! (may this actor act at all), `authority` (may it place or lift this lock, with what evidence, by which route)
//! and `request` (the state machine). Each use case is one store transaction holding the account (or request)
//! row: the request row, its steps, the lock or lift, the revocation of the holder's sessions, the notices and
//! the audit entries commit together or not at all.
//!
//! By concern:
//! - [`filing`]: lock and unlock requests as filed by holders, organizations, officers and the system;
//! - [`steps`]: the officers' steps (claim, release, forward, decide) and the requester's cancellation;
//! - [`effect`]: what an effective request does — one lock, one lift, or every lock of a bulk order — and the
//!   notices and audit entries that go with it, shared by every path;
//! - [`idempotency`]: answering a retried operation once;
//! - [`lost_phone`]: the holder's own lock without signing in;
//! - [`reading`]: listing and reading requests (the officers' queue too), who may read which request, and how a
//!   lock's placer is named to a holder.
//!
//! Bulk orders are filed and read in `service::bulk`, which builds on these; nothing here depends on it.

mod effect;
mod filing;
mod idempotency;
mod lost_phone;
mod reading;
mod steps;
mod tracking;

use chrono::{DateTime, Utc};
use dinhdanh_domain::actor::{Actor, OfficerRole};
use dinhdanh_domain::authority;
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::lock::{Ground, Party};
use dinhdanh_domain::request::{Request, RequestError};
use dinhdanh_store::AuditEntry;
use serde_json::json;

use crate::problem::ApiError;

pub(crate) use effect::apply_effect;
pub use filing::{LOCK_BATCH, LockFilings, LockOrder, UnlockOrder, request_lock, request_unlock};
pub(crate) use filing::{check_lock_order, file, insert_with_tracking_code};
pub use idempotency::Idempotency;
pub(crate) use idempotency::{Claim, claim_first, replayed_outside};
pub use lost_phone::{LostPhoneLock, LostPhoneOutcome, confirm_lock_without_sign_in, lock_without_sign_in};
pub use reading::{list_requests, may_read, placed_by_name, request_with_steps};
pub use steps::{Decision, OfficerStep, cancel, officer_step};
pub use tracking::tracked_request;

/// A state-machine refusal as the API answers it.
fn request_error(e: RequestError) -> ApiError {
    match e {
        RequestError::WrongRole(role) => ApiError::Forbidden { action: role_action(role).as_str() },
        RequestError::NotTheRequester => ApiError::Forbidden { action: "requests.cancel" },
        RequestError::ReasonsRequired => ApiError::field("reason", e),
        RequestError::InPersonCheckRequired => ApiError::field("in_person_check", e),
        RequestError::ForwarderCannotDecide => ApiError::Forbidden { action: "requests.decide (separation of duties)" },
        other => ApiError::Conflict { what: other.to_string() },
    }
}

/// The authorization-table action of an officer step that belongs to `role`.
fn role_action(role: OfficerRole) -> Action {
    match role {
        OfficerRole::Reviewer => Action::ForwardRequest,
        _ => Action::DecideRequest,
    }
}

/// An authority-table refusal as the API answers it.
fn refusal(e: authority::Refusal) -> ApiError {
    ApiError::LockRefused { reason: e.to_string() }
}

/// The party an actor files as.
pub(crate) fn party_of(actor: &Actor) -> Result<Party, ApiError> {
    match actor {
        Actor::Holder { account_id, .. } => Ok(Party::Holder { account_id: account_id.clone() }),
        Actor::Organization { organization_id, kind, .. } => {
            Ok(Party::Organization { organization_id: organization_id.clone(), kind: *kind })
        }
        Actor::Officer { officer_id, .. } => Ok(Party::Officer { officer_id: officer_id.clone() }),
        Actor::System => Ok(Party::System),
        Actor::Anonymous => Err(ApiError::Unauthorized),
    }
}

/// An audit entry about a request: its id, tracking code, ground and kind beside `detail`, its account as subject.
pub(crate) fn audit_entry(
    actor: &str,
    action: &'static str,
    request: &Request,
    at: DateTime<Utc>,
    detail: serde_json::Value,
) -> AuditEntry {
    let mut detail = detail;
    detail["request_id"] = json!(request.id);
    detail["tracking_code"] = json!(request.tracking_code.as_str());
    detail["ground"] = json!(request.ground.as_str());
    detail["kind"] = json!(request.kind.as_str());
    AuditEntry {
        at,
        actor: actor.to_owned(),
        action,
        subject: request.subject.account().map(|a| a.to_string()),
        outcome: "ok",
        detail,
    }
}

/// The audit entry of a filing the authority table refused.
fn refused(
    actor: &Actor,
    action: &'static str,
    ground: Ground,
    e: &impl std::fmt::Display,
    now: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry {
        at: now,
        actor: actor.audit_name(),
        action,
        subject: None,
        outcome: "refused",
        detail: json!({"ground": ground.as_str(), "reason": e.to_string()}),
    }
}
