//! Relying parties' Shared Signals streams (`ssf_streams`, migration 0019; issue 17, docs/events.md): one per
//! API client, its settings as the receiver set them (`dinhdanh_oidc::ssf::StreamSettings`, JSON) and its
//! status. Every statement names the client as well as the stream, so a relying party can only ever reach its
//! own.

use chrono::{DateTime, Utc};
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
}

const COLUMNS: &str = "id, client_id, settings, status, status_reason, created_at, updated_at";

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
            "INSERT INTO ssf_streams (id, client_id, settings, status, status_reason, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (client_id) DO NOTHING",
        )
        .bind(&stream.id)
        .bind(&stream.client_id)
        .bind(stream.settings.to_string())
        .bind(stream.status.as_str())
        .bind(stream.status_reason.clone())
        .bind(to_ms(stream.created_at))
        .bind(to_ms(stream.updated_at))
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
}
