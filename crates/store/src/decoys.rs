//! Registration decoys: what a registration of an already registered identity is answered with, so that the
//! answer does not tell the caller the identity has an account (see `service::registration`). A decoy is kept
//! like a pending registration — its masked destinations, the hash of a code nobody was sent, its tries and
//! sends — until it expires; it is never an account.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoy {
    pub id: String,
    pub created_at: DateTime<Utc>,
    /// The masked destinations the registration's answer named.
    pub sent_to: Vec<String>,
    pub code_hash: String,
    pub code_expires_at: DateTime<Utc>,
    pub attempts: i64,
    /// When "codes" were sent, for the same resend limits as a registration's.
    pub sends: Vec<DateTime<Utc>>,
}

fn decoy_from_row(r: &AnyRow) -> Result<Decoy, StoreError> {
    let corrupt = |e: serde_json::Error| StoreError::Corrupt(format!("registration decoy: {e}"));
    let sends: Vec<i64> = serde_json::from_str(&r.try_get::<String, _>("sends")?).map_err(corrupt)?;
    Ok(Decoy {
        id: r.try_get("id")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        sent_to: serde_json::from_str(&r.try_get::<String, _>("sent_to")?).map_err(corrupt)?,
        code_hash: r.try_get("code_hash")?,
        code_expires_at: from_ms(r.try_get("code_expires_at")?)?,
        attempts: r.try_get("attempts")?,
        sends: sends.into_iter().map(from_ms).collect::<Result<_, _>>()?,
    })
}

const COLUMNS: &str = "id, created_at, sent_to, code_hash, code_expires_at, attempts, sends";

impl Tx {
    pub async fn insert_decoy(&mut self, d: &Decoy) -> Result<(), StoreError> {
        sqlx::query(&format!("INSERT INTO registration_decoys ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"))
            .bind(&d.id)
            .bind(to_ms(d.created_at))
            .bind(serde_json::json!(d.sent_to).to_string())
            .bind(&d.code_hash)
            .bind(to_ms(d.code_expires_at))
            .bind(d.attempts)
            .bind(serde_json::json!(d.sends.iter().map(|t| to_ms(*t)).collect::<Vec<_>>()).to_string())
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Reads a decoy and holds it until the transaction ends (resends queue on it, as on an account).
    pub async fn lock_decoy(&mut self, id: &str) -> Result<Option<Decoy>, StoreError> {
        sqlx::query("UPDATE registration_decoys SET id = id WHERE id = $1").bind(id).execute(&mut *self.inner).await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM registration_decoys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(decoy_from_row).transpose()
    }

    /// A new "code": its hash and expiry replace the old one's, its tries start again, the send is logged.
    pub async fn renew_decoy_code(
        &mut self,
        d: &Decoy,
        code_hash: &str,
        sent_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut sends: Vec<i64> = d.sends.iter().map(|t| to_ms(*t)).collect();
        sends.push(to_ms(sent_at));
        sqlx::query(
            "UPDATE registration_decoys SET code_hash = $1, code_expires_at = $2, attempts = 0, sends = $3 WHERE id = $4",
        )
        .bind(code_hash)
        .bind(to_ms(expires_at))
        .bind(serde_json::json!(sends).to_string())
        .bind(&d.id)
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// Removes at most `limit` decoys created at or before `cutoff` (as expired registrations go); returns how
    /// many.
    pub async fn delete_decoys_created_by(&mut self, cutoff: DateTime<Utc>, limit: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "DELETE FROM registration_decoys WHERE id IN \
             (SELECT id FROM registration_decoys WHERE created_at <= $1 LIMIT $2)",
        )
        .bind(to_ms(cutoff))
        .bind(limit)
        .execute(&mut *self.inner)
        .await?
        .rows_affected())
    }
}

impl Store {
    pub async fn decoy(&self, id: &str) -> Result<Option<Decoy>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM registration_decoys WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(decoy_from_row).transpose()
    }

    /// Uses up one try of the decoy's code, as [`Store::take_activation_attempt`] does for an account: the try is
    /// taken first, atomically; `None` when the code has expired or its tries are used up.
    pub async fn take_decoy_attempt(
        &self,
        id: &str,
        now: DateTime<Utc>,
        max_attempts: i64,
    ) -> Result<Option<Decoy>, StoreError> {
        let mut tx = self.begin().await?;
        let taken = sqlx::query(
            "UPDATE registration_decoys SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 AND code_expires_at > $3",
        )
        .bind(id)
        .bind(max_attempts)
        .bind(to_ms(now))
        .execute(&mut *tx.inner)
        .await?
        .rows_affected();
        if taken == 0 {
            return Ok(None);
        }
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM registration_decoys WHERE id = $1"))
            .bind(id)
            .fetch_one(&mut *tx.inner)
            .await?;
        tx.commit().await?;
        Some(decoy_from_row(&row)).transpose()
    }
}
