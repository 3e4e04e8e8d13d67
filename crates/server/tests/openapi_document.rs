//! The OpenAPI document says what the server really answers (issue 12, items 4 and 6): every operation behind a
//! bearer token documents 401 and 403, every JSON body 400, 413 and 422, every rate-limited operation 429 with
//! `Retry-After` (checked against a server whose limits are spent), each problem response names its `type` with
//! the status `docs/api.md` gives it, every operation `docs/api.md` lists is in the document, the examples obey
//! their own schemas, and every timestamp the API writes is RFC 3339 UTC with exactly three decimals.

mod support;

use std::collections::{BTreeMap, BTreeSet};

use dinhdanh_domain::Level;
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind};
use dinhdanh_domain::tracking::TrackingCode;
use dinhdanh_server::ratelimit::RateLimit;
use dinhdanh_store::on_both_backends;
use dinhdanh_store::testing::TestDb;
use regex_automata::meta::Regex;
use reqwest::Method;
use serde_json::{Value, json};
use support::TestServer;

const NO_SUCH_ID: &str = "00000000-0000-4000-8000-000000000000";
const PROBLEM_JSON: &str = "application/problem+json";

fn document() -> Value {
    serde_json::to_value(dinhdanh_server::openapi::document()).unwrap()
}

/// Every operation of the document: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            if ["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                out.push((method.to_uppercase(), path.clone(), operation.clone()));
            }
        }
    }
    out
}

fn name(method: &str, path: &str, operation: &Value) -> String {
    format!("{method} {path} ({})", operation["operationId"].as_str().unwrap_or("no operationId"))
}

/// The description of the response of `status`, when it is a problem response.
fn problem_description(operation: &Value, status: &str) -> Option<String> {
    let response = &operation["responses"][status];
    response["content"].get(PROBLEM_JSON)?;
    Some(response["description"].as_str().unwrap_or_default().to_owned())
}

fn names_type(operation: &Value, status: &str, slug: &str) -> bool {
    problem_description(operation, status).is_some_and(|d| d.contains(&format!("`urn:dinhdanh:problem:{slug}`")))
}

/// The problem types of the table in `docs/api.md`, with their status.
fn documented_problem_types() -> BTreeMap<String, u16> {
    let text = include_str!("../../../docs/api.md");
    let mut types = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("| `urn:dinhdanh:problem:") else { continue };
        let (slug, rest) = rest.split_once('`').unwrap();
        let status = rest.trim_start_matches(" |").trim().split(' ').next().unwrap();
        types.insert(slug.to_owned(), status.parse().unwrap_or_else(|_| panic!("status of {slug}: {line}")));
    }
    assert!(types.len() > 20, "the problem table of docs/api.md was not found");
    types
}

#[test]
fn every_operation_with_a_bearer_token_documents_401_and_403() {
    let doc = document();
    let mut secured = 0;
    for (method, path, operation) in operations(&doc) {
        if operation["security"].as_array().is_none_or(|s| s.is_empty()) {
            continue;
        }
        secured += 1;
        let what = name(&method, &path, &operation);
        assert!(names_type(&operation, "401", "unauthorized"), "{what}: 401 unauthorized");
        assert!(operation["responses"]["401"]["headers"].get("WWW-Authenticate").is_some(), "{what}");
        assert!(names_type(&operation, "403", "forbidden"), "{what}: 403 forbidden");
        assert!(names_type(&operation, "403", "organization-suspended"), "{what}: 403 organization-suspended");
    }
    assert!(secured >= 37, "{secured} secured operations");
}

#[test]
fn every_json_body_documents_400_413_and_422() {
    let doc = document();
    let mut bodies = 0;
    for (method, path, operation) in operations(&doc) {
        if operation["requestBody"]["content"].get("application/json").is_none() {
            continue;
        }
        bodies += 1;
        let what = name(&method, &path, &operation);
        assert!(names_type(&operation, "400", "malformed-body"), "{what}: 400 malformed-body");
        assert!(names_type(&operation, "413", "payload-too-large"), "{what}: 413 payload-too-large");
        assert!(names_type(&operation, "422", "validation"), "{what}: 422 validation");
        let limit = if path.starts_with("/v1/bulk-lock-orders") { "16 MiB" } else { "64 KiB" };
        assert!(problem_description(&operation, "413").unwrap().contains(limit), "{what}: the limit is {limit}");
    }
    assert!(bodies >= 20, "{bodies} operations with a JSON body");
}

#[test]
fn every_query_string_documents_422() {
    let doc = document();
    for (method, path, operation) in operations(&doc) {
        let params = operation["parameters"].as_array().cloned().unwrap_or_default();
        if params.iter().any(|p| p["in"] == "query") {
            assert!(names_type(&operation, "422", "validation"), "{}", name(&method, &path, &operation));
        }
    }
}

