//! Opaque secrets (authorization codes, refresh tokens, PAR references, identifiers) and the rules of their use,
//! as pure state machines: what the caller stores for a code and for a refresh-token family, and what a
//! presented code or refresh token leads to — a [`CodeDecision`] or a [`RefreshDecision`] the caller applies in
//! one store transaction. Only hashes are stored; the plain values are shown once.
//!
//! A **grant** is everything issued from one authorization code: its access tokens and its refresh-token
//! family, all tagged with the grant's id. Reusing the code, or a refresh token of the family that was already
//! rotated, revokes the whole grant (RFC 6749 §4.1.2 and §10.4, OAuth 2.0 Security BCP §4.14.2).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use dinhdanh_domain::{AccountId, Level};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ErrorCode, TokenError};
use crate::pkce::CodeChallenge;
use crate::scope::{Claim, Scope};

/// Prefix of authorization codes.
pub const CODE_PREFIX: &str = "dd_ac_";
/// Prefix of refresh tokens.
pub const REFRESH_TOKEN_PREFIX: &str = "dd_rt_";
/// Prefix of the provider's browser-session cookie values (single sign-on across relying parties).
pub const PROVIDER_SESSION_PREFIX: &str = "dd_ps_";
/// What every PAR `request_uri` starts with (RFC 9126 §2.2).
pub const REQUEST_URI_PREFIX: &str = "urn:ietf:params:oauth:request_uri:";

/// A new opaque secret: `prefix` and 32 random bytes in lower-case hex, and the hex SHA-256 under which it is
/// stored. 256 random bits leave no dictionary to guess from, so a fast hash suffices.
///
/// The same format and hash as `dinhdanh-server`'s `secrets::new_token` / `token_hash`, so that the two can
/// become one without migrating stored hashes.
pub fn new_token(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{prefix}{}", hex(&bytes));
    let hash = token_hash(&token);
    (token, hash)
}

/// The storage form of an opaque secret: hex SHA-256.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

/// Lower-case hexadecimal, the text form of hashes and random values.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random identifier (a grant id, a JWT `jti`): 128 bits, base64url.
pub fn new_id() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A new PAR `request_uri` and the hash of its reference, under which the pushed request is stored.
pub fn new_request_uri() -> (String, String) {
    let (reference, _) = new_token("");
    let uri = format!("{REQUEST_URI_PREFIX}{reference}");
    let hash = token_hash(&uri);
    (uri, hash)
}

/// How long each thing lives. The defaults: codes 60 s, JWT access tokens 5 minutes (issue 14: a lock must reach
/// a relying party that does not introspect within that), ID tokens 5 minutes, refresh tokens 14 days unused
/// and 30 days in all, pushed requests 60 s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub code: Duration,
    pub access_token: Duration,
    pub id_token: Duration,
    /// A refresh token must be used within this, else the family ends.
    pub refresh_token_idle: Duration,
    /// A family ends this long after its code was exchanged, however often it is refreshed.
    pub refresh_family: Duration,
    pub pushed_request: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            code: Duration::seconds(60),
            access_token: Duration::minutes(5),
            id_token: Duration::minutes(5),
            refresh_token_idle: Duration::days(14),
            refresh_family: Duration::days(30),
            pushed_request: Duration::seconds(60),
        }
    }
}

impl Lifetimes {
    /// The longest any token signed by the provider's keys lives: how long a retired key must stay in the JWKS
    /// ([`crate::keys::KeySet::rotate`]).
    pub fn max_signed(&self) -> Duration {
        self.access_token.max(self.id_token)
    }
}

