//! The storage suite: every test runs against SQLite and against PostgreSQL.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::registry::{CardStatus, CitizenRecord, ForeignerRecord};
use dinhdanh_domain::{
    Account, AccountId, AccountStatus, Channel, FullName, Gender, IdentificationNumber, IdentityKey, Level,
    Nationality, PassportNumber, PhoneNumber, ProvinceTable,
};
use dinhdanh_store::{AuditEntry, NewMessage, OutboxStatus, Store, StoreError, on_both_backends};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap()
}

fn citizen(id: &str, name: &str) -> CitizenRecord {
    CitizenRecord {
        id_number: IdentificationNumber::parse(id, &ProvinceTable::builtin()).unwrap(),
        full_name: FullName::parse(name).unwrap(),
        date_of_birth: NaiveDate::from_ymd_opt(1990, 5, 1).unwrap(),
        gender: Gender::Female,
        place_of_origin: Some("Hà Nội".into()),
        permanent_residence: None,
        card_status: CardStatus::Valid,
        died_on: None,
    }
}

fn account(id: &str, identity: &str) -> Account {
    Account {
        id: AccountId::new(id.into()),
        identity_key: IdentityKey::from_stored(identity.into()),
        holder_kind: HolderKind::Citizen,
        full_name: FullName::parse("Trần Thị Mai").unwrap(),
        level: Level::One,
        status: AccountStatus::PendingActivation,
        phone: Some(PhoneNumber::parse("0912345678").unwrap()),
        email: None,
        password_hash: "$argon2id$test".into(),
        created_at: t0(),
        activated_at: None,
    }
}

fn message(kind: &'static str) -> NewMessage {
    NewMessage {
        kind,
        channel: Channel::Email,
        recipient: "mai@example.vn".into(),
        subject: "s".into(),
        body: "b".into(),
    }
}

