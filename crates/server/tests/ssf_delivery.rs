//! Shared Signals poll delivery end to end over real HTTP, on SQLite and on PostgreSQL (issue 17,
//! docs/events.md): a relying party that signed a holder in creates a poll stream; a lock, a second lock, the
//! lifts and a level change reach it as Security Event Tokens, which a receiver written here checks with another
//! JOSE implementation than the server's (RustCrypto's P-256 against the published JWKS): `typ`, signature,
//! `iss`, `aud`, unique `jti`, the event types, the `iss_sub` subject (its pairwise `sub`, never the account
//! id) and the `txn` shared by one request's events. Events come again until acknowledged; a relying party that
//! never signed the holder in learns nothing; a paused stream keeps its events. Push delivery (RFC 8935) to a
//! receiver served here: it fails for a while, then every event arrives once, in order; an event it refuses is
//! a dead letter and the next ones still come.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use dinhdanh_domain::actor::{OrganizationKind, Scope};
use dinhdanh_domain::lock::{Lift, Party};
use dinhdanh_domain::{AccountId, Level};
use dinhdanh_server::clock::Clock;
use dinhdanh_store::on_both_backends;
use p256::ecdsa::signature::Verifier;
use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::TestServer;

const DISABLED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
const ENABLED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-enabled";
const SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";
const LEVEL: &str = "https://schemas.openid.net/secevent/caep/event-type/assurance-level-change";

/// A relying party with an OpenID Connect registration and a client token holding `ssf:streams`.
struct Receiver {
    client_id: String,
    token: String,
}

async fn receiver(server: &TestServer, code: &str) -> Receiver {
    let (org, token) = server.organization_token(code, OrganizationKind::RelyingParty, &[Scope::SsfStreams]).await;
    let client_id = server.store.api_clients_of_organization(&org.id).await.unwrap()[0].id.clone();
    let admin = server.admin().await;
    let registration = json!({"redirect_uris": [format!("https://{}.example.vn/cb", code.to_lowercase())],
        "scopes": ["openid", "profile"], "claims": ["name"]});
    let (status, saved) =
        server.call(Method::PUT, &format!("/v1/clients/{client_id}/oidc"), &admin, Some(registration)).await;
    assert_eq!(status, 200, "{saved}");
    Receiver { client_id, token }
}

/// What a sign-in leaves: a grant of `account` to the receiver's client.
async fn signed_in(server: &TestServer, rp: &Receiver, account: &AccountId) {
    support::oidc::grant_of(server, &rp.client_id, account).await;
}

async fn poll(server: &TestServer, rp: &Receiver, body: Value) -> Value {
    let (status, answer) = server.call(Method::POST, "/ssf/poll", &rp.token, Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The receiver's check of one SET against the published keys, with P-256 from RustCrypto: returns its claims.
fn verified(jwks: &Value, token: &str) -> Value {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "a compact JWS");
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!((header["alg"].as_str(), header["typ"].as_str()), (Some("ES256"), Some("secevent+jwt")), "{header}");
    let key = jwks["keys"].as_array().unwrap().iter().find(|k| k["kid"] == header["kid"]).expect("a published key");
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
    let mut point = vec![4u8];
    point.extend(coordinate("x"));
    point.extend(coordinate("y"));
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    let signature = p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap()).unwrap();
    verifying.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).expect("the signature");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap()
}

/// Every SET of a poll answer, checked: `(jti, event type, claims)`.
fn sets(server: &TestServer, jwks: &Value, rp: &Receiver, answer: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (jti, token) in answer["sets"].as_object().unwrap() {
        let claims = verified(jwks, token.as_str().unwrap());
        assert_eq!(claims["jti"], jti.as_str());
        assert_eq!(claims["iss"], server.base.as_str());
        assert_eq!(claims["aud"], rp.client_id.as_str());
        assert_eq!(claims["sub_id"]["format"], "iss_sub");
        assert_eq!(claims["sub_id"]["iss"], server.base.as_str());
        let events = claims["events"].as_object().unwrap();
        assert_eq!(events.len(), 1, "one event per SET");
        out.push((jti.clone(), events.keys().next().unwrap().clone(), claims.clone()));
    }
    out
}

fn lift(server: &TestServer, account: &AccountId) -> Lift {
    Lift {
        at: server.clock.now(),
        by: Party::Holder { account_id: account.clone() },
        legal_basis: None,
        reason: "đã tìm thấy".into(),
        request_id: None,
    }
}

