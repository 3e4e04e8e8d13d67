//! E-ID accounts and their activation codes: creation (one account per identity, enforced by a unique key),
//! the activation code with its attempt counter, the log of code sends that resend limits read, and the
//! removal of registrations never activated.

use chrono::{DateTime, Utc};
use dinhdanh_domain::account::{AccountEventKind, HolderKind};
use dinhdanh_domain::{Account, AccountId, AccountStatus, Email, FullName, IdentityKey, Level, PhoneNumber};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

/// The stored activation code of a pending account.
#[derive(Debug, Clone)]
pub struct ActivationCodeRow {
    pub code_hash: String,
    pub expires_at: DateTime<Utc>,
    pub attempts: i64,
}

const ACCOUNT_COLUMNS: &str = "id, identity_key, holder_kind, full_name, level, status, phone, email, password_hash, \
                               created_at, activated_at";

fn account_from_row(row: &AnyRow) -> Result<Account, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("account {what}"));
    Ok(Account {
        id: AccountId::new(row.try_get("id")?),
        identity_key: IdentityKey::from_stored(row.try_get("identity_key")?),
        holder_kind: HolderKind::parse(&row.try_get::<String, _>("holder_kind")?).ok_or_else(|| corrupt("kind"))?,
        full_name: FullName::parse(&row.try_get::<String, _>("full_name")?).map_err(|_| corrupt("name"))?,
        level: Level::from_number(row.try_get("level")?).ok_or_else(|| corrupt("level"))?,
        status: AccountStatus::parse(&row.try_get::<String, _>("status")?).ok_or_else(|| corrupt("status"))?,
        phone: row
            .try_get::<Option<String>, _>("phone")?
            .map(|p| PhoneNumber::parse(&p).map_err(|_| corrupt("phone")))
            .transpose()?,
        email: row
            .try_get::<Option<String>, _>("email")?
            .map(|e| Email::parse(&e).map_err(|_| corrupt("email")))
            .transpose()?,
        password_hash: row.try_get("password_hash")?,
        created_at: from_ms(row.try_get("created_at")?)?,
        activated_at: row.try_get::<Option<i64>, _>("activated_at")?.map(from_ms).transpose()?,
    })
}

