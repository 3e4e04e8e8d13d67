//! `POST /v1/accounts` (register), `POST /v1/accounts/{account_id}/activation` (activate) and
//! `POST /v1/accounts/{account_id}/activation-code` (resend the code).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, NaiveDate, Utc};
use dinhdanh_domain::activation::ActivationCode;
use dinhdanh_domain::registration::Declaration;
use dinhdanh_domain::{
    AccountId, Email, FullName, Gender, IdentificationNumber, Nationality, PassportNumber, PhoneNumber,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{ApiJson, Fields};
use crate::AppState;
use crate::problem::{ApiError, Problem};
use crate::service::registration::{self, CodeSent, Registration};

#[derive(Debug, Clone, Copy, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum HolderKindBody {
    Citizen,
    Foreigner,
}

/// A registration. Citizens give `id_number`; foreigners give `passport_number` and `nationality`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
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
    /// As in the registry: at most 200 characters, no digits.
    #[schema(example = "Trần Thị Mai", min_length = 1, max_length = 200)]
    pub full_name: String,
    /// YYYY-MM-DD.
    #[schema(example = "1990-05-01", format = Date)]
    pub date_of_birth: String,
    /// `male` or `female` (also `nam`, `nữ`).
    #[schema(example = "female")]
    pub gender: String,
    /// Where the activation code is sent by SMS; at least one of `phone` and `email`.
    #[schema(example = "0912345678")]
    pub phone: Option<String>,
    #[schema(example = "mai@example.vn", format = Email, max_length = 254)]
    pub email: Option<String>,
    /// 8 to 128 characters (NIST SP 800-63B: no composition rules), not a common password, not your own
    /// identification or passport number.
    #[schema(min_length = 8, max_length = 128, format = Password)]
    pub password: String,
}

/// Where the one-time code went, and until when it and the registration are valid.
#[derive(Serialize, ToSchema)]
pub struct CodeSentResponse {
    pub account_id: String,
    #[schema(example = "pending_activation")]
    pub status: String,
    pub level: i64,
    /// Masked destinations, e.g. `•••678`.
    pub code_sent_to: Vec<String>,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub code_expires_at: DateTime<Utc>,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub registration_expires_at: DateTime<Utc>,
}

impl From<CodeSent> for CodeSentResponse {
    fn from(sent: CodeSent) -> Self {
        Self {
            account_id: sent.account_id.to_string(),
            status: "pending_activation".to_owned(),
            level: 1,
            code_sent_to: sent.sent_to,
            code_expires_at: sent.code_expires_at,
            registration_expires_at: sent.registration_expires_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    /// The 6-digit code received by SMS or e-mail.
    #[schema(example = "123456", pattern = "^[0-9]{6}$")]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct AccountResponse {
    pub account_id: String,
    #[schema(example = "active")]
    pub status: String,
    pub level: i64,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub activated_at: Option<DateTime<Utc>>,
}

fn parse_date(s: &str) -> Result<NaiveDate, &'static str> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").map_err(|_| "the date must be YYYY-MM-DD")
}

impl RegisterRequest {
    pub(crate) fn parse(self, state: &AppState) -> Result<Registration, ApiError> {
        let mut f = Fields::default();
        let full_name = f.take("full_name", FullName::parse(&self.full_name));
        let date_of_birth = f.take("date_of_birth", parse_date(&self.date_of_birth));
        let gender = f.take("gender", Gender::parse(&self.gender));
        let phone =
            self.phone.as_deref().filter(|p| !p.trim().is_empty()).and_then(|p| f.take("phone", PhoneNumber::parse(p)));
        let email =
            self.email.as_deref().filter(|e| !e.trim().is_empty()).and_then(|e| f.take("email", Email::parse(e)));
        if self.phone.as_deref().is_none_or(|p| p.trim().is_empty())
            && self.email.as_deref().is_none_or(|e| e.trim().is_empty())
        {
            f.take::<(), _>("phone", Err(dinhdanh_domain::ContactError::NoChannel));
        }
        let citizen = matches!(self.holder_kind, HolderKindBody::Citizen);
        f.0.extend(super::other_kind_fields(citizen, &self.id_number, &self.passport_number, &self.nationality));
        let declaration = match self.holder_kind {
            HolderKindBody::Citizen => {
                let id_number = f
                    .required("id_number", &self.id_number)
                    .and_then(|id| f.take("id_number", IdentificationNumber::parse(id, &state.config.provinces)));
                if let (Some(id), Some(dob), Some(g)) = (&id_number, date_of_birth, gender) {
                    f.take("id_number", id.check_birth(dob, g));
                }
                match (id_number, full_name, date_of_birth, gender) {
                    (Some(id_number), Some(full_name), Some(date_of_birth), Some(gender)) => {
                        Some(Declaration::Citizen { id_number, full_name, date_of_birth, gender })
                    }
                    _ => None,
                }
            }
            HolderKindBody::Foreigner => {
                let passport_number = f
                    .required("passport_number", &self.passport_number)
                    .and_then(|p| f.take("passport_number", PassportNumber::parse(p)));
                let nationality = f
                    .required("nationality", &self.nationality)
                    .and_then(|n| f.take("nationality", Nationality::parse(n)));
                match (passport_number, nationality, full_name, date_of_birth, gender) {
                    (Some(passport_number), Some(nationality), Some(full_name), Some(date_of_birth), Some(gender)) => {
                        Some(Declaration::Foreigner { passport_number, nationality, full_name, date_of_birth, gender })
                    }
                    _ => None,
                }
            }
        };
        if let Some(declaration) = &declaration {
            f.take(
                "password",
                dinhdanh_domain::password::check_new_password(&self.password, &[declaration.identifier()]),
            );
        }
        let declaration = f.finish(declaration)?;
        Ok(Registration { declaration, phone, email, password: self.password })
    }
}

pub(crate) fn account_id(raw: &str) -> Result<AccountId, ApiError> {
    uuid::Uuid::parse_str(raw).map(|u| AccountId::new(u.to_string())).map_err(|_| ApiError::AccountNotFound)
}

/// Register an e-ID account (Level 1). The declared data is compared with the national registry; on a match
/// the account is created in `pending_activation` and a 6-digit code is sent to the phone and/or e-mail.
#[utoipa::path(
    post, path = "/v1/accounts", operation_id = "register", tag = "registration",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Registered; activation code sent", body = CodeSentResponse),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: invalid fields (all of them listed in `errors`); `urn:dinhdanh:problem:registry-mismatch`: the declaration does not match the registry", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`urn:dinhdanh:problem:too-many-requests`: the per-IP limit of public endpoints, or too many codes sent to this phone or e-mail in the last hour; see `retry_after`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`urn:dinhdanh:problem:registry-unavailable`: the registry cannot be reached", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<CodeSentResponse>), ApiError> {
    let registration = body.parse(&state)?;
    let sent = registration::register(&state, registration).await?;
    Ok((StatusCode::CREATED, Json(sent.into())))
}

