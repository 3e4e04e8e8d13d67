//! Batched statements for bulk lock orders: resolving thousands of identities to accounts and writing an order's
//! targets in multi-row statements of at most [`CHUNK`] rows, and applying an approved order — holding the
//! accounts, inserting the locks, revoking the holders' sessions, queueing their notices and writing each
//! account's outcome — in set-based statements over the order's targets, inside the caller's one transaction.
//! Also batch inserts of accounts and holder sessions for fixtures and benchmarks.
//!
//! Every statement keeps within both backends' parameter limits (SQLite 32,766, PostgreSQL 65,535).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use dinhdanh_domain::bulk::TargetOutcome;
use dinhdanh_domain::lock::{Lock, Party};
use dinhdanh_domain::{Account, AccountId, AccountStatus, Channel, Level};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::locks::to_json;
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

/// What an approved bulk order puts on each of its accounts (see [`Tx::apply_bulk_order`]).
#[derive(Debug, Clone)]
pub struct BulkEffect<'a> {
    pub request_id: &'a str,
    /// The lock every account gets: the same for all but its id and account, which the store sets.
    pub lock: &'a Lock,
    /// The notice each holder gets on each registered channel.
    pub notice: &'a NewNotice,
    pub now: DateTime<Utc>,
}

/// A notice's kind and text, the same for many recipients.
#[derive(Debug, Clone)]
pub struct NewNotice {
    pub kind: &'static str,
    pub subject: String,
    pub body: String,
}

/// An entry the order locked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedEntry {
    pub account_id: AccountId,
    pub lock_id: String,
    pub sessions_revoked: u64,
}

