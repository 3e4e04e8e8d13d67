//! Bulk lock orders over HTTP: an authority files one order naming many accounts, follows it, and reads the
//! per-account results page by page. The officers' steps on an order are the ordinary ones on
//! `/v1/requests/{id}/…`. This router carries its own body limit ([`BODY_LIMIT`]) instead of the API's 64 KiB.

use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use dinhdanh_domain::bulk::TargetOutcome;
use dinhdanh_domain::lock::Ground;
use dinhdanh_store::RequestTarget;
use serde::{Deserialize, Serialize};
use tower_http::limit::RequestBodyLimitLayer;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::locks::LegalBasisBody;
use super::{ApiJson, ApiQuery};
use crate::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};
use crate::service::bulk::{self, BulkOrder, Entry, OrderView};
use crate::service::locks::LockOrder;

/// The largest order body accepted: 100,000 entries of passport and nationality fit with room to spare.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

#[derive(OpenApi)]
#[openapi(
    paths(bulk_lock, get_bulk_lock_order, get_bulk_lock_results),
    components(schemas(BulkLockBody, BulkEntryBody, BulkOrderBody, BulkSummaryBody, BulkResultBody, BulkResultsPage))
)]
pub struct Doc;

/// The routes, with their own body limit. Merge them after the API's 64 KiB limit layer, not under it.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/bulk-lock-orders", post(bulk_lock))
        .route("/v1/bulk-lock-orders/{id}", get(get_bulk_lock_order))
        .route("/v1/bulk-lock-orders/{id}/results", get(get_bulk_lock_results))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
}

/// One account of an order: a citizen's identification number, or a foreigner's passport number and nationality.
#[derive(Debug, Clone, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkEntryBody {
    #[schema(example = "001190123456", pattern = r"^[0-9]{12}$")]
    pub id_number: Option<String>,
    #[schema(example = "M12345678", pattern = "^[A-Za-z0-9]{5,20}$")]
    pub passport_number: Option<String>,
    #[schema(example = "KOR", pattern = "^[A-Za-z]{3}$")]
    pub nationality: Option<String>,
}

/// A bulk lock order: one ground, legal basis and reason for up to 100,000 accounts.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkLockBody {
    /// authority_request (prosecuting agencies, competent authorities) or relying_party_request.
    #[schema(example = "authority_request", pattern = "^(authority_request|relying_party_request)$")]
    pub ground: String,
    pub legal_basis: Option<LegalBasisBody>,
    #[serde(default)]
    #[schema(max_length = 2000)]
    pub reason: String,
    /// Your own case reference (required from relying parties).
    pub reference: Option<String>,
    /// The locks end by themselves at this instant.
    pub ends_at: Option<DateTime<Utc>>,
    /// 1 to 100,000 accounts.
    #[schema(min_items = 1, max_items = 100_000)]
    pub accounts: Vec<BulkEntryBody>,
}

/// Entries by outcome.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkSummaryBody {
    pub entries: i64,
    /// Valid, waiting for the decision.
    pub pending: i64,
    pub locked: i64,
    /// Your organization already had a lock of this ground in force on the account: not locked twice.
    pub already_locked: i64,
    pub invalid: i64,
    /// No e-ID account for the identity (shown to the filer once the order is in effect).
    pub not_found: i64,
    /// The identity's e-ID account is not active (shown to the filer once the order is in effect).
    pub inactive: i64,
    pub duplicate: i64,
    /// The order was refused, cancelled or expired: these entries were not locked.
    pub not_locked: i64,
}

/// One entry's result.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResultBody {
    /// The entry's index in the order's `accounts`, from 0.
    pub index: i64,
    /// The identification number, or NATIONALITY:PASSPORT, as understood (or as given, when invalid).
    pub identifier: String,
    /// pending, locked, already_locked, invalid, not_found, inactive, duplicate, or not_locked (the order was
    /// refused). Until the order is in effect its filer sees every well-formed entry as pending, account or not.
    #[schema(pattern = "^(pending|locked|already_locked|invalid|not_found|inactive|duplicate|not_locked)$")]
    pub outcome: String,
    pub reason: Option<String>,
    /// The lock placed (or already in force), for a later unlock request.
    pub lock_id: Option<String>,
}

