//! The OpenID Connect provider's signing keys as the server keeps them, on SQLite and PostgreSQL: sealed at rest
//! under the configured seal key (never in the clear, bound to their `kid`), keys from before sealing sealed at
//! start, a node with the wrong seal key refused without a change.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dinhdanh_oidc::keys::KeySet;
use dinhdanh_server::clock::Clock;
use dinhdanh_server::problem::ApiError;
use dinhdanh_server::sealing::SealingKey;
use dinhdanh_server::service::oidc::{ensure_keys, key_set};
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
