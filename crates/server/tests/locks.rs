//! The lock engine end to end over HTTP, on SQLite and PostgreSQL: who may lock and lift what (asked of the
//! authority table), the officers' route with its deadlines, the immediate effect on sessions, independent locks,
//! tracking, cancellation, the override, idempotent retries and concurrency.

use chrono::Duration;
use dinhdanh_domain::Level;
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind, Scope};
use dinhdanh_server::clock::Clock;
use dinhdanh_store::on_both_backends;
use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::TestServer;

const MAI: &str = "001190123456";

fn basis() -> Value {
    json!({"document_kind": "Quyết định", "number": "123/QĐ-CSĐT", "issued_on": "2026-05-30",
           "issuing_body": "Cơ quan Cảnh sát điều tra Công an TP Hà Nội", "signer": "Nguyễn Văn A"})
}

fn court_lock() -> Value {
    json!({"ground": "authority_request", "account": {"id_number": MAI}, "legal_basis": basis(),
           "reason": "phục vụ điều tra / for an investigation"})
}

/// The actors of a typical case: a holder, a court and a bank with clients, a reviewer and two supervisors.
struct Cast {
    holder: dinhdanh_domain::Account,
    holder_token: String,
    court: String,
    other_court: String,
    bank: String,
    reviewer: String,
    supervisor: String,
    second_supervisor: String,
}

async fn cast(server: &TestServer, level: Level) -> Cast {
    let (holder, holder_token) = server.holder(MAI, level).await;
    let scopes = [Scope::LocksRequest, Scope::LocksLift, Scope::AccountsStatus];
    let (_, court) = server.organization_token("TAND-HN", OrganizationKind::ProsecutingAgency, &scopes).await;
    let (_, other_court) = server.organization_token("TAND-HCM", OrganizationKind::ProsecutingAgency, &scopes).await;
    let (_, bank) = server.organization_token("VCB", OrganizationKind::RelyingParty, &scopes).await;
    let operator = server.organization("C06", OrganizationKind::Operator).await;
    let (_, reviewer) = server.officer_session(&operator.id, &[OfficerRole::Reviewer]).await;
    let (_, supervisor) = server.officer_session(&operator.id, &[OfficerRole::Supervisor]).await;
    let (_, second_supervisor) = server.officer_session(&operator.id, &[OfficerRole::Supervisor]).await;
    Cast { holder, holder_token, court, other_court, bank, reviewer, supervisor, second_supervisor }
}

async fn usable(server: &TestServer, token: &str) -> bool {
    let (status, body) = server.call(Method::GET, &format!("/v1/account-status?id_number={MAI}"), token, None).await;
    assert_eq!(status, 200, "{body}");
    body["usable"].as_bool().unwrap()
}

