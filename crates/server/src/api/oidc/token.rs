//! The relying parties' grants at `POST /oauth/token` (`authorization_code`, `refresh_token`; the token endpoint in
//! `api/oauth.rs` passes them here), and the provider's other endpoints where clients authenticate: introspection,
//! revocation and PAR. The form and the client's credentials are read by `api::oauth`'s one reader
//! (`client_secret_basic`, `client_secret_post` or `private_key_jwt`); errors are RFC 6749 §5.2 JSON with
//! `Cache-Control: no-store`, and `WWW-Authenticate` on `401 invalid_client`.

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use dinhdanh_oidc::TokenError;
use dinhdanh_oidc::metadata::{EndpointPaths, Issuer};

use crate::AppState;
use crate::api::oauth::{OAuthForm, answer, invalid_request, no_store, oauth_error, presented_client};
use crate::service::clients::ClientAuthentication;
use crate::service::oidc::token::{CodeGrant, PresentedClient, RefreshGrant, exchange_code, refresh_tokens};

/// The form and the client's credentials as presented, or the OAuth error to answer: what every endpoint here
/// reads first.
fn form_and_client(headers: &HeaderMap, body: &[u8]) -> Result<(OAuthForm, Option<ClientAuthentication>), TokenError> {
    let form = OAuthForm::parse(headers, body)?;
    let client = presented_client(headers, &form)?;
    Ok((form, client))
}

/// The `aud` values a relying party's client assertion may name at any of the provider's endpoints: the issuer
/// identifier (what FAPI 2.0 asks for), the token endpoint, or the endpoint it was sent to.
fn presented(issuer: &Issuer, endpoint: &str, client: Option<ClientAuthentication>) -> Option<PresentedClient> {
    let base = issuer.as_str().trim_end_matches('/');
    let audiences = [base.to_owned(), format!("{base}{}", crate::api::oauth::TOKEN_PATH), format!("{base}{endpoint}")];
    client.map(|authentication| PresentedClient { authentication, audiences: audiences.into() })
}

fn issuer_of(state: &AppState, headers: &HeaderMap) -> Result<Issuer, crate::problem::ApiError> {
    crate::service::oidc::issuer(state, headers.get(header::HOST).and_then(|h| h.to_str().ok()))
}

/// `grant_type=authorization_code` or `refresh_token`, as the token endpoint read them.
pub(crate) async fn relying_party_grant(
    state: &AppState,
    headers: &HeaderMap,
    params: &OAuthForm,
    client: Option<ClientAuthentication>,
) -> Result<Response, crate::problem::ApiError> {
    let issuer = issuer_of(state, headers)?;
    let client = presented(&issuer, crate::api::oauth::TOKEN_PATH, client);
    if params.get("grant_type").as_deref() == Some("refresh_token") {
        let Some(refresh_token) = params.get("refresh_token") else {
            return Ok(oauth_error(invalid_request("refresh_token is required")));
        };
        let request = RefreshGrant { client, refresh_token, scope: params.get("scope") };
        return Ok(answer(refresh_tokens(state, &issuer, request).await?));
    }
    let Some(code) = params.get("code") else { return Ok(oauth_error(invalid_request("code is required"))) };
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
    let Some(token) = params.get("token") else { return Ok(oauth_error(invalid_request("token is required"))) };
    let issuer = issuer_of(&state, &headers)?;
    let client = presented(&issuer, &EndpointPaths::default().introspection, client);
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
    let Some(token) = params.get("token") else { return Ok(oauth_error(invalid_request("token is required"))) };
    let issuer = issuer_of(&state, &headers)?;
    let client = presented(&issuer, &EndpointPaths::default().revocation, client);
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
    let issuer = issuer_of(&state, &headers)?;
    let client = presented(&issuer, &EndpointPaths::default().pushed_authorization_request, client);
    // The client's credentials are not part of the authorization request.
    let pairs = params.without_credentials();
    Ok(match crate::service::oidc::token::push(&state, client.as_ref(), pairs).await? {
        Ok(pushed) => no_store((StatusCode::CREATED, axum::Json(pushed)).into_response()),
        Err(crate::service::oidc::token::PushRefused::Client(error)) => oauth_error(error),
        Err(crate::service::oidc::token::PushRefused::Request(body)) => {
            no_store((StatusCode::BAD_REQUEST, axum::Json(body)).into_response())
        }
    })
}
