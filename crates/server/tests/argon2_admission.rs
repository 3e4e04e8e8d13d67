//! The argon2 queue under a flood, on SQLite and PostgreSQL: a code check (a sign-in code, an activation code)
//! refused because every argon2 worker is busy (`503 busy`) does not use up one of the code's attempts, since the
//! request takes its place in the queue before its attempt. In a test binary of its own: it fills the process-wide queue on purpose, which would make
//! other tests' password checks answer 503.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::NaiveDate;
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::registry::{CardStatus, CitizenRecord};
use dinhdanh_domain::{
    Account, AccountId, AccountStatus, Email, FullName, Gender, IdentificationNumber, IdentityKey, Level, PhoneNumber,
    ProvinceTable,
};
use dinhdanh_server::clock::Clock;
use dinhdanh_server::secrets::hash_secret;
use dinhdanh_store::testing::TestDb;
use serde_json::json;

mod support;
use support::TestServer;

const PASSWORD: &str = "hoa sen nở trên hồ tây";

// One after the other, not as two tests: both would fill the one queue of this process at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_check_refused_for_a_full_queue_keeps_its_attempt() {
    for db in [TestDb::sqlite(), TestDb::postgres().await] {
        let server = TestServer::start(&db).await;
        let now = server.clock.now();
        let account = Account {
            id: AccountId::new(uuid::Uuid::new_v4().to_string()),
            identity_key: IdentityKey::citizen(
                &IdentificationNumber::parse("001190123456", &ProvinceTable::builtin()).unwrap(),
            ),
            holder_kind: HolderKind::Citizen,
            full_name: FullName::parse("Trần Thị Mai").unwrap(),
            level: Level::One,
            status: AccountStatus::Active,
            phone: Some(PhoneNumber::parse("0912345678").unwrap()),
            email: Some(Email::parse("mai@example.vn").unwrap()),
            password_hash: hash_secret(PASSWORD.to_owned()).await.unwrap(),
            created_at: now,
            activated_at: Some(now),
        };
        let mut tx = server.store.begin().await.unwrap();
        tx.insert_account(&account).await.unwrap();
        tx.commit().await.unwrap();
        let (status, started) = server
            .post(
                "/v1/holder-sessions",
                json!({"holder_kind": "citizen", "id_number": "001190123456", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 202, "{started}");
        let verify = format!("/v1/holder-sessions/{}/verify", started["sign_in_id"].as_str().unwrap());

        let got_through = refused_while_the_queue_is_full(&server, &verify).await;
        // The refused check used up nothing: only the wrong codes that were checked count.
        let (status, body) = server.post(&verify, json!({"code": "000000"})).await;
        assert_eq!((status, body["type"].as_str()), (422, Some("urn:dinhdanh:problem:wrong-code")), "{body}");
        let max = server.state.config.activation.max_attempts;
        assert_eq!(body["attempts_left"].as_i64(), Some(max - got_through - 1), "{body}");

        // The same for an activation code.
        let hung = CitizenRecord {
            id_number: IdentificationNumber::parse("079085000042", &ProvinceTable::builtin()).unwrap(),
            full_name: FullName::parse("Nguyễn Văn Hùng").unwrap(),
            date_of_birth: NaiveDate::from_ymd_opt(1985, 11, 20).unwrap(),
            gender: Gender::Male,
            place_of_origin: None,
            permanent_residence: None,
            card_status: CardStatus::Valid,
            died_on: None,
        };
        server.store.upsert_citizens(&[hung], chrono::Utc::now()).await.unwrap();
        let (status, registered) = server
            .post(
                "/v1/accounts",
                json!({"holder_kind": "citizen", "id_number": "079085000042", "full_name": "Nguyễn Văn Hùng",
                "date_of_birth": "1985-11-20", "gender": "nam", "email": "hung@example.vn", "password": PASSWORD}),
            )
            .await;
        assert_eq!(status, 201, "{registered}");
        let activation = format!("/v1/accounts/{}/activation", registered["account_id"].as_str().unwrap());
        let got_through = refused_while_the_queue_is_full(&server, &activation).await;
        let (status, body) = server.post(&activation, json!({"code": "000000"})).await;
        assert_eq!((status, body["type"].as_str()), (422, Some("urn:dinhdanh:problem:wrong-code")), "{body}");
        assert_eq!(body["attempts_left"].as_i64(), Some(max - got_through - 1), "{body}");
    }
}

/// Keeps the argon2 queue full (many callers retry as soon as they are refused) and sends a wrong code to `path`
/// until a check is refused with `503 busy`; returns how many wrong codes got a place meanwhile (each checked).
async fn refused_while_the_queue_is_full(server: &TestServer, path: &str) -> i64 {
    let flooding = Arc::new(AtomicBool::new(true));
    let fillers: Vec<_> = (0..200)
        .map(|_| {
            let flooding = flooding.clone();
            tokio::spawn(async move {
                while flooding.load(Ordering::Relaxed) {
                    let _ = hash_secret("x".to_owned()).await;
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    let mut got_through = 0;
    let refused = loop {
        let (status, body) = server.post(path, json!({"code": "000000"})).await;
        match status {
            503 => break body,
            422 => got_through += 1,
            other => panic!("a code check answered {other}: {body}"),
        }
        assert!(got_through < 4, "the queue never filled");
    };
    assert_eq!(refused["type"], "urn:dinhdanh:problem:busy", "{refused}");
    flooding.store(false, Ordering::Relaxed);
    for filler in fillers {
        filler.await.unwrap();
    }
    got_through
}
