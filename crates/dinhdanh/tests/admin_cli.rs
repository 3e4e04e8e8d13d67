//! `dinhdanh admin bootstrap` and `dinhdanh officer ...` as an operator runs them, with the real binary, on
//! SQLite and PostgreSQL: the first administrator is created once and only once, then enrols, signs in and
//! manages officers through a running server.

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use dinhdanh_domain::totp;
use dinhdanh_store::on_both_backends;
use dinhdanh_store::testing::TestDb;

const PASSWORD: &str = "hoa phượng đỏ sân trường";

fn dinhdanh(args: &[&str], envs: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_dinhdanh"));
    command.args(args).env("RUST_LOG", "warn").env_remove("DINHDANH_TOKEN").env_remove("DINHDANH_DATABASE_URL");
    command.env_remove("DINHDANH_TOTP_KEY").env_remove("DINHDANH_OIDC_SEAL_KEY");
    for (key, value) in envs {
        command.env(key, value);
    }
    command.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() });
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = command.spawn().expect("run dinhdanh");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status,
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

fn token_in(stdout: &str, prefix: &str) -> String {
    stdout
        .split_whitespace()
        .find(|w| w.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} token in {stdout}"))
        .to_owned()
}

/// The code an authenticator app would show `steps_ahead` steps from now (the server accepts ±1 step).
fn code(secret: &str, steps_ahead: i64) -> String {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    totp::code_for_step(&totp::base32_decode(secret).unwrap(), totp::step_at(now) + steps_ahead)
}

