//! The audit log: an append-only, hash-chained record of every decision and refusal, written in the same
//! transaction as the change it describes. Entries name accounts by their opaque id, never by personal data.
//!
//! Each entry has a sequence number and carries the SHA-256 of the entry before it; `audit_head` keeps the newest
//! link. A transaction collects its entries and chains them as the last thing before it commits: the head row is
//! then the last lock any transaction takes, so appenders queue on it without ever deadlocking, and the chain
//! order is the commit order. [`Store::verify_audit_chain`] walks the chain and names the first entry that was
//! edited, deleted or moved.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

/// An entry to append.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// Who acted: `registrant`, `holder:<account id>`, `officer:<id>`, `organization:<id>/client:<id>`, `system`.
    pub actor: String,
    /// What was attempted, e.g. `account.register`.
    pub action: &'static str,
    /// What it was about (an account id), if anything.
    pub subject: Option<String>,
    /// `ok`, `refused`, …
    pub outcome: &'static str,
    /// Machine-readable details (a JSON object), without personal data.
    pub detail: serde_json::Value,
}

/// An entry read back.
#[derive(Debug, Clone)]
pub struct AuditRecord {
    pub id: i64,
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub outcome: String,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// What a walk of the chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainReport {
    pub entries: u64,
    pub first_problem: Option<ChainProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainProblem {
    /// The entry's content no longer matches its hash.
    Edited { seq: i64 },
    /// Entries are missing before this one (or it was moved here).
    Missing { expected_seq: i64, found_seq: i64 },
    /// The entry does not follow the one before it (entries swapped or re-linked).
    Broken { seq: i64 },
    /// The newest entries were removed: the head names a later entry than the last one present.
    TailRemoved { last_present: i64, head: i64 },
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Edited { seq } => write!(f, "entry {seq} was edited (its content does not match its hash)"),
            Self::Missing { expected_seq, found_seq } => {
                write!(f, "entries {expected_seq} to {} are missing (deleted) before entry {found_seq}", found_seq - 1)
            }
            Self::Broken { seq } => {
                write!(f, "entry {seq} does not follow the entry before it (entries swapped or moved)")
            }
            Self::TailRemoved { last_present, head } => {
                write!(f, "the newest entries after {last_present} (up to {head}) were deleted")
            }
        }
    }
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields an entry's hash covers, in order.
struct Hashed<'a> {
    seq: i64,
    at_ms: i64,
    actor: &'a str,
    action: &'a str,
    subject: Option<&'a str>,
    outcome: &'a str,
    detail: &'a str,
}

