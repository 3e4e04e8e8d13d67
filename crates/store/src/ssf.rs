//! Relying parties' Shared Signals streams (`ssf_streams`, migration 0019; issue 17, docs/events.md): one per
//! API client, its settings as the receiver set them (`dinhdanh_oidc::ssf::StreamSettings`, JSON) and its
//! status; and the events queued for each (`ssf_events`, migration 0020), fanned out from the accounts' event
//! feed and acknowledged by the receiver; the subjects a receiver removed from its stream (`ssf_removed_subjects`,
//! migration 0023), which the fan-out skips. Every statement a receiver's call makes names its client as well as
//! the stream, so a relying party can only ever reach its own.

use chrono::{DateTime, Utc};
use dinhdanh_domain::AccountId;
use dinhdanh_oidc::ssf::StreamStatus;
use serde_json::Value;
use sqlx::Row;

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

/// A stream as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredStream {
    pub id: String,
    pub client_id: String,
    /// `delivery`, `events_requested`, `description`, as `StreamSettings::to_json` writes them.
    pub settings: Value,
    pub status: StreamStatus,
    pub status_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The issuer the stream was created under: the `iss` of its configuration and of its SETs.
    pub issuer: String,
}

const COLUMNS: &str = "id, client_id, settings, status, status_reason, created_at, updated_at, issuer";

fn stream_from_row(row: &sqlx::any::AnyRow) -> Result<StoredStream, StoreError> {
    let settings: String = row.try_get(2)?;
    let status: String = row.try_get(3)?;
    Ok(StoredStream {
        id: row.try_get(0)?,
        client_id: row.try_get(1)?,
        settings: serde_json::from_str(&settings).map_err(|e| StoreError::Corrupt(format!("stream settings: {e}")))?,
        status: StreamStatus::parse(&status).ok_or_else(|| StoreError::Corrupt(format!("stream status {status}")))?,
        status_reason: row.try_get(4)?,
        created_at: from_ms(row.try_get(5)?)?,
        updated_at: from_ms(row.try_get(6)?)?,
        issuer: row.try_get::<Option<String>, _>(7)?.unwrap_or_default(),
    })
}

impl Store {
    /// The client's stream, if it has one.
    pub async fn ssf_stream_of_client(&self, client_id: &str) -> Result<Option<StoredStream>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM ssf_streams WHERE client_id = $1"))
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(stream_from_row).transpose()
    }
}

