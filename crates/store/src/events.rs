//! The accounts' event feed (`account_events`, migration 0018; issue 17, docs/events.md): written by the store
//! itself in the transaction of the change — a lock placed ([`Tx::insert_lock`], a bulk order's locks), lifted
//! ([`Tx::lift_lock`]), a level changed ([`Tx::set_account_level`]) — so that no path that changes an account can
//! forget it, and nothing committed is lost. Only the changes others must act on become events: the first lock
//! in force (`disabled`), the lift of the last one (`enabled`), a level that really changed.
//!
//! What goes to whom (relying parties' streams, their pairwise subjects, signed Security Event Tokens) is decided
//! later from these rows; they hold no ground, legal basis or officer.

use chrono::{DateTime, Utc};
use dinhdanh_domain::AccountId;
use dinhdanh_domain::account::AccountEventKind;
use serde_json::Value;
use sqlx::Row;

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

/// One event of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountEvent {
    /// Increasing in the order the events were written; an account's events are in the order they happened
    /// (each change holds the account's row, or is a bulk order's, which holds every row it changes).
    pub id: i64,
    pub account_id: AccountId,
    pub kind: AccountEventKind,
    /// Shared by the events of one request: its id (or the lock's, for a lock placed without one).
    pub txn: String,
    /// `disabled` / `enabled`: `{"lock_id"}`; `level_changed`: `{"previous", "current"}` (1 or 2).
    pub detail: Value,
    pub occurred_at: DateTime<Utc>,
}

/// Locks in force on account `$1` at the instant `$2` (milliseconds).
pub(crate) const LOCKS_IN_FORCE: &str = "SELECT COUNT(*) FROM locks l WHERE l.account_id = $1 AND l.lifted_at IS NULL \
     AND l.effective_at <= $2 AND (l.ends_at IS NULL OR l.ends_at > $2)";

const COLUMNS: &str = "id, account_id, kind, txn, detail, occurred_at";

fn event_from_row(row: &sqlx::any::AnyRow) -> Result<AccountEvent, StoreError> {
    let kind: String = row.try_get(2)?;
    let detail: String = row.try_get(4)?;
    Ok(AccountEvent {
        id: row.try_get(0)?,
        account_id: AccountId::new(row.try_get(1)?),
        kind: AccountEventKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("account event kind {kind}")))?,
        txn: row.try_get(3)?,
        detail: serde_json::from_str(&detail).map_err(|e| StoreError::Corrupt(format!("account event detail: {e}")))?,
        occurred_at: from_ms(row.try_get(5)?)?,
    })
}

impl Tx {
    pub(crate) async fn append_account_event(
        &mut self,
        account: &str,
        kind: AccountEventKind,
        txn: &str,
        detail: &Value,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.wrote_account_events = true;
        sqlx::query(
            "INSERT INTO account_events (account_id, kind, txn, detail, occurred_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(account)
        .bind(kind.as_str())
        .bind(txn)
        .bind(detail.to_string())
        .bind(to_ms(at))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    pub(crate) async fn locks_in_force(&mut self, account: &str, at: DateTime<Utc>) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(LOCKS_IN_FORCE).bind(account).bind(to_ms(at)).fetch_one(&mut *self.inner).await?)
    }
}

impl Store {
    /// An account's events, oldest first.
    pub async fn account_events(&self, account: &AccountId) -> Result<Vec<AccountEvent>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM account_events WHERE account_id = $1 ORDER BY id"))
            .bind(account.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(event_from_row).collect()
    }

    /// Events not yet given to the relying parties' streams, oldest first.
    pub async fn pending_account_events(&self, limit: i64) -> Result<Vec<AccountEvent>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM account_events WHERE fanned_out_at IS NULL ORDER BY id LIMIT $1"
        ))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(event_from_row).collect()
    }
}
