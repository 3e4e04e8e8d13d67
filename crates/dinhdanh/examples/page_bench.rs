//! The web pages' render times (issue 15: "the server renders each page in under 50 ms at p99 on this machine"),
//! run by `bench/pages.sh` against a running `dinhdanh serve`. It writes its fixtures straight to the server's
//! database (a holder with a history of locks and a session, an operator's officer with a session, an
//! authority's open lock requests for the queue), then times `GET`s of each page over HTTP: first one request
//! at a time (the render time plus loopback), then `--concurrency` clients at once.
//!
//!   page_bench --db URL --base http://127.0.0.1:18480 --requests 500 --concurrency 8
//!
//! The portal's cookie is the holder session's hash sealed under the seal key the server uses, from
//! `DINHDANH_OIDC_SEAL_KEY` (the script exports it for both); the console's cookie is the officer's session token.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use clap::Parser;
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind, OrganizationStatus, Scope};
use dinhdanh_domain::client::{ApiClient, ClientAuthMethod, ClientStatus};
use dinhdanh_domain::lock::{Ground, Lift, Lock, Party};
use dinhdanh_domain::officer::{Officer, OfficerStatus};
use dinhdanh_domain::organization::Organization;
use dinhdanh_domain::{
    Account, AccountId, AccountStatus, Email, FullName, IdentificationNumber, IdentityKey, Level, PhoneNumber,
    ProvinceTable,
};
use dinhdanh_server::sealing::SealingKey;
use dinhdanh_server::secrets::new_token;
use dinhdanh_store::Store;
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    /// The server's database (fixtures are written straight to it).
    #[arg(long)]
    db: String,
    /// The server, as the pages are reached.
    #[arg(long, default_value = "http://127.0.0.1:18480")]
    base: String,
    /// Requests per page and mode (after as many again of warm-up).
    #[arg(long, default_value_t = 400)]
    requests: usize,
    /// Clients at once in the second mode.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Open lock requests in the officers' queue.
    #[arg(long, default_value_t = 40)]
    queue: usize,
}

fn tag() -> u32 {
    (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() % 900_000) as u32
}

fn organization(code: String, kind: OrganizationKind) -> Organization {
    let now = Utc::now();
    Organization {
        id: format!("org-{code}"),
        code: code.clone(),
        name: format!("Cơ quan {code}"),
        kind,
        parent_id: None,
        status: OrganizationStatus::Active,
        contact_email: None,
        contact_phone: None,
        created_at: now,
        updated_at: now,
    }
}

fn citizen(run: u32, i: usize) -> Account {
    let now = Utc::now();
    let number = format!("001090{:06}", (run as usize * 100 + i) % 1_000_000);
    Account {
        id: AccountId::new(format!("pages-{run}-{i}")),
        identity_key: IdentityKey::citizen(&IdentificationNumber::parse(&number, &ProvinceTable::builtin()).unwrap()),
        holder_kind: HolderKind::Citizen,
        full_name: FullName::parse("Nguyễn Thị Lan").unwrap(),
        level: Level::One,
        status: AccountStatus::Active,
        phone: Some(PhoneNumber::parse(&format!("09{:08}", i)).unwrap()),
        email: Some(Email::parse(&format!("lan{i}@example.vn")).unwrap()),
        password_hash: "unused".into(),
        created_at: now,
        activated_at: Some(now),
    }
}

/// What the pages need: the cookies, and a request to show and follow.
struct Fixtures {
    portal_cookie: String,
    console_cookie: String,
    request_id: String,
    tracking_code: String,
    tracked_id_number: String,
    holder_id_number: String,
}