/// What the holder granted a client in one sign-in: the same for the code, every access token and the refresh
/// family that come from it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Tags every token issued from this grant, so one statement can revoke them all.
    pub id: String,
    pub client_id: String,
    pub account_id: AccountId,
    pub scopes: BTreeSet<Scope>,
    /// The claims the holder consented to release (for userinfo, and for the ID token when asked there).
    pub claims: BTreeSet<Claim>,
    /// Claims the `claims` parameter asked for in the ID token itself (a subset of `claims`).
    pub id_token_claims: BTreeSet<Claim>,
    /// The level the tokens state as `acr` (see [`crate::acr::satisfy`]).
    pub acr: Level,
    pub amr: Vec<String>,
    pub auth_time: DateTime<Utc>,
}

impl Grant {
    /// Whether this grant gets a refresh token: only when `offline_access` was granted (OIDC Core §11).
    pub fn allows_refresh(&self) -> bool {
        self.scopes.contains(&Scope::OfflineAccess)
    }
}

/// An authorization code as the caller stores it (under `hash`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationCode {
    pub hash: String,
    pub grant: Grant,
    pub redirect_uri: String,
    pub code_challenge: CodeChallenge,
    pub nonce: Option<String>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set when exchanged. The caller sets it with a conditional update (`… WHERE used_at IS NULL`) so that two
    /// concurrent exchanges cannot both succeed.
    pub used_at: Option<DateTime<Utc>>,
}

impl AuthorizationCode {
    /// A new code for a grant: the plain code for the redirect, and the record to store.
    pub fn issue(
        grant: Grant,
        redirect_uri: String,
        code_challenge: CodeChallenge,
        nonce: Option<String>,
        now: DateTime<Utc>,
        lifetimes: &Lifetimes,
    ) -> (String, Self) {
        let (code, hash) = new_token(CODE_PREFIX);
        let record = Self {
            hash,
            grant,
            redirect_uri,
            code_challenge,
            nonce,
            issued_at: now,
            expires_at: now + lifetimes.code,
            used_at: None,
        };
        (code, record)
    }
}

/// What a code exchange presents besides the code: the authenticated client, and the form's `redirect_uri` and
/// `code_verifier`.
#[derive(Debug, Clone, Copy)]
pub struct CodeExchange<'a> {
    pub client_id: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
}

/// What to do with a presented code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeDecision {
    /// Mark the code used and issue the grant's tokens.
    Exchange,
    /// The code was already exchanged: refuse with `invalid_grant` and revoke every token of the grant (the
    /// code leaked, or an attacker raced the client).
    Reuse { revoke_grant: String, error: TokenError },
    /// Refuse with this error; nothing else changes.
    Reject(TokenError),
}

/// The token endpoint's rules for `grant_type=authorization_code` (RFC 6749 §4.1.3, RFC 7636 §4.6).
pub fn redeem_code(code: &AuthorizationCode, exchange: CodeExchange<'_>, now: DateTime<Utc>) -> CodeDecision {
    let reject = |d: &str| CodeDecision::Reject(TokenError::invalid_grant(d));
    if code.used_at.is_some() {
        return CodeDecision::Reuse {
            revoke_grant: code.grant.id.clone(),
            error: TokenError::invalid_grant("the authorization code was already used"),
        };
    }
    if code.grant.client_id != exchange.client_id {
        return reject("the authorization code was issued to another client");
    }
    if now >= code.expires_at {
        return reject("the authorization code has expired");
    }
    // OpenID Connect requests always carry redirect_uri, so the exchange must repeat it exactly (§4.1.3).
    if exchange.redirect_uri != Some(code.redirect_uri.as_str()) {
        return reject("redirect_uri differs from the authorization request's");
    }
    let Some(verifier) = exchange.code_verifier else {
        return CodeDecision::Reject(TokenError::new(ErrorCode::InvalidRequest, "code_verifier is required"));
    };
    match code.code_challenge.verify(verifier) {
        Ok(()) => CodeDecision::Exchange,
        Err(e) => reject(&e.to_string()),
    }
}

/// A refresh-token family: the grant it continues and its life. Revoked as a whole by reuse, by the holder (a
/// withdrawn consent), by a lock, or by the client's revocation request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshFamily {
    pub grant: Grant,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}