/// The bounds of the integer query parameters are in the document and are the server's: every `limit` declares
/// `minimum` and `maximum`, and for each declared bound the value on it is taken and the one past it is
/// `422 validation` naming the parameter (found by the schema fuzzer: `limit=1001` was schema-valid and refused).
#[tokio::test]
async fn the_bounds_of_query_parameters_are_documented_and_enforced() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let operator = server.organization("C06", OrganizationKind::Operator).await;
    let roles = [OfficerRole::Reviewer, OfficerRole::Supervisor, OfficerRole::Administrator];
    let (_, token) = server.officer_session(&operator.id, &roles).await;
    let doc = document();
    let mut limits = 0;
    let mut bounds = 0;
    for (method, path, operation) in operations(&doc) {
        let what = name(&method, &path, &operation);
        let concrete =
            path.split('/').map(|s| if s.starts_with('{') { NO_SUCH_ID } else { s }).collect::<Vec<_>>().join("/");
        for param in operation["parameters"].as_array().into_iter().flatten().filter(|p| p["in"] == "query") {
            let (param_name, schema) = (param["name"].as_str().unwrap(), &param["schema"]);
            if param_name == "limit" {
                limits += 1;
                assert!(schema["minimum"].is_i64() && schema["maximum"].is_i64(), "{what}: limit's bounds {schema}");
            }
            let edges = [("minimum", -1), ("maximum", 1)];
            for (bound, past) in edges.iter().filter_map(|(key, step)| schema[key].as_i64().map(|b| (b, b + step))) {
                bounds += 1;
                let url = |value: i64| server.url(&format!("{concrete}?{param_name}={value}"));
                let on = server.http.get(url(bound)).bearer_auth(&token).send().await.unwrap();
                let on: (u16, Value) = (on.status().as_u16(), on.json().await.unwrap_or_default());
                assert_ne!(on.0, 422, "{what}: {param_name}={bound} is documented as valid: {}", on.1);
                let off = server.http.get(url(past)).bearer_auth(&token).send().await.unwrap();
                let off: (u16, Value) = (off.status().as_u16(), off.json().await.unwrap());
                assert_eq!(off.0, 422, "{what}: {param_name}={past} is past the documented bound: {}", off.1);
                assert_eq!(off.1["errors"][0]["field"], param_name, "{what}: {}", off.1);
            }
        }
    }
    assert!(limits >= 3 && bounds > 2 * limits, "{limits} limits, {bounds} bounds checked");
}

/// Each problem response names at least one `type`, each named type is in the table of `docs/api.md` with the
/// status it is documented under, every error response of `/v1` is a problem, and every response has a description.
#[test]
fn every_problem_response_names_types_of_its_status() {
    let doc = document();
    let types = documented_problem_types();
    let urn = Regex::new(r"urn:dinhdanh:problem:[a-z-]+").unwrap();
    for (method, path, operation) in operations(&doc) {
        let what = name(&method, &path, &operation);
        for (status, response) in operation["responses"].as_object().unwrap() {
            let code: u16 = status.parse().unwrap();
            assert!(
                response["description"].as_str().is_some_and(|d| !d.is_empty()),
                "{what}: {status} has no description"
            );
            if code < 400 {
                continue;
            }
            let Some(description) = problem_description(&operation, status) else {
                assert!(
                    path.starts_with("/oauth/") || !path.starts_with("/v1/"),
                    "{what}: {status} is not a problem response: {response}"
                );
                continue;
            };
            let named: Vec<&str> = urn.find_iter(&description).map(|m| &description[m.range()]).collect();
            assert!(!named.is_empty(), "{what}: {status} names no problem type: {description}");
            for kind in named {
                let slug = kind.trim_start_matches("urn:dinhdanh:problem:");
                assert_eq!(types.get(slug), Some(&code), "{what}: {kind} under {status} (docs/api.md's table)");
            }
        }
    }
}

/// The operations `docs/api.md` names are in the document, and the document has none it does not name.
#[test]
fn the_document_has_exactly_the_operations_docs_api_md_lists() {
    let doc = document();
    let text = include_str!("../../../docs/api.md");
    let word = Regex::new(r"`([a-z]+[A-Z][A-Za-z]*|register|activate)`").unwrap();
    let listed: BTreeSet<String> = text
        .lines()
        .filter(|line| line.starts_with('|'))
        .flat_map(|line| word.find_iter(line).map(|m| line[m.range()].trim_matches('`').to_owned()).collect::<Vec<_>>())
        .collect();
    let documented: BTreeSet<String> = operations(&doc)
        .iter()
        .map(|(_, _, operation)| operation["operationId"].as_str().unwrap().to_owned())
        .filter(|id| !["healthz", "readyz", "metrics"].contains(&id.as_str()))
        .collect();
    assert!(documented.contains("requestLockWithoutSignIn") && documented.contains("confirmLockWithoutSignIn"));
    assert_eq!(listed, documented, "the operationIds of docs/api.md's tables and of /openapi.json");
}