/// Activate a registered account with the code that was sent.
#[utoipa::path(
    post, path = "/v1/accounts/{account_id}/activation", operation_id = "activate", tag = "registration",
    params(("account_id" = String, Path, description = "The id returned by registration")),
    request_body = ActivateRequest,
    responses(
        (status = 200, description = "The account is active", body = AccountResponse),
        (status = 404, description = "`urn:dinhdanh:problem:account-not-found`: no such registration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:already-active`: the account is active already", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`urn:dinhdanh:problem:code-expired`: the code expired or was voided after 5 wrong tries; `urn:dinhdanh:problem:registration-expired`: not activated within 24 hours", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:wrong-code`: wrong code, see `attempts_left`; `urn:dinhdanh:problem:validation`: not 6 digits", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn activate(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
    ApiJson(body): ApiJson<ActivateRequest>,
) -> Result<Json<AccountResponse>, ApiError> {
    let id = account_id(&raw_id)?;
    let code = ActivationCode::parse(&body.code).map_err(|e| ApiError::field("code", e))?;
    let account = registration::activate(&state, &id, code).await?;
    Ok(Json(AccountResponse {
        account_id: account.id.to_string(),
        status: account.status.as_str().to_owned(),
        level: account.level.number(),
        activated_at: account.activated_at,
    }))
}

/// Send a new activation code (the previous one stops working). At most once a minute and five times an hour.
#[utoipa::path(
    post, path = "/v1/accounts/{account_id}/activation-code", operation_id = "resendActivationCode", tag = "registration",
    params(("account_id" = String, Path, description = "The id returned by registration")),
    responses(
        (status = 202, description = "A new code is on its way", body = CodeSentResponse),
        (status = 404, description = "`urn:dinhdanh:problem:account-not-found`: no such registration", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:already-active`: the account is active already", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`urn:dinhdanh:problem:registration-expired`: not activated within 24 hours", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`urn:dinhdanh:problem:too-many-requests`: a code was sent less than a minute ago, five were sent this hour, or the per-IP limit of public endpoints; see `retry_after`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn resend_activation_code(
    State(state): State<AppState>,
    Path(raw_id): Path<String>,
) -> Result<(StatusCode, Json<CodeSentResponse>), ApiError> {
    let id = account_id(&raw_id)?;
    let sent = registration::resend_code(&state, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(sent.into())))
}