/// One refresh token of a family, as stored (under `hash`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub hash: String,
    /// The grant's id.
    pub family: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// Set when it was exchanged for its successor; presenting it again is reuse.
    pub used_at: Option<DateTime<Utc>>,
}

/// A newly issued refresh token: the plain value for the client, the record to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    pub token: String,
    pub record: RefreshToken,
}

fn new_refresh_token(family: &RefreshFamily, now: DateTime<Utc>, lifetimes: &Lifetimes) -> NewRefreshToken {
    let (token, hash) = new_token(REFRESH_TOKEN_PREFIX);
    // Never beyond the family's own end.
    let expires_at = (now + lifetimes.refresh_token_idle).min(family.expires_at);
    NewRefreshToken {
        token,
        record: RefreshToken { hash, family: family.grant.id.clone(), issued_at: now, expires_at, used_at: None },
    }
}

impl RefreshFamily {
    /// The family a code exchange starts, and its first token; `None` when the grant has no `offline_access`.
    pub fn start(grant: &Grant, now: DateTime<Utc>, lifetimes: &Lifetimes) -> Option<(Self, NewRefreshToken)> {
        if !grant.allows_refresh() {
            return None;
        }
        let family = Self {
            grant: grant.clone(),
            created_at: now,
            expires_at: now + lifetimes.refresh_family,
            revoked_at: None,
        };
        let first = new_refresh_token(&family, now, lifetimes);
        Some((family, first))
    }
}

/// What to do with a presented refresh token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Mark `used` used (conditionally, as for codes), store `next`, and issue access (and ID) tokens for
    /// `scopes` — the grant's, or the narrower set asked for (RFC 6749 §6).
    Rotate {
        used: String,
        next: NewRefreshToken,
        scopes: BTreeSet<Scope>,
    },
    /// The token was already rotated: someone holds a copy. Revoke the whole family (and the grant's access
    /// tokens) and refuse with `invalid_grant`.
    Reuse {
        revoke_grant: String,
        error: TokenError,
    },
    Reject(TokenError),
}

