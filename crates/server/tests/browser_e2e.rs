//! The holder portal and the officers' console in a real browser: headless Chromium (Debian's `chromium`, which
//! scripts/test and .ci/run install) driven by playwright-core from `tests/node/portal_e2e.mjs`. A citizen
//! registers, reads the activation code from the dev inbox (the outbox, here), activates, signs in through the
//! provider's pages, locks the account, sees sign-in refused with the lock's explanation, files an unlock request,
//! an officer approves it in the console after the in-person check, and signing in works again. Every main page
//! is saved as a PNG under the test's output folder, checked by axe-core for serious or critical accessibility
//! violations, and for console errors.
//!
//! SQLite only: the browser adds nothing a second store would test, and every step's store path is tested on
//! both stores by the portal's and the console's own tests.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use dinhdanh_domain::{IdentificationNumber, ProvinceTable};
use dinhdanh_server::clock::Clock;
use dinhdanh_store::Dialect;
use dinhdanh_store::testing::TestDb;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

mod support;
use support::{MAI_ID as ID_NUMBER, MAI_PASSWORD as PASSWORD, TestServer, mai_in_the_registry};

const CHROMIUM: &str = "/usr/bin/chromium";
/// How long one answer of the script may take: Chromium's first start on a busy machine is slow.
const PATIENCE: Duration = Duration::from_secs(180);

fn node_project() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node")
}

/// Fails, never skips, when the browser or the Node packages are missing.
fn require_browser() {
    assert!(
        std::path::Path::new(CHROMIUM).is_file(),
        "{CHROMIUM} is missing: this test drives a real browser. Run scripts/test, which installs Debian's chromium."
    );
    for package in ["playwright-core", "axe-core"] {
        let manifest = node_project().join("node_modules").join(package).join("package.json");
        assert!(
            manifest.is_file(),
            "{} is missing: run `npm ci --prefix crates/server/tests/node`",
            manifest.display()
        );
    }
}

/// The newest code of this kind in the outbox, as the SMS or e-mail carries it.
async fn code_of(server: &TestServer, kind: &str) -> String {
    let messages = server.store.outbox_messages(None, 100).await.unwrap();
    let message = messages.iter().find(|m| m.kind == kind).unwrap_or_else(|| panic!("a {kind} was queued"));
    message.body.split(|c: char| !c.is_ascii_digit()).find(|w| w.len() == 6).unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_holder_locks_asks_for_the_lift_and_an_officer_approves_it_in_a_real_browser() {
    require_browser();
    let db = TestDb::new(Dialect::Sqlite).await;
    let server = TestServer::start(&db).await;
    mai_in_the_registry(&server).await;
    let admin = server.admin().await;
    let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
    let officer = server.enrolled_officer(&admin, &operator.id, "hoa.lt", &["reviewer"]).await;

    let screenshots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("browser-e2e");
    let config = json!({
        "base": server.base,
        "chromium": CHROMIUM,
        "screenshots": screenshots,
        "holder": {
            "id_number": ID_NUMBER, "full_name": "Trần Thị Mai", "date_of_birth": "1990-05-01", "gender": "female",
            "phone": "0912345678", "password": PASSWORD,
        },
        "officer": {
            "sign_in_fields": {"#username": officer.username, "#password": officer.password, "#code": "$totp"},
            "sign_in_button": "button[type=submit]",
            "steps": [
                {"button": "button#claim"},
                {"fields": {"#check-document-number": ID_NUMBER, "#check-office": "Công an phường Điện Biên, Hà Nội"},
                 "button": "button#approve"},
            ],
            "approved_text": "đã có hiệu lực",
        },
    });
    let mut child = tokio::process::Command::new("node")
        .arg("portal_e2e.mjs")
        .arg(config.to_string())
        .current_dir(node_project())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node starts");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut stderr = child.stderr.take().unwrap();
    let stderr = tokio::spawn(async move {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text).await;
        text
    });
    let last = loop {
        let line = match tokio::time::timeout(PATIENCE, stdout.next_line()).await {
            Ok(Ok(Some(line))) => line,
            other => {
                let _ = child.start_kill();
                panic!("the browser script stopped talking ({other:?}); its stderr: {}", stderr.await.unwrap());
            }
        };
        let said: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
        // The server's clock is the test's and stands still unless moved: a person takes a moment to read a code.
        // (A grant made at the very instant of a lift would count as made under the lock.)
        server.clock.advance(chrono::Duration::seconds(2));
        let answer = match said["need"].as_str() {
            Some("activation_code") => code_of(&server, "activation_code").await,
            Some("sign_in_code") => code_of(&server, "holder_sign_in_code").await,
            Some("totp") => officer.code_at(server.clock.now().timestamp()),
            Some(other) => panic!("the script needs {other}, which this test does not know"),
            None => break said,
        };
        let reply = format!("{}\n", json!({ "value": answer }));
        stdin.write_all(reply.as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
    };
    let status = tokio::time::timeout(PATIENCE, child.wait()).await.expect("node exits").unwrap();
    let stderr = stderr.await.unwrap();
    assert_eq!(last["step"], "done", "{last}\n{stderr}");
    assert!(status.success(), "{last}\n{stderr}");
    let pages = last["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 23, "every main page was checked: {last}");
    for page in pages {
        let name = page["name"].as_str().unwrap();
        assert!(screenshots.join(format!("{name}.png")).is_file(), "{name}'s screenshot");
        let lang = if name.ends_with("-en") { "en" } else { "vi" };
        assert_eq!(page["lang"], lang, "Vietnamese by default, English when switched: {page}");
    }
    // What the browser did is in the store: the lock and its lift, by the holder's request, after the officer's
    // in-person check.
    let account = server
        .store
        .account_by_identity(&dinhdanh_domain::IdentityKey::citizen(
            &IdentificationNumber::parse(ID_NUMBER, &ProvinceTable::builtin()).unwrap(),
        ))
        .await
        .unwrap()
        .unwrap();
    let locks = server.store.locks_of_account(&account.id).await.unwrap();
    assert_eq!(locks.len(), 1);
    assert!(locks[0].lifted.is_some(), "lifted");
    let approvals = server.store.recent_audit(Some("request.approve"), 5).await.unwrap();
    assert_eq!(approvals[0].detail["in_person_check"]["document_kind"], "cccd", "{:?}", approvals[0].detail);
}
