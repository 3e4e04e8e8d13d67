//! What the server's own pages load: one stylesheet, `GET /static/dinhdanh.css` (`crates/server/static/`),
//! compiled into the binary, so that the pages need nothing from elsewhere (no fonts, scripts or styles of
//! another origin) and their Content-Security-Policy allows only `style-src 'self'`.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::ratelimit::limit_by_ip;

pub const STYLESHEET_PATH: &str = "/static/dinhdanh.css";
const STYLESHEET: &str = include_str!("../../static/dinhdanh.css");

/// The assets' routes, under the operations' rate limit.
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(STYLESHEET_PATH, get(stylesheet))
        .layer(axum::middleware::from_fn_with_state(state.ops_limiter.clone(), limit_by_ip))
}

async fn stylesheet() -> Response {
    let mut response = STYLESHEET.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/css; charset=utf-8"));
    // A day: a new release's pages may change it; the pages are no-store, the stylesheet need not be.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    response
}