/// The token endpoint's rules for `grant_type=refresh_token`: the token must be the family's live one, for the
/// authenticated client, unexpired, in a family that is neither revoked nor past its end; `scope`, if given,
/// may only narrow the grant.
pub fn refresh(
    family: &RefreshFamily,
    token: &RefreshToken,
    client_id: &str,
    requested_scope: Option<&str>,
    now: DateTime<Utc>,
    lifetimes: &Lifetimes,
) -> RefreshDecision {
    let reject = |d: &str| RefreshDecision::Reject(TokenError::invalid_grant(d));
    if token.family != family.grant.id {
        return reject("the refresh token does not belong to this family");
    }
    if family.grant.client_id != client_id {
        return reject("the refresh token was issued to another client");
    }
    if family.revoked_at.is_some() {
        return reject("the refresh token has been revoked");
    }
    if token.used_at.is_some() {
        return RefreshDecision::Reuse {
            revoke_grant: family.grant.id.clone(),
            error: TokenError::invalid_grant("the refresh token was already used; its family is revoked"),
        };
    }
    if now >= token.expires_at || now >= family.expires_at {
        return reject("the refresh token has expired");
    }
    let scopes = match requested_scope.map(str::trim).filter(|s| !s.is_empty()) {
        None => family.grant.scopes.clone(),
        Some(list) => match crate::scope::parse_scopes(list) {
            Ok(asked) if asked.is_subset(&family.grant.scopes) && asked.contains(&Scope::OpenId) => asked,
            _ => {
                return RefreshDecision::Reject(TokenError::new(
                    ErrorCode::InvalidScope,
                    "scope may only narrow the original grant, and must keep openid",
                ));
            }
        },
    };
    RefreshDecision::Rotate { used: token.hash.clone(), next: new_refresh_token(family, now, lifetimes), scopes }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap()
    }

    fn grant(scopes: &[Scope]) -> Grant {
        Grant {
            id: new_id(),
            client_id: "bank".into(),
            account_id: AccountId::new("a1".into()),
            scopes: scopes.iter().copied().collect(),
            claims: [Claim::Name].into(),
            id_token_claims: BTreeSet::new(),
            acr: Level::One,
            amr: vec!["pwd".into(), "otp".into()],
            auth_time: t0(),
        }
    }

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    fn code() -> (String, AuthorizationCode) {
        let g = grant(&[Scope::OpenId, Scope::OfflineAccess]);
        AuthorizationCode::issue(
            g,
            "https://bank.example/cb".into(),
            CodeChallenge::of_verifier(VERIFIER),
            Some("n".into()),
            t0(),
            &Lifetimes::default(),
        )
    }

    fn exchange(verifier: Option<&'static str>) -> CodeExchange<'static> {
        CodeExchange { client_id: "bank", redirect_uri: Some("https://bank.example/cb"), code_verifier: verifier }
    }

    #[test]
    fn tokens_are_prefixed_256_bit_hex_stored_by_hash() {
        let (token, hash) = new_token(REFRESH_TOKEN_PREFIX);
        let hex_part = token.strip_prefix("dd_rt_").unwrap();
        assert_eq!(hex_part.len(), 64);
        assert!(hex_part.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(hash, hex(&Sha256::digest(token.as_bytes())));
        assert_ne!(new_token(REFRESH_TOKEN_PREFIX).0, token);
        let (uri, uri_hash) = new_request_uri();
        assert!(uri.starts_with("urn:ietf:params:oauth:request_uri:"));
        assert_eq!(token_hash(&uri), uri_hash);
        assert_eq!(new_id().len(), 22);
    }

    #[test]
    fn a_code_is_exchanged_once_by_its_client_with_its_verifier() {
        let (plain, code) = code();
        assert!(plain.starts_with(CODE_PREFIX));
        assert_eq!(code.hash, token_hash(&plain));
        let soon = t0() + Duration::seconds(10);
        assert_eq!(redeem_code(&code, exchange(Some(VERIFIER)), soon), CodeDecision::Exchange);
        let other_client = CodeExchange { client_id: "shop", ..exchange(Some(VERIFIER)) };
        assert!(
            matches!(redeem_code(&code, other_client, soon), CodeDecision::Reject(e) if e.error == ErrorCode::InvalidGrant)
        );
        let other_redirect =
            CodeExchange { redirect_uri: Some("https://bank.example/cb/"), ..exchange(Some(VERIFIER)) };
        assert!(matches!(redeem_code(&code, other_redirect, soon), CodeDecision::Reject(_)));
        let no_redirect = CodeExchange { redirect_uri: None, ..exchange(Some(VERIFIER)) };
        assert!(matches!(redeem_code(&code, no_redirect, soon), CodeDecision::Reject(_)));
        assert!(
            matches!(redeem_code(&code, exchange(None), soon), CodeDecision::Reject(e) if e.error == ErrorCode::InvalidRequest)
        );
        let wrong = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK";
        assert!(
            matches!(redeem_code(&code, exchange(Some(wrong)), soon), CodeDecision::Reject(e) if e.error == ErrorCode::InvalidGrant)
        );
        assert!(matches!(
            redeem_code(&code, exchange(Some(VERIFIER)), t0() + Duration::seconds(60)),
            CodeDecision::Reject(_)
        ));
    }

    #[test]
    fn a_reused_code_revokes_its_grant() {
        let (_, mut code) = code();
        code.used_at = Some(t0() + Duration::seconds(1));
        match redeem_code(&code, exchange(Some(VERIFIER)), t0() + Duration::seconds(2)) {
            CodeDecision::Reuse { revoke_grant, error } => {
                assert_eq!(revoke_grant, code.grant.id);
                assert_eq!(error.error, ErrorCode::InvalidGrant);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn only_offline_access_starts_a_refresh_family() {
        let lifetimes = Lifetimes::default();
        assert!(RefreshFamily::start(&grant(&[Scope::OpenId]), t0(), &lifetimes).is_none());
        let (family, first) =
            RefreshFamily::start(&grant(&[Scope::OpenId, Scope::OfflineAccess]), t0(), &lifetimes).unwrap();
        assert_eq!(first.record.family, family.grant.id);
        assert!(first.token.starts_with(REFRESH_TOKEN_PREFIX));
        assert_eq!(first.record.expires_at, t0() + Duration::days(14));
        assert_eq!(family.expires_at, t0() + Duration::days(30));
    }

    #[test]
    fn each_refresh_rotates_and_a_rotated_token_presented_again_revokes_the_family() {
        let lifetimes = Lifetimes::default();
        let (mut family, first) =
            RefreshFamily::start(&grant(&[Scope::OpenId, Scope::Profile, Scope::OfflineAccess]), t0(), &lifetimes)
                .unwrap();
        let mut current = first.record;
        let now = t0() + Duration::days(1);
        // A chain of rotations: each token works once.
        for _ in 0..3 {
            let RefreshDecision::Rotate { used, next, scopes } =
                refresh(&family, &current, "bank", None, now, &lifetimes)
            else {
                panic!()
            };
            assert_eq!(used, current.hash);
            assert_eq!(scopes, family.grant.scopes);
            assert_ne!(next.record.hash, current.hash);
            current.used_at = Some(now);
            let old = current.clone();
            current = next.record;
            // The old one again: reuse, the family goes.
            match refresh(&family, &old, "bank", None, now, &lifetimes) {
                RefreshDecision::Reuse { revoke_grant, .. } => assert_eq!(revoke_grant, family.grant.id),
                other => panic!("{other:?}"),
            }
        }
        // Once the caller applied the revocation, even the live token is refused.
        family.revoked_at = Some(now);
        assert!(
            matches!(refresh(&family, &current, "bank", None, now, &lifetimes), RefreshDecision::Reject(e) if e.error == ErrorCode::InvalidGrant)
        );
    }

    #[test]
    fn refresh_is_refused_to_other_clients_after_expiry_and_for_wider_scopes() {
        let lifetimes = Lifetimes::default();
        let (family, first) =
            RefreshFamily::start(&grant(&[Scope::OpenId, Scope::Profile, Scope::OfflineAccess]), t0(), &lifetimes)
                .unwrap();
        let token = first.record;
        let now = t0() + Duration::hours(1);
        assert!(matches!(refresh(&family, &token, "shop", None, now, &lifetimes), RefreshDecision::Reject(_)));
        assert!(matches!(
            refresh(&family, &token, "bank", None, t0() + Duration::days(14), &lifetimes),
            RefreshDecision::Reject(_)
        ));
        assert!(matches!(
            refresh(&family, &token, "bank", Some("openid email"), now, &lifetimes),
            RefreshDecision::Reject(e) if e.error == ErrorCode::InvalidScope
        ));
        let RefreshDecision::Rotate { scopes, next, .. } =
            refresh(&family, &token, "bank", Some("openid"), now, &lifetimes)
        else {
            panic!()
        };
        assert_eq!(scopes, [Scope::OpenId].into());
        // The family's end bounds every token, however late it is rotated.
        let mid = t0() + Duration::days(13);
        let RefreshDecision::Rotate { next, .. } = refresh(&family, &next.record, "bank", None, mid, &lifetimes) else {
            panic!()
        };
        let late = t0() + Duration::days(26);
        let RefreshDecision::Rotate { next: late_next, .. } =
            refresh(&family, &next.record, "bank", None, late, &lifetimes)
        else {
            panic!()
        };
        assert_eq!(late_next.record.expires_at, family.expires_at);
    }
}