on_both_backends! {
    migrations_apply_once_and_reconnecting_is_harmless(db) {
        let first = db.store().await;
        first.ping().await.unwrap();
        let again = db.store().await;
        assert_eq!(again.count_citizens().await.unwrap(), 0);
    }

    citizens_upsert_is_idempotent_and_detects_changes(db) {
        let store = db.store().await;
        let rows = vec![citizen("001190123456", "Trần Thị Mai"), citizen("079190000001", "Lê Thị Hoa")];
        let first = store.upsert_citizens(&rows, t0()).await.unwrap();
        assert_eq!((first.written, first.unchanged), (2, 0));
        let again = store.upsert_citizens(&rows, t0()).await.unwrap();
        assert_eq!((again.written, again.unchanged), (0, 2));
        let mut changed = rows.clone();
        changed[1].card_status = CardStatus::Revoked;
        let third = store.upsert_citizens(&changed, t0()).await.unwrap();
        assert_eq!((third.written, third.unchanged), (1, 1));
        let found = store.find_citizen(&changed[1].id_number).await.unwrap().unwrap();
        assert_eq!(found, changed[1]);
        assert_eq!(store.count_citizens().await.unwrap(), 2);
    }

    the_last_row_of_an_identity_in_a_batch_wins(db) {
        let store = db.store().await;
        let rows = vec![citizen("001190123456", "Trần Thị Mai"), citizen("001190123456", "Trần Thị Mây")];
        store.upsert_citizens(&rows, t0()).await.unwrap();
        let found = store.find_citizen(&rows[0].id_number).await.unwrap().unwrap();
        assert_eq!(found.full_name.as_str(), "Trần Thị Mây");
    }

    unknown_citizen_is_none(db) {
        let store = db.store().await;
        let id = IdentificationNumber::parse("001190999999", &ProvinceTable::builtin()).unwrap();
        assert!(store.find_citizen(&id).await.unwrap().is_none());
    }

    foreigners_round_trip(db) {
        let store = db.store().await;
        let record = ForeignerRecord {
            passport_number: PassportNumber::parse("M1234567").unwrap(),
            nationality: Nationality::parse("KOR").unwrap(),
            full_name: FullName::parse("Kim Min-jun").unwrap(),
            date_of_birth: NaiveDate::from_ymd_opt(1985, 2, 3).unwrap(),
            gender: Gender::Male,
            passport_expires_on: NaiveDate::from_ymd_opt(2030, 1, 1),
            stay_expires_on: None,
            died_on: None,
        };
        let outcome = store.upsert_foreigners(std::slice::from_ref(&record), t0()).await.unwrap();
        assert_eq!(outcome.written, 1);
        let found = store.find_foreigner(&record.nationality, &record.passport_number).await.unwrap();
        assert_eq!(found, Some(record.clone()));
        let other_nationality = Nationality::parse("USA").unwrap();
        assert!(store.find_foreigner(&other_nationality, &record.passport_number).await.unwrap().is_none());
    }

    one_account_per_identity(db) {
        let store = db.store().await;
        let mut tx = store.begin().await.unwrap();
        tx.insert_account(&account("a1", "CID:001190123456")).await.unwrap();
        tx.commit().await.unwrap();
        let mut tx = store.begin().await.unwrap();
        let err = tx.insert_account(&account("a2", "CID:001190123456")).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        drop(tx);
        assert_eq!(store.count_accounts().await.unwrap(), 1);
        let stored = store.account(&AccountId::new("a1".into())).await.unwrap().unwrap();
        assert_eq!(stored.phone.unwrap().as_str(), "+84912345678");
        assert_eq!(stored.created_at, t0());
    }

    concurrent_inserts_of_one_identity_create_one_account(db) {
        let store = db.store().await;
        let mut tasks = Vec::new();
        for i in 0..10 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = store.begin().await?;
                tx.insert_account(&account(&format!("a{i}"), "CID:001190123456")).await?;
                tx.commit().await
            }));
        }
        let mut ok = 0;
        for task in tasks {
            match task.await.unwrap() {
                Ok(()) => ok += 1,
                Err(StoreError::Conflict(_)) => {}
                Err(other) => panic!("unexpected error {other:?}"),
            }
        }
        assert_eq!(ok, 1);
        assert_eq!(store.count_accounts().await.unwrap(), 1);
    }

    a_transaction_dropped_without_commit_changes_nothing(db) {
        let store = db.store().await;
        let mut tx = store.begin().await.unwrap();
        tx.insert_account(&account("a1", "CID:001190123456")).await.unwrap();
        tx.enqueue(message("activation_code"), t0()).await.unwrap();
        drop(tx);
        assert_eq!(store.count_accounts().await.unwrap(), 0);
        assert_eq!(store.count_messages(OutboxStatus::Pending).await.unwrap(), 0);
    }

    activation_attempts_are_counted_atomically(db) {
        let store = db.store().await;
        let id = AccountId::new("a1".into());
        let mut tx = store.begin().await.unwrap();
        tx.insert_account(&account("a1", "CID:001190123456")).await.unwrap();
        tx.put_activation_code(&id, "hash", t0(), t0() + Duration::minutes(5)).await.unwrap();
        tx.commit().await.unwrap();
        let mut handles = Vec::new();
        for _ in 0..12 {
            let store = store.clone();
            let id = id.clone();
            handles.push(tokio::spawn(async move { store.take_activation_attempt(&id, t0(), 5).await.unwrap() }));
        }
        let mut granted = 0;
        for h in handles {
            if h.await.unwrap().is_some() {
                granted += 1;
            }
        }
        assert_eq!(granted, 5);
        // A new code resets the tries; an expired code gives none.
        let mut tx = store.begin().await.unwrap();
        tx.put_activation_code(&id, "hash2", t0(), t0() + Duration::minutes(5)).await.unwrap();
        tx.commit().await.unwrap();
        let row = store.take_activation_attempt(&id, t0(), 5).await.unwrap().unwrap();
        assert_eq!((row.code_hash.as_str(), row.attempts), ("hash2", 1));
        assert!(store.take_activation_attempt(&id, t0() + Duration::minutes(5), 5).await.unwrap().is_none());
        let mut tx = store.begin().await.unwrap();
        let sends = tx.activation_sends_since(&id, t0() - Duration::hours(1)).await.unwrap();
        assert_eq!(sends, vec![t0(), t0()]);
    }

    pending_registrations_are_removed_with_their_codes(db) {
        let store = db.store().await;
        let mut tx = store.begin().await.unwrap();
        tx.insert_account(&account("old", "CID:001190123456")).await.unwrap();
        tx.put_activation_code(&AccountId::new("old".into()), "h", t0(), t0()).await.unwrap();
        let mut active = account("active", "CID:079190000001");
        active.status = AccountStatus::Active;
        tx.insert_account(&active).await.unwrap();
        let mut fresh = account("fresh", "CID:079190000002");
        fresh.created_at = t0() + Duration::hours(30);
        tx.insert_account(&fresh).await.unwrap();
        let removed = tx.delete_pending_created_by(t0() + Duration::hours(1)).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(removed, vec![AccountId::new("old".into())]);
        assert_eq!(store.count_accounts().await.unwrap(), 2);
    }

    outbox_claims_are_exclusive_and_leased(db) {
        let store = db.store().await;
        let mut tx = store.begin().await.unwrap();
        for _ in 0..5 {
            tx.enqueue(message("activation_code"), t0()).await.unwrap();
        }
        tx.commit().await.unwrap();
        let (a, b) = tokio::join!(
            store.claim_due_messages(t0(), Duration::seconds(30), 10),
            store.claim_due_messages(t0(), Duration::seconds(30), 10)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(a.len() + b.len(), 5, "each message is claimed exactly once");
        // While leased, nobody else gets them; after the lease runs out they are due again.
        assert!(store.claim_due_messages(t0() + Duration::seconds(10), Duration::seconds(30), 10).await.unwrap().is_empty());
        let again = store.claim_due_messages(t0() + Duration::seconds(31), Duration::seconds(30), 10).await.unwrap();
        assert_eq!(again.len(), 5);
        store.mark_message_sent(again[0].id, t0()).await.unwrap();
        store.mark_message_failed(again[1].id, "smtp down", Some(t0() + Duration::minutes(1))).await.unwrap();
        store.mark_message_failed(again[2].id, "gave up", None).await.unwrap();
        assert_eq!(store.count_messages(OutboxStatus::Sent).await.unwrap(), 1);
        assert_eq!(store.count_messages(OutboxStatus::Failed).await.unwrap(), 1);
        let sent = store.outbox_messages(Some(OutboxStatus::Sent), 10).await.unwrap();
        assert_eq!(sent[0].body, "", "a sent message's body is cleared");
        let retried = store.claim_due_messages(t0() + Duration::minutes(2), Duration::seconds(30), 10).await.unwrap();
        assert_eq!(retried.len(), 3);
        let failed_once = retried.iter().find(|m| m.id == again[1].id).unwrap();
        assert_eq!((failed_once.attempts, failed_once.last_error.as_deref()), (1, Some("smtp down")));
    }

    audit_entries_are_appended_in_order(db) {
        let store = db.store().await;
        for (i, outcome) in ["ok", "refused"].into_iter().enumerate() {
            store
                .audit(AuditEntry {
                    at: t0() + Duration::seconds(i as i64),
                    actor: "registrant".into(),
                    action: "account.register",
                    subject: None,
                    outcome,
                    detail: serde_json::json!({ "reason": "registry_mismatch" }),
                })
                .await
                .unwrap();
        }
        let recent = store.recent_audit(Some("account.register"), 10).await.unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].outcome, "refused");
        assert!(recent[0].id > recent[1].id);
        assert_eq!(recent[0].detail["reason"], "registry_mismatch");
        assert!(store.recent_audit(Some("other"), 10).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn unsupported_urls_are_refused_clearly() {
    let err = Store::connect("mysql://localhost/x").await.err().unwrap();
    assert!(err.to_string().contains("sqlite://PATH or postgres://"), "{err}");
}

mod audit_chain {
    use super::*;
    use dinhdanh_store::{ChainProblem, testing::TestDb};
    use sqlx::AnyPool;

    async fn with_entries(db: &TestDb, n: i64) -> Store {
        let store = db.store().await;
        for i in 0..n {
            // Several entries per transaction too, as a state change writes them.
            let mut tx = store.begin().await.unwrap();
            for j in 0..2 {
                tx.audit(AuditEntry {
                    at: t0() + Duration::seconds(i * 2 + j),
                    actor: format!("officer:{i}"),
                    action: "lock.place",
                    subject: Some(format!("acc-{i}")),
                    outcome: "ok",
                    detail: serde_json::json!({"n": i, "j": j}),
                })
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
        }
        store
    }

    async fn tamper(db: &TestDb, sql: &str) {
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect(&db.url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }

    on_both_backends! {
        an_untouched_chain_verifies(db) {
            let store = with_entries(&db, 5).await;
            let report = store.verify_audit_chain().await.unwrap();
            assert_eq!((report.entries, report.first_problem), (10, None));
            let newest = store.recent_audit(None, 1).await.unwrap();
            assert_eq!(newest[0].seq, 10);
            assert_eq!(newest[0].hash.len(), 64);
        }

        a_dropped_transaction_leaves_no_entry(db) {
            let store = with_entries(&db, 1).await;
            let mut tx = store.begin().await.unwrap();
            tx.audit(AuditEntry { at: t0(), actor: "x".into(), action: "a", subject: None, outcome: "ok", detail: serde_json::json!({}) }).await.unwrap();
            drop(tx);
            assert_eq!(store.verify_audit_chain().await.unwrap().entries, 2);
        }

        an_edited_entry_is_named(db) {
            let store = with_entries(&db, 5).await;
            tamper(&db, "UPDATE audit_log SET outcome = 'refused' WHERE seq = 4").await;
            assert_eq!(store.verify_audit_chain().await.unwrap().first_problem, Some(ChainProblem::Edited { seq: 4 }));
        }

        a_deleted_entry_is_named(db) {
            let store = with_entries(&db, 5).await;
            tamper(&db, "DELETE FROM audit_log WHERE seq = 3").await;
            assert_eq!(
                store.verify_audit_chain().await.unwrap().first_problem,
                Some(ChainProblem::Missing { expected_seq: 3, found_seq: 4 })
            );
        }

        swapped_entries_are_caught(db) {
            let store = with_entries(&db, 5).await;
            // Swap the positions of entries 5 and 6 (contents and links move together).
            tamper(&db, "UPDATE audit_log SET seq = -1 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6; UPDATE audit_log SET seq = 6 WHERE seq = -1").await;
            assert_eq!(store.verify_audit_chain().await.unwrap().first_problem, Some(ChainProblem::Broken { seq: 5 }));
        }

        a_removed_tail_is_caught(db) {
            let store = with_entries(&db, 3).await;
            tamper(&db, "DELETE FROM audit_log WHERE seq = 6").await;
            assert_eq!(
                store.verify_audit_chain().await.unwrap().first_problem,
                Some(ChainProblem::TailRemoved { last_present: 5, head: 6 })
            );
        }

        concurrent_appenders_keep_one_chain(db) {
            let store = db.store().await;
            let mut tasks = Vec::new();
            for i in 0..16 {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    store.audit(AuditEntry { at: t0(), actor: format!("t{i}"), action: "x", subject: None, outcome: "ok", detail: serde_json::json!({}) }).await
                }));
            }
            for t in tasks {
                t.await.unwrap().unwrap();
            }
            let report = store.verify_audit_chain().await.unwrap();
            assert_eq!((report.entries, report.first_problem), (16, None));
        }
    }
}

