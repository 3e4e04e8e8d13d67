//! Level 2 over HTTP (docs/biometrics.md, "Level 2"): the capture app's calls for a Level 2 sign-in
//! (`POST /v1/holder-sessions/current/biometric`) and an online upgrade (`POST /v1/me/level-upgrade`), and the
//! officers' in-person upgrade and lowering (`POST /v1/accounts/{account_id}/level-upgrade`, `…/level-lowering`).
//! Handlers parse and call one function of `crate::service::biometrics`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use dinhdanh_domain::AccountId;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::ApiJson;
use super::holders::HolderSessionResponse;
use super::locks::filing::InPersonCheckBody;
use crate::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};
use crate::secrets::token_hash;
use crate::service::biometrics::{self as service, Probe};

#[derive(OpenApi)]
#[openapi(
    paths(biometric_sign_in, upgrade_my_level, upgrade_level_in_person, lower_level),
    components(schemas(CaptureBody, LevelResponse, InPersonUpgradeBody, LowerLevelBody)),
    tags((name = "level2", description = "Mức độ 2 / Level 2: biometric sign-in, upgrade and lowering"))
)]
pub struct Doc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/holder-sessions/current/biometric", post(biometric_sign_in))
        .route("/v1/me/level-upgrade", post(upgrade_my_level))
        .route("/v1/accounts/{account_id}/level-upgrade", post(upgrade_level_in_person))
        .route("/v1/accounts/{account_id}/level-lowering", post(lower_level))
}

/// A fresh capture: one finger, or a portrait's face template.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptureBody {
    /// `finger` or `face`.
    #[schema(example = "finger", pattern = "^(finger|face)$")]
    pub modality: String,
    /// Standard base64 (RFC 4648 §4). `finger`: an ISO/IEC 19794-2:2005 finger minutiae record with exactly one
    /// finger view naming its finger (position 1 to 10), as the scanner makes it. `face`: a face template
    /// (docs/face.md) of a model this deployment knows, made by the capture app from a live portrait.
    #[schema(min_length = 1)]
    pub template: String,
}

impl CaptureBody {
    fn parse(&self) -> Result<Probe, ApiError> {
        Probe::parse(&self.modality, &self.template)
    }
}

/// The account's level after the change.
#[derive(Debug, Serialize, ToSchema)]
pub struct LevelResponse {
    pub account_id: String,
    /// 1 or 2.
    pub level: i64,
    /// How many messages (SMS, e-mail) tell the holder.
    pub notified: usize,
}

impl From<service::LevelChanged> for LevelResponse {
    fn from(changed: service::LevelChanged) -> Self {
        Self { account_id: changed.account_id.to_string(), level: changed.level.number(), notified: changed.notified }
    }
}

/// What the officer checked at the office, and the capture they made there.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InPersonUpgradeBody {
    pub in_person_check: InPersonCheckBody,
    pub capture: CaptureBody,
}

#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LowerLevelBody {
    /// Why (for example: the registry's fingerprints were replaced and no longer match); kept in the audit log,
    /// not sent to the holder.
    #[schema(min_length = 10, max_length = 2000)]
    pub reason: String,
}

