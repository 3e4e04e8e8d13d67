//! The holder portal's pages under `/portal` (issue 15, docs/portal.md): server-rendered HTML from the askama
//! templates under `templates/portal/`, working without JavaScript, Vietnamese by default with the site's
//! language switch (the `dd_lang` cookie the provider's pages share), and the words of [`i18n`]. Thin: the use
//! cases, the portal's sign-in through the provider included, are `service::portal`'s.
//!
//! Cookies, all `HttpOnly`, `SameSite=Lax`, `Secure` behind `https`, and only for `/portal`: `dd_portal` (the
//! sealed session), `dd_portal_flow` (one sign-in's `state` and PKCE verifier), `dd_portal_csrf` (the forms'
//! double-submit token). Every form posts its CSRF token; a form without the browser's token changes nothing.

pub mod i18n;
pub mod registration;
pub mod requests;

use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use dinhdanh_domain::AccountStatus;
use dinhdanh_domain::actor::Actor;
use dinhdanh_oidc::metadata::Issuer;
use tower_http::limit::RequestBodyLimitLayer;

use crate::AppState;
use crate::api::forms::{self, Csrf, field, lang_of};
use crate::api::i18n::{Lang, fill};
use crate::api::oidc::pages::page;
use crate::api::oidc::{cookie, issuer_of, no_store, remember_lang, set_cookie_at};
use crate::problem::ApiError;
use crate::ratelimit::limit_by_ip;
use crate::service::portal::{self as service, Callback, Flow, LockView, Overview};
use i18n::{PortalTexts, vietnam_time};

pub const HOME: &str = "/portal";
const SIGN_IN: &str = "/portal/sign-in";
const LOCK: &str = "/portal/lock";
const WITHDRAW: &str = "/portal/consents/withdraw";
const SIGN_OUT: &str = "/portal/sign-out";

pub(super) const SESSION_COOKIE: &str = "dd_portal";
const FLOW_COOKIE: &str = "dd_portal_flow";
const CSRF_COOKIE: &str = "dd_portal_csrf";
/// A sign-in through the provider's pages must come back within this time.
const FLOW_MAX_AGE_SECONDS: i64 = 15 * 60;
const CSRF_MAX_AGE_SECONDS: i64 = 12 * 60 * 60;

/// The portal's routes, under the public rate limit (a stranger reaches them) and the body limit.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(HOME, get(home))
        .route(SIGN_IN, get(sign_in))
        .route(registration::REGISTER, get(registration::form).post(registration::register))
        .route(registration::ACTIVATE, axum::routing::post(registration::activate))
        .route(registration::RESEND, axum::routing::post(registration::resend))
        .route(requests::RESTORE, get(requests::restore_form).post(requests::restore))
        .route(requests::RESTORE_CODE, axum::routing::post(requests::restore_code))
        .route(requests::UNLOCK, axum::routing::post(requests::unlock))
        .route(requests::TRACK, get(requests::track))
        .route(requests::LOST_PHONE, get(requests::lost_phone_form).post(requests::lost_phone))
        .route(requests::LOST_PHONE_CONFIRM, axum::routing::post(requests::lost_phone_confirm))
        .route(service::CALLBACK_PATH, get(callback))
        .route(LOCK, get(lock_confirm).post(lock))
        .route(WITHDRAW, axum::routing::post(withdraw))
        .route(SIGN_OUT, axum::routing::post(sign_out))
        .layer(axum::middleware::from_fn_with_state(state.public_limiter.clone(), limit_by_ip))
        .layer(RequestBodyLimitLayer::new(crate::BODY_LIMIT))
}

/// What the layout needs: the language, its words, the title, the way home and the switch's link.
struct Base {
    lang: Lang,
    t: &'static PortalTexts,
    title: &'static str,
    home: &'static str,
    switch_href: String,
}

