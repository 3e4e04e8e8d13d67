//! Holders' sign-in end to end over real HTTP, on SQLite and on PostgreSQL: password then one-time code by SMS
//! or e-mail for citizens and foreigners, one answer for every kind of bad credentials, throttling, the code's
//! tries and lifetime (also under parallel guessing), sessions on `GET /v1/me`, sign-out and expiry, and the
//! effect of a lock (sessions end at once, sign-in refused with the ground and how to lift it, until lifted).

use chrono::{Duration, NaiveDate, Utc};
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind};
use dinhdanh_domain::lock::{Ground, LegalBasis, Lift, Lock, Party};
use dinhdanh_domain::registry::{CardStatus, CitizenRecord};
use dinhdanh_domain::{
    Account, AccountId, AccountStatus, Email, FullName, Gender, IdentificationNumber, IdentityKey, Level, Nationality,
    PassportNumber, PhoneNumber, ProvinceTable,
};
use dinhdanh_server::clock::Clock;
use dinhdanh_server::secrets::hash_secret;
use dinhdanh_store::testing::TestDb;
use dinhdanh_store::{AuditRecord, on_both_backends};
use serde_json::{Value, json};

mod support;
use support::TestServer;

const MAI_PASSWORD: &str = "hoa sen nở trên hồ tây";
const KIM_PASSWORD: &str = "seoul to hanoi by train";
const JOHN_PASSWORD: &str = "a long walk by the red river";

/// An account written straight to the store (registration has its own tests).
async fn account(
    server: &TestServer,
    identity: IdentityKey,
    holder_kind: HolderKind,
    phone: Option<&str>,
    email: Option<&str>,
    password: &str,
    status: AccountStatus,
) -> AccountId {
    let now = server.clock.now();
    let account = Account {
        id: AccountId::new(uuid::Uuid::new_v4().to_string()),
        identity_key: identity,
        holder_kind,
        full_name: FullName::parse("Người Thử").unwrap(),
        level: Level::One,
        status,
        phone: phone.map(|p| PhoneNumber::parse(p).unwrap()),
        email: email.map(|e| Email::parse(e).unwrap()),
        password_hash: hash_secret(password.to_owned()).await.unwrap(),
        created_at: now,
        activated_at: (status == AccountStatus::Active).then_some(now),
    };
    let mut tx = server.store.begin().await.unwrap();
    tx.insert_account(&account).await.unwrap();
    tx.commit().await.unwrap();
    account.id
}

fn citizen_key(id: &str) -> IdentityKey {
    IdentityKey::citizen(&IdentificationNumber::parse(id, &ProvinceTable::builtin()).unwrap())
}

fn foreigner_key(passport: &str, nationality: &str) -> IdentityKey {
    IdentityKey::foreigner(&Nationality::parse(nationality).unwrap(), &PassportNumber::parse(passport).unwrap())
}

/// Trần Thị Mai, a citizen with a phone and an e-mail.
async fn mai(server: &TestServer) -> AccountId {
    account(
        server,
        citizen_key("001190123456"),
        HolderKind::Citizen,
        Some("0912345678"),
        Some("mai@example.vn"),
        MAI_PASSWORD,
        AccountStatus::Active,
    )
    .await
}

/// Kim Min-jun, a foreigner with an e-mail only.
async fn kim(server: &TestServer) -> AccountId {
    account(
        server,
        foreigner_key("M1234567", "KOR"),
        HolderKind::Foreigner,
        None,
        Some("kim@example.kr"),
        KIM_PASSWORD,
        AccountStatus::Active,
    )
    .await
}

/// John Smith, a foreigner with a Vietnamese phone and an e-mail.
async fn john(server: &TestServer) -> AccountId {
    account(
        server,
        foreigner_key("X7654321", "USA"),
        HolderKind::Foreigner,
        Some("0987654321"),
        Some("john@example.com"),
        JOHN_PASSWORD,
        AccountStatus::Active,
    )
    .await
}

fn mai_credentials() -> Value {
    json!({"holder_kind": "citizen", "id_number": "001190123456", "password": MAI_PASSWORD})
}

fn kim_credentials() -> Value {
    json!({"holder_kind": "foreigner", "passport_number": "m 1234567", "nationality": "kor", "password": KIM_PASSWORD})
}

fn john_credentials() -> Value {
    json!({"holder_kind": "foreigner", "passport_number": "X7654321", "nationality": "USA", "password": JOHN_PASSWORD})
}

fn with(mut body: Value, field: &str, value: Value) -> Value {
    body[field] = value;
    body
}

/// The newest sign-in code queued: (code, channel, recipient).
async fn last_sign_in_code(server: &TestServer) -> (String, String, String) {
    let messages = server.store.outbox_messages(None, 100).await.unwrap();
    let message = messages.iter().find(|m| m.kind == "holder_sign_in_code").expect("a sign-in code was queued");
    let code = message
        .body
        .split(|c: char| !c.is_ascii_digit())
        .find(|w| w.len() == 6)
        .expect("a 6-digit code in the message")
        .to_owned();
    (code, message.channel.as_str().to_owned(), message.recipient.clone())
}

async fn sign_in_codes_sent(server: &TestServer) -> usize {
    server.store.outbox_messages(None, 1000).await.unwrap().iter().filter(|m| m.kind == "holder_sign_in_code").count()
}

fn other_code(code: &str) -> String {
    if code == "000000" { "111111".to_owned() } else { "000000".to_owned() }
}

