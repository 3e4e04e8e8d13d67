//! Batched statements for bulk lock orders: resolving thousands of identities to accounts, writing an order's
//! targets, and applying an approved order — holding the accounts, inserting the locks, revoking the holders'
//! sessions, queueing their notices and writing each account's outcome — in chunks of at most [`CHUNK`]
//! accounts, each written with multi-row statements, inside the caller's one transaction. Also batch inserts of accounts and holder sessions for
//! fixtures and benchmarks.
//!
//! Every statement keeps within both backends' parameter limits (SQLite 32,766, PostgreSQL 65,535).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dinhdanh_domain::bulk::TargetOutcome;
use dinhdanh_domain::lock::{Ground, Lock, Party};
use dinhdanh_domain::{Account, AccountId, AccountStatus, Level};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::locks::to_json;
use crate::outbox::NewMessage;
use crate::requests::StoredResponse;
use crate::time::to_ms;
use crate::{Store, StoreError, Tx};

/// Rows per multi-row statement.
pub const CHUNK: usize = 1000;

/// A bulk order's account: what was named, what it resolved to, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestTarget {
    pub position: i64,
    /// The identifier as the order gave it (an identification number, or `NAT:PASSPORT`).
    pub identifier: String,
    pub account_id: Option<AccountId>,
    pub outcome: TargetOutcome,
    pub detail: Option<String>,
    pub lock_id: Option<String>,
}

/// What applying a bulk order needs to know of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountBrief {
    pub id: AccountId,
    pub identity_key: String,
    pub status: AccountStatus,
    pub phone: Option<String>,
    pub email: Option<String>,
}

/// `($1, $2, $3), ($4, $5, $6), …` for `rows` rows of `columns` values, numbered from `$first`.
fn values(rows: usize, columns: usize, first: usize) -> String {
    let mut out = String::with_capacity(rows * columns * 6);
    for r in 0..rows {
        if r > 0 {
            out.push_str(", ");
        }
        out.push('(');
        for c in 0..columns {
            if c > 0 {
                out.push_str(", ");
            }
            out.push('$');
            out.push_str(&(first + r * columns + c).to_string());
        }
        out.push(')');
    }
    out
}

/// `$first, $first+1, …` for an `IN (…)` list of `n` values.
fn list(n: usize, first: usize) -> String {
    (first..first + n).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

fn brief_from_row(row: &AnyRow) -> Result<AccountBrief, StoreError> {
    Ok(AccountBrief {
        id: AccountId::new(row.try_get("id")?),
        identity_key: row.try_get("identity_key")?,
        status: AccountStatus::parse(&row.try_get::<String, _>("status")?)
            .ok_or_else(|| StoreError::Corrupt("account status".into()))?,
        phone: row.try_get("phone")?,
        email: row.try_get("email")?,
    })
}

fn organization_of(party: &Party) -> Option<String> {
    match party {
        Party::Organization { organization_id, .. } => Some(organization_id.clone()),
        _ => None,
    }
}

impl Store {
    /// The answer stored under an idempotency key, if any (outside any transaction: a retry that finds it needs
    /// nothing else).
    pub async fn idempotent_response(&self, scope: &str, key: &str) -> Result<Option<StoredResponse>, StoreError> {
        let row =
            sqlx::query("SELECT request_hash, status, response FROM idempotency_keys WHERE scope = $1 AND key = $2")
                .bind(scope)
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| Ok(StoredResponse { request_hash: r.try_get(0)?, status: r.try_get(1)?, response: r.try_get(2)? }))
            .transpose()
    }

    /// The accounts of these identity keys (`CID:…`, `PP:…:…`); keys without an account are simply absent.
    pub async fn accounts_by_identity_keys(&self, keys: &[String]) -> Result<Vec<AccountBrief>, StoreError> {
        let mut out = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(CHUNK) {
            let sql = format!(
                "SELECT id, identity_key, status, phone, email FROM accounts WHERE identity_key IN ({})",
                list(chunk.len(), 1)
            );
            let mut query = sqlx::query(&sql);
            for key in chunk {
                query = query.bind(key.as_str());
            }
            for row in query.fetch_all(&self.pool).await? {
                out.push(brief_from_row(&row)?);
            }
        }
        Ok(out)
    }

    /// How many targets of an order have each outcome.
    pub async fn target_outcome_counts(&self, request_id: &str) -> Result<BTreeMap<TargetOutcome, i64>, StoreError> {
        let rows = sqlx::query("SELECT outcome, COUNT(*) FROM request_targets WHERE request_id = $1 GROUP BY outcome")
            .bind(request_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let outcome = TargetOutcome::parse(&r.try_get::<String, _>(0)?)
                    .ok_or_else(|| StoreError::Corrupt("bulk order entry outcome".into()))?;
                Ok((outcome, r.try_get::<i64, _>(1)?))
            })
            .collect()
    }

    /// Whether an order names this account among its entries.
    pub async fn order_names_account(&self, request_id: &str, account: &AccountId) -> Result<bool, StoreError> {
        Ok(sqlx::query("SELECT 1 FROM request_targets WHERE request_id = $1 AND account_id = $2 LIMIT 1")
            .bind(request_id)
            .bind(account.as_str())
            .fetch_optional(&self.pool)
            .await?
            .is_some())
    }

    /// A page of an order's targets after position `after`, in order; only those with one of `outcomes` when
    /// that list is not empty.
    pub async fn targets_page(
        &self,
        request_id: &str,
        after: i64,
        limit: i64,
        outcomes: &[TargetOutcome],
    ) -> Result<Vec<RequestTarget>, StoreError> {
        let filter =
            if outcomes.is_empty() { String::new() } else { format!(" AND outcome IN ({})", list(outcomes.len(), 4)) };
        let sql = format!(
            "SELECT position, identifier, account_id, outcome, detail, lock_id FROM request_targets \
             WHERE request_id = $1 AND position > $2{filter} ORDER BY position LIMIT $3"
        );
        let mut query = sqlx::query(&sql).bind(request_id).bind(after).bind(limit);
        for outcome in outcomes {
            query = query.bind(outcome.as_str());
        }
        query.fetch_all(&self.pool).await?.iter().map(target_from_row).collect()
    }
}

