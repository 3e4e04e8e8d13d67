//! Organizations' API clients: registering them, rotating their keys and secrets, revoking them, and issuing
//! access tokens with the OAuth 2.0 client-credentials grant (RFC 6749 §4.4), the client proving itself with a
//! `private_key_jwt` assertion (RFC 7523 §2.2–3, OpenID Connect Core §9) or a client secret.
//!
//! Every change writes its audit record in the same transaction; a refused token request is audited on its own.
//! Issued tokens are written in groups ([`TokenWrites`]): requests that arrive together share one transaction.
//! Secrets are stored as SHA-256 digests (older ones as argon2id hashes, upgraded on first use) and access tokens
//! only as SHA-256 hashes; neither ever reaches the audit log.

use std::collections::{BTreeSet, HashSet};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use dinhdanh_domain::actor::{Actor, OrganizationStatus, Scope, format_scopes};
use dinhdanh_domain::client::{
    self, ApiClient, AssertionTimes, ClientAuthMethod, ClientCredential, ClientError, ClientStatus, CredentialKind,
    ScopeRequestError,
};
use dinhdanh_domain::organization::Organization;
use dinhdanh_store::{AuditEntry, StoreError};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::ACCESS_TOKEN_PREFIX;
use crate::problem::ApiError;
use crate::secrets::{SecretMatch, new_token, token_hash};
use dinhdanh_oidc::client::PresentedAuth;

/// How long an access token lives. Short, so that a token leaked or issued just before a key was removed
/// does little harm; revocation and suspension stop tokens at once anyway.
pub const ACCESS_TOKEN_LIFETIME_SECONDS: i64 = 600;

/// Client secrets start with this, so that a leaked one is recognisable (e.g. by secret scanners).
pub const CLIENT_SECRET_PREFIX: &str = "dd_cs_";

/// The only client assertion type accepted (RFC 7523 §2.2).
pub const JWT_BEARER_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The smallest RSA modulus accepted for client keys.
const MIN_RSA_BITS: usize = 2048;

// ---------------------------------------------------------------------------------------------------------
// Keys

/// A public key a client registered, after checking: its `kid`, the one algorithm it may sign with, and the
/// public members only, as stored.
#[derive(Debug, Clone)]
pub struct PublicJwk {
    pub kid: String,
    pub algorithm: Algorithm,
    pub jwk: Jwk,
    /// The public members as a JSON object (what is stored and shown).
    pub public: Value,
}