const STRANGER: &str = "203.0.113.66";
const MAI_ADDRESS: &str = "198.51.100.20";

/// Step 1 from `source` (an `X-Forwarded-For` the trusted proxy passes on): status, the headers a client could
/// tell answers apart by, and the body.
async fn answer(server: &TestServer, source: &str, credentials: &Value) -> (u16, Value) {
    let response = server
        .http
        .post(server.url("/v1/holder-sessions"))
        .header("x-forwarded-for", source)
        .json(credentials)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers: Vec<String> = ["content-type", "retry-after", "www-authenticate"]
        .iter()
        .filter_map(|h| response.headers().get(*h).map(|v| format!("{h}: {}", v.to_str().unwrap())))
        .collect();
    let mut body: Value = response.json().await.unwrap();
    if status == 202 {
        return (status, body);
    }
    body["headers"] = json!(headers);
    (status, body)
}

async fn verify(server: &TestServer, sign_in_id: &str, code: &str) -> (u16, Value) {
    server.post(&format!("/v1/holder-sessions/{sign_in_id}/verify"), json!({"code": code})).await
}

/// Both steps with the right code; returns the session answer.
async fn sign_in(server: &TestServer, credentials: Value) -> Value {
    let (status, started) = server.post("/v1/holder-sessions", credentials).await;
    assert_eq!(status, 202, "{started}");
    let (code, _, _) = last_sign_in_code(server).await;
    let (status, session) = verify(server, started["sign_in_id"].as_str().unwrap(), &code).await;
    assert_eq!(status, 201, "{session}");
    session
}

/// A restore-only session as a sign-in that proved `assurance` would open it.
async fn restore_session(server: &TestServer, account: &AccountId, assurance: dinhdanh_domain::Level) -> String {
    let now = server.clock.now();
    let (token, hash) = dinhdanh_server::secrets::new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
    let mut tx = server.store.begin().await.unwrap();
    tx.insert_holder_session(&hash, account, assurance, true, now, now + Duration::hours(1)).await.unwrap();
    tx.commit().await.unwrap();
    token
}

async fn me(server: &TestServer, token: &str) -> (u16, Value) {
    server.call(reqwest::Method::GET, "/v1/me", token, None).await
}

async fn audit(server: &TestServer, action: &str) -> Vec<AuditRecord> {
    server.store.recent_audit(Some(action), 200).await.unwrap()
}

fn reasons(records: &[AuditRecord]) -> Vec<String> {
    records.iter().filter(|r| r.outcome == "refused").map(|r| r.detail["reason"].as_str().unwrap().to_owned()).collect()
}

fn authority_lock(account_id: &AccountId, at: chrono::DateTime<Utc>) -> Lock {
    Lock {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account_id.clone(),
        ground: Ground::AuthorityRequest,
        placed_by: Party::Organization {
            organization_id: "org-cqdt-hanoi".into(),
            kind: OrganizationKind::ProsecutingAgency,
        },
        legal_basis: Some(LegalBasis {
            document_kind: "Quyết định".into(),
            number: "123/QĐ-CSĐT".into(),
            issued_on: NaiveDate::from_ymd_opt(2026, 5, 30).unwrap(),
            issuing_body: "Cơ quan CSĐT Công an TP Hà Nội".into(),
            signer: "Đỗ Văn Ký".into(),
        }),
        reference: Some("VA-2026-0042".into()),
        reason: "điều tra vụ án lừa đảo".into(),
        effective_at: at,
        ends_at: None,
        request_id: None,
        lifted: None,
    }
}

