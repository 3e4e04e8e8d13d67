//! The OpenID Connect provider end to end with a second relying-party library written by others:
//! `openid-client` (Node.js, panva's OpenID-certified client, v6), on SQLite and on PostgreSQL.
//!
//! `tests/node/relying_party.mjs` is the relying party, strict and configured only through the library's own API:
//! discovery, client secret authentication, PKCE S256, `state`, `nonce`, `max_age`, `acr_values`, the `claims`
//! parameter, PAR; the code exchange with the library's checks of the response (`state`, RFC 9207 `iss`) and of
//! the ID token (ES256 signature against the JWKS, `iss`, `aud`, `exp`, `iat`, `nonce`, `auth_time`), userinfo
//! with the expected `sub`, introspection, revocation, refresh with rotation and reuse. It prints the
//! authorization URL, this test drives the sign-in pages like a browser without JavaScript (it reads the one-time
//! code from the outbox) and hands the redirect back; the script prints what it got.
//!
//! The browser below depends only on the pages' form fields and actions, never on their texts (the pages'
//! language and wording are not this test's business).
//!
//! Node.js and `tests/node/node_modules` (`npm ci --prefix crates/server/tests/node`, done by `scripts/test`) are
//! required: without them the tests fail, they never skip.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use chrono::Utc;
use dinhdanh_domain::client::ClientAuthMethod;
use dinhdanh_server::clock::Clock;
use dinhdanh_store::on_both_backends;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

mod support;
use support::browser::Browser;
use support::{MAI_ID as ID_NUMBER, MAI_PASSWORD as PASSWORD, TestServer, lock, mai};

const REDIRECT: &str = "https://nganhang.example.vn/dang-nhap/callback";
const LOA_1: &str = "urn:dinhdanh:loa:1";

/// The relying party's API client (a secret) and its OpenID Connect registration, saved over the API.
struct RelyingParty {
    client_id: String,
    secret: String,
}

async fn relying_party(server: &TestServer, code: &str) -> RelyingParty {
    relying_party_as(server, code, ClientAuthMethod::ClientSecret).await
}

/// A relying party that proves itself with `method` (`private_key_jwt`: `support::test_ec_key`, no secret).
async fn relying_party_as(server: &TestServer, code: &str, method: ClientAuthMethod) -> RelyingParty {
    let (client_id, secret) = server.relying_party_client(code, method).await;
    let body = json!({
        "redirect_uris": [REDIRECT],
        "scopes": ["openid", "profile", "phone", "offline_access"],
        "claims": ["name", "phone_number", "phone_number_verified"],
    });
    let path = format!("/v1/clients/{client_id}/oidc");
    let (status, saved) = server.call(reqwest::Method::PUT, &path, &server.admin().await, Some(body)).await;
    assert_eq!(status, 200, "{saved}");
    RelyingParty { client_id, secret }
}

/// From the authorization URL to the redirect back to the client: the identifier-and-password page, the one-time
/// code, the consent (name and phone number), whichever of them the provider shows. Returns the redirect's
/// `Location`.
async fn sign_in(browser: &mut Browser, server: &TestServer, url: &str) -> String {
    let mut page = browser.get(url).await;
    if page.status == 200 && page.has_field("password") {
        let (interaction, csrf) = (page.field("interaction"), page.field("csrf"));
        let form = [("interaction", &*interaction), ("csrf", &*csrf), ("id_number", ID_NUMBER), ("password", PASSWORD)];
        page = browser.post(&server.url("/oauth/authorize/password"), &form).await;
        assert!(page.status == 200 && page.has_field("code"), "the one-time code page: {} {}", page.status, page.html);
        let code = server.last_sign_in_code().await;
        let form = [("interaction", &*interaction), ("csrf", &*csrf), ("code", &*code)];
        page = browser.post(&server.url("/oauth/authorize/code"), &form).await;
    }
    if page.status == 200 {
        let (interaction, csrf) = (page.field("interaction"), page.field("csrf"));
        let mut form = vec![("interaction", &*interaction), ("csrf", &*csrf)];
        form.extend(["name", "phone_number", "phone_number_verified"].map(|claim| ("claim", claim)));
        form.push(("decision", "allow"));
        page = browser.post(&server.url("/oauth/authorize/consent"), &form).await;
    }
    assert_eq!(page.status, 303, "a redirect back to the client: {}", page.html);
    let location = page.location.expect("a Location");
    assert!(location.starts_with(REDIRECT), "{location}");
    location
}

