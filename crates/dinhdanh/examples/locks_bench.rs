//! The lock benchmarks' client (run by `bench/locks_self_lock.sh` and `bench/locks_bulk.sh` against a running
//! `dinhdanh serve`): it writes its fixtures straight to the server's database, then measures over HTTP.
//!
//!   locks_bench self-lock --db URL --base http://127.0.0.1:8080 --holders 2000 --concurrency 8
//!   locks_bench bulk --db URL --base http://127.0.0.1:8080 --accounts 10000
//!
//! `self-lock`: each holder locks their own account once (`POST /v1/lock-requests`, effective at once); the
//! latency is from sending the request to receiving the answer, which the server sends after the commit of the
//! lock, the revocation of the sessions, the notices and the audit entries. Half the holders go one at a time,
//! the other half from `--concurrency` clients at once. Requests come from many loopback addresses (127.0.x.y),
//! 100 per address, so that the per-IP API rate limit (1,200 a minute) does not throttle the benchmark.
//!
//! `bulk`: files one order naming `--accounts` accounts, has a reviewer claim and forward it, and times the
//! supervisor's approval, which applies the whole order in one transaction.
//!
//! `side-by-side-setup` (for `bench/side_by_side.sh`): writes the fixtures of the wrk runs straight to the
//! database and their credentials to files in `--out`: an organization's access token (`me_token`), a
//! `client_secret` client's HTTP Basic header (`secret_basic`), holders' session tokens for the warm-up and the
//! measured self-lock runs (`holders_warm.txt`, `holders.txt`, one per line), two sessions of one more holder
//! (`check_holder`), and ES256 client assertions of a `private_key_jwt` client, each with its own `jti`
//! (`assertions_warm.txt`, `assertions.txt`), signed with the P-256 key in `--ec-key` (PKCS#8 PEM).
//!
//! For sign-ins, `--sign-in-sets` sets of `--sign-ins` holders whose password is `SIGN_IN_PASSWORD`
//! (`sign_ins_K.txt`: their identification numbers) and as many sets of other holders with a sign-in challenge
//! already sent whose code is `SIGN_IN_CODE` (`codes_K.txt`: the challenges' ids).
//!
//! For registrations, as many sets of citizens in the population registry with no account yet
//! (`registrations_K.txt`: their identification numbers; full name `Nguyễn Văn Hùng`, male, born 1990-01-01).
//!
//! For the OpenID Connect provider (issue 14; see [`provider_fixtures`]): a relying party (`rp_basic`,
//! `rp_client`), `--introspect-tokens` live access tokens of it (`introspect_tokens.txt`) and a holder for the
//! mid-run lock check (`introspect_check`), and sets of holders for `examples/code_flows.rs` (`code_flows_K.txt`).
//!
//! `events` (issue 17, `bench/events.sh`): holders lock their accounts one after another; a relying party that
//! signed them all in has a push stream to a receiver served by this process; the time from each lock's answer
//! to its `account-disabled` SET. `bulk --events`: the same receiver, and when the last SET of the order arrived.
//!
//! `argon2-bench`: times one argon2id hash with the server's parameters (the argon2id bound of sign-ins).
//!
//! `verify-bench`: times one ES256 verification with the library the server uses (jsonwebtoken), as the token
//! endpoint checks a client assertion.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::{Parser, Subcommand};
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind, OrganizationStatus, Scope};
use dinhdanh_domain::client::{ApiClient, ClientAuthMethod, ClientCredential, ClientStatus, CredentialKind};
use dinhdanh_domain::officer::{Officer, OfficerStatus};
use dinhdanh_domain::organization::Organization;
use dinhdanh_domain::{
    Account, AccountId, AccountStatus, Email, FullName, IdentificationNumber, IdentityKey, Level, PhoneNumber,
    ProvinceTable,
};
use dinhdanh_server::secrets::new_token;
use dinhdanh_store::Store;
use serde_json::{Value, json};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    SelfLock {
        #[arg(long)]
        db: String,
        #[arg(long)]
        base: String,
        #[arg(long, default_value_t = 2000)]
        holders: usize,
        #[arg(long, default_value_t = 8)]
        concurrency: usize,
    },
    Bulk {
        #[arg(long)]
        db: String,
        #[arg(long)]
        base: String,
        #[arg(long, default_value_t = 10_000)]
        accounts: usize,
        /// Refresh the planner's statistics (`ANALYZE`) after the accounts are created and the order filed, just
        /// before the approval: without it the tables' statistics are whatever autovacuum last saw.
        #[arg(long)]
        analyze: bool,
        /// Issue 17: a relying party that signed every account in has a push stream to a receiver in this
        /// process; reports when the last `account-disabled` SET arrived after the approval's answer.
        #[arg(long)]
        events: bool,
    },
    /// Issue 17: a relying party that signed every holder in has a push stream to a receiver in this process;
    /// `--holders` holders lock their own accounts one after another, each waiting for its `account-disabled`
    /// SET: the time from the lock's answer (sent after its commit) to the SET's arrival, p50 and p99.
    Events {
        #[arg(long)]
        db: String,
        #[arg(long)]
        base: String,
        #[arg(long, default_value_t = 500)]
        holders: usize,
    },
    SideBySideSetup(SetupArgs),
    /// Times one argon2id hash of a secret with the server's parameters and workers (a verification costs the
    /// same: it recomputes the hash).
    Argon2Bench {
        #[arg(long, default_value_t = 40)]
        iterations: usize,
    },
    VerifyBench {
        #[arg(long)]
        ec_key: std::path::PathBuf,
        #[arg(long, default_value_t = 20_000)]
        iterations: usize,
    },
}

