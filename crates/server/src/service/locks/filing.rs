//! Filing lock and unlock requests: what the authorization table and the lock authority table ask of the filer
//! (who may place or lift what, with which evidence, by which route), then one transaction holding the account
//! that inserts the request and, on an immediate route, makes it effective ([`super::effect`]).

use chrono::{DateTime, Utc};
use dinhdanh_domain::AccountId;
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authority::{self, AuthorityPolicy, Evidence, LiftRequester, Placer, Requirement, Route};
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::calendar::{WorkingCalendar, vietnam};
use dinhdanh_domain::lock::{Ground, LegalBasis};
use dinhdanh_domain::request::{NewRequest, Request, RequestKind, Step, Subject};
use dinhdanh_domain::tracking::TrackingCode;
use dinhdanh_domain::{Account, IdentityKey};
use dinhdanh_store::{GroupError, GroupWork, StoreError, Tx};
use rand::RngCore;
use serde_json::json;

use super::effect::{apply_effect, record};
use super::idempotency::{Idempotency, load, remember, replayed};
use super::{audit_entry, party_of, refusal, refused, request_error};
use crate::AppState;
use crate::auth::authorize;
use crate::problem::ApiError;

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

fn new_tracking_code() -> TrackingCode {
    TrackingCode::from_random(rand::rngs::OsRng.next_u64() & ((1 << 45) - 1))
}

/// Inserts a request with this fresh id under a fresh tracking code (drawing again in the rare case of a
/// collision).
pub(crate) async fn insert_with_tracking_code(
    tx: &mut Tx,
    new: NewRequest,
    id: String,
    now: DateTime<Utc>,
    calendar: &WorkingCalendar,
) -> Result<(Request, Step), ApiError> {
    for _ in 0..5 {
        let (request, step) = Request::receive(new.clone(), id.clone(), new_tracking_code(), now, calendar);
        match tx.insert_request(&request).await {
            Ok(()) => return Ok((request, step)),
            // Only the tracking code can collide (the id is fresh): draw another.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::internal("could not draw a free tracking code"))
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
        subject: Subject::Account(account_id.clone()),
        ground: order.ground,
        lock_id: None,
        requester,
        route: requirement.route,
        is_override: false,
        legal_basis: order.legal_basis,
        reason: order.reason.trim().to_owned(),
        reference: order.reference.filter(|r| !r.trim().is_empty()),
        lock_ends_at: order.ends_at,
        in_person_check: None,
    };
    let filing = LockFiling { account_id, new, actor_name: actor.audit_name(), idempotency: idempotency.cloned(), now };
    let filed = match state.lock_filings.submit(filing).await {
        Ok(Ok(Filed::New(request))) => *request,
        Ok(Ok(Filed::Replay(first))) => return load(state, &first).await,
        Ok(Err(refused)) => return Err(refused),
        Err(GroupError::Batch(error)) => {
            use dinhdanh_store::Transient;
            return Err(if error.is_transient() { ApiError::Busy } else { ApiError::internal(error.to_string()) });
        }
        Err(GroupError::Stopped) => return Err(ApiError::Saturated),
    };
    metrics::counter!("dinhdanh_requests_total", "kind" => "lock", "ground" => order.ground.as_str(), "status" => filed.status.as_str())
        .increment(1);
    Ok(filed)
}

/// A lock request for one account, checked (authorized, its ground and evidence passed) and ready to file.
pub struct LockFiling {
    account_id: AccountId,
    new: NewRequest,
    actor_name: String,
    idempotency: Option<Idempotency>,
    now: DateTime<Utc>,
}

/// What filing a [`LockFiling`] did.
pub enum Filed {
    New(Box<Request>),
    /// The idempotency key was seen: the first request's id, to answer with as it is now.
    Replay(String),
}

/// Lock filings committed in groups ([`dinhdanh_store::GroupCommit`]): holders locking their own accounts in a
/// burst (a lost phone, a leaked password) share transactions instead of queueing for one each. Each filing
/// runs in a savepoint of its own, so one refused (its account gone, its idempotency key reused for another
/// request) leaves the others; the accounts are held in ascending id order, the store's lock order.
pub struct LockFilings {
    pub calendar: WorkingCalendar,
}

/// At most this many lock filings per transaction.
pub const LOCK_BATCH: usize = 64;

impl GroupWork for LockFilings {
    type Input = LockFiling;
    type Output = Result<Filed, ApiError>;

    async fn apply(&self, tx: &mut Tx, inputs: &[LockFiling]) -> Result<Vec<Result<Filed, ApiError>>, StoreError> {
        let mut order: Vec<usize> = (0..inputs.len()).collect();
        order.sort_by(|a, b| inputs[*a].account_id.as_str().cmp(inputs[*b].account_id.as_str()));
        let mut outputs: Vec<Option<Result<Filed, ApiError>>> = inputs.iter().map(|_| None).collect();
        for index in order {
            let savepoint = tx.savepoint().await?;
            let filed = file_one(tx, &self.calendar, &inputs[index]).await;
            match &filed {
                Ok(_) => tx.release_savepoint(savepoint).await?,
                Err(_) => tx.rollback_to_savepoint(savepoint).await?,
            }
            outputs[index] = Some(filed);
        }
        Ok(outputs.into_iter().map(|filed| filed.expect("every input filed")).collect())
    }
}

async fn file_one(tx: &mut Tx, calendar: &WorkingCalendar, filing: &LockFiling) -> Result<Filed, ApiError> {
    let account = tx.lock_account(&filing.account_id).await?.ok_or(ApiError::NotFound { what: "e-ID account" })?;
    if let Some(first) = replayed(tx, filing.idempotency.as_ref()).await? {
        return Ok(Filed::Replay(first));
    }
    let filed = file(tx, calendar, &filing.actor_name, Some(&account), filing.new.clone(), filing.now).await?;
    remember(tx, filing.idempotency.as_ref(), 201, &filed.id, filing.now).await?;
    Ok(Filed::New(Box::new(filed)))
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
    let (mut request, received) =
        insert_with_tracking_code(tx, new, uuid::Uuid::new_v4().to_string(), now, calendar).await?;
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
        subject: Subject::Account(lock.account_id.clone()),
        ground: lock.ground,
        lock_id: Some(lock.id.clone()),
        requester: party_of(actor)?,
        route: requirement.route,
        is_override: requirement.is_override,
        legal_basis: order.legal_basis,
        reason: order.reason.trim().to_owned(),
        reference: order.reference.filter(|r| !r.trim().is_empty()),
        lock_ends_at: None,
        in_person_check: order.in_person_check,
    };
    let filed = file(&mut tx, &state.config.calendar, &actor.audit_name(), Some(&account), new, now).await?;
    remember(&mut tx, idempotency, 201, &filed.id, now).await?;
    tx.commit().await?;
    metrics::counter!("dinhdanh_requests_total", "kind" => "unlock", "ground" => lock.ground.as_str(), "status" => filed.status.as_str())
        .increment(1);
    Ok(filed)
}
