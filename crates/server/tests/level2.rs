//! Level 2 end to end over real HTTP, on SQLite and on PostgreSQL (issue 16, docs/biometrics.md "Level 2"):
//! a sign-in proves Level 2 only when it includes a fingerprint or portrait that matches the registry's, on a
//! Level 2 account; online upgrade with 3 tries a day; the in-person upgrade by a reviewer; lowering by an
//! officer; every refusal, the daily limits, and that a locked account cannot change its level. The captures are
//! synthetic fingers (`dinhdanh_fingerprint::synthetic`) and faces (`dinhdanh_face::synthetic`), enrolled in
//! the registry as `registry import-biometrics` would.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind};
use dinhdanh_domain::{AccountId, Level};
use dinhdanh_fingerprint::FingerPosition;
use dinhdanh_server::clock::Clock;
use dinhdanh_store::{AuditRecord, on_both_backends};
use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::biometrics::Person;
use support::{MAI_ID, MAI_PASSWORD, TestServer};

/// Mai (active, phone and e-mail) at `level`, with her biometrics enrolled; returns her and her fresh captures.
async fn mai_at(server: &TestServer, level: Level) -> (AccountId, Person) {
    let id = support::mai(server).await;
    if level == Level::Two {
        let mut tx = server.store.begin().await.unwrap();
        tx.set_account_level(&id, Level::Two, server.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
    }
    let mut mai = Person::new(16);
    mai.enrol_as(server, MAI_ID).await;
    (id, mai)
}

/// A sign-in with password and code through the API (`purpose` sign_in or restore): the session it answers.
async fn sign_in(server: &TestServer, purpose: &str) -> Value {
    let start = json!({"holder_kind": "citizen", "id_number": MAI_ID, "password": MAI_PASSWORD, "purpose": purpose});
    let (status, started) = server.post("/v1/holder-sessions", start).await;
    assert_eq!(status, 202, "{started}");
    let code = server.last_sign_in_code().await;
    let path = format!("/v1/holder-sessions/{}/verify", started["sign_in_id"].as_str().unwrap());
    let (status, session) = server.post(&path, json!({"code": code})).await;
    assert_eq!(status, 201, "{session}");
    session
}

fn token(session: &Value) -> String {
    session["token"].as_str().unwrap().to_owned()
}

async fn step_up(server: &TestServer, token: &str, capture: Value) -> (u16, Value) {
    server.call(Method::POST, "/v1/holder-sessions/current/biometric", token, Some(capture)).await
}

async fn upgrade(server: &TestServer, token: &str, capture: Value) -> (u16, Value) {
    server.call(Method::POST, "/v1/me/level-upgrade", token, Some(capture)).await
}

async fn me(server: &TestServer, token: &str) -> (u16, Value) {
    server.call(Method::GET, "/v1/me", token, None).await
}

async fn audit(server: &TestServer, action: &str) -> Vec<AuditRecord> {
    server.store.recent_audit(Some(action), 200).await.unwrap()
}

async fn messages_of_kind(server: &TestServer, kind: &str) -> usize {
    server.store.outbox_messages(None, 500).await.unwrap().iter().filter(|m| m.kind == kind).count()
}

async fn reviewer(server: &TestServer, roles: &[OfficerRole]) -> (String, String) {
    let operator = match server.store.organization_by_code("C06").await.unwrap() {
        Some(org) => org,
        None => server.organization("C06", OrganizationKind::Operator).await,
    };
    let (officer, token) = server.officer_session(&operator.id, roles).await;
    (officer.id, token)
}

fn kind(body: &Value) -> &str {
    body["type"].as_str().unwrap_or_default()
}

/// Seconds from the test clock (08:00 UTC, 15:00 in Hà Nội) to midnight in Hà Nội.
const TO_MIDNIGHT: i64 = 9 * 3600;

on_both_backends! {
    a_password_and_code_prove_level_1_and_a_matching_capture_lifts_that_sign_in_to_level_2(db) {
        let server = TestServer::start(&db).await;
        let (_, mut mai) = mai_at(&server, Level::Two).await;
        let mut stranger = Person::new(99);
        let first = sign_in(&server, "sign_in").await;
        assert_eq!(first["assurance"], 1, "a password and a code are Level 1 on a Level 2 account: {first}");
        let old = token(&first);

        // Another person's finger: refused and counted, the session unchanged.
        let (status, body) = step_up(&server, &old, stranger.finger()).await;
        assert_eq!((status, kind(&body), body["attempts_left"].as_i64()), (422, "urn:dinhdanh:problem:biometric-mismatch", Some(4)), "{body}");
        assert_eq!(me(&server, &old).await.1["session_assurance"], 1);
        // A finger the registry has no reference for: refused, not compared, not counted.
        let left_thumb = json!({"modality": "finger", "template": mai.finger_record(FingerPosition::LeftThumb)});
        let (status, body) = step_up(&server, &old, left_thumb).await;
        assert_eq!((status, kind(&body)), (422, "urn:dinhdanh:problem:biometric-reference-missing"), "{body}");
        // Unreadable captures name the field and change nothing.
        for (capture, message) in [
            (json!({"modality": "finger", "template": "not base64!"}), "base64"),
            (json!({"modality": "finger", "template": STANDARD.encode(b"FMR\0garbage")}), "ISO/IEC 19794-2"),
            (json!({"modality": "finger", "template": mai.finger_record(FingerPosition::Unknown)}), "position"),
            (json!({"modality": "iris", "template": "AAAA"}), "finger or face"),
            (json!({"modality": "face", "template": STANDARD.encode(b"DDFT")}), "face template"),
        ] {
            let (status, body) = step_up(&server, &old, capture).await;
            assert_eq!((status, kind(&body)), (422, "urn:dinhdanh:problem:validation"), "{body}");
            assert!(body["errors"][0]["message"].as_str().unwrap().contains(message), "{body}");
        }

        // Mai's own finger: a new session that proves Level 2; the Level 1 one is over.
        let (status, second) = step_up(&server, &old, mai.finger()).await;
        assert_eq!((status, second["assurance"].as_i64(), second["restore_only"].as_bool()), (201, Some(2), Some(false)), "{second}");
        assert_eq!(me(&server, &old).await.0, 401, "the Level 1 token no longer works");
        let (status, body) = me(&server, &token(&second)).await;
        assert_eq!((status, body["level"].as_i64(), body["session_assurance"].as_i64()), (200, Some(2), Some(2)));
        // Her portrait works the same way.
        let third = sign_in(&server, "sign_in").await;
        let (status, body) = step_up(&server, &token(&third), mai.face()).await;
        assert_eq!((status, body["assurance"].as_i64()), (201, Some(2)), "{body}");

        // Every comparison is audited with its score and decision; the refused formats compared nothing.
        let records = audit(&server, "holder.sign_in.biometric").await;
        let outcomes: Vec<(&str, bool)> =
            records.iter().rev().map(|r| (r.outcome.as_str(), r.detail["matched"].as_bool().unwrap())).collect();
        assert_eq!(outcomes, [("refused", false), ("ok", true), ("ok", true)]);
        let refused = records.last().unwrap();
        assert_eq!((refused.detail["modality"].as_str(), refused.detail["finger_position"].as_i64()), (Some("finger"), Some(2)));
        assert!(refused.detail["score"].as_f64().unwrap() < refused.detail["threshold"].as_f64().unwrap());
        assert!(!refused.detail.to_string().contains("template"), "the capture is not kept: {}", refused.detail);
        // The next miss shows that only the first was counted.
        let (_, body) = step_up(&server, &token(&second), stranger.finger()).await;
        assert_eq!(body["attempts_left"], 3, "{body}");
    }

    a_level_1_account_never_signs_in_at_level_2_and_five_misses_end_the_days_tries(db) {
        let server = TestServer::start(&db).await;
        let (id, mut mai) = mai_at(&server, Level::One).await;
        let mut stranger = Person::new(99);
        let session = token(&sign_in(&server, "sign_in").await);
        // Her own finger on a Level 1 account proves nothing more, and costs no try.
        let (status, body) = step_up(&server, &session, mai.finger()).await;
        assert_eq!((status, kind(&body)), (409, "urn:dinhdanh:problem:level-conflict"), "{body}");
        assert_eq!(audit(&server, "holder.sign_in.biometric").await[0].detail["reason"], "account_level_1");

        let mut tx = server.store.begin().await.unwrap();
        tx.set_account_level(&id, Level::Two, server.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        for left in [4, 3, 2, 1, 0] {
            let (status, body) = step_up(&server, &session, stranger.finger()).await;
            assert_eq!((status, body["attempts_left"].as_i64()), (422, Some(left)), "{body}");
        }
        // The day's five misses are used: even her own finger waits for midnight in Hà Nội.
        let (status, body) = step_up(&server, &session, mai.finger()).await;
        assert_eq!((status, kind(&body), body["retry_after"].as_i64()), (429, "urn:dinhdanh:problem:biometric-tries-exhausted", Some(TO_MIDNIGHT)), "{body}");
        assert_eq!(audit(&server, "holder.sign_in.biometric").await[0].detail["reason"], "tries_exhausted");
        assert_eq!(me(&server, &session).await.1["session_assurance"], 1);
        server.clock.advance(Duration::seconds(TO_MIDNIGHT));
        let fresh = token(&sign_in(&server, "sign_in").await);
        let (status, body) = step_up(&server, &fresh, mai.finger()).await;
        assert_eq!((status, body["assurance"].as_i64()), (201, Some(2)), "a new day: {body}");
    }

    a_level_2_sign_in_in_a_restore_session_lifts_the_holders_own_lock_at_once(db) {
        let server = TestServer::start(&db).await;
        let (id, mut mai) = mai_at(&server, Level::Two).await;
        support::lock(&server, &id).await;
        let restore = sign_in(&server, "restore").await;
        assert_eq!((restore["assurance"].as_i64(), restore["restore_only"].as_bool()), (Some(1), Some(true)));
        let (status, stepped) = step_up(&server, &token(&restore), mai.finger()).await;
        assert_eq!((status, stepped["assurance"].as_i64(), stepped["restore_only"].as_bool()), (201, Some(2), Some(true)), "{stepped}");
        // Still a restore session: it cannot upgrade, read sign-ins or lock; it can ask for the lift.
        let (status, _) = upgrade(&server, &token(&stepped), mai.finger()).await;
        assert_eq!(status, 403);
        let (_, locks) = server.call(Method::GET, &format!("/v1/accounts/{id}/locks"), &token(&stepped), None).await;
        let lock_id = locks[0]["id"].as_str().unwrap().to_owned();
        let (status, body) = server.call(Method::POST, "/v1/unlock-requests", &token(&stepped),
            Some(json!({"lock_id": lock_id, "reason": "đã tìm lại điện thoại / found my phone"}))).await;
        assert_eq!((status, body["status"].as_str()), (201, Some("effective")), "Level 2 lifts at once: {body}");
        assert_eq!(sign_in(&server, "sign_in").await["restore_only"], false, "an ordinary sign-in works again");
    }

    online_upgrade_raises_a_level_1_account_and_tells_the_holder(db) {
        let server = TestServer::start(&db).await;
        let (id, mut mai) = mai_at(&server, Level::One).await;
        let mut stranger = Person::new(99);
        let session = token(&sign_in(&server, "sign_in").await);
        let (status, body) = upgrade(&server, &session, stranger.face()).await;
        assert_eq!((status, kind(&body), body["attempts_left"].as_i64()), (422, "urn:dinhdanh:problem:biometric-mismatch", Some(2)), "{body}");
        let (status, body) = upgrade(&server, &session, json!({"modality": "finger", "template": mai.finger_record(FingerPosition::LeftLittle)})).await;
        assert_eq!((status, kind(&body)), (422, "urn:dinhdanh:problem:biometric-reference-missing"), "{body}");
        assert_eq!(messages_of_kind(&server, "level_raised").await, 0);

        let (status, body) = upgrade(&server, &session, mai.finger()).await;
        assert_eq!((status, body["level"].as_i64(), body["notified"].as_i64()), (200, Some(2), Some(2)), "{body}");
        assert_eq!(body["account_id"], id.as_str());
        assert_eq!(messages_of_kind(&server, "level_raised").await, 2, "an SMS and an e-mail");
        let events = server.store.account_events(&id).await.unwrap();
        let change: Vec<(&str, i64, i64)> = events.iter().map(|e| (e.kind.as_str(), e.detail["previous"].as_i64().unwrap(), e.detail["current"].as_i64().unwrap())).collect();
        assert_eq!(change, [("level_changed", 1, 2)], "the relying parties' feed has it (events.md)");
        // The account is Level 2; this session still proves what its own sign-in proved.
        let (_, account) = me(&server, &session).await;
        assert_eq!((account["level"].as_i64(), account["session_assurance"].as_i64()), (Some(2), Some(1)));
        let records = audit(&server, "account.level.upgrade").await;
        let ok = &records[0];
        assert_eq!((ok.outcome.as_str(), ok.actor.clone()), ("ok", format!("holder:{id}")));
        assert_eq!((ok.detail["from"].as_i64(), ok.detail["to"].as_i64(), ok.detail["how"].as_str()), (Some(1), Some(2), Some("online")));
        assert_eq!((records[1].outcome.as_str(), records[1].detail["reason"].as_str()), ("refused", Some("no_match")));
        // Once is enough.
        let (status, body) = upgrade(&server, &session, mai.finger()).await;
        assert_eq!((status, kind(&body)), (409, "urn:dinhdanh:problem:level-conflict"), "{body}");
        assert_eq!(messages_of_kind(&server, "level_raised").await, 2);
        // And now a biometric sign-in proves Level 2.
        let (status, body) = step_up(&server, &session, mai.face()).await;
        assert_eq!((status, body["assurance"].as_i64()), (201, Some(2)), "{body}");
    }

    online_upgrade_allows_three_tries_a_day(db) {
        let server = TestServer::start(&db).await;
        let (id, mut mai) = mai_at(&server, Level::One).await;
        let mut stranger = Person::new(99);
        let session = token(&sign_in(&server, "sign_in").await);
        for left in [2, 1, 0] {
            let (status, body) = upgrade(&server, &session, stranger.finger()).await;
            assert_eq!((status, body["attempts_left"].as_i64()), (422, Some(left)), "{body}");
        }
        let (status, body) = upgrade(&server, &session, mai.finger()).await;
        assert_eq!((status, body["retry_after"].as_i64()), (429, Some(TO_MIDNIGHT)), "{body}");
        assert_eq!(server.store.account(&id).await.unwrap().unwrap().level, Level::One);
        server.clock.advance(Duration::seconds(TO_MIDNIGHT - 1));
        let session = token(&sign_in(&server, "sign_in").await);
        let (status, _) = upgrade(&server, &session, mai.finger()).await;
        assert_eq!(status, 429, "still the same day in Hà Nội");
        server.clock.advance(Duration::seconds(1));
        let session = token(&sign_in(&server, "sign_in").await);
        let (status, body) = upgrade(&server, &session, mai.finger()).await;
        assert_eq!((status, body["level"].as_i64()), (200, Some(2)), "{body}");
    }

    a_locked_account_cannot_change_its_level(db) {
        let server = TestServer::start(&db).await;
        let (id, mut mai) = mai_at(&server, Level::One).await;
        let session = token(&sign_in(&server, "sign_in").await);
        // A lock committed while the session was open (the lock engine ends sessions; this one is left open to
        // show that the upgrade checks the locks itself).
        let lock = support::holder_lock(&server, &id);
        let mut tx = server.store.begin().await.unwrap();
        tx.insert_lock(&lock).await.unwrap();
        tx.commit().await.unwrap();
        let (status, body) = upgrade(&server, &session, mai.finger()).await;
        assert_eq!((status, kind(&body)), (409, "urn:dinhdanh:problem:level-conflict"), "{body}");
        assert!(body["detail"].as_str().unwrap().contains("locked"), "{body}");
        assert_eq!(audit(&server, "account.level.upgrade").await[0].detail["reason"], "account_locked");
        // A restore session may not even ask.
        let restore = token(&sign_in(&server, "restore").await);
        let (status, _) = upgrade(&server, &restore, mai.finger()).await;
        assert_eq!(status, 403);
        // Nor may a reviewer at an office.
        let (_, officer) = reviewer(&server, &[OfficerRole::Reviewer]).await;
        let body = json!({"in_person_check": {"document_kind": "cccd", "document_number": MAI_ID, "office": "Công an phường Điện Biên"}, "capture": mai.finger()});
        let (status, answer) = server.call(Method::POST, &format!("/v1/accounts/{id}/level-upgrade"), &officer, Some(body)).await;
        assert_eq!((status, kind(&answer)), (409, "urn:dinhdanh:problem:level-conflict"), "{answer}");
        assert_eq!(server.store.account(&id).await.unwrap().unwrap().level, Level::One);
        assert_eq!(messages_of_kind(&server, "level_raised").await, 0);
    }

    a_reviewer_upgrades_in_person_with_the_document_checked_and_the_capture_matched(db) {
        let server = TestServer::start(&db).await;
        let (id, mut mai) = mai_at(&server, Level::One).await;
        let mut stranger = Person::new(99);
        let (officer_id, officer) = reviewer(&server, &[OfficerRole::Reviewer]).await;
        let (_, supervisor) = reviewer(&server, &[OfficerRole::Supervisor]).await;
        let holder = token(&sign_in(&server, "sign_in").await);
        let path = format!("/v1/accounts/{id}/level-upgrade");
        let check = json!({"document_kind": "cccd", "document_number": MAI_ID, "office": "Công an phường Điện Biên, Hà Nội"});
        let body = |capture: Value| json!({"in_person_check": check.clone(), "capture": capture});

        for token in [&supervisor, &holder] {
            let (status, _) = server.call(Method::POST, &path, token, Some(body(mai.finger()))).await;
            assert_eq!(status, 403, "only a reviewer records an in-person upgrade");
        }
        let bad = json!({"in_person_check": {"document_kind": "thẻ", "document_number": "1", "office": ""}, "capture": {"modality": "finger", "template": "AAAA"}});
        let (status, answer) = server.call(Method::POST, &path, &officer, Some(bad)).await;
        assert_eq!(status, 422, "{answer}");
        let fields: Vec<&str> = answer["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
        assert_eq!(fields, ["in_person_check.document_kind", "in_person_check.document_number", "in_person_check.office", "capture.template"], "every bad field in one answer");
        let (status, answer) = server.call(Method::POST, &path, &officer, Some(body(json!({"modality": "finger", "template": "AAAA"})))).await;
        assert_eq!((status, answer["errors"][0]["field"].as_str()), (422, Some("capture.template")), "{answer}");
        let (status, _) = server.call(Method::POST, "/v1/accounts/no-such-account/level-upgrade", &officer, Some(body(mai.finger()))).await;
        assert_eq!(status, 404);
        // Someone else's finger at the office: refused, audited, no limit (the officer sees the holder).
        let (status, answer) = server.call(Method::POST, &path, &officer, Some(body(stranger.finger()))).await;
        assert_eq!((status, kind(&answer), answer.get("attempts_left")), (422, "urn:dinhdanh:problem:biometric-mismatch", None), "{answer}");

        let (status, answer) = server.call(Method::POST, &path, &officer, Some(body(mai.face()))).await;
        assert_eq!((status, answer["level"].as_i64(), answer["notified"].as_i64()), (200, Some(2), Some(2)), "{answer}");
        let ok = &audit(&server, "account.level.upgrade").await[0];
        assert_eq!(ok.actor, format!("officer:{officer_id}"));
        assert_eq!((ok.detail["how"].as_str(), ok.detail["document_kind"].as_str(), ok.detail["office"].as_str()),
            (Some("in_person"), Some("cccd"), Some("Công an phường Điện Biên, Hà Nội")));
        assert_eq!(ok.detail["document_number"], "•••••••••456", "only the last digits");
        assert_eq!(ok.detail["modality"], "face");
        assert_eq!(messages_of_kind(&server, "level_raised").await, 2);
        let raised = server.store.outbox_messages(None, 500).await.unwrap();
        let text = &raised.iter().find(|m| m.kind == "level_raised").unwrap().body;
        assert!(text.contains("mức độ 2") && text.contains("at an office"), "{text}");
    }

    an_officer_lowers_a_level_2_account_and_its_level_2_sessions_end(db) {
        let server = TestServer::start(&db).await;
        let (id, mut mai) = mai_at(&server, Level::Two).await;
        let level_1 = token(&sign_in(&server, "sign_in").await);
        let level_2 = token(&step_up(&server, &token(&sign_in(&server, "sign_in").await), mai.finger()).await.1);
        let (_, reviewer_token) = reviewer(&server, &[OfficerRole::Reviewer]).await;
        let (supervisor_id, supervisor) = reviewer(&server, &[OfficerRole::Supervisor]).await;
        let path = format!("/v1/accounts/{id}/level-lowering");
        let reason = json!({"reason": "vân tay trong CSDL đã được thu nhận lại / the registry's fingerprints were re-captured"});

        let (status, _) = server.call(Method::POST, &path, &level_2, Some(reason.clone())).await;
        assert_eq!(status, 403, "a holder cannot lower anyone");
        let (status, body) = server.call(Method::POST, &path, &supervisor, Some(json!({"reason": "short"}))).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (422, Some("reason")), "{body}");
        let (status, body) = server.call(Method::POST, &path, &supervisor, Some(reason.clone())).await;
        assert_eq!((status, body["level"].as_i64(), body["notified"].as_i64()), (200, Some(1), Some(2)), "{body}");
        assert_eq!(me(&server, &level_2).await.0, 401, "the Level 2 session ended with the level");
        assert_eq!(me(&server, &level_1).await.1["level"], 1, "a Level 1 session goes on");
        let record = &audit(&server, "account.level.lower").await[0];
        assert_eq!((record.actor.clone(), record.detail["sessions_ended"].as_i64()), (format!("officer:{supervisor_id}"), Some(1)));
        assert_eq!(messages_of_kind(&server, "level_lowered").await, 2);
        let (status, body) = server.call(Method::POST, &path, &reviewer_token, Some(reason)).await;
        assert_eq!((status, kind(&body)), (409, "urn:dinhdanh:problem:level-conflict"), "{body}");
        // A biometric sign-in no longer proves Level 2.
        let (status, _) = step_up(&server, &level_1, mai.finger()).await;
        assert_eq!(status, 409);
    }
}
