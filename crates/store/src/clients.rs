//! Organizations' API clients, their credentials (JWKs and secret hashes), used client-assertion ids, and the
//! access tokens issued to them.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use dinhdanh_domain::actor::{OrganizationKind, OrganizationStatus, Scope, format_scopes, parse_scopes};
use dinhdanh_domain::client::{ApiClient, ClientAuthMethod, ClientCredential, ClientStatus, CredentialKind};
use dinhdanh_domain::organization::Organization;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::credentials::Kind;
use crate::time::{from_ms, to_ms};
use crate::{Store, StoreError, Tx};

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
    /// `now` only decides whether a cached answer is still worth keeping: an expired token is answered all the same.
    pub async fn access_token_owner(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AccessTokenOwner>, StoreError> {
        if let Some(owner) = self.credentials.access_token(token_hash, now) {
            return Ok(Some(owner));
        }
        let ticket = self.credentials.ticket(Kind::Organization);
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
        let owner = AccessTokenOwner {
            client_id: row.try_get(0)?,
            client_status: row.try_get(1)?,
            organization_id: row.try_get(2)?,
            organization_kind: OrganizationKind::parse(&row.try_get::<String, _>(3)?).ok_or_else(|| corrupt("kind"))?,
            organization_status: OrganizationStatus::parse(&row.try_get::<String, _>(4)?)
                .ok_or_else(|| corrupt("status"))?,
            scopes: row.try_get(5)?,
            expires_at: from_ms(row.try_get(6)?)?,
        };
        self.credentials.put_access_token(ticket, token_hash, &owner);
        Ok(Some(owner))
    }
}

/// An access token to store ([`Tx::insert_access_tokens`]).
#[derive(Debug, Clone, Copy)]
pub struct NewAccessToken<'a> {
    pub token_hash: &'a str,
    pub client_id: &'a str,
    pub scopes: &'a BTreeSet<Scope>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// What the token endpoint checks a request against: the client, its organization and its live credentials.
#[derive(Debug, Clone)]
pub struct ClientForToken {
    pub client: ApiClient,
    pub organization: Organization,
    /// Live credentials only, oldest first.
    pub credentials: Vec<ClientCredential>,
}

impl Store {
    /// The client `id` with its organization and live credentials, answered from the credential cache once
    /// seen (a revocation, a suspension or a credential change drops it at its commit).
    pub async fn client_for_token(&self, id: &str) -> Result<Option<ClientForToken>, StoreError> {
        if let Some(found) = self.credentials.token_client(id) {
            return Ok(Some(found));
        }
        let ticket = self.credentials.ticket(Kind::Organization);
        let Some(client) = self.api_client(id).await? else { return Ok(None) };
        let Some(organization) = self.organization(&client.organization_id).await? else {
            return Err(StoreError::Corrupt(format!("client {id} without its organization")));
        };
        let credentials = self.client_credentials(id).await?.into_iter().filter(ClientCredential::is_live).collect();
        let found = ClientForToken { client, organization, credentials };
        self.credentials.put_token_client(ticket, id, &found);
        Ok(Some(found))
    }
}

const CLIENT_COLUMNS: &str = "id, organization_id, name, auth_method, scopes, status, created_at, revoked_at";
const CREDENTIAL_COLUMNS: &str = "id, client_id, kind, key_id, material, created_at, revoked_at";

fn client_from_row(row: &AnyRow) -> Result<ApiClient, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("api client {what}"));
    Ok(ApiClient {
        id: row.try_get("id")?,
        organization_id: row.try_get("organization_id")?,
        name: row.try_get("name")?,
        auth_method: ClientAuthMethod::parse(&row.try_get::<String, _>("auth_method")?)
            .ok_or_else(|| corrupt("auth method"))?,
        scopes: parse_scopes(&row.try_get::<String, _>("scopes")?).map_err(|_| corrupt("scopes"))?,
        status: ClientStatus::parse(&row.try_get::<String, _>("status")?).ok_or_else(|| corrupt("status"))?,
        created_at: from_ms(row.try_get("created_at")?)?,
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_ms).transpose()?,
    })
}

fn credential_from_row(row: &AnyRow) -> Result<ClientCredential, StoreError> {
    Ok(ClientCredential {
        id: row.try_get("id")?,
        client_id: row.try_get("client_id")?,
        kind: CredentialKind::parse(&row.try_get::<String, _>("kind")?)
            .ok_or_else(|| StoreError::Corrupt("client credential kind".into()))?,
        key_id: row.try_get("key_id")?,
        material: row.try_get("material")?,
        created_at: from_ms(row.try_get("created_at")?)?,
        revoked_at: row.try_get::<Option<i64>, _>("revoked_at")?.map(from_ms).transpose()?,
    })
}