/// `side-by-side-setup`'s fixtures: how many of each.
#[derive(clap::Args)]
struct SetupArgs {
    #[arg(long)]
    db: String,
    /// Where the credentials files go.
    #[arg(long)]
    out: std::path::PathBuf,
    /// The `aud` of the client assertions: the token endpoint's URL as the client reaches it.
    #[arg(long)]
    audience: String,
    /// The `private_key_jwt` client's P-256 private key (PKCS#8 PEM).
    #[arg(long)]
    ec_key: std::path::PathBuf,
    #[arg(long, default_value_t = 10_000)]
    warm_holders: usize,
    #[arg(long, default_value_t = 40_000)]
    holders: usize,
    #[arg(long, default_value_t = 20_000)]
    warm_assertions: usize,
    #[arg(long, default_value_t = 100_000)]
    assertions: usize,
    /// How many sets of sign-in fixtures (each used by one wrk run: a warm-up or a measured run).
    #[arg(long, default_value_t = 4)]
    sign_in_sets: usize,
    #[arg(long, default_value_t = 2_000)]
    sign_ins: usize,
    /// The provider's issuer identifier, as the server is configured with it (`[oidc] issuer`): the `iss` of the
    /// introspection fixtures' access tokens. Needed with `--introspect-tokens`.
    #[arg(long)]
    issuer: Option<String>,
    /// How many live access tokens of the relying party to write (`introspect_tokens.txt`): grants and `jti` rows
    /// straight into the database, the JWTs signed with the provider's current key.
    #[arg(long, default_value_t = 0)]
    introspect_tokens: usize,
    /// Access tokens per grant (one grant per holder), as refreshes would leave them.
    #[arg(long, default_value_t = 4)]
    tokens_per_grant: usize,
    /// How many holders in each set of code-flow fixtures (`code_flows_K.txt`, each set used by one run of
    /// `examples/code_flows.rs`, each holder signing in once).
    #[arg(long, default_value_t = 0)]
    code_flow_holders: usize,
    #[arg(long, default_value_t = 2)]
    code_flow_sets: usize,
    /// Leave the code-flow holders without a consent to the relying party, so that every flow passes the
    /// consent page; by default they consented before (a remembered consent covers the request).
    #[arg(long)]
    code_flow_ask_consent: bool,
}

/// An active organization, made now.
fn organization(id: String, code: String, name: &str, kind: OrganizationKind) -> Organization {
    let now = Utc::now();
    Organization {
        id,
        code,
        name: name.into(),
        kind,
        parent_id: None,
        status: OrganizationStatus::Active,
        contact_email: None,
        contact_phone: None,
        created_at: now,
        updated_at: now,
    }
}

/// A run tag, so that fixtures of several runs on one database do not collide.
fn tag() -> u32 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() % 900_000) as u32
}

/// `n` active accounts with one live session each; returns the accounts and the sessions' tokens.
async fn holders(store: &Store, run: u32, n: usize) -> Result<(Vec<Account>, Vec<String>)> {
    holders_with_password(store, run, n, "unused").await
}

/// [`holders`], each account with `password_hash` as its password's hash.
async fn holders_with_password(
    store: &Store,
    run: u32,
    n: usize,
    password_hash: &str,
) -> Result<(Vec<Account>, Vec<String>)> {
    let now = Utc::now();
    let provinces = ProvinceTable::builtin();
    // Identification numbers: province 001, a man born in 1990 (digit 0, year 90); the run tag keeps them apart.
    let accounts: Vec<Account> = (0..n)
        .map(|i| {
            let number = format!("001090{:06}", (run as usize * 1000 + i) % 1_000_000);
            Account {
                id: AccountId::new(format!("bench-{run}-{i}")),
                identity_key: IdentityKey::citizen(&IdentificationNumber::parse(&number, &provinces).unwrap()),
                holder_kind: HolderKind::Citizen,
                full_name: FullName::parse("Nguyễn Văn Hùng").unwrap(),
                level: Level::One,
                status: AccountStatus::Active,
                phone: Some(PhoneNumber::parse(&format!("09{:08}", i)).unwrap()),
                email: Some(Email::parse(&format!("holder{i}@example.vn")).unwrap()),
                password_hash: password_hash.into(),
                created_at: now,
                activated_at: Some(now),
            }
        })
        .collect();
    let mut tokens = Vec::with_capacity(n);
    let mut sessions = Vec::with_capacity(n);
    for a in &accounts {
        let (token, hash) = new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
        tokens.push(token);
        sessions.push((hash, a.id.clone(), a.level));
    }
    let mut tx = store.begin().await?;
    tx.insert_accounts_batch(&accounts).await?;
    tx.insert_holder_sessions_batch(&sessions, now, now + chrono::Duration::hours(8)).await?;
    tx.commit().await?;
    Ok((accounts, tokens))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn report(label: &str, mut latencies: Vec<Duration>, wall: Duration) {
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{label}: {} requests, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, {:.0} requests/s",
        latencies.len(),
        ms(percentile(&latencies, 0.50)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap()),
        latencies.len() as f64 / wall.as_secs_f64()
    );
}

/// An HTTP client sending from loopback address number `k` (127.0.x.y, never 127.0.0.1).
fn client_from(k: usize) -> reqwest::Client {
    let k = k + 2;
    let address = Ipv4Addr::new(127, 0, (k / 250) as u8, (k % 250 + 2) as u8);
    reqwest::Client::builder().local_address(IpAddr::V4(address)).build().unwrap()
}

async fn self_lock(client: &reqwest::Client, base: &str, token: &str) -> Result<Duration> {
    let started = Instant::now();
    let response = client
        .post(format!("{base}/v1/lock-requests"))
        .bearer_auth(token)
        .json(&json!({"reason": "mất điện thoại / lost phone"}))
        .send()
        .await?;
    let status = response.status();
    let body: Value = response.json().await?;
    let elapsed = started.elapsed();
    if status != 201 || body["status"] != "effective" {
        bail!("self-lock answered {status}: {body}");
    }
    Ok(elapsed)
}

