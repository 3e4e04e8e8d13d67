//! A Shared Signals push receiver (RFC 8935) for trying streams out and for the benchmarks: it takes
//! `POST /events` with a Security Event Token, checks its ES256 signature against the transmitter's JWKS with
//! RustCrypto's P-256 (not the server's JOSE library), and prints one JSON line per SET on stdout: when it was
//! received (Unix milliseconds, this machine's clock), `jti`, the event type, `txn`, `aud` and the subject.
//! A SET whose signature does not verify is answered `400 invalid_key` (RFC 8935 §2.3) and printed with
//! `"verified": false`.
//!
//! ```sh
//! cargo run --release -p dinhdanh-server --example ssf_receiver -- \
//!     --listen 127.0.0.1:9100 --jwks http://127.0.0.1:8081/oauth/jwks
//! ```

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Verifier;
use serde_json::{Value, json};

struct Receiver {
    jwks_url: String,
    http: reqwest::Client,
    /// The key set, fetched again when a SET names a key it does not have (a rotation).
    keys: tokio::sync::Mutex<Value>,
}

fn argument(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == name {
            return args.next();
        }
    }
    None
}

fn decode(part: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(part).ok()
}

/// The SET's claims if its signature verifies against `keys`; `None` if no key has its `kid`.
fn verified(keys: &Value, token: &str) -> Option<Result<Value, ()>> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts[..] else { return Some(Err(())) };
    let header: Value = serde_json::from_slice(&decode(header)?).ok()?;
    let key = keys["keys"].as_array()?.iter().find(|k| k["kid"] == header["kid"])?;
    let mut point = vec![4u8];
    point.extend(decode(key["x"].as_str()?)?);
    point.extend(decode(key["y"].as_str()?)?);
    let check = || -> Result<Value, ()> {
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(|_| ())?;
        let signature = p256::ecdsa::Signature::from_slice(&decode(signature).ok_or(())?).map_err(|_| ())?;
        key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature).map_err(|_| ())?;
        serde_json::from_slice(&decode(claims).ok_or(())?).map_err(|_| ())
    };
    Some(check())
}

async fn take(State(receiver): State<Arc<Receiver>>, body: String) -> (StatusCode, String) {
    let received_at_ms = chrono::Utc::now().timestamp_millis();
    let mut keys = receiver.keys.lock().await;
    let mut outcome = verified(&keys, &body);
    if outcome.is_none()
        && let Ok(response) = receiver.http.get(&receiver.jwks_url).send().await
        && let Ok(fresh) = response.json::<Value>().await
    {
        *keys = fresh;
        outcome = verified(&keys, &body);
    }
    drop(keys);
    match outcome {
        Some(Ok(claims)) => {
            let event = claims["events"].as_object().and_then(|e| e.keys().next().cloned()).unwrap_or_default();
            let line = json!({"received_at_ms": received_at_ms, "verified": true, "jti": claims["jti"],
                "event": event, "txn": claims["txn"], "aud": claims["aud"], "subject": claims["sub_id"]});
            println!("{line}");
            (StatusCode::ACCEPTED, String::new())
        }
        _ => {
            println!("{}", json!({"received_at_ms": received_at_ms, "verified": false}));
            let answer = json!({"err": "invalid_key", "description": "the signature does not verify"});
            (StatusCode::BAD_REQUEST, answer.to_string())
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (Some(listen), Some(jwks_url)) = (argument("--listen"), argument("--jwks")) else {
        eprintln!("usage: ssf_receiver --listen ADDRESS:PORT --jwks URL_OF_THE_TRANSMITTER_JWKS");
        std::process::exit(2);
    };
    let receiver = Arc::new(Receiver { jwks_url, http: reqwest::Client::new(), keys: Default::default() });
    let app = axum::Router::new().route("/events", axum::routing::post(take)).with_state(receiver);
    let listener = tokio::net::TcpListener::bind(&listen).await.unwrap_or_else(|e| {
        eprintln!("cannot listen on {listen}: {e}");
        std::process::exit(1);
    });
    eprintln!("receiving Security Event Tokens at http://{listen}/events");
    axum::serve(listener, app).await.expect("the receiver's server");
}