/// Takes a third-party request through the reviewer and the supervisor.
async fn approve_through_officers(server: &TestServer, c: &Cast, request_id: &str) -> Value {
    let (status, body) =
        server.call(Method::POST, &format!("/v1/requests/{request_id}/claim"), &c.reviewer, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/requests/{request_id}/forward"),
            &c.reviewer,
            Some(json!({"note": "đã xác minh"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/requests/{request_id}/decision"),
            &c.supervisor,
            Some(json!({"decision": "approve"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

/// Mai's row in the population registry, as the lost-phone path compares with it.
async fn register_mai_in_registry(server: &TestServer) {
    use dinhdanh_domain::registry::{CardStatus, CitizenRecord};
    use dinhdanh_domain::{FullName, Gender, IdentificationNumber, ProvinceTable};
    let record = CitizenRecord {
        id_number: IdentificationNumber::parse(MAI, &ProvinceTable::builtin()).unwrap(),
        full_name: FullName::parse("Trần Thị Mai").unwrap(),
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 5, 1).unwrap(),
        gender: Gender::Female,
        place_of_origin: None,
        permanent_residence: None,
        card_status: CardStatus::Valid,
        died_on: None,
    };
    server.store.upsert_citizens(&[record], dinhdanh_server::clock::Clock::now(&server.clock)).await.unwrap();
}

fn lost_phone() -> Value {
    json!({"holder_kind": "citizen", "id_number": MAI, "full_name": "TRẦN THỊ MAI", "date_of_birth": "1990-05-01", "lost_channel": "sms"})
}

on_both_backends! {
    separation_of_duties_means_two_people_and_a_claim_is_one_officers(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (_, both) = server.officer_session(&operator.id, &[OfficerRole::Reviewer, OfficerRole::Supervisor]).await;
        let (_, other_reviewer) = server.officer_session(&operator.id, &[OfficerRole::Reviewer]).await;
        let (_, filed) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        let id = filed["id"].as_str().unwrap().to_owned();
        let step = |what: &'static str| format!("/v1/requests/{id}/{what}");
        // A claim is the claimant's: nobody else claims, forwards or releases it until released or expired.
        assert_eq!(server.call(Method::POST, &step("claim"), &c.reviewer, None).await.0, 200);
        let (status, body) = server.call(Method::POST, &step("claim"), &other_reviewer, None).await;
        assert_eq!((status, body["type"].as_str()), (409, Some("urn:dinhdanh:problem:conflict")), "{body}");
        let (status, _) = server.call(Method::POST, &step("forward"), &other_reviewer, Some(json!({"note": "x"}))).await;
        assert_eq!(status, 409);
        assert_eq!(server.call(Method::POST, &step("release"), &other_reviewer, None).await.0, 409);
        assert_eq!(server.call(Method::POST, &step("release"), &c.reviewer, None).await.0, 200);
        // The officer with both roles claims and forwards: they verified it, so they cannot also decide it.
        assert_eq!(server.call(Method::POST, &step("claim"), &both, None).await.0, 200);
        let (status, _) = server.call(Method::POST, &step("forward"), &c.reviewer, Some(json!({"note": "x"}))).await;
        assert_eq!(status, 409, "claimed by the other officer");
        server.clock.advance(Duration::hours(4));
        let (status, _) = server.call(Method::POST, &step("forward"), &c.reviewer, Some(json!({"note": "x"}))).await;
        assert_eq!(status, 200, "the claim expired after 4 hours");
        let (_, filed) = server.call(Method::POST, "/v1/lock-requests", &c.other_court, Some(court_lock())).await;
        let second = filed["id"].as_str().unwrap().to_owned();
        assert_eq!(server.call(Method::POST, &format!("/v1/requests/{second}/forward"), &both, Some(json!({"note": "đã xác minh"}))).await.0, 200);
        let (status, body) = server.call(Method::POST, &format!("/v1/requests/{second}/decision"), &both,
            Some(json!({"decision": "approve"}))).await;
        assert_eq!((status, body["type"].as_str()), (403, Some("urn:dinhdanh:problem:forbidden")), "{body}");
        let (status, body) = server.call(Method::POST, &format!("/v1/requests/{second}/decision"), &both,
            Some(json!({"decision": "reject", "reason": "không đủ căn cứ"}))).await;
        assert_eq!(status, 403, "{body}");
        let (status, body) = server.call(Method::POST, &format!("/v1/requests/{second}/decision"), &c.supervisor,
            Some(json!({"decision": "approve"}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("effective")), "another supervisor: {body}");
        let events: Vec<String> = server.store.recent_audit(None, 100).await.unwrap().into_iter().map(|a| a.action).collect();
        assert!(events.contains(&"request.release".to_owned()), "{events:?}");
    }

    an_authoritys_lock_request_is_not_told_to_the_holder_until_it_takes_effect(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let holder_notices = |server: &TestServer| {
            let store = server.store.clone();
            async move {
                store.outbox_messages(None, 1000).await.unwrap().into_iter()
                    .filter(|m| m.kind == "request_update" && ["+84912345678", "mai@example.vn"].contains(&m.recipient.as_str()))
                    .count()
            }
        };
        let (_, filed) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        let id = filed["id"].as_str().unwrap().to_owned();
        let (status, _) = server.call(Method::POST, &format!("/v1/requests/{id}/claim"), &c.reviewer, None).await;
        assert_eq!(status, 200);
        let (status, _) = server.call(Method::POST, &format!("/v1/requests/{id}/forward"), &c.reviewer, Some(json!({"note": "ok"}))).await;
        assert_eq!(status, 200);
        assert_eq!(holder_notices(&server).await, 0, "no tip-off while the request is pending");
        let (status, listed) = server.call(Method::GET, "/v1/requests", &c.holder_token, None).await;
        assert_eq!((status, listed), (200, json!([])));
        let (status, body) = server.call(Method::GET, &format!("/v1/requests/{id}"), &c.holder_token, None).await;
        assert_eq!((status, body["type"].as_str()), (404, Some("urn:dinhdanh:problem:not-found")), "{body}");
        assert!(!body.to_string().contains("Nguyễn Văn A"), "not the signer");
        // The court follows its request all along.
        assert_eq!(server.call(Method::GET, &format!("/v1/requests/{id}"), &c.court, None).await.0, 200);
        let (status, _) = server.call(Method::POST, &format!("/v1/requests/{id}/decision"), &c.supervisor, Some(json!({"decision": "approve"}))).await;
        assert_eq!(status, 200);
        assert!(holder_notices(&server).await >= 1, "told when the lock takes effect");
        let holder = server.holder_session(&c.holder).await;
        let (status, body) = server.call(Method::GET, &format!("/v1/requests/{id}"), &holder, None).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("effective")), "{body}");
        // A rejected one is never told to the holder.
        let (_, filed) = server.call(Method::POST, "/v1/lock-requests", &c.other_court, Some(court_lock())).await;
        let second = filed["id"].as_str().unwrap().to_owned();
        let before = holder_notices(&server).await;
        server.call(Method::POST, &format!("/v1/requests/{second}/forward"), &c.reviewer, Some(json!({"note": "ok"}))).await;
        let (status, _) = server.call(Method::POST, &format!("/v1/requests/{second}/decision"), &c.supervisor,
            Some(json!({"decision": "reject", "reason": "không đủ căn cứ"}))).await;
        assert_eq!(status, 200);
        assert_eq!(holder_notices(&server).await, before);
        assert_eq!(server.call(Method::GET, &format!("/v1/requests/{second}"), &holder, None).await.0, 404);
    }

    parallel_writes_of_every_kind_never_answer_5xx(db) {
        // Issue 12 item 7: parallel writers wait for each other (BEGIN IMMEDIATE on SQLite, row locks on
        // PostgreSQL) instead of failing; what they may answer is the domain's answer, never a server error.
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let admin = server.admin().await;
        let bank = server.store.organization_by_code("VCB").await.unwrap().unwrap();
        let (_, client) = server.call(Method::POST, &format!("/v1/organizations/{}/clients", bank.id), &admin,
            Some(json!({"name": "song song", "auth_method": "client_secret", "scopes": ["accounts:status"]}))).await;
        let (client_id, secret) = (client["client_id"].as_str().unwrap().to_owned(), client["client_secret"].as_str().unwrap().to_owned());
        let (_, first) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        let lock_id = approve_through_officers(&server, &c, first["id"].as_str().unwrap()).await["lock_id"].as_str().unwrap().to_owned();
        let mut calls = Vec::new();
        for n in 0..100 {
            let http = server.http.clone();
            let request = match n % 5 {
                0 => http.post(server.url("/v1/lock-requests")).bearer_auth(&c.court).header("Idempotency-Key", format!("k-{n}")).json(&court_lock()),
                1 => http.post(server.url("/v1/lock-requests")).bearer_auth(&c.court).header("Idempotency-Key", "one-key").json(&court_lock()),
                2 => http.post(server.url("/v1/unlock-requests")).bearer_auth(&c.court)
                    .json(&json!({"lock_id": lock_id, "reason": "đình chỉ", "legal_basis": basis()})),
                3 => http.post(server.url("/v1/holder-sessions"))
                    .json(&json!({"holder_kind": "citizen", "id_number": MAI, "password": "not the password"})),
                _ => http.post(server.url("/oauth/token")).basic_auth(&client_id, Some(&secret))
                    .form(&[("grant_type", "client_credentials")]),
            };
            calls.push(tokio::spawn(async move {
                let response = request.send().await.unwrap();
                (n % 5, response.status().as_u16())
            }));
        }
        let mut answers: Vec<(i32, u16)> = Vec::new();
        for call in calls {
            answers.push(call.await.unwrap());
        }
        assert!(answers.iter().all(|(_, status)| *status < 500), "{answers:?}");
        let of = |kind: i32| answers.iter().filter(|(k, _)| *k == kind).map(|(_, s)| *s).collect::<Vec<_>>();
        assert!(of(0).iter().all(|s| *s == 201), "{:?}", of(0));
        assert!(of(1).iter().all(|s| *s == 201), "one key, one request, the same answer: {:?}", of(1));
        assert_eq!(of(2).iter().filter(|s| **s == 201).count(), 1, "one pending unlock of a lock: {:?}", of(2));
        assert!(of(2).iter().all(|s| [201, 409].contains(s)), "{:?}", of(2));
        assert!(of(3).iter().all(|s| *s == 401), "{:?}", of(3));
        assert!(of(4).iter().all(|s| *s == 200), "{:?}", of(4));
    }

    a_cancel_and_an_approval_at_the_same_moment_one_wins_the_other_is_told(db) {
        // Issue 12 item 8: cancel used to hold the request, then the account; an officer's step holds the account,
        // then the request; run together on PostgreSQL they deadlocked and one answered 500.
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        for round in 0..12 {
            let (status, filed) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
            assert_eq!(status, 201, "{filed}");
            let id = filed["id"].as_str().unwrap().to_owned();
            let (status, body) = server.call(Method::POST, &format!("/v1/requests/{id}/claim"), &c.reviewer, None).await;
            assert_eq!(status, 200, "{body}");
            let (status, body) = server.call(Method::POST, &format!("/v1/requests/{id}/forward"), &c.reviewer, Some(json!({}))).await;
            assert_eq!(status, 200, "{body}");
            let cancel = server.http.post(server.url(&format!("/v1/requests/{id}/cancel"))).bearer_auth(&c.court).send();
            let approve = server.http.post(server.url(&format!("/v1/requests/{id}/decision"))).bearer_auth(&c.supervisor)
                .json(&json!({"decision": "approve"})).send();
            let (cancelled, approved) = tokio::join!(cancel, approve);
            let (cancelled, approved) = (cancelled.unwrap().status().as_u16(), approved.unwrap().status().as_u16());
            let mut answers = [cancelled, approved];
            answers.sort_unstable();
            assert_eq!(answers, [200, 409], "round {round}: cancel {cancelled}, approve {approved}");
            let (_, read) = server.call(Method::GET, &format!("/v1/requests/{id}"), &c.court, None).await;
            let expected = if approved == 200 { "effective" } else { "cancelled" };
            assert_eq!(read["status"], expected, "round {round}: the request says who won");
        }
        assert_eq!(server.store.retries(), 0, "both paths hold the account, then the request: no deadlock to retry");
    }

    a_decision_retried_with_its_idempotency_key_is_answered_again_and_taken_once(db) {
        // Issue 12 item 8: a supervisor whose answer was lost retries and gets the request, not 409.
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let (_, filed) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        let id = filed["id"].as_str().unwrap().to_owned();
        let step = |path: &str, token: &str, key: &str, body: Value| {
            let request = server.http.post(server.url(&format!("/v1/requests/{id}/{path}")))
                .bearer_auth(token).header("Idempotency-Key", key).json(&body);
            async move {
                let response = request.send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap())
            }
        };
        for _ in 0..2 {
            let (status, body) = step("claim", &c.reviewer, "claim-1", json!(null)).await;
            assert_eq!((status, body["status"].as_str()), (200, Some("verifying")), "{body}");
            let (status, body) = step("forward", &c.reviewer, "forward-1", json!({"note": "đã xác minh"})).await;
            assert_eq!(status, 200, "{body}");
        }
        let approve = json!({"decision": "approve"});
        let (status, first) = step("decision", &c.supervisor, "decide-1", approve.clone()).await;
        assert_eq!((status, first["status"].as_str()), (200, Some("effective")), "{first}");
        let (status, again) = step("decision", &c.supervisor, "decide-1", approve.clone()).await;
        assert_eq!((status, again["id"].as_str(), again["status"].as_str()), (200, first["id"].as_str(), Some("effective")), "{again}");
        assert_eq!(again["lock_id"], first["lock_id"]);
        let (status, body) = step("decision", &c.supervisor, "decide-2", approve.clone()).await;
        assert_eq!(status, 409, "without the key, a decision already taken is refused: {body}");
        let (status, body) = step("decision", &c.supervisor, "decide-1", json!({"decision": "reject", "reason": "x"})).await;
        assert_eq!(status, 409, "a key reused for another decision is refused: {body}");
        let (status, body) = step("decision", &c.reviewer, "decide-1", approve).await;
        assert_eq!(status, 403, "another officer's key is theirs alone: {body}");
        let steps: Vec<&str> = server.store.request_steps(&id).await.unwrap().iter().map(|s| s.event.as_str()).collect();
        assert_eq!(steps.iter().filter(|s| **s == "claimed").count(), 1, "{steps:?}");
        assert_eq!(steps.iter().filter(|s| **s == "forwarded").count(), 1, "{steps:?}");
        let locks = server.store.active_locks(&c.holder.id, server.clock.now()).await.unwrap();
        assert_eq!(locks.len(), 1, "the lock was placed once");
        assert_eq!(server.store.recent_audit(Some("request.approve"), 10).await.unwrap().len(), 1, "one decision audited");
    }

    an_in_person_lift_records_what_was_checked(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let (_, lock) = server.call(Method::POST, "/v1/lock-requests", &c.holder_token, Some(json!({"reason": "mất máy"}))).await;
        let lock_id = lock["lock_id"].as_str().unwrap().to_owned();
        let (status, body) = server.call(Method::POST, "/v1/unlock-requests", &c.reviewer,
            Some(json!({"lock_id": lock_id, "reason": "kiểm tra trực tiếp", "in_person_check": true}))).await;
        assert_eq!((status, body["type"].as_str()), (422, Some("urn:dinhdanh:problem:validation")), "a bare yes is not a record: {body}");
        let (status, body) = server.call(Method::POST, "/v1/unlock-requests", &c.reviewer,
            Some(json!({"lock_id": lock_id, "reason": "kiểm tra trực tiếp",
                "in_person_check": {"document_kind": "x", "document_number": "1", "office": " "}}))).await;
        assert_eq!(status, 422, "{body}");
        let fields: Vec<&str> = body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["in_person_check.document_kind", "in_person_check.document_number", "in_person_check.office"]);
        assert!(!usable(&server, &c.bank).await, "nothing changed");
        let check = json!({"document_kind": "CCCD", "document_number": "001190123456", "office": "Công an phường Điện Biên"});
        let (status, body) = server.call(Method::POST, "/v1/unlock-requests", &c.reviewer,
            Some(json!({"lock_id": lock_id, "reason": "kiểm tra trực tiếp", "in_person_check": check}))).await;
        assert_eq!((status, body["status"].as_str()), (201, Some("effective")), "{body}");
        let request = server.store.request(body["id"].as_str().unwrap()).await.unwrap().unwrap();
        let kept = request.in_person_check.unwrap();
        assert_eq!((kept.document_kind.as_str(), kept.document_number.as_str(), kept.office.as_str()),
            ("cccd", "001190123456", "Công an phường Điện Biên"));
        let received = server.store.recent_audit(Some("request.receive"), 1).await.unwrap().remove(0);
        assert_eq!(received.detail["in_person_check"],
            json!({"document_kind": "cccd", "document_number": "•••••••••456", "office": "Công an phường Điện Biên"}));
        assert!(!received.detail.to_string().contains("001190123456"), "the audit keeps only the last digits");
    }
}

on_both_backends! {
    a_lost_phone_lock_is_confirmed_on_the_other_channel(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        register_mai_in_registry(&server).await;
        for (field, value) in [("full_name", json!("Trần Thị Mại")), ("date_of_birth", json!("1990-05-02")), ("id_number", json!("001190654321"))] {
            let mut wrong = lost_phone();
            wrong[field] = value;
            let (status, body) = server.post("/v1/lock-requests/without-sign-in", wrong).await;
            assert_eq!((status, body["type"].as_str()), (422, Some("urn:dinhdanh:problem:registry-mismatch")), "{field}: {body}");
        }
        let (status, sent) = server.post("/v1/lock-requests/without-sign-in", lost_phone()).await;
        assert_eq!((status, sent["outcome"].as_str()), (202, Some("code_sent")), "{sent}");
        assert!(sent.get("sent_to").is_none() && !sent.to_string().contains('•'), "an anonymous caller is not told where: {sent}");
        let messages = server.store.outbox_messages(None, 20).await.unwrap();
        let message = messages.iter().find(|m| m.kind == "lock_confirmation_code").unwrap();
        assert_eq!(message.recipient, "mai@example.vn");
        let code: String = message.body.split(|ch: char| !ch.is_ascii_digit()).find(|w| w.len() == 6).unwrap().to_owned();
        let confirm = format!("/v1/lock-requests/without-sign-in/{}/confirm", sent["confirmation_id"].as_str().unwrap());
        let wrong = if code == "000000" { "000001" } else { "000000" };
        let (status, body) = server.post(&confirm, json!({"code": wrong})).await;
        assert_eq!((status, body["attempts_left"].as_i64()), (422, Some(4)), "{body}");
        assert!(usable(&server, &c.bank).await);
        let (status, locked) = server.post(&confirm, json!({"code": code})).await;
        assert_eq!((status, locked["status"].as_str(), locked["ground"].as_str()), (201, Some("effective"), Some("holder_request")), "{locked}");
        assert!(!usable(&server, &c.bank).await);
        let (status, _) = server.post(&confirm, json!({"code": code})).await;
        assert_eq!(status, 410, "a code confirms once");
        // The lock is the holder's: lifted like any holder_request (stronger proof), not by a sign-in code.
        let (_, locks) = server.call(Method::GET, &format!("/v1/accounts/{}/locks", c.holder.id), &c.reviewer, None).await;
        assert_eq!(locks[0]["placed_by"], "chủ tài khoản / the holder");
    }

    a_lost_phone_lock_with_no_other_channel_is_queued_for_a_reviewer(db) {
        let server = TestServer::start(&db).await;
        let (holder, _) = server.holder_with_channels(MAI, Level::One, true, false).await;
        register_mai_in_registry(&server).await;
        let operator = server.organization("C06", OrganizationKind::Operator).await;
        let (_, reviewer) = server.officer_session(&operator.id, &[OfficerRole::Reviewer]).await;
        let (status, answer) = server.post("/v1/lock-requests/without-sign-in", lost_phone()).await;
        assert_eq!((status, answer["outcome"].as_str()), (201, Some("queued")), "{answer}");
        let request = &answer["request"];
        assert_eq!((request["status"].as_str(), request["next_step_by"].as_str()), (Some("received"), Some("reviewer")));
        assert!(request["deadline"].is_string(), "a working day for the reviewer");
        let id = request["id"].as_str().unwrap();
        let (status, done) = server.call(Method::POST, &format!("/v1/requests/{id}/decision"), &reviewer,
            Some(json!({"decision": "approve", "reason": "đã gọi lại xác minh / verified by call-back"}))).await;
        assert_eq!((status, done["status"].as_str()), (200, Some("effective")), "{done}");
        let locks = server.store.active_locks(&holder.id, dinhdanh_server::clock::Clock::now(&server.clock)).await.unwrap();
        assert_eq!(locks.len(), 1);
    }

    a_signed_in_holder_locks_at_once_and_every_session_ends(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let second_session = server.holder_session(&c.holder).await;
        assert!(usable(&server, &c.bank).await);
        let (status, body) = server.call(Method::POST, "/v1/lock-requests", &c.holder_token, Some(json!({"reason": "mất điện thoại"}))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!((body["status"].as_str(), body["ground"].as_str()), (Some("effective"), Some("holder_request")));
        assert_eq!(body["tracking_code"].as_str().unwrap().len(), 12);
        // From the commit on, the account is locked everywhere and no session of the holder works.
        assert!(!usable(&server, &c.bank).await);
        for token in [&c.holder_token, &second_session] {
            let (status, _) = server.call(Method::GET, "/v1/requests", token, None).await;
            assert_eq!(status, 401);
        }
        let audit: Vec<String> = server.store.audit_of_subject(c.holder.id.as_str(), 50).await.unwrap().into_iter().map(|a| a.action).collect();
        assert!(audit.contains(&"request.receive".to_owned()) && audit.contains(&"lock.place".to_owned()), "{audit:?}");
        let notices = server.store.outbox_messages(None, 50).await.unwrap();
        assert!(notices.iter().any(|m| m.kind == "request_update" && m.body.contains(body["tracking_code"].as_str().unwrap())));
    }

    the_holders_own_unlock_needs_level_2_or_an_officer_who_saw_the_holder(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let (_, lock) = server.call(Method::POST, "/v1/lock-requests", &c.holder_token, Some(json!({"reason": "x"}))).await;
        let lock_id = lock["lock_id"].as_str().unwrap().to_owned();
        // A stolen phone (a Level 1 session) cannot undo the lock: its request waits for a reviewer.
        let level_1 = server.holder_session(&c.holder).await;
        let (status, filed) = server.call(Method::POST, "/v1/unlock-requests", &level_1, Some(json!({"lock_id": lock_id, "reason": "tìm lại"}))).await;
        assert_eq!((status, filed["status"].as_str(), filed["next_step_by"].as_str()), (201, Some("received"), Some("reviewer")), "{filed}");
        assert!(!usable(&server, &c.bank).await, "not lifted by a Level 1 session");
        let check = json!({"document_kind": "cccd", "document_number": "001190123456", "office": "Công an phường Điện Biên"});
        // The reviewer at the office finds the holder's pending request rather than filing a second one.
        let (status, body) = server.call(Method::POST, "/v1/unlock-requests", &c.reviewer,
            Some(json!({"lock_id": lock_id, "reason": "kiểm tra trực tiếp", "in_person_check": check}))).await;
        assert_eq!(status, 409, "{body}");
        // An officer who checked the holder in person approves it, recording the check.
        let decide = format!("/v1/requests/{}/decision", filed["id"].as_str().unwrap());
        let (status, body) = server.call(Method::POST, &decide, &c.reviewer, Some(json!({"decision": "approve", "in_person_check": check}))).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("effective")), "{body}");
        assert!(usable(&server, &c.bank).await);
        let (_, locks) = server.call(Method::GET, &format!("/v1/accounts/{}/locks", c.holder.id), &c.reviewer, None).await;
        assert_eq!(locks[0]["active"], false);
        assert!(locks[0]["lifted_by"].as_str().unwrap().contains("the holder"), "the holder's own request: {locks}");
    }

    a_court_lock_goes_through_reviewer_and_supervisor_and_only_the_court_lifts_it(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::Two).await;
        let (status, filed) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        assert_eq!((status, filed["status"].as_str()), (201, Some("received")), "{filed}");
        assert_eq!(filed["next_step_by"], "reviewer");
        assert!(filed["deadline"].is_string());
        assert!(usable(&server, &c.bank).await, "not in force before approval");
        let id = filed["id"].as_str().unwrap().to_owned();
        // The supervisor cannot skip the reviewer, the reviewer cannot decide.
        let (status, _) = server.call(Method::POST, &format!("/v1/requests/{id}/decision"), &c.supervisor, Some(json!({"decision": "approve"}))).await;
        assert_eq!(status, 403);
        let effective = approve_through_officers(&server, &c, &id).await;
        assert_eq!(effective["status"], "effective");
        assert!(!usable(&server, &c.bank).await);
        let lock_id = effective["lock_id"].as_str().unwrap().to_owned();

        for (who, token) in [("bank", &c.bank), ("another court", &c.other_court), ("holder", &c.holder_token)] {
            let token = if who == "holder" { server.holder_session(&c.holder).await } else { token.clone() };
            let (status, body) = server.call(Method::POST, "/v1/unlock-requests", &token,
                Some(json!({"lock_id": lock_id, "reason": "x", "legal_basis": basis(), "reference": "R1"}))).await;
            assert_eq!(status, 403, "{who}: {body}");
        }
        let (status, unlock) = server.call(Method::POST, "/v1/unlock-requests", &c.court,
            Some(json!({"lock_id": lock_id, "reason": "đình chỉ điều tra", "legal_basis": basis()}))).await;
        assert_eq!((status, unlock["status"].as_str()), (201, Some("received")), "{unlock}");
        approve_through_officers(&server, &c, unlock["id"].as_str().unwrap()).await;
        assert!(usable(&server, &c.bank).await);
        // The holder is told of each step of the unlock, by its name: the forward is not a second "being verified".
        let code = unlock["tracking_code"].as_str().unwrap();
        let mut told: Vec<String> = server.store.outbox_messages(None, 1000).await.unwrap().into_iter()
            .filter(|m| m.kind == "request_update" && m.recipient == "mai@example.vn" && m.subject.contains(code))
            .map(|m| m.subject.rsplit(": ").next().unwrap().to_owned())
            .collect();
        told.sort();
        assert_eq!(told, ["being verified", "in effect", "received", "verified and forwarded to the supervisors for a decision"]);
        let (_, history) = server.call(Method::GET, &format!("/v1/requests/{id}"), &c.court, None).await;
        let events: Vec<&str> = history["steps"].as_array().unwrap().iter().map(|s| s["event"].as_str().unwrap()).collect();
        assert_eq!(events, vec!["received", "claimed", "forwarded", "approved", "effective"]);
    }

    evidence_is_required_and_bad_input_changes_nothing(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let mut no_basis = court_lock();
        no_basis.as_object_mut().unwrap().remove("legal_basis");
        let mut future_basis = court_lock();
        future_basis["legal_basis"]["issued_on"] = json!("2099-01-01");
        let cases = [
            (&c.court, no_basis, "legal_basis"),
            (&c.court, future_basis, "legal_basis"),
            (&c.bank, json!({"ground": "relying_party_request", "account": {"id_number": MAI}, "reason": "gian lận"}), "reference"),
            (&c.court, json!({"ground": "authority_request", "account": {"id_number": "123"}, "legal_basis": basis()}), "account.id_number"),
        ];
        for (token, body, field) in cases {
            let (status, problem) = server.call(Method::POST, "/v1/lock-requests", token, Some(body)).await;
            assert_eq!(status, 422, "{problem}");
            assert_eq!(problem["errors"][0]["field"], field, "{problem}");
        }
        // A bank may not claim an authority's ground, a court not a bank's; nobody can place an automatic one.
        for (token, ground) in [(&c.bank, "authority_request"), (&c.court, "relying_party_request"), (&c.court, "holder_deceased")] {
            let body = json!({"ground": ground, "account": {"id_number": MAI}, "legal_basis": basis(), "reason": "x", "reference": "R"});
            let (status, problem) = server.call(Method::POST, "/v1/lock-requests", token, Some(body)).await;
            assert_eq!((status, problem["type"].as_str()), (403, Some("urn:dinhdanh:problem:lock-refused")), "{ground}: {problem}");
        }
        let (status, _) = server.call(Method::POST, "/v1/lock-requests", &c.court,
            Some(json!({"ground": "authority_request", "account": {"id_number": "079190000001"}, "legal_basis": basis()}))).await;
        assert_eq!(status, 404, "no account for this identity");
        assert!(server.store.requests_of_account(&c.holder.id, 10).await.unwrap().is_empty());
        assert!(usable(&server, &c.bank).await);
    }

    locks_are_independent_holds(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::Two).await;
        let (_, filed) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        approve_through_officers(&server, &c, filed["id"].as_str().unwrap()).await;
        let holder = server.holder_session(&c.holder).await;
        let (status, own) = server.call(Method::POST, "/v1/lock-requests", &holder, Some(json!({"reason": "tự khóa"}))).await;
        assert_eq!(status, 201, "{own}");
        let holder = server.holder_session(&c.holder).await;
        let (status, lifted) = server.call(Method::POST, "/v1/unlock-requests", &holder,
            Some(json!({"lock_id": own["lock_id"], "reason": "đã tìm lại điện thoại"}))).await;
        assert_eq!((status, lifted["status"].as_str()), (201, Some("effective")), "{lifted}");
        assert!(!usable(&server, &c.bank).await, "the court's lock is still in force");
        let (_, locks) = server.call(Method::GET, &format!("/v1/accounts/{}/locks", c.holder.id), &holder, None).await;
        let active: Vec<&str> = locks.as_array().unwrap().iter().filter(|l| l["active"] == true).map(|l| l["ground"].as_str().unwrap()).collect();
        assert_eq!(active, vec!["authority_request"]);
        let court_lock_body = locks.as_array().unwrap().iter().find(|l| l["ground"] == "authority_request").unwrap();
        assert_eq!(court_lock_body["placed_by"], "Tổ chức TAND-HN", "the holder sees the organization's name");
        assert!(!locks.to_string().contains("officer"), "no officer's identity: {locks}");
    }

    a_refusal_carries_written_reasons_to_the_requester_and_the_holder(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let body = json!({"ground": "relying_party_request", "account": {"id_number": MAI}, "reason": "nghi gian lận", "reference": "VCB-2026-0042"});
        let (_, filed) = server.call(Method::POST, "/v1/lock-requests", &c.bank, Some(body)).await;
        assert_eq!(filed["next_step_by"], "supervisor", "a relying party's request goes straight to a supervisor");
        let id = filed["id"].as_str().unwrap();
        let (status, _) = server.call(Method::POST, &format!("/v1/requests/{id}/decision"), &c.supervisor, Some(json!({"decision": "reject"}))).await;
        assert_eq!(status, 422, "reasons are required");
        let (status, rejected) = server.call(Method::POST, &format!("/v1/requests/{id}/decision"), &c.supervisor,
            Some(json!({"decision": "reject", "reason": "Chưa đủ căn cứ / not enough grounds"}))).await;
        assert_eq!((status, rejected["status"].as_str()), (200, Some("rejected")));
        let (_, seen) = server.call(Method::GET, &format!("/v1/requests/{id}"), &c.bank, None).await;
        assert_eq!(seen["decision_reason"], "Chưa đủ căn cứ / not enough grounds");
        let (status, _) = server.call(Method::GET, &format!("/v1/requests/{id}"), &c.court, None).await;
        assert_eq!(status, 404, "another organization cannot read it");
        let notices = server.store.outbox_messages(None, 50).await.unwrap();
        assert!(notices.iter().any(|m| m.kind == "request_update" && m.body.contains("not enough grounds")));
        assert!(usable(&server, &c.bank).await);
    }

    anyone_with_the_code_and_the_identity_can_follow_a_request(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let (_, filed) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        let code = filed["tracking_code"].as_str().unwrap().to_owned();
        let response = server.http.get(server.url(&format!("/v1/request-status?tracking_code={}&id_number={MAI}", code.to_lowercase()))).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        let status: Value = response.json().await.unwrap();
        assert_eq!((status["status"].as_str(), status["ground"].as_str()), (Some("received"), Some("authority_request")));
        assert!(status.get("reason").is_none() && status.get("legal_basis").is_none(), "minimal disclosure: {status}");
        let wrong = server.http.get(server.url(&format!("/v1/request-status?tracking_code={code}&id_number=079190000001"))).send().await.unwrap();
        assert_eq!(wrong.status().as_u16(), 404);
        let mut mistyped = code.clone().into_bytes();
        mistyped[0] = if mistyped[0] == b'A' { b'B' } else { b'A' };
        let mistyped = String::from_utf8(mistyped).unwrap();
        let response = server.http.get(server.url(&format!("/v1/request-status?tracking_code={mistyped}&id_number={MAI}"))).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 422, "a mistyped code is caught by its check character");
    }

    only_the_requester_cancels_a_pending_request(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let (_, filed) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        let id = filed["id"].as_str().unwrap();
        let (status, _) = server.call(Method::POST, &format!("/v1/requests/{id}/cancel"), &c.other_court, None).await;
        assert_eq!(status, 404);
        let (status, cancelled) = server.call(Method::POST, &format!("/v1/requests/{id}/cancel"), &c.court, None).await;
        assert_eq!((status, cancelled["status"].as_str()), (200, Some("cancelled")));
        let (status, _) = server.call(Method::POST, &format!("/v1/requests/{id}/claim"), &c.reviewer, None).await;
        assert_eq!(status, 409, "a cancelled request cannot be worked");
    }

    the_override_needs_a_legal_basis_and_a_second_supervisor(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let mut court = server.store.organization_by_code("TAND-HN").await.unwrap().unwrap();
        court.contact_email = Some(dinhdanh_domain::Email::parse("vanthu@toaan.gov.vn").unwrap());
        let mut tx = server.store.begin().await.unwrap();
        tx.update_organization(&court).await.unwrap();
        tx.commit().await.unwrap();
        let (_, placing) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        let placing_id = placing["id"].as_str().unwrap().to_owned();
        let lock_id = approve_through_officers(&server, &c, &placing_id).await["lock_id"].as_str().unwrap().to_owned();
        let (status, _) = server.call(Method::POST, "/v1/unlock-requests", &c.supervisor,
            Some(json!({"lock_id": lock_id, "reason": "x", "override": true}))).await;
        assert_eq!(status, 422, "an override needs a legal basis");
        let (status, filed) = server.call(Method::POST, "/v1/unlock-requests", &c.supervisor,
            Some(json!({"lock_id": lock_id, "reason": "bản án đã hủy quyết định", "override": true, "legal_basis": basis()}))).await;
        assert_eq!((status, filed["is_override"].as_bool()), (201, Some(true)), "{filed}");
        let id = filed["id"].as_str().unwrap();
        let (status, _) = server.call(Method::POST, &format!("/v1/requests/{id}/decision"), &c.supervisor, Some(json!({"decision": "approve"}))).await;
        assert_eq!(status, 409, "not the same supervisor");
        let (status, done) = server.call(Method::POST, &format!("/v1/requests/{id}/decision"), &c.second_supervisor, Some(json!({"decision": "approve"}))).await;
        assert_eq!((status, done["status"].as_str()), (200, Some("effective")), "{done}");
        assert!(usable(&server, &c.bank).await);
        let overrides = server.store.recent_audit(Some("lock.override_lift"), 5).await.unwrap();
        assert_eq!(overrides.len(), 1);
        assert_eq!(overrides[0].detail["owner_notified"], true);
        // The court, whose lock it was, is told at its contact address, and reads it on its own request.
        let messages = server.store.outbox_messages(None, 100).await.unwrap();
        let told = messages.iter().find(|m| m.kind == "lock_overridden").expect("the owner is told");
        assert_eq!(told.recipient, "vanthu@toaan.gov.vn");
        assert!(told.body.contains(placing["tracking_code"].as_str().unwrap()) && told.body.contains("123/QĐ-CSĐT"), "{}", told.body);
        let (status, own) = server.call(Method::GET, &format!("/v1/requests/{placing_id}"), &c.court, None).await;
        assert_eq!(status, 200);
        let last = own["steps"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(last["event"], "lifted_by_override", "{own}");
        assert!(last["note"].as_str().unwrap().contains("123/QĐ-CSĐT"), "{last}");
        // A reviewer cannot invoke the override at all.
        let (status, _) = server.call(Method::POST, "/v1/unlock-requests", &c.reviewer,
            Some(json!({"lock_id": lock_id, "reason": "x", "override": true, "legal_basis": basis()}))).await;
        assert_eq!(status, 403);
    }

    a_retried_request_with_one_idempotency_key_has_one_effect(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let request = server.http.post(server.url("/v1/lock-requests")).bearer_auth(&c.court).header("Idempotency-Key", "order-42").json(&court_lock());
            tasks.push(tokio::spawn(async move {
                let response = request.send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap())
            }));
        }
        let mut ids = std::collections::BTreeSet::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            assert_eq!(status, 201, "{body}");
            ids.insert(body["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(ids.len(), 1, "one request for one key");
        assert_eq!(server.store.requests_of_account(&c.holder.id, 200).await.unwrap().len(), 1);
        let mut other = court_lock();
        other["reason"] = json!("something else");
        let response = server.http.post(server.url("/v1/lock-requests")).bearer_auth(&c.court).header("Idempotency-Key", "order-42").json(&other).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 409, "the key was used for a different request");
    }

    racing_locks_and_lifts_never_lose_a_lock(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::Two).await;
        let (_, filed) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        let id = filed["id"].as_str().unwrap().to_owned();
        server.call(Method::POST, &format!("/v1/requests/{id}/forward"), &c.reviewer, Some(json!({}))).await;
        // The court's lock is approved while the holder locks and unlocks their own, over and over.
        let holder_loop = {
            let http = server.http.clone();
            let base = server.base.clone();
            let store = server.store.clone();
            let account = c.holder.clone();
            let clock = server.clock.clone();
            tokio::spawn(async move {
                for _ in 0..5 {
                    let token = {
                        let now = dinhdanh_server::clock::Clock::now(&clock);
                        let (token, hash) = dinhdanh_server::secrets::new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
                        let mut tx = store.begin().await.unwrap();
                        tx.insert_holder_session(&hash, &account.id, account.level, false, now, now + Duration::hours(1)).await.unwrap();
                        tx.commit().await.unwrap();
                        token
                    };
                    let lock: Value = http.post(format!("{base}/v1/lock-requests")).bearer_auth(&token).json(&json!({"reason": "r"})).send().await.unwrap().json().await.unwrap();
                    let now = dinhdanh_server::clock::Clock::now(&clock);
                    let (token, hash) = dinhdanh_server::secrets::new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
                    let mut tx = store.begin().await.unwrap();
                    tx.insert_holder_session(&hash, &account.id, account.level, false, now, now + Duration::hours(1)).await.unwrap();
                    tx.commit().await.unwrap();
                    http.post(format!("{base}/v1/unlock-requests")).bearer_auth(&token).json(&json!({"lock_id": lock["lock_id"], "reason": "r"})).send().await.unwrap();
                }
            })
        };
        let (status, approved) = server.call(Method::POST, &format!("/v1/requests/{id}/decision"), &c.supervisor, Some(json!({"decision": "approve"}))).await;
        assert_eq!(status, 200, "{approved}");
        holder_loop.await.unwrap();
        let locks = server.store.active_locks(&c.holder.id, dinhdanh_server::clock::Clock::now(&server.clock)).await.unwrap();
        let grounds: Vec<&str> = locks.iter().map(|l| l.ground.as_str()).collect();
        assert_eq!(grounds, vec!["authority_request"], "the court's lock survived every lift of the holder's own");
        assert!(!usable(&server, &c.bank).await);
    }

    an_operator_can_switch_relying_party_requests_off(db) {
        let mut config = support::relaxed_config();
        config.lock_policy.relying_party_requests_enabled = false;
        let server = TestServer::start_with(&db, config).await;
        let c = cast(&server, Level::One).await;
        let body = json!({"ground": "relying_party_request", "account": {"id_number": MAI}, "reason": "gian lận", "reference": "R-1"});
        let (status, problem) = server.call(Method::POST, "/v1/lock-requests", &c.bank, Some(body)).await;
        assert_eq!((status, problem["type"].as_str()), (403, Some("urn:dinhdanh:problem:lock-refused")), "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains("does not accept relying-party lock requests"), "{problem}");
        let (status, _) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        assert_eq!(status, 201, "authorities are not affected");
    }

    configured_holidays_push_deadlines_back(db) {
        // The fixture clock stands on Monday 1 June 2026; make Tuesday and Wednesday holidays.
        let mut config = support::relaxed_config();
        config.calendar = dinhdanh_domain::calendar::WorkingCalendar::builtin().with_holidays([
            chrono::NaiveDate::from_ymd_opt(2026, 6, 2).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2026, 6, 3).unwrap(),
        ]);
        let server = TestServer::start_with(&db, config).await;
        let c = cast(&server, Level::One).await;
        let (_, filed) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        // One working day for the reviewer: Thursday 4 June, end of day in Hà Nội (16:59:59.999 UTC).
        assert_eq!(filed["deadline"], "2026-06-04T16:59:59.999Z", "{filed}");
    }

    only_the_holder_and_officers_see_an_accounts_locks(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let (_, other_holder) = server.holder("079190000001", Level::One).await;
        let path = format!("/v1/accounts/{}/locks", c.holder.id);
        assert_eq!(server.call(Method::GET, &path, &c.holder_token, None).await.0, 200);
        assert_eq!(server.call(Method::GET, &path, &c.reviewer, None).await.0, 200);
        let (status, body) = server.call(Method::GET, &path, &c.bank, None).await;
        assert_eq!((status, body["type"].as_str()), (403, Some("urn:dinhdanh:problem:forbidden")), "{body}");
        assert_eq!(server.call(Method::GET, &path, &other_holder, None).await.0, 404);
        let denied = server.store.recent_audit(Some("authorization.denied"), 10).await.unwrap();
        assert!(denied.iter().any(|a| a.detail["action"] == "locks.read"));
    }

    overdue_requests_come_first_and_are_counted(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server, Level::One).await;
        let (_, first) = server.call(Method::POST, "/v1/lock-requests", &c.court, Some(court_lock())).await;
        server.clock.advance(Duration::days(10));
        // Officers' sessions last a working day: sign in again.
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (_, reviewer) = server.officer_session(&operator.id, &[OfficerRole::Reviewer]).await;
        let (_, supervisor) = server.officer_session(&operator.id, &[OfficerRole::Supervisor]).await;
        let c = Cast { reviewer, supervisor, ..c };
        let body = json!({"ground": "relying_party_request", "account": {"id_number": MAI}, "reason": "gian lận", "reference": "R-1"});
        let (status, second) = server.call(Method::POST, "/v1/lock-requests", &c.bank, Some(body)).await;
        assert_eq!(status, 201, "{second}");
        let (_, queue) = server.call(Method::GET, "/v1/requests", &c.reviewer, None).await;
        let queue = queue.as_array().unwrap();
        assert_eq!(queue[0]["id"], first["id"], "overdue first");
        assert_eq!((queue[0]["overdue"].as_bool(), queue[1]["overdue"].as_bool()), (Some(true), Some(false)));
        let (_, overdue) = server.call(Method::GET, "/v1/requests?overdue=true", &c.reviewer, None).await;
        assert_eq!(overdue.as_array().unwrap().len(), 1);
        let (_, locks_only) = server.call(Method::GET, "/v1/requests?ground=relying_party_request", &c.supervisor, None).await;
        assert_eq!(locks_only[0]["id"], second["id"]);
        let metrics = server.http.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.lines().any(|l| l.starts_with("dinhdanh_requests_overdue") && l.ends_with(" 1")), "{metrics}");
    }
}

