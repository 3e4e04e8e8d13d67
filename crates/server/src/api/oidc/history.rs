//! `GET /v1/me/sign-ins`: the relying parties a holder signed in to and when (issue 14 §7, domain.md "Audit":
//! the holder can see which relying parties they signed in to). One entry per sign-in to a client, with the
//! level it reached and the scopes it granted; the audit log keeps the full history for the legal 5 years.

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::AppState;
use crate::auth::Authenticated;
use crate::problem::ApiError;

/// The newest sign-ins listed.

#[derive(OpenApi)]
#[openapi(
    paths(my_sign_ins),
    components(schemas(SignInsResponse, SignInEntry)),
    tags((name = "holders", description = "Chủ thể danh tính / Holders"))
)]
pub struct Doc;

/// Routes that need a bearer token.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/me/sign-ins", get(my_sign_ins))
}

/// One sign-in to a relying party.
#[derive(Serialize, ToSchema)]
pub struct SignInEntry {
    /// The relying party's API client.
    pub client_id: String,
    #[schema(example = "Ứng dụng ngân hàng số")]
    pub client_name: String,
    #[schema(example = "Ngân hàng TMCP Ngoại thương Việt Nam")]
    pub organization_name: String,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub signed_in_at: DateTime<Utc>,
    /// The level of assurance the sign-in gave the relying party (`acr`).
    #[schema(example = "urn:dinhdanh:loa:1")]
    pub acr: String,
    /// The scopes granted, space-separated.
    #[schema(example = "openid profile")]
    pub scope: String,
}

/// The holder's sign-ins to relying parties, newest first (at most 100).
#[derive(Serialize, ToSchema)]
pub struct SignInsResponse {
    pub sign_ins: Vec<SignInEntry>,
}

/// List the relying parties you signed in to, newest first. Holders only, for their own account; not in a restore session.
#[utoipa::path(
    get, path = "/v1/me/sign-ins", operation_id = "listMySignIns", tag = "holders",
    security(("bearer" = [])),
    responses((status = 200, description = "The sign-ins", body = SignInsResponse))
)]
pub async fn my_sign_ins(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<SignInsResponse>, ApiError> {
    let sign_ins = crate::service::oidc::holder::sign_ins(&state, &actor)
        .await?
        .into_iter()
        .map(|s| SignInEntry {
            client_id: s.client_id,
            client_name: s.client_name,
            organization_name: s.organization_name,
            signed_in_at: s.at,
            acr: dinhdanh_oidc::acr::acr_of(s.grant.acr).to_owned(),
            scope: dinhdanh_oidc::scope::format_scopes(&s.grant.scopes),
        })
        .collect();
    Ok(Json(SignInsResponse { sign_ins }))
}
