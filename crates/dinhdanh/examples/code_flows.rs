//! The code-flow driver of `bench/side_by_side.sh` (issue 14, "Benchmarks"): sign-ins to a relying party per
//! second, end to end, the way a browser and the relying party's back end make them. wrk cannot follow a flow of
//! several pages, so this drives `--browsers` virtual browsers at once (one task each on one thread; pinned by the
//! script to the client core), each running flows one after the other:
//!
//! 1. `GET /oauth/authorize` (`response_type=code`, `openid profile phone`, `state`, `nonce`, an S256 PKCE
//!    challenge) from a browser without cookies: the sign-in page, a fresh interaction and a CSRF cookie;
//! 2. `POST /oauth/authorize/password` (identification number and password): one argon2id verification of the
//!    password and one argon2id hash of the new one-time code, which is queued in the outbox as an SMS;
//! 3. the code read from the outbox (the newest `holder_sign_in_code` message to the holder's phone, as the SMS
//!    carries it; the server has no SMS gateway, so messages wait there);
//! 4. `POST /oauth/authorize/code`: one argon2id verification; a provider session opens; the remembered consent
//!    covers the request, so the answer is the `303` to the client with the code (or the consent page, when the
//!    holder has not consented before: then `POST /oauth/authorize/consent` with every claim ticked);
//! 5. the relying party checks `state` in the redirect and exchanges the code at `POST /oauth/token`
//!    (`authorization_code`, `client_secret_basic`, the PKCE verifier): the ID token and the access token.
//!
//! Three argon2id jobs per flow. Each flow uses the next holder of `--holders` (`code_flows_K.txt` of
//! `locks_bench side-by-side-setup`: an identification number and the phone the code goes to, a line each),
//! each holder once (a holder gets at most 5 codes an hour; "reused" counts the wraps). A `503` (the argon2 queue
//! full) is retried after its `Retry-After` (at most 2 s), as a person would press the button again; nothing was
//! done by the refused request. Any other unexpected answer ends the flow as failed.
//!
//! The run is one stretch: `--warmup`, then `--duration` measured; every answer and every flow counts in the window
//! in which it ended, so the measured window starts with the browsers already mid-flow (a steady state). Flows in
//! progress at the end are finished and not counted. One result line per window, in `bench/side_by_side.lua`'s
//! format (`--warm-result`, `--result`): HTTP answers/s, flows/s, p50 and p99 of a whole flow in ms, then the
//! answers by status, reused holders, 503s, and the failed flows.
//!
//!   code_flows --db URL --base http://127.0.0.1:18491 --client DIR/rp_client --holders DIR/code_flows_0.txt \
//!       --password PASSWORD --browsers 64 --warmup 3s --duration 10s --result run.txt --warm-result warm.txt

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;
use dinhdanh_oidc::pkce::CodeChallenge;
use dinhdanh_oidc::tokens::{new_id, new_token};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, LOCATION, RETRY_AFTER, SET_COOKIE};
use tokio::time::Instant;

#[derive(Parser)]
struct Cli {
    /// The server's database, where the codes wait in the outbox.
    #[arg(long)]
    db: String,
    /// The provider as the browsers reach it.
    #[arg(long)]
    base: String,
    /// The relying party: its client id, secret and redirect URI, a line each (`rp_client`).
    #[arg(long)]
    client: PathBuf,
    /// The holders: identification number and phone (E.164), a line each.
    #[arg(long)]
    holders: PathBuf,
    /// The holders' password.
    #[arg(long)]
    password: String,
    #[arg(long, default_value_t = 64)]
    browsers: usize,
    #[arg(long, default_value = "3s", value_parser = seconds)]
    warmup: Duration,
    #[arg(long, default_value = "10s", value_parser = seconds)]
    duration: Duration,
    /// Appends the measured window's result line here.
    #[arg(long)]
    result: Option<PathBuf>,
    /// Appends the warm-up's result line here.
    #[arg(long)]
    warm_result: Option<PathBuf>,
    /// Appends the first 5xx answer of each window here, after `--label`.
    #[arg(long)]
    five_xx: Option<PathBuf>,
    /// Appends the first failed flow of each window here, after `--label`.
    #[arg(long)]
    failures: Option<PathBuf>,
    #[arg(long, default_value = "code flow")]
    label: String,
}

