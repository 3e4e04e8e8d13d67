//! Locks as stored: one row per hold, never deleted; a lift fills the `lifted_*` columns. Parties and legal
//! bases are kept as JSON of their domain types.

use chrono::{DateTime, Utc};
use dinhdanh_domain::AccountId;
use dinhdanh_domain::account::AccountEventKind;
use dinhdanh_domain::lock::{Ground, LegalBasis, Lift, Lock, Party};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

const COLUMNS: &str = "id, account_id, ground, placed_by, legal_basis, reference, reason, effective_at, ends_at, \
                       request_id, lifted_at, lifted_by, lift_basis, lift_reason, lift_request_id";

pub(crate) fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("domain values serialise")
}

pub(crate) fn from_json<T: serde::de::DeserializeOwned>(text: &str, what: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn organization_of(party: &Party) -> Option<String> {
    match party {
        Party::Organization { organization_id, .. } => Some(organization_id.clone()),
        _ => None,
    }
}

fn lock_from_row(row: &AnyRow) -> Result<Lock, StoreError> {
    let lifted = match row.try_get::<Option<i64>, _>("lifted_at")? {
        None => None,
        Some(at) => Some(Lift {
            at: from_ms(at)?,
            by: from_json(&row.try_get::<Option<String>, _>("lifted_by")?.unwrap_or_default(), "lifted_by")?,
            legal_basis: row
                .try_get::<Option<String>, _>("lift_basis")?
                .map(|b| from_json(&b, "lift_basis"))
                .transpose()?,
            reason: row.try_get::<Option<String>, _>("lift_reason")?.unwrap_or_default(),
            request_id: row.try_get("lift_request_id")?,
        }),
    };
    Ok(Lock {
        id: row.try_get("id")?,
        account_id: AccountId::new(row.try_get("account_id")?),
        ground: Ground::parse(&row.try_get::<String, _>("ground")?)
            .ok_or_else(|| StoreError::Corrupt("lock ground".into()))?,
        placed_by: from_json(&row.try_get::<String, _>("placed_by")?, "placed_by")?,
        legal_basis: row
            .try_get::<Option<String>, _>("legal_basis")?
            .map(|b| from_json::<LegalBasis>(&b, "legal_basis"))
            .transpose()?,
        reference: row.try_get("reference")?,
        reason: row.try_get("reason")?,
        effective_at: from_ms(row.try_get("effective_at")?)?,
        ends_at: row.try_get::<Option<i64>, _>("ends_at")?.map(from_ms).transpose()?,
        request_id: row.try_get("request_id")?,
        lifted,
    })
}

impl Tx {
    /// Places a lock. From its commit the account's relying-party grants are dead (`oidc.rs`), so it drops the
    /// access tokens found live that the credential cache keeps (the `Grants` kind).
    pub async fn insert_lock(&mut self, lock: &Lock) -> Result<(), StoreError> {
        self.invalidates(crate::credentials::Kind::Grants);
        sqlx::query(
            "INSERT INTO locks (id, account_id, ground, placed_by, placed_by_org, legal_basis, reference, reason, \
             effective_at, ends_at, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&lock.id)
        .bind(lock.account_id.as_str())
        .bind(lock.ground.as_str())
        .bind(to_json(&lock.placed_by))
        .bind(organization_of(&lock.placed_by))
        .bind(lock.legal_basis.as_ref().map(to_json))
        .bind(lock.reference.clone())
        .bind(&lock.reason)
        .bind(to_ms(lock.effective_at))
        .bind(lock.ends_at.map(to_ms))
        .bind(lock.request_id.clone())
        .execute(&mut *self.inner)
        .await?;
        // The account's first lock in force: it is disabled for everyone who trusts it (events.rs).
        if lock.lifted.is_none() && self.locks_in_force(lock.account_id.as_str(), lock.effective_at).await? == 1 {
            let txn = lock.request_id.as_deref().unwrap_or(&lock.id);
            let detail = serde_json::json!({"lock_id": lock.id});
            self.append_account_event(
                lock.account_id.as_str(),
                AccountEventKind::Disabled,
                txn,
                &detail,
                lock.effective_at,
            )
            .await?;
        }
        Ok(())
    }

    /// Lifts a lock that is not lifted yet; false when someone lifted it first. No mark for the credential
    /// cache: a lift ends no session and no grant (tokens issued before the lock stay dead, see `oidc.rs`).
    pub async fn lift_lock(&mut self, lock_id: &str, lift: &Lift) -> Result<bool, StoreError> {
        let lifted: Option<String> = sqlx::query_scalar(
            "UPDATE locks SET lifted_at = $1, lifted_by = $2, lift_basis = $3, lift_reason = $4, lift_request_id = $5 \
             WHERE id = $6 AND lifted_at IS NULL RETURNING account_id",
        )
        .bind(to_ms(lift.at))
        .bind(to_json(&lift.by))
        .bind(lift.legal_basis.as_ref().map(to_json))
        .bind(&lift.reason)
        .bind(lift.request_id.clone())
        .bind(lock_id)
        .fetch_optional(&mut *self.inner)
        .await?;
        let Some(account) = lifted else { return Ok(false) };
        // The last lock in force lifted: the account is usable again (events.rs); never while another holds it.
        if self.locks_in_force(&account, lift.at).await? == 0 {
            let txn = lift.request_id.as_deref().unwrap_or(lock_id);
            let detail = serde_json::json!({"lock_id": lock_id});
            self.append_account_event(&account, AccountEventKind::Enabled, txn, &detail, lift.at).await?;
        }
        Ok(true)
    }

    /// Every lock of an account, oldest first, read inside the transaction.
    pub async fn locks_of_account(&mut self, account: &AccountId) -> Result<Vec<Lock>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM locks WHERE account_id = $1 ORDER BY effective_at, id"))
            .bind(account.as_str())
            .fetch_all(&mut *self.inner)
            .await?;
        rows.iter().map(lock_from_row).collect()
    }

    pub async fn lock_by_id(&mut self, lock_id: &str) -> Result<Option<Lock>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM locks WHERE id = $1"))
            .bind(lock_id)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(lock_from_row).transpose()
    }

    /// Ends every live session of a holder (the effect of a lock, in the lock's own transaction).
    pub async fn revoke_holder_sessions(&mut self, account: &AccountId, at: DateTime<Utc>) -> Result<u64, StoreError> {
        self.invalidates(crate::credentials::Kind::Holder);
        Ok(sqlx::query("UPDATE holder_sessions SET revoked_at = $1 WHERE account_id = $2 AND revoked_at IS NULL")
            .bind(to_ms(at))
            .bind(account.as_str())
            .execute(&mut *self.inner)
            .await?
            .rows_affected())
    }
}

impl Store {
    /// Every lock of an account, oldest first.
    pub async fn locks_of_account(&self, account: &AccountId) -> Result<Vec<Lock>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {COLUMNS} FROM locks WHERE account_id = $1 ORDER BY effective_at, id"))
            .bind(account.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(lock_from_row).collect()
    }

    /// Every lock placed or lifted at or after `since`, on any account, oldest first (the officers' dashboard
    /// counts them per day and ground).
    pub async fn locks_changed_since(&self, since: DateTime<Utc>) -> Result<Vec<Lock>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM locks WHERE effective_at >= $1 OR lifted_at >= $1 ORDER BY effective_at, id"
        ))
        .bind(to_ms(since))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lock_from_row).collect()
    }

    /// The locks in force on an account at `now` (the account is usable when this is empty).
    pub async fn active_locks(&self, account: &AccountId, now: DateTime<Utc>) -> Result<Vec<Lock>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM locks WHERE account_id = $1 AND lifted_at IS NULL AND effective_at <= $2 \
             AND (ends_at IS NULL OR ends_at > $2) ORDER BY effective_at, id"
        ))
        .bind(account.as_str())
        .bind(to_ms(now))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(lock_from_row).collect()
    }
}