fn target_from_row(r: &AnyRow) -> Result<RequestTarget, StoreError> {
    Ok(RequestTarget {
        position: r.try_get(0)?,
        identifier: r.try_get(1)?,
        account_id: r.try_get::<Option<String>, _>(2)?.map(AccountId::new),
        outcome: TargetOutcome::parse(&r.try_get::<String, _>(3)?)
            .ok_or_else(|| StoreError::Corrupt("bulk order entry outcome".into()))?,
        detail: r.try_get(4)?,
        lock_id: r.try_get(5)?,
    })
}

/// Parameters per multi-row statement. SQLite (through sqlx) binds parameters at a cost that grows faster than
/// their number: 1,000 locks of 11 columns take 128 ms as one statement and 20 ms as ten (measured, release
/// build); PostgreSQL prefers fewer round trips.
pub(crate) fn params_per_statement(backend_name: &str) -> usize {
    if backend_name.eq_ignore_ascii_case("postgresql") { 16_000 } else { 1_000 }
}

impl Tx {
    /// Rows of `columns` values per multi-row statement on this backend (at most [`CHUNK`]).
    fn rows_per_statement(&self, columns: usize) -> usize {
        (params_per_statement(self.inner.backend_name()) / columns).clamp(1, CHUNK)
    }

    /// Writes an order's targets, [`CHUNK`] rows per statement.
    pub async fn insert_targets_batch(
        &mut self,
        request_id: &str,
        targets: &[RequestTarget],
    ) -> Result<(), StoreError> {
        for chunk in targets.chunks(self.rows_per_statement(7)) {
            let sql = format!(
                "INSERT INTO request_targets (request_id, position, identifier, account_id, outcome, detail, lock_id) \
                 VALUES {}",
                values(chunk.len(), 7, 1)
            );
            let mut query = sqlx::query(&sql);
            for t in chunk {
                query = query
                    .bind(request_id)
                    .bind(t.position)
                    .bind(t.identifier.as_str())
                    .bind(t.account_id.as_ref().map(|a| a.as_str().to_owned()))
                    .bind(t.outcome.as_str())
                    .bind(t.detail.clone())
                    .bind(t.lock_id.clone());
            }
            query.execute(&mut *self.inner).await?;
        }
        Ok(())
    }

    /// The targets of an order still waiting for its decision, in order.
    pub async fn pending_targets(&mut self, request_id: &str) -> Result<Vec<RequestTarget>, StoreError> {
        let rows = sqlx::query(
            "SELECT position, identifier, account_id, outcome, detail, lock_id FROM request_targets \
             WHERE request_id = $1 AND outcome = 'pending' ORDER BY position",
        )
        .bind(request_id)
        .fetch_all(&mut *self.inner)
        .await?;
        rows.iter().map(target_from_row).collect()
    }