/// `10s`, `1m`, `500ms` or a number of seconds, as wrk's `-d`.
fn seconds(text: &str) -> Result<Duration, String> {
    let bad = || format!("not a duration: {text:?}");
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => text.split_at(i),
        None => (text, "s"),
    };
    let number: f64 = number.parse().map_err(|_| bad())?;
    let factor = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(bad()),
    };
    Ok(Duration::from_secs_f64(number * factor))
}

/// What one window (the warm-up, the measured run) saw.
#[derive(Default)]
struct Stats {
    answers: u64,
    s2: u64,
    s3: u64,
    s4: u64,
    s5: u64,
    s401: u64,
    s429: u64,
    s503: u64,
    socket_errors: u64,
    reused: u64,
    failed: u64,
    flows: Vec<Duration>,
    first_5xx: Option<String>,
    first_failure: Option<String>,
}

impl Stats {
    fn count(&mut self, status: u16, body: &str) {
        self.answers += 1;
        match status {
            500.. => {
                self.s5 += 1;
                if status == 503 {
                    self.s503 += 1;
                }
                if self.first_5xx.is_none() {
                    self.first_5xx = Some(format!("{status} {}", snippet(body)));
                }
            }
            400.. => {
                self.s4 += 1;
                match status {
                    401 => self.s401 += 1,
                    429 => self.s429 += 1,
                    _ => {}
                }
            }
            300.. => self.s3 += 1,
            _ => self.s2 += 1,
        }
    }

    fn merge(&mut self, other: Stats) {
        self.answers += other.answers;
        self.s2 += other.s2;
        self.s3 += other.s3;
        self.s4 += other.s4;
        self.s5 += other.s5;
        self.s401 += other.s401;
        self.s429 += other.s429;
        self.s503 += other.s503;
        self.socket_errors += other.socket_errors;
        self.reused += other.reused;
        self.failed += other.failed;
        self.flows.extend(other.flows);
        self.first_5xx = self.first_5xx.take().or(other.first_5xx);
        self.first_failure = self.first_failure.take().or(other.first_failure);
    }

    /// A percentile of the flows' durations in ms, nearest rank (sorted by [`Stats::line`]); 0 without flows.
    fn percentile_ms(&self, p: f64) -> f64 {
        if self.flows.is_empty() {
            return 0.0;
        }
        let i = ((self.flows.len() as f64 - 1.0) * p).round() as usize;
        self.flows[i].as_secs_f64() * 1000.0
    }

    /// `bench/side_by_side.lua`'s result line: answers/s, flows/s, p50 and p99 of a flow (ms), answers, 2xx, 3xx,
    /// 4xx, 5xx, 401, 429, socket errors, reused holders, 503, failed flows.
    fn line(&mut self, window: Duration) -> String {
        self.flows.sort();
        let ms = |p: f64| self.percentile_ms(p);
        let seconds = window.as_secs_f64();
        format!(
            "{:.1} {:.1} {:.3} {:.3} {} {} {} {} {} {} {} {} {} {} {}",
            self.answers as f64 / seconds,
            self.flows.len() as f64 / seconds,
            ms(0.50),
            ms(0.99),
            self.answers,
            self.s2,
            self.s3,
            self.s4,
            self.s5,
            self.s401,
            self.s429,
            self.socket_errors,
            self.reused,
            self.s503,
            self.failed
        )
    }
}

fn snippet(body: &str) -> String {
    body.chars().take(300).collect::<String>().replace('\n', " ")
}

