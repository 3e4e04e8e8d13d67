//! What the provider's tokens and responses say: the ID token (OIDC Core §2, §3.1.3.6), the JWT access token
//! (RFC 9068), the userinfo response (OIDC Core §5.3) with only the claims the holder consented to and the
//! client's scopes carry, the token endpoint's response, and the introspection response (RFC 7662).
//! [`issue_tokens`] signs an access token and an ID token for a grant in one call.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, NaiveDate, Utc};
use dinhdanh_domain::{Email, FullName, Gender, IdentificationNumber, PhoneNumber};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::acr::acr_of;
use crate::keys::{KeyError, KeySet, TokenType};
use crate::metadata::Issuer;
use crate::scope::{Claim, Scope, claims_of, format_scopes};
use crate::tokens::{Grant, Lifetimes, RefreshToken, new_id};

/// `at_hash` for an ES256 ID token (OIDC Core §3.1.3.6): the left half of the SHA-256 of the access token's
/// ASCII, base64url.
pub fn at_hash(access_token: &str) -> String {
    let digest = Sha256::digest(access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// What dinhdanh knows about the holder that a relying party may receive. The caller fills it from the account
/// and the registry record; [`HolderClaims::release`] lets only the allowed claims out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HolderClaims {
    pub name: Option<FullName>,
    pub birthdate: Option<NaiveDate>,
    pub gender: Option<Gender>,
    pub phone_number: Option<PhoneNumber>,
    /// The holder proved control of it (an activation or sign-in code went there).
    pub phone_number_verified: bool,
    pub email: Option<Email>,
    pub email_verified: bool,
    /// Citizens only.
    pub id_number: Option<IdentificationNumber>,
}

impl HolderClaims {
    /// The members for `allowed` claims that have a value. A `_verified` flag goes out only with its number or
    /// address.
    pub fn release(&self, allowed: &BTreeSet<Claim>) -> Map<String, Value> {
        let mut out = Map::new();
        for claim in allowed {
            let value = match claim {
                Claim::Name => self.name.as_ref().map(|n| Value::from(n.as_str())),
                // OIDC Core §5.1: YYYY-MM-DD.
                Claim::Birthdate => self.birthdate.map(|d| Value::from(d.format("%Y-%m-%d").to_string())),
                Claim::Gender => self.gender.map(|g| Value::from(g.as_str())),
                // E.164, as OIDC Core §5.1 recommends.
                Claim::PhoneNumber => self.phone_number.as_ref().map(|p| Value::from(p.as_str())),
                Claim::PhoneNumberVerified => {
                    self.phone_number.as_ref().map(|_| Value::from(self.phone_number_verified))
                }
                Claim::Email => self.email.as_ref().map(|e| Value::from(e.as_str())),
                Claim::EmailVerified => self.email.as_ref().map(|_| Value::from(self.email_verified)),
                Claim::IdNumber => self.id_number.as_ref().map(|n| Value::from(n.as_str())),
            };
            if let Some(value) = value {
                out.insert(claim.as_str().to_owned(), value);
            }
        }
        out
    }
}

/// The claims userinfo releases for an access token of `token_scopes` from `grant`: those the holder consented
/// to, less those of scopes a refresh narrowed away. (Claims asked for by the `claims` parameter, outside every
/// scope of the grant, stay.)
pub fn userinfo_claims(grant: &Grant, token_scopes: &BTreeSet<Scope>) -> BTreeSet<Claim> {
    let by_scope = claims_of(&grant.scopes);
    let still = claims_of(token_scopes);
    grant.claims.iter().filter(|c| still.contains(c) || !by_scope.contains(c)).copied().collect()
}

/// The userinfo response: `sub` and the released claims.
pub fn userinfo(sub: &str, grant: &Grant, token_scopes: &BTreeSet<Scope>, holder: &HolderClaims) -> Map<String, Value> {
    let mut out = holder.release(&userinfo_claims(grant, token_scopes));
    out.insert("sub".into(), Value::from(sub));
    out
}

/// An ID token's claims.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub acr: String,
    #[serde(skip_serializing_if = "Vec::is_empty", default)]
    pub amr: Vec<String>,
    /// The client the token was issued to (OIDC Core §2), the same as `aud`.
    pub azp: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Holder claims the `claims` parameter asked for in the ID token, if consented.
    #[serde(flatten)]
    pub holder: Map<String, Value>,
}

