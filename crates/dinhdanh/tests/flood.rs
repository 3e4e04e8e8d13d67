//! Bounded memory under a flood: the real `dinhdanh serve` binary, on SQLite and on PostgreSQL, gets 512 requests (a
//! fixed amount of work, not a length of time) from 64 concurrent strangers sending what costs it the most — holder
//! sign-ins with wrong passwords and with unknown identities (each one argon2id verification of 19 MiB), registrations, and token requests with wrong client
//! secrets — with the per-IP limits raised so that the flood reaches the password checks. Throughout, `/healthz`
//! must answer, every answer must be one the API documents (no 5xx but `503 busy`), and the server's peak
//! resident memory (`VmHWM`) must stay under 256 MB: argon2 runs on one worker per core behind a bounded queue,
//! never on as many threads as there are callers.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use chrono::Utc;
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::{
    Account, AccountId, AccountStatus, Email, FullName, IdentificationNumber, IdentityKey, Level, PhoneNumber,
    ProvinceTable,
};
use dinhdanh_store::testing::TestDb;
use serde_json::{Value, json};

/// The flood's size: about 10 s of argon2 work on two cores, whatever the machine's speed decides.
const REQUESTS: u64 = 512;
const CONNECTIONS: usize = 64;
const MEMORY_LIMIT_KB: u64 = 256 * 1024;
const PASSWORD: &str = "hoa sen nở trên hồ tây";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// The peak resident memory of the server process so far, in KiB.
    fn peak_memory_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM line");
        line.split_whitespace().nth(1).unwrap().parse().unwrap()
    }
}