impl Base {
    /// The layout for a page whose `GET` is `path` (the switch shows it again in the other language).
    fn new(lang: Lang, title: impl Fn(&'static PortalTexts) -> &'static str, path: &str) -> Self {
        let t = PortalTexts::of(lang);
        Self { lang, t, title: title(t), home: HOME, switch_href: format!("{path}?lang={}", lang.other().tag()) }
    }
}

#[derive(Template)]
#[template(path = "portal/welcome.html")]
struct WelcomePage {
    base: Base,
    notice: Option<&'static str>,
    sign_in_href: &'static str,
    register_href: &'static str,
    restore_href: &'static str,
    track_href: &'static str,
    lost_phone_href: &'static str,
}

struct LockRow {
    id: String,
    ground: String,
    placed_by: String,
    since: String,
    since_iso: String,
    until: Option<String>,
    how_to_lift: String,
}

struct HistoryRow {
    when: String,
    what: String,
    by: String,
}

struct SignInRow {
    service: String,
    organization: String,
    when: String,
    level: String,
}

struct RequestRow {
    tracking_code: String,
    kind: &'static str,
    status: &'static str,
    received: String,
    deadline: String,
}

struct ConsentRow {
    client_id: String,
    service: String,
    shared: String,
    when: String,
}

#[derive(Template)]
#[template(path = "portal/account.html")]
struct AccountPage {
    base: Base,
    notice: Option<&'static str>,
    status: &'static str,
    level: String,
    session_level: String,
    phone: String,
    email: String,
    restore_only: bool,
    locks: Vec<LockRow>,
    lock_href: &'static str,
    unlock_action: &'static str,
    requests: Vec<RequestRow>,
    history: Vec<HistoryRow>,
    sign_ins: Vec<SignInRow>,
    consents: Vec<ConsentRow>,
    withdraw_action: &'static str,
    sign_out_action: &'static str,
    csrf: String,
}

#[derive(Template)]
#[template(path = "portal/lock_confirm.html")]
struct LockConfirmPage {
    base: Base,
    action: &'static str,
    csrf: String,
}

#[derive(Template)]
#[template(path = "portal/locked.html")]
struct LockedPage {
    base: Base,
    tracking_line: String,
}

#[derive(Template)]
#[template(path = "portal/error.html")]
struct ErrorPage {
    base: Base,
    message: String,
    code: Option<String>,
}

/// The portal's double-submit CSRF token (its own cookie, `Path=/portal`).
const CSRF: Csrf = Csrf { cookie: CSRF_COOKIE };

/// The switch's `lang` of a `GET`.
fn switched(query: Option<String>) -> Option<Lang> {
    forms::query_and_lang(query.as_deref()).1
}

fn query_param(query: &Option<String>, name: &str) -> Option<String> {
    field(&forms::pairs(query.as_deref().unwrap_or_default().as_bytes()), name).map(str::to_owned)
}

fn set(response: &mut Response, value: HeaderValue) {
    response.headers_mut().append(header::SET_COOKIE, value);
}

fn portal_cookie(issuer: &Issuer, name: &str, value: &str, max_age_seconds: i64) -> HeaderValue {
    set_cookie_at(issuer, HOME, name, value, max_age_seconds)
}

/// The browser's CSRF token, or a new one to set with the page.
fn csrf_token(headers: &HeaderMap) -> (String, bool) {
    CSRF.token(headers)
}

fn with_csrf(issuer: &Issuer, mut response: Response, csrf: &str, new: bool) -> Response {
    if new {
        set(&mut response, portal_cookie(issuer, CSRF_COOKIE, csrf, CSRF_MAX_AGE_SECONDS));
    }
    response
}

/// A posted form with this browser's CSRF token: the issuer, the page's language and the fields.
struct Posted {
    issuer: Issuer,
    lang: Lang,
    fields: Vec<(String, String)>,
    /// The browser's CSRF token, for the forms of the page that answers.
    csrf: String,
}

impl Posted {
    /// The form, or the page refusing it (`403`, nothing changed) when it lacks the browser's CSRF token.
    fn read(state: &AppState, headers: &HeaderMap, body: &[u8]) -> Result<Result<Self, Response>, ApiError> {
        match forms::Posted::read(state, headers, body, &CSRF)? {
            Ok(posted) => {
                let csrf = posted.field("csrf").to_owned();
                Ok(Ok(Self { issuer: posted.issuer, lang: posted.lang, fields: posted.fields, csrf }))
            }
            Err(lang) => Ok(Err(no_store(error_page(lang, StatusCode::FORBIDDEN, |t| t.form_expired, None)))),
        }
    }
}

/// The holder the portal's cookie signs in, with their session's hash.
async fn signed_in(state: &AppState, headers: &HeaderMap) -> Result<Option<(Actor, String)>, ApiError> {
    match cookie(headers, SESSION_COOKIE) {
        Some(value) => service::signed_in(state, value).await,
        None => Ok(None),
    }
}

fn forget_session(issuer: &Issuer, response: &mut Response) {
    set(response, portal_cookie(issuer, SESSION_COOKIE, "", 0));
}

fn welcome(lang: Lang, notice: Option<&'static str>, status: StatusCode) -> Response {
    let base = Base::new(lang, |t| t.welcome_title, HOME);
    let welcome = WelcomePage {
        base,
        notice,
        sign_in_href: SIGN_IN,
        register_href: registration::REGISTER,
        restore_href: requests::RESTORE,
        track_href: requests::TRACK,
        lost_phone_href: requests::LOST_PHONE,
    };
    page(status, &welcome)
}

fn error_page(
    lang: Lang,
    status: StatusCode,
    message: impl Fn(&PortalTexts) -> &'static str,
    code: Option<String>,
) -> Response {
    error_message(lang, status, message(PortalTexts::of(lang)).to_owned(), code)
}

/// The error page with this message, and a technical detail (in English) when there is one.
fn error_message(lang: Lang, status: StatusCode, message: String, code: Option<String>) -> Response {
    let base = Base::new(lang, |t| t.error_title, HOME);
    page(status, &ErrorPage { base, message, code })
}

/// `GET /portal`: the account page, or the welcome page when nobody is signed in.
async fn home(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let notice_key = query_param(&query, "done");
    let switched = switched(query);
    let lang = lang_of(&headers, switched);
    let t = PortalTexts::of(lang);
    let mut response = match signed_in(&state, &headers).await? {
        Some((actor, session_hash)) => {
            let overview = service::overview(&state, &actor).await?;
            if overview.restore_only && overview.active.is_empty() {
                // Nothing left to lift: the restore session has served its purpose; an ordinary sign-in works.
                service::sign_out(&state, &actor, &session_hash).await?;
                let mut response = welcome(lang, Some(t.unlocked_notice), StatusCode::OK);
                forget_session(&issuer, &mut response);
                remember_lang(&issuer, &mut response, switched);
                return Ok(no_store(response));
            }
            let notice = match notice_key.as_deref() {
                Some("withdrawn") => Some(t.withdrawn_notice),
                _ => None,
            };
            let (csrf, new) = csrf_token(&headers);
            let response = page(StatusCode::OK, &account_page(lang, overview, notice, csrf.clone()));
            with_csrf(&issuer, response, &csrf, new)
        }
        None => {
            let notice = match notice_key.as_deref() {
                Some("signed-out") => Some(t.signed_out_notice),
                _ => None,
            };
            let mut response = welcome(lang, notice, StatusCode::OK);
            if cookie(&headers, SESSION_COOKIE).is_some() {
                // A session that ended (a lock, a sign-out elsewhere): forget it.
                forget_session(&issuer, &mut response);
            }
            response
        }
    };
    remember_lang(&issuer, &mut response, switched);
    Ok(no_store(response))
}

fn lock_row(view: &LockView, lang: Lang) -> LockRow {
    let notice = crate::problem::LockNotice::of(&view.lock);
    let ground = lang.choose((notice.description_vi, notice.description_en));
    let how = lang.choose((notice.how_to_lift_vi, notice.how_to_lift_en));
    LockRow {
        id: view.lock.id.clone(),
        ground,
        placed_by: view.placed_by.clone(),
        since: vietnam_time(view.lock.effective_at),
        since_iso: view.lock.effective_at.to_rfc3339(),
        until: view.lock.ends_at.map(vietnam_time),
        how_to_lift: how,
    }
}

fn account_page(lang: Lang, overview: Overview, notice: Option<&'static str>, csrf: String) -> AccountPage {
    let t = PortalTexts::of(lang);
    let account = &overview.account.account;
    let level = |n: i64| fill(t.level_value, &[("level", &n.to_string())]);
    let locks: Vec<LockRow> = overview.active.iter().map(|v| lock_row(v, lang)).collect();
    let mut history = Vec::new();
    for view in &overview.history {
        let row = lock_row(view, lang);
        if let Some(lift) = &view.lock.lifted {
            history.push((
                lift.at,
                HistoryRow {
                    when: vietnam_time(lift.at),
                    what: format!("{}: {}", t.lifted_event, row.ground),
                    by: String::new(),
                },
            ));
        }
        history.push((
            view.lock.effective_at,
            HistoryRow { when: row.since, what: format!("{}: {}", t.locked_event, row.ground), by: row.placed_by },
        ));
    }
    history.sort_by_key(|(at, _)| std::cmp::Reverse(*at));
    let sign_ins = overview
        .sign_ins
        .iter()
        .map(|s| SignInRow {
            service: s.client_name.clone(),
            organization: s.organization_name.clone(),
            when: vietnam_time(s.at),
            level: level(s.grant.acr.number()),
        })
        .collect();
    let claims = crate::api::oidc::i18n::Texts::of(lang);
    let consents = overview
        .consents
        .iter()
        .map(|(consent, name)| ConsentRow {
            client_id: consent.client_id.clone(),
            service: name.clone(),
            shared: if consent.claims.is_empty() {
                t.only_identifier.to_owned()
            } else {
                consent.claims.iter().map(|c| claims.claim(*c)).collect::<Vec<_>>().join(", ")
            },
            when: vietnam_time(consent.granted_at),
        })
        .collect();
    let requests = overview
        .requests
        .iter()
        .map(|r| RequestRow {
            tracking_code: r.tracking_code.to_string(),
            kind: requests::kind_text(t, r.kind),
            status: lang.choose(r.status.description()),
            received: vietnam_time(r.received_at),
            deadline: requests::deadline_text(t, r),
        })
        .collect();
    let usable = account.status == AccountStatus::Active && locks.is_empty();
    AccountPage {
        base: Base::new(lang, |t| t.account_title, HOME),
        notice,
        status: if usable { t.status_active } else { t.status_locked },
        level: level(account.level.number()),
        session_level: level(overview.account.session_assurance.number()),
        phone: account.phone.as_ref().map(|p| p.masked()).unwrap_or_else(|| t.none.to_owned()),
        email: account.email.as_ref().map(|e| e.masked()).unwrap_or_else(|| t.none.to_owned()),
        restore_only: overview.restore_only,
        locks,
        lock_href: LOCK,
        unlock_action: requests::UNLOCK,
        requests,
        history: history.into_iter().map(|(_, row)| row).collect(),
        sign_ins,
        consents,
        withdraw_action: WITHDRAW,
        sign_out_action: SIGN_OUT,
        csrf,
    }
}

/// `GET /portal/sign-in`: a new flow (its `state` and PKCE verifier in a cookie), then the provider's
/// authorization endpoint.
async fn sign_in(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let lang = lang_of(&headers, None);
    let flow = Flow::new();
    let url = service::authorization_url(&state, &issuer, &flow, lang.tag()).await?;
    let mut response = Redirect::to(&url).into_response();
    set(&mut response, portal_cookie(&issuer, FLOW_COOKIE, &flow.to_cookie(), FLOW_MAX_AGE_SECONDS));
    Ok(no_store(response))
}

/// `GET /portal/callback`: the provider sent the browser back with a code (or an error).
async fn callback(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let lang = lang_of(&headers, None);
    let flow = cookie(&headers, FLOW_COOKIE).and_then(Flow::from_cookie);
    let param = |name: &str| query_param(&query, name);
    let (returned_state, code, error) = (param("state"), param("code"), param("error"));
    let outcome =
        service::callback(&state, &issuer, flow, returned_state.as_deref(), code.as_deref(), error.as_deref()).await?;
    let mut response = match outcome {
        Callback::SignedIn { cookie, max_age_seconds } => {
            let mut response = Redirect::to(HOME).into_response();
            set(&mut response, portal_cookie(&issuer, SESSION_COOKIE, &cookie, max_age_seconds));
            response
        }
        Callback::Refused { error } if error == "access_denied" => {
            error_page(lang, StatusCode::FORBIDDEN, |t| t.sign_in_declined, Some(error))
        }
        Callback::Refused { error } => error_page(lang, StatusCode::BAD_REQUEST, |t| t.sign_in_refused, Some(error)),
    };
    // The flow is spent either way.
    set(&mut response, portal_cookie(&issuer, FLOW_COOKIE, "", 0));
    Ok(no_store(response))
}

/// The answer when a page needs a signed-in holder and there is none (anymore).
fn session_ended(issuer: &Issuer, lang: Lang) -> Response {
    let mut response = welcome(lang, Some(PortalTexts::of(lang).session_ended), StatusCode::UNAUTHORIZED);
    forget_session(issuer, &mut response);
    no_store(response)
}

/// `GET /portal/lock`: the one confirmation before the holder's own lock.
async fn lock_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let switched = switched(query);
    let lang = lang_of(&headers, switched);
    if signed_in(&state, &headers).await?.is_none() {
        return Ok(session_ended(&issuer, lang));
    }
    let (csrf, new) = csrf_token(&headers);
    let base = Base::new(lang, |t| t.lock_confirm_title, LOCK);
    let response = page(StatusCode::OK, &LockConfirmPage { base, action: LOCK, csrf: csrf.clone() });
    let mut response = with_csrf(&issuer, response, &csrf, new);
    remember_lang(&issuer, &mut response, switched);
    Ok(no_store(response))
}