/// What every browser shares: the provider, the relying party, the holders, the outbox, the windows.
struct Run {
    base: String,
    client_id: String,
    redirect_uri: String,
    basic: String,
    password: String,
    holders: Vec<(String, String)>,
    next: AtomicUsize,
    outbox: sqlx::AnyPool,
    /// The relying party's back end (no cookies).
    rp: reqwest::Client,
    warm_end: Instant,
    end: Instant,
}

impl Run {
    /// The window an answer that came now counts in: 0 the warm-up, 1 the measured run, none after it.
    fn window(&self) -> Option<usize> {
        let now = Instant::now();
        if now < self.warm_end {
            Some(0)
        } else if now < self.end {
            Some(1)
        } else {
            None
        }
    }

    /// The newest sign-in code sent to `phone`, as the SMS carries it.
    async fn code_sent_to(&self, phone: &str) -> Result<String, String> {
        let body: Option<String> = sqlx::query_scalar(
            "SELECT body FROM outbox WHERE recipient = $1 AND kind = 'holder_sign_in_code' ORDER BY id DESC LIMIT 1",
        )
        .bind(phone)
        .fetch_optional(&self.outbox)
        .await
        .map_err(|e| format!("reading the outbox: {e}"))?;
        let body = body.ok_or_else(|| format!("no sign-in code was queued for {phone}"))?;
        body.split(|c: char| !c.is_ascii_digit())
            .find(|w| w.len() == 6)
            .map(str::to_owned)
            .ok_or_else(|| format!("no code in the message: {}", snippet(&body)))
    }
}

/// An answer, read whole.
struct Answer {
    status: u16,
    location: Option<String>,
    body: String,
}

/// A browser's cookies (name → value), kept by hand as a browser keeps them for the provider's paths.
type Cookies = BTreeMap<String, String>;

/// Sends a request (made again for each try), keeping the cookies it sets when there is a jar; a `503` is tried
/// again after its `Retry-After`, until the measured run ends. Every answer counts in its window.
async fn send(
    run: &Run,
    stats: &mut [Stats; 2],
    mut cookies: Option<&mut Cookies>,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<Answer, String> {
    loop {
        let mut request = make();
        if let Some(jar) = cookies.as_deref()
            && !jar.is_empty()
        {
            let header = jar.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("; ");
            request = request.header(COOKIE, header);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                if let Some(w) = run.window() {
                    stats[w].socket_errors += 1;
                }
                return Err(format!("socket: {e}"));
            }
        };
        let status = response.status().as_u16();
        if let Some(jar) = cookies.as_deref_mut() {
            for value in response.headers().get_all(SET_COOKIE) {
                let Some((name, rest)) = value.to_str().ok().and_then(|v| v.split_once('=')) else { continue };
                let value = rest.split(';').next().unwrap_or_default();
                if value.is_empty() {
                    jar.remove(name);
                } else {
                    jar.insert(name.to_owned(), value.to_owned());
                }
            }
        }
        let header = |name| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let location = header(LOCATION);
        let retry_after = header(RETRY_AFTER).and_then(|v| v.parse::<u64>().ok());
        let body = response.text().await.map_err(|e| format!("reading an answer: {e}"))?;
        if let Some(w) = run.window() {
            stats[w].count(status, &body);
        }
        if status == 503 && Instant::now() < run.end {
            tokio::time::sleep(Duration::from_secs(retry_after.unwrap_or(1).clamp(1, 2))).await;
            continue;
        }
        return Ok(Answer { status, location, body });
    }
}

/// The value of a hidden field of a page.
fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    html[start..].split('"').next().map(str::to_owned)
}

/// Every value of a repeated field (the consent page's claim checkboxes).
fn values(html: &str, name: &str) -> Vec<String> {
    let marker = format!("name=\"{name}\" value=\"");
    html.match_indices(&marker)
        .filter_map(|(i, _)| html[i + marker.len()..].split('"').next().map(str::to_owned))
        .collect()
}

fn expect(step: &str, answer: &Answer, status: u16, marker: &str) -> Result<(), String> {
    if answer.status != status || !answer.body.contains(marker) {
        return Err(format!("{step}: {} {}", answer.status, snippet(&answer.body)));
    }
    Ok(())
}