struct Server {
    child: Child,
    url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(db: &TestDb) -> Server {
    serve_with(db, &[], &[]).await
}

/// `dinhdanh serve` with more arguments (before the command) and environment variables.
async fn serve_with(db: &TestDb, global: &[&str], envs: &[(&str, &str)]) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .args(global)
        .args(["serve", "--database-url", &db.url, "--listen", &listen])
        .env("RUST_LOG", "warn")
        .env_remove("DINHDANH_TOTP_KEY")
        .env_remove("DINHDANH_OIDC_SEAL_KEY")
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let server = Server { child, url: format!("http://{listen}") };
    for _ in 0..100 {
        if reqwest::get(format!("{}/readyz", server.url)).await.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the server did not start");
}

on_both_backends! {
    bootstrap_creates_the_first_administrator_once(db) {
        let args = ["admin", "bootstrap", "--database-url", db.url.as_str(), "--username", "quan.tri"];
        let stdout = ok(&dinhdanh(&args, &[], None));
        assert!(stdout.contains("Created the operator organization C06"), "{stdout}");
        assert!(stdout.contains("dinhdanh officer enrol --token dd_en_"), "{stdout}");
        assert!(stdout.contains("dinhdanh officer confirm --token"), "{stdout}");
        let token = token_in(&stdout, "dd_en_");

        let store = db.store().await;
        let officer = store.officer_by_username("quan.tri").await.unwrap().expect("the administrator exists");
        assert_eq!(officer.status.as_str(), "pending_enrolment");
        assert_eq!(dinhdanh_domain::officer::format_roles(&officer.roles), "administrator");
        let org = store.organization(&officer.organization_id).await.unwrap().unwrap();
        assert_eq!((org.code.as_str(), org.kind.as_str()), ("C06", "operator"));
        assert_eq!(org.name, "Cục Cảnh sát quản lý hành chính về trật tự xã hội");
        let audit = store.recent_audit(Some("officer.bootstrap"), 5).await.unwrap();
        assert_eq!((audit[0].actor.as_str(), audit[0].outcome.as_str()), ("system", "ok"));
        assert!(!audit[0].detail.to_string().contains(&token));

        // A second run is refused, whatever the username, and changes nothing.
        let again = dinhdanh(&["admin", "bootstrap", "--database-url", &db.url, "--username", "other"], &[], None);
        assert!(!again.status.success());
        let stderr = text(&again.stderr);
        assert!(stderr.contains("already has officers"), "{stderr}");
        assert!(!text(&again.stdout).contains("dd_en_"));
        assert_eq!(store.officers().await.unwrap().len(), 1);
        let refused = store.recent_audit(Some("officer.bootstrap"), 5).await.unwrap();
        let reason = refused[0].detail["reason"].as_str();
        assert_eq!((refused[0].outcome.as_str(), reason), ("refused", Some("officers_exist")));
        store.close().await;
    }

    the_administrator_enrols_signs_in_and_manages_officers_from_the_command_line(db) {
        let stdout = ok(&dinhdanh(&["admin", "bootstrap", "--database-url", &db.url], &[], None));
        let token = token_in(&stdout, "dd_en_");
        let server = serve(&db).await;
        let at = [("DINHDANH_SERVER", server.url.as_str())];

        let enrol = ["officer", "enrol", "--token", &token, "--password-stdin"];
        let stdout = ok(&dinhdanh(&enrol, &at, Some(&format!("{PASSWORD}\n"))));
        let uri = stdout.split_whitespace().find(|w| w.starts_with("otpauth://")).expect("an otpauth URI");
        assert!(uri.starts_with("otpauth://totp/dinhdanh:admin?secret="), "{uri}");
        let secret = stdout.split("TOTP secret:").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
        assert!(uri.contains(&secret));
        ok(&dinhdanh(&["officer", "confirm", "--token", &token, "--code", &code(&secret, 0)], &at, None));

        // A wrong code is refused with the server's message and a failing exit status.
        let out = dinhdanh(
            &["officer", "sign-in", "--username", "admin", "--password-stdin", "--code", "000000"],
            &at,
            Some(PASSWORD),
        );
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("401"), "{}", text(&out.stderr));
        let out = dinhdanh(
            &["officer", "sign-in", "--username", "admin", "--password-stdin", "--code", &code(&secret, 1)],
            &at,
            Some(PASSWORD),
        );
        let session = ok(&out).trim().to_owned();
        assert!(session.starts_with("dd_os_"), "{session}");
        assert!(text(&out.stderr).contains(&format!("export DINHDANH_TOKEN={session}")));

        let signed_in = [("DINHDANH_SERVER", server.url.as_str()), ("DINHDANH_TOKEN", session.as_str())];
        let me: serde_json::Value = serde_json::from_str(&ok(&dinhdanh(&["officer", "me"], &signed_in, None))).unwrap();
        assert_eq!(me["roles"], serde_json::json!(["administrator"]));
        let stdout = ok(&dinhdanh(
            &["officer", "create", "--username", "an.nv", "--full-name", "Nguyễn Văn An",
              "--organization", me["organization_id"].as_str().unwrap(), "--role", "reviewer", "--role", "supervisor"],
            &signed_in,
            None,
        ));
        assert!(stdout.contains("dd_en_"), "{stdout}");
        let created: serde_json::Value =
            serde_json::from_str(stdout.split("\n\n").next().unwrap()).expect("the officer as JSON first");
        let id = created["id"].as_str().unwrap();
        let list = ok(&dinhdanh(&["officer", "list"], &signed_in, None));
        assert!(list.contains("an.nv") && list.contains("admin"), "{list}");
        let shown = ok(&dinhdanh(&["officer", "update", id, "--status", "disabled"], &signed_in, None));
        assert!(shown.contains("\"disabled\""), "{shown}");
        // The last administrator cannot be disabled, from the command line either.
        let me_id = me["id"].as_str().unwrap();
        let out = dinhdanh(&["officer", "update", me_id, "--status", "disabled"], &signed_in, None);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("409"), "{}", text(&out.stderr));
        // A disabled officer is enabled before a new enrolment; never enrolled, they are pending again.
        let out = dinhdanh(&["officer", "reissue-enrolment", id], &signed_in, None);
        assert!(!out.status.success() && text(&out.stderr).contains("422"), "{}", text(&out.stderr));
        let shown = ok(&dinhdanh(&["officer", "update", id, "--status", "active"], &signed_in, None));
        assert!(shown.contains("\"pending_enrolment\""), "{shown}");
        let reissued = ok(&dinhdanh(&["officer", "reissue-enrolment", id], &signed_in, None));
        assert!(reissued.contains("dd_en_"), "{reissued}");

        ok(&dinhdanh(&["officer", "sign-out"], &signed_in, None));
        let out = dinhdanh(&["officer", "me"], &signed_in, None);
        assert!(!out.status.success());
    }
}

