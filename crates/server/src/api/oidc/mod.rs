//! The OpenID Connect provider's HTTP endpoints (docs/oidc.md): discovery, the JWKS, the authorization
//! endpoint and its sign-in pages ([`pages`], their words in [`i18n`]), userinfo, PAR, introspection,
//! revocation, and the `authorization_code` and `refresh_token` grants at `/oauth/token` ([`token`], a layer in
//! front of the client-credentials handler), the administrators' registrations ([`registrations`]), the
//! holder's history ([`history`]) and consents ([`consents`]). Thin: parse, call `service::oidc`, answer.
//!
//! These routes are merged outside the JSON error layer (`problem::uniform_errors`): the pages answer HTML, the
//! other endpoints the JSON their specifications define.

pub mod consents;
pub mod history;
pub mod i18n;
pub mod pages;
pub mod registrations;
pub mod token;

use std::collections::BTreeSet;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use dinhdanh_oidc::authorize::{UiLocale, parse_ui_locales};
use dinhdanh_oidc::metadata::Issuer;
use dinhdanh_oidc::scope::Claim;
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;

use crate::AppState;
use crate::problem::ApiError;
use crate::ratelimit::{ClientSource, limit_by_ip};
use crate::service::oidc::{self as service, authorize::Outcome, authorize::PageKind};
use i18n::{LANG_COOKIE, LANG_COOKIE_MAX_AGE_SECONDS, Lang};
use pages::{Again, LangPrefs};

/// The CSRF cookie: a random token the sign-in forms repeat in a hidden field (and the interaction is bound to).
pub const CSRF_COOKIE: &str = "dd_csrf";
/// The provider-session cookie: the holder session the sign-in opened (single sign-on across relying parties).
pub const SESSION_COOKIE: &str = "dd_session";
/// The cookies go only to the provider's paths (the authorization endpoint and its pages, logout).
const COOKIE_PATH: &str = "/oauth";

pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// Every route of the provider, with their own rate limits and body limit.
pub fn routes(state: &AppState) -> Router<AppState> {
    let paths = &state.oidc.paths;
    let documents = Router::new()
        .route(DISCOVERY_PATH, get(discovery))
        .route(&paths.jwks, get(jwks))
        .layer(axum::middleware::from_fn_with_state(state.ops_limiter.clone(), limit_by_ip));
    let userinfo = Router::new()
        .route(&paths.userinfo, get(userinfo_get).post(userinfo_post))
        .route(&paths.introspection, post(token::introspect))
        .route(&paths.revocation, post(token::revoke))
        .route(&paths.pushed_authorization_request, post(token::push))
        .layer(axum::middleware::from_fn_with_state(state.api_limiter.clone(), limit_by_ip));
    let authorization = &paths.authorization;
    let pages = Router::new()
        .route(authorization, get(authorize))
        .route(&format!("{authorization}/page"), get(show_page))
        .route(&format!("{authorization}/password"), post(password))
        .route(&format!("{authorization}/code"), post(code))
        .route(&format!("{authorization}/biometric"), post(biometric))
        .route(&format!("{authorization}/consent"), post(consent))
        .route(&paths.end_session, get(logout_get).post(logout_post))
        .route(&format!("{}/confirm", paths.end_session), post(logout_confirm))
        .layer(axum::middleware::from_fn_with_state(state.public_limiter.clone(), limit_by_ip));
    Router::new().merge(documents).merge(userinfo).merge(pages).layer(RequestBodyLimitLayer::new(crate::BODY_LIMIT))
}

fn host(headers: &HeaderMap) -> Option<&str> {
    headers.get(header::HOST).and_then(|h| h.to_str().ok())
}

pub(crate) fn issuer_of(state: &AppState, headers: &HeaderMap) -> Result<Issuer, ApiError> {
    service::issuer(state, host(headers))
}

async fn discovery(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let mut response = axum::Json(service::metadata(&state, &issuer)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}

/// The public keys: the current one, the next one (published before it signs) and the retired ones still
/// verifying tokens. Cached briefly, less than the rotation interval, so relying parties see a next key in time.
async fn jwks(State(state): State<AppState>) -> Result<Response, ApiError> {
    let keys = service::key_set(&state, state.clock.now()).await?;
    let mut response = axum::Json(keys.jwks()).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/jwk-set+json"));
    Ok(response)
}

fn invalid_token() -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "invalid_token"}))).into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer error=\"invalid_token\""));
    response
}

