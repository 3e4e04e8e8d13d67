//! Every authenticated route asks the authorization table (issue 11, items 2 and 3). Each route of
//! `api::access::SECURED_ROUTES` is called by every test caller that the table refuses for all of the route's
//! actions, on ids that do not exist: it must answer 403 and leave an `authorization.denied` audit entry naming
//! one of the route's actions, so a handler that looks something up before asking (an oracle of which ids exist)
//! or never asks fails here. The table is compared with the OpenAPI document, and the guard that refuses to let a
//! handler answer without asking is exercised on a router of its own.

mod support;

use std::collections::{BTreeSet, HashMap};

use axum::Router;
use axum::routing::get;
use dinhdanh_domain::actor::{Actor, OfficerRole, OrganizationKind, Scope};
use dinhdanh_domain::authorization::{Action, authorize};
use dinhdanh_domain::{AccountId, Level};
use dinhdanh_server::api::access::{SECURED_ROUTES, SecuredRoute};
use dinhdanh_server::clock::Clock;
use dinhdanh_store::on_both_backends;
use dinhdanh_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};
use support::TestServer;

const NO_SUCH_ID: &str = "00000000-0000-4000-8000-000000000000";

struct Caller {
    name: &'static str,
    actor: Actor,
    token: String,
}

async fn callers(server: &TestServer) -> Vec<Caller> {
    let operator = server.organization("C06", OrganizationKind::Operator).await;
    let mut out = Vec::new();
    for (name, role) in [
        ("administrator", OfficerRole::Administrator),
        ("reviewer", OfficerRole::Reviewer),
        ("supervisor", OfficerRole::Supervisor),
    ] {
        let (officer, token) = server.officer_session(&operator.id, &[role]).await;
        let actor = Actor::Officer {
            officer_id: officer.id,
            organization_id: operator.id.clone(),
            roles: BTreeSet::from([role]),
        };
        out.push(Caller { name, actor, token });
    }
    let (account, token) = server.holder("001190123456", Level::One).await;
    out.push(Caller {
        name: "holder",
        actor: Actor::Holder { account_id: account.id.clone(), assurance: Level::One, restore_only: false },
        token,
    });
    out.push(Caller {
        name: "holder in a restore session",
        actor: Actor::Holder { account_id: account.id.clone(), assurance: Level::One, restore_only: true },
        token: restore_session(server, &account.id).await,
    });
    for (name, code, kind, scopes) in [
        ("relying party without scopes", "BANK", OrganizationKind::RelyingParty, vec![]),
        ("prosecuting agency with every scope", "VKS", OrganizationKind::ProsecutingAgency, Scope::ALL.to_vec()),
    ] {
        let (org, token) = server.organization_token(code, kind, &scopes).await;
        let owner = server
            .store
            .access_token_owner(&dinhdanh_server::secrets::token_hash(&token), chrono::Utc::now())
            .await
            .unwrap()
            .unwrap();
        let actor = Actor::Organization {
            organization_id: org.id,
            kind,
            client_id: owner.client_id,
            scopes: scopes.into_iter().collect(),
        };
        out.push(Caller { name, actor, token });
    }
    out
}

async fn restore_session(server: &TestServer, account: &AccountId) -> String {
    let now = server.clock.now();
    let (token, hash) = dinhdanh_server::secrets::new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
    let mut tx = server.store.begin().await.unwrap();
    tx.insert_holder_session(&hash, account, Level::One, true, now, now + chrono::Duration::hours(1)).await.unwrap();
    tx.commit().await.unwrap();
    token
}

fn legal_basis() -> Value {
    json!({"document_kind": "Quyết định", "number": "123/QĐ-CSĐT", "issued_on": "2026-05-30",
           "issuing_body": "Cơ quan CSĐT", "signer": "Đỗ Văn Ký"})
}