/// One sign-in, from the authorization request to the tokens.
async fn flow(
    run: &Run,
    http: &reqwest::Client,
    stats: &mut [Stats; 2],
    id_number: &str,
    phone: &str,
) -> Result<(), String> {
    let base = &run.base;
    // A browser that has not been here before: no provider session, no CSRF cookie.
    let mut jar = Cookies::new();
    let verifier = new_token("").0;
    let challenge = CodeChallenge::of_verifier(&verifier);
    let (state, nonce) = (new_id(), new_id());
    let query = [
        ("response_type", "code"),
        ("client_id", run.client_id.as_str()),
        ("redirect_uri", run.redirect_uri.as_str()),
        ("scope", "openid profile phone"),
        ("state", state.as_str()),
        ("nonce", nonce.as_str()),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let page = send(run, stats, Some(&mut jar), || http.get(format!("{base}/oauth/authorize")).query(&query)).await?;
    expect("authorization request", &page, 200, "name=\"password\"")?;
    let interaction = field(&page.body, "interaction").ok_or("no interaction on the sign-in page")?;
    let csrf = field(&page.body, "csrf").ok_or("no csrf field on the sign-in page")?;

    let form = [
        ("interaction", interaction.as_str()),
        ("csrf", csrf.as_str()),
        ("id_number", id_number),
        ("password", run.password.as_str()),
    ];
    let page =
        send(run, stats, Some(&mut jar), || http.post(format!("{base}/oauth/authorize/password")).form(&form)).await?;
    expect("password page", &page, 200, "name=\"code\"")?;

    let code = run.code_sent_to(phone).await?;
    let form = [("interaction", interaction.as_str()), ("csrf", csrf.as_str()), ("code", code.as_str())];
    let mut page =
        send(run, stats, Some(&mut jar), || http.post(format!("{base}/oauth/authorize/code")).form(&form)).await?;
    if page.status == 200 && page.body.contains("name=\"decision\"") {
        // Not consented before: every claim ticked, as the page comes.
        let claims = values(&page.body, "claim");
        let mut form = vec![("interaction", interaction.as_str()), ("csrf", csrf.as_str()), ("decision", "allow")];
        form.extend(claims.iter().map(|c| ("claim", c.as_str())));
        page = send(run, stats, Some(&mut jar), || http.post(format!("{base}/oauth/authorize/consent")).form(&form))
            .await?;
    }
    if page.status != 303 {
        return Err(format!("code page: {} {}", page.status, snippet(&page.body)));
    }
    let location = page.location.ok_or("a 303 without Location")?;
    if !location.starts_with(&run.redirect_uri) {
        return Err(format!("redirected elsewhere: {location}"));
    }
    let url = reqwest::Url::parse(&location).map_err(|e| format!("the redirect {location:?}: {e}"))?;
    let query: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
    if query.get("state") != Some(&state) {
        return Err(format!("the redirect does not carry the state: {location}"));
    }
    let code = query.get("code").ok_or_else(|| format!("no code in the redirect: {location}"))?;

    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", run.redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let answer = send(run, stats, None, || {
        run.rp
            .post(format!("{base}/oauth/token"))
            .header(AUTHORIZATION, &run.basic)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .form(&form)
    })
    .await?;
    expect("code exchange", &answer, 200, "\"id_token\"")?;
    if !answer.body.contains("\"access_token\"") {
        return Err(format!("code exchange: no access token: {}", snippet(&answer.body)));
    }
    Ok(())
}

