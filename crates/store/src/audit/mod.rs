//! The audit log: an append-only record of every decision and refusal, written in the same transaction as the
//! change it describes, and built as transparency logs are (RFC 9162, the structure behind Certificate
//! Transparency). Entries name accounts by their opaque id, never by personal data.
//!
//! Each entry is a leaf of a Merkle tree ([`merkle`]), numbered from 1 (`seq`) in commit order. A transaction
//! collects its entries and appends them as the last thing before it commits: the head row (tree size, the
//! frontier of perfect subtrees, the root) is the last lock any transaction takes, once for all its entries, so
//! appenders queue on it without deadlocking. At an interval the server signs the tree head with a key kept
//! outside the database ([`checkpoint`]), stores the signed checkpoint and publishes it; [`Store::verify_audit_log`]
//! recomputes every leaf and the root at every signed size, so an edit, a deletion, a reordering and a truncated
//! tail are named, and [`Store::inclusion_proof`] proves one entry against a signed head. No entry is ever placed
//! in the tree after its transaction: a row without a place is reported, not adopted.

pub mod checkpoint;
pub mod merkle;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

pub use checkpoint::{CheckpointError, CheckpointSigner, CheckpointVerifier, TreeHead};
use merkle::{Frontier, Hash, hash_from_hex, hex};

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
    /// The entry's number: its leaf is leaf `seq - 1` of the tree.
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub outcome: String,
    pub detail: serde_json::Value,
    /// The leaf hash, hex.
    pub leaf_hash: String,
}

/// A signed checkpoint as the store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    pub root: Hash,
    pub signed_at: DateTime<Utc>,
    /// The signed note, as published.
    pub note: String,
}

/// What [`Store::verify_audit_log`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditReport {
    pub entries: u64,
    /// The signed heads the entries were checked against.
    pub checkpoints: usize,
    pub problems: Vec<AuditProblem>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditProblem {
    /// The entry's content no longer matches its leaf hash.
    Edited { seq: i64 },
    /// Entries `from..=to` are missing (deleted, or moved elsewhere).
    Missing { from: i64, to: i64 },
    /// A row with no place in the tree (written into the table directly, not through a transaction).
    Unplaced { id: i64 },
    /// The newest entries were removed: a head or a checkpoint covers `expected` entries, `present` remain.
    TailRemoved { present: u64, expected: u64 },
    /// The entries no longer give the root a signed head states: one of entries `after + 1 ..= size` was changed,
    /// removed, inserted or moved since that head was signed.
    CheckpointMismatch { size: u64, signed_at: DateTime<Utc>, after: u64 },
    /// Two signed heads cannot both be true of one append-only log (same size, different roots; or a later head
    /// smaller than an earlier one): the log was forked or rolled back.
    Inconsistent { first: u64, second: u64 },
    /// The head row's root is not the root of the entries (entries after the last checkpoint changed, or the head
    /// itself was edited).
    HeadMismatch { size: u64 },
}

impl std::fmt::Display for AuditProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Edited { seq } => write!(f, "entry {seq} was edited (its content does not match its leaf hash)"),
            Self::Missing { from, to } if from == to => write!(f, "entry {from} is missing (deleted or moved)"),
            Self::Missing { from, to } => write!(f, "entries {from} to {to} are missing (deleted or moved)"),
            Self::Unplaced { id } => write!(f, "row {id} has no place in the tree: it was written outside dinhdanh"),
            Self::TailRemoved { present, expected } => {
                write!(f, "the newest entries after {present} (up to {expected}) were deleted")
            }
            Self::CheckpointMismatch { size, signed_at, after } => write!(
                f,
                "the entries no longer match the head signed at {signed_at} for {size} entries: one of entries {} to                  {size} was changed, removed, inserted or reordered",
                after + 1
            ),
            Self::Inconsistent { first, second } => write!(
                f,
                "the signed heads for {first} and {second} entries contradict each other: the log was forked or rolled back"
            ),
            Self::HeadMismatch { size } => write!(
                f,
                "the tree head ({size} entries) does not match the entries: entries after the last checkpoint, or the                  head itself, were changed"
            ),
        }
    }
}

/// The bytes an entry's leaf hash covers: a JSON array of its fields, its number first (so an entry cannot be
/// moved), framed unambiguously.
fn leaf_bytes(
    seq: i64,
    at_ms: i64,
    actor: &str,
    action: &str,
    subject: Option<&str>,
    outcome: &str,
    detail: &str,
) -> Vec<u8> {
    serde_json::json!([seq, at_ms, actor, action, subject, outcome, detail]).to_string().into_bytes()
}

async fn read_head(tx: &mut Transaction<'static, Any>) -> Result<Frontier, StoreError> {
    let head = sqlx::query("SELECT last_seq, frontier FROM audit_head WHERE id = 1").fetch_one(&mut **tx).await?;
    let (size, frontier): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
    Frontier::decode(size as u64, &frontier)
        .ok_or_else(|| StoreError::Corrupt("the audit tree head does not match its size".to_owned()))
}

