//! A locked holder's way back, and following requests: the restore sign-in (`/portal/restore`: identifier,
//! password, code; a session that serves only the locks and requests, never a relying party, so it is the
//! holder sign-in service's own and not the provider's), the unlock request (`POST /portal/unlock`), and the
//! tracking page (`GET /portal/track`), anyone's with the tracking code and the identity. Thin: the use cases
//! are `service::holders`', `service::portal`'s and `service::locks`'.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use dinhdanh_domain::account::SignInPurpose;
use dinhdanh_domain::activation::ActivationCode;
use dinhdanh_domain::request::{Request, RequestKind};
use dinhdanh_domain::tracking::TrackingCode;

use super::i18n::{PortalTexts, vietnam_time};
use super::registration::said;
use super::{
    Base, HOME, Posted, SESSION_COOKIE, csrf_token, field, lang_of, page, portal_cookie, query_param, set, switched,
    with_csrf,
};
use crate::AppState;
use crate::api::holders::StartSignInRequest;
use crate::api::i18n::{Lang, fill};
use crate::api::locks::AccountRefBody;
use crate::api::locks::lost_phone::LostPhoneLockBody;
use crate::api::oidc::{issuer_of, no_store, remember_lang};
use crate::api::registration::HolderKindBody;
use crate::problem::ApiError;
use crate::ratelimit::ClientSource;
use crate::secrets::token_hash;
use crate::service::{holders, locks, portal as service};

pub const RESTORE: &str = "/portal/restore";
pub const RESTORE_CODE: &str = "/portal/restore/code";
pub const UNLOCK: &str = "/portal/unlock";
pub const TRACK: &str = "/portal/track";
pub const LOST_PHONE: &str = "/portal/lost-phone";
pub const LOST_PHONE_CONFIRM: &str = "/portal/lost-phone/confirm";

#[derive(Template)]
#[template(path = "portal/restore.html")]
struct RestorePage {
    base: Base,
    action: &'static str,
    csrf: String,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/code.html")]
struct CodePage {
    base: Base,
    action: &'static str,
    csrf: String,
    /// The hidden field that carries `sign_in_id`'s value (`sign_in_id`, or `confirmation_id`).
    id_field: &'static str,
    sign_in_id: String,
    button: &'static str,
    sent: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/unlock_filed.html")]
struct UnlockFiledPage {
    base: Base,
    tracking_line: String,
    next: String,
}

struct StepRow {
    when: String,
    what: &'static str,
}

struct Found {
    tracking_code: String,
    kind: &'static str,
    ground: &'static str,
    status: &'static str,
    deadline: String,
    steps: Vec<StepRow>,
}

#[derive(Template)]
#[template(path = "portal/track.html")]
struct TrackPage {
    base: Base,
    action: &'static str,
    tracking_code: String,
    id_number: String,
    passport_number: String,
    nationality: String,
    error: Option<&'static str>,
    found: Option<Found>,
}

/// A request's kind in the page's language.
pub(super) fn kind_text(t: &PortalTexts, kind: RequestKind) -> &'static str {
    match kind {
        RequestKind::Lock => t.kind_lock,
        RequestKind::Unlock => t.kind_unlock,
    }
}

/// A request's deadline, or "none".
pub(super) fn deadline_text(t: &PortalTexts, request: &Request) -> String {
    request.deadline.map(vietnam_time).unwrap_or_else(|| t.none.to_owned())
}

fn restore_page(lang: Lang, status: StatusCode, csrf: String, error: Option<String>) -> Response {
    let base = Base::new(lang, |t| t.restore_title, RESTORE);
    no_store(page(status, &RestorePage { base, action: RESTORE, csrf, error }))
}

fn code_page(
    lang: Lang,
    status: StatusCode,
    csrf: String,
    sign_in_id: String,
    sent: Option<String>,
    error: Option<String>,
) -> Response {
    let base = Base::new(lang, |t| t.code_title, RESTORE);
    let button = PortalTexts::of(lang).confirm_button;
    let code = CodePage { base, action: RESTORE_CODE, csrf, id_field: "sign_in_id", sign_in_id, button, sent, error };
    no_store(page(status, &code))
}

/// The code page of a lock without sign-in.
fn confirm_page(
    lang: Lang,
    status: StatusCode,
    csrf: String,
    confirmation_id: String,
    sent: Option<String>,
    error: Option<String>,
) -> Response {
    let base = Base::new(lang, |t| t.code_title, LOST_PHONE);
    let button = PortalTexts::of(lang).confirm_lock_button;
    let code = CodePage {
        base,
        action: LOST_PHONE_CONFIRM,
        csrf,
        id_field: "confirmation_id",
        sign_in_id: confirmation_id,
        button,
        sent,
        error,
    };
    no_store(page(status, &code))
}

#[derive(Template)]
#[template(path = "portal/lost_phone.html")]
struct LostPhonePage {
    base: Base,
    action: &'static str,
    csrf: String,
    error: Option<String>,
}

fn lost_phone_page(lang: Lang, status: StatusCode, csrf: String, error: Option<String>) -> Response {
    let base = Base::new(lang, |t| t.lost_phone_title, LOST_PHONE);
    no_store(page(status, &LostPhonePage { base, action: LOST_PHONE, csrf, error }))
}

/// `GET /portal/lost-phone`: the identity details and the channel lost, without signing in.
pub async fn lost_phone_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let switched = switched(query);
    let lang = lang_of(&headers, switched);
    let (csrf, new) = csrf_token(&headers);
    let mut response = with_csrf(&issuer, lost_phone_page(lang, StatusCode::OK, csrf.clone(), None), &csrf, new);
    remember_lang(&issuer, &mut response, switched);
    Ok(response)
}

