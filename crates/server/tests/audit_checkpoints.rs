//! The audit log's signed checkpoints end to end (issue 11 item 8): the server signs the tree head with its key
//! file when the log grew, keeps it, publishes it to the operator's file and serves it at
//! `GET /v1/audit/checkpoints`; the lock a holder placed is proven to be in the signed tree.

use std::sync::Arc;

use dinhdanh_domain::Level;
use dinhdanh_server::service::audit::sign_checkpoint;
use dinhdanh_store::merkle;
use dinhdanh_store::{CheckpointSigner, CheckpointVerifier, on_both_backends};
use reqwest::Method;
use serde_json::json;

mod support;
use support::TestServer;

on_both_backends! {
    a_grown_log_is_signed_once_published_and_proves_a_holders_lock(db) {
        let dir = tempfile::tempdir().unwrap();
        let published = dir.path().join("checkpoints.jsonl");
        let signer = Arc::new(CheckpointSigner::generate("eid.example.vn/audit").unwrap());
        let config = dinhdanh_server::ServerConfig {
            audit_signer: Some(signer.clone()),
            audit_publish_file: Some(published.clone()),
            ..support::relaxed_config()
        };
        let server = TestServer::start_with(&db, config).await;
        let (holder, token) = server.holder("001190123456", Level::One).await;
        let (status, lock) = server.call(Method::POST, "/v1/lock-requests", &token, Some(json!({"reason": "mất điện thoại"}))).await;
        assert_eq!(status, 201, "{lock}");

        let first = sign_checkpoint(&server.state).await.unwrap().expect("the log grew: a checkpoint");
        let (size, root) = server.store.audit_tree_head().await.unwrap();
        assert_eq!((first.size, first.root), (size, root));
        assert!(sign_checkpoint(&server.state).await.unwrap().is_none(), "nothing new, nothing signed");

        let (status, body) = server.call(Method::GET, "/v1/audit/checkpoints", "", None).await;
        assert_eq!(status, 200, "{body}");
        let verifier = CheckpointVerifier::parse(body["verifier_key"].as_str().unwrap()).unwrap();
        let served = &body["checkpoints"][0];
        let head = verifier.open(served["note"].as_str().unwrap()).unwrap();
        assert_eq!((head.size, head.root, served["tree_size"].as_u64()), (size, root, Some(size)));
        assert_eq!(served["root_hash"], merkle::hex(&root));
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&published).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(lines, [json!({"tree_size": size, "note": first.note})], "published once, as signed");

        // The lock on Mai's account, proven against the signed head she can fetch.
        let placed = server.store.audit_of_subject(holder.id.as_str(), 100).await.unwrap()
            .into_iter().find(|e| e.action == "lock.place").expect("the lock is audited");
        let proof = server.store.inclusion_proof(placed.seq, head.size).await.unwrap();
        let leaf = merkle::hash_from_hex(&placed.leaf_hash).unwrap();
        assert!(merkle::verify_inclusion(&leaf, (placed.seq - 1) as u64, head.size, &proof, &head.root));

        let (status, lifted) = server.call(Method::POST, "/v1/lock-requests", &server.holder("001190654321", Level::One).await.1, Some(json!({"reason": "x"}))).await;
        assert_eq!(status, 201, "{lifted}");
        let second = sign_checkpoint(&server.state).await.unwrap().expect("grew again");
        assert!(second.size > first.size);
        let consistency = server.store.consistency_proof(first.size, second.size).await.unwrap();
        assert!(merkle::verify_consistency(first.size, second.size, &first.root, &second.root, &consistency));
        let (_, body) = server.call(Method::GET, "/v1/audit/checkpoints?limit=1", "", None).await;
        assert_eq!(body["checkpoints"].as_array().unwrap().len(), 1);
        assert_eq!(body["checkpoints"][0]["tree_size"], second.size, "newest first");
        let (status, body) = server.call(Method::GET, "/v1/audit/checkpoints?limit=0", "", None).await;
        assert_eq!((status, body["type"].as_str()), (422, Some("urn:dinhdanh:problem:validation")));
    }

    a_node_without_a_signing_key_signs_nothing_and_says_so(db) {
        let server = TestServer::start(&db).await;
        let (_, token) = server.holder("001190123456", Level::One).await;
        server.call(Method::POST, "/v1/lock-requests", &token, Some(json!({"reason": "x"}))).await;
        assert!(sign_checkpoint(&server.state).await.unwrap().is_none());
        let (status, body) = server.call(Method::GET, "/v1/audit/checkpoints", "", None).await;
        assert_eq!((status, body["verifier_key"].is_null(), body["checkpoints"].as_array().map(Vec::len)), (200, true, Some(0)));
    }
}
