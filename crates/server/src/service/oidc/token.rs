//! The relying parties' side of the token endpoint (`grant_type=authorization_code`, RFC 6749 §4.1.3 with PKCE;
//! `grant_type=refresh_token` with rotation and reuse detection), introspection (RFC 7662) and userinfo (OIDC
//! Core §5.3). The code's rules are `dinhdanh_oidc::tokens::redeem_code`'s; the tokens are
//! `dinhdanh_oidc::claims::issue_tokens`'s, signed ES256 with the current key. Every exchange also checks that
//! the grant is live — its account active, no lock taken effect since it was made (`store/src/oidc.rs`) — so a
//! lock committed between the authorization and the exchange makes the code worthless; userinfo, introspection
//! and refresh check the same on every call.

use std::collections::BTreeSet;

use dinhdanh_domain::identity::KeyedIdentity;
use dinhdanh_domain::{Account, Channel};
use dinhdanh_oidc::claims::{
    AccessTokenClaims, HolderClaims, Introspection, TokenInput, TokenResponse, issue_tokens, userinfo,
};
use dinhdanh_oidc::client::ClientRegistration;
use dinhdanh_oidc::keys::{KeySet, TokenType};
use dinhdanh_oidc::metadata::Issuer;
use dinhdanh_oidc::scope::{Claim, Scope};
use dinhdanh_oidc::subject::subject_for;
use dinhdanh_oidc::tokens::{
    CodeDecision, CodeExchange, Grant, REFRESH_TOKEN_PREFIX, RefreshDecision, RefreshFamily, redeem_code, refresh,
    token_hash,
};
use dinhdanh_oidc::{ErrorCode, TokenError};
use dinhdanh_store::{AuditEntry, Tx};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::problem::ApiError;
use crate::service::clients::{self, ClientAuthentication};
use crate::service::holders::contact_digest;

const TOKEN: &str = "oidc.token";

/// A relying party's credentials as presented at the token, PAR, introspection or revocation endpoint, and the
/// `aud` values its assertion may name there (`private_key_jwt`).
pub struct PresentedClient {
    pub authentication: ClientAuthentication,
    pub audiences: Vec<String>,
}

/// `grant_type=authorization_code`'s form.
pub struct CodeGrant {
    pub client: Option<PresentedClient>,
    pub code: String,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
}

async fn audit(
    state: &AppState,
    subject: Option<String>,
    outcome: &'static str,
    detail: Value,
) -> Result<(), ApiError> {
    state
        .store
        .audit(AuditEntry { at: state.clock.now(), actor: "anonymous".into(), action: TOKEN, subject, outcome, detail })
        .await?;
    Ok(())
}

fn invalid_client() -> TokenError {
    TokenError::new(ErrorCode::InvalidClient, "client authentication failed")
}

/// The relying party's registration, when the client proves itself with the method it registered (a secret,
/// or a `private_key_jwt` assertion whose `jti` is recorded here, so it serves once) and may sign holders in. The
/// credential check is the organizations' API clients' own (`service::clients::authenticate`).
async fn authenticate(
    state: &AppState,
    presented: &PresentedClient,
) -> Result<Result<ClientRegistration, &'static str>, ApiError> {
    let Some(client_id) = presented.authentication.claimed_client_id() else { return Ok(Err("no_client_id")) };
    let Some(registration) = state.store.oidc_client(&client_id).await? else {
        return Ok(Err("unknown_client"));
    };
    if !registration.accepts_auth(presented.authentication.presented()) {
        return Ok(Err("wrong_auth_method"));
    }
    let authenticated = match clients::authenticate(state, &presented.authentication, &presented.audiences).await {
        Ok(authenticated) => authenticated,
        Err(clients::TokenError::InvalidClient { reason }) => return Ok(Err(reason)),
        Err(clients::TokenError::InvalidScope(_)) => return Ok(Err("invalid_scope")),
        Err(clients::TokenError::Internal(e)) => return Err(e),
    };
    if let Some((jti, until)) = &authenticated.jti {
        let mut tx = state.store.begin().await?;
        let fresh = tx.record_client_assertions(&[(&registration.client_id, jti, *until)], state.clock.now()).await?;
        if fresh != [true] {
            return Ok(Err("assertion_replayed"));
        }
        tx.commit().await?;
    }
    Ok(Ok(registration))
}

