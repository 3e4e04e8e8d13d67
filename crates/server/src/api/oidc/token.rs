//! `POST /oauth/token` with `grant_type=authorization_code` or `refresh_token`: a layer in front of the organizations'
//! client-credentials handler (`api/oauth.rs`), so that one token endpoint serves both (issue 14 §1). It reads
//! the form; the relying parties' grants are answered here, anything else goes on to the handler unchanged. Errors are RFC 6749
//! §5.2 JSON with `Cache-Control: no-store`, and `WWW-Authenticate` on `401 invalid_client`.
//!
//! Client authentication here: `client_secret_basic` and `client_secret_post`. `private_key_jwt` at this grant
//! waits for `service::clients`'s assertion check to be callable from here (it is private today).

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dinhdanh_oidc::client::PresentedAuth;
use dinhdanh_oidc::{ErrorCode, TokenError};

use crate::AppState;
use crate::service::oidc::token::{ClientSecret, CodeGrant, RefreshGrant, exchange_code, refresh_tokens};

/// The layer: answers code grants, passes every other request on.
pub async fn dispatch(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != axum::http::Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, crate::BODY_LIMIT).await {
        Ok(bytes) => bytes,
        Err(_) => {
            let error = TokenError::new(ErrorCode::InvalidRequest, "the body is larger than 64 KiB");
            return error_response(&error, StatusCode::PAYLOAD_TOO_LARGE);
        }
    };
    let grant_type = form_urlencoded::parse(&bytes).find(|(n, _)| n == "grant_type").map(|(_, v)| v.into_owned());
    if !matches!(grant_type.as_deref(), Some("authorization_code" | "refresh_token")) {
        return next.run(Request::from_parts(parts, Body::from(bytes))).await;
    }
    match relying_party_grant(&state, &parts.headers, &bytes).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

fn error_response(error: &TokenError, status: StatusCode) -> Response {
    let mut response = (status, axum::Json(error)).into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"dinhdanh\""));
    }
    no_store(response)
}

fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response.headers_mut().insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

fn oauth_error(error: TokenError) -> Response {
    let status = StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::BAD_REQUEST);
    error_response(&error, status)
}

fn bad_request(description: &str) -> TokenError {
    TokenError::new(ErrorCode::InvalidRequest, description)
}

fn invalid_request(description: &str) -> Response {
    oauth_error(bad_request(description))
}

/// `Authorization: Basic` with the url-encoded client id and secret (RFC 6749 §2.3.1).
fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, ()> {
    let Some(value) = headers.get(header::AUTHORIZATION) else { return Ok(None) };
    let value = value.to_str().map_err(|_| ())?;
    let Some(encoded) = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic ")) else { return Err(()) };
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).map_err(|_| ())?).map_err(|_| ())?;
    let (id, secret) = decoded.split_once(':').ok_or(())?;
    let unescape = |s: &str| {
        form_urlencoded::parse(format!("v={s}").as_bytes()).next().map(|(_, v)| v.into_owned()).unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

/// A form's parameters, each at most once (RFC 6749 §3.2), empty values dropped.
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<Self, TokenError> {
        let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
        if !content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
            return Err(bad_request("send the request as application/x-www-form-urlencoded"));
        }
        let mut params: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            if params.iter().any(|(n, _)| *n == name) {
                return Err(bad_request(&format!("the parameter {name} is given more than once")));
            }
            params.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(params))
    }

    pub(crate) fn get(&self, name: &str) -> Option<String> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty())
    }
}

/// The client's secret, from HTTP Basic or the form (exactly one way); `None` when it sent none.
pub(crate) fn client_secret(headers: &HeaderMap, params: &Params) -> Result<Option<ClientSecret>, TokenError> {
    let Ok(basic) = basic(headers) else {
        return Err(TokenError::new(ErrorCode::InvalidClient, "client authentication failed"));
    };
    match (basic, params.get("client_secret"), params.get("client_assertion")) {
        (Some((client_id, secret)), None, None) => {
            if params.get("client_id").is_some_and(|id| id != client_id) {
                return Err(bad_request("client_id differs from the HTTP Basic user name"));
            }
            Ok(Some(ClientSecret { client_id, secret, presented: PresentedAuth::ClientSecretBasic }))
        }
        (None, Some(secret), None) => {
            let Some(client_id) = params.get("client_id") else {
                return Err(bad_request("client_id is required with client_secret"));
            };
            Ok(Some(ClientSecret { client_id, secret, presented: PresentedAuth::ClientSecretPost }))
        }
        (None, None, _) => Ok(None),
        _ => Err(bad_request("use exactly one client authentication method")),
    }
}

