//! `POST /oauth/token`: the one OAuth 2.0 token endpoint. The organizations' client-credentials grant (RFC 6749
//! §4.4) is answered here; the relying parties' `authorization_code` and `refresh_token` grants go on to
//! `api::oidc::token`. This module also owns what every endpoint where clients authenticate reads (the form, the
//! client's credentials) and how it answers errors. Clients authenticate with `private_key_jwt` (RFC 7523) or a
//! client secret (`client_secret_basic`, `client_secret_post`). Errors here are RFC 6749 §5.2 JSON
//! (`{"error": ..., "error_description": ...}`), not problem details, because that is what OAuth client libraries
//! read.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use dinhdanh_domain::actor::format_scopes;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use dinhdanh_oidc::client::PresentedAuth;
use dinhdanh_oidc::{ErrorCode, TokenError};

use crate::AppState;
use crate::service::clients::{self, ClientAuthentication, JWT_BEARER_ASSERTION_TYPE, TokenRequest};

#[derive(OpenApi)]
#[openapi(
    paths(token),
    components(schemas(TokenForm, TokenResponse, OAuthErrorBody)),
    tags((name = "oauth", description = "OAuth 2.0 token endpoint for organizations' API clients"))
)]
pub struct Doc;

/// Routes that need a bearer token: none here.
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// The token endpoint (the public per-IP limit applies).
pub fn public_routes() -> Router<AppState> {
    Router::new().route("/oauth/token", post(token))
}

pub const TOKEN_PATH: &str = "/oauth/token";

/// The form of a token request (`application/x-www-form-urlencoded`). Send the client's credential in exactly
/// one way: `client_assertion` (+ type), `client_secret` in the form, or HTTP Basic with the url-encoded client
/// id and secret.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)]
pub struct TokenForm {
    /// `client_credentials` (organizations' API clients, described here), or a relying party's
    /// `authorization_code` or `refresh_token` (OpenID Connect: see the discovery document and docs/oidc.md).
    #[schema(example = "client_credentials")]
    pub grant_type: String,
    /// Space-separated scopes; when absent, the token carries all the client's scopes.
    #[schema(example = "locks:request accounts:status")]
    pub scope: Option<String>,
    /// The client id (required with `client_secret`; optional with an assertion, whose `sub` names it).
    pub client_id: Option<String>,
    /// `client_secret_post` only.
    pub client_secret: Option<String>,
    /// `urn:ietf:params:oauth:client-assertion-type:jwt-bearer` with `private_key_jwt`.
    pub client_assertion_type: Option<String>,
    /// The signed JWT: `iss` = `sub` = client id, `aud` = this endpoint's URL, `exp` ≤ 10 minutes ahead,
    /// a single-use `jti`; RS256, ES256 or EdDSA.
    pub client_assertion: Option<String>,
}

/// An access token (RFC 6749 §5.1).
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    /// Send as `Authorization: Bearer …` to the `/v1` API.
    #[schema(example = "dd_at_…")]
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Seconds until the token expires.
    #[schema(example = 600)]
    pub expires_in: i64,
    /// The scopes granted, space-separated.
    #[schema(example = "locks:request accounts:status")]
    pub scope: String,
}

/// An OAuth 2.0 error (RFC 6749 §5.2).
#[derive(Serialize, ToSchema)]
pub struct OAuthErrorBody {
    /// `invalid_request`, `invalid_client`, `invalid_scope`, `unsupported_grant_type`.
    #[schema(example = "invalid_client")]
    pub error: &'static str,
    pub error_description: String,
}

/// `Cache-Control: no-store` (RFC 6749 §5.1): what carries a token or an answer about one is never cached.
pub(crate) fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// An OAuth error as RFC 6749 §5.2 answers it: JSON, `Cache-Control: no-store`, and `401` with
/// `WWW-Authenticate` for `invalid_client`. Every endpoint where clients authenticate answers through this.
pub(crate) fn oauth_error(error: TokenError) -> Response {
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    let mut response = (status, axum::Json(&error)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"dinhdanh\""));
    }
    no_store(response)
}

/// A JSON answer with `Cache-Control: no-store`, or the OAuth error.
pub(crate) fn answer<T: Serialize>(result: Result<T, TokenError>) -> Response {
    match result {
        Ok(body) => no_store(axum::Json(body).into_response()),
        Err(error) => oauth_error(error),
    }
}

pub(crate) fn invalid_request(description: impl Into<String>) -> TokenError {
    TokenError::new(ErrorCode::InvalidRequest, description)
}

/// One answer for every failed client authentication: it never says whether the client exists.
pub(crate) fn invalid_client() -> TokenError {
    TokenError::new(ErrorCode::InvalidClient, "client authentication failed")
}

/// The form of a request to the token, PAR, introspection or revocation endpoint
/// (`application/x-www-form-urlencoded`): each parameter at most once (RFC 6749 §3.2), a parameter sent without a
/// value as if omitted (§3.1).
pub(crate) struct OAuthForm(Vec<(String, String)>);

impl OAuthForm {
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, TokenError> {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
            return Err(invalid_request("send the request as application/x-www-form-urlencoded"));
        }
        let mut params: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            if params.iter().any(|(n, _)| *n == name) {
                return Err(invalid_request(format!("the parameter {name} is given more than once")));
            }
            params.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(params))
    }

    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
    }

    /// The parameters less the client's credentials (what a pushed authorization request keeps).
    pub(crate) fn without_credentials(self) -> Vec<(String, String)> {
        let credential = |name: &str| matches!(name, "client_secret" | "client_assertion" | "client_assertion_type");
        self.0.into_iter().filter(|(name, _)| !credential(name)).collect()
    }
}