/// A body the route's handler accepts as well-formed, so that the refusal, not the parsing, answers.
fn sample_body(route: &SecuredRoute) -> Option<Value> {
    let body = match (route.method, route.path) {
        ("POST", "/v1/organizations") => json!({"code": "NEW", "name": "Tổ chức mới", "kind": "relying_party"}),
        ("PATCH", "/v1/organizations/{id}") => json!({"name": "Tên mới"}),
        ("POST", "/v1/organizations/{id}/suspend" | "/v1/organizations/{id}/reinstate") => {
            json!({"reason": "kiểm tra"})
        }
        ("POST", "/v1/organizations/{org_id}/clients") => {
            json!({"name": "Hệ thống", "auth_method": "client_secret", "scopes": ["accounts:status"]})
        }
        ("POST", "/v1/clients/{client_id}/keys") => json!({"jwk": {"kty": "EC"}}),
        ("POST", "/v1/officers") => {
            json!({"username": "new.officer", "full_name": "Cán bộ Mới", "organization_id": NO_SUCH_ID, "roles": ["reviewer"]})
        }
        ("PATCH", "/v1/officers/{officer_id}") => json!({"full_name": "Tên Mới"}),
        ("POST", "/v1/lock-requests") => {
            json!({"ground": "authority_request", "account": {"id_number": "001190123456"},
            "legal_basis": legal_basis(), "reason": "điều tra"})
        }
        ("POST", "/v1/unlock-requests") => json!({"lock_id": NO_SUCH_ID, "reason": "đã xong"}),
        ("POST", "/v1/requests/{id}/forward") => json!({"note": "đã xác minh"}),
        ("POST", "/v1/holder-sessions/current/biometric" | "/v1/me/level-upgrade") => {
            json!({"modality": "face", "template": "AAAA"})
        }
        ("POST", "/v1/accounts/{account_id}/level-upgrade") => json!({
            "in_person_check": {"document_kind": "cccd", "document_number": "001190123456", "office": "Công an phường"},
            "capture": {"modality": "face", "template": "AAAA"}}),
        ("POST", "/v1/accounts/{account_id}/level-lowering") => json!({"reason": "dữ liệu sinh trắc học đã thay đổi"}),
        ("POST" | "PUT" | "PATCH", "/ssf/streams") => {
            json!({"stream_id": NO_SUCH_ID, "delivery": {"method": "urn:ietf:rfc:8936"}})
        }
        ("POST", "/ssf/streams/status") => json!({"stream_id": NO_SUCH_ID, "status": "paused"}),
        ("POST", "/ssf/streams/subjects/add" | "/ssf/streams/subjects/remove") => json!({"stream_id": NO_SUCH_ID,
            "subject": {"format": "iss_sub", "iss": "https://id.example.vn", "sub": "a-pairwise-sub"}}),
        ("POST", "/ssf/streams/verify") => json!({"stream_id": NO_SUCH_ID, "state": "abc"}),
        ("POST", "/ssf/poll") => json!({"returnImmediately": true}),
        ("POST", "/v1/requests/{id}/decision") => json!({"decision": "approve", "reason": ""}),
        ("POST", "/v1/bulk-lock-orders") => json!({"ground": "authority_request", "legal_basis": legal_basis(),
            "reason": "điều tra", "accounts": [{"id_number": "001190123456"}]}),
        _ => return None,
    };
    Some(body)
}

fn concrete(route: &SecuredRoute) -> String {
    let mut path = route.path.to_owned();
    for param in ["{id}", "{org_id}", "{client_id}", "{credential_id}", "{officer_id}", "{account_id}"] {
        path = path.replace(param, NO_SUCH_ID);
    }
    if route.path == "/v1/account-status" {
        path.push_str("?id_number=001190123456");
    }
    path
}

fn refused(actor: &Actor, route: &SecuredRoute) -> bool {
    route.actions.iter().all(|action| authorize(actor, *action).is_err())
}

async fn denials(server: &TestServer) -> Vec<dinhdanh_store::AuditRecord> {
    server.store.recent_audit(Some("authorization.denied"), 10_000).await.unwrap()
}

