//! Bulk lock orders end to end over HTTP, on SQLite and PostgreSQL: an order mixing valid and invalid entries,
//! approved through the reviewer and the supervisor, locks exactly the valid accounts (sessions revoked, notices
//! queued, one audit entry each, the chain intact); a rejected order locks none; concurrent retries with one
//! Idempotency-Key create one order; the per-account results page by page; orders above the API's 64 KiB body
//! limit are accepted; until the order is in effect its filer cannot tell which identities have an account.

use chrono::Duration;
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind, Scope};
use dinhdanh_domain::{
    Account, AccountId, AccountStatus, Email, FullName, IdentificationNumber, IdentityKey, Level, PhoneNumber,
    ProvinceTable,
};
use dinhdanh_server::clock::Clock;
use dinhdanh_store::on_both_backends;
use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::TestServer;

/// A valid identification number: Hà Nội (001), a man born in 1990 (century/gender digit 0, year 90).
fn id_number(i: usize) -> String {
    format!("001090{i:06}")
}

/// `n` active accounts (numbers `first..first + n`) with a live session each, written in one transaction.
/// Returns the accounts and the session tokens.
async fn accounts(server: &TestServer, first: usize, n: usize, status: AccountStatus) -> (Vec<Account>, Vec<String>) {
    let now = server.clock.now();
    let provinces = ProvinceTable::builtin();
    let accounts: Vec<Account> = (first..first + n)
        .map(|i| Account {
            id: AccountId::new(uuid::Uuid::new_v4().to_string()),
            identity_key: IdentityKey::citizen(&IdentificationNumber::parse(&id_number(i), &provinces).unwrap()),
            holder_kind: HolderKind::Citizen,
            full_name: FullName::parse("Nguyễn Văn Hùng").unwrap(),
            level: Level::One,
            status,
            phone: Some(PhoneNumber::parse(&format!("09{:08}", i % 100_000_000)).unwrap()),
            email: Some(Email::parse(&format!("holder{i}@example.vn")).unwrap()),
            password_hash: "unused".into(),
            created_at: now,
            activated_at: (status == AccountStatus::Active).then_some(now),
        })
        .collect();
    let mut tokens = Vec::new();
    let mut sessions = Vec::new();
    for a in &accounts {
        let (token, hash) = dinhdanh_server::secrets::new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
        tokens.push(token);
        sessions.push((hash, a.id.clone(), a.level));
    }
    let mut tx = server.store.begin().await.unwrap();
    tx.insert_accounts_batch(&accounts).await.unwrap();
    tx.insert_holder_sessions_batch(&sessions, now, now + Duration::hours(8)).await.unwrap();
    tx.commit().await.unwrap();
    (accounts, tokens)
}

fn basis() -> Value {
    json!({"document_kind": "Quyết định", "number": "77/QĐ-VKSND", "issued_on": "2026-05-29",
           "issuing_body": "Viện kiểm sát nhân dân TP Hà Nội", "signer": "Lê Thị B"})
}

fn order(entries: Vec<Value>) -> Value {
    json!({"ground": "authority_request", "legal_basis": basis(), "reason": "đường dây lừa đảo / a fraud ring",
           "reference": "VKS-2026-118", "accounts": entries})
}

fn entries(range: std::ops::Range<usize>) -> Vec<Value> {
    range.map(|i| json!({"id_number": id_number(i)})).collect()
}

struct Cast {
    procuracy: String,
    other: String,
    reviewer: String,
    supervisor: String,
}

async fn cast(server: &TestServer) -> Cast {
    let scopes = [Scope::LocksRequest, Scope::LocksLift, Scope::AccountsStatus];
    let (_, procuracy) = server.organization_token("VKSND-HN", OrganizationKind::ProsecutingAgency, &scopes).await;
    let (_, other) = server.organization_token("VKSND-HP", OrganizationKind::ProsecutingAgency, &scopes).await;
    let operator = server.organization("C06", OrganizationKind::Operator).await;
    let (_, reviewer) = server.officer_session(&operator.id, &[OfficerRole::Reviewer]).await;
    let (_, supervisor) = server.officer_session(&operator.id, &[OfficerRole::Supervisor]).await;
    Cast { procuracy, other, reviewer, supervisor }
}

