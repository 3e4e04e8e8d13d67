//! The JSON API under `/v1` and the operational endpoints. Handlers are thin: parse the body into domain
//! types, call one service function, shape the response.

pub mod access;
pub mod assets;
pub mod audit;
pub mod biometrics;
pub mod bulk;
pub mod clients;
pub mod console;
pub mod forms;
pub mod holders;
pub mod i18n;
pub mod locks;
pub mod oauth;
pub mod officers;
pub mod oidc;
pub mod ops;
pub mod organizations;
pub mod portal;
pub mod registration;
pub mod ssf;
pub mod time;

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};

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

/// `Json<T>` whose rejections (wrong content type, malformed JSON, missing fields) are problem details too, and
/// which takes only a JSON object: serde would fill a struct from an array by position (`["Tên mới"]` as a
/// `PATCH` body would rename), which no schema of the document allows.
pub struct ApiJson<T>(pub T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(request.headers()) {
            return Err(ApiError::MalformedBody("Expected request with `Content-Type: application/json`".into()));
        }
        let bytes =
            axum::body::Bytes::from_request(request, state).await.map_err(|rejection| match rejection.status() {
                axum::http::StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
                _ => ApiError::MalformedBody(rejection.body_text()),
            })?;
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
            // Well-formed, it is the wrong shape (422); not JSON at all, it is malformed (400).
            let _well_formed = axum::Json::<serde::de::IgnoredAny>::from_bytes(&bytes)?;
            return Err(ApiError::field("body", "the body must be a JSON object"));
        }
        Ok(ApiJson(axum::Json::<T>::from_bytes(&bytes)?.0))
    }
}

/// `application/json` or `application/…+json`, as `axum::Json` takes them.
fn json_content_type(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers.get(axum::http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    essence.strip_prefix("application/").is_some_and(|subtype| subtype == "json" || subtype.ends_with("+json"))
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            // Well-formed JSON of the wrong shape (a missing or unknown field, an unknown holder kind) is a
            // validation error, under the field's name where serde gives it.
            JsonRejection::JsonDataError(e) => {
                let text = e.body_text();
                ApiError::field(&named_field(&text).unwrap_or_else(|| "body".to_owned()), text)
            }
            JsonRejection::BytesRejection(e) if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::PayloadTooLarge
            }
            other => ApiError::MalformedBody(other.body_text()),
        }
    }
}

/// `Query<T>` whose rejections (a missing or unknown parameter, a value of the wrong type) are `422 validation`
/// problems naming the parameter where serde does, instead of axum's plain-text `400`.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        ApiError::field(&named_field(&text).unwrap_or_else(|| "query".to_owned()), text)
    }
}

/// The field serde names in "missing field `x`" or "unknown field `x`", or the path that
/// `serde_path_to_error` puts before the message ("account.id_number: invalid type …").
fn named_field(message: &str) -> Option<String> {
    let message = message.split_once(": ").map(|(_, rest)| rest).unwrap_or(message);
    for marker in ["unknown field `", "missing field `"] {
        if let Some(start) = message.find(marker) {
            let rest = &message[start + marker.len()..];
            if let Some(end) = rest.find('`') {
                let prefix = message[..start].trim_end_matches(": ").trim_end_matches(':').trim();
                let name = &rest[..end];
                // serde_path_to_error's path already ends with an unknown field's name; a missing one's it does not.
                return Some(match prefix {
                    "" | "." => name.to_owned(),
                    path if path == name || path.ends_with(&format!(".{name}")) => path.to_owned(),
                    path => format!("{path}.{name}"),
                });
            }
        }
    }
    let (path, _) = message.split_once(": ")?;
    (!path.is_empty() && !path.contains(' ')).then(|| path.to_owned())
}

/// The identity fields of the other holder kind, given anyway (a citizen's `passport_number` or `nationality`, a
/// foreigner's `id_number`): each refused rather than ignored, so that a request means what it says.
pub(crate) fn other_kind_fields(
    citizen: bool,
    id_number: &Option<String>,
    passport_number: &Option<String>,
    nationality: &Option<String>,
) -> Vec<FieldError> {
    let (fields, message) = if citizen {
        (vec![("passport_number", passport_number), ("nationality", nationality)], "only foreigners give this")
    } else {
        (vec![("id_number", id_number)], "only citizens give this")
    };
    fields
        .into_iter()
        .filter(|(_, value)| value.is_some())
        .map(|(field, _)| FieldError { field: field.to_owned(), message: message.to_owned() })
        .collect()
}

/// [`other_kind_fields`] as an error, when there are any.
pub(crate) fn refuse_other_kind_fields(
    citizen: bool,
    id_number: &Option<String>,
    passport_number: &Option<String>,
    nationality: &Option<String>,
) -> Result<(), ApiError> {
    let errors = other_kind_fields(citizen, id_number, passport_number, nationality);
    if errors.is_empty() { Ok(()) } else { Err(ApiError::Validation(errors)) }
}

/// A page size: absent means `default`; anything outside 1 to `max` is refused, never clamped.
pub(crate) fn page_limit(limit: Option<i64>, default: i64, max: i64) -> Result<i64, ApiError> {
    match limit {
        None => Ok(default),
        Some(n) if (1..=max).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::field("limit", format!("limit must be between 1 and {max}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::named_field;

    #[test]
    fn the_field_is_named_where_serde_names_it() {
        let top = "Failed to deserialize the JSON body into the target type: end_at: unknown field `end_at`, expected one of `ground`, `ends_at`";
        assert_eq!(named_field(top).as_deref(), Some("end_at"));
        let nested = "Failed to deserialize the JSON body into the target type: account.id_numbr: unknown field `id_numbr`, expected `id_number`";
        assert_eq!(named_field(nested).as_deref(), Some("account.id_numbr"));
        let missing = "Failed to deserialize the JSON body into the target type: account: missing field `code`";
        assert_eq!(named_field(missing).as_deref(), Some("account.code"));
        let typed = "Failed to deserialize the JSON body into the target type: legal_basis.number: invalid type: integer `5`, expected a string at line 1 column 40";
        assert_eq!(named_field(typed).as_deref(), Some("legal_basis.number"));
        let query = "Failed to deserialize query string: missing field `tracking_code`";
        assert_eq!(named_field(query).as_deref(), Some("tracking_code"));
        assert_eq!(named_field("Failed to deserialize query string: invalid digit found in string"), None);
    }
}