async fn run_self_lock(db: &str, base: &str, n: usize, concurrency: usize) -> Result<()> {
    let store = Store::connect(db).await?;
    let run = tag();
    let (accounts, tokens) = holders(&store, run, n).await?;
    let half = n / 2;
    let clients: Vec<reqwest::Client> = (0..n.div_ceil(100)).map(client_from).collect();
    // Warm-up: a few requests that are not counted (connections, statement caches).
    for (i, token) in tokens.iter().take(10).enumerate() {
        self_lock(&clients[i / 100], base, token).await?;
    }
    let started = Instant::now();
    let mut sequential = Vec::with_capacity(half);
    for (i, token) in tokens.iter().enumerate().take(half).skip(10) {
        sequential.push(self_lock(&clients[i / 100], base, token).await?);
    }
    report("sequential", sequential, started.elapsed());

    let next = Arc::new(AtomicUsize::new(half));
    let tokens = Arc::new(tokens);
    let clients = Arc::new(clients);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let (next, tokens, clients, base) = (next.clone(), tokens.clone(), clients.clone(), base.to_owned());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= tokens.len() {
                    return Ok::<_, anyhow::Error>(latencies);
                }
                latencies.push(self_lock(&clients[i / 100], &base, &tokens[i]).await?);
            }
        }));
    }
    let mut concurrent = Vec::new();
    for worker in workers {
        concurrent.extend(worker.await??);
    }
    report(&format!("concurrency {concurrency}"), concurrent, started.elapsed());
    // Every answered lock is committed and in force.
    let now = Utc::now();
    let mut locked = 0;
    for account in accounts.iter().step_by(97) {
        locked += usize::from(!store.active_locks(&account.id, now).await?.is_empty());
    }
    println!("checked: {locked} of {} sampled accounts locked", accounts.iter().step_by(97).count());
    Ok(())
}

async fn run_bulk(db: &str, base: &str, n: usize, analyze: bool, events: bool) -> Result<()> {
    let store = Store::connect(db).await?;
    let run = tag();
    let now = Utc::now();
    let later = now + chrono::Duration::hours(8);
    let org = |code: String, kind| organization(format!("org-{code}"), code.clone(), &code, kind);
    let authority = org(format!("CSDT-{run}"), OrganizationKind::ProsecutingAgency);
    let operator = org(format!("C06-{run}"), OrganizationKind::Operator);
    let scopes: BTreeSet<Scope> = [Scope::LocksRequest].into_iter().collect();
    let client = ApiClient {
        id: format!("client-{run}"),
        organization_id: authority.id.clone(),
        name: "bench".into(),
        auth_method: ClientAuthMethod::ClientSecret,
        scopes: scopes.clone(),
        status: ClientStatus::Active,
        created_at: now,
        revoked_at: None,
    };
    let officer = |role: OfficerRole| Officer {
        id: format!("{}-{run}", role.as_str()),
        username: format!("{}-{run}", role.as_str()),
        full_name: "Phạm Minh Tuấn".into(),
        organization_id: operator.id.clone(),
        roles: [role].into_iter().collect(),
        status: OfficerStatus::Active,
        password_hash: None,
        totp_secret: None,
        totp_last_step: None,
        enrolment_token_hash: None,
        enrolment_expires_at: None,
        failed_sign_ins: 0,
        locked_until: None,
        created_at: now,
        updated_at: now,
    };
    let (reviewer, supervisor) = (officer(OfficerRole::Reviewer), officer(OfficerRole::Supervisor));
    let (authority_token, authority_hash) = new_token(dinhdanh_server::auth::ACCESS_TOKEN_PREFIX);
    let (reviewer_token, reviewer_hash) = new_token(dinhdanh_server::auth::OFFICER_SESSION_PREFIX);
    let (supervisor_token, supervisor_hash) = new_token(dinhdanh_server::auth::OFFICER_SESSION_PREFIX);
    let mut tx = store.begin().await?;
    tx.insert_organization(&authority).await?;
    tx.insert_organization(&operator).await?;
    tx.insert_api_client(&client).await?;
    tx.insert_access_token(&authority_hash, &client.id, &scopes, now, later).await?;
    tx.insert_officer(&reviewer).await?;
    tx.insert_officer(&supervisor).await?;
    tx.insert_officer_session(&reviewer_hash, &reviewer.id, now, later).await?;
    tx.insert_officer_session(&supervisor_hash, &supervisor.id, now, later).await?;
    tx.commit().await?;
    let (accounts, _) = holders(&store, run, n).await?;
    let receiver = match events {
        true => Some(EventReceiver::start(&store, base, run, &accounts).await?),
        false => None,
    };

    let http = reqwest::Client::builder().timeout(Duration::from_secs(600)).build()?;
    let entries: Vec<Value> =
        accounts.iter().map(|a| json!({"id_number": a.identity_key.as_str().trim_start_matches("CID:")})).collect();
    let order = json!({"ground": "authority_request", "reason": "bench", "accounts": entries,
        "legal_basis": {"document_kind": "Quyết định", "number": "1/QĐ", "issued_on": "2025-01-02",
                        "issuing_body": "Cơ quan CSĐT", "signer": "Nguyễn Văn A"}});
    let post = |path: String, token: String, body: Value| {
        let http = http.clone();
        async move {
            let response = http.post(format!("{base}{path}")).bearer_auth(token).json(&body).send().await?;
            let status = response.status().as_u16();
            let body: Value = response.json().await?;
            Ok::<_, anyhow::Error>((status, body))
        }
    };
    let started = Instant::now();
    let (status, filed) = post("/v1/bulk-lock-orders".into(), authority_token.clone(), order).await?;
    let filing = started.elapsed();
    if status != 201 || filed["summary"]["pending"] != n as i64 {
        bail!("filing answered {status}: {}", filed.to_string().chars().take(500).collect::<String>());
    }
    let id = filed["id"].as_str().context("order id")?.to_owned();
    for step in ["claim", "forward"] {
        let (status, body) = post(format!("/v1/requests/{id}/{step}"), reviewer_token.clone(), json!({})).await?;
        if status != 200 {
            bail!("{step} answered {status}: {body}");
        }
    }
    if analyze {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(db).await?;
        sqlx::query("ANALYZE").execute(&pool).await?;
        pool.close().await;
    }
    let started = Instant::now();
    let (status, approved) =
        post(format!("/v1/requests/{id}/decision"), supervisor_token, json!({"decision": "approve"})).await?;
    let approval = started.elapsed();
    if status != 200 || approved["status"] != "effective" {
        bail!("approval answered {status}: {approved}");
    }
    let response = http.get(format!("{base}/v1/bulk-lock-orders/{id}")).bearer_auth(&authority_token).send().await?;
    let summary: Value = response.json().await?;
    let locked = summary["summary"]["locked"].as_i64().unwrap_or(0);
    println!("filing {n} accounts: {:.2} s", filing.as_secs_f64());
    println!(
        "approval of {n} accounts: {:.2} s, {:.0} accounts/s ({locked} locked)",
        approval.as_secs_f64(),
        n as f64 / approval.as_secs_f64()
    );
    if locked != n as i64 {
        bail!("only {locked} of {n} accounts locked");
    }
    if let Some(receiver) = receiver {
        let answered = Instant::now();
        let last = receiver.wait_for(DISABLED, n, Duration::from_secs(600)).await?;
        let after = last.saturating_duration_since(answered);
        println!(
            "account-disabled SETs of {n} accounts received {:.2} s after the approval's answer ({:.2} s after it was sent)",
            after.as_secs_f64(),
            (after + approval).as_secs_f64()
        );
    }
    Ok(())
}

