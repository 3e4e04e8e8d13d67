//! SMS sent through a real HTTP server standing in for the gateway.

mod common;

use std::sync::Arc;

use chrono::Utc;
use common::*;
use dinhdanh_domain::{Channel, notice};
use dinhdanh_notify::{Channels, SmsGatewayConfig, SmsGatewaySender, Worker};
use dinhdanh_store::OutboxStatus;
use serde_json::json;

fn channels(gateway: &Gateway, token: Option<&str>) -> Channels {
    let config = SmsGatewayConfig { url: gateway.url.clone(), bearer_token: token.map(str::to_owned) };
    Channels { sms: Some(Arc::new(SmsGatewaySender::new(&config).unwrap())), ..Channels::default() }
}

dinhdanh_store::on_both_backends! {
    sms_reaches_the_gateway_as_json_with_the_bearer_token(db) {
        let store = db.store().await;
        let gateway = Gateway::start().await;
        let notice = notice::activation_code("730154", 5);
        let id = enqueue(&store, "activation_code", Channel::Sms, "+84912345678", &notice.subject, &notice.body).await;

        let worker = Worker::new(store.clone(), channels(&gateway, Some("s3cr3t-token")), fast_config());
        assert_eq!(worker.run_once().await.unwrap(), 1);

        let requests = gateway.requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.authorization.as_deref(), Some("Bearer s3cr3t-token"));
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        assert_eq!(request.json, json!({ "to": "+84912345678", "text": notice.body, "message_id": id.to_string() }));

        let sent = message(&store, id).await;
        assert_eq!(sent.status, OutboxStatus::Sent);
        assert_eq!(sent.attempts, 1);
        assert_eq!(sent.body, "");
    }

    no_token_means_no_authorization_header(db) {
        let store = db.store().await;
        let gateway = Gateway::start().await;
        enqueue(&store, "account_activated", Channel::Sms, "+84912345678", "s", "b").await;
        let worker = Worker::new(store.clone(), channels(&gateway, None), fast_config());
        assert_eq!(worker.run_once().await.unwrap(), 1);
        assert_eq!(gateway.requests()[0].authorization, None);
    }

    gateway_500_is_retried_later_with_backoff(db) {
        let store = db.store().await;
        let gateway = Gateway::start().await;
        gateway.answer_with(500);
        let id = enqueue(&store, "activation_code", Channel::Sms, "+84912345678", "s", "Mã 111222").await;
        let worker = Worker::new(store.clone(), channels(&gateway, Some("t")), fast_config());

        let before = Utc::now();
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let pending = message(&store, id).await;
        assert_eq!(pending.status, OutboxStatus::Pending);
        assert_eq!(pending.attempts, 1);
        assert!(pending.next_attempt_at > Utc::now(), "{pending:?}");
        // backoff_base is 300 ms; instants are stored in whole milliseconds.
        assert!(pending.next_attempt_at >= before + chrono::Duration::milliseconds(299), "{pending:?}");
        assert!(pending.last_error.as_deref().unwrap().contains("500"), "{pending:?}");
        assert_eq!(pending.body, "Mã 111222");
        assert_eq!(worker.run_once().await.unwrap(), 0, "not due before the backoff has passed");

        // Once the gateway recovers and the backoff has passed, the same message goes through.
        gateway.answer_with(200);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let sent = loop {
            worker.run_once().await.unwrap();
            let m = message(&store, id).await;
            if m.status == OutboxStatus::Sent {
                break m;
            }
            assert!(std::time::Instant::now() < deadline, "the retry did not happen: {m:?}");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert!(sent.sent_at.unwrap() >= pending.next_attempt_at, "not retried before its time: {sent:?}");
        assert_eq!(sent.attempts, 2);
        assert_eq!(sent.last_error, None);
        let requests = gateway.requests();
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].json, requests[1].json, "a retry sends the same message, with the same message_id");
    }

    gateway_429_is_retried(db) {
        let store = db.store().await;
        let gateway = Gateway::start().await;
        gateway.answer_with(429);
        let id = enqueue(&store, "activation_code", Channel::Sms, "+84912345678", "s", "b").await;
        let worker = Worker::new(store.clone(), channels(&gateway, None), fast_config());
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let pending = message(&store, id).await;
        assert_eq!((pending.status, pending.attempts), (OutboxStatus::Pending, 1));
    }

    gateway_400_is_given_up(db) {
        let store = db.store().await;
        let gateway = Gateway::start().await;
        gateway.answer_with(400);
        let id = enqueue(&store, "activation_code", Channel::Sms, "+84912345678", "s", "b").await;
        let worker = Worker::new(store.clone(), channels(&gateway, None), fast_config());
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let failed = message(&store, id).await;
        assert_eq!(failed.status, OutboxStatus::Failed);
        assert_eq!(failed.attempts, 1);
        let error = failed.last_error.as_deref().unwrap();
        assert!(error.contains("400"), "{error}");
        assert_eq!(gateway.requests().len(), 1);
        // Given up: never tried again.
        tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        assert_eq!(worker.run_once().await.unwrap(), 0);
        assert_eq!(gateway.requests().len(), 1);
    }

    unreachable_gateway_is_retried(db) {
        let store = db.store().await;
        let closed = ClosedPort::new();
        let config = SmsGatewayConfig { url: format!("http://127.0.0.1:{}/v1/sms", closed.port), bearer_token: None };
        let channels = Channels { sms: Some(Arc::new(SmsGatewaySender::new(&config).unwrap())), ..Channels::default() };
        let id = enqueue(&store, "activation_code", Channel::Sms, "+84912345678", "s", "b").await;
        let worker = Worker::new(store.clone(), channels, fast_config());
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let pending = message(&store, id).await;
        assert_eq!((pending.status, pending.attempts), (OutboxStatus::Pending, 1));
        assert!(pending.last_error.as_deref().unwrap().starts_with("sms gateway:"), "{pending:?}");
    }
}
