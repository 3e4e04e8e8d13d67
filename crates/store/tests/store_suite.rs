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

/// An active organization `org` of `kind` with one active client-secret API client, `client`.
async fn organization_with_client(tx: &mut dinhdanh_store::Tx, kind: dinhdanh_domain::actor::OrganizationKind) {
    use dinhdanh_domain::actor::{OrganizationStatus, Scope};
    use dinhdanh_domain::client::{ApiClient, ClientAuthMethod, ClientStatus};
    tx.insert_organization(&dinhdanh_domain::organization::Organization {
        id: "org".into(),
        code: "ORG".into(),
        name: "Tổ chức".into(),
        kind,
        parent_id: None,
        status: OrganizationStatus::Active,
        contact_email: None,
        contact_phone: None,
        created_at: t0(),
        updated_at: t0(),
    })
    .await
    .unwrap();
    tx.insert_api_client(&ApiClient {
        id: "client".into(),
        organization_id: "org".into(),
        name: "c".into(),
        auth_method: ClientAuthMethod::ClientSecret,
        scopes: std::collections::BTreeSet::from([Scope::AccountsStatus]),
        status: ClientStatus::Active,
        created_at: t0(),
        revoked_at: None,
    })
    .await
    .unwrap();
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
        let removed = tx.delete_pending_created_by(t0() + Duration::hours(1), 10).await.unwrap();
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
        assert!(recent[0].seq > recent[1].seq);
        assert_eq!(recent[0].detail["reason"], "registry_mismatch");
        assert!(store.recent_audit(Some("other"), 10).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn unsupported_urls_are_refused_clearly() {
    let err = Store::connect("mysql://localhost/x").await.err().unwrap();
    assert!(err.to_string().contains("sqlite://PATH or postgres://"), "{err}");
}

mod audit_log {
    use super::*;
    use dinhdanh_store::merkle::{self, Hash};
    use dinhdanh_store::testing::TestDb;
    use dinhdanh_store::{AuditProblem, CheckpointSigner, TreeHead};
    use sqlx::AnyPool;

    /// `n` transactions of two entries each.
    async fn with_entries(store: &Store, first: i64, n: i64) {
        for i in first..first + n {
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
    }

    /// Signs the tree as it stands, as the server's checkpoint job does, and returns the head the note states.
    async fn sign(store: &Store, signer: &CheckpointSigner) -> TreeHead {
        let (size, root) = store.audit_tree_head().await.unwrap();
        let head = TreeHead { size, root, at: t0() + Duration::minutes(size as i64) };
        let note = signer.sign(&head);
        assert!(store.record_checkpoint(&head, &note).await.unwrap());
        signer.verifier().open(&note).unwrap()
    }

    /// Ten entries, with signed heads at 6 and 10.
    async fn signed_log(db: &TestDb) -> (Store, Vec<TreeHead>) {
        let store = db.store().await;
        let signer = CheckpointSigner::generate("test.dinhdanh/audit").unwrap();
        with_entries(&store, 0, 3).await;
        let first = sign(&store, &signer).await;
        with_entries(&store, 3, 2).await;
        let second = sign(&store, &signer).await;
        (store, vec![first, second])
    }

    async fn tamper(db: &TestDb, sql: &str) {
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect(&db.url).await.unwrap();
        sqlx::raw_sql(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }

    /// The leaf hash of an entry as anyone can compute it from the entry (the format is public).
    fn leaf(
        seq: i64,
        at_ms: i64,
        actor: &str,
        action: &str,
        subject: Option<&str>,
        outcome: &str,
        detail: &str,
    ) -> Hash {
        merkle::leaf_hash(
            serde_json::json!([seq, at_ms, actor, action, subject, outcome, detail]).to_string().as_bytes(),
        )
    }

    async fn problems(store: &Store, heads: &[TreeHead]) -> Vec<AuditProblem> {
        store.verify_audit_log(heads).await.unwrap().problems
    }

    on_both_backends! {
        an_untouched_log_verifies_against_its_signed_heads(db) {
            let (store, heads) = signed_log(&db).await;
            assert_eq!(heads.iter().map(|h| h.size).collect::<Vec<_>>(), [6, 10]);
            let report = store.verify_audit_log(&heads).await.unwrap();
            assert_eq!((report.entries, report.checkpoints, report.problems), (10, 2, vec![]));
            let kept = store.checkpoints(10).await.unwrap();
            assert_eq!(kept.iter().map(|c| c.size).collect::<Vec<_>>(), [10, 6], "newest first");
            let newest = store.recent_audit(None, 1).await.unwrap();
            assert_eq!((newest[0].seq, newest[0].leaf_hash.len()), (10, 64));
        }

        every_entry_has_an_inclusion_proof_and_the_heads_a_consistency_proof(db) {
            let (store, heads) = signed_log(&db).await;
            for seq in 1..=10 {
                let entry = store.audit_entry(seq).await.unwrap().unwrap();
                let leaf = merkle::hash_from_hex(&entry.leaf_hash).unwrap();
                let proof = store.inclusion_proof(seq, 10).await.unwrap();
                assert!(merkle::verify_inclusion(&leaf, (seq - 1) as u64, 10, &proof, &heads[1].root), "entry {seq}");
                assert!(!merkle::verify_inclusion(&leaf, (seq - 1) as u64, 10, &proof, &heads[0].root));
            }
            let proof = store.consistency_proof(6, 10).await.unwrap();
            assert!(merkle::verify_consistency(6, 10, &heads[0].root, &heads[1].root, &proof));
        }

        a_dropped_transaction_leaves_no_entry(db) {
            let store = db.store().await;
            with_entries(&store, 0, 1).await;
            let mut tx = store.begin().await.unwrap();
            tx.audit(AuditEntry { at: t0(), actor: "x".into(), action: "a", subject: None, outcome: "ok", detail: serde_json::json!({}) }).await.unwrap();
            drop(tx);
            assert_eq!(store.verify_audit_log(&[]).await.unwrap().entries, 2);
        }

        an_edited_entry_is_named(db) {
            let (store, heads) = signed_log(&db).await;
            tamper(&db, "UPDATE audit_log SET outcome = 'refused' WHERE seq = 4").await;
            let found = problems(&store, &heads).await;
            assert_eq!(found[0], AuditProblem::Edited { seq: 4 });
            assert!(matches!(found[1], AuditProblem::CheckpointMismatch { size: 6, after: 0, .. }), "{found:?}");
        }

        an_edit_that_recomputes_the_leaf_is_caught_by_the_signed_head(db) {
            // Someone who can write to the database and knows the leaf format rewrites entry 8 and its leaf
            // hash, and even the head row: only the signed heads, made with a key outside the database, catch it.
            let (store, heads) = signed_log(&db).await;
            let entry = store.audit_entry(8).await.unwrap().unwrap();
            let forged = leaf(8, entry.at.timestamp_millis(), &entry.actor, &entry.action, entry.subject.as_deref(), "refused", &entry.detail.to_string());
            tamper(&db, &format!("UPDATE audit_log SET outcome = 'refused', leaf_hash = '{}' WHERE seq = 8", merkle::hex(&forged))).await;
            let found = problems(&store, &heads).await;
            assert!(found.iter().any(|p| matches!(p, AuditProblem::CheckpointMismatch { size: 10, after: 6, .. })), "{found:?}");
            assert!(!found.iter().any(|p| matches!(p, AuditProblem::Edited { .. })), "the leaf itself is consistent");
            assert!(found[0].to_string().contains("entries 7 to 10"), "{}", found[0]);
        }

        a_deleted_entry_is_named(db) {
            let (store, heads) = signed_log(&db).await;
            tamper(&db, "DELETE FROM audit_log WHERE seq = 3").await;
            let found = problems(&store, &heads).await;
            assert_eq!(found[0], AuditProblem::Missing { from: 3, to: 3 });
        }

        swapped_entries_are_caught(db) {
            let (store, heads) = signed_log(&db).await;
            // Entries 5 and 6 trade places (contents and leaf hashes move together).
            tamper(&db, "UPDATE audit_log SET seq = -1 WHERE seq = 5; UPDATE audit_log SET seq = 5 WHERE seq = 6; UPDATE audit_log SET seq = 6 WHERE seq = -1").await;
            let found = problems(&store, &heads).await;
            assert_eq!(found[..2], [AuditProblem::Edited { seq: 5 }, AuditProblem::Edited { seq: 6 }]);
        }

        a_removed_tail_is_caught_even_with_the_head_rewritten(db) {
            let (store, heads) = signed_log(&db).await;
            // The newest two entries go, and the head row is set back to the tree of eight, as it then was.
            let mut tree = merkle::Frontier::default();
            for seq in 1..=8 {
                tree.push(merkle::hash_from_hex(&store.audit_entry(seq).await.unwrap().unwrap().leaf_hash).unwrap());
            }
            tamper(&db, &format!(
                "DELETE FROM audit_log WHERE seq > 8; UPDATE audit_head SET last_seq = 8, frontier = '{}', root = '{}' WHERE id = 1",
                tree.encode(), merkle::hex(&tree.root()))).await;
            assert_eq!(problems(&store, &heads).await, [AuditProblem::TailRemoved { present: 8, expected: 10 }]);
            assert_eq!(problems(&store, &heads[..1]).await, [], "without the newer signed head, nothing shows");
        }

        a_row_written_around_the_tree_is_reported_not_adopted(db) {
            let (store, heads) = signed_log(&db).await;
            tamper(&db, "INSERT INTO audit_log (at, actor, action, outcome, detail) VALUES (0, 'x', 'lock.lift', 'ok', '{}')").await;
            let found = problems(&store, &heads).await;
            assert!(matches!(found[..], [AuditProblem::Unplaced { .. }]), "{found:?}");
            drop(store);
            // Opening the database again does not give it a place either.
            let reopened = db.store().await;
            assert!(matches!(problems(&reopened, &heads).await[..], [AuditProblem::Unplaced { .. }]));
        }

        contradicting_signed_heads_are_named(db) {
            let (store, mut heads) = signed_log(&db).await;
            heads.push(TreeHead { size: 6, root: heads[1].root, at: heads[1].at + Duration::minutes(1) });
            let found = problems(&store, &heads).await;
            assert!(found.contains(&AuditProblem::Inconsistent { first: 10, second: 6 }), "{found:?}");
        }

        concurrent_appenders_keep_one_tree(db) {
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
            let report = store.verify_audit_log(&[]).await.unwrap();
            assert_eq!((report.entries, report.problems), (16, vec![]));
        }

        the_hash_chain_of_an_older_version_becomes_the_first_leaves(db) {
            // A database as migration 8 left it, with two chained entries: the upgrade checks the chain and
            // makes its entries the tree's first leaves.
            let pool = db.at_version(8).await;
            let mut prev = "0".repeat(64);
            for seq in 1..=2i64 {
                let framed = serde_json::json!([seq, 1000 * seq, "system", "lock.place", null, "ok", "{}", prev]).to_string();
                let hash = merkle::hex(&sha2::Digest::finalize(sha2::Digest::chain_update(sha2::Sha256::default(), framed)));
                sqlx::query("INSERT INTO audit_log (at, actor, action, subject, outcome, detail, seq, prev_hash, hash) VALUES ($1, 'system', 'lock.place', NULL, 'ok', '{}', $2, $3, $4)")
                    .bind(1000 * seq).bind(seq).bind(&prev).bind(&hash).execute(&pool).await.unwrap();
                prev = hash;
            }
            sqlx::query("UPDATE audit_head SET last_seq = 2, last_hash = $1 WHERE id = 1").bind(&prev).execute(&pool).await.unwrap();
            pool.close().await;
            let store = db.store().await;
            assert_eq!(store.verify_audit_log(&[]).await.unwrap().problems, []);
            with_entries(&store, 0, 1).await;
            let (size, root) = store.audit_tree_head().await.unwrap();
            let mut leaves: Vec<Hash> =
                vec![leaf(1, 1000, "system", "lock.place", None, "ok", "{}"), leaf(2, 2000, "system", "lock.place", None, "ok", "{}")];
            for seq in [3, 4] {
                leaves.push(merkle::hash_from_hex(&store.audit_entry(seq).await.unwrap().unwrap().leaf_hash).unwrap());
            }
            assert_eq!((size, root), (4, merkle::root(&leaves)));
        }

        a_broken_chain_stops_the_upgrade(db) {
            let pool = db.at_version(8).await;
            sqlx::query("INSERT INTO audit_log (at, actor, action, subject, outcome, detail, seq, prev_hash, hash) VALUES (1, 'system', 'lock.place', NULL, 'ok', '{}', 1, $1, 'not the hash')")
                .bind("0".repeat(64)).execute(&pool).await.unwrap();
            pool.close().await;
            let err = Store::connect(&db.url).await.err().expect("the upgrade refuses a broken chain");
            assert!(err.to_string().contains("broken at entry 1"), "{err}");
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
            let report = stores[0].verify_audit_log(&[]).await.unwrap();
            assert_eq!((report.entries, report.problems), (100, vec![]));
        }
    }
}

mod purge {
    use std::collections::BTreeSet;

    use dinhdanh_domain::account::SignInPurpose;
    use dinhdanh_domain::actor::{OfficerRole, OrganizationKind, Scope};
    use dinhdanh_domain::officer::{Officer, OfficerStatus};
    use dinhdanh_store::testing::TestDb;
    use dinhdanh_store::{Decoy, Expired, NewHolderSignIn, StoredResponse};
    use sqlx::AnyPool;

    use super::*;

    async fn count(db: &TestDb, table: &str) -> i64 {
        sqlx::any::install_default_drivers();
        let pool = AnyPool::connect(&db.url).await.unwrap();
        let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table}")).fetch_one(&pool).await.unwrap();
        pool.close().await;
        n
    }

    /// Rows of every purged kind: for each, `expired` of them ended at or before `t0()` and `live` end after it.
    async fn rows(db: &TestDb, store: &Store, expired: i64, live: i64) {
        let mut tx = store.begin().await.unwrap();
        let holder = AccountId::new("holder".into());
        let mut active = account("holder", "CID:001190123456");
        active.status = AccountStatus::Active;
        tx.insert_account(&active).await.unwrap();
        organization_with_client(&mut tx, OrganizationKind::Operator).await;
        tx.insert_officer(&Officer {
            id: "officer".into(),
            username: "lan".into(),
            full_name: "Lan".into(),
            organization_id: "org".into(),
            roles: BTreeSet::from([OfficerRole::Reviewer]),
            status: OfficerStatus::Active,
            password_hash: None,
            totp_secret: None,
            totp_last_step: None,
            enrolment_token_hash: None,
            enrolment_expires_at: None,
            failed_sign_ins: 0,
            locked_until: None,
            created_at: t0(),
            updated_at: t0(),
        })
        .await
        .unwrap();
        // Expired rows end up to `expired` minutes before t0 (the last exactly at t0); live ones after it.
        let ends = (0..expired).map(|i| (format!("x{i}"), t0() - Duration::minutes(i)));
        let ends: Vec<_> = ends.chain((1..=live).map(|i| (format!("l{i}"), t0() + Duration::minutes(i)))).collect();
        for (name, end) in &ends {
            let begun = *end - Duration::hours(1);
            tx.insert_holder_session(&format!("hs-{name}"), &holder, Level::One, false, begun, *end).await.unwrap();
            tx.insert_officer_session(&format!("os-{name}"), "officer", begun, *end).await.unwrap();
            // Each challenge voids the one before it: the purge goes by expiry, consumed or not.
            tx.insert_holder_sign_in(&NewHolderSignIn {
                id: format!("si-{name}"),
                account_id: holder.clone(),
                code_hash: "h".into(),
                channel: Channel::Sms,
                created_at: begun,
                expires_at: *end,
                purpose: SignInPurpose::SignIn,
            })
            .await
            .unwrap();
            tx.insert_access_token(
                &format!("at-{name}"),
                "client",
                &BTreeSet::from([Scope::AccountsStatus]),
                begun,
                *end,
            )
            .await
            .unwrap();
            tx.record_client_assertion("client", &format!("jti-{name}"), *end, begun).await.unwrap();
            // An idempotency key's time is its creation; the caller's cutoff says the retention.
            let answer = StoredResponse { request_hash: "h".into(), status: 201, response: "{}".into() };
            tx.store_idempotent_response("scope", &format!("key-{name}"), &answer, *end).await.unwrap();
        }
        tx.commit().await.unwrap();
        // The provider's rows, written as plain rows: the purge reads only their keys and times (each code,
        // token and family under a grant of its own, as a family is one per grant).
        let pool = AnyPool::connect(&db.url).await.unwrap();
        for (name, end) in &ends {
            let (begun, end) = ((*end - Duration::hours(1)).timestamp_millis(), end.timestamp_millis());
            for sql in [
                format!(
                    "INSERT INTO oidc_grants (id, client_id, account_id, holder_session, grant_data, created_at) VALUES ('g-{name}', 'client', 'holder', 'hs', '{{}}', {begun})"
                ),
                format!(
                    "INSERT INTO oidc_codes (hash, grant_id, code_data, expires_at) VALUES ('c-{name}', 'g-{name}', '{{}}', {end})"
                ),
                format!(
                    "INSERT INTO oidc_access_tokens (jti, grant_id, scopes, expires_at) VALUES ('a-{name}', 'g-{name}', 'openid', {end})"
                ),
                format!(
                    "INSERT INTO oidc_refresh_families (grant_id, family_data, expires_at) VALUES ('g-{name}', '{{}}', {end})"
                ),
                format!(
                    "INSERT INTO oidc_refresh_tokens (hash, grant_id, issued_at, expires_at) VALUES ('r-{name}', 'g-{name}', {begun}, {end})"
                ),
                format!(
                    "INSERT INTO oidc_interactions (id, request, csrf_hash, created_at, expires_at) VALUES ('i-{name}', '{{}}', 'h', {begun}, {end})"
                ),
                format!(
                    "INSERT INTO oidc_pushed_requests (hash, client_id, request_data, expires_at) VALUES ('p-{name}', 'client', '{{}}', {end})"
                ),
            ] {
                sqlx::query(&sql).execute(&pool).await.unwrap();
            }
        }
        pool.close().await;
    }

    on_both_backends! {
        expired_rows_are_purged_in_batches_and_live_ones_stay(db) {
            let store = db.store().await;
            rows(&db, &store, 5, 3).await;
            for what in Expired::ALL {
                assert_eq!(count(&db, what.as_str()).await, 8, "{what:?} before");
                // Batches of two: five expired rows take three batches, and the count is the total.
                assert_eq!(store.purge_expired(what, t0(), 2).await.unwrap(), 5, "{what:?}");
                assert_eq!(count(&db, what.as_str()).await, 3, "{what:?}: the live rows stay");
                assert_eq!(store.purge_expired(what, t0(), 2).await.unwrap(), 0, "{what:?}: nothing left to purge");
            }
            // One transaction deletes at most its limit.
            let mut tx = store.begin().await.unwrap();
            assert_eq!(tx.purge_expired(Expired::HolderSessions, t0() + Duration::hours(1), 2).await.unwrap(), 2);
            tx.commit().await.unwrap();
            assert_eq!(count(&db, "holder_sessions").await, 1);
        }

        a_used_jti_is_refused_until_its_record_expires_even_before_the_purge(db) {
            let store = db.store().await;
            rows(&db, &store, 1, 1).await;
            let mut tx = store.begin().await.unwrap();
            // The live record refuses a replay; the expired one (not purged) is taken over by a new assertion.
            let replay = tx.record_client_assertion("client", "jti-l1", t0() + Duration::hours(1), t0()).await;
            assert!(matches!(replay, Err(StoreError::Conflict(_))), "{replay:?}");
            tx.record_client_assertion("client", "jti-x0", t0() + Duration::hours(1), t0()).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(store.purge_expired(Expired::ClientAssertions, t0(), 10).await.unwrap(), 0, "renewed, not expired");
            let mut tx = store.begin().await.unwrap();
            let again = tx.record_client_assertion("client", "jti-x0", t0() + Duration::hours(2), t0()).await;
            assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        }

        jtis_recorded_together_refuse_replays_within_and_across_statements(db) {
            let store = db.store().await;
            rows(&db, &store, 1, 1).await;
            let later = t0() + Duration::hours(1);
            let mut tx = store.begin().await.unwrap();
            // jti-l1 is live (a replay), jti-x0 expired (taken over), "new" fresh, and "new" again is a replay.
            let asked = [("client", "jti-l1", later), ("client", "new", later), ("client", "jti-x0", later), ("client", "new", later)];
            assert_eq!(tx.record_client_assertions(&asked, t0()).await.unwrap(), vec![false, true, true, false]);
            tx.commit().await.unwrap();
            let mut tx = store.begin().await.unwrap();
            assert_eq!(tx.record_client_assertions(&[("client", "new", later)], t0()).await.unwrap(), vec![false]);
            assert!(tx.record_client_assertions(&[], t0()).await.unwrap().is_empty());
        }

        expired_sessions_and_challenges_not_yet_purged_are_refused(db) {
            let store = db.store().await;
            rows(&db, &store, 1, 1).await;
            assert!(store.holder_session_owner("hs-x0", t0()).await.unwrap().is_none());
            assert!(store.holder_session_owner("hs-l1", t0()).await.unwrap().is_some());
            assert!(store.officer_session_owner("os-x0", t0()).await.unwrap().is_none());
            assert!(store.officer_session_owner("os-l1", t0()).await.unwrap().is_some());
            // The newest challenge (l1) voided the others; an expired one takes no try.
            assert!(store.take_holder_sign_in_attempt("si-x0", t0(), 5).await.unwrap().is_none());
            assert!(store.take_holder_sign_in_attempt("si-l1", t0(), 5).await.unwrap().is_some());
        }

        expired_registrations_and_decoys_go_in_batches(db) {
            let store = db.store().await;
            let mut tx = store.begin().await.unwrap();
            for i in 0..5 {
                let mut pending = account(&format!("p{i}"), &format!("CID:00119012345{i}"));
                pending.created_at = t0() + Duration::minutes(i);
                tx.insert_account(&pending).await.unwrap();
                tx.insert_decoy(&Decoy {
                    id: format!("d{i}"),
                    created_at: t0() + Duration::minutes(i),
                    sent_to: vec![],
                    code_hash: "h".into(),
                    code_expires_at: t0(),
                    attempts: 0,
                    sends: vec![],
                })
                .await
                .unwrap();
            }
            tx.commit().await.unwrap();
            let cutoff = t0() + Duration::minutes(2);
            let mut tx = store.begin().await.unwrap();
            let first = tx.delete_pending_created_by(cutoff, 2).await.unwrap();
            assert_eq!(first, vec![AccountId::new("p0".into()), AccountId::new("p1".into())], "oldest first, at most 2");
            assert_eq!(tx.delete_pending_created_by(cutoff, 2).await.unwrap(), vec![AccountId::new("p2".into())]);
            assert_eq!(tx.delete_decoys_created_by(cutoff, 2).await.unwrap(), 2);
            assert_eq!(tx.delete_decoys_created_by(cutoff, 2).await.unwrap(), 1);
            assert_eq!(tx.delete_decoys_created_by(cutoff, 2).await.unwrap(), 0);
            tx.commit().await.unwrap();
            assert_eq!(store.count_accounts().await.unwrap(), 2);
            assert_eq!(count(&db, "registration_decoys").await, 2);
        }

        an_expired_registration_is_removed_for_its_identity_alone(db) {
            let store = db.store().await;
            let mut tx = store.begin().await.unwrap();
            tx.insert_account(&account("old", "CID:001190123456")).await.unwrap();
            let mut fresh = account("fresh", "CID:079190000002");
            fresh.created_at = t0() + Duration::hours(30);
            tx.insert_account(&fresh).await.unwrap();
            let key = |k: &str| IdentityKey::from_stored(k.into());
            let cutoff = t0() + Duration::hours(1);
            assert_eq!(tx.delete_expired_registration_of(&key("CID:079190000002"), cutoff).await.unwrap(), None);
            assert_eq!(
                tx.delete_expired_registration_of(&key("CID:001190123456"), cutoff).await.unwrap(),
                Some(AccountId::new("old".into()))
            );
            tx.commit().await.unwrap();
            assert_eq!(store.count_accounts().await.unwrap(), 1);
        }
    }
}

mod check_constraints {
    use dinhdanh_store::testing::TestDb;
    use sqlx::AnyPool;

    use super::*;

    async fn pool(db: &TestDb) -> AnyPool {
        sqlx::any::install_default_drivers();
        AnyPool::connect(&db.url).await.unwrap()
    }

    /// Runs one statement outside the store, as a careless script would; the error's text when refused.
    async fn refused(pool: &AnyPool, sql: &str) -> Option<String> {
        sqlx::raw_sql(sql).execute(pool).await.err().map(|e| e.to_string())
    }

    on_both_backends! {
        values_outside_a_closed_set_are_refused_on_insert_and_update(db) {
            let store = db.store().await;
            let mut tx = store.begin().await.unwrap();
            tx.insert_account(&account("acc", "CID:001190123456")).await.unwrap();
            tx.commit().await.unwrap();
            let pool = pool(&db).await;
            let insert = |status: &str, level: i64| {
                format!(
                    "INSERT INTO accounts (id, identity_key, holder_kind, full_name, level, status, password_hash, \
                     created_at) VALUES ('b-{status}-{level}', 'CID:{status}{level}', 'citizen', 'X', {level}, '{status}', 'h', 0)"
                )
            };
            for (sql, check) in [
                (insert("frozen", 1), "accounts_status_check"),
                (insert("active", 3), "accounts_level_check"),
                ("UPDATE accounts SET status = 'frozen' WHERE id = 'acc'".to_owned(), "accounts_status_check"),
                ("UPDATE accounts SET holder_kind = 'company' WHERE id = 'acc'".to_owned(), "accounts_holder_kind_check"),
                (
                    "INSERT INTO organizations (id, code, name, kind, status, created_at, updated_at) \
                     VALUES ('o', 'O', 'O', 'bank', 'active', 0, 0)".to_owned(),
                    "organizations_kind_check",
                ),
            ] {
                let error = refused(&pool, &sql).await.unwrap_or_else(|| panic!("accepted: {sql}"));
                assert!(error.contains(check), "{sql}: {error}");
            }
            // What the code writes passes; nothing refused was written.
            assert!(refused(&pool, &insert("active", 2)).await.is_none());
            assert_eq!(store.account(&AccountId::new("acc".into())).await.unwrap().unwrap().status, AccountStatus::PendingActivation);
            assert_eq!(store.count_accounts().await.unwrap(), 2);
            pool.close().await;
        }

        a_set_of_words_takes_only_known_words_once_each(db) {
            let store = db.store().await;
            drop(store);
            let pool = pool(&db).await;
            sqlx::raw_sql(
                "INSERT INTO organizations (id, code, name, kind, status, created_at, updated_at) \
                 VALUES ('o', 'O', 'O', 'operator', 'active', 0, 0)",
            )
            .execute(&pool)
            .await
            .unwrap();
            let officer = |roles: &str| {
                format!(
                    "INSERT INTO officers (id, username, full_name, organization_id, roles, status, created_at, updated_at) \
                     VALUES ('{roles}', '{roles}', 'X', 'o', '{roles}', 'active', 0, 0)"
                )
            };
            // An empty set is the services' to refuse (an officer needs a role); the column takes it.
            for good in ["", "reviewer", "reviewer supervisor administrator", "administrator reviewer"] {
                assert_eq!(refused(&pool, &officer(good)).await, None, "{good:?}");
            }
            for bad in ["root", "reviewer root", "reviewer reviewer", "reviewers", "reviewer,supervisor"] {
                let error = refused(&pool, &officer(bad)).await.unwrap_or_else(|| panic!("accepted {bad:?}"));
                assert!(error.contains("officers_roles_check"), "{bad:?}: {error}");
            }
            let error = refused(&pool, "UPDATE officers SET roles = 'reviewer root' WHERE id = 'reviewer'").await;
            assert!(error.is_some_and(|e| e.contains("officers_roles_check")));
            pool.close().await;
        }

        an_upgrade_over_a_value_outside_the_set_stops_with_its_name(db) {
            let old = db.at_version(11).await;
            sqlx::raw_sql(
                "INSERT INTO accounts (id, identity_key, holder_kind, full_name, level, status, password_hash, \
                 created_at) VALUES ('a', 'CID:1', 'citizen', 'X', 1, 'frozen', 'h', 0)",
            )
            .execute(&old)
            .await
            .unwrap();
            old.close().await;
            let error = Store::connect(&db.url).await.err().expect("the upgrade is refused");
            let text = error.to_string();
            assert!(matches!(error, StoreError::Migration(_)), "{text}");
            assert!(text.contains("1 rows of accounts.status") && text.contains("pending_activation"), "{text}");
            // Nothing of migration 12 was applied: correcting the row lets the next start finish it.
            let old = db.at_version(11).await;
            sqlx::raw_sql("UPDATE accounts SET status = 'active' WHERE id = 'a'").execute(&old).await.unwrap();
            old.close().await;
            let store = db.store().await;
            assert_eq!(store.count_accounts().await.unwrap(), 1);
        }
    }
}

/// On PostgreSQL, tokens of one client are issued side by side (each transaction shares the client's row), and a
/// revocation, which holds the row exclusively, waits until they have committed. (SQLite has one writer at a time:
/// two issuing transactions cannot even be open together there.)
#[tokio::test]
async fn token_issuance_shares_the_client_row_and_revocation_waits_for_it() {
    use dinhdanh_domain::actor::OrganizationKind;

    let db = dinhdanh_store::testing::TestDb::postgres().await;
    let store = db.store().await;
    let mut tx = store.begin().await.unwrap();
    organization_with_client(&mut tx, OrganizationKind::RelyingParty).await;
    tx.commit().await.unwrap();

    let mut first = store.begin().await.unwrap();
    assert!(first.share_api_client("client").await.unwrap().is_some());
    // A second issuer gets the row while the first still holds it (with an exclusive lock it would wait forever).
    let mut second = store.begin().await.unwrap();
    let shared = tokio::time::timeout(std::time::Duration::from_secs(30), second.share_api_client("client")).await;
    assert!(shared.expect("a second issuer waited for the first").unwrap().is_some());
    // A revocation waits for both.
    let revoking = {
        let store = store.clone();
        tokio::spawn(async move {
            let mut tx = store.begin().await.unwrap();
            tx.lock_api_client("client").await.unwrap();
            tx.commit().await.unwrap();
        })
    };
    // Seen by what PostgreSQL says the revocation is doing, not by waiting a while: it waits on a row lock.
    sqlx::any::install_default_drivers();
    let observer = sqlx::AnyPool::connect(&db.url).await.unwrap();
    let waiting = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        loop {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
                 AND query LIKE 'UPDATE api_clients SET id = id%'",
            )
            .fetch_one(&observer)
            .await
            .unwrap();
            if n > 0 || revoking.is_finished() {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(waiting.is_ok(), "the revocation neither waited on the client's row nor finished");
    assert!(!revoking.is_finished(), "the revocation went ahead while tokens were being issued");
    observer.close().await;
    first.commit().await.unwrap();
    second.commit().await.unwrap();
    tokio::time::timeout(std::time::Duration::from_secs(30), revoking).await.expect("the revocation finished").unwrap();
}

on_both_backends! {
    transactions_abandoned_while_beginning_leave_no_connection_inside_one(db) {
        // A caller dropped while BEGIN is in flight (a client hanging up) must not leave a pooled connection inside
        // a transaction: on SQLite that transaction would hold the write lock and every later write would wait.
        let store = db.store().await;
        for i in 0..300u64 {
            let _ = tokio::time::timeout(std::time::Duration::from_micros(i % 50), store.begin()).await;
            if i % 7 == 0 {
                tokio::task::yield_now().await;
            }
        }
        // Every connection of the pool can still begin, write and commit.
        for n in 0..16 {
            let wrote = tokio::time::timeout(std::time::Duration::from_secs(30), async {
                let mut tx = store.begin().await?;
                tx.enqueue(message("probe"), t0()).await?;
                tx.commit().await
            })
            .await;
            assert!(matches!(wrote, Ok(Ok(()))), "write {n} after abandoned BEGINs: {wrote:?}");
        }
        assert_eq!(store.count_messages(OutboxStatus::Pending).await.unwrap(), 16);
    }
}

mod credential_cache {
    use std::collections::BTreeSet;

    use dinhdanh_domain::actor::{OrganizationKind, OrganizationStatus, Scope};
    use dinhdanh_store::testing::TestDb;

    use super::*;

    /// An active holder with one live session `hs-1`, and an operator organization whose client holds `at-1`.
    async fn credentials(store: &Store) -> AccountId {
        let mut tx = store.begin().await.unwrap();
        let mut holder = account("holder", "CID:001190123456");
        holder.status = AccountStatus::Active;
        tx.insert_account(&holder).await.unwrap();
        tx.insert_holder_session("hs-1", &holder.id, Level::One, false, t0(), t0() + Duration::hours(1)).await.unwrap();
        organization_with_client(&mut tx, OrganizationKind::Operator).await;
        let scopes = BTreeSet::from([Scope::AccountsStatus]);
        tx.insert_access_token("at-1", "client", &scopes, t0(), t0() + Duration::hours(1)).await.unwrap();
        tx.commit().await.unwrap();
        holder.id
    }

    async fn raw(db: &TestDb, sql: &str) {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        sqlx::query(sql).execute(&pool).await.unwrap();
        pool.close().await;
    }

    /// Another writer: on SQLite a second store on the same file (what another process is: it shares only the
    /// file and its counters' file); on PostgreSQL a store on another URL of the same database, so it shares no
    /// memory with the first and is heard only through `NOTIFY`, like another node.
    async fn other_node(db: &TestDb) -> Store {
        let url = match db.dialect {
            dinhdanh_store::Dialect::Sqlite => db.url.clone(),
            dinhdanh_store::Dialect::Postgres => format!("{}&application_name=other-node", db.url),
        };
        Store::connect(&url).await.unwrap()
    }

    /// Waits until `answer` says the cached credential is gone: at once on one node (the commit makes it so before
    /// it returns), within a notification's trip from another node on PostgreSQL.
    async fn until_refused<F, Fut>(mut answer: F) -> bool
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        for _ in 0..3000 {
            if answer().await {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        false
    }

    on_both_backends! {
        a_checked_credential_is_answered_from_memory_until_a_commit_changes_it(db) {
            let store = db.store().await;
            let holder = credentials(&store).await;
            assert!(store.holder_session_owner("hs-1", t0()).await.unwrap().is_some());
            assert_eq!(store.access_token_owner("at-1", t0()).await.unwrap().unwrap().client_status, "active");
            // Behind the store's back (by hand, in SQL: no transaction of the store marks it), the rows change; the
            // answers come from memory, so they do not.
            raw(&db, "UPDATE holder_sessions SET revoked_at = 1 WHERE token_hash = 'hs-1'").await;
            raw(&db, "DELETE FROM access_tokens WHERE token_hash = 'at-1'").await;
            assert!(store.holder_session_owner("hs-1", t0()).await.unwrap().is_some(), "answered from the cache");
            assert!(store.access_token_owner("at-1", t0()).await.unwrap().is_some(), "answered from the cache");
            // Expiry is checked on every hit.
            assert!(store.holder_session_owner("hs-1", t0() + Duration::hours(1)).await.unwrap().is_none());
            // A committed change of the holder's sessions (what a lock does) ends the cached session, and only it.
            let mut tx = store.begin().await.unwrap();
            tx.revoke_holder_sessions(&holder, t0()).await.unwrap();
            tx.commit().await.unwrap();
            assert!(store.holder_session_owner("hs-1", t0()).await.unwrap().is_none(), "the very next check");
            assert!(store.access_token_owner("at-1", t0()).await.unwrap().is_some(), "tokens are another kind");
            let mut tx = store.begin().await.unwrap();
            tx.revoke_api_client("client", t0()).await.unwrap();
            tx.commit().await.unwrap();
            assert!(store.access_token_owner("at-1", t0()).await.unwrap().is_none(), "read again: the row is gone");
        }

        a_transaction_rolled_back_or_read_only_leaves_the_cache(db) {
            let store = db.store().await;
            let holder = credentials(&store).await;
            assert!(store.holder_session_owner("hs-1", t0()).await.unwrap().is_some());
            raw(&db, "UPDATE holder_sessions SET revoked_at = 1 WHERE token_hash = 'hs-1'").await;
            let mut tx = store.begin().await.unwrap();
            tx.revoke_holder_sessions(&holder, t0()).await.unwrap();
            drop(tx);
            let mut tx = store.begin().await.unwrap();
            tx.enqueue(message("probe"), t0()).await.unwrap();
            tx.commit().await.unwrap();
            assert!(store.holder_session_owner("hs-1", t0()).await.unwrap().is_some(), "nothing committed changed it");
        }

        another_writer_s_commit_ends_the_cached_answers(db) {
            let store = db.store().await;
            let holder = credentials(&store).await;
            let other = other_node(&db).await;
            assert!(store.holder_session_owner("hs-1", t0()).await.unwrap().is_some());
            assert_eq!(store.access_token_owner("at-1", t0()).await.unwrap().unwrap().organization_status,
                OrganizationStatus::Active);

            let mut tx = other.begin().await.unwrap();
            tx.revoke_holder_sessions(&holder, t0()).await.unwrap();
            tx.commit().await.unwrap();
            assert!(until_refused(|| async { store.holder_session_owner("hs-1", t0()).await.unwrap().is_none() }).await,
                "the other writer's lock reached this store");

            let mut tx = other.begin().await.unwrap();
            tx.update_organization(&dinhdanh_domain::organization::Organization {
                id: "org".into(),
                code: "ORG".into(),
                name: "Tổ chức".into(),
                kind: OrganizationKind::Operator,
                parent_id: None,
                status: OrganizationStatus::Suspended,
                contact_email: None,
                contact_phone: None,
                created_at: t0(),
                updated_at: t0(),
            })
            .await
            .unwrap();
            tx.commit().await.unwrap();
            let suspended = || async {
                store.access_token_owner("at-1", t0()).await.unwrap().unwrap().organization_status
                    == OrganizationStatus::Suspended
            };
            assert!(until_refused(suspended).await, "the suspension reached this store");
            other.close().await;
        }

        // One test, not two, and the first rows written by hand: on PostgreSQL every store listening on the
        // database hears every `NOTIFY`, its own commits' too, when it arrives, so a test replacing keys beside
        // this one, or the echo of this store's own replacement, would rightly drop the rows it cached.
        the_signing_keys_are_answered_from_memory_until_a_commit_of_any_writer_replaces_them(db) {
            let store = db.store().await;
            raw(&db, "INSERT INTO oidc_keys (kid, state, created_at, private_key) \
                      VALUES ('k1', 'current', 1, 'v1:k1'), ('k2', 'next', 2, 'v1:k2')").await;
            let first = store.oidc_keys().await.unwrap();
            assert_eq!(kids(&first), ["k1", "k2"]);
            let hits = store.credential_cache_hits();
            let again = store.oidc_keys().await.unwrap();
            assert!(std::sync::Arc::ptr_eq(&first, &again), "the very rows, so what was derived from them holds");
            assert_eq!(store.credential_cache_hits(), hits + 1);

            // Behind the store's back the rows go; the answer comes from memory, so it does not change.
            raw(&db, "DELETE FROM oidc_keys WHERE kid = 'k2'").await;
            assert_eq!(kids(&store.oidc_keys().await.unwrap()), ["k1", "k2"], "answered from the cache");
            // A transaction that holds the keys row without replacing the keys, or one rolled back, is no change.
            let mut tx = store.begin().await.unwrap();
            tx.hold_oidc_keys().await.unwrap();
            tx.commit().await.unwrap();
            let mut tx = store.begin().await.unwrap();
            tx.hold_oidc_keys().await.unwrap();
            tx.replace_oidc_keys(&[]).await.unwrap();
            drop(tx);
            assert!(std::sync::Arc::ptr_eq(&first, &store.oidc_keys().await.unwrap()));
            // Nor are the other kinds' commits (a lock ending a holder's sessions).
            let holder = credentials(&store).await;
            let mut tx = store.begin().await.unwrap();
            tx.revoke_holder_sessions(&holder, t0()).await.unwrap();
            tx.commit().await.unwrap();
            assert!(std::sync::Arc::ptr_eq(&first, &store.oidc_keys().await.unwrap()));

            // A committed replacement (a rotation) is read at once.
            replace_keys(&store, &["k2", "k3", "k4"]).await;
            assert_eq!(kids(&store.oidc_keys().await.unwrap()), ["k2", "k3", "k4"], "the very next read");

            // Another writer's rotation (another process, another node) reaches it too.
            let other = other_node(&db).await;
            replace_keys(&other, &["k3", "k4", "k5"]).await;
            if db.dialect == dinhdanh_store::Dialect::Sqlite {
                // Another process's commit bumps the shared counters before it returns.
                assert_eq!(kids(&store.oidc_keys().await.unwrap()), ["k3", "k4", "k5"], "at once");
            }
            let rotated = || async { kids(&store.oidc_keys().await.unwrap()) == ["k3", "k4", "k5"] };
            assert!(until_refused(rotated).await, "the other writer's rotation reached this store");
            other.close().await;
        }
    }

    /// Stands for a key set: the store neither opens nor checks the keys, so any text will do.
    async fn replace_keys(store: &Store, kids: &[&str]) {
        use dinhdanh_oidc::keys::KeyState;
        let rows: Vec<dinhdanh_store::OidcKeyRow> = kids
            .iter()
            .enumerate()
            .map(|(i, kid)| dinhdanh_store::OidcKeyRow {
                kid: (*kid).to_owned(),
                state: [KeyState::Current, KeyState::Next].get(i).copied().unwrap_or(KeyState::Retired),
                created_at: t0() + Duration::seconds(i as i64),
                activated_at: None,
                retire_after: None,
                private_key: format!("v1:sealed-{kid}"),
            })
            .collect();
        let mut tx = store.begin().await.unwrap();
        tx.hold_oidc_keys().await.unwrap();
        tx.replace_oidc_keys(&rows).await.unwrap();
        tx.commit().await.unwrap();
    }

    fn kids(rows: &[dinhdanh_store::OidcKeyRow]) -> Vec<&str> {
        rows.iter().map(|r| r.kid.as_str()).collect()
    }

    /// When a relying party asks about its token: a minute into its grant.
    fn now() -> DateTime<Utc> {
        t0() + Duration::minutes(1)
    }

    /// Whether no other writer can be heard: on PostgreSQL every store hears every `NOTIFY` on the database, so
    /// another test's commit (a lock, a status change) may drop an entry between two asks of this one.
    fn quiet(db: &TestDb) -> bool {
        db.dialect == dinhdanh_store::Dialect::Sqlite
    }

    /// An answer, and whether it came from memory.
    async fn asked<T>(store: &Store, ask: impl std::future::Future<Output = T>) -> (T, bool) {
        let hits = store.credential_cache_hits();
        let answer = ask.await;
        (answer, store.credential_cache_hits() > hits)
    }

    /// An active holder `id` (whose identification number ends in `n`) with no session.
    async fn holder(store: &Store, id: &str, n: u8) -> AccountId {
        let mut holder = account(id, &format!("CID:00119012345{n}"));
        holder.status = AccountStatus::Active;
        let mut tx = store.begin().await.unwrap();
        tx.insert_account(&holder).await.unwrap();
        tx.commit().await.unwrap();
        holder.id
    }

    /// A grant `g-{n}` of `holder` to `client`, made at `t0`, and its access token `jti-{n}`, good for an hour.
    async fn grant(store: &Store, holder: &AccountId, n: &str) {
        use dinhdanh_oidc::scope::{Claim, Scope as OidcScope};
        let grant = dinhdanh_oidc::tokens::Grant {
            id: format!("g-{n}"),
            client_id: "client".into(),
            account_id: holder.clone(),
            scopes: BTreeSet::from([OidcScope::OpenId, OidcScope::Profile]),
            claims: BTreeSet::from([Claim::Name]),
            id_token_claims: BTreeSet::new(),
            acr: Level::One,
            amr: vec!["pwd".into(), "otp".into()],
            auth_time: t0(),
        };
        let mut tx = store.begin().await.unwrap();
        tx.insert_oidc_grant(&grant, "hs-1", t0()).await.unwrap();
        tx.insert_oidc_access_token(&format!("jti-{n}"), &grant.id, "openid profile", t0() + Duration::hours(1))
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }

    async fn live(store: &Store, jti: &str, at: DateTime<Utc>) -> bool {
        store.oidc_access_token_grant(jti, at).await.unwrap().is_some()
    }

    /// Asks about `jti` until it is answered live from memory (on PostgreSQL another test's commit may drop the
    /// entry just made).
    async fn cached_live(store: &Store, jti: &str) {
        for _ in 0..100 {
            let (answer, from_memory) = asked(store, live(store, jti, now())).await;
            assert!(answer, "{jti} is live");
            if from_memory {
                return;
            }
        }
        panic!("{jti} was never answered from memory");
    }

    /// Makes `jti` dead behind the store's back (`kill`, raw SQL that no transaction of the store marks) and
    /// checks that the next answer still comes from memory, live. On PostgreSQL a commit of another test heard
    /// in between is told apart by the hits, answered dead from the database, and the row put back to try again.
    async fn stale_answer_is_served(db: &TestDb, store: &Store, jti: &str, kill: &str, revive: &str) {
        for _ in 0..20 {
            cached_live(store, jti).await;
            raw(db, kill).await;
            let (answer, from_memory) = asked(store, live(store, jti, now())).await;
            if from_memory {
                assert!(answer, "answered from the cache: the change behind the store's back is not seen");
                return;
            }
            assert!(!quiet(db), "nothing but a marked commit drops an entry on SQLite");
            assert!(!answer, "read from the database, which says dead");
            raw(db, revive).await;
        }
        panic!("{jti} was never answered from memory after a change behind the store's back");
    }

    fn registration(redirect: &str) -> dinhdanh_oidc::client::ClientRegistration {
        dinhdanh_oidc::client::ClientRegistration {
            client_id: "client".into(),
            redirect_uris: vec![redirect.into()],
            post_logout_redirect_uris: Vec::new(),
            scopes: BTreeSet::from([dinhdanh_oidc::scope::Scope::OpenId]),
            claims: BTreeSet::new(),
            subject_type: dinhdanh_oidc::subject::SubjectType::Pairwise,
            sector_identifier: None,
            require_pushed_authorization_requests: false,
            token_endpoint_auth_method: dinhdanh_domain::client::ClientAuthMethod::ClientSecret,
        }
    }

    async fn redirect_of(store: &Store) -> (String, bool) {
        let (found, from_memory) = asked(store, store.oidc_client("client")).await;
        (found.unwrap().expect("a registration").redirect_uris[0].clone(), from_memory)
    }

    /// Writes the registration behind the store's back.
    async fn raw_registration(db: &TestDb, redirect: &str) {
        let json = serde_json::to_string(&registration(redirect)).unwrap();
        raw(db, &format!("UPDATE oidc_clients SET registration = '{json}' WHERE client_id = 'client'")).await;
    }

    on_both_backends! {
        a_live_access_token_is_answered_from_memory_until_a_marked_commit(db) {
            let store = db.store().await;
            let holder = credentials(&store).await;
            grant(&store, &holder, "1").await;
            grant(&store, &holder, "2").await;

            // An unknown jti is not remembered as unknown: once its row exists, it is live.
            assert!(!live(&store, "jti-x", now()).await);
            let until = (t0() + Duration::hours(1)).timestamp_millis();
            raw(&db, &format!("INSERT INTO oidc_access_tokens (jti, grant_id, scopes, expires_at) \
                               VALUES ('jti-x', 'g-1', 'openid', {until})")).await;
            assert!(live(&store, "jti-x", now()).await, "no negative answer was kept");

            // Behind the store's back (by hand, in SQL) the token is revoked; the answer comes from memory.
            stale_answer_is_served(&db, &store, "jti-1",
                "UPDATE oidc_access_tokens SET revoked_at = 1 WHERE jti = 'jti-1'",
                "UPDATE oidc_access_tokens SET revoked_at = NULL WHERE jti = 'jti-1'").await;
            // Expiry is checked on every hit.
            assert!(!live(&store, "jti-1", t0() + Duration::hours(1)).await);
            // A commit of another kind (a holder's sessions ended), or one rolled back, is no change of it.
            let mut tx = store.begin().await.unwrap();
            tx.revoke_holder_sessions(&holder, now()).await.unwrap();
            tx.commit().await.unwrap();
            let mut tx = store.begin().await.unwrap();
            tx.revoke_oidc_access_token("jti-2", now()).await.unwrap();
            drop(tx);
            let (answer, from_memory) = asked(&store, live(&store, "jti-1", now())).await;
            if quiet(&db) {
                assert!(answer && from_memory, "still answered from the cache");
            }
            // A marked commit (another token's revocation) drops every live answer kept: read again, it is dead.
            let mut tx = store.begin().await.unwrap();
            tx.revoke_oidc_access_token("jti-2", now()).await.unwrap();
            tx.commit().await.unwrap();
            assert!(!live(&store, "jti-1", now()).await, "the very next check reads the revocation made by hand");
            assert!(!live(&store, "jti-2", now()).await);
            assert!(live(&store, "jti-x", now()).await, "the others are read again, and stay live");
        }

        each_change_that_ends_a_live_token_drops_it_at_its_commit(db) {
            use dinhdanh_domain::lock::{Ground, Lock, Party};
            let store = db.store().await;
            credentials(&store).await;
            let mut holders = Vec::new();
            for n in 1..=5u8 {
                let id = holder(&store, &format!("h{n}"), n).await;
                grant(&store, &id, &n.to_string()).await;
                holders.push(id);
            }
            let lock = |account: &AccountId| Lock {
                id: format!("lock-{account}"),
                account_id: account.clone(),
                ground: Ground::HolderRequest,
                placed_by: Party::Holder { account_id: account.clone() },
                legal_basis: None,
                reference: None,
                reason: "mất điện thoại".into(),
                effective_at: now(),
                ends_at: None,
                request_id: None,
                lifted: None,
            };
            for (n, account) in holders.iter().enumerate() {
                let jti = format!("jti-{}", n + 1);
                cached_live(&store, &jti).await;
                let mut tx = store.begin().await.unwrap();
                let what = match n {
                    0 => { tx.revoke_oidc_grant("g-1", now()).await.unwrap(); "a revoked grant" }
                    1 => { tx.revoke_oidc_access_token(&jti, now()).await.unwrap(); "a revoked access token" }
                    2 => {
                        assert_eq!(tx.revoke_oidc_grants_of(account, "client", now()).await.unwrap(), 1);
                        "a withdrawn consent"
                    }
                    3 => { tx.insert_lock(&lock(account)).await.unwrap(); "a lock" }
                    _ => {
                        let mut changed = tx.account(account).await.unwrap().unwrap();
                        changed.status = AccountStatus::PendingActivation;
                        tx.update_account_status(&changed).await.unwrap();
                        "an account no longer active"
                    }
                };
                tx.commit().await.unwrap();
                assert!(!live(&store, &jti, now()).await, "{what}: refused by the very next check");
                for later in n + 2..=5 {
                    let jti = format!("jti-{later}");
                    assert!(live(&store, &jti, now()).await, "{what}: other holders' tokens stay live");
                }
            }
        }

        a_lock_still_to_take_effect_ends_the_answer_kept_when_it_does(db) {
            use dinhdanh_domain::lock::{Ground, Lock, Party};
            let store = db.store().await;
            let holder = credentials(&store).await;
            grant(&store, &holder, "1").await;
            // Stored before the token is asked about, taking effect ten seconds later (a lock whose node's clock
            // runs ahead): no commit comes when it takes effect.
            let mut tx = store.begin().await.unwrap();
            tx.insert_lock(&Lock {
                id: "later".into(),
                account_id: holder.clone(),
                ground: Ground::HolderRequest,
                placed_by: Party::Holder { account_id: holder.clone() },
                legal_basis: None,
                reference: None,
                reason: "mất điện thoại".into(),
                effective_at: now() + Duration::seconds(10),
                ends_at: None,
                request_id: None,
                lifted: None,
            })
            .await
            .unwrap();
            tx.commit().await.unwrap();
            cached_live(&store, "jti-1").await;
            let (answer, from_memory) = asked(&store, live(&store, "jti-1", now() + Duration::seconds(9))).await;
            assert!(answer);
            if quiet(&db) {
                assert!(from_memory);
            }
            assert!(!live(&store, "jti-1", now() + Duration::seconds(10)).await, "dead from the lock's effect");
        }

        another_writer_s_lock_ends_a_live_token_kept_in_memory(db) {
            use dinhdanh_domain::lock::{Ground, Lock, Party};
            let store = db.store().await;
            let holder = credentials(&store).await;
            grant(&store, &holder, "1").await;
            let other = other_node(&db).await;
            cached_live(&store, "jti-1").await;
            let mut tx = other.begin().await.unwrap();
            tx.insert_lock(&Lock {
                id: "elsewhere".into(),
                account_id: holder.clone(),
                ground: Ground::HolderRequest,
                placed_by: Party::Holder { account_id: holder.clone() },
                legal_basis: None,
                reference: None,
                reason: "mất điện thoại".into(),
                effective_at: now(),
                ends_at: None,
                request_id: None,
                lifted: None,
            })
            .await
            .unwrap();
            tx.commit().await.unwrap();
            if quiet(&db) {
                // Another process's commit bumps the shared counters before it returns.
                assert!(!live(&store, "jti-1", now()).await, "at once");
            }
            assert!(until_refused(|| async { !live(&store, "jti-1", now()).await }).await,
                "the other writer's lock reached this store");
            other.close().await;
        }

        a_relying_party_s_registration_is_answered_from_memory_until_a_commit_changes_it(db) {
            let store = db.store().await;
            credentials(&store).await;
            // A client without a registration is not remembered as one.
            assert!(store.oidc_client("client").await.unwrap().is_none());
            let mut tx = store.begin().await.unwrap();
            tx.upsert_oidc_client(&registration("https://a.example/cb"), t0()).await.unwrap();
            tx.commit().await.unwrap();
            // Changed behind the store's back, it is answered from memory as last read (on PostgreSQL, if another
            // test's commit dropped it in between, it was read again: then it is changed again).
            let mut seen = redirect_of(&store).await.0;
            assert_eq!(seen, "https://a.example/cb");
            let mut proved = false;
            for n in 0..20 {
                let behind = format!("https://b{n}.example/cb");
                raw_registration(&db, &behind).await;
                let (redirect, from_memory) = redirect_of(&store).await;
                if from_memory {
                    assert_eq!(redirect, seen, "answered from the cache");
                    proved = true;
                    break;
                }
                assert!(!quiet(&db), "nothing but a marked commit drops an entry on SQLite");
                assert_eq!(redirect, behind);
                seen = redirect;
            }
            assert!(proved, "the registration was never answered from memory");
            // Saved through the store: the very next read has it.
            let mut tx = store.begin().await.unwrap();
            tx.upsert_oidc_client(&registration("https://c.example/cb"), t0()).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(redirect_of(&store).await.0, "https://c.example/cb");
            // Whatever drops the client's own entry drops it too (the API client revoked).
            raw_registration(&db, "https://d.example/cb").await;
            let (redirect, from_memory) = redirect_of(&store).await;
            if quiet(&db) {
                assert_eq!((redirect.as_str(), from_memory), ("https://c.example/cb", true));
            }
            let mut tx = store.begin().await.unwrap();
            tx.revoke_api_client("client", t0()).await.unwrap();
            tx.commit().await.unwrap();
            assert_eq!(redirect_of(&store).await.0, "https://d.example/cb");
        }
    }
}

mod group_commit {
    use std::sync::Mutex;

    use dinhdanh_store::{GroupCommit, GroupError, GroupWork, Tx};
    use tokio::sync::Semaphore;

    use super::*;

    /// Enqueues one outbox message per input; the first batch waits at `gate`; a batch holding "poison" fails
    /// after writing. Records the size of every batch it applied.
    struct Messages {
        gate: Semaphore,
        first: std::sync::atomic::AtomicBool,
        entered: tokio::sync::Notify,
        sizes: Mutex<Vec<usize>>,
    }

    impl GroupWork for Messages {
        type Input = &'static str;
        type Output = usize;

        async fn apply(&self, tx: &mut Tx, inputs: &[&'static str]) -> Result<Vec<usize>, StoreError> {
            if !self.first.swap(true, std::sync::atomic::Ordering::SeqCst) {
                self.entered.notify_one();
                let _ = self.gate.acquire().await.unwrap();
            }
            self.sizes.lock().unwrap().push(inputs.len());
            for input in inputs {
                tx.enqueue(message(input), t0()).await?;
            }
            if inputs.contains(&"poison") {
                return Err(StoreError::Corrupt("poison".into()));
            }
            Ok((0..inputs.len()).collect())
        }
    }

    on_both_backends! {
        inputs_that_wait_together_commit_together_all_or_nothing(db) {
            let store = db.store().await;
            let work = Messages {
                gate: Semaphore::new(0),
                first: Default::default(),
                entered: Default::default(),
                sizes: Mutex::new(Vec::new()),
            };
            let group = GroupCommit::new(store.clone(), work, 5);
            // The first input's batch is held at the gate while nine more are queued behind it.
            let first = tokio::spawn({
                let group = group.clone();
                async move { group.submit("first").await }
            });
            // Once the writer is inside the first batch (holding its transaction), nine more are queued.
            group.work().entered.notified().await;
            let queued: Vec<_> = (0..9).map(|_| group.submit("next")).collect();
            // join! polls join_all first, which polls every submission once (each queues its input), and only then
            // the branch that opens the gate.
            let gate_opened = async { group.work().gate.add_permits(1) };
            let (answers, ()) = tokio::join!(futures_util::future::join_all(queued), gate_opened);
            assert_eq!(first.await.unwrap().unwrap(), 0);
            // Batches of at most 5: the nine waiting inputs went in two transactions, each answered in order.
            let positions: Vec<usize> = answers.into_iter().map(Result::unwrap).collect();
            assert_eq!(positions, vec![0, 1, 2, 3, 4, 0, 1, 2, 3]);
            assert_eq!(*group.work().sizes.lock().unwrap(), vec![1, 5, 4]);
            assert_eq!(store.count_messages(OutboxStatus::Pending).await.unwrap(), 10);

            // A batch that fails is rolled back whole, and every caller in it hears the failure (the writer may
            // have taken "a" alone before the others were queued: whatever the batches, the count tells).
            let answers = futures_util::future::join_all(["a", "poison", "b"].map(|i| group.submit(i))).await;
            assert!(matches!(answers[1], Err(GroupError::Batch(_))), "{answers:?}");
            let committed = answers.iter().filter(|answer| answer.is_ok()).count() as i64;
            assert!(committed < 3);
            assert_eq!(store.count_messages(OutboxStatus::Pending).await.unwrap(), 10 + committed,
                "nothing of the failed batch was kept");
            assert_eq!(group.submit("after").await.unwrap(), 0, "the writer goes on after a failed batch");
        }
    }
}