const DISABLED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-disabled";

/// A relying party's push stream to a receiver served by this process, which notes when each SET arrived.
struct EventReceiver {
    /// `(event type, txn, when)` per SET, in arrival order.
    taken: Arc<std::sync::Mutex<Vec<(String, String, Instant)>>>,
    arrived: Arc<tokio::sync::Notify>,
}

impl EventReceiver {
    /// Registers the relying party (its organization, API client with `ssf:streams`, OpenID Connect
    /// registration), gives it a sign-in grant of each account, starts the receiver and creates the stream.
    async fn start(store: &Store, base: &str, run: u32, accounts: &[Account]) -> Result<Self> {
        use axum::extract::State;
        type Shared = (Arc<std::sync::Mutex<Vec<(String, String, Instant)>>>, Arc<tokio::sync::Notify>);
        async fn take(State((taken, arrived)): State<Shared>, body: String) -> axum::http::StatusCode {
            use base64::Engine as _;
            let at = Instant::now();
            let claims = body.split('.').nth(1).unwrap_or_default();
            let claims: Value = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(claims)
                .ok()
                .and_then(|c| serde_json::from_slice(&c).ok())
                .unwrap_or_default();
            let event = claims["events"].as_object().and_then(|e| e.keys().next().cloned()).unwrap_or_default();
            let txn = claims["txn"].as_str().unwrap_or_default().to_owned();
            taken.lock().unwrap().push((event, txn, at));
            arrived.notify_waiters();
            axum::http::StatusCode::ACCEPTED
        }
        let now = Utc::now();
        let bank =
            organization(format!("org-rp-{run}"), format!("RP-{run}"), "Ngân hàng", OrganizationKind::RelyingParty);
        let scopes: BTreeSet<Scope> = [Scope::SsfStreams].into_iter().collect();
        let client = ApiClient {
            id: format!("client-rp-{run}"),
            organization_id: bank.id.clone(),
            name: "bench RP".into(),
            auth_method: ClientAuthMethod::ClientSecret,
            scopes: scopes.clone(),
            status: ClientStatus::Active,
            created_at: now,
            revoked_at: None,
        };
        let registration = dinhdanh_oidc::client::ClientRegistration {
            client_id: client.id.clone(),
            redirect_uris: vec![format!("https://rp{run}.example.vn/cb")],
            post_logout_redirect_uris: Vec::new(),
            scopes: [dinhdanh_oidc::scope::Scope::OpenId].into(),
            claims: Default::default(),
            subject_type: dinhdanh_oidc::subject::SubjectType::Pairwise,
            sector_identifier: None,
            require_pushed_authorization_requests: false,
            token_endpoint_auth_method: ClientAuthMethod::ClientSecret,
        };
        let (token, token_hash) = new_token(dinhdanh_server::auth::ACCESS_TOKEN_PREFIX);
        let mut tx = store.begin().await?;
        tx.insert_organization(&bank).await?;
        tx.insert_api_client(&client).await?;
        tx.insert_access_token(&token_hash, &client.id, &scopes, now, now + chrono::Duration::hours(8)).await?;
        tx.upsert_oidc_client(&registration, now).await?;
        for account in accounts {
            let grant = dinhdanh_oidc::tokens::Grant {
                id: format!("grant-{run}-{}", account.id.as_str()),
                client_id: client.id.clone(),
                account_id: account.id.clone(),
                scopes: [dinhdanh_oidc::scope::Scope::OpenId].into(),
                claims: Default::default(),
                id_token_claims: Default::default(),
                acr: Level::One,
                amr: vec!["pwd".into(), "otp".into()],
                auth_time: now,
            };
            tx.insert_oidc_grant(&grant, "bench-session", now).await?;
        }
        tx.commit().await?;

        let shared: Shared = Default::default();
        let app = axum::Router::new().route("/events", axum::routing::post(take)).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}/events", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, app).await });
        let stream = json!({"delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": endpoint},
            "events_requested": [DISABLED, "https://schemas.openid.net/secevent/caep/event-type/session-revoked"]});
        let response =
            reqwest::Client::new().post(format!("{base}/ssf/streams")).bearer_auth(&token).json(&stream).send().await?;
        if response.status() != 201 {
            bail!("creating the stream answered {}: {}", response.status(), response.text().await?);
        }
        Ok(Self { taken: shared.0, arrived: shared.1 })
    }

    /// Waits until `count` SETs of `event` have arrived; returns when the last of them did.
    async fn wait_for(&self, event: &str, count: usize, limit: Duration) -> Result<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            let arrived = self.arrived.notified();
            {
                let taken = self.taken.lock().unwrap();
                let of_event: Vec<Instant> = taken.iter().filter(|t| t.0 == event).map(|t| t.2).collect();
                if of_event.len() >= count {
                    return Ok(*of_event.iter().max().unwrap());
                }
            }
            if tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), arrived).await.is_err() {
                bail!("not every {event} SET arrived in {limit:?}");
            }
        }
    }

    /// When the SET of `event` with this `txn` arrived, waiting for it.
    async fn arrival(&self, event: &str, txn: &str, limit: Duration) -> Result<Instant> {
        let deadline = Instant::now() + limit;
        loop {
            let arrived = self.arrived.notified();
            if let Some(t) = self.taken.lock().unwrap().iter().find(|t| t.0 == event && t.1 == txn) {
                return Ok(t.2);
            }
            if tokio::time::timeout(deadline.saturating_duration_since(Instant::now()), arrived).await.is_err() {
                bail!("the {event} SET of {txn} did not arrive in {limit:?}");
            }
        }
    }
}

