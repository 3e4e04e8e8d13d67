//! The worker's rules: routing to channels and the dev inbox, retries, giving up, backoff and shutdown.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use dinhdanh_domain::{Channel, notice};
use dinhdanh_notify::{Channels, DevInbox, Worker, WorkerConfig};
use dinhdanh_store::OutboxStatus;
use dinhdanh_store::testing::TestDb;

dinhdanh_store::on_both_backends! {
    dev_inbox_writes_a_readable_file_per_message(db) {
        let store = db.store().await;
        let dir = tempfile::tempdir().unwrap();
        let inbox = Arc::new(DevInbox::new(dir.path().join("inbox")).unwrap());
        let code = notice::activation_code("918273", 5);
        let sms = enqueue(&store, "activation_code", Channel::Sms, "+84912345678", &code.subject, &code.body).await;
        let activated = notice::account_activated();
        let email =
            enqueue(&store, "account_activated", Channel::Email, "mai@example.vn", &activated.subject, &activated.body).await;

        let worker = Worker::new(store.clone(), Channels { dev_inbox: Some(inbox), ..Channels::default() }, fast_config());
        assert_eq!(worker.run_once().await.unwrap(), 2);

        let sms_file = dir.path().join("inbox").join(format!("{sms}-sms-+84912345678.txt"));
        let text = std::fs::read_to_string(&sms_file).unwrap();
        assert!(text.starts_with("To: +84912345678\nSubject: Mã kích hoạt"), "{text}");
        assert!(text.contains(&code.body), "{text}");
        assert!(text.contains("918273"));

        let email_file = dir.path().join("inbox").join(format!("{email}-email-mai@example.vn.txt"));
        let text = std::fs::read_to_string(&email_file).unwrap();
        assert!(text.contains("To: mai@example.vn\n"), "{text}");
        assert!(text.contains(&format!("Subject: {}\n", activated.subject)), "{text}");
        assert!(text.contains(&activated.body), "{text}");

        let names: Vec<String> =
            std::fs::read_dir(dir.path().join("inbox")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        assert_eq!(names.len(), 2, "no partial files are left: {names:?}");
        for id in [sms, email] {
            assert_eq!(message(&store, id).await.status, OutboxStatus::Sent);
        }
    }

    a_channel_with_its_own_sender_does_not_use_the_dev_inbox(db) {
        let store = db.store().await;
        let smtp = SmtpServer::start().await;
        let dir = tempfile::tempdir().unwrap();
        let channels = Channels {
            email: Some(smtp_sender(smtp.port)),
            sms: None,
            dev_inbox: Some(Arc::new(DevInbox::new(dir.path().to_owned()).unwrap())),
        };
        enqueue(&store, "activation_code", Channel::Email, "mai@example.vn", "s", "by smtp").await;
        enqueue(&store, "activation_code", Channel::Sms, "+84912345678", "s", "by the dev inbox").await;
        let worker = Worker::new(store.clone(), channels, fast_config());
        assert_eq!(worker.run_once().await.unwrap(), 2);
        let mails = smtp.mails();
        assert_eq!(mails.len(), 1);
        assert_eq!(mails[0].body.trim_end(), "by smtp");
        let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].to_string_lossy().ends_with("-sms-+84912345678.txt"));
    }

    a_channel_without_sender_is_retried(db) {
        let store = db.store().await;
        let id = enqueue(&store, "activation_code", Channel::Sms, "+84912345678", "s", "b").await;
        let worker = Worker::new(store.clone(), Channels::default(), fast_config());
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let pending = message(&store, id).await;
        assert_eq!(pending.status, OutboxStatus::Pending);
        assert_eq!(pending.attempts, 1);
        assert_eq!(pending.last_error.as_deref(), Some("no sms channel configured"));
        assert!(pending.next_attempt_at > chrono::Utc::now());
    }

    transient_failures_are_given_up_after_max_attempts(db) {
        let store = db.store().await;
        let id = enqueue(&store, "activation_code", Channel::Email, "mai@example.vn", "s", "b").await;
        let config = WorkerConfig {
            max_attempts: 3,
            backoff_base: Duration::from_millis(20),
            backoff_max: Duration::from_millis(40),
            ..fast_config()
        };
        let worker = Worker::new(store.clone(), Channels::default(), config);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            worker.run_once().await.unwrap();
            let m = message(&store, id).await;
            if m.status == OutboxStatus::Failed {
                assert_eq!(m.attempts, 3);
                assert_eq!(m.last_error.as_deref(), Some("no email channel configured"));
                break;
            }
            assert_eq!(m.status, OutboxStatus::Pending);
            assert!(Instant::now() < deadline, "never given up: {m:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(worker.run_once().await.unwrap(), 0, "a given-up message is not tried again");
    }

    run_delivers_and_stops_promptly_on_shutdown(db) {
        let store = db.store().await;
        let dir = tempfile::tempdir().unwrap();
        let inbox = Arc::new(DevInbox::new(dir.path().to_owned()).unwrap());
        let config = WorkerConfig { poll_interval: Duration::from_secs(3600), ..fast_config() };
        let worker = Worker::new(store.clone(), Channels { dev_inbox: Some(inbox), ..Channels::default() }, config);
        let id = enqueue(&store, "activation_code", Channel::Sms, "+84912345678", "s", "b").await;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(worker.run(async move {
            let _ = stopped.await;
        }));
        wait_for_message(&store, id, Duration::from_secs(10), "delivery", |m| m.status == OutboxStatus::Sent).await;
        // The worker now sleeps for an hour; shutdown wakes it.
        let asked = Instant::now();
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(5), task).await.expect("prompt shutdown").unwrap();
        assert!(asked.elapsed() < Duration::from_secs(5));
    }
}

#[tokio::test]
async fn backoff_doubles_from_the_base_up_to_the_cap() {
    let db = TestDb::sqlite();
    let config = WorkerConfig {
        backoff_base: Duration::from_secs(5),
        backoff_max: Duration::from_secs(3600),
        ..WorkerConfig::default()
    };
    let worker = Worker::new(db.store().await, Channels::default(), config);
    let secs = |attempts| worker.backoff(attempts).as_secs();
    assert_eq!(secs(0), 5);
    assert_eq!(secs(1), 5);
    assert_eq!(secs(2), 10);
    assert_eq!(secs(3), 20);
    assert_eq!(secs(4), 40);
    assert_eq!(secs(10), 2560);
    assert_eq!(secs(11), 3600, "capped");
    assert_eq!(secs(1000), 3600);
    assert_eq!(secs(i64::MAX), 3600);
}

#[test]
fn default_worker_config() {
    let config = WorkerConfig::default();
    assert_eq!(config.poll_interval, Duration::from_secs(1));
    assert_eq!(config.lease, chrono::Duration::seconds(60));
    assert_eq!(config.batch, 50);
    assert_eq!(config.max_attempts, 10);
    assert_eq!(config.backoff_base, Duration::from_secs(5));
    assert_eq!(config.backoff_max, Duration::from_secs(3600));
}