    /// Holds these accounts until the transaction ends, as [`Tx::lock_account`] does for one, and reads them.
    /// On PostgreSQL the rows are locked in id order, so two orders over the same accounts cannot deadlock;
    /// SQLite has one writer at a time anyway.
    pub async fn hold_accounts(&mut self, ids: &[AccountId]) -> Result<Vec<AccountBrief>, StoreError> {
        let mut sorted: Vec<&str> = ids.iter().map(AccountId::as_str).collect();
        sorted.sort_unstable();
        let postgres = self.inner.backend_name().eq_ignore_ascii_case("postgresql");
        let mut out = Vec::with_capacity(ids.len());
        for chunk in sorted.chunks(CHUNK) {
            let sql = if postgres {
                format!(
                    "SELECT id, identity_key, status, phone, email FROM accounts WHERE id IN ({}) ORDER BY id FOR UPDATE",
                    list(chunk.len(), 1)
                )
            } else {
                format!(
                    "UPDATE accounts SET id = id WHERE id IN ({}) RETURNING id, identity_key, status, phone, email",
                    list(chunk.len(), 1)
                )
            };
            let mut query = sqlx::query(&sql);
            for id in chunk {
                query = query.bind(*id);
            }
            for row in query.fetch_all(&mut *self.inner).await? {
                out.push(brief_from_row(&row)?);
            }
        }
        Ok(out)
    }

    /// Of an order's pending entries, the accounts on which `placed_by_org` already has a lock of `ground` in force
    /// at `now`: account id → that lock's id. One statement for the whole order, whose plan does not depend on
    /// the tables' statistics: each entry's lock is looked up by a correlated subquery on the per-account index
    /// (`locks_account_ground`), where a list of ids in `IN (…)` let PostgreSQL's generic plan of a prepared
    /// statement scan the ground index once per id (BENCHMARKS.md, "Bulk lock").
    pub async fn active_locks_for_order(
        &mut self,
        request_id: &str,
        ground: Ground,
        placed_by_org: &str,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let rows = sqlx::query(
            "SELECT account_id, lock_id FROM (SELECT t.account_id, (SELECT l.id FROM locks l \
               WHERE l.account_id = t.account_id AND l.ground = $2 AND l.placed_by_org = $3 AND l.lifted_at IS NULL \
               AND l.effective_at <= $4 AND (l.ends_at IS NULL OR l.ends_at > $4) LIMIT 1) AS lock_id \
             FROM request_targets t WHERE t.request_id = $1 AND t.outcome = 'pending') held WHERE lock_id IS NOT NULL",
        )
        .bind(request_id)
        .bind(ground.as_str())
        .bind(placed_by_org)
        .bind(to_ms(now))
        .fetch_all(&mut *self.inner)
        .await?;
        rows.iter().map(|row| Ok((row.try_get(0)?, row.try_get(1)?))).collect()
    }

    /// Inserts locks, [`CHUNK`] per statement (see [`Tx::insert_lock`] for one).
    pub async fn insert_locks_batch(&mut self, locks: &[Lock]) -> Result<(), StoreError> {
        for chunk in locks.chunks(self.rows_per_statement(11)) {
            let sql = format!(
                "INSERT INTO locks (id, account_id, ground, placed_by, placed_by_org, legal_basis, reference, reason, \
                 effective_at, ends_at, request_id) VALUES {}",
                values(chunk.len(), 11, 1)
            );
            let mut query = sqlx::query(&sql);
            for lock in chunk {
                query = query
                    .bind(lock.id.as_str())
                    .bind(lock.account_id.as_str())
                    .bind(lock.ground.as_str())
                    .bind(to_json(&lock.placed_by))
                    .bind(organization_of(&lock.placed_by))
                    .bind(lock.legal_basis.as_ref().map(to_json))
                    .bind(lock.reference.clone())
                    .bind(lock.reason.as_str())
                    .bind(to_ms(lock.effective_at))
                    .bind(lock.ends_at.map(to_ms))
                    .bind(lock.request_id.clone());
            }
            query.execute(&mut *self.inner).await?;
        }
        Ok(())
    }

