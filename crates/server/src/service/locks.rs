//! The lock engine's use cases: file a lock or unlock request, take it through the officers' steps, make it
//! effective, cancel it, and read locks, requests and account status. Every decision is a call into the domain:
//! `authorization` (may this actor act at all), `authority` (may it place or lift this lock, with what evidence,
//! by which route) and `request` (the state machine). Each use case is one store transaction holding the account
//! (or request) row: the request row, its steps, the lock or lift, the revocation of the holder's sessions, the
//! notices and the audit entries commit together or not at all.

use chrono::{DateTime, Utc};
use dinhdanh_domain::actor::{Actor, OfficerRole};
use dinhdanh_domain::authority::{self, AuthorityPolicy, Evidence, LiftRequester, Placer, Requirement, Route};
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::calendar::{WorkingCalendar, vietnam};
use dinhdanh_domain::lock::{Ground, LegalBasis, Lift, Lock, Party};
use dinhdanh_domain::request::{NewRequest, Request, RequestError, RequestKind, RequestStatus, Step};
use dinhdanh_domain::tracking::TrackingCode;
use dinhdanh_domain::{Account, IdentityKey, notice};
use dinhdanh_store::{AuditEntry, NewMessage, StoreError, Tx};
use rand::RngCore;
use serde_json::json;

use crate::AppState;
use crate::auth::authorize;
use crate::problem::ApiError;
use crate::service::notices::queue_notice;

/// What a lock request asks for.
#[derive(Debug, Clone)]
pub struct LockOrder {
    /// The account; ignored for a holder, who can only lock their own.
    pub account: Option<IdentityKey>,
    pub ground: Ground,
    pub legal_basis: Option<LegalBasis>,
    pub reason: String,
    pub reference: Option<String>,
    /// A temporary lock ends by itself at this instant.
    pub ends_at: Option<DateTime<Utc>>,
}

/// What an unlock request asks for.
#[derive(Debug, Clone)]
pub struct UnlockOrder {
    pub lock_id: String,
    pub reason: String,
    pub legal_basis: Option<LegalBasis>,
    pub reference: Option<String>,
    /// An officer who has checked the holder in person files the holder's own unlock: what they checked.
    pub in_person_check: Option<dinhdanh_domain::request::InPersonCheck>,
    /// A supervisor lifts another party's lock with a legal basis (four-eyes).
    pub is_override: bool,
}

/// An `Idempotency-Key` with the fingerprint of the request it came with, scoped to the caller.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub scope: String,
    pub key: String,
    pub fingerprint: String,
}

/// Returns the request a retried operation produced the first time, if this key was seen; refuses a key reused
/// for a different request. Runs inside the transaction that holds the account, so retries queue behind it.
async fn replayed(tx: &mut Tx, idempotency: Option<&Idempotency>) -> Result<Option<String>, ApiError> {
    let Some(k) = idempotency else { return Ok(None) };
    replay_of(k, tx.idempotent_response(&k.scope, &k.key).await?)
}

/// [`replayed`] before any transaction: an operation retried after it was done is answered without taking locks.
pub(crate) async fn replayed_outside(
    state: &AppState,
    idempotency: Option<&Idempotency>,
) -> Result<Option<String>, ApiError> {
    let Some(k) = idempotency else { return Ok(None) };
    replay_of(k, state.store.idempotent_response(&k.scope, &k.key).await?)
}

fn replay_of(k: &Idempotency, stored: Option<dinhdanh_store::StoredResponse>) -> Result<Option<String>, ApiError> {
    match stored {
        None => Ok(None),
        Some(stored) if stored.request_hash == k.fingerprint => Ok(Some(stored.response)),
        Some(_) => Err(ApiError::Conflict { what: "this Idempotency-Key was used for a different request".to_owned() }),
    }
}

async fn remember(
    tx: &mut Tx,
    idempotency: Option<&Idempotency>,
    status: i64,
    request_id: &str,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let Some(k) = idempotency else { return Ok(()) };
    let stored =
        dinhdanh_store::StoredResponse { request_hash: k.fingerprint.clone(), status, response: request_id.to_owned() };
    tx.store_idempotent_response(&k.scope, &k.key, &stored, now).await?;
    Ok(())
}

