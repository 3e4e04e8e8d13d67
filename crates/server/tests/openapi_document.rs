//! The OpenAPI document says what the server really answers (issue 12, items 4 and 6). So far: every timestamp
//! the API writes is RFC 3339 UTC with exactly three decimals, and the JSON examples of the docs are valid.

mod support;

use dinhdanh_domain::Level;
use dinhdanh_domain::tracking::TrackingCode;
use dinhdanh_store::on_both_backends;
use regex_automata::meta::Regex;
use reqwest::Method;
use serde_json::{Value, json};
use support::TestServer;

/// The JSON examples of the docs parse, write timestamps as the API does, and their tracking codes (in the
/// examples and in the prose) are valid codes.
#[test]
fn the_examples_in_the_docs_are_valid() {
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let code = Regex::new(r"\b[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{2}\b").unwrap();
    let mut blocks = 0;
    for entry in std::fs::read_dir(&docs).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for found in code.find_iter(&text) {
            let tracking_code = &text[found.range()];
            TrackingCode::parse(tracking_code).unwrap_or_else(|e| panic!("{file}: {tracking_code}: {e}"));
        }
        for block in text.split("```json\n").skip(1) {
            let json = block.split("```").next().unwrap();
            let value: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{file}: {e}: {json}"));
            assert_timestamps(&file, &value);
            blocks += 1;
        }
    }
    assert!(blocks >= 3, "{blocks} JSON examples in the docs");
}

/// `2026-06-01T08:00:00.000Z`: RFC 3339, UTC, exactly three decimals.
fn is_api_timestamp(text: &str) -> bool {
    let strict = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$").unwrap();
    strict.is_match(text) && chrono::DateTime::parse_from_rfc3339(text).is_ok()
}

/// Every string of an answer that is a timestamp (it parses as RFC 3339, or its key says it is one) is written as
/// [`is_api_timestamp`] says.
fn assert_timestamps(what: &str, value: &Value) -> usize {
    fn walk(what: &str, key: &str, value: &Value, found: &mut usize) {
        match value {
            Value::Object(map) => map.iter().for_each(|(k, v)| walk(what, k, v, found)),
            Value::Array(items) => items.iter().for_each(|v| walk(what, key, v, found)),
            Value::String(text) => {
                let by_name = key.ends_with("_at") || ["at", "deadline", "since", "until"].contains(&key);
                if by_name || chrono::DateTime::parse_from_rfc3339(text).is_ok() {
                    assert!(is_api_timestamp(text), "{what}: {key} = {text:?}");
                    *found += 1;
                }
            }
            _ => {}
        }
    }
    let mut found = 0;
    walk(what, "", value, &mut found);
    found
}

on_both_backends! {
    every_timestamp_the_api_writes_has_one_format(db) {
        let server = TestServer::start(&db).await;
        // Sub-millisecond digits are cut, whole seconds get their three zeros.
        server.clock.advance(chrono::Duration::nanoseconds(123_456_789));
        let mut seen = 0;
        let mut check = |what: &str, (status, body): (u16, Value)| {
            assert!((200..300).contains(&status), "{what}: {status} {body}");
            seen += assert_timestamps(what, &body);
            body
        };
        let admin = server.admin().await;
        let org = check("createOrganization", server.call(Method::POST, "/v1/organizations", &admin,
            Some(json!({"code": "VCB", "name": "Ngân hàng", "kind": "relying_party"}))).await);
        check("createClient", server.call(Method::POST, &format!("/v1/organizations/{}/clients", org["id"].as_str().unwrap()), &admin,
            Some(json!({"name": "Hệ thống", "auth_method": "client_secret", "scopes": ["accounts:status"]}))).await);
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        check("createOfficer", server.call(Method::POST, "/v1/officers", &admin,
            Some(json!({"username": "mai.tt", "full_name": "Trần Thị Mai", "organization_id": operator.id, "roles": ["reviewer"]}))).await);
        check("listOfficers", server.call(Method::GET, "/v1/officers", &admin, None).await);
        let (account, token) = server.holder("001190123456", Level::One).await;
        check("getMyAccount", server.call(Method::GET, "/v1/me", &token, None).await);
        let filed = check("requestLock", server.call(Method::POST, "/v1/lock-requests", &token,
            Some(json!({"reason": "mất điện thoại", "ends_at": "2026-07-01T15:00:00+07:00"}))).await);
        let reviewer = server.officer_session(&operator.id, &[dinhdanh_domain::actor::OfficerRole::Reviewer]).await.1;
        let request = check("getRequest", server.call(Method::GET, &format!("/v1/requests/{}", filed["id"].as_str().unwrap()), &reviewer, None).await);
        assert!(request["steps"].as_array().is_some_and(|s| !s.is_empty()), "{request}");
        let locks = check("listLocks", server.call(Method::GET, &format!("/v1/accounts/{}/locks", account.id), &reviewer, None).await);
        assert_eq!(locks[0]["ends_at"], "2026-07-01T08:00:00.000Z", "any RFC 3339 input, written back in UTC");
        assert_eq!(locks[0]["effective_at"], "2026-06-01T08:00:00.123Z", "{locks}");
        let tracking_code = filed["tracking_code"].as_str().unwrap();
        let status = server.http.get(server.url(&format!("/v1/request-status?tracking_code={tracking_code}&id_number=001190123456")))
            .send().await.unwrap();
        check("getRequestStatus", (status.status().as_u16(), status.json().await.unwrap()));
        assert!(seen >= 25, "{seen} timestamps checked");
    }
}