/// What the provider may release about the holder, for the claims a grant carries: the name and contacts from
/// the account; birthdate and gender from the registry (the source of truth the account was matched with, read
/// through the `Registry` trait only when a claim needs them); a contact is `_verified` when the holder entered a
/// sign-in code sent to that very number or address (`contact_verifications`).
pub async fn holder_claims(
    state: &AppState,
    account: &Account,
    wanted: &BTreeSet<Claim>,
) -> Result<HolderClaims, ApiError> {
    let identity = account.identity_key.identity(&state.config.provinces);
    let (mut birthdate, mut gender) = (None, None);
    if wanted.contains(&Claim::Birthdate) || wanted.contains(&Claim::Gender) {
        let record = match &identity {
            Some(KeyedIdentity::Citizen(number)) => {
                state.registry.citizen(number).await?.map(|r| (r.date_of_birth, r.gender))
            }
            Some(KeyedIdentity::Foreigner(nationality, passport)) => {
                state.registry.foreigner(nationality, passport).await?.map(|r| (r.date_of_birth, r.gender))
            }
            None => None,
        };
        (birthdate, gender) = (record.map(|r| r.0), record.map(|r| r.1));
    }
    let (mut phone_number_verified, mut email_verified) = (false, false);
    if wanted.contains(&Claim::PhoneNumberVerified) || wanted.contains(&Claim::EmailVerified) {
        for (channel, digest) in state.store.verified_contacts(&account.id).await? {
            let proved = account.destination(channel).is_some_and(|d| contact_digest(d) == digest);
            match channel {
                Channel::Sms => phone_number_verified = proved,
                Channel::Email => email_verified = proved,
            }
        }
    }
    Ok(HolderClaims {
        name: Some(account.full_name.clone()),
        birthdate,
        gender,
        phone_number: account.phone.clone(),
        phone_number_verified,
        email: account.email.clone(),
        email_verified,
        id_number: match identity {
            Some(KeyedIdentity::Citizen(number)) => Some(number),
            _ => None,
        },
    })
}

/// Exchanges a code for an ID token and an access token. The outer error is the server's own; the inner one is
/// the OAuth answer.
pub async fn exchange_code(
    state: &AppState,
    issuer: &Issuer,
    grant: CodeGrant,
) -> Result<Result<TokenResponse, TokenError>, ApiError> {
    let client = match client_of(state, grant.client.as_ref()).await? {
        Ok(client) => client,
        Err(error) => return Ok(Err(error)),
    };
    exchange_for_client(state, issuer, &client, grant).await
}

/// The code exchange for a client already authenticated: by [`exchange_code`], or the built-in portal
/// (`service::portal`), which runs in this process and has no credential to present to itself.
pub(crate) async fn exchange_for_client(
    state: &AppState,
    issuer: &Issuer,
    client: &ClientRegistration,
    grant: CodeGrant,
) -> Result<Result<TokenResponse, TokenError>, ApiError> {
    let now = state.clock.now();
    // Read before the transaction: making the first key set takes a transaction of its own.
    let keys = super::key_set(state, now).await?;
    super::subject_salt(state).await?;

    let hash = token_hash(&grant.code);
    let mut tx = state.store.begin().await?;
    let Some(stored) = tx.oidc_code(&hash).await? else {
        drop(tx);
        audit(state, Some(client.client_id.clone()), "refused", json!({"reason": "unknown_code"})).await?;
        return Ok(Err(TokenError::invalid_grant("the authorization code is not known")));
    };
    let code = stored.code;
    let grant_id = code.grant.id.clone();
    let exchange = CodeExchange {
        client_id: &client.client_id,
        redirect_uri: grant.redirect_uri.as_deref(),
        code_verifier: grant.code_verifier.as_deref(),
    };
    let refuse = |reason: &str| json!({"reason": reason, "grant_id": grant_id});
    match redeem_code(&code, exchange, now) {
        CodeDecision::Exchange => {}
        CodeDecision::Reuse { revoke_grant, error } => {
            tx.revoke_oidc_grant(&revoke_grant, now).await?;
            tx.audit(entry(client, "refused", refuse("code_reused"), now)).await?;
            tx.commit().await?;
            return Ok(Err(error));
        }
        CodeDecision::Reject(error) => {
            drop(tx);
            let detail = json!({"reason": error.error.as_str(), "description": error.error_description,
                                "grant_id": grant_id});
            audit(state, Some(client.client_id.clone()), "refused", detail).await?;
            return Ok(Err(error));
        }
    }
    if !tx.live_oidc_grant(&grant_id, now).await? {
        // A lock took effect since the grant was made, or the account is no longer active.
        drop(tx);
        audit(state, Some(client.client_id.clone()), "refused", refuse("grant_revoked")).await?;
        return Ok(Err(TokenError::invalid_grant("the authorization is no longer valid")));
    }
    if !tx.mark_oidc_code_used(&hash, now).await? {
        // A concurrent exchange won: this one is a reuse.
        tx.revoke_oidc_grant(&grant_id, now).await?;
        tx.audit(entry(client, "refused", refuse("code_reused"), now)).await?;
        tx.commit().await?;
        return Ok(Err(TokenError::invalid_grant("the authorization code was already used")));
    }
    let family = RefreshFamily::start(&code.grant, now, &state.oidc.lifetimes);
    if let Some((family, first)) = &family {
        tx.insert_oidc_refresh_family(family, &first.record).await?;
    }
    let issue = Issue {
        client,
        grant: &code.grant,
        scopes: &code.grant.scopes,
        nonce: code.nonce.as_deref(),
        refresh_token: family.as_ref().map(|(_, first)| first.token.as_str()),
        grant_type: "authorization_code",
    };
    issue_in(state, issuer, tx, &keys, issue).await
}

