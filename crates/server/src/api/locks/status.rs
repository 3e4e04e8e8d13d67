//! Reading where things stand: the public status of a request by tracking code and identity, the locks of an
//! account, and an organization's check of whether an identity's e-ID account can be used now.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use dinhdanh_domain::AccountId;
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::lock::Lock;
use dinhdanh_domain::tracking::TrackingCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{AccountRefBody, tracking_code_example};
use crate::AppState;
use crate::api::ApiQuery;
use crate::auth::{Authenticated, authorize};
use crate::problem::{ApiError, Problem};
use crate::service::locks::{self};

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
    let code = TrackingCode::parse(&query.tracking_code).map_err(|e| ApiError::field("tracking_code", e))?;
    let identity = AccountRefBody {
        id_number: query.id_number,
        passport_number: query.passport_number,
        nationality: query.nationality,
    }
    .identity_key(&state)?;
    let request = locks::tracked_request(&state, &code, &identity).await?;
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
