//! Officers end to end over real HTTP, on SQLite and on PostgreSQL: enrolment with a TOTP authenticator,
//! sign-in at AAL2, wrong and replayed codes, throttling, sessions that end when an officer is disabled or
//! changes roles, the last administrator, and who may manage officers. TOTP codes are computed here with a
//! small RFC 6238 implementation of the test's own, checked against the RFC's test vectors.

use chrono::Duration;
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind};
use dinhdanh_server::clock::Clock;
use dinhdanh_store::on_both_backends;
use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::TestServer;
use support::totp::{base32, totp};

const PASSWORD: &str = "sông Hồng chảy qua Hà Nội";

#[test]
fn the_tests_totp_matches_rfc_6238_appendix_b() {
    let key = b"12345678901234567890";
    for (time, code) in [
        (59, "94287082"),
        (1111111109, "07081804"),
        (1111111111, "14050471"),
        (1234567890, "89005924"),
        (2000000000, "69279037"),
        (20000000000, "65353130"),
    ] {
        assert_eq!(totp(key, time, 8), code, "T = {time}");
    }
    assert_eq!(base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), key);
}

/// An officer who has gone through enrolment, with what they need to sign in.
struct Enrolled {
    id: String,
    username: String,
    secret: Vec<u8>,
}

impl Enrolled {
    fn code(&self, server: &TestServer) -> String {
        totp(&self.secret, server.clock.now().timestamp(), 6)
    }
}

async fn operator_id(server: &TestServer) -> String {
    match server.store.organization_by_code("C06").await.unwrap() {
        Some(org) => org.id,
        None => server.organization("C06", OrganizationKind::Operator).await.id,
    }
}

