//! Filing lock and unlock requests over HTTP: holders (their own account), organizations and officers.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::{DateTime, Utc};
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::lock::Ground;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{AccountRefBody, LegalBasisBody, RequestBody, idempotency, parse_ground};
use crate::AppState;
use crate::api::ApiJson;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};
use crate::service::locks::{self, LockOrder, UnlockOrder};

/// A lock request. A signed-in holder sends only `reason` (and optionally `ends_at`): the ground is
/// `holder_request` and the account their own. Organizations and officers name the account and the ground.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LockRequestBody {
    /// holder_request, authority_request, relying_party_request or terms_violation.
    #[schema(
        example = "authority_request",
        pattern = "^(holder_request|authority_request|relying_party_request|terms_violation)$"
    )]
    pub ground: Option<String>,
    pub account: Option<AccountRefBody>,
    pub legal_basis: Option<LegalBasisBody>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub reason: String,
    /// Your own case reference (required from relying parties).
    pub reference: Option<String>,
    /// A temporary lock ends by itself at this instant.
    pub ends_at: Option<DateTime<Utc>>,
}

/// What an officer checked in person before filing a holder's own unlock.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InPersonCheckBody {
    /// The identity document seen: `cccd` (căn cước / citizen identity card) or `passport`.
    #[schema(example = "cccd", pattern = "^(cccd|passport)$")]
    pub document_kind: String,
    /// Its number, as read from the document.
    #[schema(example = "001190123456", pattern = "^[A-Za-z0-9]{6,20}$")]
    pub document_number: String,
    /// The office where the holder came.
    #[schema(example = "Công an phường Điện Biên, Hà Nội", min_length = 1, max_length = 200)]
    pub office: String,
}

impl InPersonCheckBody {
    pub(crate) fn parse(self) -> Result<dinhdanh_domain::request::InPersonCheck, ApiError> {
        let mut f = crate::api::Fields::default();
        let kind = self.document_kind.trim().to_ascii_lowercase();
        if !["cccd", "passport"].contains(&kind.as_str()) {
            f.0.push(crate::problem::FieldError {
                field: "in_person_check.document_kind".into(),
                message: "cccd or passport".into(),
            });
        }
        let number = self.document_number.trim().to_owned();
        if !(6..=20).contains(&number.chars().count()) || !number.chars().all(|c| c.is_ascii_alphanumeric()) {
            f.0.push(crate::problem::FieldError {
                field: "in_person_check.document_number".into(),
                message: "6 to 20 letters and digits, as on the document".into(),
            });
        }
        let office = self.office.trim().to_owned();
        if office.is_empty() || office.chars().count() > 200 {
            f.0.push(crate::problem::FieldError {
                field: "in_person_check.office".into(),
                message: "name the office (at most 200 characters)".into(),
            });
        }
        f.finish(Some(dinhdanh_domain::request::InPersonCheck { document_kind: kind, document_number: number, office }))
    }
}

/// An unlock request for one lock.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnlockRequestBody {
    #[schema(min_length = 1)]
    pub lock_id: String,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub reason: String,
    pub legal_basis: Option<LegalBasisBody>,
    pub reference: Option<String>,
    /// Officers: the holder was checked in person at the office; what was checked, and where.
    pub in_person_check: Option<InPersonCheckBody>,
    /// Supervisors: lift another party's lock with a legal basis; a second supervisor must approve.
    #[serde(default)]
    pub r#override: bool,
}

/// File a lock request. A holder's own lock, and a reviewer's terms-violation lock, take effect at once (201,
/// status `effective`); third parties' requests are queued for the officers (201, status `received`).
#[utoipa::path(post, path = "/v1/lock-requests", operation_id = "requestLock", tag = "locks",
    security(("bearer" = [])), request_body = LockRequestBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key has the effect once and returns the same request")),
    responses(
        (status = 201, description = "Filed (status `received`), or in effect at once (status `effective`)", body = RequestBody),
        (status = 403, description = "`urn:dinhdanh:problem:lock-refused`: the lock authority table does not let this party place this ground", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no e-ID account for this identity", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: the Idempotency-Key was used for a different request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: an unknown ground, no or an invalid account, missing evidence (legal basis, reason, reference), an end in the past, or an invalid Idempotency-Key", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn request_lock(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<LockRequestBody>,
) -> Result<(StatusCode, Json<RequestBody>), ApiError> {
    let idempotency = idempotency(&headers, &actor, &body)?;
    let ground = match (&actor, body.ground.as_deref()) {
        (Actor::Holder { .. }, None) => Ground::HolderRequest,
        (_, Some(g)) => parse_ground(g)?,
        (_, None) => return Err(ApiError::field("ground", "give the ground of the lock")),
    };
    let account = match (&actor, &body.account) {
        (Actor::Holder { .. }, _) => None,
        (_, Some(a)) => Some(a.identity_key(&state)?),
        (_, None) => return Err(ApiError::field("account", "name the account to lock")),
    };
    let order = LockOrder {
        account,
        ground,
        legal_basis: body.legal_basis.map(LegalBasisBody::parse).transpose()?,
        reason: body.reason,
        reference: body.reference,
        ends_at: body.ends_at,
    };
    let request = locks::request_lock(&state, &actor, order, idempotency.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(RequestBody::new(&request, state.clock.now(), Vec::new()))))
}

/// File an unlock request for one lock. Who may, with what evidence, and by which route, the lock authority table
/// decides: the holder's own lock needs Level 2 or an officer's in-person check; an organization may ask only for
/// its own locks; a supervisor's override needs a legal basis and a second supervisor.
#[utoipa::path(post, path = "/v1/unlock-requests", operation_id = "requestUnlock", tag = "locks",
    security(("bearer" = [])), request_body = UnlockRequestBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key has the effect once")),
    responses(
        (status = 201, description = "Filed", body = RequestBody),
        (status = 403, description = "`urn:dinhdanh:problem:lock-refused`: the lock authority table does not let this party lift this lock (or not without more proof)", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such lock", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: an unlock of this lock is already pending, or the Idempotency-Key was used for a different request", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: missing evidence (legal basis, reason, reference), an invalid in-person check, or an invalid Idempotency-Key", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn request_unlock(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<UnlockRequestBody>,
) -> Result<(StatusCode, Json<RequestBody>), ApiError> {
    let idempotency = idempotency(&headers, &actor, &body)?;
    let order = UnlockOrder {
        lock_id: body.lock_id,
        reason: body.reason,
        legal_basis: body.legal_basis.map(LegalBasisBody::parse).transpose()?,
        reference: body.reference,
        in_person_check: body.in_person_check.map(InPersonCheckBody::parse).transpose()?,
        is_override: body.r#override,
    };
    let request = locks::request_unlock(&state, &actor, order, idempotency.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(RequestBody::new(&request, state.clock.now(), Vec::new()))))
}
