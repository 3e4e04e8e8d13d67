//! Holders' sign-in: the one-time-code challenges (`holder_sign_ins`) with their attempt counters, the
//! per-account failure counter and throttle (`accounts.failed_sign_ins`, `accounts.sign_in_locked_until`), and
//! the sessions (`holder_sessions`, stored under the SHA-256 of the bearer token). Ending every session of a
//! holder when a lock is placed is `Tx::revoke_holder_sessions`, next to the locks.

use chrono::{DateTime, Utc};
use dinhdanh_domain::account::SignInPurpose;
use dinhdanh_domain::biometrics::Modality;
use dinhdanh_domain::throttle::SignInFailures;
use dinhdanh_domain::{AccountId, AccountStatus, Channel, Level};
use sqlx::Row;

use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

/// A challenge to write: the hash of the code sent, where it went, and how long it lives.
#[derive(Debug, Clone)]
pub struct NewHolderSignIn {
    pub id: String,
    pub account_id: AccountId,
    pub code_hash: String,
    pub channel: Channel,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub purpose: SignInPurpose,
}

/// One try taken on a challenge: the code to compare with and how many tries are used, this one included.
#[derive(Debug, Clone)]
pub struct HolderSignInAttempt {
    pub account_id: AccountId,
    pub code_hash: String,
    pub attempts: i64,
    pub expires_at: DateTime<Utc>,
    pub purpose: SignInPurpose,
    /// Where the code went: entering it proves control of that contact.
    pub channel: Channel,
}

/// Who a holder session speaks for, with what the server checks on every call.
#[derive(Debug, Clone)]
pub struct HolderSessionOwner {
    pub account_id: AccountId,
    /// What the sign-in that opened the session proved (never the account's level).
    pub assurance: Level,
    pub account_status: AccountStatus,
    pub expires_at: DateTime<Utc>,
    /// A session opened while the account was locked: only for following the locks and asking for a lift.
    pub restore_only: bool,
}

/// `holder_sessions.purpose`: an ordinary session, or one opened while the account was locked
/// ([`HolderSessionOwner::restore_only`]).
const FULL_SESSION: &str = "full";
const RESTORE_SESSION: &str = "restore";
/// Every purpose a session is stored with (migration 0012's CHECK constraint is compared with it).
#[cfg(test)]
pub(crate) const SESSION_PURPOSES: [&str; 2] = [FULL_SESSION, RESTORE_SESSION];

fn failures_from(count: i64, locked_until: Option<i64>) -> Result<SignInFailures, StoreError> {
    Ok(SignInFailures { count, locked_until: locked_until.map(from_ms).transpose()? })
}