/// Issue 17: each holder's lock, one after another; the time from its answer to its `account-disabled` SET.
async fn run_events(db: &str, base: &str, n: usize) -> Result<()> {
    let store = Store::connect(db).await?;
    let run = tag();
    let (accounts, tokens) = holders(&store, run, n).await?;
    let receiver = EventReceiver::start(&store, base, run, &accounts).await?;
    let clients: Vec<reqwest::Client> = (0..n.div_ceil(100)).map(client_from).collect();
    let (mut from_answer, mut from_sending) = (Vec::with_capacity(n), Vec::with_capacity(n));
    let started = Instant::now();
    for (i, token) in tokens.iter().enumerate() {
        let sent = Instant::now();
        let response = clients[i / 100]
            .post(format!("{base}/v1/lock-requests"))
            .bearer_auth(token)
            .json(&json!({"reason": "mất điện thoại / lost phone"}))
            .send()
            .await?;
        let status = response.status();
        let body: Value = response.json().await?;
        let answered = Instant::now();
        if status != 201 {
            bail!("self-lock answered {status}: {body}");
        }
        let txn = body["id"].as_str().context("the request's id")?;
        let arrived = receiver.arrival(DISABLED, txn, Duration::from_secs(30)).await?;
        // A SET can arrive before the answer does: then zero.
        from_answer.push(arrived.saturating_duration_since(answered));
        from_sending.push(arrived.saturating_duration_since(sent));
    }
    let wall = started.elapsed();
    report("lock answered → account-disabled SET received", from_answer, wall);
    report("lock sent → account-disabled SET received", from_sending, wall);
    Ok(())
}

/// The password of the sign-in holders of `side-by-side-setup`, and the code of their pending challenges.
const SIGN_IN_PASSWORD: &str = "hoa sen nở trên hồ tây";
const SIGN_IN_CODE: &str = "123456";

