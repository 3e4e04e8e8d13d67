//! Shared parts of the integration tests: real servers (aiosmtpd for SMTP, an axum app for the SMS gateway),
//! outbox helpers and fast worker settings. Nothing here imitates a protocol.

#![allow(dead_code)]

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use dinhdanh_domain::Channel;
use dinhdanh_notify::{SmtpConfig, SmtpSender, SmtpTls, WorkerConfig};
use dinhdanh_store::{NewMessage, OutboxMessage, Store};

/// Short leases and backoffs, so that retries and lease expiry happen within a test.
pub fn fast_config() -> WorkerConfig {
    WorkerConfig {
        poll_interval: Duration::from_millis(50),
        lease: chrono::Duration::seconds(2),
        batch: 10,
        max_attempts: 5,
        backoff_base: Duration::from_millis(300),
        backoff_max: Duration::from_secs(1),
    }
}

/// Queues a message as the application does, in a transaction of its own; returns its outbox id.
pub async fn enqueue(
    store: &Store,
    kind: &'static str,
    channel: Channel,
    recipient: &str,
    subject: &str,
    body: &str,
) -> i64 {
    let mut tx = store.begin().await.unwrap();
    let message = NewMessage {
        kind,
        channel,
        recipient: recipient.to_owned(),
        subject: subject.to_owned(),
        body: body.to_owned(),
    };
    tx.enqueue(message, Utc::now()).await.unwrap();
    tx.commit().await.unwrap();
    store.outbox_messages(None, 1).await.unwrap()[0].id
}

pub async fn message(store: &Store, id: i64) -> OutboxMessage {
    store.outbox_messages(None, 1000).await.unwrap().into_iter().find(|m| m.id == id).expect("message in the outbox")
}