/// Appends `entries` as leaves inside `tx`, taking the head row's lock once for all of them.
pub(crate) async fn append_leaves(
    tx: &mut Transaction<'static, Any>,
    entries: &[AuditEntry],
) -> Result<(), StoreError> {
    if entries.is_empty() {
        return Ok(());
    }
    // Taking the row lock by writing it works the same on PostgreSQL and SQLite.
    sqlx::query("UPDATE audit_head SET id = id WHERE id = 1").execute(&mut **tx).await?;
    let mut tree = read_head(tx).await?;
    // Written in multi-row INSERTs (a bulk order appends thousands in one transaction), sized for the backend.
    let rows = (crate::bulk::params_per_statement(tx.backend_name()) / 8).clamp(1, 500);
    for chunk in entries.chunks(rows) {
        let placeholders: Vec<String> = (0..chunk.len())
            .map(|r| {
                let p = r * 8;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    p + 1,
                    p + 2,
                    p + 3,
                    p + 4,
                    p + 5,
                    p + 6,
                    p + 7,
                    p + 8
                )
            })
            .collect();
        let sql = format!(
            "INSERT INTO audit_log (at, actor, action, subject, outcome, detail, seq, leaf_hash) VALUES {}",
            placeholders.join(", ")
        );
        let mut query = sqlx::query(&sql);
        for entry in chunk {
            let seq = tree.size() as i64 + 1;
            let detail = entry.detail.to_string();
            let at = to_ms(entry.at);
            let leaf = merkle::leaf_hash(&leaf_bytes(
                seq,
                at,
                &entry.actor,
                entry.action,
                entry.subject.as_deref(),
                entry.outcome,
                &detail,
            ));
            tree.push(leaf);
            query = query
                .bind(at)
                .bind(entry.actor.clone())
                .bind(entry.action)
                .bind(entry.subject.clone())
                .bind(entry.outcome)
                .bind(detail)
                .bind(seq)
                .bind(hex(&leaf));
        }
        query.execute(&mut **tx).await?;
    }
    let root = hex(&tree.root());
    sqlx::query("UPDATE audit_head SET last_seq = $1, frontier = $2, root = $3, last_hash = $3 WHERE id = 1")
        .bind(tree.size() as i64)
        .bind(tree.encode())
        .bind(root)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Migration 9 only, once, in the migration's transaction: the entries of the hash chain that came before become
/// the first leaves, after their chain was checked (a broken chain stops the upgrade, naming the entry).
pub(crate) async fn adopt_chain(tx: &mut Transaction<'static, Any>) -> Result<(), StoreError> {
    let unplaced: Option<i64> =
        sqlx::query("SELECT MIN(id) FROM audit_log WHERE seq IS NULL").fetch_one(&mut **tx).await?.try_get(0)?;
    if let Some(id) = unplaced {
        return Err(StoreError::Migration(format!(
            "audit row {id} has no place in the hash chain; it was written outside dinhdanh: remove it or restore              the database before upgrading"
        )));
    }
    let rows = sqlx::query(
        "SELECT seq, at, actor, action, subject, outcome, detail, prev_hash, hash FROM audit_log ORDER BY seq",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut prev = "0".repeat(64);
    let mut tree = Frontier::default();
    for row in &rows {
        let (seq, at): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
        let (actor, action, outcome, detail): (String, String, String, String) =
            (row.try_get(2)?, row.try_get(3)?, row.try_get(5)?, row.try_get(6)?);
        let subject: Option<String> = row.try_get(4)?;
        let (stored_prev, stored_hash): (Option<String>, Option<String>) = (row.try_get(7)?, row.try_get(8)?);
        // The chain's own link, as migration 3 defined it.
        let framed = serde_json::json!([seq, at, actor, action, subject, outcome, detail, prev]).to_string();
        let link = hex(&sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), framed)));
        if seq != tree.size() as i64 + 1 || stored_prev.as_deref() != Some(&prev) || stored_hash.as_deref() != Some(&link)
        {
            return Err(StoreError::Migration(format!(
                "the audit hash chain is broken at entry {seq}; restore the database before upgrading"
            )));
        }
        let leaf = merkle::leaf_hash(&leaf_bytes(seq, at, &actor, &action, subject.as_deref(), &outcome, &detail));
        sqlx::query("UPDATE audit_log SET leaf_hash = $1 WHERE seq = $2").bind(hex(&leaf)).bind(seq).execute(&mut **tx).await?;
        tree.push(leaf);
        prev = link;
    }
    sqlx::query("UPDATE audit_head SET last_seq = $1, frontier = $2, root = $3, last_hash = $3 WHERE id = 1")
        .bind(tree.size() as i64)
        .bind(tree.encode())
        .bind(hex(&tree.root()))
        .execute(&mut **tx)
        .await?;
    Ok(())
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
