//! The officers' steps on a request (claim, release, forward, approve, reject) and the requester's
//! cancellation. A step is the state machine's (`domain::request`), gated by the authorization table for the role
//! it belongs to; an approval that makes the request effective applies it in the same transaction.

use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::request::{InPersonCheck, Request, RequestKind, RequestStatus};
use serde_json::json;

use super::effect::{apply_effect, record};
use super::idempotency::{Idempotency, load, remember, replayed, replayed_outside};
use super::{audit_entry, party_of, request_error, role_action};
use crate::AppState;
use crate::auth::authorize;
use crate::problem::ApiError;

/// An officer's decision on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

/// An officer's step on a request: claim, release, forward, approve or reject. Returns the request as it now
/// stands. With an `Idempotency-Key`, a retry of a step that was taken (say, after the answer was lost) returns the
/// request instead of refusing a step already taken.
pub async fn officer_step(
    state: &AppState,
    actor: &Actor,
    request_id: &str,
    step: OfficerStep,
    idempotency: Option<&Idempotency>,
) -> Result<Request, ApiError> {
    state.store.retrying(|| take_step(state, actor, request_id, step.clone(), idempotency)).await
}

async fn take_step(
    state: &AppState,
    actor: &Actor,
    request_id: &str,
    step: OfficerStep,
    idempotency: Option<&Idempotency>,
) -> Result<Request, ApiError> {
    // Asked before the request is looked up, so that nobody outside the queue learns which ids exist.
    authorize(state, actor, Action::WorkQueue).await?;
    let Actor::Officer { officer_id, roles, .. } = actor else {
        return Err(ApiError::Forbidden { action: Action::WorkQueue.as_str() });
    };
    let now = state.clock.now();
    // A step already taken under this key: its request, whatever step is due now.
    if let Some(first) = replayed_outside(state, idempotency).await? {
        return load(state, &first).await;
    }
    let request = state.store.request(request_id).await?.ok_or(ApiError::NotFound { what: "request" })?;
    // The authorization table gates the step by the role it belongs to; the request's route says which that is.
    let due =
        request.next_decider().ok_or(ApiError::Conflict { what: "this request has no officer step".to_owned() })?;
    authorize(state, actor, role_action(due)).await?;
    // Account, then request: the store's lock order.
    let mut tx = state.store.begin().await?;
    let account = match request.subject.account() {
        Some(id) => tx.lock_account(id).await?,
        None => None,
    };
    let mut request = tx.lock_request(request_id).await?.ok_or(ApiError::NotFound { what: "request" })?;
    if let Some(first) = replayed(&mut tx, idempotency).await? {
        drop(tx);
        return load(state, &first).await;
    }
    let name = actor.audit_name();
    let (steps, mut audit) = match &step {
        OfficerStep::Claim => {
            let s = request.claim(officer_id, roles, now).map_err(request_error)?;
            (vec![s], vec![audit_entry(&name, "request.claim", &request, now, json!({}))])
        }
        OfficerStep::Release => {
            let s = request.release(officer_id, now).map_err(request_error)?;
            (vec![s], vec![audit_entry(&name, "request.release", &request, now, json!({}))])
        }
        OfficerStep::Forward { note } => {
            let s =
                request.forward(officer_id, roles, note.clone(), now, &state.config.calendar).map_err(request_error)?;
            (vec![s], vec![audit_entry(&name, "request.forward", &request, now, json!({"deadline": request.deadline}))])
        }
        OfficerStep::Decide { in_person_check: Some(_), .. } if !request.awaits_in_person_check() => {
            return Err(ApiError::field("in_person_check", "this request takes no in-person check"));
        }
        OfficerStep::Decide { decision: Decision::Reject, reason, .. } => {
            let s = request.reject(officer_id, roles, reason, now).map_err(request_error)?;
            (vec![s], vec![audit_entry(&name, "request.reject", &request, now, json!({"reasons": reason}))])
        }
        OfficerStep::Decide { decision: Decision::Approve, reason, in_person_check } => {
            let note = Some(reason.trim().to_owned()).filter(|r| !r.is_empty());
            if let Some(check) = in_person_check {
                request.in_person_check = Some(check.clone());
            }
            let s = request.approve(officer_id, roles, note, now).map_err(request_error)?;
            let checked = request.in_person_check.as_ref().filter(|_| in_person_check.is_some()).map(
                |c| json!({"document_kind": c.document_kind, "document_number": c.masked_number(), "office": c.office}),
            );
            let detail = json!({"override": request.is_override, "in_person_check": checked});
            (s, vec![audit_entry(&name, "request.approve", &request, now, detail)])
        }
    };
    if request.status == RequestStatus::Effective {
        if let Some(lock_id) = request.lock_id.clone().filter(|_| request.kind == RequestKind::Unlock) {
            let still_active = tx.lock_by_id(&lock_id).await?.is_some_and(|l| l.is_active(now));
            if !still_active {
                return Err(ApiError::Conflict { what: "the lock is no longer active; nothing to lift".to_owned() });
            }
        }
        audit.extend(apply_effect(&mut tx, &mut request, &name, now).await?);
    }
    tx.update_request(&request).await?;
    let notify = if matches!(step, OfficerStep::Release) { None } else { account.as_ref() };
    record(&mut tx, notify, &request, &steps, audit, now).await?;
    remember(&mut tx, idempotency, 200, &request.id, now).await?;
    tx.commit().await?;
    Ok(request)
}

#[derive(Debug, Clone)]
pub enum OfficerStep {
    Claim,
    /// The claimant gives the request back to the queue (nobody is notified: nothing happened to the request).
    Release,
    Forward {
        note: Option<String>,
    },
    Decide {
        decision: Decision,
        reason: String,
        /// What the reviewer checked in person: required to approve a request that
        /// [`Request::awaits_in_person_check`], refused on any other.
        in_person_check: Option<InPersonCheck>,
    },
}

/// The requester withdraws a pending request.
pub async fn cancel(state: &AppState, actor: &Actor, request_id: &str) -> Result<Request, ApiError> {
    state.store.retrying(|| cancel_once(state, actor, request_id)).await
}

async fn cancel_once(state: &AppState, actor: &Actor, request_id: &str) -> Result<Request, ApiError> {
    authorize(state, actor, Action::RequestsCancel).await?;
    let party = party_of(actor)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    // The request is read, not held, to find its account: the account is held first (the store's lock order),
    // and a request never changes account.
    let request = tx.request_tx(request_id).await?.ok_or(ApiError::NotFound { what: "request" })?;
    let account = match request.subject.account() {
        Some(id) => tx.lock_account(id).await?,
        None => None,
    };
    let mut request = tx.lock_request(request_id).await?.ok_or(ApiError::NotFound { what: "request" })?;
    if request.requester != party {
        // Someone else's request: do not even confirm it exists.
        return Err(ApiError::NotFound { what: "request" });
    }
    let step = request.cancel(&party, now).map_err(request_error)?;
    tx.update_request(&request).await?;
    let audit = vec![audit_entry(&actor.audit_name(), "request.cancel", &request, now, json!({}))];
    record(&mut tx, account.as_ref(), &request, &[step], audit, now).await?;
    tx.commit().await?;
    Ok(request)
}