/// JWK members that only private or symmetric keys have.
const PRIVATE_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Parses a JWK a client registers: an RSA (≥ 2048 bits, RS256), EC P-256 (ES256) or Ed25519 (EdDSA) public
/// key. Private keys (a `d` member and the like) and symmetric keys are refused, so are keys marked for
/// encryption or with an `alg` other than the one their type allows. A key without `kid` gets its RFC 7638
/// thumbprint as `kid`.
pub fn parse_public_jwk(value: &Value) -> Result<PublicJwk, String> {
    let Some(object) = value.as_object() else { return Err("a JWK must be a JSON object".to_owned()) };
    if let Some(member) = PRIVATE_MEMBERS.iter().find(|m| object.contains_key(**m)) {
        return Err(format!(
            "this JWK has the member \"{member}\" of a private or symmetric key; register only the public key"
        ));
    }
    let text = |name: &str| object.get(name).and_then(Value::as_str);
    if object.get("use").is_some_and(|usage| usage.as_str() != Some("sig")) {
        return Err("the key's \"use\" must be \"sig\"".to_owned());
    }
    let jwk: Jwk = serde_json::from_value(value.clone()).map_err(|e| format!("not a valid JWK: {e}"))?;
    let decoded_len = |field: &str, b64: &str| {
        URL_SAFE_NO_PAD.decode(b64).map_err(|_| format!("\"{field}\" is not base64url without padding"))
    };
    let (algorithm, public) = match (&jwk.algorithm, text("kty")) {
        (AlgorithmParameters::RSA(rsa), Some("RSA")) => {
            let n = decoded_len("n", &rsa.n)?;
            let e = decoded_len("e", &rsa.e)?;
            let bits = n.iter().skip_while(|b| **b == 0).count() * 8;
            if bits < MIN_RSA_BITS {
                return Err(format!("RSA keys must have at least {MIN_RSA_BITS} bits"));
            }
            if e.is_empty() {
                return Err("the RSA exponent is empty".to_owned());
            }
            (Algorithm::RS256, json!({"kty": "RSA", "n": rsa.n, "e": rsa.e}))
        }
        (AlgorithmParameters::EllipticCurve(ec), Some("EC")) => {
            if ec.curve != EllipticCurve::P256 {
                return Err("only the P-256 curve is accepted for EC keys (ES256)".to_owned());
            }
            if decoded_len("x", &ec.x)?.len() != 32 || decoded_len("y", &ec.y)?.len() != 32 {
                return Err("a P-256 key has 32-byte x and y coordinates".to_owned());
            }
            (Algorithm::ES256, json!({"kty": "EC", "crv": "P-256", "x": ec.x, "y": ec.y}))
        }
        (AlgorithmParameters::OctetKeyPair(okp), Some("OKP")) => {
            if okp.curve != EllipticCurve::Ed25519 {
                return Err("only the Ed25519 curve is accepted for OKP keys (EdDSA)".to_owned());
            }
            if decoded_len("x", &okp.x)?.len() != 32 {
                return Err("an Ed25519 key has a 32-byte x".to_owned());
            }
            (Algorithm::EdDSA, json!({"kty": "OKP", "crv": "Ed25519", "x": okp.x}))
        }
        _ => return Err("the key type must be RSA, EC (P-256) or OKP (Ed25519)".to_owned()),
    };
    let alg_name = match algorithm {
        Algorithm::RS256 => "RS256",
        Algorithm::ES256 => "ES256",
        _ => "EdDSA",
    };
    if object.get("alg").is_some_and(|alg| alg.as_str() != Some(alg_name)) {
        return Err(format!("this key can only be used with alg {alg_name}"));
    }
    DecodingKey::from_jwk(&jwk).map_err(|e| format!("not a usable public key: {e}"))?;
    let kid = match object.get("kid") {
        None => jwk.thumbprint(ThumbprintHash::SHA256),
        Some(Value::String(kid)) if !kid.trim().is_empty() && kid.len() <= 200 => kid.clone(),
        Some(_) => return Err("\"kid\" must be a non-empty string of at most 200 characters".to_owned()),
    };
    let mut public = public;
    public["kid"] = json!(kid);
    public["alg"] = json!(alg_name);
    public["use"] = json!("sig");
    Ok(PublicJwk { kid, algorithm, jwk, public })
}

// ---------------------------------------------------------------------------------------------------------
// Management

/// A client to register, after its fields have been parsed.
pub struct NewClient {
    pub name: String,
    pub auth_method: ClientAuthMethod,
    pub scopes: BTreeSet<Scope>,
    /// The client's public keys (`private_key_jwt` only).
    pub keys: Vec<PublicJwk>,
}

/// A client with all its credentials, removed ones included.
pub struct ClientDetails {
    pub client: ApiClient,
    pub credentials: Vec<ClientCredential>,
}

/// A new client secret, in the clear: shown to the caller once, never stored.
pub struct NewSecret {
    pub credential_id: String,
    pub secret: String,
}

fn audit_entry(actor: &Actor, action: &'static str, client_id: &str, at: DateTime<Utc>, detail: Value) -> AuditEntry {
    AuditEntry { at, actor: actor.audit_name(), action, subject: Some(client_id.to_owned()), outcome: "ok", detail }
}

fn client_error(field: &str, e: ClientError) -> ApiError {
    match e {
        ClientError::LastCredential => ApiError::LastCredential,
        other => ApiError::field(field, other),
    }
}

fn jwk_credential(client_id: &str, key: &PublicJwk, now: DateTime<Utc>) -> ClientCredential {
    ClientCredential {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: client_id.to_owned(),
        kind: CredentialKind::Jwk,
        key_id: Some(key.kid.clone()),
        material: key.public.to_string(),
        created_at: now,
        revoked_at: None,
    }
}

