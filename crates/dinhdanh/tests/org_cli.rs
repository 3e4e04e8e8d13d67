//! `dinhdanh org ...` against a real `dinhdanh serve`, with an administrator's session token.

use std::collections::BTreeSet;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use chrono::Utc;
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind, OrganizationStatus};
use dinhdanh_domain::officer::{Officer, OfficerStatus};
use dinhdanh_domain::organization::Organization;
use dinhdanh_server::auth::OFFICER_SESSION_PREFIX;
use dinhdanh_server::secrets::new_token;
use dinhdanh_store::testing::TestDb;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn serve(db: &TestDb) -> (Server, String) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let server = Server(
        Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
            .args(["serve", "--database-url", &db.url, "--listen", &listen])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = format!("http://{listen}");
    for _ in 0..100 {
        if reqwest::get(format!("{url}/healthz")).await.is_ok() {
            return (server, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server did not start");
}

/// The operator organization and an administrator session, written straight to the database.
async fn admin_token(db: &TestDb) -> String {
    let store = db.store().await;
    let now = Utc::now();
    let operator = Organization {
        id: "op".into(),
        code: "C06".into(),
        name: "Cục C06".into(),
        kind: OrganizationKind::Operator,
        parent_id: None,
        status: OrganizationStatus::Active,
        contact_email: None,
        contact_phone: None,
        created_at: now,
        updated_at: now,
    };
    let officer = Officer {
        id: "admin-1".into(),
        username: "admin".into(),
        full_name: "Quản trị".into(),
        organization_id: "op".into(),
        roles: BTreeSet::from([OfficerRole::Administrator]),
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
    let (token, hash) = new_token(OFFICER_SESSION_PREFIX);
    let mut tx = store.begin().await.unwrap();
    tx.insert_organization(&operator).await.unwrap();
    tx.insert_officer(&officer).await.unwrap();
    tx.insert_officer_session(&hash, "admin-1", now, now + chrono::Duration::hours(1)).await.unwrap();
    tx.commit().await.unwrap();
    token
}

fn dinhdanh(url: &str, token: Option<&str>, args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dinhdanh"));
    command.args(args).env("DINHDANH_SERVER", url).env_remove("DINHDANH_TOKEN");
    if let Some(token) = token {
        command.env("DINHDANH_TOKEN", token);
    }
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_manages_organizations_from_the_command_line() {
    let db = TestDb::postgres().await;
    let token = admin_token(&db).await;
    let (_server, url) = serve(&db).await;
    let t = Some(token.as_str());

    let out =
        dinhdanh(&url, t, &["org", "create", "--code", "vcb", "--name", "Vietcombank", "--kind", "relying-party"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let created: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(created["code"], "VCB");
    let id = created["id"].as_str().unwrap();

    let out = dinhdanh(&url, t, &["org", "list", "--kind", "relying-party"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);

    let out = dinhdanh(&url, t, &["org", "suspend", id, "--reason", "fraud review"]);
    let suspended: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(suspended["status"], "suspended");

    let out = dinhdanh(&url, t, &["org", "create", "--code", "vcb", "--name", "Again", "--kind", "relying-party"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("409"), "{}", String::from_utf8_lossy(&out.stderr));

    let out = dinhdanh(&url, None, &["org", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("DINHDANH_TOKEN"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_registers_a_relying_partys_openid_connect_client_from_the_command_line() {
    let db = TestDb::sqlite();
    let token = admin_token(&db).await;
    let (_server, url) = serve(&db).await;
    let t = Some(token.as_str());
    // The first JSON value printed (`client create` prints the secret on the line after it).
    let json = |out: &Output| -> serde_json::Value {
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        serde_json::Deserializer::from_slice(&out.stdout).into_iter().next().unwrap().unwrap()
    };

    let bank = json(&dinhdanh(
        &url,
        t,
        &["org", "create", "--code", "tcb", "--name", "Techcombank", "--kind", "relying-party"],
    ));
    let org = bank["id"].as_str().unwrap();
    let args = ["client", "create", "--organization", org, "--name", "Ngân hàng số", "--auth-method", "client-secret"];
    let client = json(&dinhdanh(&url, t, &[&args[..], &["--scope", "accounts:status"]].concat()));
    let client_id = client["client_id"].as_str().unwrap();

    let set = [
        "client",
        "oidc",
        "set",
        client_id,
        "--redirect-uri",
        "https://ebank.example.vn/callback",
        "--post-logout-redirect-uri",
        "https://ebank.example.vn/",
        "--scope",
        "openid profile,phone",
        "--scope",
        "offline_access",
        "--claim",
        "name",
        "--claim",
        "phone_number",
        "--require-par",
    ];
    let saved = json(&dinhdanh(&url, t, &set));
    assert_eq!(saved["redirect_uris"], serde_json::json!(["https://ebank.example.vn/callback"]));
    assert_eq!(saved["subject_type"], "pairwise");
    assert_eq!(saved["require_pushed_authorization_requests"], true);
    let shown = json(&dinhdanh(&url, t, &["client", "oidc", "show", client_id]));
    assert_eq!(shown, saved);
    let scopes: BTreeSet<&str> = shown["scopes"].as_array().unwrap().iter().filter_map(|s| s.as_str()).collect();
    assert_eq!(scopes, BTreeSet::from(["openid", "profile", "phone", "offline_access"]));

    // The server's validation speaks through the command; nothing changes.
    let out = dinhdanh(
        &url,
        t,
        &["client", "oidc", "set", client_id, "--redirect-uri", "http://ebank.example.vn/cb", "--scope", "openid"],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("422"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(json(&dinhdanh(&url, t, &["client", "oidc", "show", client_id])), saved);
    let out = dinhdanh(&url, t, &["client", "oidc", "set", client_id, "--scope", "openid"]);
    assert!(!out.status.success(), "a redirect URI is required");
}
