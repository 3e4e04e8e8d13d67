//! The JSON API under `/v1` and the operational endpoints. Handlers are thin: parse the body into domain
//! types, call one service function, shape the response.

pub mod bulk;
pub mod clients;
pub mod holders;
pub mod locks;
pub mod oauth;
pub mod officers;
pub mod ops;
pub mod organizations;
pub mod registration;

use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;

use crate::problem::ApiError;

/// `Json<T>` whose rejections (wrong content type, malformed JSON, missing fields) are problem details too.
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            // Well-formed JSON of the wrong shape (a missing field, an unknown holder kind) is a validation error.
            JsonRejection::JsonDataError(e) => ApiError::field("body", e.body_text()),
            other => ApiError::MalformedBody(other.body_text()),
        }
    }
}
