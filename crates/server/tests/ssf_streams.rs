//! The Shared Signals transmitter's management API over real HTTP, on SQLite and on PostgreSQL (issue 17,
//! docs/events.md): the transmitter configuration; a relying party's stream created, read, updated, replaced,
//! paused and deleted by its own API client with `ssf:streams`; one stream per client; every other caller
//! refused, and no relying party able to see or touch another's stream.

use dinhdanh_domain::actor::{OrganizationKind, Scope};
use dinhdanh_store::on_both_backends;
use reqwest::Method;
use serde_json::{Value, json};

mod support;
use support::TestServer;

const PUSH: &str = "urn:ietf:rfc:8935";
const POLL: &str = "urn:ietf:rfc:8936";
const DISABLED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-disabled";
const ENABLED: &str = "https://schemas.openid.net/secevent/risc/event-type/account-enabled";

fn kind(body: &Value) -> &str {
    body["type"].as_str().unwrap_or_default()
}

on_both_backends! {
    the_transmitter_says_what_it_offers_and_where(db) {
        let server = TestServer::start(&db).await;
        let response = server.http.get(server.url("/.well-known/ssf-configuration")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers()["cache-control"].to_str().unwrap().contains("max-age"));
        let config: Value = response.json().await.unwrap();
        assert_eq!(config["spec_version"], "1_0");
        assert_eq!(config["issuer"], server.base.as_str());
        assert_eq!(config["jwks_uri"], server.url("/oauth/jwks"));
        assert_eq!(config["configuration_endpoint"], server.url("/ssf/streams"));
        assert_eq!(config["status_endpoint"], server.url("/ssf/streams/status"));
        assert_eq!(config["add_subject_endpoint"], server.url("/ssf/streams/subjects/add"));
        assert_eq!(config["remove_subject_endpoint"], server.url("/ssf/streams/subjects/remove"));
        assert_eq!(config["verification_endpoint"], server.url("/ssf/streams/verify"));
        assert_eq!(config["default_subjects"], "ALL");
        assert_eq!(config["delivery_methods_supported"], json!([PUSH, POLL]));
        // The key it names is the provider's, published.
        let jwks: Value = server.http.get(server.url("/oauth/jwks")).send().await.unwrap().json().await.unwrap();
        assert!(!jwks["keys"].as_array().unwrap().is_empty());
    }

    a_relying_party_manages_its_own_stream_and_no_one_else_s(db) {
        let server = TestServer::start(&db).await;
        let (_, bank) = server.organization_token("NHA", OrganizationKind::RelyingParty, &[Scope::SsfStreams]).await;
        let (_, other_bank) = server.organization_token("NHB", OrganizationKind::RelyingParty, &[Scope::SsfStreams]).await;
        let create = json!({
            "delivery": {"method": PUSH, "endpoint_url": "https://nganhang.example.vn/ssf", "authorization_header": "Bearer s3cret-of-the-bank"},
            "events_requested": [DISABLED, ENABLED, "https://example.com/not-ours"],
            "description": "Ngân hàng A"
        });
        let (status, config) = server.call(Method::POST, "/ssf/streams", &bank, Some(create.clone())).await;
        assert_eq!(status, 201, "{config}");
        let id = config["stream_id"].as_str().unwrap().to_owned();
        assert_eq!(config["iss"], server.base.as_str());
        assert!(config["aud"].as_str().is_some_and(|a| !a.is_empty()), "the client is the audience");
        assert_eq!(config["events_delivered"], json!([DISABLED, ENABLED]), "only what is supported");
        assert_eq!(config["min_verification_interval"], 10);
        assert_eq!(config["events_requested"].as_array().unwrap().len(), 3);
        assert_eq!(config["delivery"], json!({"method": PUSH, "endpoint_url": "https://nganhang.example.vn/ssf"}), "the secret is not echoed");
        let (status, body) = server.call(Method::POST, "/ssf/streams", &bank, Some(create)).await;
        assert_eq!((status, kind(&body)), (409, "urn:dinhdanh:problem:conflict"), "one stream per receiver: {body}");

        let (status, read) = server.call(Method::GET, &format!("/ssf/streams?stream_id={id}"), &bank, None).await;
        assert_eq!((status, &read), (200, &config));
        let (_, all) = server.call(Method::GET, "/ssf/streams", &bank, None).await;
        assert_eq!(all, json!([config]));

        // Another relying party sees nothing of it and can change nothing.
        let (_, theirs) = server.call(Method::GET, "/ssf/streams", &other_bank, None).await;
        assert_eq!(theirs, json!([]));
        for (method, path, body) in [
            (Method::GET, format!("/ssf/streams?stream_id={id}"), None),
            (Method::PATCH, "/ssf/streams".to_owned(), Some(json!({"stream_id": id, "description": "của tôi"}))),
            (Method::PUT, "/ssf/streams".to_owned(), Some(json!({"stream_id": id}))),
            (Method::DELETE, format!("/ssf/streams?stream_id={id}"), None),
            (Method::GET, format!("/ssf/streams/status?stream_id={id}"), None),
            (Method::POST, "/ssf/streams/status".to_owned(), Some(json!({"stream_id": id, "status": "disabled"}))),
            (Method::POST, "/ssf/streams/subjects/remove".to_owned(), Some(json!({"stream_id": id,
                "subject": {"format": "iss_sub", "iss": server.base.as_str(), "sub": "some-pairwise-sub"}}))),
            (Method::POST, "/ssf/streams/subjects/add".to_owned(), Some(json!({"stream_id": id,
                "subject": {"format": "iss_sub", "iss": server.base.as_str(), "sub": "some-pairwise-sub"}}))),
            (Method::POST, "/ssf/streams/verify".to_owned(), Some(json!({"stream_id": id, "state": "của tôi"}))),
        ] {
            let (status, body) = server.call(method.clone(), &path, &other_bank, body).await;
            assert_eq!((status, kind(&body)), (404, "urn:dinhdanh:problem:not-found"), "{method} {path}: {body}");
        }

        // Update changes only what it names; replace sets everything.
        let (status, updated) = server.call(Method::PATCH, "/ssf/streams", &bank, Some(json!({"stream_id": id, "description": "Ngân hàng A, luồng chính"}))).await;
        assert_eq!(status, 200, "{updated}");
        assert_eq!((updated["description"].as_str(), updated["delivery"]["method"].as_str()), (Some("Ngân hàng A, luồng chính"), Some(PUSH)));
        let (status, replaced) = server.call(Method::PUT, "/ssf/streams", &bank, Some(json!({"stream_id": id, "delivery": {"method": POLL}}))).await;
        assert_eq!(status, 200, "{replaced}");
        assert_eq!(replaced["delivery"], json!({"method": POLL, "endpoint_url": server.url("/ssf/poll")}));
        assert_eq!((replaced["events_requested"].clone(), replaced.get("description")), (json!([]), None));
        // An unusable configuration is refused with the member named, and changes nothing.
        for bad in [
            json!({"stream_id": id, "delivery": {"method": PUSH, "endpoint_url": "http://nganhang.example.vn/ssf"}}),
            json!({"stream_id": id, "delivery": {"method": "urn:example:carrier-pigeon"}}),
            json!({"stream_id": id, "events_requested": DISABLED}),
            json!({"delivery": {"method": POLL}}),
        ] {
            let (status, body) = server.call(Method::PATCH, "/ssf/streams", &bank, Some(bad.clone())).await;
            assert_eq!((status, kind(&body)), (400, "urn:dinhdanh:problem:invalid-stream"), "{bad}: {body}");
            assert!(body["errors"][0]["field"].as_str().is_some_and(|f| f == "stream_id" || f.starts_with("delivery") || f == "events_requested"), "{body}");
        }
        let (_, unchanged) = server.call(Method::GET, &format!("/ssf/streams?stream_id={id}"), &bank, None).await;
        assert_eq!(unchanged, replaced);

        // Status: enabled from the start, then paused with a reason.
        let (status, body) = server.call(Method::GET, &format!("/ssf/streams/status?stream_id={id}"), &bank, None).await;
        assert_eq!((status, body), (200, json!({"stream_id": id, "status": "enabled"})));
        let (status, body) = server.call(Method::POST, "/ssf/streams/status", &bank, Some(json!({"stream_id": id, "status": "paused", "reason": "bảo trì"}))).await;
        assert_eq!((status, body["status"].as_str(), body["reason"].as_str()), (200, Some("paused"), Some("bảo trì")));
        let (status, body) = server.call(Method::POST, "/ssf/streams/status", &bank, Some(json!({"stream_id": id, "status": "sleeping"}))).await;
        assert_eq!(status, 400, "{body}");
        let (_, body) = server.call(Method::GET, &format!("/ssf/streams/status?stream_id={id}"), &bank, None).await;
        assert_eq!(body["status"], "paused");

        // Deleted: gone, and a new one can be made.
        let (status, _) = server.call(Method::DELETE, &format!("/ssf/streams?stream_id={id}"), &bank, None).await;
        assert_eq!(status, 204);
        let (status, _) = server.call(Method::GET, &format!("/ssf/streams?stream_id={id}"), &bank, None).await;
        assert_eq!(status, 404);
        let (status, _) = server.call(Method::DELETE, "/ssf/streams", &bank, None).await;
        assert_eq!(status, 422, "a delete names its stream");
        let (status, _) = server.call(Method::POST, "/ssf/streams", &bank, Some(json!({}))).await;
        assert_eq!(status, 201);

        let audited: Vec<String> = server.store.recent_audit(None, 200).await.unwrap().iter()
            .filter(|r| r.action.starts_with("ssf.stream.")).map(|r| r.action.clone()).rev().collect();
        assert_eq!(audited, ["ssf.stream.create", "ssf.stream.update", "ssf.stream.replace", "ssf.stream.status", "ssf.stream.delete", "ssf.stream.create"]);
    }

    only_a_relying_party_s_client_with_the_scope_manages_a_stream(db) {
        let server = TestServer::start(&db).await;
        let (_, without_scope) = server.organization_token("NHC", OrganizationKind::RelyingParty, &[Scope::AccountsStatus]).await;
        let (_, authority) = server.organization_token("VKS", OrganizationKind::CompetentAuthority, &[Scope::SsfStreams]).await;
        let (status, body) = server.call(Method::POST, "/ssf/streams", &without_scope, Some(json!({}))).await;
        assert_eq!((status, kind(&body)), (403, "urn:dinhdanh:problem:insufficient-scope"), "{body}");
        let (status, body) = server.call(Method::POST, "/ssf/streams", &authority, Some(json!({}))).await;
        assert_eq!((status, kind(&body)), (403, "urn:dinhdanh:problem:forbidden"), "{body}");
        let (status, _) = server.call(Method::GET, "/ssf/streams", "dd_at_not-a-token", None).await;
        assert_eq!(status, 401);
        let (_, holder) = server.holder("001190123456", dinhdanh_domain::Level::One).await;
        let (status, _) = server.call(Method::GET, "/ssf/streams", &holder, None).await;
        assert_eq!(status, 403);
    }
}