/// `POST /portal/lost-phone`: the API's lock without sign-in (`POST /v1/lock-requests/without-sign-in`): its
/// checks, its one answer for any mismatch, and where the code goes is not told, even masked.
pub async fn lost_phone(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let posted = match Posted::read(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let Posted { lang, fields, csrf, .. } = posted;
    let t = PortalTexts::of(lang);
    let text = |name: &str| field(&fields, name).filter(|v| !v.trim().is_empty()).map(str::to_owned);
    let foreigner = text("holder_kind").as_deref() == Some("foreigner");
    let body = LostPhoneLockBody {
        holder_kind: if foreigner { "foreigner" } else { "citizen" }.to_owned(),
        id_number: text("id_number").filter(|_| !foreigner),
        passport_number: text("passport_number").filter(|_| foreigner),
        nationality: text("nationality").filter(|_| foreigner),
        full_name: text("full_name").unwrap_or_default(),
        date_of_birth: text("date_of_birth").unwrap_or_default(),
        lost_channel: text("lost_channel"),
        reason: text("reason").unwrap_or_default(),
    };
    let input = match body.parse(&state).await {
        Ok(input) => input,
        Err(ApiError::Validation(errors)) => {
            let fields: Vec<String> = errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect();
            let error = ApiError::Validation(errors);
            let message = format!("{} ({})", said(&error, lang), fields.join("; "));
            return Ok(lost_phone_page(lang, error.status(), csrf, Some(message)));
        }
        Err(other) => return Err(other),
    };
    match locks::lock_without_sign_in(&state, input).await {
        Ok(locks::LostPhoneOutcome::CodeSent { confirmation_id, .. }) => {
            Ok(confirm_page(lang, StatusCode::OK, csrf, confirmation_id, Some(t.lost_phone_code_sent.to_owned()), None))
        }
        Ok(locks::LostPhoneOutcome::Queued(request)) => {
            let base = Base::new(lang, |t| t.unlock_filed_title, HOME);
            let tracking_line = fill(t.tracking_code_line, &[("code", &request.tracking_code.to_string())]);
            let queued = UnlockFiledPage { base, tracking_line, next: t.lost_phone_queued.to_owned() };
            Ok(no_store(page(StatusCode::OK, &queued)))
        }
        Err(
            error @ (ApiError::RegistryMismatch
            | ApiError::LockRefused { .. }
            | ApiError::TooManyRequests { .. }
            | ApiError::RegistryUnavailable
            | ApiError::Saturated
            | ApiError::Busy),
        ) => Ok(lost_phone_page(lang, error.status(), csrf, Some(said(&error, lang)))),
        Err(other) => Err(other),
    }
}

/// `POST /portal/lost-phone/confirm`: the code from the other channel; the lock takes effect at once.
pub async fn lost_phone_confirm(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let posted = match Posted::read(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let Posted { lang, fields, csrf, .. } = posted;
    let t = PortalTexts::of(lang);
    let confirmation_id = field(&fields, "confirmation_id").unwrap_or_default().to_owned();
    let code = field(&fields, "code").unwrap_or_default();
    let again = |status, error: String| {
        Ok(confirm_page(lang, status, csrf.clone(), confirmation_id.clone(), None, Some(error)))
    };
    match locks::confirm_lock_without_sign_in(&state, &confirmation_id, code).await {
        Ok(request) => {
            let base = Base::new(lang, |t| t.locked_done_title, HOME);
            let tracking_line = fill(t.tracking_code_line, &[("code", &request.tracking_code.to_string())]);
            Ok(no_store(page(StatusCode::OK, &super::LockedPage { base, tracking_line })))
        }
        Err(ApiError::WrongCode { attempts_left }) => {
            again(StatusCode::UNPROCESSABLE_ENTITY, fill(t.wrong_code, &[("attempts", &attempts_left.to_string())]))
        }
        Err(ApiError::Validation(_)) => again(StatusCode::UNPROCESSABLE_ENTITY, t.code_label.to_owned()),
        Err(error @ (ApiError::CodeExpired | ApiError::Saturated | ApiError::Busy)) => {
            let status = error.status();
            again(status, said(&error, lang))
        }
        Err(other) => Err(other),
    }
}

/// `GET /portal/restore`: identifier and password of a locked holder.
pub async fn restore_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let switched = switched(query);
    let lang = lang_of(&headers, switched);
    let (csrf, new) = csrf_token(&headers);
    let mut response = with_csrf(&issuer, restore_page(lang, StatusCode::OK, csrf.clone(), None), &csrf, new);
    remember_lang(&issuer, &mut response, switched);
    Ok(response)
}

/// `POST /portal/restore`: the holder sign-in's first step with `purpose: restore` (its throttling and its one
/// answer for an unknown identity and a wrong password), then the code page.
pub async fn restore(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientSource(source): ClientSource,
    body: Bytes,
) -> Result<Response, ApiError> {
    let posted = match Posted::read(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let Posted { lang, fields, csrf, .. } = posted;
    let t = PortalTexts::of(lang);
    let text = |name: &str| field(&fields, name).filter(|v| !v.trim().is_empty()).map(str::to_owned);
    let foreigner = text("holder_kind").as_deref() == Some("foreigner");
    let request = StartSignInRequest {
        holder_kind: if foreigner { HolderKindBody::Foreigner } else { HolderKindBody::Citizen },
        id_number: text("id_number").filter(|_| !foreigner),
        passport_number: text("passport_number").filter(|_| foreigner),
        nationality: text("nationality").filter(|_| foreigner),
        password: field(&fields, "password").unwrap_or_default().to_owned(),
        channel: None,
        purpose: Some(SignInPurpose::Restore.as_str().to_owned()),
    };
    let start = match request.parse(&state) {
        Ok(start) => start,
        Err(ApiError::Validation(_)) => {
            return Ok(restore_page(lang, StatusCode::UNAUTHORIZED, csrf, Some(t.sign_in_failed.to_owned())));
        }
        Err(other) => return Err(other),
    };
    match holders::start_sign_in(&state, start, &source).await {
        Ok(sent) => {
            let line = fill(t.code_sent, &[("destination", &sent.sent_to)]);
            Ok(code_page(lang, StatusCode::OK, csrf, sent.sign_in_id, Some(line), None))
        }
        Err(ApiError::SignInFailed) => {
            Ok(restore_page(lang, StatusCode::UNAUTHORIZED, csrf, Some(t.sign_in_failed.to_owned())))
        }
        Err(
            error @ (ApiError::TooManyRequests { .. }
            | ApiError::SignInLocked { .. }
            | ApiError::Saturated
            | ApiError::Busy),
        ) => Ok(restore_page(lang, error.status(), csrf, Some(said(&error, lang)))),
        Err(other) => Err(other),
    }
}

/// `POST /portal/restore/code`: the code; a restore session opens, and the portal's cookie carries it.
pub async fn restore_code(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientSource(source): ClientSource,
    body: Bytes,
) -> Result<Response, ApiError> {
    let posted = match Posted::read(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let Posted { issuer, lang, fields, csrf } = posted;
    let t = PortalTexts::of(lang);
    let sign_in_id = field(&fields, "sign_in_id").unwrap_or_default().to_owned();
    let again =
        |status, error: String| Ok(code_page(lang, status, csrf.clone(), sign_in_id.clone(), None, Some(error)));
    let Ok(code) = ActivationCode::parse(field(&fields, "code").unwrap_or_default()) else {
        return again(StatusCode::UNPROCESSABLE_ENTITY, t.code_label.to_owned());
    };
    match holders::verify_sign_in(&state, &sign_in_id, code, &source).await {
        Ok(session) => {
            let max_age = (session.expires_at - state.clock.now()).num_seconds().max(0);
            let cookie = service::session_cookie(&state, &token_hash(&session.token));
            let mut response = Redirect::to(HOME).into_response();
            set(&mut response, portal_cookie(&issuer, SESSION_COOKIE, &cookie, max_age));
            Ok(no_store(response))
        }
        Err(ApiError::WrongCode { attempts_left }) => {
            again(StatusCode::UNPROCESSABLE_ENTITY, fill(t.wrong_code, &[("attempts", &attempts_left.to_string())]))
        }
        Err(
            error @ (ApiError::CodeExpired
            | ApiError::SignInFailed
            | ApiError::SignInLocked { .. }
            | ApiError::TooManyRequests { .. }
            | ApiError::Saturated
            | ApiError::Busy),
        ) => {
            let status = error.status();
            again(status, said(&error, lang))
        }
        Err(other) => Err(other),
    }
}

/// `POST /portal/unlock`: "ask to lift this lock", with the holder's reason.
pub async fn unlock(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let posted = match Posted::read(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let Posted { issuer, lang, fields, .. } = posted;
    let Some((actor, _)) = super::signed_in(&state, &headers).await? else {
        return Ok(super::session_ended(&issuer, lang));
    };
    let t = PortalTexts::of(lang);
    let lock_id = field(&fields, "lock_id").unwrap_or_default();
    let reason = field(&fields, "reason").unwrap_or_default();
    let request = match service::ask_to_lift(&state, &actor, lock_id, reason).await {
        Ok(request) => request,
        Err(error @ (ApiError::Validation(_) | ApiError::Conflict { .. } | ApiError::LockRefused { .. })) => {
            let detail = match &error {
                ApiError::LockRefused { reason } => Some(reason.clone()),
                _ => None,
            };
            return Ok(no_store(super::error_message(lang, error.status(), said(&error, lang), detail)));
        }
        Err(other) => return Err(other),
    };
    let deadline = deadline_text(t, &request);
    let next = if request.effective_at.is_some() {
        t.unlock_effective.to_owned()
    } else if request.awaits_in_person_check() {
        fill(t.unlock_waits_in_person, &[("deadline", &deadline)])
    } else {
        fill(t.unlock_waits, &[("deadline", &deadline)])
    };
    let base = Base::new(lang, |t| t.unlock_filed_title, HOME);
    let tracking_line = fill(t.tracking_code_line, &[("code", &request.tracking_code.to_string())]);
    Ok(no_store(page(StatusCode::OK, &UnlockFiledPage { base, tracking_line, next })))
}

/// `GET /portal/track`: the form, and with a tracking code and an identity, where that request stands.
pub async fn track(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let param = |name: &str| query_param(&query, name).map(|v| v.trim().to_owned()).unwrap_or_default();
    let (tracking_code, id_number, passport_number, nationality) =
        (param("tracking_code"), param("id_number"), param("passport_number"), param("nationality"));
    let switched = switched(query.clone());
    let lang = lang_of(&headers, switched);
    let t = PortalTexts::of(lang);
    let mut status = StatusCode::OK;
    let (mut error, mut found) = (None, None);
    if !tracking_code.is_empty() {
        let some = |v: &String| (!v.is_empty()).then(|| v.clone());
        let identity = AccountRefBody {
            id_number: some(&id_number),
            passport_number: some(&passport_number),
            nationality: some(&nationality),
        }
        .identity_key(&state);
        match (TrackingCode::parse(&tracking_code), identity) {
            (Ok(code), Ok(identity)) => match locks::tracked_request(&state, &code, &identity).await {
                Ok(request) => {
                    let steps = state.store.request_steps(&request.id).await?;
                    found = Some(Found {
                        tracking_code: request.tracking_code.to_string(),
                        kind: kind_text(t, request.kind),
                        ground: lang.choose(request.ground.description()),
                        status: lang.choose(request.status.description()),
                        deadline: deadline_text(t, &request),
                        steps: steps
                            .iter()
                            .map(|s| StepRow { when: vietnam_time(s.at), what: lang.choose(s.event.description()) })
                            .collect(),
                    });
                }
                Err(ApiError::NotFound { .. }) => {
                    status = StatusCode::NOT_FOUND;
                    error = Some(t.track_not_found);
                }
                Err(other) => return Err(other),
            },
            _ => {
                status = StatusCode::UNPROCESSABLE_ENTITY;
                error = Some(t.track_malformed);
            }
        }
    }
    let base = Base::new(lang, |t| t.track_title, TRACK);
    let track = TrackPage { base, action: TRACK, tracking_code, id_number, passport_number, nationality, error, found };
    let mut response = no_store(page(status, &track));
    remember_lang(&issuer, &mut response, switched);
    Ok(response)
}
