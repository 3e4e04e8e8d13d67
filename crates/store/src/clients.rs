//! Organizations' API clients, their credentials (JWKs and secret hashes), used client-assertion ids, and the
//! access tokens issued to them.

use dinhdanh_domain::actor::{OrganizationKind, OrganizationStatus};
use sqlx::Row;

use crate::time::from_ms;
use crate::{Store, StoreError};

/// Who an access token speaks for, with everything the server checks on every call.
#[derive(Debug, Clone)]
pub struct AccessTokenOwner {
    pub client_id: String,
    pub client_status: String,
    pub organization_id: String,
    pub organization_kind: OrganizationKind,
    pub organization_status: OrganizationStatus,
    /// Space-separated scopes granted to this token.
    pub scopes: String,
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl Store {
    /// The owner of the access token with this SHA-256 hash, if the token exists (expired or not).
    pub async fn access_token_owner(&self, token_hash: &str) -> Result<Option<AccessTokenOwner>, StoreError> {
        let row = sqlx::query(
            "SELECT t.client_id, c.status, c.organization_id, o.kind, o.status, t.scopes, t.expires_at \
             FROM access_tokens t JOIN api_clients c ON c.id = t.client_id JOIN organizations o ON o.id = c.organization_id \
             WHERE t.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let corrupt = |what: &str| StoreError::Corrupt(format!("access token {what}"));
        Ok(Some(AccessTokenOwner {
            client_id: row.try_get(0)?,
            client_status: row.try_get(1)?,
            organization_id: row.try_get(2)?,
            organization_kind: OrganizationKind::parse(&row.try_get::<String, _>(3)?).ok_or_else(|| corrupt("kind"))?,
            organization_status: OrganizationStatus::parse(&row.try_get::<String, _>(4)?)
                .ok_or_else(|| corrupt("status"))?,
            scopes: row.try_get(5)?,
            expires_at: from_ms(row.try_get(6)?)?,
        }))
    }
}
