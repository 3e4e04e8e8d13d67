//! Organizations' API clients end to end over real HTTP, on SQLite and on PostgreSQL: registration by an
//! administrator, the client-credentials grant driven by a real third-party OAuth 2.0 client (the `oauth2`
//! crate) with `private_key_jwt` (RS256, ES256, EdDSA) and with a client secret (Basic and form), every refusal
//! (wrong key, expired, replayed, wrong audience, revoked client, suspended organization), scopes, token
//! expiry, rotation of keys and secrets without downtime, revocation, audit and OpenAPI.

use std::time::Duration as StdDuration;

use chrono::Duration;
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind, OrganizationStatus};
use dinhdanh_server::clock::Clock;
use dinhdanh_server::secrets::token_hash;
use dinhdanh_store::on_both_backends;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse, BasicTokenType};
use oauth2::{AuthType, ClientId, ClientSecret, RequestTokenError, Scope, TokenResponse, TokenUrl};
use reqwest::Method;
use serde_json::{Value, json};

use dinhdanh_server::ServerConfig;

mod support;
use support::TestServer;

/// Token request parameters.
type Form<'a> = Vec<(&'a str, &'a str)>;

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A committed test key: its private half for signing and its public JWK.
struct TestKey {
    encoding: EncodingKey,
    alg: Algorithm,
    jwk: Value,
}

fn key(name: &str) -> TestKey {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");
    let pem = std::fs::read(format!("{dir}/{name}.pem")).unwrap();
    let jwk: Value = serde_json::from_str(&std::fs::read_to_string(format!("{dir}/{name}.jwk.json")).unwrap()).unwrap();
    let (encoding, alg) = match jwk["kty"].as_str().unwrap() {
        "RSA" => (EncodingKey::from_rsa_pem(&pem).unwrap(), Algorithm::RS256),
        "EC" => (EncodingKey::from_ec_pem(&pem).unwrap(), Algorithm::ES256),
        _ => (EncodingKey::from_ed_pem(&pem).unwrap(), Algorithm::EdDSA),
    };
    TestKey { encoding, alg, jwk }
}

fn with_kid(mut jwk: Value, kid: &str) -> Value {
    jwk["kid"] = json!(kid);
    jwk
}

/// The knobs of a client assertion; the default is a valid one for `client_id` at `server`.
struct Assertion<'a> {
    key: &'a TestKey,
    kid: Option<&'a str>,
    client_id: &'a str,
    aud: String,
    /// Seconds from the server's now.
    exp_in: i64,
    jti: String,
}

impl<'a> Assertion<'a> {
    fn new(server: &TestServer, key: &'a TestKey, kid: Option<&'a str>, client_id: &'a str) -> Self {
        Self {
            key,
            kid,
            client_id,
            aud: server.url("/oauth/token"),
            exp_in: 120,
            jti: uuid::Uuid::new_v4().to_string(),
        }
    }

    fn sign(&self, server: &TestServer) -> String {
        let now = server.clock.now().timestamp();
        let mut header = Header::new(self.key.alg);
        header.kid = self.kid.map(str::to_owned);
        let claims = json!({
            "iss": self.client_id, "sub": self.client_id, "aud": self.aud,
            "iat": now, "exp": now + self.exp_in, "jti": self.jti,
        });
        jsonwebtoken::encode(&header, &claims, &self.key.encoding).unwrap()
    }
}

type OAuthResult = Result<
    BasicTokenResponse,
    RequestTokenError<oauth2::HttpClientError<reqwest::Error>, oauth2::StandardErrorResponse<BasicErrorResponseType>>,
>;

fn http() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// The `oauth2` crate as the client: `private_key_jwt`, client id in the body, no secret.
async fn oauth2_with_assertion(server: &TestServer, client_id: &str, jwt: &str, scopes: &[&str]) -> OAuthResult {
    let client = BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_auth_type(AuthType::RequestBody)
        .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap());
    let mut request = client
        .exchange_client_credentials()
        .add_extra_param("client_assertion_type", JWT_BEARER)
        .add_extra_param("client_assertion", jwt.to_owned());
    for scope in scopes {
        request = request.add_scope(Scope::new((*scope).to_owned()));
    }
    request.request_async(&http()).await
}

/// The `oauth2` crate as the client with a secret: `BasicAuth` (client_secret_basic) or `RequestBody`
/// (client_secret_post).
async fn oauth2_with_secret(server: &TestServer, client_id: &str, secret: &str, auth: AuthType) -> OAuthResult {
    let client = BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_client_secret(ClientSecret::new(secret.to_owned()))
        .set_auth_type(auth)
        .set_token_uri(TokenUrl::new(server.url("/oauth/token")).unwrap());
    client.exchange_client_credentials().request_async(&http()).await
}

fn oauth_error(result: OAuthResult) -> String {
    match result {
        Err(RequestTokenError::ServerResponse(e)) => e.error().as_ref().to_owned(),
        Err(other) => panic!("not an OAuth error response: {other:?}"),
        Ok(token) => panic!("a token was issued: {:?}", token.scopes()),
    }
}

fn access_token(result: OAuthResult) -> String {
    match result {
        Ok(token) => token.access_token().secret().clone(),
        Err(RequestTokenError::ServerResponse(e)) => panic!("refused: {:?} {:?}", e.error(), e.error_description()),
        Err(other) => panic!("{other:?}"),
    }
}

