//! A relying party's side of the OpenID Connect provider, driven by a client library written by others (the
//! `openidconnect` crate) and a browser without JavaScript: its registration, discovery, the authorization URL
//! with PKCE and a nonce, the sign-in pages, the code exchange, and the introspection and userinfo checks.

use std::collections::BTreeMap;

use dinhdanh_domain::client::ClientAuthMethod;
use dinhdanh_server::clock::Clock;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl,
};
use serde_json::Value;

use super::browser::{Browser, Page};
use super::{MAI_ID, MAI_PASSWORD, TestServer};

pub const REDIRECT: &str = "https://nganhang.example.vn/dang-nhap/callback";
pub const AFTER_LOGOUT: &str = "https://nganhang.example.vn/da-dang-xuat";

/// A relying party's API client with a secret, and its OpenID Connect registration.
pub struct RelyingParty {
    pub client_id: String,
    pub secret: String,
    pub redirect: String,
}

pub async fn relying_party(server: &TestServer, code: &str) -> RelyingParty {
    relying_party_at(server, code, REDIRECT).await
}

/// A relying party whose one redirect URI is `redirect` (its host is the pairwise sector).
pub async fn relying_party_at(server: &TestServer, code: &str, redirect: &str) -> RelyingParty {
    relying_party_with(server, code, redirect, ClientAuthMethod::ClientSecret).await
}

/// A `private_key_jwt` client assertion (RFC 7523) for `aud`, with a fresh `jti` unless one is given.
pub fn assertion(server: &TestServer, client_id: &str, aud: &str, jti: Option<&str>) -> String {
    let now = server.clock.now().timestamp();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256);
    header.kid = Some(super::TEST_EC_KID.into());
    let jti = jti.map(str::to_owned).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let claims = serde_json::json!({
        "iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60, "jti": jti,
    });
    jsonwebtoken::encode(&header, &claims, &super::test_ec_key().0).unwrap()
}

/// A relying party that proves itself with `method`: a secret (`RelyingParty::secret`), or `private_key_jwt`
/// with the key of `super::test_ec_key` (then `secret` is empty).
pub async fn relying_party_with(
    server: &TestServer,
    code: &str,
    redirect: &str,
    method: ClientAuthMethod,
) -> RelyingParty {
    let (client_id, secret) = server.relying_party_client(code, method).await;
    // As an administrator saves it over the API (the service validates it and checks the organization's kind).
    let admin = server.admin().await;
    let body = serde_json::json!({
        "redirect_uris": [redirect],
        "post_logout_redirect_uris": [AFTER_LOGOUT],
        "scopes": ["openid", "profile", "phone", "offline_access"],
        "claims": ["name", "phone_number", "phone_number_verified"],
    });
    let path = format!("/v1/clients/{client_id}/oidc");
    let (status, saved) = server.call(reqwest::Method::PUT, &path, &admin, Some(body)).await;
    assert_eq!(status, 200, "{saved}");
    assert_eq!(saved["subject_type"], "pairwise");
    let method_name = match method {
        ClientAuthMethod::ClientSecret => "client_secret",
        ClientAuthMethod::PrivateKeyJwt => "private_key_jwt",
    };
    assert_eq!(saved["token_endpoint_auth_method"], method_name);
    RelyingParty { client_id, secret, redirect: redirect.to_owned() }
}

pub type Rp = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

