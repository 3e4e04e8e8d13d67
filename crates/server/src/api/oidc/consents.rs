//! `GET /v1/me/consents` and `DELETE /v1/me/consents/{client_id}`: the consents a holder gave relying parties
//! (issue 14 §4: remembered per client and revocable by the holder through the API). Withdrawing one ends every
//! grant it covered — codes, access tokens, refresh families — in the same transaction, and the next sign-in to
//! that client asks again.

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};

#[derive(OpenApi)]
#[openapi(
    paths(list_consents, withdraw_consent),
    components(schemas(ConsentsResponse, ConsentEntry)),
    tags((name = "holders", description = "Chủ thể danh tính / Holders"))
)]
pub struct Doc;

/// Routes that need a bearer token.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/me/consents", get(list_consents))
        .route("/v1/me/consents/{client_id}", delete(withdraw_consent))
}

/// One consent: what a relying party may receive.
#[derive(Serialize, ToSchema)]
pub struct ConsentEntry {
    pub client_id: String,
    #[schema(example = "Ứng dụng ngân hàng số")]
    pub client_name: String,
    /// Space-separated.
    #[schema(example = "openid profile")]
    pub scope: String,
    #[schema(example = json!(["name"]))]
    pub claims: Vec<String>,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub granted_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct ConsentsResponse {
    pub consents: Vec<ConsentEntry>,
}

/// List the consents you gave relying parties, newest first. Holders only, not in a restore session.
#[utoipa::path(
    get, path = "/v1/me/consents", operation_id = "listMyConsents", tag = "holders",
    security(("bearer" = [])),
    responses((status = 200, description = "The live consents", body = ConsentsResponse))
)]
pub async fn list_consents(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<ConsentsResponse>, ApiError> {
    let consents = crate::service::oidc::holder::consents(&state, &actor)
        .await?
        .into_iter()
        .map(|(c, client_name)| ConsentEntry {
            client_id: c.client_id,
            client_name,
            scope: dinhdanh_oidc::scope::format_scopes(&c.scopes),
            claims: c.claims.iter().map(|c| c.as_str().to_owned()).collect(),
            granted_at: c.granted_at,
        })
        .collect();
    Ok(Json(ConsentsResponse { consents }))
}

/// Withdraw your consent to a relying party: every sign-in it covered ends now (its tokens and refresh tokens
/// stop working), and the next sign-in to it asks again. Holders only, not in a restore session.
#[utoipa::path(
    delete, path = "/v1/me/consents/{client_id}", operation_id = "withdrawMyConsent", tag = "holders",
    params(("client_id" = String, Path, description = "The relying party's client id")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no live consent to this client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn withdraw_consent(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(client_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    crate::service::oidc::holder::withdraw_consent(&state, &actor, &client_id).await?;
    Ok(StatusCode::NO_CONTENT)
}
