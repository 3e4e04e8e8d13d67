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
//! Approval is the lock engine's effect of an effective request (`service::locks`, its `effect` module): it
//! applies every pending entry in the approving transaction, in multi-row statements, with the same lock, notice
//! and audit entry as a single request. The approval commits whole or not at all: a crash leaves either every
//! lock of the order in force or none.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::bulk::{Reader, TargetOutcome};
use dinhdanh_domain::request::{NewRequest, Request, RequestKind, RequestStatus, Subject};
use dinhdanh_domain::{AccountStatus, IdentificationNumber, IdentityKey, Nationality, PassportNumber};
use dinhdanh_store::{RequestTarget, Tx};
use serde_json::json;

use crate::AppState;
use crate::auth::authorize;
use crate::problem::ApiError;
use crate::service::locks::{
    Claim, Idempotency, LockOrder, apply_effect, audit_entry, check_lock_order, claim_first, insert_with_tracking_code,
    party_of, replayed_outside,
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
        subject: Subject::BulkOrder,
        ground: order.lock.ground,
        lock_id: None,
        requester: party_of(actor)?,
        route: requirement.route,
        is_override: false,
        legal_basis: order.lock.legal_basis,
        reason: order.lock.reason.trim().to_owned(),
        reference: order.lock.reference.filter(|r| !r.trim().is_empty()),
        lock_ends_at: order.lock.ends_at,
        in_person_check: None,
    };
    // The key first: an order holds no account row that a concurrent retry would wait on.
    let mut tx = match claim_first(state, state.store.begin().await?, idempotency, 201, &id, now).await? {
        Claim::Ours(tx) => tx,
        Claim::Theirs(first) => return view(state, &first, Reader::Filer).await,
    };
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
    let (mut request, received) = insert_with_tracking_code(tx, new, id, now, &state.config.calendar).await?;
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
        audit.extend(apply_effect(tx, &mut request, &name, now).await?);
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
    if !request.is_bulk_order() || !crate::service::locks::may_read(actor, &request) {
        return Err(not_found);
    }
    let reader = Reader::of(actor);
    let order = view(state, order_id, reader).await?;
    let status = order.request.status;
    let page = state.store.targets_page(order_id, after, limit, &[]).await?;
    Ok((order, page.into_iter().map(|t| shown(t, reader, status)).collect()))
}