async fn create(server: &TestServer, admin: &str, username: &str, roles: &[&str]) -> Value {
    let org = operator_id(server).await;
    let (status, body) = server
        .call(
            Method::POST,
            "/v1/officers",
            admin,
            Some(json!({"username": username, "full_name": "Lê Thị Hoa", "organization_id": org, "roles": roles})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

/// Creates, enrols and confirms an officer; the clock moves past the confirmation's step afterwards.
async fn enrolled(server: &TestServer, admin: &str, username: &str, roles: &[&str]) -> Enrolled {
    let created = create(server, admin, username, roles).await;
    let token = created["enrolment_token"].as_str().unwrap().to_owned();
    let (status, body) = server.post("/v1/officer-enrolment", json!({"token": token, "password": PASSWORD})).await;
    assert_eq!(status, 200, "{body}");
    let secret = base32(body["totp_secret"].as_str().unwrap());
    let officer =
        Enrolled { id: created["officer"]["id"].as_str().unwrap().to_owned(), username: username.into(), secret };
    let (status, body) =
        server.post("/v1/officer-enrolment/confirm", json!({"token": token, "code": officer.code(server)})).await;
    assert_eq!(status, 200, "{body}");
    server.clock.advance(Duration::seconds(30));
    officer
}

async fn sign_in(server: &TestServer, officer: &Enrolled, password: &str, code: &str) -> (u16, Value) {
    server.post("/v1/officer-sessions", json!({"username": officer.username, "password": password, "code": code})).await
}

async fn signed_in(server: &TestServer, officer: &Enrolled) -> String {
    let (status, body) = sign_in(server, officer, PASSWORD, &officer.code(server)).await;
    assert_eq!(status, 201, "{body}");
    server.clock.advance(Duration::seconds(30));
    body["token"].as_str().unwrap().to_owned()
}

fn wrong(code: &str) -> String {
    format!("{:06}", (code.parse::<u32>().unwrap() + 500_000) % 1_000_000)
}

async fn audit_reasons(server: &TestServer, action: &str) -> Vec<(String, String)> {
    let entries = server.store.recent_audit(Some(action), 100).await.unwrap();
    entries.iter().map(|e| (e.outcome.clone(), e.detail["reason"].as_str().unwrap_or("").to_owned())).collect()
}

on_both_backends! {
    an_officer_enrols_with_totp_and_signs_in(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let created = create(&server, &admin, "Hoa.LT", &["reviewer"]).await;
        assert_eq!(created["officer"]["username"], "hoa.lt");
        assert_eq!(created["officer"]["status"], "pending_enrolment");
        let token = created["enrolment_token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("dd_en_"));
        let id = created["officer"]["id"].as_str().unwrap().to_owned();

        // The password rules apply, with the username as the officer's own identifier.
        let (status, body) = server.post("/v1/officer-enrolment", json!({"token": token, "password": "hoa.lt"})).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("password")), "{body}");
        let (status, body) = server.post("/v1/officer-enrolment", json!({"token": token, "password": PASSWORD})).await;
        assert_eq!(status, 200, "{body}");
        let secret_text = body["totp_secret"].as_str().unwrap().to_owned();
        assert_eq!(base32(&secret_text).len(), 20);
        assert_eq!(
            body["otpauth_uri"],
            format!(
                "otpauth://totp/dinhdanh:hoa.lt?secret={secret_text}&issuer=dinhdanh&algorithm=SHA1&digits=6&period=30"
            )
        );
        let officer = Enrolled { id: id.clone(), username: "hoa.lt".into(), secret: base32(&secret_text) };

        // Not active yet: no sign-in before the authenticator is confirmed.
        let (status, _) = sign_in(&server, &officer, PASSWORD, &officer.code(&server)).await;
        assert_eq!(status, 401);
        let code = officer.code(&server);
        let (status, body) =
            server.post("/v1/officer-enrolment/confirm", json!({"token": token, "code": wrong(&code)})).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("code")), "{body}");
        let (status, body) = server.post("/v1/officer-enrolment/confirm", json!({"token": token, "code": code})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "active");
        // The token is spent.
        let (status, body) = server.post("/v1/officer-enrolment/confirm", json!({"token": token, "code": code})).await;
        assert_eq!((status, body["type"].as_str()), (404, Some("urn:dinhdanh:problem:not-found")));

        // The code used to confirm cannot sign in (its step is spent); the next one can.
        let (status, _) = sign_in(&server, &officer, PASSWORD, &code).await;
        assert_eq!(status, 401);
        server.clock.advance(Duration::seconds(30));
        let (status, body) = sign_in(&server, &officer, PASSWORD, &officer.code(&server)).await;
        assert_eq!(status, 201, "{body}");
        let session = body["token"].as_str().unwrap().to_owned();
        assert!(session.starts_with("dd_os_"));
        assert_eq!(body["officer"], json!({"id": id, "username": "hoa.lt", "roles": ["reviewer"]}));
        let expires_at = server.clock.now() + Duration::hours(8);
        assert_eq!(body["expires_at"].as_str().unwrap(), dinhdanh_server::api::time::format(&expires_at));

        let (status, me) = server.call(Method::GET, "/v1/officers/me", &session, None).await;
        assert_eq!((status, me["id"].as_str()), (200, Some(id.as_str())), "{me}");
        // No credential is ever shown again.
        let (status, shown) = server.call(Method::GET, &format!("/v1/officers/{id}"), &admin, None).await;
        assert_eq!(status, 200);
        for text in [shown.to_string(), me.to_string()] {
            for secret in ["password", "totp", "secret", "token_hash", secret_text.as_str()] {
                assert!(!text.contains(secret), "{secret} in {text}");
            }
        }

        // The session ends at once on sign-out.
        let (status, _) = server.call(Method::DELETE, "/v1/officer-sessions/current", &session, None).await;
        assert_eq!(status, 204);
        let (status, _) = server.call(Method::GET, "/v1/officers/me", &session, None).await;
        assert_eq!(status, 401);
        // After 8 hours a session stops working by itself.
        server.clock.advance(Duration::seconds(30));
        let session = signed_in(&server, &officer).await;
        server.clock.advance(Duration::hours(8));
        let (status, _) = server.call(Method::GET, "/v1/officers/me", &session, None).await;
        assert_eq!(status, 401);

        let actions: Vec<String> =
            server.store.recent_audit(None, 100).await.unwrap().iter().map(|e| e.action.clone()).collect();
        let expected =
            ["officer.create", "officer.enrol", "officer.enrolment_confirm", "officer.sign_in", "officer.sign_out"];
        for action in expected {
            assert!(actions.iter().any(|a| a == action), "{action} not audited: {actions:?}");
        }
        // No password, code or secret in any audit record.
        for entry in server.store.recent_audit(None, 200).await.unwrap() {
            let detail = entry.detail.to_string();
            for secret in [PASSWORD, secret_text.as_str(), code.as_str(), token.as_str()] {
                assert!(!detail.contains(secret), "{} carries a secret: {detail}", entry.action);
            }
        }
    }

    wrong_password_wrong_code_and_unknown_username_get_one_answer(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let officer = enrolled(&server, &admin, "minh.nv", &["supervisor"]).await;
        let code = officer.code(&server);
        // Equal work, proved by what was done rather than by how long it took: each refusal spends exactly one
        // argon2id verification (against a hash of the same parameters) and writes exactly one audit entry.
        let work = |server: &TestServer| server.state.work.argon2_verifications();
        let audited = |server: &TestServer| {
            let store = server.store.clone();
            async move { store.recent_audit(Some("officer.sign_in"), 1000).await.unwrap().len() }
        };
        let (work_before, audit_before) = (work(&server), audited(&server).await);
        let (status, wrong_password) = sign_in(&server, &officer, "not the password", &code).await;
        assert_eq!(status, 401);
        assert_eq!(wrong_password["type"], "urn:dinhdanh:problem:sign-in-failed");
        assert_eq!((work(&server) - work_before, audited(&server).await - audit_before), (1, 1), "wrong password");
        let (status, wrong_code) = sign_in(&server, &officer, PASSWORD, &wrong(&code)).await;
        assert_eq!((status, &wrong_code), (401, &wrong_password));
        let nobody = Enrolled { id: String::new(), username: "nobody.here".into(), secret: vec![1; 20] };
        for _ in 0..3 {
            let (work_before, audit_before) = (work(&server), audited(&server).await);
            let (status, unknown) = sign_in(&server, &nobody, "not the password", &code).await;
            assert_eq!((status, &unknown), (401, &wrong_password));
            assert_eq!((work(&server) - work_before, audited(&server).await - audit_before), (1, 1), "unknown username");
        }
        // The hash an unknown username is checked against costs what a real one does: the same argon2id parameters.
        let stored = server.store.officer(&officer.id).await.unwrap().unwrap().password_hash.unwrap();
        let params = |hash: &str| hash.split('$').take(4).collect::<Vec<_>>().join("$");
        let nothing = dinhdanh_server::secrets::nothing_hash().await.unwrap();
        assert_eq!(params(&nothing), params(&stored));
        assert!(params(&stored).starts_with("$argon2id$v=19$m=19456,t=2,p=1"), "{}", params(&stored));
        assert_eq!(
            audit_reasons(&server, "officer.sign_in").await[..],
            [
                ("refused".to_owned(), "unknown_username".to_owned()),
                ("refused".to_owned(), "unknown_username".to_owned()),
                ("refused".to_owned(), "unknown_username".to_owned()),
                ("refused".to_owned(), "wrong_code".to_owned()),
                ("refused".to_owned(), "wrong_password".to_owned()),
            ]
        );
        // The right password and code still work: two failures do not lock.
        let (status, _) = sign_in(&server, &officer, PASSWORD, &code).await;
        assert_eq!(status, 201);
    }

    a_replayed_code_is_refused(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let officer = enrolled(&server, &admin, "lan.tt", &["reviewer"]).await;
        let code = officer.code(&server);
        let (status, _) = sign_in(&server, &officer, PASSWORD, &code).await;
        assert_eq!(status, 201);
        let (status, body) = sign_in(&server, &officer, PASSWORD, &code).await;
        assert_eq!((status, body["type"].as_str()), (401, Some("urn:dinhdanh:problem:sign-in-failed")));
        // Still inside the ±1 step window 20 seconds later, and still refused.
        server.clock.advance(Duration::seconds(20));
        let (status, _) = sign_in(&server, &officer, PASSWORD, &code).await;
        assert_eq!(status, 401);
        assert_eq!(audit_reasons(&server, "officer.sign_in").await[0], ("refused".into(), "replayed_code".into()));
        // A code of the previous step is no good either once a later one was used.
        server.clock.advance(Duration::seconds(40));
        let previous = totp(&officer.secret, server.clock.now().timestamp() - 30, 6);
        let (status, _) = sign_in(&server, &officer, PASSWORD, &officer.code(&server)).await;
        assert_eq!(status, 201);
        let (status, _) = sign_in(&server, &officer, PASSWORD, &previous).await;
        assert_eq!(status, 401);
    }

    five_failures_lock_the_sign_in_for_fifteen_minutes(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let officer = enrolled(&server, &admin, "hung.pv", &["reviewer"]).await;
        for attempt in 1..=4 {
            let (status, body) = sign_in(&server, &officer, "guess number one", &officer.code(&server)).await;
            assert_eq!(status, 401, "attempt {attempt}: {body}");
        }
        let (status, body) = sign_in(&server, &officer, PASSWORD, &wrong(&officer.code(&server))).await;
        assert_eq!(status, 429, "{body}");
        assert_eq!(body["type"], "urn:dinhdanh:problem:sign-in-locked");
        assert_eq!(body["retry_after"], 900);
        // Even the right password and code are refused while the lock lasts, without a password check.
        server.clock.advance(Duration::minutes(10));
        let (status, body) = sign_in(&server, &officer, PASSWORD, &officer.code(&server)).await;
        assert_eq!((status, body["retry_after"].as_i64()), (429, Some(300)), "{body}");
        let response = server
            .http
            .post(server.url("/v1/officer-sessions"))
            .json(&json!({"username": officer.username, "password": PASSWORD, "code": officer.code(&server)}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["retry-after"], "300");
        let (status, shown) = server.call(Method::GET, &format!("/v1/officers/{}", officer.id), &admin, None).await;
        assert_eq!((status, shown["failed_sign_ins"].as_i64()), (200, Some(5)));
        assert!(shown["sign_in_locked_until"].is_string());

        // After the lock, the next failure locks again for twice as long.
        server.clock.advance(Duration::minutes(5));
        let (status, body) = sign_in(&server, &officer, "guess number six", &officer.code(&server)).await;
        assert_eq!((status, body["retry_after"].as_i64()), (429, Some(1800)), "{body}");
        server.clock.advance(Duration::minutes(30));
        let (status, body) = sign_in(&server, &officer, PASSWORD, &officer.code(&server)).await;
        assert_eq!(status, 201, "{body}");
        server.clock.advance(Duration::seconds(30));

        // A success resets the count: four failures again do not lock.
        for _ in 1..=4 {
            let (status, _) = sign_in(&server, &officer, "guess again", &officer.code(&server)).await;
            assert_eq!(status, 401);
        }
        let (status, _) = sign_in(&server, &officer, PASSWORD, &officer.code(&server)).await;
        assert_eq!(status, 201);
        let locked = audit_reasons(&server, "officer.sign_in").await.iter().filter(|(_, r)| r == "locked").count();
        assert_eq!(locked, 2);
    }

    parallel_guesses_never_get_more_than_five_tries(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let officer = enrolled(&server, &admin, "tam.lv", &["reviewer"]).await;
        let body = json!({"username": officer.username, "password": "parallel guess", "code": "000000"});
        let tries: Vec<_> = (0..12)
            .map(|_| {
                let request = server.http.post(server.url("/v1/officer-sessions")).json(&body);
                tokio::spawn(async move { request.send().await.unwrap().status().as_u16() })
            })
            .collect();
        let mut statuses = Vec::new();
        for task in tries {
            statuses.push(task.await.unwrap());
        }
        statuses.sort();
        assert_eq!(statuses, [[401; 4].as_slice(), [429; 8].as_slice()].concat());
        let stored = server.store.officer(&officer.id).await.unwrap().unwrap();
        assert_eq!(stored.failed_sign_ins, 5);
    }

    a_disabled_officer_is_signed_out_at_once(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let officer = enrolled(&server, &admin, "duc.nm", &["reviewer"]).await;
        let session = signed_in(&server, &officer).await;
        let (status, _) = server.call(Method::GET, "/v1/officers/me", &session, None).await;
        assert_eq!(status, 200);
        let path = format!("/v1/officers/{}", officer.id);
        let (status, body) = server.call(Method::PATCH, &path, &admin, Some(json!({"status": "disabled"}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("disabled")), "{body}");
        let (status, _) = server.call(Method::GET, "/v1/officers/me", &session, None).await;
        assert_eq!(status, 401);
        let (status, _) = sign_in(&server, &officer, PASSWORD, &officer.code(&server)).await;
        assert_eq!(status, 401);
        let update = &server.store.recent_audit(Some("officer.update"), 1).await.unwrap()[0];
        assert_eq!(update.detail["sessions_revoked"], 1);
        assert!(update.actor.starts_with("officer:"));
        // Enabled again, the officer signs in with the same credentials.
        server.clock.advance(Duration::seconds(30));
        let (status, body) = server.call(Method::PATCH, &path, &admin, Some(json!({"status": "active"}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("active")), "{body}");
        signed_in(&server, &officer).await;
    }

    a_role_change_ends_the_officers_sessions(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let officer = enrolled(&server, &admin, "thu.hn", &["reviewer"]).await;
        let session = signed_in(&server, &officer).await;
        let path = format!("/v1/officers/{}", officer.id);
        // A name change keeps the session.
        let (status, _) = server.call(Method::PATCH, &path, &admin, Some(json!({"full_name": "Hoàng Ngọc Thu"}))).await;
        assert_eq!(status, 200);
        let (status, _) = server.call(Method::GET, "/v1/officers/me", &session, None).await;
        assert_eq!(status, 200);
        let (status, body) =
            server.call(Method::PATCH, &path, &admin, Some(json!({"roles": ["reviewer", "supervisor"]}))).await;
        assert_eq!((status, &body["roles"]), (200, &json!(["reviewer", "supervisor"])), "{body}");
        let (status, _) = server.call(Method::GET, "/v1/officers/me", &session, None).await;
        assert_eq!(status, 401);
        // The new session carries the new roles: a supervisor may read officers.
        let session = signed_in(&server, &officer).await;
        let (status, _) = server.call(Method::GET, "/v1/officers", &session, None).await;
        assert_eq!(status, 200);
        let (status, body) = server.call(Method::PATCH, &path, &admin, Some(json!({"roles": ["auditor"]}))).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("roles")));
        let (status, _) = server.call(Method::PATCH, &path, &admin, Some(json!({"roles": []}))).await;
        assert_eq!(status, 422);
    }

    the_last_active_administrator_is_protected(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let (_, me) = server.call(Method::GET, "/v1/officers/me", &admin, None).await;
        let path = format!("/v1/officers/{}", me["id"].as_str().unwrap());
        for change in [json!({"roles": ["supervisor"]}), json!({"status": "disabled"})] {
            let (status, body) = server.call(Method::PATCH, &path, &admin, Some(change)).await;
            let kind = body["type"].as_str();
            assert_eq!((status, kind), (409, Some("urn:dinhdanh:problem:last-administrator")), "{body}");
        }
        let (status, _) = server.call(Method::POST, &format!("{path}/enrolment"), &admin, None).await;
        assert_eq!(status, 409);
        // A pending administrator does not count: they cannot act yet.
        create(&server, &admin, "second.admin", &["administrator"]).await;
        let (status, _) = server.call(Method::PATCH, &path, &admin, Some(json!({"status": "disabled"}))).await;
        assert_eq!(status, 409);
        let second = enrolled(&server, &admin, "third.admin", &["administrator", "supervisor"]).await;
        let (status, body) =
            server.call(Method::PATCH, &path, &admin, Some(json!({"roles": ["supervisor"]}))).await;
        assert_eq!(status, 200, "{body}");
        // The first administrator is no longer one; the other is now the last.
        let second_session = signed_in(&server, &second).await;
        let (status, _) = server
            .call(
                Method::PATCH,
                &format!("/v1/officers/{}", second.id),
                &second_session,
                Some(json!({"roles": ["supervisor"]})),
            )
            .await;
        assert_eq!(status, 409);
        let refused = audit_reasons(&server, "officer.update").await;
        assert_eq!(refused.iter().filter(|(_, r)| r == "last_administrator").count(), 4, "{refused:?}");
    }

    only_administrators_manage_officers(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let operator = operator_id(&server).await;
        let (reviewer, reviewer_token) = server.officer_session(&operator, &[OfficerRole::Reviewer]).await;
        let body = json!({
            "username": "new.one", "full_name": "Ngô Văn Nam", "organization_id": operator, "roles": ["reviewer"]
        });
        let (status, problem) = server.call(Method::POST, "/v1/officers", &reviewer_token, Some(body.clone())).await;
        assert_eq!((status, problem["type"].as_str()), (403, Some("urn:dinhdanh:problem:forbidden")), "{problem}");
        let denied = &server.store.recent_audit(Some("authorization.denied"), 1).await.unwrap()[0];
        assert_eq!(denied.actor, format!("officer:{}", reviewer.id));
        assert_eq!(denied.detail["action"], "officers.manage");
        assert!(server.store.officer_by_username("new.one").await.unwrap().is_none());
        // A reviewer may not read the list either, but may read themselves.
        let (status, _) = server.call(Method::GET, "/v1/officers", &reviewer_token, None).await;
        assert_eq!(status, 403);
        let (status, me) = server.call(Method::GET, "/v1/officers/me", &reviewer_token, None).await;
        assert_eq!((status, me["roles"].clone()), (200, json!(["reviewer"])));
        // A supervisor reads but does not change.
        let (_, supervisor) = server.officer_session(&operator, &[OfficerRole::Supervisor]).await;
        let (status, list) = server.call(Method::GET, "/v1/officers", &supervisor, None).await;
        assert_eq!((status, list.as_array().map(Vec::len)), (200, Some(3)));
        let path = format!("/v1/officers/{}", reviewer.id);
        let (status, _) = server.call(Method::PATCH, &path, &supervisor, Some(json!({"status": "disabled"}))).await;
        assert_eq!(status, 403);
        let (status, _) = server.call(Method::POST, &format!("{path}/enrolment"), &supervisor, None).await;
        assert_eq!(status, 403);
        // Without a session nothing at all.
        let (status, _) = server.post("/v1/officers", body.clone()).await;
        assert_eq!(status, 401);
        // The unit must be an active operator organization; usernames are unique.
        let bank = server.organization("VCB", OrganizationKind::RelyingParty).await;
        let mut at_bank = body.clone();
        at_bank["organization_id"] = json!(bank.id);
        let (status, problem) = server.call(Method::POST, "/v1/officers", &admin, Some(at_bank)).await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("organization_id")), "{problem}");
        let (status, _) = server.call(Method::POST, "/v1/officers", &admin, Some(body.clone())).await;
        assert_eq!(status, 201);
        let (status, problem) = server.call(Method::POST, "/v1/officers", &admin, Some(body)).await;
        assert_eq!((status, problem["type"].as_str()), (409, Some("urn:dinhdanh:problem:conflict")));
        let (status, problem) = server
            .call(
                Method::POST,
                "/v1/officers",
                &admin,
                Some(json!({"username": "x", "full_name": " ", "organization_id": operator, "roles": ["boss"]})),
            )
            .await;
        assert_eq!(status, 422);
        let fields: Vec<&str> =
            problem["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["username", "full_name", "roles"]);
    }

    a_reissued_enrolment_replaces_the_credentials(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let officer = enrolled(&server, &admin, "vy.tt", &["reviewer"]).await;
        let session = signed_in(&server, &officer).await;
        let path = format!("/v1/officers/{}/enrolment", officer.id);
        let (status, body) = server.call(Method::POST, &path, &admin, None).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["officer"]["status"], "pending_enrolment");
        let token = body["enrolment_token"].as_str().unwrap().to_owned();
        let (status, _) = server.call(Method::GET, "/v1/officers/me", &session, None).await;
        assert_eq!(status, 401);
        let (status, _) = sign_in(&server, &officer, PASSWORD, &officer.code(&server)).await;
        assert_eq!(status, 401);
        let (status, body) =
            server.post("/v1/officer-enrolment", json!({"token": token, "password": "mật khẩu mới của Vy"})).await;
        assert_eq!(status, 200, "{body}");
        let old_secret = officer.secret.clone();
        let renewed = Enrolled { secret: base32(body["totp_secret"].as_str().unwrap()), ..officer };
        assert_ne!(renewed.secret, old_secret);
        let (status, _) =
            server.post("/v1/officer-enrolment/confirm", json!({"token": token, "code": renewed.code(&server)})).await;
        assert_eq!(status, 200);
        server.clock.advance(Duration::seconds(30));
        let (status, _) = sign_in(&server, &renewed, "mật khẩu mới của Vy", &renewed.code(&server)).await;
        assert_eq!(status, 201);
    }

    an_enrolment_token_expires_after_72_hours(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let created = create(&server, &admin, "khanh.dq", &["reviewer"]).await;
        let token = created["enrolment_token"].as_str().unwrap();
        server.clock.advance(Duration::hours(72));
        let (expired_status, expired) =
            server.post("/v1/officer-enrolment", json!({"token": token, "password": PASSWORD})).await;
        let (unknown_status, unknown) = server
            .post("/v1/officer-enrolment", json!({"token": "dd_en_0000000000000000", "password": PASSWORD}))
            .await;
        // Expired and unknown tokens are answered alike.
        assert_eq!((expired_status, &expired), (404, &unknown));
        assert_eq!(unknown_status, 404);
        let reasons = audit_reasons(&server, "officer.enrol").await;
        assert_eq!(reasons, [("refused".into(), "token_unknown".into()), ("refused".into(), "token_expired".into())]);
    }

    the_openapi_document_lists_the_officer_operations(db) {
        let server = TestServer::start(&db).await;
        let doc: Value = server.http.get(server.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
        let text = doc.to_string();
        for id in [
            "enrolOfficer", "confirmOfficerEnrolment", "signInOfficer", "signOutOfficer", "createOfficer",
            "listOfficers", "getOfficer", "updateOfficer", "reissueOfficerEnrolment", "getCurrentOfficer",
        ] {
            assert!(text.contains(&format!("\"operationId\":\"{id}\"")), "{id} missing");
        }
        assert!(doc["paths"]["/v1/officers"]["post"]["security"].is_array());
        assert!(doc["paths"]["/v1/officer-sessions"]["post"]["security"].is_null());
    }
}

