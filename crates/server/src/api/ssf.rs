//! The Shared Signals transmitter over HTTP (OpenID SSF 1.0; docs/events.md): the transmitter configuration at
//! `/.well-known/ssf-configuration` (public), and a relying party's stream management under `/ssf/streams` — its
//! configuration, status, subjects and verification — (its API client's bearer token with `ssf:streams`). Bodies are SSF's JSON; handlers parse and call one
//! function of `crate::service::ssf`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::Value;
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::ApiJson;
use crate::AppState;
use crate::auth::Authenticated;
use crate::problem::{ApiError, Problem};
use crate::service::ssf::{self as service, Change, SubjectChange};

#[derive(OpenApi)]
#[openapi(
    paths(
        create_stream,
        read_streams,
        update_stream,
        replace_stream,
        delete_stream,
        read_stream_status,
        set_stream_status,
        add_subject,
        remove_subject,
        verify_stream,
        poll_events,
        list_dead_letters,
        replay_dead_letter
    ),
    components(schemas(DeadLetter)),
    tags((name = "ssf", description = "Shared Signals (OpenID SSF 1.0): a relying party's event stream"))
)]
pub struct Doc;

/// The public transmitter configuration.
pub fn public_routes() -> Router<AppState> {
    Router::new().route(service::CONFIGURATION_PATH, get(transmitter_configuration))
}

/// The stream management endpoints (bearer token with `ssf:streams`).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            service::STREAMS_PATH,
            get(read_streams).post(create_stream).patch(update_stream).put(replace_stream).delete(delete_stream),
        )
        .route(service::STATUS_PATH, get(read_stream_status).post(set_stream_status))
        .route(service::ADD_SUBJECT_PATH, axum::routing::post(add_subject))
        .route(service::REMOVE_SUBJECT_PATH, axum::routing::post(remove_subject))
        .route(service::VERIFY_PATH, axum::routing::post(verify_stream))
        .route(service::POLL_PATH, axum::routing::post(poll_events))
        .route("/v1/ssf/dead-letters", get(list_dead_letters))
        .route("/v1/ssf/dead-letters/{id}/replay", axum::routing::post(replay_dead_letter))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// The stream (the one its `POST` answered).
    pub stream_id: Option<String>,
}

async fn transmitter_configuration(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let issuer = super::oidc::issuer_of(&state, &headers)?;
    let mut response = Json(service::transmitter_configuration(&state, &issuer)).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    Ok(response)
}

