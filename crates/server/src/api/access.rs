//! Which action of the authorization table each authenticated route asks, and the guard that holds the handlers
//! to it. [`SECURED_ROUTES`] answers "what does `POST /v1/requests/{id}/cancel` check?" in one place; the guard,
//! layered on every authenticated route, answers `500 internal` (and logs the route, never the caller) when a
//! route is missing from the list, or when its handler answered with a success without a granted
//! [`crate::auth::authorize`] for one of the route's actions. A handler that forgets to ask fails closed, in the
//! tests and in production alike. Which of several actions a route checks depends on who calls (a holder files
//! their own lock, an organization requests one); ownership (a holder's own requests, an organization's own
//! orders) is narrowed by the service after the table allowed the kind of actor.

use std::cell::RefCell;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dinhdanh_domain::authorization::Action;

use crate::problem::ApiError;

/// An authenticated route and the actions its handler may check (one of them must be granted for a success).
#[derive(Debug, Clone, Copy)]
pub struct SecuredRoute {
    pub method: &'static str,
    pub path: &'static str,
    pub actions: &'static [Action],
}

const fn route(method: &'static str, path: &'static str, actions: &'static [Action]) -> SecuredRoute {
    SecuredRoute { method, path, actions }
}

use Action::*;

/// Every route behind a bearer token, with the actions of [`dinhdanh_domain::authorization::RULES`] it asks.
pub const SECURED_ROUTES: &[SecuredRoute] = &[
    route("POST", "/v1/organizations", &[OrganizationsManage]),
    route("GET", "/v1/organizations", &[OrganizationsRead]),
    route("GET", "/v1/organizations/{id}", &[OrganizationsRead]),
    route("PATCH", "/v1/organizations/{id}", &[OrganizationsManage]),
    route("POST", "/v1/organizations/{id}/suspend", &[OrganizationsManage]),
    route("POST", "/v1/organizations/{id}/reinstate", &[OrganizationsManage]),
    route("POST", "/v1/organizations/{org_id}/clients", &[ClientsManage]),
    route("GET", "/v1/organizations/{org_id}/clients", &[ClientsManage]),
    route("GET", "/v1/clients/me", &[OwnClientRead]),
    route("GET", "/v1/clients/{client_id}", &[ClientsManage]),
    route("POST", "/v1/clients/{client_id}/keys", &[ClientsManage]),
    route("POST", "/v1/clients/{client_id}/secrets", &[ClientsManage]),
    route("DELETE", "/v1/clients/{client_id}/credentials/{credential_id}", &[ClientsManage]),
    route("POST", "/v1/clients/{client_id}/revoke", &[ClientsManage]),
    route("GET", "/v1/clients/{client_id}/oidc", &[ClientsManage]),
    route("PUT", "/v1/clients/{client_id}/oidc", &[ClientsManage]),
    route("DELETE", "/v1/officer-sessions/current", &[OfficerSignOut]),
    route("POST", "/v1/officers", &[OfficersManage]),
    route("GET", "/v1/officers", &[OfficersRead]),
    route("GET", "/v1/officers/me", &[OwnOfficerRead]),
    route("GET", "/v1/officers/{officer_id}", &[OfficersRead]),
    route("PATCH", "/v1/officers/{officer_id}", &[OfficersManage]),
    route("POST", "/v1/officers/{officer_id}/enrolment", &[OfficersManage]),
    route("DELETE", "/v1/holder-sessions/current", &[HolderSignOut]),
    route("POST", "/v1/holder-sessions/current/biometric", &[BiometricSignIn]),
    route("POST", "/v1/me/level-upgrade", &[UpgradeOwnLevel]),
    route("POST", "/v1/accounts/{account_id}/level-upgrade", &[UpgradeLevelInPerson]),
    route("POST", "/v1/accounts/{account_id}/level-lowering", &[LowerLevel]),
    route("GET", "/v1/me", &[OwnAccountRead]),
    route("GET", "/v1/me/sign-ins", &[OwnSignInsRead]),
    route("GET", "/v1/me/consents", &[OwnConsentsManage]),
    route("DELETE", "/v1/me/consents/{client_id}", &[OwnConsentsManage]),
    route("POST", "/v1/lock-requests", &[LockOwnAccount, RequestLock, PlaceLockAsOfficer]),
    route("POST", "/v1/unlock-requests", &[RequestOwnUnlock, RequestUnlock, PlaceLockAsOfficer, DecideRequest]),
    route("GET", "/v1/requests", &[RequestsList]),
    route("GET", "/v1/requests/{id}", &[RequestsRead]),
    route("POST", "/v1/requests/{id}/claim", &[WorkQueue]),
    route("POST", "/v1/requests/{id}/release", &[WorkQueue]),
    route("POST", "/v1/requests/{id}/forward", &[WorkQueue]),
    route("POST", "/v1/requests/{id}/decision", &[WorkQueue]),
    route("POST", "/v1/requests/{id}/cancel", &[RequestsCancel]),
    route("GET", "/v1/accounts/{account_id}/locks", &[LocksRead]),
    route("GET", "/v1/account-status", &[AccountStatusRead]),
    route("POST", "/v1/bulk-lock-orders", &[RequestLock]),
    route("GET", "/v1/bulk-lock-orders/{id}", &[BulkResultsRead]),
    route("GET", "/v1/bulk-lock-orders/{id}/results", &[BulkResultsRead]),
    route("POST", "/ssf/streams", &[ManageEventStream]),
    route("GET", "/ssf/streams", &[ManageEventStream]),
    route("PATCH", "/ssf/streams", &[ManageEventStream]),
    route("PUT", "/ssf/streams", &[ManageEventStream]),
    route("DELETE", "/ssf/streams", &[ManageEventStream]),
    route("GET", "/ssf/streams/status", &[ManageEventStream]),
    route("POST", "/ssf/streams/status", &[ManageEventStream]),
    route("POST", "/ssf/streams/subjects/add", &[ManageEventStream]),
    route("POST", "/ssf/streams/subjects/remove", &[ManageEventStream]),
    route("POST", "/ssf/streams/verify", &[ManageEventStream]),
    route("POST", "/ssf/poll", &[ReceiveEvents]),
    route("GET", "/v1/ssf/dead-letters", &[EventDeadLetters]),
    route("POST", "/v1/ssf/dead-letters/{id}/replay", &[EventDeadLetters]),
];

