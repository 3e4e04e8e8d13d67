//! To be written.

use axum::Router;
use utoipa::OpenApi;

use crate::AppState;

#[derive(OpenApi)]
#[openapi()]
pub struct Doc;

/// Routes that need a bearer token (per-IP rate limited like everything else).
pub fn routes() -> Router<AppState> {
    Router::new()
}

/// Routes a stranger can call (sign-in, token, enrolment): the public per-IP limit applies.
pub fn public_routes() -> Router<AppState> {
    Router::new()
}
