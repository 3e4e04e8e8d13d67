//! Holders over HTTP: sign-in in two steps (`POST /v1/holder-sessions`, then
//! `POST /v1/holder-sessions/{sign_in_id}/verify`), sign-out (`DELETE /v1/holder-sessions/current`) and the
//! holder's own account (`GET /v1/me`). Handlers parse and call one function of `crate::service::holders`; the
//! session token appears once, in the answer that creates it.

use crate::ratelimit::ClientSource;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::account::SignInPurpose;
use dinhdanh_domain::activation::ActivationCode;
use dinhdanh_domain::{Channel, IdentificationNumber, IdentityKey, Nationality, PassportNumber};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::registration::HolderKindBody;
use super::{ApiJson, Fields};
use crate::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, LockNotice, Problem};
use crate::service::holders::{self as service, SignInStart};

#[derive(OpenApi)]
#[openapi(
    paths(start_holder_sign_in, verify_holder_sign_in, sign_out_holder, get_my_account),
    components(schemas(
        StartSignInRequest,
        ChannelBody,
        SignInStartedResponse,
        VerifySignInRequest,
        HolderSessionResponse,
        MyAccountResponse,
        LockNotice,
    )),
    tags((name = "holders", description = "Chủ tài khoản / Holders: sign-in, sessions, their own account"))
)]
pub struct Doc;

/// Routes that need a holder's bearer token.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/holder-sessions/current", delete(sign_out_holder)).route("/v1/me", get(get_my_account))
}

/// Routes a stranger can call (the two sign-in steps): the public per-IP limit applies.
pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/holder-sessions", post(start_holder_sign_in))
        .route("/v1/holder-sessions/{sign_in_id}/verify", post(verify_holder_sign_in))
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ChannelBody {
    Sms,
    Email,
}

impl From<ChannelBody> for Channel {
    fn from(c: ChannelBody) -> Self {
        match c {
            ChannelBody::Sms => Channel::Sms,
            ChannelBody::Email => Channel::Email,
        }
    }
}

/// Step 1 of a holder's sign-in. Citizens give `id_number`; foreigners give `passport_number` and `nationality`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSignInRequest {
    pub holder_kind: HolderKindBody,
    /// Personal identification number (12 digits), citizens only.
    #[schema(example = "001190123456", pattern = r"^[0-9]{12}$")]
    pub id_number: Option<String>,
    /// Passport or travel document number (5 to 20 letters and digits), foreigners only.
    #[schema(example = "M12345678", pattern = "^[A-Za-z0-9]{5,20}$")]
    pub passport_number: Option<String>,
    /// ISO 3166-1 alpha-3, foreigners only.
    #[schema(example = "KOR", pattern = "^[A-Za-z]{3}$")]
    pub nationality: Option<String>,
    #[schema(min_length = 1, format = Password)]
    pub password: String,
    /// Where to send the one-time code: `sms` or `email`. By default the phone if one is registered, else the
    /// e-mail.
    pub channel: Option<ChannelBody>,
    /// `sign_in` (default) or `restore`: a holder whose account is locked signs in with `restore` to follow the
    /// locks and ask for a lift; that session serves nothing else.
    #[schema(example = "sign_in", pattern = "^(sign_in|restore)$")]
    pub purpose: Option<String>,
}

/// The code is on its way.
#[derive(Serialize, ToSchema)]
pub struct SignInStartedResponse {
    /// Give it to the verify step with the code.
    pub sign_in_id: String,
    pub channel: ChannelBody,
    /// The masked destination, e.g. `•••678` or `m•••@example.vn`.
    pub sent_to: String,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub code_expires_at: DateTime<Utc>,
}

/// Step 2 of a holder's sign-in.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifySignInRequest {
    /// The 6-digit code received by SMS or e-mail.
    #[schema(example = "123456", pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct HolderSessionResponse {
    /// The session's bearer token (`dd_hs_…`); shown once, stored only as a hash.
    pub token: String,
    /// The session lasts 60 minutes and is not extended by use; a lock ends it at once.
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub expires_at: DateTime<Utc>,
    /// What this sign-in proved, 1 or 2 (the future `acr`): 1 for a password and a code, whatever the account's
    /// level; 2 only when the sign-in itself included a portrait or fingerprint match.
    pub assurance: i64,
    pub account_id: String,
    /// A `restore` sign-in: the session serves only to follow the locks and ask for a lift.
    pub restore_only: bool,
}

