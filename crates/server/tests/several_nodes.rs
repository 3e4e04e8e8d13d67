//! Several `dinhdanh serve` nodes on one PostgreSQL database (issue 17, docs/scaling.md): each node here has a
//! store of its own (another connection name, so nothing in memory is shared and a node hears the other's
//! commits only through `NOTIFY`, as on two machines).
//! - A lock answered by node A is refused by node B on its very next request: introspection, userinfo, a
//!   refresh, and a sign-in through B's pages, although B had just served those tokens from its memory.
//! - Two nodes delivering the same push stream at once: every event reaches the receiver exactly once, in the
//!   order of the stream's queue.
//! - With two nodes up, each scheduled job runs once in its period, whichever node ticks first.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dinhdanh_domain::actor::{OrganizationKind, Scope};
use dinhdanh_store::testing::TestDb;
use openidconnect::OAuth2TokenResponse;
use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::browser::Browser;
use support::oidc::{
    active, discover, exchange, grant_of, relying_party, sign_in_through_pages, start_offline, userinfo_status,
};
use support::{MAI_ID, MAI_PASSWORD, TestServer};

/// Node A, and node B configured as A is (the same seal and TOTP keys, as every node of a deployment must be,
/// docs/scaling.md), with A's issuer (behind one load balancer both would have the public one).
async fn two_nodes(db: &TestDb) -> (TestServer, TestServer) {
    let a = TestServer::start(db).await;
    let mut config = (*a.state.config).clone();
    config.oidc_issuer = Some(a.base.clone());
    let b = TestServer::another_node(db, "dinhdanh-node-b", config).await;
    (a, b)
}

/// Stops the background loops a test started when it is dropped.
struct Loops(Vec<tokio::sync::oneshot::Sender<()>>);

impl Loops {
    fn stop_signal(&mut self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        self.0.push(stop);
        async move {
            let _ = stopped.await;
        }
    }
}

async fn refresh_status(node: &TestServer, client_id: &str, secret: &str, refresh: &str) -> (u16, Value) {
    let response = node
        .http
        .post(node.url("/oauth/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", refresh)])
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_through_node_a_is_refused_by_node_b_at_once() {
    let db = TestDb::postgres().await;
    let (a, b) = two_nodes(&db).await;
    let rp = relying_party(&a, "NHA").await;
    let mai = support::mai(&a).await;
    let client = discover(&a, &rp).await;
    let started = start_offline(&client);
    let mut browser = Browser::new();
    let location = sign_in_through_pages(&a, &mut browser, &started.url).await;
    let tokens = exchange(&client, &location, started.verifier).await;
    let access = tokens.access_token().secret().clone();

    // B serves what A issued, and from its own memory after the first time: a refresh through B works, and its
    // introspection and userinfo say yes, again and again.
    let (status, refreshed) =
        refresh_status(&b, &rp.client_id, &rp.secret, tokens.refresh_token().unwrap().secret()).await;
    assert_eq!(status, 200, "{refreshed}");
    let refresh = refreshed["refresh_token"].as_str().unwrap().to_owned();
    let (introspect_b, userinfo_b) = (b.url("/oauth/introspect"), b.url("/oauth/userinfo"));
    for _ in 0..5 {
        assert!(active(&b.http, &introspect_b, &rp, &access).await);
        assert_eq!(userinfo_status(&b.http, &userinfo_b, &access).await, 200);
    }

    // The holder locks their account through node A's API.
    let session = a.holder_session(&a.store.account(&mai).await.unwrap().unwrap()).await;
    let (status, filed) = a
        .call(
            Method::POST,
            "/v1/lock-requests",
            &session,
            Some(json!({"ground": "holder_request", "reason": "mất điện thoại"})),
        )
        .await;
    assert_eq!(status, 201, "{filed}");

    // B's very next requests.
    assert!(!active(&b.http, &introspect_b, &rp, &access).await, "introspection through B, at once");
    assert_eq!(userinfo_status(&b.http, &userinfo_b, &access).await, 401, "userinfo through B");
    let (status, answer) = refresh_status(&b, &rp.client_id, &rp.secret, &refresh).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("invalid_grant")), "a refresh through B: {answer}");
    // A sign-in through B's pages, in the browser that signed in at A (its cookie goes to B too, the same host):
    // the provider session the lock ended is not honoured, and the right password meets the lock.
    let url = client_url_on(&started.url, &a, &b);
    let page = browser.get(&url).await;
    assert_eq!(page.status, 200, "the sign-in page, not a code: {}", page.html);
    let (interaction, csrf) = (page.field("interaction"), page.field("csrf"));
    let form =
        [("interaction", interaction.as_str()), ("csrf", &csrf), ("id_number", MAI_ID), ("password", MAI_PASSWORD)];
    let page = browser.post(&b.url("/oauth/authorize/password"), &form).await;
    assert_eq!(page.status, 403, "{}", page.html);
    assert!(page.html.contains("Tài khoản đang bị khoá"), "{}", page.html);
}

/// The relying party's authorization URL, sent to node `b` instead of `a`.
fn client_url_on(url: &str, a: &TestServer, b: &TestServer) -> String {
    let fresh = url.replacen(&a.base, &b.base, 1);
    assert_ne!(fresh, url, "the authorization URL names node A");
    fresh
}

/// What the push receiver took, in the order it took it.
#[derive(Clone, Default)]
struct Inbox(Arc<Mutex<Vec<String>>>);