async fn secret_credential(client_id: &str, now: DateTime<Utc>) -> Result<(ClientCredential, NewSecret), ApiError> {
    let (secret, _) = new_token(CLIENT_SECRET_PREFIX);
    let credential = ClientCredential {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: client_id.to_owned(),
        kind: CredentialKind::Secret,
        key_id: None,
        material: crate::secrets::server_secret_digest(&secret),
        created_at: now,
        revoked_at: None,
    };
    let shown = NewSecret { credential_id: credential.id.clone(), secret };
    Ok((credential, shown))
}

async fn organization(state: &AppState, id: &str) -> Result<Organization, ApiError> {
    state.store.organization(id).await?.ok_or(ApiError::NotFound { what: "organization" })
}

/// Registers a client for an organization. A `private_key_jwt` client needs 1 to 5 keys; a `client_secret`
/// client gets one generated secret, returned here once.
pub async fn create_client(
    state: &AppState,
    actor: &Actor,
    organization_id: &str,
    new: NewClient,
) -> Result<(ClientDetails, Option<NewSecret>), ApiError> {
    let now = state.clock.now();
    let org = organization(state, organization_id).await?;
    client::check_client_scopes(org.kind, &new.scopes).map_err(|e| client_error("scopes", e))?;
    let kids: HashSet<&str> = new.keys.iter().map(|k| k.kid.as_str()).collect();
    match new.auth_method {
        ClientAuthMethod::PrivateKeyJwt if new.keys.is_empty() => {
            return Err(ApiError::field("jwks", "a private_key_jwt client needs at least one public key"));
        }
        ClientAuthMethod::PrivateKeyJwt if new.keys.len() > client::MAX_LIVE_CREDENTIALS => {
            return Err(ApiError::field("jwks", ClientError::TooManyCredentials));
        }
        ClientAuthMethod::PrivateKeyJwt if kids.len() != new.keys.len() => {
            return Err(ApiError::field("jwks", "two keys have the same kid"));
        }
        ClientAuthMethod::ClientSecret if !new.keys.is_empty() => {
            return Err(ApiError::field("jwks", "a client_secret client has no keys"));
        }
        _ => {}
    }
    let client = ApiClient {
        id: uuid::Uuid::new_v4().to_string(),
        organization_id: org.id.clone(),
        name: new.name,
        auth_method: new.auth_method,
        scopes: new.scopes,
        status: ClientStatus::Active,
        created_at: now,
        revoked_at: None,
    };
    let mut credentials: Vec<ClientCredential> = new.keys.iter().map(|k| jwk_credential(&client.id, k, now)).collect();
    let mut shown = None;
    if client.auth_method == ClientAuthMethod::ClientSecret {
        let (credential, secret) = secret_credential(&client.id, now).await?;
        credentials.push(credential);
        shown = Some(secret);
    }
    let mut tx = state.store.begin().await?;
    tx.insert_api_client(&client).await?;
    for credential in &credentials {
        tx.insert_client_credential(credential).await?;
    }
    tx.audit(audit_entry(
        actor,
        "client.create",
        &client.id,
        now,
        json!({
            "organization_id": client.organization_id,
            "auth_method": client.auth_method.as_str(),
            "scopes": format_scopes(&client.scopes),
            "credentials": credentials.iter().map(|c| json!({"id": c.id, "kind": c.kind.as_str(), "kid": c.key_id})).collect::<Vec<_>>(),
        }),
    ))
    .await?;
    tx.commit().await?;
    tracing::info!(client = %client.id, organization = %client.organization_id, "API client registered");
    Ok((ClientDetails { client, credentials }, shown))
}

pub async fn list_clients(state: &AppState, organization_id: &str) -> Result<Vec<ApiClient>, ApiError> {
    organization(state, organization_id).await?;
    Ok(state.store.api_clients_of_organization(organization_id).await?)
}

pub async fn get_client(state: &AppState, client_id: &str) -> Result<ClientDetails, ApiError> {
    let client = state.store.api_client(client_id).await?.ok_or(ApiError::NotFound { what: "API client" })?;
    let credentials = state.store.client_credentials(client_id).await?;
    Ok(ClientDetails { client, credentials })
}