async fn fixtures(args: &Args, seal: &SealingKey) -> Result<Fixtures> {
    let store = Store::connect(&args.db).await?;
    let run = tag();
    let now = Utc::now();
    let later = now + chrono::Duration::hours(8);
    let operator = organization(format!("C06-{run}"), OrganizationKind::Operator);
    let authority = organization(format!("CSDT-{run}"), OrganizationKind::ProsecutingAgency);
    let scopes: BTreeSet<Scope> = [Scope::LocksRequest].into_iter().collect();
    let client = ApiClient {
        id: format!("pages-client-{run}"),
        organization_id: authority.id.clone(),
        name: "pages".into(),
        auth_method: ClientAuthMethod::ClientSecret,
        scopes: scopes.clone(),
        status: ClientStatus::Active,
        created_at: now,
        revoked_at: None,
    };
    let officer = Officer {
        id: format!("pages-officer-{run}"),
        username: format!("pages-{run}"),
        full_name: "Phạm Minh Tuấn".into(),
        organization_id: operator.id.clone(),
        roles: [OfficerRole::Reviewer, OfficerRole::Supervisor].into_iter().collect(),
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
    // The portal's holder has a history: two locks of their own, placed and lifted, and a session.
    let holder = citizen(run, 0);
    let history: Vec<Lock> = (0..2)
        .map(|k| Lock {
            id: format!("pages-lock-{run}-{k}"),
            account_id: holder.id.clone(),
            ground: Ground::HolderRequest,
            placed_by: Party::Holder { account_id: holder.id.clone() },
            legal_basis: None,
            reference: None,
            reason: "bench".into(),
            effective_at: now - chrono::Duration::days(10 - k),
            ends_at: None,
            request_id: None,
            lifted: None,
        })
        .collect();
    let subjects: Vec<Account> = (1..=args.queue).map(|i| citizen(run, i)).collect();
    let (access_token, access_hash) = new_token(dinhdanh_server::auth::ACCESS_TOKEN_PREFIX);
    let (officer_token, officer_hash) = new_token(dinhdanh_server::auth::OFFICER_SESSION_PREFIX);
    let (_, holder_hash) = new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
    let mut tx = store.begin().await?;
    tx.insert_organization(&operator).await?;
    tx.insert_organization(&authority).await?;
    tx.insert_api_client(&client).await?;
    tx.insert_access_token(&access_hash, &client.id, &scopes, now, later).await?;
    tx.insert_officer(&officer).await?;
    tx.insert_officer_session(&officer_hash, &officer.id, now, later).await?;
    let mut accounts = vec![holder.clone()];
    accounts.extend(subjects.iter().cloned());
    tx.insert_accounts_batch(&accounts).await?;
    for lock in &history {
        tx.insert_lock(lock).await?;
        let lift = Lift {
            at: lock.effective_at + chrono::Duration::days(1),
            by: lock.placed_by.clone(),
            legal_basis: None,
            reason: "bench".into(),
            request_id: None,
        };
        tx.lift_lock(&lock.id, &lift).await?;
    }
    tx.insert_holder_sessions_batch(&[(holder_hash.clone(), holder.id.clone(), holder.level)], now, later).await?;
    tx.commit().await?;

    // The queue: an authority's lock requests, filed over the API as an authority files them.
    let http = reqwest::Client::new();
    let mut first = None;
    for subject in &subjects {
        let id_number = subject.identity_key.as_str().trim_start_matches("CID:").to_owned();
        let body = json!({"account": {"id_number": id_number}, "ground": "authority_request", "reason": "điều tra",
            "legal_basis": {"document_kind": "Quyết định", "number": "12/QĐ", "issued_on": "2026-01-02",
                            "issuing_body": "Cơ quan CSĐT", "signer": "Nguyễn Văn A"}});
        let response =
            http.post(format!("{}/v1/lock-requests", args.base)).bearer_auth(&access_token).json(&body).send().await?;
        let status = response.status();
        let filed: Value = response.json().await?;
        if status.as_u16() != 201 {
            bail!("filing a lock request answered {status}: {filed}");
        }
        first.get_or_insert((
            filed["id"].as_str().unwrap().to_owned(),
            filed["tracking_code"].as_str().unwrap().to_owned(),
            id_number,
        ));
    }
    let (request_id, tracking_code, tracked_id_number) = first.context("--queue must be at least 1")?;
    Ok(Fixtures {
        portal_cookie: format!(
            "dd_portal={}",
            dinhdanh_server::service::portal::seal_session_cookie(seal, &holder_hash)
        ),
        console_cookie: format!("dd_console={officer_token}"),
        request_id,
        tracking_code,
        tracked_id_number,
        holder_id_number: holder.identity_key.as_str().trim_start_matches("CID:").to_owned(),
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// `n` GETs of `url` from `clients` clients at once; every answer must be 200 and contain `expect`.
async fn time(
    http: &reqwest::Client,
    url: &str,
    cookie: Option<&str>,
    expect: &str,
    n: usize,
    clients: usize,
) -> Result<Vec<Duration>> {
    let per_client = n.div_ceil(clients);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, cookie, expect) = (http.clone(), url.to_owned(), cookie.map(str::to_owned), expect.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            for _ in 0..per_client {
                let mut request = http.get(&url);
                if let Some(cookie) = &cookie {
                    request = request.header("cookie", cookie);
                }
                let started = Instant::now();
                let response = request.send().await?;
                let status = response.status();
                let body = response.text().await?;
                latencies.push(started.elapsed());
                if status.as_u16() != 200 || !body.contains(&expect) {
                    bail!("{url} answered {status} without {expect:?}: {}", &body[..body.len().min(300)]);
                }
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::with_capacity(n);
    for task in tasks {
        all.extend(task.await??);
    }
    all.sort();
    Ok(all)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let key = std::env::var("DINHDANH_OIDC_SEAL_KEY").context("DINHDANH_OIDC_SEAL_KEY: the server's seal key")?;
    let seal = SealingKey::parse(&key).map_err(|e| anyhow::anyhow!("DINHDANH_OIDC_SEAL_KEY: {e}"))?;
    let f = fixtures(&args, &seal).await?;
    let base = args.base.trim_end_matches('/');
    let pages: Vec<(&str, String, Option<&str>, &str)> = vec![
        ("portal: welcome", format!("{base}/portal"), None, "/portal/sign-in"),
        ("portal: account", format!("{base}/portal"), Some(&f.portal_cookie), "id=\"history\""),
        ("portal: register", format!("{base}/portal/register"), None, "name=\"full_name\""),
        (
            "portal: tracking",
            format!("{base}/portal/track?tracking_code={}&id_number={}", f.tracking_code, f.tracked_id_number),
            None,
            "id=\"steps\"",
        ),
        ("console: sign-in", format!("{base}/console"), None, "name=\"username\""),
        ("console: queue", format!("{base}/console/requests"), Some(&f.console_cookie), &f.tracking_code),
        (
            "console: request",
            format!("{base}/console/requests/{}", f.request_id),
            Some(&f.console_cookie),
            "id=\"claim\"",
        ),
        (
            "console: account lookup",
            format!("{base}/console/accounts?id_number={}", f.holder_id_number),
            Some(&f.console_cookie),
            "Nguyễn Thị Lan",
        ),
        ("console: dashboard", format!("{base}/console/dashboard"), Some(&f.console_cookie), "<svg"),
    ];
    let http = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("| page | 1 at a time: p50 | p99 | max | {} at once: p50 | p99 | max |", args.concurrency);
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut worst: Duration = Duration::ZERO;
    for (label, url, cookie, expect) in &pages {
        time(&http, url, *cookie, expect, args.requests, 1).await?;
        let alone = time(&http, url, *cookie, expect, args.requests, 1).await?;
        let together = time(&http, url, *cookie, expect, args.requests, args.concurrency).await?;
        worst = worst.max(percentile(&alone, 0.99));
        println!(
            "| {label} | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms |",
            ms(percentile(&alone, 0.5)),
            ms(percentile(&alone, 0.99)),
            ms(*alone.last().unwrap()),
            ms(percentile(&together, 0.5)),
            ms(percentile(&together, 0.99)),
            ms(*together.last().unwrap()),
        );
    }
    println!("worst p99, one at a time: {:.2} ms (target: under 50 ms)", ms(worst));
    Ok(())
}
