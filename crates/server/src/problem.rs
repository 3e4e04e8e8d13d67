//! The one error type of the HTTP API. Every failure becomes an RFC 9457 problem details body
//! (`application/problem+json`) whose `type` is a stable URN that clients can branch on; `detail` speaks
//! Vietnamese first, then English. Handlers never build error bodies by hand.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// One invalid input field.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldError {
    /// The JSON field, e.g. `id_number`.
    pub field: String,
    /// What is wrong with it, in English.
    pub message: String,
}

/// RFC 9457 problem details.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A stable identifier of the kind of problem, e.g. `urn:dinhdanh:problem:registry-mismatch`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// Vietnamese, then English.
    pub detail: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// Seconds until a refused request may be tried again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<i64>,
    /// Tries left on a one-time code (`wrong-code`), or today's biometric tries left (`biometric-mismatch`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<i64>,
    /// `account-locked`: the locks in force on the account, each with its ground and how it can be lifted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub locks: Vec<LockNotice>,
}

/// A lock in force, as the holder is told about it (domain.md "Effect of a lock"): the ground and how it can be
/// lifted, never who placed it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LockNotice {
    /// The ground, e.g. `holder_request`, `authority_request`, `residence_expired`.
    #[schema(example = "authority_request")]
    pub ground: String,
    /// What the ground means, in Vietnamese.
    pub description_vi: String,
    /// What the ground means, in English.
    pub description_en: String,
    /// When the lock took effect.
    #[serde(with = "crate::api::time::millis")]
    #[schema(example = crate::api::time::example)]
    pub since: DateTime<Utc>,
    /// When a temporary lock ends by itself; absent for a lock that lasts until it is lifted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[serde(with = "crate::api::time::millis_option")]
    #[schema(example = crate::api::time::example)]
    pub until: Option<DateTime<Utc>>,
    /// How this lock can be lifted, in Vietnamese.
    pub how_to_lift_vi: String,
    /// How this lock can be lifted, in English.
    pub how_to_lift_en: String,
}

impl LockNotice {
    pub fn of(lock: &dinhdanh_domain::lock::Lock) -> Self {
        let (description_vi, description_en) = lock.description();
        let (how_to_lift_vi, how_to_lift_en) = dinhdanh_domain::authority::how_to_lift(lock.ground);
        Self {
            ground: lock.ground.as_str().to_owned(),
            description_vi: description_vi.to_owned(),
            description_en: description_en.to_owned(),
            since: lock.effective_at,
            until: lock.ends_at,
            how_to_lift_vi: how_to_lift_vi.to_owned(),
            how_to_lift_en: how_to_lift_en.to_owned(),
        }
    }
}

#[derive(Debug)]
pub enum ApiError {
    /// A body that is not JSON of the expected shape at all.
    MalformedBody(String),
    /// A Shared Signals stream configuration or status that cannot be used (SSF answers `400`): the member and
    /// why.
    InvalidStream(FieldError),
    /// Input that breaks a field rule.
    Validation(Vec<FieldError>),
    /// The declared identity does not match the registry (deliberately unspecific).
    RegistryMismatch,
    AccountNotFound,
    AlreadyActive,
    RegistrationExpired,
    CodeExpired,
    WrongCode {
        attempts_left: i64,
    },
    TooManyRequests {
        retry_after_seconds: i64,
    },
    RegistryUnavailable,
    /// No valid bearer token: missing, unknown, expired or revoked.
    Unauthorized,
    /// The actor is known but may not do this (the authorization table said no).
    Forbidden {
        action: &'static str,
    },
    /// The organization may do this, but its token lacks the scope.
    InsufficientScope {
        scope: &'static str,
    },
    OrganizationSuspended,
    /// The lock authority table does not let this party place or lift this lock.
    LockRefused {
        reason: String,
    },
    NotFound {
        what: &'static str,
    },
    Conflict {
        what: String,
    },
    /// Too many failed sign-ins: the sign-in is locked for a while.
    SignInLocked {
        retry_after_seconds: i64,
    },
    /// A sign-in with a wrong identifier, password or code (or of an account that cannot sign in): one answer,
    /// whichever it was.
    SignInFailed,
    /// A holder's sign-in with the right password, refused because locks are in force on the account.
    AccountLocked {
        locks: Vec<LockNotice>,
    },
    /// A fingerprint or portrait compared with the registry's reference did not match (`tries_left` today, when
    /// the purpose limits them).
    BiometricMismatch {
        tries_left: Option<i64>,
    },
    /// The registry holds no reference for what was captured (that finger, or no portrait): nothing was compared.
    BiometricReferenceMissing,
    /// The day's failed comparisons for this purpose are used up.
    BiometricTriesExhausted {
        retry_after_seconds: i64,
    },
    /// The account's level cannot change this way (already that level, locked, not active, or Level 1 for a
    /// Level 2 sign-in).
    Level(dinhdanh_domain::biometrics::LevelError),
    /// The change would leave no active administrator.
    LastAdministrator,
    /// The API client is revoked: nothing more can be changed on it.
    ClientRevoked,
    /// Removing this credential would leave the API client with none.
    LastCredential,
    /// No route has this path.
    NoSuchRoute,
    /// The route exists, not with this method (the `Allow` header lists the ones it has).
    MethodNotAllowed,
    /// The body is larger than the route accepts.
    PayloadTooLarge,
    /// The store lost the same race with other transactions on every try (see `dinhdanh_store::retrying`):
    /// nothing was changed, and the same request can be sent again.
    Busy,
    /// Every argon2id worker is busy and their queue is full (a flood of sign-ins or registrations): nothing was
    /// done. Not retried by the store, unlike [`ApiError::Busy`]: more tries would only add to the queue.
    Saturated,
    Internal(String),
}

