//! Locks and requests over HTTP: file lock and unlock requests (holders, organizations, officers), the officers'
//! queue and steps, cancellation, the public status check by tracking code, the holder's view of their locks, and
//! organizations' account-status check. Handlers parse into domain types and call `service::locks`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::lock::{Ground, LegalBasis, Lock};
use dinhdanh_domain::request::{Request, RequestKind, RequestStatus, Step};
use dinhdanh_domain::tracking::TrackingCode;
use dinhdanh_domain::{AccountId, IdentificationNumber, IdentityKey, Nationality, PassportNumber};
use dinhdanh_store::QueueFilter;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{ApiJson, ApiQuery};
use crate::AppState;
use crate::auth::{Authenticated, authorize};
use crate::problem::{ApiError, Problem};
use crate::service::locks::{self, Decision, Idempotency, LockOrder, OfficerStep, UnlockOrder};

#[derive(OpenApi)]
#[openapi(
    paths(
        request_lock,
        request_unlock,
        list_requests,
        get_request,
        claim_request,
        release_request,
        forward_request,
        decide_request,
        cancel_request,
        get_request_status,
        list_locks,
        get_account_status,
        lock_without_sign_in,
        confirm_lock_without_sign_in
    ),
    components(schemas(
        LockRequestBody,
        UnlockRequestBody,
        AccountRefBody,
        LegalBasisBody,
        RequestBody,
        StepBody,
        DecisionBody,
        ForwardBody,
        PublicRequestStatus,
        LockBody,
        AccountStatusBody,
        LostPhoneLockBody,
        LostPhoneAnswer,
        ConfirmLockBody
    ))
)]
pub struct Doc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/lock-requests", post(request_lock))
        .route("/v1/unlock-requests", post(request_unlock))
        .route("/v1/requests", get(list_requests))
        .route("/v1/requests/{id}", get(get_request))
        .route("/v1/requests/{id}/claim", post(claim_request))
        .route("/v1/requests/{id}/release", post(release_request))
        .route("/v1/requests/{id}/forward", post(forward_request))
        .route("/v1/requests/{id}/decision", post(decide_request))
        .route("/v1/requests/{id}/cancel", post(cancel_request))
        .route("/v1/accounts/{account_id}/locks", get(list_locks))
        .route("/v1/account-status", get(get_account_status))
}