/// The form and the client's credentials as presented, or the OAuth error to answer: what every endpoint where a
/// relying party authenticates reads first.
fn form_and_client(headers: &HeaderMap, body: &[u8]) -> Result<(Params, Option<ClientSecret>), TokenError> {
    let params = Params::parse(headers, body)?;
    let client = client_secret(headers, &params)?;
    Ok((params, client))
}

pub(crate) fn answer<T: serde::Serialize>(result: Result<T, TokenError>) -> Response {
    match result {
        Ok(body) => no_store(axum::Json(body).into_response()),
        Err(error) => oauth_error(error),
    }
}

async fn relying_party_grant(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, crate::problem::ApiError> {
    let (params, client) = match form_and_client(headers, body) {
        Ok(presented) => presented,
        Err(error) => return Ok(oauth_error(error)),
    };
    let issuer = crate::service::oidc::issuer(state, headers.get(header::HOST).and_then(|h| h.to_str().ok()))?;
    if params.get("grant_type").as_deref() == Some("refresh_token") {
        let Some(refresh_token) = params.get("refresh_token") else {
            return Ok(invalid_request("refresh_token is required"));
        };
        let request = RefreshGrant { client, refresh_token, scope: params.get("scope") };
        return Ok(answer(refresh_tokens(state, &issuer, request).await?));
    }
    let Some(code) = params.get("code") else { return Ok(invalid_request("code is required")) };
    let grant = CodeGrant {
        client,
        code,
        redirect_uri: params.get("redirect_uri"),
        code_verifier: params.get("code_verifier"),
    };
    Ok(answer(exchange_code(state, &issuer, grant).await?))
}

/// `POST /oauth/introspect` (RFC 7662): the client authenticates as at the token endpoint; the answer is
/// `{"active": false}` for anything that is not a live access token of that client.
pub async fn introspect(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, crate::problem::ApiError> {
    let (params, client) = match form_and_client(&headers, &body) {
        Ok(presented) => presented,
        Err(error) => return Ok(oauth_error(error)),
    };
    let Some(token) = params.get("token") else { return Ok(invalid_request("token is required")) };
    let issuer = crate::service::oidc::issuer(&state, headers.get(header::HOST).and_then(|h| h.to_str().ok()))?;
    Ok(answer(crate::service::oidc::token::introspect(&state, &issuer, client.as_ref(), &token).await?))
}

/// `POST /oauth/revoke` (RFC 7009): `200` with an empty body whether or not the token was known; `401` only
/// when the client's authentication fails.
pub async fn revoke(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, crate::problem::ApiError> {
    let (params, client) = match form_and_client(&headers, &body) {
        Ok(presented) => presented,
        Err(error) => return Ok(oauth_error(error)),
    };
    let Some(token) = params.get("token") else { return Ok(invalid_request("token is required")) };
    let issuer = crate::service::oidc::issuer(&state, headers.get(header::HOST).and_then(|h| h.to_str().ok()))?;
    Ok(match crate::service::oidc::token::revoke(&state, &issuer, client.as_ref(), &token).await? {
        Ok(()) => no_store(StatusCode::OK.into_response()),
        Err(error) => oauth_error(error),
    })
}

/// `POST /oauth/par` (RFC 9126): `201` with `request_uri` and `expires_in`; a refused request is `400` JSON,
/// never a redirect; a failed client authentication `401`.
pub async fn push(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Response, crate::problem::ApiError> {
    let (params, client) = match form_and_client(&headers, &body) {
        Ok(presented) => presented,
        Err(error) => return Ok(oauth_error(error)),
    };
    // The client's credentials are not part of the authorization request.
    let pairs = params
        .0
        .into_iter()
        .filter(|(name, _)| !matches!(name.as_str(), "client_secret" | "client_assertion" | "client_assertion_type"))
        .collect();
    Ok(match crate::service::oidc::token::push(&state, client.as_ref(), pairs).await? {
        Ok(pushed) => no_store((StatusCode::CREATED, axum::Json(pushed)).into_response()),
        Err(crate::service::oidc::token::PushRefused::Client(error)) => oauth_error(error),
        Err(crate::service::oidc::token::PushRefused::Request(body)) => {
            no_store((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
        }
    })
}
