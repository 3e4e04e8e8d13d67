//! The JSON API under `/v1` and the operational endpoints. Handlers are thin: parse the body into domain
//! types, call one service function, shape the response.

pub mod access;
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

use crate::problem::{ApiError, FieldError};

/// Collects every field error of a request instead of stopping at the first.
#[derive(Default)]
pub(crate) struct Fields(pub Vec<FieldError>);

impl Fields {
    /// The value, or `None` with the error recorded under `field`.
    pub fn take<T, E: ToString>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|e| self.0.push(FieldError { field: field.to_owned(), message: e.to_string() })).ok()
    }

    /// A non-blank value, or `None` with "`field` is required" recorded.
    pub fn required<'a>(&mut self, field: &str, value: &'a Option<String>) -> Option<&'a str> {
        let value = value.as_deref().filter(|v| !v.trim().is_empty());
        if value.is_none() {
            self.0.push(FieldError { field: field.to_owned(), message: format!("{field} is required") });
        }
        value
    }

    /// The parsed request, or every error found in it.
    pub fn finish<T>(self, value: Option<T>) -> Result<T, ApiError> {
        match value {
            Some(v) if self.0.is_empty() => Ok(v),
            _ => Err(ApiError::Validation(self.0)),
        }
    }
}

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