/// Looks a replayed request up (outside the transaction that found it).
async fn load(state: &AppState, request_id: &str) -> Result<Request, ApiError> {
    state.store.request(request_id).await?.ok_or_else(|| ApiError::internal("idempotency key names a missing request"))
}

/// An officer's decision on a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

fn request_error(e: RequestError) -> ApiError {
    match e {
        RequestError::WrongRole(role) => ApiError::Forbidden { action: role_action(role).as_str() },
        RequestError::NotTheRequester => ApiError::Forbidden { action: "requests.cancel" },
        RequestError::ReasonsRequired => ApiError::field("reason", e),
        RequestError::ForwarderCannotDecide => ApiError::Forbidden { action: "requests.decide (separation of duties)" },
        other => ApiError::Conflict { what: other.to_string() },
    }
}

fn role_action(role: OfficerRole) -> Action {
    match role {
        OfficerRole::Reviewer => Action::ForwardRequest,
        _ => Action::DecideRequest,
    }
}

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

/// The first role of an officer (or the actor's kind) that the authority table lets place `ground`.
fn placement_for(actor: &Actor, ground: Ground, policy: AuthorityPolicy) -> Result<Requirement, authority::Refusal> {
    match actor {
        Actor::Holder { .. } => authority::placement(Placer::Holder, ground, policy),
        Actor::Organization { kind, .. } => authority::placement(Placer::Organization(*kind), ground, policy),
        Actor::System => authority::placement(Placer::System, ground, policy),
        Actor::Officer { roles, .. } => {
            let mut last = authority::Refusal::NotAPlacerOfThisGround;
            for role in roles {
                match authority::placement(Placer::Officer(*role), ground, policy) {
                    Ok(requirement) => return Ok(requirement),
                    Err(e) => last = e,
                }
            }
            Err(last)
        }
        Actor::Anonymous => Err(authority::Refusal::NotAPlacerOfThisGround),
    }
}

/// The authorization-table action that lets this kind of actor file lock requests at all.
fn filing_action(actor: &Actor, kind: RequestKind, is_override: bool) -> Action {
    match (actor, kind) {
        (Actor::Holder { .. }, RequestKind::Lock) => Action::LockOwnAccount,
        (Actor::Holder { .. }, RequestKind::Unlock) => Action::RequestOwnUnlock,
        (Actor::Organization { .. }, RequestKind::Lock) => Action::RequestLock,
        (Actor::Organization { .. }, RequestKind::Unlock) => Action::RequestUnlock,
        (Actor::Officer { .. }, RequestKind::Unlock) if is_override => Action::DecideRequest,
        _ => Action::PlaceLockAsOfficer,
    }
}

/// Checks that a request carries what the authority table asks for.
fn check_evidence(
    evidence: Evidence,
    legal_basis: Option<&LegalBasis>,
    reason: &str,
    reference: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let reason_given = !reason.trim().is_empty();
    if reason.chars().count() > 2000 {
        return Err(ApiError::field("reason", "the reason is longer than 2000 characters"));
    }
    match evidence {
        Evidence::LegalBasis => {
            let basis =
                legal_basis.ok_or_else(|| ApiError::field("legal_basis", "this request needs a legal basis"))?;
            basis.validate(now.with_timezone(&vietnam()).date_naive()).map_err(|e| ApiError::field("legal_basis", e))
        }
        Evidence::ReasonAndReference => {
            if !reason_given {
                return Err(ApiError::field("reason", "give the reason"));
            }
            if reference.is_none_or(|r| r.trim().is_empty()) {
                return Err(ApiError::field("reference", "give your case reference"));
            }
            Ok(())
        }
        Evidence::OfficerEvidence => {
            if reason_given {
                Ok(())
            } else {
                Err(ApiError::field("reason", "describe the evidence"))
            }
        }
        Evidence::Nothing | Evidence::RegistryRecord | Evidence::StrongHolderProof => Ok(()),
    }
}

pub(crate) fn new_tracking_code() -> TrackingCode {
    TrackingCode::from_random(rand::rngs::OsRng.next_u64() & ((1 << 45) - 1))
}

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
        subject: (!request.account_id.as_str().is_empty()).then(|| request.account_id.to_string()),
        outcome: "ok",
        detail,
    }
}