/// Opens a transaction on an active client that uses `method`, with its live credentials.
async fn locked_active_client(
    state: &AppState,
    client_id: &str,
    method: ClientAuthMethod,
) -> Result<(dinhdanh_store::Tx, ApiClient, Vec<ClientCredential>), ApiError> {
    let mut tx = state.store.begin().await?;
    let client = tx.lock_api_client(client_id).await?.ok_or(ApiError::NotFound { what: "API client" })?;
    if client.status != ClientStatus::Active {
        return Err(ApiError::ClientRevoked);
    }
    if client.auth_method != method {
        return Err(ApiError::field(
            "auth_method",
            format!("this client authenticates with {}, not {}", client.auth_method, method),
        ));
    }
    let live = tx.live_client_credentials_tx(client_id).await?;
    Ok((tx, client, live))
}

/// Adds a public key to a `private_key_jwt` client (the first step of a key rotation).
pub async fn add_key(
    state: &AppState,
    actor: &Actor,
    client_id: &str,
    key: PublicJwk,
) -> Result<ClientCredential, ApiError> {
    let now = state.clock.now();
    let (mut tx, client, live) = locked_active_client(state, client_id, ClientAuthMethod::PrivateKeyJwt).await?;
    client::check_can_add_credential(live.len()).map_err(|e| client_error("jwk", e))?;
    if live.iter().any(|c| c.key_id.as_deref() == Some(key.kid.as_str())) {
        return Err(ApiError::field("jwk", format!("the client already has a live key with kid {:?}", key.kid)));
    }
    let credential = jwk_credential(&client.id, &key, now);
    tx.insert_client_credential(&credential).await?;
    tx.audit(audit_entry(
        actor,
        "client.key.add",
        &client.id,
        now,
        json!({"credential_id": credential.id, "kid": key.kid, "live_credentials": live.len() + 1}),
    ))
    .await?;
    tx.commit().await?;
    Ok(credential)
}

/// Adds a generated secret to a `client_secret` client; the secret is returned once.
pub async fn add_secret(state: &AppState, actor: &Actor, client_id: &str) -> Result<NewSecret, ApiError> {
    let now = state.clock.now();
    // Hash before taking the client's lock: argon2 is slow on purpose.
    let (credential, secret) = secret_credential(client_id, now).await?;
    let (mut tx, client, live) = locked_active_client(state, client_id, ClientAuthMethod::ClientSecret).await?;
    client::check_can_add_credential(live.len()).map_err(|e| client_error("secret", e))?;
    tx.insert_client_credential(&credential).await?;
    tx.audit(audit_entry(
        actor,
        "client.secret.add",
        &client.id,
        now,
        json!({"credential_id": credential.id, "live_credentials": live.len() + 1}),
    ))
    .await?;
    tx.commit().await?;
    Ok(secret)
}

/// Removes a live key or secret (the last step of a rotation). The last live credential cannot be removed.
/// Tokens already issued stay valid until they expire (at most [`ACCESS_TOKEN_LIFETIME_SECONDS`]): removing a
/// key is routine rotation; to stop a compromised client at once, revoke it.
pub async fn remove_credential(
    state: &AppState,
    actor: &Actor,
    client_id: &str,
    credential_id: &str,
) -> Result<(), ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let client = tx.lock_api_client(client_id).await?.ok_or(ApiError::NotFound { what: "API client" })?;
    if client.status != ClientStatus::Active {
        return Err(ApiError::ClientRevoked);
    }
    let live = tx.live_client_credentials_tx(client_id).await?;
    let Some(credential) = live.iter().find(|c| c.id == credential_id) else {
        return Err(ApiError::NotFound { what: "live credential of this client" });
    };
    client::check_can_remove_credential(live.len()).map_err(|e| client_error("credential_id", e))?;
    tx.remove_client_credential(client_id, credential_id, now).await?;
    tx.audit(audit_entry(
        actor,
        "client.credential.remove",
        &client.id,
        now,
        json!({"credential_id": credential.id, "kind": credential.kind.as_str(), "kid": credential.key_id, "live_credentials": live.len() - 1}),
    ))
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Revokes a client for good: it gets no more tokens, and its tokens are deleted in the same transaction
/// (the server also checks the client's status on every call). Revoking a revoked client changes nothing.
pub async fn revoke_client(state: &AppState, actor: &Actor, client_id: &str) -> Result<ApiClient, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let mut client = tx.lock_api_client(client_id).await?.ok_or(ApiError::NotFound { what: "API client" })?;
    if client.status == ClientStatus::Revoked {
        return Ok(client);
    }
    tx.revoke_api_client(client_id, now).await?;
    let deleted = tx.delete_access_tokens_of_client(client_id).await?;
    tx.audit(audit_entry(actor, "client.revoke", client_id, now, json!({"access_tokens_deleted": deleted}))).await?;
    tx.commit().await?;
    tracing::info!(client = %client_id, tokens = deleted, "API client revoked");
    client.status = ClientStatus::Revoked;
    client.revoked_at = Some(now);
    Ok(client)
}

