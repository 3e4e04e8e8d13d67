//! Nothing committed is lost to a crash (issue 17, docs/events.md): the real `dinhdanh serve` binary, on SQLite
//! and on PostgreSQL, answers a holder's lock and is killed with SIGKILL at once, before its receiver (not
//! listening yet) could take a push. Restarted on the same database with the receiver up, it pushes the lock's
//! `account-disabled` and `session-revoked`, each exactly once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::actor::{OrganizationKind, Scope};
use dinhdanh_domain::client::{ApiClient, ClientAuthMethod, ClientStatus};
use dinhdanh_domain::{
    Account, AccountId, AccountStatus, FullName, IdentificationNumber, IdentityKey, Level, PhoneNumber, ProvinceTable,
};
use dinhdanh_server::secrets::new_token;
use dinhdanh_store::Store;
use dinhdanh_store::testing::TestDb;
use serde_json::{Value, json};

mod support;
use support::{free_port, organization, serve};

const DISABLED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
const SESSION_REVOKED: &str = "https://schemas.openid.net/secevent/caep/event-type/session-revoked";

struct Cast {
    /// The relying party's client-credentials token with `ssf:streams`.
    relying_party: String,
    /// The holder's session.
    holder: String,
}

/// A relying party (API client, registration) that signed the holder in, and the holder with a live session,
/// written straight to the database.
async fn seed(store: &Store) -> Cast {
    let now = Utc::now();
    let later = now + chrono::Duration::hours(8);
    let bank = organization("NHA", OrganizationKind::RelyingParty);
    let scopes = [Scope::SsfStreams].into_iter().collect();
    let client = ApiClient {
        id: "client-nha".into(),
        organization_id: bank.id.clone(),
        name: "Ngân hàng A".into(),
        auth_method: ClientAuthMethod::ClientSecret,
        scopes,
        status: ClientStatus::Active,
        created_at: now,
        revoked_at: None,
    };
    let registration = dinhdanh_oidc::client::ClientRegistration {
        client_id: client.id.clone(),
        redirect_uris: vec!["https://nha.example.vn/cb".into()],
        post_logout_redirect_uris: Vec::new(),
        scopes: [dinhdanh_oidc::scope::Scope::OpenId].into(),
        claims: Default::default(),
        subject_type: dinhdanh_oidc::subject::SubjectType::Pairwise,
        sector_identifier: None,
        require_pushed_authorization_requests: false,
        token_endpoint_auth_method: ClientAuthMethod::ClientSecret,
    };
    let id = IdentificationNumber::parse("001190123456", &ProvinceTable::builtin()).unwrap();
    let account = Account {
        id: AccountId::new("acct-mai".to_owned()),
        identity_key: IdentityKey::citizen(&id),
        holder_kind: HolderKind::Citizen,
        full_name: FullName::parse("Trần Thị Mai").unwrap(),
        level: Level::One,
        status: AccountStatus::Active,
        phone: Some(PhoneNumber::parse("0912345678").unwrap()),
        email: None,
        password_hash: "unused".into(),
        created_at: now,
        activated_at: Some(now),
    };
    let grant = dinhdanh_oidc::tokens::Grant {
        id: "grant-1".into(),
        client_id: client.id.clone(),
        account_id: account.id.clone(),
        scopes: [dinhdanh_oidc::scope::Scope::OpenId].into(),
        claims: Default::default(),
        id_token_claims: Default::default(),
        acr: Level::One,
        amr: vec!["pwd".into(), "otp".into()],
        auth_time: now,
    };
    let (relying_party, client_hash) = new_token(dinhdanh_server::auth::ACCESS_TOKEN_PREFIX);
    let (holder, holder_hash) = new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
    let mut tx = store.begin().await.unwrap();
    tx.insert_organization(&bank).await.unwrap();
    tx.insert_api_client(&client).await.unwrap();
    tx.insert_access_token(&client_hash, &client.id, &client.scopes, now, later).await.unwrap();
    tx.upsert_oidc_client(&registration, now).await.unwrap();
    tx.insert_account(&account).await.unwrap();
    tx.insert_holder_session(&holder_hash, &account.id, Level::One, false, now, later).await.unwrap();
    tx.insert_oidc_grant(&grant, "a-session-hash", now).await.unwrap();
    tx.commit().await.unwrap();
    Cast { relying_party, holder }
}

/// The events a receiver on `port` takes, by `jti`, each with its type and how many times it came.
type Taken = Arc<Mutex<BTreeMap<String, (String, usize)>>>;

async fn receiver(port: u16, taken: Taken) {
    async fn take(axum::extract::State(taken): axum::extract::State<Taken>, body: String) -> axum::http::StatusCode {
        let claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body.split('.').nth(1).unwrap()).unwrap()).unwrap();
        let event = claims["events"].as_object().unwrap().keys().next().unwrap().clone();
        let jti = claims["jti"].as_str().unwrap().to_owned();
        taken.lock().unwrap().entry(jti).or_insert((event, 0)).1 += 1;
        axum::http::StatusCode::ACCEPTED
    }
    let app = axum::Router::new().route("/events", axum::routing::post(take)).with_state(taken);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
}

async fn killed_after_the_lock(db: TestDb) {
    let store = db.store().await;
    let cast = seed(&store).await;
    let dir = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (mut server, base) = serve(&db.url, Some(dir.path())).await;

    // The relying party's push stream, to a receiver that is not listening yet.
    let port = free_port();
    let stream = json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": format!("http://127.0.0.1:{port}/events")},
        "events_requested": [DISABLED, SESSION_REVOKED]});
    let response = http.post(format!("{base}/ssf/streams")).bearer_auth(&cast.relying_party).json(&stream).send().await;
    assert_eq!(response.unwrap().status(), 201);

    // The holder's lock is answered; the server is killed at once.
    let lock = json!({"ground": "holder_request", "reason": "mất điện thoại"});
    let response = http.post(format!("{base}/v1/lock-requests")).bearer_auth(&cast.holder).json(&lock).send().await;
    assert_eq!(response.unwrap().status(), 201);
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();

    let taken = Taken::default();
    receiver(port, taken.clone()).await;
    let (mut server, _) = serve(&db.url, Some(dir.path())).await;
    for _ in 0..600 {
        if taken.lock().unwrap().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Time for a second push of either, were there one.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let taken = taken.lock().unwrap().clone();
    server.kill().unwrap();
    server.wait().unwrap();
    let mut events: Vec<(&str, usize)> = taken.values().map(|(event, times)| (event.as_str(), *times)).collect();
    events.sort();
    assert_eq!(events, vec![(SESSION_REVOKED, 1), (DISABLED, 1)], "each event once, after the restart: {taken:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_lock_s_events_survive_a_kill_before_the_push() {
    killed_after_the_lock(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_lock_s_events_survive_a_kill_before_the_push() {
    killed_after_the_lock(TestDb::postgres().await).await;
}
