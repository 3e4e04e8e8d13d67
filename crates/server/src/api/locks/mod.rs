//! Locks and requests over HTTP: file lock and unlock requests (holders, organizations, officers), the officers'
//! queue and steps, cancellation, the public status check by tracking code, the holder's view of their locks, and
//! organizations' account-status check. Handlers parse into domain types and call `service::locks`. By concern:
//! [`filing`], [`requests`] (the queue, steps and cancellation), [`status`] (reading where things stand) and
//! [`lost_phone`]; the bodies they share are here.

pub(crate) mod filing;
pub(crate) mod lost_phone;
mod requests;
mod status;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::{get, post};
use chrono::{DateTime, NaiveDate, Utc};
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::lock::{Ground, LegalBasis};
use dinhdanh_domain::request::{Request, Step};
use dinhdanh_domain::tracking::TrackingCode;
use dinhdanh_domain::{IdentificationNumber, IdentityKey, Nationality, PassportNumber};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{OpenApi, ToSchema};

use crate::AppState;
use crate::problem::ApiError;
use crate::service::locks::Idempotency;

#[derive(OpenApi)]
#[openapi(
    paths(
        filing::request_lock,
        filing::request_unlock,
        requests::list_requests,
        requests::get_request,
        requests::claim_request,
        requests::release_request,
        requests::forward_request,
        requests::decide_request,
        requests::cancel_request,
        status::get_request_status,
        status::list_locks,
        status::get_account_status,
        lost_phone::lock_without_sign_in,
        lost_phone::confirm_lock_without_sign_in
    ),
    components(schemas(
        filing::LockRequestBody,
        filing::UnlockRequestBody,
        AccountRefBody,
        LegalBasisBody,
        RequestBody,
        StepBody,
        requests::DecisionBody,
        requests::ForwardBody,
        status::PublicRequestStatus,
        status::LockBody,
        status::AccountStatusBody,
        lost_phone::LostPhoneLockBody,
        lost_phone::LostPhoneAnswer,
        lost_phone::ConfirmLockBody
    ))
)]
pub struct Doc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/lock-requests", post(filing::request_lock))
        .route("/v1/unlock-requests", post(filing::request_unlock))
        .route("/v1/requests", get(requests::list_requests))
        .route("/v1/requests/{id}", get(requests::get_request))
        .route("/v1/requests/{id}/claim", post(requests::claim_request))
        .route("/v1/requests/{id}/release", post(requests::release_request))
        .route("/v1/requests/{id}/forward", post(requests::forward_request))
        .route("/v1/requests/{id}/decision", post(requests::decide_request))
        .route("/v1/requests/{id}/cancel", post(requests::cancel_request))
        .route("/v1/accounts/{account_id}/locks", get(status::list_locks))
        .route("/v1/account-status", get(status::get_account_status))
}

pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/request-status", get(status::get_request_status))
        .route("/v1/lock-requests/without-sign-in", post(lost_phone::lock_without_sign_in))
        .route(
            "/v1/lock-requests/without-sign-in/{confirmation_id}/confirm",
            post(lost_phone::confirm_lock_without_sign_in),
        )
}

/// An account named by its holder's identity: a citizen's identification number, or a foreigner's passport
/// number and nationality.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountRefBody {
    #[schema(example = "001190123456", pattern = r"^[0-9]{12}$")]
    pub id_number: Option<String>,
    #[schema(example = "M12345678", pattern = "^[A-Za-z0-9]{5,20}$")]
    pub passport_number: Option<String>,
    #[schema(example = "KOR", pattern = "^[A-Za-z]{3}$")]
    pub nationality: Option<String>,
}

impl AccountRefBody {
    pub(crate) fn identity_key(&self, state: &AppState) -> Result<IdentityKey, ApiError> {
        match (&self.id_number, &self.passport_number, &self.nationality) {
            (Some(id), None, None) => IdentificationNumber::parse(id, &state.config.provinces)
                .map(|n| IdentityKey::citizen(&n))
                .map_err(|e| ApiError::field("account.id_number", e)),
            (None, Some(passport), Some(nationality)) => {
                let passport =
                    PassportNumber::parse(passport).map_err(|e| ApiError::field("account.passport_number", e))?;
                let nationality =
                    Nationality::parse(nationality).map_err(|e| ApiError::field("account.nationality", e))?;
                Ok(IdentityKey::foreigner(&nationality, &passport))
            }
            _ => Err(ApiError::field("account", "give either id_number, or passport_number and nationality")),
        }
    }
}