/// Claim and forward by the reviewer; returns the supervisor's answer to `decision`.
async fn decide(server: &TestServer, c: &Cast, id: &str, decision: Value) -> (u16, Value) {
    let (status, body) = server.call(Method::POST, &format!("/v1/requests/{id}/claim"), &c.reviewer, None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = server
        .call(Method::POST, &format!("/v1/requests/{id}/forward"), &c.reviewer, Some(json!({"note": "ok"})))
        .await;
    assert_eq!(status, 200, "{body}");
    server.call(Method::POST, &format!("/v1/requests/{id}/decision"), &c.supervisor, Some(decision)).await
}

async fn active_lock_count(server: &TestServer, account: &Account) -> usize {
    server.store.active_locks(&account.id, server.clock.now()).await.unwrap().len()
}

/// Every result of an order, read page by page.
async fn all_results(server: &TestServer, token: &str, id: &str, limit: usize) -> Vec<Value> {
    let mut out = Vec::new();
    let mut after: Option<i64> = None;
    loop {
        let path = match after {
            None => format!("/v1/bulk-lock-orders/{id}/results?limit={limit}"),
            Some(a) => format!("/v1/bulk-lock-orders/{id}/results?limit={limit}&after={a}"),
        };
        let (status, page) = server.call(Method::GET, &path, token, None).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["results"].as_array().unwrap().iter().cloned());
        match page["next_after"].as_i64() {
            Some(a) => after = Some(a),
            None => return out,
        }
    }
}