// ---------------------------------------------------------------------------------------------------------
// Tokens

/// How a client proved itself at the token endpoint or at any endpoint where clients authenticate (the
/// provider's PAR, introspection and revocation endpoints read it the same way).
pub enum ClientAuthentication {
    /// `client_secret_basic` or `client_secret_post` (`presented` says which).
    Secret { client_id: String, secret: String, presented: PresentedAuth },
    /// `private_key_jwt`; `client_id` is the form parameter if the client sent it.
    Assertion { client_id: Option<String>, assertion: String },
}

impl ClientAuthentication {
    /// The method as the discovery document names it (`client_secret_basic`, …).
    pub fn presented(&self) -> PresentedAuth {
        match self {
            Self::Secret { presented, .. } => *presented,
            Self::Assertion { .. } => PresentedAuth::PrivateKeyJwt,
        }
    }

    fn method(&self) -> &'static str {
        self.presented().as_str()
    }

    /// The claimed client id: the form's `client_id`, else the assertion's `sub` (unverified here;
    /// [`authenticate`] checks it).
    pub fn claimed_client_id(&self) -> Option<String> {
        match self {
            Self::Secret { client_id, .. } => Some(client_id.clone()),
            Self::Assertion { client_id: Some(id), .. } => Some(id.clone()),
            Self::Assertion { assertion, .. } => jsonwebtoken::dangerous::insecure_decode::<Value>(assertion)
                .ok()
                .and_then(|data| data.claims.get("sub").and_then(Value::as_str).map(str::to_owned)),
        }
    }
}

pub struct TokenRequest {
    pub authentication: ClientAuthentication,
    /// The `scope` parameter, if any.
    pub scope: Option<String>,
    /// The `aud` values a client assertion may carry: this token endpoint's URLs.
    pub audiences: Vec<String>,
}

pub struct IssuedToken {
    pub access_token: String,
    pub expires_in: i64,
    pub scopes: BTreeSet<Scope>,
}

/// Why no token was issued, in OAuth 2.0 terms.
#[derive(Debug)]
pub enum TokenError {
    /// Client authentication failed; `reason` goes to the audit log, never to the caller.
    InvalidClient {
        reason: &'static str,
    },
    InvalidScope(String),
    Internal(ApiError),
}

impl From<ApiError> for TokenError {
    fn from(e: ApiError) -> Self {
        Self::Internal(e)
    }
}

impl From<StoreError> for TokenError {
    fn from(e: StoreError) -> Self {
        Self::Internal(e.into())
    }
}

/// A client authenticated by its credential.
pub struct Authenticated {
    pub client: ApiClient,
    pub organization: Organization,
    /// The assertion's `jti` and until when it must not be used again: the caller records it in the
    /// transaction of what the assertion was for, which refuses a replay.
    pub jti: Option<(String, DateTime<Utc>)>,
}

