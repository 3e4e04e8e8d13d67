//! Officers over HTTP: enrolment (`/v1/officer-enrolment`), sign-in and sign-out (`/v1/officer-sessions`), and
//! administrators' management of officers (`/v1/officers`). Handlers parse, ask `crate::auth::authorize` and
//! call one function of `crate::service::officers`; no secret (password hash, TOTP secret, token hash) is ever
//! in a response, and the enrolment token and TOTP secret appear once, in the answer that creates them.

use std::collections::BTreeSet;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use dinhdanh_domain::actor::{Actor, OfficerRole};
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::officer::{Officer, OfficerStatus, parse_full_name, parse_username};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::ApiJson;
use crate::AppState;
use crate::auth::{Authenticated, authorize};
use crate::problem::{ApiError, FieldError, Problem};
use crate::service::officers::{self as service, NewOfficer, OfficerChange};

#[derive(OpenApi)]
#[openapi(
    paths(
        enrol_officer,
        confirm_officer_enrolment,
        sign_in_officer,
        sign_out_officer,
        create_officer,
        list_officers,
        get_officer,
        update_officer,
        reissue_officer_enrolment,
        get_current_officer,
    ),
    components(schemas(
        EnrolRequest,
        EnrolResponse,
        ConfirmEnrolmentRequest,
        SignInRequest,
        SignInResponse,
        SessionOfficer,
        CreateOfficerRequest,
        UpdateOfficerRequest,
        OfficerResponse,
        EnrolmentResponse,
    )),
    tags((name = "officers", description = "Cán bộ / The operator's officers: enrolment, sign-in, management"))
)]
pub struct Doc;

/// Routes that need a bearer token (per-IP rate limited like everything else).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/officer-sessions/current", delete(sign_out_officer))
        .route("/v1/officers", post(create_officer).get(list_officers))
        .route("/v1/officers/me", get(get_current_officer))
        .route("/v1/officers/{officer_id}", get(get_officer).patch(update_officer))
        .route("/v1/officers/{officer_id}/enrolment", post(reissue_officer_enrolment))
}

/// Routes a stranger can call (sign-in, enrolment): the public per-IP limit applies.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/officer-enrolment", post(enrol_officer))
        .route("/v1/officer-enrolment/confirm", post(confirm_officer_enrolment))
        .route("/v1/officer-sessions", post(sign_in_officer))
}

/// Enrolment step 1.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrolRequest {
    /// The one-time enrolment token (`dd_en_…`) an administrator handed over.
    #[schema(min_length = 1)]
    pub token: String,
    /// The new password: 8 to 128 characters, not a common password, not the username.
    #[schema(min_length = 8, max_length = 128, format = Password)]
    pub password: String,
}

/// The TOTP secret to load into an authenticator app (shown once).
#[derive(Serialize, ToSchema)]
pub struct EnrolResponse {
    /// Base32 (RFC 4648), 160 bits.
    pub totp_secret: String,
    /// `otpauth://totp/dinhdanh:USERNAME?secret=…&issuer=dinhdanh&algorithm=SHA1&digits=6&period=30`, for a QR code.
    pub otpauth_uri: String,
}

/// Enrolment step 2.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmEnrolmentRequest {
    #[schema(min_length = 1)]
    pub token: String,
    /// The 6-digit code the authenticator app shows now.
    #[schema(example = "123456", pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    #[schema(example = "tuan.pm")]
    pub username: String,
    #[schema(format = Password)]
    pub password: String,
    /// The 6-digit TOTP code.
    #[schema(example = "123456", pattern = "^[0-9]{6}$")]
    pub code: String,
}

/// Who signed in.
#[derive(Serialize, ToSchema)]
pub struct SessionOfficer {
    pub id: String,
    pub username: String,
    pub roles: Vec<String>,
}