async fn receiver(inbox: Inbox) -> String {
    async fn take(axum::extract::State(inbox): axum::extract::State<Inbox>, body: String) -> axum::http::StatusCode {
        // A receiver that is slow to answer, so that both nodes' workers are busy at once.
        tokio::time::sleep(Duration::from_millis(5)).await;
        let claims = body.split('.').nth(1).expect("a compact JWS");
        let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
        inbox.0.lock().unwrap().push(claims["jti"].as_str().unwrap().to_owned());
        axum::http::StatusCode::ACCEPTED
    }
    let app = axum::Router::new().route("/events", axum::routing::post(take)).with_state(inbox);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_push_each_event_once_in_order() {
    const HOLDERS: usize = 12;
    let db = TestDb::postgres().await;
    let (a, b) = two_nodes(&db).await;
    let (org, token) = a.organization_token("NHD", OrganizationKind::RelyingParty, &[Scope::SsfStreams]).await;
    let client_id = a.store.api_clients_of_organization(&org.id).await.unwrap()[0].id.clone();
    let admin = a.admin().await;
    let registration = json!({"redirect_uris": ["https://nhd.example.vn/cb"], "scopes": ["openid"]});
    let (status, saved) =
        a.call(Method::PUT, &format!("/v1/clients/{client_id}/oidc"), &admin, Some(registration)).await;
    assert_eq!(status, 200, "{saved}");
    let inbox = Inbox::default();
    let endpoint = receiver(inbox.clone()).await;
    let stream = json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": endpoint},
        "events_requested": ["https://schemas.openid.net/secevent/risc/event-type/account-disabled",
                             "https://schemas.openid.net/secevent/caep/event-type/session-revoked"]});
    let (status, created) = a.call(Method::POST, "/ssf/streams", &token, Some(stream)).await;
    assert_eq!(status, 201, "{created}");

    // Both nodes deliver, each as `dinhdanh serve` does, every 10 ms.
    let mut loops = Loops(Vec::new());
    for node in [&a, &b] {
        let stop = loops.stop_signal();
        tokio::spawn(dinhdanh_server::run_event_delivery(node.state.clone(), Duration::from_millis(10), stop));
    }
    // Locks through both nodes while they deliver: each a `disabled` and a `session-revoked`.
    for i in 0..HOLDERS {
        let node = if i % 2 == 0 { &a } else { &b };
        let account = support::citizen(node, &format!("0011901{i:05}")).await;
        grant_of(node, &client_id, &account).await;
        support::lock(node, &account).await;
    }
    let expected = 2 * HOLDERS;
    for _ in 0..600 {
        if inbox.0.lock().unwrap().len() >= expected {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Some time for a second delivery to show, if there were one.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let taken = inbox.0.lock().unwrap().clone();
    assert_eq!(taken.len(), expected, "every event once, none twice: {taken:?}");
    let queued: Vec<String> =
        sqlx::query_scalar("SELECT jti FROM ssf_events ORDER BY id").fetch_all(&pg(&db).await).await.unwrap();
    assert_eq!(taken, queued, "in the order of the stream's queue");
    drop(loops);
}

async fn pg(db: &TestDb) -> sqlx::PgPool {
    sqlx::PgPool::connect(&db.url).await.unwrap()
}

async fn job_row(db: &TestDb, name: &str) -> Option<(i64, i64, bool)> {
    sqlx::query_as::<_, (i64, i64, bool)>(
        "SELECT runs, attempts, finished_at IS NOT NULL FROM scheduled_jobs WHERE name = $1",
    )
    .bind(name)
    .fetch_optional(&pg(db).await)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_two_nodes_up_each_scheduled_job_runs_once_a_period() {
    let db = TestDb::postgres().await;
    let (a, b) = two_nodes(&db).await;
    let hour = Duration::from_secs(3600);
    // Both nodes start their jobs as `dinhdanh serve` does (a tick at once, then every hour).
    let mut loops = Loops(Vec::new());
    for node in [&a, &b] {
        tokio::spawn(dinhdanh_server::run_purge(node.state.clone(), hour, loops.stop_signal()));
        tokio::spawn(dinhdanh_server::run_background_jobs(node.state.clone(), hour, loops.stop_signal()));
    }
    for job in ["purge", "automatic-locks"] {
        let mut seen = None;
        for _ in 0..600 {
            seen = job_row(&db, job).await;
            if seen.is_some_and(|(_, attempts, finished)| attempts >= 2 && finished) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(seen, Some((1, 2, true)), "{job}: both nodes asked, one ran, and it finished");
    }

    // An hour on (both clocks), the next tick of either node runs each job once more.
    a.clock.advance(chrono::Duration::hours(1));
    b.clock.advance(chrono::Duration::hours(1));
    let (first, second) = tokio::join!(
        dinhdanh_server::service::jobs::run_scheduled(
            &a.state,
            dinhdanh_server::service::jobs::Job::Purge,
            hour,
            async { Ok(()) }
        ),
        dinhdanh_server::service::jobs::run_scheduled(
            &b.state,
            dinhdanh_server::service::jobs::Job::Purge,
            hour,
            async { Ok(()) }
        ),
    );
    let ran = [first.unwrap(), second.unwrap()].iter().filter(|r| r.is_some()).count();
    assert_eq!(ran, 1, "two nodes asking at the same instant: one runs");
    assert_eq!(job_row(&db, "purge").await, Some((2, 4, true)));
    drop(loops);
}