/// Client authentication, the one check for every endpoint where an organization's API client proves itself:
/// an active client of an unsuspended organization, by one of its live secrets (SHA-256, or a legacy argon2id
/// hash upgraded here on first success) or by a `private_key_jwt` assertion whose `aud` is one of `audiences`.
/// `InvalidClient`'s reason goes to the audit log, never to the caller.
pub async fn authenticate(
    state: &AppState,
    authentication: &ClientAuthentication,
    audiences: &[String],
) -> Result<Authenticated, TokenError> {
    let refuse = |reason| Err(TokenError::InvalidClient { reason });
    let Some(client_id) = authentication.claimed_client_id() else { return refuse("no_client_id") };
    // Answered from the credential cache once seen: a revocation, suspension or credential change drops it.
    let Some(found) = state.store.client_for_token(&client_id).await? else {
        // No dummy work: a known client's secret now costs one SHA-256 digest, which the lookup dwarfs.
        return refuse("unknown_client");
    };
    let dinhdanh_store::ClientForToken { client, organization, credentials } = found;
    if client.status != ClientStatus::Active {
        return refuse("client_revoked");
    }
    if organization.status == OrganizationStatus::Suspended {
        return refuse("organization_suspended");
    }
    let credentials: Vec<ClientCredential> =
        credentials.into_iter().filter(|c| c.kind == client.auth_method.credential_kind()).collect();
    match (authentication, client.auth_method) {
        (ClientAuthentication::Secret { secret, .. }, ClientAuthMethod::ClientSecret) => {
            for credential in &credentials {
                match crate::secrets::verify_server_secret(state, secret, &credential.material).await? {
                    SecretMatch::No => continue,
                    SecretMatch::Yes => {}
                    SecretMatch::YesUpgrade => {
                        // Migrated on first successful use: from now on checked at hash speed.
                        let mut tx = state.store.begin().await?;
                        tx.set_credential_material(&credential.id, &crate::secrets::server_secret_digest(secret))
                            .await?;
                        tx.commit().await?;
                    }
                }
                return Ok(Authenticated { client, organization, jti: None });
            }
            refuse("wrong_secret")
        }
        (ClientAuthentication::Assertion { assertion, .. }, ClientAuthMethod::PrivateKeyJwt) => {
            let jti = verify_assertion(state, &client.id, &credentials, assertion, audiences)
                .map_err(|reason| TokenError::InvalidClient { reason })?;
            Ok(Authenticated { client, organization, jti: Some(jti) })
        }
        _ => refuse("wrong_auth_method"),
    }
}

/// Verifies a client assertion: signed with RS256, ES256 or EdDSA by one of the client's live keys (the one
/// named by `kid`, or any if there is no `kid`), `iss` = `sub` = the client id, `aud` naming this token
/// endpoint, `exp` not past and at most one hour ahead, `nbf` and `iat` not in the future (60 s leeway,
/// against the server's clock), and a `jti`. Returns the `jti` and until when to remember it.
fn verify_assertion(
    state: &AppState,
    client_id: &str,
    credentials: &[ClientCredential],
    assertion: &str,
    audiences: &[String],
) -> Result<(String, DateTime<Utc>), &'static str> {
    let header = jsonwebtoken::decode_header(assertion).map_err(|_| "assertion_malformed")?;
    if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256 | Algorithm::EdDSA) {
        return Err("algorithm_not_allowed");
    }
    let keys: Vec<PublicJwk> = credentials
        .iter()
        .filter(|c| header.kid.is_none() || c.key_id == header.kid)
        .filter_map(|c| serde_json::from_str::<Value>(&c.material).ok())
        .filter_map(|v| parse_public_jwk(&v).ok())
        .filter(|k| k.algorithm == header.alg)
        .collect();
    if keys.is_empty() {
        return Err(if header.kid.is_some() { "unknown_key" } else { "no_key_for_algorithm" });
    }
    let mut validation = Validation::new(header.alg);
    // Times are checked below against the server's clock, audience and issuer by hand.
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    let claims = keys
        .iter()
        .filter_map(|key| DecodingKey::from_jwk(&key.jwk).ok())
        .find_map(|key| jsonwebtoken::decode::<Value>(assertion, &key, &validation).ok())
        .ok_or("bad_signature")?
        .claims;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    if text("iss") != Some(client_id) || text("sub") != Some(client_id) {
        return Err("wrong_issuer");
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => audiences.contains(aud),
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).any(|a| audiences.iter().any(|x| x == a)),
        _ => false,
    };
    if !audience_ok {
        return Err("wrong_audience");
    }
    let number = |name: &str| claims.get(name).and_then(|v| v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)));
    let Some(exp) = number("exp") else { return Err("missing_exp") };
    let times = AssertionTimes { exp, nbf: number("nbf"), iat: number("iat") };
    client::check_assertion_times(times, state.clock.now()).map_err(|e| match e {
        client::AssertionTimeError::Expired => "assertion_expired",
        client::AssertionTimeError::TooLong => "assertion_lifetime_too_long",
        client::AssertionTimeError::NotYetValid => "assertion_not_yet_valid",
        client::AssertionTimeError::IssuedInFuture => "assertion_issued_in_future",
    })?;
    let jti = match text("jti") {
        Some(jti) if !jti.is_empty() && jti.len() <= 200 => jti.to_owned(),
        _ => return Err("missing_jti"),
    };
    let remember_until =
        DateTime::from_timestamp(client::assertion_replay_window_end(exp), 0).ok_or("assertion_expired")?;
    Ok((jti, remember_until))
}

