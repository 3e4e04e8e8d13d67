//! The Shared Signals transmitter's management side (OpenID SSF 1.0 §7 and §8.1; issue 17, docs/events.md): the
//! transmitter configuration, and a relying party's own stream — create, read, update, replace, delete, and its
//! status — for that relying party's API client holding the `ssf:streams` scope. A client has at most one
//! stream (SSF lets a transmitter say so with `409`), and reaches only its own: another's stream id answers
//! `404`, as one that does not exist. Every change is one transaction and leaves an audit record.
//!
//! And the delivery side: [`fan_out`] turns the accounts' event feed into each stream's queue (one transaction
//! per account event, taken so that two workers never queue it twice), and [`poll`] answers a poll stream's
//! receiver (RFC 8936) with its queued events signed as Security Event Tokens with the provider's current key,
//! until it acknowledges them; [`deliver_pushes`] pushes a push stream's events to its receiver (RFC 8935), one at
//! a time and in order, retrying with exponential backoff and leaving a dead letter when the receiver refuses an
//! event or the tries run out.
//!
//! And a receiver's subjects and verification (SSF §8.1.3, §8.1.4): [`change_subject`] removes a subject from
//! the stream or adds it back — answered alike whether or not the relying party knows that subject, so that it is
//! no oracle for who has an account — and [`verify`] queues a verification event, at most one per
//! `min_verification_interval`.

use chrono::{DateTime, Utc};
use dinhdanh_domain::Level;
use dinhdanh_domain::account::AccountEventKind;
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authorization::Action;
use dinhdanh_oidc::client::ClientRegistration;
use dinhdanh_oidc::keys::TokenType;
use dinhdanh_oidc::metadata::Issuer;
use dinhdanh_oidc::ssf::{self, Event, StreamSettings, StreamStatus, Subject};
use dinhdanh_oidc::subject::{SubjectSalt, subject_for};
use dinhdanh_store::{AccountEvent, AuditEntry, StoredStream};
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::authorize;
use crate::problem::ApiError;

pub const STREAMS_PATH: &str = "/ssf/streams";
pub const STATUS_PATH: &str = "/ssf/streams/status";
/// Where a poll stream's receiver will fetch its events (RFC 8936), given as its `endpoint_url`.
pub const POLL_PATH: &str = "/ssf/poll";
pub const CONFIGURATION_PATH: &str = "/.well-known/ssf-configuration";
pub const ADD_SUBJECT_PATH: &str = "/ssf/streams/subjects/add";
pub const REMOVE_SUBJECT_PATH: &str = "/ssf/streams/subjects/remove";
pub const VERIFY_PATH: &str = "/ssf/streams/verify";
/// The longest `state` a verification request may carry.
const MAX_STATE: usize = 1024;

/// `GET /.well-known/ssf-configuration` (SSF §7.1): what this transmitter offers and where.
pub fn transmitter_configuration(state: &AppState, issuer: &Issuer) -> Value {
    json!({
        "spec_version": ssf::SPEC_VERSION,
        "issuer": issuer.as_str(),
        "jwks_uri": issuer.url(&state.oidc.paths.jwks),
        "delivery_methods_supported": [ssf::PUSH, ssf::POLL],
        "configuration_endpoint": issuer.url(STREAMS_PATH),
        "status_endpoint": issuer.url(STATUS_PATH),
        "add_subject_endpoint": issuer.url(ADD_SUBJECT_PATH),
        "remove_subject_endpoint": issuer.url(REMOVE_SUBJECT_PATH),
        "verification_endpoint": issuer.url(VERIFY_PATH),
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
        issuer: issuer.as_str().to_owned(),
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
    let id = body_stream_id(body)?;
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

/// Whether a receiver adds a subject to its stream or removes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubjectChange {
    Add,
    Remove,
}

/// The body's `stream_id`, checked after the authorization.
fn body_stream_id(body: &Value) -> Result<&str, ApiError> {
    body.get("stream_id")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(ssf::StreamError { field: "stream_id", message: "name the stream".into() }))
}

/// `POST /ssf/streams/subjects/add` and `/remove` `{stream_id, subject, verified?}` (SSF §8.1.3.2, §8.1.3.3).
/// The stream's subjects are all those of the relying party by default (`default_subjects: "ALL"`); a removed
/// subject's events are no longer queued for the stream, and adding it back queues them again. The subject is
/// the relying party's `iss_sub` (its `sub`, this issuer). Whether that `sub` is one of the relying party's is
/// never looked up: an unknown one is recorded and answered exactly as a known one (SSF lets a transmitter
/// stay silent, §8.1.3.2 and §9.1 "Subject Probing"), so the endpoint tells no one whether an identity has an
/// account. One transaction, audited.
pub async fn change_subject(
    state: &AppState,
    issuer: &Issuer,
    actor: &Actor,
    body: &Value,
    how: SubjectChange,
) -> Result<(), ApiError> {
    let client_id = receiver(state, actor).await?;
    let id = body_stream_id(body)?;
    let verified = match body.get("verified") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(verified)) if how == SubjectChange::Add => Some(*verified),
        Some(_) => {
            let message = if how == SubjectChange::Add { "true or false" } else { "only when a subject is added" };
            return Err(invalid(ssf::StreamError { field: "verified", message: message.into() }));
        }
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let Some(stream) = tx.lock_ssf_stream(id, &client_id).await? else { return Err(no_stream()) };
    let subject =
        Subject::parse(body.get("subject").unwrap_or(&Value::Null), issuer_of(&stream, issuer)).map_err(invalid)?;
    let (action, changed) = match how {
        SubjectChange::Add => ("ssf.subject.add", tx.add_subject(&stream.id, &subject.sub).await?),
        SubjectChange::Remove => ("ssf.subject.remove", tx.remove_subject(&stream.id, &subject.sub, now).await?),
    };
    let detail = json!({"sub": subject.sub, "changed": changed, "verified": verified});
    tx.audit(entry(actor, action, &stream.id, detail, now)).await?;
    tx.commit().await?;
    Ok(())
}

