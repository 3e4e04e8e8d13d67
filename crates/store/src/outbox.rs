//! The notification outbox: a message is written in the same transaction as the change that causes it, so it
//! exists exactly when the change does; a worker on any node claims due messages with a lease, sends them and
//! records the result. A worker that dies mid-send leaves the lease to run out, and the message is sent again:
//! delivery is at least once, never lost.

use chrono::{DateTime, Utc};
use dinhdanh_domain::Channel;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxStatus {
    Pending,
    Sent,
    /// Given up after the last retry.
    Failed,
}

// A new status fails to compile here until it is added to `OutboxStatus::ALL`.
const _: fn(OutboxStatus) = |status| match status {
    OutboxStatus::Pending | OutboxStatus::Sent | OutboxStatus::Failed => {}
};

impl OutboxStatus {
    /// Every variant (migration 0012's CHECK constraint is compared with it).
    pub const ALL: &'static [OutboxStatus] = &[Self::Pending, Self::Sent, Self::Failed];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(Self::Pending),
            "sent" => Some(Self::Sent),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A message to queue.
#[derive(Debug, Clone)]
pub struct NewMessage {
    /// What the message is, e.g. `activation_code` (for metrics and tests; never personal).
    pub kind: &'static str,
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub struct OutboxMessage {
    pub id: i64,
    pub kind: String,
    pub channel: Channel,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub status: OutboxStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str =
    "id, kind, channel, recipient, subject, body, status, attempts, next_attempt_at, last_error, created_at, sent_at";

fn message_from_row(row: &AnyRow) -> Result<OutboxMessage, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("outbox {what}"));
    Ok(OutboxMessage {
        id: row.try_get("id")?,
        kind: row.try_get("kind")?,
        channel: Channel::parse(&row.try_get::<String, _>("channel")?).ok_or_else(|| corrupt("channel"))?,
        recipient: row.try_get("recipient")?,
        subject: row.try_get("subject")?,
        body: row.try_get("body")?,
        status: OutboxStatus::parse(&row.try_get::<String, _>("status")?).ok_or_else(|| corrupt("status"))?,
        attempts: row.try_get("attempts")?,
        next_attempt_at: from_ms(row.try_get("next_attempt_at")?)?,
        last_error: row.try_get("last_error")?,
        created_at: from_ms(row.try_get("created_at")?)?,
        sent_at: row.try_get::<Option<i64>, _>("sent_at")?.map(from_ms).transpose()?,
    })
}

impl Tx {
    pub async fn enqueue(&mut self, message: NewMessage, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbox (kind, channel, recipient, subject, body, status, attempts, next_attempt_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $6)",
        )
        .bind(message.kind)
        .bind(message.channel.as_str())
        .bind(message.recipient)
        .bind(message.subject)
        .bind(message.body)
        .bind(to_ms(now))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }
}

impl Store {
    /// Claims up to `limit` due messages for `lease`: each is claimed by one worker only, even with workers on
    /// several nodes, because the claim is a conditional update that only one of them can win.
    pub async fn claim_due_messages(
        &self,
        now: DateTime<Utc>,
        lease: chrono::Duration,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let due = "status = 'pending' AND next_attempt_at <= $1 AND (lease_until IS NULL OR lease_until <= $1)";
        let candidates: Vec<i64> =
            sqlx::query(&format!("SELECT id FROM outbox WHERE {due} ORDER BY next_attempt_at, id LIMIT $2"))
                .bind(to_ms(now))
                .bind(limit)
                .fetch_all(&self.pool)
                .await?
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
        let mut claimed = Vec::with_capacity(candidates.len());
        for id in candidates {
            let mut tx = self.begin().await?;
            let won = sqlx::query(&format!("UPDATE outbox SET lease_until = $2 WHERE id = $3 AND {due}"))
                .bind(to_ms(now))
                .bind(to_ms(now + lease))
                .bind(id)
                .execute(&mut *tx.inner)
                .await?
                .rows_affected();
            if won == 1 {
                let row = sqlx::query(&format!("SELECT {COLUMNS} FROM outbox WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *tx.inner)
                    .await?;
                claimed.push(message_from_row(&row)?);
            }
            tx.commit().await?;
        }
        Ok(claimed)
    }

    /// Records a delivery. The body, which may hold a one-time code, is cleared once it has been sent.
    pub async fn mark_message_sent(&self, id: i64, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, lease_until = NULL, \
             body = '', last_error = NULL WHERE id = $2",
        )
        .bind(to_ms(at))
        .bind(id)
        .execute(&mut *tx.inner)
        .await?;
        tx.commit().await
    }

    /// Records a failed try: the message is retried at `retry_at`, or given up when `retry_at` is `None`.
    pub async fn mark_message_failed(
        &self,
        id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        sqlx::query(
            "UPDATE outbox SET attempts = attempts + 1, lease_until = NULL, last_error = $1, \
             status = CASE WHEN $2 IS NULL THEN 'failed' ELSE 'pending' END, \
             next_attempt_at = COALESCE($2, next_attempt_at) WHERE id = $3",
        )
        .bind(error.chars().take(500).collect::<String>())
        .bind(retry_at.map(to_ms))
        .bind(id)
        .execute(&mut *tx.inner)
        .await?;
        tx.commit().await
    }

    /// Messages, newest first, optionally of one status.
    pub async fn outbox_messages(
        &self,
        status: Option<OutboxStatus>,
        limit: i64,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE ($1 IS NULL OR status = $1) ORDER BY id DESC LIMIT $2"
        ))
        .bind(status.map(|s| s.as_str().to_owned()))
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(message_from_row).collect()
    }

    pub async fn count_messages(&self, status: OutboxStatus) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM outbox WHERE status = $1")
            .bind(status.as_str())
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }
}