mod concurrent_writers {
    use super::*;

    on_both_backends! {
        parallel_writers_from_two_stores_never_see_a_busy_database(db) {
            // Two Stores over one database stand for two processes (or a CLI beside the server): on SQLite their
            // in-process write queues do not see each other, so only a transaction begun as a writer waits for
            // the other's commit instead of failing with "database is locked".
            let stores = [db.store().await, db.store().await];
            let mut tasks = Vec::new();
            for i in 0..100i64 {
                let store = stores[(i % 2) as usize].clone();
                tasks.push(tokio::spawn(async move {
                    let mut tx = store.begin().await?;
                    // Read first, let the other store commit, then write: the shape of every state change.
                    tx.account(&AccountId::new(format!("acc-{i}"))).await?;
                    tokio::task::yield_now().await;
                    tx.audit(AuditEntry {
                        at: t0() + Duration::seconds(i),
                        actor: format!("officer:{i}"),
                        action: "lock.place",
                        subject: Some(format!("acc-{i}")),
                        outcome: "ok",
                        detail: serde_json::json!({ "n": i }),
                    })
                    .await?;
                    tx.commit().await
                }));
            }
            let mut failures = Vec::new();
            for task in tasks {
                if let Err(e) = task.await.unwrap() {
                    failures.push(e.to_string());
                }
            }
            assert!(failures.is_empty(), "{} of 100 writes failed: {:?}", failures.len(), failures.first());
            let written = stores[0].recent_audit(Some("lock.place"), 1000).await.unwrap();
            assert_eq!(written.len(), 100);
            let report = stores[0].verify_audit_chain().await.unwrap();
            assert_eq!((report.entries, report.first_problem), (100, None));
        }
    }
}
