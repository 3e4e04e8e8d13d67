//! `GET`/`PUT /v1/clients/{client_id}/oidc`: a relying party's OpenID Connect registration beside its API
//! client (same id, same credentials), managed by administrators. The body is parsed after the authorization
//! check, so a caller the table refuses learns nothing from the parsing.

use axum::Json;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Path, State};
use axum::http::{HeaderMap, header};
use axum::routing::get;
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::client::ClientAuthMethod;
use dinhdanh_oidc::client::ClientRegistration;
use dinhdanh_oidc::scope::{Claim, Scope};
use dinhdanh_oidc::subject::SubjectType;
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use crate::AppState;
use crate::api::{ApiJson, Fields};
use crate::auth::{Authenticated, authorize};
use crate::problem::{ApiError, Problem};

#[derive(OpenApi)]
#[openapi(
    paths(get_registration, put_registration),
    components(schemas(RegistrationBody, RegistrationResponse)),
    tags((name = "oidc", description = "OpenID Connect: relying parties' registrations"))
)]
pub struct Doc;

/// Routes that need a bearer token.
pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/clients/{client_id}/oidc", get(get_registration).put(put_registration))
}

/// What a relying party's client may do as an OpenID Connect client.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrationBody {
    /// Exact redirect URIs (https, or http to a loopback address, or a private-use scheme with a dot).
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may return to.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Scopes the client may ask for: `openid` (required), `profile`, `email`, `phone`, `id_number`,
    /// `offline_access`.
    pub scopes: Vec<String>,
    /// Claims it may receive, at most those its scopes carry (`name`, `birthdate`, `gender`, `email`,
    /// `email_verified`, `phone_number`, `phone_number_verified`, `dinhdanh:id_number`).
    #[serde(default)]
    pub claims: Vec<String>,
    /// `pairwise` (default) or `public`.
    pub subject_type: Option<String>,
    /// The host pairwise subjects are computed for; needed when the redirect URIs are on several hosts.
    pub sector_identifier: Option<String>,
    /// Authorization requests must be pushed (PAR, RFC 9126).
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
}

/// A saved registration.
#[derive(Serialize, ToSchema)]
pub struct RegistrationResponse {
    pub client_id: String,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub scopes: Vec<String>,
    pub claims: Vec<String>,
    pub subject_type: String,
    pub sector_identifier: Option<String>,
    pub require_pushed_authorization_requests: bool,
    /// The API client's own: `client_secret` or `private_key_jwt`.
    pub token_endpoint_auth_method: String,
}

impl From<&ClientRegistration> for RegistrationResponse {
    fn from(r: &ClientRegistration) -> Self {
        Self {
            client_id: r.client_id.clone(),
            redirect_uris: r.redirect_uris.clone(),
            post_logout_redirect_uris: r.post_logout_redirect_uris.clone(),
            scopes: r.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            claims: r.claims.iter().map(|c| c.as_str().to_owned()).collect(),
            subject_type: r.subject_type.as_str().to_owned(),
            sector_identifier: r.sector_identifier.clone(),
            require_pushed_authorization_requests: r.require_pushed_authorization_requests,
            token_endpoint_auth_method: r.token_endpoint_auth_method.as_str().to_owned(),
        }
    }
}

/// Show an API client's OpenID Connect registration. Administrators only.
#[utoipa::path(
    get, path = "/v1/clients/{client_id}/oidc", operation_id = "getOidcRegistration", tag = "oidc",
    params(("client_id" = String, Path, description = "The API client's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The registration", body = RegistrationResponse),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no registration for this client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_registration(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(client_id): Path<String>,
) -> Result<Json<RegistrationResponse>, ApiError> {
    authorize(&state, &actor, Action::ClientsManage).await?;
    let registration =
        state.store.oidc_client(&client_id).await?.ok_or(ApiError::NotFound { what: "OpenID Connect registration" })?;
    Ok(Json((&registration).into()))
}

/// Register (or change) an API client of a relying party as an OpenID Connect client: exact redirect URIs,
/// scopes and claims, pairwise sector, whether PAR is required. It keeps the API client's credentials and
/// authentication method. Administrators only.
#[utoipa::path(
    put, path = "/v1/clients/{client_id}/oidc", operation_id = "putOidcRegistration", tag = "oidc",
    params(("client_id" = String, Path, description = "The API client's id")),
    request_body = RegistrationBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The saved registration", body = RegistrationResponse),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such API client", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:client-revoked`: the API client is revoked", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn put_registration(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Path(client_id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<RegistrationResponse>, ApiError> {
    authorize(&state, &actor, Action::ClientsManage).await?;
    let mut request = axum::http::Request::builder();
    if let Some(content_type) = headers.get(header::CONTENT_TYPE) {
        request = request.header(header::CONTENT_TYPE, content_type);
    }
    let request = request.body(Body::from(body)).map_err(|e| ApiError::MalformedBody(e.to_string()))?;
    let ApiJson(body) = ApiJson::<RegistrationBody>::from_request(request, &()).await?;

    let mut fields = Fields::default();
    let scopes: Vec<Option<Scope>> = body
        .scopes
        .iter()
        .map(|s| fields.take("scopes", Scope::parse(s).ok_or_else(|| format!("unknown scope {s:?}"))))
        .collect();
    let claims: Vec<Option<Claim>> = body
        .claims
        .iter()
        .map(|c| fields.take("claims", Claim::parse(c).ok_or_else(|| format!("unknown claim {c:?}"))))
        .collect();
    let subject_type = match body.subject_type.as_deref() {
        None | Some("pairwise") => Some(SubjectType::Pairwise),
        Some("public") => Some(SubjectType::Public),
        Some(other) => fields.take("subject_type", Err(format!("{other:?} is neither pairwise nor public"))),
    };
    let registration = subject_type.map(|subject_type| ClientRegistration {
        client_id,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        scopes: scopes.into_iter().flatten().collect(),
        claims: claims.into_iter().flatten().collect(),
        subject_type,
        sector_identifier: body.sector_identifier,
        require_pushed_authorization_requests: body.require_pushed_authorization_requests,
        // The API client's own method; the service sets it.
        token_endpoint_auth_method: ClientAuthMethod::ClientSecret,
    });
    let registration = fields.finish(registration)?;
    let saved = crate::service::oidc::set_registration(&state, &actor, registration).await?;
    Ok(Json((&saved).into()))
}