impl HolderSessionResponse {
    pub(crate) fn of(session: service::HolderSession) -> Self {
        Self {
            token: session.token,
            expires_at: session.expires_at,
            assurance: session.assurance.number(),
            account_id: session.account_id.to_string(),
            restore_only: session.restore_only,
        }
    }
}

/// The signed-in holder's own account.
#[derive(Serialize, ToSchema)]
pub struct MyAccountResponse {
    pub account_id: String,
    #[schema(example = "citizen")]
    pub holder_kind: String,
    #[schema(example = "active")]
    pub status: String,
    /// The account's level: 1 (registry data matched) or 2 (and a portrait or fingerprint matched).
    pub level: i64,
    /// What the sign-in of the session making this call proved (1 or 2); it may be below the account's level.
    pub session_assurance: i64,
    /// The registered phone, masked.
    pub phone: Option<String>,
    /// The registered e-mail, masked.
    pub email: Option<String>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub activated_at: Option<DateTime<Utc>>,
    /// Whether the account can be used now: no lock is in force.
    pub usable: bool,
    /// The locks in force, each with its ground and how it can be lifted.
    pub locks: Vec<LockNotice>,
}

impl StartSignInRequest {
    pub(crate) fn parse(self, state: &AppState) -> Result<SignInStart, ApiError> {
        let mut f = Fields::default();
        let citizen = matches!(self.holder_kind, HolderKindBody::Citizen);
        f.0.extend(super::other_kind_fields(citizen, &self.id_number, &self.passport_number, &self.nationality));
        let (holder_kind, identity) = match self.holder_kind {
            HolderKindBody::Citizen => {
                let id = f
                    .required("id_number", &self.id_number)
                    .and_then(|id| f.take("id_number", IdentificationNumber::parse(id, &state.config.provinces)));
                (HolderKind::Citizen, id.map(|id| IdentityKey::citizen(&id)))
            }
            HolderKindBody::Foreigner => {
                let passport = f
                    .required("passport_number", &self.passport_number)
                    .and_then(|p| f.take("passport_number", PassportNumber::parse(p)));
                let nationality = f
                    .required("nationality", &self.nationality)
                    .and_then(|n| f.take("nationality", Nationality::parse(n)));
                let key = match (passport, nationality) {
                    (Some(p), Some(n)) => Some(IdentityKey::foreigner(&n, &p)),
                    _ => None,
                };
                (HolderKind::Foreigner, key)
            }
        };
        let purpose = match self.purpose.as_deref() {
            None => Some(SignInPurpose::SignIn),
            Some(p) => f.take(
                "purpose",
                SignInPurpose::parse(p)
                    .filter(|p| *p != SignInPurpose::LostPhoneLock)
                    .ok_or("purpose must be sign_in or restore"),
            ),
        };
        if self.password.is_empty() {
            f.take::<(), _>("password", Err("password is required"));
        }
        let parsed = identity.zip(purpose).map(|(identity, purpose)| SignInStart {
            holder_kind,
            identity,
            password: self.password,
            channel: self.channel.map(Channel::from),
            purpose,
        });
        f.finish(parsed)
    }
}

