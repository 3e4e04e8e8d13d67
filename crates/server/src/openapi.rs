//! The OpenAPI 3.1 document served at `/openapi.json`, generated from the handlers' annotations. The answers
//! that follow from a route's plumbing rather than from its handler (401 for a bearer token, 400/413/422 for a
//! JSON body, 422 for a query string, 403 from the authorization table, 429 from the per-IP limits) are added in
//! one place, [`CommonResponses`]; each handler's annotation lists what its own code and service answer.

use dinhdanh_domain::authorization::{self, Rule};
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::{ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, RefOr, Response, ResponseBuilder, Type};

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
    doc.merge(api::oidc::registrations::Doc::openapi());
    doc.merge(api::oidc::history::Doc::openapi());
    doc.merge(api::oidc::consents::Doc::openapi());
    doc.merge(api::oauth::Doc::openapi());
    doc.merge(api::officers::Doc::openapi());
    doc.merge(api::holders::Doc::openapi());
    doc.merge(api::biometrics::Doc::openapi());
    doc.merge(api::ssf::Doc::openapi());
    doc.merge(api::locks::Doc::openapi());
    doc.merge(api::bulk::Doc::openapi());
    doc.merge(api::audit::Doc::openapi());
    utoipa::Modify::modify(&CommonResponses, &mut doc);
    doc
}

/// The problem `type` URN of a slug, e.g. `urn:dinhdanh:problem:validation`.
pub fn problem_type(slug: &str) -> String {
    format!("urn:dinhdanh:problem:{slug}")
}

/// Adds to every operation the answers its route's plumbing gives, each naming its problem `type`:
/// - a bearer token (`security`): `401 unauthorized` (with `WWW-Authenticate`), and `403 forbidden` and
///   `organization-suspended` (every such route asks the authorization table, [`crate::auth`]), plus
///   `insufficient-scope` when one of its actions needs a scope;
/// - a JSON body: `400 malformed-body`, `413 payload-too-large` (naming the route's limit) and `422 validation`;
/// - query parameters: `422 validation`;
/// - every route is behind a per-IP limit ([`crate::router`]): `429 too-many-requests` with `Retry-After`;
/// - every write may, when its transaction keeps losing races, answer `503 busy` with `Retry-After`.
///
/// A status the handler documents already keeps its description; the common types are appended to it.
pub struct CommonResponses;

impl utoipa::Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, operation) in operations(item) {
                add_common_responses(method, path, operation);
            }
        }
    }
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = (&'static str, &mut Operation)> {
    [
        ("GET", item.get.as_mut()),
        ("PUT", item.put.as_mut()),
        ("POST", item.post.as_mut()),
        ("DELETE", item.delete.as_mut()),
        ("PATCH", item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(method, operation)| operation.map(|operation| (method, operation)))
}

/// The body limit of a route, as [`crate::router`] and [`api::bulk::routes`] set it.
fn body_limit(path: &str) -> usize {
    if path.starts_with("/v1/bulk-lock-orders") { api::bulk::BODY_LIMIT } else { crate::BODY_LIMIT }
}

fn human_size(bytes: usize) -> String {
    if bytes >= 1024 * 1024 { format!("{} MiB", bytes / (1024 * 1024)) } else { format!("{} KiB", bytes / 1024) }
}

fn add_common_responses(method: &str, path: &str, operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let json_body = operation.request_body.as_ref().is_some_and(|body| body.content.contains_key("application/json"));
    let has_query =
        operation.parameters.as_ref().is_some_and(|params| params.iter().any(|p| p.parameter_in == ParameterIn::Query));
    if secured {
        let response =
            problem(operation, 401, "unauthorized", "no valid bearer token (missing, unknown, expired or revoked)");
        response.headers.insert(
            "WWW-Authenticate".to_owned(),
            HeaderBuilder::new()
                .schema(ObjectBuilder::new().schema_type(Type::String))
                .description(Some("`Bearer`"))
                .build(),
        );
        let rules: Vec<&Rule> = api::access::secured_route(method, path)
            .map(|route| route.actions)
            .unwrap_or_default()
            .iter()
            .filter_map(|action| authorization::rule(*action))
            .collect();
        let who: Vec<&str> = rules.iter().map(|rule| rule.summary.trim_end_matches('.')).collect();
        let meaning = format!("the authorization table does not let this caller do this ({})", who.join("; "));
        problem(operation, 403, "forbidden", &meaning);
        let mut scopes: Vec<&str> = rules.iter().filter_map(|rule| rule.scope).map(|scope| scope.as_str()).collect();
        scopes.sort_unstable();
        scopes.dedup();
        if !scopes.is_empty() {
            let meaning = format!("an organization's token lacks the scope ({})", scopes.join(" or "));
            problem(operation, 403, "insufficient-scope", &meaning);
        }
        problem(operation, 403, "organization-suspended", "the caller's organization is suspended");
    }
    if json_body {
        problem(operation, 400, "malformed-body", "the body is not JSON, or not sent as `application/json`");
        let meaning = format!("the body is larger than {}", human_size(body_limit(path)));
        problem(operation, 413, "payload-too-large", &meaning);
    }
    if json_body || has_query {
        let meaning = "a field or parameter is missing, unknown or breaks a rule; see `errors`";
        problem(operation, 422, "validation", meaning);
    }
    if method != "GET" {
        // A write whose transaction lost the same race on every retry (`dinhdanh_store::Store::retrying`).
        let response = problem(
            operation,
            503,
            "busy",
            "concurrent transactions kept colliding and nothing was changed; send the same request again",
        );
        response.headers.insert("Retry-After".to_owned(), retry_after_header());
    }
    let limit = if secured {
        "the per-IP limit of authenticated endpoints"
    } else if ["/healthz", "/readyz", "/metrics", "/v1/audit/checkpoints"].contains(&path) {
        "the per-IP limit of operational endpoints"
    } else {
        "the per-IP limit of public endpoints"
    };
    let response = problem(operation, 429, "too-many-requests", &format!("{limit}; see `retry_after`"));
    response.headers.insert("Retry-After".to_owned(), retry_after_header());
}

fn retry_after_header() -> utoipa::openapi::header::Header {
    HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)))
        .description(Some("Seconds to wait before trying again"))
        .build()
}

/// The operation's response of `status`, made a problem response naming `slug` (created when absent). The line
/// is appended to the description a handler wrote unless that names the type already; the authorization table's
/// `forbidden` line always is, since it says who may, which the handler's own reasons do not.
fn problem<'a>(operation: &'a mut Operation, status: u16, slug: &str, meaning: &str) -> &'a mut Response {
    let entry = operation.responses.responses.entry(status.to_string()).or_insert_with(|| {
        RefOr::T(
            ResponseBuilder::new()
                .content(
                    "application/problem+json",
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                )
                .build(),
        )
    });
    let RefOr::T(response) = entry else { unreachable!("the handlers' responses are inline") };
    let urn = problem_type(slug);
    let line = format!("`{urn}`: {meaning}");
    let named =
        if slug == "forbidden" { response.description.contains(&line) } else { response.description.contains(&urn) };
    if !named {
        response.description =
            if response.description.is_empty() { line } else { format!("{}; {line}", response.description) };
    }
    response
}