#[derive(Serialize, ToSchema)]
pub struct SignInResponse {
    /// The session's bearer token (`dd_os_…`); shown once, stored only as a hash.
    pub token: String,
    /// The session lasts 8 hours and is not extended by use.
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub expires_at: DateTime<Utc>,
    pub officer: SessionOfficer,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOfficerRequest {
    /// 3 to 64 lower-case ASCII letters, digits, `.`, `-`, `_`, starting with a letter.
    #[schema(example = "tuan.pm", pattern = "^[a-z][a-z0-9._-]{2,63}$")]
    pub username: String,
    #[schema(example = "Phạm Minh Tuấn", min_length = 1, max_length = 200)]
    pub full_name: String,
    /// The officer's unit: an active organization of kind `operator`.
    pub organization_id: String,
    /// At least one of `reviewer`, `supervisor`, `administrator`.
    #[schema(example = json!(["reviewer"]), min_items = 1)]
    pub roles: Vec<String>,
}

/// Fields to change; those left out stay as they are.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOfficerRequest {
    #[schema(min_length = 1, max_length = 200)]
    pub full_name: Option<String>,
    /// At least one of `reviewer`, `supervisor`, `administrator`.
    #[schema(min_items = 1)]
    pub roles: Option<Vec<String>>,
    /// `active` or `disabled`.
    #[schema(example = "disabled", pattern = "^(active|disabled)$")]
    pub status: Option<String>,
}

/// An officer, without any credential.
#[derive(Serialize, ToSchema)]
pub struct OfficerResponse {
    pub id: String,
    pub username: String,
    pub full_name: String,
    pub organization_id: String,
    pub roles: Vec<String>,
    /// `pending_enrolment`, `active` or `disabled`.
    pub status: String,
    /// While pending: until when the enrolment token works.
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub enrolment_expires_at: Option<DateTime<Utc>>,
    /// Consecutive failed sign-ins since the last success.
    pub failed_sign_ins: i64,
    /// Set while sign-in is locked after too many failures.
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub sign_in_locked_until: Option<DateTime<Utc>>,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub updated_at: DateTime<Utc>,
}

impl OfficerResponse {
    fn new(officer: &Officer, now: DateTime<Utc>) -> Self {
        Self {
            id: officer.id.clone(),
            username: officer.username.clone(),
            full_name: officer.full_name.clone(),
            organization_id: officer.organization_id.clone(),
            roles: role_names(&officer.roles),
            status: officer.status.as_str().to_owned(),
            enrolment_expires_at: officer.enrolment_expires_at,
            failed_sign_ins: officer.failed_sign_ins,
            sign_in_locked_until: officer.locked_until.filter(|until| *until > now),
            created_at: officer.created_at,
            updated_at: officer.updated_at,
        }
    }
}

/// A new or reissued enrolment: hand `enrolment_token` to the officer over a trusted channel; it is shown once.
#[derive(Serialize, ToSchema)]
pub struct EnrolmentResponse {
    pub officer: OfficerResponse,
    /// One-time token (`dd_en_…`) for `POST /v1/officer-enrolment`, valid 72 hours.
    pub enrolment_token: String,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub enrolment_expires_at: DateTime<Utc>,
}

fn role_names(roles: &BTreeSet<OfficerRole>) -> Vec<String> {
    roles.iter().map(|r| r.as_str().to_owned()).collect()
}

fn parse_role_list(list: &[String], errors: &mut Vec<FieldError>) -> Option<BTreeSet<OfficerRole>> {
    let mut roles = BTreeSet::new();
    for name in list {
        match OfficerRole::parse(name.trim()) {
            Some(role) => {
                roles.insert(role);
            }
            None => {
                errors.push(FieldError {
                    field: "roles".to_owned(),
                    message: format!("unknown role {name:?}; use reviewer, supervisor or administrator"),
                });
                return None;
            }
        }
    }
    if roles.is_empty() {
        errors.push(FieldError { field: "roles".to_owned(), message: "an officer needs at least one role".to_owned() });
        return None;
    }
    Some(roles)
}

fn push<T, E: ToString>(errors: &mut Vec<FieldError>, field: &str, result: Result<T, E>) -> Option<T> {
    result.map_err(|e| errors.push(FieldError { field: field.to_owned(), message: e.to_string() })).ok()
}

/// Set a password and get a TOTP secret (enrolment step 1), with the one-time token from an administrator.
/// May be repeated until step 2 is done; each time replaces the password and secret.
#[utoipa::path(
    post, path = "/v1/officer-enrolment", operation_id = "enrolOfficer", tag = "officers",
    request_body = EnrolRequest,
    responses(
        (status = 200, description = "Password set; load the TOTP secret into an authenticator app", body = EnrolResponse),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: the token is unknown, used or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: the password breaks a rule", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn enrol_officer(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<EnrolRequest>,
) -> Result<Json<EnrolResponse>, ApiError> {
    let enrolled = service::enrol(&state, &body.token, body.password).await?;
    Ok(Json(EnrolResponse { totp_secret: enrolled.totp_secret, otpauth_uri: enrolled.otpauth_uri }))
}

