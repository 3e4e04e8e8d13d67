//! `/v1/organizations`: register, list, read, change, suspend and reinstate organizations.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use dinhdanh_domain::actor::{OrganizationKind, OrganizationStatus};
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::organization::Organization;
use dinhdanh_domain::{Email, PhoneNumber};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::{ApiJson, ApiQuery};
use crate::AppState;
use crate::auth::{Authenticated, authorize};
use crate::problem::{ApiError, Problem};
use crate::service::organizations::{self, NewOrganization, OrganizationChange};

#[derive(OpenApi)]
#[openapi(
    paths(
        create_organization,
        list_organizations,
        get_organization,
        update_organization,
        suspend_organization,
        reinstate_organization
    ),
    components(schemas(OrganizationBody, CreateOrganizationRequest, UpdateOrganizationRequest, StatusChangeRequest))
)]
pub struct Doc;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/organizations", post(create_organization).get(list_organizations))
        .route("/v1/organizations/{id}", get(get_organization).patch(update_organization))
        .route("/v1/organizations/{id}/suspend", post(suspend_organization))
        .route("/v1/organizations/{id}/reinstate", post(reinstate_organization))
}

pub fn public_routes() -> Router<AppState> {
    Router::new()
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationBody {
    pub id: String,
    #[schema(example = "VCB")]
    pub code: String,
    pub name: String,
    /// operator, prosecuting_agency, competent_authority or relying_party
    #[schema(value_type = String, example = "relying_party")]
    pub kind: OrganizationKind,
    pub parent_id: Option<String>,
    /// active or suspended
    #[schema(value_type = String, example = "active")]
    pub status: OrganizationStatus,
    pub contact_email: Option<String>,
    pub contact_phone: Option<String>,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub created_at: DateTime<Utc>,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub updated_at: DateTime<Utc>,
}

impl From<Organization> for OrganizationBody {
    fn from(o: Organization) -> Self {
        Self {
            id: o.id,
            code: o.code,
            name: o.name,
            kind: o.kind,
            parent_id: o.parent_id,
            status: o.status,
            contact_email: o.contact_email.map(|e| e.as_str().to_owned()),
            contact_phone: o.contact_phone.map(|p| p.as_str().to_owned()),
            created_at: o.created_at,
            updated_at: o.updated_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganizationRequest {
    /// 2 to 32 letters, digits, `-` and `_` (kept in upper case).
    #[schema(example = "VCB", pattern = "^[A-Za-z0-9_-]{2,32}$")]
    pub code: String,
    #[schema(example = "Ngân hàng TMCP Ngoại thương Việt Nam", min_length = 1, max_length = 300)]
    pub name: String,
    /// operator, prosecuting_agency, competent_authority or relying_party
    #[schema(value_type = String, example = "relying_party", pattern = "^(operator|prosecuting_agency|competent_authority|relying_party)$")]
    pub kind: String,
    /// A unit's parent, of the same kind.
    pub parent_id: Option<String>,
    #[schema(example = "lienhe@vietcombank.com.vn", format = Email, max_length = 254)]
    pub contact_email: Option<String>,
    #[schema(example = "0243824382")]
    pub contact_phone: Option<String>,
}

/// Fields to change; absent fields stay as they are, `null` clears an optional one.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganizationRequest {
    #[schema(min_length = 1, max_length = 300)]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub parent_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub contact_email: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub contact_phone: Option<Option<String>>,
}

/// Distinguishes a field that is absent (`None`) from one set to `null` (`Some(None)`).
fn double_option<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChangeRequest {
    /// Why; kept in the audit log.
    #[schema(min_length = 1, max_length = 1000)]
    pub reason: String,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only organizations of this kind.
    pub kind: Option<String>,
}

fn parse_kind(s: &str) -> Result<OrganizationKind, ApiError> {
    OrganizationKind::parse(s).ok_or_else(|| {
        ApiError::field("kind", "kind must be operator, prosecuting_agency, competent_authority or relying_party")
    })
}

fn contact_email(raw: Option<String>) -> Result<Option<Email>, ApiError> {
    raw.filter(|s| !s.trim().is_empty())
        .map(|e| Email::parse(&e).map_err(|e| ApiError::field("contact_email", e)))
        .transpose()
}

fn contact_phone(raw: Option<String>) -> Result<Option<PhoneNumber>, ApiError> {
    raw.filter(|s| !s.trim().is_empty())
        .map(|p| PhoneNumber::parse(&p).map_err(|e| ApiError::field("contact_phone", e)))
        .transpose()
}

/// Register an organization.
#[utoipa::path(post, path = "/v1/organizations", operation_id = "createOrganization", tag = "organizations",
    security(("bearer" = [])), request_body = CreateOrganizationRequest,
    responses(
        (status = 201, description = "Registered", body = OrganizationBody),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such parent organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: the code is taken", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: invalid code, name, kind, contacts, or a parent of another kind", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn create_organization(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<CreateOrganizationRequest>,
) -> Result<(StatusCode, Json<OrganizationBody>), ApiError> {
    authorize(&state, &actor, Action::OrganizationsManage).await?;
    let new = NewOrganization {
        code: body.code,
        name: body.name,
        kind: parse_kind(&body.kind)?,
        parent_id: body.parent_id.filter(|p| !p.is_empty()),
        contact_email: contact_email(body.contact_email)?,
        contact_phone: contact_phone(body.contact_phone)?,
    };
    let org = organizations::create(&state, &actor, new).await?;
    Ok((StatusCode::CREATED, Json(org.into())))
}

/// List organizations, by code.
#[utoipa::path(get, path = "/v1/organizations", operation_id = "listOrganizations", tag = "organizations",
    security(("bearer" = [])), params(ListQuery),
    responses(
        (status = 200, description = "The organizations, by code", body = Vec<OrganizationBody>),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: unknown `kind`", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn list_organizations(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<OrganizationBody>>, ApiError> {
    authorize(&state, &actor, Action::OrganizationsRead).await?;
    let kind = query.kind.as_deref().map(parse_kind).transpose()?;
    let list = state.store.organizations(kind).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// Read one organization.
#[utoipa::path(get, path = "/v1/organizations/{id}", operation_id = "getOrganization", tag = "organizations",
    security(("bearer" = [])), params(("id" = String, Path)),
    responses(
        (status = 200, description = "The organization", body = OrganizationBody),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such organization", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn get_organization(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
) -> Result<Json<OrganizationBody>, ApiError> {
    authorize(&state, &actor, Action::OrganizationsRead).await?;
    let org = state.store.organization(&id).await?.ok_or(ApiError::NotFound { what: "organization" })?;
    Ok(Json(org.into()))
}

/// Change an organization's name, parent or contacts.
#[utoipa::path(patch, path = "/v1/organizations/{id}", operation_id = "updateOrganization", tag = "organizations",
    security(("bearer" = [])), params(("id" = String, Path)), request_body = UpdateOrganizationRequest,
    responses(
        (status = 200, description = "The organization as changed", body = OrganizationBody),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such organization or parent organization", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: invalid name or contacts, a parent of another kind, or a cycle of parents", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn update_organization(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UpdateOrganizationRequest>,
) -> Result<Json<OrganizationBody>, ApiError> {
    authorize(&state, &actor, Action::OrganizationsManage).await?;
    let change = OrganizationChange {
        name: body.name,
        parent_id: body.parent_id.map(|p| p.filter(|p| !p.is_empty())),
        contact_email: body.contact_email.map(contact_email).transpose()?,
        contact_phone: body.contact_phone.map(contact_phone).transpose()?,
    };
    Ok(Json(organizations::update(&state, &actor, &id, change).await?.into()))
}

/// Suspend an organization: its clients get no tokens and its tokens stop working at once.
#[utoipa::path(post, path = "/v1/organizations/{id}/suspend", operation_id = "suspendOrganization", tag = "organizations",
    security(("bearer" = [])), params(("id" = String, Path)), request_body = StatusChangeRequest,
    responses(
        (status = 200, description = "Suspended", body = OrganizationBody),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such organization", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: your own organization", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: no reason, or one over 1000 characters", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn suspend_organization(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusChangeRequest>,
) -> Result<Json<OrganizationBody>, ApiError> {
    authorize(&state, &actor, Action::OrganizationsManage).await?;
    Ok(Json(organizations::set_status(&state, &actor, &id, OrganizationStatus::Suspended, &body.reason).await?.into()))
}

/// Reinstate a suspended organization.
#[utoipa::path(post, path = "/v1/organizations/{id}/reinstate", operation_id = "reinstateOrganization", tag = "organizations",
    security(("bearer" = [])), params(("id" = String, Path)), request_body = StatusChangeRequest,
    responses(
        (status = 200, description = "Reinstated", body = OrganizationBody),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such organization", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`urn:dinhdanh:problem:validation`: no reason, or one over 1000 characters", body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn reinstate_organization(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StatusChangeRequest>,
) -> Result<Json<OrganizationBody>, ApiError> {
    authorize(&state, &actor, Action::OrganizationsManage).await?;
    Ok(Json(organizations::set_status(&state, &actor, &id, OrganizationStatus::Active, &body.reason).await?.into()))
}