/// Places a lock the way the lock engine does: the lock and the end of the holder's sessions in one transaction.
async fn place_lock(server: &TestServer, lock: &Lock) {
    let mut tx = server.store.begin().await.unwrap();
    tx.insert_lock(lock).await.unwrap();
    tx.revoke_holder_sessions(&lock.account_id, server.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
}

async fn lift_lock(server: &TestServer, lock: &Lock) {
    let lift = Lift {
        at: server.clock.now(),
        by: lock.placed_by.clone(),
        legal_basis: None,
        reason: "đình chỉ điều tra".into(),
        request_id: None,
    };
    let mut tx = server.store.begin().await.unwrap();
    assert!(tx.lift_lock(&lock.id, &lift).await.unwrap());
    tx.commit().await.unwrap();
}

on_both_backends! {
    a_citizen_signs_in_by_sms_and_by_email(db) {
        let server = TestServer::start(&db).await;
        let id = mai(&server).await;
        let now = server.clock.now();

        let (status, started) = server.post("/v1/holder-sessions", mai_credentials()).await;
        assert_eq!(status, 202, "{started}");
        assert_eq!(started["channel"], "sms", "the phone by default");
        assert_eq!(started["sent_to"], "•••678");
        assert_eq!(started["code_expires_at"], dinhdanh_server::api::time::format(&(now + Duration::minutes(5))));
        let (code, channel, recipient) = last_sign_in_code(&server).await;
        assert_eq!((channel.as_str(), recipient.as_str()), ("sms", "+84912345678"));
        let sign_in_id = started["sign_in_id"].as_str().unwrap();
        let (status, session) = verify(&server, sign_in_id, &code).await;
        assert_eq!(status, 201, "{session}");
        let token = session["token"].as_str().unwrap();
        assert!(token.starts_with("dd_hs_"), "{token}");
        assert_eq!(session["assurance"], 1);
        assert_eq!(session["account_id"], id.as_str());
        assert_eq!(session["expires_at"], dinhdanh_server::api::time::format(&(now + Duration::minutes(60))));
        let (status, body) = verify(&server, sign_in_id, &code).await;
        assert_eq!((status, body["type"].as_str()), (410, Some("urn:dinhdanh:problem:code-expired")), "used once");

        let (status, started) = server.post("/v1/holder-sessions", with(mai_credentials(), "channel", json!("email"))).await;
        assert_eq!(status, 202, "{started}");
        assert_eq!((started["channel"].as_str(), started["sent_to"].as_str()), (Some("email"), Some("m•••@example.vn")));
        let (code, channel, recipient) = last_sign_in_code(&server).await;
        assert_eq!((channel.as_str(), recipient.as_str()), ("email", "mai@example.vn"));
        let (status, session) = verify(&server, started["sign_in_id"].as_str().unwrap(), &code).await;
        assert_eq!(status, 201, "{session}");

        let (status, body) = me(&server, session["token"].as_str().unwrap()).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["account_id"], id.as_str());
        assert_eq!((body["status"].as_str(), body["level"].as_i64()), (Some("active"), Some(1)));
        assert_eq!(body["session_assurance"], 1);
        assert_eq!((body["phone"].as_str(), body["email"].as_str()), (Some("•••678"), Some("m•••@example.vn")));
        assert_eq!((body["usable"].as_bool(), body["locks"].clone()), (Some(true), json!([])));
        assert_eq!(body["holder_kind"], "citizen");

        let starts = audit(&server, "holder.sign_in.start").await;
        assert_eq!(starts.iter().filter(|r| r.outcome == "ok").count(), 2);
        assert!(starts.iter().all(|r| r.actor == format!("holder:{id}") && r.subject.as_deref() == Some(id.as_str())));
        let sign_ins = audit(&server, "holder.sign_in").await;
        assert_eq!(sign_ins.iter().filter(|r| r.outcome == "ok").count(), 2);
        assert_eq!(reasons(&sign_ins), vec!["code_expired"], "the reused code is on record");
        let all = server.store.recent_audit(None, 100).await.unwrap();
        assert!(!all.iter().any(|r| r.detail.to_string().contains("001190") || r.detail.to_string().contains(&code)),
            "no identifier or code in the audit");
    }

    a_foreigner_signs_in_by_email_and_by_sms(db) {
        let server = TestServer::start(&db).await;
        let kim_id = kim(&server).await;
        let (status, started) = server.post("/v1/holder-sessions", kim_credentials()).await;
        assert_eq!(status, 202, "{started}");
        assert_eq!((started["channel"].as_str(), started["sent_to"].as_str()), (Some("email"), Some("k•••@example.kr")),
            "no phone: the e-mail by default");
        let (code, channel, _) = last_sign_in_code(&server).await;
        assert_eq!(channel, "email");
        let (status, session) = verify(&server, started["sign_in_id"].as_str().unwrap(), &code).await;
        assert_eq!(status, 201, "{session}");
        assert_eq!(session["account_id"], kim_id.as_str());

        let (status, body) = server.post("/v1/holder-sessions", with(kim_credentials(), "channel", json!("sms"))).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("channel")), "{body}");

        john(&server).await;
        let (status, started) = server.post("/v1/holder-sessions", john_credentials()).await;
        assert_eq!((status, started["channel"].as_str()), (202, Some("sms")), "{started}");
        let (code, channel, recipient) = last_sign_in_code(&server).await;
        assert_eq!((channel.as_str(), recipient.as_str()), ("sms", "+84987654321"));
        let (status, session) = verify(&server, started["sign_in_id"].as_str().unwrap(), &code).await;
        assert_eq!(status, 201, "{session}");
        let (status, body) = me(&server, session["token"].as_str().unwrap()).await;
        assert_eq!((status, body["holder_kind"].as_str()), (200, Some("foreigner")), "{body}");
    }

    an_account_registered_through_the_api_signs_in(db) {
        let server = TestServer::start(&db).await;
        let record = CitizenRecord {
            id_number: IdentificationNumber::parse("001190123456", &ProvinceTable::builtin()).unwrap(),
            full_name: FullName::parse("Trần Thị Mai").unwrap(),
            date_of_birth: NaiveDate::from_ymd_opt(1990, 5, 1).unwrap(),
            gender: Gender::Female,
            place_of_origin: None,
            permanent_residence: None,
            card_status: CardStatus::Valid,
            died_on: None,
        };
        server.store.upsert_citizens(&[record], Utc::now()).await.unwrap();
        let registration = json!({
            "holder_kind": "citizen", "id_number": "001190123456", "full_name": "Trần Thị Mai",
            "date_of_birth": "1990-05-01", "gender": "female", "phone": "0912345678", "password": MAI_PASSWORD
        });
        let (status, body) = server.post("/v1/accounts", registration).await;
        assert_eq!(status, 201, "{body}");
        let id = body["account_id"].as_str().unwrap().to_owned();

        let (status, pending) = server.post("/v1/holder-sessions", mai_credentials()).await;
        assert_eq!((status, pending["type"].as_str()), (401, Some("urn:dinhdanh:problem:sign-in-failed")),
            "not before activation");

        let code = server.last_code().await;
        let (status, body) = server.post(&format!("/v1/accounts/{id}/activation"), json!({"code": code})).await;
        assert_eq!(status, 200, "{body}");
        let session = sign_in(&server, mai_credentials()).await;
        assert_eq!(session["account_id"], id.as_str());
        let (status, body) = me(&server, session["token"].as_str().unwrap()).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("active")), "{body}");
    }

    wrong_password_unknown_identity_and_pending_account_get_one_answer(db) {
        let server = TestServer::start(&db).await;
        mai(&server).await;
        let pending = account(
            &server,
            citizen_key("079085000042"),
            HolderKind::Citizen,
            Some("0912000111"),
            None,
            "một mật khẩu đủ dài",
            AccountStatus::PendingActivation,
        )
        .await;
        let cases = [
            with(mai_credentials(), "password", json!("not my password")),
            with(mai_credentials(), "id_number", json!("001190654321")),
            json!({"holder_kind": "foreigner", "passport_number": "M1234567", "nationality": "JPN", "password": KIM_PASSWORD}),
            json!({"holder_kind": "citizen", "id_number": "079085000042", "password": "một mật khẩu đủ dài"}),
        ];
        let mut answers = Vec::new();
        for case in cases {
            let response = server.http.post(server.url("/v1/holder-sessions")).json(&case).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 401);
            assert_eq!(response.headers()["content-type"], "application/problem+json");
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["type"], "urn:dinhdanh:problem:sign-in-failed");
            answers.push(body);
        }
        assert!(answers.windows(2).all(|w| w[0] == w[1]), "one answer whatever was wrong: {answers:?}");
        assert!(answers[0]["detail"].as_str().unwrap().contains("identifier"), "not only an officer's username");
        assert_eq!(sign_in_codes_sent(&server).await, 0);

        let records = audit(&server, "holder.sign_in.start").await;
        assert_eq!(records.len(), 4);
        let mut why = reasons(&records);
        why.sort();
        assert_eq!(why, vec!["not_active", "unknown_identity", "unknown_identity", "wrong_password"]);
        assert!(records.iter().filter(|r| r.detail["reason"] == "unknown_identity").all(|r| r.actor == "anonymous"));
        assert!(records.iter().any(|r| r.subject.as_deref() == Some(pending.as_str())));
        assert!(!records.iter().any(|r| r.detail.to_string().contains("001190") || r.detail.to_string().contains("M1234567")));

        let (status, body) = server.post("/v1/holder-sessions", json!({"holder_kind": "citizen", "password": "x"})).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("id_number")), "{body}");
    }

    failures_slow_down_their_source_and_never_lock_the_holder_out(db) {
        // Behind a trusted proxy, X-Forwarded-For names the source: a stranger at one address, Mai at another.
        let mut config = support::relaxed_config();
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        let server = TestServer::start_with(&db, config).await;
        let id = mai(&server).await;
        let wrong = with(mai_credentials(), "password", json!("not my password"));
        let nobody = with(wrong.clone(), "id_number", json!("001190999999"));
        let unknown_identity = answer(&server, STRANGER, &nobody).await;
        assert_eq!(unknown_identity.0, 401);
        for _ in 0..5 {
            assert_eq!(answer(&server, STRANGER, &wrong).await, unknown_identity, "a wrong password");
        }
        // The stranger's source is throttled now, and its answer is still exactly a wrong password's: a 429 here
        // would tell the stranger that this identity has an account. Not even the right password gets through.
        assert_eq!(answer(&server, STRANGER, &mai_credentials()).await, unknown_identity, "throttled");
        assert_eq!(sign_in_codes_sent(&server).await, 0);
        // Mai, from her own address, is not locked out by the stranger.
        let (status, body) = answer(&server, MAI_ADDRESS, &mai_credentials()).await;
        assert_eq!(status, 202, "{body}");
        let (code, _, _) = last_sign_in_code(&server).await;
        assert_eq!(verify(&server, body["sign_in_id"].as_str().unwrap(), &code).await.0, 201);
        assert_eq!(server.store.holder_sign_in_failures(&id).await.unwrap().count, 0, "her sign-in reset the count");
        // The stranger stays slowed down until the time passes, then the next failure doubles the wait.
        assert_eq!(answer(&server, STRANGER, &mai_credentials()).await, unknown_identity, "still throttled");
        server.clock.advance(Duration::minutes(15));
        assert_eq!(answer(&server, STRANGER, &wrong).await, unknown_identity);
        server.clock.advance(Duration::minutes(29));
        assert_eq!(answer(&server, STRANGER, &mai_credentials()).await, unknown_identity, "30 minutes after the 6th");
        server.clock.advance(Duration::minutes(1));
        assert_eq!(answer(&server, STRANGER, &mai_credentials()).await.0, 202, "the wait is over");

        let why = reasons(&audit(&server, "holder.sign_in.start").await);
        assert_eq!(why.iter().filter(|r| *r == "wrong_password").count(), 6);
        assert_eq!(why.iter().filter(|r| *r == "throttled").count(), 3);
        assert_eq!(why.iter().filter(|r| *r == "unknown_identity").count(), 1);
    }

    only_a_hundred_consecutive_failures_from_everywhere_lock_the_account(db) {
        let mut config = support::relaxed_config();
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        let server = TestServer::start_with(&db, config).await;
        let id = mai(&server).await;
        let wrong = with(mai_credentials(), "password", json!("not my password"));
        // 99 failures from 20 addresses (each slowed down after its 5th): the holder still signs in.
        for n in 0..99 {
            let source = format!("203.0.113.{}", n / 5);
            assert_eq!(answer(&server, &source, &wrong).await.0, 401);
        }
        assert_eq!(server.store.holder_sign_in_failures(&id).await.unwrap().count, 99);
        // The holder signs in: the count starts again.
        let (status, body) = answer(&server, MAI_ADDRESS, &mai_credentials()).await;
        assert_eq!(status, 202);
        let (code, _, _) = last_sign_in_code(&server).await;
        assert_eq!(verify(&server, body["sign_in_id"].as_str().unwrap(), &code).await.0, 201);
        for n in 0..100 {
            let source = format!("198.51.100.{}", n / 5);
            assert_eq!(answer(&server, &source, &wrong).await.0, 401);
        }
        // The 100th consecutive failure is the first that holds the account, from every address, for an hour.
        assert_eq!(answer(&server, MAI_ADDRESS, &mai_credentials()).await.0, 401);
        assert_eq!(sign_in_codes_sent(&server).await, 1);
        server.clock.advance(Duration::hours(1));
        assert_eq!(answer(&server, MAI_ADDRESS, &mai_credentials()).await.0, 202);
    }

    codes_are_limited_per_destination_whatever_the_source(db) {
        let mut config = support::relaxed_config();
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        let server = TestServer::start_with(&db, config).await;
        mai(&server).await;
        for n in 0..5 {
            let (status, body) = answer(&server, &format!("203.0.113.{n}"), &mai_credentials()).await;
            assert_eq!(status, 202, "{body}");
        }
        let (status, body) = answer(&server, "203.0.113.77", &mai_credentials()).await;
        assert_eq!((status, body["type"].as_str()), (429, Some("urn:dinhdanh:problem:too-many-requests")), "{body}");
        assert_eq!(body["retry_after"], 3600);
        assert_eq!(sign_in_codes_sent(&server).await, 5, "five codes an hour to one phone");
        // The e-mail is another destination, but the identity has had ten codes at most an hour.
        for n in 0..5 {
            let (status, body) = answer(&server, &format!("198.51.100.{n}"), &with(mai_credentials(), "channel", json!("email"))).await;
            assert_eq!(status, 202, "{body}");
        }
        let (status, _) = answer(&server, "198.51.100.9", &with(mai_credentials(), "channel", json!("email"))).await;
        assert_eq!(status, 429);
        assert!(reasons(&audit(&server, "holder.sign_in.start").await).contains(&"code_limit".to_owned()));
        server.clock.advance(Duration::minutes(61));
        assert_eq!(answer(&server, "203.0.113.1", &mai_credentials()).await.0, 202, "an hour later");
    }

    wrong_codes_count_down_then_void_and_codes_expire(db) {
        let server = TestServer::start(&db).await;
        let mai_id = mai(&server).await;
        let (status, started) = server.post("/v1/holder-sessions", mai_credentials()).await;
        assert_eq!(status, 202, "{started}");
        let sign_in_id = started["sign_in_id"].as_str().unwrap().to_owned();
        let (code, _, _) = last_sign_in_code(&server).await;
        let wrong = other_code(&code);

        let (status, body) = verify(&server, &sign_in_id, "12a456").await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("code")), "{body}");
        for left in (0..5).rev() {
            let (status, body) = verify(&server, &sign_in_id, &wrong).await;
            assert_eq!(status, 422, "{body}");
            assert_eq!((body["type"].as_str(), body["attempts_left"].as_i64()), (Some("urn:dinhdanh:problem:wrong-code"), Some(left)));
        }
        assert_eq!(server.store.holder_sign_in_attempts(&sign_in_id).await.unwrap(), Some(5), "a malformed code takes no try");
        let (status, body) = verify(&server, &sign_in_id, &code).await;
        assert_eq!((status, body["type"].as_str()), (410, Some("urn:dinhdanh:problem:code-expired")), "voided: {body}");
        let (status, body) = server.post("/v1/holder-sessions", mai_credentials()).await;
        assert_eq!((status, body["type"].as_str()), (401, Some("urn:dinhdanh:problem:sign-in-failed")),
            "five wrong codes are five failed sign-ins from this source, answered as a wrong password: {body}");
        let sign_ins = audit(&server, "holder.sign_in").await;
        assert!(sign_ins.iter().all(|r| r.subject.as_deref() == Some(mai_id.as_str())));
        let mut why = reasons(&sign_ins);
        why.sort();
        assert_eq!(why, vec!["code_expired", "wrong_code", "wrong_code", "wrong_code", "wrong_code", "wrong_code"]);

        kim(&server).await;
        let (status, started) = server.post("/v1/holder-sessions", kim_credentials()).await;
        assert_eq!(status, 202, "{started}");
        let (code, _, _) = last_sign_in_code(&server).await;
        server.clock.advance(Duration::minutes(5));
        let (status, body) = verify(&server, started["sign_in_id"].as_str().unwrap(), &code).await;
        assert_eq!(status, 410, "expired after 5 minutes: {body}");

        let (status, first) = server.post("/v1/holder-sessions", kim_credentials()).await;
        assert_eq!(status, 202);
        let (first_code, _, _) = last_sign_in_code(&server).await;
        let (status, second) = server.post("/v1/holder-sessions", kim_credentials()).await;
        assert_eq!(status, 202);
        let (status, _) = verify(&server, first["sign_in_id"].as_str().unwrap(), &first_code).await;
        assert_eq!(status, 410, "a newer sign-in voids the older code");
        let (second_code, _, _) = last_sign_in_code(&server).await;
        let (status, _) = verify(&server, second["sign_in_id"].as_str().unwrap(), &second_code).await;
        assert_eq!(status, 201);

        let (status, body) = verify(&server, "not-a-sign-in", "123456").await;
        assert_eq!(status, 410, "{body}");
        assert!(audit(&server, "holder.sign_in").await.iter().any(|r| r.actor == "anonymous" && r.outcome == "refused"));
    }

    parallel_code_guesses_get_at_most_five_comparisons(db) {
        let server = TestServer::start(&db).await;
        mai(&server).await;
        let (status, started) = server.post("/v1/holder-sessions", mai_credentials()).await;
        assert_eq!(status, 202);
        let sign_in_id = started["sign_in_id"].as_str().unwrap().to_owned();
        let (code, _, _) = last_sign_in_code(&server).await;
        let wrong = other_code(&code);
        let url = server.url(&format!("/v1/holder-sessions/{sign_in_id}/verify"));
        let guesses = (0..20).map(|_| {
            let (http, url, wrong) = (server.http.clone(), url.clone(), wrong.clone());
            tokio::spawn(async move {
                http.post(url).json(&json!({"code": wrong})).send().await.unwrap().status().as_u16()
            })
        });
        let mut statuses = Vec::new();
        for guess in guesses.collect::<Vec<_>>() {
            statuses.push(guess.await.unwrap());
        }
        let compared = statuses.iter().filter(|s| **s == 422).count();
        assert!(compared <= 5, "{statuses:?}");
        assert!(statuses.iter().all(|s| [422, 410, 429].contains(s)), "{statuses:?}");
        assert_eq!(server.store.holder_sign_in_attempts(&sign_in_id).await.unwrap(), Some(5));
        let wrong_codes = reasons(&audit(&server, "holder.sign_in").await).iter().filter(|r| *r == "wrong_code").count();
        assert_eq!(wrong_codes, compared);
        let (status, _) = verify(&server, &sign_in_id, &code).await;
        assert_eq!(status, 410, "no sixth comparison, even with the right code");
    }

    a_session_works_until_sign_out_or_sixty_minutes(db) {
        let server = TestServer::start(&db).await;
        mai(&server).await;
        let session = sign_in(&server, mai_credentials()).await;
        let token = session["token"].as_str().unwrap();
        assert_eq!(me(&server, token).await.0, 200);
        let (status, body) = server.call(reqwest::Method::DELETE, "/v1/holder-sessions/current", token, None).await;
        assert_eq!(status, 204, "{body}");
        let (status, body) = me(&server, token).await;
        assert_eq!((status, body["type"].as_str()), (401, Some("urn:dinhdanh:problem:unauthorized")));
        assert_eq!(audit(&server, "holder.sign_out").await.len(), 1);

        let session = sign_in(&server, mai_credentials()).await;
        let token = session["token"].as_str().unwrap();
        server.clock.advance(Duration::minutes(59));
        assert_eq!(me(&server, token).await.0, 200);
        server.clock.advance(Duration::minutes(1));
        assert_eq!(me(&server, token).await.0, 401, "60 minutes, not extended by use");
        assert_eq!(me(&server, "dd_hs_0123456789abcdef").await.0, 401);

        let admin = server.admin().await;
        let (status, body) = me(&server, &admin).await;
        assert_eq!((status, body["type"].as_str()), (403, Some("urn:dinhdanh:problem:forbidden")), "an officer is not a holder");
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (_, reviewer) = server.officer_session(&operator.id, &[OfficerRole::Reviewer]).await;
        let (status, _) = server.call(reqwest::Method::DELETE, "/v1/holder-sessions/current", &reviewer, None).await;
        assert_eq!(status, 403);
    }

    a_locked_holder_signs_in_to_restore_and_only_a_level_2_sign_in_lifts_their_own_lock(db) {
        let server = TestServer::start(&db).await;
        let id = mai(&server).await;
        // The holder locked their own account (say, a lost phone); the lock is theirs.
        let mut own = authority_lock(&id, server.clock.now());
        own.ground = Ground::HolderRequest;
        own.placed_by = dinhdanh_domain::lock::Party::Holder { account_id: id.clone() };
        own.legal_basis = None;
        place_lock(&server, &own).await;
        let (status, _) = server.post("/v1/holder-sessions", mai_credentials()).await;
        assert_eq!(status, 403, "an ordinary sign-in stays refused");
        let (status, started) = server.post("/v1/holder-sessions", with(mai_credentials(), "purpose", json!("restore"))).await;
        assert_eq!(status, 202, "{started}");
        let (code, _, _) = last_sign_in_code(&server).await;
        let (status, session) = verify(&server, started["sign_in_id"].as_str().unwrap(), &code).await;
        assert_eq!((status, session["restore_only"].as_bool()), (201, Some(true)), "{session}");
        let token = session["token"].as_str().unwrap().to_owned();
        let (status, me_body) = me(&server, &token).await;
        assert_eq!((status, me_body["usable"].as_bool()), (200, Some(false)), "{me_body}");
        // Mai's account is Level 1: a stolen phone and password cannot undo the lock. The request is filed, but it
        // waits for a reviewer who sees the holder in person (domain.md, Decree 69 Art. 30).
        let (status, body) = server.call(reqwest::Method::POST, "/v1/unlock-requests", &token,
            Some(json!({"lock_id": own.id, "reason": "đã tìm lại điện thoại"}))).await;
        assert_eq!((status, body["status"].as_str()), (201, Some("received")), "{body}");
        assert_eq!(me(&server, &token).await.1["usable"], false, "still locked");
        server.admin().await;
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (_, reviewer) = server.officer_session(&operator.id, &[OfficerRole::Reviewer]).await;
        let pending = body["id"].as_str().unwrap().to_owned();
        let reject = json!({"decision": "reject", "reason": "không đến văn phòng / the holder did not come"});
        let (status, _) = server.call(reqwest::Method::POST, &format!("/v1/requests/{pending}/decision"), &reviewer, Some(reject.clone())).await;
        assert_eq!(status, 200);
        // Once the account is Level 2, a password and a code still prove Level 1 (exactly what a phone thief
        // has): the session carries what its own sign-in proved, and the lift still waits for a reviewer.
        let mut tx = server.store.begin().await.unwrap();
        tx.set_account_level(&id, dinhdanh_domain::Level::Two, server.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        let session = sign_in(&server, with(mai_credentials(), "purpose", json!("restore"))).await;
        assert_eq!(session["assurance"], 1, "{session}");
        let token = session["token"].as_str().unwrap().to_owned();
        let (status, me_body) = me(&server, &token).await;
        assert_eq!((status, me_body["level"].as_i64(), me_body["session_assurance"].as_i64()), (200, Some(2), Some(1)));
        let (status, body) = server.call(reqwest::Method::POST, "/v1/unlock-requests", &token,
            Some(json!({"lock_id": own.id, "reason": "đã tìm lại điện thoại"}))).await;
        assert_eq!((status, body["status"].as_str()), (201, Some("received")), "{body}");
        let pending = body["id"].as_str().unwrap().to_owned();
        let reject = json!({"decision": "reject", "reason": "không đến văn phòng / the holder did not come"});
        let (status, _) = server.call(reqwest::Method::POST, &format!("/v1/requests/{pending}/decision"), &reviewer, Some(reject.clone())).await;
        assert_eq!(status, 200);
        let opened = audit(&server, "holder.sign_in").await;
        let last = opened.iter().find(|r| r.outcome == "ok").unwrap();
        assert_eq!((last.detail["assurance"].as_i64(), last.detail["account_level"].as_i64()), (Some(1), Some(2)));
        // A session whose own sign-in proved Level 2 (a biometric match, inserted directly until the Level 2
        // sign-in lands) lifts it at once.
        let biometric = restore_session(&server, &id, dinhdanh_domain::Level::Two).await;
        let (status, body) = server.call(reqwest::Method::POST, "/v1/unlock-requests", &biometric,
            Some(json!({"lock_id": own.id, "reason": "đã tìm lại điện thoại"}))).await;
        assert_eq!((status, body["status"].as_str()), (201, Some("effective")), "{body}");
        let session = sign_in(&server, mai_credentials()).await;
        assert_eq!(session["restore_only"], false, "an ordinary sign-in works again");
    }

    a_level_1_unlock_of_the_holders_own_lock_waits_for_a_reviewer_who_saw_the_holder_in_person(db) {
        let server = TestServer::start(&db).await;
        let id = mai(&server).await;
        let mut own = authority_lock(&id, server.clock.now());
        own.ground = Ground::HolderRequest;
        own.placed_by = Party::Holder { account_id: id.clone() };
        own.legal_basis = None;
        place_lock(&server, &own).await;
        let restore = sign_in(&server, with(mai_credentials(), "purpose", json!("restore"))).await;
        let token = restore["token"].as_str().unwrap().to_owned();
        let (status, filed) = server.call(reqwest::Method::POST, "/v1/unlock-requests", &token,
            Some(json!({"lock_id": own.id, "reason": "đã tìm lại điện thoại"}))).await;
        assert_eq!((status, filed["status"].as_str()), (201, Some("received")), "{filed}");
        let request = filed["id"].as_str().unwrap().to_owned();
        server.admin().await;
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (_, reviewer) = server.officer_session(&operator.id, &[OfficerRole::Reviewer]).await;
        let decide = format!("/v1/requests/{request}/decision");
        // Without the check it is refused and nothing changes.
        let (status, body) = server.call(reqwest::Method::POST, &decide, &reviewer, Some(json!({"decision": "approve"}))).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("in_person_check")), "{body}");
        let (status, _) = server.post("/v1/holder-sessions", mai_credentials()).await;
        assert_eq!(status, 403, "still locked");
        // A malformed check is refused field by field.
        let bad = json!({"decision": "approve", "in_person_check": {"document_kind": "card", "document_number": "12", "office": ""}});
        let (status, body) = server.call(reqwest::Method::POST, &decide, &reviewer, Some(bad)).await;
        assert_eq!((status, body["errors"].as_array().map(Vec::len)), (422, Some(3)), "{body}");
        // The holder came to the office: the reviewer records what was checked, and the lock is lifted at once.
        let check = json!({"document_kind": "cccd", "document_number": "001190123456", "office": "Công an phường Điện Biên"});
        let (status, body) = server.call(reqwest::Method::POST, &decide, &reviewer,
            Some(json!({"decision": "approve", "in_person_check": check}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("effective")), "{body}");
        let approved = audit(&server, "request.approve").await;
        assert_eq!(approved[0].detail["in_person_check"]["document_number"], "•••••••••456", "{:?}", approved[0].detail);
        let session = sign_in(&server, mai_credentials()).await;
        assert_eq!(session["restore_only"], false, "an ordinary sign-in works again");
        // The decided request takes no second decision, with or without a check.
        let (status, body) = server.call(reqwest::Method::POST, &format!("/v1/requests/{request}/decision"), &reviewer,
            Some(json!({"decision": "approve", "in_person_check": check}))).await;
        assert!(status == 409 || status == 422, "a decided request takes no second decision: {status} {body}");
    }

    a_lock_ends_sessions_at_once_and_refuses_sign_in_until_lifted(db) {
        let server = TestServer::start(&db).await;
        let id = mai(&server).await;
        let session = sign_in(&server, mai_credentials()).await;
        let token = session["token"].as_str().unwrap().to_owned();
        assert_eq!(me(&server, &token).await.0, 200);

        let lock = authority_lock(&id, server.clock.now());
        place_lock(&server, &lock).await;
        assert_eq!(me(&server, &token).await.0, 401, "the session ended with the lock");

        let (status, body) = server.post("/v1/holder-sessions", mai_credentials()).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["type"], "urn:dinhdanh:problem:account-locked");
        let locks = body["locks"].as_array().unwrap();
        assert_eq!(locks.len(), 1);
        assert_eq!(locks[0]["ground"], "authority_request");
        // Placed by an investigation agency: the holder is told a prosecuting agency asked, not who.
        assert_eq!(locks[0]["description_en"], "locked at the request of a prosecuting agency");
        assert_eq!(locks[0]["description_vi"], "khóa theo yêu cầu của cơ quan tiến hành tố tụng");
        assert_eq!(locks[0]["description_en"], lock.description().1);
        assert_eq!(locks[0]["since"], dinhdanh_server::api::time::format(&lock.effective_at));
        assert!(locks[0].get("until").is_none(), "not temporary");
        let (lift_vi, lift_en) = dinhdanh_domain::authority::how_to_lift(Ground::AuthorityRequest);
        assert_eq!((locks[0]["how_to_lift_vi"].as_str(), locks[0]["how_to_lift_en"].as_str()), (Some(lift_vi), Some(lift_en)));
        let text = body.to_string();
        for secret in ["Đỗ Văn Ký", "org-cqdt-hanoi", "VA-2026-0042", "123/QĐ-CSĐT", "lừa đảo", "officer"] {
            assert!(!text.contains(secret), "the refusal names nobody: {secret} in {text}");
        }
        assert_eq!(sign_in_codes_sent(&server).await, 1, "no code while locked");
        let wrong = with(mai_credentials(), "password", json!("not my password"));
        let (status, body) = server.post("/v1/holder-sessions", wrong).await;
        assert_eq!(status, 401, "a wrong password learns nothing about locks: {body}");
        assert!(reasons(&audit(&server, "holder.sign_in.start").await).contains(&"account_locked".to_owned()));

        lift_lock(&server, &lock).await;
        let session = sign_in(&server, mai_credentials()).await;
        assert_eq!(me(&server, session["token"].as_str().unwrap()).await.0, 200, "usable again once lifted");
    }

    a_lock_that_arrives_after_the_code_was_sent_wins(db) {
        let server = TestServer::start(&db).await;
        let id = mai(&server).await;
        let (status, started) = server.post("/v1/holder-sessions", mai_credentials()).await;
        assert_eq!(status, 202);
        let (code, _, _) = last_sign_in_code(&server).await;
        let mut lock = authority_lock(&id, server.clock.now());
        lock.ground = Ground::HolderRequest;
        lock.placed_by = Party::Holder { account_id: id.clone() };
        lock.legal_basis = None;
        lock.ends_at = Some(server.clock.now() + Duration::minutes(30));
        place_lock(&server, &lock).await;
        let (status, body) = verify(&server, started["sign_in_id"].as_str().unwrap(), &code).await;
        assert_eq!((status, body["type"].as_str()), (403, Some("urn:dinhdanh:problem:account-locked")), "{body}");
        assert_eq!(body["locks"][0]["ground"], "holder_request");
        assert_eq!(body["locks"][0]["until"], dinhdanh_server::api::time::format(&lock.ends_at.unwrap()), "a temporary lock says until when");
        assert!(body["locks"][0]["how_to_lift_en"].as_str().unwrap().contains("Level 2"));
        assert!(reasons(&audit(&server, "holder.sign_in").await).contains(&"account_locked".to_owned()));

        server.clock.advance(Duration::minutes(30));
        let session = sign_in(&server, mai_credentials()).await;
        assert_eq!(me(&server, session["token"].as_str().unwrap()).await.0, 200, "the temporary lock ended by itself");
    }
}

#[tokio::test]
async fn openapi_lists_the_holder_operations() {
    let db = TestDb::sqlite();
    let server = TestServer::start(&db).await;
    let doc: Value = server.http.get(server.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
    let text = doc.to_string();
    for op in ["startHolderSignIn", "verifyHolderSignIn", "signOutHolder", "getMyAccount"] {
        assert!(text.contains(&format!("\"operationId\":\"{op}\"")), "{op} missing");
    }
    assert!(doc["components"]["schemas"]["LockNotice"].is_object());
}
