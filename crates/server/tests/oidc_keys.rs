//! The OpenID Connect provider's signing keys as the server keeps them, on SQLite and PostgreSQL: sealed at rest
//! under the configured seal key (never in the clear, bound to their `kid`), keys from before sealing sealed at
//! start, a node with the wrong seal key refused without a change; rotated on schedule and pruned, once however
//! many nodes check, on the manual clock.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use dinhdanh_oidc::keys::KeySet;
use dinhdanh_server::AppState;
use dinhdanh_server::clock::Clock;
use dinhdanh_server::problem::ApiError;
use dinhdanh_server::sealing::SealingKey;
use dinhdanh_server::service::oidc::keys::{ScheduledChange, change_keys_when_due, rotate_and_prune_when_due};
use dinhdanh_server::service::oidc::{ensure_keys, key_set, rotate_keys};
use dinhdanh_store::{OidcKeyRow, Store, on_both_backends};
use serde_json::Value;

mod support;
use support::TestServer;

async fn server_with_seal_key(db: &dinhdanh_store::testing::TestDb, seal: &SealingKey) -> TestServer {
    let config = dinhdanh_server::ServerConfig { oidc_seal_key: Arc::new(seal.clone()), ..support::relaxed_config() };
    TestServer::start_with(db, config).await
}

/// The message of a service error (an internal one's is the operator's message).
fn message(error: ApiError) -> String {
    match error {
        ApiError::Internal(message) => message,
        other => format!("{other:?}"),
    }
}