async fn userinfo(state: AppState, headers: HeaderMap) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
    let Some(bearer) = bearer else {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return Ok(response);
    };
    match service::token::userinfo_for(&state, &issuer, bearer.trim()).await? {
        Some(claims) => {
            let mut response = axum::Json(claims).into_response();
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        None => Ok(invalid_token()),
    }
}

async fn userinfo_get(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    userinfo(state, headers).await
}

async fn userinfo_post(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    userinfo(state, headers).await
}

/// The value of one cookie of the request.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
        .filter(|v| !v.is_empty() && v.len() <= 200)
}

fn set_cookie(issuer: &Issuer, name: &str, value: &str, max_age_seconds: i64) -> HeaderValue {
    set_cookie_at(issuer, COOKIE_PATH, name, value, max_age_seconds)
}

/// A `Set-Cookie` for `path`: always `HttpOnly` and `SameSite=Lax`, and `Secure` when the issuer is `https`
/// (a loopback development server speaks `http`).
pub(crate) fn set_cookie_at(issuer: &Issuer, path: &str, name: &str, value: &str, max_age_seconds: i64) -> HeaderValue {
    let secure = if issuer.as_str().starts_with("https://") { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path={path}; Max-Age={max_age_seconds}; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("cookie values are token characters")
}

/// The browser's CSRF token, or a new one (then set on the response).
fn csrf_token(headers: &HeaderMap) -> (String, bool) {
    match cookie(headers, CSRF_COOKIE) {
        Some(token) if token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => (token.to_owned(), false),
        _ => (dinhdanh_oidc::tokens::new_token("dd_csrf_").0, true),
    }
}

/// The form's CSRF field, only when it is the cookie's too (double submit; the interaction checks the binding).
fn form_csrf<'a>(headers: &HeaderMap, form: &'a Form) -> Option<&'a str> {
    let field = form.get("csrf")?;
    (cookie(headers, CSRF_COOKIE) == Some(field)).then_some(field)
}

fn session_hash(headers: &HeaderMap) -> Option<String> {
    cookie(headers, SESSION_COOKIE).map(crate::secrets::token_hash)
}

/// The answer for an outcome: a page, or a `303` to the client.
fn respond(issuer: &Issuer, outcome: Outcome, csrf: &str, prefs: LangPrefs, again: Again) -> Response {
    match outcome {
        Outcome::Redirect(url) => Redirect::to(&url).into_response(),
        other => pages::render(issuer, other, csrf, prefs, again),
    }
}

/// The language switch's `lang`, taken out of a `GET`'s parameters (so that it is never part of a request).
pub(crate) fn take_lang(pairs: &mut Vec<(String, String)>) -> Option<Lang> {
    let mut switched = None;
    pairs.retain(|(name, value)| {
        let switch = name == "lang";
        if switch {
            switched = switched.or(Lang::parse(value));
        }
        !switch
    });
    switched
}

/// The first language the pages speak in a request's `ui_locales`.
fn ui_locales_of(pairs: &[(String, String)]) -> Option<UiLocale> {
    parse_ui_locales(pairs.iter().find(|(name, _)| name == "ui_locales").map(|(_, value)| value.as_str()))
}

/// What the browser says about its language: the switch (when this request is one), the cookie, the request.
fn lang_prefs(headers: &HeaderMap, switched: Option<Lang>, requested: Option<UiLocale>) -> LangPrefs {
    LangPrefs { switched, remembered: cookie(headers, LANG_COOKIE).and_then(Lang::parse), requested }
}