async fn audit_refusal(
    state: &AppState,
    client_id: Option<&str>,
    method: &str,
    reason: &str,
) -> Result<(), TokenError> {
    metrics::counter!("dinhdanh_tokens_total", "outcome" => reason.to_owned()).increment(1);
    state.store.audit(refusal_entry(state.clock.now(), client_id, method, reason)).await?;
    Ok(())
}

/// The audit entry of a refused token request (the requester is not proven, so it is named "anonymous").
fn refusal_entry(at: DateTime<Utc>, client_id: Option<&str>, method: &str, reason: &str) -> AuditEntry {
    AuditEntry {
        at,
        actor: "anonymous".to_owned(),
        action: "oauth.token",
        subject: client_id.map(str::to_owned),
        outcome: "refused",
        detail: json!({"reason": reason, "method": method}),
    }
}

/// A token to store, with what must hold when it is: the client still active, the assertion's `jti` unused.
pub struct TokenWrite {
    client_id: String,
    method: &'static str,
    jti: Option<(String, DateTime<Utc>)>,
    token_hash: String,
    scopes: BTreeSet<Scope>,
    issued_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    audit: AuditEntry,
}

/// What became of a [`TokenWrite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenWritten {
    Issued,
    /// Revoked after the client authenticated and before its batch (refused, audited in the batch).
    ClientRevoked,
    AssertionReplayed,
}

/// The token endpoint's writes, committed in groups ([`dinhdanh_store::GroupCommit`]): tokens requested together
/// share one transaction, one commit and one audit append, instead of queueing for a transaction each.
pub struct TokenWrites;

/// At most this many tokens per transaction.
pub const TOKEN_BATCH: usize = 256;

impl dinhdanh_store::GroupWork for TokenWrites {
    type Input = TokenWrite;
    type Output = TokenWritten;

    async fn apply(&self, tx: &mut dinhdanh_store::Tx, inputs: &[TokenWrite]) -> Result<Vec<TokenWritten>, StoreError> {
        // Revocation holds a client's row exclusively, issuance shares it: a token is either issued before the
        // revocation (and deleted by it) or not at all, and tokens of one client do not wait for each other.
        let mut active: std::collections::HashMap<&str, bool> = std::collections::HashMap::new();
        for write in inputs {
            if !active.contains_key(write.client_id.as_str()) {
                let shared = tx.share_api_client(&write.client_id).await?;
                active.insert(&write.client_id, matches!(shared, Some(c) if c.status == ClientStatus::Active));
            }
        }
        // Every jti of the batch in one statement. A jti whose record has expired is free again (expired tokens
        // and jtis are purged on a schedule, service::purge, never here); the batch's earliest time decides, so
        // no record is taken over early. Two uses in one batch: the second is a replay.
        let with_jti: Vec<_> = inputs
            .iter()
            .filter(|w| active[w.client_id.as_str()])
            .filter_map(|w| w.jti.as_ref().map(|(jti, until)| (w.client_id.as_str(), jti.as_str(), *until)))
            .collect();
        let Some(earliest) = inputs.iter().map(|w| w.issued_at).min() else { return Ok(Vec::new()) };
        let mut fresh_jti = tx.record_client_assertions(&with_jti, earliest).await?.into_iter();
        let mut outputs = Vec::with_capacity(inputs.len());
        let mut issued = Vec::with_capacity(inputs.len());
        for write in inputs {
            let refused = if !active[write.client_id.as_str()] {
                Some((TokenWritten::ClientRevoked, "client_revoked"))
            } else if write.jti.is_some() && fresh_jti.next() != Some(true) {
                Some((TokenWritten::AssertionReplayed, "assertion_replayed"))
            } else {
                None
            };
            if let Some((written, reason)) = refused {
                tx.audit(refusal_entry(write.issued_at, Some(&write.client_id), write.method, reason)).await?;
                outputs.push(written);
                continue;
            }
            issued.push(dinhdanh_store::NewAccessToken {
                token_hash: &write.token_hash,
                client_id: &write.client_id,
                scopes: &write.scopes,
                issued_at: write.issued_at,
                expires_at: write.expires_at,
            });
            tx.audit(write.audit.clone()).await?;
            outputs.push(TokenWritten::Issued);
        }
        tx.insert_access_tokens(&issued).await?;
        Ok(outputs)
    }
}