/// Inserts a request under a fresh tracking code (drawing again in the rare case of a collision).
async fn insert_with_tracking_code(
    tx: &mut Tx,
    new: NewRequest,
    now: DateTime<Utc>,
    calendar: &WorkingCalendar,
) -> Result<(Request, Step), ApiError> {
    for _ in 0..5 {
        let (request, step) =
            Request::receive(new.clone(), uuid::Uuid::new_v4().to_string(), new_tracking_code(), now, calendar);
        match tx.insert_request(&request).await {
            Ok(()) => return Ok((request, step)),
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal("could not draw a free tracking code"))
}

/// Records steps, queues the holder's notice naming the last step (the one that leaves the request as it now
/// stands), and appends the audit entries.
async fn record(
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
        let reasons =
            (request.status == RequestStatus::Rejected).then_some(request.decision_reason.as_deref()).flatten();
        let step = steps.last().map_or(dinhdanh_domain::request::StepEvent::Recorded, |s| s.event);
        let text = notice::request_update(
            &request.tracking_code.to_string(),
            request.kind,
            request.ground,
            &request.requester,
            step,
            reasons,
        );
        queue_notice(tx, account, "request_update", text, now).await?;
    }
    for entry in audit {
        tx.audit(entry).await?;
    }
    Ok(())
}