/// `POST /ssf/streams/verify` `{stream_id, state?}` (SSF §8.1.4.2): queues a verification event for the stream,
/// its subject the stream (`opaque`), echoing `state`; delivered by push or poll as every other event (a disabled
/// stream is given none, as it is given nothing). A second request within `min_verification_interval` is
/// answered `429`. One transaction, audited.
pub async fn verify(state: &AppState, actor: &Actor, body: &Value) -> Result<(), ApiError> {
    let client_id = receiver(state, actor).await?;
    let id = body_stream_id(body)?;
    let verification_state = match body.get("state") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if !text.is_empty() && text.len() <= MAX_STATE => Some(text.as_str()),
        Some(_) => {
            let message = format!("a string of 1 to {MAX_STATE} bytes");
            return Err(invalid(ssf::StreamError { field: "state", message }));
        }
    };
    let now = state.clock.now();
    let interval = ssf::MIN_VERIFICATION_INTERVAL_SECONDS;
    let mut tx = state.store.begin().await?;
    let Some(stream) = tx.lock_ssf_stream(id, &client_id).await? else { return Err(no_stream()) };
    if !tx.take_verification_slot(&stream.id, now, now - chrono::Duration::seconds(interval)).await? {
        return Err(ApiError::TooManyRequests { retry_after_seconds: interval });
    }
    let queued = stream.status != StreamStatus::Disabled;
    if queued {
        let jti = uuid::Uuid::new_v4().to_string();
        let claims = ssf::verification_claims(&stream.client_id, &jti, now.timestamp(), &stream.id, verification_state);
        tx.queue_ssf_event(&stream.id, &jti, &claims, now).await?;
    }
    let detail = json!({"state_given": verification_state.is_some(), "queued": queued});
    tx.audit(entry(actor, "ssf.stream.verify", &stream.id, detail, now)).await?;
    tx.commit().await?;
    if queued {
        metrics::counter!("dinhdanh_ssf_events_queued_total").increment(1);
    }
    Ok(())
}

/// How many of the feed's events one [`fan_out`] takes.
const FAN_OUT_BATCH: i64 = 500;
/// Feed events fanned out per transaction.
const FAN_OUT_PER_TRANSACTION: usize = 200;
/// `maxEvents` when the receiver names none, and the most one poll answers.
const DEFAULT_MAX_EVENTS: i64 = 100;
const MAX_EVENTS: i64 = 1000;
/// How long a poll without `returnImmediately` waits for an event (RFC 8936 §2.4 lets the transmitter choose).
const LONG_POLL: std::time::Duration = std::time::Duration::from_secs(10);

