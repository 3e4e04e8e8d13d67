//! The holder's own lock without signing in (a lost phone), and its confirmation by the code from the other
//! channel.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use dinhdanh_domain::{IdentificationNumber, Nationality, PassportNumber};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::RequestBody;
use crate::AppState;
use crate::api::ApiJson;
use crate::problem::{ApiError, Problem};
use crate::service::locks::{self};

/// A lock without signing in, for a holder who lost their phone (or e-mail): their identity details, and the
/// channel they lost.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LostPhoneLockBody {
    /// citizen or foreigner
    #[schema(example = "citizen", pattern = "^(citizen|foreigner)$")]
    pub holder_kind: String,
    #[schema(example = "001190123456", pattern = r"^[0-9]{12}$")]
    pub id_number: Option<String>,
    #[schema(example = "M12345678", pattern = "^[A-Za-z0-9]{5,20}$")]
    pub passport_number: Option<String>,
    #[schema(example = "KOR", pattern = "^[A-Za-z]{3}$")]
    pub nationality: Option<String>,
    #[schema(example = "Trần Thị Mai", min_length = 1, max_length = 200)]
    pub full_name: String,
    /// YYYY-MM-DD
    #[schema(example = "1990-05-01", format = Date)]
    pub date_of_birth: String,
    /// The channel you lost: `sms` (default) or `email`. The confirmation code goes to the other one.
    #[schema(example = "sms", pattern = "^(sms|email)$")]
    pub lost_channel: Option<String>,
    #[serde(default)]
    pub reason: String,
}

