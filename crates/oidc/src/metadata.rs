//! The provider's identity and discovery document: the [`Issuer`] URL every token names as `iss`, the endpoint
//! URLs under it, and the typed [`ProviderMetadata`] served at `/.well-known/openid-configuration` (OpenID
//! Connect Discovery 1.0 §3, RFC 8414), which says exactly what this crate accepts: the code flow with `S256`
//! PKCE, PAR, pairwise subjects, ES256, the two `acr` values.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::scope::{Claim, Scope};

/// The issuer identifier: an `https` URL (plain `http` only to a loopback host, for tests) with no query, no
/// fragment and no trailing slash, compared as an exact string by relying parties.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Issuer(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an issuer URL: https, no query, no fragment, no trailing slash")]
pub struct IssuerError(String);

impl Issuer {
    pub fn parse(s: &str) -> Result<Self, IssuerError> {
        let bad = || IssuerError(s.to_owned());
        let url = Url::parse(s).map_err(|_| bad())?;
        let scheme_ok = match url.scheme() {
            "https" => true,
            "http" => matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")),
            _ => false,
        };
        if !scheme_ok || url.query().is_some() || s.contains('#') || s.ends_with('/') || url.host_str().is_none() {
            return Err(bad());
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `issuer` + `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    /// Where the discovery document is served (Discovery 1.0 §4).
    pub fn discovery_url(&self) -> String {
        self.url("/.well-known/openid-configuration")
    }
}

impl TryFrom<String> for Issuer {
    type Error = IssuerError;
    fn try_from(s: String) -> Result<Self, IssuerError> {
        Self::parse(&s)
    }
}

impl From<Issuer> for String {
    fn from(i: Issuer) -> String {
        i.0
    }
}

/// The paths of the endpoints under the issuer. The defaults keep the organizations' existing token endpoint
/// (`/oauth/token`, client credentials) as the one token endpoint for every grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointPaths {
    pub authorization: String,
    pub token: String,
    pub userinfo: String,
    pub jwks: String,
    pub pushed_authorization_request: String,
    pub introspection: String,
    pub revocation: String,
    pub end_session: String,
}

impl Default for EndpointPaths {
    fn default() -> Self {
        Self {
            authorization: "/oauth/authorize".into(),
            token: "/oauth/token".into(),
            userinfo: "/oauth/userinfo".into(),
            jwks: "/oauth/jwks".into(),
            pushed_authorization_request: "/oauth/par".into(),
            introspection: "/oauth/introspect".into(),
            revocation: "/oauth/revoke".into(),
            end_session: "/oauth/logout".into(),
        }
    }
}

/// Client authentication methods at the token, introspection and revocation endpoints.
pub const TOKEN_ENDPOINT_AUTH_METHODS: &[&str] = &["client_secret_basic", "client_secret_post", "private_key_jwt"];
/// Algorithms accepted for `private_key_jwt` assertions (what the server verifies today).
pub const CLIENT_ASSERTION_ALGS: &[&str] = &["ES256", "EdDSA", "RS256"];
/// Claims an ID token or userinfo response may carry.
pub const TOKEN_CLAIMS: &[&str] =
    &["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash"];
/// `ui_locales` the sign-in pages speak, preferred first.
pub const UI_LOCALES: &[&str] = &["vi", "en"];

/// The discovery document (OpenID Connect Discovery 1.0 §3, RFC 8414 §2, RFC 9126 §5, RFC 9207 §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderMetadata {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub userinfo_endpoint: String,
    pub jwks_uri: String,
    pub pushed_authorization_request_endpoint: String,
    /// Global default `false`; a client's registration can require PAR (RFC 9126 §5–6).
    pub require_pushed_authorization_requests: bool,
    pub introspection_endpoint: String,
    pub revocation_endpoint: String,
    pub end_session_endpoint: String,
    pub scopes_supported: Vec<String>,
    pub response_types_supported: Vec<String>,
    pub response_modes_supported: Vec<String>,
    pub grant_types_supported: Vec<String>,
    pub acr_values_supported: Vec<String>,
    pub subject_types_supported: Vec<String>,
    pub id_token_signing_alg_values_supported: Vec<String>,
    pub token_endpoint_auth_methods_supported: Vec<String>,
    pub token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    pub introspection_endpoint_auth_signing_alg_values_supported: Vec<String>,
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    pub revocation_endpoint_auth_signing_alg_values_supported: Vec<String>,
    pub code_challenge_methods_supported: Vec<String>,
    pub claims_supported: Vec<String>,
    pub claim_types_supported: Vec<String>,
    pub claims_parameter_supported: bool,
    pub request_parameter_supported: bool,
    /// `false`: request objects by reference are not fetched; the only `request_uri` accepted is one the PAR
    /// endpoint issued. (Discovery's default for this field is `true`, so it is stated.)
    pub request_uri_parameter_supported: bool,
    pub require_request_uri_registration: bool,
    pub ui_locales_supported: Vec<String>,
    pub display_values_supported: Vec<String>,
    pub prompt_values_supported: Vec<String>,
    pub authorization_response_iss_parameter_supported: bool,
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

impl ProviderMetadata {
    /// The document for an issuer and its endpoint paths.
    pub fn new(issuer: &Issuer, paths: &EndpointPaths) -> Self {
        let mut claims = strings(TOKEN_CLAIMS);
        claims.extend(Claim::ALL.iter().map(|c| c.as_str().to_owned()));
        Self {
            issuer: issuer.as_str().to_owned(),
            authorization_endpoint: issuer.url(&paths.authorization),
            token_endpoint: issuer.url(&paths.token),
            userinfo_endpoint: issuer.url(&paths.userinfo),
            jwks_uri: issuer.url(&paths.jwks),
            pushed_authorization_request_endpoint: issuer.url(&paths.pushed_authorization_request),
            require_pushed_authorization_requests: false,
            introspection_endpoint: issuer.url(&paths.introspection),
            revocation_endpoint: issuer.url(&paths.revocation),
            end_session_endpoint: issuer.url(&paths.end_session),
            scopes_supported: Scope::ALL.iter().map(|s| s.as_str().to_owned()).collect(),
            response_types_supported: strings(&["code"]),
            response_modes_supported: strings(&["query"]),
            grant_types_supported: strings(&["authorization_code", "refresh_token", "client_credentials"]),
            acr_values_supported: strings(&crate::acr::supported()),
            subject_types_supported: strings(&["pairwise", "public"]),
            id_token_signing_alg_values_supported: strings(&["ES256"]),
            token_endpoint_auth_methods_supported: strings(TOKEN_ENDPOINT_AUTH_METHODS),
            token_endpoint_auth_signing_alg_values_supported: strings(CLIENT_ASSERTION_ALGS),
            introspection_endpoint_auth_methods_supported: strings(TOKEN_ENDPOINT_AUTH_METHODS),
            introspection_endpoint_auth_signing_alg_values_supported: strings(CLIENT_ASSERTION_ALGS),
            revocation_endpoint_auth_methods_supported: strings(TOKEN_ENDPOINT_AUTH_METHODS),
            revocation_endpoint_auth_signing_alg_values_supported: strings(CLIENT_ASSERTION_ALGS),
            code_challenge_methods_supported: strings(&["S256"]),
            claims_supported: claims,
            claim_types_supported: strings(&["normal"]),
            claims_parameter_supported: true,
            request_parameter_supported: false,
            request_uri_parameter_supported: false,
            require_request_uri_registration: false,
            ui_locales_supported: strings(UI_LOCALES),
            display_values_supported: strings(&["page"]),
            prompt_values_supported: strings(&["none", "login", "consent", "select_account"]),
            authorization_response_iss_parameter_supported: true,
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn document() -> Value {
        let issuer = Issuer::parse("https://id.dinhdanh.example").unwrap();
        serde_json::to_value(ProviderMetadata::new(&issuer, &EndpointPaths::default())).unwrap()
    }

    fn list(doc: &Value, field: &str) -> Vec<String> {
        doc[field]
            .as_array()
            .unwrap_or_else(|| panic!("{field}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_document_has_what_discovery_requires() {
        let doc = document();
        // Discovery 1.0 §3 REQUIRED (token_endpoint too, as the code flow is supported).
        for field in ["issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"] {
            let url = doc[field].as_str().unwrap_or_else(|| panic!("{field}"));
            assert!(url.starts_with("https://id.dinhdanh.example"), "{field}: {url}");
        }
        for field in ["response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported"] {
            assert!(!list(&doc, field).is_empty(), "{field}");
        }
        assert_eq!(doc["issuer"], "https://id.dinhdanh.example");
        assert!(list(&doc, "scopes_supported").contains(&"openid".to_owned()), "Discovery: openid MUST be listed");
        // The issuer's own URL and the document's `issuer` agree exactly (Discovery §4.3).
        let issuer = Issuer::parse("https://id.dinhdanh.example").unwrap();
        assert_eq!(issuer.discovery_url(), "https://id.dinhdanh.example/.well-known/openid-configuration");
    }

    #[test]
    fn the_document_says_only_what_the_crate_accepts() {
        let doc = document();
        assert_eq!(list(&doc, "response_types_supported"), ["code"]);
        assert_eq!(list(&doc, "code_challenge_methods_supported"), ["S256"]);
        assert_eq!(list(&doc, "grant_types_supported"), ["authorization_code", "refresh_token", "client_credentials"]);
        assert_eq!(list(&doc, "subject_types_supported"), ["pairwise", "public"]);
        assert_eq!(list(&doc, "id_token_signing_alg_values_supported"), ["ES256"]);
        assert_eq!(list(&doc, "acr_values_supported"), ["urn:dinhdanh:loa:1", "urn:dinhdanh:loa:2"]);
        assert_eq!(
            list(&doc, "token_endpoint_auth_methods_supported"),
            ["client_secret_basic", "client_secret_post", "private_key_jwt"]
        );
        assert!(list(&doc, "claims_supported").contains(&"dinhdanh:id_number".to_owned()));
        assert_eq!(doc["require_pushed_authorization_requests"], false);
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        assert_eq!(doc["request_parameter_supported"], false);
        assert_eq!(doc["request_uri_parameter_supported"], false);
        assert_eq!(doc["pushed_authorization_request_endpoint"], "https://id.dinhdanh.example/oauth/par");
        assert_eq!(doc["token_endpoint"], "https://id.dinhdanh.example/oauth/token");
        let back: ProviderMetadata = serde_json::from_value(doc).unwrap();
        assert_eq!(back.issuer, "https://id.dinhdanh.example");
    }

    #[test]
    fn issuers_are_https_urls_without_query_fragment_or_trailing_slash() {
        for good in ["https://id.example", "https://gov.example/id", "http://127.0.0.1:8080"] {
            assert!(Issuer::parse(good).is_ok(), "{good}");
        }
        for bad in
            ["http://id.example", "https://id.example/", "https://id.example?x=1", "https://id.example#f", "id.example"]
        {
            assert!(Issuer::parse(bad).is_err(), "{bad}");
        }
        let with_path = Issuer::parse("https://gov.example/id").unwrap();
        assert_eq!(with_path.url("/oauth/token"), "https://gov.example/id/oauth/token");
    }
}