/// What one issuance signs.
struct Issue<'a> {
    client: &'a ClientRegistration,
    grant: &'a Grant,
    scopes: &'a BTreeSet<Scope>,
    nonce: Option<&'a str>,
    refresh_token: Option<&'a str>,
    grant_type: &'static str,
}

/// Signs the tokens of a live grant, records the access token's `jti`, audits and commits.
async fn issue_in(
    state: &AppState,
    issuer: &Issuer,
    mut tx: Tx,
    keys: &KeySet,
    issue: Issue<'_>,
) -> Result<Result<TokenResponse, TokenError>, ApiError> {
    let now = state.clock.now();
    let client = issue.client;
    let grant_id = issue.grant.id.clone();
    let Some(account) = tx.account(&issue.grant.account_id).await? else {
        drop(tx);
        let detail = json!({"reason": "account_gone", "grant_id": grant_id});
        audit(state, Some(client.client_id.clone()), "refused", detail).await?;
        return Ok(Err(TokenError::invalid_grant("the authorization is no longer valid")));
    };
    let salt = super::subject_salt(state).await?;
    let sector = client.sector().map_err(|e| ApiError::internal(format!("a saved registration is invalid: {e}")))?;
    let holder = holder_claims(state, &account, &issue.grant.claims).await?;
    let sub = subject_for(client.subject_type, &sector, &account.id, salt);
    let audience = issuer.url(&state.oidc.paths.userinfo);
    let input = TokenInput {
        issuer,
        audience: &audience,
        sub: &sub,
        grant: issue.grant,
        scopes: issue.scopes,
        nonce: issue.nonce,
        holder: &holder,
        refresh_token: issue.refresh_token,
    };
    let issued = issue_tokens(keys, input, now, &state.oidc.lifetimes)
        .map_err(|e| ApiError::internal(format!("signing tokens failed: {e}")))?;
    let expires_at = chrono::DateTime::from_timestamp(issued.access.exp, 0).unwrap_or(now);
    tx.insert_oidc_access_token(&issued.access.jti, &grant_id, &issued.access.scope, expires_at).await?;
    tx.audit(AuditEntry {
        at: now,
        actor: format!("client:{}", client.client_id),
        action: TOKEN,
        subject: Some(account.id.to_string()),
        outcome: "ok",
        detail: json!({"grant_type": issue.grant_type, "client_id": client.client_id, "grant_id": grant_id,
                       "jti": issued.access.jti, "scopes": issued.access.scope, "acr": issued.access.acr,
                       "refresh_token": issue.refresh_token.is_some()}),
    })
    .await?;
    tx.commit().await?;
    Ok(Ok(issued.response))
}

