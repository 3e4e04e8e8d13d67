//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the handlers' annotations.

use utoipa::OpenApi;

use crate::api;
use crate::problem::{FieldError, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "dinhdanh",
        description = "Tài khoản định danh điện tử / e-ID accounts: registration, activation, and (in later versions) locks, sign-in and OpenID Connect.",
        license(name = "Apache-2.0")
    ),
    paths(
        api::registration::register,
        api::registration::activate,
        api::registration::resend_activation_code,
        api::ops::healthz,
        api::ops::readyz,
        api::ops::metrics,
    ),
    components(schemas(Problem, FieldError)),
    tags(
        (name = "registration", description = "Đăng ký và kích hoạt / Registration and activation"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
