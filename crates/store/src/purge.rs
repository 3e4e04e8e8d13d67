//! Forgetting rows whose time is over: expired holder and officer sessions, holders' sign-in challenges, access
//! tokens, the `jti`s of client assertions past their `exp`, idempotency keys past their retention, and the
//! OpenID Connect provider's short-lived rows (interactions, codes, access-token `jti`s, refresh tokens and
//! families, pushed requests). Grants and consents stay: they are the holder's history (five years, Decree 69
//! Art. 28). Each
//! kind goes in bounded batches ([`Store::purge_expired`]), one short transaction per batch, so a purge never
//! holds many rows nor one long transaction. Registrations never activated, and their decoys, are removed by
//! `Tx::delete_pending_created_by` and `Tx::delete_decoys_created_by` (accounts.rs, decoys.rs), because each
//! removed registration is audited.
//!
//! Nothing here decides whether a row is still good: every reader compares the expiry itself, so a row not yet
//! purged is refused like a missing one, and how often the purge runs changes no answer.

use chrono::{DateTime, Utc};

use crate::time::to_ms;
use crate::{Store, StoreError, Tx};

/// A kind of row that ends at a time of its own and is deleted without an audit entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Expired {
    HolderSessions,
    OfficerSessions,
    HolderSignIns,
    AccessTokens,
    ClientAssertions,
    /// Kept from their `created_at` for the retention the caller's cutoff says.
    IdempotencyKeys,
    /// The provider's sign-in pages' interactions (the browser's way from the authorization request to the code).
    OidcInteractions,
    /// Authorization codes, used or not, once past their 60 s (an expired code is refused whether or not it is
    /// still here; a used one presented again after its expiry is refused as unknown instead of as reuse).
    OidcCodes,
    /// Relying parties' access-token `jti`s once their JWTs have expired (a JWT past `exp` is refused anyway).
    OidcAccessTokens,
    /// Refresh tokens past their expiry, and families past their absolute lifetime.
    OidcRefreshTokens,
    OidcRefreshFamilies,
    /// Pushed authorization requests never taken.
    OidcPushedRequests,
}

impl Expired {
    pub const ALL: [Expired; 12] = [
        Self::HolderSessions,
        Self::OfficerSessions,
        Self::HolderSignIns,
        Self::AccessTokens,
        Self::ClientAssertions,
        Self::IdempotencyKeys,
        Self::OidcInteractions,
        Self::OidcCodes,
        Self::OidcAccessTokens,
        Self::OidcRefreshTokens,
        Self::OidcRefreshFamilies,
        Self::OidcPushedRequests,
    ];

    /// The table, which also names the kind in metrics and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HolderSessions => "holder_sessions",
            Self::OfficerSessions => "officer_sessions",
            Self::HolderSignIns => "holder_sign_ins",
            Self::AccessTokens => "access_tokens",
            Self::ClientAssertions => "client_assertions",
            Self::IdempotencyKeys => "idempotency_keys",
            Self::OidcInteractions => "oidc_interactions",
            Self::OidcCodes => "oidc_codes",
            Self::OidcAccessTokens => "oidc_access_tokens",
            Self::OidcRefreshTokens => "oidc_refresh_tokens",
            Self::OidcRefreshFamilies => "oidc_refresh_families",
            Self::OidcPushedRequests => "oidc_pushed_requests",
        }
    }

    /// The primary key's columns and the column the cutoff is compared with.
    fn key_and_time(self) -> (&'static str, &'static str) {
        match self {
            Self::HolderSessions | Self::OfficerSessions | Self::AccessTokens => ("token_hash", "expires_at"),
            Self::HolderSignIns => ("id", "expires_at"),
            Self::ClientAssertions => ("client_id, jti", "expires_at"),
            Self::IdempotencyKeys => ("scope, key", "created_at"),
            Self::OidcInteractions => ("id", "expires_at"),
            Self::OidcCodes | Self::OidcRefreshTokens | Self::OidcPushedRequests => ("hash", "expires_at"),
            Self::OidcAccessTokens => ("jti", "expires_at"),
            Self::OidcRefreshFamilies => ("grant_id", "expires_at"),
        }
    }
}

impl Tx {
    /// Deletes at most `limit` rows of `what` whose time is at or before `cutoff` (migration 0011 indexes
    /// those columns); returns how many.
    pub async fn purge_expired(&mut self, what: Expired, cutoff: DateTime<Utc>, limit: i64) -> Result<u64, StoreError> {
        let table = what.as_str();
        let (key, time) = what.key_and_time();
        // A row value on the left, so that a key of two columns reads like one (both dialects accept it).
        let sql =
            format!("DELETE FROM {table} WHERE ({key}) IN (SELECT {key} FROM {table} WHERE {time} <= $1 LIMIT $2)");
        Ok(sqlx::query(&sql).bind(to_ms(cutoff)).bind(limit).execute(&mut *self.inner).await?.rows_affected())
    }
}

impl Store {
    /// Deletes every row of `what` whose time is at or before `cutoff`, `batch` rows per transaction (each run
    /// again if it loses a race, as [`Store::retrying`] does); returns how many.
    pub async fn purge_expired(&self, what: Expired, cutoff: DateTime<Utc>, batch: i64) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let deleted = self
                .retrying(|| async {
                    let mut tx = self.begin().await?;
                    let deleted = tx.purge_expired(what, cutoff, batch).await?;
                    tx.commit().await?;
                    Ok::<_, StoreError>(deleted)
                })
                .await?;
            total += deleted;
            if deleted < batch as u64 {
                return Ok(total);
            }
        }
    }
}