    /// Ends every live session of these holders, one statement per [`CHUNK`] accounts; returns how many
    /// sessions each account lost, by account id (accounts that had none are absent).
    pub async fn revoke_sessions_of(
        &mut self,
        ids: &[AccountId],
        at: DateTime<Utc>,
    ) -> Result<BTreeMap<String, u64>, StoreError> {
        let mut out = BTreeMap::new();
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "UPDATE holder_sessions SET revoked_at = $1 WHERE revoked_at IS NULL AND account_id IN ({}) \
                 RETURNING account_id",
                list(chunk.len(), 2)
            );
            let mut query = sqlx::query(&sql).bind(to_ms(at));
            for id in chunk {
                query = query.bind(id.as_str());
            }
            for row in query.fetch_all(&mut *self.inner).await? {
                *out.entry(row.try_get::<String, _>(0)?).or_insert(0) += 1;
            }
        }
        Ok(out)
    }

    /// Queues messages in the outbox, [`CHUNK`] per statement (see [`Tx::enqueue`] for one).
    pub async fn enqueue_batch(&mut self, messages: &[NewMessage], now: DateTime<Utc>) -> Result<(), StoreError> {
        for chunk in messages.chunks(self.rows_per_statement(5)) {
            let sql = format!(
                "INSERT INTO outbox (kind, channel, recipient, subject, body, status, attempts, next_attempt_at, \
                 created_at) VALUES {}",
                (0..chunk.len())
                    .map(|r| {
                        let p = 2 + r * 5;
                        format!("(${p}, ${}, ${}, ${}, ${}, 'pending', 0, $1, $1)", p + 1, p + 2, p + 3, p + 4)
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut query = sqlx::query(&sql).bind(to_ms(now));
            for m in chunk {
                query = query
                    .bind(m.kind)
                    .bind(m.channel.as_str())
                    .bind(m.recipient.as_str())
                    .bind(m.subject.as_str())
                    .bind(m.body.as_str());
            }
            query.execute(&mut *self.inner).await?;
        }
        Ok(())
    }

    /// Writes the outcome, detail and lock of these targets of an order, [`CHUNK`] per statement.
    pub async fn set_target_outcomes(&mut self, request_id: &str, targets: &[RequestTarget]) -> Result<(), StoreError> {
        for chunk in targets.chunks(self.rows_per_statement(4)) {
            // VALUES columns are named column1, column2, … by both SQLite and PostgreSQL.
            let sql = format!(
                "UPDATE request_targets SET outcome = v.column2, detail = v.column3, lock_id = v.column4 \
                 FROM (VALUES {}) AS v WHERE request_targets.request_id = $1 AND request_targets.position = v.column1",
                values(chunk.len(), 4, 2)
            );
            let mut query = sqlx::query(&sql).bind(request_id);
            for t in chunk {
                query = query.bind(t.position).bind(t.outcome.as_str()).bind(t.detail.clone()).bind(t.lock_id.clone());
            }
            query.execute(&mut *self.inner).await?;
        }
        Ok(())
    }

    /// Creates accounts, [`CHUNK`] per statement (fixtures and benchmarks; registration creates one at a time).
    pub async fn insert_accounts_batch(&mut self, accounts: &[Account]) -> Result<(), StoreError> {
        for chunk in accounts.chunks(self.rows_per_statement(11)) {
            let sql = format!(
                "INSERT INTO accounts (id, identity_key, holder_kind, full_name, level, status, phone, email, \
                 password_hash, created_at, activated_at) VALUES {}",
                values(chunk.len(), 11, 1)
            );
            let mut query = sqlx::query(&sql);
            for a in chunk {
                query = query
                    .bind(a.id.as_str())
                    .bind(a.identity_key.as_str())
                    .bind(a.holder_kind.as_str())
                    .bind(a.full_name.as_str())
                    .bind(a.level.number())
                    .bind(a.status.as_str())
                    .bind(a.phone.as_ref().map(|p| p.as_str().to_owned()))
                    .bind(a.email.as_ref().map(|e| e.as_str().to_owned()))
                    .bind(a.password_hash.as_str())
                    .bind(to_ms(a.created_at))
                    .bind(a.activated_at.map(to_ms));
            }
            query
                .execute(&mut *self.inner)
                .await
                .map_err(|e| StoreError::conflict_or(e, "an account for this identity"))?;
        }
        Ok(())
    }

    /// Creates live holder sessions `(token hash, account, assurance)`, [`CHUNK`] per statement (fixtures and
    /// benchmarks).
    pub async fn insert_holder_sessions_batch(
        &mut self,
        sessions: &[(String, AccountId, Level)],
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for chunk in sessions.chunks(self.rows_per_statement(3)) {
            let sql = format!(
                "INSERT INTO holder_sessions (token_hash, account_id, assurance, created_at, expires_at) VALUES {}",
                (0..chunk.len())
                    .map(|r| format!("(${}, ${}, ${}, $1, $2)", 3 + r * 3, 4 + r * 3, 5 + r * 3))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            let mut query = sqlx::query(&sql).bind(to_ms(created_at)).bind(to_ms(expires_at));
            for (hash, account, level) in chunk {
                query = query.bind(hash.as_str()).bind(account.as_str()).bind(level.number());
            }
            query.execute(&mut *self.inner).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_row_by_row() {
        assert_eq!(values(2, 3, 2), "($2, $3, $4), ($5, $6, $7)");
        assert_eq!(list(3, 4), "$4, $5, $6");
    }
}
