//! The HTTP adapter of dinhdanh (axum): the `/v1` JSON API, its OpenAPI document, problem details, per-IP rate
//! limits, health, readiness and metrics, plus the server's own background jobs. The rules live in the domain
//! crate and the SQL in the store; this crate parses, calls and responds.

pub mod api;
pub mod auth;
pub mod clock;
pub mod metrics;
pub mod openapi;
pub mod problem;
pub mod ratelimit;
pub mod sealing;
pub mod secrets;
pub mod service;
pub mod totp_key;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use dinhdanh_domain::ProvinceTable;
use dinhdanh_domain::activation::ActivationPolicy;
use dinhdanh_domain::authority::AuthorityPolicy;
use dinhdanh_domain::calendar::WorkingCalendar;
use dinhdanh_registry::Registry;
use dinhdanh_store::Store;
use tokio::net::TcpListener;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::clock::Clock;
use crate::ratelimit::{IpRateLimiter, RateLimit};
use crate::service::jobs::Job;

/// The largest request body accepted, bulk lock orders apart ([`api::bulk::BODY_LIMIT`]).
pub const BODY_LIMIT: usize = 64 * 1024;

/// The server's settings that the domain rules read.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The origin clients reach this service at (`https://eid.example.vn`): the issuer identifier and the
    /// audience of client assertions. Unset in development, where the request's `Host` stands in.
    pub public_url: Option<String>,
    pub activation: ActivationPolicy,
    pub provinces: ProvinceTable,
    /// Per-IP limit on the public registration endpoints.
    pub public_rate_limit: RateLimit,
    /// Per-IP limit on the operational endpoints (health, readiness, metrics, OpenAPI), which strangers can
    /// reach too; generous for probes and scrapers, tight enough that nobody can hammer the database through them.
    pub ops_rate_limit: RateLimit,
    /// Per-IP limit on the endpoints that need a bearer token.
    pub api_rate_limit: RateLimit,
    /// Reverse proxies in front of the server: their `X-Forwarded-For` names the client for the per-IP limits.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// What the operator's lock authority settings allow (e.g. relying-party requests switched off).
    pub lock_policy: AuthorityPolicy,
    /// Working days for request deadlines: weekends and these public holidays do not count.
    pub calendar: WorkingCalendar,
    /// Signs the audit log's checkpoints (the key comes from a file, never from the database); none, none signed.
    pub audit_signer: Option<std::sync::Arc<dinhdanh_store::CheckpointSigner>>,
    /// Where each signed checkpoint is also appended, one JSON line each (a file the operator keeps elsewhere).
    pub audit_publish_file: Option<std::path::PathBuf>,
    /// What the scheduled purge keeps beyond each row's own expiry ([`run_purge`]).
    pub purge: service::purge::PurgePolicy,
    /// Seals officers' TOTP secrets at rest. A node loads it from its configuration; the default is a key made
    /// for this process alone (tests), whose secrets no other process can open.
    pub totp_key: Arc<totp_key::TotpKey>,
    /// The OpenID Connect issuer identifier (`[oidc] issuer`, `DINHDANH_ISSUER`); unset, `public_url` stands in
    /// (see [`service::oidc::issuer`]).
    pub oidc_issuer: Option<String>,
    /// Seals the OpenID Connect provider's private signing keys at rest ([`service::oidc::keys`]). A node loads
    /// it from its configuration; the default is a key made for this process alone (tests).
    pub oidc_seal_key: Arc<sealing::SealingKey>,
    /// How long a signing key signs before the scheduled check ([`run_purge`]) rotates it (`[oidc]
    /// rotate_every_days`, default 90); none, never (only `dinhdanh keys rotate` does).
    pub oidc_rotate_every: Option<chrono::Duration>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public_url: None,
            activation: ActivationPolicy::default(),
            provinces: ProvinceTable::builtin(),
            public_rate_limit: RateLimit { per_minute: 30, burst: 10 },
            ops_rate_limit: RateLimit { per_minute: 600, burst: 100 },
            api_rate_limit: RateLimit { per_minute: 1200, burst: 200 },
            trusted_proxies: Vec::new(),
            lock_policy: AuthorityPolicy::default(),
            calendar: WorkingCalendar::default(),
            audit_signer: None,
            audit_publish_file: None,
            purge: service::purge::PurgePolicy::default(),
            totp_key: Arc::new(totp_key::TotpKey::generate()),
            oidc_issuer: None,
            oidc_seal_key: Arc::new(sealing::SealingKey::generate()),
            oidc_rotate_every: Some(service::oidc::keys::DEFAULT_ROTATE_EVERY),
        }
    }
}