/// The SSF events one account event becomes for a relying party: `disabled` is `account-disabled`, and
/// `session-revoked` when that relying party had a live session (a grant) then; `enabled` is
/// `account-enabled`; `level_changed` is `assurance-level-change`.
fn events_of(event: &AccountEvent, had_session: bool) -> Vec<Event> {
    let at = event.occurred_at.timestamp();
    match event.kind {
        AccountEventKind::Disabled if had_session => vec![Event::AccountDisabled, Event::SessionRevoked { at }],
        AccountEventKind::Disabled => vec![Event::AccountDisabled],
        AccountEventKind::Enabled => vec![Event::AccountEnabled],
        AccountEventKind::LevelChanged => {
            let level = |name: &str| event.detail[name].as_i64().and_then(Level::from_number);
            match (level("previous"), level("current")) {
                (Some(previous), Some(current)) => vec![Event::AssuranceLevelChange { previous, current, at }],
                _ => Vec::new(),
            }
        }
    }
}

/// Gives the accounts' pending events to the streams of the relying parties that know each account (those it
/// signed in to), each relying party under its own pairwise `sub`, and only the types its stream asked for.
/// Returns how many feed events it looked at and how many SSF events it queued. Safe to run on several nodes
/// at once.
pub async fn fan_out(state: &AppState) -> Result<FannedOut, ApiError> {
    let pending = state.store.pending_account_events(FAN_OUT_BATCH).await?;
    if pending.is_empty() {
        return Ok(FannedOut::default());
    }
    let salt = crate::service::oidc::subject_salt(state).await?;
    let mut queued = 0;
    // Each relying party's registration, read once per run (not once per event and stream).
    let mut registrations = std::collections::HashMap::new();
    // A few hundred events a transaction (a bulk order's thousands leave in seconds), each taken by the
    // conditional update that only one worker or node can win.
    for chunk in pending.chunks(FAN_OUT_PER_TRANSACTION) {
        let now = state.clock.now();
        let mut tx = state.store.begin().await?;
        queued += fan_out_chunk(state, &mut tx, chunk, salt, &mut registrations, now).await?;
        tx.commit().await?;
    }
    metrics::counter!("dinhdanh_ssf_events_queued_total").increment(queued as u64);
    Ok(FannedOut { events: pending.len(), queued })
}

/// What a [`fan_out`] did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FannedOut {
    /// Feed events it looked at (a full batch: there may be more).
    pub events: usize,
    /// SETs it queued.
    pub queued: usize,
}

/// [`fan_out`]'s work on `events` in one transaction: how many events it queued.
async fn fan_out_chunk(
    state: &AppState,
    tx: &mut dinhdanh_store::Tx,
    events: &[AccountEvent],
    salt: &SubjectSalt,
    registrations: &mut std::collections::HashMap<String, Option<ClientRegistration>>,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
    let taken: std::collections::HashSet<i64> = tx.claim_account_events(&ids, now).await?.into_iter().collect();
    // Whether each stream met in this chunk has removed subjects (most have none: no lookup per event then).
    let mut with_removals = std::collections::HashMap::new();
    let mut queue = Vec::new();
    for event in events.iter().filter(|e| taken.contains(&e.id)) {
        for (stream, had_session) in tx.streams_knowing(&event.account_id, event.occurred_at).await? {
            if !registrations.contains_key(&stream.client_id) {
                let registration = state.store.oidc_client(&stream.client_id).await?;
                registrations.insert(stream.client_id.clone(), registration);
            }
            let Some(Some(registration)) = registrations.get(&stream.client_id) else { continue };
            let sector = registration
                .sector()
                .map_err(|e| ApiError::internal(format!("a saved registration is invalid: {e}")))?;
            let sub = subject_for(registration.subject_type, &sector, &event.account_id, salt);
            let removals = match with_removals.get(&stream.id) {
                Some(removals) => *removals,
                None => {
                    let removals = tx.stream_has_removed_subjects(&stream.id).await?;
                    with_removals.insert(stream.id.clone(), removals);
                    removals
                }
            };
            if removals && tx.subject_removed(&stream.id, &sub).await? {
                continue;
            }
            // The issuer is added when the event is signed, with the request's (`poll`).
            let subject = Subject { iss: String::new(), sub };
            let wanted = settings_of(&stream)?.events_delivered();
            for ssf_event in events_of(event, had_session).into_iter().filter(|e| wanted.contains(&e.event_type())) {
                let jti = uuid::Uuid::new_v4().to_string();
                let claims = ssf::set_claims(
                    "",
                    &stream.client_id,
                    &jti,
                    now.timestamp(),
                    Some(&event.txn),
                    Some(&subject),
                    &ssf_event,
                );
                queue.push(dinhdanh_store::QueuedForStream { stream_id: stream.id.clone(), jti, claims });
            }
        }
    }
    tx.queue_ssf_events(&queue, now).await?;
    Ok(queue.len())
}