impl ApiError {
    pub fn internal(message: impl Into<String>) -> Self {
        Self::Internal(message.into())
    }

    pub fn field(field: &str, message: impl ToString) -> Self {
        Self::Validation(vec![FieldError { field: field.to_owned(), message: message.to_string() }])
    }

    pub fn slug(&self) -> &'static str {
        match self {
            Self::MalformedBody(_) => "malformed-body",
            Self::InvalidStream(_) => "invalid-stream",
            Self::Validation(_) => "validation",
            Self::RegistryMismatch => "registry-mismatch",
            Self::AccountNotFound => "account-not-found",
            Self::AlreadyActive => "already-active",
            Self::RegistrationExpired => "registration-expired",
            Self::CodeExpired => "code-expired",
            Self::WrongCode { .. } => "wrong-code",
            Self::TooManyRequests { .. } => "too-many-requests",
            Self::RegistryUnavailable => "registry-unavailable",
            Self::Unauthorized => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::InsufficientScope { .. } => "insufficient-scope",
            Self::OrganizationSuspended => "organization-suspended",
            Self::LockRefused { .. } => "lock-refused",
            Self::NotFound { .. } => "not-found",
            Self::Conflict { .. } => "conflict",
            Self::SignInLocked { .. } => "sign-in-locked",
            Self::SignInFailed => "sign-in-failed",
            Self::AccountLocked { .. } => "account-locked",
            Self::BiometricMismatch { .. } => "biometric-mismatch",
            Self::BiometricReferenceMissing => "biometric-reference-missing",
            Self::BiometricTriesExhausted { .. } => "biometric-tries-exhausted",
            Self::Level(_) => "level-conflict",
            Self::LastAdministrator => "last-administrator",
            Self::ClientRevoked => "client-revoked",
            Self::LastCredential => "last-credential",
            Self::NoSuchRoute => "no-such-route",
            Self::MethodNotAllowed => "method-not-allowed",
            Self::PayloadTooLarge => "payload-too-large",
            Self::Busy | Self::Saturated => "busy",
            Self::Internal(_) => "internal",
        }
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::MalformedBody(_) | Self::InvalidStream(_) => StatusCode::BAD_REQUEST,
            Self::Validation(_) | Self::RegistryMismatch | Self::WrongCode { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::AlreadyActive => StatusCode::CONFLICT,
            Self::AccountNotFound => StatusCode::NOT_FOUND,
            Self::RegistrationExpired | Self::CodeExpired => StatusCode::GONE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::RegistryUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. }
            | Self::InsufficientScope { .. }
            | Self::OrganizationSuspended
            | Self::LockRefused { .. } => StatusCode::FORBIDDEN,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::SignInLocked { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::SignInFailed => StatusCode::UNAUTHORIZED,
            Self::AccountLocked { .. } => StatusCode::FORBIDDEN,
            Self::BiometricMismatch { .. } | Self::BiometricReferenceMissing => StatusCode::UNPROCESSABLE_ENTITY,
            Self::BiometricTriesExhausted { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Level(_) => StatusCode::CONFLICT,
            Self::LastAdministrator => StatusCode::CONFLICT,
            Self::ClientRevoked | Self::LastCredential => StatusCode::CONFLICT,
            Self::NoSuchRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Busy | Self::Saturated => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// (title, Vietnamese detail, English detail)
    pub(crate) fn texts(&self) -> (&'static str, String, String) {
        let (title, vi, en) = match self {
            Self::Forbidden { action } => {
                return (
                    "Forbidden",
                    format!("Bạn không có quyền thực hiện thao tác này ({action})."),
                    format!("You may not do this ({action})."),
                );
            }
            Self::InsufficientScope { scope } => {
                return (
                    "Insufficient scope",
                    format!("Mã truy cập thiếu phạm vi {scope}."),
                    format!("The access token lacks the scope {scope}."),
                );
            }
            Self::LockRefused { reason } => {
                return (
                    "Not allowed by the lock authority rules",
                    format!("Theo quy định, bên yêu cầu không được thực hiện thao tác khóa/mở khóa này: {reason}."),
                    format!("The lock authority rules do not allow this: {reason}."),
                );
            }
            Self::NotFound { what } => {
                return ("Not found", format!("Không tìm thấy {what}."), format!("No such {what}."));
            }
            Self::Conflict { what } => {
                return ("Conflict", format!("Đã tồn tại: {what}."), format!("Already exists: {what}."));
            }
            Self::Level(error) => {
                use dinhdanh_domain::biometrics::LevelError;
                let vi = match error {
                    LevelError::AlreadyLevelTwo => "Tài khoản đã ở mức độ 2.",
                    LevelError::AlreadyLevelOne => "Tài khoản đang ở mức độ 1.",
                    LevelError::NotActive => "Tài khoản chưa được kích hoạt; hãy kích hoạt trước.",
                    LevelError::Locked => "Tài khoản đang bị khóa nên không thể thay đổi mức độ.",
                    LevelError::NotLevelTwo => {
                        "Tài khoản đang ở mức độ 1: hãy nâng lên mức độ 2 trước (trực tuyến hoặc tại cơ quan Công an)."
                    }
                };
                return ("Level cannot change", vi.to_owned(), format!("{}.", capitalised(&error.to_string())));
            }
            Self::Unauthorized => (
                "Unauthorized",
                "Cần xác thực: mã truy cập thiếu, sai, đã hết hạn hoặc đã bị thu hồi.",
                "Authentication needed: the access token is missing, unknown, expired or revoked.",
            ),
            Self::OrganizationSuspended => (
                "Organization suspended",
                "Tổ chức của bạn đang bị tạm dừng và không thể thực hiện thao tác nào.",
                "Your organization is suspended and can do nothing.",
            ),
            Self::SignInLocked { .. } => (
                "Sign-in locked",
                "Đăng nhập sai quá nhiều lần; hãy thử lại sau.",
                "Too many failed sign-ins; try again later.",
            ),
            Self::SignInFailed => (
                "Sign-in failed",
                "Thông tin đăng nhập (tên đăng nhập hoặc số định danh, mật khẩu, mã xác thực) không đúng.",
                "The sign-in details (username or identifier, password, code) are wrong.",
            ),
            Self::AccountLocked { .. } => (
                "Account locked",
                "Tài khoản định danh điện tử đang bị khóa nên không thể đăng nhập; xem lý do và cách mở khóa của từng khóa. \
                 Để đề nghị mở khóa, hãy đăng nhập với mục đích khôi phục (purpose = restore).",
                "The e-ID account is locked and cannot sign in; see each lock's ground and how it can be lifted. To ask \
                 for a lift, sign in with purpose \"restore\".",
            ),
            Self::BiometricMismatch { .. } => (
                "Biometrics do not match",
                "Vân tay hoặc ảnh chân dung không khớp với dữ liệu trong Cơ sở dữ liệu; xem số lần thử còn lại.",
                "The fingerprint or portrait does not match the registry's; see the tries left.",
            ),
            Self::BiometricReferenceMissing => (
                "No biometric reference",
                "Cơ sở dữ liệu không có dữ liệu mẫu cho ngón tay hoặc ảnh chân dung này; hãy dùng ngón tay khác, ảnh \
                 chân dung, hoặc đến cơ quan Công an. Lần này không bị tính.",
                "The registry holds no reference for this finger or portrait; use another finger, a portrait, or go \
                 to a police office. This try was not counted.",
            ),
            Self::BiometricTriesExhausted { .. } => (
                "No tries left today",
                "Bạn đã dùng hết số lần xác thực sinh trắc học trong ngày; hãy thử lại vào ngày mai hoặc đến cơ quan Công an.",
                "You have used today's biometric tries; try again tomorrow, or go to a police office.",
            ),
            Self::LastAdministrator => (
                "Last administrator",
                "Không thể bỏ quyền quản trị hoặc vô hiệu hóa quản trị viên cuối cùng đang hoạt động.",
                "The last active administrator cannot lose the role, be disabled or be sent back to enrolment.",
            ),
            Self::ClientRevoked => (
                "Client revoked",
                "Ứng dụng (API client) này đã bị thu hồi; hãy đăng ký ứng dụng mới.",
                "This API client is revoked; register a new client.",
            ),
            Self::LastCredential => (
                "Last credential",
                "Không thể xóa khóa hoặc mật khẩu cuối cùng của ứng dụng; hãy thêm cái mới trước, hoặc thu hồi ứng dụng.",
                "The last live key or secret of a client cannot be removed; add a new one first, or revoke the client.",
            ),
            Self::InvalidStream(_) => (
                "Invalid stream configuration",
                "Cấu hình luồng sự kiện không dùng được; xem danh sách lỗi.",
                "The event stream's configuration cannot be used; see the list of errors.",
            ),
            Self::MalformedBody(_) => (
                "Malformed request body",
                "Nội dung yêu cầu không phải JSON hợp lệ.",
                "The request body is not valid JSON with a JSON content type.",
            ),
            Self::Validation(_) => (
                "Invalid input",
                "Thông tin gửi lên không hợp lệ; xem danh sách lỗi.",
                "Some fields are invalid; see the list of errors.",
            ),
            Self::RegistryMismatch => (
                "Identity not verified",
                "Thông tin khai báo không khớp với Cơ sở dữ liệu quốc gia. Hãy kiểm tra lại đúng như trên giấy tờ.",
                "The information given does not match the national registry. Check it against your identity document.",
            ),
            Self::AccountNotFound => {
                ("Account not found", "Không tìm thấy tài khoản đăng ký.", "No such registration was found.")
            }
            Self::AlreadyActive => ("Already active", "Tài khoản đã được kích hoạt.", "The account is already active."),
            Self::RegistrationExpired => (
                "Registration expired",
                "Đăng ký đã hết hạn do không được kích hoạt kịp thời; hãy đăng ký lại.",
                "The registration expired before it was activated; register again.",
            ),
            Self::CodeExpired => (
                "Code expired",
                "Mã đã hết hạn hoặc bị hủy do nhập sai quá số lần cho phép; hãy yêu cầu mã mới.",
                "The code has expired or was voided after too many wrong tries; ask for a new one.",
            ),
            Self::WrongCode { .. } => ("Wrong code", "Mã không đúng.", "The code is wrong."),
            Self::TooManyRequests { .. } => (
                "Too many requests",
                "Bạn đã gửi quá nhiều yêu cầu; hãy thử lại sau.",
                "Too many requests; try again later.",
            ),
            Self::RegistryUnavailable => (
                "Registry unavailable",
                "Không kết nối được Cơ sở dữ liệu quốc gia; hãy thử lại sau.",
                "The national registry cannot be reached; try again later.",
            ),
            Self::Saturated => (
                "Busy",
                "Hệ thống đang xử lý quá nhiều lượt đăng nhập cùng lúc; không có gì được thực hiện. Hãy thử lại sau ít giây.",
                "The service is checking too many passwords at once; nothing was done. Try again in a few seconds.",
            ),
            Self::Busy => (
                "Busy",
                "Hệ thống đang bận với các yêu cầu đồng thời; không có thay đổi nào được ghi. Hãy gửi lại yêu cầu.",
                "The service is busy with concurrent requests; nothing was changed. Send the request again.",
            ),
            Self::NoSuchRoute => (
                "No such route",
                "Không có địa chỉ này trong API; xem /openapi.json.",
                "There is no such path in the API; see /openapi.json.",
            ),
            Self::MethodNotAllowed => (
                "Method not allowed",
                "Địa chỉ này không nhận phương thức HTTP đó; xem tiêu đề Allow.",
                "This path does not take that HTTP method; see the Allow header.",
            ),
            Self::PayloadTooLarge => (
                "Payload too large",
                "Nội dung yêu cầu vượt quá kích thước cho phép.",
                "The request body is larger than this endpoint accepts.",
            ),
            Self::Internal(_) => (
                "Internal error",
                "Đã có lỗi ở máy chủ; hãy thử lại sau.",
                "Something went wrong on the server; try again later.",
            ),
        };
        (title, vi.to_owned(), en.to_owned())
    }

    pub fn to_problem(&self) -> Problem {
        let (title, vi, en) = self.texts();
        Problem {
            kind: format!("urn:dinhdanh:problem:{}", self.slug()),
            title: title.to_owned(),
            status: self.status().as_u16(),
            detail: format!("{vi} / {en}"),
            errors: match self {
                Self::Validation(errors) => errors.clone(),
                Self::MalformedBody(message) => vec![FieldError { field: "body".to_owned(), message: message.clone() }],
                Self::InvalidStream(error) => vec![error.clone()],
                _ => Vec::new(),
            },
            retry_after: match self {
                Self::TooManyRequests { retry_after_seconds }
                | Self::SignInLocked { retry_after_seconds }
                | Self::BiometricTriesExhausted { retry_after_seconds } => Some(*retry_after_seconds),
                Self::Busy | Self::Saturated => Some(1),
                _ => None,
            },
            attempts_left: match self {
                Self::WrongCode { attempts_left } => Some(*attempts_left),
                Self::BiometricMismatch { tries_left } => *tries_left,
                _ => None,
            },
            locks: match self {
                Self::AccountLocked { locks } => locks.clone(),
                _ => Vec::new(),
            },
        }
    }
}

impl From<dinhdanh_store::StoreError> for ApiError {
    fn from(e: dinhdanh_store::StoreError) -> Self {
        use dinhdanh_store::Transient;
        if e.is_transient() { Self::Busy } else { Self::Internal(e.to_string()) }
    }
}

impl dinhdanh_store::Transient for ApiError {
    fn is_transient(&self) -> bool {
        matches!(self, Self::Busy)
    }
}

impl From<dinhdanh_registry::RegistryError> for ApiError {
    fn from(e: dinhdanh_registry::RegistryError) -> Self {
        tracing::error!(error = %e, "registry lookup failed");
        Self::RegistryUnavailable
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(message) = &self {
            // The message may name internals; it goes to the log, never to the client.
            tracing::error!(error = %message, "internal error");
        }
        let problem = self.to_problem();
        let mut response = (self.status(), axum::Json(&problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if matches!(self, Self::Unauthorized) {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = problem.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
        }
        response
    }
}

/// Errors produced before a handler runs come from axum and tower-http as plain text: an unknown route, a wrong
/// method, an over-long body, a body or query string an extractor without our rejection refused. This layer, around
/// the whole router, gives each the error format of its path: an OAuth 2.0 error (RFC 6749 §5.2) on the token
/// endpoint, an RFC 9457 problem everywhere else. Answers that already are JSON pass untouched.
pub async fn uniform_errors(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let oauth = request.uri().path().starts_with("/oauth/");
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("application/problem+json"));
    if is_json {
        return response;
    }
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = match axum::body::to_bytes(response.into_body(), 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_owned(),
        Err(_) => String::new(),
    };
    let error = match status {
        StatusCode::NOT_FOUND => ApiError::NoSuchRoute,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::BAD_REQUEST | StatusCode::UNSUPPORTED_MEDIA_TYPE | StatusCode::UNPROCESSABLE_ENTITY => {
            ApiError::MalformedBody(text.clone())
        }
        _ => ApiError::internal(format!("{status}: {text}")),
    };
    let mut response = if oauth {
        let description = error.texts().2;
        let body = serde_json::json!({"error": "invalid_request", "error_description": description});
        let mut response = (error.status(), axum::Json(body)).into_response();
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    } else {
        error.into_response()
    };
    if let Some(allow) = allow {
        response.headers_mut().insert(header::ALLOW, allow);
    }
    response
}

/// `text` with its first letter in upper case (domain errors are written to follow a colon).
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
