//! Registering and activating an account on the portal: `GET`/`POST /portal/register`, `POST /portal/activate`
//! and `POST /portal/activation-code`. The form is read into the API's own [`RegisterRequest`] and checked by
//! its parser, and the use cases are `service::registration`'s, so a page and `POST /v1/accounts` refuse and
//! answer alike: an identity that has an account already gets the same pages as a new one (the decoy), and a
//! declaration that does not match the registry one message, whatever differs.

use std::collections::BTreeMap;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use dinhdanh_domain::activation::ActivationCode;

use super::{Base, Posted, csrf_token, field, lang_of, page, switched, with_csrf};
use super::{HOME, SIGN_IN};
use crate::AppState;
use crate::api::i18n::{Lang, fill};
use crate::api::oidc::{issuer_of, no_store, remember_lang};
use crate::api::registration::{HolderKindBody, RegisterRequest, account_id};
use crate::problem::ApiError;
use crate::service::registration;

pub const REGISTER: &str = "/portal/register";
pub const ACTIVATE: &str = "/portal/activate";
pub const RESEND: &str = "/portal/activation-code";

use super::i18n::PortalTexts;

/// One field of the form as typed, and why it was refused.
#[derive(Default)]
pub struct Field {
    pub value: String,
    pub error: Option<String>,
}

/// The registration form as typed (never the password) and the server's refusals, by the API's field names.
#[derive(Default)]
pub struct RegisterForm {
    pub id_number: Field,
    pub passport_number: Field,
    pub nationality: Field,
    pub full_name: Field,
    pub date_of_birth: Field,
    pub gender: Field,
    pub phone: Field,
    pub email: Field,
    pub password: Field,
}

impl RegisterForm {
    fn typed(fields: &[(String, String)], errors: &BTreeMap<String, String>) -> Self {
        let typed = |name: &str| Field {
            value: if name == "password" { String::new() } else { field(fields, name).unwrap_or_default().to_owned() },
            error: errors.get(name).cloned(),
        };
        Self {
            id_number: typed("id_number"),
            passport_number: typed("passport_number"),
            nationality: typed("nationality"),
            full_name: typed("full_name"),
            date_of_birth: typed("date_of_birth"),
            gender: typed("gender"),
            phone: typed("phone"),
            email: typed("email"),
            password: typed("password"),
        }
    }
}

#[derive(Template)]
#[template(path = "portal/register.html")]
struct RegisterPage {
    base: Base,
    action: &'static str,
    csrf: String,
    foreigner: bool,
    form: RegisterForm,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/activate.html")]
struct ActivatePage {
    base: Base,
    activate_action: &'static str,
    resend_action: &'static str,
    csrf: String,
    account_id: String,
    sent: Option<String>,
    error: Option<String>,
}

#[derive(Template)]
#[template(path = "portal/activated.html")]
struct ActivatedPage {
    base: Base,
    sign_in_href: &'static str,
}

/// An error of a use case in the page's language (the problem type's own words).
pub(super) fn said(error: &ApiError, lang: Lang) -> String {
    let (_, vi, en) = error.texts();
    lang.choose((vi, en))
}

fn register_page(
    lang: Lang,
    status: StatusCode,
    csrf: String,
    fields: &[(String, String)],
    errors: &BTreeMap<String, String>,
    error: Option<String>,
) -> Response {
    let base = Base::new(lang, |t| t.register_title, REGISTER);
    let foreigner = field(fields, "holder_kind") == Some("foreigner");
    let form = RegisterForm::typed(fields, errors);
    page(status, &RegisterPage { base, action: REGISTER, csrf, foreigner, form, error })
}

fn activate_page(
    lang: Lang,
    status: StatusCode,
    csrf: String,
    account_id: String,
    sent: Option<String>,
    error: Option<String>,
) -> Response {
    let base = Base::new(lang, |t| t.activate_title, HOME);
    page(
        status,
        &ActivatePage { base, activate_action: ACTIVATE, resend_action: RESEND, csrf, account_id, sent, error },
    )
}

fn sent_line(lang: Lang, sent_to: &[String]) -> String {
    fill(PortalTexts::of(lang).activation_sent, &[("destinations", &sent_to.join(", "))])
}

/// `GET /portal/register`: the empty form.
pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let issuer = issuer_of(&state, &headers)?;
    let switched = switched(query);
    let lang = lang_of(&headers, switched);
    let (csrf, new) = csrf_token(&headers);
    let response = register_page(lang, StatusCode::OK, csrf.clone(), &[], &BTreeMap::new(), None);
    let mut response = with_csrf(&issuer, response, &csrf, new);
    remember_lang(&issuer, &mut response, switched);
    Ok(no_store(response))
}

