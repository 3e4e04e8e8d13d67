//! The OpenID Connect provider's rows (migration 0014): signing keys (sealed by the server: [`OidcKeyRow`]), the
//! pairwise-subject salt, relying parties' registrations, the sign-in pages' interactions, grants with their codes
//! and access-token `jti`s, and remembered consents. The rules are `dinhdanh_oidc`'s; this module only reads and
//! writes what it decides.
//!
//! A grant is live while it is not revoked, its account is active, and **no lock has taken effect on the account
//! since the grant was made** (lifted or not: tokens issued before a lock stay dead after it is lifted), nor is
//! one in force. [`Tx::live_oidc_grant`] and [`Store::oidc_access_token_grant`] read that from the `locks` rows
//! themselves, so the commit of whatever transaction placed a lock — the lock engine, a bulk order, an
//! automatic lock — makes the grant's code, access tokens and refresh family useless, without a second
//! revocation path for the lock engine to remember; and a holder's sign-out or an RP-initiated logout, which end
//! the browser's session, leave the relying parties' grants alone. The grant still records the holder session
//! it came from.
//!
//! Introspection and userinfo ask [`Store::oidc_access_token_grant`] on every call, so its answer for a live
//! token is kept in the credential cache (`credentials.rs`) under the `Grants` kind, which every transaction that
//! can make a live token dead marks in the very method that writes the SQL: [`Tx::revoke_oidc_grant`] (and so
//! [`Tx::revoke_oidc_grants_of`]), [`Tx::revoke_oidc_access_token`], `Tx::insert_lock` and
//! `Tx::apply_bulk_order` (every lock, whatever placed it), `Tx::update_account_status` (to anything but
//! active). Nothing else the liveness SQL ([`LIVE_GRANT`]) reads can turn a live token dead by a commit: grants
//! and `jti`s are only inserted besides, a lift only ever removes a reason to be dead, accounts are deleted only
//! while pending. What the clock alone can turn dead is bounded on the entry itself: the token's expiry, and the
//! moment a lock already stored takes effect (an `effective_at` still ahead of the reader's clock).

use std::sync::Arc;

use chrono::{DateTime, Utc};
use dinhdanh_domain::biometrics::Modality;
use dinhdanh_domain::{AccountId, AccountStatus, Level};
use dinhdanh_oidc::authorize::{AuthorizationRequest, PushedRequest};
use dinhdanh_oidc::client::ClientRegistration;
use dinhdanh_oidc::consent::Consent;
use dinhdanh_oidc::keys::KeyState;
use dinhdanh_oidc::tokens::{AuthorizationCode, Grant, RefreshFamily, RefreshToken};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Row;

use crate::credentials::Kind;
use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

/// Every state a key row may hold (migration 0014's CHECK is compared with it).
pub const KEY_STATES: [KeyState; 3] = [KeyState::Next, KeyState::Current, KeyState::Retired];

/// The settings row that key-set changes hold (see [`Tx::hold_oidc_keys`]).
const KEYS_LOCK: &str = "keys_lock";
/// The settings row of the pairwise-subject salt (base64).
pub const SUBJECT_SALT: &str = "subject_salt";

fn to_json<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt(format!("cannot serialise: {e}")))
}

fn from_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

fn key_state(s: &str) -> Result<KeyState, StoreError> {
    KEY_STATES.into_iter().find(|k| k.as_str() == s).ok_or_else(|| StoreError::Corrupt(format!("key state {s:?}")))
}

fn key_from_row(row: &sqlx::any::AnyRow) -> Result<OidcKeyRow, StoreError> {
    let opt = |i: usize| -> Result<Option<DateTime<Utc>>, StoreError> {
        row.try_get::<Option<i64>, _>(i)?.map(from_ms).transpose()
    };
    Ok(OidcKeyRow {
        kid: row.try_get(0)?,
        state: key_state(&row.try_get::<String, _>(1)?)?,
        created_at: from_ms(row.try_get(2)?)?,
        activated_at: opt(3)?,
        retire_after: opt(4)?,
        private_key: row.try_get(5)?,
    })
}

const KEY_COLUMNS: &str = "kid, state, created_at, activated_at, retire_after, private_key";

