//! Operational endpoints: liveness, readiness (the database answers), Prometheus metrics, the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use dinhdanh_store::OutboxStatus;
use serde_json::json;

use crate::AppState;

/// The process is up.
#[utoipa::path(get, path = "/healthz", operation_id = "healthz", tag = "operations",
    responses((status = 200, description = "Alive")))]
pub async fn healthz() -> impl IntoResponse {
    Json(json!({"status": "ok"}))
}

/// The process can serve: its database answers.
#[utoipa::path(get, path = "/readyz", operation_id = "readyz", tag = "operations",
    responses((status = 200, description = "Ready"), (status = 503, description = "Database unreachable")))]
pub async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    match state.store.ping().await {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready", "database": state.store.dialect().name()}))),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unavailable", "database": "unreachable"})))
        }
    }
}

/// Prometheus text exposition.
#[utoipa::path(get, path = "/metrics", operation_id = "metrics", tag = "operations",
    responses((status = 200, description = "Metrics in Prometheus text format")))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    // Gauges read from the database at scrape time, so every node reports the shared truth.
    if let Ok(pending) = state.store.count_messages(OutboxStatus::Pending).await {
        metrics::gauge!("dinhdanh_outbox_pending").set(pending as f64);
    }
    if let Ok(failed) = state.store.count_messages(OutboxStatus::Failed).await {
        metrics::gauge!("dinhdanh_outbox_failed").set(failed as f64);
    }
    if let Ok(overdue) = state.store.count_overdue_requests(state.clock.now()).await {
        metrics::gauge!("dinhdanh_requests_overdue").set(overdue as f64);
    }
    // Each Shared Signals stream: events waiting (neither acknowledged nor dead), how long the oldest has waited,
    // and its dead letters (docs/events.md).
    if let Ok(backlog) = state.store.ssf_backlog().await {
        let now = state.clock.now();
        for stream in backlog {
            let lag =
                stream.oldest_pending.map_or(0.0, |oldest| (now - oldest).num_milliseconds().max(0) as f64 / 1000.0);
            metrics::gauge!("dinhdanh_ssf_pending_events", "stream" => stream.stream_id.clone())
                .set(stream.pending as f64);
            metrics::gauge!("dinhdanh_ssf_delivery_lag_seconds", "stream" => stream.stream_id.clone()).set(lag);
            metrics::gauge!("dinhdanh_ssf_dead_letters", "stream" => stream.stream_id).set(stream.dead as f64);
        }
    }
    // Of this node: transactions that lost a race and were run again (0 while every path keeps the lock order).
    metrics::gauge!("dinhdanh_store_transactions_retried").set(state.store.retries() as f64);
    // Of this node: bearer-token checks answered from the credential cache, without a database round trip.
    metrics::gauge!("dinhdanh_credential_cache_hits").set(state.store.credential_cache_hits() as f64);
    metrics::gauge!("dinhdanh_invalidations_unacknowledged").set(state.store.unacknowledged_invalidations() as f64);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], crate::metrics::render())
}

pub async fn openapi_json() -> impl IntoResponse {
    Json(crate::openapi::document())
}