/// The tracking-code example of the document: a code that parses.
fn tracking_code_example() -> &'static str {
    dinhdanh_domain::tracking::TrackingCode::EXAMPLE
}

/// A bulk lock order: one request with its tracking code, status and per-entry summary.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkOrderBody {
    /// The request's id: the officers work it at `/v1/requests/{id}/…`.
    pub id: String,
    #[schema(example = tracking_code_example)]
    pub tracking_code: String,
    pub ground: String,
    pub status: String,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub received_at: DateTime<Utc>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub deadline: Option<DateTime<Utc>>,
    pub overdue: bool,
    /// The role that takes the next step: reviewer or supervisor.
    pub next_step_by: Option<String>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub decided_at: Option<DateTime<Utc>>,
    pub decision_reason: Option<String>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub effective_at: Option<DateTime<Utc>>,
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub lock_ends_at: Option<DateTime<Utc>>,
    pub summary: BulkSummaryBody,
    /// The entries not accepted, the first 1,000 of them: to the filer, before the order is in effect, only
    /// invalid and duplicate ones; to the officers (and to the filer afterwards) not_found and inactive too.
    pub problems: Vec<BulkResultBody>,
    /// More problems than listed: read them from the results.
    pub problems_truncated: bool,
}

fn result_body(t: RequestTarget) -> BulkResultBody {
    BulkResultBody {
        index: t.position,
        identifier: t.identifier,
        outcome: t.outcome.as_str().to_owned(),
        reason: t.detail,
        lock_id: t.lock_id,
    }
}

impl BulkOrderBody {
    fn new(view: OrderView, now: DateTime<Utc>) -> Self {
        let r = &view.request;
        let count = |o: TargetOutcome| view.counts.get(&o).copied().unwrap_or(0);
        let summary = BulkSummaryBody {
            entries: view.counts.values().sum(),
            pending: count(TargetOutcome::Pending),
            locked: count(TargetOutcome::Locked),
            already_locked: count(TargetOutcome::AlreadyLocked),
            invalid: count(TargetOutcome::Invalid),
            not_found: count(TargetOutcome::NotFound),
            inactive: count(TargetOutcome::Inactive),
            duplicate: count(TargetOutcome::Duplicate),
            not_locked: count(TargetOutcome::NotLocked),
        };
        Self {
            id: r.id.clone(),
            tracking_code: r.tracking_code.to_string(),
            ground: r.ground.as_str().to_owned(),
            status: r.status.as_str().to_owned(),
            received_at: r.received_at,
            deadline: r.deadline,
            overdue: r.is_overdue(now),
            next_step_by: (!r.status.is_final())
                .then(|| r.next_decider())
                .flatten()
                .map(|role| role.as_str().to_owned()),
            decided_at: r.decided_at,
            decision_reason: r.decision_reason.clone(),
            effective_at: r.effective_at,
            lock_ends_at: r.lock_ends_at,
            summary,
            problems: view.problems.into_iter().map(result_body).collect(),
            problems_truncated: view.problems_truncated,
        }
    }
}