/// What every handler can reach; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub registry: Arc<dyn Registry>,
    pub clock: Arc<dyn Clock>,
    pub config: Arc<ServerConfig>,
    pub public_limiter: IpRateLimiter,
    pub ops_limiter: IpRateLimiter,
    pub api_limiter: IpRateLimiter,
    /// argon2id verifications spent (see [`secrets::Work`]).
    pub work: Arc<secrets::Work>,
    /// The token endpoint's writes, committed in groups.
    pub token_writes: dinhdanh_store::GroupCommit<service::clients::TokenWrites>,
    /// Lock requests on one account, filed in groups.
    pub lock_filings: dinhdanh_store::GroupCommit<service::locks::LockFilings>,
    /// The OpenID Connect provider's paths, lifetimes and pairwise salt ([`service::oidc`]).
    pub oidc: Arc<service::oidc::Provider>,
    /// This node's name in the scheduled jobs' rows and the logs ([`service::jobs::node_name`]).
    pub node: Arc<str>,
}

impl AppState {
    pub fn new(store: Store, registry: Arc<dyn Registry>, clock: Arc<dyn Clock>, config: ServerConfig) -> Self {
        crate::metrics::install();
        let public_limiter = IpRateLimiter::new(config.public_rate_limit, &config.trusted_proxies);
        let ops_limiter = IpRateLimiter::new(config.ops_rate_limit, &config.trusted_proxies);
        let api_limiter = IpRateLimiter::new(config.api_rate_limit, &config.trusted_proxies);
        let token_writes = dinhdanh_store::GroupCommit::new(
            store.clone(),
            service::clients::TokenWrites,
            service::clients::TOKEN_BATCH,
        );
        let lock_filings = dinhdanh_store::GroupCommit::new(
            store.clone(),
            service::locks::LockFilings { calendar: config.calendar.clone() },
            service::locks::LOCK_BATCH,
        );
        Self {
            token_writes,
            lock_filings,
            store,
            registry,
            clock,
            config: Arc::new(config),
            public_limiter,
            ops_limiter,
            api_limiter,
            work: Arc::default(),
            oidc: Arc::default(),
            node: service::jobs::node_name().into(),
        }
    }
}

pub fn router(state: AppState) -> Router {
    let public = Router::new()
        .route("/v1/accounts", post(api::registration::register))
        .route("/v1/accounts/{account_id}/activation", post(api::registration::activate))
        .route("/v1/accounts/{account_id}/activation-code", post(api::registration::resend_activation_code))
        .merge(api::oauth::public_routes())
        .merge(api::officers::public_routes())
        .merge(api::holders::public_routes())
        .merge(api::locks::public_routes())
        .merge(api::clients::public_routes())
        .merge(api::organizations::public_routes())
        .layer(axum::middleware::from_fn_with_state(state.public_limiter.clone(), ratelimit::limit_by_ip));
    let authenticated = Router::new()
        .merge(api::organizations::routes())
        .merge(api::clients::routes())
        .merge(api::oidc::registrations::routes())
        .merge(api::oidc::history::routes())
        .merge(api::oidc::consents::routes())
        .merge(api::oauth::routes())
        .merge(api::officers::routes())
        .merge(api::holders::routes())
        .merge(api::biometrics::routes())
        .merge(api::ssf::routes())
        .merge(api::locks::routes())
        .route_layer(axum::middleware::from_fn(api::access::guard))
        .layer(axum::middleware::from_fn_with_state(state.api_limiter.clone(), ratelimit::limit_by_ip));
    let ops = Router::new()
        .route("/healthz", get(api::ops::healthz))
        .route("/readyz", get(api::ops::readyz))
        .route("/metrics", get(api::ops::metrics))
        .route("/openapi.json", get(api::ops::openapi_json))
        .merge(api::ssf::public_routes())
        .route("/v1/audit/checkpoints", get(api::audit::list_checkpoints))
        .layer(axum::middleware::from_fn_with_state(state.ops_limiter.clone(), ratelimit::limit_by_ip));
    // Bulk lock orders need bodies far above 64 KiB: authenticated routes with their own limit (api::bulk),
    // merged after the 64 KiB layer so that it does not wrap them.
    let bulk = api::bulk::routes()
        .route_layer(axum::middleware::from_fn(api::access::guard))
        .layer(axum::middleware::from_fn_with_state(state.api_limiter.clone(), ratelimit::limit_by_ip));
    Router::new()
        .merge(public)
        .merge(authenticated)
        .merge(ops)
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .merge(bulk)
        // Explicit, so that it stays inside the problem layer when the OpenID Connect routes are merged below.
        .fallback(|| async { axum::http::StatusCode::NOT_FOUND })
        .layer(axum::middleware::from_fn(problem::uniform_errors))
        // The OpenID Connect pages answer HTML and its endpoints their own JSON, so outside the problem layer.
        .merge(api::oidc::routes(&state))
        // The pages' stylesheet.
        .merge(api::assets::routes(&state))
        // The holder portal's pages, HTML too.
        .merge(api::portal::routes(&state))
        // The officers' console's pages, HTML too.
        .merge(api::console::routes(&state))
        .layer(axum::middleware::from_fn(count_requests))
        .layer(TraceLayer::new_for_http().make_span_with(request_span).on_failure(log_failure))
        .with_state(state)
}