impl Hashed<'_> {
    /// SHA-256 over a JSON array of the fields and the previous hash (unambiguous framing).
    fn hash(&self, prev: &str) -> String {
        let framed = serde_json::json!([
            self.seq,
            self.at_ms,
            self.actor,
            self.action,
            self.subject,
            self.outcome,
            self.detail,
            prev
        ])
        .to_string();
        Sha256::digest(framed.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Appends `entries` to the chain inside `tx`, taking the head row's lock.
pub(crate) async fn append_chained(
    tx: &mut Transaction<'static, Any>,
    entries: &[AuditEntry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    // Taking the row lock by writing it works the same on PostgreSQL and SQLite.
    sqlx::query("UPDATE audit_head SET id = id WHERE id = 1").execute(&mut **tx).await?;
    let head = sqlx::query("SELECT last_seq, last_hash FROM audit_head WHERE id = 1").fetch_one(&mut **tx).await?;
    let (mut seq, mut prev): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
    // Hashed one after the other in order; written in multi-row INSERTs (a bulk order appends thousands in one
    // transaction), sized for the backend.
    let rows = (crate::bulk::params_per_statement(tx.backend_name()) / 9).clamp(1, 500);
    for chunk in entries.chunks(rows) {
        let placeholders: Vec<String> = (0..chunk.len())
            .map(|r| {
                let p = r * 9;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 8,
                    p + 9
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit_log (at, actor, action, subject, outcome, detail, seq, prev_hash, hash) VALUES {}",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for entry in chunk {
            seq += 1;
            let detail = entry.detail.to_string();
            let at = to_ms(entry.at);
            let fields = Hashed {
                seq,
                at_ms: at,
                actor: &entry.actor,
                action: entry.action,
                subject: entry.subject.as_deref(),
                outcome: entry.outcome,
                detail: &detail,
            };
            let hash = fields.hash(&prev);
            query = query
                .bind(at)
                .bind(entry.actor.clone())
                .bind(entry.action)
                .bind(entry.subject.clone())
                .bind(entry.outcome)
                .bind(detail)
                .bind(seq)
                .bind(std::mem::replace(&mut prev, hash.clone()))
                .bind(hash);
        }
        query.execute(&mut **tx).await?;
    }
    sqlx::query("UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&prev)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Chains entries written before the chain existed (migration 3), oldest first. Runs at start-up.
pub(crate) async fn seal_legacy_entries(tx: &mut Transaction<'static, Any>) -> Result<usize, StoreError> {
    let rows = sqlx::query(
        "SELECT id, at, actor, action, subject, outcome, detail FROM audit_log WHERE seq IS NULL ORDER BY id",
    )
    .fetch_all(&mut **tx)
    .await?;
    if rows.is_empty() {
        return Ok(0);
    }
    sqlx::query("UPDATE audit_head SET id = id WHERE id = 1").execute(&mut **tx).await?;
    let head = sqlx::query("SELECT last_seq, last_hash FROM audit_head WHERE id = 1").fetch_one(&mut **tx).await?;
    let (mut seq, mut prev): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
    for row in &rows {
        seq += 1;
        let (id, at): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let (actor, action, outcome, detail): (String, String, String, String) =
            (row.try_get(2)?, row.try_get(3)?, row.try_get(5)?, row.try_get(6)?);
        let subject: Option<String> = row.try_get(4)?;
        let fields = Hashed {
            seq,
            at_ms: at,
            actor: &actor,
            action: &action,
            subject: subject.as_deref(),
            outcome: &outcome,
            detail: &detail,
        };
        let hash = fields.hash(&prev);
        sqlx::query("UPDATE audit_log SET seq = $1, prev_hash = $2, hash = $3 WHERE id = $4")
            .bind(seq)
            .bind(&prev)
            .bind(&hash)
            .bind(id)
            .execute(&mut **tx)
            .await?;
        prev = hash;
    }
    sqlx::query("UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1")
        .bind(seq)
        .bind(&prev)
        .execute(&mut **tx)
        .await?;
    Ok(rows.len())
}

const RECORD_COLUMNS: &str = "id, seq, at, actor, action, subject, outcome, detail, prev_hash, hash";

fn record_from_row(r: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        id: r.try_get("id")?,
        seq: r.try_get::<Option<i64>, _>("seq")?.unwrap_or_default(),
        at: from_ms(r.try_get("at")?)?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        subject: r.try_get("subject")?,
        outcome: r.try_get("outcome")?,
        detail: serde_json::from_str(&r.try_get::<String, _>("detail")?)
            .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
        prev_hash: r.try_get::<Option<String>, _>("prev_hash")?.unwrap_or_default(),
        hash: r.try_get::<Option<String>, _>("hash")?.unwrap_or_default(),
    })
}

impl Tx {
    /// Records an entry; it is chained and written when the transaction commits, and vanishes with it otherwise.
    pub async fn audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        self.pending_audit.push(entry);
        Ok(())
    }
}

impl Store {
    /// Appends one entry in a transaction of its own (for refusals, which change nothing else).
    pub async fn audit(&self, entry: AuditEntry) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.audit(entry).await?;
        tx.commit().await
    }

    /// The most recent entries, newest first, optionally for one action.
    pub async fn recent_audit(&self, action: Option<&str>, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {RECORD_COLUMNS} FROM audit_log WHERE ($1 IS NULL OR action = $1) ORDER BY seq DESC LIMIT $2"
        ))
        .bind(action.map(str::to_owned))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Entries about one subject (an account id, `organization:<id>`…), oldest first.
    pub async fn audit_of_subject(&self, subject: &str, limit: i64) -> Result<Vec<AuditRecord>, StoreError> {
        let rows =
            sqlx::query(&format!("SELECT {RECORD_COLUMNS} FROM audit_log WHERE subject = $1 ORDER BY seq LIMIT $2"))
                .bind(subject)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Walks the whole chain in order, a page at a time (memory stays bounded), and reports the first problem.
    pub async fn verify_audit_chain(&self) -> Result<ChainReport, StoreError> {
        const PAGE: i64 = 5000;
        let mut expected_seq = 1;
        let mut prev = GENESIS.to_owned();
        let mut entries = 0;
        loop {
            let rows =
                sqlx::query(&format!("SELECT {RECORD_COLUMNS} FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2"))
                    .bind(expected_seq)
                    .bind(PAGE)
                    .fetch_all(&self.pool)
                    .await?;
            let count = rows.len() as i64;
            for row in &rows {
                let r = record_from_row(row)?;
                entries += 1;
                if r.seq != expected_seq {
                    return Ok(ChainReport {
                        entries,
                        first_problem: Some(ChainProblem::Missing { expected_seq, found_seq: r.seq }),
                    });
                }
                if r.prev_hash != prev {
                    return Ok(ChainReport { entries, first_problem: Some(ChainProblem::Broken { seq: r.seq }) });
                }
                let detail: String = row.try_get("detail")?;
                let fields = Hashed {
                    seq: r.seq,
                    at_ms: to_ms(r.at),
                    actor: &r.actor,
                    action: &r.action,
                    subject: r.subject.as_deref(),
                    outcome: &r.outcome,
                    detail: &detail,
                };
                let recomputed = fields.hash(&prev);
                if recomputed != r.hash {
                    return Ok(ChainReport { entries, first_problem: Some(ChainProblem::Edited { seq: r.seq }) });
                }
                prev = r.hash;
                expected_seq += 1;
            }
            if count < PAGE {
                break;
            }
        }
        let head = sqlx::query("SELECT last_seq, last_hash FROM audit_head WHERE id = 1").fetch_one(&self.pool).await?;
        let (head_seq, head_hash): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
        let last_present = expected_seq - 1;
        if head_seq != last_present || head_hash != prev {
            return Ok(ChainReport {
                entries,
                first_problem: Some(ChainProblem::TailRemoved { last_present, head: head_seq }),
            });
        }
        Ok(ChainReport { entries, first_problem: None })
    }
}