on_both_backends! {
    the_totp_key_rotates_from_the_command_line_and_a_node_with_the_old_key_will_not_start(db) {
        let dir = tempfile::tempdir().unwrap();
        let boot = ok(&dinhdanh(&["admin", "bootstrap", "--database-url", &db.url], &[], None));
        let token = token_in(&boot, "dd_en_");
        // The first key in the environment; the node seals what the officer enrols with it.
        let first = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let first_env = [("DINHDANH_TOTP_KEY", first)];
        let server = serve_with(&db, &[], &first_env).await;
        let at = [("DINHDANH_SERVER", server.url.as_str())];
        let stdout = ok(&dinhdanh(&["officer", "enrol", "--token", &token, "--password-stdin"], &at, Some(&format!("{PASSWORD}\n"))));
        let secret = stdout.split("TOTP secret:").nth(1).unwrap().split_whitespace().next().unwrap().to_owned();
        ok(&dinhdanh(&["officer", "confirm", "--token", &token, "--code", &code(&secret, 0)], &at, None));
        drop(server);
        let store = db.store().await;
        let sealed = store.officer_by_username("admin").await.unwrap().unwrap().totp_secret.unwrap();
        assert!(sealed.starts_with("v1:") && !sealed.contains(&secret), "{sealed}");

        // Rotation without the current key is refused and changes nothing.
        let new_key = dir.path().join("totp-2.key");
        let new_key_arg = new_key.to_str().unwrap();
        let rotate = ["admin", "rotate-totp-key", "--database-url", db.url.as_str(), "--new-key-file", new_key_arg];
        let missing = dir.path().join("missing.toml");
        std::fs::write(&missing, format!("[officers]\ntotp_key_file = {:?}\n", dir.path().join("none.key"))).unwrap();
        let out = dinhdanh(&[&["--config", missing.to_str().unwrap()][..], &rotate[..]].concat(), &[], None);
        assert!(!out.status.success() && text(&out.stderr).contains("cannot read the TOTP key"), "{}", text(&out.stderr));
        assert_eq!(store.officer_by_username("admin").await.unwrap().unwrap().totp_secret.unwrap(), sealed);

        let stdout = ok(&dinhdanh(&rotate, &first_env, None));
        assert!(stdout.contains("Re-encrypted the TOTP secrets of 1 officers"), "{stdout}");
        assert!(stdout.contains("totp_key_file") && stdout.contains(new_key_arg), "{stdout}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&new_key).unwrap().permissions().mode() & 0o777, 0o600);
        let resealed = store.officer_by_username("admin").await.unwrap().unwrap().totp_secret.unwrap();
        assert!(resealed.starts_with("v1:") && resealed != sealed && !resealed.contains(&secret));
        store.close().await;

        // A node still given the old key stops at start with a clear message.
        let mut child = Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
            .args(["serve", "--database-url", &db.url, "--listen", "127.0.0.1:0"])
            .env("RUST_LOG", "warn")
            .envs(first_env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut status = None;
        for _ in 0..300 {
            status = child.try_wait().unwrap();
            if status.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let Some(status) = status else {
            let _ = child.kill();
            panic!("a node with the old key started serving");
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success());
        assert!(stderr.contains("does not open with the configured TOTP key"), "{stderr}");

        // With the configuration pointed at the new key, the officer signs in.
        let config = dir.path().join("dinhdanh.toml");
        std::fs::write(&config, format!("[officers]\ntotp_key_file = {new_key_arg:?}\n")).unwrap();
        let server = serve_with(&db, &["--config", config.to_str().unwrap()], &[]).await;
        let at = [("DINHDANH_SERVER", server.url.as_str())];
        let out = dinhdanh(&["officer", "sign-in", "--username", "admin", "--password-stdin", "--code", &code(&secret, 1)], &at, Some(PASSWORD));
        assert!(ok(&out).trim().starts_with("dd_os_"));
    }
}

/// Waits for a `dinhdanh serve` that must not start, and returns its standard error.
async fn refused_start(db: &TestDb, envs: &[(&str, &str)]) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .args(["serve", "--database-url", &db.url, "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .env_remove("DINHDANH_TOTP_KEY")
        .env_remove("DINHDANH_OIDC_SEAL_KEY")
        .envs(envs.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut status = None;
    for _ in 0..300 {
        status = child.try_wait().unwrap();
        if status.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let Some(status) = status else {
        let _ = child.kill();
        panic!("the node started serving");
    };
    assert!(!status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    stderr
}

async fn jwks_kids(server: &Server) -> Vec<String> {
    let jwks: serde_json::Value =
        reqwest::get(format!("{}/oauth/jwks", server.url)).await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

on_both_backends! {
    the_signing_keys_rotate_from_the_command_line_only_with_the_seal_key_and_a_node_with_another_will_not_start(db) {
        let dir = tempfile::tempdir().unwrap();
        let seal = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
        let seal_env = [("DINHDANH_OIDC_SEAL_KEY", seal)];
        let server = serve_with(&db, &[], &seal_env).await;
        let before = jwks_kids(&server).await;
        let store = db.store().await;
        let rows = store.oidc_keys().await.unwrap();
        assert!(rows.iter().all(|r| r.private_key.starts_with("v1:")), "sealed at rest: {rows:?}");
        // The failed commands below change nothing: read the rows afresh after them, not from this store's cache.
        store.close().await;

        // Without the seal key, or with another, nothing is rotated.
        let rotate = ["keys", "rotate", "--database-url", db.url.as_str()];
        let missing = dir.path().join("missing.toml");
        std::fs::write(&missing, format!("[oidc]\nkey_seal_file = {:?}\n", dir.path().join("none.key"))).unwrap();
        let out = dinhdanh(&[&["--config", missing.to_str().unwrap()][..], &rotate[..]].concat(), &[], None);
        let stderr = text(&out.stderr);
        assert!(!out.status.success() && stderr.contains("cannot read the OpenID Connect seal key"), "{stderr}");
        assert!(!dir.path().join("none.key").exists(), "the command never makes a seal key");
        let other = [("DINHDANH_OIDC_SEAL_KEY", "HxwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgEAAAA=")];
        let out = dinhdanh(&rotate, &other, None);
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{stderr}");
        assert!(stderr.contains("does not open with the configured OpenID Connect seal key"), "{stderr}");
        assert!(stderr.contains("DINHDANH_OIDC_SEAL_KEY"), "{stderr}");
        let store = db.store().await;
        assert_eq!(store.oidc_keys().await.unwrap(), rows);
        store.close().await;

        // With it, the next key signs from the command's commit, in the running server too.
        let stdout = ok(&dinhdanh(&rotate, &seal_env, None));
        assert!(stdout.contains(&format!("Signing with {} from now on", before[1])), "{stdout}");
        let mut after = jwks_kids(&server).await;
        for _ in 0..300 {
            if after[0] == before[1] {
                break;
            }
            // PostgreSQL: the server hears of the commit within a notification's trip.
            tokio::time::sleep(Duration::from_millis(10)).await;
            after = jwks_kids(&server).await;
        }
        assert_eq!((after.len(), &after[0], &after[2]), (3, &before[1], &before[0]), "{after:?}");
        drop(server);

        // A node given another seal key stops at start, names the setting, and makes no new key set.
        let stderr = refused_start(&db, &other).await;
        assert!(stderr.contains("cannot start with the configured OpenID Connect seal key"), "{stderr}");
        assert!(stderr.contains("[oidc] key_seal_file"), "{stderr}");
        let store = db.store().await;
        assert_eq!(store.oidc_keys().await.unwrap().len(), 3);
        store.close().await;
    }
}

#[test]
fn officer_commands_explain_themselves() {
    let out = dinhdanh(&["officer", "--help"], &[], None);
    let help = ok(&out);
    for command in
        ["enrol", "confirm", "sign-in", "sign-out", "me", "create", "list", "show", "update", "reissue-enrolment"]
    {
        assert!(help.contains(command), "{command} missing:\n{help}");
    }
    // Every subcommand builds (clap checks its arguments then) and says what it does.
    for command in
        ["enrol", "confirm", "sign-in", "sign-out", "me", "create", "list", "show", "update", "reissue-enrolment"]
    {
        let help = ok(&dinhdanh(&["officer", command, "--help"], &[], None));
        assert!(help.contains("--server"), "{command}: {help}");
    }
    let help = ok(&dinhdanh(&["officer", "sign-in", "--help"], &[], None));
    assert!(help.contains("--password-stdin") && help.contains("15 minutes"), "{help}");
    let help = ok(&dinhdanh(&["admin", "bootstrap", "--help"], &[], None));
    for flag in
        ["--database-url", "--organization-code", "--organization-name", "--username", "--full-name", "only once"]
    {
        assert!(help.contains(flag), "{flag} missing:\n{help}");
    }
}