/// A raw form POST to the token endpoint: status, JSON body, headers.
async fn raw_token(
    server: &TestServer,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let mut request = server
        .http
        .post(server.url("/oauth/token"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body);
    if let Some((id, secret)) = basic {
        request = request.basic_auth(id, Some(secret));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.json().await.unwrap_or(Value::Null), headers)
}

async fn assertion_status(server: &TestServer, client_id: &str, jwt: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", jwt),
    ];
    let (status, body, _) = raw_token(server, &form, None).await;
    (status, body)
}

async fn me(server: &TestServer, token: &str) -> (u16, Value) {
    server.call(Method::GET, "/v1/clients/me", token, None).await
}

/// An administrator, a relying party, and a `private_key_jwt` client of it with the given keys.
async fn jwt_client(server: &TestServer, admin: &str, org_id: &str, keys: Vec<Value>, scopes: Value) -> Value {
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/organizations/{org_id}/clients"),
            admin,
            Some(json!({"name": "Hệ thống chống gian lận", "auth_method": "private_key_jwt", "scopes": scopes, "jwks": {"keys": keys}})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

async fn secret_client(server: &TestServer, admin: &str, org_id: &str) -> Value {
    let (status, body) = server
        .call(
            Method::POST,
            &format!("/v1/organizations/{org_id}/clients"),
            admin,
            Some(json!({"name": "Cổng dịch vụ", "auth_method": "client_secret", "scopes": ["accounts:status"]})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body
}

fn id(body: &Value) -> String {
    body["client_id"].as_str().unwrap().to_owned()
}

/// Every audit detail, as text, for "no secret in the log" checks.
async fn audit_text(server: &TestServer) -> String {
    let records = server.store.recent_audit(None, 1000).await.unwrap();
    records.iter().map(|r| format!("{} {} {} {}\n", r.actor, r.action, r.outcome, r.detail)).collect()
}

/// The reasons of the token endpoint's recent refusals, as its audit entries give them.
async fn token_refusal_reasons(server: &TestServer) -> Vec<String> {
    let records = server.store.recent_audit(Some("oauth.token"), 100).await.unwrap();
    records
        .iter()
        .filter(|r| r.outcome == "refused")
        .filter_map(|r| r.detail["reason"].as_str().map(str::to_owned))
        .collect()
}

on_both_backends! {
    client_secrets_are_checked_at_hash_speed_and_old_argon2_hashes_upgrade_on_first_use(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("ACB", OrganizationKind::RelyingParty).await;
        let created = secret_client(&server, &admin, &bank.id).await;
        let (client_id, secret) = (id(&created), created["client_secret"].as_str().unwrap().to_owned());
        let stored = server.store.client_credentials(&client_id).await.unwrap().remove(0);
        assert_eq!(stored.material, dinhdanh_server::secrets::server_secret_digest(&secret), "a SHA-256 digest");
        // A token request with the secret spends no argon2id verification, right or wrong.
        let before = server.state.work.argon2_verifications();
        assert!(oauth2_with_secret(&server, &client_id, &secret, AuthType::BasicAuth).await.is_ok());
        assert_eq!(oauth_error(oauth2_with_secret(&server, &client_id, "dd_cs_wrong", AuthType::BasicAuth).await), "invalid_client");
        assert_eq!(oauth_error(oauth2_with_secret(&server, "no-such-client", &secret, AuthType::BasicAuth).await), "invalid_client");
        assert_eq!(server.state.work.argon2_verifications(), before);
        // A secret stored by an earlier version as an argon2id hash still works, once, and is then a digest.
        let mut tx = server.store.begin().await.unwrap();
        tx.set_credential_material(&stored.id, &dinhdanh_server::secrets::hash_secret(secret.clone()).await.unwrap()).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(oauth_error(oauth2_with_secret(&server, &client_id, "dd_cs_wrong", AuthType::BasicAuth).await), "invalid_client");
        assert!(server.store.client_credentials(&client_id).await.unwrap()[0].material.starts_with("$argon2id$"), "a failure upgrades nothing");
        assert!(oauth2_with_secret(&server, &client_id, &secret, AuthType::BasicAuth).await.is_ok());
        let upgraded = server.store.client_credentials(&client_id).await.unwrap().remove(0);
        assert_eq!(upgraded.material, dinhdanh_server::secrets::server_secret_digest(&secret));
        let before = server.state.work.argon2_verifications();
        assert!(oauth2_with_secret(&server, &client_id, &secret, AuthType::BasicAuth).await.is_ok());
        assert_eq!(server.state.work.argon2_verifications(), before, "checked at hash speed from then on");
    }
}

on_both_backends! {
    private_key_jwt_with_a_real_oauth2_client(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("VCB", OrganizationKind::RelyingParty).await;
        let rsa = key("rsa-1");
        let created = jwt_client(
            &server, &admin, &bank.id,
            vec![with_kid(rsa.jwk.clone(), "k1")],
            json!(["locks:request", "accounts:status"]),
        ).await;
        let client_id = id(&created);
        assert_eq!(created["auth_method"], "private_key_jwt");
        assert_eq!(created["credentials"][0]["key_id"], "k1");
        assert!(created.get("client_secret").is_none());

        let jwt = Assertion::new(&server, &rsa, Some("k1"), &client_id).sign(&server);
        let token = match oauth2_with_assertion(&server, &client_id, &jwt, &[]).await {
            Ok(token) => token,
            Err(e) => panic!("{e:?}"),
        };
        assert_eq!(*token.token_type(), BasicTokenType::Bearer);
        assert_eq!(token.expires_in(), Some(StdDuration::from_secs(600)));
        let scopes: Vec<String> = token.scopes().unwrap().iter().map(|s| s.to_string()).collect();
        assert_eq!(scopes, vec!["locks:request", "accounts:status"]);
        let access = token.access_token().secret().clone();
        assert!(access.starts_with("dd_at_"));
        // Only the hash is stored.
        let owner = server.store.access_token_owner(&token_hash(&access), chrono::Utc::now()).await.unwrap().unwrap();
        assert_eq!(owner.client_id, client_id);

        let (status, body) = me(&server, &access).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["client_id"], client_id.as_str());
        assert_eq!(body["organization_id"], bank.id.as_str());
        assert_eq!(body["organization_kind"], "relying_party");
        assert_eq!(body["scopes"], json!(["locks:request", "accounts:status"]));

        // The raw answer: Bearer, no-store.
        let jwt = Assertion::new(&server, &rsa, Some("k1"), &client_id).sign(&server);
        let form = [("grant_type", "client_credentials"), ("client_assertion_type", JWT_BEARER), ("client_assertion", jwt.as_str())];
        let (status, body, headers) = raw_token(&server, &form, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        assert_eq!(body["expires_in"], 600);
        assert_eq!(headers["cache-control"], "no-store");

        // ES256 and EdDSA keys, registered without kid (their thumbprint becomes the kid), signed without kid.
        let ec = key("ec-1");
        let ed = key("ed-1");
        let other = jwt_client(&server, &admin, &bank.id, vec![ec.jwk.clone(), ed.jwk.clone()], json!(["accounts:status"])).await;
        let other_id = id(&other);
        assert!(other["credentials"][0]["key_id"].as_str().unwrap().len() >= 43);
        for k in [&ec, &ed] {
            let jwt = Assertion::new(&server, k, None, &other_id).sign(&server);
            let token = access_token(oauth2_with_assertion(&server, &other_id, &jwt, &["accounts:status"]).await);
            assert_eq!(me(&server, &token).await.0, 200);
        }

        let audit = server.store.recent_audit(Some("oauth.token"), 10).await.unwrap();
        assert!(audit.iter().all(|r| r.outcome == "ok"));
        assert!(audit[0].actor.starts_with(&format!("organization:{}/client:", bank.id)));
    }

    client_secret_basic_and_post_with_a_real_oauth2_client(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("TCB", OrganizationKind::RelyingParty).await;
        let created = secret_client(&server, &admin, &bank.id).await;
        let client_id = id(&created);
        let secret = created["client_secret"].as_str().unwrap().to_owned();
        assert!(secret.starts_with("dd_cs_"), "{secret}");
        // Shown once: never again.
        let (status, shown) = server.call(Method::GET, &format!("/v1/clients/{client_id}"), &admin, None).await;
        assert_eq!(status, 200);
        assert!(!shown.to_string().contains(&secret));
        assert_eq!(shown["credentials"][0]["kind"], "secret");
        assert!(shown["credentials"][0]["jwk"].is_null());

        for auth in [AuthType::BasicAuth, AuthType::RequestBody] {
            let token = access_token(oauth2_with_secret(&server, &client_id, &secret, auth).await);
            let (status, body) = me(&server, &token).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["scopes"], json!(["accounts:status"]));
        }

        // A wrong secret and an unknown client get the same answer: 401 invalid_client with WWW-Authenticate.
        assert_eq!(oauth_error(oauth2_with_secret(&server, &client_id, "dd_cs_wrong", AuthType::BasicAuth).await), "invalid_client");
        let form = [("grant_type", "client_credentials")];
        let (status, wrong, headers) = raw_token(&server, &form, Some((&client_id, "dd_cs_wrong"))).await;
        assert_eq!(status, 401);
        assert!(headers["www-authenticate"].to_str().unwrap().starts_with("Basic"));
        let (status, unknown, _) = raw_token(&server, &form, Some(("no-such-client", &secret))).await;
        assert_eq!(status, 401);
        assert_eq!(wrong, unknown);
        assert_eq!(wrong["error"], "invalid_client");
        // A JWT client's id with a secret: refused too.
        let reasons = token_refusal_reasons(&server).await;
        assert!(reasons.iter().any(|r| r == "wrong_secret") && reasons.iter().any(|r| r == "unknown_client"), "{reasons:?}");
        assert!(!audit_text(&server).await.contains("dd_cs_"), "a secret reached the audit log");
    }

    refused_assertions(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("ACB", OrganizationKind::RelyingParty).await;
        let rsa = key("rsa-1");
        let client_id = id(&jwt_client(&server, &admin, &bank.id, vec![with_kid(rsa.jwk.clone(), "k1")], json!(["accounts:status"])).await);
        let refused = |(status, body): (u16, Value)| {
            assert_eq!(status, 401, "{body}");
            assert_eq!(body["error"], "invalid_client");
        };

        // Wrong key: another key pair, with the registered kid or none.
        let other = key("rsa-other");
        refused(assertion_status(&server, &client_id, &Assertion::new(&server, &other, Some("k1"), &client_id).sign(&server)).await);
        refused(assertion_status(&server, &client_id, &Assertion::new(&server, &other, None, &client_id).sign(&server)).await);
        refused(assertion_status(&server, &client_id, &Assertion::new(&server, &rsa, Some("k9"), &client_id).sign(&server)).await);
        // Expired, and valid for too long.
        let mut expired = Assertion::new(&server, &rsa, Some("k1"), &client_id);
        expired.exp_in = -120;
        refused(assertion_status(&server, &client_id, &expired.sign(&server)).await);
        let mut too_long = Assertion::new(&server, &rsa, Some("k1"), &client_id);
        too_long.exp_in = 3600 + 120;
        refused(assertion_status(&server, &client_id, &too_long.sign(&server)).await);
        // Wrong audience.
        let mut elsewhere = Assertion::new(&server, &rsa, Some("k1"), &client_id);
        elsewhere.aud = "https://idp.example.vn/oauth/token".to_owned();
        refused(assertion_status(&server, &client_id, &elsewhere.sign(&server)).await);
        // Issued for another client id.
        let jwt = Assertion::new(&server, &rsa, Some("k1"), "someone-else").sign(&server);
        refused(assertion_status(&server, &client_id, &jwt).await);
        // HS256 with the public modulus as a secret, and alg "none": never accepted.
        let hs = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &json!({"iss": client_id, "sub": client_id, "aud": server.url("/oauth/token"), "exp": server.clock.now().timestamp() + 60, "jti": "x"}),
            &EncodingKey::from_secret(rsa.jwk["n"].as_str().unwrap().as_bytes()),
        ).unwrap();
        refused(assertion_status(&server, &client_id, &hs).await);
        let unsigned = {
            use base64::Engine;
            let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
            format!("{}.{}.", b64(json!({"alg": "none"})), b64(json!({"iss": client_id, "sub": client_id, "aud": server.url("/oauth/token"), "exp": server.clock.now().timestamp() + 60, "jti": "y"})))
        };
        refused(assertion_status(&server, &client_id, &unsigned).await);

        // Replay: the same assertion works once; so with the oauth2 crate.
        let jwt = Assertion::new(&server, &rsa, Some("k1"), &client_id).sign(&server);
        access_token(oauth2_with_assertion(&server, &client_id, &jwt, &[]).await);
        assert_eq!(oauth_error(oauth2_with_assertion(&server, &client_id, &jwt, &[]).await), "invalid_client");
        // A new assertion that reuses a jti is a replay too.
        let mut reuse = Assertion::new(&server, &rsa, Some("k1"), &client_id);
        reuse.jti = "jti-1".to_owned();
        assert_eq!(assertion_status(&server, &client_id, &reuse.sign(&server)).await.0, 200);
        reuse.exp_in = 200;
        refused(assertion_status(&server, &client_id, &reuse.sign(&server)).await);
        // Concurrent replays: exactly one wins.
        let jwt = Assertion::new(&server, &rsa, Some("k1"), &client_id).sign(&server);
        let results = futures_join(&server, &client_id, &jwt).await;
        assert_eq!(results.iter().filter(|s| **s == 200).count(), 1, "{results:?}");
        assert_eq!(results.iter().filter(|s| **s == 401).count(), 3, "{results:?}");

        let reasons = token_refusal_reasons(&server).await;
        for reason in ["bad_signature", "unknown_key", "assertion_expired", "assertion_lifetime_too_long", "wrong_audience", "wrong_issuer", "algorithm_not_allowed", "assertion_replayed"] {
            assert!(reasons.iter().any(|r| r == reason), "{reason} not in {reasons:?}");
        }
    }

    one_hour_assertions_as_client_libraries_sign_them(db) {
        // authlib's PrivateKeyJWT (and other RFC 7523 clients) sign assertions with exp = iat + 3600.
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("TPBank", OrganizationKind::RelyingParty).await;
        let rsa = key("rsa-1");
        let client_id = id(&jwt_client(&server, &admin, &bank.id, vec![with_kid(rsa.jwk.clone(), "k1")], json!(["accounts:status"])).await);
        let mut hour = Assertion::new(&server, &rsa, Some("k1"), &client_id);
        hour.exp_in = 3600;
        let jwt = hour.sign(&server);
        let (status, body) = assertion_status(&server, &client_id, &jwt).await;
        assert_eq!(status, 200, "{body}");
        // Its jti is kept until exp: 59 minutes later the same assertion, and a fresh one reusing the jti, are
        // still replays.
        server.clock.advance(Duration::minutes(59));
        assert_eq!(assertion_status(&server, &client_id, &jwt).await.0, 401);
        let mut reuse = Assertion::new(&server, &rsa, Some("k1"), &client_id);
        reuse.jti = hour.jti.clone();
        assert_eq!(assertion_status(&server, &client_id, &reuse.sign(&server)).await.0, 401);
        // A second more than an hour (plus the leeway) is refused as too long.
        let mut longer = Assertion::new(&server, &rsa, Some("k1"), &client_id);
        longer.exp_in = 3600 + 61;
        assert_eq!(assertion_status(&server, &client_id, &longer.sign(&server)).await.0, 401);
        // Once past exp plus the leeway, the first assertion is refused as expired and its jti is forgotten.
        server.clock.advance(Duration::minutes(2));
        assert_eq!(assertion_status(&server, &client_id, &jwt).await.0, 401, "an expired assertion");
        let mut later = Assertion::new(&server, &rsa, Some("k1"), &client_id);
        later.jti = hour.jti.clone();
        assert_eq!(assertion_status(&server, &client_id, &later.sign(&server)).await.0, 200);
        let reasons = token_refusal_reasons(&server).await;
        assert_eq!(reasons.iter().filter(|r| **r == "assertion_replayed").count(), 2, "{reasons:?}");
        assert!(reasons.iter().any(|r| r == "assertion_lifetime_too_long") && reasons.iter().any(|r| r == "assertion_expired"), "{reasons:?}");
    }

    revoked_client_and_suspended_organization(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("BIDV", OrganizationKind::RelyingParty).await;
        let rsa = key("rsa-1");
        let client_id = id(&jwt_client(&server, &admin, &bank.id, vec![with_kid(rsa.jwk.clone(), "k1")], json!(["accounts:status"])).await);
        let first = access_token(oauth2_with_assertion(&server, &client_id, &Assertion::new(&server, &rsa, Some("k1"), &client_id).sign(&server), &[]).await);
        let second = access_token(oauth2_with_assertion(&server, &client_id, &Assertion::new(&server, &rsa, Some("k1"), &client_id).sign(&server), &[]).await);
        assert_eq!(me(&server, &first).await.0, 200);

        let (status, body) = server.call(Method::POST, &format!("/v1/clients/{client_id}/revoke"), &admin, None).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "revoked");
        // At once: both tokens fail, and they are gone from the store.
        for token in [&first, &second] {
            let (status, body) = me(&server, token).await;
            assert_eq!(status, 401, "{body}");
        }
        assert_eq!(server.store.count_access_tokens_of_client(&client_id).await.unwrap(), 0);
        let jwt = Assertion::new(&server, &rsa, Some("k1"), &client_id).sign(&server);
        assert_eq!(oauth_error(oauth2_with_assertion(&server, &client_id, &jwt, &[]).await), "invalid_client");
        // Revoking again changes nothing; a revoked client takes no new credentials.
        assert_eq!(server.call(Method::POST, &format!("/v1/clients/{client_id}/revoke"), &admin, None).await.0, 200);
        let (status, body) = server.call(Method::POST, &format!("/v1/clients/{client_id}/keys"), &admin, Some(json!({"jwk": key("rsa-2").jwk}))).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["type"], "urn:dinhdanh:problem:client-revoked");
        let revocations = server.store.recent_audit(Some("client.revoke"), 10).await.unwrap();
        assert_eq!(revocations.len(), 1);
        assert_eq!(revocations[0].detail["access_tokens_deleted"], 2);
        assert!(revocations[0].actor.starts_with("officer:"));

        // A suspended organization: its tokens stop working (403) and its clients get no new ones.
        let court = server.organization("TAND-HN", OrganizationKind::ProsecutingAgency).await;
        let ec = key("ec-1");
        let court_client = id(&jwt_client(&server, &admin, &court.id, vec![ec.jwk.clone()], json!(["locks:request"])).await);
        let token = access_token(oauth2_with_assertion(&server, &court_client, &Assertion::new(&server, &ec, None, &court_client).sign(&server), &[]).await);
        assert_eq!(me(&server, &token).await.0, 200);
        let mut tx = server.store.begin().await.unwrap();
        let mut org = tx.lock_organization(&court.id).await.unwrap().unwrap();
        org.status = OrganizationStatus::Suspended;
        tx.update_organization(&org).await.unwrap();
        tx.commit().await.unwrap();
        let (status, body) = me(&server, &token).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["type"], "urn:dinhdanh:problem:organization-suspended");
        let jwt = Assertion::new(&server, &ec, None, &court_client).sign(&server);
        let (status, body) = assertion_status(&server, &court_client, &jwt).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")));
    }

    scopes_are_checked(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("MB", OrganizationKind::RelyingParty).await;
        let ed = key("ed-1");
        let client_id = id(&jwt_client(&server, &admin, &bank.id, vec![ed.jwk.clone()], json!(["accounts:status", "locks:request"])).await);
        let ask = |scopes: &'static [&'static str]| {
            let jwt = Assertion::new(&server, &ed, None, &client_id).sign(&server);
            let client_id = client_id.clone();
            let server = &server;
            async move { oauth2_with_assertion(server, &client_id, &jwt, scopes).await }
        };
        assert_eq!(oauth_error(ask(&["locks:lift"]).await), "invalid_scope");
        assert_eq!(oauth_error(ask(&["accounts:status", "locks:lift"]).await), "invalid_scope");
        assert_eq!(oauth_error(ask(&["accounts:write"]).await), "invalid_scope");
        let token = access_token(ask(&["accounts:status"]).await);
        assert_eq!(me(&server, &token).await.1["scopes"], json!(["accounts:status"]));
        let token = access_token(ask(&[]).await);
        assert_eq!(me(&server, &token).await.1["scopes"], json!(["locks:request", "accounts:status"]));
        // A raw invalid_scope is 400.
        let jwt = Assertion::new(&server, &ed, None, &client_id).sign(&server);
        let form = [("grant_type", "client_credentials"), ("scope", "locks:lift"), ("client_assertion_type", JWT_BEARER), ("client_assertion", jwt.as_str())];
        let (status, body, _) = raw_token(&server, &form, None).await;
        assert_eq!((status, body["error"].as_str()), (400, Some("invalid_scope")));

        // Scopes a client may hold follow its organization's kind: the operator holds none.
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (status, body) = server
            .call(Method::POST, &format!("/v1/organizations/{}/clients", operator.id), &admin,
                Some(json!({"name": "x", "auth_method": "client_secret", "scopes": ["accounts:status"]})))
            .await;
        assert_eq!(status, 422, "{body}");
        assert_eq!(body["errors"][0]["field"], "scopes");
        let (status, body) = server
            .call(Method::POST, &format!("/v1/organizations/{}/clients", bank.id), &admin,
                Some(json!({"name": "x", "auth_method": "client_secret", "scopes": ["accounts:write"]})))
            .await;
        assert_eq!(status, 422, "{body}");
        let (status, _) = server
            .call(Method::POST, "/v1/organizations/no-such-org/clients", &admin,
                Some(json!({"name": "x", "auth_method": "client_secret", "scopes": ["accounts:status"]})))
            .await;
        assert_eq!(status, 404);
    }

    tokens_expire(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("VPB", OrganizationKind::RelyingParty).await;
        let created = secret_client(&server, &admin, &bank.id).await;
        let token = access_token(oauth2_with_secret(&server, &id(&created), created["client_secret"].as_str().unwrap(), AuthType::BasicAuth).await);
        server.clock.advance(Duration::minutes(9));
        assert_eq!(me(&server, &token).await.0, 200);
        server.clock.advance(Duration::minutes(1));
        assert_eq!(me(&server, &token).await.0, 401);
    }

    keys_and_secrets_rotate_without_downtime(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("SHB", OrganizationKind::RelyingParty).await;
        let (old, new) = (key("rsa-1"), key("rsa-2"));
        let created = jwt_client(&server, &admin, &bank.id, vec![with_kid(old.jwk.clone(), "2026-01")], json!(["accounts:status"])).await;
        let client_id = id(&created);
        let old_credential = created["credentials"][0]["credential_id"].as_str().unwrap().to_owned();
        let get = |k: &TestKey, kid: &'static str| {
            let jwt = Assertion::new(&server, k, Some(kid), &client_id).sign(&server);
            let client_id = client_id.clone();
            let server = &server;
            async move { oauth2_with_assertion(server, &client_id, &jwt, &[]).await }
        };

        // Add the new key: both work.
        let path = format!("/v1/clients/{client_id}/keys");
        let (status, body) = server.call(Method::POST, &path, &admin, Some(json!({"jwk": with_kid(new.jwk.clone(), "2026-07")}))).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["key_id"], "2026-07");
        let new_credential = body["credential_id"].as_str().unwrap().to_owned();
        let before_removal = access_token(get(&old, "2026-01").await);
        access_token(get(&new, "2026-07").await);
        // A private key, a duplicate kid, a symmetric key and a small RSA key are refused.
        let mut private = with_kid(new.jwk.clone(), "p");
        private["d"] = json!("AAAA");
        for bad in [private, with_kid(new.jwk.clone(), "2026-07"), json!({"kty": "oct", "k": "c2VjcmV0"}), json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})] {
            let (status, body) = server.call(Method::POST, &path, &admin, Some(json!({"jwk": bad}))).await;
            assert_eq!(status, 422, "{body}");
        }

        // Remove the old key: it stops working for new tokens; the token it got keeps working until it expires.
        let (status, _) = server.call(Method::DELETE, &format!("/v1/clients/{client_id}/credentials/{old_credential}"), &admin, None).await;
        assert_eq!(status, 204);
        assert_eq!(oauth_error(get(&old, "2026-01").await), "invalid_client");
        access_token(get(&new, "2026-07").await);
        assert_eq!(me(&server, &before_removal).await.0, 200);
        server.clock.advance(Duration::minutes(10));
        assert_eq!(me(&server, &before_removal).await.0, 401);
        // The last key cannot be removed.
        let (status, body) = server.call(Method::DELETE, &format!("/v1/clients/{client_id}/credentials/{new_credential}"), &admin, None).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["type"], "urn:dinhdanh:problem:last-credential");
        let (_, shown) = server.call(Method::GET, &format!("/v1/clients/{client_id}"), &admin, None).await;
        let credential = |id: &str| shown["credentials"].as_array().unwrap().iter().find(|c| c["credential_id"] == id).unwrap().clone();
        assert!(credential(&old_credential)["removed_at"].is_string());
        assert!(credential(&new_credential)["removed_at"].is_null());

        // Secrets rotate the same way.
        let created = secret_client(&server, &admin, &bank.id).await;
        let secret_client_id = id(&created);
        let old_secret = created["client_secret"].as_str().unwrap().to_owned();
        let old_secret_id = created["credentials"][0]["credential_id"].as_str().unwrap().to_owned();
        let (status, added) = server.call(Method::POST, &format!("/v1/clients/{secret_client_id}/secrets"), &admin, None).await;
        assert_eq!(status, 201, "{added}");
        let new_secret = added["client_secret"].as_str().unwrap().to_owned();
        assert_ne!(new_secret, old_secret);
        access_token(oauth2_with_secret(&server, &secret_client_id, &old_secret, AuthType::BasicAuth).await);
        access_token(oauth2_with_secret(&server, &secret_client_id, &new_secret, AuthType::RequestBody).await);
        let (status, _) = server.call(Method::DELETE, &format!("/v1/clients/{secret_client_id}/credentials/{old_secret_id}"), &admin, None).await;
        assert_eq!(status, 204);
        assert_eq!(oauth_error(oauth2_with_secret(&server, &secret_client_id, &old_secret, AuthType::BasicAuth).await), "invalid_client");
        access_token(oauth2_with_secret(&server, &secret_client_id, &new_secret, AuthType::BasicAuth).await);
        // A key for a secret client is refused.
        let (status, _) = server.call(Method::POST, &format!("/v1/clients/{secret_client_id}/keys"), &admin, Some(json!({"jwk": new.jwk}))).await;
        assert_eq!(status, 422);

        let actions: Vec<String> = server.store.recent_audit(None, 200).await.unwrap().iter().filter(|r| r.action.starts_with("client.")).map(|r| r.action.clone()).collect();
        for action in ["client.create", "client.key.add", "client.secret.add", "client.credential.remove"] {
            assert!(actions.iter().any(|a| a == action), "{action} not in {actions:?}");
        }
        let text = audit_text(&server).await;
        assert!(!text.contains(&old_secret) && !text.contains(&new_secret) && !text.contains("dd_cs_") && !text.contains("dd_at_"));
    }

    a_client_secret_client_takes_no_jwks(db) {
        // Found by the schema fuzzer: `"jwks": {"keys": []}` (against the schema's minItems 1) was accepted and
        // ignored for a client_secret client, while any key in it was refused.
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("VCB", OrganizationKind::RelyingParty).await;
        let path = format!("/v1/organizations/{}/clients", bank.id);
        let body = json!({"name": "Cổng dịch vụ", "auth_method": "client_secret", "scopes": ["accounts:status"], "jwks": {"keys": []}});
        let (status, answer) = server.call(Method::POST, &path, &admin, Some(body)).await;
        assert_eq!((status, answer["errors"][0]["field"].as_str()), (422, Some("jwks")), "{answer}");
        assert!(server.store.api_clients_of_organization(&bank.id).await.unwrap().is_empty(), "nothing created");
        let body = json!({"name": "Cổng dịch vụ", "auth_method": "client_secret", "scopes": ["accounts:status"], "jwks": null});
        let (status, answer) = server.call(Method::POST, &path, &admin, Some(body)).await;
        assert_eq!(status, 201, "an explicit null is no jwks: {answer}");
    }

    only_administrators_manage_clients(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("OCB", OrganizationKind::RelyingParty).await;
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (_, reviewer) = server.officer_session(&operator.id, &[OfficerRole::Reviewer, OfficerRole::Supervisor]).await;
        let body = json!({"name": "x", "auth_method": "client_secret", "scopes": ["accounts:status"]});
        let path = format!("/v1/organizations/{}/clients", bank.id);
        let (status, problem) = server.call(Method::POST, &path, &reviewer, Some(body.clone())).await;
        assert_eq!(status, 403, "{problem}");
        assert_eq!(server.call(Method::GET, &path, &reviewer, None).await.0, 403);
        assert_eq!(server.call(Method::POST, &path, "dd_os_nonsense", Some(body.clone())).await.0, 401);
        // An organization's own token cannot manage clients either, not even its own.
        let created = secret_client(&server, &admin, &bank.id).await;
        let token = access_token(oauth2_with_secret(&server, &id(&created), created["client_secret"].as_str().unwrap(), AuthType::BasicAuth).await);
        assert_eq!(server.call(Method::POST, &path, &token, Some(body.clone())).await.0, 403);
        assert_eq!(server.call(Method::POST, &format!("/v1/clients/{}/revoke", id(&created)), &token, None).await.0, 403);
        // /v1/clients/me is for organizations' tokens only.
        assert_eq!(me(&server, &admin).await.0, 403);
        assert_eq!(me(&server, "dd_at_unknown").await.0, 401);

        let (status, list) = server.call(Method::GET, &path, &admin, None).await;
        assert_eq!(status, 200);
        assert_eq!(list["clients"].as_array().unwrap().len(), 1);
        assert_eq!(server.call(Method::GET, "/v1/clients/nope", &admin, None).await.0, 404);
        let denied = server.store.recent_audit(Some("authorization.denied"), 10).await.unwrap();
        assert!(denied.iter().any(|r| r.detail["action"] == "clients.manage"));
    }

    malformed_token_requests(db) {
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("HDB", OrganizationKind::RelyingParty).await;
        let created = secret_client(&server, &admin, &bank.id).await;
        let (client_id, secret) = (id(&created), created["client_secret"].as_str().unwrap().to_owned());
        type Case<'a> = (Form<'a>, Option<(&'a str, &'a str)>, u16, &'a str);
        let cases: Vec<Case> = vec![
            (vec![("grant_type", "password")], Some((&client_id, &secret)), 400, "unsupported_grant_type"),
            (vec![("scope", "accounts:status")], Some((&client_id, &secret)), 400, "invalid_request"),
            (vec![("grant_type", "client_credentials"), ("grant_type", "client_credentials")], Some((&client_id, &secret)), 400, "invalid_request"),
            (vec![("grant_type", "client_credentials"), ("client_id", &client_id), ("client_secret", &secret)], Some((&client_id, &secret)), 400, "invalid_request"),
            (vec![("grant_type", "client_credentials"), ("client_secret", &secret)], None, 400, "invalid_request"),
            (vec![("grant_type", "client_credentials"), ("client_assertion", "a.b.c")], None, 400, "invalid_request"),
            (vec![("grant_type", "client_credentials")], None, 401, "invalid_client"),
        ];
        for (form, basic, status, error) in cases {
            let (got, body, headers) = raw_token(&server, &form, basic).await;
            assert_eq!((got, body["error"].as_str()), (status, Some(error)), "{form:?}: {body}");
            assert_eq!(headers["cache-control"], "no-store");
        }
        // JSON is not a token request.
        let response = server.http.post(server.url("/oauth/token")).json(&json!({"grant_type": "client_credentials"})).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400);
        // Basic credentials are form-url-encoded before base64 (RFC 6749 §2.3.1): a raw secret still works since
        // it has no reserved characters, and so does its encoded form.
        let (status, body, _) = raw_token(&server, &[("grant_type", "client_credentials")], Some((&client_id, &secret))).await;
        assert_eq!(status, 200, "{body}");
    }

    a_configured_public_url_is_the_only_audience(db) {
        let config = ServerConfig { public_url: Some("https://eid.example.vn".into()), ..support::relaxed_config() };
        let server = TestServer::start_with(&db, config).await;
        let admin = server.admin().await;
        let bank = server.organization("VPB", OrganizationKind::RelyingParty).await;
        let rsa = key("rsa-1");
        let created = jwt_client(&server, &admin, &bank.id, vec![with_kid(rsa.jwk.clone(), "k1")], json!(["accounts:status"])).await;
        let client_id = id(&created);
        // An assertion addressed to whatever Host the request came through no longer counts.
        let via_host = Assertion::new(&server, &rsa, Some("k1"), &client_id).sign(&server);
        assert_eq!(assertion_status(&server, &client_id, &via_host).await.0, 401);
        let mut to_issuer = Assertion::new(&server, &rsa, Some("k1"), &client_id);
        to_issuer.aud = "https://eid.example.vn/oauth/token".into();
        let (status, body) = assertion_status(&server, &client_id, &to_issuer.sign(&server)).await;
        assert_eq!(status, 200, "{body}");
    }

    tokens_requested_together_are_each_stored_audited_and_revoked(db) {
        // The token endpoint commits its writes in groups: tokens asked for at once share transactions, and
        // each is still stored, audited once, usable, and ended by the client's revocation.
        let server = TestServer::start(&db).await;
        let admin = server.admin().await;
        let bank = server.organization("ACB", OrganizationKind::RelyingParty).await;
        let created = secret_client(&server, &admin, &bank.id).await;
        let (client_id, secret) = (id(&created), created["client_secret"].as_str().unwrap().to_owned());
        let (batches_before, _) = dinhdanh_store::group_commit_totals();
        let requests = (0..40).map(|_| raw_token(&server, &[("grant_type", "client_credentials")], Some((&client_id, &secret))));
        let answers = futures_util::future::join_all(requests).await;
        let tokens: std::collections::BTreeSet<String> = answers
            .iter()
            .map(|(status, body, _)| {
                assert_eq!(*status, 200, "{body}");
                body["access_token"].as_str().unwrap().to_owned()
            })
            .collect();
        assert_eq!(tokens.len(), 40, "forty distinct tokens");
        assert_eq!(server.store.count_access_tokens_of_client(&client_id).await.unwrap(), 40);
        let issued = server.store.recent_audit(Some("oauth.token"), 100).await.unwrap();
        assert_eq!(issued.iter().filter(|r| r.outcome == "ok").count(), 40, "one audit entry per token");
        assert!(dinhdanh_store::group_commit_totals().0 > batches_before, "issued through the group commit");
        for token in &tokens {
            assert_eq!(me(&server, token).await.0, 200);
        }
        let (status, body) = server.call(Method::POST, &format!("/v1/clients/{client_id}/revoke"), &admin, None).await;
        assert_eq!(status, 200, "{body}");
        for token in &tokens {
            assert_eq!(me(&server, token).await.0, 401, "revoked with its client, cache or not");
        }
        let (status, _, _) = raw_token(&server, &[("grant_type", "client_credentials")], Some((&client_id, &secret))).await;
        assert_eq!(status, 401, "no new token for a revoked client");
    }

    openapi_lists_the_client_operations(db) {
        let server = TestServer::start(&db).await;
        let doc: Value = server.http.get(server.url("/openapi.json")).send().await.unwrap().json().await.unwrap();
        let text = doc.to_string();
        for op in ["issueToken", "createClient", "listClients", "getClient", "addClientKey", "addClientSecret", "removeClientCredential", "revokeClient", "getCurrentClient"] {
            assert!(text.contains(&format!("\"operationId\":\"{op}\"")), "{op} missing");
        }
        assert!(doc["paths"]["/oauth/token"]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"].is_object());
        assert!(doc["paths"]["/v1/clients/{client_id}/revoke"]["post"]["security"].is_array());
    }
}

/// Four token requests with the same assertion at once.
async fn futures_join(server: &TestServer, client_id: &str, jwt: &str) -> Vec<u16> {
    let (a, b, c, d) = tokio::join!(
        assertion_status(server, client_id, jwt),
        assertion_status(server, client_id, jwt),
        assertion_status(server, client_id, jwt),
        assertion_status(server, client_id, jwt),
    );
    vec![a.0, b.0, c.0, d.0]
}