/// One signing key's row: `dinhdanh_oidc::keys::StoredKey` with the private key as the server stores it, sealed
/// (`v1:` + base64, `dinhdanh_server::sealing`, the `kid` bound in as associated data) or, in rows written before
/// keys were sealed, base64 of the PKCS#8 DER. This module never sees the key itself. `Debug` omits it.
#[derive(Clone, PartialEq, Eq)]
pub struct OidcKeyRow {
    pub kid: String,
    pub state: KeyState,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
    pub retire_after: Option<DateTime<Utc>>,
    pub private_key: String,
}

impl std::fmt::Debug for OidcKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcKeyRow")
            .field("kid", &self.kid)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("activated_at", &self.activated_at)
            .field("retire_after", &self.retire_after)
            .finish_non_exhaustive()
    }
}

/// A browser's way through the sign-in pages, as stored.
#[derive(Debug, Clone)]
pub struct OidcInteraction {
    pub id: String,
    pub request: AuthorizationRequest,
    pub csrf_hash: String,
    /// The holder sign-in challenge, once the password step passed.
    pub sign_in_id: Option<String>,
    pub expires_at: DateTime<Utc>,
}

/// One sign-in of a holder to a relying party, for the holder's own history.
#[derive(Debug, Clone)]
pub struct OidcSignIn {
    pub client_id: String,
    /// The API client's name.
    pub client_name: String,
    pub organization_name: String,
    pub at: DateTime<Utc>,
    pub grant: Grant,
}

/// The browser's session at the provider: a holder session, with what the authorization endpoint needs.
#[derive(Debug, Clone)]
pub struct ProviderSessionRow {
    pub account_id: AccountId,
    pub assurance: Level,
    /// When its sign-in completed (`auth_time`).
    pub created_at: DateTime<Utc>,
    pub restore_only: bool,
    pub account_status: AccountStatus,
    /// The account's level (what a biometric match would add to this sign-in).
    pub account_level: Level,
    /// The biometric match its sign-in included, if any (`finger` or `face`).
    pub biometric: Option<Modality>,
}

/// What [`Store::oidc_access_token_grant`] answers for a live access token, as the credential cache keeps it.
#[derive(Debug)]
pub(crate) struct LiveAccessToken {
    pub(crate) grant: Grant,
    pub(crate) scopes: String,
}

/// A stored code with the holder session its grant came from.
#[derive(Debug, Clone)]
pub struct StoredCode {
    pub code: AuthorizationCode,
    pub holder_session: String,
}