/// The directory of the Node project (`package.json`, `relying_party.mjs`, `node_modules`).
fn node_project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// Fails, never skips, when Node.js or the library is missing.
fn require_node() {
    let version = std::process::Command::new("node").arg("--version").output();
    let version = match version {
        Ok(output) if output.status.success() => String::from_utf8_lossy(&output.stdout).trim().to_owned(),
        other => panic!(
            "Node.js is required by this test (openid-client is a Node library) and `node --version` failed: \
             {other:?}. Run scripts/test, which installs it, or install Node.js 20 or later."
        ),
    };
    let major: u32 = version.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    assert!(major >= 20, "openid-client 6 needs Node.js 20 or later; `node --version` says {version}");
    let library = node_project().join("node_modules/openid-client/package.json");
    assert!(
        library.is_file(),
        "{} is missing: run `npm ci --prefix crates/server/tests/node` (scripts/test does it)",
        library.display()
    );
}

/// One run of the Node relying party: started with a scenario, it has printed its authorization URL and waits
/// for the redirect.
struct NodeRelyingParty {
    child: tokio::process::Child,
    stdin: tokio::process::ChildStdin,
    stdout: tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
    stderr: tokio::task::JoinHandle<String>,
    url: String,
}

const PATIENCE: Duration = Duration::from_secs(90);

impl NodeRelyingParty {
    /// `scenario` adds to (or overrides) the issuer, the client's credentials, the redirect URI and the clock.
    async fn start(server: &TestServer, rp: &RelyingParty, scenario: Value) -> Self {
        require_node();
        let mut config = json!({
            "issuer": server.base,
            "client_id": rp.client_id,
            "client_secret": rp.secret,
            "redirect_uri": REDIRECT,
            // The server's manual clock minus the wall clock, in seconds: the library's clock offset.
            "clock_skew": server.clock.now().timestamp() - Utc::now().timestamp(),
        });
        config.as_object_mut().unwrap().extend(scenario.as_object().unwrap().clone());
        let mut child = tokio::process::Command::new("node")
            .arg("relying_party.mjs")
            .arg(config.to_string())
            .current_dir(node_project())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let stdin = child.stdin.take().unwrap();
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut stderr = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            let mut text = String::new();
            let _ = stderr.read_to_string(&mut text).await;
            text
        });
        let mut node = Self { child, stdin, stdout, stderr, url: String::new() };
        let said = node.hear().await;
        assert_eq!(said["step"], "authorize", "{said}");
        node.url = said["url"].as_str().unwrap().to_owned();
        node
    }

    async fn hear(&mut self) -> Value {
        match tokio::time::timeout(PATIENCE, self.stdout.next_line()).await {
            Ok(Ok(Some(line))) => serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")),
            other => {
                let _ = self.child.start_kill();
                let stderr = tokio::time::timeout(Duration::from_secs(5), &mut self.stderr).await;
                panic!("the Node relying party said nothing ({other:?}); its stderr: {stderr:?}")
            }
        }
    }

    /// Hands the browser's redirect to the library; returns the script's summary (`step` is `done` or `failed`).
    async fn finish(mut self, location: &str) -> Value {
        let line = format!("{}\n", json!({ "location": location }));
        self.stdin.write_all(line.as_bytes()).await.unwrap();
        self.stdin.flush().await.unwrap();
        let said = self.hear().await;
        let status = tokio::time::timeout(PATIENCE, self.child.wait()).await.expect("node exits").unwrap();
        let stderr = self.stderr.await.unwrap();
        assert!(status.success(), "node exited with {status}: {stderr}");
        if said["step"] != "done" {
            eprintln!("the Node relying party's stderr:\n{stderr}");
        }
        said
    }
}

/// `location` with the query parameter `name` set to `value`.
fn with_parameter(location: &str, name: &str, value: &str) -> String {
    let mut url = reqwest::Url::parse(location).unwrap();
    let pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(n, v)| {
            let v = if n == name { value.to_owned() } else { v.into_owned() };
            (n.into_owned(), v)
        })
        .collect();
    url.query_pairs_mut().clear().extend_pairs(pairs);
    url.to_string()
}

fn query(url: &str) -> BTreeMap<String, String> {
    reqwest::Url::parse(url).unwrap().query_pairs().map(|(n, v)| (n.into_owned(), v.into_owned())).collect()
}