/// One virtual browser: flows one after the other until the measured run ends.
async fn browser(run: Arc<Run>) -> [Stats; 2] {
    let mut stats = [Stats::default(), Stats::default()];
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(30))
        .build()
        .expect("an HTTP client");
    while Instant::now() < run.end {
        let i = run.next.fetch_add(1, Ordering::Relaxed);
        let (id_number, phone) = &run.holders[i % run.holders.len()];
        let started = Instant::now();
        let outcome = flow(&run, &http, &mut stats, id_number, phone).await;
        let Some(w) = run.window() else { break };
        if i >= run.holders.len() {
            stats[w].reused += 1;
        }
        match outcome {
            Ok(()) => stats[w].flows.push(started.elapsed()),
            Err(e) => {
                stats[w].failed += 1;
                stats[w].first_failure.get_or_insert(e);
            }
        }
    }
    stats
}

fn append(path: &Option<PathBuf>, line: &str) -> Result<()> {
    if let Some(path) = path {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
        writeln!(file, "{line}")?;
    }
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let client = std::fs::read_to_string(&cli.client).with_context(|| format!("reading {}", cli.client.display()))?;
    let mut lines = client.lines();
    let (client_id, secret, redirect_uri) = match (lines.next(), lines.next(), lines.next()) {
        (Some(id), Some(secret), Some(redirect)) => (id.to_owned(), secret.to_owned(), redirect.to_owned()),
        _ => anyhow::bail!("{}: the client id, secret and redirect URI, a line each", cli.client.display()),
    };
    let holders: Vec<(String, String)> = std::fs::read_to_string(&cli.holders)
        .with_context(|| format!("reading {}", cli.holders.display()))?
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(id, phone)| (id.to_owned(), phone.to_owned()))
        .collect();
    anyhow::ensure!(!holders.is_empty(), "no holders in {}", cli.holders.display());
    sqlx::any::install_default_drivers();
    let outbox = sqlx::any::AnyPoolOptions::new().max_connections(4).connect(&cli.db).await?;
    let basic = format!(
        "Basic {}",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, format!("{client_id}:{secret}"))
    );
    let started = Instant::now();
    let run = Arc::new(Run {
        base: cli.base.trim_end_matches('/').to_owned(),
        client_id,
        redirect_uri,
        basic,
        password: cli.password.clone(),
        holders,
        next: AtomicUsize::new(0),
        outbox,
        rp: reqwest::Client::builder().timeout(Duration::from_secs(30)).build()?,
        warm_end: started + cli.warmup,
        end: started + cli.warmup + cli.duration,
    });
    let browsers: Vec<_> = (0..cli.browsers).map(|_| tokio::spawn(browser(run.clone()))).collect();
    let mut windows = [Stats::default(), Stats::default()];
    for b in browsers {
        let [warm, measured] = b.await?;
        windows[0].merge(warm);
        windows[1].merge(measured);
    }
    let [mut warm, mut measured] = windows;
    let warm_line = warm.line(cli.warmup);
    let line = measured.line(cli.duration);
    for (stats, suffix) in [(&warm, "/warm-up"), (&measured, "")] {
        if let Some(sample) = &stats.first_5xx {
            append(&cli.five_xx, &format!("{}{suffix}: {sample}", cli.label))?;
        }
        if let Some(sample) = &stats.first_failure {
            append(&cli.failures, &format!("{}{suffix}: {sample}", cli.label))?;
        }
    }
    append(&cli.warm_result, &warm_line)?;
    append(&cli.result, &line)?;
    println!(
        "{} browsers, {:.0} s measured after a {:.0} s warm-up: {} flows ({:.1}/s), p50 {:.0} ms, p99 {:.0} ms, \
         max {:.0} ms; {} answers ({} 503 retried), {} flows failed, {} holders reused",
        cli.browsers,
        cli.duration.as_secs_f64(),
        cli.warmup.as_secs_f64(),
        measured.flows.len(),
        measured.flows.len() as f64 / cli.duration.as_secs_f64(),
        measured.percentile_ms(0.50),
        measured.percentile_ms(0.99),
        measured.percentile_ms(1.0),
        measured.answers,
        measured.s503,
        measured.failed,
        measured.reused
    );
    println!("   result: {line}");
    if let Some(sample) = &measured.first_failure {
        println!("   first failed flow: {sample}");
    }
    Ok(())
}