/// `grant_type=refresh_token`'s form.
pub struct RefreshGrant {
    pub client: Option<PresentedClient>,
    pub refresh_token: String,
    pub scope: Option<String>,
}

/// The client, authenticated, or the refusal (audited).
async fn client_of(
    state: &AppState,
    presented: Option<&PresentedClient>,
) -> Result<Result<ClientRegistration, TokenError>, ApiError> {
    let Some(presented) = presented else {
        audit(state, None, "refused", json!({"reason": "no_client_authentication"})).await?;
        return Ok(Err(invalid_client()));
    };
    match authenticate(state, presented).await? {
        Ok(client) => Ok(Ok(client)),
        Err(reason) => {
            let known = match reason {
                "unknown_client" | "no_client_id" => None,
                _ => presented.authentication.claimed_client_id(),
            };
            let method = presented.authentication.presented().as_str();
            audit(state, known, "refused", json!({"reason": reason, "method": method})).await?;
            Ok(Err(invalid_client()))
        }
    }
}

/// Rotates a refresh token (RFC 6749 §6): the presented one is marked used and a new one of the same family
/// issued with fresh access and ID tokens. A token presented again after its rotation is reuse: the whole
/// family and the grant's access tokens are revoked.
pub async fn refresh_tokens(
    state: &AppState,
    issuer: &Issuer,
    request: RefreshGrant,
) -> Result<Result<TokenResponse, TokenError>, ApiError> {
    let client = match client_of(state, request.client.as_ref()).await? {
        Ok(client) => client,
        Err(error) => return Ok(Err(error)),
    };
    let now = state.clock.now();
    let keys = super::key_set(state, now).await?;
    super::subject_salt(state).await?;
    let hash = token_hash(&request.refresh_token);
    let mut tx = state.store.begin().await?;
    let Some((family, token)) = tx.oidc_refresh_token(&hash).await? else {
        drop(tx);
        audit(state, Some(client.client_id.clone()), "refused", json!({"reason": "unknown_refresh_token"})).await?;
        return Ok(Err(TokenError::invalid_grant("the refresh token is not known")));
    };
    let grant_id = family.grant.id.clone();
    let refuse = |reason: &str| json!({"reason": reason, "grant_id": grant_id, "grant_type": "refresh_token"});
    let decision = refresh(&family, &token, &client.client_id, request.scope.as_deref(), now, &state.oidc.lifetimes);
    let (next, scopes) = match decision {
        RefreshDecision::Rotate { next, scopes, .. } => (next, scopes),
        RefreshDecision::Reuse { revoke_grant, error } => {
            tx.revoke_oidc_grant(&revoke_grant, now).await?;
            tx.audit(entry(&client, "refused", refuse("refresh_token_reused"), now)).await?;
            tx.commit().await?;
            return Ok(Err(error));
        }
        RefreshDecision::Reject(error) => {
            drop(tx);
            let mut detail = refuse(error.error.as_str());
            detail["description"] = json!(error.error_description);
            audit(state, Some(client.client_id.clone()), "refused", detail).await?;
            return Ok(Err(error));
        }
    };
    if !tx.live_oidc_grant(&grant_id, now).await? {
        drop(tx);
        audit(state, Some(client.client_id.clone()), "refused", refuse("grant_revoked")).await?;
        return Ok(Err(TokenError::invalid_grant("the authorization is no longer valid")));
    }
    if !tx.mark_oidc_refresh_token_used(&hash, now).await? {
        tx.revoke_oidc_grant(&grant_id, now).await?;
        tx.audit(entry(&client, "refused", refuse("refresh_token_reused"), now)).await?;
        tx.commit().await?;
        return Ok(Err(TokenError::invalid_grant("the refresh token was already used; its family is revoked")));
    }
    tx.insert_oidc_refresh_token(&next.record).await?;
    let issue = Issue {
        client: &client,
        grant: &family.grant,
        scopes: &scopes,
        // Not repeated on refresh (OIDC Core §12.2 as amended).
        nonce: None,
        refresh_token: Some(&next.token),
        grant_type: "refresh_token",
    };
    issue_in(state, issuer, tx, &keys, issue).await
}