/// `POST /portal/lock`: the holder's own lock, effective at once; it ends the portal's session with the others.
async fn lock(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let posted = match Posted::read(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let Posted { issuer, lang, fields, .. } = posted;
    let Some((actor, _)) = signed_in(&state, &headers).await? else { return Ok(session_ended(&issuer, lang)) };
    let request = service::lock_own_account(&state, &actor, field(&fields, "reason").unwrap_or_default()).await?;
    let t = PortalTexts::of(lang);
    let base = Base::new(lang, |t| t.locked_done_title, HOME);
    let tracking_line = fill(t.tracking_code_line, &[("code", &request.tracking_code.to_string())]);
    let mut response = page(StatusCode::OK, &LockedPage { base, tracking_line });
    forget_session(&issuer, &mut response);
    Ok(no_store(response))
}

/// `POST /portal/consents/withdraw`: withdraws the consent to one relying party (and its grants).
async fn withdraw(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let posted = match Posted::read(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let Posted { issuer, lang, fields, .. } = posted;
    let Some((actor, _)) = signed_in(&state, &headers).await? else { return Ok(session_ended(&issuer, lang)) };
    let client_id = field(&fields, "client_id").unwrap_or_default();
    match crate::service::oidc::holder::withdraw_consent(&state, &actor, client_id).await {
        Ok(()) => Ok(no_store(Redirect::to(&format!("{HOME}?done=withdrawn")).into_response())),
        // Withdrawn already (a second click, another tab): the page shows what is left.
        Err(ApiError::NotFound { .. }) => Ok(no_store(Redirect::to(HOME).into_response())),
        Err(other) => Err(other),
    }
}

/// `POST /portal/sign-out`: ends the session (the provider session too: single sign-on ends with it).
async fn sign_out(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let posted = match Posted::read(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let issuer = posted.issuer;
    if let Some((actor, session_hash)) = signed_in(&state, &headers).await? {
        service::sign_out(&state, &actor, &session_hash).await?;
    }
    let mut response = Redirect::to(&format!("{HOME}?done=signed-out")).into_response();
    forget_session(&issuer, &mut response);
    Ok(no_store(response))
}
