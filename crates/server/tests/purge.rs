//! The scheduled purge, on SQLite and PostgreSQL: what has expired is refused before the purge reaches it and
//! gone after; what is still live stays; the token endpoint no longer deletes anything; the job runs on its
//! interval and counts what it removed in `/metrics`.

use std::time::Duration as StdDuration;

use chrono::Duration;
use dinhdanh_domain::Level;
use dinhdanh_domain::actor::OrganizationKind;
use dinhdanh_store::on_both_backends;
use reqwest::Method;
use serde_json::json;

mod support;
use support::TestServer;

async fn status(server: &TestServer, path: &str, token: &str) -> u16 {
    server.call(Method::GET, path, token, None).await.0
}

/// A client with a secret and the token it gets from `/oauth/token`.
async fn client_token(server: &TestServer, admin: &str, org_id: &str) -> (String, String, String) {
    let (code, body) = server
        .call(
            Method::POST,
            &format!("/v1/organizations/{org_id}/clients"),
            admin,
            Some(json!({"name": "Cổng dịch vụ", "auth_method": "client_secret", "scopes": ["accounts:status"]})),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    let (id, secret) =
        (body["client_id"].as_str().unwrap().to_owned(), body["client_secret"].as_str().unwrap().to_owned());
    (id.clone(), secret.clone(), token(server, &id, &secret).await)
}

async fn token(server: &TestServer, id: &str, secret: &str) -> String {
    let response = server
        .http
        .post(server.url("/oauth/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_owned()
}

on_both_backends! {
    expired_sessions_and_tokens_are_refused_before_the_purge_and_gone_after(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let (_, holder) = server.holder("001190123456", Level::One).await;
        let bank = server.organization("ACB", OrganizationKind::RelyingParty).await;
        let (client_id, secret, first) = client_token(&server, &admin, &bank.id).await;
        assert_eq!(status(&server, "/v1/clients/me", &first).await, 200);
        assert_eq!(status(&server, "/v1/me", &holder).await, 200);

        // Past the access token's 10 minutes and the holder session's hour, short of the officer's 8 hours.
        server.clock.advance(Duration::hours(2));
        assert_eq!(status(&server, "/v1/clients/me", &first).await, 401, "expired, not yet purged");
        assert_eq!(status(&server, "/v1/me", &holder).await, 401, "expired, not yet purged");
        // A new token deletes nothing on the way: the expired one is still stored (and still refused).
        let second = token(&server, &client_id, &secret).await;
        assert_eq!(server.store.count_access_tokens_of_client(&client_id).await.unwrap(), 2);

        let report = dinhdanh_server::service::purge::purge_expired(&server.state).await.unwrap();
        assert_eq!(report["access_tokens"], 1, "{report:?}");
        assert_eq!(report["holder_sessions"], 1, "{report:?}");
        assert_eq!(report["officer_sessions"], 0, "the administrator's session is live: {report:?}");
        assert_eq!(server.store.count_access_tokens_of_client(&client_id).await.unwrap(), 1);
        assert_eq!(status(&server, "/v1/clients/me", &second).await, 200, "the live token stays");
        assert_eq!(status(&server, "/v1/officers/me", &admin).await, 200, "the live officer session stays");
        let again = dinhdanh_server::service::purge::purge_expired(&server.state).await.unwrap();
        assert!(again.values().all(|n| *n == 0), "{again:?}");
    }

    the_purge_runs_on_its_interval_and_counts_in_the_metrics(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("ACB", OrganizationKind::RelyingParty).await;
        let (client_id, _, _) = client_token(&server, &admin, &bank.id).await;
        server.clock.advance(Duration::hours(1));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let job = tokio::spawn(dinhdanh_server::run_purge(server.state.clone(), StdDuration::from_millis(20), async move {
            let _ = stopped.await;
        }));
        // The token expired 50 minutes ago: the job removes it without being asked.
        let mut left = 1;
        for _ in 0..500 {
            left = server.store.count_access_tokens_of_client(&client_id).await.unwrap();
            if left == 0 {
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
        let _ = stop.send(());
        job.await.unwrap();
        assert_eq!(left, 0, "the scheduled purge removed the expired token");
        let metrics = server.http.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
        assert!(metrics.lines().any(|l| l.starts_with("dinhdanh_purged_rows_total{kind=\"access_tokens\"}")), "{metrics}");
    }
}