/// Polls until `done` holds for the message, or fails the test after `within`.
pub async fn wait_for_message(
    store: &Store,
    id: i64,
    within: Duration,
    what: &str,
    done: impl Fn(&OutboxMessage) -> bool,
) -> OutboxMessage {
    let deadline = Instant::now() + within;
    loop {
        let m = message(store, id).await;
        if done(&m) {
            return m;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; message is {m:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A port on 127.0.0.1 that nothing listens on (at the time of the call).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A port held bound but not listening: connections to it are refused, and no other test can take it until
/// [`ClosedPort::release`] (which hands it over, e.g. to a server started on it later).
pub struct ClosedPort {
    pub port: u16,
    _socket: tokio::net::TcpSocket,
}

impl ClosedPort {
    pub fn new() -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
        Self { port: socket.local_addr().unwrap().port(), _socket: socket }
    }

    pub fn release(self) -> u16 {
        self.port
    }
}

pub fn smtp_config(port: u16) -> SmtpConfig {
    SmtpConfig {
        host: "127.0.0.1".to_owned(),
        port,
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "Định danh điện tử <no-reply@dinhdanh.example.vn>".to_owned(),
    }
}

pub fn smtp_sender(port: u16) -> Arc<SmtpSender> {
    Arc::new(SmtpSender::new(&smtp_config(port)).unwrap())
}

/// Python's aiosmtpd, run as a child process with its `Mailbox` handler: every mail it accepts is stored in a
/// maildir. Killed when dropped.
pub struct SmtpServer {
    pub port: u16,
    child: Child,
    maildir: tempfile::TempDir,
}

/// Fails the test, with what to do, when python3 or aiosmtpd is missing: the e-mail tests never skip.
fn require_aiosmtpd() {
    let check =
        Command::new("python3").args(["-c", "import aiosmtpd"]).stdout(Stdio::null()).stderr(Stdio::piped()).output();
    match check {
        Err(e) => panic!(
            "python3 is required by the e-mail tests, which deliver to a real SMTP server (aiosmtpd); \
             install Python 3 and run `pip install aiosmtpd`: {e}"
        ),
        Ok(out) if !out.status.success() => panic!(
            "the Python package aiosmtpd is required by the e-mail tests; run `pip install aiosmtpd`: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Ok(_) => {}
    }
}

impl SmtpServer {
    /// Starts aiosmtpd on a free port, trying another port should the chosen one be taken meanwhile.
    pub async fn start() -> Self {
        let mut last = String::new();
        for _ in 0..3 {
            match Self::try_start_on(free_port()).await {
                Ok(server) => return server,
                Err(e) => last = e,
            }
        }
        panic!("{last}")
    }

    /// Starts aiosmtpd on `port` and waits until it accepts connections.
    pub async fn start_on(port: u16) -> Self {
        Self::try_start_on(port).await.unwrap_or_else(|e| panic!("{e}"))
    }

    async fn try_start_on(port: u16) -> Result<Self, String> {
        require_aiosmtpd();
        let maildir = tempfile::tempdir().unwrap();
        let mut child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("mail"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `python3 -m aiosmtpd` (run `pip install aiosmtpd`): {e}"));
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut stderr = String::new();
                use std::io::Read;
                child.stderr.take().unwrap().read_to_string(&mut stderr).ok();
                return Err(format!(
                    "aiosmtpd exited before accepting connections on port {port} ({status}): {stderr}"
                ));
            }
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            if TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("aiosmtpd did not accept connections on port {port} within 20s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(Self { port, child, maildir })
    }

    fn new_mail_dir(&self) -> PathBuf {
        self.maildir.path().join("mail").join("new")
    }

    /// The mails received so far, parsed by Python's standard `email` package (policy `default`, which decodes
    /// RFC 2047 headers and the body's transfer encoding and charset).
    pub fn mails(&self) -> Vec<ReceivedMail> {
        let Ok(entries) = std::fs::read_dir(self.new_mail_dir()) else { return Vec::new() };
        let mut paths: Vec<PathBuf> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        paths.iter().map(|p| parse_mail(p)).collect()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct ReceivedMail {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub content_type: String,
    pub charset: Option<String>,
    pub body: String,
    /// `None` when the header is absent.
    pub message_id: Option<String>,
    pub date: Option<String>,
    pub mime_version: Option<String>,
    pub content_transfer_encoding: Option<String>,
    /// The envelope recipients, as aiosmtpd recorded them.
    pub rcpt_to: String,
    /// The file as stored, headers encoded.
    pub raw: String,
}

const PARSE_MAIL: &str = r#"
import email, json, sys
from email import policy
raw = open(sys.argv[1], 'rb').read()
m = email.message_from_bytes(raw, policy=policy.default)
print(json.dumps({
    "to": str(m["To"]), "from": str(m["From"]), "subject": str(m["Subject"]),
    "content_type": m.get_content_type(), "charset": m.get_content_charset(),
    "body": m.get_content(), "rcpt_to": str(m["X-RcptTo"]), "raw": raw.decode("ascii", "replace"),
    **{key: (str(m[name]) if m[name] is not None else None) for key, name in [
        ("message_id", "Message-ID"), ("date", "Date"), ("mime_version", "MIME-Version"),
        ("content_transfer_encoding", "Content-Transfer-Encoding")]},
}))
"#;

fn parse_mail(path: &Path) -> ReceivedMail {
    let out = Command::new("python3").args(["-c", PARSE_MAIL]).arg(path).output().expect("python3");
    assert!(out.status.success(), "parsing {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("parsed mail as JSON")
}

/// One request as the SMS gateway received it.
#[derive(Debug, Clone)]
pub struct GatewayRequest {
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub json: serde_json::Value,
}

/// A real HTTP server standing in for the SMS gateway: records each request and answers with `status`.
pub struct Gateway {
    pub url: String,
    pub requests: Arc<Mutex<Vec<GatewayRequest>>>,
    status: Arc<AtomicU16>,
    task: tokio::task::JoinHandle<()>,
}

impl Gateway {
    pub async fn start() -> Self {
        use axum::http::{HeaderMap, StatusCode, header};
        let requests: Arc<Mutex<Vec<GatewayRequest>>> = Arc::default();
        let status = Arc::new(AtomicU16::new(200));
        let app = {
            let requests = requests.clone();
            let status = status.clone();
            axum::Router::new().route(
                "/v1/sms",
                axum::routing::post(move |headers: HeaderMap, axum::Json(json): axum::Json<serde_json::Value>| {
                    let requests = requests.clone();
                    let status = status.clone();
                    async move {
                        let header =
                            |name| headers.get(name).map(|v: &axum::http::HeaderValue| v.to_str().unwrap().to_owned());
                        requests.lock().unwrap().push(GatewayRequest {
                            authorization: header(header::AUTHORIZATION),
                            content_type: header(header::CONTENT_TYPE),
                            json,
                        });
                        let code = StatusCode::from_u16(status.load(Ordering::SeqCst)).unwrap();
                        (code, format!("{{\"status\":{}}}", code.as_u16()))
                    }
                }),
            )
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/v1/sms", listener.local_addr().unwrap());
        let task = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { url, requests, status, task }
    }

    pub fn answer_with(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    pub fn requests(&self) -> Vec<GatewayRequest> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}
