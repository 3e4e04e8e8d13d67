//! The registration API end to end over real HTTP, on SQLite and on PostgreSQL: every refusal path and that it
//! changes nothing, activation expiry and tries, resend limits, concurrency, rate limits, OpenAPI.

use std::sync::Arc;

use chrono::{Duration, NaiveDate, Utc};
use dinhdanh_domain::registry::{CardStatus, CitizenRecord, ForeignerRecord};
use dinhdanh_domain::{AccountId, FullName, Gender, IdentificationNumber, Nationality, PassportNumber, ProvinceTable};
use dinhdanh_registry::StoreRegistry;
use dinhdanh_server::ratelimit::RateLimit;
use dinhdanh_server::{AppState, ServerConfig};
use dinhdanh_store::testing::TestDb;
use dinhdanh_store::{OutboxStatus, Store, on_both_backends};
use serde_json::{Value, json};

mod support;
use support::TestServer;

async fn started(db: &TestDb) -> TestServer {
    let server = TestServer::start(db).await;
    seed_registry(&server.store).await;
    server
}

async fn seed_registry(store: &Store) {
    let provinces = ProvinceTable::builtin();
    let mai = CitizenRecord {
        id_number: IdentificationNumber::parse("001190123456", &provinces).unwrap(),
        full_name: FullName::parse("Trần Thị Mai").unwrap(),
        date_of_birth: NaiveDate::from_ymd_opt(1990, 5, 1).unwrap(),
        gender: Gender::Female,
        place_of_origin: None,
        permanent_residence: None,
        card_status: CardStatus::Valid,
        died_on: None,
    };
    let mut hung = mai.clone();
    hung.id_number = IdentificationNumber::parse("079085000042", &provinces).unwrap();
    hung.full_name = FullName::parse("Nguyễn Văn Hùng").unwrap();
    hung.date_of_birth = NaiveDate::from_ymd_opt(1985, 11, 20).unwrap();
    hung.gender = Gender::Male;
    let mut dead = hung.clone();
    dead.id_number = IdentificationNumber::parse("079085000043", &provinces).unwrap();
    dead.died_on = NaiveDate::from_ymd_opt(2020, 1, 1);
    store.upsert_citizens(&[mai, hung, dead], Utc::now()).await.unwrap();
    let kim = ForeignerRecord {
        passport_number: PassportNumber::parse("M1234567").unwrap(),
        nationality: Nationality::parse("KOR").unwrap(),
        full_name: FullName::parse("Kim Min-jun").unwrap(),
        date_of_birth: NaiveDate::from_ymd_opt(1985, 2, 3).unwrap(),
        gender: Gender::Male,
        passport_expires_on: NaiveDate::from_ymd_opt(2030, 1, 1),
        stay_expires_on: None,
        died_on: None,
    };
    store.upsert_foreigners(&[kim], Utc::now()).await.unwrap();
}