impl Tx {
    /// Creates the client's stream; false when it has one already (nothing written).
    pub async fn insert_ssf_stream(&mut self, stream: &StoredStream) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO ssf_streams (id, client_id, settings, status, status_reason, created_at, updated_at, issuer) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (client_id) DO NOTHING",
        )
        .bind(&stream.id)
        .bind(&stream.client_id)
        .bind(stream.settings.to_string())
        .bind(stream.status.as_str())
        .bind(stream.status_reason.clone())
        .bind(to_ms(stream.created_at))
        .bind(to_ms(stream.updated_at))
        .bind(&stream.issuer)
        .execute(&mut *self.inner)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// The client's stream `id`, held until the transaction ends.
    pub async fn lock_ssf_stream(&mut self, id: &str, client_id: &str) -> Result<Option<StoredStream>, StoreError> {
        let lock = if self.inner.backend_name().eq_ignore_ascii_case("postgresql") { " FOR UPDATE" } else { "" };
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM ssf_streams WHERE id = $1 AND client_id = $2{lock}"))
            .bind(id)
            .bind(client_id)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(stream_from_row).transpose()
    }

    /// Writes a held stream's settings, status and reason.
    pub async fn update_ssf_stream(&mut self, stream: &StoredStream) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE ssf_streams SET settings = $1, status = $2, status_reason = $3, updated_at = $4 \
             WHERE id = $5 AND client_id = $6",
        )
        .bind(stream.settings.to_string())
        .bind(stream.status.as_str())
        .bind(stream.status_reason.clone())
        .bind(to_ms(stream.updated_at))
        .bind(&stream.id)
        .bind(&stream.client_id)
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// Deletes the client's stream `id`; false when there is none.
    pub async fn delete_ssf_stream(&mut self, id: &str, client_id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM ssf_streams WHERE id = $1 AND client_id = $2")
            .bind(id)
            .bind(client_id)
            .execute(&mut *self.inner)
            .await?
            .rows_affected();
        Ok(done == 1)
    }

    /// Takes these events of the accounts' feed for fan-out, in one statement: the ids it took, without those
    /// another node or worker took first (it waits on their rows until that one commits, then sees them taken).
    pub async fn claim_account_events(&mut self, ids: &[i64], at: DateTime<Utc>) -> Result<Vec<i64>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Ids come from the database as integers: written into the statement, they cannot carry SQL.
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        let rows = sqlx::query(&format!(
            "UPDATE account_events SET fanned_out_at = $1 WHERE id IN ({list}) AND fanned_out_at IS NULL RETURNING id"
        ))
        .bind(to_ms(at))
        .fetch_all(&mut *self.inner)
        .await?;
        rows.iter().map(|row| Ok(row.try_get::<i64, _>(0)?)).collect()
    }

    /// The streams (not disabled) of the relying parties that know this account: those that were ever given a
    /// grant for it (a sign-in), with whether one of those grants was live at `at` (a session a lock then ended).
    pub async fn streams_knowing(
        &mut self,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> Result<Vec<(StoredStream, bool)>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS}, (SELECT COUNT(*) FROM oidc_grants g WHERE g.client_id = s.client_id \
             AND g.account_id = $1 AND g.created_at <= $2 AND (g.revoked_at IS NULL OR g.revoked_at > $2)) \
             FROM ssf_streams s WHERE s.status <> 'disabled' AND EXISTS \
             (SELECT 1 FROM oidc_grants g WHERE g.client_id = s.client_id AND g.account_id = $1) ORDER BY s.id"
        ))
        .bind(account.as_str())
        .bind(to_ms(at))
        .fetch_all(&mut *self.inner)
        .await?;
        rows.iter().map(|row| Ok((stream_from_row(row)?, row.try_get::<i64, _>(8)? > 0))).collect()
    }

    /// Whether the receiver removed any subject from the stream (then each event's subject is looked up).
    pub async fn stream_has_removed_subjects(&mut self, stream_id: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM ssf_removed_subjects WHERE stream_id = $1 LIMIT 1")
            .bind(stream_id)
            .fetch_optional(&mut *self.inner)
            .await?;
        Ok(row.is_some())
    }

    /// Whether the receiver removed this subject (its `sub`) from the stream.
    pub async fn subject_removed(&mut self, stream_id: &str, sub: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT 1 FROM ssf_removed_subjects WHERE stream_id = $1 AND sub = $2")
            .bind(stream_id)
            .bind(sub)
            .fetch_optional(&mut *self.inner)
            .await?;
        Ok(row.is_some())
    }

    /// Removes a subject from the stream (SSF §8.1.3.3): its events are no longer queued there. False when it was
    /// removed already.
    pub async fn remove_subject(&mut self, stream_id: &str, sub: &str, at: DateTime<Utc>) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO ssf_removed_subjects (stream_id, sub, removed_at) VALUES ($1, $2, $3) \
             ON CONFLICT (stream_id, sub) DO NOTHING",
        )
        .bind(stream_id)
        .bind(sub)
        .bind(to_ms(at))
        .execute(&mut *self.inner)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Adds a removed subject back to the stream (SSF §8.1.3.2). False when it was not removed.
    pub async fn add_subject(&mut self, stream_id: &str, sub: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM ssf_removed_subjects WHERE stream_id = $1 AND sub = $2")
            .bind(stream_id)
            .bind(sub)
            .execute(&mut *self.inner)
            .await?
            .rows_affected();
        Ok(done == 1)
    }

    /// Records a verification request on the stream at `at`, unless the last one was after `not_since` (then
    /// false, nothing written). One statement, so two nodes answering at once cannot both let one through.
    pub async fn take_verification_slot(
        &mut self,
        stream_id: &str,
        at: DateTime<Utc>,
        not_since: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE ssf_streams SET verification_requested_at = $1 WHERE id = $2 \
             AND (verification_requested_at IS NULL OR verification_requested_at <= $3)",
        )
        .bind(to_ms(at))
        .bind(stream_id)
        .bind(to_ms(not_since))
        .execute(&mut *self.inner)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Queues an event for a stream: its claims without `iss` (added when it is signed).
    pub async fn queue_ssf_event(
        &mut self,
        stream_id: &str,
        jti: &str,
        claims: &Value,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.queue_ssf_events(
            &[QueuedForStream { stream_id: stream_id.to_owned(), jti: jti.to_owned(), claims: claims.clone() }],
            at,
        )
        .await
    }

    /// Queues events, in this order (each stream's are pushed in the order of their ids), in multi-row
    /// statements.
    pub async fn queue_ssf_events(&mut self, events: &[QueuedForStream], at: DateTime<Utc>) -> Result<(), StoreError> {
        // Four parameters a row, at most 800 a statement (SQLite binds many parameters slowly, bulk.rs).
        for chunk in events.chunks(200) {
            let rows = (0..chunk.len())
                .map(|i| format!("(${}, ${}, ${}, ${})", 4 * i + 1, 4 * i + 2, 4 * i + 3, 4 * i + 4))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!("INSERT INTO ssf_events (stream_id, jti, claims, created_at) VALUES {rows}");
            let mut query = sqlx::query(&sql);
            for event in chunk {
                query = query.bind(&event.stream_id).bind(&event.jti).bind(event.claims.to_string()).bind(to_ms(at));
            }
            query.execute(&mut *self.inner).await?;
        }
        Ok(())
    }

    /// Acknowledges the stream's events with these `jti`s (RFC 8936 `ack`): how many were waiting.
    pub async fn ack_ssf_events(
        &mut self,
        stream_id: &str,
        jtis: &[String],
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut acked = 0;
        for jti in jtis {
            acked += sqlx::query(
                "UPDATE ssf_events SET acked_at = $1 WHERE stream_id = $2 AND jti = $3 AND acked_at IS NULL",
            )
            .bind(to_ms(at))
            .bind(stream_id)
            .bind(jti)
            .execute(&mut *self.inner)
            .await?
            .rows_affected();
        }
        Ok(acked)
    }
}