/// A queued event's claims with the issuer, signed (`typ: secevent+jwt`, ES256, the current key).
fn signed(keys: &dinhdanh_oidc::keys::KeySet, issuer: &str, mut claims: Value) -> Result<String, ApiError> {
    claims["iss"] = json!(issuer);
    // An account's subject is `iss_sub` with this issuer; a verification event's (`opaque`) has none.
    if let Some(subject) = claims.get_mut("sub_id").filter(|s| s["format"] == "iss_sub") {
        subject["iss"] = json!(issuer);
    }
    keys.sign(&claims, TokenType::SecurityEvent).map_err(|e| ApiError::internal(format!("signing a SET: {e}")))
}

/// `POST /ssf/poll` (RFC 8936 §2.4): acknowledges `ack`, records the receiver's `setErrs`, then answers up to
/// `maxEvents` of the caller's stream's unacknowledged events as `{"sets": {jti: SET}, "moreAvailable"}`,
/// oldest first; they come again until acknowledged. Without `returnImmediately`, an empty answer waits up to
/// 10 seconds for an event. A paused stream keeps its events and answers none; a disabled one has none.
pub async fn poll(state: &AppState, issuer: &Issuer, actor: &Actor, body: &Value) -> Result<Value, ApiError> {
    authorize(state, actor, Action::ReceiveEvents).await?;
    let Actor::Organization { client_id, .. } = actor else {
        return Err(ApiError::Forbidden { action: Action::ReceiveEvents.as_str() });
    };
    let bad = |field: &'static str, message: &str| invalid(ssf::StreamError { field, message: message.to_owned() });
    let acks: Vec<String> = match body.get("ack") {
        None => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(|| bad("ack", "a list of jti strings")))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(bad("ack", "a list of jti strings")),
    };
    let max_events = match body.get("maxEvents") {
        None => DEFAULT_MAX_EVENTS,
        Some(v) => v.as_i64().filter(|n| (0..=MAX_EVENTS).contains(n)).ok_or_else(|| bad("maxEvents", "0 to 1000"))?,
    };
    let immediately = match body.get("returnImmediately") {
        None => false,
        Some(v) => v.as_bool().ok_or_else(|| bad("returnImmediately", "true or false"))?,
    };
    let Some(stream) = state.store.ssf_stream_of_client(client_id).await? else {
        return Err(no_stream());
    };
    if !matches!(settings_of(&stream)?.delivery, ssf::Delivery::Poll) {
        return Err(bad("delivery", "this stream is pushed, not polled"));
    }
    let now = state.clock.now();
    if !acks.is_empty() || body.get("setErrs").is_some_and(|e| e.as_object().is_some_and(|m| !m.is_empty())) {
        let mut tx = state.store.begin().await?;
        let acked = tx.ack_ssf_events(&stream.id, &acks, now).await?;
        let errors = body.get("setErrs").cloned().unwrap_or(Value::Null);
        tx.audit(entry(actor, "ssf.events.ack", &stream.id, json!({"acked": acked, "set_errors": errors}), now))
            .await?;
        tx.commit().await?;
    }
    if max_events == 0 || stream.status != StreamStatus::Enabled {
        return Ok(json!({"sets": {}, "moreAvailable": false}));
    }
    let deadline = tokio::time::Instant::now() + if immediately { std::time::Duration::ZERO } else { LONG_POLL };
    loop {
        fan_out(state).await?;
        let (events, more) = state.store.unacked_ssf_events(&stream.id, max_events).await?;
        if !events.is_empty() || tokio::time::Instant::now() >= deadline {
            let keys = crate::service::oidc::key_set(state, state.clock.now()).await?;
            let mut sets = serde_json::Map::new();
            for event in events {
                sets.insert(event.jti, json!(signed(&keys, issuer_of(&stream, issuer), event.claims)?));
            }
            return Ok(json!({"sets": sets, "moreAvailable": more}));
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// The issuer a stream's SETs carry: the one it was created under (a stream made before that was kept: the
/// request's).
fn issuer_of<'a>(stream: &'a StoredStream, fallback: &'a Issuer) -> &'a str {
    if stream.issuer.is_empty() { fallback.as_str() } else { &stream.issuer }
}

/// A push (RFC 8935 §2) is given this long to be answered.
pub const PUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Failed pushes of one event before it is a dead letter: with the backoff below, about a day of trying.
pub const MAX_PUSH_ATTEMPTS: i64 = 30;
/// The longest wait between two tries.
const MAX_BACKOFF_SECONDS: i64 = 3600;
/// How long a worker holds a stream while it pushes it.
const PUSH_LEASE_SECONDS: i64 = 60;
/// Events read from a stream's queue at a time.
const PUSH_BATCH: i64 = 200;

/// The wait after the `attempts`-th failure: 1, 2, 4 … seconds, at most an hour.
pub fn backoff(attempts: i64) -> chrono::Duration {
    let exponent = (attempts - 1).clamp(0, 30) as u32;
    chrono::Duration::seconds((1i64 << exponent).min(MAX_BACKOFF_SECONDS))
}

/// What one push came to.
enum Pushed {
    Delivered,
    /// The receiver refused this SET (`400` with an RFC 8935 error): it will never take it.
    Refused(String),
    /// Not answered, or answered otherwise: try again later.
    Failed(String),
}

async fn push_one(http: &reqwest::Client, endpoint: &str, authorization: Option<&str>, set: String) -> Pushed {
    let mut request = http
        .post(endpoint)
        .timeout(PUSH_TIMEOUT)
        .header(reqwest::header::CONTENT_TYPE, "application/secevent+jwt")
        .header(reqwest::header::ACCEPT, "application/json")
        .body(set);
    if let Some(header) = authorization {
        request = request.header(reqwest::header::AUTHORIZATION, header);
    }
    match request.send().await {
        Ok(response) if response.status().is_success() => Pushed::Delivered,
        Ok(response) if response.status() == reqwest::StatusCode::BAD_REQUEST => {
            let body: Value = response.json().await.unwrap_or(Value::Null);
            let err = body["err"].as_str().unwrap_or("invalid_request");
            let description = body["description"].as_str().unwrap_or_default();
            // Kept short: the receiver's words go to the officers' dead-letter list, not to anyone's log.
            Pushed::Refused(format!("{err}: {}", description.chars().take(200).collect::<String>()))
        }
        Ok(response) => Pushed::Failed(format!("HTTP {}", response.status().as_u16())),
        Err(e) if e.is_timeout() => Pushed::Failed("no answer in time".to_owned()),
        Err(_) => Pushed::Failed("cannot connect".to_owned()),
    }
}

/// Pushes every enabled push stream's due events to its receiver (RFC 8935), after a [`fan_out`]: one stream at a
/// time per worker (a lease, so several nodes never push one stream at once), its events one by one in order; a
/// failure stops that stream until its backoff ends, so no event overtakes an earlier one. Returns how many
/// events were delivered.
pub async fn deliver_pushes(state: &AppState, http: &reqwest::Client) -> Result<usize, ApiError> {
    let mut delivered = 0;
    // A bulk order's thousands of feed events are fanned out a batch at a time, each batch pushed before the
    // next, without waiting for the next tick.
    loop {
        let fanned = fan_out(state).await?;
        delivered += push_due_streams(state, http).await?;
        if fanned.events < FAN_OUT_BATCH as usize {
            return Ok(delivered);
        }
    }
}

/// Pushes the enabled push streams with an event due, one stream at a time under its lease.
async fn push_due_streams(state: &AppState, http: &reqwest::Client) -> Result<usize, ApiError> {
    let now = state.clock.now();
    let mut delivered = 0;
    for stream in state.store.push_streams_due(now).await? {
        let mut lease = now + chrono::Duration::seconds(PUSH_LEASE_SECONDS);
        if !state.store.take_push_lease(&stream.id, now, lease).await? {
            continue;
        }
        let pushed = push_stream(state, http, &stream, &mut lease).await;
        state.store.release_push_lease(&stream.id, lease).await?;
        delivered += pushed?;
    }
    Ok(delivered)
}

/// Pushes the stream's due events while this worker holds its lease (`lease`, renewed before each push so that
/// a long queue never outlives it: another node takes a stream only once its lease ran out).
async fn push_stream(
    state: &AppState,
    http: &reqwest::Client,
    stream: &StoredStream,
    lease: &mut DateTime<Utc>,
) -> Result<usize, ApiError> {
    let ssf::Delivery::Push { endpoint_url, authorization_header } = settings_of(stream)?.delivery else {
        return Ok(0);
    };
    let Some(issuer) = Some(stream.issuer.as_str()).filter(|i| !i.is_empty()) else {
        tracing::warn!(stream = %stream.id, "a push stream without an issuer is not pushed");
        return Ok(0);
    };
    let mut delivered = 0;
    // Pushed one at a time, in order; the deliveries are recorded together (before any failure is, and at the
    // end of each batch): an event pushed but not yet recorded when the node dies is pushed again, and
    // receivers tell it by its `jti`.
    loop {
        let heads = state.store.push_heads(&stream.id, PUSH_BATCH).await?;
        if heads.is_empty() {
            break;
        }
        let mut taken = Vec::with_capacity(heads.len());
        let mut stop = false;
        for head in heads {
            let now = state.clock.now();
            if head.next_attempt_at.is_some_and(|at| at > now) {
                stop = true;
                break;
            }
            // Renewed once half of it is gone: a long queue never outlives the lease.
            if *lease - now < chrono::Duration::seconds(PUSH_LEASE_SECONDS / 2) {
                let renewed = now + chrono::Duration::seconds(PUSH_LEASE_SECONDS);
                state.store.record_pushes_delivered(&std::mem::take(&mut taken), now).await?;
                if !state.store.renew_push_lease(&stream.id, *lease, renewed).await? {
                    tracing::warn!(stream = %stream.id, "the stream's push lease ran out and another worker took it");
                    stop = true;
                    break;
                }
                *lease = renewed;
            }
            let keys = crate::service::oidc::key_set(state, now).await?;
            let set = signed(&keys, issuer, head.claims)?;
            match push_one(http, &endpoint_url, authorization_header.as_deref(), set).await {
                Pushed::Delivered => {
                    taken.push(head.id);
                    metrics::counter!("dinhdanh_ssf_pushes_total", "outcome" => "delivered").increment(1);
                    delivered += 1;
                }
                Pushed::Refused(error) => {
                    state.store.record_pushes_delivered(&std::mem::take(&mut taken), now).await?;
                    let attempts = head.attempts + 1;
                    state.store.record_push_failure(head.id, attempts, None, &error, Some(now)).await?;
                    metrics::counter!("dinhdanh_ssf_pushes_total", "outcome" => "refused").increment(1);
                }
                Pushed::Failed(error) => {
                    state.store.record_pushes_delivered(&std::mem::take(&mut taken), now).await?;
                    let attempts = head.attempts + 1;
                    let dead = attempts >= MAX_PUSH_ATTEMPTS;
                    let next = (!dead).then(|| now + backoff(attempts));
                    state.store.record_push_failure(head.id, attempts, next, &error, dead.then_some(now)).await?;
                    metrics::counter!("dinhdanh_ssf_pushes_total", "outcome" => "failed").increment(1);
                    stop = true;
                    break;
                }
            }
        }
        state.store.record_pushes_delivered(&taken, state.clock.now()).await?;
        if stop {
            break;
        }
    }
    Ok(delivered)
}

/// The dead letters (`GET /v1/ssf/dead-letters`), newest first: what receivers refused or never took.
pub async fn dead_letters(state: &AppState, actor: &Actor) -> Result<Vec<dinhdanh_store::DeadEvent>, ApiError> {
    authorize(state, actor, Action::EventDeadLetters).await?;
    Ok(state.store.dead_ssf_events(500).await?)
}

/// Sends a dead letter again (`POST /v1/ssf/dead-letters/{id}/replay`): it goes back to its stream's queue, to be
/// pushed at the next round (ahead of newer events, since it is older). Audited.
pub async fn replay(state: &AppState, actor: &Actor, id: &str) -> Result<(), ApiError> {
    authorize(state, actor, Action::EventDeadLetters).await?;
    let id: i64 = id.parse().map_err(|_| ApiError::NotFound { what: "dead letter" })?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    if !tx.replay_ssf_event(id).await? {
        return Err(ApiError::NotFound { what: "dead letter" });
    }
    let mut record = entry(actor, "ssf.dead_letter.replay", &id.to_string(), json!({}), now);
    record.subject = Some(format!("ssf_event:{id}"));
    tx.audit(record).await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_backoff_doubles_up_to_an_hour() {
        let seconds: Vec<i64> = [0, 1, 2, 3, 12, 13, 30, 99].iter().map(|a| super::backoff(*a).num_seconds()).collect();
        assert_eq!(seconds, [1, 1, 2, 4, 2048, 3600, 3600, 3600]);
    }
}