on_both_backends! {
    a_certified_node_relying_party_signs_in_through_the_pages_and_validates_everything(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NOA").await;
        let account = mai(&server).await;
        let node = NodeRelyingParty::start(&server, &rp, json!({
            "auth": "basic",
            "scope": "openid profile phone offline_access",
            "max_age": 600,
            "acr_values": LOA_1,
            // The name also in the ID token (claims go to userinfo only, unless asked for there).
            "claims": {"id_token": {"name": null}},
        })).await;
        let asked = query(&node.url);
        assert!(node.url.starts_with(&server.url("/oauth/authorize?")), "{}", node.url);
        assert_eq!(asked["code_challenge_method"], "S256");
        assert_eq!(asked["max_age"], "600");
        let mut browser = Browser::new();
        let location = sign_in(&mut browser, &server, &node.url).await;
        let got = node.finish(&location).await;

        assert_eq!(got["step"], "done", "the library accepted everything: {got:#}");
        assert!(got["library"].as_str().unwrap().starts_with("6."), "{}", got["library"]);
        assert_eq!(got["issuer"], server.base.as_str());
        assert_eq!(got["id_token_header"]["alg"], "ES256");
        assert_eq!(got["id_token_header"]["typ"], "JWT");
        let claims = &got["claims"];
        assert_eq!(claims["iss"], server.base.as_str());
        assert_eq!(claims["aud"], rp.client_id.as_str());
        assert_eq!(claims["acr"], LOA_1);
        assert_eq!(claims["amr"], json!(["pwd", "otp"]));
        assert_eq!(claims["auth_time"], server.clock.now().timestamp(), "auth_time, since max_age was sent");
        assert_eq!(claims["name"], "Trần Thị Mai", "asked for in the ID token by the claims parameter");
        let sub = claims["sub"].as_str().unwrap();
        assert_ne!(sub, account.as_str(), "pairwise, not the account id");
        assert_eq!(got["token_type"], "bearer");
        assert_eq!(got["scope"], "openid profile phone offline_access");
        assert_eq!(got["userinfo"]["sub"], sub);
        assert_eq!(got["userinfo"]["name"], "Trần Thị Mai");
        assert_eq!(got["userinfo"]["phone_number"], "+84912345678");
        assert!(got["userinfo"].get("email").is_none(), "the client is not registered for email: {got:#}");
        assert_eq!(got["introspection"]["active"], true);
        assert_eq!(got["introspection"]["client_id"], rp.client_id.as_str());
        assert_eq!(got["introspection_after_revocation"]["active"], false, "a revoked access token ends at once");

        let refresh = &got["refresh"];
        assert_eq!(refresh["rotated"], true, "{got:#}");
        assert_eq!(refresh["userinfo_sub"], sub);
        assert_eq!(refresh["id_token"]["sub"], sub);
        assert!(refresh["id_token"].get("nonce").is_none(), "no nonce in a refreshed ID token: {refresh}");
        assert_eq!(refresh["reuse"]["refused"], true);
        assert_eq!(refresh["reuse"]["error"]["error"], "invalid_grant");
        assert_eq!(refresh["after_reuse"]["error"]["error"], "invalid_grant", "reuse revoked the whole family");
    }

    a_node_relying_party_pushes_its_request_with_par_and_authenticates_with_a_post_secret(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NOB").await;
        mai(&server).await;
        let node = NodeRelyingParty::start(&server, &rp, json!({
            "auth": "post",
            "par": true,
            "scope": "openid profile",
            "claims": {"id_token": {"acr": {"essential": true, "value": LOA_1}}},
        })).await;
        // The front channel carries only the client and the reference; the rest was pushed.
        let asked = query(&node.url);
        assert_eq!(asked.keys().map(String::as_str).collect::<Vec<_>>(), ["client_id", "request_uri"], "{}", node.url);
        assert!(asked["request_uri"].starts_with("urn:ietf:params:oauth:request_uri:"));
        let location = sign_in(&mut Browser::new(), &server, &node.url).await;
        let got = node.finish(&location).await;
        assert_eq!(got["step"], "done", "{got:#}");
        assert_eq!(got["claims"]["acr"], LOA_1);
        assert_eq!(got["scope"], "openid profile");
        assert_eq!(got["userinfo"]["name"], "Trần Thị Mai");
        assert!(got["userinfo"].get("phone_number").is_none(), "phone was not asked for: {got:#}");
        assert_eq!(got["refresh"], Value::Null, "no offline_access, no refresh token");
    }

    a_lock_between_authorization_and_exchange_makes_the_librarys_code_exchange_fail(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NOC").await;
        let account = mai(&server).await;
        let node = NodeRelyingParty::start(&server, &rp, json!({"auth": "basic", "scope": "openid profile"})).await;
        let location = sign_in(&mut Browser::new(), &server, &node.url).await;
        lock(&server, &account).await;
        let got = node.finish(&location).await;
        assert_eq!(got["step"], "failed", "{got:#}");
        assert_eq!(got["stage"], "code exchange");
        assert_eq!(got["error"]["code"], "OAUTH_RESPONSE_BODY_ERROR", "{got:#}");
        assert_eq!(got["error"]["error"], "invalid_grant", "{got:#}");
        assert_eq!(got["error"]["status"], 400, "{got:#}");
    }

    a_tampered_state_or_issuer_in_the_redirect_is_rejected_by_the_library_before_the_code_is_spent(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NOD").await;
        mai(&server).await;
        let mut browser = Browser::new();
        for (parameter, forged) in [("state", "trang-thai-gia"), ("iss", "https://ke-gian.example")] {
            let node = NodeRelyingParty::start(&server, &rp, json!({"auth": "basic", "scope": "openid"})).await;
            // The first run signs in through the pages; the next one rides the browser's session.
            let location = sign_in(&mut browser, &server, &node.url).await;
            let got = node.finish(&with_parameter(&location, parameter, forged)).await;
            assert_eq!(got["step"], "failed", "{got:#}");
            assert_eq!(got["stage"], "code exchange");
            assert_eq!(got["error"]["code"], "OAUTH_INVALID_RESPONSE", "{got:#}");
            // The library's own words, e.g. `unexpected "state" response parameter value`.
            assert!(got["error"]["cause"].as_str().unwrap().contains(&format!("\"{parameter}\"")), "{got:#}");
        }
        let exchanges = server.store.recent_audit(Some("oidc.token"), 10).await.unwrap();
        assert!(exchanges.is_empty(), "the library never sent a code: {exchanges:?}");
        // The same redirect untouched goes through, and is what the token endpoint records.
        let node = NodeRelyingParty::start(&server, &rp, json!({"auth": "basic", "scope": "openid"})).await;
        let location = sign_in(&mut browser, &server, &node.url).await;
        assert_eq!(node.finish(&location).await["step"], "done");
        assert_eq!(server.store.recent_audit(Some("oidc.token"), 10).await.unwrap().len(), 1);
    }

    the_librarys_checks_are_in_force_a_forged_id_token_and_the_wall_clock_are_refused(db) {
        // What the tests above rely on, shown failing when it should: the ID token's signature is checked
        // against the JWKS (the library skips it by default), and times are checked against the provider's clock
        // only thanks to the offset passed in (the wall clock finds the provider's tokens months old).
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NOE").await;
        mai(&server).await;
        let mut browser = Browser::new();
        let forged = json!({"auth": "basic", "scope": "openid", "forge_id_token": true});
        let wall_clock = json!({"auth": "basic", "scope": "openid", "clock_skew": 0});
        let mut refusals = Vec::new();
        for scenario in [forged, wall_clock] {
            let node = NodeRelyingParty::start(&server, &rp, scenario).await;
            let location = sign_in(&mut browser, &server, &node.url).await;
            let got = node.finish(&location).await;
            assert_eq!((&got["step"], &got["stage"]), (&json!("failed"), &json!("code exchange")), "{got:#}");
            refusals.push(got["error"]["cause"].as_str().unwrap_or_default().to_owned());
        }
        assert!(refusals[0].contains("signature verification failed"), "{refusals:?}");
        assert!(refusals[1].contains("\"exp\""), "{refusals:?}");
    }

    a_node_relying_party_authenticates_with_private_key_jwt_at_every_endpoint(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party_as(&server, "NOJ", ClientAuthMethod::PrivateKeyJwt).await;
        mai(&server).await;
        let key = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys/ec-1.pem");
        let node = NodeRelyingParty::start(&server, &rp, json!({
            "auth": "private_key_jwt",
            "private_key_pem": key,
            "kid": support::TEST_EC_KID,
            "par": true,
            "scope": "openid profile phone offline_access",
        })).await;
        let location = sign_in(&mut Browser::new(), &server, &node.url).await;
        let got = node.finish(&location).await;
        assert_eq!(got["step"], "done", "{got:#}");
        assert_eq!(got["claims"]["acr"], LOA_1);
        assert_eq!(got["userinfo"]["name"], "Trần Thị Mai");
        assert_eq!(got["introspection"]["active"], true, "{got:#}");
        assert_eq!(got["refresh"]["rotated"], true, "{got:#}");
        // PAR, the code exchange, introspection, revocation and refreshes: each with an assertion of its own.
        let audit = server.store.recent_audit(Some("oidc.token"), 100).await.unwrap();
        assert!(audit.iter().all(|e| e.detail["reason"] != "assertion_replayed"), "no assertion was used twice");
        assert!(audit.iter().all(|e| e.detail["reason"] != "wrong_auth_method"), "{audit:?}");
    }
}