/// Either a code went to your other channel (confirm it), or an officer will verify you (follow the tracking code).
impl LostPhoneLockBody {
    /// The lock's input: the identity details and the channel the holder lost. Gender is not asked for here
    /// (domain.md: number, name, date of birth); the registry record supplies it.
    pub(crate) async fn parse(self, state: &AppState) -> Result<locks::LostPhoneLock, ApiError> {
        let body = self;
        use dinhdanh_domain::registration::Declaration;
        use dinhdanh_domain::{Channel, FullName, Gender};
        let full_name = FullName::parse(&body.full_name).map_err(|e| ApiError::field("full_name", e))?;
        let date_of_birth = NaiveDate::parse_from_str(body.date_of_birth.trim(), "%Y-%m-%d")
            .map_err(|_| ApiError::field("date_of_birth", "the date must be YYYY-MM-DD"))?;
        let lost_channel = match body.lost_channel.as_deref().unwrap_or("sms") {
            "sms" => Channel::Sms,
            "email" => Channel::Email,
            _ => return Err(ApiError::field("lost_channel", "sms or email")),
        };
        let declaration = match body.holder_kind.as_str() {
            "citizen" => {
                crate::api::refuse_other_kind_fields(true, &body.id_number, &body.passport_number, &body.nationality)?;
                let id =
                    body.id_number.as_deref().ok_or_else(|| ApiError::field("id_number", "id_number is required"))?;
                let id_number = IdentificationNumber::parse(id, &state.config.provinces)
                    .map_err(|e| ApiError::field("id_number", e))?;
                let gender = state.registry.citizen(&id_number).await?.map(|r| r.gender).unwrap_or(Gender::Male);
                Declaration::Citizen { id_number, full_name, date_of_birth, gender }
            }
            "foreigner" => {
                crate::api::refuse_other_kind_fields(false, &body.id_number, &body.passport_number, &body.nationality)?;
                let passport = body
                    .passport_number
                    .as_deref()
                    .ok_or_else(|| ApiError::field("passport_number", "passport_number is required"))?;
                let nationality = body
                    .nationality
                    .as_deref()
                    .ok_or_else(|| ApiError::field("nationality", "nationality is required"))?;
                let passport_number =
                    PassportNumber::parse(passport).map_err(|e| ApiError::field("passport_number", e))?;
                let nationality = Nationality::parse(nationality).map_err(|e| ApiError::field("nationality", e))?;
                let gender = state
                    .registry
                    .foreigner(&nationality, &passport_number)
                    .await?
                    .map(|r| r.gender)
                    .unwrap_or(Gender::Male);
                Declaration::Foreigner { passport_number, nationality, full_name, date_of_birth, gender }
            }
            _ => return Err(ApiError::field("holder_kind", "citizen or foreigner")),
        };
        Ok(locks::LostPhoneLock { declaration, lost_channel, reason: body.reason })
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LostPhoneAnswer {
    /// `code_sent` or `queued`
    #[schema(example = "code_sent")]
    pub outcome: String,
    pub confirmation_id: Option<String>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub code_expires_at: Option<DateTime<Utc>>,
    pub request: Option<RequestBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmLockBody {
    /// The 6-digit code sent to your other channel.
    #[schema(example = "123456", pattern = "^[0-9]{6}$")]
    pub code: String,
}

/// Lock your own account without signing in (a lost or stolen phone). Give your identification number (or passport
/// and nationality), full name and date of birth exactly as in the national registry. A code goes to your other
/// registered channel; confirm it and the lock takes effect at once. With no other channel, the request is queued
/// and an officer verifies you within a working day. Rate limited per IP.
#[utoipa::path(post, path = "/v1/lock-requests/without-sign-in", operation_id = "requestLockWithoutSignIn", tag = "locks",
    request_body = LostPhoneLockBody,
    responses(
        (status = 202, description = "A confirmation code went to the other channel", body = LostPhoneAnswer),
        (status = 201, description = "No other channel: queued for an officer", body = LostPhoneAnswer),
        (status = 403, description = "`urn:dinhdanh:problem:lock-refused`: the operator's settings do not take holders' own locks", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:registry-mismatch`: the details do not match the account and the registry, or the account is not active (one answer for any difference); `urn:dinhdanh:problem:validation`: invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`urn:dinhdanh:problem:too-many-requests`: the per-IP limit of public endpoints, or too many codes sent to this destination or identity in the last hour; see `retry_after`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`urn:dinhdanh:problem:registry-unavailable`: the registry cannot be reached", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn lock_without_sign_in(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<LostPhoneLockBody>,
) -> Result<(StatusCode, Json<LostPhoneAnswer>), ApiError> {
    let input = body.parse(&state).await?;
    let now = state.clock.now();
    Ok(match locks::lock_without_sign_in(&state, input).await? {
        locks::LostPhoneOutcome::CodeSent { confirmation_id, code_expires_at } => (
            StatusCode::ACCEPTED,
            Json(LostPhoneAnswer {
                outcome: "code_sent".to_owned(),
                confirmation_id: Some(confirmation_id),
                code_expires_at: Some(code_expires_at),
                request: None,
            }),
        ),
        locks::LostPhoneOutcome::Queued(request) => (
            StatusCode::CREATED,
            Json(LostPhoneAnswer {
                outcome: "queued".to_owned(),
                confirmation_id: None,
                code_expires_at: None,
                request: Some(RequestBody::new(&request, now, Vec::new())),
            }),
        ),
    })
}

/// Confirm a lock without sign-in with the code from your other channel: the lock takes effect at once.
#[utoipa::path(post, path = "/v1/lock-requests/without-sign-in/{confirmation_id}/confirm", operation_id = "confirmLockWithoutSignIn",
    tag = "locks", params(("confirmation_id" = String, Path)), request_body = ConfirmLockBody,
    responses(
        (status = 201, description = "The lock is in effect", body = RequestBody),
        (status = 410, description = "`urn:dinhdanh:problem:code-expired`: the code expired, was used or was voided after 5 wrong tries, or the confirmation id is unknown", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:wrong-code`: wrong code, see `attempts_left`; `urn:dinhdanh:problem:validation`: not 6 digits", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn confirm_lock_without_sign_in(
    State(state): State<AppState>,
    Path(confirmation_id): Path<String>,
    ApiJson(body): ApiJson<ConfirmLockBody>,
) -> Result<(StatusCode, Json<RequestBody>), ApiError> {
    let request = locks::confirm_lock_without_sign_in(&state, &confirmation_id, &body.code).await?;
    Ok((StatusCode::CREATED, Json(RequestBody::new(&request, state.clock.now(), Vec::new()))))
}