impl IdTokenClaims {
    /// The ID token for `input.grant`. `input.nonce` is the authorization request's; pass `None` on refresh
    /// (OIDC Core §12.2 as amended by the errata: a refreshed ID token may omit it, and `iss`, `sub`, `aud`,
    /// `azp` and `auth_time` stay those of the original). `access_token` is the one issued beside it, for
    /// `at_hash`.
    pub fn new(input: &TokenInput<'_>, access_token: Option<&str>, now: DateTime<Utc>, lifetimes: &Lifetimes) -> Self {
        let grant = input.grant;
        Self {
            iss: input.issuer.as_str().to_owned(),
            sub: input.sub.to_owned(),
            aud: grant.client_id.clone(),
            exp: (now + lifetimes.id_token).timestamp(),
            iat: now.timestamp(),
            auth_time: grant.auth_time.timestamp(),
            nonce: input.nonce.map(str::to_owned),
            acr: acr_of(grant.acr).to_owned(),
            amr: grant.amr.clone(),
            azp: grant.client_id.clone(),
            at_hash: access_token.map(at_hash),
            holder: input.holder.release(&grant.id_token_claims),
        }
    }
}

/// An RFC 9068 access token's claims. `jti` is what the caller stores (with the grant id) so that
/// introspection and userinfo can see a revocation before `exp`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessTokenClaims {
    pub iss: String,
    pub exp: i64,
    /// The resource it is for: dinhdanh's own userinfo endpoint unless the caller says otherwise.
    pub aud: String,
    pub sub: String,
    pub client_id: String,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    pub auth_time: i64,
    pub acr: String,
}

impl AccessTokenClaims {
    /// The access token for `input.grant` with `input.scopes`, and a new `jti`.
    pub fn new(input: &TokenInput<'_>, now: DateTime<Utc>, lifetimes: &Lifetimes) -> Self {
        Self {
            iss: input.issuer.as_str().to_owned(),
            exp: (now + lifetimes.access_token).timestamp(),
            aud: input.audience.to_owned(),
            sub: input.sub.to_owned(),
            client_id: input.grant.client_id.clone(),
            iat: now.timestamp(),
            jti: new_id(),
            scope: format_scopes(input.scopes),
            auth_time: input.grant.auth_time.timestamp(),
            acr: acr_of(input.grant.acr).to_owned(),
        }
    }
}

/// The token endpoint's successful response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    pub expires_in: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    pub scope: String,
}

/// What [`issue_tokens`] made: the response, and the access token's claims for the caller to record its `jti`.
#[derive(Debug, Clone, PartialEq)]
pub struct IssuedTokens {
    pub response: TokenResponse,
    pub access: AccessTokenClaims,
    pub id_token: Option<IdTokenClaims>,
}

/// What to issue tokens for.
#[derive(Debug, Clone, Copy)]
pub struct TokenInput<'a> {
    pub issuer: &'a Issuer,
    /// The access token's `aud`.
    pub audience: &'a str,
    /// The `sub` this client sees ([`crate::subject::subject_for`]).
    pub sub: &'a str,
    pub grant: &'a Grant,
    /// The access token's scopes: the grant's, or fewer after a narrowing refresh.
    pub scopes: &'a BTreeSet<Scope>,
    pub nonce: Option<&'a str>,
    pub holder: &'a HolderClaims,
    /// Set when a refresh family gave one.
    pub refresh_token: Option<&'a str>,
}

/// Signs an access token and, when `openid` is among the scopes, an ID token whose `at_hash` binds it.
pub fn issue_tokens(
    keys: &KeySet,
    input: TokenInput<'_>,
    now: DateTime<Utc>,
    lifetimes: &Lifetimes,
) -> Result<IssuedTokens, KeyError> {
    let access = AccessTokenClaims::new(&input, now, lifetimes);
    let access_token = keys.sign(&access, TokenType::AccessToken)?;
    let id_claims =
        input.scopes.contains(&Scope::OpenId).then(|| IdTokenClaims::new(&input, Some(&access_token), now, lifetimes));
    let id_token = id_claims.as_ref().map(|c| keys.sign(c, TokenType::IdToken)).transpose()?;
    Ok(IssuedTokens {
        response: TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: lifetimes.access_token.num_seconds(),
            refresh_token: input.refresh_token.map(str::to_owned),
            id_token,
            scope: access.scope.clone(),
        },
        access,
        id_token: id_claims,
    })
}

/// The introspection response (RFC 7662 §2.2). An inactive token says nothing else, whatever the reason
/// (unknown, expired, revoked, a locked holder's, another client's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Introspection {
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_type: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iat: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aud: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jti: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
}

impl Introspection {
    /// `{"active": false}`.
    pub fn inactive() -> Self {
        Self::default()
    }

    /// The answer for a live (verified, unexpired, unrevoked, holder not locked) access token.
    pub fn of_access_token(claims: &AccessTokenClaims) -> Self {
        Self {
            active: true,
            scope: Some(claims.scope.clone()),
            client_id: Some(claims.client_id.clone()),
            token_type: Some("Bearer".into()),
            exp: Some(claims.exp),
            iat: Some(claims.iat),
            sub: Some(claims.sub.clone()),
            aud: Some(claims.aud.clone()),
            iss: Some(claims.iss.clone()),
            jti: Some(claims.jti.clone()),
            auth_time: Some(claims.auth_time),
            acr: Some(claims.acr.clone()),
        }
    }