/// `dinhdanh serve` on the database, with per-IP limits far above the flood's rate.
async fn serve(url: &str, dir: &std::path::Path) -> Server {
    let config = dir.join("flood.toml");
    std::fs::write(
        &config,
        "[rate_limit]\npublic_per_minute = 60000000\npublic_burst = 1000000\n\
         api_per_minute = 60000000\napi_burst = 1000000\nops_per_minute = 60000000\nops_burst = 1000000\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .args(["serve", "--database-url", url, "--listen", &listen, "--config"])
        .arg(&config)
        .current_dir(dir)
        .env("RUST_LOG", "error")
        .env("DINHDANH_TOTP_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, base: format!("http://{listen}") };
    let http = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = http.get(format!("{}/readyz", server.base)).send().await
            && r.status().is_success()
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("dinhdanh serve did not become ready");
}

/// An active holder with a real argon2id password hash, whom the flood signs in as with wrong passwords.
async fn seed(db: &TestDb) -> String {
    let store = db.store().await;
    let provinces = ProvinceTable::builtin();
    let id_number = "001090000001".to_owned();
    let account = Account {
        id: AccountId::new("acct-flood".into()),
        identity_key: IdentityKey::citizen(&IdentificationNumber::parse(&id_number, &provinces).unwrap()),
        holder_kind: HolderKind::Citizen,
        full_name: FullName::parse("Nguyễn Văn Hùng").unwrap(),
        level: Level::One,
        status: AccountStatus::Active,
        phone: Some(PhoneNumber::parse("0912345678").unwrap()),
        email: Some(Email::parse("hung@example.vn").unwrap()),
        password_hash: dinhdanh_server::secrets::hash_secret(PASSWORD.to_owned()).await.unwrap(),
        created_at: Utc::now(),
        activated_at: Some(Utc::now()),
    };
    let mut tx = store.begin().await.unwrap();
    tx.insert_accounts_batch(&[account]).await.unwrap();
    tx.commit().await.unwrap();
    id_number
}

/// What the flood got back: answers by status, and any that broke the API's word.
#[derive(Default)]
struct Tally {
    by_status: std::collections::BTreeMap<u16, u64>,
    broken: Vec<String>,
}

/// One costly request of the `n`-th kind, and its status and problem type.
async fn one_request(http: &reqwest::Client, base: &str, holder: &str, n: u64) -> Result<(u16, Value), String> {
    let unknown = format!("001090{:06}", 100_000 + n % 800_000);
    let request = match n % 4 {
        0 => http.post(format!("{base}/v1/holder-sessions")).json(&json!({
            "holder_kind": "citizen", "id_number": holder, "password": format!("sai mật khẩu {n}")
        })),
        1 => http.post(format!("{base}/v1/holder-sessions")).json(&json!({
            "holder_kind": "citizen", "id_number": unknown, "password": format!("sai mật khẩu {n}")
        })),
        2 => http.post(format!("{base}/v1/accounts")).json(&json!({
            "holder_kind": "citizen", "id_number": unknown, "full_name": "Trần Thị Mai", "date_of_birth": "1990-05-01",
            "gender": "nữ", "phone": "0912345678", "email": "mai@example.vn", "password": PASSWORD
        })),
        _ => http
            .post(format!("{base}/oauth/token"))
            .basic_auth(format!("client-{n}"), Some(format!("dd_cs_{n:064}")))
            .form(&[("grant_type", "client_credentials")]),
    };
    let response = request.send().await.map_err(|e| format!("request {n} failed: {e}"))?;
    let status = response.status().as_u16();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    Ok((status, body))
}

async fn flood(db: TestDb) {
    let holder = seed(&db).await;
    let dir = tempfile::tempdir().unwrap();
    let server = serve(&db.url, dir.path()).await;
    let at_rest = server.peak_memory_kb();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().unwrap();
    let tally = Arc::new(std::sync::Mutex::new(Tally::default()));
    let counter = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..CONNECTIONS {
        let (http, base, holder, tally, counter) =
            (http.clone(), server.base.clone(), holder.clone(), tally.clone(), counter.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = counter.fetch_add(1, Ordering::Relaxed);
                if n >= REQUESTS {
                    break;
                }
                let answer = one_request(&http, &base, &holder, n).await;
                let mut tally = tally.lock().unwrap();
                match answer {
                    Ok((status, body)) => {
                        *tally.by_status.entry(status).or_default() += 1;
                        let busy = status == 503 && body["type"] == "urn:dinhdanh:problem:busy";
                        if status >= 500 && !busy {
                            tally.broken.push(format!("{status} {body}"));
                        }
                    }
                    Err(e) => tally.broken.push(e),
                }
            }
        }));
    }
    // /healthz answers throughout, within a generous bound (a refusal to answer, not a speed test).
    let flooding = Arc::new(AtomicBool::new(true));
    let probe = {
        let (http, base, flooding) = (http.clone(), server.base.clone(), flooding.clone());
        tokio::spawn(async move {
            let mut answered = 0;
            while flooding.load(Ordering::Relaxed) {
                let response = http.get(format!("{base}/healthz")).timeout(Duration::from_secs(10)).send().await;
                match response {
                    Ok(r) if r.status().is_success() => answered += 1,
                    Ok(r) => panic!("/healthz answered {} during the flood", r.status()),
                    Err(e) => panic!("/healthz did not answer during the flood: {e}"),
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            answered
        })
    };
    for task in tasks {
        task.await.unwrap();
    }
    flooding.store(false, Ordering::Relaxed);
    let probes = probe.await.unwrap();
    let peak = server.peak_memory_kb();
    let tally = tally.lock().unwrap();
    eprintln!("peak resident memory {peak} KiB (at rest {at_rest} KiB); answers {:?}", tally.by_status);
    assert!(
        tally.broken.is_empty(),
        "answers that break the API's word: {:?}",
        &tally.broken[..tally.broken.len().min(5)]
    );
    // The flood reached the password checks: wrong passwords and unknown identities were refused as such.
    let refused = tally.by_status.get(&401).copied().unwrap_or(0);
    assert!(refused >= 20, "too few sign-ins reached a password check: {:?}", tally.by_status);
    assert!(probes >= 1, "/healthz was never probed during the flood");
    assert!(
        peak < MEMORY_LIMIT_KB,
        "peak resident memory {peak} KiB (at rest {at_rest} KiB) after {:?}",
        tally.by_status
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_password_checks_keeps_memory_bounded_on_sqlite() {
    flood(TestDb::sqlite()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_password_checks_keeps_memory_bounded_on_postgres() {
    flood(TestDb::postgres().await).await;
}