/// A Level 2 sign-in: the holder, signed in with password and code, adds a fingerprint or portrait captured now.
/// On a match with the registry's reference, and if the account is Level 2, the session this call is made with
/// ends and a new one is answered whose `assurance` is 2 (a restore session stays a restore session). A
/// mismatch is counted (5 a day); a finger or portrait the registry has no reference for is not.
#[utoipa::path(
    post, path = "/v1/holder-sessions/current/biometric", operation_id = "biometricSignIn", tag = "level2",
    security(("bearer" = [])),
    request_body = CaptureBody,
    responses(
        (status = 201, description = "Signed in at Level 2; the old token no longer works", body = HolderSessionResponse),
        (status = 409, description = "`urn:dinhdanh:problem:level-conflict`: the account is Level 1 (upgrade first); nothing compared", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:biometric-mismatch`: no match, see `attempts_left` (today's tries); `urn:dinhdanh:problem:biometric-reference-missing`: the registry has no reference for this finger or no portrait (not counted); `urn:dinhdanh:problem:validation`: not a readable record or template", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`urn:dinhdanh:problem:biometric-tries-exhausted`: today's 5 failures are used; see `retry_after` (midnight, Vietnam time)", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn biometric_sign_in(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CaptureBody>,
) -> Result<(StatusCode, Json<HolderSessionResponse>), ApiError> {
    let token = crate::auth::bearer_token(&headers).ok_or(ApiError::Unauthorized)?;
    let session = service::step_up(&state, &actor, &token_hash(token), body.parse()).await?;
    Ok((StatusCode::CREATED, Json(HolderSessionResponse::of(session))))
}

/// Online upgrade to Level 2: a signed-in Level 1 holder sends a fingerprint or portrait captured now; a match
/// with the registry's reference raises the account to Level 2 and the holder is told by SMS and e-mail. At most
/// 3 tries a day (Vietnam time); never while the account is locked. The session making the call stays Level 1:
/// sign in with a biometric to prove Level 2.
#[utoipa::path(
    post, path = "/v1/me/level-upgrade", operation_id = "upgradeMyLevel", tag = "level2",
    security(("bearer" = [])),
    request_body = CaptureBody,
    responses(
        (status = 200, description = "The account is Level 2", body = LevelResponse),
        (status = 409, description = "`urn:dinhdanh:problem:level-conflict`: already Level 2, or locked; nothing compared", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:biometric-mismatch`: no match, see `attempts_left`; `urn:dinhdanh:problem:biometric-reference-missing` (not counted); `urn:dinhdanh:problem:validation`", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`urn:dinhdanh:problem:biometric-tries-exhausted`: today's 3 tries are used; see `retry_after`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upgrade_my_level(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<CaptureBody>,
) -> Result<Json<LevelResponse>, ApiError> {
    Ok(Json(service::upgrade_online(&state, &actor, body.parse()).await?.into()))
}

/// In-person upgrade: a reviewer at an office checked the holder's identity document and captured a fingerprint
/// or portrait there; a match with the registry's reference raises the account to Level 2. The audit names the
/// officer, the document kind, its last digits and the office; the holder is told.
#[utoipa::path(
    post, path = "/v1/accounts/{account_id}/level-upgrade", operation_id = "upgradeLevelInPerson", tag = "level2",
    security(("bearer" = [])),
    params(("account_id" = String, Path, description = "The account")),
    request_body = InPersonUpgradeBody,
    responses(
        (status = 200, description = "The account is Level 2", body = LevelResponse),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:level-conflict`: already Level 2, not active, or locked", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:biometric-mismatch`; `urn:dinhdanh:problem:biometric-reference-missing`; `urn:dinhdanh:problem:validation`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn upgrade_level_in_person(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<InPersonUpgradeBody>,
) -> Result<Json<LevelResponse>, ApiError> {
    let checked = match (body.in_person_check.parse(), body.capture.parse().map_err(|e| prefixed(e, "capture."))) {
        (Ok(check), Ok(probe)) => Ok((check, probe)),
        (check, probe) => Err(merged(check.err(), probe.err())),
    };
    let account_id = AccountId::new(account_id);
    Ok(Json(service::upgrade_in_person(&state, &actor, &account_id, checked).await?.into()))
}

/// Lowering to Level 1: a reviewer or supervisor lowers a Level 2 account whose biometrics no longer match the
/// registry's (after a registry update), with a reason for the audit. The holder's Level 2 sessions end in the
/// same transaction, and the holder is told.
#[utoipa::path(
    post, path = "/v1/accounts/{account_id}/level-lowering", operation_id = "lowerLevel", tag = "level2",
    security(("bearer" = [])),
    params(("account_id" = String, Path, description = "The account")),
    request_body = LowerLevelBody,
    responses(
        (status = 200, description = "The account is Level 1", body = LevelResponse),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such account", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:level-conflict`: already Level 1", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: the reason is missing or too long", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn lower_level(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<LowerLevelBody>,
) -> Result<Json<LevelResponse>, ApiError> {
    let account_id = AccountId::new(account_id);
    Ok(Json(service::lower_level(&state, &actor, &account_id, &body.reason).await?.into()))
}

/// The field errors of two parts of a body, in one answer (any other refusal as it is).
fn merged(first: Option<ApiError>, second: Option<ApiError>) -> ApiError {
    match (first, second) {
        (Some(ApiError::Validation(mut a)), Some(ApiError::Validation(b))) => {
            a.extend(b);
            ApiError::Validation(a)
        }
        (Some(error), _) | (None, Some(error)) => error,
        (None, None) => ApiError::internal("merged without an error"),
    }
}

/// Field errors of a nested body name their place in it (`capture.template`).
fn prefixed(error: ApiError, prefix: &str) -> ApiError {
    match error {
        ApiError::Validation(errors) => ApiError::Validation(
            errors
                .into_iter()
                .map(|mut e| {
                    e.field = format!("{prefix}{}", e.field);
                    e
                })
                .collect(),
        ),
        other => other,
    }
}