/// A language chosen with the switch is remembered in the `dd_lang` cookie, for every page of the site (the
/// provider's and the portal's).
pub(crate) fn remember_lang(issuer: &Issuer, response: &mut Response, switched: Option<Lang>) {
    if let Some(lang) = switched {
        let value = set_cookie_at(issuer, "/", LANG_COOKIE, lang.tag(), LANG_COOKIE_MAX_AGE_SECONDS);
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// `path` with these parameters, as a `GET` to repeat.
fn url_with(issuer: &Issuer, path: &str, pairs: &[(String, String)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish();
    if query.is_empty() { issuer.url(path) } else { format!("{}?{query}", issuer.url(path)) }
}

pub(crate) fn no_store(mut response: Response) -> Response {
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /oauth/authorize`: the authorization request (OIDC Core §3.1.2.1).
async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let mut pairs = pairs_of(query.unwrap_or_default().as_bytes());
    let switched = take_lang(&mut pairs);
    let prefs = lang_prefs(&headers, switched, ui_locales_of(&pairs));
    // The switch on a refusal asks again; an interaction's pages are shown again by `show_page`.
    let again = Again::Request(url_with(&issuer, &state.oidc.paths.authorization, &pairs));
    let (csrf, new) = csrf_token(&headers);
    let outcome = service::authorize::begin(&state, &issuer, pairs, session_hash(&headers).as_deref(), &csrf).await?;
    let mut response = respond(&issuer, outcome, &csrf, prefs, again);
    if new {
        let value = set_cookie(&issuer, CSRF_COOKIE, &csrf, service::authorize::INTERACTION_TTL_MINUTES * 60 * 8);
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    remember_lang(&issuer, &mut response, switched);
    Ok(no_store(response))
}

/// `GET /oauth/authorize/page?interaction=…&page=…&lang=…`: the language switch of an interaction's pages
/// shows its page again, in that language, and remembers the choice. Read only: the interaction and the
/// browser's CSRF cookie are checked as for a form, and nothing else comes of it.
async fn show_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let mut pairs = pairs_of(query.unwrap_or_default().as_bytes());
    let switched = take_lang(&mut pairs);
    let param = |name: &str| pairs.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str());
    let id = param("interaction").unwrap_or_default();
    let page = param("page").and_then(PageKind::parse).unwrap_or(PageKind::Password);
    let csrf = cookie(&headers, CSRF_COOKIE);
    let outcome = service::authorize::show(&state, id, csrf, session_hash(&headers).as_deref(), page).await?;
    let again = Again::Interaction { id: id.to_owned(), page };
    let mut response = respond(&issuer, outcome, csrf.unwrap_or_default(), lang_prefs(&headers, switched, None), again);
    remember_lang(&issuer, &mut response, switched);
    Ok(no_store(response))
}

/// A form body's fields; `claim` may repeat (the consent page's checkboxes), the others are taken once.
pub struct Form(Vec<(String, String)>);

impl Form {
    fn parse(body: &[u8]) -> Self {
        Self(form_urlencoded::parse(body).map(|(n, v)| (n.into_owned(), v.into_owned())).collect())
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Where the language switch leads from a page this form brought that is not an interaction's own (a
    /// locked holder's, a refusal): the interaction's sign-in page (or the same refusal again).
    fn again(&self) -> Again {
        Again::Interaction { id: self.get("interaction").unwrap_or_default().to_owned(), page: PageKind::Password }
    }
}

async fn password(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientSource(source): ClientSource,
    body: Bytes,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let form = Form::parse(&body);
    let csrf = form_csrf(&headers, &form);
    let again = form.again();
    let outcome = service::authorize::submit_password(
        &state,
        form.get("interaction").unwrap_or_default(),
        csrf,
        service::authorize::Identifier {
            holder_kind: form.get("holder_kind"),
            id_number: form.get("id_number").unwrap_or_default(),
            passport_number: form.get("passport_number").unwrap_or_default(),
            nationality: form.get("nationality").unwrap_or_default(),
        },
        form.get("password").unwrap_or_default().to_owned(),
        &source,
    )
    .await?;
    Ok(no_store(respond(&issuer, outcome, csrf.unwrap_or_default(), lang_prefs(&headers, None, None), again)))
}

async fn code(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientSource(source): ClientSource,
    body: Bytes,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let form = Form::parse(&body);
    let csrf = form_csrf(&headers, &form);
    let again = form.again();
    let result = service::authorize::submit_code(
        &state,
        &issuer,
        form.get("interaction").unwrap_or_default(),
        csrf,
        form.get("code").unwrap_or_default(),
        &source,
    )
    .await?;
    Ok(respond_signed_in(&state, &issuer, &headers, result, csrf.unwrap_or_default(), again))
}

/// The answer of a sign-in step: its page or redirect, and the cookie of the session it opened, if it did.
fn respond_signed_in(
    state: &AppState,
    issuer: &Issuer,
    headers: &HeaderMap,
    result: service::authorize::CodeOutcome,
    csrf: &str,
    again: Again,
) -> Response {
    let mut response = respond(issuer, result.outcome, csrf, lang_prefs(headers, None, None), again);
    if let Some((token, expires_at)) = result.session {
        let max_age = (expires_at - state.clock.now()).num_seconds().max(0);
        response.headers_mut().append(header::SET_COOKIE, set_cookie(issuer, SESSION_COOKIE, &token, max_age));
    }
    no_store(response)
}

/// The biometric form of a Level 2 sign-in: on a match the browser's session cookie is replaced by the new
/// session's (its sign-in proved Level 2).
async fn biometric(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let form = Form::parse(&body);
    let csrf = form_csrf(&headers, &form);
    let again = form.again();
    let result = service::authorize::submit_biometric(
        &state,
        &issuer,
        form.get("interaction").unwrap_or_default(),
        csrf,
        session_hash(&headers).as_deref(),
        form.get("modality").unwrap_or_default(),
        form.get("template").unwrap_or_default(),
    )
    .await?;
    Ok(respond_signed_in(&state, &issuer, &headers, result, csrf.unwrap_or_default(), again))
}

async fn consent(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let form = Form::parse(&body);
    let csrf = form_csrf(&headers, &form);
    let approved: BTreeSet<Claim> = form.all("claim").filter_map(Claim::parse).collect();
    let again = form.again();
    let outcome = service::authorize::submit_consent(
        &state,
        &issuer,
        form.get("interaction").unwrap_or_default(),
        csrf,
        session_hash(&headers).as_deref(),
        form.get("decision") == Some("allow"),
        approved,
    )
    .await?;
    Ok(no_store(respond(&issuer, outcome, csrf.unwrap_or_default(), lang_prefs(&headers, None, None), again)))
}

fn clear_session(issuer: &Issuer, response: &mut Response) {
    response.headers_mut().append(header::SET_COOKIE, set_cookie(issuer, SESSION_COOKIE, "", 0));
}

/// The answer for a logout outcome. `pairs` is the request's parameters (without `lang` and `csrf`): the
/// language's hint, and the request the switch repeats on a refusal.
fn respond_logout(
    issuer: &Issuer,
    state: &AppState,
    outcome: service::logout::LogoutOutcome,
    headers: &HeaderMap,
    pairs: &[(String, String)],
    switched: Option<Lang>,
) -> Response {
    use service::logout::LogoutOutcome;
    let ended =
        matches!(outcome, LogoutOutcome::Redirect { ended: true, .. } | LogoutOutcome::SignedOut { ended: true });
    let (csrf, new) = csrf_token(headers);
    let confirm = matches!(outcome, LogoutOutcome::Confirm { .. });
    let mut response = match outcome {
        LogoutOutcome::Redirect { url, .. } => Redirect::to(&url).into_response(),
        other => {
            let prefs = lang_prefs(headers, switched, ui_locales_of(pairs));
            let again = Again::Request(url_with(issuer, &state.oidc.paths.end_session, pairs));
            pages::render_logout(issuer, other, &csrf, prefs, again)
        }
    };
    if ended {
        clear_session(issuer, &mut response);
    }
    if confirm && new {
        let value = set_cookie(issuer, CSRF_COOKIE, &csrf, service::authorize::INTERACTION_TTL_MINUTES * 60 * 8);
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    remember_lang(issuer, &mut response, switched);
    no_store(response)
}

fn pairs_of(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).map(|(n, v)| (n.into_owned(), v.into_owned())).collect()
}

/// `GET /oauth/logout` (RP-Initiated Logout 1.0 §2).
async fn logout_get(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let mut pairs = pairs_of(query.unwrap_or_default().as_bytes());
    let switched = take_lang(&mut pairs);
    let outcome = service::logout::begin(&state, &issuer, pairs.clone(), session_hash(&headers).as_deref()).await?;
    Ok(respond_logout(&issuer, &state, outcome, &headers, &pairs, switched))
}

/// `POST /oauth/logout`, the same request as a form.
async fn logout_post(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let pairs = pairs_of(&body);
    let outcome = service::logout::begin(&state, &issuer, pairs.clone(), session_hash(&headers).as_deref()).await?;
    Ok(respond_logout(&issuer, &state, outcome, &headers, &pairs, None))
}

/// `POST /oauth/logout/confirm`: the holder agreed on the confirmation page.
async fn logout_confirm(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let form = Form::parse(&body);
    let csrf_ok = form_csrf(&headers, &form).is_some();
    let pairs: Vec<(String, String)> = form.0.into_iter().filter(|(n, _)| n != "csrf").collect();
    if !csrf_ok {
        let outcome = service::logout::LogoutOutcome::Refused {
            error: dinhdanh_oidc::ErrorCode::AccessDenied,
            description: "the form did not come from this browser".into(),
        };
        return Ok(respond_logout(&issuer, &state, outcome, &headers, &pairs, None));
    }
    let outcome = service::logout::confirm(&state, &issuer, pairs.clone(), session_hash(&headers).as_deref()).await?;
    Ok(respond_logout(&issuer, &state, outcome, &headers, &pairs, None))
}