pub fn http() -> openidconnect::reqwest::Client {
    openidconnect::reqwest::Client::builder()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The relying party's client, from the provider's discovery document.
pub async fn discover(server: &TestServer, rp: &RelyingParty) -> Rp {
    let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &http())
        .await
        .expect("discovery and JWKS accepted by the library");
    CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(rp.client_id.clone()),
        Some(ClientSecret::new(rp.secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(rp.redirect.clone()).unwrap())
}

/// One authorization as the relying party starts it.
pub struct Started {
    pub url: String,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

/// An authorization URL asking for nothing more than a sign-in.
pub fn started_plain(client: &Rp) -> String {
    start_with(client, &[]).url
}

pub fn start(client: &Rp) -> Started {
    start_with(client, &["profile", "phone"])
}

/// With `offline_access` too: the code exchange also gives a refresh token.
pub fn start_offline(client: &Rp) -> Started {
    start_with(client, &["profile", "phone", "offline_access"])
}

pub fn start_with(client: &Rp, scopes: &[&str]) -> Started {
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
        .set_pkce_challenge(challenge);
    for scope in scopes {
        request = request.add_scope(openidconnect::Scope::new((*scope).into()));
    }
    let (url, state, nonce) = request.url();
    Started { url: url.to_string(), state, nonce, verifier }
}

/// Whether the provider's introspection endpoint calls the token active, asked by the client library.
pub async fn introspected_active(server: &TestServer, client: &Rp, token: &openidconnect::AccessToken) -> bool {
    let url = openidconnect::IntrospectionUrl::new(server.url("/oauth/introspect")).unwrap();
    let response = client.clone().set_introspection_url(url).introspect(token).request_async(&http()).await;
    openidconnect::TokenIntrospectionResponse::active(&response.expect("an introspection answer"))
}

/// Drives the pages from the authorization URL to the redirect back to the client as Mai; returns the
/// `Location`.
pub async fn sign_in_through_pages(server: &TestServer, browser: &mut Browser, url: &str) -> String {
    sign_in_through_pages_as(server, browser, url, &[("id_number", MAI_ID)], MAI_PASSWORD).await
}

/// The same for the holder these identity fields name.
pub async fn sign_in_through_pages_as(
    server: &TestServer,
    browser: &mut Browser,
    url: &str,
    identity: &[(&str, &str)],
    password: &str,
) -> String {
    let (page, interaction, csrf) = through_code_as(server, browser, url, identity, password).await;
    if page.status == 303 {
        // A remembered consent covers the request.
        return page.location.expect("a redirect back to the client");
    }
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("Họ và tên"), "the consent page lists each claim: {}", page.html);
    let action = server.url("/oauth/authorize");
    let page = browser
        .post(
            &format!("{action}/consent"),
            &[
                ("interaction", &interaction),
                ("csrf", &csrf),
                ("claim", "name"),
                ("claim", "phone_number"),
                ("decision", "allow"),
            ],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.html);
    page.location.expect("a redirect back to the client")
}

/// Mai's password and code on the pages the authorization URL opens; returns what the code step answered (the
/// consent page, or a redirect back to the client) with the interaction and its CSRF token.
pub async fn through_code(server: &TestServer, browser: &mut Browser, url: &str) -> (Page, String, String) {
    through_code_as(server, browser, url, &[("id_number", MAI_ID)], MAI_PASSWORD).await
}

pub async fn through_code_as(
    server: &TestServer,
    browser: &mut Browser,
    url: &str,
    identity: &[(&str, &str)],
    password: &str,
) -> (Page, String, String) {
    let page = browser.get(url).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert_eq!(page.lang(), "vi", "Vietnamese by default: {}", page.html);
    assert!(page.html.contains("Số định danh cá nhân"), "{}", page.html);
    assert!(!page.html.contains("Personal identification number"), "one language a page: {}", page.html);
    assert!(page.html.contains(">English</a>"), "a switch to English: {}", page.html);
    let (interaction, csrf) = (page.field("interaction"), page.field("csrf"));
    let action = server.url("/oauth/authorize");
    let mut form = vec![("interaction", interaction.as_str()), ("csrf", csrf.as_str()), ("password", password)];
    form.extend_from_slice(identity);
    let page = browser.post(&format!("{action}/password"), &form).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(page.html.contains("name=\"code\""), "{}", page.html);
    let code = server.last_sign_in_code().await;
    let page = browser
        .post(&format!("{action}/code"), &[("interaction", &interaction), ("csrf", &csrf), ("code", &code)])
        .await;
    (page, interaction, csrf)
}

/// The code in a redirect back to the client, exchanged by the library with the PKCE verifier.
pub async fn exchange(
    client: &Rp,
    location: &str,
    verifier: PkceCodeVerifier,
) -> openidconnect::core::CoreTokenResponse {
    client
        .exchange_code(AuthorizationCode::new(query_of(location)["code"].clone()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http())
        .await
        .expect("the code exchange")
}

pub fn query_of(location: &str) -> BTreeMap<String, String> {
    let url = openidconnect::url::Url::parse(location).unwrap();
    url.query_pairs().map(|(n, v)| (n.into_owned(), v.into_owned())).collect()
}

/// The access token a sign-in of the holder with this identification number gets (Mai's password).
pub async fn access_token_of(server: &TestServer, client: &Rp, id_number: &str) -> String {
    let started = start(client);
    let identity = [("id_number", id_number)];
    let location = sign_in_through_pages_as(server, &mut Browser::new(), &started.url, &identity, MAI_PASSWORD).await;
    exchange(client, &location, started.verifier).await.access_token().secret().clone()
}

/// Whether introspection calls `token` active, asked over plain HTTP by `rp` with its secret.
pub async fn active(http: &reqwest::Client, url: &str, rp: &RelyingParty, token: &str) -> bool {
    let response =
        http.post(url).basic_auth(&rp.client_id, Some(&rp.secret)).form(&[("token", token)]).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    body["active"].as_bool().unwrap_or_else(|| panic!("{body}"))
}

/// Userinfo's status for `token`.
pub async fn userinfo_status(http: &reqwest::Client, url: &str, token: &str) -> u16 {
    http.get(url).bearer_auth(token).send().await.unwrap().status().as_u16()
}

pub fn jti_of(token: &str) -> String {
    let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(token).unwrap().claims;
    claims["jti"].as_str().unwrap().to_owned()
}

/// What a sign-in to `client_id` leaves for `account`: a live grant (Level 1, password and code), written
/// straight to the store.
pub async fn grant_of(server: &TestServer, client_id: &str, account: &dinhdanh_domain::AccountId) {
    let now = server.clock.now();
    let grant = dinhdanh_oidc::tokens::Grant {
        id: uuid::Uuid::new_v4().to_string(),
        client_id: client_id.to_owned(),
        account_id: account.clone(),
        scopes: [dinhdanh_oidc::scope::Scope::OpenId].into(),
        claims: Default::default(),
        id_token_claims: Default::default(),
        acr: dinhdanh_domain::Level::One,
        amr: vec!["pwd".into(), "otp".into()],
        auth_time: now,
    };
    let mut tx = server.store.begin().await.unwrap();
    tx.insert_oidc_grant(&grant, "a-session-hash", now).await.unwrap();
    tx.commit().await.unwrap();
}