/// What applying an order did.
#[derive(Debug, Clone)]
pub struct BulkApplied {
    /// In entry order.
    pub locked: Vec<LockedEntry>,
    pub already_locked: usize,
    pub not_found: usize,
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
    pub(crate) fn rows_per_statement(&self, columns: usize) -> usize {
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

    /// Applies an approved order's pending entries inside the caller's transaction, in set-based statements that
    /// read the entries and their accounts where they are (`INSERT … SELECT`, `UPDATE … WHERE`), so that nothing
    /// is sent per account from the server: the accounts are held (PostgreSQL: in ascending id order, the store's
    /// lock order, so two orders over the same accounts wait for each other instead of deadlocking; SQLite has one
    /// writer), entries whose organization already holds a lock of the ground in force become `already_locked`
    /// (naming it), entries whose account no longer exists `not_found`, and every other entry gets its lock
    /// (`effect.lock` with the id `{order id}-{position}` and the entry's account), its holder's sessions revoked,
    /// one notice per registered channel, and the outcome `locked`.
    pub async fn apply_bulk_order(&mut self, effect: &BulkEffect<'_>) -> Result<BulkApplied, StoreError> {
        // Sessions revoked, and locks placed: the relying parties' access tokens of those accounts die too.
        self.invalidates(crate::credentials::Kind::Holder);
        self.invalidates(crate::credentials::Kind::Grants);
        let order = effect.request_id;
        let lock = effect.lock;
        let now = to_ms(effect.now);
        if self.inner.backend_name().eq_ignore_ascii_case("postgresql") {
            sqlx::query(
                "SELECT a.id FROM accounts a WHERE a.id IN (SELECT t.account_id FROM request_targets t \
                 WHERE t.request_id = $1 AND t.outcome = 'pending') ORDER BY a.id FOR UPDATE",
            )
            .bind(order)
            .fetch_all(&mut *self.inner)
            .await?;
        }
        let placed_by_org = organization_of(&lock.placed_by);
        let mut already_locked = 0;
        if let Some(org) = &placed_by_org {
            // Each entry's lock is looked up on the per-account index by a correlated subquery: a plan that does
            // not depend on the tables' statistics.
            let in_force = "FROM locks l WHERE l.account_id = request_targets.account_id AND l.ground = $2 \
                AND l.placed_by_org = $3 AND l.lifted_at IS NULL AND l.effective_at <= $4 \
                AND (l.ends_at IS NULL OR l.ends_at > $4)";
            already_locked = sqlx::query(&format!(
                "UPDATE request_targets SET outcome = 'already_locked', detail = $5, \
                 lock_id = (SELECT l.id {in_force} LIMIT 1) \
                 WHERE request_id = $1 AND outcome = 'pending' AND EXISTS (SELECT 1 {in_force})"
            ))
            .bind(order)
            .bind(lock.ground.as_str())
            .bind(org.as_str())
            .bind(now)
            .bind("your organization already has a lock of this ground in force on it")
            .execute(&mut *self.inner)
            .await?
            .rows_affected();
        }
        let not_found = sqlx::query(
            "UPDATE request_targets SET outcome = 'not_found', detail = 'the e-ID account no longer exists' \
             WHERE request_id = $1 AND outcome = 'pending' \
             AND NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = request_targets.account_id)",
        )
        .bind(order)
        .execute(&mut *self.inner)
        .await?
        .rows_affected();
        let lock_id_prefix = format!("{order}-");
        sqlx::query(
            "INSERT INTO locks (id, account_id, ground, placed_by, placed_by_org, legal_basis, reference, reason, \
             effective_at, ends_at, request_id) \
             SELECT $2 || CAST(t.position AS TEXT), t.account_id, $3, $4, $5, $6, $7, $8, $9, $10, $1 \
             FROM request_targets t WHERE t.request_id = $1 AND t.outcome = 'pending' ORDER BY t.position",
        )
        .bind(order)
        .bind(lock_id_prefix.as_str())
        .bind(lock.ground.as_str())
        .bind(to_json(&lock.placed_by))
        .bind(placed_by_org.clone())
        .bind(lock.legal_basis.as_ref().map(to_json))
        .bind(lock.reference.clone())
        .bind(lock.reason.as_str())
        .bind(to_ms(lock.effective_at))
        .bind(lock.ends_at.map(to_ms))
        .execute(&mut *self.inner)
        .await?;
        // Each account whose first lock in force this is: disabled, every event of the order under its id as
        // the `txn` (events.rs).
        self.wrote_account_events = true;
        sqlx::query(&format!(
            "INSERT INTO account_events (account_id, kind, txn, detail, occurred_at) \
             SELECT t.account_id, 'disabled', $1, '{{\"lock_id\":\"' || $2 || CAST(t.position AS TEXT) || '\"}}', $3 \
             FROM request_targets t WHERE t.request_id = $1 AND t.outcome = 'pending' \
             AND ({}) = 1 ORDER BY t.position",
            crate::events::LOCKS_IN_FORCE.replace("$1", "t.account_id").replace("$2", "$3")
        ))
        .bind(order)
        .bind(lock_id_prefix.as_str())
        .bind(to_ms(lock.effective_at))
        .execute(&mut *self.inner)
        .await?;
        for (channel, column) in [(Channel::Sms, "phone"), (Channel::Email, "email")] {
            sqlx::query(&format!(
                "INSERT INTO outbox (kind, channel, recipient, subject, body, status, attempts, next_attempt_at, \
                 created_at) SELECT $2, $3, a.{column}, $4, $5, 'pending', 0, $6, $6 \
                 FROM request_targets t JOIN accounts a ON a.id = t.account_id \
                 WHERE t.request_id = $1 AND t.outcome = 'pending' AND a.{column} IS NOT NULL ORDER BY t.position"
            ))
            .bind(order)
            .bind(effect.notice.kind)
            .bind(channel.as_str())
            .bind(effect.notice.subject.as_str())
            .bind(effect.notice.body.as_str())
            .bind(now)
            .execute(&mut *self.inner)
            .await?;
        }
        let mut sessions: BTreeMap<String, u64> = BTreeMap::new();
        let revoked = sqlx::query(
            "UPDATE holder_sessions SET revoked_at = $2 WHERE revoked_at IS NULL AND account_id IN \
             (SELECT t.account_id FROM request_targets t WHERE t.request_id = $1 AND t.outcome = 'pending') \
             RETURNING account_id",
        )
        .bind(order)
        .bind(now)
        .fetch_all(&mut *self.inner)
        .await?;
        for row in revoked {
            *sessions.entry(row.try_get::<String, _>(0)?).or_default() += 1;
        }
        let rows = sqlx::query(
            "UPDATE request_targets SET outcome = 'locked', detail = NULL, lock_id = $2 || CAST(position AS TEXT) \
             WHERE request_id = $1 AND outcome = 'pending' RETURNING position, account_id, lock_id",
        )
        .bind(order)
        .bind(lock_id_prefix.as_str())
        .fetch_all(&mut *self.inner)
        .await?;
        let mut locked = rows
            .iter()
            .map(|r| {
                let account: String = r.try_get(1)?;
                let revoked = sessions.get(&account).copied().unwrap_or(0);
                Ok((
                    r.try_get::<i64, _>(0)?,
                    LockedEntry {
                        account_id: AccountId::new(account),
                        lock_id: r.try_get(2)?,
                        sessions_revoked: revoked,
                    },
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        locked.sort_by_key(|(position, _)| *position);
        Ok(BulkApplied {
            locked: locked.into_iter().map(|(_, entry)| entry).collect(),
            already_locked: already_locked as usize,
            not_found: not_found as usize,
        })
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
