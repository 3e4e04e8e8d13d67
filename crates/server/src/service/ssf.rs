//! The Shared Signals transmitter's management side (OpenID SSF 1.0 §7 and §8.1; issue 17, docs/events.md): the
//! transmitter configuration, and a relying party's own stream — create, read, update, replace, delete, and its
//! status — for that relying party's API client holding the `ssf:streams` scope. A client has at most one
//! stream (SSF lets a transmitter say so with `409`), and reaches only its own: another's stream id answers
//! `404`, as one that does not exist. Every change is one transaction and leaves an audit record.
//!
//! Not yet here (docs/events.md): the fan-out of the accounts' event feed into streams, signed delivery (push and
//! poll), subjects and verification.

use chrono::{DateTime, Utc};
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authorization::Action;
use dinhdanh_oidc::metadata::Issuer;
use dinhdanh_oidc::ssf::{self, StreamSettings, StreamStatus};
use dinhdanh_store::{AuditEntry, StoredStream};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::authorize;
use crate::problem::ApiError;

pub const STREAMS_PATH: &str = "/ssf/streams";
pub const STATUS_PATH: &str = "/ssf/streams/status";
/// Where a poll stream's receiver will fetch its events (RFC 8936), given as its `endpoint_url`.
pub const POLL_PATH: &str = "/ssf/poll";
pub const CONFIGURATION_PATH: &str = "/.well-known/ssf-configuration";

/// `GET /.well-known/ssf-configuration` (SSF §7.1): what this transmitter offers and where.
pub fn transmitter_configuration(state: &AppState, issuer: &Issuer) -> Value {
    json!({
        "spec_version": ssf::SPEC_VERSION,
        "issuer": issuer.as_str(),
        "jwks_uri": issuer.url(&state.oidc.paths.jwks),
        "delivery_methods_supported": [ssf::PUSH, ssf::POLL],
        "configuration_endpoint": issuer.url(STREAMS_PATH),
        "status_endpoint": issuer.url(STATUS_PATH),
        "authorization_schemes": [{"spec_urn": "urn:ietf:rfc:6749"}],
        "default_subjects": "ALL",
    })
}

/// The calling relying party's API client, once the table allowed it.
async fn receiver(state: &AppState, actor: &Actor) -> Result<String, ApiError> {
    authorize(state, actor, Action::ManageEventStream).await?;
    match actor {
        Actor::Organization { client_id, .. } => Ok(client_id.clone()),
        _ => Err(ApiError::Forbidden { action: Action::ManageEventStream.as_str() }),
    }
}

fn invalid(error: ssf::StreamError) -> ApiError {
    // SSF answers an unusable configuration with 400 (§8.1.1.1).
    ApiError::InvalidStream(crate::problem::FieldError { field: error.field.to_owned(), message: error.message })
}

fn settings_of(stream: &StoredStream) -> Result<StreamSettings, ApiError> {
    StreamSettings::parse(&stream.settings).map_err(|e| ApiError::internal(format!("stored stream settings: {e}")))
}

/// A stream's configuration as its receiver reads it.
fn configuration(issuer: &Issuer, stream: &StoredStream) -> Result<Value, ApiError> {
    Ok(settings_of(stream)?.configuration(&stream.id, issuer.as_str(), &stream.client_id, &issuer.url(POLL_PATH)))
}

/// The `stream_id` query parameter, checked after the authorization (a refused caller learns nothing).
fn named(stream_id: Option<&str>) -> Result<&str, ApiError> {
    stream_id.ok_or_else(|| ApiError::field("stream_id", "name the stream"))
}

fn no_stream() -> ApiError {
    ApiError::NotFound { what: "stream" }
}

fn entry(actor: &Actor, action: &'static str, stream: &str, detail: Value, at: DateTime<Utc>) -> AuditEntry {
    AuditEntry { at, actor: actor.audit_name(), action, subject: Some(stream.to_owned()), outcome: "ok", detail }
}

/// `POST /ssf/streams`: creates the client's stream, enabled.
pub async fn create(state: &AppState, issuer: &Issuer, actor: &Actor, body: &Value) -> Result<Value, ApiError> {
    let client_id = receiver(state, actor).await?;
    let settings = StreamSettings::parse(body).map_err(invalid)?;
    let now = state.clock.now();
    let stream = StoredStream {
        id: uuid::Uuid::new_v4().to_string(),
        client_id,
        settings: settings.to_json(),
        status: StreamStatus::Enabled,
        status_reason: None,
        created_at: now,
        updated_at: now,
    };
    let mut tx = state.store.begin().await?;
    if !tx.insert_ssf_stream(&stream).await? {
        return Err(ApiError::Conflict { what: "a stream for this client (one per receiver)".to_owned() });
    }
    tx.audit(entry(actor, "ssf.stream.create", &stream.id, json!({"delivery": delivery_method(&settings)}), now))
        .await?;
    tx.commit().await?;
    configuration(issuer, &stream)
}

