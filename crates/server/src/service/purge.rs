//! The scheduled purge of what has expired: holder and officer sessions, holders' sign-in challenges, access
//! tokens, used client-assertion `jti`s, idempotency keys past their retention, the OpenID Connect provider's
//! expired interactions, codes, access-token `jti`s, refresh tokens and families and pushed requests, and
//! registrations never activated
//! with their decoys (`registration::remove_expired_registrations`, which audits each). Run by
//! [`crate::run_purge`]; counts go to the log and to `dinhdanh_purged_rows_total`, never what was in the rows.
//!
//! No request path deletes expired rows: every check compares the expiry, so the purge only keeps the tables
//! small, and how often it runs changes no answer.

use std::collections::BTreeMap;

use chrono::Duration;
use dinhdanh_store::Expired;

use crate::AppState;
use crate::problem::ApiError;

/// Rows deleted per transaction: enough that a backlog goes quickly, few enough that no batch holds a table.
pub const BATCH: i64 = 1000;

/// What the purge keeps, beyond each row's own expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgePolicy {
    /// How long an idempotency key replays its first answer (a retry after that is a new operation).
    pub idempotency_retention: Duration,
}

impl Default for PurgePolicy {
    fn default() -> Self {
        Self { idempotency_retention: Duration::hours(24) }
    }
}

/// How many rows of each kind one run deleted, by table name.
pub type PurgeReport = BTreeMap<&'static str, u64>;

/// Deletes everything whose time is over at the clock's now, kind by kind in batches of [`BATCH`].
pub async fn purge_expired(state: &AppState) -> Result<PurgeReport, ApiError> {
    let now = state.clock.now();
    let mut report = PurgeReport::new();
    for what in Expired::ALL {
        let cutoff = match what {
            Expired::IdempotencyKeys => now - state.config.purge.idempotency_retention,
            _ => now,
        };
        report.insert(what.as_str(), state.store.purge_expired(what, cutoff, BATCH).await?);
    }
    let (registrations, decoys) = super::registration::remove_expired_registrations_counted(state).await?;
    report.insert("registrations", registrations);
    report.insert("registration_decoys", decoys);
    for (kind, count) in &report {
        if *count > 0 {
            metrics::counter!("dinhdanh_purged_rows_total", "kind" => *kind).increment(*count);
        }
    }
    if report.values().any(|n| *n > 0) {
        tracing::info!(counts = ?report, "expired rows purged");
    }
    Ok(report)
}
