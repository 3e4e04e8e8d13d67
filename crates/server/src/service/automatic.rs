//! Automatic locks from the registries (Decree 59/2022 Art. 19, Law on Identification 2023 Art. 34, Decree
//! 69/2024 Art. 15): the system places a lock when the registry records a card revoked or retained, a death, or
//! a foreigner's passport or stay expired, and lifts it when the ground no longer holds — never a death.
//!
//! The rule is [`dinhdanh_domain::automatic`]; this module applies it through the ordinary request path: for
//! each account, one transaction that holds the account, re-reads its registry record and locks, and files one
//! system request per lock to place or lift ([`crate::service::locks::file`], the immediate route of the
//! authority table), so steps, the holder's notice, the revocation of sessions and the audit entries are the
//! same as for every other lock. Running it again changes nothing. See docs/automatic-locks.md.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use dinhdanh_domain::AccountId;
use dinhdanh_domain::authority::{self, LiftRequester, Placer};
use dinhdanh_domain::automatic::{self, RegistryRecord};
use dinhdanh_domain::calendar::vietnam;
use dinhdanh_domain::lock::{Ground, Lock, Party, active_locks};
use dinhdanh_domain::registry::CardStatus;
use dinhdanh_domain::request::{NewRequest, RequestKind, Subject};
use dinhdanh_store::AuditEntry;
use serde_json::json;

use crate::AppState;
use crate::problem::ApiError;
use crate::service::locks::file;

/// What a reconciliation run did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Candidate accounts looked at (each in a transaction of its own).
    pub accounts_checked: u64,
    pub locks_placed: u64,
    pub locks_lifted: u64,
    /// Accounts whose transaction failed; logged, retried on the next run.
    pub accounts_failed: u64,
}

/// Brings every account's automatic locks in line with the registry at the clock's `now` (dates read as the
/// day in Vietnam). Only candidate accounts are read (see [`dinhdanh_store::AutomaticCandidate`]); an account
/// that fails is logged and left for the next run, the others go on.
pub async fn reconcile_automatic_locks(state: &AppState) -> Result<ReconcileReport, ApiError> {
    let now = state.clock.now();
    let today = now.with_timezone(&vietnam()).date_naive();
    let candidates = state.store.automatic_lock_candidates(today, now).await?;
    let mut report = ReconcileReport::default();
    for candidate in candidates {
        report.accounts_checked += 1;
        match reconcile_account(state, &candidate.account_id, now, today).await {
            Ok((placed, lifted)) => {
                report.locks_placed += placed;
                report.locks_lifted += lifted;
            }
            Err(e) => {
                report.accounts_failed += 1;
                tracing::warn!(account = %candidate.account_id, error = ?e, "automatic lock reconciliation failed");
            }
        }
    }
    if report.locks_placed + report.locks_lifted + report.accounts_failed > 0 {
        tracing::info!(
            checked = report.accounts_checked,
            placed = report.locks_placed,
            lifted = report.locks_lifted,
            failed = report.accounts_failed,
            "automatic locks reconciled"
        );
    }
    Ok(report)
}