fn delivery_method(settings: &StreamSettings) -> &'static str {
    match settings.delivery {
        ssf::Delivery::Push { .. } => ssf::PUSH,
        ssf::Delivery::Poll => ssf::POLL,
    }
}

/// `GET /ssf/streams[?stream_id=…]`: the client's stream, or all of them (at most one) as a list.
pub async fn read(
    state: &AppState,
    issuer: &Issuer,
    actor: &Actor,
    stream_id: Option<&str>,
) -> Result<Value, ApiError> {
    let client_id = receiver(state, actor).await?;
    let stream = state.store.ssf_stream_of_client(&client_id).await?;
    match stream_id {
        Some(id) => match stream.filter(|s| s.id == id) {
            Some(stream) => configuration(issuer, &stream),
            None => Err(no_stream()),
        },
        None => Ok(Value::Array(stream.iter().map(|s| configuration(issuer, s)).collect::<Result<_, _>>()?)),
    }
}

/// How a configuration change applies: `PATCH` changes the members given, `PUT` replaces them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Update,
    Replace,
}

/// `PATCH` / `PUT /ssf/streams`: the body names its `stream_id`.
pub async fn change(
    state: &AppState,
    issuer: &Issuer,
    actor: &Actor,
    body: &Value,
    how: Change,
) -> Result<Value, ApiError> {
    let client_id = receiver(state, actor).await?;
    let Some(id) = body.get("stream_id").and_then(Value::as_str) else {
        return Err(invalid(ssf::StreamError { field: "stream_id", message: "name the stream to change".into() }));
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let Some(mut stream) = tx.lock_ssf_stream(id, &client_id).await? else { return Err(no_stream()) };
    let settings = match how {
        Change::Update => settings_of(&stream)?.updated(body),
        Change::Replace => StreamSettings::parse(body),
    }
    .map_err(invalid)?;
    stream.settings = settings.to_json();
    stream.updated_at = now;
    tx.update_ssf_stream(&stream).await?;
    let action = if how == Change::Update { "ssf.stream.update" } else { "ssf.stream.replace" };
    tx.audit(entry(actor, action, &stream.id, json!({"delivery": delivery_method(&settings)}), now)).await?;
    tx.commit().await?;
    configuration(issuer, &stream)
}

/// `DELETE /ssf/streams?stream_id=…`.
pub async fn delete(state: &AppState, actor: &Actor, stream_id: Option<&str>) -> Result<(), ApiError> {
    let client_id = receiver(state, actor).await?;
    let stream_id = named(stream_id)?;
    let mut tx = state.store.begin().await?;
    if !tx.delete_ssf_stream(stream_id, &client_id).await? {
        return Err(no_stream());
    }
    tx.audit(entry(actor, "ssf.stream.delete", stream_id, json!({}), state.clock.now())).await?;
    tx.commit().await?;
    Ok(())
}

fn status_body(stream: &StoredStream) -> Value {
    let mut body = json!({"stream_id": stream.id, "status": stream.status.as_str()});
    if let Some(reason) = &stream.status_reason {
        body["reason"] = json!(reason);
    }
    body
}

/// `GET /ssf/streams/status?stream_id=…` (SSF §8.1.2.1).
pub async fn status(state: &AppState, actor: &Actor, stream_id: Option<&str>) -> Result<Value, ApiError> {
    let client_id = receiver(state, actor).await?;
    let stream_id = named(stream_id)?;
    match state.store.ssf_stream_of_client(&client_id).await?.filter(|s| s.id == stream_id) {
        Some(stream) => Ok(status_body(&stream)),
        None => Err(no_stream()),
    }
}

/// `POST /ssf/streams/status` `{stream_id, status, reason?}` (SSF §8.1.2.2).
pub async fn set_status(state: &AppState, actor: &Actor, body: &Value) -> Result<Value, ApiError> {
    let client_id = receiver(state, actor).await?;
    let field = |name: &str| body.get(name).and_then(Value::as_str);
    let Some(id) = field("stream_id") else {
        return Err(invalid(ssf::StreamError { field: "stream_id", message: "name the stream".into() }));
    };
    let Some(status) = field("status").and_then(StreamStatus::parse) else {
        return Err(invalid(ssf::StreamError { field: "status", message: "enabled, paused or disabled".into() }));
    };
    let reason = match body.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.chars().count() <= ssf::MAX_DESCRIPTION => Some(text.clone()),
        Some(_) => {
            return Err(invalid(ssf::StreamError {
                field: "reason",
                message: "a string of at most 256 characters".into(),
            }));
        }
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let Some(mut stream) = tx.lock_ssf_stream(id, &client_id).await? else { return Err(no_stream()) };
    let previous = stream.status;
    stream.status = status;
    stream.status_reason = reason;
    stream.updated_at = now;
    tx.update_ssf_stream(&stream).await?;
    let detail = json!({"previous": previous.as_str(), "status": status.as_str()});
    tx.audit(entry(actor, "ssf.stream.status", &stream.id, detail, now)).await?;
    tx.commit().await?;
    Ok(status_body(&stream))
}