/// TOTP secrets at rest: sealed under the configured key (`dinhdanh_server::totp_key`).
mod totp_at_rest {
    use std::sync::Arc;

    use dinhdanh_server::service::officers::{rotate_totp_key, seal_totp_secrets};
    use dinhdanh_server::totp_key::TotpKey;

    use super::*;

    /// A second server on the same database with its own key, its clock past the first one's steps.
    async fn server_with(db: &dinhdanh_store::testing::TestDb, key: &TotpKey) -> TestServer {
        let config = dinhdanh_server::ServerConfig { totp_key: Arc::new(key.clone()), ..support::relaxed_config() };
        let server = TestServer::start_with(db, config).await;
        server.clock.advance(Duration::minutes(10));
        server
    }

    async fn stored(server: &TestServer, officer: &Enrolled) -> String {
        server.store.officer(&officer.id).await.unwrap().unwrap().totp_secret.unwrap()
    }

    fn plaintext(officer: &Enrolled) -> String {
        dinhdanh_domain::totp::base32_encode(&officer.secret)
    }

    async fn set_stored(server: &TestServer, officer: &Enrolled, value: &str) {
        let mut tx = server.store.begin().await.unwrap();
        tx.set_totp_secret(&officer.id, value).await.unwrap();
        tx.commit().await.unwrap();
    }