/// The span of a request names its route template, never the raw URI: paths and query strings can carry
/// identification numbers (the public status check) and ids, which must not reach the logs.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let route = request.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str()).unwrap_or("unmatched");
    tracing::debug_span!("request", method = %request.method(), route)
}

/// A server error is logged at ERROR, except `503`: the argon2 queue or the store saying "busy, retry after" is
/// the server protecting itself under load, answered with `Retry-After` and counted in `/metrics`; one ERROR line
/// for each would bury the errors that need a person (a flood of wrong passwords wrote hundreds a second).
fn log_failure(
    class: tower_http::classify::ServerErrorsFailureClass,
    latency: std::time::Duration,
    _span: &tracing::Span,
) {
    use tower_http::classify::ServerErrorsFailureClass::StatusCode;
    match class {
        StatusCode(status) if status == axum::http::StatusCode::SERVICE_UNAVAILABLE => {
            tracing::debug!(status = status.as_u16(), latency_ms = latency.as_millis() as u64, "busy: answered 503");
        }
        class => tracing::error!(%class, latency_ms = latency.as_millis() as u64, "response failed"),
    }
}

/// Counts requests by route template (never by raw path, which would carry ids) and status.
async fn count_requests(request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().to_string();
    let response = next.run(request).await;
    ::metrics::counter!("dinhdanh_http_requests_total", "method" => method, "route" => route, "status" => response.status().as_u16().to_string())
        .increment(1);
    response
}

/// Runs the periodic jobs of a server node: placing and lifting the automatic locks from the registries (the
/// first tick runs at once, so a start does a full run; once a period across the cluster, see
/// [`service::jobs`]), trimming this node's rate-limit memory. Expired rows go in
/// [`run_purge`].
pub async fn run_background_jobs(state: AppState, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
    let mut ticker = tokio::time::interval(every);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = ticker.tick() => {
                let reconcile = service::automatic::reconcile_automatic_locks(&state);
                if let Err(e) = service::jobs::run_scheduled(&state, Job::AutomaticLocks, every, reconcile).await {
                    tracing::warn!(error = ?e, "reconciling automatic locks with the registries failed");
                }
                state.public_limiter.shrink();
                state.ops_limiter.shrink();
                state.api_limiter.shrink();
            }
        }
    }
}

/// Gives the accounts' events to the relying parties' streams and pushes the push streams' events to their
/// receivers (`service::ssf::deliver_pushes`; poll streams are answered when they poll): as soon as this node
/// commits an account's event, and every `every` for what other nodes and processes committed and for retries.
pub async fn run_event_delivery(state: AppState, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client with the default TLS roots");
    let mut ticker = tokio::time::interval(every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = ticker.tick() => {}
            // A lock's events leave at its commit on this node, not at the next tick.
            _ = state.store.account_events_committed() => {}
        }
        if let Err(e) = service::ssf::deliver_pushes(&state, &http).await {
            tracing::warn!(error = ?e, "delivering Shared Signals events failed");
        }
    }
}

/// Signs a checkpoint of the audit log every `every` (when it grew; one node a period across the cluster), and
/// once more at shutdown.
pub async fn run_audit_checkpoints(state: AppState, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
    let mut ticker = tokio::time::interval(every);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = ticker.tick() => {}
        }
        let sign = service::audit::sign_checkpoint(&state);
        if let Err(e) = service::jobs::run_scheduled(&state, Job::AuditCheckpoint, every, sign).await {
            tracing::warn!(error = ?e, "signing an audit checkpoint failed");
        }
    }
    if let Err(e) = service::audit::sign_checkpoint(&state).await {
        tracing::warn!(error = ?e, "signing the last audit checkpoint failed");
    }
}

/// Purges expired sessions, sign-in challenges, tokens, assertion ids, idempotency keys and registrations every
/// `every` (the first run at once), as [`service::purge::purge_expired`] does; and, on the same schedule, rotates
/// the OpenID Connect signing keys when due and prunes the retired ones whose time is up
/// ([`service::oidc::keys::rotate_and_prune_when_due`]); one node a period across the cluster
/// ([`service::jobs`]).
pub async fn run_purge(state: AppState, every: Duration, shutdown: impl std::future::Future<Output = ()>) {
    let mut ticker = tokio::time::interval(every);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            _ = ticker.tick() => {
                let purge = async {
                    if let Err(e) = service::purge::purge_expired(&state).await {
                        tracing::warn!(error = ?e, "purging expired rows failed");
                    }
                    if let Err(e) = service::oidc::keys::rotate_and_prune_when_due(&state).await {
                        tracing::warn!(error = ?e, "the scheduled check of the signing keys failed");
                    }
                    Ok(())
                };
                if let Err(e) = service::jobs::run_scheduled(&state, Job::Purge, every, purge).await {
                    tracing::warn!(error = ?e, "claiming the purge for this period failed");
                }
            }
        }
    }
}

/// Serves the API on `listener` until `shutdown` resolves, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}
