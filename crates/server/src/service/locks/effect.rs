//! What an effective request does, inside the transaction that made it effective, for every path that gets
//! there (an immediate filing, an officer's approval, a lost-phone confirmation, the automatic locks): a lock
//! request places its lock on its account — or on every pending account of a bulk order — and ends the holders'
//! sessions; an unlock request lifts its lock (and an override tells the lock's owner). Each account locked gets
//! the same audit entry and the same notice, whichever path locked it. Also [`record`]: a request's steps, the
//! holder's notice of the step and the audit entries, which every use case writes the same way.

use chrono::{DateTime, Utc};
use dinhdanh_domain::authority;
use dinhdanh_domain::bulk::TargetOutcome;
use dinhdanh_domain::lock::{Lift, Lock, Party};
use dinhdanh_domain::request::{Request, RequestKind, RequestStatus, Step, StepEvent, Subject};
use dinhdanh_domain::{Account, AccountId, notice};
use dinhdanh_store::{AuditEntry, BulkEffect, NewMessage, NewNotice, Tx};
use serde_json::json;

use super::audit_entry;
use crate::problem::ApiError;
use crate::service::notices::queue_notice;

/// Records steps, queues the holder's notice naming the last step (the one that leaves the request as it now
/// stands), and appends the audit entries.
pub(super) async fn record(
    tx: &mut Tx,
    account: Option<&Account>,
    request: &Request,
    steps: &[Step],
    audit: Vec<AuditEntry>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    for step in steps {
        tx.insert_step(&request.id, step).await?;
    }
    // The authority table says when the holder may hear of it: an authority's lock request only once effective.
    if let Some(account) = account.filter(|_| authority::holder_sees(request.ground, request.kind, request.status)) {
        let step = steps.last().map_or(StepEvent::Recorded, |s| s.event);
        queue_notice(tx, account, "request_update", holder_notice(request, step), now).await?;
    }
    for entry in audit {
        tx.audit(entry).await?;
    }
    Ok(())
}

/// The notice telling a holder that `request` took `step` (with the written reasons of a refusal).
fn holder_notice(request: &Request, step: StepEvent) -> notice::Notice {
    let reasons = (request.status == RequestStatus::Rejected).then_some(request.decision_reason.as_deref()).flatten();
    notice::request_update(
        &request.tracking_code.to_string(),
        request.kind,
        request.ground,
        &request.requester,
        step,
        reasons,
    )
}

/// The audit entry of a lock placed by `request` on `account` (one per account, a bulk order's included).
fn lock_placed(
    actor_name: &str,
    request: &Request,
    account: &AccountId,
    lock_id: &str,
    sessions: u64,
    now: DateTime<Utc>,
) -> AuditEntry {
    let mut entry =
        audit_entry(actor_name, "lock.place", request, now, json!({"lock_id": lock_id, "sessions_revoked": sessions}));
    entry.subject = Some(account.to_string());
    if request.is_bulk_order() {
        entry.detail["bulk"] = json!(true);
    }
    entry
}