/// The client-credentials grant: authenticates the client, grants the scopes asked for (all of the client's
/// when none are), and stores a new access token by its hash. A used assertion's `jti` is recorded in the same
/// transaction, so a replay — even a concurrent one — is refused.
pub async fn issue_token(state: &AppState, request: TokenRequest) -> Result<IssuedToken, TokenError> {
    let method = request.authentication.method();
    let authenticated = match authenticate(state, &request.authentication, &request.audiences).await {
        Ok(a) => a,
        Err(TokenError::InvalidClient { reason }) => {
            // Name the client in the audit only if it exists (an unknown id is whatever a stranger typed).
            let known = match request.authentication.claimed_client_id() {
                Some(id) if reason != "unknown_client" && reason != "no_client_id" => Some(id),
                _ => None,
            };
            audit_refusal(state, known.as_deref(), method, reason).await?;
            return Err(TokenError::InvalidClient { reason });
        }
        Err(other) => return Err(other),
    };
    let Authenticated { client, organization, jti } = authenticated;
    let scopes = match client::token_scopes(organization.kind, &client.scopes, request.scope.as_deref()) {
        Ok(scopes) if !scopes.is_empty() => scopes,
        Ok(_) => {
            audit_refusal(state, Some(&client.id), method, "invalid_scope").await?;
            return Err(TokenError::InvalidScope("the client holds no scope its organization may use".to_owned()));
        }
        Err(e) => {
            audit_refusal(state, Some(&client.id), method, "invalid_scope").await?;
            return Err(TokenError::InvalidScope(match e {
                ScopeRequestError::Unknown(s) => format!("unknown scope {s:?}"),
                ScopeRequestError::NotAllowed(s) => format!("the client may not ask for {s}"),
            }));
        }
    };

    let now = state.clock.now();
    let expires_at = now + Duration::seconds(ACCESS_TOKEN_LIFETIME_SECONDS);
    let (token, hash) = new_token(ACCESS_TOKEN_PREFIX);
    debug_assert_eq!(hash, token_hash(&token));
    let actor = Actor::Organization {
        organization_id: organization.id.clone(),
        kind: organization.kind,
        client_id: client.id.clone(),
        scopes: scopes.clone(),
    };
    let audit = AuditEntry {
        at: now,
        actor: actor.audit_name(),
        action: "oauth.token",
        subject: Some(client.id.clone()),
        outcome: "ok",
        detail: json!({"method": method, "scopes": format_scopes(&scopes), "expires_at": expires_at}),
    };
    let write = TokenWrite {
        client_id: client.id.clone(),
        method,
        jti,
        token_hash: hash,
        scopes: scopes.clone(),
        issued_at: now,
        expires_at,
        audit,
    };
    let refused = |reason: &'static str| {
        metrics::counter!("dinhdanh_tokens_total", "outcome" => reason).increment(1);
        Err(TokenError::InvalidClient { reason })
    };
    match state.token_writes.submit(write).await {
        Ok(TokenWritten::Issued) => {}
        Ok(TokenWritten::ClientRevoked) => return refused("client_revoked"),
        Ok(TokenWritten::AssertionReplayed) => return refused("assertion_replayed"),
        Err(dinhdanh_store::GroupError::Batch(error)) => {
            use dinhdanh_store::Transient;
            let failed = if error.is_transient() { ApiError::Busy } else { ApiError::internal(error.to_string()) };
            return Err(TokenError::Internal(failed));
        }
        Err(dinhdanh_store::GroupError::Stopped) => return Err(TokenError::Internal(ApiError::Saturated)),
    }
    metrics::counter!("dinhdanh_tokens_total", "outcome" => "issued").increment(1);
    Ok(IssuedToken { access_token: token, expires_in: ACCESS_TOKEN_LIFETIME_SECONDS, scopes })
}