/// Applies an effective request: places the lock (and ends the holder's sessions) or lifts it. Returns false when
/// an unlock finds its lock already lifted.
async fn apply_effect(
    tx: &mut Tx,
    request: &mut Request,
    actor_name: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AuditEntry>, ApiError> {
    // Bulk lock orders (service::bulk): an order names no single account; its approval applies every pending
    // target of the order, in this same transaction.
    if crate::service::bulk::is_bulk_order(request) {
        return crate::service::bulk::apply(tx, request, actor_name, now).await;
    }
    match request.kind {
        RequestKind::Lock => {
            // The holder's own lock belongs to the holder even when an officer filed it at the office.
            let owner = match request.ground {
                Ground::HolderRequest => Party::Holder { account_id: request.account_id.clone() },
                _ => request.requester.clone(),
            };
            let lock = Lock {
                id: uuid::Uuid::new_v4().to_string(),
                account_id: request.account_id.clone(),
                ground: request.ground,
                placed_by: owner,
                legal_basis: request.legal_basis.clone(),
                reference: request.reference.clone(),
                reason: request.reason.clone(),
                effective_at: now,
                ends_at: request.lock_ends_at,
                request_id: Some(request.id.clone()),
                lifted: None,
            };
            tx.insert_lock(&lock).await?;
            let sessions = tx.revoke_holder_sessions(&request.account_id, now).await?;
            request.lock_id = Some(lock.id.clone());
            Ok(vec![audit_entry(
                actor_name,
                "lock.place",
                request,
                now,
                json!({"lock_id": lock.id, "sessions_revoked": sessions}),
            )])
        }
        RequestKind::Unlock => {
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
    }
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
        let step = Step {
            at: now,
            status: original.status,
            event: dinhdanh_domain::request::StepEvent::LiftedByOverride,
            by: Party::System,
            note,
        };
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

/// What a lock order must pass before anything is written, filed alone or in bulk: the authority table's
/// placement for this actor and ground (a refusal is audited under `audit_action`), the evidence it asks for, and
/// an end in the future for a temporary lock.
pub(crate) async fn check_lock_order(
    state: &AppState,
    actor: &Actor,
    audit_action: &'static str,
    order: &LockOrder,
    now: DateTime<Utc>,
) -> Result<Requirement, ApiError> {
    let requirement = match placement_for(actor, order.ground, state.config.lock_policy) {
        Ok(r) => r,
        Err(e) => {
            state.store.audit(refused(actor, audit_action, order.ground, &e, now)).await?;
            return Err(refusal(e));
        }
    };
    check_evidence(requirement.evidence, order.legal_basis.as_ref(), &order.reason, order.reference.as_deref(), now)?;
    if order.ends_at.is_some_and(|end| end <= now) {
        return Err(ApiError::field("ends_at", "a temporary lock must end in the future"));
    }
    Ok(requirement)
}

/// Files a lock request; an immediate route takes effect in the same transaction.
pub async fn request_lock(
    state: &AppState,
    actor: &Actor,
    order: LockOrder,
    idempotency: Option<&Idempotency>,
) -> Result<Request, ApiError> {
    state.store.retrying(|| file_lock(state, actor, order.clone(), idempotency)).await
}

async fn file_lock(
    state: &AppState,
    actor: &Actor,
    order: LockOrder,
    idempotency: Option<&Idempotency>,
) -> Result<Request, ApiError> {
    authorize(state, actor, filing_action(actor, RequestKind::Lock, false)).await?;
    let now = state.clock.now();
    let requirement = check_lock_order(state, actor, "request.lock", &order, now).await?;
    let account_id = match (actor, &order.account) {
        (Actor::Holder { account_id, .. }, _) => account_id.clone(),
        (_, Some(key)) => {
            state
                .store
                .account_by_identity(key)
                .await?
                .ok_or(ApiError::NotFound { what: "e-ID account for this identity" })?
                .id
        }
        (_, None) => return Err(ApiError::field("account", "name the account to lock")),
    };
    let requester = party_of(actor)?;
    let new = NewRequest {
        kind: RequestKind::Lock,
        account_id: account_id.clone(),
        ground: order.ground,
        lock_id: None,
        requester,
        route: requirement.route,
        is_override: false,
        legal_basis: order.legal_basis,
        reason: order.reason.trim().to_owned(),
        reference: order.reference.filter(|r| !r.trim().is_empty()),
        lock_ends_at: order.ends_at,
        bulk_order_id: None,
        in_person_check: None,
    };
    let mut tx = state.store.begin().await?;
    let account = tx.lock_account(&account_id).await?.ok_or(ApiError::NotFound { what: "e-ID account" })?;
    if let Some(first) = replayed(&mut tx, idempotency).await? {
        drop(tx);
        return load(state, &first).await;
    }
    let filed = file(&mut tx, &state.config.calendar, &actor.audit_name(), Some(&account), new, now).await?;
    remember(&mut tx, idempotency, 201, &filed.id, now).await?;
    tx.commit().await?;
    metrics::counter!("dinhdanh_requests_total", "kind" => "lock", "ground" => order.ground.as_str(), "status" => filed.status.as_str())
        .increment(1);
    Ok(filed)
}

/// Inserts a received request and, on an immediate route, makes it effective — inside the caller's transaction,
/// which holds the account.
pub(crate) async fn file(
    tx: &mut Tx,
    calendar: &WorkingCalendar,
    actor_name: &str,
    account: Option<&Account>,
    new: NewRequest,
    now: DateTime<Utc>,
) -> Result<Request, ApiError> {
    let (mut request, received) = insert_with_tracking_code(tx, new, now, calendar).await?;
    let mut steps = vec![received];
    let mut audit = vec![audit_entry(
        actor_name,
        "request.receive",
        &request,
        now,
        json!({"route": request.route, "deadline": request.deadline,
               // What the officer saw at the office, as the audit may keep it: the number only by its last digits.
               "in_person_check": request.in_person_check.as_ref().map(|c| json!({
                   "document_kind": c.document_kind, "document_number": c.masked_number(), "office": c.office}))}),
    )];
    if request.route == Route::Immediate {
        steps.extend(request.take_effect_at_once(now).map_err(request_error)?);
        audit.extend(apply_effect(tx, &mut request, actor_name, now).await?);
        tx.update_request(&request).await?;
    }
    record(tx, account, &request, &steps, audit, now).await?;
    Ok(request)
}

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

/// Files an unlock request for one lock.
pub async fn request_unlock(
    state: &AppState,
    actor: &Actor,
    order: UnlockOrder,
    idempotency: Option<&Idempotency>,
) -> Result<Request, ApiError> {
    state.store.retrying(|| file_unlock(state, actor, order.clone(), idempotency)).await
}

async fn file_unlock(
    state: &AppState,
    actor: &Actor,
    order: UnlockOrder,
    idempotency: Option<&Idempotency>,
) -> Result<Request, ApiError> {
    authorize(state, actor, filing_action(actor, RequestKind::Unlock, order.is_override)).await?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let lock = tx.lock_by_id(&order.lock_id).await?.ok_or(ApiError::NotFound { what: "lock" })?;
    let account = tx.lock_account(&lock.account_id).await?.ok_or(ApiError::NotFound { what: "e-ID account" })?;
    if let Some(first) = replayed(&mut tx, idempotency).await? {
        drop(tx);
        return load(state, &first).await;
    }
    // Read the lock again now that the account is held: a lift may have committed in between.
    let lock = tx.lock_by_id(&order.lock_id).await?.ok_or(ApiError::NotFound { what: "lock" })?;
    let requester = match actor {
        // The proof is this session's sign-in, never the account's level (domain.md "Assurance of a sign-in").
        Actor::Holder { account_id, assurance, .. } => LiftRequester::Holder {
            account_id: account_id.clone(),
            strong_proof: *assurance >= dinhdanh_domain::Level::Two,
        },
        Actor::Organization { organization_id, kind, .. } => {
            LiftRequester::Organization { organization_id: organization_id.clone(), kind: *kind }
        }
        Actor::Officer { officer_id, roles, .. } => LiftRequester::Officer {
            officer_id: officer_id.clone(),
            roles: roles.clone(),
            in_person_check: order.in_person_check.is_some(),
            override_basis: order.is_override,
        },
        Actor::System => LiftRequester::System { ground_still_holds: true },
        Actor::Anonymous => return Err(ApiError::Unauthorized),
    };
    let requirement = match authority::lifting(&requester, &lock, lock.is_active(now)) {
        Ok(r) => r,
        Err(e) => {
            drop(tx);
            state.store.audit(refused(actor, "request.unlock", lock.ground, &e, now)).await?;
            return Err(refusal(e));
        }
    };
    check_evidence(requirement.evidence, order.legal_basis.as_ref(), &order.reason, order.reference.as_deref(), now)?;
    let pending = tx.open_requests_of_account(&lock.account_id).await?;
    if pending.iter().any(|r| r.kind == RequestKind::Unlock && r.lock_id.as_deref() == Some(lock.id.as_str())) {
        return Err(ApiError::Conflict { what: "an unlock request for this lock is already pending".to_owned() });
    }
    let new = NewRequest {
        kind: RequestKind::Unlock,
        account_id: lock.account_id.clone(),
        ground: lock.ground,
        lock_id: Some(lock.id.clone()),
        requester: party_of(actor)?,
        route: requirement.route,
        is_override: requirement.is_override,
        legal_basis: order.legal_basis,
        reason: order.reason.trim().to_owned(),
        reference: order.reference.filter(|r| !r.trim().is_empty()),
        lock_ends_at: None,
        bulk_order_id: None,
        in_person_check: order.in_person_check,
    };
    let filed = file(&mut tx, &state.config.calendar, &actor.audit_name(), Some(&account), new, now).await?;
    remember(&mut tx, idempotency, 201, &filed.id, now).await?;
    tx.commit().await?;
    metrics::counter!("dinhdanh_requests_total", "kind" => "unlock", "ground" => lock.ground.as_str(), "status" => filed.status.as_str())
        .increment(1);
    Ok(filed)
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
    let account = tx.lock_account(&request.account_id).await?;
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
        OfficerStep::Decide { decision: Decision::Reject, reason } => {
            let s = request.reject(officer_id, roles, reason, now).map_err(request_error)?;
            (vec![s], vec![audit_entry(&name, "request.reject", &request, now, json!({"reasons": reason}))])
        }
        OfficerStep::Decide { decision: Decision::Approve, reason } => {
            let note = Some(reason.trim().to_owned()).filter(|r| !r.is_empty());
            let s = request.approve(officer_id, roles, note, now).map_err(request_error)?;
            (s, vec![audit_entry(&name, "request.approve", &request, now, json!({"override": request.is_override}))])
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
    let account = tx.lock_account(&request.account_id).await?;
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

/// Which requests an actor the authorization table lets read requests (`requests.read`) may see: officers any,
/// a holder those about their account, an organization those it filed. Asked after [`authorize`], never instead.
pub fn may_read(actor: &Actor, request: &Request) -> bool {
    match actor {
        Actor::Officer { roles, .. } => !roles.is_empty(),
        Actor::Holder { account_id, .. } => {
            *account_id == request.account_id && authority::holder_sees(request.ground, request.kind, request.status)
        }
        Actor::Organization { organization_id, .. } => {
            matches!(&request.requester, Party::Organization { organization_id: o, .. } if o == organization_id)
        }
        _ => false,
    }
}

/// A lock as a holder may see it: never an officer's identity; an organization by name.
pub async fn placed_by_name(state: &AppState, party: &Party) -> Result<String, ApiError> {
    Ok(match party {
        Party::Holder { .. } => "chủ tài khoản / the holder".to_owned(),
        Party::Officer { .. } => "cơ quan quản lý định danh / the e-ID operator".to_owned(),
        Party::System => "hệ thống, theo dữ liệu quốc gia / the system, from the national registries".to_owned(),
        Party::Organization { organization_id, .. } => match state.store.organization(organization_id).await? {
            Some(org) => org.name,
            None => organization_id.clone(),
        },
    })
}

/// A holder's own lock filed without signing in (a lost phone): who they say they are, and which channel they lost.
#[derive(Debug, Clone)]
pub struct LostPhoneLock {
    pub declaration: dinhdanh_domain::registration::Declaration,
    /// The channel the holder can no longer read; the confirmation code goes to the other one.
    pub lost_channel: dinhdanh_domain::Channel,
    pub reason: String,
}

/// What became of a lost-phone lock: a code went to the other channel, or (no other channel) an officer will verify.
#[derive(Debug)]
pub enum LostPhoneOutcome {
    /// The caller is anonymous: where the code went (even masked) is not told, only that it went.
    CodeSent {
        confirmation_id: String,
        code_expires_at: DateTime<Utc>,
    },
    Queued(Box<Request>),
}

const LOST_PHONE: &str = "request.lock_without_sign_in";

/// Step 1 of a lock without sign-in: the identity details must match the account and the registry (one answer
/// for any difference); then a code goes to the channel the holder still has, or the request is queued for a
/// reviewer when there is none.
pub async fn lock_without_sign_in(state: &AppState, input: LostPhoneLock) -> Result<LostPhoneOutcome, ApiError> {
    use dinhdanh_domain::registration::{Declaration, citizen_matches, foreigner_matches};
    let now = state.clock.now();
    let declaration = &input.declaration;
    let account = state.store.account_by_identity(&declaration.identity_key()).await?;
    let matches = match declaration {
        Declaration::Citizen { id_number, .. } => {
            state.registry.citizen(id_number).await?.is_some_and(|r| citizen_matches(declaration, &r))
        }
        Declaration::Foreigner { nationality, passport_number, .. } => state
            .registry
            .foreigner(nationality, passport_number)
            .await?
            .is_some_and(|r| foreigner_matches(declaration, &r)),
    };
    let account = match account {
        Some(a) if matches && a.status == dinhdanh_domain::AccountStatus::Active => a,
        other => {
            let subject = other.map(|a| a.id.to_string());
            state
                .store
                .audit(AuditEntry {
                    at: now,
                    actor: "anonymous".to_owned(),
                    action: LOST_PHONE,
                    subject,
                    outcome: "refused",
                    detail: json!({"reason": "identity_not_verified"}),
                })
                .await?;
            return Err(ApiError::RegistryMismatch);
        }
    };
    authority::placement(Placer::Holder, Ground::HolderRequest, state.config.lock_policy).map_err(refusal)?;
    let other = match input.lost_channel {
        dinhdanh_domain::Channel::Sms => {
            account.email.as_ref().map(|e| (dinhdanh_domain::Channel::Email, e.as_str().to_owned(), e.masked()))
        }
        dinhdanh_domain::Channel::Email => {
            account.phone.as_ref().map(|p| (dinhdanh_domain::Channel::Sms, p.as_str().to_owned(), p.masked()))
        }
    };
    let reason = Some(input.reason.trim().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "mất thiết bị / lost device".to_owned());
    let actor_name = format!("holder:{}", account.id);
    match other {
        Some((channel, recipient, _masked)) => {
            let code =
                dinhdanh_domain::activation::ActivationCode::from_random((rand::rngs::OsRng.next_u32()) % 1_000_000);
            let code_hash = crate::secrets::hash_secret(code.as_str().to_owned()).await?;
            let policy = &state.config.activation;
            let confirmation_id = uuid::Uuid::new_v4().to_string();
            let code_expires_at = policy.code_expires_at(now);
            let mut tx = state.store.begin().await?;
            tx.lock_account(&account.id).await?;
            crate::service::notices::check_code_limit(&mut tx, &account, &[&recipient], now).await?;
            tx.insert_holder_sign_in(&dinhdanh_store::NewHolderSignIn {
                id: confirmation_id.clone(),
                account_id: account.id.clone(),
                code_hash,
                channel,
                created_at: now,
                expires_at: code_expires_at,
                purpose: dinhdanh_domain::account::SignInPurpose::LostPhoneLock,
            })
            .await?;
            let text = notice::lock_confirmation_code(code.as_str(), policy.code_ttl.num_minutes());
            tx.enqueue(
                dinhdanh_store::NewMessage {
                    kind: "lock_confirmation_code",
                    channel,
                    recipient,
                    subject: text.subject,
                    body: text.body,
                },
                now,
            )
            .await?;
            tx.audit(AuditEntry {
                at: now,
                actor: actor_name,
                action: LOST_PHONE,
                subject: Some(account.id.to_string()),
                outcome: "ok",
                detail: json!({"step": "code_sent", "channel": channel.as_str()}),
            })
            .await?;
            tx.commit().await?;
            Ok(LostPhoneOutcome::CodeSent { confirmation_id, code_expires_at })
        }
        None => {
            let new = NewRequest {
                kind: RequestKind::Lock,
                account_id: account.id.clone(),
                ground: Ground::HolderRequest,
                lock_id: None,
                requester: Party::Holder { account_id: account.id.clone() },
                route: authority::LOST_PHONE_UNCONFIRMED_ROUTE,
                is_override: false,
                legal_basis: None,
                reason,
                reference: None,
                lock_ends_at: None,
                bulk_order_id: None,
                in_person_check: None,
            };
            let mut tx = state.store.begin().await?;
            let account = tx.lock_account(&account.id).await?.ok_or(ApiError::NotFound { what: "e-ID account" })?;
            let filed = file(&mut tx, &state.config.calendar, &actor_name, Some(&account), new, now).await?;
            tx.commit().await?;
            Ok(LostPhoneOutcome::Queued(Box::new(filed)))
        }
    }
}

/// Step 2: the code from the other channel confirms the lock, which takes effect at once.
pub async fn confirm_lock_without_sign_in(
    state: &AppState,
    confirmation_id: &str,
    code: &str,
) -> Result<Request, ApiError> {
    let now = state.clock.now();
    let policy = &state.config.activation;
    let code = dinhdanh_domain::activation::ActivationCode::parse(code).map_err(|e| ApiError::field("code", e))?;
    let attempt = match uuid::Uuid::parse_str(confirmation_id) {
        Ok(_) => state.store.take_holder_sign_in_attempt(confirmation_id, now, policy.max_attempts).await?,
        Err(_) => None,
    }
    .filter(|a| a.purpose == dinhdanh_domain::account::SignInPurpose::LostPhoneLock)
    .ok_or(ApiError::CodeExpired)?;
    let actor_name = format!("holder:{}", attempt.account_id);
    if !crate::secrets::verify_secret(state, code.as_str().to_owned(), attempt.code_hash.clone()).await? {
        let attempts_left = (policy.max_attempts - attempt.attempts).max(0);
        state
            .store
            .audit(AuditEntry {
                at: now,
                actor: actor_name,
                action: LOST_PHONE,
                subject: Some(attempt.account_id.to_string()),
                outcome: "refused",
                detail: json!({"step": "confirm", "reason": "wrong_code", "attempts_left": attempts_left}),
            })
            .await?;
        return Err(ApiError::WrongCode { attempts_left });
    }
    let mut tx = state.store.begin().await?;
    let account = tx.lock_account(&attempt.account_id).await?.ok_or(ApiError::NotFound { what: "e-ID account" })?;
    if !tx.consume_holder_sign_in(confirmation_id, now).await? {
        return Err(ApiError::CodeExpired);
    }
    let new = NewRequest {
        kind: RequestKind::Lock,
        account_id: account.id.clone(),
        ground: Ground::HolderRequest,
        lock_id: None,
        requester: Party::Holder { account_id: account.id.clone() },
        route: authority::LOST_PHONE_CONFIRMED_ROUTE,
        is_override: false,
        legal_basis: None,
        reason: "mất thiết bị, xác nhận qua kênh còn lại / lost device, confirmed on the other channel".to_owned(),
        reference: None,
        lock_ends_at: None,
        bulk_order_id: None,
        in_person_check: None,
    };
    let filed = file(&mut tx, &state.config.calendar, &actor_name, Some(&account), new, now).await?;
    tx.commit().await?;
    Ok(filed)
}