on_both_backends! {
    a_lock_and_its_lift_reach_the_relying_party_s_poll_stream_as_signed_events(db) {
        let server = TestServer::start(&db).await;
        let account = support::mai(&server).await;
        let bank = receiver(&server, "NHA").await;
        let stranger = receiver(&server, "NHB").await;
        signed_in(&server, &bank, &account).await;
        let every = json!([DISABLED, ENABLED, SESSION_REVOKED, LEVEL]);
        for rp in [&bank, &stranger] {
            let (status, body) = server.call(Method::POST, "/ssf/streams", &rp.token, Some(json!({"events_requested": every}))).await;
            assert_eq!(status, 201, "{body}");
        }
        let jwks: Value = server.http.get(server.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
        assert_eq!(poll(&server, &bank, json!({"returnImmediately": true})).await, json!({"sets": {}, "moreAvailable": false}));

        // The holder locks the account: account-disabled and session-revoked, with the request's id as txn.
        let session = server.holder_session(&server.store.account(&account).await.unwrap().unwrap()).await;
        let (status, filed) = server.call(Method::POST, "/v1/lock-requests", &session,
            Some(json!({"ground": "holder_request", "reason": "mất điện thoại"}))).await;
        assert_eq!(status, 201, "{filed}");
        let answer = poll(&server, &bank, json!({"returnImmediately": true})).await;
        let received = sets(&server, &jwks, &bank, &answer);
        let types: BTreeSet<&str> = received.iter().map(|(_, t, _)| t.as_str()).collect();
        assert_eq!(types, [DISABLED, SESSION_REVOKED].into());
        for (_, _, claims) in &received {
            assert_eq!(claims["txn"], filed["id"], "one request, one txn");
            let sub = claims["sub_id"]["sub"].as_str().unwrap();
            assert!(sub.len() == 43 && sub != account.as_str(), "the pairwise sub, not the account id: {sub}");
            let text = claims.to_string();
            assert!(!text.contains("holder_request") && !text.contains("mất điện thoại"), "no ground or reason: {text}");
        }
        assert_eq!(received[0].2["sub_id"], received[1].2["sub_id"]);
        // Not acknowledged: they come again, the same ones. Acknowledged: gone.
        let again = poll(&server, &bank, json!({"returnImmediately": true})).await;
        assert_eq!(again["sets"].as_object().unwrap().keys().collect::<Vec<_>>(), answer["sets"].as_object().unwrap().keys().collect::<Vec<_>>());
        let jtis: Vec<String> = received.iter().map(|(j, _, _)| j.clone()).collect();
        let after_ack = poll(&server, &bank, json!({"ack": jtis, "returnImmediately": true})).await;
        assert_eq!(after_ack, json!({"sets": {}, "moreAvailable": false}));
        // The relying party that never signed her in learns nothing.
        assert_eq!(poll(&server, &stranger, json!({"returnImmediately": true})).await["sets"], json!({}));

        // A second lock, and the lift of one of two: nothing. The lift of the last: account-enabled, once.
        let second = support::holder_lock(&server, &account);
        let mut tx = server.store.begin().await.unwrap();
        tx.insert_lock(&second).await.unwrap();
        tx.commit().await.unwrap();
        server.clock.advance(Duration::minutes(5));
        let mut tx = server.store.begin().await.unwrap();
        assert!(tx.lift_lock(filed["lock_id"].as_str().unwrap(), &lift(&server, &account)).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(poll(&server, &bank, json!({"returnImmediately": true})).await["sets"], json!({}), "another lock is in force");
        let mut tx = server.store.begin().await.unwrap();
        assert!(tx.lift_lock(&second.id, &lift(&server, &account)).await.unwrap());
        tx.commit().await.unwrap();
        let answer = poll(&server, &bank, json!({"returnImmediately": true})).await;
        let received = sets(&server, &jwks, &bank, &answer);
        assert_eq!(received.iter().map(|(_, t, _)| t.as_str()).collect::<Vec<_>>(), [ENABLED]);
        let mut seen: BTreeMap<String, ()> = BTreeMap::new();
        for (jti, _, _) in &received {
            assert!(seen.insert(jti.clone(), ()).is_none());
        }

        // A paused stream keeps its events; enabled again, it delivers them. maxEvents bounds an answer.
        let (_, streams) = server.call(Method::GET, "/ssf/streams", &bank.token, None).await;
        let stream_id = streams[0]["stream_id"].as_str().unwrap().to_owned();
        server.call(Method::POST, "/ssf/streams/status", &bank.token, Some(json!({"stream_id": stream_id, "status": "paused"}))).await;
        let jtis: Vec<String> = received.iter().map(|(j, _, _)| j.clone()).collect();
        let mut tx = server.store.begin().await.unwrap();
        tx.set_account_level(&account, Level::Two, server.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(poll(&server, &bank, json!({"ack": jtis, "returnImmediately": true})).await["sets"], json!({}), "paused");
        server.call(Method::POST, "/ssf/streams/status", &bank.token, Some(json!({"stream_id": stream_id, "status": "enabled"}))).await;
        let answer = poll(&server, &bank, json!({"maxEvents": 1, "returnImmediately": true})).await;
        let received = sets(&server, &jwks, &bank, &answer);
        assert_eq!(received.len(), 1);
        let (_, kind, claims) = &received[0];
        assert_eq!(kind, LEVEL);
        let change = &claims["events"][LEVEL];
        assert_eq!((change["previous_level"].as_str(), change["current_level"].as_str(), change["change_direction"].as_str()),
            (Some("urn:dinhdanh:loa:1"), Some("urn:dinhdanh:loa:2"), Some("increase")));
        assert_eq!(answer["moreAvailable"], false);
    }

    a_poll_is_refused_what_it_cannot_have(db) {
        let server = TestServer::start(&db).await;
        let bank = receiver(&server, "NHA").await;
        let (status, _) = server.call(Method::POST, "/ssf/poll", &bank.token, Some(json!({"returnImmediately": true}))).await;
        assert_eq!(status, 404, "no stream yet");
        server.call(Method::POST, "/ssf/streams", &bank.token,
            Some(json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": "https://nha.example.vn/ssf"}}))).await;
        let (status, body) = server.call(Method::POST, "/ssf/poll", &bank.token, Some(json!({"returnImmediately": true}))).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (400, Some("delivery")), "a pushed stream is not polled: {body}");
        for bad in [json!({"maxEvents": -1}), json!({"maxEvents": 5000}), json!({"ack": "x"}), json!({"returnImmediately": "yes"})] {
            let (status, body) = server.call(Method::POST, "/ssf/poll", &bank.token, Some(bad.clone())).await;
            assert_eq!(status, 400, "{bad}: {body}");
        }
        let (_, without) = server.organization_token("NHC", OrganizationKind::RelyingParty, &[Scope::AccountsStatus]).await;
        let (status, _) = server.call(Method::POST, "/ssf/poll", &without, Some(json!({}))).await;
        assert_eq!(status, 403);
    }
}

/// One push the receiver saw: its `Authorization` and `Content-Type` headers, its body, whether it was taken.
type Push = (Option<String>, Option<String>, String, bool);

/// What the push receiver served in the test saw, and how it is to answer next.
#[derive(Clone, Default)]
struct Inbox {
    pushes: Arc<Mutex<Vec<Push>>>,
    /// Answer this many pushes with 503 first.
    unavailable: Arc<AtomicUsize>,
    /// Refuse the next push with an RFC 8935 error.
    refuse: Arc<AtomicUsize>,
}

async fn push_receiver(inbox: Inbox) -> String {
    use axum::http::{HeaderMap, StatusCode};
    async fn take(
        axum::extract::State(inbox): axum::extract::State<Inbox>,
        headers: HeaderMap,
        body: String,
    ) -> (StatusCode, String) {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let taken_from = |counter: &AtomicUsize| {
            counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
        };
        let (status, answer, taken) = if taken_from(&inbox.unavailable) {
            (StatusCode::SERVICE_UNAVAILABLE, String::new(), false)
        } else if taken_from(&inbox.refuse) {
            (
                StatusCode::BAD_REQUEST,
                json!({"err": "invalid_key", "description": "unknown signing key"}).to_string(),
                false,
            )
        } else {
            (StatusCode::ACCEPTED, String::new(), true)
        };
        inbox.pushes.lock().unwrap().push((header("authorization"), header("content-type"), body, taken));
        (status, answer)
    }
    let app = axum::Router::new().route("/events", axum::routing::post(take)).with_state(inbox);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// The relying party's push stream of `events` to a receiver served here: what that receiver takes.
async fn push_stream(server: &TestServer, rp: &Receiver, events: Value) -> Inbox {
    let inbox = Inbox::default();
    let endpoint = push_receiver(inbox.clone()).await;
    let stream =
        json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": endpoint}, "events_requested": events});
    let (status, body) = server.call(Method::POST, "/ssf/streams", &rp.token, Some(stream)).await;
    assert_eq!(status, 201, "{body}");
    inbox
}

fn taken(inbox: &Inbox) -> Vec<String> {
    inbox.pushes.lock().unwrap().iter().filter(|p| p.3).map(|p| p.2.clone()).collect()
}

on_both_backends! {
    pushed_events_survive_an_unavailable_receiver_and_arrive_once_in_order(db) {
        let server = TestServer::start(&db).await;
        let account = support::mai(&server).await;
        let bank = receiver(&server, "NHA").await;
        signed_in(&server, &bank, &account).await;
        let inbox = Inbox::default();
        let endpoint = push_receiver(inbox.clone()).await;
        let stream = json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": endpoint, "authorization_header": "Bearer rx-secret"},
            "events_requested": [DISABLED, ENABLED, SESSION_REVOKED, LEVEL]});
        let (status, body) = server.call(Method::POST, "/ssf/streams", &bank.token, Some(stream)).await;
        assert_eq!(status, 201, "{body}");
        let jwks: Value = server.http.get(server.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
        let http = reqwest::Client::new();
        let deliver = || dinhdanh_server::service::ssf::deliver_pushes(&server.state, &http);

        // The lock's two events; the receiver is down for three pushes.
        inbox.unavailable.store(3, Ordering::SeqCst);
        let session = server.holder_session(&server.store.account(&account).await.unwrap().unwrap()).await;
        let (status, filed) = server.call(Method::POST, "/v1/lock-requests", &session,
            Some(json!({"ground": "holder_request", "reason": "mất điện thoại"}))).await;
        assert_eq!(status, 201, "{filed}");
        assert_eq!(deliver().await.unwrap(), 0);
        assert_eq!(inbox.pushes.lock().unwrap().len(), 1, "one try, then the stream waits");
        assert_eq!(deliver().await.unwrap(), 0);
        assert_eq!(inbox.pushes.lock().unwrap().len(), 1, "not before the backoff ends");
        // /metrics tells the stream's backlog: two events waiting, the oldest for as long as the clock moved.
        let (_, streams) = server.call(Method::GET, "/ssf/streams", &bank.token, None).await;
        let stream_id = streams[0]["stream_id"].as_str().unwrap().to_owned();
        server.clock.advance(Duration::milliseconds(500));
        let metrics = server.http.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
        let line = |name: &str| format!("{name}{{stream=\"{stream_id}\"}}");
        assert!(metrics.contains(&format!("{} 2\n", line("dinhdanh_ssf_pending_events"))), "{metrics}");
        assert!(metrics.contains(&format!("{} 0.5\n", line("dinhdanh_ssf_delivery_lag_seconds"))), "{metrics}");
        assert!(metrics.contains(&format!("{} 0\n", line("dinhdanh_ssf_dead_letters"))), "{metrics}");
        server.clock.advance(Duration::milliseconds(-500));
        for wait in [1, 2] {
            server.clock.advance(Duration::seconds(wait));
            assert_eq!(deliver().await.unwrap(), 0);
        }
        assert_eq!(inbox.pushes.lock().unwrap().len(), 3);
        server.clock.advance(Duration::seconds(4));
        assert_eq!(deliver().await.unwrap(), 2, "both, once the receiver is back");
        assert_eq!(deliver().await.unwrap(), 0, "and never again");
        let pushes = inbox.pushes.lock().unwrap().clone();
        assert!(pushes.iter().all(|p| p.0.as_deref() == Some("Bearer rx-secret") && p.1.as_deref() == Some("application/secevent+jwt")));
        let kinds: Vec<String> = taken(&inbox).iter().map(|set| {
            let claims = verified(&jwks, set);
            assert_eq!((claims["iss"].as_str(), claims["aud"].as_str(), claims["txn"].as_str()), (Some(server.base.as_str()), Some(bank.client_id.as_str()), filed["id"].as_str()));
            claims["events"].as_object().unwrap().keys().next().unwrap().clone()
        }).collect();
        assert_eq!(kinds, [DISABLED, SESSION_REVOKED], "in the order they were queued");
        let failures = server.store.recent_audit(None, 10).await.unwrap();
        assert!(failures.iter().all(|r| !r.detail.to_string().contains("rx-secret")), "the receiver's secret is in no record");

        // A refused event is a dead letter; the next one still comes.
        inbox.refuse.store(1, Ordering::SeqCst);
        let mut tx = server.store.begin().await.unwrap();
        assert!(tx.lift_lock(filed["lock_id"].as_str().unwrap(), &lift(&server, &account)).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(deliver().await.unwrap(), 0);
        let dead = server.store.dead_ssf_events(10).await.unwrap();
        assert_eq!(dead.len(), 1);
        assert_eq!(dead[0].last_error.as_deref(), Some("invalid_key: unknown signing key"));
        let mut tx = server.store.begin().await.unwrap();
        tx.set_account_level(&account, Level::Two, server.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(deliver().await.unwrap(), 1);
        let last = taken(&inbox).last().cloned().unwrap();
        assert!(verified(&jwks, &last)["events"].get(LEVEL).is_some());

        // An administrator sees the dead letter and sends it again; a supervisor cannot.
        let admin = server.admin().await;
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (_, supervisor) = server.officer_session(&operator.id, &[dinhdanh_domain::actor::OfficerRole::Supervisor]).await;
        let (status, _) = server.call(Method::GET, "/v1/ssf/dead-letters", &supervisor, None).await;
        assert_eq!(status, 403);
        let (status, letters) = server.call(Method::GET, "/v1/ssf/dead-letters", &admin, None).await;
        assert_eq!(status, 200, "{letters}");
        assert_eq!((letters.as_array().unwrap().len(), letters[0]["client_id"].as_str()), (1, Some(bank.client_id.as_str())));
        assert_eq!(letters[0]["last_error"], "invalid_key: unknown signing key");
        let id = letters[0]["id"].as_str().unwrap().to_owned();
        let (status, _) = server.call(Method::POST, &format!("/v1/ssf/dead-letters/{id}/replay"), &admin, None).await;
        assert_eq!(status, 204);
        let (status, _) = server.call(Method::POST, &format!("/v1/ssf/dead-letters/{id}/replay"), &admin, None).await;
        assert_eq!(status, 404, "no longer dead");
        assert_eq!(deliver().await.unwrap(), 1, "pushed again");
        let replayed = taken(&inbox).last().cloned().unwrap();
        assert!(verified(&jwks, &replayed)["events"].get(ENABLED).is_some());
        assert_eq!(server.store.dead_ssf_events(10).await.unwrap(), vec![]);
        assert_eq!(server.store.recent_audit(Some("ssf.dead_letter.replay"), 10).await.unwrap().len(), 1);
    }
}

const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";

/// A subject change sent raw: its status, `Content-Type` and body exactly as a receiver sees them.
async fn subject_call(server: &TestServer, rp: &Receiver, path: &str, body: Value) -> (u16, Option<String>, String) {
    let response = server.http.post(server.url(path)).bearer_auth(&rp.token).json(&body).send().await.unwrap();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), content_type, response.text().await.unwrap())
}

fn iss_sub(server: &TestServer, sub: &str) -> Value {
    json!({"format": "iss_sub", "iss": server.base.as_str(), "sub": sub})
}

/// The stream of a receiver's client.
async fn stream_id(server: &TestServer, rp: &Receiver) -> String {
    let (_, streams) = server.call(Method::GET, "/ssf/streams", &rp.token, None).await;
    streams[0]["stream_id"].as_str().unwrap().to_owned()
}

on_both_backends! {
    a_removed_subject_gets_no_events_and_one_added_back_does(db) {
        let server = TestServer::start(&db).await;
        let account = support::mai(&server).await;
        let bank = receiver(&server, "NHA").await;
        let other = receiver(&server, "NHB").await;
        let every = json!([DISABLED, ENABLED, SESSION_REVOKED, LEVEL]);
        for rp in [&bank, &other] {
            signed_in(&server, rp, &account).await;
            let (status, body) = server.call(Method::POST, "/ssf/streams", &rp.token, Some(json!({"events_requested": every}))).await;
            assert_eq!(status, 201, "{body}");
        }
        let (stream, other_stream) = (stream_id(&server, &bank).await, stream_id(&server, &other).await);
        let jwks: Value = server.http.get(server.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
        // The bank learns its sub for the holder from a first event (a level change), as a receiver would.
        let mut tx = server.store.begin().await.unwrap();
        tx.set_account_level(&account, Level::Two, server.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        let first = sets(&server, &jwks, &bank, &poll(&server, &bank, json!({"returnImmediately": true})).await);
        let sub = first[0].2["sub_id"]["sub"].as_str().unwrap().to_owned();
        poll(&server, &bank, json!({"ack": [first[0].0.clone()], "returnImmediately": true})).await;
        let other_first = sets(&server, &jwks, &other, &poll(&server, &other, json!({"returnImmediately": true})).await);
        poll(&server, &other, json!({"ack": [other_first[0].0.clone()], "returnImmediately": true})).await;

        // Removing its subject and removing one it could not know are answered alike, byte for byte.
        let removed = subject_call(&server, &bank, "/ssf/streams/subjects/remove", json!({"stream_id": stream, "subject": iss_sub(&server, &sub)})).await;
        let stranger = "A".repeat(43);
        let unknown = subject_call(&server, &bank, "/ssf/streams/subjects/remove", json!({"stream_id": stream, "subject": iss_sub(&server, &stranger)})).await;
        assert_eq!(removed.0, 204, "{removed:?}");
        assert_eq!(removed, unknown, "no oracle for whether an identity has an account");
        let again = subject_call(&server, &bank, "/ssf/streams/subjects/remove", json!({"stream_id": stream, "subject": iss_sub(&server, &sub)})).await;
        assert_eq!(again, removed, "removing twice is answered alike");
        // Another relying party cannot add it back to the bank's stream: 404, as a stream that does not exist.
        let (status, body) = server.call(Method::POST, "/ssf/streams/subjects/add", &other.token,
            Some(json!({"stream_id": stream, "subject": iss_sub(&server, &sub)}))).await;
        assert_eq!((status, body["type"].as_str()), (404, Some("urn:dinhdanh:problem:not-found")), "{body}");

        // The holder locks the account: the bank, which removed her, is told nothing; the other bank is.
        let session = server.holder_session(&server.store.account(&account).await.unwrap().unwrap()).await;
        let (status, filed) = server.call(Method::POST, "/v1/lock-requests", &session,
            Some(json!({"ground": "holder_request", "reason": "mất điện thoại"}))).await;
        assert_eq!(status, 201, "{filed}");
        assert_eq!(poll(&server, &bank, json!({"returnImmediately": true})).await["sets"], json!({}), "a removed subject");
        let told = sets(&server, &jwks, &other, &poll(&server, &other, json!({"returnImmediately": true})).await);
        assert_eq!(told.iter().map(|(_, t, _)| t.as_str()).collect::<BTreeSet<_>>(), [DISABLED, SESSION_REVOKED].into());

        // Added back (and adding one it could not know is answered alike): the lift reaches the bank.
        let added = subject_call(&server, &bank, "/ssf/streams/subjects/add", json!({"stream_id": stream, "subject": iss_sub(&server, &sub), "verified": true})).await;
        let added_unknown = subject_call(&server, &bank, "/ssf/streams/subjects/add", json!({"stream_id": stream, "subject": iss_sub(&server, &stranger)})).await;
        assert_eq!(added.0, 200, "{added:?}");
        assert_eq!(added, added_unknown);
        let mut tx = server.store.begin().await.unwrap();
        assert!(tx.lift_lock(filed["lock_id"].as_str().unwrap(), &lift(&server, &account)).await.unwrap());
        tx.commit().await.unwrap();
        let received = sets(&server, &jwks, &bank, &poll(&server, &bank, json!({"returnImmediately": true})).await);
        assert_eq!(received.iter().map(|(_, t, _)| t.as_str()).collect::<Vec<_>>(), [ENABLED]);
        assert_eq!(received[0].2["sub_id"]["sub"], sub.as_str());

        // What is not a subject of this transmitter is refused with the member named, and changes nothing.
        for bad in [
            json!({"stream_id": stream, "subject": {"format": "email", "email": "mai@example.vn"}}),
            json!({"stream_id": stream, "subject": {"format": "iss_sub", "iss": "https://other.example", "sub": sub}}),
            json!({"stream_id": stream}),
            json!({"stream_id": stream, "subject": iss_sub(&server, &sub), "verified": "yes"}),
        ] {
            let (status, body) = server.call(Method::POST, "/ssf/streams/subjects/remove", &bank.token, Some(bad.clone())).await;
            assert_eq!((status, body["type"].as_str()), (400, Some("urn:dinhdanh:problem:invalid-stream")), "{bad}: {body}");
            assert!(["subject", "verified"].contains(&body["errors"][0]["field"].as_str().unwrap_or_default()), "{body}");
        }
        let (status, _) = server.call(Method::POST, "/ssf/streams/subjects/add", &bank.token,
            Some(json!({"stream_id": other_stream, "subject": iss_sub(&server, &sub)}))).await;
        assert_eq!(status, 404, "the other bank's stream");
        let audited: Vec<String> = server.store.recent_audit(None, 200).await.unwrap().iter()
            .filter(|r| r.action.starts_with("ssf.subject.")).map(|r| r.action.clone()).rev().collect();
        assert_eq!(audited, ["ssf.subject.remove", "ssf.subject.remove", "ssf.subject.remove", "ssf.subject.add", "ssf.subject.add"]);
    }

    a_verification_event_arrives_by_poll_and_by_push_with_its_state(db) {
        let server = TestServer::start(&db).await;
        let polled = receiver(&server, "NHA").await;
        let pushed = receiver(&server, "NHB").await;
        let inbox = Inbox::default();
        let endpoint = push_receiver(inbox.clone()).await;
        let (status, _) = server.call(Method::POST, "/ssf/streams", &polled.token, Some(json!({"events_requested": [DISABLED]}))).await;
        assert_eq!(status, 201);
        let (status, _) = server.call(Method::POST, "/ssf/streams", &pushed.token,
            Some(json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": endpoint}}))).await;
        assert_eq!(status, 201);
        let (polled_stream, pushed_stream) = (stream_id(&server, &polled).await, stream_id(&server, &pushed).await);
        let jwks: Value = server.http.get(server.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
        let check = |claims: &Value, rp: &Receiver, stream: &str| {
            assert_eq!((claims["iss"].as_str(), claims["aud"].as_str()), (Some(server.base.as_str()), Some(rp.client_id.as_str())));
            assert_eq!(claims["sub_id"], json!({"format": "opaque", "id": stream}), "the stream is the subject");
            claims["events"][VERIFICATION].clone()
        };

        // Poll: asked with a state, the event carries it back, signed.
        let (status, body) = server.call(Method::POST, "/ssf/streams/verify", &polled.token,
            Some(json!({"stream_id": polled_stream, "state": "trạng-thái-1"}))).await;
        assert_eq!(status, 204, "{body}");
        let answer = poll(&server, &polled, json!({"returnImmediately": true})).await;
        let sets: Vec<(&String, &Value)> = answer["sets"].as_object().unwrap().iter().collect();
        assert_eq!(sets.len(), 1, "{answer}");
        let claims = verified(&jwks, sets[0].1.as_str().unwrap());
        assert_eq!(claims["jti"], sets[0].0.as_str());
        assert_eq!(check(&claims, &polled, &polled_stream), json!({"state": "trạng-thái-1"}));
        // Asked again too soon: 429 with Retry-After, and nothing queued; after the interval, without a state.
        let response = server.http.post(server.url("/ssf/streams/verify")).bearer_auth(&polled.token)
            .json(&json!({"stream_id": polled_stream})).send().await.unwrap();
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()["retry-after"], "10");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["type"], "urn:dinhdanh:problem:too-many-requests");
        let jti = sets[0].0.clone();
        assert_eq!(poll(&server, &polled, json!({"ack": [jti], "returnImmediately": true})).await["sets"], json!({}));
        server.clock.advance(Duration::seconds(10));
        let (status, _) = server.call(Method::POST, "/ssf/streams/verify", &polled.token, Some(json!({"stream_id": polled_stream}))).await;
        assert_eq!(status, 204);
        let answer = poll(&server, &polled, json!({"returnImmediately": true})).await;
        let token = answer["sets"].as_object().unwrap().values().next().unwrap().as_str().unwrap().to_owned();
        assert_eq!(check(&verified(&jwks, &token), &polled, &polled_stream), json!({}), "no state asked, none sent");

        // Not on another's stream, and not with a bad state.
        let (status, body) = server.call(Method::POST, "/ssf/streams/verify", &pushed.token, Some(json!({"stream_id": polled_stream}))).await;
        assert_eq!((status, body["type"].as_str()), (404, Some("urn:dinhdanh:problem:not-found")), "{body}");
        let (status, body) = server.call(Method::POST, "/ssf/streams/verify", &pushed.token, Some(json!({"stream_id": pushed_stream, "state": 7}))).await;
        assert_eq!((status, body["errors"][0]["field"].as_str()), (400, Some("state")), "{body}");

        // Push: the event is POSTed to the receiver with its state.
        let (status, _) = server.call(Method::POST, "/ssf/streams/verify", &pushed.token,
            Some(json!({"stream_id": pushed_stream, "state": "s-2"}))).await;
        assert_eq!(status, 204);
        let http = reqwest::Client::new();
        assert_eq!(dinhdanh_server::service::ssf::deliver_pushes(&server.state, &http).await.unwrap(), 1);
        let delivered = taken(&inbox);
        assert_eq!(delivered.len(), 1);
        assert_eq!(check(&verified(&jwks, &delivered[0]), &pushed, &pushed_stream), json!({"state": "s-2"}));
        assert_eq!(server.store.recent_audit(Some("ssf.stream.verify"), 10).await.unwrap().len(), 3);
    }
}

on_both_backends! {
    a_lock_s_events_leave_at_its_commit_not_at_the_next_tick(db) {
        // The node's delivery ticks once an hour (its first tick is at once): only the lock's commit can wake it.
        let server = TestServer::start(&db).await;
        let account = support::mai(&server).await;
        let bank = receiver(&server, "NHW").await;
        signed_in(&server, &bank, &account).await;
        let inbox = push_stream(&server, &bank, json!([DISABLED])).await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let hour = std::time::Duration::from_secs(3600);
        tokio::spawn(dinhdanh_server::run_event_delivery(server.state.clone(), hour, async move {
            let _ = stopped.await;
        }));
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        assert!(inbox.pushes.lock().unwrap().is_empty(), "nothing to push before the lock");

        let session = server.holder_session(&server.store.account(&account).await.unwrap().unwrap()).await;
        let (status, filed) = server.call(Method::POST, "/v1/lock-requests", &session,
            Some(json!({"ground": "holder_request", "reason": "mất điện thoại"}))).await;
        assert_eq!(status, 201, "{filed}");
        for _ in 0..600 {
            if !taken(&inbox).is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        let jwks: Value = server.http.get(server.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
        let delivered = taken(&inbox);
        assert_eq!(delivered.len(), 1, "the lock's account-disabled, pushed within the hour's tick");
        let claims = verified(&jwks, &delivered[0]);
        assert!(claims["events"].get(DISABLED).is_some(), "{claims}");
        assert_eq!(claims["txn"], filed["id"], "{claims}");
        drop(stop);
    }
}

on_both_backends! {
    more_events_than_one_fan_out_batch_leave_in_one_delivery_run(db) {
        // 600 locks, more than one fan-out batch (500 feed events): one run of the delivery pushes them all, in
        // the order of the feed, without waiting for another tick.
        const HOLDERS: usize = 600;
        let server = TestServer::start(&db).await;
        let bank = receiver(&server, "NHV").await;
        let now = server.clock.now();
        let provinces = dinhdanh_domain::ProvinceTable::builtin();
        let accounts: Vec<dinhdanh_domain::Account> = (0..HOLDERS)
            .map(|i| {
                let number = dinhdanh_domain::IdentificationNumber::parse(&format!("001090{i:06}"), &provinces).unwrap();
                dinhdanh_domain::Account {
                    id: AccountId::new(format!("acct-{i:04}")),
                    identity_key: dinhdanh_domain::IdentityKey::citizen(&number),
                    holder_kind: dinhdanh_domain::account::HolderKind::Citizen,
                    full_name: dinhdanh_domain::FullName::parse("Nguyễn Văn Hùng").unwrap(),
                    level: Level::One,
                    status: dinhdanh_domain::AccountStatus::Active,
                    phone: None,
                    email: None,
                    password_hash: "unused".into(),
                    created_at: now,
                    activated_at: Some(now),
                }
            })
            .collect();
        let mut tx = server.store.begin().await.unwrap();
        tx.insert_accounts_batch(&accounts).await.unwrap();
        tx.commit().await.unwrap();
        let inbox = push_stream(&server, &bank, json!([DISABLED])).await;
        let mut txns = Vec::new();
        for account in &accounts {
            signed_in(&server, &bank, &account.id).await;
            let lock = support::holder_lock(&server, &account.id);
            txns.push(lock.id.clone());
            let mut tx = server.store.begin().await.unwrap();
            tx.insert_lock(&lock).await.unwrap();
            tx.commit().await.unwrap();
        }

        let http = reqwest::Client::new();
        let delivered = dinhdanh_server::service::ssf::deliver_pushes(&server.state, &http).await.unwrap();
        assert_eq!(delivered, HOLDERS, "one run of the delivery");
        let pushed: Vec<String> = taken(&inbox)
            .iter()
            .map(|set| {
                let claims: Value =
                    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(set.split('.').nth(1).unwrap()).unwrap()).unwrap();
                claims["txn"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(pushed, txns, "each lock's account-disabled once, in the order of the locks");
    }
}
