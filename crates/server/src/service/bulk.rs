//! Bulk lock orders: one authority's order naming many accounts (up to [`MAX_ENTRIES`]) is ONE lock request,
//! decided once, as a whole, by the officers' ordinary steps (`/v1/requests/{id}/…`), with a per-account result.
//!
//! Filing parses every entry; an entry that is malformed, names no e-ID account, repeats an earlier one or names
//! an account that is not active is recorded with its outcome and reason and does not block the others. What
//! the filer is shown of those outcomes, and when, is [`dinhdanh_domain::bulk`]'s rule: before the decision only
//! its own input's faults, so that filing is no oracle of who has an account. Whether
//! the organization may place locks of the order's ground at all, with what evidence and by which route, is the
//! same decision as for a single request (`service::locks`, asked of `authority::placement`).
//!
//! Approval ([`apply`], called from `service::locks` in the approving transaction) applies every pending
//! target in that one transaction, in multi-row statements: the accounts are held, the locks inserted, the
//! holders' sessions revoked, one notice per holder and registered channel queued, each account's outcome
//! written back and one audit entry per account appended to the audit tree. The approval commits whole or not at all: a crash
//! leaves either every lock of the order in force or none.
//!
//! An account on which the same organization already holds a lock of the same ground in force is not locked a
//! second time: its outcome is `already_locked`, naming that lock.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::bulk::{Reader, TargetOutcome};
use dinhdanh_domain::lock::{Lock, Party};
use dinhdanh_domain::request::{NewRequest, Request, RequestKind, RequestStatus, StepEvent};
use dinhdanh_domain::{
    AccountId, AccountStatus, Channel, IdentificationNumber, IdentityKey, Nationality, PassportNumber, notice,
};
use dinhdanh_store::{AuditEntry, NewMessage, RequestTarget, StoreError, StoredResponse, Tx};
use serde_json::json;

use crate::AppState;
use crate::auth::authorize;
use crate::problem::ApiError;
use crate::service::locks::{
    Idempotency, LockOrder, audit_entry, check_lock_order, new_tracking_code, party_of, replayed_outside,
};

/// The most entries one order may name.
pub const MAX_ENTRIES: usize = 100_000;

/// Problem entries listed in the answer to a filing; the rest are read page by page from the results.
pub const PROBLEMS_LISTED: usize = 1000;

/// One entry as the order gives it: an identification number, or a passport number and nationality.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub id_number: Option<String>,
    pub passport_number: Option<String>,
    pub nationality: Option<String>,
}

/// What a bulk lock order asks for.
#[derive(Debug, Clone)]
pub struct BulkOrder {
    /// What every account of the order gets (its `account` is unused: the entries name the accounts).
    pub lock: LockOrder,
    pub entries: Vec<Entry>,
}

/// An order as it stands, with its per-entry summary.
#[derive(Debug, Clone)]
pub struct OrderView {
    pub request: Request,
    /// Entries by outcome, as the reader may see them.
    pub counts: BTreeMap<TargetOutcome, i64>,
    /// The first [`PROBLEMS_LISTED`] entries that were not accepted (invalid, not found, inactive, duplicate), as
    /// the reader may see them.
    pub problems: Vec<RequestTarget>,
    pub problems_truncated: bool,
}

/// Whether a request is a bulk order (it names no single account and carries its own id as order id).
pub fn is_bulk_order(request: &Request) -> bool {
    request.kind == RequestKind::Lock
        && request.account_id.as_str().is_empty()
        && request.bulk_order_id.as_deref() == Some(request.id.as_str())
}

fn clip(s: &str) -> String {
    s.trim().chars().take(64).collect()
}