on_both_backends! {
    a_self_lock_under_load_refuses_the_holder_s_very_next_request(db) {
        // Bearer checks are answered from memory (the credential cache); a lock must still end every session of
        // the holder for every request sent after its answer, while other holders keep the cache busy.
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let server = support::TestServer::start(&db).await;
        let (holder, lock_session) = server.holder(MAI, Level::One).await;
        let watched = server.holder_session(&holder).await;
        let mut others = Vec::new();
        for n in 0..4 {
            others.push(server.holder(&format!("00119012345{n}"), Level::One).await.1);
        }
        let locked = Arc::new(AtomicBool::new(false));
        let (served_before, refused_after, served_after) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let mut load = Vec::new();
        for worker in 0..8 {
            let token = if worker % 2 == 0 { watched.clone() } else { others[worker / 2].clone() };
            let (url, http, locked) = (server.url("/v1/me"), server.http.clone(), locked.clone());
            let (served_before, refused_after, served_after) =
                (served_before.clone(), refused_after.clone(), served_after.clone());
            let watching = token == watched;
            load.push(tokio::spawn(async move {
                let mut after = 0;
                // Each worker goes on until it has sent 20 requests after the lock was answered.
                while after < 20 {
                    let sent_after_lock = locked.load(Ordering::SeqCst);
                    let status = http.get(&url).bearer_auth(&token).send().await.unwrap().status().as_u16();
                    if !watching {
                        assert_eq!(status, 200, "another holder's session");
                    } else if sent_after_lock {
                        if status == 401 { refused_after.fetch_add(1, Ordering::SeqCst); } else { served_after.fetch_add(1, Ordering::SeqCst); }
                    } else if status == 200 {
                        served_before.fetch_add(1, Ordering::SeqCst);
                    }
                    if sent_after_lock {
                        after += 1;
                    }
                    tokio::task::yield_now().await;
                }
            }));
        }
        // Let the load run until the watched session has been served from the cache.
        while served_before.load(Ordering::SeqCst) < 50 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let hits_before = server.store.credential_cache_hits();
        assert!(hits_before > 0, "the checks were answered from memory");
        let (status, body) = server
            .call(Method::POST, "/v1/lock-requests", &lock_session, Some(json!({"reason": "mất máy / lost phone"})))
            .await;
        assert_eq!(status, 201, "{body}");
        locked.store(true, Ordering::SeqCst);
        for worker in load {
            worker.await.unwrap();
        }
        assert_eq!(served_after.load(Ordering::SeqCst), 0, "a request sent after the lock's answer was served");
        assert_eq!(refused_after.load(Ordering::SeqCst), 4 * 20, "every request after the lock was refused");
        assert!(server.store.credential_cache_hits() > hits_before, "the other holders were still served from memory");
    }
}

