//! The officer console's use cases (issue 15, docs/console.md) that the API's services do not already have:
//! proving the console's session, the audited account lookup, and the dashboard's counts. Signing in and out,
//! the queue and the steps on a request are `service::officers`' and `service::locks`' own, which the console
//! calls exactly as the API does; everything here asks the one authorization table first.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::calendar::vietnam;
use dinhdanh_domain::lock::{Ground, Lock};
use dinhdanh_domain::request::{Request, RequestKind};
use dinhdanh_domain::{Account, IdentityKey};
use dinhdanh_store::AuditEntry;
use serde_json::json;

use crate::AppState;
use crate::auth::{OFFICER_SESSION_PREFIX, actor_for_token, authorize};
use crate::problem::ApiError;
use crate::service::locks::placed_by_name;

/// How many days of locks and lifts the dashboard counts, today (Vietnam time) included.
pub const DASHBOARD_DAYS: i64 = 14;
/// How many of an account's requests the lookup shows, newest first.
const LOOKUP_REQUESTS: i64 = 100;

/// The officer a console cookie proves, re-proved on every request like a bearer token (a disabled officer, an
/// ended session or a suspended organization is refused at once). `Ok(None)`: the cookie proves nobody (not an
/// officer's session, ended, expired); a suspended organization is `Err(OrganizationSuspended)`.
pub async fn signed_in(state: &AppState, token: &str) -> Result<Option<Actor>, ApiError> {
    if !token.starts_with(OFFICER_SESSION_PREFIX) {
        return Ok(None);
    }
    match actor_for_token(state, token).await {
        Ok(actor @ Actor::Officer { .. }) => Ok(Some(actor)),
        Ok(_) | Err(ApiError::Unauthorized) => Ok(None),
        Err(other) => Err(other),
    }
}

/// A lock as the console shows it: its placer and lifter named as `GET /v1/accounts/{id}/locks` names them.
#[derive(Debug, Clone)]
pub struct LockView {
    pub lock: Lock,
    pub placed_by: String,
    pub lifted_by: Option<String>,
}

/// What an account lookup finds: the account, every lock and lift on it (oldest first) and its requests
/// (newest first).
#[derive(Debug)]
pub struct AccountFile {
    pub account: Account,
    pub locks: Vec<LockView>,
    pub requests: Vec<Request>,
}

/// An officer looks an account up by its holder's identity. Every lookup is audited (`account.lookup`, with the
/// account's opaque id when one was found and never the identity looked for), found or not: reading a
/// person's locks and requests is itself something the audit log must show.
pub async fn look_up(state: &AppState, actor: &Actor, identity: &IdentityKey) -> Result<Option<AccountFile>, ApiError> {
    authorize(state, actor, Action::AccountStatusRead).await?;
    authorize(state, actor, Action::LocksRead).await?;
    authorize(state, actor, Action::RequestsList).await?;
    let account = state.store.account_by_identity(identity).await?;
    state
        .store
        .audit(AuditEntry {
            at: state.clock.now(),
            actor: actor.audit_name(),
            action: "account.lookup",
            subject: account.as_ref().map(|a| a.id.to_string()),
            outcome: if account.is_some() { "ok" } else { "not_found" },
            detail: json!({"via": "console"}),
        })
        .await?;
    let Some(account) = account else { return Ok(None) };
    let mut locks = Vec::new();
    for lock in state.store.locks_of_account(&account.id).await? {
        let placed_by = placed_by_name(state, &lock.placed_by).await?;
        let lifted_by = match &lock.lifted {
            Some(lift) => Some(placed_by_name(state, &lift.by).await?),
            None => None,
        };
        locks.push(LockView { lock, placed_by, lifted_by });
    }
    let requests = state.store.requests_of_account(&account.id, LOOKUP_REQUESTS).await?;
    Ok(Some(AccountFile { account, locks, requests }))
}

/// Locks placed and lifted on one day, by ground.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DayCounts {
    pub placed: BTreeMap<Ground, i64>,
    pub lifted: BTreeMap<Ground, i64>,
}

/// The dashboard's numbers.
#[derive(Debug)]
pub struct Dashboard {
    /// Open requests (received, verifying, approved) by kind, every kind listed.
    pub open_by_kind: Vec<(RequestKind, i64)>,
    pub overdue: i64,
    /// The last [`DASHBOARD_DAYS`] days in Vietnam time, oldest first, each with its counts.
    pub days: Vec<(NaiveDate, DayCounts)>,
}