/// Token introspection (RFC 7662) for an authenticated client: active only for a live access token of this
/// very client. The registration, the client's credentials, the keys and the token's liveness come from the
/// credential cache, which the commit of a lock, a revocation or a status change empties before it returns (so
/// the next introspection after a lock's commit reads the database and answers inactive).
pub async fn introspect(
    state: &AppState,
    issuer: &Issuer,
    presented: Option<&PresentedClient>,
    token: &str,
) -> Result<Result<Introspection, TokenError>, ApiError> {
    let client = match client_of(state, presented).await? {
        Ok(client) => client,
        Err(error) => return Ok(Err(error)),
    };
    let now = state.clock.now();
    if token.starts_with(REFRESH_TOKEN_PREFIX) {
        return Ok(Ok(introspect_refresh_token(state, issuer, &client, token, now).await?));
    }
    let keys = super::key_set(state, now).await?;
    let Some(claims) = state.oidc.verified.verify(&keys, token, issuer.as_str()) else {
        return Ok(Ok(Introspection::inactive()));
    };
    if claims.exp <= now.timestamp() || claims.client_id != client.client_id {
        return Ok(Ok(Introspection::inactive()));
    }
    match state.store.oidc_access_token_grant(&claims.jti, now).await? {
        Some(_) => Ok(Ok(Introspection::of_access_token(&claims))),
        None => Ok(Ok(Introspection::inactive())),
    }
}