/// `Authorization: Basic` with the client id and secret, each form-url-encoded first (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, TokenError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| invalid_client())?;
    let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else {
        return Err(invalid_request("only HTTP Basic authentication is accepted here"));
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| invalid_client())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(invalid_client)?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// The client's credentials as presented, in exactly one way: HTTP Basic (`client_secret_basic`), the form's
/// `client_secret` (`client_secret_post`) or a `client_assertion` (`private_key_jwt`, RFC 7523); `None` when the
/// request carries none. What every endpoint where clients authenticate reads.
pub(crate) fn presented_client(
    headers: &HeaderMap,
    form: &OAuthForm,
) -> Result<Option<ClientAuthentication>, TokenError> {
    let basic = basic_credentials(headers)?;
    let client_id = form.get("client_id");
    Ok(Some(match (basic, form.get("client_secret"), form.get("client_assertion")) {
        (Some((id, secret)), None, None) => {
            if client_id.as_deref().is_some_and(|form_id| form_id != id) {
                return Err(invalid_request("client_id differs from the HTTP Basic user name"));
            }
            ClientAuthentication::Secret { client_id: id, secret, presented: PresentedAuth::ClientSecretBasic }
        }
        (None, Some(secret), None) => {
            let Some(client_id) = client_id else {
                return Err(invalid_request("client_id is required with client_secret"));
            };
            ClientAuthentication::Secret { client_id, secret, presented: PresentedAuth::ClientSecretPost }
        }
        (None, None, Some(assertion)) => {
            if form.get("client_assertion_type").as_deref() != Some(JWT_BEARER_ASSERTION_TYPE) {
                return Err(invalid_request(format!("client_assertion_type must be {JWT_BEARER_ASSERTION_TYPE}")));
            }
            ClientAuthentication::Assertion { client_id, assertion }
        }
        (None, None, None) => return Ok(None),
        _ => return Err(invalid_request("use exactly one client authentication method")),
    }))
}

/// The URLs a client assertion's `aud` may name at the token endpoint: this endpoint or the server's origin (its
/// issuer identifier). With a configured `public_url` only that origin counts; without one (development), the
/// origin the client reached through its `Host` header, over http or https.
fn audiences(public_url: Option<&str>, headers: &HeaderMap) -> Vec<String> {
    if let Some(origin) = public_url {
        let origin = origin.trim_end_matches('/');
        return vec![format!("{origin}{TOKEN_PATH}"), origin.to_owned()];
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else { return Vec::new() };
    let host = host.trim().trim_end_matches('/');
    ["https", "http"]
        .iter()
        .flat_map(|scheme| [format!("{scheme}://{host}{TOKEN_PATH}"), format!("{scheme}://{host}")])
        .collect()
}

/// Get an access token with the client-credentials grant. Authenticate the client with a `private_key_jwt`
/// assertion or its secret (HTTP Basic or form). The token lives 10 minutes; ask for a new one when it expires.
#[utoipa::path(
    post, path = "/oauth/token", operation_id = "issueToken", tag = "oauth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token", body = TokenResponse,
            headers(("Cache-Control" = String, description = "no-store"))),
        (status = 400, description = "invalid_request, invalid_scope or unsupported_grant_type", body = OAuthErrorBody),
        (status = 401, description = "invalid_client: unknown or revoked client, suspended organization, wrong secret or key, bad or replayed assertion", body = OAuthErrorBody),
        (status = 413, description = "invalid_request: the body is larger than 64 KiB", body = OAuthErrorBody),
        (status = 429, description = "`urn:dinhdanh:problem:too-many-requests`: the per-IP limit of public endpoints; see `retry_after` (a problem, not an OAuth error: the limit answers before the endpoint)", body = crate::problem::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn token(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let (form, client) = match OAuthForm::parse(&headers, &body)
        .and_then(|form| presented_client(&headers, &form).map(|client| (form, client)))
    {
        Ok(read) => read,
        Err(error) => return oauth_error(error),
    };
    match form.get("grant_type").as_deref() {
        None => oauth_error(invalid_request("grant_type is required")),
        Some("client_credentials") => client_credentials(&state, &headers, &form, client).await,
        Some("authorization_code" | "refresh_token") => {
            match crate::api::oidc::token::relying_party_grant(&state, &headers, &form, client).await {
                Ok(response) => response,
                Err(e) => e.into_response(),
            }
        }
        Some(_) => oauth_error(TokenError::new(
            ErrorCode::UnsupportedGrantType,
            "the grant types are client_credentials, authorization_code and refresh_token",
        )),
    }
}

async fn client_credentials(
    state: &AppState,
    headers: &HeaderMap,
    form: &OAuthForm,
    client: Option<ClientAuthentication>,
) -> Response {
    let Some(authentication) = client else { return oauth_error(invalid_client()) };
    let audiences = audiences(state.config.public_url.as_deref(), headers);
    let request = TokenRequest { authentication, scope: form.get("scope"), audiences };
    match clients::issue_token(state, request).await {
        Ok(issued) => no_store(
            axum::Json(TokenResponse {
                access_token: issued.access_token,
                token_type: "Bearer",
                expires_in: issued.expires_in,
                scope: format_scopes(&issued.scopes),
            })
            .into_response(),
        ),
        Err(clients::TokenError::InvalidClient { .. }) => oauth_error(invalid_client()),
        Err(clients::TokenError::InvalidScope(description)) => {
            oauth_error(TokenError::new(ErrorCode::InvalidScope, description))
        }
        Err(clients::TokenError::Internal(e)) => e.into_response(),
    }
}