/// `POST /portal/register`: the declaration checked as the API checks it, then compared with the registry.
pub async fn register(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let posted = match Posted::read(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let Posted { lang, fields, csrf, .. } = posted;
    // A browser sends every field of the form, the other kind's empty ones too: an empty field is not given.
    let text = |name: &str| field(&fields, name).filter(|v| !v.trim().is_empty()).map(str::to_owned);
    let foreigner = text("holder_kind").as_deref() == Some("foreigner");
    let request = RegisterRequest {
        holder_kind: if foreigner { HolderKindBody::Foreigner } else { HolderKindBody::Citizen },
        id_number: text("id_number").filter(|_| !foreigner),
        passport_number: text("passport_number").filter(|_| foreigner),
        nationality: text("nationality").filter(|_| foreigner),
        full_name: text("full_name").unwrap_or_default(),
        date_of_birth: text("date_of_birth").unwrap_or_default(),
        gender: text("gender").unwrap_or_default(),
        phone: text("phone"),
        email: text("email"),
        password: text("password").unwrap_or_default(),
    };
    let refused = |status, errors: &BTreeMap<String, String>, error| {
        Ok(no_store(register_page(lang, status, csrf.clone(), &fields, errors, error)))
    };
    let registration = match request.parse(&state) {
        Ok(registration) => registration,
        Err(ApiError::Validation(errors)) => {
            let mut by_field = BTreeMap::new();
            for e in errors {
                by_field.entry(e.field).or_insert(e.message);
            }
            return refused(StatusCode::UNPROCESSABLE_ENTITY, &by_field, None);
        }
        Err(other) => return Err(other),
    };
    match registration::register(&state, registration).await {
        Ok(sent) => {
            let line = sent_line(lang, &sent.sent_to);
            Ok(no_store(activate_page(lang, StatusCode::OK, csrf, sent.account_id.to_string(), Some(line), None)))
        }
        Err(
            error @ (ApiError::RegistryMismatch
            | ApiError::TooManyRequests { .. }
            | ApiError::RegistryUnavailable
            | ApiError::Saturated
            | ApiError::Busy),
        ) => {
            let status = error.status();
            refused(status, &BTreeMap::new(), Some(said(&error, lang)))
        }
        Err(other) => Err(other),
    }
}

/// `POST /portal/activate`: the code; a wrong one says how many tries are left.
pub async fn activate(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let posted = match Posted::read(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let Posted { lang, fields, csrf, .. } = posted;
    let raw_id = field(&fields, "account_id").unwrap_or_default().to_owned();
    let again = |status, error: String| {
        Ok(no_store(activate_page(lang, status, csrf.clone(), raw_id.clone(), None, Some(error))))
    };
    let t = PortalTexts::of(lang);
    let Ok(code) = ActivationCode::parse(field(&fields, "code").unwrap_or_default()) else {
        return again(StatusCode::UNPROCESSABLE_ENTITY, t.activation_code_malformed.to_owned());
    };
    let outcome = match account_id(&raw_id) {
        Ok(id) => registration::activate(&state, &id, code).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(_) => {
            let base = Base::new(lang, |t| t.activated_title, HOME);
            Ok(no_store(page(StatusCode::OK, &ActivatedPage { base, sign_in_href: SIGN_IN })))
        }
        Err(ApiError::WrongCode { attempts_left }) => again(
            StatusCode::UNPROCESSABLE_ENTITY,
            fill(t.wrong_activation_code, &[("attempts", &attempts_left.to_string())]),
        ),
        Err(
            error @ (ApiError::CodeExpired | ApiError::TooManyRequests { .. } | ApiError::Saturated | ApiError::Busy),
        ) => {
            let status = error.status();
            again(status, said(&error, lang))
        }
        // Gone, expired or active already: start again from the form, saying why.
        Err(error @ (ApiError::AccountNotFound | ApiError::RegistrationExpired | ApiError::AlreadyActive)) => {
            Ok(no_store(register_page(lang, error.status(), csrf, &[], &BTreeMap::new(), Some(said(&error, lang)))))
        }
        Err(other) => Err(other),
    }
}

/// `POST /portal/activation-code`: a new code (the previous one stops working), within the API's limits.
pub async fn resend(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, ApiError> {
    let posted = match Posted::read(&state, &headers, &body)? {
        Ok(posted) => posted,
        Err(refused) => return Ok(refused),
    };
    let Posted { lang, fields, csrf, .. } = posted;
    let raw_id = field(&fields, "account_id").unwrap_or_default().to_owned();
    let outcome = match account_id(&raw_id) {
        Ok(id) => registration::resend_code(&state, &id).await,
        Err(e) => Err(e),
    };
    match outcome {
        Ok(sent) => {
            let line = sent_line(lang, &sent.sent_to);
            Ok(no_store(activate_page(lang, StatusCode::OK, csrf, raw_id, Some(line), None)))
        }
        Err(error @ (ApiError::TooManyRequests { .. } | ApiError::Saturated | ApiError::Busy)) => {
            let status = error.status();
            Ok(no_store(activate_page(lang, status, csrf, raw_id, None, Some(said(&error, lang)))))
        }
        Err(error @ (ApiError::AccountNotFound | ApiError::RegistrationExpired | ApiError::AlreadyActive)) => {
            Ok(no_store(register_page(lang, error.status(), csrf, &[], &BTreeMap::new(), Some(said(&error, lang)))))
        }
        Err(other) => Err(other),
    }
}
