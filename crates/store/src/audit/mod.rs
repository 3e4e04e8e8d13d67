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
                "the entries no longer match the head signed at {signed_at} for {size} entries: one of entries {} to {size} was changed, removed, inserted or reordered",
                after + 1
            ),
            Self::Inconsistent { first, second } => write!(
                f,
                "the signed heads for {first} and {second} entries contradict each other: the log was forked or rolled back"
            ),
            Self::HeadMismatch { size } => write!(
                f,
                "the tree head ({size} entries) does not match the entries: entries after the last checkpoint, or the head itself, were changed"
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
            "audit row {id} has no place in the hash chain; it was written outside dinhdanh: remove it or restore the database before upgrading"
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
        if seq != tree.size() as i64 + 1
            || stored_prev.as_deref() != Some(&prev)
            || stored_hash.as_deref() != Some(&link)
        {
            return Err(StoreError::Migration(format!(
                "the audit hash chain is broken at entry {seq}; restore the database before upgrading"
            )));
        }
        let leaf = merkle::leaf_hash(&leaf_bytes(seq, at, &actor, &action, subject.as_deref(), &outcome, &detail));
        sqlx::query("UPDATE audit_log SET leaf_hash = $1 WHERE seq = $2")
            .bind(hex(&leaf))
            .bind(seq)
            .execute(&mut **tx)
            .await?;
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

const RECORD_COLUMNS: &str = "seq, at, actor, action, subject, outcome, detail, leaf_hash";

fn record_from_row(r: &AnyRow) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: r.try_get::<Option<i64>, _>("seq")?.unwrap_or_default(),
        at: from_ms(r.try_get("at")?)?,
        actor: r.try_get("actor")?,
        action: r.try_get("action")?,
        subject: r.try_get("subject")?,
        outcome: r.try_get("outcome")?,
        detail: serde_json::from_str(&r.try_get::<String, _>("detail")?)
            .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
        leaf_hash: r.try_get::<Option<String>, _>("leaf_hash")?.unwrap_or_default(),
    })
}

fn checkpoint_from_row(r: &AnyRow) -> Result<StoredCheckpoint, StoreError> {
    let root: String = r.try_get("root")?;
    Ok(StoredCheckpoint {
        size: r.try_get::<i64, _>("tree_size")? as u64,
        root: hash_from_hex(&root).ok_or_else(|| StoreError::Corrupt("checkpoint root".to_owned()))?,
        signed_at: from_ms(r.try_get("signed_at")?)?,
        note: r.try_get("note")?,
    })
}

/// The signed heads, checked one against another: one root per size, sizes growing with time.
fn inconsistencies(heads: &[TreeHead]) -> Vec<AuditProblem> {
    let mut by_time: Vec<&TreeHead> = heads.iter().collect();
    by_time.sort_by_key(|h| (h.at, h.size));
    let mut problems = Vec::new();
    for pair in by_time.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        if (a.size == b.size && a.root != b.root) || b.size < a.size {
            problems.push(AuditProblem::Inconsistent { first: a.size, second: b.size });
        }
    }
    problems
}

impl Tx {
    /// Records an entry; it is appended to the tree when the transaction commits, and vanishes with it otherwise.
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

    /// The tree as the head row states it now: its size and root (not signed).
    pub async fn audit_tree_head(&self) -> Result<(u64, Hash), StoreError> {
        let head = sqlx::query("SELECT last_seq, root FROM audit_head WHERE id = 1").fetch_one(&self.pool).await?;
        let (size, root): (i64, String) = (head.try_get(0)?, head.try_get(1)?);
        let root = hash_from_hex(&root).ok_or_else(|| StoreError::Corrupt("audit tree root".to_owned()))?;
        Ok((size as u64, root))
    }

    /// Signs the tree as it stands at `at`, if it grew since the last checkpoint, and keeps the checkpoint.
    /// `None` when there is nothing new to sign, or another node signed this size first.
    pub async fn sign_checkpoint(
        &self,
        signer: &CheckpointSigner,
        at: DateTime<Utc>,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let (size, root) = self.audit_tree_head().await?;
        let latest = self.checkpoints(1).await?.into_iter().next();
        if size == 0 || latest.as_ref().is_some_and(|c| c.size >= size) {
            return Ok(None);
        }
        // Kept in milliseconds: the note says no more than the store keeps.
        let at = from_ms(to_ms(at))?;
        let head = TreeHead { size, root, at };
        let note = signer.sign(&head);
        if !self.record_checkpoint(&head, &note).await? {
            return Ok(None);
        }
        Ok(Some(StoredCheckpoint { size, root, signed_at: at, note }))
    }