on_both_backends! {
    two_orders_over_the_same_accounts_listed_differently_approved_at_once_both_take_effect(db) {
        // Issue 12 item 8: each approval holds every account of its order, in one ascending order across chunks;
        // before, each 1,000-entry chunk was sorted on its own, and two orders listing the same accounts in
        // different orders deadlocked on PostgreSQL (one approval answered 500).
        let server = TestServer::start(&db).await;
        let c = cast(&server).await;
        let n = 2 * dinhdanh_store::BULK_CHUNK + 500;
        for round in 0..2 {
            let first = round * n;
            accounts(&server, first, n, AccountStatus::Active).await;
            let listed = entries(first..first + n);
            let reversed: Vec<Value> = listed.iter().rev().cloned().collect();
            let (status, a) = server.call(Method::POST, "/v1/bulk-lock-orders", &c.procuracy, Some(order(listed))).await;
            assert_eq!(status, 201, "{a}");
            let (status, b) = server.call(Method::POST, "/v1/bulk-lock-orders", &c.other, Some(order(reversed))).await;
            assert_eq!(status, 201, "{b}");
            let mut ids = Vec::new();
            for filed in [&a, &b] {
                let id = filed["id"].as_str().unwrap().to_owned();
                for (step, body) in [("claim", None), ("forward", Some(json!({"note": "ok"})))] {
                    let (status, body) = server.call(Method::POST, &format!("/v1/requests/{id}/{step}"), &c.reviewer, body).await;
                    assert_eq!(status, 200, "{body}");
                }
                ids.push(id);
            }
            let approve = |id: String| {
                let request = server.http.post(server.url(&format!("/v1/requests/{id}/decision")))
                    .bearer_auth(&c.supervisor).json(&json!({"decision": "approve"}));
                async move {
                    let response = request.send().await.unwrap();
                    (response.status().as_u16(), response.json::<Value>().await.unwrap())
                }
            };
            let (first_answer, second_answer) = tokio::join!(approve(ids[0].clone()), approve(ids[1].clone()));
            for (status, body) in [first_answer, second_answer] {
                assert_eq!((status, body["status"].as_str()), (200, Some("effective")), "round {round}: {body}");
            }
            for id in &ids {
                let results = all_results(&server, &c.supervisor, id, 1000).await;
                assert_eq!(results.len(), n);
                assert!(results.iter().all(|r| r["outcome"] == "locked"), "round {round}: every account locked by both");
            }
        }
        assert_eq!(server.store.retries(), 0, "one global order: no deadlock to retry");
        // Each account is disabled once in the event feed, by whichever order locked it first (events.rs).
        let events = server.store.pending_account_events(100_000).await.unwrap();
        let mut disabled: Vec<&str> = events.iter().filter(|e| e.kind.as_str() == "disabled").map(|e| e.account_id.as_str()).collect();
        assert_eq!(disabled.len(), 2 * n, "one event per account, not one per order");
        disabled.sort();
        disabled.dedup();
        assert_eq!(disabled.len(), 2 * n);
    }

    a_holder_in_an_order_follows_it_with_the_tracking_code(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server).await;
        accounts(&server, 0, 3, AccountStatus::Active).await;
        accounts(&server, 10, 1, AccountStatus::Active).await;
        let (status, filed) = server.call(Method::POST, "/v1/bulk-lock-orders", &c.procuracy, Some(order(entries(0..3)))).await;
        assert_eq!(status, 201, "{filed}");
        let code = filed["tracking_code"].as_str().unwrap().to_owned();
        let url = |i: usize| server.url(&format!("/v1/request-status?tracking_code={code}&id_number={}", id_number(i)));
        let named = server.http.get(url(1)).send().await.unwrap();
        assert_eq!(named.status().as_u16(), 200);
        let status_body: Value = named.json().await.unwrap();
        assert_eq!(status_body["status"], "received");
        let outsider = server.http.get(url(10)).send().await.unwrap();
        assert_eq!(outsider.status().as_u16(), 404, "an account not in the order learns nothing");
    }

    an_approved_order_locks_exactly_the_valid_accounts(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server).await;
        let (valid, tokens) = accounts(&server, 0, 500, AccountStatus::Active).await;
        let (pending, _) = accounts(&server, 900, 1, AccountStatus::PendingActivation).await;
        // 500 valid entries, then: a malformed number, an unknown province, no account, a duplicate, an account
        // not active, a half-given foreigner, and a foreigner without an account.
        let mut list = entries(0..500);
        list.extend([
            json!({"id_number": "12345"}),
            json!({"id_number": "999090000001"}),
            json!({"id_number": id_number(777)}),
            json!({"id_number": id_number(42)}),
            json!({"id_number": id_number(900)}),
            json!({"passport_number": "M1234567"}),
            json!({"passport_number": "M1234567", "nationality": "KOR"}),
        ]);
        let (status, filed) = server.call(Method::POST, "/v1/bulk-lock-orders", &c.procuracy, Some(order(list))).await;
        assert_eq!(status, 201, "{filed}");
        assert_eq!(filed["status"], "received");
        assert_eq!(filed["next_step_by"], "reviewer", "an authority's order takes the Decree 69 route");
        assert_eq!(filed["tracking_code"].as_str().unwrap().len(), 12);
        // The filer learns only what its own input says: which entries it wrote wrongly or twice. Whether an
        // identity has an account, and an active one, is not its to know before the decision.
        let summary = &filed["summary"];
        assert_eq!(
            (summary["entries"].as_i64(), summary["pending"].as_i64(), summary["invalid"].as_i64(),
             summary["not_found"].as_i64(), summary["inactive"].as_i64(), summary["duplicate"].as_i64()),
            (Some(507), Some(503), Some(3), Some(0), Some(0), Some(1)),
            "{summary}"
        );
        let problems_of = |order: &Value| -> Vec<(i64, String)> {
            order["problems"].as_array().unwrap().iter()
                .map(|p| (p["index"].as_i64().unwrap(), p["outcome"].as_str().unwrap().to_owned())).collect()
        };
        let listed = |pairs: &[(i64, &str)]| pairs.iter().map(|(i, o)| (*i, o.to_string())).collect::<Vec<_>>();
        assert_eq!(problems_of(&filed), listed(&[(500, "invalid"), (501, "invalid"), (503, "duplicate"), (505, "invalid")]));
        assert!(filed["problems"][2]["reason"].as_str().unwrap().contains("entry 42"), "{filed}");
        let id = filed["id"].as_str().unwrap().to_owned();
        let (_, results) = server.call(Method::GET, &format!("/v1/bulk-lock-orders/{id}/results?after=501&limit=5"),
            &c.procuracy, None).await;
        let outcomes: Vec<&str> = results["results"].as_array().unwrap().iter().map(|r| r["outcome"].as_str().unwrap()).collect();
        assert_eq!(outcomes, ["pending", "duplicate", "pending", "invalid", "pending"], "{results}");
        assert!(results["results"][0]["reason"].is_null(), "a hidden outcome takes its reason with it: {results}");
        // The deciding officers see every outcome, with its reason.
        let (status, seen) = server.call(Method::GET, &format!("/v1/bulk-lock-orders/{id}"), &c.reviewer, None).await;
        assert_eq!(status, 200, "{seen}");
        assert_eq!(
            (seen["summary"]["pending"].as_i64(), seen["summary"]["not_found"].as_i64(), seen["summary"]["inactive"].as_i64()),
            (Some(500), Some(2), Some(1)),
            "{seen}"
        );
        assert_eq!(problems_of(&seen), listed(&[(500, "invalid"), (501, "invalid"), (502, "not_found"),
            (503, "duplicate"), (504, "inactive"), (505, "invalid"), (506, "not_found")]));
        assert!(seen["problems"][4]["reason"].as_str().unwrap().contains("not active"), "{seen}");
        assert_eq!(active_lock_count(&server, &valid[0]).await, 0, "nothing in force before the decision");

        // The order is one request in the officers' queue, with the organization's view of it.
        let (_, queue) = server.call(Method::GET, "/v1/requests", &c.reviewer, None).await;
        assert_eq!(queue.as_array().unwrap().iter().filter(|r| r["id"] == id.as_str()).count(), 1);
        let (status, _) = server.call(Method::GET, &format!("/v1/bulk-lock-orders/{id}"), &c.other, None).await;
        assert_eq!(status, 404, "another organization cannot see the order");
        let (status, _) = server.call(Method::GET, &format!("/v1/bulk-lock-orders/{id}/results"), &c.other, None).await;
        assert_eq!(status, 404);

        let audit_before = server.store.recent_audit(Some("lock.place"), 1000).await.unwrap().len();
        let (status, approved) = decide(&server, &c, &id, json!({"decision": "approve"})).await;
        assert_eq!((status, approved["status"].as_str()), (200, Some("effective")), "{approved}");

        for account in &valid {
            assert_eq!(active_lock_count(&server, account).await, 1);
        }
        assert_eq!(active_lock_count(&server, &pending[0]).await, 0, "an inactive account is not locked");
        // Each locked account is disabled in the event feed, in the order's transaction, under the order's id.
        for account in valid.iter().step_by(50) {
            let events = server.store.account_events(&account.id).await.unwrap();
            let seen: Vec<(&str, &str)> = events.iter().map(|e| (e.kind.as_str(), e.txn.as_str())).collect();
            assert_eq!(seen, [("disabled", id.as_str())]);
        }
        // Every session of the locked holders has ended.
        for token in tokens.iter().step_by(50) {
            let (status, _) = server.call(Method::GET, "/v1/requests", token, None).await;
            assert_eq!(status, 401);
        }
        let code = filed["tracking_code"].as_str().unwrap();
        let notices = server.store.outbox_messages(None, 5000).await.unwrap();
        let to_holders = notices.iter().filter(|m| m.kind == "request_update" && m.body.contains(code)).count();
        assert_eq!(to_holders, 1000, "one notice per holder and channel (SMS and e-mail)");
        let placed = server.store.recent_audit(Some("lock.place"), 1000).await.unwrap();
        assert_eq!(placed.len() - audit_before, 500);
        assert!(placed.iter().all(|e| e.detail["request_id"] == id.as_str() && e.subject.is_some()));
        let report = server.store.verify_audit_log(&[]).await.unwrap();
        assert_eq!(report.problems, [], "the audit tree is intact after a bulk approval");

        // Per-account results, page by page, for the organization and for officers.
        let results = all_results(&server, &c.procuracy, &id, 128).await;
        assert_eq!(results.len(), 507);
        assert!(results[..500].iter().all(|r| r["outcome"] == "locked" && r["lock_id"].is_string()), "{}", results[0]);
        // Once the order is in effect, its filer is told what became of each entry.
        assert_eq!((results[502]["outcome"].as_str(), results[504]["outcome"].as_str()), (Some("not_found"), Some("inactive")));
        assert_eq!(all_results(&server, &c.reviewer, &id, 1000).await, results, "filer and officers now see the same");
        let (_, summary) = server.call(Method::GET, &format!("/v1/bulk-lock-orders/{id}"), &c.procuracy, None).await;
        assert_eq!(
            (summary["summary"]["locked"].as_i64(), summary["summary"]["pending"].as_i64(),
             summary["summary"]["not_found"].as_i64(), summary["summary"]["inactive"].as_i64()),
            (Some(500), Some(0), Some(2), Some(1)),
            "{summary}"
        );

        // A second order over the same accounts by the same organization does not lock them twice.
        let (status, again) = server.call(Method::POST, "/v1/bulk-lock-orders", &c.procuracy, Some(order(entries(0..10)))).await;
        assert_eq!(status, 201, "{again}");
        let again_id = again["id"].as_str().unwrap().to_owned();
        let (status, _) = decide(&server, &c, &again_id, json!({"decision": "approve"})).await;
        assert_eq!(status, 200);
        let (_, summary) = server.call(Method::GET, &format!("/v1/bulk-lock-orders/{again_id}"), &c.procuracy, None).await;
        assert_eq!(summary["summary"]["already_locked"], 10, "{summary}");
        assert_eq!(active_lock_count(&server, &valid[3]).await, 1);
    }

    filing_tells_the_filer_nothing_of_who_has_an_account(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server).await;
        accounts(&server, 0, 2, AccountStatus::Active).await;
        accounts(&server, 2, 1, AccountStatus::PendingActivation).await;
        // One entry differs: an active account, an account not yet active, or no account at all.
        let mut answers = Vec::new();
        for third in [1, 2, 700] {
            let body = order(vec![json!({"id_number": id_number(0)}), json!({"id_number": "12345"}), json!({"id_number": id_number(third)})]);
            let response = server.http.post(server.url("/v1/bulk-lock-orders")).bearer_auth(&c.procuracy).json(&body)
                .send().await.unwrap();
            let status = response.status().as_u16();
            let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
            let mut filed: Value = response.json().await.unwrap();
            let id = filed["id"].as_str().unwrap().to_owned();
            let (_, mut results) = server.call(Method::GET, &format!("/v1/bulk-lock-orders/{id}/results"), &c.procuracy, None).await;
            for fresh in ["id", "tracking_code"] {
                filed.as_object_mut().unwrap().remove(fresh);
            }
            results.as_object_mut().unwrap().remove("order_id");
            // The entry that differs is echoed back as given.
            assert_eq!(results["results"][2]["identifier"], id_number(third));
            results["results"][2].as_object_mut().unwrap().remove("identifier");
            answers.push((status, content_type, filed.to_string(), results.to_string()));
        }
        assert_eq!(answers[0], answers[1], "an inactive account answers like an active one");
        assert_eq!(answers[0], answers[2], "no account answers like an account");
        assert_eq!(answers[0].0, 201);
    }

    a_rejected_order_locks_none(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server).await;
        let (valid, tokens) = accounts(&server, 0, 50, AccountStatus::Active).await;
        let (_, filed) = server.call(Method::POST, "/v1/bulk-lock-orders", &c.procuracy, Some(order(entries(0..50)))).await;
        let id = filed["id"].as_str().unwrap().to_owned();
        let (status, rejected) =
            decide(&server, &c, &id, json!({"decision": "reject", "reason": "Căn cứ không đủ / insufficient basis"})).await;
        assert_eq!((status, rejected["status"].as_str()), (200, Some("rejected")), "{rejected}");
        for account in &valid {
            assert_eq!(active_lock_count(&server, account).await, 0);
        }
        let (status, _) = server.call(Method::GET, "/v1/requests", &tokens[0], None).await;
        assert_eq!(status, 200, "sessions live on");
        let results = all_results(&server, &c.procuracy, &id, 1000).await;
        assert!(results.iter().all(|r| r["outcome"] == "not_locked"), "{}", results[0]);
        let (status, _) = server.call(Method::POST, &format!("/v1/requests/{id}/decision"), &c.supervisor,
            Some(json!({"decision": "approve"}))).await;
        assert_eq!(status, 409, "a rejected order cannot be approved afterwards");
        assert!(server.store.recent_audit(Some("lock.place"), 10).await.unwrap().is_empty());
    }

    a_hundred_retries_with_one_key_file_one_order(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server).await;
        accounts(&server, 0, 50, AccountStatus::Active).await;
        let body = order(entries(0..50));
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let request = server.http.post(server.url("/v1/bulk-lock-orders")).bearer_auth(&c.procuracy)
                .header("Idempotency-Key", "bulk-2026-118").json(&body);
            tasks.push(tokio::spawn(async move {
                let response = request.send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap())
            }));
        }
        let mut ids = std::collections::BTreeSet::new();
        for task in tasks {
            let (status, body) = task.await.unwrap();
            assert_eq!(status, 201, "{body}");
            assert_eq!(body["summary"]["pending"], 50, "{body}");
            ids.insert(body["id"].as_str().unwrap().to_owned());
        }
        assert_eq!(ids.len(), 1, "one order for one key");
        let (_, listed) = server.call(Method::GET, "/v1/requests", &c.procuracy, None).await;
        assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
        let id = ids.into_iter().next().unwrap();
        assert_eq!(all_results(&server, &c.procuracy, &id, 1000).await.len(), 50, "the targets were written once");
        let receipts = server.store.recent_audit(Some("request.receive"), 200).await.unwrap();
        assert_eq!(receipts.len(), 1);
        // The same key for another order is a conflict; another organization's same key is its own.
        let response = server.http.post(server.url("/v1/bulk-lock-orders")).bearer_auth(&c.procuracy)
            .header("Idempotency-Key", "bulk-2026-118").json(&order(entries(0..49))).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 409);
        let response = server.http.post(server.url("/v1/bulk-lock-orders")).bearer_auth(&c.other)
            .header("Idempotency-Key", "bulk-2026-118").json(&body).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 201);
        let other: Value = response.json().await.unwrap();
        assert_ne!(other["id"].as_str().unwrap(), id);
    }

    orders_are_checked_like_single_requests_and_may_exceed_64_kib(db) {
        let server = TestServer::start(&db).await;
        let c = cast(&server).await;
        accounts(&server, 0, 3, AccountStatus::Active).await;
        let scopes = [Scope::LocksRequest];
        let (_, bank) = server.organization_token("VCB", OrganizationKind::RelyingParty, &scopes).await;
        let (_, no_scope) = server.organization_token("CA-HUE", OrganizationKind::CompetentAuthority, &[Scope::AccountsStatus]).await;
        // The authority table decides: a bank cannot claim an authority's ground.
        let (status, problem) = server.call(Method::POST, "/v1/bulk-lock-orders", &bank, Some(order(entries(0..3)))).await;
        assert_eq!((status, problem["type"].as_str()), (403, Some("urn:dinhdanh:problem:lock-refused")), "{problem}");
        let (status, _) = server.call(Method::POST, "/v1/bulk-lock-orders", &no_scope, Some(order(entries(0..3)))).await;
        assert_eq!(status, 403);
        let mut no_basis = order(entries(0..3));
        no_basis.as_object_mut().unwrap().remove("legal_basis");
        let (status, problem) = server.call(Method::POST, "/v1/bulk-lock-orders", &c.procuracy, Some(no_basis)).await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("legal_basis")), "{problem}");
        let (status, problem) = server.call(Method::POST, "/v1/bulk-lock-orders", &c.procuracy, Some(order(vec![]))).await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("accounts")), "{problem}");
        let (status, problem) = server.call(Method::POST, "/v1/bulk-lock-orders", &c.procuracy,
            Some(order(vec![json!({"id_number": "12345"}), json!({"passport_number": "M1234567"})]))).await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("accounts")), "no well-formed entry: {problem}");
        // An order naming no account at all is filed like any other: whether those identities have accounts is
        // for the deciding officers to see.
        let (status, none) = server.call(Method::POST, "/v1/bulk-lock-orders", &c.procuracy,
            Some(order(entries(100..110)))).await;
        assert_eq!((status, none["summary"]["pending"].as_i64()), (201, Some(10)), "{none}");
        // 4,000 entries (about 120 KB of JSON): above the API's 64 KiB limit, within the order's.
        let big = order(entries(0..4000));
        assert!(serde_json::to_vec(&big).unwrap().len() > 64 * 1024);
        let (status, filed) = server.call(Method::POST, "/v1/bulk-lock-orders", &c.procuracy, Some(big)).await;
        assert_eq!(status, 201, "{filed}");
        assert_eq!((filed["summary"]["pending"].as_i64(), filed["summary"]["not_found"].as_i64()), (Some(4000), Some(0)));
        assert_eq!((filed["problems"].as_array().unwrap().len(), &filed["problems_truncated"]), (0, &json!(false)));
        let big_id = filed["id"].as_str().unwrap();
        let (_, seen) = server.call(Method::GET, &format!("/v1/bulk-lock-orders/{big_id}"), &c.reviewer, None).await;
        assert_eq!((seen["summary"]["pending"].as_i64(), seen["summary"]["not_found"].as_i64()), (Some(3), Some(3997)));
        assert_eq!(seen["problems"].as_array().unwrap().len(), 1000);
        assert_eq!(seen["problems_truncated"], true);
        // The single-request endpoints keep their 64 KiB limit.
        let huge = json!({"ground": "authority_request", "account": {"id_number": id_number(0)}, "reason": "x".repeat(70_000)});
        let (status, _) = server.call(Method::POST, "/v1/lock-requests", &c.procuracy, Some(huge)).await;
        assert_eq!(status, 413);
    }
}
