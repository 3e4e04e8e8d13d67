//! `POST /oauth/token` with `grant_type=authorization_code`: a layer in front of the organizations'
//! client-credentials handler (`api/oauth.rs`), so that one token endpoint serves both (issue 14 §1). It reads
//! the form; a code grant is answered here, anything else goes on to the handler unchanged. Errors are RFC 6749
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
use crate::service::oidc::token::{ClientSecret, CodeGrant, exchange_code};

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
    if grant_type.as_deref() != Some("authorization_code") {
        return next.run(Request::from_parts(parts, Body::from(bytes))).await;
    }
    match code_grant(&state, &parts.headers, &bytes).await {
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

fn invalid_request(description: &str) -> Response {
    oauth_error(TokenError::new(ErrorCode::InvalidRequest, description))
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

async fn code_grant(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Response, crate::problem::ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !content_type.to_ascii_lowercase().starts_with("application/x-www-form-urlencoded") {
        return Ok(invalid_request("send the request as application/x-www-form-urlencoded"));
    }
    let mut params: Vec<(String, String)> = Vec::new();
    for (name, value) in form_urlencoded::parse(body) {
        if params.iter().any(|(n, _)| *n == name) {
            return Ok(invalid_request(&format!("the parameter {name} is given more than once")));
        }
        params.push((name.into_owned(), value.into_owned()));
    }
    let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
    let Some(code) = param("code") else { return Ok(invalid_request("code is required")) };
    let Ok(basic) = basic(headers) else {
        return Ok(oauth_error(TokenError::new(ErrorCode::InvalidClient, "client authentication failed")));
    };
    let client = match (basic, param("client_secret"), param("client_assertion")) {
        (Some((client_id, secret)), None, None) => {
            if param("client_id").is_some_and(|id| id != client_id) {
                return Ok(invalid_request("client_id differs from the HTTP Basic user name"));
            }
            Some(ClientSecret { client_id, secret, presented: PresentedAuth::ClientSecretBasic })
        }
        (None, Some(secret), None) => {
            let Some(client_id) = param("client_id") else {
                return Ok(invalid_request("client_id is required with client_secret"));
            };
            Some(ClientSecret { client_id, secret, presented: PresentedAuth::ClientSecretPost })
        }
        (None, None, _) => None,
        _ => return Ok(invalid_request("use exactly one client authentication method")),
    };
    let issuer = crate::service::oidc::issuer(state, headers.get(header::HOST).and_then(|h| h.to_str().ok()))?;
    let grant = CodeGrant { client, code, redirect_uri: param("redirect_uri"), code_verifier: param("code_verifier") };
    Ok(match exchange_code(state, &issuer, grant).await? {
        Ok(tokens) => no_store(axum::Json(tokens).into_response()),
        Err(error) => oauth_error(error),
    })
}
