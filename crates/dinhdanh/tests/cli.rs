//! The `dinhdanh` binary as a user runs it: help texts, registry generate and import (on SQLite and
//! PostgreSQL), and `serve` answering and stopping cleanly on SIGTERM.

use std::process::{Command, Output, Stdio};
use std::time::Duration;

use dinhdanh_store::testing::TestDb;

fn dinhdanh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dinhdanh")).args(args).env("RUST_LOG", "warn").output().expect("run dinhdanh")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn help_explains_every_command() {
    let out = dinhdanh(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for word in ["serve", "registry", "demo", "định danh"] {
        assert!(help.contains(word), "{help}");
    }
    let out = dinhdanh(&["serve", "--help"]);
    let help = text(&out.stdout);
    for flag in
        ["--database-url", "DINHDANH_DATABASE_URL", "--listen", "--dev-inbox", "--smtp-host", "--sms-gateway-url"]
    {
        assert!(help.contains(flag), "{flag} missing from serve --help:\n{help}");
    }
    let out = dinhdanh(&["registry", "import", "--help"]);
    let help = text(&out.stdout);
    assert!(help.contains("population"), "{help}");
    assert!(help.contains("--allow-rejections") && help.contains("valid rows are imported"), "{help}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_then_import_reports_bad_rows_and_is_idempotent() {
    for db in [TestDb::sqlite(), TestDb::postgres().await] {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("population.csv");
        let out = dinhdanh(&[
            "registry",
            "generate",
            "--kind",
            "population",
            "--count",
            "500",
            "--seed",
            "7",
            "--out",
            file.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let good = std::fs::read_to_string(&file).unwrap();
        let import = |url: &str, extra: &[&str]| {
            let mut args = vec!["registry", "import", "--kind", "population", "--database-url", url];
            args.extend_from_slice(extra);
            args.push(file.to_str().unwrap());
            dinhdanh(&args)
        };

        // A file without bad rows: exit 0, no flag needed.
        let out = import(&db.url, &[]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("500 rows read: 500 new or changed, 0 unchanged, 0 rejected"));

        // Two bad rows after the good ones, and one good row more: exit 1, yet the valid rows are kept.
        let mut contents = good.clone();
        contents.push_str("12345,Nguyễn Văn A,1990-01-01,male,,,,\n");
        contents.push_str("001190000001,Nguyễn Văn B,1990-01-01,male,,,,\n");
        contents.push_str("001090000001,Nguyễn Văn C,1990-01-01,male,,,,\n");
        std::fs::write(&file, contents).unwrap();
        let out = import(&db.url, &[]);
        assert_eq!(out.status.code(), Some(1), "rejected rows fail the command: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        assert!(stdout.contains("503 rows read: 1 new or changed, 500 unchanged, 2 rejected"), "{stdout}");
        let summary = stdout.lines().find(|l| l.contains("rows read")).unwrap();
        assert!(summary.ends_with(" rows/s)") && !summary.contains('.'), "a whole-number rate: {summary}");
        assert!(stdout.contains("automatic locks:"), "the import finished its work: {stdout}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains("line 502:") && stderr.contains("line 503:"), "{stderr}");
        assert!(stderr.contains("2 of 503 rows were rejected") && stderr.contains("--allow-rejections"), "{stderr}");
        assert!(!stderr.contains("Nguyễn Văn"), "rejections do not echo personal data: {stderr}");
        let store = db.store().await;
        assert_eq!(store.count_citizens().await.unwrap(), 501, "the valid rows were imported");
        let id = dinhdanh_domain::IdentificationNumber::parse("001090000001", &Default::default()).unwrap();
        assert!(store.find_citizen(&id).await.unwrap().is_some(), "the good row after the bad ones too");

        // With --allow-rejections the same file exits 0 and prints the same report.
        let again = import(&db.url, &["--allow-rejections"]);
        assert!(again.status.success(), "{}", text(&again.stderr));
        let stdout = text(&again.stdout);
        assert!(stdout.contains("503 rows read: 0 new or changed, 501 unchanged, 2 rejected"), "{stdout}");
        let stderr = text(&again.stderr);
        assert!(stderr.contains("line 502:") && stderr.contains("line 503:"), "{stderr}");
        assert!(!stderr.contains("--allow-rejections"), "{stderr}");
        assert_eq!(store.count_citizens().await.unwrap(), 501);
        store.close().await;
    }
}

#[test]
fn a_missing_file_or_bad_database_url_is_a_clear_error() {
    let out = dinhdanh(&[
        "registry",
        "import",
        "--kind",
        "population",
        "--database-url",
        "sqlite:///nonexistent-dir/x.db",
        "/nonexistent.csv",
    ]);
    assert!(!out.status.success());
    let out = dinhdanh(&["registry", "import", "--kind", "population", "--database-url", "mysql://x", "/tmp/x.csv"]);
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("sqlite://PATH or postgres://"), "{}", text(&out.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_answers_and_stops_on_sigterm() {
    let db = TestDb::postgres().await;
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .args(["serve", "--database-url", &db.url, "--listen", &listen])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut ready = None;
    for _ in 0..100 {
        if let Ok(response) = http.get(format!("http://{listen}/readyz")).send().await {
            ready = Some(response.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(ready.expect("server answered")["database"], "postgres");
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut exited = None;
    for _ in 0..100 {
        if let Some(code) = child.try_wait().unwrap() {
            exited = Some(code);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let code = exited.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("serve did not stop on SIGTERM")
    });
    assert!(code.success(), "serve exits 0 after a graceful stop: {code:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_checks_the_signed_checkpoints_and_prove_gives_a_proof() {
    for db in [TestDb::sqlite(), TestDb::postgres().await] {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("audit.key");
        let published = dir.path().join("checkpoints.jsonl");
        let config = dir.path().join("dinhdanh.toml");
        std::fs::write(
            &config,
            format!("[audit]\nsigning_key_file = {key:?}\npublish_file = {published:?}\nlog_name = \"test/audit\"\n"),
        )
        .unwrap();
        let signer = dinhdanh_store::CheckpointSigner::generate("test/audit").unwrap();
        std::fs::write(&key, signer.to_key_file()).unwrap();
        let store = db.store().await;
        for i in 0..3 {
            store
                .audit(dinhdanh_store::AuditEntry {
                    at: chrono::Utc::now(),
                    actor: "system".into(),
                    action: "test.entry",
                    subject: None,
                    outcome: "ok",
                    detail: serde_json::json!({"i": i}),
                })
                .await
                .unwrap();
        }
        let config = config.to_str().unwrap();
        let run = |args: &[&str]| dinhdanh(&[&["--config", config][..], args].concat());
        let out = run(&["audit", "verify", "--database-url", &db.url]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).contains("intact: 3 entries"), "{}", text(&out.stdout));
        assert!(text(&out.stdout).contains("no signed checkpoint yet"), "{}", text(&out.stdout));

        let out = run(&["audit", "checkpoint", "--database-url", &db.url]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert!(text(&out.stdout).starts_with("test/audit\n3\n"), "{}", text(&out.stdout));
        let out = run(&["audit", "prove", "2", "--database-url", &db.url]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let proof: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!((proof["leaf_index"].as_i64(), proof["tree_size"].as_i64()), (Some(1), Some(3)));
        assert_eq!(proof["inclusion_proof"].as_array().unwrap().len(), 2);
        let checked = dinhdanh_store::CheckpointVerifier::parse(&signer.verifier().to_text())
            .unwrap()
            .open(proof["checkpoint"].as_str().unwrap())
            .unwrap();
        assert_eq!(dinhdanh_store::merkle::hex(&checked.root), proof["root_hash"].as_str().unwrap());

        // Whoever can write to the database rewrites entry 2 with a matching leaf hash and drops the checkpoints
        // kept there: the published copy still catches it.
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let entry = store.audit_entry(2).await.unwrap().unwrap();
        let forged = dinhdanh_store::merkle::leaf_hash(
            serde_json::json!([
                2,
                entry.at.timestamp_millis(),
                "someone-else",
                entry.action,
                entry.subject,
                entry.outcome,
                entry.detail.to_string()
            ])
            .to_string()
            .as_bytes(),
        );
        sqlx::query("UPDATE audit_log SET actor = 'someone-else', leaf_hash = $1 WHERE seq = 2")
            .bind(dinhdanh_store::merkle::hex(&forged))
            .execute(&pool)
            .await
            .unwrap();
        sqlx::query("DELETE FROM audit_checkpoints").execute(&pool).await.unwrap();
        // And sets the head row to the tree of the rewritten entries.
        let mut tree = dinhdanh_store::merkle::Frontier::default();
        for seq in 1..=3 {
            let leaf = store.audit_entry(seq).await.unwrap().unwrap().leaf_hash;
            tree.push(dinhdanh_store::merkle::hash_from_hex(&leaf).unwrap());
        }
        sqlx::query("UPDATE audit_head SET frontier = $1, root = $2 WHERE id = 1")
            .bind(tree.encode())
            .bind(dinhdanh_store::merkle::hex(&tree.root()))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let out = run(&["audit", "verify", "--database-url", &db.url]);
        assert!(out.status.success(), "without the published copy the rewrite passes: {}", text(&out.stderr));
        let out = run(&["audit", "verify", "--database-url", &db.url, "--checkpoints", published.to_str().unwrap()]);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("one of entries 1 to 3 was changed"), "{}", text(&out.stderr));

        let other = dinhdanh_store::CheckpointSigner::generate("test/audit").unwrap().verifier().to_text();
        let out = run(&[
            "audit",
            "verify",
            "--database-url",
            &db.url,
            "--checkpoints",
            published.to_str().unwrap(),
            "--verifier-key",
            &other,
        ]);
        assert!(!out.status.success());
        assert!(text(&out.stderr).contains("no valid signature"), "{}", text(&out.stderr));
    }
}

/// The newcomer's path: `dinhdanh demo` prints the URL and identities; one of them registers and the activation
/// code lands in the dev inbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_serves_and_a_sample_identity_registers_with_its_code_in_the_dev_inbox() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .args([
            "demo",
            "--dir",
            dir.path().to_str().unwrap(),
            "--listen",
            &listen,
            "--citizens",
            "60",
            "--foreigners",
            "20",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut printed = String::new();
    while !printed.contains("Ctrl-C") {
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => {
                printed.push_str(&line);
                printed.push('\n');
            }
            Err(_) => {
                let _ = child.kill();
                panic!("demo did not start:\n{printed}");
            }
        }
    }
    assert!(printed.contains(&format!("http://{listen}")), "{printed}");
    for page in ["portal", "console"] {
        assert!(printed.contains(&format!("http://{listen}/{page}")), "the {page}'s URL is printed: {printed}");
    }
    let citizen = printed.lines().find(|l| l.trim_start().starts_with("citizen")).expect("a sample citizen").to_owned();
    let field = |name: &str| -> String {
        let start = citizen.find(&format!("{name}=")).unwrap() + name.len() + 1;
        let rest = &citizen[start..];
        if let Some(quoted) = rest.strip_prefix('"') {
            quoted[..quoted.find('"').unwrap()].to_owned()
        } else {
            rest.split_whitespace().next().unwrap().to_owned()
        }
    };
    let body = serde_json::json!({
        "holder_kind": "citizen", "id_number": field("id_number"), "full_name": field("full_name"),
        "date_of_birth": field("date_of_birth"), "gender": field("gender"), "email": "newcomer@example.vn",
        "password": "a long demo passphrase"
    });
    let response =
        reqwest::Client::new().post(format!("http://{listen}/v1/accounts")).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let answer: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{answer}");
    // The OpenID Connect provider works without a setting: its keys sealed under a key made beside the database.
    let jwks: serde_json::Value =
        reqwest::get(format!("http://{listen}/oauth/jwks")).await.unwrap().json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().map(Vec::len), Some(2), "{jwks}");
    use std::os::unix::fs::PermissionsExt;
    let seal_key = std::fs::metadata(dir.path().join("dinhdanh-oidc-seal.key")).expect("the demo's seal key");
    assert_eq!(seal_key.permissions().mode() & 0o777, 0o600);
    let inbox = dir.path().join("inbox");
    let mut code_found = false;
    for _ in 0..50 {
        if let Ok(entries) = std::fs::read_dir(&inbox) {
            for entry in entries.flatten() {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                code_found |= text.contains("newcomer@example.vn") && text.contains("Mã kích hoạt");
            }
        }
        if code_found {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(code_found, "the activation code reached the dev inbox");
}

/// Even at debug level the logs name routes, not URIs: a status check's identification number never reaches them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_carry_no_personal_data_even_at_debug_level() {
    let db = TestDb::sqlite();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let log = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .args(["serve", "--database-url", &db.url, "--listen", &listen])
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log.reopen().unwrap()))
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let mut answered = false;
    for _ in 0..100 {
        let url = format!("http://{listen}/v1/request-status?tracking_code=AAAA-AAAA-AA&id_number=001190123456");
        if http.get(url).send().await.is_ok() {
            answered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(answered);
    let logs = std::fs::read_to_string(log.path()).unwrap();
    assert!(logs.contains("/v1/request-status"), "the route is logged: {logs}");
    assert!(!logs.contains("001190123456"), "the identification number is not");
}

/// Opening a PostgreSQL database that is already migrated logs nothing about it: no `relation
/// "schema_migrations" already exists, skipping` notice at every command, even at info level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_on_a_migrated_postgres_database_print_no_notice() {
    let db = TestDb::postgres().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("population.csv");
    std::fs::write(&file, "id_number,full_name,date_of_birth,gender\n001090000001,Nguyễn Văn An,1990-05-01,male\n")
        .unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_dinhdanh")).args(args).env("RUST_LOG", "info").output().expect("run dinhdanh")
    };
    let import = ["registry", "import", "--kind", "population", "--database-url", &db.url, file.to_str().unwrap()];
    let verify = ["audit", "verify", "--database-url", &db.url];
    // The first command creates the schema; the others open it as it is.
    for (round, args) in [&import[..], &verify, &import, &verify].into_iter().enumerate() {
        let out = run(args);
        assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
        let stderr = text(&out.stderr);
        assert!(stderr.contains("\"level\":\"INFO\"") || round % 2 == 1, "info logs are on: {stderr}");
        assert!(!stderr.contains("already exists"), "round {round}, {args:?}: {stderr}");
        assert!(!stderr.contains("sqlx::postgres::notice"), "round {round}, {args:?}: {stderr}");
    }
    assert_eq!(db.store().await.count_citizens().await.unwrap(), 1);
}

/// `registry import-biometrics`: the side file's good rows are kept, each bad one reported by its line without
/// echoing it, and the command fails unless told to accept rejections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn biometric_references_are_imported_beside_the_registry() {
    use base64::Engine as _;
    use rand::SeedableRng;
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let registry = dir.path().join("population.csv");
    std::fs::write(
        &registry,
        "id_number,full_name,date_of_birth,gender,place_of_origin,permanent_residence,card_status,died_on\n\
         001090000001,Nguyễn Văn An,1990-05-01,male,,,valid,\n",
    )
    .unwrap();
    let out = dinhdanh(&[
        "registry",
        "import",
        "--kind",
        "population",
        "--database-url",
        &db.url,
        registry.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut rng = rand::rngs::StdRng::seed_from_u64(5);
    let finger = dinhdanh_fingerprint::Finger::generate(&mut rng);
    let params = dinhdanh_fingerprint::ImpressionParams {
        finger_position: dinhdanh_fingerprint::FingerPosition::RightThumb,
        ..Default::default()
    };
    let record = finger.impression(&mut rng, &params).to_bytes();
    let record = base64::engine::general_purpose::STANDARD.encode(record);
    let side = dir.path().join("biometrics.csv");
    std::fs::write(
        &side,
        format!("id_number,modality,position,template\n001090000001,finger,1,{record}\n001090000001,finger,2,AAAA\n"),
    )
    .unwrap();
    let args =
        ["registry", "import-biometrics", "--kind", "population", "--database-url", &db.url, side.to_str().unwrap()];
    let out = dinhdanh(&args);
    assert_eq!(out.status.code(), Some(1), "a rejected row fails the command: {}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 1 finger records and 0 face templates; 1 rows rejected"));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("line 3: template: ") && !stderr.contains("AAAA"), "{stderr}");
    let mut accepting = args.to_vec();
    accepting.insert(2, "--allow-rejections");
    assert!(dinhdanh(&accepting).status.success());
    let help = text(&dinhdanh(&["registry", "import-biometrics", "--help"]).stdout);
    assert!(help.contains("19794-2") && help.contains("modality"), "{help}");
}

/// `registry generate --biometrics`: a side file of synthetic finger records and faces for the people it generated, which
/// `import-biometrics` takes whole; the same seed writes the same file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generated_people_come_with_synthetic_finger_records_and_faces() {
    let db = TestDb::sqlite();
    let dir = tempfile::tempdir().unwrap();
    let (registry, side) = (dir.path().join("immigration.csv"), dir.path().join("fingers.csv"));
    let generate = |side: &std::path::Path| {
        dinhdanh(&[
            "registry",
            "generate",
            "--kind",
            "immigration",
            "--count",
            "15",
            "--seed",
            "3",
            "--out",
            registry.to_str().unwrap(),
            "--biometrics",
            side.to_str().unwrap(),
        ])
    };
    let out = generate(&side);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("wrote 30 finger records and 15 face templates"), "{}", text(&out.stdout));
    let again = dir.path().join("again.csv");
    assert!(generate(&again).status.success());
    assert_eq!(std::fs::read(&side).unwrap(), std::fs::read(&again).unwrap(), "same seed, same file");
    let import = ["registry", "import", "--kind", "immigration", "--database-url", &db.url, registry.to_str().unwrap()];
    assert!(dinhdanh(&import).status.success());
    let out = dinhdanh(&[
        "registry",
        "import-biometrics",
        "--kind",
        "immigration",
        "--database-url",
        &db.url,
        side.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 30 finger records and 15 face templates; 0 rows rejected"));
}