/// The Vietnam-time day of an instant.
fn vietnam_day(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&vietnam()).date_naive()
}

/// The dashboard of the queue and of locks: who may work the queue and read locks may see it.
pub async fn dashboard(state: &AppState, actor: &Actor) -> Result<Dashboard, ApiError> {
    authorize(state, actor, Action::RequestsList).await?;
    authorize(state, actor, Action::LocksRead).await?;
    let now = state.clock.now();
    let counted = state.store.count_open_requests_by_kind().await?;
    let open_by_kind = [RequestKind::Lock, RequestKind::Unlock]
        .into_iter()
        .map(|kind| (kind, counted.iter().find(|(k, _)| *k == kind).map_or(0, |(_, n)| *n)))
        .collect();
    let overdue = state.store.count_overdue_requests(now).await?;
    let today = vietnam_day(now);
    let first = today - Duration::days(DASHBOARD_DAYS - 1);
    let since = first.and_hms_opt(0, 0, 0).expect("midnight exists").and_local_timezone(vietnam()).unwrap();
    let locks = state.store.locks_changed_since(since.with_timezone(&Utc)).await?;
    Ok(Dashboard { open_by_kind, overdue, days: per_day(&locks, first, today) })
}

/// Each day from `first` to `last` with the locks placed and lifted on it (Vietnam time), by ground.
fn per_day(locks: &[Lock], first: NaiveDate, last: NaiveDate) -> Vec<(NaiveDate, DayCounts)> {
    let mut days: BTreeMap<NaiveDate, DayCounts> =
        first.iter_days().take_while(|d| *d <= last).map(|d| (d, DayCounts::default())).collect();
    for lock in locks {
        if let Some(day) = days.get_mut(&vietnam_day(lock.effective_at)) {
            *day.placed.entry(lock.ground).or_default() += 1;
        }
        if let Some(lift) = &lock.lifted
            && let Some(day) = days.get_mut(&vietnam_day(lift.at))
        {
            *day.lifted.entry(lock.ground).or_default() += 1;
        }
    }
    days.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use dinhdanh_domain::AccountId;
    use dinhdanh_domain::lock::{Lift, Party};

    use super::*;

    fn lock(ground: Ground, at: DateTime<Utc>, lifted: Option<DateTime<Utc>>) -> Lock {
        Lock {
            id: "l".into(),
            account_id: AccountId::new("a".to_owned()),
            ground,
            placed_by: Party::System,
            legal_basis: None,
            reference: None,
            reason: String::new(),
            effective_at: at,
            ends_at: None,
            request_id: None,
            lifted: lifted.map(|at| Lift {
                at,
                by: Party::System,
                legal_basis: None,
                reason: String::new(),
                request_id: None,
            }),
        }
    }

    #[test]
    fn locks_are_counted_on_their_vietnam_day_and_outside_days_are_left_out() {
        let first = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(2026, 6, 2).unwrap();
        // 18:00 UTC on 1 June is 01:00 on 2 June in Hanoi.
        let late = Utc.with_ymd_and_hms(2026, 6, 1, 18, 0, 0).unwrap();
        let early = Utc.with_ymd_and_hms(2026, 6, 1, 1, 0, 0).unwrap();
        let before = Utc.with_ymd_and_hms(2026, 5, 20, 1, 0, 0).unwrap();
        let locks = [
            lock(Ground::HolderRequest, early, Some(late)),
            lock(Ground::HolderRequest, late, None),
            lock(Ground::TermsViolation, before, Some(early)),
        ];
        let days = per_day(&locks, first, last);
        assert_eq!(days.len(), 2);
        let (d1, c1) = &days[0];
        assert_eq!(*d1, first);
        assert_eq!(c1.placed, BTreeMap::from([(Ground::HolderRequest, 1)]));
        assert_eq!(c1.lifted, BTreeMap::from([(Ground::TermsViolation, 1)]), "placed before the window, lifted in it");
        let (_, c2) = &days[1];
        assert_eq!(c2.placed, BTreeMap::from([(Ground::HolderRequest, 1)]));
        assert_eq!(c2.lifted, BTreeMap::from([(Ground::HolderRequest, 1)]));
    }
}