/// The document a request rests on (Decision 34/2021 Art. 10.2).
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LegalBasisBody {
    /// e.g. Quyết định, Lệnh, Công văn
    #[schema(example = "Quyết định", min_length = 1, max_length = 500)]
    pub document_kind: String,
    #[schema(example = "123/QĐ-CSĐT", min_length = 1, max_length = 500)]
    pub number: String,
    /// YYYY-MM-DD, not in the future.
    #[schema(example = "2026-05-30", format = Date)]
    pub issued_on: String,
    #[schema(example = "Cơ quan Cảnh sát điều tra, Công an TP Hà Nội", min_length = 1, max_length = 500)]
    pub issuing_body: String,
    #[schema(example = "Đỗ Văn Ký", min_length = 1, max_length = 500)]
    pub signer: String,
}

impl LegalBasisBody {
    pub(crate) fn parse(self) -> Result<LegalBasis, ApiError> {
        let issued_on = NaiveDate::parse_from_str(self.issued_on.trim(), "%Y-%m-%d")
            .map_err(|_| ApiError::field("legal_basis.issued_on", "the date must be YYYY-MM-DD"))?;
        Ok(LegalBasis {
            document_kind: self.document_kind,
            number: self.number,
            issued_on,
            issuing_body: self.issuing_body,
            signer: self.signer,
        })
    }

    fn from_domain(b: &LegalBasis) -> Self {
        Self {
            document_kind: b.document_kind.clone(),
            number: b.number.clone(),
            issued_on: b.issued_on.to_string(),
            issuing_body: b.issuing_body.clone(),
            signer: b.signer.clone(),
        }
    }
}

/// The tracking-code example of the document: a code that parses (its check character agrees).
fn tracking_code_example() -> &'static str {
    TrackingCode::EXAMPLE
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StepBody {
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub at: DateTime<Utc>,
    pub status: String,
    pub event: String,
    pub note: Option<String>,
}

/// A request as its requester, the holder it concerns, and officers see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestBody {
    pub id: String,
    /// Read it aloud or type it to follow the request.
    #[schema(example = tracking_code_example)]
    pub tracking_code: String,
    /// lock or unlock
    pub kind: String,
    pub ground: String,
    pub status: String,
    /// The account the request concerns; absent for a bulk lock order, whose accounts are its entries.
    pub account_id: Option<String>,
    pub lock_id: Option<String>,
    pub is_override: bool,
    pub reason: String,
    pub reference: Option<String>,
    pub legal_basis: Option<LegalBasisBody>,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub received_at: DateTime<Utc>,
    /// Deadline of the step now due (working days).
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub deadline: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// The role that takes the next step: reviewer or supervisor.
    pub next_step_by: Option<String>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub forwarded_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub decided_at: Option<DateTime<Utc>>,
    /// Written reasons of a refusal, or the note of an approval.
    pub decision_reason: Option<String>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub effective_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub lock_ends_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepBody>,
}

impl RequestBody {
    fn new(r: &Request, now: DateTime<Utc>, steps: Vec<Step>) -> Self {
        Self {
            id: r.id.clone(),
            tracking_code: r.tracking_code.to_string(),
            kind: r.kind.as_str().to_owned(),
            ground: r.ground.as_str().to_owned(),
            status: r.status.as_str().to_owned(),
            account_id: r.subject.account().map(|a| a.to_string()),
            lock_id: r.lock_id.clone(),
            is_override: r.is_override,
            reason: r.reason.clone(),
            reference: r.reference.clone(),
            legal_basis: r.legal_basis.as_ref().map(LegalBasisBody::from_domain),
            received_at: r.received_at,
            deadline: r.deadline,
            overdue: r.is_overdue(now),
            next_step_by: (!r.status.is_final())
                .then(|| r.next_decider())
                .flatten()
                .map(|role| role.as_str().to_owned()),
            forwarded_at: r.forwarded_at,
            decided_at: r.decided_at,
            decision_reason: r.decision_reason.clone(),
            effective_at: r.effective_at,
            lock_ends_at: r.lock_ends_at,
            steps: steps
                .into_iter()
                .map(|s| StepBody {
                    at: s.at,
                    status: s.status.as_str().to_owned(),
                    event: s.event.as_str().to_owned(),
                    note: s.note,
                })
                .collect(),
        }
    }
}

fn parse_ground(s: &str) -> Result<Ground, ApiError> {
    Ground::parse(s).ok_or_else(|| ApiError::field("ground", "unknown ground"))
}

/// The `Idempotency-Key` header, scoped to the caller, with a fingerprint of the body.
pub(crate) fn idempotency(
    headers: &HeaderMap,
    actor: &Actor,
    body: &impl Serialize,
) -> Result<Option<Idempotency>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value.to_str().ok().map(str::trim).filter(|k| !k.is_empty() && k.len() <= 200);
    let key = key.ok_or_else(|| ApiError::field("Idempotency-Key", "give a key of 1 to 200 visible characters"))?;
    let fingerprint = crate::secrets::hex(&Sha256::digest(serde_json::to_vec(body).unwrap_or_default()));
    Ok(Some(Idempotency { scope: actor.audit_name(), key: key.to_owned(), fingerprint }))
}