on_both_backends! {
    every_route_refuses_every_caller_the_table_refuses_before_looking_anything_up(db) {
        let server = TestServer::start(&db).await;
        let callers = callers(&server).await;
        let mut refusals_per_route: HashMap<(&str, &str), usize> = HashMap::new();
        for route in SECURED_ROUTES {
            for caller in callers.iter().filter(|c| refused(&c.actor, route)) {
                let before = denials(&server).await.len();
                let method = Method::from_bytes(route.method.as_bytes()).unwrap();
                let (status, body) = server.call(method, &concrete(route), &caller.token, sample_body(route)).await;
                let what = format!("{} {} by the {}", route.method, route.path, caller.name);
                assert_eq!(status, 403, "{what}: {body}");
                assert!(
                    ["urn:dinhdanh:problem:forbidden", "urn:dinhdanh:problem:insufficient-scope"]
                        .contains(&body["type"].as_str().unwrap_or_default()),
                    "{what}: {body}"
                );
                let after = denials(&server).await;
                assert_eq!(after.len(), before + 1, "{what}: one audited refusal");
                let checked = after[0].detail["action"].as_str().unwrap_or_default().to_owned();
                assert!(route.actions.iter().any(|a| a.as_str() == checked), "{what} checked {checked:?}");
                assert_eq!(after[0].actor, caller.actor.audit_name(), "{what}");
                *refusals_per_route.entry((route.method, route.path)).or_default() += 1;
            }
        }
        for route in SECURED_ROUTES {
            assert!(refusals_per_route.contains_key(&(route.method, route.path)), "{} {} was refused to nobody", route.method, route.path);
        }
    }

    a_restore_session_reaches_its_own_locks_requests_unlock_and_sign_out_and_nothing_else(db) {
        let server = TestServer::start(&db).await;
        let callers = callers(&server).await;
        let restoring = callers.iter().find(|c| c.name == "holder in a restore session").unwrap();
        let Actor::Holder { account_id, .. } = &restoring.actor else { unreachable!() };
        let reachable: BTreeSet<(&str, &str)> =
            SECURED_ROUTES.iter().filter(|r| !refused(&restoring.actor, r)).map(|r| (r.method, r.path)).collect();
        assert_eq!(
            reachable,
            BTreeSet::from([
                ("DELETE", "/v1/holder-sessions/current"),
                ("POST", "/v1/holder-sessions/current/biometric"),
                ("GET", "/v1/me"),
                ("POST", "/v1/unlock-requests"),
                ("GET", "/v1/requests"),
                ("GET", "/v1/requests/{id}"),
                ("GET", "/v1/accounts/{account_id}/locks"),
            ])
        );
        // What it reaches works for its own account (the walk above proved every other route answers 403).
        let (status, body) = server.call(Method::GET, "/v1/me", &restoring.token, None).await;
        assert_eq!((status, body["account_id"].as_str()), (200, Some(account_id.as_str())), "{body}");
        let (status, body) = server.call(Method::GET, &format!("/v1/accounts/{account_id}/locks"), &restoring.token, None).await;
        assert_eq!((status, body), (200, json!([])));
        let (status, body) = server.call(Method::GET, "/v1/requests", &restoring.token, None).await;
        assert_eq!((status, body), (200, json!([])));
        let (status, body) = server.call(Method::POST, "/v1/lock-requests", &restoring.token, Some(json!({"reason": "x"}))).await;
        assert_eq!((status, body["type"].as_str()), (403, Some("urn:dinhdanh:problem:forbidden")), "{body}");
        let (status, _) = server.call(Method::DELETE, "/v1/holder-sessions/current", &restoring.token, None).await;
        assert_eq!(status, 204);
        assert_eq!(server.call(Method::GET, "/v1/me", &restoring.token, None).await.0, 401, "signed out");
    }

    an_administrator_reads_no_request_and_no_bulk_order(db) {
        let server = TestServer::start(&db).await;
        let callers = callers(&server).await;
        let admin = callers.iter().find(|c| c.name == "administrator").unwrap();
        let (status, body) = server.call(Method::GET, "/v1/requests", &admin.token, None).await;
        assert_eq!((status, body["type"].as_str()), (403, Some("urn:dinhdanh:problem:forbidden")), "{body}");
        let reviewer = callers.iter().find(|c| c.name == "reviewer").unwrap();
        let (status, body) = server.call(Method::GET, "/v1/requests", &reviewer.token, None).await;
        assert_eq!((status, body), (200, json!([])), "the queue is the reviewers'");
        let (status, _) = server.call(Method::GET, &format!("/v1/requests/{NO_SUCH_ID}"), &reviewer.token, None).await;
        assert_eq!(status, 404, "allowed to read requests, and this one does not exist");
    }
}

#[tokio::test]
async fn the_table_lists_exactly_the_operations_the_openapi_document_secures() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let doc: Value = server.http.get(server.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if op.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty()) {
                documented.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let listed: BTreeSet<(String, String)> =
        SECURED_ROUTES.iter().map(|r| (r.method.to_owned(), r.path.to_owned())).collect();
    assert_eq!(listed, documented, "SECURED_ROUTES and the bearer-secured operations of /openapi.json");
}

/// The guard fails closed: a route missing from the table, and a handler that answers without asking, get 500.
#[tokio::test]
async fn the_guard_refuses_to_let_a_route_answer_without_asking() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let state = server.state.clone();
    let holder = Actor::Holder { account_id: AccountId::new("a".into()), assurance: Level::One, restore_only: false };
    let asking_holder = holder.clone();
    let app = Router::new()
        .route("/v1/not-in-the-table", get(|| async { "hello" }))
        .route("/v1/me", get(|| async { "answered without asking" }))
        .route(
            "/v1/requests",
            get(move || {
                let (state, actor) = (state.clone(), asking_holder.clone());
                async move {
                    // Granted, but not the route's action.
                    dinhdanh_server::auth::authorize(&state, &actor, Action::LocksRead).await.unwrap();
                    "asked for something else"
                }
            }),
        )
        .route(
            "/v1/accounts/{account_id}/locks",
            get(move || {
                let (state, actor) = (server.state.clone(), holder.clone());
                async move {
                    dinhdanh_server::auth::authorize(&state, &actor, Action::LocksRead).await.unwrap();
                    "asked"
                }
            }),
        )
        .route_layer(axum::middleware::from_fn(dinhdanh_server::api::access::guard));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let http = reqwest::Client::new();
    let status = |path: &'static str| {
        let (http, base) = (http.clone(), base.clone());
        async move { http.get(format!("{base}{path}")).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status("/v1/not-in-the-table").await, 500);
    assert_eq!(status("/v1/me").await, 500);
    assert_eq!(status("/v1/requests").await, 500);
    assert_eq!(status("/v1/accounts/x/locks").await, 200);
}