impl Tx {
    pub async fn insert_api_client(&mut self, client: &ApiClient) -> Result<(), StoreError> {
        sqlx::query(&format!("INSERT INTO api_clients ({CLIENT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"))
            .bind(&client.id)
            .bind(&client.organization_id)
            .bind(&client.name)
            .bind(client.auth_method.as_str())
            .bind(format_scopes(&client.scopes))
            .bind(client.status.as_str())
            .bind(to_ms(client.created_at))
            .bind(client.revoked_at.map(to_ms))
            .execute(&mut *self.inner)
            .await
            .map_err(|e| StoreError::conflict_or(e, "an API client with this id"))?;
        Ok(())
    }

    /// Reads a client and keeps it from changing until the transaction ends, without keeping other readers out:
    /// token issuance takes this, so that a revocation ([`Tx::lock_api_client`]) waits for the tokens being issued
    /// and they for it (a token is issued before the revocation, which deletes it, or not at all), while tokens of
    /// one client are issued side by side. PostgreSQL: `FOR SHARE`; SQLite has one writer at a time anyway.
    pub async fn share_api_client(&mut self, id: &str) -> Result<Option<ApiClient>, StoreError> {
        let share = if self.inner.backend_name().eq_ignore_ascii_case("postgresql") { " FOR SHARE" } else { "" };
        let row = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM api_clients WHERE id = $1{share}"))
            .bind(id)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    /// Reads a client and holds its row until the transaction ends, so that credential changes and revocation of
    /// one client happen one after the other, and after the tokens being issued ([`Tx::share_api_client`]).
    pub async fn lock_api_client(&mut self, id: &str) -> Result<Option<ApiClient>, StoreError> {
        sqlx::query("UPDATE api_clients SET id = id WHERE id = $1").bind(id).execute(&mut *self.inner).await?;
        let row = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM api_clients WHERE id = $1"))
            .bind(id)
            .fetch_optional(&mut *self.inner)
            .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    /// Marks a client revoked (final).
    pub async fn revoke_api_client(&mut self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.invalidates(crate::credentials::Kind::Organization);
        sqlx::query("UPDATE api_clients SET status = $1, revoked_at = $2 WHERE id = $3")
            .bind(ClientStatus::Revoked.as_str())
            .bind(to_ms(at))
            .bind(id)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// Deletes every access token of a client, expired or not; returns how many there were.
    pub async fn delete_access_tokens_of_client(&mut self, client_id: &str) -> Result<u64, StoreError> {
        self.invalidates(crate::credentials::Kind::Organization);
        let done = sqlx::query("DELETE FROM access_tokens WHERE client_id = $1")
            .bind(client_id)
            .execute(&mut *self.inner)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn insert_client_credential(&mut self, credential: &ClientCredential) -> Result<(), StoreError> {
        self.invalidates(Kind::Organization);
        sqlx::query(&format!(
            "INSERT INTO client_credentials ({CREDENTIAL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)"
        ))
        .bind(&credential.id)
        .bind(&credential.client_id)
        .bind(credential.kind.as_str())
        .bind(credential.key_id.clone())
        .bind(&credential.material)
        .bind(to_ms(credential.created_at))
        .bind(credential.revoked_at.map(to_ms))
        .execute(&mut *self.inner)
        .await
        .map_err(|e| StoreError::conflict_or(e, "a credential with this id"))?;
        Ok(())
    }

    /// Replaces the stored form of a credential (a client secret's legacy argon2id hash by its SHA-256 digest).
    pub async fn set_credential_material(&mut self, credential_id: &str, material: &str) -> Result<(), StoreError> {
        self.invalidates(Kind::Organization);
        sqlx::query("UPDATE client_credentials SET material = $1 WHERE id = $2")
            .bind(material)
            .bind(credential_id)
            .execute(&mut *self.inner)
            .await?;
        Ok(())
    }

    /// The live (not removed) credentials of a client, oldest first.
    pub async fn live_client_credentials_tx(&mut self, client_id: &str) -> Result<Vec<ClientCredential>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM client_credentials WHERE client_id = $1 AND revoked_at IS NULL \
             ORDER BY created_at, id"
        ))
        .bind(client_id)
        .fetch_all(&mut *self.inner)
        .await?;
        rows.iter().map(credential_from_row).collect()
    }

    /// Removes a live credential of this client; false when there is no such live credential.
    pub async fn remove_client_credential(
        &mut self,
        client_id: &str,
        credential_id: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        self.invalidates(Kind::Organization);
        let done = sqlx::query(
            "UPDATE client_credentials SET revoked_at = $1 WHERE id = $2 AND client_id = $3 AND revoked_at IS NULL",
        )
        .bind(to_ms(at))
        .bind(credential_id)
        .bind(client_id)
        .execute(&mut *self.inner)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Records the `jti` of a client assertion as used until `expires_at`. [`StoreError::Conflict`] when it is
    /// recorded already and that record has not expired at `now` (a replay); a record that has expired (the
    /// purge has not reached it yet) is taken over, since its assertion can no longer be replayed.
    pub async fn record_client_assertion(
        &mut self,
        client_id: &str,
        jti: &str,
        expires_at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        if self.record_client_assertions(&[(client_id, jti, expires_at)], now).await? != [true] {
            return Err(StoreError::Conflict("a client assertion with this jti"));
        }
        Ok(())
    }

    /// Records many assertions' `jti`s at once (each `(client_id, jti, expires_at)`) as [`Tx::record_client_assertion`]
    /// does one: returns, in order, whether each was recorded (false: a live record exists, a replay). A pair that
    /// appears twice is recorded once, by its first appearance; the later one is a replay.
    pub async fn record_client_assertions(
        &mut self,
        assertions: &[(&str, &str, DateTime<Utc>)],
        now: DateTime<Utc>,
    ) -> Result<Vec<bool>, StoreError> {
        let mut first = std::collections::HashSet::new();
        let unique: Vec<_> = assertions.iter().filter(|(client, jti, _)| first.insert((*client, *jti))).collect();
        let mut recorded = std::collections::HashSet::new();
        // One parameter is `now`; three per row.
        for chunk in unique.chunks(self.rows_per_statement(3).saturating_sub(1).max(1)) {
            let values = (0..chunk.len())
                .map(|r| format!("(${}, ${}, ${})", r * 3 + 2, r * 3 + 3, r * 3 + 4))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO client_assertions (client_id, jti, expires_at) VALUES {values} \
                 ON CONFLICT (client_id, jti) DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE client_assertions.expires_at <= $1 RETURNING client_id, jti"
            );
            let mut query = sqlx::query(&sql).bind(to_ms(now));
            for (client, jti, expires_at) in chunk {
                query = query.bind(*client).bind(*jti).bind(to_ms(*expires_at));
            }
            for row in query.fetch_all(&mut *self.inner).await? {
                recorded.insert((row.try_get::<String, _>(0)?, row.try_get::<String, _>(1)?));
            }
        }
        let mut claimed = std::collections::HashSet::new();
        Ok(assertions
            .iter()
            .map(|(client, jti, _)| {
                recorded.contains(&((*client).to_owned(), (*jti).to_owned())) && claimed.insert((*client, *jti))
            })
            .collect())
    }

    /// Stores many access tokens by their hashes, as few statements as the backend allows.
    pub async fn insert_access_tokens(&mut self, tokens: &[NewAccessToken<'_>]) -> Result<(), StoreError> {
        for chunk in tokens.chunks(self.rows_per_statement(5)) {
            let values = (0..chunk.len())
                .map(|r| format!("(${}, ${}, ${}, ${}, ${})", r * 5 + 1, r * 5 + 2, r * 5 + 3, r * 5 + 4, r * 5 + 5))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "INSERT INTO access_tokens (token_hash, client_id, scopes, issued_at, expires_at) VALUES {values}"
            );
            let mut query = sqlx::query(&sql);
            for token in chunk {
                query = query
                    .bind(token.token_hash)
                    .bind(token.client_id)
                    .bind(format_scopes(token.scopes))
                    .bind(to_ms(token.issued_at))
                    .bind(to_ms(token.expires_at));
            }
            query
                .execute(&mut *self.inner)
                .await
                .map_err(|e| StoreError::conflict_or(e, "an access token with this hash"))?;
        }
        Ok(())
    }

    /// Stores an access token by its hash.
    pub async fn insert_access_token(
        &mut self,
        token_hash: &str,
        client_id: &str,
        scopes: &BTreeSet<Scope>,
        issued_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO access_tokens (token_hash, client_id, scopes, issued_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(token_hash)
        .bind(client_id)
        .bind(format_scopes(scopes))
        .bind(to_ms(issued_at))
        .bind(to_ms(expires_at))
        .execute(&mut *self.inner)
        .await
        .map_err(|e| StoreError::conflict_or(e, "an access token with this hash"))?;
        Ok(())
    }
}

impl Store {
    pub async fn api_client(&self, id: &str) -> Result<Option<ApiClient>, StoreError> {
        let row = sqlx::query(&format!("SELECT {CLIENT_COLUMNS} FROM api_clients WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(client_from_row).transpose()
    }

    /// An organization's clients, oldest first.
    pub async fn api_clients_of_organization(&self, organization_id: &str) -> Result<Vec<ApiClient>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CLIENT_COLUMNS} FROM api_clients WHERE organization_id = $1 ORDER BY created_at, id"
        ))
        .bind(organization_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(client_from_row).collect()
    }

    /// Every credential of a client, removed ones included, oldest first.
    pub async fn client_credentials(&self, client_id: &str) -> Result<Vec<ClientCredential>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CREDENTIAL_COLUMNS} FROM client_credentials WHERE client_id = $1 ORDER BY created_at, id"
        ))
        .bind(client_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(credential_from_row).collect()
    }

    /// How many access tokens of a client are stored (expired ones not yet purged included).
    pub async fn count_access_tokens_of_client(&self, client_id: &str) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM access_tokens WHERE client_id = $1")
            .bind(client_id)
            .fetch_one(&self.pool)
            .await?
            .try_get(0)?)
    }
}