/// A refresh token is active while a refresh with it would rotate now (`tokens::refresh`'s decision, applied to
/// nothing) and its grant is live: this client's, unused, unexpired, its family neither revoked nor past its
/// lifetime, no lock taken effect since the sign-in.
async fn introspect_refresh_token(
    state: &AppState,
    issuer: &Issuer,
    client: &ClientRegistration,
    token: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Introspection, ApiError> {
    // Reads only, outside a transaction: on SQLite a transaction would wait for the writer's lock.
    let Some((family, record)) = state.store.oidc_refresh_token(&token_hash(token)).await? else {
        return Ok(Introspection::inactive());
    };
    let RefreshDecision::Rotate { scopes, .. } =
        refresh(&family, &record, &client.client_id, None, now, &state.oidc.lifetimes)
    else {
        return Ok(Introspection::inactive());
    };
    if !state.store.live_oidc_grant(&family.grant.id, now).await? {
        return Ok(Introspection::inactive());
    }
    let salt = super::subject_salt(state).await?;
    let sector = client.sector().map_err(|e| ApiError::internal(format!("a saved registration is invalid: {e}")))?;
    let sub = subject_for(client.subject_type, &sector, &family.grant.account_id, salt);
    Ok(Introspection::of_refresh_token(issuer, &family.grant, &record, &scopes, &sub))
}

fn entry(
    client: &ClientRegistration,
    outcome: &'static str,
    detail: Value,
    at: chrono::DateTime<chrono::Utc>,
) -> AuditEntry {
    AuditEntry {
        at,
        actor: "anonymous".into(),
        action: TOKEN,
        subject: Some(client.client_id.clone()),
        outcome,
        detail,
    }
}

/// Userinfo for a bearer access token: `None` when the token is not one of ours, expired, revoked, or its
/// holder's grant is no longer live (a lock): the caller answers `401 invalid_token`. The liveness is answered
/// from the credential cache as at introspection; the holder's claims are read from the account.
pub async fn userinfo_for(
    state: &AppState,
    issuer: &Issuer,
    bearer: &str,
) -> Result<Option<Map<String, Value>>, ApiError> {
    let now = state.clock.now();
    let keys = super::key_set(state, now).await?;
    // Expiry is compared here with the server's clock (the one that set `exp`), not by the JWT library with the
    // system's.
    let Some(claims) = state.oidc.verified.verify(&keys, bearer, issuer.as_str()) else {
        return Ok(None);
    };
    if claims.exp <= now.timestamp() || claims.aud != issuer.url(&state.oidc.paths.userinfo) {
        return Ok(None);
    }
    let Some((grant, scopes)) = state.store.oidc_access_token_grant(&claims.jti, now).await? else {
        return Ok(None);
    };
    let Some(account) = state.store.account(&grant.account_id).await? else { return Ok(None) };
    let scopes: BTreeSet<Scope> = scopes.split(' ').filter_map(Scope::parse).collect();
    let holder = holder_claims(state, &account, &grant.claims).await?;
    Ok(Some(userinfo(&claims.sub, &grant, &scopes, &holder)))
}

/// Token revocation (RFC 7009) by the client the token was issued to: a refresh token revokes its whole
/// family and the grant's access tokens (§2.1's "SHOULD"), an access token its own `jti`. Anything else — an
/// unknown or expired token, another client's — changes nothing and is answered the same (§2.2).
pub async fn revoke(
    state: &AppState,
    issuer: &Issuer,
    presented: Option<&PresentedClient>,
    token: &str,
) -> Result<Result<(), TokenError>, ApiError> {
    let client = match client_of(state, presented).await? {
        Ok(client) => client,
        Err(error) => return Ok(Err(error)),
    };
    let now = state.clock.now();
    let keys = super::key_set(state, now).await?;
    let mut tx = state.store.begin().await?;
    let revoked = if let Some((family, _)) = tx.oidc_refresh_token(&token_hash(token)).await? {
        (family.grant.client_id == client.client_id).then(|| json!({"refresh_family": family.grant.id}))
    } else {
        None
    };
    let detail = match revoked {
        Some(detail) => {
            tx.revoke_oidc_grant(detail["refresh_family"].as_str().unwrap_or_default(), now).await?;
            Some(detail)
        }
        None => match keys.verify::<AccessTokenClaims>(token, TokenType::AccessToken, issuer.as_str(), true) {
            Ok(claims) if claims.client_id == client.client_id => {
                tx.revoke_oidc_access_token(&claims.jti, now).await?;
                Some(json!({"jti": claims.jti}))
            }
            _ => None,
        },
    };
    if let Some(mut detail) = detail {
        detail["client_id"] = json!(client.client_id);
        tx.audit(AuditEntry {
            at: now,
            actor: format!("client:{}", client.client_id),
            action: "oidc.revoke",
            subject: Some(client.client_id.clone()),
            outcome: "ok",
            detail,
        })
        .await?;
    }
    tx.commit().await?;
    Ok(Ok(()))
}

/// Why a push was refused: the client's authentication (`401`), or the request (`400`, RFC 9126 §2.3, as JSON
/// and never redirected).
pub enum PushRefused {
    Client(TokenError),
    Request(serde_json::Value),
}

/// The PAR endpoint (RFC 9126): the authenticated client's parameters are validated as the authorization
/// endpoint would, and stored for `Lifetimes::pushed_request` under the hash of a new `request_uri`.
pub async fn push(
    state: &AppState,
    presented: Option<&PresentedClient>,
    pairs: Vec<(String, String)>,
) -> Result<Result<dinhdanh_oidc::authorize::PushResponse, PushRefused>, ApiError> {
    let client = match client_of(state, presented).await? {
        Ok(client) => client,
        Err(error) => return Ok(Err(PushRefused::Client(error))),
    };
    let now = state.clock.now();
    let refused = |error: &dinhdanh_oidc::authorize::AuthorizeError| json!({"reason": error.error.as_str(), "client_id": client.client_id, "pushed": true});
    let params = match dinhdanh_oidc::authorize::AuthorizationParams::from_pairs(pairs) {
        Ok(params) => params,
        Err(error) => {
            audit(state, Some(client.client_id.clone()), "refused", refused(&error)).await?;
            return Ok(Err(PushRefused::Request(error.to_json())));
        }
    };
    let pushed = match dinhdanh_oidc::authorize::push(params, &client, now, state.oidc.lifetimes.pushed_request) {
        Ok(pushed) => pushed,
        Err(error) => {
            audit(state, Some(client.client_id.clone()), "refused", refused(&error)).await?;
            return Ok(Err(PushRefused::Request(error.to_json())));
        }
    };
    let (request_uri, hash) = dinhdanh_oidc::tokens::new_request_uri();
    let mut tx = state.store.begin().await?;
    tx.insert_oidc_pushed_request(&hash, &pushed).await?;
    tx.audit(AuditEntry {
        at: now,
        actor: format!("client:{}", client.client_id),
        action: "oidc.par",
        subject: Some(client.client_id.clone()),
        outcome: "ok",
        detail: json!({"expires_at": pushed.expires_at}),
    })
    .await?;
    tx.commit().await?;
    Ok(Ok(pushed.response(request_uri, now)))
}