fn mai() -> Value {
    json!({
        "holder_kind": "citizen", "id_number": "001190123456", "full_name": "trần  THỊ mai",
        "date_of_birth": "1990-05-01", "gender": "nữ", "phone": "0912 345 678", "email": "mai@example.vn",
        "password": "hoa sen nở trên hồ tây"
    })
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

on_both_backends! {
    a_citizen_registers_and_activates(db) {
        let server = started(&db).await;
        let (status, body) = server.post("/v1/accounts", mai()).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["status"], "pending_activation");
        assert_eq!(body["level"], 1);
        assert_eq!(body["code_sent_to"], json!(["•••678", "m•••@example.vn"]));
        let id = body["account_id"].as_str().unwrap().to_owned();
        let messages = server.store.outbox_messages(Some(OutboxStatus::Pending), 10).await.unwrap();
        assert_eq!(messages.len(), 2, "one SMS and one e-mail");
        assert!(messages.iter().any(|m| m.recipient == "+84912345678"));
        let code = server.last_code().await;
        let (status, body) = server.post(&format!("/v1/accounts/{id}/activation"), json!({"code": code})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "active");
        let (status, body) = server.post(&format!("/v1/accounts/{id}/activation"), json!({"code": code})).await;
        assert_eq!((status, body["type"].as_str()), (409, Some("urn:dinhdanh:problem:already-active")));
        let audit = server.store.recent_audit(Some("account.activate"), 10).await.unwrap();
        assert_eq!(audit[0].outcome, "ok");
        assert_eq!(audit[0].subject.as_deref(), Some(id.as_str()));
    }

    a_foreigner_registers_with_passport_and_nationality(db) {
        let server = started(&db).await;
        let body = json!({
            "holder_kind": "foreigner", "passport_number": "m 1234567", "nationality": "kor",
            "full_name": "KIM MIN-JUN", "date_of_birth": "1985-02-03", "gender": "male",
            "email": "kim@example.kr", "password": "seoul to hanoi by train"
        });
        let (status, response) = server.post("/v1/accounts", body).await;
        assert_eq!(status, 201, "{response}");
        assert_eq!(response["code_sent_to"], json!(["k•••@example.kr"]));
    }

    every_registry_mismatch_gets_the_same_answer_and_changes_nothing(db) {
        let server = started(&db).await;
        let cases = [
            with(mai(), "id_number", json!("001190654321")),
            with(mai(), "full_name", json!("Trần Thị Mại")),
            with(mai(), "full_name", json!("Tran Thi Mai")),
            with(mai(), "date_of_birth", json!("1990-05-02")),
            json!({"holder_kind": "citizen", "id_number": "079085000043", "full_name": "Nguyễn Văn Hùng",
                   "date_of_birth": "1985-11-20", "gender": "male", "phone": "0912345679", "password": "a dead man's account"}),
            json!({"holder_kind": "foreigner", "passport_number": "M1234567", "nationality": "USA", "full_name": "Kim Min-jun",
                   "date_of_birth": "1985-02-03", "gender": "male", "phone": "0912345679", "password": "seoul to hanoi by train"}),
        ];
        let mut answers = Vec::new();
        for case in cases {
            let (status, body) = server.post("/v1/accounts", case).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!(body["type"], "urn:dinhdanh:problem:registry-mismatch");
            answers.push(body);
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "the refusal never says which field differed");
        assert_eq!(server.counts().await, (0, 0));
        let audit = server.store.recent_audit(Some("account.register"), 20).await.unwrap();
        assert_eq!(audit.len(), 6);
        assert!(audit.iter().all(|a| a.outcome == "refused" && a.detail["reason"] == "registry_mismatch"));
        assert!(!audit.iter().any(|a| a.detail.to_string().contains("001190")), "no personal data in the audit");
    }

    invalid_fields_are_listed_and_change_nothing(db) {
        let server = started(&db).await;
        let cases = [
            (with(mai(), "id_number", json!("00119012345")), "id_number"),
            (with(mai(), "id_number", json!("003190123456")), "id_number"),
            (with(mai(), "gender", json!("nam")), "id_number"),
            (with(mai(), "date_of_birth", json!("1991-05-01")), "id_number"),
            (with(mai(), "date_of_birth", json!("01/05/1990")), "date_of_birth"),
            (with(mai(), "gender", json!("x")), "gender"),
            (with(mai(), "full_name", json!("  ")), "full_name"),
            (with(mai(), "email", json!("not-an-email")), "email"),
            (with(mai(), "phone", json!("12345")), "phone"),
            (with(with(mai(), "phone", Value::Null), "email", Value::Null), "phone"),
            (with(mai(), "password", json!("short")), "password"),
            (with(mai(), "password", json!("password123")), "password"),
            (with(mai(), "password", json!("001190123456")), "password"),
            (with(mai(), "id_number", Value::Null), "id_number"),
        ];
        for (case, field) in cases {
            let (status, body) = server.post("/v1/accounts", case.clone()).await;
            assert_eq!(status, 422, "{case} -> {body}");
            assert_eq!(body["type"], "urn:dinhdanh:problem:validation");
            assert!(body["errors"].as_array().unwrap().iter().any(|e| e["field"] == field), "{case} -> {body}");
        }
        let (status, body) = server.post("/v1/accounts", json!({"holder_kind": "alien"})).await;
        assert_eq!((status, body["type"].as_str()), (422, Some("urn:dinhdanh:problem:validation")));
        let response = server.http.post(format!("{}/v1/accounts", server.base)).body("{not json").header("content-type", "application/json").send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        assert_eq!(server.counts().await, (0, 0));
    }

    one_account_per_identity_even_under_concurrency(db) {
        let server = started(&db).await;
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let http = server.http.clone();
            let url = format!("{}/v1/accounts", server.base);
            tasks.push(tokio::spawn(async move { http.post(url).json(&mai()).send().await.unwrap().status().as_u16() }));
        }
        let mut statuses = Vec::new();
        for t in tasks {
            statuses.push(t.await.unwrap());
        }
        statuses.sort();
        // Issue 11 item 4: every registration is answered alike; only one account exists, the rest are decoys.
        assert_eq!(statuses, vec![201; 8]);
        assert_eq!(server.counts().await.0, 1);
        let (status, body) = server.post("/v1/accounts", with(mai(), "email", json!("other@example.vn"))).await;
        assert_eq!((status, body["status"].as_str()), (201, Some("pending_activation")), "{body}");
        assert_eq!(body["code_sent_to"], json!(["•••678", "o•••@example.vn"]), "the destinations the caller gave");
        assert_eq!(server.counts().await.0, 1);
    }

    five_wrong_codes_void_the_code(db) {
        let server = started(&db).await;
        let (_, body) = server.post("/v1/accounts", mai()).await;
        let id = body["account_id"].as_str().unwrap().to_owned();
        let code = server.last_code().await;
        let wrong = if code == "000000" { "000001" } else { "000000" };
        for left in (0..5).rev() {
            let (status, body) = server.post(&format!("/v1/accounts/{id}/activation"), json!({"code": wrong})).await;
            assert_eq!((status, body["attempts_left"].as_i64()), (422, Some(left)), "{body}");
        }
        let (status, body) = server.post(&format!("/v1/accounts/{id}/activation"), json!({"code": code})).await;
        assert_eq!((status, body["type"].as_str()), (410, Some("urn:dinhdanh:problem:code-expired")));
        let (status, _) = server.post(&format!("/v1/accounts/{id}/activation"), json!({"code": "12345"})).await;
        assert_eq!(status, 422);
        // A new code works.
        server.clock.advance(Duration::seconds(61));
        let (status, _) = server.post(&format!("/v1/accounts/{id}/activation-code"), json!({})).await;
        assert_eq!(status, 202);
        let (status, body) = server.post(&format!("/v1/accounts/{id}/activation"), json!({"code": server.last_code().await})).await;
        assert_eq!(status, 200, "{body}");
        let refused = server.store.recent_audit(Some("account.activate"), 20).await.unwrap();
        assert_eq!(refused.iter().filter(|a| a.outcome == "refused").count(), 6);
    }

    a_code_expires_after_five_minutes(db) {
        let server = started(&db).await;
        let (_, body) = server.post("/v1/accounts", mai()).await;
        let id = body["account_id"].as_str().unwrap().to_owned();
        let code = server.last_code().await;
        server.clock.advance(Duration::minutes(5));
        let (status, body) = server.post(&format!("/v1/accounts/{id}/activation"), json!({"code": code})).await;
        assert_eq!((status, body["type"].as_str()), (410, Some("urn:dinhdanh:problem:code-expired")));
    }

    resend_is_limited_per_minute_and_per_hour(db) {
        let server = started(&db).await;
        let (_, body) = server.post("/v1/accounts", mai()).await;
        let path = format!("/v1/accounts/{}/activation-code", body["account_id"].as_str().unwrap());
        let (status, body) = server.post(&path, json!({})).await;
        assert_eq!((status, body["retry_after"].as_i64()), (429, Some(60)), "{body}");
        // The registration's code and four resends fill the hour.
        for _ in 0..4 {
            server.clock.advance(Duration::seconds(61));
            let (status, body) = server.post(&path, json!({})).await;
            assert_eq!(status, 202, "{body}");
        }
        server.clock.advance(Duration::seconds(61));
        let (status, body) = server.post(&path, json!({})).await;
        assert_eq!(status, 429, "{body}");
        assert!(body["retry_after"].as_i64().unwrap() > 60);
        server.clock.advance(Duration::minutes(60));
        let (status, _) = server.post(&path, json!({})).await;
        assert_eq!(status, 202);
        // The previous code stopped working when the new one was sent.
        let codes: Vec<String> = server.store.outbox_messages(None, 100).await.unwrap().iter().filter(|m| m.kind == "activation_code").map(|m| m.body.clone()).collect();
        assert_eq!(codes.len(), 12, "6 sends × 2 channels");
    }

    concurrent_resends_respect_the_limit(db) {
        let server = started(&db).await;
        let (_, body) = server.post("/v1/accounts", mai()).await;
        server.clock.advance(Duration::seconds(61));
        let url = format!("{}/v1/accounts/{}/activation-code", server.base, body["account_id"].as_str().unwrap());
        let mut tasks = Vec::new();
        for _ in 0..6 {
            let (http, url) = (server.http.clone(), url.clone());
            tasks.push(tokio::spawn(async move { http.post(url).send().await.unwrap().status().as_u16() }));
        }
        let mut accepted = 0;
        for t in tasks {
            if t.await.unwrap() == 202 {
                accepted += 1;
            }
        }
        assert_eq!(accepted, 1);
    }

    unactivated_registrations_expire_and_are_removed(db) {
        let server = started(&db).await;
        let (_, body) = server.post("/v1/accounts", mai()).await;
        let id = body["account_id"].as_str().unwrap().to_owned();
        server.clock.advance(Duration::hours(24));
        let (status, body) = server.post(&format!("/v1/accounts/{id}/activation-code"), json!({})).await;
        assert_eq!((status, body["type"].as_str()), (410, Some("urn:dinhdanh:problem:registration-expired")));
        let state_store = server.store.clone();
        let state = AppState::new(state_store.clone(), Arc::new(StoreRegistry::new(state_store)), Arc::new(server.clock.clone()), ServerConfig::default());
        let removed = dinhdanh_server::service::registration::remove_expired_registrations(&state).await.unwrap();
        assert_eq!(removed, 1);
        assert_eq!(server.store.count_accounts().await.unwrap(), 0);
        let (status, _) = server.post(&format!("/v1/accounts/{id}/activation"), json!({"code": "123456"})).await;
        assert_eq!(status, 404);
        let (status, _) = server.post("/v1/accounts", mai()).await;
        assert_eq!(status, 201, "the identity can register again");
    }

    an_expired_registration_does_not_hold_its_identity_until_the_purge(db) {
        let server = started(&db).await;
        let (_, body) = server.post("/v1/accounts", mai()).await;
        let old = body["account_id"].as_str().unwrap().to_owned();
        server.clock.advance(Duration::hours(24));
        // No purge has run: the expired registration gives way to a fresh one, audited as the purge would.
        let (status, body) = server.post("/v1/accounts", mai()).await;
        assert_eq!(status, 201, "{body}");
        let new = body["account_id"].as_str().unwrap().to_owned();
        assert_ne!(new, old);
        assert!(server.store.account(&AccountId::new(new)).await.unwrap().is_some(), "a real account, not a decoy");
        assert!(server.store.account(&AccountId::new(old.clone())).await.unwrap().is_none());
        let expired = server.store.recent_audit(Some("account.registration_expired"), 10).await.unwrap();
        assert_eq!(expired.iter().map(|e| e.subject.clone()).collect::<Vec<_>>(), vec![Some(old)]);
    }
}

