//! The API under a schema fuzzer (issue 12 item 5): schemathesis, from PyPI (`scripts/test` installs the version
//! pinned there), generates requests from `/openapi.json` and sends them to a real server on a real port over
//! seeded data, three times: with no token, with an API client's access token (client credentials) and with an
//! officer's session holding every role, on SQLite and on PostgreSQL. It fails on any 5xx, any status the
//! document does not list for the operation, a content type, body or header other than the documented ones, and a
//! schema-invalid request accepted ([`CHECKS`]); its output, with a `curl` line reproducing each failure, is printed
//! when it does. The sign-out operations are left out: they would end the run's own session. docs/api.md "The
//! document is fuzzed" says how to run it.

mod support;

use std::process::Command;

use chrono::{NaiveDate, Utc};
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind};
use dinhdanh_domain::registry::{CardStatus, CitizenRecord};
use dinhdanh_domain::{FullName, Gender, IdentificationNumber, Level, ProvinceTable};
use dinhdanh_store::on_both_backends;
use reqwest::Method;
use serde_json::{Value, json};
use support::TestServer;

/// What every response is checked for: no 5xx; a documented status, content type, schema and headers; a request
/// the schema calls invalid refused; a method the path does not take answered 405 with a true `Allow`; a missing
/// required header or token refused; a removed resource gone. Not `positive_data_acceptance`: schema-valid requests
/// are rightly refused by rules no schema states (the registry match, common passwords, a code's expiry), and not
/// `object_level_authorization`, which needs two callers of one kind.
const CHECKS: &[&str] = &[
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "allow_header_conformance",
    "missing_required_header",
    "ignored_auth",
    "use_after_free",
    "ensure_resource_availability",
];

/// The schemathesis version `scripts/test` installs; a fixed seed only reproduces a run on the same version.
fn pinned_version() -> &'static str {
    let script = include_str!("../../../scripts/test");
    let line = script.lines().find_map(|l| l.strip_prefix("SCHEMATHESIS_VERSION=")).expect("the pin in scripts/test");
    line.trim_matches('"')
}

/// Fails, never skips, when schemathesis is not there or is another version than the pinned one.
fn check_schemathesis() {
    let install = format!("python3 -m pip install 'schemathesis=={}' (scripts/test does this)", pinned_version());
    let output = match Command::new("st").arg("--version").output() {
        Ok(output) => output,
        Err(e) => panic!("the schema fuzzer `st` (schemathesis) cannot be run ({e}); install it: {install}"),
    };
    let version = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && version.trim().ends_with(&format!("version {}", pinned_version())),
        "`st --version` says {:?}; the fuzz run's seed is for schemathesis {}: {install}",
        version.trim(),
        pinned_version()
    );
}

async fn seed_registry(server: &TestServer) {
    let provinces = ProvinceTable::builtin();
    let citizen = |id: &str, name: &str, born: (i32, u32, u32), gender| CitizenRecord {
        id_number: IdentificationNumber::parse(id, &provinces).unwrap(),
        full_name: FullName::parse(name).unwrap(),
        date_of_birth: NaiveDate::from_ymd_opt(born.0, born.1, born.2).unwrap(),
        gender,
        place_of_origin: None,
        permanent_residence: None,
        card_status: CardStatus::Valid,
        died_on: None,
    };
    let citizens = [
        citizen("001190123456", "Trần Thị Mai", (1990, 5, 1), Gender::Female),
        citizen("079085000042", "Nguyễn Văn Hùng", (1985, 11, 20), Gender::Male),
        citizen("001195000077", "Lê Thị Lan", (1995, 3, 8), Gender::Female),
    ];
    server.store.upsert_citizens(&citizens, Utc::now()).await.unwrap();
}

/// The seeded data the runs use: the tokens, and the ids and identities the fuzzer mixes into what it generates
/// so that requests reach real records, not only `404`s.
struct Seeded {
    client_token: String,
    officer_token: String,
    /// Ids of every kind (requests, organizations, clients, credentials, officers, accounts, bulk orders).
    ids: Vec<String>,
    id_numbers: Vec<String>,
    tracking_codes: Vec<String>,
}

fn text(value: &Value, key: &str) -> String {
    value[key].as_str().unwrap_or_else(|| panic!("{key} in {value}")).to_owned()
}