/// An event to queue for a stream: its claims without `iss`.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedForStream {
    pub stream_id: String,
    pub jti: String,
    pub claims: Value,
}

/// An event waiting for its receiver.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedEvent {
    pub jti: String,
    /// The SET's claims, without `iss`.
    pub claims: Value,
}

impl Store {
    /// The stream's events not yet acknowledged, oldest first, at most `limit` (and whether there are more).
    pub async fn unacked_ssf_events(
        &self,
        stream_id: &str,
        limit: i64,
    ) -> Result<(Vec<QueuedEvent>, bool), StoreError> {
        let rows = sqlx::query(
            "SELECT jti, claims FROM ssf_events WHERE stream_id = $1 AND acked_at IS NULL ORDER BY id LIMIT $2",
        )
        .bind(stream_id)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let mut events = rows
            .iter()
            .map(|row| {
                let claims: String = row.try_get(1)?;
                Ok(QueuedEvent {
                    jti: row.try_get(0)?,
                    claims: serde_json::from_str(&claims)
                        .map_err(|e| StoreError::Corrupt(format!("ssf event: {e}")))?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let more = events.len() as i64 > limit;
        events.truncate(usize::try_from(limit).unwrap_or(0));
        Ok((events, more))
    }
}

/// The head of a push stream's queue: its oldest event neither acknowledged nor dead.
#[derive(Debug, Clone, PartialEq)]
pub struct PushHead {
    pub id: i64,
    pub jti: String,
    pub claims: Value,
    /// Failed pushes so far.
    pub attempts: i64,
    /// Not before this (the backoff after a failure).
    pub next_attempt_at: Option<DateTime<Utc>>,
}

/// A dead letter: an event a receiver refused or never took.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadEvent {
    pub id: i64,
    pub stream_id: String,
    /// The receiver: the relying party's API client.
    pub client_id: String,
    /// The relying party's name (its organization's).
    pub relying_party: String,
    pub jti: String,
    /// The event's type URI (the one member of its `events`).
    pub event_type: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub dead_at: DateTime<Utc>,
}

impl Store {
    /// Enabled push streams with an event to push now, whose lease is free.
    pub async fn push_streams_due(&self, now: DateTime<Utc>) -> Result<Vec<StoredStream>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM ssf_streams s WHERE s.status = 'enabled' AND s.settings LIKE $2 \
             AND (s.push_lease_until IS NULL OR s.push_lease_until < $1) AND EXISTS (SELECT 1 FROM ssf_events e \
             WHERE e.stream_id = s.id AND e.acked_at IS NULL AND e.dead_at IS NULL \
             AND (e.next_attempt_at IS NULL OR e.next_attempt_at <= $1)) ORDER BY s.id"
        ))
        .bind(to_ms(now))
        .bind(format!("%\"{}\"%", dinhdanh_oidc::ssf::PUSH))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(stream_from_row).collect()
    }

