//! `POST /oauth/token`: the OAuth 2.0 token endpoint, client-credentials grant only (RFC 6749 §4.4). Clients
//! authenticate with `private_key_jwt` (RFC 7523) or a client secret (`client_secret_basic`,
//! `client_secret_post`). Errors here are RFC 6749 §5.2 JSON (`{"error": ..., "error_description": ...}`), not
//! problem details, because that is what OAuth client libraries read.

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

use crate::AppState;
use crate::service::clients::{self, ClientAuthentication, JWT_BEARER_ASSERTION_TYPE, TokenError, TokenRequest};

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
    /// Always `client_credentials`.
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

/// An OAuth 2.0 error response.
pub struct OAuthError {
    status: StatusCode,
    body: OAuthErrorBody,
}

impl OAuthError {
    fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = if error == "invalid_client" { StatusCode::UNAUTHORIZED } else { StatusCode::BAD_REQUEST };
        Self { status, body: OAuthErrorBody { error, error_description: description.into() } }
    }

    fn invalid_request(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }

    /// One answer for every failed client authentication: it never says whether the client exists.
    fn invalid_client() -> Self {
        Self::new("invalid_client", "client authentication failed")
    }
}

fn no_store(response: &mut Response) {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let unauthorized = self.status == StatusCode::UNAUTHORIZED;
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"dinhdanh\""));
        }
        no_store(&mut response);
        response
    }
}

/// The form's parameters; a parameter given twice is refused (RFC 6749 §3.2).
fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, value) in form_urlencoded::parse(body) {
        if params.iter().any(|(n, _)| *n == name) {
            return Err(OAuthError::invalid_request(format!("the parameter {name} is given more than once")));
        }
        params.push((name.into_owned(), value.into_owned()));
    }
    Ok(params)
}

/// `Authorization: Basic` with the client id and secret, each form-url-encoded first (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| OAuthError::invalid_client())?;
    let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else {
        return Err(OAuthError::invalid_request("only HTTP Basic authentication is accepted here"));
    };
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| OAuthError::invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(OAuthError::invalid_client)?;
    let unescape = |s: &str| -> String {
        form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// The URLs a client assertion's `aud` may name: this endpoint or the server's origin (its issuer identifier).
/// With a configured `public_url` only that origin counts; without one (development), the origin the client
/// reached through its `Host` header, over http or https.
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

fn parse_request(public_url: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Err(OAuthError::invalid_request("send the request as application/x-www-form-urlencoded"));
    }
    let params = parse_form(body)?;
    let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
    match param("grant_type").as_deref() {
        None => return Err(OAuthError::invalid_request("grant_type is required")),
        Some("client_credentials") => {}
        Some(_) => {
            return Err(OAuthError::new("unsupported_grant_type", "only the client_credentials grant is supported"));
        }
    }
    let basic = basic_credentials(headers)?;
    let (client_id, secret, assertion) = (param("client_id"), param("client_secret"), param("client_assertion"));
    let authentication = match (basic, secret, assertion) {
        (Some((id, secret)), None, None) => {
            if client_id.as_deref().is_some_and(|form_id| form_id != id) {
                return Err(OAuthError::invalid_request("client_id differs from the HTTP Basic user name"));
            }
            ClientAuthentication::Secret { client_id: id, secret, method: "client_secret_basic" }
        }
        (None, Some(secret), None) => {
            let Some(client_id) = client_id else {
                return Err(OAuthError::invalid_request("client_id is required with client_secret"));
            };
            ClientAuthentication::Secret { client_id, secret, method: "client_secret_post" }
        }
        (None, None, Some(assertion)) => {
            if param("client_assertion_type").as_deref() != Some(JWT_BEARER_ASSERTION_TYPE) {
                return Err(OAuthError::invalid_request(format!(
                    "client_assertion_type must be {JWT_BEARER_ASSERTION_TYPE}"
                )));
            }
            ClientAuthentication::Assertion { client_id, assertion }
        }
        (None, None, None) => return Err(OAuthError::invalid_client()),
        _ => return Err(OAuthError::invalid_request("use exactly one client authentication method")),
    };
    Ok(TokenRequest { authentication, scope: param("scope"), audiences: audiences(public_url, headers) })
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
    let request = match parse_request(state.config.public_url.as_deref(), &headers, &body) {
        Ok(request) => request,
        Err(e) => return e.into_response(),
    };
    match clients::issue_token(&state, request).await {
        Ok(issued) => {
            let mut response = axum::Json(TokenResponse {
                access_token: issued.access_token,
                token_type: "Bearer",
                expires_in: issued.expires_in,
                scope: format_scopes(&issued.scopes),
            })
            .into_response();
            no_store(&mut response);
            response
        }
        Err(TokenError::InvalidClient { .. }) => OAuthError::invalid_client().into_response(),
        Err(TokenError::InvalidScope(description)) => OAuthError::new("invalid_scope", description).into_response(),
        Err(TokenError::Internal(e)) => e.into_response(),
    }
}
