//! The audit log: an append-only record of every decision and refusal, written in the same transaction as the
//! change it describes. Entries name accounts by their opaque id, never by personal data.

use chrono::{DateTime, Utc};
use sqlx::Row;

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

/// An entry to append.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    /// Who acted: `registrant`, `holder:<account id>`, `system`, later organizations and officers.
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
    pub at: DateTime<Utc>,
    pub actor: String,
    pub action: String,
    pub subject: Option<String>,
    pub outcome: String,
    pub detail: serde_json::Value,
}

impl Tx {
    pub async fn audit(&mut self, entry: AuditEntry) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, subject, outcome, detail) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(to_ms(entry.at))
        .bind(entry.actor)
        .bind(entry.action)
        .bind(entry.subject)
        .bind(entry.outcome)
        .bind(entry.detail.to_string())
        .execute(&mut *self.inner)
        .await?;
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
        let rows = sqlx::query(
            "SELECT id, at, actor, action, subject, outcome, detail FROM audit_log \
             WHERE ($1 IS NULL OR action = $1) ORDER BY id DESC LIMIT $2",
        )
        .bind(action.map(str::to_owned))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AuditRecord {
                    id: r.try_get(0)?,
                    at: from_ms(r.try_get(1)?)?,
                    actor: r.try_get(2)?,
                    action: r.try_get(3)?,
                    subject: r.try_get(4)?,
                    outcome: r.try_get(5)?,
                    detail: serde_json::from_str(&r.try_get::<String, _>(6)?)
                        .map_err(|e| StoreError::Corrupt(format!("audit detail: {e}")))?,
                })
            })
            .collect()
    }
}