    on_both_backends! {
        the_stored_secret_is_sealed_and_sign_in_still_works(db) {
            let server = TestServer::start(&db).await;
            let admin = server.admin().await;
            let hoa = enrolled(&server, &admin, "hoa", &["reviewer"]).await;
            let sealed = stored(&server, &hoa).await;
            assert!(sealed.starts_with("v1:") && !sealed.contains(&plaintext(&hoa)), "{sealed}");
            signed_in(&server, &hoa).await;
            assert_eq!(stored(&server, &hoa).await, sealed, "sign-in does not rewrite it");

            // Another officer's ciphertext copied onto this row opens for nobody: the officer id is bound in.
            let an = enrolled(&server, &admin, "an.nv", &["reviewer"]).await;
            set_stored(&server, &an, &sealed).await;
            let (status, body) = sign_in(&server, &an, PASSWORD, &hoa.code(&server)).await;
            assert_eq!((status, body["type"].as_str()), (500, Some("urn:dinhdanh:problem:internal")), "{body}");
            let error = seal_totp_secrets(&server.store, &server.state.config.totp_key, server.clock.now()).await.err().unwrap();
            assert!(format!("{error:?}").contains(&format!("officer {} does not open", an.id)), "{error:?}");
        }

        a_server_with_another_key_fails_clearly_and_changes_nothing(db) {
            let server = TestServer::start(&db).await;
            let admin = server.admin().await;
            let hoa = enrolled(&server, &admin, "hoa", &["reviewer"]).await;
            let other = server_with(&db, &TotpKey::generate()).await;
            let error = seal_totp_secrets(&other.store, &other.state.config.totp_key, other.clock.now()).await.err().unwrap();
            assert!(format!("{error:?}").contains("does not open with the configured TOTP key"), "{error:?}");
            let (status, body) = sign_in(&other, &hoa, PASSWORD, &hoa.code(&other)).await;
            assert_eq!((status, body["type"].as_str()), (500, Some("urn:dinhdanh:problem:internal")), "{body}");
            assert_eq!(other.http.get(other.url("/healthz")).send().await.unwrap().status(), 200, "still serving");
            let officer = other.store.officer(&hoa.id).await.unwrap().unwrap();
            assert_eq!(officer.failed_sign_ins, 0, "not counted against the officer");
            signed_in(&server, &hoa).await;
        }

        rotation_moves_every_secret_to_the_new_key_in_one_go(db) {
            let server = TestServer::start(&db).await;
            let admin = server.admin().await;
            let hoa = enrolled(&server, &admin, "hoa", &["reviewer"]).await;
            let an = enrolled(&server, &admin, "an.nv", &["supervisor"]).await;
            let old = server.state.config.totp_key.as_ref().clone();
            let before = stored(&server, &hoa).await;
            let new = TotpKey::generate();

            // A wrong current key, or the same key again, is refused and changes nothing.
            assert!(rotate_totp_key(&server.store, &TotpKey::generate(), &new, server.clock.now()).await.is_err());
            assert!(rotate_totp_key(&server.store, &old, &old, server.clock.now()).await.is_err());
            assert_eq!(stored(&server, &hoa).await, before);

            assert_eq!(rotate_totp_key(&server.store, &old, &new, server.clock.now()).await.unwrap(), 2);
            let after = stored(&server, &hoa).await;
            assert!(after.starts_with("v1:") && after != before && !after.contains(&plaintext(&hoa)));
            let rotated = server.store.recent_audit(Some("officer.totp_key_rotated"), 5).await.unwrap();
            assert_eq!(rotated[0].detail["resealed"], 2);

            let renewed = server_with(&db, &new).await;
            assert_eq!(seal_totp_secrets(&renewed.store, &new, renewed.clock.now()).await.unwrap(), 0);
            signed_in(&renewed, &hoa).await;
            signed_in(&renewed, &an).await;
            // The old key opens nothing any more.
            let (status, _) = sign_in(&server, &an, PASSWORD, &an.code(&server)).await;
            assert_eq!(status, 500);
            assert!(seal_totp_secrets(&server.store, &old, server.clock.now()).await.is_err());
        }

        plaintext_secrets_from_before_sealing_are_sealed_at_start(db) {
            let server = TestServer::start(&db).await;
            let admin = server.admin().await;
            let hoa = enrolled(&server, &admin, "hoa", &["reviewer"]).await;
            set_stored(&server, &hoa, &plaintext(&hoa)).await;
            signed_in(&server, &hoa).await;
            let key = server.state.config.totp_key.clone();
            assert_eq!(seal_totp_secrets(&server.store, &key, server.clock.now()).await.unwrap(), 1);
            let sealed = stored(&server, &hoa).await;
            assert!(sealed.starts_with("v1:") && !sealed.contains(&plaintext(&hoa)), "{sealed}");
            assert_eq!(key.open(&hoa.id, &sealed).unwrap(), plaintext(&hoa));
            signed_in(&server, &hoa).await;
            let audit = server.store.recent_audit(Some("officer.totp_sealed"), 5).await.unwrap();
            assert_eq!((audit.len(), &audit[0].detail["sealed"]), (1, &json!(1)));
            assert_eq!(seal_totp_secrets(&server.store, &key, server.clock.now()).await.unwrap(), 0, "once");
        }
    }
}