/// `n` ES256 client assertions of `client_id` for `audience`, each with its own `jti`, valid for 30 minutes
/// (the server accepts at most an hour), signed on every core.
fn assertions(key: &jsonwebtoken::EncodingKey, kid: &str, client_id: &str, audience: &str, n: usize) -> Vec<String> {
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(kid.to_owned());
    let now = Utc::now().timestamp();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let prefix = uuid_like();
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (header, prefix) = (&header, &prefix);
                scope.spawn(move || {
                    (t..n)
                        .step_by(threads)
                        .map(|i| {
                            let claims = json!({"iss": client_id, "sub": client_id, "aud": audience,
                                "iat": now, "exp": now + 1800, "jti": format!("{prefix}-{i}")});
                            jsonwebtoken::encode(header, &claims, key).expect("sign an assertion")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("signing thread")).collect()
    })
}

/// A prefix that keeps `jti`s of separate runs apart.
fn uuid_like() -> String {
    format!("{:x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

/// The public JWK of a P-256 private key, as the server checks and stores a registered key.
fn public_jwk(key: &jsonwebtoken::EncodingKey) -> Result<dinhdanh_server::service::clients::PublicJwk> {
    let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(key, jsonwebtoken::Algorithm::ES256)?;
    dinhdanh_server::service::clients::parse_public_jwk(&serde_json::to_value(&jwk)?).map_err(anyhow::Error::msg)
}

fn write_lines(path: std::path::PathBuf, lines: &[String]) -> Result<()> {
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

async fn run_side_by_side_setup(args: SetupArgs) -> Result<()> {
    let SetupArgs {
        ref db,
        ref out,
        ref audience,
        ref ec_key,
        warm_holders,
        holders: measured_holders,
        warm_assertions,
        assertions: measured_assertions,
        sign_in_sets,
        sign_ins,
        ..
    } = args;
    let store = Store::connect(db).await?;
    let run = tag();
    let now = Utc::now();
    let later = now + chrono::Duration::hours(8);
    let organization = organization(
        format!("org-sbs-{run}"),
        format!("SBS-{run}"),
        "Side by side",
        OrganizationKind::ProsecutingAgency,
    );
    let scopes: BTreeSet<Scope> = [Scope::LocksRequest].into_iter().collect();
    let client = |id: String, auth_method| ApiClient {
        id,
        organization_id: organization.id.clone(),
        name: "side by side".into(),
        auth_method,
        scopes: scopes.clone(),
        status: ClientStatus::Active,
        created_at: now,
        revoked_at: None,
    };
    let secret_client = client(format!("sbs-secret-{run}"), ClientAuthMethod::ClientSecret);
    let jwt_client = client(format!("sbs-jwt-{run}"), ClientAuthMethod::PrivateKeyJwt);
    let (secret, _) = new_token(dinhdanh_server::service::clients::CLIENT_SECRET_PREFIX);
    let secret_credential = ClientCredential {
        id: format!("sbs-secret-credential-{run}"),
        client_id: secret_client.id.clone(),
        kind: CredentialKind::Secret,
        key_id: None,
        material: dinhdanh_server::secrets::server_secret_digest(&secret),
        created_at: now,
        revoked_at: None,
    };
    let pem = std::fs::read(ec_key).with_context(|| format!("reading {}", ec_key.display()))?;
    let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem)?;
    let jwk = public_jwk(&key)?;
    let jwk_credential = ClientCredential {
        id: format!("sbs-jwk-credential-{run}"),
        client_id: jwt_client.id.clone(),
        kind: CredentialKind::Jwk,
        key_id: Some(jwk.kid.clone()),
        material: jwk.public.to_string(),
        created_at: now,
        revoked_at: None,
    };
    let (me_token, me_hash) = new_token(dinhdanh_server::auth::ACCESS_TOKEN_PREFIX);
    let mut tx = store.begin().await?;
    tx.insert_organization(&organization).await?;
    for c in [&secret_client, &jwt_client] {
        tx.insert_api_client(c).await?;
    }
    tx.insert_client_credential(&secret_credential).await?;
    tx.insert_client_credential(&jwk_credential).await?;
    tx.insert_access_token(&me_hash, &secret_client.id, &scopes, now, later).await?;
    tx.commit().await?;

    // Holders: the self-lock warm-up's, the measured run's, one more with two sessions for the lock check, then
    // the sign-in holders (password step, then code step; warm-up and measured each).
    let locking = warm_holders + measured_holders + 1;
    let signing = 2 * sign_in_sets * sign_ins;
    let password_hash =
        dinhdanh_server::secrets::hash_secret(SIGN_IN_PASSWORD.into()).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    // Then the provider's: the code-flow holders, and the holders of the introspection fixtures' grants (the
    // last two of whom are the mid-run lock checks': one node, then two).
    let flowing = args.code_flow_sets * args.code_flow_holders;
    let granting = match args.introspect_tokens {
        0 => 0,
        n => n.div_ceil(args.tokens_per_grant.max(1)) + 2,
    };
    let (mut accounts, mut tokens) =
        holders_with_password(&store, run, locking + signing + flowing + granting, &password_hash).await?;
    let mut provider_accounts = accounts.split_off(locking + signing);
    let provider_sessions = tokens.split_off(locking + signing);
    tokens.truncate(locking);
    let signers = accounts.split_off(locking);
    let code_hash =
        dinhdanh_server::secrets::hash_secret(SIGN_IN_CODE.into()).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let (starters, coders) = signers.split_at(sign_in_sets * sign_ins);
    let mut tx = store.begin().await?;
    let mut challenges = Vec::with_capacity(coders.len());
    for (i, account) in coders.iter().enumerate() {
        let id = format!("{:08x}-0000-4000-8000-{:012x}", run, i);
        tx.insert_holder_sign_in(&dinhdanh_store::NewHolderSignIn {
            id: id.clone(),
            account_id: account.id.clone(),
            code_hash: code_hash.clone(),
            channel: dinhdanh_domain::Channel::Sms,
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            purpose: dinhdanh_domain::account::SignInPurpose::SignIn,
        })
        .await?;
        challenges.push(id);
    }
    tx.commit().await?;
    let id_numbers: Vec<String> =
        starters.iter().map(|a| a.identity_key.as_str().trim_start_matches("CID:").to_owned()).collect();
    // Citizens to register: province 079, a man born in 1990; the run tag keeps the numbers apart.
    let provinces = ProvinceTable::builtin();
    let citizens: Vec<dinhdanh_domain::registry::CitizenRecord> = (0..sign_in_sets * sign_ins)
        .map(|i| dinhdanh_domain::registry::CitizenRecord {
            id_number: IdentificationNumber::parse(
                &format!("079090{:06}", (run as usize * 1000 + i) % 1_000_000),
                &provinces,
            )
            .unwrap(),
            full_name: FullName::parse("Nguyễn Văn Hùng").unwrap(),
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 1, 1).unwrap(),
            gender: dinhdanh_domain::Gender::Male,
            place_of_origin: None,
            permanent_residence: None,
            card_status: dinhdanh_domain::registry::CardStatus::Valid,
            died_on: None,
        })
        .collect();
    for chunk in citizens.chunks(5000) {
        store.upsert_citizens(chunk, now).await?;
    }
    let to_register: Vec<String> = citizens.iter().map(|c| c.id_number.as_str().to_owned()).collect();
    let checked = accounts.last().context("no holders")?;
    let (second, second_hash) = new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
    let mut tx = store.begin().await?;
    tx.insert_holder_sessions_batch(&[(second_hash, checked.id.clone(), checked.level)], now, later).await?;
    tx.commit().await?;
    let first = tokens.pop().context("no holders")?;
    let measured = tokens.split_off(warm_holders);

    let started = Instant::now();
    let all = assertions(&key, &jwk.kid, &jwt_client.id, audience, warm_assertions + measured_assertions);
    println!("signed {} assertions in {:.1} s", all.len(), started.elapsed().as_secs_f64());

    std::fs::create_dir_all(out)?;
    let basic =
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{}:{secret}", secret_client.id));
    std::fs::write(out.join("me_token"), &me_token)?;
    std::fs::write(out.join("secret_basic"), format!("Basic {basic}"))?;
    std::fs::write(out.join("check_holder"), format!("{first}\n{second}\n"))?;
    write_lines(out.join("holders_warm.txt"), &tokens)?;
    write_lines(out.join("holders.txt"), &measured)?;
    write_lines(out.join("assertions_warm.txt"), &all[..warm_assertions])?;
    write_lines(out.join("assertions.txt"), &all[warm_assertions..])?;
    for k in 0..sign_in_sets {
        write_lines(out.join(format!("sign_ins_{k}.txt")), &id_numbers[k * sign_ins..(k + 1) * sign_ins])?;
        write_lines(out.join(format!("codes_{k}.txt")), &challenges[k * sign_ins..(k + 1) * sign_ins])?;
        write_lines(out.join(format!("registrations_{k}.txt")), &to_register[k * sign_ins..(k + 1) * sign_ins])?;
    }
    std::fs::write(out.join("sign_in_password"), SIGN_IN_PASSWORD)?;
    std::fs::write(out.join("sign_in_code"), SIGN_IN_CODE)?;
    if flowing + granting > 0 {
        let grant_holders = provider_accounts.split_off(flowing);
        let grant_sessions = &provider_sessions[flowing..];
        provider_fixtures(&store, &args, run, &provider_accounts, &grant_holders, grant_sessions).await?;
    }
    println!(
        "fixtures in {}: {} + {} holders, {} + {} assertions",
        out.display(),
        tokens.len(),
        measured.len(),
        warm_assertions,
        measured_assertions
    );
    Ok(())
}

/// Where the relying party of the provider's fixtures has the browser sent back to (the code-flow driver reads the
/// `Location` and never follows it).
const RP_REDIRECT: &str = "https://nganhang.example.vn/dang-nhap/callback";

/// The provider's fixtures (issue 14), for `bench/side_by_side.sh`'s `introspect` and `codeflow` paths:
///
/// - a relying party: an API client of a `relying_party` organization with a client secret and its registration
///   (`openid profile phone`; `name`, `phone_number`, `phone_number_verified`), as an administrator would save
///   it; `rp_basic` is its HTTP Basic header, `rp_client` its id, secret and redirect URI, one a line;
/// - `--introspect-tokens` live access tokens of that client (`introspect_tokens.txt`), `--tokens-per-grant` per
///   grant and one grant per holder: grants and `jti` rows written straight to the database, the RFC 9068 JWTs
///   signed with the provider's current key (`iss` the server's issuer, `aud` its userinfo URL, pairwise `sub`,
///   `typ: at+jwt`), valid for 4 hours by the wall clock; and two more grants for the mid-run lock checks
///   (`introspect_check`, `introspect_check_2`: the holder's session token, then the access token);
/// - `--code-flow-sets` sets of `--code-flow-holders` holders who have not signed in to it yet, whose password is
///   `SIGN_IN_PASSWORD` (`code_flows_K.txt`: the identification number and the phone the code goes to, one
///   holder a line), with a remembered consent to the relying party unless `--code-flow-ask-consent`.
async fn provider_fixtures(
    store: &Store,
    args: &SetupArgs,
    run: u32,
    flow_holders: &[Account],
    grant_holders: &[Account],
    grant_sessions: &[String],
) -> Result<()> {
    use dinhdanh_oidc::claims::AccessTokenClaims;
    use dinhdanh_oidc::client::ClientRegistration;
    use dinhdanh_oidc::consent::Consent;
    use dinhdanh_oidc::keys::TokenType;
    use dinhdanh_oidc::scope::{Claim, Scope as OidcScope, format_scopes};
    use dinhdanh_oidc::tokens::{Grant, new_id};

    let now = Utc::now();
    let out = &args.out;
    let organization = organization(
        format!("org-rp-{run}"),
        format!("RP-{run}"),
        "Ngân hàng side by side",
        OrganizationKind::RelyingParty,
    );
    let client = ApiClient {
        id: format!("sbs-rp-{run}"),
        organization_id: organization.id.clone(),
        name: "Ngân hàng side by side".into(),
        auth_method: ClientAuthMethod::ClientSecret,
        scopes: BTreeSet::new(),
        status: ClientStatus::Active,
        created_at: now,
        revoked_at: None,
    };
    let (secret, _) = new_token(dinhdanh_server::service::clients::CLIENT_SECRET_PREFIX);
    let credential = ClientCredential {
        id: format!("sbs-rp-credential-{run}"),
        client_id: client.id.clone(),
        kind: CredentialKind::Secret,
        key_id: None,
        material: dinhdanh_server::secrets::server_secret_digest(&secret),
        created_at: now,
        revoked_at: None,
    };
    let registration = ClientRegistration {
        client_id: client.id.clone(),
        redirect_uris: vec![RP_REDIRECT.to_owned()],
        post_logout_redirect_uris: Vec::new(),
        scopes: [OidcScope::OpenId, OidcScope::Profile, OidcScope::Phone].into_iter().collect(),
        claims: [Claim::Name, Claim::PhoneNumber, Claim::PhoneNumberVerified].into_iter().collect(),
        subject_type: dinhdanh_oidc::subject::SubjectType::Pairwise,
        sector_identifier: None,
        require_pushed_authorization_requests: false,
        token_endpoint_auth_method: ClientAuthMethod::ClientSecret,
    };
    registration.validate()?;
    let mut tx = store.begin().await?;
    tx.insert_organization(&organization).await?;
    tx.insert_api_client(&client).await?;
    tx.insert_client_credential(&credential).await?;
    tx.upsert_oidc_client(&registration, now).await?;
    if !args.code_flow_ask_consent {
        for holder in flow_holders {
            let consent = Consent {
                account_id: holder.id.clone(),
                client_id: client.id.clone(),
                scopes: registration.scopes.clone(),
                claims: registration.claims.clone(),
                granted_at: now,
                revoked_at: None,
            };
            tx.upsert_oidc_consent(&consent).await?;
        }
    }
    tx.commit().await?;
    std::fs::create_dir_all(out)?;
    let basic = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{}:{secret}", client.id));
    std::fs::write(out.join("rp_basic"), format!("Basic {basic}"))?;
    std::fs::write(out.join("rp_client"), format!("{}\n{secret}\n{RP_REDIRECT}\n", client.id))?;

    if args.code_flow_holders > 0 {
        for (k, set) in flow_holders.chunks(args.code_flow_holders).enumerate() {
            let lines: Vec<String> = set
                .iter()
                .map(|a| {
                    let number = a.identity_key.as_str().trim_start_matches("CID:");
                    format!("{number} {}", a.phone.as_ref().expect("fixture holders have a phone").as_str())
                })
                .collect();
            write_lines(out.join(format!("code_flows_{k}.txt")), &lines)?;
        }
        println!(
            "code-flow fixtures: {} sets of {} holders ({})",
            args.code_flow_sets,
            args.code_flow_holders,
            if args.code_flow_ask_consent { "no consent yet" } else { "consented before" }
        );
    }

    let n = args.introspect_tokens;
    if n == 0 {
        return Ok(());
    }
    let issuer = args.issuer.as_deref().context("--issuer is needed with --introspect-tokens")?;
    let issuer = dinhdanh_oidc::metadata::Issuer::parse(issuer)?;
    // The server's seal key (the bench script gives both processes the same DINHDANH_OIDC_SEAL_KEY).
    let seal =
        std::env::var("DINHDANH_OIDC_SEAL_KEY").context("DINHDANH_OIDC_SEAL_KEY is needed with --introspect-tokens")?;
    let seal = dinhdanh_server::sealing::SealingKey::parse(&seal).map_err(|e| anyhow::anyhow!("{e}"))?;
    let keys =
        dinhdanh_server::service::oidc::ensure_keys(store, &seal, now).await.map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let salt = store
        .oidc_setting(dinhdanh_store::OIDC_SUBJECT_SALT)
        .await?
        .context("no pairwise salt: the server makes it when it starts")?;
    let salt = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, salt)?;
    let salt = dinhdanh_oidc::subject::SubjectSalt::new(salt).map_err(|_| anyhow::anyhow!("the salt is too short"))?;
    let sector = registration.sector()?;
    let audience = issuer.url(&dinhdanh_oidc::metadata::EndpointPaths::default().userinfo);
    let scope = format_scopes(&registration.scopes);
    let expires_at = now + chrono::Duration::hours(4);
    let per_grant = args.tokens_per_grant.max(1);
    // Grant g holds tokens g * per_grant .. (g + 1) * per_grant; the last grant (the lock check's) one more.
    let grants: Vec<(Grant, String)> = grant_holders
        .iter()
        .zip(grant_sessions)
        .map(|(holder, session)| {
            let grant = Grant {
                id: new_id(),
                client_id: client.id.clone(),
                account_id: holder.id.clone(),
                scopes: registration.scopes.clone(),
                claims: registration.claims.clone(),
                id_token_claims: BTreeSet::new(),
                acr: Level::One,
                amr: vec!["pwd".into(), "otp".into()],
                auth_time: now,
            };
            (grant, dinhdanh_server::secrets::token_hash(session))
        })
        .collect();
    // The last two grants: the lock checks of the one-node run and of the two-node run.
    let check = grants.len() - 2;
    let claims: Vec<(usize, AccessTokenClaims)> = (0..n + 2)
        .map(|j| {
            let g = if j >= n { check + (j - n) } else { j / per_grant };
            let grant = &grants[g].0;
            let claims = AccessTokenClaims {
                iss: issuer.as_str().to_owned(),
                exp: expires_at.timestamp(),
                aud: audience.clone(),
                sub: dinhdanh_oidc::subject::subject_for(registration.subject_type, &sector, &grant.account_id, &salt),
                client_id: client.id.clone(),
                iat: now.timestamp(),
                jti: new_id(),
                scope: scope.clone(),
                auth_time: now.timestamp(),
                acr: dinhdanh_oidc::acr::acr_of(Level::One).to_owned(),
            };
            (g, claims)
        })
        .collect();
    let started = Instant::now();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let signed: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = claims
            .chunks(claims.len().div_ceil(threads))
            .map(|chunk| {
                let keys = &keys;
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(_, c)| keys.sign(c, TokenType::AccessToken).expect("sign an access token"))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("signing thread")).collect()
    });
    println!("signed {} access tokens in {:.1} s", signed.len(), started.elapsed().as_secs_f64());

    // Written in transactions of 1,000 grants with their tokens; on PostgreSQL four at a time.
    let started = Instant::now();
    let grants = Arc::new(grants);
    let rows: Arc<Vec<(usize, String)>> = Arc::new(claims.into_iter().map(|(g, c)| (g, c.jti)).collect());
    let parallel = if args.db.starts_with("postgres") { 4 } else { 1 };
    let mut writers = tokio::task::JoinSet::new();
    for first in (0..grants.len()).step_by(1000) {
        if writers.len() >= parallel
            && let Some(done) = writers.join_next().await
        {
            done??;
        }
        let (store, grants, rows, scope) = (store.clone(), grants.clone(), rows.clone(), scope.clone());
        writers.spawn(async move {
            let last = (first + 1000).min(grants.len());
            let mut tx = store.begin().await?;
            for (grant, session) in &grants[first..last] {
                tx.insert_oidc_grant(grant, session, now).await?;
            }
            for (g, jti) in rows.iter().filter(|(g, _)| (first..last).contains(g)) {
                tx.insert_oidc_access_token(jti, &grants[*g].0.id, &scope, expires_at).await?;
            }
            tx.commit().await?;
            Ok::<_, anyhow::Error>(())
        });
    }
    while let Some(done) = writers.join_next().await {
        done??;
    }
    println!(
        "wrote {} grants and {} access tokens in {:.1} s",
        grants.len(),
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    write_lines(out.join("introspect_tokens.txt"), &signed[..n])?;
    std::fs::write(out.join("introspect_check"), format!("{}\n{}\n", grant_sessions[check], signed[n]))?;
    std::fs::write(out.join("introspect_check_2"), format!("{}\n{}\n", grant_sessions[check + 1], signed[n + 1]))?;
    Ok(())
}