    /// A live refresh token (RFC 7662 §2.2): the scopes a refresh would grant now, the holder's `sub` at this
    /// client, the token's own times, and the sign-in's `auth_time` and `acr`. No `aud` or `jti`: a refresh
    /// token is opaque and for the provider alone.
    pub fn of_refresh_token(
        issuer: &Issuer,
        grant: &Grant,
        record: &RefreshToken,
        scopes: &BTreeSet<Scope>,
        sub: &str,
    ) -> Self {
        Self {
            active: true,
            scope: Some(format_scopes(scopes)),
            client_id: Some(grant.client_id.clone()),
            token_type: Some("refresh_token".into()),
            exp: Some(record.expires_at.timestamp()),
            iat: Some(record.issued_at.timestamp()),
            sub: Some(sub.to_owned()),
            aud: None,
            iss: Some(issuer.as_str().to_owned()),
            jti: None,
            auth_time: Some(grant.auth_time.timestamp()),
            acr: Some(acr_of(grant.acr).to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};
    use dinhdanh_domain::{AccountId, Level, ProvinceTable};

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap()
    }

    fn holder() -> HolderClaims {
        HolderClaims {
            name: Some(FullName::parse("Nguyễn Văn Hùng").unwrap()),
            birthdate: NaiveDate::from_ymd_opt(1990, 3, 7),
            gender: Some(Gender::Male),
            phone_number: Some(PhoneNumber::parse("0912345678").unwrap()),
            phone_number_verified: true,
            email: None,
            email_verified: true,
            id_number: Some(IdentificationNumber::parse("001090123456", &ProvinceTable::builtin()).unwrap()),
        }
    }

    fn grant(scopes: &[Scope], claims: &[Claim]) -> Grant {
        Grant {
            id: "g1".into(),
            client_id: "bank".into(),
            account_id: AccountId::new("a1".into()),
            scopes: scopes.iter().copied().collect(),
            claims: claims.iter().copied().collect(),
            id_token_claims: BTreeSet::new(),
            acr: Level::Two,
            amr: vec!["pwd".into(), "otp".into()],
            auth_time: t0() - Duration::minutes(2),
        }
    }

    #[test]
    fn at_hash_is_the_left_half_of_sha_256() {
        // OIDC Core §A.3's access token; its at_hash there is for RS256, which also uses SHA-256.
        assert_eq!(at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"), "77QmUPtjPfzWtF2AnpK9RQ");
    }

    #[test]
    fn only_allowed_claims_with_values_are_released() {
        let h = holder();
        let all: BTreeSet<Claim> = Claim::ALL.iter().copied().collect();
        let out = h.release(&all);
        assert_eq!(out["name"], "Nguyễn Văn Hùng");
        assert_eq!(out["birthdate"], "1990-03-07");
        assert_eq!(out["gender"], "male");
        assert_eq!(out["phone_number"], "+84912345678");
        assert_eq!(out["phone_number_verified"], true);
        assert_eq!(out["dinhdanh:id_number"], "001090123456");
        assert!(!out.contains_key("email") && !out.contains_key("email_verified"), "no address, no flag");
        let only_name = h.release(&[Claim::Name].into());
        assert_eq!(only_name.len(), 1);
        assert!(h.release(&BTreeSet::new()).is_empty());
    }

    #[test]
    fn userinfo_follows_consent_and_the_tokens_scopes() {
        let g =
            grant(&[Scope::OpenId, Scope::Profile, Scope::Phone], &[Claim::Name, Claim::PhoneNumber, Claim::IdNumber]);
        let out = userinfo("sub-1", &g, &g.scopes, &holder());
        assert_eq!(out["sub"], "sub-1");
        assert_eq!(out["name"], "Nguyễn Văn Hùng");
        assert_eq!(out["phone_number"], "+84912345678");
        assert!(!out.contains_key("birthdate"), "not consented");
        assert!(!out.contains_key("phone_number_verified"), "not consented");
        // The id number came from the claims parameter (no id_number scope in the grant): it stays.
        assert_eq!(out["dinhdanh:id_number"], "001090123456");
        // A refresh narrowed to openid profile: the phone goes.
        let narrowed = userinfo("sub-1", &g, &[Scope::OpenId, Scope::Profile].into(), &holder());
        assert!(!narrowed.contains_key("phone_number"));
        assert!(narrowed.contains_key("name"));
    }

    #[test]
    fn introspection_of_an_inactive_token_says_only_that() {
        assert_eq!(serde_json::to_value(Introspection::inactive()).unwrap(), serde_json::json!({"active": false}));
    }
}