    /// Keeps a signed checkpoint; `false` when one for that size is kept already (another node signed it).
    pub async fn record_checkpoint(&self, head: &TreeHead, note: &str) -> Result<bool, StoreError> {
        let result = sqlx::query(
            "INSERT INTO audit_checkpoints (tree_size, root, signed_at, note) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tree_size) DO NOTHING",
        )
        .bind(head.size as i64)
        .bind(hex(&head.root))
        .bind(to_ms(head.at))
        .bind(note)
        .execute(&self.pool)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The signed checkpoints, newest first.
    pub async fn checkpoints(&self, limit: i64) -> Result<Vec<StoredCheckpoint>, StoreError> {
        let rows = sqlx::query(
            "SELECT tree_size, root, signed_at, note FROM audit_checkpoints ORDER BY tree_size DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(checkpoint_from_row).collect()
    }

    /// One entry by its number.
    pub async fn audit_entry(&self, seq: i64) -> Result<Option<AuditRecord>, StoreError> {
        let row = sqlx::query(&format!("SELECT {RECORD_COLUMNS} FROM audit_log WHERE seq = $1"))
            .bind(seq)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_from_row).transpose()
    }

    /// The leaf hashes of entries `1..=size`, as stored, in order (for proofs: 32 bytes per entry in memory).
    async fn leaf_hashes(&self, size: u64) -> Result<Vec<Hash>, StoreError> {
        const PAGE: i64 = 10_000;
        let mut out = Vec::with_capacity(size as usize);
        while (out.len() as u64) < size {
            let rows =
                sqlx::query("SELECT seq, leaf_hash FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3")
                    .bind(out.len() as i64)
                    .bind(size as i64)
                    .bind(PAGE)
                    .fetch_all(&self.pool)
                    .await?;
            if rows.is_empty() {
                return Err(StoreError::Corrupt(format!("audit entry {} is missing", out.len() + 1)));
            }
            for row in &rows {
                let (seq, leaf): (i64, Option<String>) = (row.try_get(0)?, row.try_get(1)?);
                let leaf = leaf.as_deref().and_then(hash_from_hex);
                match leaf {
                    Some(leaf) if seq == out.len() as i64 + 1 => out.push(leaf),
                    _ => {
                        return Err(StoreError::Corrupt(format!(
                            "audit entry {} is missing or damaged",
                            out.len() + 1
                        )));
                    }
                }
            }
        }
        Ok(out)
    }

    /// The audit path proving entry `seq` is in the tree of the first `size` entries (RFC 9162 §2.1.3).
    pub async fn inclusion_proof(&self, seq: i64, size: u64) -> Result<Vec<Hash>, StoreError> {
        if seq < 1 || seq as u64 > size {
            return Ok(Vec::new());
        }
        let leaves = self.leaf_hashes(size).await?;
        Ok(merkle::inclusion_proof(&leaves, (seq - 1) as usize))
    }

    /// The proof that the tree of `second` entries extends the tree of its first `first` (RFC 9162 §2.1.4).
    pub async fn consistency_proof(&self, first: u64, second: u64) -> Result<Vec<Hash>, StoreError> {
        let leaves = self.leaf_hashes(second).await?;
        Ok(merkle::consistency_proof(&leaves, first as usize))
    }

    /// Checks the whole log against the signed heads given (already checked for their signature: from the store
    /// and from the copy an operator keeps elsewhere): recomputes every leaf from its entry, and the root at every
    /// signed size and at the head, a page at a time (memory stays bounded). Reports every problem found.
    pub async fn verify_audit_log(&self, signed: &[TreeHead]) -> Result<AuditReport, StoreError> {
        const PAGE: i64 = 5000;
        let mut problems = inconsistencies(signed);
        let unplaced = sqlx::query("SELECT id FROM audit_log WHERE seq IS NULL ORDER BY id LIMIT 100")
            .fetch_all(&self.pool)
            .await?;
        for row in &unplaced {
            problems.push(AuditProblem::Unplaced { id: row.try_get(0)? });
        }
        let mut sizes: Vec<&TreeHead> = signed.iter().collect();
        sizes.sort_by_key(|h| h.size);
        let mut pending = sizes.into_iter().peekable();
        let mut matched_up_to = 0u64;
        let mut tree = Frontier::default();
        let mut last_seq = 0i64;
        let mut check_heads_at =
            |tree: &Frontier,
             problems: &mut Vec<AuditProblem>,
             pending: &mut std::iter::Peekable<std::vec::IntoIter<&TreeHead>>| {
                while let Some(head) = pending.next_if(|h| h.size == tree.size()) {
                    if tree.root() == head.root {
                        matched_up_to = head.size;
                    } else if !problems.iter().any(|p| matches!(p, AuditProblem::CheckpointMismatch { .. })) {
                        // The first signed head that no longer matches narrows where the change is; later ones follow.
                        problems.push(AuditProblem::CheckpointMismatch {
                            size: head.size,
                            signed_at: head.at,
                            after: matched_up_to,
                        });
                    }
                }
            };
        check_heads_at(&tree, &mut problems, &mut pending);
        loop {
            let rows =
                sqlx::query(&format!("SELECT {RECORD_COLUMNS} FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2"))
                    .bind(last_seq)
                    .bind(PAGE)
                    .fetch_all(&self.pool)
                    .await?;
            for row in &rows {
                let r = record_from_row(row)?;
                if r.seq != last_seq + 1 {
                    problems.push(AuditProblem::Missing { from: last_seq + 1, to: r.seq - 1 });
                }
                let detail: String = row.try_get("detail")?;
                let leaf = merkle::leaf_hash(&leaf_bytes(
                    r.seq,
                    to_ms(r.at),
                    &r.actor,
                    &r.action,
                    r.subject.as_deref(),
                    &r.outcome,
                    &detail,
                ));
                if hex(&leaf) != r.leaf_hash {
                    problems.push(AuditProblem::Edited { seq: r.seq });
                }
                // The tree is rebuilt from what the entries say now, at the places they now hold: a gap or an
                // edit shows as a root that no longer matches what was signed.
                tree.push(leaf);
                last_seq = r.seq;
                check_heads_at(&tree, &mut problems, &mut pending);
            }
            if (rows.len() as i64) < PAGE {
                break;
            }
        }
        let (head_size, head_root) = self.audit_tree_head().await?;
        let expected = pending.map(|h| h.size).chain([head_size]).max().unwrap_or(0);
        if expected > last_seq as u64 {
            problems.push(AuditProblem::TailRemoved { present: last_seq as u64, expected });
        } else if head_size == tree.size() && head_root != tree.root() {
            problems.push(AuditProblem::HeadMismatch { size: head_size });
        }
        Ok(AuditReport { entries: tree.size(), checkpoints: signed.len(), problems })
    }
}