/// Applies an effective request: places the lock (and ends the holder's sessions), every lock of a bulk order,
/// or lifts the lock. Returns the audit entries to append.
pub(crate) async fn apply_effect(
    tx: &mut Tx,
    request: &mut Request,
    actor_name: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AuditEntry>, ApiError> {
    match (request.kind, request.subject.clone()) {
        (RequestKind::Lock, Subject::Account(account)) => {
            let lock = request.lock_on(&account, uuid::Uuid::new_v4().to_string(), now);
            tx.insert_lock(&lock).await?;
            let sessions = tx.revoke_holder_sessions(&account, now).await?;
            request.lock_id = Some(lock.id.clone());
            Ok(vec![lock_placed(actor_name, request, &account, &lock.id, sessions, now)])
        }
        (RequestKind::Lock, Subject::BulkOrder) => apply_order(tx, request, actor_name, now).await,
        (RequestKind::Unlock, _) => lift(tx, request, actor_name, now).await,
    }
}

/// Lifts an unlock request's lock; an override also tells the lock's owner.
async fn lift(
    tx: &mut Tx,
    request: &Request,
    actor_name: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AuditEntry>, ApiError> {
    let lock_id = request.lock_id.clone().ok_or_else(|| ApiError::internal("unlock request without lock"))?;
    let lift = Lift {
        at: now,
        by: request.requester.clone(),
        legal_basis: request.legal_basis.clone(),
        reason: request.reason.clone(),
        request_id: Some(request.id.clone()),
    };
    let lock = tx.lock_by_id(&lock_id).await?;
    if !tx.lift_lock(&lock_id, &lift).await? {
        return Err(ApiError::Conflict { what: "the lock was lifted already".to_owned() });
    }
    let action = if request.is_override { "lock.override_lift" } else { "lock.lift" };
    let owner_notified = match (&lock, request.is_override) {
        (Some(lock), true) => tell_owner_of_override(tx, lock, request, now).await?,
        _ => false,
    };
    Ok(vec![audit_entry(
        actor_name,
        action,
        request,
        now,
        json!({"lock_id": lock_id, "override": request.is_override, "owner_notified": owner_notified}),
    )])
}

/// The supervisors' override lifted someone else's lock: the request that placed it gets a step saying so (its
/// requester reads when, and on what basis), and an organization that owned it is told at its contact address.
/// Returns whether a notice was queued.
async fn tell_owner_of_override(
    tx: &mut Tx,
    lock: &Lock,
    request: &Request,
    now: DateTime<Utc>,
) -> Result<bool, ApiError> {
    let basis = request.legal_basis.as_ref();
    let mut code = None;
    if let Some(placing) = &lock.request_id
        && let Some(original) = tx.request_tx(placing).await?
    {
        let note = basis.map(|b| format!("{} {} ({}, {})", b.document_kind, b.number, b.issued_on, b.issuing_body));
        let step =
            Step { at: now, status: original.status, event: StepEvent::LiftedByOverride, by: Party::System, note };
        tx.insert_step(&original.id, &step).await?;
        code = Some(original.tracking_code.to_string());
    }
    let Party::Organization { organization_id, .. } = &lock.placed_by else { return Ok(false) };
    let Some(email) = tx.organization(organization_id).await?.and_then(|o| o.contact_email) else { return Ok(false) };
    let text = notice::lock_lifted_by_override(code.as_deref(), lock, now, basis);
    let message = NewMessage {
        kind: "lock_overridden",
        channel: dinhdanh_domain::Channel::Email,
        recipient: email.as_str().to_owned(),
        subject: text.subject,
        body: text.body,
    };
    tx.enqueue(message, now).await?;
    Ok(true)
}

/// Applies an approved bulk order (bulk-lock.md): every pending entry's account is locked in this one
/// transaction by the store's set-based statements (`Tx::apply_bulk_order`) — the accounts held, the locks
/// inserted, the holders' sessions revoked, one notice per holder and registered channel queued, each entry's
/// outcome written back — and one audit entry per account locked plus the order's summary are returned. An
/// account on which the same organization already holds a lock of this ground in force is not locked twice
/// (`already_locked`, naming that lock).
async fn apply_order(
    tx: &mut Tx,
    request: &mut Request,
    actor_name: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AuditEntry>, ApiError> {
    let started = std::time::Instant::now();
    // Every account gets the same lock but for its id and account (a bulk order is never the holder's own, whose
    // owner would be each account's holder): the store sets those two.
    let template = request.lock_on(&AccountId::new(String::new()), String::new(), now);
    // Applied as the order takes effect: each holder is told of that step.
    let text = holder_notice(request, StepEvent::Effective);
    let notice = NewNotice { kind: "request_update", subject: text.subject, body: text.body };
    let applied =
        tx.apply_bulk_order(&BulkEffect { request_id: &request.id, lock: &template, notice: &notice, now }).await?;
    let mut audit = Vec::with_capacity(applied.locked.len() + 1);
    for entry in &applied.locked {
        audit.push(lock_placed(actor_name, request, &entry.account_id, &entry.lock_id, entry.sessions_revoked, now));
    }
    let counts = json!({
        TargetOutcome::Locked.as_str(): applied.locked.len(),
        TargetOutcome::AlreadyLocked.as_str(): applied.already_locked,
        TargetOutcome::NotFound.as_str(): applied.not_found,
    });
    let mut summary = audit_entry(actor_name, "bulk_lock.apply", request, now, json!({"outcomes": counts}));
    summary.subject = None;
    audit.push(summary);
    metrics::histogram!("dinhdanh_bulk_lock_apply_seconds").record(started.elapsed().as_secs_f64());
    Ok(audit)
}
