//! A queued message survives the worker: stopped, or dead with the message in hand, a worker is replaced by a
//! new one (with a new connection to the database) that delivers the message exactly once.

mod common;

use std::time::{Duration, Instant};

use common::*;
use dinhdanh_domain::{Channel, notice};
use dinhdanh_notify::{Channels, Worker};
use dinhdanh_store::{OutboxStatus, Store};
use tokio::sync::oneshot;

/// Runs a worker in a task until the returned sender fires (or is dropped).
fn spawn_worker(worker: Worker) -> (oneshot::Sender<()>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(worker.run(async move {
        let _ = stopped.await;
    }));
    (stop, task)
}

async fn stop_worker(stop: oneshot::Sender<()>, task: tokio::task::JoinHandle<()>) {
    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(10), task).await.expect("the worker stops on shutdown").unwrap();
}

dinhdanh_store::on_both_backends! {
    message_survives_a_restart_during_an_smtp_outage(db) {
        let store = db.store().await;
        let notice = notice::activation_code("590317", 5);
        let id = enqueue(&store, "activation_code", Channel::Email, "lan.tran@example.vn", &notice.subject, &notice.body)
            .await;

        // First life: the SMTP server is down; the worker tries, fails, and is shut down.
        let port = ClosedPort::new();
        let worker = Worker::new(store.clone(), Channels { email: Some(smtp_sender(port.port)), ..Channels::default() }, fast_config());
        let (stop, task) = spawn_worker(worker);
        let failed = wait_for_message(&store, id, Duration::from_secs(10), "a failed try", |m| m.attempts >= 1).await;
        stop_worker(stop, task).await;
        let before = message(&store, id).await;
        assert_eq!(before.status, OutboxStatus::Pending, "{failed:?}");
        assert!(before.last_error.as_deref().unwrap().starts_with("smtp:"), "{before:?}");
        assert_eq!(before.body, notice.body, "the body waits in the outbox");
        store.close().await;

        // Second life: a new process (new connection) and the SMTP server is up on the same address.
        let smtp = SmtpServer::start_on(port.release()).await;
        let store = Store::connect(&db.url).await.unwrap();
        let worker = Worker::new(store.clone(), Channels { email: Some(smtp_sender(smtp.port)), ..Channels::default() }, fast_config());
        let (stop, task) = spawn_worker(worker);
        let sent = wait_for_message(&store, id, Duration::from_secs(15), "delivery", |m| m.status == OutboxStatus::Sent).await;
        stop_worker(stop, task).await;

        assert_eq!(sent.attempts, before.attempts + 1);
        assert_eq!(sent.body, "");
        assert_eq!(sent.last_error, None);
        let mails = smtp.mails();
        assert_eq!(mails.len(), 1, "delivered exactly once: {mails:?}");
        assert_eq!(mails[0].to, "lan.tran@example.vn");
        assert_eq!(mails[0].subject, notice.subject);
        assert_eq!(mails[0].body.trim_end(), notice.body);
    }

    message_held_by_a_dead_worker_returns_after_its_lease(db) {
        let store = db.store().await;
        let notice = notice::activation_code("204816", 5);
        let id = enqueue(&store, "activation_code", Channel::Email, "hoa.le@example.vn", &notice.subject, &notice.body)
            .await;

        // First life: an SMTP server that accepts the connection and never answers; the worker is killed while
        // it waits, with the message claimed.
        let blackhole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let blackhole_port = blackhole.local_addr().unwrap().port();
        let (accepted_tx, accepted) = oneshot::channel();
        let hold = tokio::spawn(async move {
            let (connection, _) = blackhole.accept().await.unwrap();
            let _ = accepted_tx.send(());
            tokio::time::sleep(Duration::from_secs(60)).await;
            drop(connection);
        });
        let claimed_at = Instant::now();
        let doomed = Worker::new(store.clone(), Channels { email: Some(smtp_sender(blackhole_port)), ..Channels::default() }, fast_config());
        let crashed = tokio::spawn(async move { doomed.run_once().await });
        tokio::time::timeout(Duration::from_secs(10), accepted).await.expect("the worker connects").unwrap();
        crashed.abort();
        assert!(crashed.await.unwrap_err().is_cancelled());
        hold.abort();

        // Second life: a new worker with a working server finds the message leased, and waits for the lease.
        let smtp = SmtpServer::start().await;
        let store = Store::connect(&db.url).await.unwrap();
        let worker = Worker::new(store.clone(), Channels { email: Some(smtp_sender(smtp.port)), ..Channels::default() }, fast_config());
        let leased = message(&store, id).await;
        assert_eq!((leased.status, leased.attempts), (OutboxStatus::Pending, 0), "nothing was recorded by the dead worker");
        if claimed_at.elapsed() < Duration::from_millis(1500) {
            assert_eq!(worker.run_once().await.unwrap(), 0, "the lease of the dead worker still holds");
        }
        let deadline = Instant::now() + Duration::from_secs(15);
        while worker.run_once().await.unwrap() == 0 {
            assert!(Instant::now() < deadline, "the message never came back");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The lease ends 2 s after the claim, which came after `claimed_at`; 50 ms of slack for clocks.
        assert!(claimed_at.elapsed() >= Duration::from_millis(1950), "taken again before the lease (2 s) ran out");

        let sent = message(&store, id).await;
        assert_eq!(sent.status, OutboxStatus::Sent);
        assert_eq!(sent.attempts, 1);
        let mails = smtp.mails();
        assert_eq!(mails.len(), 1, "{mails:?}");
        assert_eq!(mails[0].to, "hoa.le@example.vn");
        assert_eq!(mails[0].subject, notice.subject);
        assert_eq!(mails[0].body.trim_end(), notice.body);
        assert!(mails[0].body.contains("204816"));
    }
}
