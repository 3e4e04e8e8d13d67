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
    modifiers(&BearerAuth),
    tags(
        (name = "registration", description = "Đăng ký và kích hoạt / Registration and activation"),
        (name = "operations", description = "Health, readiness and metrics"),
    )
)]
struct ApiDoc;

/// The `bearer` security scheme: organization access tokens (`dd_at_…`) and officer sessions (`dd_os_…`).
struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.merge(api::organizations::Doc::openapi());
    doc.merge(api::clients::Doc::openapi());
    doc.merge(api::oauth::Doc::openapi());
    doc.merge(api::officers::Doc::openapi());
    doc.merge(api::holders::Doc::openapi());
    doc.merge(api::locks::Doc::openapi());
    doc.merge(api::bulk::Doc::openapi());
    doc
}
