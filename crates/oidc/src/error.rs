//! The OAuth 2.0 and OpenID Connect error codes this provider answers with, one enum for every endpoint: the
//! authorization endpoint's (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, RFC 9126 §2.3, OpenID Connect Core Unmet
//! Authentication Requirements 1.0) and the token endpoint's (RFC 6749 §5.2). How an error reaches the client
//! (a redirect, a JSON body, a status code) is the caller's business; [`crate::authorize::AuthorizeError`] says
//! whether it may be redirected.

use serde::{Deserialize, Serialize};

macro_rules! error_codes {
    ($($(#[$m:meta])* $variant:ident => $text:literal),* $(,)?) => {
        /// An `error` value of OAuth 2.0 / OpenID Connect.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum ErrorCode {
            $($(#[$m])* #[serde(rename = $text)] $variant),*
        }

        impl ErrorCode {
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant),*];

            /// The registered text of the code, as sent in `error`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $text),*
                }
            }
        }
    };
}

error_codes! {
    /// A parameter is missing, repeated, malformed or unsupported (both endpoints).
    InvalidRequest => "invalid_request",
    /// The client is not allowed this grant or response type.
    UnauthorizedClient => "unauthorized_client",
    /// The holder refused, or the provider refuses (a sign-in that cannot reach the level asked for).
    AccessDenied => "access_denied",
    UnsupportedResponseType => "unsupported_response_type",
    InvalidScope => "invalid_scope",
    ServerError => "server_error",
    TemporarilyUnavailable => "temporarily_unavailable",
    /// `prompt=none` and the provider needs the holder (OIDC Core §3.1.2.6).
    InteractionRequired => "interaction_required",
    /// `prompt=none` and the holder must sign in.
    LoginRequired => "login_required",
    AccountSelectionRequired => "account_selection_required",
    /// `prompt=none` and the holder must consent.
    ConsentRequired => "consent_required",
    /// The PAR `request_uri` is unknown, expired, used, or another client's (RFC 9126 §4).
    InvalidRequestUri => "invalid_request_uri",
    InvalidRequestObject => "invalid_request_object",
    /// The `request` parameter (request objects): not supported, as the metadata says.
    RequestNotSupported => "request_not_supported",
    /// A `request_uri` that is not one of ours from the PAR endpoint.
    RequestUriNotSupported => "request_uri_not_supported",
    RegistrationNotSupported => "registration_not_supported",
    /// An essential `acr` the sign-in could not reach (OpenID Connect Core Unmet Authentication Requirements 1.0).
    UnmetAuthenticationRequirements => "unmet_authentication_requirements",
    /// Token endpoint: the client failed to authenticate (answered with 401).
    InvalidClient => "invalid_client",
    /// Token endpoint: the code or refresh token is invalid, expired, revoked, used, or another client's.
    InvalidGrant => "invalid_grant",
    UnsupportedGrantType => "unsupported_grant_type",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error of the token, introspection or revocation endpoints: a JSON body `{"error", "error_description"}`
/// (RFC 6749 §5.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}: {error_description}")]
pub struct TokenError {
    pub error: ErrorCode,
    pub error_description: String,
}

impl TokenError {
    pub fn new(error: ErrorCode, description: impl Into<String>) -> Self {
        Self { error, error_description: description.into() }
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidGrant, description)
    }

    /// The HTTP status RFC 6749 §5.2 gives it: 401 for `invalid_client` (with `WWW-Authenticate` when the
    /// client used HTTP Basic), 400 for everything else.
    pub fn http_status(&self) -> u16 {
        if self.error == ErrorCode::InvalidClient { 401 } else { 400 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_registered_text() {
        for code in ErrorCode::ALL {
            assert_eq!(serde_json::to_value(code).unwrap(), serde_json::Value::String(code.as_str().into()));
            assert!(code.as_str().bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{code}");
        }
    }

    #[test]
    fn only_invalid_client_is_a_401() {
        assert_eq!(TokenError::new(ErrorCode::InvalidClient, "").http_status(), 401);
        assert_eq!(TokenError::invalid_grant("used").http_status(), 400);
    }
}