#[tokio::test]
async fn strangers_are_rate_limited_per_ip() {
    let db = TestDb::sqlite();
    let config = ServerConfig {
        public_rate_limit: RateLimit { per_minute: 1, burst: 3 },
        ops_rate_limit: RateLimit { per_minute: 1, burst: 2 },
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&db, config).await;
    seed_registry(&server.store).await;
    for _ in 0..3 {
        let (status, _) = server.post("/v1/accounts", json!({})).await;
        assert_eq!(status, 422);
    }
    let response = server.http.post(format!("{}/v1/accounts", server.base)).json(&json!({})).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 429);
    assert!(response.headers().get("retry-after").is_some());
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "urn:dinhdanh:problem:too-many-requests");
    // Operational endpoints have a quota of their own.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(server.http.get(format!("{}/readyz", server.base)).send().await.unwrap().status().as_u16());
    }
    assert_eq!(statuses, vec![200, 200, 429]);
}

#[tokio::test]
async fn openapi_document_describes_the_operations() {
    let db = TestDb::sqlite();
    let server = started(&db).await;
    let doc: Value =
        server.http.get(format!("{}/openapi.json", server.base)).send().await.unwrap().json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"), "{}", doc["openapi"]);
    let mut operation_ids: Vec<&str> = doc["paths"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    operation_ids.sort();
    for expected in ["activate", "register", "resendActivationCode"] {
        assert!(operation_ids.contains(&expected), "{operation_ids:?}");
    }
}

#[tokio::test]
async fn health_readiness_and_metrics() {
    let db = TestDb::postgres().await;
    let server = started(&db).await;
    let ready: Value = server.http.get(format!("{}/readyz", server.base)).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["database"], "postgres");
    server.post("/v1/accounts", with(mai(), "full_name", json!("Someone Else"))).await;
    let metrics = server.http.get(format!("{}/metrics", server.base)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("dinhdanh_registrations_total"), "{metrics}");
    assert!(metrics.contains("route=\"/v1/accounts\""), "{metrics}");
    assert!(metrics.contains("dinhdanh_outbox_pending"), "{metrics}");
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_quota() {
    let db = TestDb::sqlite();
    let config = ServerConfig {
        public_rate_limit: RateLimit { per_minute: 1, burst: 2 },
        trusted_proxies: vec!["127.0.0.1".parse().unwrap()],
        ..ServerConfig::default()
    };
    let server = TestServer::start_with(&db, config).await;
    let status_from = |client: &'static str| {
        let request = server.http.post(server.url("/v1/accounts")).header("x-forwarded-for", client).json(&json!({}));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status_from("203.0.113.5").await, 422);
    assert_eq!(status_from("203.0.113.5").await, 422);
    assert_eq!(status_from("203.0.113.5").await, 429, "the first client used its quota");
    assert_eq!(status_from("203.0.113.6").await, 422, "another client behind the same proxy still has its own");
}