pub fn public_routes() -> Router<AppState> {
    Router::new()
        .route("/v1/request-status", get(get_request_status))
        .route("/v1/lock-requests/without-sign-in", post(lock_without_sign_in))
        .route("/v1/lock-requests/without-sign-in/{confirmation_id}/confirm", post(confirm_lock_without_sign_in))
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
    fn identity_key(&self, state: &AppState) -> Result<IdentityKey, ApiError> {
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
    fn parse(self) -> Result<dinhdanh_domain::request::InPersonCheck, ApiError> {
        let mut f = super::Fields::default();
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
    pub account_id: String,
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
            account_id: r.account_id.to_string(),
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

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// received, verifying, approved, effective, rejected, cancelled, expired (comma-separated)
    pub status: Option<String>,
    /// lock or unlock
    pub kind: Option<String>,
    pub ground: Option<String>,
    /// Only requests past their deadline.
    #[serde(default)]
    pub overdue: bool,
    /// 1 to 1,000; default 100.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// Officers: the queue of open requests, the most urgent first (overdue, then by deadline). Organizations: the
/// requests they filed. Holders: the requests about their account.
#[utoipa::path(get, path = "/v1/requests", operation_id = "listRequests", tag = "locks", security(("bearer" = [])),
    params(ListQuery), responses(
        (status = 200, description = "The requests (officers: the most urgent first)", body = Vec<RequestBody>),
    ))]
pub async fn list_requests(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<RequestBody>>, ApiError> {
    authorize(&state, &actor, Action::RequestsList).await?;
    let now = state.clock.now();
    let limit = super::page_limit(query.limit, 100, 1000)?;
    let requests = match &actor {
        Actor::Officer { .. } => {
            let statuses = match query.status.as_deref() {
                None => Vec::new(),
                Some(list) => list
                    .split(',')
                    .map(|s| RequestStatus::parse(s.trim()).ok_or_else(|| ApiError::field("status", "unknown status")))
                    .collect::<Result<_, _>>()?,
            };
            let filter = QueueFilter {
                statuses,
                kind: query
                    .kind
                    .as_deref()
                    .map(|k| RequestKind::parse(k).ok_or_else(|| ApiError::field("kind", "lock or unlock")))
                    .transpose()?,
                ground: query.ground.as_deref().map(parse_ground).transpose()?,
                overdue_only: query.overdue,
            };
            state.store.request_queue(&filter, now, limit).await?
        }
        Actor::Organization { organization_id, .. } => {
            state.store.requests_of_organization(organization_id, limit).await?
        }
        Actor::Holder { account_id, .. } => {
            // Without the requests the holder may not hear of yet (an authority's pending lock request).
            let mut own = state.store.requests_of_account(account_id, limit).await?;
            own.retain(|r| locks::may_read(&actor, r));
            own
        }
        Actor::System | Actor::Anonymous => return Err(ApiError::Forbidden { action: Action::RequestsList.as_str() }),
    };
    Ok(Json(requests.iter().map(|r| RequestBody::new(r, now, Vec::new())).collect()))
}

/// A request with its steps.
#[utoipa::path(get, path = "/v1/requests/{id}", operation_id = "getRequest", tag = "locks", security(("bearer" = [])),
    params(("id" = String, Path)), responses(
        (status = 200, description = "The request with its steps", body = RequestBody),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such request, or not one this caller may read", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_request(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<RequestBody>, ApiError> {
    authorize(&state, &actor, Action::RequestsRead).await?;
    let request = state
        .store
        .request(&id)
        .await?
        .filter(|r| locks::may_read(&actor, r))
        .ok_or(ApiError::NotFound { what: "request" })?;
    let steps = state.store.request_steps(&request.id).await?;
    Ok(Json(RequestBody::new(&request, state.clock.now(), steps)))
}

/// An officer of the role due takes the request into verification.
#[utoipa::path(post, path = "/v1/requests/{id}/claim", operation_id = "claimRequest", tag = "locks", security(("bearer" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key, after the step was taken, returns the request instead of 409")), responses(
        (status = 200, description = "Claimed by this officer", body = RequestBody),
        (status = 403, description = "`urn:dinhdanh:problem:forbidden`: the step belongs to an officer of another role, or the officer who forwarded the request would also decide it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: the request's status or route does not allow this step, another officer has claimed it, or (approving an unlock) the lock is no longer active; or the `Idempotency-Key` was used for another step", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: an `Idempotency-Key` that is not 1 to 200 visible characters", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn claim_request(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<RequestBody>, ApiError> {
    let idempotency = idempotency(&headers, &actor, &("claim", &id))?;
    let request = locks::officer_step(&state, &actor, &id, OfficerStep::Claim, idempotency.as_ref()).await?;
    Ok(Json(RequestBody::new(&request, state.clock.now(), Vec::new())))
}

/// The officer who claimed a request gives it back to the queue before taking its step (a claim otherwise holds
/// for 4 hours, during which no other officer can take its steps).
#[utoipa::path(post, path = "/v1/requests/{id}/release", operation_id = "releaseRequest", tag = "locks", security(("bearer" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key, after the step was taken, returns the request instead of 409")), responses(
        (status = 200, description = "Back in the queue", body = RequestBody),
        (status = 403, description = "`urn:dinhdanh:problem:forbidden`: the step belongs to an officer of another role, or the officer who forwarded the request would also decide it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: not claimed by this officer, or no longer open; or the `Idempotency-Key` was used for another step", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: an `Idempotency-Key` that is not 1 to 200 visible characters", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn release_request(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<RequestBody>, ApiError> {
    let idempotency = idempotency(&headers, &actor, &("release", &id))?;
    let request = locks::officer_step(&state, &actor, &id, OfficerStep::Release, idempotency.as_ref()).await?;
    Ok(Json(RequestBody::new(&request, state.clock.now(), Vec::new())))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForwardBody {
    /// What the reviewer verified.
    pub note: Option<String>,
}

/// A reviewer has verified a request on the two-step route (Decree 69/2024 Art. 29–30) and forwards it to the
/// supervisors, whose 2 working days start now.
#[utoipa::path(post, path = "/v1/requests/{id}/forward", operation_id = "forwardRequest", tag = "locks", security(("bearer" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key, after the step was taken, returns the request instead of 409")), request_body = ForwardBody, responses(
        (status = 200, description = "Forwarded to the supervisors", body = RequestBody),
        (status = 403, description = "`urn:dinhdanh:problem:forbidden`: the step belongs to an officer of another role, or the officer who forwarded the request would also decide it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: the request's status or route does not allow this step, another officer has claimed it, or (approving an unlock) the lock is no longer active; or the `Idempotency-Key` was used for another step", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: an `Idempotency-Key` that is not 1 to 200 visible characters", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn forward_request(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ForwardBody>,
) -> Result<Json<RequestBody>, ApiError> {
    let idempotency = idempotency(&headers, &actor, &("forward", &id, &body))?;
    let step = OfficerStep::Forward { note: body.note };
    let request = locks::officer_step(&state, &actor, &id, step, idempotency.as_ref()).await?;
    Ok(Json(RequestBody::new(&request, state.clock.now(), Vec::new())))
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionBody {
    /// approve or reject
    #[schema(example = "approve", pattern = "^(approve|reject)$")]
    pub decision: String,
    /// Required to reject: the written reasons the requester receives.
    #[serde(default)]
    pub reason: String,
}

/// Approve (the request takes effect at once) or reject with written reasons.
#[utoipa::path(post, path = "/v1/requests/{id}/decision", operation_id = "decideRequest", tag = "locks", security(("bearer" = [])),
    params(("id" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "A retry with the same key, after the step was taken, returns the request instead of 409")), request_body = DecisionBody,
    responses(
        (status = 200, description = "Decided; an approval takes effect at once", body = RequestBody),
        (status = 403, description = "`urn:dinhdanh:problem:forbidden`: the step belongs to an officer of another role, or the officer who forwarded the request would also decide it", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: the request's status or route does not allow this step, another officer has claimed it, or (approving an unlock) the lock is no longer active; or the `Idempotency-Key` was used for another step", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: `decision` is not approve or reject, or a rejection without reasons", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn decide_request(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DecisionBody>,
) -> Result<Json<RequestBody>, ApiError> {
    let idempotency = idempotency(&headers, &actor, &("decision", &id, &body))?;
    let decision = match body.decision.as_str() {
        "approve" => Decision::Approve,
        "reject" => Decision::Reject,
        _ => return Err(ApiError::field("decision", "approve or reject")),
    };
    let step = OfficerStep::Decide { decision, reason: body.reason };
    let request = locks::officer_step(&state, &actor, &id, step, idempotency.as_ref()).await?;
    Ok(Json(RequestBody::new(&request, state.clock.now(), Vec::new())))
}

/// The requester withdraws a pending request.
#[utoipa::path(post, path = "/v1/requests/{id}/cancel", operation_id = "cancelRequest", tag = "locks", security(("bearer" = [])),
    params(("id" = String, Path)), responses(
        (status = 200, description = "Cancelled", body = RequestBody),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such request filed by this caller", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: the request is decided or closed already", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn cancel_request(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<RequestBody>, ApiError> {
    let request = locks::cancel(&state, &actor, &id).await?;
    Ok(Json(RequestBody::new(&request, state.clock.now(), Vec::new())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    #[param(example = tracking_code_example)]
    pub tracking_code: String,
    #[param(example = "001190123456", pattern = r"^[0-9]{12}$")]
    pub id_number: Option<String>,
    pub passport_number: Option<String>,
    pub nationality: Option<String>,
}

/// What anyone holding a tracking code and the matching identity may see: no names, no officers, no reasons.
#[derive(Debug, Serialize, ToSchema)]
pub struct PublicRequestStatus {
    #[schema(example = tracking_code_example)]
    pub tracking_code: String,
    pub kind: String,
    pub ground: String,
    pub status: String,
    /// Vietnamese, then English.
    pub status_text: String,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub received_at: DateTime<Utc>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub deadline: Option<DateTime<Utc>>,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub updated_at: DateTime<Utc>,
}

/// Follow a request with its tracking code and the identification number (or passport and nationality) of the
/// account it concerns. A wrong pairing and an unknown code get the same answer. Rate limited per IP.
#[utoipa::path(get, path = "/v1/request-status", operation_id = "getRequestStatus", tag = "locks",
    params(StatusQuery), responses(
        (status = 200, description = "Where the request stands", body = PublicRequestStatus),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no request with this tracking code concerns this identity (one answer for both)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: the tracking code or the identity is malformed", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_request_status(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<StatusQuery>,
) -> Result<Json<PublicRequestStatus>, ApiError> {
    let not_found = ApiError::NotFound { what: "request with this tracking code and identity" };
    let code = TrackingCode::parse(&query.tracking_code).map_err(|e| ApiError::field("tracking_code", e))?;
    let identity = AccountRefBody {
        id_number: query.id_number,
        passport_number: query.passport_number,
        nationality: query.nationality,
    }
    .identity_key(&state)?;
    let request = state.store.request_by_tracking_code(&code).await?.ok_or(not_found)?;
    let concerned = if crate::service::bulk::is_bulk_order(&request) {
        // A bulk order names many accounts: the identity must be one of them.
        match state.store.account_by_identity(&identity).await? {
            Some(account) => state
                .store
                .request_targets(&request.id)
                .await?
                .iter()
                .any(|t| t.account_id.as_ref() == Some(&account.id)),
            None => false,
        }
    } else {
        state.store.account(&request.account_id).await?.is_some_and(|a| a.identity_key == identity)
    };
    if !concerned {
        return Err(ApiError::NotFound { what: "request with this tracking code and identity" });
    }
    let (vi, en) = request.status.description();
    let updated_at =
        [Some(request.received_at), request.forwarded_at, request.decided_at, request.effective_at, request.closed_at]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(request.received_at);
    Ok(Json(PublicRequestStatus {
        tracking_code: request.tracking_code.to_string(),
        kind: request.kind.as_str().to_owned(),
        ground: request.ground.as_str().to_owned(),
        status: request.status.as_str().to_owned(),
        status_text: format!("{vi} / {en}"),
        received_at: request.received_at,
        deadline: request.deadline,
        updated_at,
    }))
}

/// A lock as the holder and officers see it; officers' identities are never shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockBody {
    pub id: String,
    pub ground: String,
    /// Vietnamese, then English.
    pub ground_text: String,
    /// The organization's name, or the holder, the operator, the system.
    pub placed_by: String,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub effective_at: DateTime<Utc>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub ends_at: Option<DateTime<Utc>>,
    pub active: bool,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub lifted_at: Option<DateTime<Utc>>,
    pub lifted_by: Option<String>,
    /// How this lock can be lifted (Vietnamese, then English).
    pub how_to_lift: String,
}

async fn lock_body(state: &AppState, lock: &Lock, now: DateTime<Utc>) -> Result<LockBody, ApiError> {
    let (vi, en) = lock.description();
    let (lift_vi, lift_en) = dinhdanh_domain::authority::how_to_lift(lock.ground);
    Ok(LockBody {
        id: lock.id.clone(),
        ground: lock.ground.as_str().to_owned(),
        ground_text: format!("{vi} / {en}"),
        placed_by: locks::placed_by_name(state, &lock.placed_by).await?,
        effective_at: lock.effective_at,
        ends_at: lock.ends_at,
        active: lock.is_active(now),
        lifted_at: lock.lifted.as_ref().map(|l| l.at),
        lifted_by: match &lock.lifted {
            Some(l) => Some(locks::placed_by_name(state, &l.by).await?),
            None => None,
        },
        how_to_lift: format!("{lift_vi} / {lift_en}"),
    })
}

/// Every lock and lift on an account: the holder sees their own, officers any.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/locks", operation_id = "listLocks", tag = "locks", security(("bearer" = [])),
    params(("account_id" = String, Path)), responses(
        (status = 200, description = "Every lock and lift, oldest first", body = Vec<LockBody>),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: another holder's account", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_locks(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(account_id): Path<String>,
) -> Result<Json<Vec<LockBody>>, ApiError> {
    let account_id = AccountId::new(account_id);
    authorize(&state, &actor, Action::LocksRead).await?;
    if let Actor::Holder { account_id: own, .. } = &actor
        && *own != account_id
    {
        // Another holder's account: not even whether it exists.
        return Err(ApiError::NotFound { what: "account" });
    }
    let now = state.clock.now();
    let mut out = Vec::new();
    for lock in state.store.locks_of_account(&account_id).await? {
        out.push(lock_body(&state, &lock, now).await?);
    }
    Ok(Json(out))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AccountStatusQuery {
    pub id_number: Option<String>,
    pub passport_number: Option<String>,
    pub nationality: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountStatusBody {
    /// Whether an e-ID account exists for this identity.
    pub exists: bool,
    /// Whether it can be used now: active, and no lock in force.
    pub usable: bool,
    pub locked: bool,
}

/// Whether the e-ID account of an identity can be used now. Organizations need the `accounts:status` scope.
#[utoipa::path(get, path = "/v1/account-status", operation_id = "getAccountStatus", tag = "locks", security(("bearer" = [])),
    params(AccountStatusQuery), responses(
        (status = 200, description = "Whether the account exists and can be used", body = AccountStatusBody),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: a holder asking about another identity (one answer whether it has an account or not)", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: give either id_number, or passport_number and nationality", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_account_status(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<AccountStatusQuery>,
) -> Result<Json<AccountStatusBody>, ApiError> {
    authorize(&state, &actor, Action::AccountStatusRead).await?;
    let key = AccountRefBody {
        id_number: query.id_number,
        passport_number: query.passport_number,
        nationality: query.nationality,
    }
    .identity_key(&state)?;
    let account = state.store.account_by_identity(&key).await?;
    // A holder learns about their own account only: no account and someone else's get one answer, since an
    // identification number is printed on many documents and knowing one proves nothing.
    if let Actor::Holder { account_id, .. } = &actor
        && account.as_ref().is_none_or(|a| a.id != *account_id)
    {
        return Err(ApiError::NotFound { what: "account" });
    }
    let Some(account) = account else {
        return Ok(Json(AccountStatusBody { exists: false, usable: false, locked: false }));
    };
    let locked = !state.store.active_locks(&account.id, state.clock.now()).await?.is_empty();
    let active = account.status == dinhdanh_domain::AccountStatus::Active;
    Ok(Json(AccountStatusBody { exists: true, usable: active && !locked, locked }))
}

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
    // Gender is not asked for here (domain.md: number, name, date of birth); the registry record supplies it.
    let declaration = match body.holder_kind.as_str() {
        "citizen" => {
            super::refuse_other_kind_fields(true, &body.id_number, &body.passport_number, &body.nationality)?;
            let id = body.id_number.as_deref().ok_or_else(|| ApiError::field("id_number", "id_number is required"))?;
            let id_number = IdentificationNumber::parse(id, &state.config.provinces)
                .map_err(|e| ApiError::field("id_number", e))?;
            let gender = state.registry.citizen(&id_number).await?.map(|r| r.gender).unwrap_or(Gender::Male);
            Declaration::Citizen { id_number, full_name, date_of_birth, gender }
        }
        "foreigner" => {
            super::refuse_other_kind_fields(false, &body.id_number, &body.passport_number, &body.nationality)?;
            let passport = body
                .passport_number
                .as_deref()
                .ok_or_else(|| ApiError::field("passport_number", "passport_number is required"))?;
            let nationality =
                body.nationality.as_deref().ok_or_else(|| ApiError::field("nationality", "nationality is required"))?;
            let passport_number = PassportNumber::parse(passport).map_err(|e| ApiError::field("passport_number", e))?;
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
    let input = locks::LostPhoneLock { declaration, lost_channel, reason: body.reason };
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