/// Creates the caller's stream (SSF §8.1.1.1): `delivery` (`urn:ietf:rfc:8935` push with an `https`
/// `endpoint_url` and optional `authorization_header`, or `urn:ietf:rfc:8936` poll), `events_requested`,
/// `description`. One stream per client. Events are not delivered yet (docs/events.md).
#[utoipa::path(
    post, path = "/ssf/streams", operation_id = "createStream", tag = "ssf",
    security(("bearer" = [])),
    request_body(content = Object, description = "The stream configuration's receiver-supplied members"),
    responses(
        (status = 201, description = "The stream's configuration", body = Object),
        (status = 400, description = "`urn:dinhdanh:problem:invalid-stream`: not a usable configuration; `errors` names the member", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`urn:dinhdanh:problem:conflict`: the client has a stream already", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_stream(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let issuer = super::oidc::issuer_of(&state, &headers)?;
    Ok((StatusCode::CREATED, Json(service::create(&state, &issuer, &actor, &body).await?)))
}

/// Reads the caller's stream by `stream_id`, or lists the caller's streams (at most one) without it.
#[utoipa::path(
    get, path = "/ssf/streams", operation_id = "readStreams", tag = "ssf",
    security(("bearer" = [])),
    params(StreamQuery),
    responses(
        (status = 200, description = "The stream's configuration, or a list of them", body = Object),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such stream of this client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn read_streams(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    Query(query): Query<StreamQuery>,
) -> Result<Json<Value>, ApiError> {
    let issuer = super::oidc::issuer_of(&state, &headers)?;
    Ok(Json(service::read(&state, &issuer, &actor, query.stream_id.as_deref()).await?))
}

/// Updates the members given (SSF §8.1.1.3); the body names its `stream_id`.
#[utoipa::path(
    patch, path = "/ssf/streams", operation_id = "updateStream", tag = "ssf",
    security(("bearer" = [])),
    request_body(content = Object, description = "`stream_id` and the members to change"),
    responses(
        (status = 200, description = "The stream's configuration", body = Object),
        (status = 400, description = "`urn:dinhdanh:problem:invalid-stream`: `errors` names the member", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_stream(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let issuer = super::oidc::issuer_of(&state, &headers)?;
    Ok(Json(service::change(&state, &issuer, &actor, &body, Change::Update).await?))
}

/// Replaces the receiver-supplied members (SSF §8.1.1.4); the body names its `stream_id`.
#[utoipa::path(
    put, path = "/ssf/streams", operation_id = "replaceStream", tag = "ssf",
    security(("bearer" = [])),
    request_body(content = Object, description = "`stream_id` and the whole configuration"),
    responses(
        (status = 200, description = "The stream's configuration", body = Object),
        (status = 400, description = "`urn:dinhdanh:problem:invalid-stream`: `errors` names the member", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn replace_stream(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let issuer = super::oidc::issuer_of(&state, &headers)?;
    Ok(Json(service::change(&state, &issuer, &actor, &body, Change::Replace).await?))
}

/// Deletes the caller's stream (SSF §8.1.1.5).
#[utoipa::path(
    delete, path = "/ssf/streams", operation_id = "deleteStream", tag = "ssf",
    security(("bearer" = [])),
    params(StreamQuery),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_stream(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Query(query): Query<StreamQuery>,
) -> Result<StatusCode, ApiError> {
    service::delete(&state, &actor, query.stream_id.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The stream's status (SSF §8.1.2.1): `enabled`, `paused` or `disabled`, with the reason given.
#[utoipa::path(
    get, path = "/ssf/streams/status", operation_id = "readStreamStatus", tag = "ssf",
    security(("bearer" = [])),
    params(StreamQuery),
    responses(
        (status = 200, description = "`{stream_id, status, reason?}`", body = Object),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn read_stream_status(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    Query(query): Query<StreamQuery>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(service::status(&state, &actor, query.stream_id.as_deref()).await?))
}

/// Sets the stream's status (SSF §8.1.2.2): `{stream_id, status, reason?}`.
#[utoipa::path(
    post, path = "/ssf/streams/status", operation_id = "setStreamStatus", tag = "ssf",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{stream_id, status, reason?}`"),
    responses(
        (status = 200, description = "`{stream_id, status, reason?}`", body = Object),
        (status = 400, description = "`urn:dinhdanh:problem:invalid-stream`: `errors` names the member", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn set_stream_status(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(service::set_status(&state, &actor, &body).await?))
}

/// Adds a subject back to the stream (SSF §8.1.3.2): `{stream_id, subject, verified?}`, the subject in the
/// `iss_sub` format (the relying party's `sub`, this issuer). Answered `200` alike whether or not the subject is
/// one of the relying party's (no answer tells whether an identity has an account).
#[utoipa::path(
    post, path = "/ssf/streams/subjects/add", operation_id = "addSubject", tag = "ssf",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{stream_id, subject: {format: \"iss_sub\", iss, sub}, verified?}`"),
    responses(
        (status = 200, description = "Added (its events are queued for the stream again)"),
        (status = 400, description = "`urn:dinhdanh:problem:invalid-stream`: an unsupported subject format, another issuer, or a bad member", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such stream of this client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_subject(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode, ApiError> {
    let issuer = super::oidc::issuer_of(&state, &headers)?;
    service::change_subject(&state, &issuer, &actor, &body, SubjectChange::Add).await?;
    Ok(StatusCode::OK)
}

/// Removes a subject from the stream (SSF §8.1.3.3): `{stream_id, subject}`; its events are no longer queued for
/// the stream. Answered `204` alike whether or not the subject is one of the relying party's.
#[utoipa::path(
    post, path = "/ssf/streams/subjects/remove", operation_id = "removeSubject", tag = "ssf",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{stream_id, subject: {format: \"iss_sub\", iss, sub}}`"),
    responses(
        (status = 204, description = "Removed"),
        (status = 400, description = "`urn:dinhdanh:problem:invalid-stream`: an unsupported subject format, another issuer, or a bad member", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such stream of this client", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn remove_subject(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode, ApiError> {
    let issuer = super::oidc::issuer_of(&state, &headers)?;
    service::change_subject(&state, &issuer, &actor, &body, SubjectChange::Remove).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Asks for a verification event on the stream (SSF §8.1.4.2): `{stream_id, state?}`. The event (its subject
/// the stream, `opaque`; `state` echoed) is queued and delivered as the stream's other events are.
#[utoipa::path(
    post, path = "/ssf/streams/verify", operation_id = "verifyStream", tag = "ssf",
    security(("bearer" = [])),
    request_body(content = Object, description = "`{stream_id, state?}`"),
    responses(
        (status = 204, description = "Queued"),
        (status = 400, description = "`urn:dinhdanh:problem:invalid-stream`: a bad member", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such stream of this client", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`urn:dinhdanh:problem:too-many-requests`: within `min_verification_interval` of the last request; `Retry-After` says when", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn verify_stream(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    ApiJson(body): ApiJson<Value>,
) -> Result<StatusCode, ApiError> {
    service::verify(&state, &actor, &body).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Poll delivery (RFC 8936): `{ack?, setErrs?, maxEvents?, returnImmediately?}` acknowledges events and answers
/// `{sets: {jti: SET}, moreAvailable}`, the caller's stream's unacknowledged Security Event Tokens, oldest first
/// (signed ES256 with the provider's current key, `typ: secevent+jwt`). Without `returnImmediately` an empty
/// answer waits up to 10 seconds.
#[utoipa::path(
    post, path = "/ssf/poll", operation_id = "pollEvents", tag = "ssf",
    security(("bearer" = [])),
    request_body(content = Object, description = "RFC 8936 §2.4: `ack`, `setErrs`, `maxEvents`, `returnImmediately`"),
    responses(
        (status = 200, description = "`{sets, moreAvailable}`", body = Object),
        (status = 400, description = "`urn:dinhdanh:problem:invalid-stream`: a bad member, or a push stream", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: the client has no stream", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn poll_events(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let issuer = super::oidc::issuer_of(&state, &headers)?;
    Ok(Json(service::poll(&state, &issuer, &actor, &body).await?))
}

/// An event a receiver refused (`400`) or never took (30 failed pushes).
#[derive(Debug, serde::Serialize, ToSchema)]
pub struct DeadLetter {
    pub id: String,
    pub stream_id: String,
    /// The relying party's API client.
    pub client_id: String,
    /// The relying party's name.
    pub relying_party: String,
    pub jti: String,
    /// The event's type URI.
    pub event_type: String,
    pub attempts: i64,
    /// The receiver's `err` and description, or what the pushes met.
    pub last_error: Option<String>,
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub dead_at: chrono::DateTime<chrono::Utc>,
}

/// The dead letters, newest first (administrators).
#[utoipa::path(
    get, path = "/v1/ssf/dead-letters", operation_id = "listDeadLetters", tag = "ssf",
    security(("bearer" = [])),
    responses((status = 200, description = "At most 500, newest first", body = Vec<DeadLetter>))
)]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
) -> Result<Json<Vec<DeadLetter>>, ApiError> {
    let dead = service::dead_letters(&state, &actor).await?;
    Ok(Json(
        dead.into_iter()
            .map(|d| DeadLetter {
                id: d.id.to_string(),
                stream_id: d.stream_id,
                client_id: d.client_id,
                relying_party: d.relying_party,
                jti: d.jti,
                event_type: d.event_type,
                attempts: d.attempts,
                last_error: d.last_error,
                dead_at: d.dead_at,
            })
            .collect(),
    ))
}

/// Sends a dead letter again: back to its stream's queue, pushed at the next round (administrators).
#[utoipa::path(
    post, path = "/v1/ssf/dead-letters/{id}/replay", operation_id = "replayDeadLetter", tag = "ssf",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The dead letter")),
    responses(
        (status = 204, description = "Queued again"),
        (status = 404, description = "`urn:dinhdanh:problem:not-found`: no such dead letter", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn replay_dead_letter(
    State(state): State<AppState>,
    Authenticated(actor): Authenticated,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<StatusCode, ApiError> {
    service::replay(&state, &actor, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}
