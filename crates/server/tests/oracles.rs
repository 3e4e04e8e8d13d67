//! No answer tells a stranger whether an identity has an account (issue 11 item 4): an identification number is
//! printed on many documents, so knowing one proves nothing. Each test compares two answers byte for byte: the
//! status, the headers a client could tell them apart by, and the body. (The sign-in throttle's answer, equal to
//! a wrong password's, is compared in `holder_sign_in.rs`; the lost-phone answer's silence about the other
//! channel in `locks.rs`.)

mod support;

use dinhdanh_domain::Level;
use dinhdanh_store::on_both_backends;
use support::TestServer;

/// Status, content type and the exact body bytes.
async fn raw(server: &TestServer, path: &str, token: &str) -> (u16, String, String) {
    let response = server.http.get(server.url(path)).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type =
        response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    (status, content_type, response.text().await.unwrap())
}

on_both_backends! {
    a_holder_asking_about_another_identity_cannot_tell_no_account_from_someone_elses(db) {
        let server = TestServer::start(&db).await;
        let (_, mai) = server.holder("001190123456", Level::One).await;
        server.holder_with_channels("001190654321", Level::One, true, false).await;
        let someone_else = raw(&server, "/v1/account-status?id_number=001190654321", &mai).await;
        let nobody = raw(&server, "/v1/account-status?id_number=001190777777", &mai).await;
        assert_eq!(someone_else, nobody);
        assert_eq!((someone_else.0, someone_else.1.as_str()), (404, "application/problem+json"));
        let own = raw(&server, "/v1/account-status?id_number=001190123456", &mai).await;
        assert_eq!(own.0, 200, "{own:?}");
        assert!(own.2.contains("\"exists\":true"), "{own:?}");
    }
}