/// One ES256 verification of a client assertion with jsonwebtoken, as the server makes it (a decoding key made
/// from the registered JWK; signature and JSON claims, times and audience checked by hand afterwards).
fn run_verify_bench(ec_key: &std::path::Path, iterations: usize) -> Result<()> {
    let pem = std::fs::read(ec_key)?;
    let key = jsonwebtoken::EncodingKey::from_ec_pem(&pem)?;
    let jwk = public_jwk(&key)?;
    let assertion = assertions(&key, &jwk.kid, "bench", "http://127.0.0.1/oauth/token", 1).remove(0);
    let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk.jwk)?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = Default::default();
    for _ in 0..iterations / 10 {
        jsonwebtoken::decode::<Value>(&assertion, &decoding, &validation)?;
    }
    let started = Instant::now();
    for _ in 0..iterations {
        jsonwebtoken::decode::<Value>(&assertion, &decoding, &validation)?;
    }
    let each = started.elapsed().as_secs_f64() / iterations as f64;
    println!("jsonwebtoken ES256 verification: {:.1} us each, {:.0} per second", each * 1e6, 1.0 / each);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    match Cli::parse().command {
        Cmd::SelfLock { db, base, holders, concurrency } => run_self_lock(&db, &base, holders, concurrency).await,
        Cmd::Bulk { db, base, accounts, analyze, events } => run_bulk(&db, &base, accounts, analyze, events).await,
        Cmd::Events { db, base, holders } => run_events(&db, &base, holders).await,
        Cmd::SideBySideSetup(args) => run_side_by_side_setup(args).await,
        Cmd::Argon2Bench { iterations } => {
            let mut times = Vec::with_capacity(iterations);
            for i in 0..iterations + 2 {
                let started = Instant::now();
                dinhdanh_server::secrets::hash_secret(format!("secret {i}"))
                    .await
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                if i >= 2 {
                    times.push(started.elapsed());
                }
            }
            times.sort();
            let median = times[times.len() / 2].as_secs_f64();
            println!(
                "argon2id hash (server parameters): {:.2} ms median, {:.1} per second",
                median * 1e3,
                1.0 / median
            );
            Ok(())
        }
        Cmd::VerifyBench { ec_key, iterations } => run_verify_bench(&ec_key, iterations),
    }
}