/// One account, one transaction: returns the number of locks placed and lifted.
async fn reconcile_account(
    state: &AppState,
    account_id: &AccountId,
    now: DateTime<Utc>,
    today: NaiveDate,
) -> Result<(u64, u64), ApiError> {
    let mut tx = state.store.begin().await?;
    let Some(account) = tx.lock_account(account_id).await? else { return Ok((0, 0)) };
    // Read again now that the account is held: the registry or the locks may have changed since the selection.
    let Some((record, changed_at)) = tx.registry_record_of(account.identity_key.as_str()).await? else {
        return Ok((0, 0));
    };
    let locks = tx.locks_of_account(account_id).await?;
    let mut due = record.due_grounds(today);
    due.retain(|g| !automatic::overridden_since(*g, &locks, changed_at));
    let active: Vec<Lock> = active_locks(&locks, now).cloned().collect();
    let (to_place, to_lift) = automatic::plan(&due, &active);
    if to_place.is_empty() && to_lift.is_empty() {
        return Ok((0, 0));
    }
    let actor = Party::System.audit_name();
    for ground in &to_place {
        // The authority table is asked like for any other placer; it answers "at once" for the system.
        let requirement = authority::placement(Placer::System, *ground, state.config.lock_policy)
            .map_err(|e| ApiError::internal(format!("the authority table refuses an automatic lock: {e}")))?;
        let (reason, reference) = basis(*ground, &record, today, true);
        let new = NewRequest {
            kind: RequestKind::Lock,
            subject: Subject::Account(account_id.clone()),
            ground: *ground,
            lock_id: None,
            requester: Party::System,
            route: requirement.route,
            is_override: false,
            legal_basis: None,
            reason,
            reference: Some(reference),
            lock_ends_at: None,
            in_person_check: None,
        };
        file(&mut tx, &state.config.calendar, &actor, Some(&account), new, now).await?;
    }
    for lock_id in &to_lift {
        let lock = active.iter().find(|l| &l.id == lock_id).ok_or_else(|| ApiError::internal("planned lift"))?;
        let requester = LiftRequester::System { ground_still_holds: due.contains(&lock.ground) };
        let requirement = authority::lifting(&requester, lock, true)
            .map_err(|e| ApiError::internal(format!("the authority table refuses an automatic lift: {e}")))?;
        let (reason, reference) = basis(lock.ground, &record, today, false);
        let new = NewRequest {
            kind: RequestKind::Unlock,
            subject: Subject::Account(account_id.clone()),
            ground: lock.ground,
            lock_id: Some(lock.id.clone()),
            requester: Party::System,
            route: requirement.route,
            is_override: false,
            legal_basis: None,
            reason,
            reference: Some(reference),
            lock_ends_at: None,
            in_person_check: None,
        };
        file(&mut tx, &state.config.calendar, &actor, Some(&account), new, now).await?;
    }
    // What the run was based on, for the auditor: the grounds and registry fields, never their values.
    tx.audit(AuditEntry {
        at: now,
        actor: actor.clone(),
        action: "lock.automatic_reconcile",
        subject: Some(account_id.to_string()),
        outcome: "ok",
        detail: json!({
            "placed": to_place.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            "lifted": to_lift,
            "registry": registry_name(&record),
            "fields": fields(&to_place, &active, &to_lift),
        }),
    })
    .await?;
    tx.commit().await?;
    for ground in &to_place {
        metrics::counter!("dinhdanh_automatic_locks_total", "action" => "placed", "ground" => ground.as_str())
            .increment(1);
    }
    for lock_id in &to_lift {
        if let Some(lock) = active.iter().find(|l| &l.id == lock_id) {
            metrics::counter!("dinhdanh_automatic_locks_total", "action" => "lifted", "ground" => lock.ground.as_str())
                .increment(1);
        }
    }
    Ok((to_place.len() as u64, to_lift.len() as u64))
}

fn registry_name(record: &RegistryRecord) -> &'static str {
    match record {
        RegistryRecord::Citizen(_) => "population",
        RegistryRecord::Foreigner(_) => "immigration",
    }
}

/// The registry field a ground reads.
fn field(ground: Ground) -> &'static str {
    match ground {
        Ground::IdentityDocumentRevoked => "card_status",
        Ground::HolderDeceased => "died_on",
        Ground::TravelDocumentExpired => "passport_expires_on",
        Ground::ResidenceExpired => "stay_expires_on",
        _ => "-",
    }
}

fn fields(placed: &[Ground], active: &[Lock], lifted: &[String]) -> Vec<&'static str> {
    let grounds: BTreeSet<Ground> =
        placed.iter().copied().chain(active.iter().filter(|l| lifted.contains(&l.id)).map(|l| l.ground)).collect();
    grounds.into_iter().map(field).collect()
}