/// What the demo has: a registry, holders with accounts, one with a pending lock request of their own, a pending
/// registration, the operator with a second officer, and a competent authority whose API client (its token got
/// through `POST /oauth/token`) requested a lock and filed a bulk order; and an officer with every role.
async fn seed(server: &TestServer) -> Seeded {
    seed_registry(server).await;
    let mut ids = Vec::new();
    let mut tracking_codes = Vec::new();
    let operator = server.organization("C06", OrganizationKind::Operator).await;
    let roles = [OfficerRole::Reviewer, OfficerRole::Supervisor, OfficerRole::Administrator];
    let (_, officer) = server.officer_session(&operator.id, &roles).await;
    let new_officer = json!({"username": "lan.nt", "full_name": "Nguyễn Thị Lan", "organization_id": operator.id,
        "roles": ["reviewer"]});
    let (status, reviewer) = server.call(Method::POST, "/v1/officers", &officer, Some(new_officer)).await;
    assert_eq!(status, 201, "{reviewer}");
    ids.extend([operator.id.clone(), text(&reviewer["officer"], "id")]);

    let (mai, mai_token) = server.holder("001190123456", Level::One).await;
    let (status, filed) =
        server.call(Method::POST, "/v1/lock-requests", &mai_token, Some(json!({"reason": "mất điện thoại"}))).await;
    assert_eq!(status, 201, "{filed}");
    ids.extend([mai.id.to_string(), text(&filed, "id")]);
    tracking_codes.push(text(&filed, "tracking_code"));
    let (hung, _) = server.holder("079085000042", Level::Two).await;
    ids.push(hung.id.to_string());
    let registration = json!({"holder_kind": "citizen", "id_number": "001195000077", "full_name": "Lê Thị Lan",
        "date_of_birth": "1995-03-08", "gender": "female", "email": "lan@example.vn",
        "password": "hoa sen nở trên hồ tây"});
    let (status, pending) = server.post("/v1/accounts", registration).await;
    assert_eq!(status, 201, "{pending}");
    ids.push(text(&pending, "account_id"));

    let authority = json!({"code": "C01-HN", "name": "Cơ quan Cảnh sát điều tra, Công an TP Hà Nội",
        "kind": "competent_authority"});
    let (status, authority) = server.call(Method::POST, "/v1/organizations", &officer, Some(authority)).await;
    assert_eq!(status, 201, "{authority}");
    let new_client = json!({"name": "Hệ thống điều tra", "auth_method": "client_secret",
        "scopes": ["locks:request", "locks:lift", "accounts:status"]});
    let clients = format!("/v1/organizations/{}/clients", text(&authority, "id"));
    let (status, client) = server.call(Method::POST, &clients, &officer, Some(new_client)).await;
    assert_eq!(status, 201, "{client}");
    let client_id = text(&client, "client_id");
    ids.extend([text(&authority, "id"), client_id.clone()]);
    let (status, shown) = server.call(Method::GET, &format!("/v1/clients/{client_id}"), &officer, None).await;
    assert_eq!(status, 200, "{shown}");
    ids.extend(shown["credentials"].as_array().into_iter().flatten().map(|c| text(c, "credential_id")));
    let response = server
        .http
        .post(server.url("/oauth/token"))
        .basic_auth(&client_id, client["client_secret"].as_str())
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let client_token = text(&response.json().await.unwrap(), "access_token");
    let legal_basis = json!({"document_kind": "Quyết định", "number": "123/QĐ-CSĐT", "issued_on": "2026-05-30",
        "issuing_body": "Cơ quan Cảnh sát điều tra, Công an TP Hà Nội", "signer": "Đỗ Văn Ký"});
    let lock = json!({"ground": "authority_request", "account": {"id_number": "079085000042"},
        "legal_basis": legal_basis, "reason": "điều tra vụ án"});
    let (status, filed) = server.call(Method::POST, "/v1/lock-requests", &client_token, Some(lock)).await;
    assert_eq!(status, 201, "{filed}");
    ids.push(text(&filed, "id"));
    tracking_codes.push(text(&filed, "tracking_code"));
    let order = json!({"ground": "authority_request", "legal_basis": legal_basis, "reason": "điều tra vụ án",
        "accounts": [{"id_number": "001190123456"}, {"id_number": "079085000042"}, {"id_number": "001199999999"}]});
    let (status, order) = server.call(Method::POST, "/v1/bulk-lock-orders", &client_token, Some(order)).await;
    assert_eq!(status, 201, "{order}");
    ids.push(text(&order, "id"));
    tracking_codes.push(text(&order, "tracking_code"));

    let id_numbers = ["001190123456", "079085000042", "001195000077"].map(String::from).to_vec();
    Seeded { client_token, officer_token: officer, ids, id_numbers, tracking_codes }
}