    /// Takes the stream's push lease until `until`: false when another worker holds it.
    pub async fn take_push_lease(
        &self,
        stream_id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE ssf_streams SET push_lease_until = $1 WHERE id = $2 \
             AND (push_lease_until IS NULL OR push_lease_until < $3)",
        )
        .bind(to_ms(until))
        .bind(stream_id)
        .bind(to_ms(now))
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(done == 1)
    }

    /// Extends the stream's push lease from `held` (what this worker took or last renewed) to `until`: false when
    /// it ran out and another worker took the stream meanwhile (this one must stop pushing it).
    pub async fn renew_push_lease(
        &self,
        stream_id: &str,
        held: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE ssf_streams SET push_lease_until = $1 WHERE id = $2 AND push_lease_until = $3")
            .bind(to_ms(until))
            .bind(stream_id)
            .bind(to_ms(held))
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(done == 1)
    }

    /// Gives the stream's push lease back, if it is still the one this worker holds (`held`).
    pub async fn release_push_lease(&self, stream_id: &str, held: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("UPDATE ssf_streams SET push_lease_until = NULL WHERE id = $1 AND push_lease_until = $2")
            .bind(stream_id)
            .bind(to_ms(held))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The first `limit` events of the stream's queue, oldest first (pushed in this order, one at a time).
    pub async fn push_heads(&self, stream_id: &str, limit: i64) -> Result<Vec<PushHead>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, jti, claims, attempts, next_attempt_at FROM ssf_events \
             WHERE stream_id = $1 AND acked_at IS NULL AND dead_at IS NULL ORDER BY id LIMIT $2",
        )
        .bind(stream_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let claims: String = row.try_get(2)?;
                Ok(PushHead {
                    id: row.try_get(0)?,
                    jti: row.try_get(1)?,
                    claims: serde_json::from_str(&claims)
                        .map_err(|e| StoreError::Corrupt(format!("ssf event: {e}")))?,
                    attempts: row.try_get(3)?,
                    next_attempt_at: row.try_get::<Option<i64>, _>(4)?.map(from_ms).transpose()?,
                })
            })
            .collect()
    }

    /// The receiver took these events (`2xx`), in one statement.
    pub async fn record_pushes_delivered(&self, ids: &[i64], at: DateTime<Utc>) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(", ");
        sqlx::query(&format!("UPDATE ssf_events SET acked_at = $1, last_error = NULL WHERE id IN ({list})"))
            .bind(to_ms(at))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A failed push: its count and error, and either the time of the next try or, dead at `dead_at`, none.
    pub async fn record_push_failure(
        &self,
        id: i64,
        attempts: i64,
        next_attempt_at: Option<DateTime<Utc>>,
        error: &str,
        dead_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE ssf_events SET attempts = $1, next_attempt_at = $2, last_error = $3, dead_at = $4 WHERE id = $5",
        )
        .bind(attempts)
        .bind(next_attempt_at.map(to_ms))
        .bind(error)
        .bind(dead_at.map(to_ms))
        .bind(id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Dead letters, newest first.
    pub async fn dead_ssf_events(&self, limit: i64) -> Result<Vec<DeadEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT e.id, e.stream_id, s.client_id, o.name, e.jti, e.claims, e.attempts, e.last_error, e.dead_at \
             FROM ssf_events e JOIN ssf_streams s ON s.id = e.stream_id JOIN api_clients c ON c.id = s.client_id \
             JOIN organizations o ON o.id = c.organization_id WHERE e.dead_at IS NOT NULL \
             AND e.acked_at IS NULL ORDER BY e.dead_at DESC, e.id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let claims: String = row.try_get(5)?;
                let claims: Value =
                    serde_json::from_str(&claims).map_err(|e| StoreError::Corrupt(format!("ssf event: {e}")))?;
                let event_type = claims["events"].as_object().and_then(|e| e.keys().next().cloned());
                Ok(DeadEvent {
                    id: row.try_get(0)?,
                    stream_id: row.try_get(1)?,
                    client_id: row.try_get(2)?,
                    relying_party: row.try_get(3)?,
                    jti: row.try_get(4)?,
                    event_type: event_type.unwrap_or_default(),
                    attempts: row.try_get(6)?,
                    last_error: row.try_get(7)?,
                    dead_at: from_ms(row.try_get(8)?)?,
                })
            })
            .collect()
    }
}