/// Parses an entry into its identity key and the identifier stored for it, or says why it is invalid.
fn parse_entry(entry: &Entry, state: &AppState) -> Result<(IdentityKey, String), (String, String)> {
    match (&entry.id_number, &entry.passport_number, &entry.nationality) {
        (Some(id), None, None) => match IdentificationNumber::parse(id, &state.config.provinces) {
            Ok(n) => Ok((IdentityKey::citizen(&n), n.as_str().to_owned())),
            Err(e) => Err((clip(id), format!("id_number: {e}"))),
        },
        (None, Some(passport), Some(nationality)) => {
            let shown = format!("{}:{}", clip(nationality), clip(passport));
            let passport =
                PassportNumber::parse(passport).map_err(|e| (shown.clone(), format!("passport_number: {e}")))?;
            let nationality =
                Nationality::parse(nationality).map_err(|e| (shown.clone(), format!("nationality: {e}")))?;
            let identifier = format!("{}:{}", nationality.as_str(), passport.as_str());
            Ok((IdentityKey::foreigner(&nationality, &passport), identifier))
        }
        _ => {
            let shown = [&entry.id_number, &entry.passport_number, &entry.nationality]
                .iter()
                .filter_map(|v| v.as_deref())
                .map(clip)
                .collect::<Vec<_>>()
                .join(":");
            Err((shown, "give either id_number, or passport_number and nationality".to_owned()))
        }
    }
}

/// Resolves every entry to its target: a pending account, or an outcome saying why not.
async fn resolve(state: &AppState, entries: &[Entry]) -> Result<Vec<RequestTarget>, ApiError> {
    let mut targets = Vec::with_capacity(entries.len());
    let mut first_of: HashMap<IdentityKey, i64> = HashMap::with_capacity(entries.len());
    let mut keyed: Vec<(usize, IdentityKey)> = Vec::with_capacity(entries.len());
    for (position, entry) in entries.iter().enumerate() {
        let position = position as i64;
        let target = |identifier: String, outcome: TargetOutcome, detail: Option<String>| RequestTarget {
            position,
            identifier,
            account_id: None,
            outcome,
            detail,
            lock_id: None,
        };
        match parse_entry(entry, state) {
            Err((shown, why)) => targets.push(target(shown, TargetOutcome::Invalid, Some(why))),
            Ok((key, identifier)) => match first_of.get(&key) {
                Some(first) => targets.push(target(
                    identifier,
                    TargetOutcome::Duplicate,
                    Some(format!("the same identity as entry {first}")),
                )),
                None => {
                    first_of.insert(key.clone(), position);
                    keyed.push((targets.len(), key));
                    targets.push(target(
                        identifier,
                        TargetOutcome::NotFound,
                        Some("no e-ID account for this identity".into()),
                    ));
                }
            },
        }
    }
    let keys: Vec<String> = keyed.iter().map(|(_, k)| k.as_str().to_owned()).collect();
    let accounts: HashMap<String, _> =
        state.store.accounts_by_identity_keys(&keys).await?.into_iter().map(|a| (a.identity_key.clone(), a)).collect();
    for (index, key) in keyed {
        let Some(account) = accounts.get(key.as_str()) else { continue };
        let target = &mut targets[index];
        if account.status == AccountStatus::Active {
            target.outcome = TargetOutcome::Pending;
            target.detail = None;
            target.account_id = Some(account.id.clone());
        } else {
            target.outcome = TargetOutcome::Inactive;
            target.detail = Some(format!("the e-ID account is not active ({})", account.status.as_str()));
        }
    }
    Ok(targets)
}

