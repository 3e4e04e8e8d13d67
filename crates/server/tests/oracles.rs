//! No answer tells a stranger whether an identity has an account (issue 11 item 4): an identification number is
//! printed on many documents, so knowing one proves nothing. Each test compares two answers byte for byte: the
//! status, the headers a client could tell them apart by, and the body. (The sign-in throttle's answer, equal to
//! a wrong password's, is compared in `holder_sign_in.rs`; the lost-phone answer's silence about the other
//! channel in `locks.rs`.)

mod support;

use dinhdanh_domain::Level;
use dinhdanh_store::on_both_backends;
use serde_json::{Value, json};
use support::TestServer;

/// Mai's row in the population registry, and Hùng's, whom nobody registered.
async fn seed_registry(server: &TestServer) {
    use dinhdanh_domain::registry::{CardStatus, CitizenRecord};
    use dinhdanh_domain::{FullName, Gender, IdentificationNumber, ProvinceTable};
    let provinces = ProvinceTable::builtin();
    let record = |id: &str, name: &str| CitizenRecord {
        id_number: IdentificationNumber::parse(id, &provinces).unwrap(),
        full_name: FullName::parse(name).unwrap(),
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 5, 1).unwrap(),
        gender: Gender::Female,
        place_of_origin: None,
        permanent_residence: None,
        card_status: CardStatus::Valid,
        died_on: None,
    };
    let records = [record("001190123456", "Trần Thị Mai"), record("001190654321", "Lê Thị Hoa")];
    server.store.upsert_citizens(&records, dinhdanh_server::clock::Clock::now(&server.clock)).await.unwrap();
}

/// A registration as a stranger sends it, with the stranger's own phone and e-mail.
fn registration(id_number: &str, full_name: &str) -> Value {
    json!({"holder_kind": "citizen", "id_number": id_number, "full_name": full_name, "date_of_birth": "1990-05-01",
           "gender": "nữ", "phone": "0987654321", "email": "stranger@example.vn", "password": "một mật khẩu dài dài"})
}

/// Status, content type and body of a POST, with the fields that differ between any two answers (ids, instants
/// and their text) replaced by their shape.
async fn shape(server: &TestServer, path: &str, body: Value) -> (u16, String, Value) {
    let response = server.http.post(server.url(path)).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    let mut body: Value = response.json().await.unwrap();
    for field in ["account_id", "code_expires_at", "registration_expires_at"] {
        if body.get(field).is_some() {
            body[field] = json!(format!("<{field}>"));
        }
    }
    (status, content_type, body)
}

/// Status, content type and the exact body bytes.
async fn raw(server: &TestServer, path: &str, token: &str) -> (u16, String, String) {
    let response = server.http.get(server.url(path)).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

on_both_backends! {
    a_holder_asking_about_another_identity_cannot_tell_no_account_from_someone_elses(db) {
        let server = TestServer::start(&db).await;
        let (_, mai) = server.holder("001190123456", Level::One).await;
        server.holder_with_channels("001190654321", Level::One, true, false).await;
        let someone_else = raw(&server, "/v1/account-status?id_number=001190654321", &mai).await;
        let nobody = raw(&server, "/v1/account-status?id_number=001190777777", &mai).await;
        assert_eq!(someone_else, nobody);
        assert_eq!((someone_else.0, someone_else.1.as_str()), (404, "application/problem+json"));
        let own = raw(&server, "/v1/account-status?id_number=001190123456", &mai).await;
        assert_eq!(own.0, 200, "{own:?}");
        assert!(own.2.contains("\"exists\":true"), "{own:?}");
    }

    registering_a_registered_identity_is_answered_like_a_fresh_registration_and_the_holder_is_told(db) {
        let server = TestServer::start(&db).await;
        seed_registry(&server).await;
        let (mai, _) = server.holder("001190123456", Level::One).await;
        let messages_before = server.counts().await.1;
        let taken = shape(&server, "/v1/accounts", registration("001190123456", "Trần Thị Mai")).await;
        let fresh = shape(&server, "/v1/accounts", registration("001190654321", "Lê Thị Hoa")).await;
        assert_eq!(taken, fresh, "one answer: 201, the caller's masked destinations, the same fields");
        assert_eq!(taken.0, 201);

        // Mai is told on her own channels; the stranger's channels get nothing for her identity.
        let outbox = server.store.outbox_messages(None, 20).await.unwrap();
        let mut told: Vec<&str> = outbox.iter().filter(|m| m.kind == "registration_attempt").map(|m| m.recipient.as_str()).collect();
        told.sort_unstable();
        assert_eq!(told, ["+84912345678", "mai@example.vn"], "Mai's registered channels");
        let to_stranger = outbox.iter().filter(|m| m.recipient == "stranger@example.vn" || m.recipient == "+84987654321").count();
        assert_eq!(to_stranger, 2, "only the fresh registration's code, on its two channels");
        assert_eq!(server.counts().await.1, messages_before + 4);
        assert!(server.store.account(&mai.id).await.unwrap().is_some(), "Mai's account is untouched");
    }

    a_decoys_activation_and_resend_answer_like_a_pending_registrations(db) {
        let server = TestServer::start(&db).await;
        seed_registry(&server).await;
        server.holder("001190123456", Level::One).await;
        let (_, decoy) = server.post("/v1/accounts", registration("001190123456", "Trần Thị Mai")).await;
        let (_, real) = server.post("/v1/accounts", registration("001190654321", "Lê Thị Hoa")).await;
        let code = server.last_code().await;
        let wrong = if code == "000000" { "000001" } else { "000000" };
        let (decoy, real) = (decoy["account_id"].as_str().unwrap().to_owned(), real["account_id"].as_str().unwrap().to_owned());
        for _ in 0..6 {
            let a = shape(&server, &format!("/v1/accounts/{decoy}/activation"), json!({"code": wrong})).await;
            let b = shape(&server, &format!("/v1/accounts/{real}/activation"), json!({"code": wrong})).await;
            assert_eq!(a, b, "wrong code with the tries left, then the code expired");
        }
        server.clock.advance(chrono::Duration::minutes(2));
        let a = shape(&server, &format!("/v1/accounts/{decoy}/activation-code"), json!({})).await;
        let b = shape(&server, &format!("/v1/accounts/{real}/activation-code"), json!({})).await;
        assert_eq!((a.0, &a), (202, &b), "a resend is answered alike");
        let a = shape(&server, &format!("/v1/accounts/{decoy}/activation-code"), json!({})).await;
        let b = shape(&server, &format!("/v1/accounts/{real}/activation-code"), json!({})).await;
        assert_eq!((a.0, &a), (429, &b), "and limited alike");
        server.clock.advance(chrono::Duration::hours(25));
        let a = shape(&server, &format!("/v1/accounts/{decoy}/activation"), json!({"code": wrong})).await;
        let b = shape(&server, &format!("/v1/accounts/{real}/activation"), json!({"code": wrong})).await;
        assert_eq!((a.0, &a), (410, &b), "both expire after 24 hours");
        dinhdanh_server::service::registration::remove_expired_registrations(&server.state).await.unwrap();
        let a = shape(&server, &format!("/v1/accounts/{decoy}/activation"), json!({"code": wrong})).await;
        let b = shape(&server, &format!("/v1/accounts/{real}/activation"), json!({"code": wrong})).await;
        assert_eq!((a.0, &a), (404, &b), "and both are gone once removed");
        assert!(server.store.decoy(&decoy).await.unwrap().is_none());
    }
}