/// Confirm the authenticator with a current code (enrolment step 2): the officer becomes active and the token
/// is spent.
#[utoipa::path(
    post, path = "/v1/officer-enrolment/confirm", operation_id = "confirmOfficerEnrolment", tag = "officers",
    request_body = ConfirmEnrolmentRequest,
    responses(
        (status = 200, description = "Enrolled; the officer can sign in", body = OfficerResponse),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: the token is unknown, used or expired", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: wrong code, or step 1 not done", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn confirm_officer_enrolment(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ConfirmEnrolmentRequest>,
) -> Result<Json<OfficerResponse>, ApiError> {
    let officer = service::confirm_enrolment(&state, &body.token, &body.code).await?;
    Ok(Json(OfficerResponse::new(&officer, state.clock.now())))
}

/// Sign in with username, password and TOTP code (authentication assurance level 2). A wrong username, password
/// or code all get the same `401 sign-in-failed`; after 5 consecutive failures the officer's sign-in is locked
/// for 15 minutes, doubling with each further failure up to 24 hours (`429 sign-in-locked` with `retry_after`).
#[utoipa::path(
    post, path = "/v1/officer-sessions", operation_id = "signInOfficer", tag = "officers",
    request_body = SignInRequest,
    responses(
        (status = 201, description = "Signed in", body = SignInResponse),
        (status = 401, description = "`urn:dinhdanh:problem:sign-in-failed`: wrong username, password or code, or an officer who is not active (one answer for all)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`urn:dinhdanh:problem:sign-in-locked`: sign-in locked after repeated failures; `urn:dinhdanh:problem:too-many-requests`: the per-IP limit of public endpoints; see `retry_after`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_in_officer(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<SignInRequest>,
) -> Result<(StatusCode, Json<SignInResponse>), ApiError> {
    let session = service::sign_in(&state, &body.username, body.password, &body.code).await?;
    Ok((
        StatusCode::CREATED,
        Json(SignInResponse {
            token: session.token,
            expires_at: session.expires_at,
            officer: SessionOfficer {
                id: session.officer.id.clone(),
                username: session.officer.username.clone(),
                roles: role_names(&session.officer.roles),
            },
        }),
    ))
}

/// Sign out: the session this request is made with ends at once.
#[utoipa::path(
    delete, path = "/v1/officer-sessions/current", operation_id = "signOutOfficer", tag = "officers",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
    )
)]
pub async fn sign_out_officer(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = crate::auth::bearer_token(&headers).ok_or(ApiError::Unauthorized)?;
    service::sign_out(&state, &actor, token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Create an officer (administrators). The officer is `pending_enrolment` until they set a password and
/// confirm an authenticator with the returned one-time `enrolment_token`.
#[utoipa::path(
    post, path = "/v1/officers", operation_id = "createOfficer", tag = "officers",
    security(("bearer" = [])),
    request_body = CreateOfficerRequest,
    responses(
        (status = 201, description = "Created pending enrolment; the token is shown once", body = EnrolmentResponse),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: the username is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: invalid username, name or roles, or not an active organization of kind operator", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_officer(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<CreateOfficerRequest>,
) -> Result<(StatusCode, Json<EnrolmentResponse>), ApiError> {
    authorize(&state, &actor, Action::OfficersManage).await?;
    let mut errors = Vec::new();
    let username = push(&mut errors, "username", parse_username(&body.username));
    let full_name = push(&mut errors, "full_name", parse_full_name(&body.full_name));
    let roles = parse_role_list(&body.roles, &mut errors);
    let (Some(username), Some(full_name), Some(roles), true) = (username, full_name, roles, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let new = NewOfficer { username, full_name, organization_id: body.organization_id.trim().to_owned(), roles };
    let enrolment = service::create(&state, &actor, new).await?;
    Ok((StatusCode::CREATED, Json(enrolment_response(enrolment, state.clock.now()))))
}

fn enrolment_response(enrolment: service::Enrolment, now: DateTime<Utc>) -> EnrolmentResponse {
    EnrolmentResponse {
        officer: OfficerResponse::new(&enrolment.officer, now),
        enrolment_token: enrolment.token,
        enrolment_expires_at: enrolment.expires_at,
    }
}

/// List the officers, by username (administrators and supervisors).
#[utoipa::path(
    get, path = "/v1/officers", operation_id = "listOfficers", tag = "officers",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "All officers", body = [OfficerResponse]),
    )
)]
pub async fn list_officers(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<Vec<OfficerResponse>>, ApiError> {
    authorize(&state, &actor, Action::OfficersRead).await?;
    let now = state.clock.now();
    Ok(Json(state.store.officers().await?.iter().map(|o| OfficerResponse::new(o, now)).collect()))
}

/// One officer (administrators and supervisors).
#[utoipa::path(
    get, path = "/v1/officers/{officer_id}", operation_id = "getOfficer", tag = "officers",
    security(("bearer" = [])),
    params(("officer_id" = String, Path, description = "The officer's id")),
    responses(
        (status = 200, description = "The officer", body = OfficerResponse),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such officer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_officer(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(officer_id): Path<String>,
) -> Result<Json<OfficerResponse>, ApiError> {
    authorize(&state, &actor, Action::OfficersRead).await?;
    let officer = state.store.officer(&officer_id).await?.ok_or(ApiError::NotFound { what: "officer" })?;
    Ok(Json(OfficerResponse::new(&officer, state.clock.now())))
}

/// Change an officer's name, roles or status (administrators). Disabling or changing roles ends the officer's
/// sessions at once; the last active administrator cannot lose the role or be disabled (`409`).
#[utoipa::path(
    patch, path = "/v1/officers/{officer_id}", operation_id = "updateOfficer", tag = "officers",
    security(("bearer" = [])),
    params(("officer_id" = String, Path, description = "The officer's id")),
    request_body = UpdateOfficerRequest,
    responses(
        (status = 200, description = "The officer as changed", body = OfficerResponse),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such officer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:last-administrator`: it would leave no active administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: invalid name, roles or status", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_officer(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(officer_id): Path<String>,
    ApiJson(body): ApiJson<UpdateOfficerRequest>,
) -> Result<Json<OfficerResponse>, ApiError> {
    authorize(&state, &actor, Action::OfficersManage).await?;
    let mut errors = Vec::new();
    let full_name = body.full_name.as_deref().and_then(|n| push(&mut errors, "full_name", parse_full_name(n)));
    let roles = body.roles.as_deref().and_then(|r| parse_role_list(r, &mut errors));
    let status = body.status.as_deref().and_then(|s| {
        let parsed = OfficerStatus::parse(s.trim()).filter(|s| *s != OfficerStatus::PendingEnrolment);
        push(&mut errors, "status", parsed.ok_or("the status must be active or disabled"))
    });
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let officer = service::update(&state, &actor, &officer_id, OfficerChange { full_name, roles, status }).await?;
    Ok(Json(OfficerResponse::new(&officer, state.clock.now())))
}

/// Start an officer's enrolment again (administrators), for a lost authenticator or forgotten password: the
/// password and TOTP secret are forgotten, the officer's sessions end, and a new one-time token is returned.
#[utoipa::path(
    post, path = "/v1/officers/{officer_id}/enrolment", operation_id = "reissueOfficerEnrolment", tag = "officers",
    security(("bearer" = [])),
    params(("officer_id" = String, Path, description = "The officer's id")),
    responses(
        (status = 201, description = "A new enrolment token, shown once", body = EnrolmentResponse),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such officer", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:last-administrator`: it would leave no active administrator", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: the officer is disabled", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn reissue_officer_enrolment(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(officer_id): Path<String>,
) -> Result<(StatusCode, Json<EnrolmentResponse>), ApiError> {
    authorize(&state, &actor, Action::OfficersManage).await?;
    let enrolment = service::reissue_enrolment(&state, &actor, &officer_id).await?;
    Ok((StatusCode::CREATED, Json(enrolment_response(enrolment, state.clock.now()))))
}

/// The signed-in officer (any officer, about themselves).
#[utoipa::path(
    get, path = "/v1/officers/me", operation_id = "getCurrentOfficer", tag = "officers",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The officer of this session", body = OfficerResponse),
    )
)]
pub async fn get_current_officer(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<OfficerResponse>, ApiError> {
    authorize(&state, &actor, Action::OwnOfficerRead).await?;
    let Actor::Officer { officer_id, .. } = &actor else {
        return Err(ApiError::Forbidden { action: Action::OwnOfficerRead.as_str() });
    };
    let officer = state.store.officer(officer_id).await?.ok_or(ApiError::Unauthorized)?;
    Ok(Json(OfficerResponse::new(&officer, state.clock.now())))
}