/// Files a bulk lock order. With an `Idempotency-Key`, a retry (even a concurrent one) returns the order the
/// first attempt created, and the key is stored in the transaction that creates the order.
pub async fn file_order(
    state: &AppState,
    actor: &Actor,
    order: BulkOrder,
    idempotency: Option<&Idempotency>,
) -> Result<OrderView, ApiError> {
    authorize(state, actor, Action::RequestLock).await?;
    let now = state.clock.now();
    let requirement = check_lock_order(state, actor, "request.bulk_lock", &order.lock, now).await?;
    if order.entries.is_empty() || order.entries.len() > MAX_ENTRIES {
        return Err(ApiError::field("accounts", format!("name 1 to {MAX_ENTRIES} accounts")));
    }
    // A retry of an order already filed gets it back without resolving its entries again.
    if let Some(first) = replayed_outside(state, idempotency).await? {
        return view(state, &first, Reader::Filer).await;
    }
    let targets = resolve(state, &order.entries).await?;
    // Refused only for what the filer can see in its own input: whether any entry names an active account is
    // the decider's to know (an order naming none is filed, and rejected or applied to nothing).
    if targets.iter().all(|t| t.outcome == TargetOutcome::Invalid) {
        return Err(ApiError::field(
            "accounts",
            format!("no entry is a well-formed identity ({} invalid; see each entry's form)", targets.len()),
        ));
    }
    let valid = targets.iter().filter(|t| t.outcome == TargetOutcome::Pending).count();
    let id = uuid::Uuid::new_v4().to_string();
    let new = NewRequest {
        kind: RequestKind::Lock,
        account_id: AccountId::new(String::new()),
        ground: order.lock.ground,
        lock_id: None,
        requester: party_of(actor)?,
        route: requirement.route,
        is_override: false,
        legal_basis: order.lock.legal_basis,
        reason: order.lock.reason.trim().to_owned(),
        reference: order.lock.reference.filter(|r| !r.trim().is_empty()),
        lock_ends_at: order.lock.ends_at,
        bulk_order_id: Some(id.clone()),
        in_person_check: None,
    };
    let mut tx = state.store.begin().await?;
    if let Some(k) = idempotency {
        // First thing in the transaction: a concurrent retry with the same key waits here on the key's primary
        // key, then fails and reads the order this transaction committed.
        let stored = StoredResponse { request_hash: k.fingerprint.clone(), status: 201, response: id.clone() };
        match tx.store_idempotent_response(&k.scope, &k.key, &stored, now).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                drop(tx);
                let first = replayed_outside(state, idempotency)
                    .await?
                    .ok_or_else(|| ApiError::internal("idempotency key vanished"))?;
                return view(state, &first, Reader::Filer).await;
            }
            Err(e) => return Err(e.into()),
        }
    }
    let request = insert_order(&mut tx, state, actor, new, id, &targets, valid, now).await?;
    tx.commit().await?;
    metrics::counter!("dinhdanh_requests_total", "kind" => "bulk_lock", "ground" => request.ground.as_str(), "status" => request.status.as_str())
        .increment(1);
    metrics::counter!("dinhdanh_bulk_lock_entries_total").increment(targets.len() as u64);
    view(state, &request.id, Reader::Filer).await
}