impl Tx {
    /// Creates an account; [`StoreError::Conflict`] when the identity already has one.
    pub async fn insert_account(&mut self, account: &Account) -> Result<(), StoreError> {
        sqlx::query(&format!(
            "INSERT INTO accounts ({ACCOUNT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ))
        .bind(account.id.as_str())
        .bind(account.identity_key.as_str())
        .bind(account.holder_kind.as_str())
        .bind(account.full_name.as_str())
        .bind(account.level.number())
        .bind(account.status.as_str())
        .bind(account.phone.as_ref().map(|p| p.as_str().to_owned()))
        .bind(account.email.as_ref().map(|e| e.as_str().to_owned()))
        .bind(&account.password_hash)
        .bind(to_ms(account.created_at))
        .bind(account.activated_at.map(to_ms))
        .execute(&mut *self.inner)
        .await
        .map_err(|e| StoreError::conflict_or(e, "an account for this identity"))?;
        Ok(())
    }

    /// Reads an account and holds it until the transaction ends (a row lock on PostgreSQL, the write lock on
    /// SQLite), so that two requests about one account are applied one after the other.
    pub async fn lock_account(&mut self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        sqlx::query("UPDATE accounts SET id = id WHERE id = $1").bind(id.as_str()).execute(&mut *self.inner).await?;
        self.account(id).await
    }

    pub async fn account(&mut self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// Writes an account's status and activation time (the result of a domain transition).
    pub async fn update_account_status(&mut self, account: &Account) -> Result<(), StoreError> {
        self.invalidates(crate::credentials::Kind::Holder);
        // Relying parties' grants are live only while the account is active: any other status ends them. An
        // activation cannot end one, and marks nothing, so that registrations do not keep emptying that shelf.
        if account.status != AccountStatus::Active {
            self.invalidates(crate::credentials::Kind::Grants);
        }
        sqlx::query("UPDATE accounts SET status = $1, activated_at = $2 WHERE id = $3")
            .bind(account.status.as_str())
            .bind(account.activated_at.map(to_ms))
            .bind(account.id.as_str())
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Records the account's assurance level (Level 2 after a portrait or fingerprint match, Level 1 when an
    /// officer lowers it) at `at`; a level that changes is an event of the account's feed (events.rs).
    pub async fn set_account_level(
        &mut self,
        account: &AccountId,
        level: Level,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let previous: Option<i64> = sqlx::query_scalar("SELECT level FROM accounts WHERE id = $1")
            .bind(account.as_str())
            .fetch_optional(&mut *self.inner)
            .await?;
        sqlx::query("UPDATE accounts SET level = $1 WHERE id = $2")
            .bind(level.number())
            .bind(account.as_str())
            .execute(&mut *self.inner)
            .await?;
        if let Some(previous) = previous.filter(|p| *p != level.number()) {
            let detail = serde_json::json!({"previous": previous, "current": level.number()});
            let txn = uuid::Uuid::new_v4().to_string();
            self.append_account_event(account.as_str(), AccountEventKind::LevelChanged, &txn, &detail, at).await?;
        }
        Ok(())
    }

    /// Replaces the account's activation code (a resend voids the previous one) and logs the send.
    pub async fn put_activation_code(
        &mut self,
        account: &AccountId,
        code_hash: &str,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM activation_codes WHERE account_id = $1")
            .bind(account.as_str())
            .execute(&mut *self.inner)
            .await?;
        sqlx::query(
            "INSERT INTO activation_codes (account_id, code_hash, issued_at, expires_at, attempts) \
             VALUES ($1, $2, $3, $4, 0)",
        )
        .bind(account.as_str())
        .bind(code_hash)
        .bind(to_ms(issued_at))
        .bind(to_ms(expires_at))
        .execute(&mut *self.inner)
        .await?;
        sqlx::query("INSERT INTO activation_sends (account_id, sent_at) VALUES ($1, $2)")
            .bind(account.as_str())
            .bind(to_ms(issued_at))
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// When codes were sent to this account since `since` (for the resend limits).
    pub async fn activation_sends_since(
        &mut self,
        account: &AccountId,
        since: DateTime<Utc>,
    ) -> Result<Vec<DateTime<Utc>>, StoreError> {
        let rows = sqlx::query("SELECT sent_at FROM activation_sends WHERE account_id = $1 AND sent_at > $2")
            .bind(account.as_str())
            .bind(to_ms(since))
            .fetch_all(&mut *self.inner)
            .await?;
        rows.iter().map(|r| from_ms(r.try_get(0)?)).collect()
    }

    pub async fn delete_activation_code(&mut self, account: &AccountId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM activation_codes WHERE account_id = $1")
            .bind(account.as_str())
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Removes at most `limit` registrations still pending that were created at or before `cutoff` (with their
    /// codes and sends, by the foreign keys); returns their ids.
    pub async fn delete_pending_created_by(
        &mut self,
        cutoff: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<AccountId>, StoreError> {
        let rows = sqlx::query(
            "SELECT id FROM accounts WHERE status = 'pending_activation' AND created_at <= $1 ORDER BY created_at, id \
             LIMIT $2",
        )
        .bind(to_ms(cutoff))
        .bind(limit)
        .fetch_all(&mut *self.inner)
        .await?;
        let ids: Vec<AccountId> =
            rows.iter().map(|r| r.try_get::<String, _>(0).map(AccountId::new)).collect::<Result<_, _>>()?;
        for id in &ids {
            self.delete_pending(id).await?;
        }
        Ok(ids)
    }

    /// Removes the registration of this identity if it is still pending and was created at or before `cutoff`
    /// (an expired registration the purge has not reached yet must not keep the identity from registering
    /// again); returns its id.
    pub async fn delete_expired_registration_of(
        &mut self,
        identity: &IdentityKey,
        cutoff: DateTime<Utc>,
    ) -> Result<Option<AccountId>, StoreError> {
        let row = sqlx::query(
            "SELECT id FROM accounts WHERE identity_key = $1 AND status = 'pending_activation' AND created_at <= $2",
        )
        .bind(identity.as_str())
        .bind(to_ms(cutoff))
        .fetch_optional(&mut *self.inner)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id = AccountId::new(row.try_get(0)?);
        self.delete_pending(&id).await?;
        Ok(Some(id))
    }

    async fn delete_pending(&mut self, id: &AccountId) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM accounts WHERE id = $1 AND status = 'pending_activation'")
            .bind(id.as_str())
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }
}

impl Store {
    pub async fn account(&self, id: &AccountId) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    pub async fn account_by_identity(&self, key: &IdentityKey) -> Result<Option<Account>, StoreError> {
        let row = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE identity_key = $1"))
            .bind(key.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    pub async fn count_accounts(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM accounts").fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Uses up one try of the account's activation code, atomically, and returns the code to compare with;
    /// `None` when there is no code, it has expired, or its tries are used up. Taking the try before comparing
    /// means parallel guesses can never get more than `max_attempts` comparisons.
    pub async fn take_activation_attempt(
        &self,
        account: &AccountId,
        now: DateTime<Utc>,
        max_attempts: i64,
    ) -> Result<Option<ActivationCodeRow>, StoreError> {
        let mut tx = self.begin().await?;
        let taken = sqlx::query(
            "UPDATE activation_codes SET attempts = attempts + 1 \
             WHERE account_id = $1 AND attempts < $2 AND expires_at > $3",
        )
        .bind(account.as_str())
        .bind(max_attempts)
        .bind(to_ms(now))
        .execute(&mut *tx.inner)
        .await?
        .rows_affected();
        if taken == 0 {
            return Ok(None);
        }
        let row = sqlx::query("SELECT code_hash, expires_at, attempts FROM activation_codes WHERE account_id = $1")
            .bind(account.as_str())
            .fetch_one(&mut *tx.inner)
            .await?;
        tx.commit().await?;
        Ok(Some(ActivationCodeRow {
            code_hash: row.try_get(0)?,
            expires_at: from_ms(row.try_get(1)?)?,
            attempts: row.try_get(2)?,
        }))
    }
}
