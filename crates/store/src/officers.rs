//! The operator's officers: accounts with roles, enrolment, password and TOTP state, sign-in throttling, and
//! their sessions. The TOTP secret is stored as the server sealed it (`dinhdanh_server::totp_key`); this module
//! never sees it in the clear.

use chrono::{DateTime, Utc};
use dinhdanh_domain::actor::OrganizationStatus;
use dinhdanh_domain::officer::{Officer, OfficerStatus, format_roles, parse_roles};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

const COLUMNS: &str = "id, username, full_name, organization_id, roles, status, password_hash, totp_secret, \
                       totp_last_step, enrolment_token_hash, enrolment_expires_at, failed_sign_ins, locked_until, \
                       created_at, updated_at";

fn officer_from_row(row: &AnyRow) -> Result<Officer, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("officer {what}"));
    Ok(Officer {
        id: row.try_get("id")?,
        username: row.try_get("username")?,
        full_name: row.try_get("full_name")?,
        organization_id: row.try_get("organization_id")?,
        roles: parse_roles(&row.try_get::<String, _>("roles")?).map_err(|_| corrupt("roles"))?,
        status: OfficerStatus::parse(&row.try_get::<String, _>("status")?).ok_or_else(|| corrupt("status"))?,
        password_hash: row.try_get("password_hash")?,
        totp_secret: row.try_get("totp_secret")?,
        totp_last_step: row.try_get("totp_last_step")?,
        enrolment_token_hash: row.try_get("enrolment_token_hash")?,
        enrolment_expires_at: row.try_get::<Option<i64>, _>("enrolment_expires_at")?.map(from_ms).transpose()?,
        failed_sign_ins: row.try_get("failed_sign_ins")?,
        locked_until: row.try_get::<Option<i64>, _>("locked_until")?.map(from_ms).transpose()?,
        created_at: from_ms(row.try_get("created_at")?)?,
        updated_at: from_ms(row.try_get("updated_at")?)?,
    })
}