/// The entry for a method and route template.
pub fn secured_route(method: &str, path: &str) -> Option<&'static SecuredRoute> {
    SECURED_ROUTES.iter().find(|r| r.method == method && r.path == path)
}

tokio::task_local! {
    /// The actions granted while the current request is handled.
    static GRANTED: RefCell<Vec<Action>>;
}

/// Called by [`crate::auth::authorize`] for every granted action; outside a guarded request it does nothing.
pub(crate) fn record_grant(action: Action) {
    let _ = GRANTED.try_with(|granted| granted.borrow_mut().push(action));
}

/// The guard around every authenticated route (see the module docs).
pub async fn guard(request: Request, next: Next) -> Response {
    // axum answers HEAD with the GET handler.
    let method = match request.method().as_str() {
        "HEAD" => "GET".to_owned(),
        other => other.to_owned(),
    };
    let path = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let Some(route) = secured_route(&method, &path) else {
        // A method the path does not take (TRACE, PUT…) reaches the route layer too: answer the 405 axum would,
        // without running anything.
        let allow: Vec<&str> = SECURED_ROUTES.iter().filter(|r| r.path == path).map(|r| r.method).collect();
        if !allow.is_empty() {
            return method_not_allowed(&allow);
        }
        tracing::error!(%method, route = %path, "an authenticated route is missing from api::access::SECURED_ROUTES");
        return ApiError::internal("route without an authorization entry").into_response();
    };
    let (response, granted) = GRANTED
        .scope(RefCell::new(Vec::new()), async move {
            let response = next.run(request).await;
            (response, GRANTED.with(|granted| granted.take()))
        })
        .await;
    if response.status().is_success() && !granted.iter().any(|action| route.actions.contains(action)) {
        tracing::error!(%method, route = %path, "a handler answered without asking the authorization table");
        return ApiError::internal("answered without authorization").into_response();
    }
    response
}

/// `405 method-not-allowed` with `Allow` naming the methods of the path (HEAD too where GET is, as axum says).
fn method_not_allowed(methods: &[&str]) -> Response {
    let allow: Vec<&str> =
        methods.iter().flat_map(|&m| if m == "GET" { vec!["GET", "HEAD"] } else { vec![m] }).collect();
    let mut response = ApiError::MethodNotAllowed.into_response();
    let value = axum::http::HeaderValue::from_str(&allow.join(",")).expect("method names are header-safe");
    response.headers_mut().insert(axum::http::header::ALLOW, value);
    response
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_route_is_listed_once_and_names_actions_of_the_table() {
        let mut seen = BTreeSet::new();
        for route in SECURED_ROUTES {
            assert!(seen.insert((route.method, route.path)), "{} {} listed twice", route.method, route.path);
            assert!(!route.actions.is_empty(), "{} {}", route.method, route.path);
            for action in route.actions {
                assert!(dinhdanh_domain::authorization::rule(*action).is_some(), "{action:?}");
            }
        }
    }
}
