//! One error format everywhere (issue 12, items 1 to 3): every error under `/v1` is an RFC 9457 problem with a
//! stable `type`, including the ones axum and tower-http produce before a handler runs (an unknown route, a wrong
//! method, an over-long body, a query string that does not parse); every error of the token endpoint is an OAuth
//! error JSON; unknown JSON fields and query parameters are refused naming the field; out-of-range page sizes are
//! refused, not clamped; and the OpenAPI document declares query parameters `in: query`.

mod support;

use dinhdanh_domain::Level;
use dinhdanh_store::on_both_backends;
use dinhdanh_store::testing::TestDb;
use reqwest::Method;
use serde_json::{Value, json};
use support::TestServer;

/// Status, content type and the body as JSON (or `null` when it is not JSON).
async fn send(server: &TestServer, request: reqwest::RequestBuilder) -> (u16, String, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let text = response.text().await.unwrap();
    let _ = server;
    (status, content_type, serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn assert_problem(answer: &(u16, String, Value), status: u16, kind: &str) {
    let (got, content_type, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(content_type, "application/problem+json", "{body}");
    assert_eq!(body["type"], format!("urn:dinhdanh:problem:{kind}"), "{body}");
    assert_eq!(body["status"], status);
}

fn field_errors(body: &Value) -> Vec<String> {
    body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn what_axum_answers_before_a_handler_is_a_problem_too() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let http = &server.http;
    assert_problem(&send(&server, http.get(server.url("/v1/no-such-thing"))).await, 404, "no-such-route");
    assert_problem(&send(&server, http.get(server.url("/nothing/here"))).await, 404, "no-such-route");
    let wrong_method = http.put(server.url("/v1/holder-sessions")).send().await.unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);
    assert_eq!(wrong_method.headers()["allow"], "POST");
    assert_problem(&send(&server, http.put(server.url("/v1/holder-sessions"))).await, 405, "method-not-allowed");
    let big = "x".repeat(70 * 1024);
    let too_long = send(
        &server,
        http.post(server.url("/v1/holder-sessions")).header("content-type", "application/json").body(big),
    )
    .await;
    assert_problem(&too_long, 413, "payload-too-large");
    let not_json = send(&server, http.post(server.url("/v1/holder-sessions")).body("{")).await;
    assert_problem(&not_json, 400, "malformed-body");
}

/// Behind a bearer token too (the authorization guard sees these before axum's method check): a method the path
/// does not take is `405` with `Allow`, token or not, and `HEAD` is answered as `GET` (found by the fuzzer: both
/// were `500 internal`).
#[tokio::test]
async fn a_wrong_method_on_an_authenticated_route_is_405_and_head_is_get() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let admin = server.admin().await;
    let request = |method: &Method, path: &str, token: Option<&str>| {
        let request = server.http.request(method.clone(), server.url(path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    };
    let trace = Method::from_bytes(b"TRACE").unwrap();
    for (method, path, allow) in [
        (&trace, "/v1/officers", "GET,HEAD,POST"),
        (&trace, "/v1/requests/1/claim", "POST"),
        (&Method::PUT, "/v1/officers/me", "GET,HEAD"),
    ] {
        for token in [None, Some(admin.as_str())] {
            let response = request(method, path, token).send().await.unwrap();
            let mut allowed: Vec<&str> =
                response.headers().get("allow").map(|v| v.to_str().unwrap().split(',').collect()).unwrap_or_default();
            allowed.sort_unstable();
            assert_eq!(allowed.join(","), allow, "{method} {path}");
            assert_problem(&send(&server, request(method, path, token)).await, 405, "method-not-allowed");
        }
    }
    let head = |token| request(&Method::HEAD, "/v1/officers/me", token);
    assert_eq!(head(None).send().await.unwrap().status().as_u16(), 401);
    assert_eq!(head(Some(&admin)).send().await.unwrap().status().as_u16(), 200);
}

#[tokio::test]
async fn the_token_endpoint_answers_oauth_errors_only() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let http = &server.http;
    for (request, status) in [
        (http.get(server.url("/oauth/token")), 405),
        (
            http.post(server.url("/oauth/token"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body("x".repeat(70 * 1024)),
            413,
        ),
        (http.post(server.url("/oauth/token")).form(&[("grant_type", "client_credentials")]), 401),
    ] {
        let (got, content_type, body) = send(&server, request).await;
        assert_eq!(got, status, "{body}");
        assert!(content_type.starts_with("application/json"), "{content_type}");
        assert!(body["error"].is_string() && body["error_description"].is_string(), "{body}");
        assert!(body.get("type").is_none(), "not a problem: {body}");
    }
}

on_both_backends! {
    query_strings_that_do_not_parse_are_problems_naming_the_parameter(db) {
        let server = TestServer::start(&db).await;
        let (_, token) = server.holder("001190123456", Level::One).await;
        let http = &server.http;
        let missing = send(&server, http.get(server.url("/v1/request-status?id_number=001190123456"))).await;
        assert_problem(&missing, 422, "validation");
        assert_eq!(field_errors(&missing.2), ["tracking_code"]);
        for query in ["limit=abc", "overdue=maybe", "limit=-5", "limit=0", "limit=1001", "colour=red"] {
            let answer = send(&server, http.get(server.url(&format!("/v1/requests?{query}"))).bearer_auth(&token)).await;
            assert_problem(&answer, 422, "validation");
        }
        let answer = send(&server, http.get(server.url("/v1/requests?limit=-5")).bearer_auth(&token)).await;
        assert_eq!(field_errors(&answer.2), ["limit"]);
        let answer = send(&server, http.get(server.url("/v1/requests?colour=red")).bearer_auth(&token)).await;
        assert_eq!(field_errors(&answer.2), ["colour"]);
        let answer = send(&server, http.get(server.url("/v1/requests?limit=1000")).bearer_auth(&token)).await;
        assert_eq!(answer.0, 200, "the largest page is allowed: {}", answer.2);
        let operator = server.organization("C06", dinhdanh_domain::actor::OrganizationKind::Operator).await;
        let (_, reviewer) = server.officer_session(&operator.id, &[dinhdanh_domain::actor::OfficerRole::Reviewer]).await;
        let answer = send(&server, http.get(server.url("/v1/bulk-lock-orders/x/results?after=-2")).bearer_auth(&reviewer)).await;
        assert_problem(&answer, 422, "validation");
        assert_eq!(field_errors(&answer.2), ["after"]);
    }

    an_unknown_field_is_refused_and_changes_nothing(db) {
        let server = TestServer::start(&db).await;
        let (holder, token) = server.holder("001190123456", Level::One).await;
        // "end_at" meaning "ends_at": accepted, it would have been a permanent lock.
        let typo = json!({"reason": "mất điện thoại", "end_at": "2026-06-01T09:00:00Z"});
        let (status, body) = server.call(Method::POST, "/v1/lock-requests", &token, Some(typo)).await;
        assert_eq!((status, body["type"].as_str()), (422, Some("urn:dinhdanh:problem:validation")), "{body}");
        assert_eq!(field_errors(&body), ["end_at"]);
        assert!(body["errors"][0]["message"].as_str().unwrap().contains("ends_at"), "names what was meant: {body}");
        let now = dinhdanh_server::clock::Clock::now(&server.clock);
        assert!(server.store.active_locks(&holder.id, now).await.unwrap().is_empty(), "nothing changed");
        let nested = json!({"ground": "authority_request", "account": {"id_numbr": "001190123456"}, "reason": "x"});
        let admin = server.admin().await;
        let (status, body) = server.call(Method::POST, "/v1/lock-requests", &admin, Some(nested)).await;
        assert_eq!((status, field_errors(&body)), (422, vec!["account.id_numbr".to_owned()]), "{body}");
    }

    identity_fields_of_the_other_holder_kind_are_refused(db) {
        // Found by the schema fuzzer: a citizen's lost-phone lock with `"passport_number": ""` (against its pattern)
        // was accepted, the field ignored; registration and holder sign-in ignored it the same way.
        let server = TestServer::start(&db).await;
        let citizen = json!({"holder_kind": "citizen", "id_number": "001190123456", "full_name": "Trần Thị Mai",
            "date_of_birth": "1990-05-01", "gender": "female", "email": "mai@example.vn", "password": "hoa sen nở trên hồ tây"});
        let foreigner = json!({"holder_kind": "foreigner", "passport_number": "M1234567", "nationality": "KOR",
            "full_name": "Kim Min-jun", "date_of_birth": "1985-02-03", "gender": "male", "email": "kim@example.kr",
            "password": "hoa sen nở trên hồ tây"});
        let take = |body: &Value, keys: &[&str]| {
            Value::Object(body.as_object().unwrap().iter().filter(|(k, _)| keys.contains(&k.as_str())).map(|(k, v)| (k.clone(), v.clone())).collect())
        };
        let with = |mut body: Value, field: &str, value: &str| { body[field] = json!(value); body };
        let lost_phone = ["holder_kind", "id_number", "passport_number", "nationality", "full_name", "date_of_birth"];
        let sign_in = ["holder_kind", "id_number", "passport_number", "nationality", "password"];
        for (path, keys) in [("/v1/accounts", &[][..]), ("/v1/holder-sessions", &sign_in[..]), ("/v1/lock-requests/without-sign-in", &lost_phone[..])] {
            let shape = |body: &Value| if keys.is_empty() { body.clone() } else { take(body, keys) };
            for (body, field) in [
                (with(shape(&citizen), "passport_number", ""), "passport_number"),
                (with(shape(&citizen), "nationality", "KOR"), "nationality"),
                (with(shape(&foreigner), "id_number", "001190123456"), "id_number"),
            ] {
                let (status, answer) = server.post(path, body.clone()).await;
                assert_eq!((status, answer["type"].as_str()), (422, Some("urn:dinhdanh:problem:validation")), "{path} {body}: {answer}");
                assert_eq!(field_errors(&answer), [field], "{path} {body}");
            }
        }
        assert_eq!(server.counts().await, (0, 0), "no account, no message");
    }

    a_body_that_is_an_array_is_refused_and_changes_nothing(db) {
        // serde fills a struct from an array by position: found by the fuzzer as `PATCH` with `[null, null]`
        // answering 200; `["…"]` renamed the organization.
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let org = server.organization("VCB", dinhdanh_domain::actor::OrganizationKind::RelyingParty).await;
        let path = format!("/v1/organizations/{}", org.id);
        for body in [json!(["Tên khác"]), json!([null, null])] {
            let (status, answer) = server.call(Method::PATCH, &path, &admin, Some(body.clone())).await;
            assert_eq!((status, answer["type"].as_str()), (422, Some("urn:dinhdanh:problem:validation")), "{body}: {answer}");
            assert_eq!(field_errors(&answer), ["body"]);
        }
        let stored = server.store.organization_by_code("VCB").await.unwrap().unwrap();
        assert_eq!((stored.name, stored.updated_at), (org.name, org.updated_at), "nothing changed");
        let (holder, token) = server.holder("001190123456", Level::One).await;
        let (status, answer) = server.call(Method::POST, "/v1/lock-requests", &token, Some(json!(["mất điện thoại"]))).await;
        assert_eq!((status, field_errors(&answer)), (422, vec!["body".to_owned()]), "{answer}");
        let now = dinhdanh_server::clock::Clock::now(&server.clock);
        assert!(server.store.active_locks(&holder.id, now).await.unwrap().is_empty(), "nothing changed");
        // An object still goes through, and a body that is not JSON is still 400.
        let (status, answer) = server.call(Method::PATCH, &path, &admin, Some(json!({"name": "Tên khác"}))).await;
        assert_eq!((status, answer["name"].as_str()), (200, Some("Tên khác")), "{answer}");
        let not_json = server.http.patch(server.url(&path)).bearer_auth(&admin).header("content-type", "application/json").body("[1,");
        assert_problem(&send(&server, not_json).await, 400, "malformed-body");
    }
}

#[tokio::test]
async fn query_parameters_are_declared_in_query_and_optional_ones_not_required() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let doc: Value = server.http.get(server.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut seen = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for param in op["parameters"].as_array().into_iter().flatten() {
                let name = param["name"].as_str().unwrap();
                let where_ = param["in"].as_str().unwrap();
                if where_ == "path" {
                    assert!(path.contains(&format!("{{{name}}}")), "{method} {path}: {name} is not in the path");
                    continue;
                }
                if where_ == "query" {
                    seen += 1;
                    let required = param["required"].as_bool().unwrap_or(false);
                    let expected = path == "/v1/request-status" && name == "tracking_code";
                    assert_eq!(required, expected, "{method} {path}: {name}");
                }
            }
        }
    }
    assert!(seen >= 15, "{seen} query parameters");
}

/// Every tracking-code example in the OpenAPI document is a code the server itself would accept.
#[tokio::test]
async fn the_openapi_examples_of_tracking_codes_are_valid_codes() {
    fn walk(value: &Value, name: Option<&str>, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                let named = map.get("name").and_then(Value::as_str).or(name);
                if named == Some("tracking_code")
                    && let Some(example) = map.get("example").and_then(Value::as_str)
                {
                    found.push(example.to_owned());
                }
                for (key, child) in map {
                    walk(child, Some(key.as_str()).filter(|_| named != Some("tracking_code")).or(named), found);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| walk(i, name, found)),
            _ => {}
        }
    }
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let doc: Value = server.http.get(server.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let mut found = Vec::new();
    walk(&doc, None, &mut found);
    assert!(found.len() >= 2, "{found:?}");
    for example in found {
        assert!(dinhdanh_domain::tracking::TrackingCode::parse(&example).is_ok(), "{example}");
    }
}