async fn jwks_kids(server: &TestServer) -> Vec<String> {
    let jwks: Value = server.http.get(server.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

/// The key rows as stored, read by a store of their own (not from a cache).
async fn stored_rows(db: &dinhdanh_store::testing::TestDb) -> Vec<OidcKeyRow> {
    let store = db.store().await;
    let rows = store.oidc_keys().await.unwrap().as_ref().clone();
    store.close().await;
    rows
}

/// Writes `rows` as the key set, as a version before sealing (or a person) would have.
async fn write_rows(store: &Store, rows: &[OidcKeyRow]) {
    let mut tx = store.begin().await.unwrap();
    tx.hold_oidc_keys().await.unwrap();
    tx.replace_oidc_keys(rows).await.unwrap();
    tx.commit().await.unwrap();
}

/// A key set's rows as dinhdanh stored them before keys were sealed: base64 of the PKCS#8 DER.
fn plaintext_rows(set: &KeySet) -> Vec<OidcKeyRow> {
    set.to_stored()
        .into_iter()
        .map(|key| OidcKeyRow {
            kid: key.kid,
            state: key.state,
            created_at: key.created_at,
            activated_at: key.activated_at,
            retire_after: key.retire_after,
            private_key: STANDARD.encode(&key.private_key),
        })
        .collect()
}

on_both_backends! {
    private_keys_are_sealed_at_rest_and_open_only_with_the_configured_key(db) {
        let seal = SealingKey::generate();
        let server = server_with_seal_key(&db, &seal).await;
        // The first use makes the deployment's first key set.
        let mut kids = jwks_kids(&server).await;
        let rows = stored_rows(&db).await;
        let mut stored: Vec<String> = rows.iter().map(|r| r.kid.clone()).collect();
        kids.sort();
        stored.sort();
        assert_eq!((kids.len(), &kids), (2, &stored));
        let set = key_set(&server.state, server.clock.now()).await.unwrap();
        for (row, key) in rows.iter().zip(set.to_stored()) {
            assert!(row.private_key.starts_with("v1:"), "sealed: {row:?}");
            assert!(!row.private_key.contains(&STANDARD.encode(&key.private_key)), "no DER in the clear");
            let opened = seal.open(&row.private_key, format!("oidc_keys:{}", row.kid).as_bytes()).unwrap();
            assert_eq!(opened, key.private_key, "bound to oidc_keys: + its kid");
        }
        assert!(SealingKey::generate().open(&rows[0].private_key, format!("oidc_keys:{}", rows[0].kid).as_bytes()).is_err());
    }

    keys_stored_in_the_clear_are_sealed_at_start_in_one_audited_transaction(db) {
        let store = db.store().await;
        let seal = SealingKey::generate();
        let set = KeySet::generate(chrono::Utc::now());
        write_rows(&store, &plaintext_rows(&set)).await;

        let loaded = ensure_keys(&store, &seal, chrono::Utc::now()).await.unwrap();
        assert_eq!(loaded.jwks(), set.jwks(), "the same keys, now sealed");
        let rows = stored_rows(&db).await;
        assert!(rows.iter().all(|r| r.private_key.starts_with("v1:")), "{rows:?}");
        let sealed = store.recent_audit(Some("oidc.keys.sealed"), 5).await.unwrap();
        assert_eq!(sealed.len(), 1);
        assert_eq!((sealed[0].actor.as_str(), sealed[0].detail["sealed"].as_u64()), ("system", Some(2)));
        assert!(store.recent_audit(Some("oidc.keys.generate"), 5).await.unwrap().is_empty(), "no new key set");

        // The next start finds nothing to seal and leaves the rows as they are.
        ensure_keys(&store, &seal, chrono::Utc::now()).await.unwrap();
        assert_eq!(stored_rows(&db).await, rows);
        assert_eq!(store.recent_audit(Some("oidc.keys.sealed"), 5).await.unwrap().len(), 1);
    }

    a_node_with_the_wrong_seal_key_is_refused_and_changes_nothing(db) {
        let store = db.store().await;
        let seal = SealingKey::generate();
        let set = ensure_keys(&store, &seal, chrono::Utc::now()).await.unwrap();
        let rows = stored_rows(&db).await;
        let audited = store.recent_audit(None, 100).await.unwrap().len();

        let message = message(ensure_keys(&store, &SealingKey::generate(), chrono::Utc::now()).await.err().unwrap());
        assert!(message.contains("does not open with the configured OpenID Connect seal key"), "{message}");
        assert!(message.contains("[oidc] key_seal_file") && message.contains("DINHDANH_OIDC_SEAL_KEY"), "{message}");
        assert_eq!(stored_rows(&db).await, rows, "no new key set over keys it cannot read");
        assert_eq!(store.recent_audit(None, 100).await.unwrap().len(), audited);

        // Nor does a server with that key sign anything: its key endpoints answer 500, with nothing leaked.
        let server = server_with_seal_key(&db, &SealingKey::generate()).await;
        let response = server.http.get(server.url("/oauth/jwks")).send().await.unwrap();
        assert_eq!(response.status(), 500);
        assert!(!response.text().await.unwrap().contains("v1:"));
        assert_eq!(ensure_keys(&store, &seal, chrono::Utc::now()).await.unwrap().jwks(), set.jwks());
    }

    a_sealed_key_copied_onto_another_row_does_not_open(db) {
        let store = db.store().await;
        let seal = SealingKey::generate();
        ensure_keys(&store, &seal, chrono::Utc::now()).await.unwrap();
        let mut rows = stored_rows(&db).await;
        let (first, second) = (rows[0].private_key.clone(), rows[1].private_key.clone());
        rows[0].private_key = second;
        rows[1].private_key = first;
        write_rows(&store, &rows).await;
        let message = message(ensure_keys(&store, &seal, chrono::Utc::now()).await.err().unwrap());
        assert!(message.contains(&format!("the signing key {} does not open", rows[0].kid)), "{message}");
    }
}

/// The longest a token signed by a key lives, plus the grace: how long a retired key stays published.
fn retire_period(server: &TestServer) -> Duration {
    server.state.oidc.lifetimes.max_signed() + dinhdanh_oidc::keys::RETIRE_GRACE
}

async fn scheduled(state: &AppState) -> ScheduledChange {
    rotate_and_prune_when_due(state).await.unwrap()
}

on_both_backends! {
    the_current_key_rotates_once_it_has_signed_for_the_interval_and_retired_keys_are_pruned_when_their_time_is_up(db) {
        let config = dinhdanh_server::ServerConfig { oidc_rotate_every: Some(Duration::days(90)), ..support::relaxed_config() };
        let server = TestServer::start_with(&db, config).await;
        let first = key_set(&server.state, server.clock.now()).await.unwrap();
        assert_eq!(scheduled(&server.state).await, ScheduledChange::default(), "a new key set");

        server.clock.advance(Duration::days(90) - Duration::seconds(1));
        assert_eq!(scheduled(&server.state).await, ScheduledChange::default(), "not yet");
        assert!(server.store.recent_audit(Some("oidc.keys.rotate"), 5).await.unwrap().is_empty());

        server.clock.advance(Duration::seconds(1));
        let change = scheduled(&server.state).await;
        let rotation = change.rotation.clone().expect("due after 90 days");
        assert_eq!((rotation.retired.as_str(), rotation.current.as_str()), (first.current_kid(), first.next_kid()));
        assert!(change.pruned.is_empty());
        let signing = key_set(&server.state, server.clock.now()).await.unwrap();
        assert_eq!(signing.current_kid(), rotation.current, "the node signs with the new key at once");
        let audit = server.store.recent_audit(Some("oidc.keys.rotate"), 5).await.unwrap();
        assert_eq!(audit.len(), 1);
        assert_eq!((audit[0].actor.as_str(), audit[0].at), ("system", server.clock.now()));
        assert_eq!(audit[0].detail["scheduled"], true);
        assert_eq!(audit[0].detail["current"], rotation.current.as_str());
        assert_eq!(scheduled(&server.state).await, ScheduledChange::default(), "once");

        // The retired key is published until its last token has expired, then pruned, without a rotation.
        server.clock.advance(retire_period(&server) - Duration::seconds(1));
        assert_eq!(scheduled(&server.state).await, ScheduledChange::default());
        assert_eq!(server.store.oidc_keys().await.unwrap().len(), 3);
        server.clock.advance(Duration::seconds(1));
        let change = scheduled(&server.state).await;
        assert_eq!(change, ScheduledChange { rotation: None, pruned: vec![rotation.retired.clone()] });
        assert_eq!(jwks_kids(&server).await, [rotation.current.clone(), rotation.next.clone()]);
        let pruned = server.store.recent_audit(Some("oidc.keys.prune"), 5).await.unwrap();
        assert_eq!(pruned.len(), 1);
        assert_eq!(pruned[0].detail["pruned"], serde_json::json!([rotation.retired]));
        assert_eq!(server.store.recent_audit(Some("oidc.keys.rotate"), 5).await.unwrap().len(), 1);

        // The next rotation counts from when the new key became current.
        server.clock.advance(Duration::days(89));
        assert_eq!(scheduled(&server.state).await, ScheduledChange::default());
        server.clock.advance(Duration::days(1));
        assert_eq!(scheduled(&server.state).await.rotation.map(|r| r.retired), Some(rotation.current));
    }

    with_no_interval_keys_never_rotate_on_their_own_but_retired_ones_are_still_pruned(db) {
        let config = dinhdanh_server::ServerConfig { oidc_rotate_every: None, ..support::relaxed_config() };
        let server = TestServer::start_with(&db, config).await;
        key_set(&server.state, server.clock.now()).await.unwrap();
        server.clock.advance(Duration::days(3650));
        assert_eq!(scheduled(&server.state).await, ScheduledChange::default());
        let seal = server.state.config.oidc_seal_key.clone();
        let (rotation, _) = rotate_keys(&server.store, &seal, server.clock.now()).await.unwrap();
        server.clock.advance(retire_period(&server));
        assert_eq!(scheduled(&server.state).await, ScheduledChange { rotation: None, pruned: vec![rotation.retired] });
    }

    nodes_checking_at_the_same_moment_rotate_once(db) {
        let server = TestServer::start(&db).await;
        key_set(&server.state, server.clock.now()).await.unwrap();
        // Two more nodes: stores of their own on the same database, the same configuration and clock.
        let mut nodes = Vec::new();
        for _ in 0..2 {
            let store = db.store().await;
            let registry = Arc::new(dinhdanh_registry::StoreRegistry::new(store.clone()));
            let config = server.state.config.as_ref().clone();
            nodes.push(AppState::new(store, registry, Arc::new(server.clock.clone()), config));
        }
        server.clock.advance(Duration::days(90));
        // All three past the look at the keys in memory (each would find a rotation due), meeting in the
        // transaction: the first to hold the keys row rotates, the others find the new key not due.
        let check = |state: &AppState| {
            let state = state.clone();
            async move { change_keys_when_due(&state).await.unwrap() }
        };
        let (a, b, c) = tokio::join!(check(&server.state), check(&nodes[0]), check(&nodes[1]));
        let rotations: Vec<_> = [a, b, c].into_iter().filter_map(|change| change.rotation).collect();
        assert_eq!(rotations.len(), 1, "{rotations:?}");
        assert_eq!(stored_rows(&db).await.len(), 3, "one retired, one current, one next");
        assert_eq!(server.store.recent_audit(Some("oidc.keys.rotate"), 5).await.unwrap().len(), 1);
        for node in &nodes {
            node.store.close().await;
        }
    }

    the_purge_job_runs_the_scheduled_check(db) {
        let server = TestServer::start(&db).await;
        let before = key_set(&server.state, server.clock.now()).await.unwrap();
        server.clock.advance(dinhdanh_server::service::oidc::keys::DEFAULT_ROTATE_EVERY);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let job = tokio::spawn(dinhdanh_server::run_purge(server.state.clone(), std::time::Duration::from_secs(3600), async move {
            let _ = stopped.await;
        }));
        // Its first run is at once; wait for it (bounded), then stop the job.
        let mut rotated = Vec::new();
        for _ in 0..3000 {
            rotated = server.store.recent_audit(Some("oidc.keys.rotate"), 5).await.unwrap();
            if !rotated.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        let _ = stop.send(());
        job.await.unwrap();
        assert_eq!(rotated.len(), 1);
        assert_eq!(rotated[0].detail["retired"], before.current_kid());
    }
}