impl Tx {
    /// Gives a dead letter back to its stream's queue, to be pushed again at once: false when it is not dead.
    pub async fn replay_ssf_event(&mut self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE ssf_events SET dead_at = NULL, attempts = 0, next_attempt_at = NULL, last_error = NULL \
             WHERE id = $1 AND dead_at IS NOT NULL AND acked_at IS NULL",
        )
        .bind(id)
        .execute(&mut *self.inner)
        .await?
        .rows_affected();
        Ok(done == 1)
    }
}

/// A stream's backlog at one moment, for `/metrics`.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamBacklog {
    pub stream_id: String,
    /// Events neither acknowledged nor dead.
    pub pending: i64,
    /// When the oldest of them was queued.
    pub oldest_pending: Option<DateTime<Utc>>,
    /// Dead letters not replayed.
    pub dead: i64,
}

impl Store {
    /// Every stream's backlog, streams with none included.
    pub async fn ssf_backlog(&self) -> Result<Vec<StreamBacklog>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.id, \
             SUM(CASE WHEN e.id IS NOT NULL AND e.dead_at IS NULL THEN 1 ELSE 0 END), \
             MIN(CASE WHEN e.dead_at IS NULL THEN e.created_at END), \
             SUM(CASE WHEN e.dead_at IS NOT NULL THEN 1 ELSE 0 END) \
             FROM ssf_streams s LEFT JOIN ssf_events e ON e.stream_id = s.id AND e.acked_at IS NULL \
             GROUP BY s.id ORDER BY s.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(StreamBacklog {
                    stream_id: row.try_get(0)?,
                    pending: row.try_get::<Option<i64>, _>(1)?.unwrap_or(0),
                    oldest_pending: row.try_get::<Option<i64>, _>(2)?.map(from_ms).transpose()?,
                    dead: row.try_get::<Option<i64>, _>(3)?.unwrap_or(0),
                })
            })
            .collect()
    }
}