/// The schemathesis configuration of a run: no state kept between runs, and the seeded ids and identities mixed
/// into half of the generated values of the parameters and fields that name records.
fn config(seeded: &Seeded) -> String {
    let list = |values: &[String]| serde_json::to_string(values).unwrap();
    let mut out = String::from("[cache]\nenabled = false\n\n");
    for (name, values) in
        [("ids", &seeded.ids), ("id_numbers", &seeded.id_numbers), ("tracking_codes", &seeded.tracking_codes)]
    {
        out.push_str(&format!("[dictionaries.{name}]\nvalues = {}\n\n", list(values)));
    }
    out.push_str("[parameters]\n");
    let bindings: [(&str, &[&str]); 3] = [
        (
            "ids",
            &[
                "path.id",
                "path.account_id",
                "path.org_id",
                "path.client_id",
                "path.credential_id",
                "path.officer_id",
                "body.organization_id",
                "body.parent_id",
                "body.lock_id",
            ],
        ),
        ("id_numbers", &["query.id_number", "body.id_number", "body.account.id_number", "body.accounts[*].id_number"]),
        ("tracking_codes", &["query.tracking_code"]),
    ];
    for (dictionary, keys) in bindings {
        for key in keys {
            out.push_str(&format!("\"{key}\" = {{ dictionary = \"{dictionary}\", probability = 0.5 }}\n"));
        }
    }
    out
}

/// One schemathesis run against the server, as `who`; panics with its output unless every check passed.
async fn fuzz(server: &TestServer, seeded: &Seeded, who: &str, token: Option<&str>) {
    // A directory of its own: schemathesis and hypothesis write their state where they run.
    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("schemathesis.toml");
    std::fs::write(&config_file, config(seeded)).unwrap();
    let mut command = Command::new("st");
    command
        .current_dir(dir.path())
        .arg("--config-file")
        .arg(&config_file)
        .arg("run")
        .arg(server.url("/openapi.json"))
        .args(["--checks", &CHECKS.join(",")])
        // Deterministic and bounded: one seed, a few cases per operation, no example database between runs.
        .args(["--seed", "20260601", "--max-examples", "10", "--generation-database", "none"])
        .args(["--workers", "1", "--request-timeout", "10", "--no-color"])
        // Signing out would revoke the token the rest of the run uses.
        .args(["--exclude-operation-id", "signOutOfficer", "--exclude-operation-id", "signOutHolder"]);
    if let Some(token) = token {
        command.args(["--header", &format!("Authorization: Bearer {token}")]);
    }
    // The server runs on this test's runtime: wait for the fuzzer on a thread of its own.
    let output = tokio::task::spawn_blocking(move || command.output()).await.unwrap().expect("run st");
    let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    eprintln!("schemathesis as {who} on {:?}: exit {:?}", server.store.dialect(), output.status.code());
    assert!(output.status.success(), "schemathesis as {who} found failures:\n{text}");
    // Not a vacuous pass: every operation but the two sign-outs was selected and tested.
    let operations = serde_json::to_value(dinhdanh_server::openapi::document()).unwrap()["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| {
            item.as_object()
                .unwrap()
                .keys()
                .filter(|k| ["get", "put", "post", "delete", "patch"].contains(&k.as_str()))
                .count()
        })
        .sum::<usize>();
    let summary =
        |label: &str| text.lines().find_map(|l| l.trim().strip_prefix(label)).map(str::trim).unwrap_or_default();
    assert_eq!(summary("Selected:"), format!("{}/{operations}", operations - 2), "{text}");
    assert_eq!(summary("Tested:"), (operations - 2).to_string(), "{text}");
    println!("{text}");
}

on_both_backends! {
    the_api_answers_as_its_document_says_under_a_schema_fuzzer(db) {
        check_schemathesis();
        let server = TestServer::start(&db).await;
        let seeded = seed(&server).await;
        fuzz(&server, &seeded, "an anonymous caller", None).await;
        fuzz(&server, &seeded, "an API client", Some(&seeded.client_token)).await;
        // Last: an administrator's run may suspend organizations, revoke clients and disable officers.
        fuzz(&server, &seeded, "an officer with every role", Some(&seeded.officer_token)).await;
    }
}