on_both_backends! {
    holders_locking_at_once_are_each_locked_revoked_and_audited(db) {
        // Self-locks that arrive together are filed in shared transactions (a group commit); each is still one
        // request, one lock, its sessions ended, its audit entries, and an idempotent retry answered once.
        let server = support::TestServer::start(&db).await;
        let mut holders = Vec::new();
        for n in 0..24 {
            holders.push(server.holder(&format!("0011901234{n:02}"), Level::One).await);
        }
        let (_, inputs_before) = dinhdanh_store::group_commit_totals();
        let locks = holders.iter().enumerate().map(|(n, (_, token))| {
            let request = server.http.post(server.url("/v1/lock-requests")).bearer_auth(token)
                .json(&json!({"reason": "mất máy / lost phone"}));
            // The first holder sends the same request twice at once, with one idempotency key.
            let request = if n == 0 { request.header("Idempotency-Key", "lost-phone-1") } else { request };
            async move { request.send().await.unwrap() }
        });
        let retry = server.http.post(server.url("/v1/lock-requests")).bearer_auth(&holders[0].1)
            .header("Idempotency-Key", "lost-phone-1").json(&json!({"reason": "mất máy / lost phone"}));
        let (answers, retried) = tokio::join!(futures_util::future::join_all(locks), async { retry.send().await.unwrap() });
        let mut answers = answers.into_iter();
        // The first holder's two sends: either both found the same request (the retry's key matched the first),
        // or one filed it and the other, sent after that lock, was refused as a locked holder's session. Never a
        // second request.
        let mut first_holder = Vec::new();
        for answer in [answers.next().unwrap(), retried] {
            let status = answer.status().as_u16();
            let body: Value = answer.json().await.unwrap();
            first_holder.push((status, body));
        }
        let filed: Vec<&Value> = first_holder.iter().filter(|(status, _)| *status == 201).map(|(_, b)| b).collect();
        assert!(!filed.is_empty(), "{first_holder:?}");
        assert!(filed.iter().all(|b| b["id"] == filed[0]["id"]), "one request for one key: {first_holder:?}");
        assert!(first_holder.iter().all(|(status, _)| *status == 201 || *status == 401), "{first_holder:?}");
        let mut ids = std::collections::BTreeSet::from([filed[0]["id"].as_str().unwrap().to_owned()]);
        for answer in answers {
            assert_eq!(answer.status().as_u16(), 201);
            let body: Value = answer.json().await.unwrap();
            assert_eq!(body["status"], "effective", "{body}");
            ids.insert(body["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(ids.len(), 24, "one request per holder");
        for (account, token) in &holders {
            assert_eq!(server.call(Method::GET, "/v1/me", token, None).await.0, 401, "sessions ended");
            let locks = server.store.active_locks(&account.id, server.clock.now()).await.unwrap();
            assert_eq!(locks.len(), 1, "one lock per holder");
        }
        let placed = server.store.recent_audit(Some("lock.place"), 1000).await.unwrap();
        assert_eq!(placed.len(), 24, "one lock.place per holder");
        let (_, inputs_after) = dinhdanh_store::group_commit_totals();
        assert!(inputs_after >= inputs_before + 24, "filed through the group commit");
    }
}