impl Tx {
    /// [`StoreError::Conflict`] when the username is taken.
    pub async fn insert_officer(&mut self, officer: &Officer) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO officers ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(&officer.id)
        .bind(&officer.username)
        .bind(&officer.full_name)
        .bind(&officer.organization_id)
        .bind(format_roles(&officer.roles))
        .bind(officer.status.as_str())
        .bind(officer.password_hash.clone())
        .bind(officer.totp_secret.clone())
        .bind(officer.totp_last_step)
        .bind(officer.enrolment_token_hash.clone())
        .bind(officer.enrolment_expires_at.map(to_ms))
        .bind(officer.failed_sign_ins)
        .bind(officer.locked_until.map(to_ms))
        .bind(to_ms(officer.created_at))
        .bind(to_ms(officer.updated_at))
        .execute(&mut *self.inner)
        .await
        .map_err(|e| StoreError::conflict_or(e, "an officer with this username"))?;
        Ok(())
    }

    /// Writes every mutable field of an officer (the result of a domain decision taken on a locked read).
    pub async fn update_officer(&mut self, officer: &Officer) -> Result<(), StoreError> {
        self.invalidates(crate::credentials::Kind::Officer);
        sqlx::query(
            "UPDATE officers SET full_name = $1, organization_id = $2, roles = $3, status = $4, password_hash = $5, \
             totp_secret = $6, totp_last_step = $7, enrolment_token_hash = $8, enrolment_expires_at = $9, \
             failed_sign_ins = $10, locked_until = $11, updated_at = $12 WHERE id = $13",
        )
        .bind(&officer.full_name)
        .bind(&officer.organization_id)
        .bind(format_roles(&officer.roles))
        .bind(officer.status.as_str())
        .bind(officer.password_hash.clone())
        .bind(officer.totp_secret.clone())
        .bind(officer.totp_last_step)
        .bind(officer.enrolment_token_hash.clone())
        .bind(officer.enrolment_expires_at.map(to_ms))
        .bind(officer.failed_sign_ins)
        .bind(officer.locked_until.map(to_ms))
        .bind(to_ms(officer.updated_at))
        .bind(&officer.id)
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// Reads an officer and holds the row until the transaction ends.
    pub async fn lock_officer(&mut self, id: &str) -> Result<Option<Officer>, StoreError> {
        sqlx::query("UPDATE officers SET id = id WHERE id = $1").bind(id).execute(&mut *self.inner).await?;
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM officers WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(officer_from_row).transpose()
    }

    /// The ids of every active administrator, each row held until the transaction ends, so that two
    /// administrators demoting or disabling each other at once cannot leave none (the second waits and counts
    /// again). Take it before locking the officer being changed, always in this order.
    pub async fn lock_active_administrators(&mut self) -> Result<Vec<String>, StoreError> {
        let filter = "status = 'active' AND (' ' || roles || ' ') LIKE '% administrator %'";
        sqlx::query(&format!("UPDATE officers SET id = id WHERE {filter}")).execute(&mut *self.inner).await?;
        let rows = sqlx::query(&format!("SELECT id FROM officers WHERE {filter} ORDER BY id"))
            .fetch_all(&mut *self.inner)
            .await?;
        rows.iter().map(|r| Ok(r.try_get::<String, _>(0)?)).collect()
    }

    /// Keeps other transactions from adding officers until this one ends (the bootstrap's "only on an empty
    /// database" check). SQLite serialises writers already; PostgreSQL takes a table lock.
    pub async fn lock_officers_table(&mut self) -> Result<(), StoreError> {
        if self.inner.backend_name().eq_ignore_ascii_case("postgresql") {
            sqlx::query("LOCK TABLE officers IN SHARE ROW EXCLUSIVE MODE").execute(&mut *self.inner).await?;
        } else {
            // Makes the SQLite transaction a writer now, before it counts.
            sqlx::query("UPDATE officers SET id = id WHERE 1 = 0").execute(&mut *self.inner).await?;
        }
        Ok(())
    }

    /// Every stored TOTP secret, by officer id in ascending order, each officer row held until the transaction
    /// ends (sealing and re-sealing them all at once).
    pub async fn lock_totp_secrets(&mut self) -> Result<Vec<(String, String)>, StoreError> {
        let filter = "totp_secret IS NOT NULL";
        sqlx::query(&format!("UPDATE officers SET id = id WHERE {filter}")).execute(&mut *self.inner).await?;
        let rows = sqlx::query(&format!("SELECT id, totp_secret FROM officers WHERE {filter} ORDER BY id"))
            .fetch_all(&mut *self.inner)
            .await?;
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
    }

    /// Replaces the stored form of an officer's TOTP secret (sealed, or sealed under a new key).
    pub async fn set_totp_secret(&mut self, officer_id: &str, stored: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE officers SET totp_secret = $1 WHERE id = $2")
            .bind(stored)
            .bind(officer_id)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    pub async fn count_officers_tx(&mut self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM officers").fetch_one(&mut *self.inner).await?.try_get(0)?)
    }

    pub async fn insert_officer_session(
        &mut self,
        token_hash: &str,
        officer_id: &str,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO officer_sessions (token_hash, officer_id, created_at, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(token_hash)
        .bind(officer_id)
        .bind(to_ms(created_at))
        .bind(to_ms(expires_at))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// Ends one session of an officer (sign-out); false when it was not live.
    pub async fn revoke_officer_session(
        &mut self,
        token_hash: &str,
        officer_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.invalidates(crate::credentials::Kind::Officer);
        Ok(sqlx::query(
            "UPDATE officer_sessions SET revoked_at = $1 WHERE token_hash = $2 AND officer_id = $3 AND revoked_at IS NULL",
        )
        .bind(to_ms(at))
        .bind(token_hash)
        .bind(officer_id)
        .execute(&mut *self.inner)
        .await?
        .rows_affected()
            == 1)
    }

    /// Ends every live session of an officer (disabled, roles changed, signed out everywhere).
    pub async fn revoke_officer_sessions(&mut self, officer_id: &str, at: DateTime<Utc>) -> Result<u64, StoreError> {
        self.invalidates(crate::credentials::Kind::Officer);
        Ok(sqlx::query("UPDATE officer_sessions SET revoked_at = $1 WHERE officer_id = $2 AND revoked_at IS NULL")
            .bind(to_ms(at))
            .bind(officer_id)
            .execute(&mut *self.inner)
            .await?
            .rows_affected())
    }
}

impl Store {
    pub async fn officer(&self, id: &str) -> Result<Option<Officer>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM officers WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(officer_from_row).transpose()
    }

    pub async fn officer_by_username(&self, username: &str) -> Result<Option<Officer>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM officers WHERE username = $1"))
            .bind(username)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(officer_from_row).transpose()
    }

    /// The officer whose enrolment token has this SHA-256 hash (expired or not: the caller decides).
    pub async fn officer_by_enrolment_token(&self, token_hash: &str) -> Result<Option<Officer>, StoreError> {
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM officers WHERE enrolment_token_hash = $1"))
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(officer_from_row).transpose()
    }

    pub async fn officers(&self) -> Result<Vec<Officer>, StoreError> {
        let rows =
            sqlx::query(&format!("SELECT {COLUMNS} FROM officers ORDER BY username")).fetch_all(&self.pool).await?;
        rows.iter().map(officer_from_row).collect()
    }
}

/// Who an officer session speaks for, with what the server checks on every call.
#[derive(Debug, Clone)]
pub struct OfficerSessionOwner {
    pub officer_id: String,
    pub officer_status: String,
    pub organization_id: String,
    pub organization_status: OrganizationStatus,
    /// Space-separated roles.
    pub roles: String,
}

impl Store {
    /// The officer of a live session (not revoked, not expired at `now`) with this SHA-256 hash.
    pub async fn officer_session_owner(
        &self,
        token_hash: &str,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<OfficerSessionOwner>, StoreError> {
        if let Some(owner) = self.credentials.officer_session(token_hash, now) {
            return Ok(Some(owner));
        }
        let ticket = self.credentials.ticket(crate::credentials::Kind::Officer);
        let row = sqlx::query(
            "SELECT f.id, f.status, f.organization_id, o.status, f.roles, s.expires_at \
             FROM officer_sessions s JOIN officers f ON f.id = s.officer_id JOIN organizations o ON o.id = f.organization_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(to_ms(now))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let owner = OfficerSessionOwner {
            officer_id: row.try_get(0)?,
            officer_status: row.try_get(1)?,
            organization_id: row.try_get(2)?,
            organization_status: OrganizationStatus::parse(&row.try_get::<String, _>(3)?)
                .ok_or_else(|| StoreError::Corrupt("organization status".into()))?,
            roles: row.try_get(4)?,
        };
        self.credentials.put_officer_session(ticket, token_hash, crate::time::from_ms(row.try_get(5)?)?, &owner);
        Ok(Some(owner))
    }
}