impl Tx {
    /// Holds the provider's key set for the rest of the transaction (creating the row it queues on), so that two
    /// nodes starting at once, or a rotation beside a start, make one consistent set.
    pub async fn hold_oidc_keys(&mut self) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO oidc_settings (name, value) VALUES ($1, '') ON CONFLICT (name) DO NOTHING")
            .bind(KEYS_LOCK)
            .execute(&mut *self.inner)
            .await?;
        sqlx::query("UPDATE oidc_settings SET value = value WHERE name = $1")
            .bind(KEYS_LOCK)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// The key rows as this transaction sees them (after [`Tx::hold_oidc_keys`], as they stay until it ends).
    pub async fn oidc_keys(&mut self) -> Result<Vec<OidcKeyRow>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM oidc_keys ORDER BY created_at, kid"))
            .fetch_all(&mut *self.inner)
            .await?;
        rows.iter().map(key_from_row).collect()
    }

    /// Replaces the stored key set with `keys` (after a rotation or a prune; call [`Tx::hold_oidc_keys`] first).
    /// Its commit drops the keys every node keeps in memory ([`Store::oidc_keys`]).
    pub async fn replace_oidc_keys(&mut self, keys: &[OidcKeyRow]) -> Result<(), StoreError> {
        self.invalidates(Kind::SigningKeys);
        sqlx::query("DELETE FROM oidc_keys").execute(&mut *self.inner).await?;
        for key in keys {
            sqlx::query(&format!("INSERT INTO oidc_keys ({KEY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"))
                .bind(&key.kid)
                .bind(key.state.as_str())
                .bind(to_ms(key.created_at))
                .bind(key.activated_at.map(to_ms))
                .bind(key.retire_after.map(to_ms))
                .bind(&key.private_key)
                .execute(&mut *self.inner)
                .await?;
        }
        Ok(())
    }

    pub async fn oidc_setting(&mut self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM oidc_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *self.inner)
            .await?)
    }

    /// Writes a setting once; an existing value is kept (the salt is never changed).
    pub async fn insert_oidc_setting(&mut self, name: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO oidc_settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(value)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Saves a relying party's registration (validated by the caller), replacing an earlier one. Its commit
    /// drops the registration every node keeps in memory ([`Store::oidc_client`]).
    pub async fn upsert_oidc_client(
        &mut self,
        registration: &ClientRegistration,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        self.invalidates(Kind::Organization);
        sqlx::query(
            "INSERT INTO oidc_clients (client_id, registration, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (client_id) DO UPDATE SET registration = excluded.registration, updated_at = excluded.updated_at",
        )
        .bind(&registration.client_id)
        .bind(to_json(registration)?)
        .bind(to_ms(now))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    pub async fn insert_oidc_interaction(
        &mut self,
        interaction: &OidcInteraction,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_interactions (id, request, csrf_hash, sign_in_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&interaction.id)
        .bind(to_json(&interaction.request)?)
        .bind(&interaction.csrf_hash)
        .bind(&interaction.sign_in_id)
        .bind(to_ms(now))
        .bind(to_ms(interaction.expires_at))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    pub async fn set_oidc_interaction_sign_in(&mut self, id: &str, sign_in_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE oidc_interactions SET sign_in_id = $1 WHERE id = $2")
            .bind(sign_in_id)
            .bind(id)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Ends an interaction (its code was issued, or it was refused): its forms no longer work.
    pub async fn delete_oidc_interaction(&mut self, id: &str) -> Result<bool, StoreError> {
        Ok(sqlx::query("DELETE FROM oidc_interactions WHERE id = $1")
            .bind(id)
            .execute(&mut *self.inner)
            .await?
            .rows_affected()
            == 1)
    }

    /// A new grant, from the holder session (its token hash) whose sign-in made it.
    pub async fn insert_oidc_grant(
        &mut self,
        grant: &Grant,
        holder_session: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_grants (id, client_id, account_id, holder_session, grant_data, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&grant.id)
        .bind(&grant.client_id)
        .bind(grant.account_id.as_str())
        .bind(holder_session)
        .bind(to_json(grant)?)
        .bind(to_ms(now))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    pub async fn insert_oidc_code(&mut self, code: &AuthorizationCode) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO oidc_codes (hash, grant_id, code_data, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(&code.hash)
            .bind(&code.grant.id)
            .bind(to_json(code)?)
            .bind(to_ms(code.expires_at))
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// A code by its hash, with `used_at` as stored now.
    pub async fn oidc_code(&mut self, hash: &str) -> Result<Option<StoredCode>, StoreError> {
        let row = sqlx::query(
            "SELECT c.code_data, c.used_at, g.holder_session FROM oidc_codes c JOIN oidc_grants g ON g.id = c.grant_id \
             WHERE c.hash = $1",
        )
        .bind(hash)
        .fetch_optional(&mut *self.inner)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut code: AuthorizationCode = from_json("authorization code", &row.try_get::<String, _>(0)?)?;
        code.used_at = row.try_get::<Option<i64>, _>(1)?.map(from_ms).transpose()?;
        Ok(Some(StoredCode { code, holder_session: row.try_get(2)? }))
    }

    /// Marks a code used; false when another exchange marked it first (that one won, this one is reuse).
    pub async fn mark_oidc_code_used(&mut self, hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(sqlx::query("UPDATE oidc_codes SET used_at = $1 WHERE hash = $2 AND used_at IS NULL")
            .bind(to_ms(now))
            .bind(hash)
            .execute(&mut *self.inner)
            .await?
            .rows_affected()
            == 1)
    }

    /// Starts a grant's refresh family with its first token.
    pub async fn insert_oidc_refresh_family(
        &mut self,
        family: &RefreshFamily,
        first: &RefreshToken,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_refresh_families (grant_id, family_data, expires_at, revoked_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(&family.grant.id)
        .bind(to_json(family)?)
        .bind(to_ms(family.expires_at))
        .bind(family.revoked_at.map(to_ms))
        .execute(&mut *self.inner)
        .await?;
        self.insert_oidc_refresh_token(first).await
    }

    pub async fn insert_oidc_refresh_token(&mut self, token: &RefreshToken) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_refresh_tokens (hash, grant_id, issued_at, expires_at, used_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token.hash)
        .bind(&token.family)
        .bind(to_ms(token.issued_at))
        .bind(to_ms(token.expires_at))
        .bind(token.used_at.map(to_ms))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// A refresh token by its hash, with its family (its `revoked_at` as stored now).
    pub async fn oidc_refresh_token(
        &mut self,
        hash: &str,
    ) -> Result<Option<(RefreshFamily, RefreshToken)>, StoreError> {
        refresh_token_row(&mut *self.inner, hash).await
    }

    /// Marks a refresh token rotated; false when another request rotated it first (this one is then reuse).
    pub async fn mark_oidc_refresh_token_used(&mut self, hash: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(sqlx::query("UPDATE oidc_refresh_tokens SET used_at = $1 WHERE hash = $2 AND used_at IS NULL")
            .bind(to_ms(now))
            .bind(hash)
            .execute(&mut *self.inner)
            .await?
            .rows_affected()
            == 1)
    }

    /// Revokes a grant: its refresh family and every access token issued from it (dropped from memory at the
    /// commit: the `Grants` kind).
    pub async fn revoke_oidc_grant(&mut self, grant_id: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.invalidates(Kind::Grants);
        sqlx::query("UPDATE oidc_refresh_families SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL")
            .bind(to_ms(now))
            .bind(grant_id)
            .execute(&mut *self.inner)
            .await?;
        sqlx::query("UPDATE oidc_grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
            .bind(to_ms(now))
            .bind(grant_id)
            .execute(&mut *self.inner)
            .await?;
        sqlx::query("UPDATE oidc_access_tokens SET revoked_at = $1 WHERE grant_id = $2 AND revoked_at IS NULL")
            .bind(to_ms(now))
            .bind(grant_id)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Revokes one access token (RFC 7009 revocation by its client); dropped from memory at the commit.
    pub async fn revoke_oidc_access_token(&mut self, jti: &str, now: DateTime<Utc>) -> Result<(), StoreError> {
        self.invalidates(Kind::Grants);
        sqlx::query("UPDATE oidc_access_tokens SET revoked_at = $1 WHERE jti = $2 AND revoked_at IS NULL")
            .bind(to_ms(now))
            .bind(jti)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Stores a pushed authorization request under the hash of its `request_uri`.
    pub async fn insert_oidc_pushed_request(&mut self, hash: &str, pushed: &PushedRequest) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_pushed_requests (hash, client_id, request_data, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(hash)
        .bind(&pushed.client_id)
        .bind(to_json(pushed)?)
        .bind(to_ms(pushed.expires_at))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }

    /// Takes a pushed request: it is deleted, so its `request_uri` serves once (expired or not; the caller
    /// checks the expiry).
    pub async fn take_oidc_pushed_request(&mut self, hash: &str) -> Result<Option<PushedRequest>, StoreError> {
        let text: Option<String> = sqlx::query_scalar("SELECT request_data FROM oidc_pushed_requests WHERE hash = $1")
            .bind(hash)
            .fetch_optional(&mut *self.inner)
            .await?;
        let Some(text) = text else { return Ok(None) };
        let deleted = sqlx::query("DELETE FROM oidc_pushed_requests WHERE hash = $1")
            .bind(hash)
            .execute(&mut *self.inner)
            .await?
            .rows_affected();
        // Taken by a concurrent request between the two statements: it served that one.
        if deleted == 0 {
            return Ok(None);
        }
        Ok(Some(from_json("pushed request", &text)?))
    }

    /// Whether a grant can still be used at `now`: not revoked, its account active, no lock taken effect since it
    /// was made nor in force (see the module docs).
    pub async fn live_oidc_grant(&mut self, grant_id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        grant_is_live(&mut *self.inner, grant_id, now).await
    }

    pub async fn insert_oidc_access_token(
        &mut self,
        jti: &str,
        grant_id: &str,
        scopes: &str,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO oidc_access_tokens (jti, grant_id, scopes, expires_at) VALUES ($1, $2, $3, $4)")
            .bind(jti)
            .bind(grant_id)
            .bind(scopes)
            .bind(to_ms(expires_at))
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Revokes every grant of a holder to a client — their codes, access tokens and refresh families (a
    /// withdrawn consent). Returns how many grants were live.
    pub async fn revoke_oidc_grants_of(
        &mut self,
        account: &AccountId,
        client_id: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        // Each revocation marks it too; marked here as well, so no way through this method can forget.
        self.invalidates(Kind::Grants);
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM oidc_grants WHERE account_id = $1 AND client_id = $2 AND revoked_at IS NULL ORDER BY id",
        )
        .bind(account.as_str())
        .bind(client_id)
        .fetch_all(&mut *self.inner)
        .await?;
        for id in &ids {
            self.revoke_oidc_grant(id, now).await?;
        }
        Ok(ids.len() as u64)
    }

    /// The holder's remembered consent for a client, read in the transaction that merges a new one into it.
    pub async fn oidc_consent_tx(
        &mut self,
        account: &AccountId,
        client_id: &str,
    ) -> Result<Option<Consent>, StoreError> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT consent_data FROM oidc_consents WHERE account_id = $1 AND client_id = $2")
                .bind(account.as_str())
                .bind(client_id)
                .fetch_optional(&mut *self.inner)
                .await?;
        text.map(|t| from_json("consent", &t)).transpose()
    }

    pub async fn upsert_oidc_consent(&mut self, consent: &Consent) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO oidc_consents (account_id, client_id, consent_data, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (account_id, client_id) DO UPDATE SET consent_data = excluded.consent_data, \
             granted_at = excluded.granted_at",
        )
        .bind(consent.account_id.as_str())
        .bind(&consent.client_id)
        .bind(to_json(consent)?)
        .bind(to_ms(consent.granted_at))
        .execute(&mut *self.inner)
        .await?;
        Ok(())
    }
}

/// The conditions of a live grant `g` of account `a` at `$2` (see the module docs). What a commit can change
/// here from live to dead marks the `Grants` kind (see the module docs); change this, and check those marks.
const LIVE_GRANT: &str = "g.revoked_at IS NULL AND a.status = 'active' AND NOT EXISTS (SELECT 1 FROM locks l \
     WHERE l.account_id = g.account_id AND l.effective_at <= $2 AND (l.effective_at >= g.created_at \
     OR (l.lifted_at IS NULL AND (l.ends_at IS NULL OR l.ends_at > $2))))";

/// A refresh token by its hash, with its family (its `revoked_at` as stored now): in a transaction, or on the pool
/// for a read that must not take the writer's lock (introspection).
async fn refresh_token_row<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    hash: &str,
) -> Result<Option<(RefreshFamily, RefreshToken)>, StoreError> {
    let row = sqlx::query(
        "SELECT f.family_data, f.revoked_at, t.grant_id, t.issued_at, t.expires_at, t.used_at \
         FROM oidc_refresh_tokens t JOIN oidc_refresh_families f ON f.grant_id = t.grant_id WHERE t.hash = $1",
    )
    .bind(hash)
    .fetch_optional(executor)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let mut family: RefreshFamily = from_json("refresh family", &row.try_get::<String, _>(0)?)?;
    family.revoked_at = row.try_get::<Option<i64>, _>(1)?.map(from_ms).transpose()?;
    let token = RefreshToken {
        hash: hash.to_owned(),
        family: row.try_get(2)?,
        issued_at: from_ms(row.try_get(3)?)?,
        expires_at: from_ms(row.try_get(4)?)?,
        used_at: row.try_get::<Option<i64>, _>(5)?.map(from_ms).transpose()?,
    };
    Ok(Some((family, token)))
}

/// Whether a grant is live at `now` ([`LIVE_GRANT`]), in a transaction or on the pool.
async fn grant_is_live<'e, E: sqlx::Executor<'e, Database = sqlx::Any>>(
    executor: E,
    grant_id: &str,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let count: i64 = sqlx::query_scalar(&format!(
        "SELECT CAST(COUNT(*) AS BIGINT) FROM oidc_grants g JOIN accounts a ON a.id = g.account_id \
         WHERE g.id = $1 AND {LIVE_GRANT}"
    ))
    .bind(grant_id)
    .bind(to_ms(now))
    .fetch_one(executor)
    .await?;
    Ok(count == 1)
}

impl Store {
    /// A refresh token and its family, read without a transaction (introspection: a read that must not queue
    /// behind the writer).
    pub async fn oidc_refresh_token(&self, hash: &str) -> Result<Option<(RefreshFamily, RefreshToken)>, StoreError> {
        refresh_token_row(&self.pool, hash).await
    }

    /// The holder session (its token hash) whose sign-in made the grant behind an authorization code, whether or
    /// not the code was used: the built-in portal (`service::portal`) is signed in by the session that signed in
    /// at the provider, after it has redeemed the code like any relying party.
    pub async fn oidc_code_holder_session(&self, code_hash: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT g.holder_session FROM oidc_codes c JOIN oidc_grants g ON g.id = c.grant_id WHERE c.hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Whether a grant is live at `now`, read without a transaction.
    pub async fn live_oidc_grant(&self, grant_id: &str, now: DateTime<Utc>) -> Result<bool, StoreError> {
        grant_is_live(&self.pool, grant_id, now).await
    }

    /// The signing keys' rows, from memory while no committed [`Tx::replace_oidc_keys`] of any process or node
    /// changed them (the credential cache's `SigningKeys` kind, `credentials.rs`), so the server signs and
    /// verifies without a query. The same `Arc` comes back until they change: what a caller derived from it
    /// (the server's opened key set) stays good while the address does.
    pub async fn oidc_keys(&self) -> Result<Arc<Vec<OidcKeyRow>>, StoreError> {
        if let Some(rows) = self.credentials.signing_keys() {
            return Ok(rows);
        }
        let ticket = self.credentials.ticket(Kind::SigningKeys);
        let rows = sqlx::query(&format!("SELECT {KEY_COLUMNS} FROM oidc_keys ORDER BY created_at, kid"))
            .fetch_all(&self.pool)
            .await?;
        let rows = Arc::new(rows.iter().map(key_from_row).collect::<Result<Vec<_>, _>>()?);
        self.credentials.put_signing_keys(ticket, &rows);
        Ok(rows)
    }

    pub async fn oidc_setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT value FROM oidc_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// A relying party's registration by its API client id, from memory while no committed
    /// [`Tx::upsert_oidc_client`] nor any other change of the `Organization` kind (a client revoked, an
    /// organization suspended, …) of any process or node followed (`credentials.rs`). A client without a
    /// registration is not remembered.
    pub async fn oidc_client(&self, client_id: &str) -> Result<Option<ClientRegistration>, StoreError> {
        if let Some(found) = self.credentials.oidc_client(client_id) {
            return Ok(Some((*found).clone()));
        }
        let ticket = self.credentials.ticket(Kind::Organization);
        let text: Option<String> = sqlx::query_scalar("SELECT registration FROM oidc_clients WHERE client_id = $1")
            .bind(client_id)
            .fetch_optional(&self.pool)
            .await?;
        let Some(text) = text else { return Ok(None) };
        let found: Arc<ClientRegistration> = Arc::new(from_json("client registration", &text)?);
        self.credentials.put_oidc_client(ticket, client_id, &found);
        Ok(Some((*found).clone()))
    }

    /// An interaction that has not expired at `now`.
    pub async fn oidc_interaction(&self, id: &str, now: DateTime<Utc>) -> Result<Option<OidcInteraction>, StoreError> {
        let row = sqlx::query(
            "SELECT request, csrf_hash, sign_in_id, expires_at FROM oidc_interactions WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(to_ms(now))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(OidcInteraction {
            id: id.to_owned(),
            request: from_json("authorization request", &row.try_get::<String, _>(0)?)?,
            csrf_hash: row.try_get(1)?,
            sign_in_id: row.try_get(2)?,
            expires_at: from_ms(row.try_get(3)?)?,
        }))
    }

    /// The provider session behind a browser's session cookie: a live holder session.
    pub async fn oidc_provider_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<ProviderSessionRow>, StoreError> {
        let row = sqlx::query(
            "SELECT s.account_id, s.assurance, s.created_at, s.purpose, a.status, a.level, s.biometric \
             FROM holder_sessions s JOIN accounts a ON a.id = s.account_id \
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2",
        )
        .bind(token_hash)
        .bind(to_ms(now))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let corrupt = |what: &str| StoreError::Corrupt(format!("holder session {what}"));
        Ok(Some(ProviderSessionRow {
            account_id: AccountId::new(row.try_get(0)?),
            assurance: Level::from_number(row.try_get(1)?).ok_or_else(|| corrupt("assurance"))?,
            created_at: from_ms(row.try_get(2)?)?,
            restore_only: row.try_get::<String, _>(3)? == "restore",
            account_status: AccountStatus::parse(&row.try_get::<String, _>(4)?).ok_or_else(|| corrupt("status"))?,
            account_level: Level::from_number(row.try_get(5)?).ok_or_else(|| corrupt("account level"))?,
            biometric: match row.try_get::<Option<String>, _>(6)? {
                None => None,
                Some(text) => Some(Modality::parse(&text).ok_or_else(|| corrupt("biometric"))?),
            },
        }))
    }

    /// The relying parties a holder signed in to, newest first (each grant is one sign-in to one client).
    pub async fn oidc_sign_ins(&self, account: &AccountId, limit: i64) -> Result<Vec<OidcSignIn>, StoreError> {
        let rows = sqlx::query(
            "SELECT g.client_id, c.name, o.name, g.created_at, g.grant_data FROM oidc_grants g \
             JOIN api_clients c ON c.id = g.client_id JOIN organizations o ON o.id = c.organization_id \
             WHERE g.account_id = $1 ORDER BY g.created_at DESC, g.id LIMIT $2",
        )
        .bind(account.as_str())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(OidcSignIn {
                    client_id: row.try_get(0)?,
                    client_name: row.try_get(1)?,
                    organization_name: row.try_get(2)?,
                    at: from_ms(row.try_get(3)?)?,
                    grant: from_json("grant", &row.try_get::<String, _>(4)?)?,
                })
            })
            .collect()
    }

    /// The holder's live consents, with each client's name, newest first.
    pub async fn oidc_consents(&self, account: &AccountId) -> Result<Vec<(Consent, String)>, StoreError> {
        let rows = sqlx::query(
            "SELECT k.consent_data, c.name FROM oidc_consents k JOIN api_clients c ON c.id = k.client_id \
             WHERE k.account_id = $1 ORDER BY k.granted_at DESC, k.client_id",
        )
        .bind(account.as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::new();
        for row in &rows {
            let consent: Consent = from_json("consent", &row.try_get::<String, _>(0)?)?;
            if consent.is_live() {
                out.push((consent, row.try_get(1)?));
            }
        }
        Ok(out)
    }

    /// The holder's remembered consent for a client.
    pub async fn oidc_consent(&self, account: &AccountId, client_id: &str) -> Result<Option<Consent>, StoreError> {
        let text: Option<String> =
            sqlx::query_scalar("SELECT consent_data FROM oidc_consents WHERE account_id = $1 AND client_id = $2")
                .bind(account.as_str())
                .bind(client_id)
                .fetch_optional(&self.pool)
                .await?;
        text.map(|t| from_json("consent", &t)).transpose()
    }

    /// The grant and scopes of a live access token: the `jti` known, not revoked, not expired at `now`, and its
    /// grant live (see [`Tx::live_oidc_grant`]). A live answer is kept in memory under the `Grants` kind (see the
    /// module docs), so the commit of a lock, a revocation or a status change — of any process or node — is seen
    /// by the next call; a dead or unknown `jti` is read from the database every time.
    pub async fn oidc_access_token_grant(
        &self,
        jti: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Grant, String)>, StoreError> {
        if let Some(live) = self.credentials.live_access_token(jti, now) {
            return Ok(Some((live.grant.clone(), live.scopes.clone())));
        }
        let ticket = self.credentials.ticket(Kind::Grants);
        // The first lock of the account still to take effect after `now` (lifted or not: LIVE_GRANT counts a lock
        // from its `effective_at` either way) ends the answer's time in memory, as the token's expiry does.
        let row = sqlx::query(&format!(
            "SELECT g.grant_data, t.scopes, t.expires_at, \
             (SELECT MIN(l.effective_at) FROM locks l WHERE l.account_id = g.account_id AND l.effective_at > $2) \
             FROM oidc_access_tokens t \
             JOIN oidc_grants g ON g.id = t.grant_id JOIN accounts a ON a.id = g.account_id \
             WHERE t.jti = $1 AND t.revoked_at IS NULL AND t.expires_at > $2 AND {LIVE_GRANT}"
        ))
        .bind(jti)
        .bind(to_ms(now))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let live = Arc::new(LiveAccessToken {
            grant: from_json("grant", &row.try_get::<String, _>(0)?)?,
            scopes: row.try_get(1)?,
        });
        let expires_at = from_ms(row.try_get(2)?)?;
        let until = match row.try_get::<Option<i64>, _>(3)?.map(from_ms).transpose()? {
            Some(next_lock) => next_lock.min(expires_at),
            None => expires_at,
        };
        self.credentials.put_live_access_token(ticket, jti, until, &live);
        Ok(Some((live.grant.clone(), live.scopes.clone())))
    }
}