/// Every `example` of the document obeys the schema it illustrates (type, pattern, lengths, format, enum), and
/// the domain's own parsers accept the examples of identifiers and tracking codes.
#[test]
fn every_example_obeys_its_own_schema() {
    let doc = document();
    let mut checked = 0;
    let mut walk = vec![doc.clone()];
    while let Some(value) = walk.pop() {
        match &value {
            Value::Object(map) => {
                if let Some(example) = map.get("example") {
                    check_example(&value, example);
                    checked += 1;
                }
                walk.extend(map.values().cloned());
            }
            Value::Array(items) => walk.extend(items.iter().cloned()),
            _ => {}
        }
    }
    assert!(checked > 40, "{checked} examples");
    let schemas = &doc["components"]["schemas"];
    for (schema, field) in [("RequestBody", "tracking_code"), ("BulkOrderBody", "tracking_code")] {
        let example = schemas[schema]["properties"][field]["example"].as_str().unwrap();
        assert_eq!(example, TrackingCode::EXAMPLE, "{schema}.{field}");
        TrackingCode::parse(example).unwrap_or_else(|e| panic!("{schema}.{field}: {e}"));
    }
    let provinces = dinhdanh_domain::ProvinceTable::builtin();
    for schema in ["RegisterRequest", "StartSignInRequest", "AccountRefBody", "BulkEntryBody", "LostPhoneLockBody"] {
        let example = schemas[schema]["properties"]["id_number"]["example"].as_str().unwrap();
        dinhdanh_domain::IdentificationNumber::parse(example, &provinces).unwrap_or_else(|e| panic!("{schema}: {e}"));
    }
}

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

/// The schema of a value with an `example`: a schema object (`type`, `pattern`, …) or a parameter (`schema`).
fn check_example(holder: &Value, example: &Value) {
    let schema = holder.get("schema").filter(|s| s.is_object()).unwrap_or(holder);
    let what = format!("example {example} of {holder}");
    let types: Vec<&str> = match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    let type_ok = types.is_empty()
        || types.iter().any(|t| match *t {
            "string" => example.is_string(),
            "integer" => example.is_i64() || example.is_u64(),
            "number" => example.is_number(),
            "boolean" => example.is_boolean(),
            "array" => example.is_array(),
            "object" => example.is_object(),
            "null" => example.is_null(),
            _ => true,
        });
    assert!(type_ok, "{what}: not of type {types:?}");
    if let Some(values) = schema["enum"].as_array() {
        assert!(values.contains(example), "{what}: not one of the enum");
    }
    if let Some(items) = example.as_array()
        && let Some(min) = schema["minItems"].as_u64()
    {
        assert!(items.len() as u64 >= min, "{what}: fewer than {min} items");
    }
    let Some(text) = example.as_str() else { return };
    let chars = text.chars().count() as u64;
    if let Some(min) = schema["minLength"].as_u64() {
        assert!(chars >= min, "{what}: shorter than {min}");
    }
    if let Some(max) = schema["maxLength"].as_u64() {
        assert!(chars <= max, "{what}: longer than {max}");
    }
    if let Some(pattern) = schema["pattern"].as_str() {
        assert!(Regex::new(pattern).unwrap().is_match(text), "{what}: does not match {pattern}");
    }
    match schema["format"].as_str() {
        Some("date-time") => assert!(is_api_timestamp(text), "{what}: not a timestamp as the API writes them"),
        Some("date") => {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|e| panic!("{what}: {e}"));
        }
        _ => {}
    }
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

/// With every per-IP limit spent, each documented operation answers 429 with `Retry-After`, before anything else
/// is looked at; and the document says so.
#[tokio::test]
async fn every_rate_limited_operation_documents_429_with_retry_after() {
    let db = TestDb::sqlite();
    let spent = RateLimit { per_minute: 1, burst: 1 };
    let config = dinhdanh_server::ServerConfig {
        public_rate_limit: spent,
        ops_rate_limit: spent,
        api_rate_limit: spent,
        ..support::relaxed_config()
    };
    let server = TestServer::start_with(&db, config).await;
    let _ = server.organization("C06", OrganizationKind::Operator).await;
    for path in ["/healthz", "/v1/accounts", "/v1/me"] {
        let _ = server.http.get(server.url(path)).send().await.unwrap();
    }
    let doc = document();
    for (method, path, operation) in operations(&doc) {
        let what = name(&method, &path, &operation);
        let concrete =
            path.split('/').map(|s| if s.starts_with('{') { NO_SUCH_ID } else { s }).collect::<Vec<_>>().join("/");
        let mut request = server.http.request(Method::from_bytes(method.as_bytes()).unwrap(), server.url(&concrete));
        if operation.get("requestBody").is_some() {
            request = request.header("content-type", "application/json").body("{}");
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), 429, "{what}: the spent limit answers first");
        assert!(response.headers().contains_key("retry-after"), "{what}");
        assert!(names_type(&operation, "429", "too-many-requests"), "{what}: 429 too-many-requests documented");
        assert!(
            operation["responses"]["429"]["headers"].get("Retry-After").is_some(),
            "{what}: Retry-After documented"
        );
    }
}