impl Tx {
    /// Writes a new challenge and voids the account's earlier ones that are still open: only the newest code
    /// sent can be used.
    pub async fn insert_holder_sign_in(&mut self, sign_in: &NewHolderSignIn) -> Result<(), StoreError> {
        sqlx::query("UPDATE holder_sign_ins SET consumed_at = $1 WHERE account_id = $2 AND consumed_at IS NULL")
            .bind(to_ms(sign_in.created_at))
            .bind(sign_in.account_id.as_str())
            .execute(&mut *self.inner)
            .await?;
        sqlx::query(
            "INSERT INTO holder_sign_ins (id, account_id, code_hash, channel, created_at, expires_at, attempts, purpose) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7)",
        )
        .bind(&sign_in.id)
        .bind(sign_in.account_id.as_str())
        .bind(&sign_in.code_hash)
        .bind(sign_in.channel.as_str())
        .bind(to_ms(sign_in.created_at))
        .bind(to_ms(sign_in.expires_at))
        .bind(sign_in.purpose.as_str())
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// Spends a challenge that is still open at `now` (not consumed, not expired); false when it is not.
    /// Tries are not checked here: the caller has just taken one with [`Store::take_holder_sign_in_attempt`].
    pub async fn consume_holder_sign_in(&mut self, id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(sqlx::query(
            "UPDATE holder_sign_ins SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL AND expires_at > $1",
        )
        .bind(to_ms(now))
        .bind(id)
        .execute(&mut *self.inner)
        .await?
        .rows_affected()
            == 1)
    }

    /// Records that the holder proved control of the contact `destination_hash` (SHA-256 of the phone number or
    /// address) names, by a code sent through `channel`; replaces what was recorded for that channel.
    pub async fn record_contact_verified(
        &mut self,
        account: &AccountId,
        channel: Channel,
        destination_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO contact_verifications (account_id, channel, destination_hash, verified_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, channel) \
             DO UPDATE SET destination_hash = excluded.destination_hash, verified_at = excluded.verified_at",
        )
        .bind(account.as_str())
        .bind(channel.as_str())
        .bind(destination_hash)
        .bind(to_ms(now))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// The account's failure counter, read inside the transaction (after `lock_account`, it is current).
    pub async fn holder_sign_in_failures(&mut self, account: &AccountId) -> Result<SignInFailures, StoreError> {
        let row = sqlx::query("SELECT failed_sign_ins, sign_in_locked_until FROM accounts WHERE id = $1")
            .bind(account.as_str())
            .fetch_optional(&mut *self.inner)
            .await?;
        match row {
            Some(row) => failures_from(row.try_get(0)?, row.try_get(1)?),
            None => Ok(SignInFailures::default()),
        }
    }

    /// The failures of one source (the SHA-256 of a client address) on an account, inside the transaction that
    /// holds the account row.
    pub async fn holder_source_failures(
        &mut self,
        account: &AccountId,
        source: &str,
    ) -> Result<SignInFailures, StoreError> {
        let row = sqlx::query(
            "SELECT failures, locked_until FROM holder_sign_in_sources WHERE account_id = $1 AND source = $2",
        )
        .bind(account.as_str())
        .bind(source)
        .fetch_optional(&mut *self.inner)
        .await?;
        match row {
            Some(row) => failures_from(row.try_get(0)?, row.try_get(1)?),
            None => Ok(SignInFailures::default()),
        }
    }

    /// Writes one source's failure counter on an account; a reset counter removes the row.
    pub async fn set_holder_source_failures(
        &mut self,
        account: &AccountId,
        source: &str,
        failures: &SignInFailures,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if *failures == SignInFailures::default() {
            sqlx::query("DELETE FROM holder_sign_in_sources WHERE account_id = $1 AND source = $2")
                .bind(account.as_str())
                .bind(source)
                .execute(&mut *self.inner)
                .await?;
            return Ok(());
        }
        sqlx::query(
            "INSERT INTO holder_sign_in_sources (account_id, source, failures, locked_until, updated_at) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (account_id, source) DO UPDATE \
             SET failures = excluded.failures, locked_until = excluded.locked_until, updated_at = excluded.updated_at",
        )
        .bind(account.as_str())
        .bind(source)
        .bind(failures.count)
        .bind(failures.locked_until.map(to_ms))
        .bind(to_ms(now))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// One-time codes (sign-in, activation and lock-confirmation codes) queued to `recipient` since `since`,
    /// for the per-destination and per-identity limits.
    pub async fn codes_sent_to(&mut self, recipient: &str, since: DateTime<Utc>) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND created_at > $2 \
             AND kind IN ('activation_code', 'holder_sign_in_code', 'lock_confirmation_code')",
        )
        .bind(recipient)
        .bind(to_ms(since))
        .fetch_one(&mut *self.inner)
        .await?)
    }

    /// Writes the account's failure counter (the result of a domain decision taken on the locked row).
    pub async fn set_holder_sign_in_failures(
        &mut self,
        account: &AccountId,
        failures: &SignInFailures,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE accounts SET failed_sign_ins = $1, sign_in_locked_until = $2 WHERE id = $3")
            .bind(failures.count)
            .bind(failures.locked_until.map(to_ms))
            .bind(account.as_str())
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    pub async fn insert_holder_session(
        &mut self,
        token_hash: &str,
        account: &AccountId,
        assurance: Level,
        restore_only: bool,
        created_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO holder_sessions (token_hash, account_id, assurance, created_at, expires_at, purpose) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(token_hash)
        .bind(account.as_str())
        .bind(assurance.number())
        .bind(to_ms(created_at))
        .bind(to_ms(expires_at))
        .bind(if restore_only { RESTORE_SESSION } else { FULL_SESSION })
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// Ends the holder's live sessions whose sign-in proved more than `level` (an officer lowered the account):
    /// how many.
    pub async fn revoke_holder_sessions_above(
        &mut self,
        account: &AccountId,
        level: Level,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.invalidates(crate::credentials::Kind::Holder);
        Ok(sqlx::query(
            "UPDATE holder_sessions SET revoked_at = $1 \
             WHERE account_id = $2 AND assurance > $3 AND revoked_at IS NULL",
        )
        .bind(to_ms(at))
        .bind(account.as_str())
        .bind(level.number())
        .execute(&mut *self.inner)
        .await?
        .rows_affected())
    }

    /// Records that the session's sign-in included a biometric match of this modality (OpenID Connect's `amr`).
    pub async fn set_holder_session_biometric(
        &mut self,
        token_hash: &str,
        modality: Modality,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE holder_sessions SET biometric = $1 WHERE token_hash = $2")
            .bind(modality.as_str())
            .bind(token_hash)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Ends one session of a holder (sign-out); false when it was not live.
    pub async fn revoke_holder_session(
        &mut self,
        token_hash: &str,
        account: &AccountId,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.invalidates(crate::credentials::Kind::Holder);
        Ok(sqlx::query(
            "UPDATE holder_sessions SET revoked_at = $1 \
             WHERE token_hash = $2 AND account_id = $3 AND revoked_at IS NULL",
        )
        .bind(to_ms(at))
        .bind(token_hash)
        .bind(account.as_str())
        .execute(&mut *self.inner)
        .await?
        .rows_affected()
            == 1)
    }
}

impl Store {
    /// Uses up one try of an open challenge, atomically, and returns the code to compare with; `None` when there
    /// is no such challenge, it was consumed or voided, it has expired, or its tries are used up. Taking the try
    /// before comparing means parallel guesses can never get more than `max_attempts` comparisons.
    pub async fn take_holder_sign_in_attempt(
        &self,
        id: &str,
        now: DateTime<Utc>,
        max_attempts: i64,
    ) -> Result<Option<HolderSignInAttempt>, StoreError> {
        let mut tx = self.begin().await?;
        let taken = sqlx::query(
            "UPDATE holder_sign_ins SET attempts = attempts + 1 \
             WHERE id = $1 AND consumed_at IS NULL AND attempts < $2 AND expires_at > $3",
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
        let row = sqlx::query(
            "SELECT account_id, code_hash, attempts, expires_at, purpose, channel FROM holder_sign_ins WHERE id = $1",
        )
        .bind(id)
        .fetch_one(&mut *tx.inner)
        .await?;
        tx.commit().await?;
        Ok(Some(HolderSignInAttempt {
            account_id: AccountId::new(row.try_get(0)?),
            code_hash: row.try_get(1)?,
            attempts: row.try_get(2)?,
            expires_at: from_ms(row.try_get(3)?)?,
            purpose: SignInPurpose::parse(&row.try_get::<String, _>(4)?)
                .ok_or_else(|| StoreError::Corrupt("sign-in purpose".into()))?,
            channel: Channel::parse(&row.try_get::<String, _>(5)?)
                .ok_or_else(|| StoreError::Corrupt("sign-in channel".into()))?,
        }))
    }

    /// The contacts the holder proved, per channel: the SHA-256 of the destination a code reached.
    pub async fn verified_contacts(&self, account: &AccountId) -> Result<Vec<(Channel, String)>, StoreError> {
        let rows = sqlx::query("SELECT channel, destination_hash FROM contact_verifications WHERE account_id = $1")
            .bind(account.as_str())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let channel = Channel::parse(&row.try_get::<String, _>(0)?)
                    .ok_or_else(|| StoreError::Corrupt("verified contact channel".into()))?;
                Ok((channel, row.try_get(1)?))
            })
            .collect()
    }

    /// The account a challenge belongs to, open or not (for the audit record of a refused verification).
    pub async fn holder_sign_in_account(&self, id: &str) -> Result<Option<AccountId>, StoreError> {
        let row = sqlx::query("SELECT account_id FROM holder_sign_ins WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(AccountId::new(r.try_get(0)?))).transpose()
    }

    /// How many tries of a challenge are used (tests and diagnostics).
    pub async fn holder_sign_in_attempts(&self, id: &str) -> Result<Option<i64>, StoreError> {
        let row = sqlx::query("SELECT attempts FROM holder_sign_ins WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok(r.try_get(0)?)).transpose()
    }

    /// The account's failure counter, outside any transaction (the early check before the password hash).
    pub async fn holder_sign_in_failures(&self, account: &AccountId) -> Result<SignInFailures, StoreError> {
        let row = sqlx::query("SELECT failed_sign_ins, sign_in_locked_until FROM accounts WHERE id = $1")
            .bind(account.as_str())
            .fetch_optional(&self.pool)
            .await?;
        match row {
            Some(row) => failures_from(row.try_get(0)?, row.try_get(1)?),
            None => Ok(SignInFailures::default()),
        }
    }

    /// The holder of a live session (not revoked, not expired at `now`) with this SHA-256 hash. Locks are not
    /// checked here: placing a lock revokes the holder's sessions in the lock's own transaction, which holds the
    /// account row as the sign-in's does, and a session opened while a lock is in force (a Level 2 sign-in to ask
    /// for the holder's own unlock) is the lock engine's to allow.
    pub async fn holder_session_owner(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<HolderSessionOwner>, StoreError> {
        if let Some(owner) = self.credentials.holder_session(token_hash, now) {
            return Ok(Some(owner));
        }
        let ticket = self.credentials.ticket(crate::credentials::Kind::Holder);
        let row = sqlx::query(
            "SELECT s.account_id, s.assurance, a.status, s.expires_at, s.purpose \
             FROM holder_sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(to_ms(now))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let corrupt = |what: &str| StoreError::Corrupt(format!("holder session {what}"));
        let owner = HolderSessionOwner {
            account_id: AccountId::new(row.try_get(0)?),
            assurance: Level::from_number(row.try_get(1)?).ok_or_else(|| corrupt("assurance"))?,
            account_status: AccountStatus::parse(&row.try_get::<String, _>(2)?).ok_or_else(|| corrupt("status"))?,
            expires_at: from_ms(row.try_get(3)?)?,
            restore_only: row.try_get::<String, _>(4)? == RESTORE_SESSION,
        };
        self.credentials.put_holder_session(ticket, token_hash, &owner);
        Ok(Some(owner))
    }
}
