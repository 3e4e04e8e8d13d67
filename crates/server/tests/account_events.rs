//! The accounts' event feed (issue 17, docs/events.md), on SQLite and on PostgreSQL: written in the transaction of
//! the lock, the lift or the level change, whichever path makes it; `disabled` only for an account's first lock in
//! force, `enabled` only when the last one is lifted, never for a lock that leaves another in force.

use dinhdanh_domain::lock::Lift;
use dinhdanh_domain::lock::Party;
use dinhdanh_server::clock::Clock;
use dinhdanh_store::on_both_backends;
use reqwest::Method;
use serde_json::json;

mod support;
use support::TestServer;

fn kinds(events: &[dinhdanh_store::AccountEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

on_both_backends! {
    the_first_lock_disables_the_account_and_the_last_lift_enables_it_once(db) {
        let server = TestServer::start(&db).await;
        let account = support::mai(&server).await;
        // A holder's own lock through the API: the event carries the request's id as its txn.
        let session = server.holder_session(&server.store.account(&account).await.unwrap().unwrap()).await;
        let (status, filed) = server.call(Method::POST, "/v1/lock-requests", &session,
            Some(json!({"ground": "holder_request", "reason": "mất điện thoại"}))).await;
        assert_eq!((status, filed["status"].as_str()), (201, Some("effective")), "{filed}");
        let events = server.store.account_events(&account).await.unwrap();
        assert_eq!(kinds(&events), ["disabled"]);
        assert_eq!(events[0].txn, filed["id"].as_str().unwrap());
        assert_eq!(events[0].detail["lock_id"], filed["lock_id"]);
        assert!(!events[0].detail.to_string().contains("holder_request"), "no ground in the feed: {}", events[0].detail);

        // A second lock while the first is in force: nothing new.
        let second = support::holder_lock(&server, &account);
        let mut tx = server.store.begin().await.unwrap();
        tx.insert_lock(&second).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(kinds(&server.store.account_events(&account).await.unwrap()), ["disabled"]);

        // Lifting one of two: still disabled. Lifting the last: enabled, once.
        let lift = |reason: &str| Lift {
            at: server.clock.now(),
            by: Party::Holder { account_id: account.clone() },
            legal_basis: None,
            reason: reason.to_owned(),
            request_id: None,
        };
        let first_lock = filed["lock_id"].as_str().unwrap().to_owned();
        let mut tx = server.store.begin().await.unwrap();
        assert!(tx.lift_lock(&first_lock, &lift("đã tìm thấy")).await.unwrap());
        tx.commit().await.unwrap();
        assert_eq!(kinds(&server.store.account_events(&account).await.unwrap()), ["disabled"], "another lock is in force");
        let mut tx = server.store.begin().await.unwrap();
        assert!(tx.lift_lock(&second.id, &lift("đã tìm thấy")).await.unwrap());
        assert!(!tx.lift_lock(&second.id, &lift("lần nữa")).await.unwrap(), "a lift lifts once");
        tx.commit().await.unwrap();
        let events = server.store.account_events(&account).await.unwrap();
        assert_eq!(kinds(&events), ["disabled", "enabled"]);
        assert_eq!(events[1].txn, second.id, "a lift without a request: the lock's id");
        assert!(events[0].id < events[1].id);

        // A transaction that rolls back leaves no event.
        let third = support::holder_lock(&server, &account);
        let mut tx = server.store.begin().await.unwrap();
        tx.insert_lock(&third).await.unwrap();
        drop(tx);
        assert_eq!(kinds(&server.store.account_events(&account).await.unwrap()), ["disabled", "enabled"]);
        let pending = server.store.pending_account_events(100).await.unwrap();
        assert_eq!(pending.len(), 2, "not yet given to any stream");
    }

    a_level_that_changes_is_an_event_and_one_that_does_not_is_not(db) {
        let server = TestServer::start(&db).await;
        let account = support::mai(&server).await;
        let mut tx = server.store.begin().await.unwrap();
        tx.set_account_level(&account, dinhdanh_domain::Level::One, server.clock.now()).await.unwrap();
        tx.set_account_level(&account, dinhdanh_domain::Level::Two, server.clock.now()).await.unwrap();
        tx.set_account_level(&account, dinhdanh_domain::Level::One, server.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        let events = server.store.account_events(&account).await.unwrap();
        assert_eq!(kinds(&events), ["level_changed", "level_changed"]);
        assert_eq!((events[0].detail["previous"].as_i64(), events[0].detail["current"].as_i64()), (Some(1), Some(2)));
        assert_eq!((events[1].detail["previous"].as_i64(), events[1].detail["current"].as_i64()), (Some(2), Some(1)));
        assert_ne!(events[0].txn, events[1].txn);
    }
}
