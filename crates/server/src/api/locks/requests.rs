//! Requests over HTTP: the list (officers' queue, an organization's filings, a holder's requests), one request
//! with its steps, the officers' steps (claim, release, forward, decide) and the requester's cancellation.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use dinhdanh_domain::request::{RequestKind, RequestStatus};
use dinhdanh_store::QueueFilter;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{RequestBody, idempotency, parse_ground};
use crate::AppState;
use crate::api::{ApiJson, ApiQuery};
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};
use crate::service::locks::{self, Decision, OfficerStep};

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
    let limit = crate::api::page_limit(query.limit, 100, 1000)?;
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
    let requests = locks::list_requests(&state, &actor, &filter, limit).await?;
    let now = state.clock.now();
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
    let (request, steps) = locks::request_with_steps(&state, &actor, &id).await?;
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
    /// Required to approve a holder's unlock of their own lock filed without a Level 2 sign-in: what the reviewer
    /// checked when the holder came in person (refused for any other request).
    #[serde(default)]
    pub in_person_check: Option<super::filing::InPersonCheckBody>,
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
    let in_person_check = body.in_person_check.map(super::filing::InPersonCheckBody::parse).transpose()?;
    let step = OfficerStep::Decide { decision, reason: body.reason, in_person_check };
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