/// File a bulk lock order: one request for many accounts, decided once by the officers (for authorities: a
/// reviewer verifies and forwards, a supervisor decides) and applied to every valid account at once, all or
/// nothing. Malformed and repeated entries are reported and do not block the others; whether an identity has an
/// active e-ID account is told to the deciding officers, and to the filer once the order is in effect.
#[utoipa::path(post, path = "/v1/bulk-lock-orders", operation_id = "bulkLock", tag = "locks",
    security(("bearer" = [])), request_body = BulkLockBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Retrying with the same key returns the same order")),
    responses(
        (status = 201, description = "Filed: one request for the whole order", body = BulkOrderBody),
        (status = 403, description = "`urn:dinhdanh:problem:lock-refused`: the lock authority table does not let this party place this ground", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: the Idempotency-Key was used for a different order", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: an unknown ground, missing evidence, an end in the past, no account or more than 100,000, no well-formed entry, or an invalid Idempotency-Key", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn bulk_lock(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<BulkLockBody>,
) -> Result<(StatusCode, Json<BulkOrderBody>), ApiError> {
    let idempotency = super::locks::idempotency(&headers, &actor, &body)?;
    let ground = Ground::parse(&body.ground).ok_or_else(|| ApiError::field("ground", "unknown ground"))?;
    let order = BulkOrder {
        lock: LockOrder {
            account: None,
            ground,
            legal_basis: body.legal_basis.map(LegalBasisBody::parse).transpose()?,
            reason: body.reason,
            reference: body.reference,
            ends_at: body.ends_at,
        },
        entries: body
            .accounts
            .into_iter()
            .map(|a| Entry { id_number: a.id_number, passport_number: a.passport_number, nationality: a.nationality })
            .collect(),
    };
    let view = bulk::file_order(&state, &actor, order, idempotency.as_ref()).await?;
    Ok((StatusCode::CREATED, Json(BulkOrderBody::new(view, state.clock.now()))))
}

/// A bulk lock order with its summary: its organization and officers only.
#[utoipa::path(get, path = "/v1/bulk-lock-orders/{id}", operation_id = "getBulkLockOrder", tag = "locks",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses(
        (status = 200, description = "The order and its summary", body = BulkOrderBody),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such order, or not one of this caller's organization", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_bulk_lock_order(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<BulkOrderBody>, ApiError> {
    let (view, _) = bulk::results(&state, &actor, &id, i64::MAX, 1).await?;
    Ok(Json(BulkOrderBody::new(view, state.clock.now())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ResultsQuery {
    /// Results after this index (the previous page's `next_after`); from the start when absent.
    #[param(minimum = 0)]
    pub after: Option<i64>,
    /// 1 to 1,000; default 500.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// A page of an order's per-account results, in the order's order.
#[derive(Debug, Serialize, ToSchema)]
pub struct BulkResultsPage {
    pub order_id: String,
    pub status: String,
    pub results: Vec<BulkResultBody>,
    /// Pass as `after` for the next page; absent on the last page.
    pub next_after: Option<i64>,
}

/// The per-account results of a bulk lock order, page by page: its organization and officers only.
#[utoipa::path(get, path = "/v1/bulk-lock-orders/{id}/results", operation_id = "getBulkLockResults", tag = "locks",
    security(("bearer" = [])), params(("id" = String, Path), ResultsQuery),
    responses(
        (status = 200, description = "A page of results", body = BulkResultsPage),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such order, or not one of this caller's organization", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_bulk_lock_results(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
    ApiQuery(query): ApiQuery<ResultsQuery>,
) -> Result<Json<BulkResultsPage>, ApiError> {
    let limit = super::page_limit(query.limit, 500, 1000)?;
    if query.after.is_some_and(|after| after < 0) {
        return Err(ApiError::field("after", "after must be 0 or more (the previous page's next_after)"));
    }
    let (view, page) = bulk::results(&state, &actor, &id, query.after.unwrap_or(-1), limit + 1).await?;
    let more = page.len() as i64 > limit;
    let results: Vec<BulkResultBody> = page.into_iter().take(limit as usize).map(result_body).collect();
    let next_after = if more { results.last().map(|r| r.index) } else { None };
    Ok(Json(BulkResultsPage {
        order_id: view.request.id,
        status: view.request.status.as_str().to_owned(),
        results,
        next_after,
    }))
}