/// Sign in, step 1: identifier and password. On success a 6-digit code (valid 5 minutes, 5 tries) is sent to
/// the registered phone or e-mail. An unknown identity, a wrong password and an account that is not active get
/// the same `401`, and so do repeated failures from one source, which slow that source down (a per-account and
/// per-source throttle: a stranger cannot lock the holder out); an account with a lock in force is
/// refused with `403 account-locked`, which names each lock's ground and how it can be lifted.
#[utoipa::path(
    post, path = "/v1/holder-sessions", operation_id = "startHolderSignIn", tag = "holders",
    request_body = StartSignInRequest,
    responses(
        (status = 202, description = "Password accepted; the code is on its way", body = SignInStartedResponse),
        (status = 401, description = "`urn:dinhdanh:problem:sign-in-failed`: unknown identity, wrong password, account not active, or this source throttled after repeated failures (one answer for all)", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`urn:dinhdanh:problem:account-locked`: a lock is in force; see `locks`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: invalid fields, or the chosen channel is not registered", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`urn:dinhdanh:problem:too-many-requests`: the per-IP limit of public endpoints, or too many codes sent to this destination or identity in the last hour; see `retry_after`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn start_holder_sign_in(
    State(state): State<AppState>,
    ClientSource(source): ClientSource,
    ApiJson(body): ApiJson<StartSignInRequest>,
) -> Result<(StatusCode, Json<SignInStartedResponse>), ApiError> {
    let start = body.parse(&state)?;
    let sent = service::start_sign_in(&state, start, &source).await?;
    let channel = match sent.channel {
        Channel::Sms => ChannelBody::Sms,
        Channel::Email => ChannelBody::Email,
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(SignInStartedResponse {
            sign_in_id: sent.sign_in_id,
            channel,
            sent_to: sent.sent_to,
            code_expires_at: sent.code_expires_at,
        }),
    ))
}

/// Sign in, step 2: the code. Each try is counted before the code is compared (5 tries, even in parallel); the
/// session lasts 60 minutes.
#[utoipa::path(
    post, path = "/v1/holder-sessions/{sign_in_id}/verify", operation_id = "verifyHolderSignIn", tag = "holders",
    params(("sign_in_id" = String, Path, description = "The id returned by step 1")),
    request_body = VerifySignInRequest,
    responses(
        (status = 201, description = "Signed in", body = HolderSessionResponse),
        (status = 401, description = "`urn:dinhdanh:problem:sign-in-failed`: the account is no longer active", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`urn:dinhdanh:problem:account-locked`: a lock took effect since the code was sent; see `locks`", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`urn:dinhdanh:problem:code-expired`: the code expired, was used, or was voided after 5 wrong tries, or the sign-in id is unknown", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:wrong-code`: wrong code, see `attempts_left`; `urn:dinhdanh:problem:validation`: not 6 digits", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`urn:dinhdanh:problem:sign-in-locked`: sign-in locked for this source after repeated failures; `urn:dinhdanh:problem:too-many-requests`: the per-IP limit of public endpoints; see `retry_after`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn verify_holder_sign_in(
    State(state): State<AppState>,
    ClientSource(source): ClientSource,
    Path(sign_in_id): Path<String>,
    ApiJson(body): ApiJson<VerifySignInRequest>,
) -> Result<(StatusCode, Json<HolderSessionResponse>), ApiError> {
    let code = ActivationCode::parse(&body.code).map_err(|_| ApiError::field("code", "the code must be 6 digits"))?;
    let session = service::verify_sign_in(&state, &sign_in_id, code, &source).await?;
    Ok((StatusCode::CREATED, Json(HolderSessionResponse::of(session))))
}

/// Sign out: ends the session this request is made with.
#[utoipa::path(
    delete, path = "/v1/holder-sessions/current", operation_id = "signOutHolder", tag = "holders",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "`urn:dinhdanh:problem:unauthorized`: no live session", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn sign_out_holder(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let token = crate::auth::bearer_token(&headers).ok_or(ApiError::Unauthorized)?;
    service::sign_out(&state, &actor, token).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in holder's account: status, level, masked contacts, whether it is usable and the locks in force.
#[utoipa::path(
    get, path = "/v1/me", operation_id = "getMyAccount", tag = "holders",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The holder's account", body = MyAccountResponse),
        (status = 401, description = "`urn:dinhdanh:problem:unauthorized`: no live holder session", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_my_account(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<MyAccountResponse>, ApiError> {
    let me = service::my_account(&state, &actor).await?;
    let now = state.clock.now();
    let locks = service::lock_notices(&me.locks, now);
    let account = me.account;
    Ok(Json(MyAccountResponse {
        account_id: account.id.to_string(),
        holder_kind: account.holder_kind.as_str().to_owned(),
        status: account.status.as_str().to_owned(),
        level: account.level.number(),
        session_assurance: me.session_assurance.number(),
        phone: account.phone.as_ref().map(|p| p.masked()),
        email: account.email.as_ref().map(|e| e.masked()),
        activated_at: account.activated_at,
        usable: locks.is_empty(),
        locks,
    }))
}