/// The reason (Vietnamese / English, as the holder reads it) and the reference (the registry field, its value and
/// the date the system read it) of an automatic lock or lift.
fn basis(ground: Ground, record: &RegistryRecord, today: NaiveDate, placing: bool) -> (String, String) {
    let date = |d: Option<NaiveDate>| d.map(|d| d.to_string()).unwrap_or_else(|| "-".to_owned());
    let (reason, value) = match (ground, record, placing) {
        (Ground::IdentityDocumentRevoked, RegistryRecord::Citizen(c), true) => {
            let (vi, en) = match c.card_status {
                CardStatus::Retained => ("bị tạm giữ", "retained"),
                _ => ("bị thu hồi", "revoked"),
            };
            (
                format!("Cơ sở dữ liệu quốc gia về dân cư ghi nhận thẻ căn cước {vi} / the registry records the identity card {en}"),
                c.card_status.as_str().to_owned(),
            )
        }
        (Ground::IdentityDocumentRevoked, RegistryRecord::Citizen(c), false) => (
            "Cơ sở dữ liệu quốc gia về dân cư ghi nhận thẻ căn cước còn hiệu lực (cấp thẻ mới) / the registry records a \
             valid identity card (a new card)"
                .to_owned(),
            c.card_status.as_str().to_owned(),
        ),
        (Ground::HolderDeceased, RegistryRecord::Citizen(c), _) => (
            "Cơ sở dữ liệu quốc gia về dân cư ghi nhận chủ tài khoản đã chết / the registry records the holder's death"
                .to_owned(),
            date(c.died_on),
        ),
        (Ground::HolderDeceased, RegistryRecord::Foreigner(f), _) => (
            "Cơ sở dữ liệu quốc gia về xuất nhập cảnh ghi nhận chủ tài khoản đã chết / the immigration registry records \
             the holder's death"
                .to_owned(),
            date(f.died_on),
        ),
        (Ground::TravelDocumentExpired, RegistryRecord::Foreigner(f), true) => (
            "Cơ sở dữ liệu quốc gia về xuất nhập cảnh ghi nhận hộ chiếu đã hết hạn / the immigration registry records \
             the passport expired"
                .to_owned(),
            date(f.passport_expires_on),
        ),
        (Ground::TravelDocumentExpired, RegistryRecord::Foreigner(f), false) => (
            "Cơ sở dữ liệu quốc gia về xuất nhập cảnh ghi nhận hộ chiếu còn hạn (gia hạn hoặc cấp mới) / the \
             immigration registry records a valid passport (renewed)"
                .to_owned(),
            date(f.passport_expires_on),
        ),
        (Ground::ResidenceExpired, RegistryRecord::Foreigner(f), true) => (
            "Cơ sở dữ liệu quốc gia về xuất nhập cảnh ghi nhận thời hạn cư trú đã hết / the immigration registry \
             records the permitted stay ended"
                .to_owned(),
            date(f.stay_expires_on),
        ),
        (Ground::ResidenceExpired, RegistryRecord::Foreigner(f), false) => (
            "Cơ sở dữ liệu quốc gia về xuất nhập cảnh ghi nhận thời hạn cư trú được gia hạn / the immigration registry \
             records the stay extended"
                .to_owned(),
            date(f.stay_expires_on),
        ),
        // A lock of a foreigner's ground on a citizen's account (or the reverse) cannot be placed; lifting one
        // that somehow exists says only that the registry no longer supports it.
        _ => (
            "Cơ sở dữ liệu quốc gia không còn ghi nhận căn cứ khóa / the registry no longer supports this lock".to_owned(),
            "-".to_owned(),
        ),
    };
    let registry = registry_name(record);
    (reason, format!("{registry}.{}={value} (read {today})", field(ground)))
}