/// Inserts the order (one request row), its steps, its targets and its audit entry under a fresh tracking code.
#[allow(clippy::too_many_arguments)]
async fn insert_order(
    tx: &mut Tx,
    state: &AppState,
    actor: &Actor,
    new: NewRequest,
    id: String,
    targets: &[RequestTarget],
    valid: usize,
    now: DateTime<Utc>,
) -> Result<Request, ApiError> {
    let calendar = &state.config.calendar;
    let mut inserted = None;
    for _ in 0..5 {
        let (request, step) = Request::receive(new.clone(), id.clone(), new_tracking_code(), now, calendar);
        match tx.insert_request(&request).await {
            Ok(()) => {
                inserted = Some((request, step));
                break;
            }
            // Only the tracking code can collide (the id is fresh): draw another.
            Err(StoreError::Conflict(_)) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    let (mut request, received) = inserted.ok_or_else(|| ApiError::internal("could not draw a free tracking code"))?;
    let name = actor.audit_name();
    tx.insert_targets_batch(&request.id, targets).await?;
    let mut steps = vec![received];
    let mut audit = vec![audit_entry(
        &name,
        "request.receive",
        &request,
        now,
        json!({"route": request.route, "deadline": request.deadline, "bulk": true, "entries": targets.len(), "valid": valid}),
    )];
    if request.route == dinhdanh_domain::authority::Route::Immediate {
        // No organization's ground takes effect at once today; should the table say so, the order applies now.
        steps.extend(request.take_effect_at_once(now).map_err(|e| ApiError::Conflict { what: e.to_string() })?);
        audit.extend(apply(tx, &mut request, &name, now).await?);
        tx.update_request(&request).await?;
    }
    for step in &steps {
        tx.insert_step(&request.id, step).await?;
    }
    for entry in audit {
        tx.audit(entry).await?;
    }
    Ok(request)
}

/// Who reads an order: the officers who decide it, or the organization that filed it.
fn reader_of(actor: &Actor) -> Reader {
    if matches!(actor, Actor::Officer { .. }) { Reader::Decider } else { Reader::Filer }
}

/// An entry as `reader` may see it while the order is `status`: a hidden outcome takes its reason with it.
fn shown(mut target: RequestTarget, reader: Reader, status: RequestStatus) -> RequestTarget {
    let seen = target.outcome.as_seen_by(reader, status);
    if seen != target.outcome {
        target.detail = (seen == TargetOutcome::NotLocked).then(|| format!("the order is {status}"));
        target.outcome = seen;
        target.account_id = None;
    }
    target
}

/// An order with its summary, as `reader` may see it.
pub async fn view(state: &AppState, order_id: &str, reader: Reader) -> Result<OrderView, ApiError> {
    let request = state.store.request(order_id).await?.ok_or(ApiError::NotFound { what: "bulk lock order" })?;
    let status = request.status;
    let mut counts = BTreeMap::new();
    for (outcome, n) in state.store.target_outcome_counts(order_id).await? {
        *counts.entry(outcome.as_seen_by(reader, status)).or_default() += n;
    }
    // The stored outcomes this reader is shown as problems.
    let problem_outcomes: Vec<TargetOutcome> =
        TargetOutcome::ALL.iter().copied().filter(|o| o.as_seen_by(reader, status).is_problem()).collect();
    let mut problems = state.store.targets_page(order_id, -1, PROBLEMS_LISTED as i64 + 1, &problem_outcomes).await?;
    let problems_truncated = problems.len() > PROBLEMS_LISTED;
    problems.truncate(PROBLEMS_LISTED);
    let problems = problems.into_iter().map(|t| shown(t, reader, status)).collect();
    Ok(OrderView { request, counts, problems, problems_truncated })
}

/// A page of an order's per-account results, for its requester and officers, each as they may see it; anyone
/// else (and a request that is not a bulk order) is told it does not exist.
pub async fn results(
    state: &AppState,
    actor: &Actor,
    order_id: &str,
    after: i64,
    limit: i64,
) -> Result<(OrderView, Vec<RequestTarget>), ApiError> {
    authorize(state, actor, Action::BulkResultsRead).await?;
    let not_found = ApiError::NotFound { what: "bulk lock order" };
    let request = state.store.request(order_id).await?.ok_or(ApiError::NotFound { what: "bulk lock order" })?;
    if !is_bulk_order(&request) || !crate::service::locks::may_read(actor, &request) {
        return Err(not_found);
    }
    let reader = reader_of(actor);
    let order = view(state, order_id, reader).await?;
    let status = order.request.status;
    let page = state.store.targets_page(order_id, after, limit, &[]).await?;
    Ok((order, page.into_iter().map(|t| shown(t, reader, status)).collect()))
}

fn entry_for(
    actor_name: &str,
    request: &Request,
    account: &AccountId,
    at: DateTime<Utc>,
    detail: serde_json::Value,
) -> AuditEntry {
    let mut detail = detail;
    detail["request_id"] = json!(request.id);
    detail["tracking_code"] = json!(request.tracking_code.as_str());
    detail["ground"] = json!(request.ground.as_str());
    detail["kind"] = json!(request.kind.as_str());
    detail["bulk"] = json!(true);
    AuditEntry {
        at,
        actor: actor_name.to_owned(),
        action: "lock.place",
        subject: Some(account.to_string()),
        outcome: "ok",
        detail,
    }
}

/// Applies an approved order inside the approving transaction: locks every pending target (see the module's
/// documentation) and returns the audit entries (one per account locked, and the order's summary).
pub(crate) async fn apply(
    tx: &mut Tx,
    request: &mut Request,
    actor_name: &str,
    now: DateTime<Utc>,
) -> Result<Vec<AuditEntry>, ApiError> {
    let started = std::time::Instant::now();
    let pending = tx.pending_targets(&request.id).await?;
    let organization = match &request.requester {
        Party::Organization { organization_id, .. } => Some(organization_id.clone()),
        _ => None,
    };
    // Applied as the order takes effect: each holder is told of that step.
    let text = notice::request_update(
        &request.tracking_code.to_string(),
        request.kind,
        request.ground,
        &request.requester,
        StepEvent::Effective,
        None,
    );
    let mut audit = Vec::with_capacity(pending.len() + 1);
    let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    // Every account of the order is held before any is changed, all in one ascending order (the store's lock
    // order): two orders over the same accounts, listed differently and approved at once, then wait on each other
    // instead of deadlocking.
    let all: Vec<AccountId> = pending.iter().filter_map(|t| t.account_id.clone()).collect();
    let accounts: HashMap<String, _> =
        tx.hold_accounts(&all).await?.into_iter().map(|a| (a.id.as_str().to_owned(), a)).collect();
    for chunk in pending.chunks(dinhdanh_store::BULK_CHUNK) {
        let ids: Vec<AccountId> = chunk.iter().filter_map(|t| t.account_id.clone()).collect();
        let already = match &organization {
            Some(org) => tx.active_locks_by(&ids, request.ground, org, now).await?,
            None => BTreeMap::new(),
        };
        let mut outcomes = Vec::with_capacity(chunk.len());
        let mut locks = Vec::with_capacity(chunk.len());
        let mut messages = Vec::with_capacity(chunk.len() * 2);
        for target in chunk {
            let mut t = target.clone();
            let account = t.account_id.as_ref().and_then(|id| accounts.get(id.as_str()));
            match account {
                None => {
                    t.outcome = TargetOutcome::NotFound;
                    t.detail = Some("the e-ID account no longer exists".to_owned());
                }
                Some(a) if already.contains_key(a.id.as_str()) => {
                    t.outcome = TargetOutcome::AlreadyLocked;
                    t.detail = Some("your organization already has a lock of this ground in force on it".to_owned());
                    t.lock_id = already.get(a.id.as_str()).cloned();
                }
                Some(a) => {
                    let lock = Lock {
                        id: uuid::Uuid::new_v4().to_string(),
                        account_id: a.id.clone(),
                        ground: request.ground,
                        placed_by: request.requester.clone(),
                        legal_basis: request.legal_basis.clone(),
                        reference: request.reference.clone(),
                        reason: request.reason.clone(),
                        effective_at: now,
                        ends_at: request.lock_ends_at,
                        request_id: Some(request.id.clone()),
                        lifted: None,
                    };
                    t.outcome = TargetOutcome::Locked;
                    t.detail = None;
                    t.lock_id = Some(lock.id.clone());
                    for (channel, recipient) in [(Channel::Sms, &a.phone), (Channel::Email, &a.email)] {
                        if let Some(recipient) = recipient {
                            messages.push(NewMessage {
                                kind: "request_update",
                                channel,
                                recipient: recipient.clone(),
                                subject: text.subject.clone(),
                                body: text.body.clone(),
                            });
                        }
                    }
                    locks.push(lock);
                }
            }
            *counts.entry(t.outcome.as_str()).or_default() += 1;
            outcomes.push(t);
        }
        tx.insert_locks_batch(&locks).await?;
        let locked: Vec<AccountId> = locks.iter().map(|l| l.account_id.clone()).collect();
        let revoked = tx.revoke_sessions_of(&locked, now).await?;
        tx.enqueue_batch(&messages, now).await?;
        tx.set_target_outcomes(&request.id, &outcomes).await?;
        for lock in &locks {
            let sessions = revoked.get(lock.account_id.as_str()).copied().unwrap_or(0);
            audit.push(entry_for(
                actor_name,
                request,
                &lock.account_id,
                now,
                json!({"lock_id": lock.id, "sessions_revoked": sessions}),
            ));
        }
    }
    let mut summary = audit_entry(actor_name, "bulk_lock.apply", request, now, json!({"outcomes": counts}));
    summary.subject = None;
    audit.push(summary);
    metrics::histogram!("dinhdanh_bulk_lock_apply_seconds").record(started.elapsed().as_secs_f64());
    Ok(audit)
}
