//! The OpenID Connect provider end to end over real HTTP, on SQLite and on PostgreSQL, driven by a relying-party
//! library written by others (the `openidconnect` crate): discovery, the authorization URL with PKCE and a
//! nonce, the sign-in pages (identifier and password, one-time code, consent) driven like a browser without
//! JavaScript, the code exchange, the ID token verified against the JWKS (ES256, `iss`, `aud`, `nonce`,
//! `at_hash`, `acr`), userinfo. Then what must be refused: a lock between authorization and exchange, a locked
//! holder's userinfo, a wrong PKCE verifier, a reused code, an unregistered redirect URI (never redirected), a
//! forged form; and key rotation (a key is published before it signs). The pages speak Vietnamese, or English
//! when `ui_locales` asks for it, and their language switch keeps the interaction and is remembered. Last,
//! introspection and userinfo answered from memory (the credential cache) against a lock: placed through the
//! lock engine under load, by a bulk order, or by another process or node, it refuses the very next request.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::actor::OrganizationKind;
use dinhdanh_domain::client::ClientAuthMethod;
use dinhdanh_domain::{Account, AccountId, AccountStatus, FullName, IdentificationNumber, IdentityKey, Level};
use dinhdanh_domain::{Email, ProvinceTable};
use dinhdanh_server::clock::Clock;
use dinhdanh_server::secrets::hash_secret;
use dinhdanh_store::on_both_backends;
use openidconnect::core::{CoreAuthenticationFlow, CoreJwsSigningAlgorithm, CoreUserInfoClaims};
use openidconnect::{
    AccessTokenHash, AuthenticationContextClass, AuthorizationCode, CsrfToken, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, TokenResponse,
};
use serde_json::Value;

mod support;
use support::browser::{Browser, Page};
use support::oidc::*;
use support::{MAI_ID, MAI_PASSWORD, TestServer, citizen, lock, lock_through, mai};

/// The biometric page's form, as the capture app fills it in: `(interaction, csrf)` of the sign-in.
async fn post_capture(
    server: &TestServer,
    browser: &mut Browser,
    (interaction, csrf): (&str, &str),
    modality: &str,
    template: &str,
) -> Page {
    let form = [("interaction", interaction), ("csrf", csrf), ("modality", modality), ("template", template)];
    browser.post(&server.url("/oauth/authorize/biometric"), &form).await
}

fn at(server: &TestServer) -> impl Fn() -> DateTime<Utc> + Send + Sync + 'static {
    let clock = server.clock.clone();
    move || clock.now()
}

on_both_backends! {
    discovery_document_and_jwks_publish_only_what_a_client_needs(db) {
        let server = TestServer::start(&db).await;
        let metadata: Value = server.http.get(server.url("/.well-known/openid-configuration")).send().await.unwrap()
            .json().await.unwrap();
        assert_eq!(metadata["issuer"], server.base.as_str());
        assert_eq!(metadata["authorization_endpoint"], server.url("/oauth/authorize"));
        assert_eq!(metadata["token_endpoint"], server.url("/oauth/token"));
        assert_eq!(metadata["userinfo_endpoint"], server.url("/oauth/userinfo"));
        assert_eq!(metadata["jwks_uri"], server.url("/oauth/jwks"));
        assert_eq!(metadata["id_token_signing_alg_values_supported"], serde_json::json!(["ES256"]));
        assert_eq!(metadata["code_challenge_methods_supported"], serde_json::json!(["S256"]));
        assert_eq!(metadata["response_types_supported"], serde_json::json!(["code"]));
        assert_eq!(metadata["authorization_response_iss_parameter_supported"], true);

        let response = server.http.get(server.url("/oauth/jwks")).send().await.unwrap();
        assert!(response.headers()["cache-control"].to_str().unwrap().contains("max-age"));
        let jwks: Value = response.json().await.unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2, "the current key and the next one: {jwks}");
        for key in keys {
            assert_eq!((key["kty"].as_str(), key["crv"].as_str(), key["alg"].as_str()), (Some("EC"), Some("P-256"), Some("ES256")));
            let members: BTreeSet<&str> = key.as_object().unwrap().keys().map(String::as_str).collect();
            assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x", "y"].into(), "public parts only: {key}");
        }
    }

    a_relying_party_asking_for_level_2_gets_it_only_through_a_biometric_match(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHB").await;
        let account = mai(&server).await;
        let mut tx = server.store.begin().await.unwrap();
        tx.set_account_level(&account, Level::Two, server.clock.now()).await.unwrap();
        tx.commit().await.unwrap();
        let mut person = support::biometrics::Person::new(16);
        person.enrol_as(&server, MAI_ID).await;
        let mut stranger = support::biometrics::Person::new(99);
        let client = discover(&server, &rp).await;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, _, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge)
            .add_scope(openidconnect::Scope::new("profile".into()))
            .add_auth_context_value(AuthenticationContextClass::new("urn:dinhdanh:loa:2".into()))
            .url();
        // Password and code prove Level 1; the account is Level 2, so the biometric page follows.
        let mut browser = Browser::new();
        let (page, interaction, csrf) = through_code(&server, &mut browser, url.as_str()).await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(page.html.contains("name=\"template\"") && page.html.contains("Xác thực mức độ 2"), "{}", page.html);
        let level_1_cookie = browser.cookies.get("dd_session").cloned().expect("the provider session");
        // Someone else's finger: the page again, with the tries left; an unreadable template is not counted.
        let stranger_finger = stranger.finger()["template"].as_str().unwrap().to_owned();
        let page = post_capture(&server, &mut browser, (&interaction, &csrf), "finger", &stranger_finger).await;
        assert_eq!(page.status, 200);
        assert!(page.html.contains("hôm nay còn 4 lần thử") && page.html.contains("role=\"alert\""), "{}", page.html);
        let page = post_capture(&server, &mut browser, (&interaction, &csrf), "finger", "not base64!").await;
        assert!(page.html.contains("Không đọc được mẫu sinh trắc học"), "{}", page.html);
        // Her own finger: the session is replaced by one that proved Level 2, then consent, then the client.
        let own = person.finger()["template"].as_str().unwrap().to_owned();
        let page = post_capture(&server, &mut browser, (&interaction, &csrf), "finger", &own).await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(page.html.contains("Họ và tên"), "the consent page: {}", page.html);
        assert_ne!(browser.cookies.get("dd_session"), Some(&level_1_cookie), "a new session for the new sign-in");
        let page = browser
            .post(&server.url("/oauth/authorize/consent"), &[("interaction", &interaction), ("csrf", &csrf), ("claim", "name"), ("decision", "allow")])
            .await;
        assert_eq!(page.status, 303, "{}", page.html);
        let tokens = exchange(&client, page.location.as_deref().unwrap(), verifier).await;
        let id_token = tokens.id_token().expect("an ID token");
        let checker = client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256])
            .set_time_fn(at(&server));
        let claims = id_token.claims(&checker, &nonce).expect("a valid ID token");
        assert_eq!(claims.auth_context_ref(), Some(&AuthenticationContextClass::new("urn:dinhdanh:loa:2".into())));
        let amr: Vec<&str> = claims.auth_method_refs().unwrap().iter().map(|m| m.as_str()).collect();
        assert_eq!(amr, ["pwd", "otp", "fpt"], "RFC 8176: password, one-time code, fingerprint");

        // Single sign-on: the next Level 2 request is answered from the Level 2 session, without a page.
        let (challenge, _) = PkceCodeChallenge::new_random_sha256();
        let (again, ..) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge)
            .add_scope(openidconnect::Scope::new("profile".into()))
            .add_auth_context_value(AuthenticationContextClass::new("urn:dinhdanh:loa:2".into()))
            .add_prompt(openidconnect::core::CoreAuthPrompt::None)
            .url();
        let page = browser.get(again.as_str()).await;
        assert_eq!(page.status, 303, "{}", page.html);
        assert!(query_of(page.location.as_deref().unwrap()).contains_key("code"));
        // prompt=none on a Level 1 session of a Level 2 account: the check needs the holder, so it is refused.
        let mut other = Browser::new();
        let (page, ..) = through_code(&server, &mut other, &started_plain(&client)).await;
        assert!(matches!(page.status, 200 | 303), "{}", page.html);
        let (challenge, _) = PkceCodeChallenge::new_random_sha256();
        let (silent, ..) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .set_pkce_challenge(challenge)
            .add_auth_context_value(AuthenticationContextClass::new("urn:dinhdanh:loa:2".into()))
            .add_prompt(openidconnect::core::CoreAuthPrompt::None)
            .url();
        let page = other.get(silent.as_str()).await;
        assert_eq!(query_of(page.location.as_deref().unwrap()).get("error").map(String::as_str), Some("interaction_required"));
    }

    a_relying_party_signs_a_holder_in_with_code_and_pkce_and_verifies_the_id_token(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHA").await;
        let account = mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start(&client);
        let mut browser = Browser::new();
        let location = sign_in_through_pages(&server, &mut browser, &started.url).await;
        assert!(location.starts_with(REDIRECT), "{location}");
        let consents = server.store.recent_audit(Some("oidc.consent"), 10).await.unwrap();
        assert_eq!(consents.len(), 1, "the holder was asked");
        let query = query_of(&location);
        assert_eq!(query.get("state"), Some(started.state.secret()));
        assert_eq!(query.get("iss").map(String::as_str), Some(server.base.as_str()), "RFC 9207");
        let code = query["code"].clone();

        let tokens = client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .unwrap()
            .set_pkce_verifier(started.verifier)
            .request_async(&http())
            .await
            .expect("the code exchange");
        let id_token = tokens.id_token().expect("an ID token");
        // The provider signs ES256 only, so the client is told so (the library's default is RS256).
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256])
            .set_time_fn(at(&server));
        let claims = id_token.claims(&verifier, &started.nonce).expect("signature, iss, aud, exp, nonce");
        let at_hash = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(claims.access_token_hash(), Some(&at_hash));
        assert_eq!(claims.auth_context_ref(), Some(&AuthenticationContextClass::new("urn:dinhdanh:loa:1".into())));
        assert_ne!(claims.subject().as_str(), account.as_str(), "pairwise, not the account id");
        assert_eq!(claims.auth_time(), Some(server.clock.now()).map(|t| DateTime::from_timestamp(t.timestamp(), 0).unwrap()));

        let userinfo: CoreUserInfoClaims = client
            .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
            .unwrap()
            .request_async(&http())
            .await
            .expect("userinfo");
        let name = userinfo.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned());
        assert_eq!(name.as_deref(), Some("Trần Thị Mai"));
        assert_eq!(userinfo.phone_number().map(|p| p.as_str()), Some("+84912345678"));
        assert!(userinfo.email().is_none(), "the client is not registered for email");

        // A code is exchanged once; presented again, it is refused and its grant revoked (the tokens too).
        let again = client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(PkceCodeVerifier::new("a".repeat(43)))
            .request_async(&http())
            .await;
        assert!(format!("{again:?}").contains("invalid_grant"), "{again:?}");
        let response = server.http.get(server.url("/oauth/userinfo")).bearer_auth(tokens.access_token().secret())
            .send().await.unwrap();
        assert_eq!(response.status(), 401);

        // Single sign-on: the browser's session signs in to the client again, straight to a code (the consent
        // is remembered).
        let again = start(&client);
        let page = browser.get(&again.url).await;
        assert_eq!(page.status, 303, "{}", page.html);
        assert!(query_of(page.location.as_deref().unwrap()).contains_key("code"));
    }

    a_lock_makes_codes_sessions_and_tokens_of_the_holder_useless_at_once(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHB").await;
        let account = mai(&server).await;
        let client = discover(&server, &rp).await;

        // One sign-in ends in tokens, another one's code waits to be exchanged.
        let first = start(&client);
        let mut browser = Browser::new();
        let location = sign_in_through_pages(&server, &mut browser, &first.url).await;
        let tokens = exchange(&client, &location, first.verifier).await;
        let second = start(&client);
        let page = browser.get(&second.url).await;
        let pending = query_of(page.location.as_deref().expect("single sign-on"))["code"].clone();

        lock(&server, &account).await;

        let exchanged = client
            .exchange_code(AuthorizationCode::new(pending))
            .unwrap()
            .set_pkce_verifier(second.verifier)
            .request_async(&http())
            .await;
        assert!(format!("{exchanged:?}").contains("invalid_grant"), "{exchanged:?}");
        let response = server.http.get(server.url("/oauth/userinfo")).bearer_auth(tokens.access_token().secret())
            .send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(response.headers()["www-authenticate"], "Bearer error=\"invalid_token\"");

        // The browser's session ended with the lock: back to the sign-in page, where the right password is
        // answered with the lock's ground and how to lift it, and no code is sent.
        let third = start(&client);
        let page = browser.get(&third.url).await;
        assert_eq!(page.status, 200, "{}", page.html);
        let (interaction, csrf) = (page.field("interaction"), page.field("csrf"));
        let page = browser
            .post(
                &server.url("/oauth/authorize/password"),
                &[("interaction", &interaction), ("csrf", &csrf), ("id_number", MAI_ID), ("password", MAI_PASSWORD)],
            )
            .await;
        assert_eq!(page.status, 403, "{}", page.html);
        assert!(page.html.contains("Tài khoản đang bị khoá"), "{}", page.html);
        let refusals = server.store.recent_audit(Some("holder.sign_in.start"), 10).await.unwrap();
        assert_eq!(refusals[0].detail["reason"], "account_locked");
    }

    a_wrong_pkce_verifier_is_refused(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHC").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start(&client);
        let location = sign_in_through_pages(&server, &mut Browser::new(), &started.url).await;
        let code = query_of(&location)["code"].clone();
        let wrong = PkceCodeChallenge::new_random_sha256().1;
        let exchanged = client
            .exchange_code(AuthorizationCode::new(code.clone()))
            .unwrap()
            .set_pkce_verifier(wrong)
            .request_async(&http())
            .await;
        assert!(format!("{exchanged:?}").contains("invalid_grant"), "{exchanged:?}");
        // Refusing a wrong verifier does not spend the code: the right one still works.
        let exchanged = client
            .exchange_code(AuthorizationCode::new(code))
            .unwrap()
            .set_pkce_verifier(started.verifier)
            .request_async(&http())
            .await;
        assert!(exchanged.is_ok(), "{exchanged:?}");
        let refused = server.store.recent_audit(Some("oidc.token"), 10).await.unwrap();
        assert!(refused.iter().any(|r| r.outcome == "refused" && r.detail["reason"] == "invalid_grant"));
    }

    an_unregistered_redirect_uri_is_refused_on_the_providers_page_without_redirect(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHD").await;
        let client = discover(&server, &rp).await;
        let started = start(&client);
        let evil = started.url.replace(
            &form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
            &form_urlencoded::byte_serialize(b"https://ke-gian.example/cb").collect::<String>(),
        );
        assert_ne!(evil, started.url);
        let page = Browser::new().get(&evil).await;
        assert_eq!(page.status, 400, "{}", page.html);
        assert!(page.location.is_none());
        assert!(page.html.contains("redirect_uri"), "{}", page.html);
        // And an unknown client likewise.
        let unknown = started.url.replace(&rp.client_id, "khong-co");
        let page = Browser::new().get(&unknown).await;
        assert_eq!((page.status, page.location.is_none()), (400, true));
    }

    a_form_without_the_browsers_csrf_token_is_refused(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHE").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start(&client);
        let mut browser = Browser::new();
        let page = browser.get(&started.url).await;
        let interaction = page.field("interaction");
        // Another browser (an attacker's page posting into the victim's) lacks the cookie.
        let page = Browser::new()
            .post(
                &server.url("/oauth/authorize/password"),
                &[("interaction", &interaction), ("csrf", &page.field("csrf")), ("id_number", MAI_ID),
                  ("password", MAI_PASSWORD)],
            )
            .await;
        assert_eq!(page.status, 403, "{}", page.html);
        let sent = server.store.outbox_messages(None, 100).await.unwrap();
        assert!(sent.iter().all(|m| m.kind != "holder_sign_in_code"), "no code was sent");
    }

    pairwise_subjects_differ_between_relying_parties_and_are_stable_for_one(db) {
        let server = TestServer::start(&db).await;
        let bank = relying_party(&server, "NHG").await;
        let telecom = relying_party_at(&server, "VT", "https://vienthong.example.vn/oidc/cb").await;
        mai(&server).await;
        let mut browser = Browser::new();
        let mut subjects = Vec::new();
        for (i, rp) in [&bank, &telecom, &bank].into_iter().enumerate() {
            let client = discover(&server, rp).await;
            let started = start(&client);
            // The first sign-in goes through the pages; then the browser's session signs in at once, after the
            // consent page for a client not consented to yet.
            let location = if i == 0 {
                sign_in_through_pages(&server, &mut browser, &started.url).await
            } else {
                let page = browser.get(&started.url).await;
                match page.location.clone() {
                    Some(location) => location,
                    None => {
                        assert!(page.html.contains("name=\"decision\""), "{}", page.html);
                        let (interaction, csrf) = (page.field("interaction"), page.field("csrf"));
                        let form = [("interaction", interaction.as_str()), ("csrf", csrf.as_str()), ("decision", "allow")];
                        browser.post(&server.url("/oauth/authorize/consent"), &form).await.location.unwrap()
                    }
                }
            };
            let tokens = exchange(&client, &location, started.verifier).await;
            let verifier = client
                .id_token_verifier()
                .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256])
                .set_time_fn(at(&server));
            subjects.push(tokens.id_token().unwrap().claims(&verifier, &started.nonce).unwrap().subject().to_string());
        }
        assert_ne!(subjects[0], subjects[1], "two relying parties cannot join their users by sub");
        assert_eq!(subjects[0], subjects[2], "one relying party always sees the same sub");

        // The holder sees which relying parties they signed in to, newest first.
        let session = browser.cookies["dd_session"].clone();
        let (status, history) = server.call(reqwest::Method::GET, "/v1/me/sign-ins", &session, None).await;
        assert_eq!(status, 200, "{history}");
        let names: Vec<&str> =
            history["sign_ins"].as_array().unwrap().iter().map(|s| s["client_name"].as_str().unwrap()).collect();
        assert_eq!(names.len(), 3, "{history}");
        assert!(names.contains(&"Ngân hàng NHG") && names.contains(&"Ngân hàng VT"), "{history}");
        assert_eq!(history["sign_ins"][0]["acr"], "urn:dinhdanh:loa:1");
        assert_eq!(history["sign_ins"][0]["scope"], "openid profile phone");
        // Nobody else's: an officer is refused.
        let admin = server.admin().await;
        assert_eq!(server.call(reqwest::Method::GET, "/v1/me/sign-ins", &admin, None).await.0, 403);
    }

    a_holder_who_declines_sends_access_denied_back_with_the_state(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHH").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start(&client);
        let mut browser = Browser::new();
        let page = browser.get(&started.url).await;
        let (interaction, csrf) = (page.field("interaction"), page.field("csrf"));
        browser
            .post(
                &server.url("/oauth/authorize/password"),
                &[("interaction", &interaction), ("csrf", &csrf), ("id_number", MAI_ID), ("password", MAI_PASSWORD)],
            )
            .await;
        let code = server.last_sign_in_code().await;
        browser.post(&server.url("/oauth/authorize/code"), &[("interaction", &interaction), ("csrf", &csrf), ("code", &code)]).await;
        let page = browser
            .post(&server.url("/oauth/authorize/consent"), &[("interaction", &interaction), ("csrf", &csrf), ("decision", "deny")])
            .await;
        assert_eq!(page.status, 303);
        let query = query_of(page.location.as_deref().unwrap());
        assert_eq!(query.get("error").map(String::as_str), Some("access_denied"));
        assert_eq!(query.get("state"), Some(started.state.secret()));
        assert!(!query.contains_key("code"));
    }

    only_an_administrator_registers_only_a_relying_partys_client_and_only_valid_uris(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHI").await;
        let admin = server.admin().await;
        let path = format!("/v1/clients/{}/oidc", rp.client_id);
        let (status, shown) = server.call(reqwest::Method::GET, &path, &admin, None).await;
        assert_eq!((status, shown["redirect_uris"][0].as_str()), (200, Some(REDIRECT)));

        let fragment = serde_json::json!({"redirect_uris": ["https://nganhang.example.vn/cb#x"], "scopes": ["openid"]});
        let (status, problem) = server.call(reqwest::Method::PUT, &path, &admin, Some(fragment)).await;
        assert_eq!(status, 422, "{problem}");
        let no_openid = serde_json::json!({"redirect_uris": [REDIRECT], "scopes": ["profile"]});
        assert_eq!(server.call(reqwest::Method::PUT, &path, &admin, Some(no_openid)).await.0, 422);

        // A prosecuting agency's client is no relying party.
        let (_, token) = server
            .organization_token("CQDT", OrganizationKind::ProsecutingAgency, &[dinhdanh_domain::actor::Scope::LocksRequest])
            .await;
        let (_, me) = server.call(reqwest::Method::GET, "/v1/clients/me", &token, None).await;
        let other = format!("/v1/clients/{}/oidc", me["client_id"].as_str().unwrap());
        let body = serde_json::json!({"redirect_uris": [REDIRECT], "scopes": ["openid"]});
        let (status, problem) = server.call(reqwest::Method::PUT, &other, &admin, Some(body.clone())).await;
        assert_eq!(status, 422, "{problem}");
        // And the organization itself may not register its own client.
        assert_eq!(server.call(reqwest::Method::PUT, &other, &token, Some(body)).await.0, 403);
    }

    refresh_tokens_rotate_and_a_reused_one_revokes_its_family(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHJ").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start_offline(&client);
        let location = sign_in_through_pages(&server, &mut Browser::new(), &started.url).await;
        let first = exchange(&client, &location, started.verifier).await;
        let refresh = first.refresh_token().expect("offline_access gives a refresh token").clone();
        assert!(refresh.secret().starts_with("dd_rt_"));
        assert!(introspected_active(&server, &client, first.access_token()).await);
        // A refresh token is introspected too (RFC 7662), by its own client only.
        let introspect = |token: String, rp: &RelyingParty| {
            let request = server.http.post(server.url("/oauth/introspect")).basic_auth(&rp.client_id, Some(&rp.secret));
            async move { request.form(&[("token", token)]).send().await.unwrap().json::<Value>().await.unwrap() }
        };
        let live = introspect(refresh.secret().clone(), &rp).await;
        assert_eq!((live["active"].as_bool(), live["token_type"].as_str()), (Some(true), Some("refresh_token")), "{live}");
        assert_eq!(live["client_id"], rp.client_id.as_str());
        assert_eq!(live["scope"], "openid profile phone offline_access", "{live}");
        let sub = jsonwebtoken::dangerous::insecure_decode::<Value>(first.id_token().unwrap().to_string()).unwrap().claims["sub"].clone();
        assert_eq!(live["sub"], sub, "the holder's pairwise sub at this client");
        let other = relying_party_at(&server, "NHO", "https://other.example.vn/cb").await;
        assert_eq!(introspect(refresh.secret().clone(), &other).await, serde_json::json!({"active": false}));

        let second = client.exchange_refresh_token(&refresh).unwrap().request_async(&http()).await.expect("a refresh");
        let rotated = second.refresh_token().expect("a new refresh token").clone();
        assert_ne!(rotated.secret(), refresh.secret(), "each refresh rotates");
        assert_eq!(introspect(refresh.secret().clone(), &rp).await["active"], false, "used");
        assert_eq!(introspect(rotated.secret().clone(), &rp).await["active"], true);
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256])
            .set_time_fn(at(&server));
        // No nonce on a refreshed ID token (OIDC Core §12.2): the library is told to expect none.
        let claims = second.id_token().unwrap().claims(&verifier, |_: Option<&Nonce>| Ok(())).unwrap();
        assert_eq!(claims.auth_context_ref().map(|a| a.as_str()), Some("urn:dinhdanh:loa:1"));

        // The first token again: someone holds a copy. The whole family dies, the rotated token too, and the
        // grant's access tokens.
        let reused = client.exchange_refresh_token(&refresh).unwrap().request_async(&http()).await;
        assert!(format!("{reused:?}").contains("invalid_grant"), "{reused:?}");
        let after = client.exchange_refresh_token(&rotated).unwrap().request_async(&http()).await;
        assert!(format!("{after:?}").contains("invalid_grant"), "{after:?}");
        assert_eq!(introspect(rotated.secret().clone(), &rp).await["active"], false, "the family is revoked");
        assert!(!introspected_active(&server, &client, second.access_token()).await);
        let audit = server.store.recent_audit(Some("oidc.token"), 20).await.unwrap();
        assert!(audit.iter().any(|r| r.detail["reason"] == "refresh_token_reused"));
    }

    after_a_lock_refresh_fails_and_introspection_says_inactive_even_once_it_is_lifted(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHK").await;
        let other = relying_party(&server, "NHL").await;
        let account = mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start_offline(&client);
        let location = sign_in_through_pages(&server, &mut Browser::new(), &started.url).await;
        let tokens = exchange(&client, &location, started.verifier).await;
        assert!(introspected_active(&server, &client, tokens.access_token()).await);
        // Another client may not learn about this client's token.
        let other_client = discover(&server, &other).await;
        assert!(!introspected_active(&server, &other_client, tokens.access_token()).await);

        lock(&server, &account).await;
        assert!(!introspected_active(&server, &client, tokens.access_token()).await, "inactive at the lock's commit");
        let refreshed =
            client.exchange_refresh_token(tokens.refresh_token().unwrap()).unwrap().request_async(&http()).await;
        assert!(format!("{refreshed:?}").contains("invalid_grant"), "{refreshed:?}");

        // Lifted: the holder may sign in again, but what was issued before the lock stays dead.
        let locks = server.store.active_locks(&account, server.clock.now()).await.unwrap();
        let mut tx = server.store.begin().await.unwrap();
        for lock in locks {
            let lift = dinhdanh_domain::lock::Lift {
                at: server.clock.now(),
                by: lock.placed_by.clone(),
                legal_basis: None,
                reason: "tìm thấy điện thoại".into(),
                request_id: None,
            };
            tx.lift_lock(&lock.id, &lift).await.unwrap();
        }
        tx.commit().await.unwrap();
        assert!(!introspected_active(&server, &client, tokens.access_token()).await);
        let refreshed =
            client.exchange_refresh_token(tokens.refresh_token().unwrap()).unwrap().request_async(&http()).await;
        assert!(format!("{refreshed:?}").contains("invalid_grant"), "{refreshed:?}");
        server.clock.advance(chrono::Duration::seconds(1));
        let again = start(&client);
        let location = sign_in_through_pages(&server, &mut Browser::new(), &again.url).await;
        let fresh = exchange(&client, &location, again.verifier).await;
        assert!(introspected_active(&server, &client, fresh.access_token()).await);
        assert!(!introspected_active(&server, &client, tokens.access_token()).await, "the old one stays dead");
    }

    a_holders_sign_out_ends_the_browser_session_but_not_the_relying_partys_offline_access(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHO").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start_offline(&client);
        let mut browser = Browser::new();
        let location = sign_in_through_pages(&server, &mut browser, &started.url).await;
        let tokens = exchange(&client, &location, started.verifier).await;
        // The browser's session cookie is a holder session: signing it out ends single sign-on.
        let session = browser.cookies["dd_session"].clone();
        let (status, _) = server.call(reqwest::Method::DELETE, "/v1/holder-sessions/current", &session, None).await;
        assert_eq!(status, 204);
        let page = browser.get(&start(&client).url).await;
        assert_eq!(page.status, 200, "back to the sign-in page");
        let refreshed = client.exchange_refresh_token(tokens.refresh_token().unwrap()).unwrap().request_async(&http()).await;
        assert!(refreshed.is_ok(), "{refreshed:?}");
    }

    a_client_revokes_its_refresh_token_and_the_grant_ends(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHM").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start_offline(&client);
        let location = sign_in_through_pages(&server, &mut Browser::new(), &started.url).await;
        let tokens = exchange(&client, &location, started.verifier).await;
        // The library refuses a revocation endpoint over plain http (RFC 7009 §2 wants TLS), so as it would send it.
        let revoke = |token: String| {
            let (http, url) = (server.http.clone(), server.url("/oauth/revoke"));
            let (id, secret) = (rp.client_id.clone(), rp.secret.clone());
            async move {
                let response =
                    http.post(url).basic_auth(id, Some(secret)).form(&[("token", token)]).send().await.unwrap();
                (response.status().as_u16(), response.text().await.unwrap())
            }
        };
        let refresh = tokens.refresh_token().unwrap().clone();
        assert_eq!(revoke(refresh.secret().clone()).await, (200, String::new()));
        let refreshed = client.exchange_refresh_token(&refresh).unwrap().request_async(&http()).await;
        assert!(format!("{refreshed:?}").contains("invalid_grant"), "{refreshed:?}");
        assert!(!introspected_active(&server, &client, tokens.access_token()).await, "the grant's access tokens too");
        // An unknown token is answered the same (RFC 7009 §2.2); a wrong secret is not.
        assert_eq!(revoke("dd_rt_khong_co".into()).await.0, 200);
        let wrong = server
            .http
            .post(server.url("/oauth/revoke"))
            .basic_auth(&rp.client_id, Some("dd_cs_sai"))
            .form(&[("token", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401);
    }

    pushed_authorization_requests_serve_once_and_a_client_that_requires_them_cannot_skip_them(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHN").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = Nonce::new_random();
        let push = |form: Vec<(&'static str, String)>| {
            let (http, url) = (server.http.clone(), server.url("/oauth/par"));
            let (id, secret) = (rp.client_id.clone(), rp.secret.clone());
            async move {
                let response = http.post(url).basic_auth(id, Some(secret)).form(&form).send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap())
            }
        };
        let form = |redirect: &str| {
            vec![
                ("response_type", "code".to_owned()),
                ("scope", "openid profile".to_owned()),
                ("redirect_uri", redirect.to_owned()),
                ("state", "trang-thai-1".to_owned()),
                ("nonce", nonce.secret().clone()),
                ("code_challenge", challenge.as_str().to_owned()),
                ("code_challenge_method", "S256".to_owned()),
            ]
        };
        let (status, pushed) = push(form(REDIRECT)).await;
        assert_eq!(status, 201, "{pushed}");
        let request_uri = pushed["request_uri"].as_str().unwrap().to_owned();
        assert!(request_uri.starts_with("urn:ietf:params:oauth:request_uri:"));
        assert_eq!(pushed["expires_in"], 60);

        let url = format!(
            "{}?client_id={}&request_uri={}",
            server.url("/oauth/authorize"),
            rp.client_id,
            form_urlencoded::byte_serialize(request_uri.as_bytes()).collect::<String>()
        );
        let location = sign_in_through_pages(&server, &mut Browser::new(), &url).await;
        let query = query_of(&location);
        assert_eq!(query.get("state").map(String::as_str), Some("trang-thai-1"));
        let tokens = client
            .exchange_code(AuthorizationCode::new(query["code"].clone()))
            .unwrap()
            .set_pkce_verifier(verifier)
            .request_async(&http())
            .await
            .unwrap();
        let id_verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256])
            .set_time_fn(at(&server));
        tokens.id_token().unwrap().claims(&id_verifier, &nonce).expect("the pushed nonce");

        // A reference serves once.
        let page = Browser::new().get(&url).await;
        assert_eq!((page.status, page.location.is_none()), (400, true), "{}", page.html);
        // A pushed request with an unregistered redirect URI is refused as JSON, never redirected.
        let (status, refused) = push(form("https://ke-gian.example/cb")).await;
        assert_eq!((status, refused["error"].as_str()), (400, Some("invalid_request")), "{refused}");

        // A client registered to require PAR cannot send its request through the browser.
        let admin = server.admin().await;
        let body = serde_json::json!({"redirect_uris": [REDIRECT], "scopes": ["openid", "profile", "phone"],
                                      "claims": ["name"], "require_pushed_authorization_requests": true});
        let path = format!("/v1/clients/{}/oidc", rp.client_id);
        assert_eq!(server.call(reqwest::Method::PUT, &path, &admin, Some(body)).await.0, 200);
        let page = Browser::new().get(&start(&client).url).await;
        assert_eq!(page.status, 303, "{}", page.html);
        assert_eq!(query_of(page.location.as_deref().unwrap()).get("error").map(String::as_str), Some("invalid_request"));
    }

    rp_initiated_logout_ends_the_browser_session_and_asks_unless_the_hint_names_the_holder(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHP").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start_offline(&client);
        let mut browser = Browser::new();
        let location = sign_in_through_pages(&server, &mut browser, &started.url).await;
        let tokens = exchange(&client, &location, started.verifier).await;
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let logout = server.url("/oauth/logout");

        // An unregistered post-logout URI is refused on our page.
        let bad = format!("{logout}?client_id={}&post_logout_redirect_uri={}", rp.client_id, enc("https://ke-gian.example/"));
        let page = browser.get(&bad).await;
        assert_eq!((page.status, page.location.is_none()), (400, true), "{}", page.html);

        // Without a hint naming the holder, the holder is asked; confirming ends the session.
        let ask = format!("{logout}?client_id={}&post_logout_redirect_uri={}&state=s1", rp.client_id, enc(AFTER_LOGOUT));
        let page = browser.get(&ask).await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(page.html.contains("Đăng xuất"), "{}", page.html);
        let fields = ["client_id", "post_logout_redirect_uri", "state", "csrf"].map(|n| (n, page.field(n)));
        let form: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let page = browser.post(&server.url("/oauth/logout/confirm"), &form).await;
        assert_eq!(page.status, 303, "{}", page.html);
        assert_eq!(page.location.as_deref(), Some(format!("{AFTER_LOGOUT}?state=s1").as_str()));
        assert_eq!(browser.cookies["dd_session"], "", "the session cookie is cleared");
        assert_eq!(browser.get(&start(&client).url).await.status, 200, "back to the sign-in page");
        // The relying party's offline access survives the logout.
        let refreshed = client.exchange_refresh_token(tokens.refresh_token().unwrap()).unwrap().request_async(&http()).await;
        assert!(refreshed.is_ok(), "{refreshed:?}");

        // Signed in again: an ID token of this holder as the hint ends the session at once.
        let again = start(&client);
        let location = sign_in_through_pages(&server, &mut browser, &again.url).await;
        let tokens = exchange(&client, &location, again.verifier).await;
        let hint = tokens.id_token().unwrap().to_string();
        let url = format!("{logout}?id_token_hint={}&post_logout_redirect_uri={}&state=s2", enc(&hint), enc(AFTER_LOGOUT));
        let page = browser.get(&url).await;
        assert_eq!(page.status, 303, "{}", page.html);
        assert_eq!(page.location.as_deref(), Some(format!("{AFTER_LOGOUT}?state=s2").as_str()));
        assert_eq!(browser.get(&start(&client).url).await.status, 200, "signed out");
        let logouts = server.store.recent_audit(Some("oidc.logout"), 10).await.unwrap();
        assert_eq!(logouts.len(), 2);
    }

    a_foreigner_signs_in_with_passport_and_nationality(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHQ").await;
        let now = server.clock.now();
        let passport = dinhdanh_domain::PassportNumber::parse("M1234567").unwrap();
        let nationality = dinhdanh_domain::Nationality::parse("KOR").unwrap();
        let kim = Account {
            id: AccountId::new(uuid::Uuid::new_v4().to_string()),
            identity_key: IdentityKey::foreigner(&nationality, &passport),
            holder_kind: HolderKind::Foreigner,
            full_name: FullName::parse("Kim Min-jun").unwrap(),
            level: Level::One,
            status: AccountStatus::Active,
            phone: None,
            email: Some(Email::parse("kim@example.kr").unwrap()),
            password_hash: hash_secret("seoul to hanoi by train".to_owned()).await.unwrap(),
            created_at: now,
            activated_at: Some(now),
        };
        let mut tx = server.store.begin().await.unwrap();
        tx.insert_account(&kim).await.unwrap();
        tx.commit().await.unwrap();
        let client = discover(&server, &rp).await;
        let started = start(&client);
        let identity = [("holder_kind", "foreigner"), ("passport_number", "m 1234567"), ("nationality", "kor")];
        let location = sign_in_through_pages_as(
            &server,
            &mut Browser::new(),
            &started.url,
            &identity,
            "seoul to hanoi by train",
        )
        .await;
        let tokens = exchange(&client, &location, started.verifier).await;
        let userinfo: CoreUserInfoClaims =
            client.user_info(tokens.access_token().clone(), None).unwrap().request_async(&http()).await.unwrap();
        let name = userinfo.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_owned());
        assert_eq!(name.as_deref(), Some("Kim Min-jun"));
        let sent = server.store.outbox_messages(None, 10).await.unwrap();
        assert_eq!(sent[0].recipient, "kim@example.kr", "the code went to the only channel registered");
    }

    a_holder_withdraws_a_consent_and_what_it_covered_ends(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHR").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start_offline(&client);
        let mut browser = Browser::new();
        let location = sign_in_through_pages(&server, &mut browser, &started.url).await;
        let tokens = exchange(&client, &location, started.verifier).await;
        let session = browser.cookies["dd_session"].clone();
        let (status, listed) = server.call(reqwest::Method::GET, "/v1/me/consents", &session, None).await;
        assert_eq!(status, 200, "{listed}");
        assert_eq!(listed["consents"][0]["client_id"], rp.client_id.as_str());
        assert_eq!(listed["consents"][0]["claims"], serde_json::json!(["name", "phone_number"]));
        let admin = server.admin().await;
        assert_eq!(server.call(reqwest::Method::GET, "/v1/me/consents", &admin, None).await.0, 403);

        let path = format!("/v1/me/consents/{}", rp.client_id);
        assert_eq!(server.call(reqwest::Method::DELETE, &path, &session, None).await.0, 204);
        assert_eq!(server.call(reqwest::Method::DELETE, &path, &session, None).await.0, 404, "already withdrawn");
        let (_, listed) = server.call(reqwest::Method::GET, "/v1/me/consents", &session, None).await;
        assert_eq!(listed["consents"], serde_json::json!([]));
        let refreshed = client.exchange_refresh_token(tokens.refresh_token().unwrap()).unwrap().request_async(&http()).await;
        assert!(format!("{refreshed:?}").contains("invalid_grant"), "{refreshed:?}");
        assert!(!introspected_active(&server, &client, tokens.access_token()).await);
        // The next sign-in to that client asks again (the browser's session still signs in).
        let page = browser.get(&start(&client).url).await;
        assert_eq!(page.status, 200, "{}", page.html);
        assert!(page.html.contains("name=\"decision\""), "the consent page: {}", page.html);
    }

    rotation_publishes_a_key_before_it_signs_and_keeps_the_retired_one(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHF").await;
        mai(&server).await;
        let jwks = |server: &TestServer| {
            let url = server.url("/oauth/jwks");
            let http = server.http.clone();
            async move {
                let jwks: Value = http.get(url).send().await.unwrap().json().await.unwrap();
                jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
            }
        };
        let before = jwks(&server).await;
        let (rotation, pruned) =
            dinhdanh_server::service::oidc::rotate_keys(&server.store, &server.state.config.oidc_seal_key, server.clock.now()).await.unwrap();
        assert!(pruned.is_empty());
        assert_eq!(rotation.current, before[1], "the key that now signs was the published next key");
        assert_eq!(rotation.retired, before[0]);
        let after = jwks(&server).await;
        assert_eq!(after, vec![rotation.current.clone(), rotation.next.clone(), rotation.retired.clone()]);

        let client = discover(&server, &rp).await;
        let started = start(&client);
        let location = sign_in_through_pages(&server, &mut Browser::new(), &started.url).await;
        let tokens = exchange(&client, &location, started.verifier).await;
        let id_token = tokens.id_token().unwrap().to_string();
        let header = jsonwebtoken::decode_header(&id_token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(rotation.current.as_str()));
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    }

    a_private_key_jwt_relying_party_exchanges_its_code_and_introspects_and_each_assertion_serves_once(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party_with(&server, "NHJ", REDIRECT, ClientAuthMethod::PrivateKeyJwt).await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start(&client);
        let location = sign_in_through_pages(&server, &mut Browser::new(), &started.url).await;
        let code = query_of(&location)["code"].clone();
        let post = |path: &str, form: Vec<(&str, String)>| {
            let request = server.http.post(server.url(path)).form(&form);
            async move {
                let response = request.send().await.unwrap();
                (response.status().as_u16(), response.json::<Value>().await.unwrap_or(Value::Null))
            }
        };
        let jwt_bearer = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned();
        // The issuer identifier as the audience (FAPI 2.0; what openid-client sends).
        let exchange_assertion = assertion(&server, &rp.client_id, &server.base, None);
        let exchange = |assertion: String, verifier: String| {
            vec![
                ("grant_type", "authorization_code".to_owned()),
                ("code", code.clone()),
                ("redirect_uri", REDIRECT.to_owned()),
                ("code_verifier", verifier),
                ("client_assertion_type", jwt_bearer.clone()),
                ("client_assertion", assertion),
            ]
        };
        // A secret is not this client's method, whatever it says.
        let mut with_secret = exchange(String::new(), started.verifier.secret().clone());
        with_secret.truncate(4);
        with_secret.extend([("client_id", rp.client_id.clone()), ("client_secret", "dd_cs_guess".to_owned())]);
        let (status, body) = post("/oauth/token", with_secret).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
        // An assertion for another audience is refused and does not use the code up.
        let elsewhere = assertion(&server, &rp.client_id, "https://elsewhere.example/token", None);
        let (status, body) = post("/oauth/token", exchange(elsewhere, started.verifier.secret().clone())).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");

        let (status, tokens) =
            post("/oauth/token", exchange(exchange_assertion.clone(), started.verifier.secret().clone())).await;
        assert_eq!(status, 200, "{tokens}");
        let id_token = tokens["id_token"].as_str().expect("an ID token");
        let claims = jsonwebtoken::dangerous::insecure_decode::<Value>(id_token).unwrap().claims;
        assert_eq!(claims["aud"], rp.client_id.as_str());
        let access_token = tokens["access_token"].as_str().unwrap().to_owned();

        let introspect = |assertion: String| {
            vec![
                ("token", access_token.clone()),
                ("client_assertion_type", jwt_bearer.clone()),
                ("client_assertion", assertion),
            ]
        };
        // The exchange's assertion presented again is a replay, even at another endpoint.
        let (status, body) = post("/oauth/introspect", introspect(exchange_assertion)).await;
        assert_eq!((status, body["error"].as_str()), (401, Some("invalid_client")), "{body}");
        let fresh = assertion(&server, &rp.client_id, &server.url("/oauth/introspect"), None);
        let (status, body) = post("/oauth/introspect", introspect(fresh)).await;
        assert_eq!((status, body["active"].as_bool()), (200, Some(true)), "{body}");

        let refusals: Vec<String> = server
            .store
            .recent_audit(Some("oidc.token"), 20)
            .await
            .unwrap()
            .iter()
            .filter(|e| e.outcome == "refused")
            .map(|e| e.detail["reason"].as_str().unwrap_or_default().to_owned())
            .collect();
        for reason in ["wrong_auth_method", "wrong_audience", "assertion_replayed"] {
            assert!(refusals.iter().any(|r| r == reason), "{reason} audited: {refusals:?}");
        }
    }

    the_providers_expired_rows_are_purged_on_schedule_and_the_holders_history_stays(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHP").await;
        let account = mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start_offline(&client);
        let location = sign_in_through_pages(&server, &mut Browser::new(), &started.url).await;
        let tokens = exchange(&client, &location, started.verifier).await;
        // A second visit that stops at the first page, and a pushed request never taken.
        assert_eq!(Browser::new().get(&start(&client).url).await.status, 200);
        let pushed = server
            .http
            .post(server.url("/oauth/par"))
            .basic_auth(&rp.client_id, Some(&rp.secret))
            .form(&[
                ("response_type", "code"),
                ("client_id", rp.client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                ("code_challenge_method", "S256"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(pushed.status().as_u16(), 201);

        let nothing_yet = dinhdanh_server::service::purge::purge_expired(&server.state).await.unwrap();
        for table in ["oidc_codes", "oidc_access_tokens", "oidc_refresh_tokens", "oidc_refresh_families"] {
            assert_eq!(nothing_yet[table], 0, "{table} is live: {nothing_yet:?}");
        }
        // Past the refresh family's 30 days: every short-lived row of that sign-in is over.
        server.clock.advance(chrono::Duration::days(31));
        assert!(!introspected_active(&server, &client, tokens.access_token()).await, "refused before the purge");
        let report = dinhdanh_server::service::purge::purge_expired(&server.state).await.unwrap();
        for (table, rows) in [
            ("oidc_codes", 1),
            ("oidc_access_tokens", 1),
            ("oidc_refresh_tokens", 1),
            ("oidc_refresh_families", 1),
            ("oidc_pushed_requests", 1),
            ("oidc_interactions", 1),
        ] {
            assert_eq!(report[table], rows, "{table}: {report:?}");
        }
        let history = server.store.oidc_sign_ins(&account, 10).await.unwrap();
        assert_eq!(history.len(), 1, "the sign-in stays in the holder's history");
        let again = dinhdanh_server::service::purge::purge_expired(&server.state).await.unwrap();
        assert!(again.values().all(|n| *n == 0), "{again:?}");
    }

    birthdate_and_gender_come_from_the_registry_and_only_a_contact_a_code_reached_is_verified(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHV").await;
        let admin = server.admin().await;
        let body = serde_json::json!({
            "redirect_uris": [REDIRECT],
            "scopes": ["openid", "profile", "phone", "email"],
            "claims": ["name", "birthdate", "gender", "phone_number", "phone_number_verified", "email", "email_verified"],
        });
        let (status, saved) =
            server.call(reqwest::Method::PUT, &format!("/v1/clients/{}/oidc", rp.client_id), &admin, Some(body)).await;
        assert_eq!(status, 200, "{saved}");
        let account = mai(&server).await;
        let id = IdentificationNumber::parse(MAI_ID, &ProvinceTable::builtin()).unwrap();
        let record = dinhdanh_domain::registry::CitizenRecord {
            id_number: id,
            full_name: FullName::parse("Trần Thị Mai").unwrap(),
            date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 3, 8).unwrap(),
            gender: dinhdanh_domain::Gender::Female,
            place_of_origin: None,
            permanent_residence: None,
            card_status: dinhdanh_domain::registry::CardStatus::Valid,
            died_on: None,
        };
        server.store.upsert_citizens(&[record], server.clock.now()).await.unwrap();
        assert!(server.store.verified_contacts(&account).await.unwrap().is_empty(), "nothing proved yet");

        let client = discover(&server, &rp).await;
        let started = start_with(&client, &["profile", "phone", "email"]);
        // The code goes by SMS (the default when a phone is registered): the phone is proved, the e-mail is not.
        let mut browser = Browser::new();
        let (page, interaction, csrf) = through_code(&server, &mut browser, &started.url).await;
        assert_eq!(page.status, 200, "the consent page: {}", page.html);
        let action = server.url("/oauth/authorize");
        let mut consent = vec![("interaction", interaction.as_str()), ("csrf", csrf.as_str()), ("decision", "allow")];
        for claim in ["name", "birthdate", "gender", "phone_number", "phone_number_verified", "email", "email_verified"] {
            consent.push(("claim", claim));
        }
        let page = browser.post(&format!("{action}/consent"), &consent).await;
        assert_eq!(page.status, 303, "{}", page.html);
        let tokens = exchange(&client, &page.location.unwrap(), started.verifier).await;
        let response = server
            .http
            .get(server.url("/oauth/userinfo"))
            .bearer_auth(tokens.access_token().secret())
            .send()
            .await
            .unwrap();
        let userinfo: Value = response.json().await.unwrap();
        assert_eq!(userinfo["birthdate"], "1990-03-08", "{userinfo}");
        assert_eq!(userinfo["gender"], "female", "{userinfo}");
        assert_eq!(userinfo["phone_number"], "+84912345678");
        assert_eq!(userinfo["phone_number_verified"], true, "the sign-in code reached it: {userinfo}");
        assert_eq!(userinfo["email"], "mai@example.vn");
        assert_eq!(userinfo["email_verified"], false, "no code went there: {userinfo}");
        let proved = server.store.verified_contacts(&account).await.unwrap();
        assert_eq!(proved.len(), 1);
        assert_ne!(proved[0].1, "+84912345678", "a digest, not the number");
    }

    ui_locales_en_gives_english_pages_until_the_holder_switches_and_the_choice_is_remembered(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHS").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start(&client);
        let mut browser = Browser::new();
        // The first language the pages speak in the relying party's list.
        let page = browser.get(&format!("{}&ui_locales=fr%20en", started.url)).await;
        assert_eq!((page.status, page.lang()), (200, "en"), "{}", page.html);
        assert!(page.html.contains("Personal identification number"), "{}", page.html);
        assert!(!page.html.contains("Số định danh cá nhân"), "one language a page: {}", page.html);
        assert!(page.html.contains("lang=\"vi\">Tiếng Việt</a>"), "a switch to Vietnamese: {}", page.html);
        let (interaction, csrf) = (page.field("interaction"), page.field("csrf"));
        let action = server.url("/oauth/authorize");
        // The interaction keeps the request's ui_locales for the pages after the first.
        let page = browser
            .post(&format!("{action}/password"), &[("interaction", &interaction), ("csrf", &csrf),
                  ("id_number", MAI_ID), ("password", MAI_PASSWORD)])
            .await;
        assert_eq!((page.status, page.lang()), (200, "en"), "{}", page.html);
        assert!(page.html.contains("Enter the one-time code") && page.html.contains("name=\"code\""), "{}", page.html);
        let wrong = browser
            .post(&format!("{action}/code"), &[("interaction", &interaction), ("csrf", &csrf), ("code", "12")])
            .await;
        assert!(wrong.html.contains("<p role=\"alert\" id=\"form-error\">The code has 6 digits.</p>"), "{}", wrong.html);
        let code = server.last_sign_in_code().await;
        let page = browser
            .post(&format!("{action}/code"), &[("interaction", &interaction), ("csrf", &csrf), ("code", &code)])
            .await;
        assert_eq!((page.status, page.lang()), (200, "en"), "{}", page.html);
        assert!(page.html.contains("Full name") && !page.html.contains("Họ và tên"), "{}", page.html);

        // The switch shows the same consent page in Vietnamese, for the same interaction, and remembers it.
        let switched = browser.get(&page.switch()).await;
        assert_eq!((switched.status, switched.lang()), (200, "vi"), "{}", switched.html);
        assert!(switched.html.contains("Họ và tên") && switched.html.contains("name=\"decision\""), "{}", switched.html);
        assert_eq!((switched.field("interaction"), switched.field("csrf")), (interaction.clone(), csrf.clone()));
        let cookie = switched.set_cookie("dd_lang").expect("the choice is remembered");
        assert!(cookie.starts_with("dd_lang=vi;") && cookie.contains("Path=/;"), "the whole site, the portal too: {cookie}");
        assert_eq!(switched.headers["cache-control"], "no-store");
        assert_eq!(switched.headers["x-frame-options"], "DENY");
        assert!(switched.headers["content-security-policy"].to_str().unwrap().starts_with("default-src 'none'"));
        // Nothing came of showing the page again: its form goes on as before, to a code the client exchanges.
        let page = browser
            .post(&format!("{action}/consent"), &[("interaction", &interaction), ("csrf", &csrf), ("claim", "name"),
                  ("decision", "allow")])
            .await;
        assert_eq!(page.status, 303, "{}", page.html);
        let query = query_of(page.location.as_deref().unwrap());
        assert_eq!(query.get("state"), Some(started.state.secret()));
        let tokens = client
            .exchange_code(AuthorizationCode::new(query["code"].clone()))
            .unwrap()
            .set_pkce_verifier(started.verifier)
            .request_async(&http())
            .await
            .expect("the code exchange");
        assert!(tokens.id_token().is_some());

        // Later pages follow the holder's choice over the relying party's ui_locales.
        server.clock.advance(chrono::Duration::seconds(1));
        let again = start(&client);
        let page = browser.get(&format!("{}&ui_locales=en&prompt=login", again.url)).await;
        assert_eq!((page.status, page.lang()), (200, "vi"), "{}", page.html);
        assert!(page.html.contains("Dịch vụ yêu cầu đăng nhập lại."), "{}", page.html);
    }

    the_language_switch_keeps_the_interaction_and_shows_nothing_to_another_browser(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHT").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start(&client);
        let mut browser = Browser::new();
        let first = browser.get(&started.url).await;
        assert_eq!(first.lang(), "vi");
        let (interaction, csrf) = (first.field("interaction"), first.field("csrf"));

        // Another browser (without the CSRF cookie) following the link gets a refusal and no form.
        let stranger = Browser::new().get(&first.switch()).await;
        assert_eq!(stranger.status, 403, "{}", stranger.html);
        assert!(!stranger.html.contains("name=\"csrf\""), "{}", stranger.html);

        // The first page in English, for the same interaction; the cookie carries English on.
        let page = browser.get(&first.switch()).await;
        assert_eq!((page.status, page.lang()), (200, "en"), "{}", page.html);
        assert!(page.html.contains("<label for=\"id-number\">Personal identification number</label>"), "{}", page.html);
        assert_eq!((page.field("interaction"), page.field("csrf")), (interaction.clone(), csrf.clone()));
        assert_eq!(browser.cookies.get("dd_lang").map(String::as_str), Some("en"));
        let action = server.url("/oauth/authorize");
        let page = browser
            .post(&format!("{action}/password"), &[("interaction", &interaction), ("csrf", &csrf),
                  ("id_number", MAI_ID), ("password", MAI_PASSWORD)])
            .await;
        assert_eq!((page.status, page.lang()), (200, "en"), "{}", page.html);
        assert!(page.html.contains("autocomplete=\"one-time-code\""), "{}", page.html);

        // The code page in Vietnamese is still the code page (the password was accepted), and its form works.
        let page = browser.get(&page.switch()).await;
        assert_eq!((page.status, page.lang()), (200, "vi"), "{}", page.html);
        assert!(page.html.contains("Nhập mã xác thực") && page.html.contains("name=\"code\""), "{}", page.html);
        let code = server.last_sign_in_code().await;
        let page = browser
            .post(&format!("{action}/code"), &[("interaction", &interaction), ("csrf", &csrf), ("code", &code)])
            .await;
        assert_eq!((page.status, page.lang()), (200, "vi"), "{}", page.html);
        assert!(page.html.contains("Họ và tên"), "{}", page.html);

        // A refusal on the provider's own page switches by asking again.
        let evil = started.url.replace(
            &form_urlencoded::byte_serialize(REDIRECT.as_bytes()).collect::<String>(),
            &form_urlencoded::byte_serialize(b"https://ke-gian.example/cb").collect::<String>(),
        );
        let refused = Browser::new().get(&evil).await;
        assert_eq!((refused.status, refused.lang()), (400, "vi"), "{}", refused.html);
        let refused = Browser::new().get(&refused.switch()).await;
        assert_eq!((refused.status, refused.lang()), (400, "en"), "{}", refused.html);
        assert!(refused.html.contains("The sign-in cannot go on") && refused.html.contains("redirect_uri"), "{}", refused.html);
    }

    a_misused_authorization_request_is_refused_as_the_specifications_say(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHM").await;
        mai(&server).await;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let base: Vec<(&str, String)> = vec![
            ("response_type", "code".into()),
            ("client_id", rp.client_id.clone()),
            ("redirect_uri", REDIRECT.into()),
            ("scope", "openid profile".into()),
            ("state", "st-1".into()),
            ("nonce", "n-1".into()),
            ("code_challenge", challenge.as_str().to_owned()),
            ("code_challenge_method", "S256".into()),
        ];
        // The request with some parameters changed (an empty value drops the parameter) and some added.
        let url = |changes: &[(&str, &str)]| {
            let mut params = base.clone();
            for (name, value) in changes {
                params.retain(|(n, _)| n != name);
                if !value.is_empty() {
                    params.push((name, (*value).to_owned()));
                }
            }
            let query: String = form_urlencoded::Serializer::new(String::new()).extend_pairs(params).finish();
            format!("{}?{query}", server.url("/oauth/authorize"))
        };
        let redirected_with = |page: &Page| {
            assert_eq!(page.status, 303, "{}", page.html);
            let location = page.location.clone().unwrap();
            assert!(location.starts_with(REDIRECT), "{location}");
            let query = query_of(&location);
            assert_eq!(query.get("state").map(String::as_str), Some("st-1"), "the state comes back: {location}");
            assert_eq!(query.get("iss").map(String::as_str), Some(server.base.as_str()), "RFC 9207: {location}");
            assert!(!query.contains_key("code"), "{location}");
            query["error"].clone()
        };
        // Refused back to the client, with the state and the issuer.
        let two_twice = url(&[]) + "&nonce=n-2";
        for (changes, error) in [
            (vec![("code_challenge", "")], "invalid_request"),
            (vec![("code_challenge_method", "plain")], "invalid_request"),
            (vec![("code_challenge_method", "")], "invalid_request"),
            (vec![("response_type", "token")], "unsupported_response_type"),
            (vec![("response_type", "code id_token")], "unsupported_response_type"),
            (vec![("scope", "profile")], "invalid_scope"),
            (vec![("scope", "openid email")], "invalid_scope"),
            (vec![("prompt", "none")], "login_required"),
            (vec![("prompt", "none login")], "invalid_request"),
            (vec![("max_age", "soon")], "invalid_request"),
            (vec![("claims", "{not json")], "invalid_request"),
            (vec![("request", "eyJhbGciOiJub25lIn0.e30.")], "request_not_supported"),
        ] {
            let page = Browser::new().get(&url(&changes)).await;
            assert_eq!(redirected_with(&page), error, "{changes:?}");
        }
        // Refused on the provider's own page, never redirected: an unknown client or an unregistered redirect
        // URI (the client cannot be trusted with the answer), or a parameter given twice.
        for bad in [
            url(&[("redirect_uri", "https://nganhang.example.vn.evil.example/cb")]),
            url(&[("redirect_uri", "https://nganhang.example.vn/dang-nhap/callback/")]),
            url(&[("redirect_uri", "")]),
            url(&[("client_id", "no-such-client")]),
            two_twice,
        ] {
            let page = Browser::new().get(&bad).await;
            assert_eq!((page.status, page.location.as_deref()), (400, None), "{bad}: {}", page.html);
        }
        let audited = server.store.recent_audit(Some("oidc.authorize"), 100).await.unwrap();
        assert!(audited.iter().filter(|e| e.outcome == "refused").count() >= 17, "every refusal is audited");

        // Level 2 asked for: a password and a code reach Level 1 only, so the sign-in made for this request is
        // refused back to the client, never answered with a weaker token.
        let mut browser = Browser::new();
        let (page, ..) = through_code(&server, &mut browser, &url(&[("acr_values", "urn:dinhdanh:loa:2")])).await;
        assert_eq!(redirected_with(&page), "access_denied");
        let essential = r#"{"id_token": {"acr": {"essential": true, "value": "urn:dinhdanh:loa:2"}}}"#;
        let (page, ..) = through_code(&server, &mut Browser::new(), &url(&[("claims", essential)])).await;
        assert_eq!(redirected_with(&page), "unmet_authentication_requirements");

        // With the browser's session: prompt=none needs consent first, then answers without a page; prompt=login
        // and max_age=0 ask for the password again.
        let page = browser.get(&url(&[("prompt", "none")])).await;
        assert_eq!(redirected_with(&page), "consent_required");
        // A sign-in made when the request arrives counts as fresh; the test's clock stands still otherwise.
        server.clock.advance(chrono::Duration::minutes(1));
        let location = sign_in_through_pages(&server, &mut browser, &url(&[("prompt", "login")])).await;
        assert!(query_of(&location).contains_key("code"), "{location}");
        let page = browser.get(&url(&[("prompt", "none")])).await;
        assert_eq!(page.status, 303, "{}", page.html);
        let query = query_of(page.location.as_deref().unwrap());
        assert!(query.contains_key("code") && query["state"] == "st-1", "{query:?}");
        server.clock.advance(chrono::Duration::minutes(1));
        for fresh in [url(&[("prompt", "login")]), url(&[("max_age", "0")])] {
            let page = browser.get(&fresh).await;
            assert_eq!(page.status, 200, "{fresh}");
            assert!(page.html.contains("name=\"password\""), "the password again: {}", page.html);
        }
        drop(verifier);
    }

    a_rotation_by_another_process_signs_from_the_next_token_and_the_keys_are_kept_in_memory(db) {
        use dinhdanh_server::service::oidc::{key_set, rotate_keys};
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHS").await;
        mai(&server).await;
        let client = discover(&server, &rp).await;
        let started = start_offline(&client);
        let location = sign_in_through_pages(&server, &mut Browser::new(), &started.url).await;
        let first = exchange(&client, &location, started.verifier).await;
        let kid_of = |jwt: &str| jsonwebtoken::decode_header(jwt).unwrap().kid.unwrap();
        let before = kid_of(&first.id_token().unwrap().to_string());
        // The node keeps the key set it opened: request after request gets that very set, not a new parse. (On
        // SQLite only: on PostgreSQL the notifications of the key sets made in the same database, this server's
        // own and other tests', arrive when they arrive, and each rightly makes the node open its keys again.)
        let held = key_set(&server.state, server.clock.now()).await.unwrap();
        assert_eq!(held.current_kid(), before);
        if db.dialect == dinhdanh_store::Dialect::Sqlite {
            assert!(std::sync::Arc::ptr_eq(&held, &key_set(&server.state, server.clock.now()).await.unwrap()));
        }

        // `dinhdanh keys rotate` is another process: a store of its own, sharing no memory with the server's (on
        // PostgreSQL not even the generations: another URL, so it is heard only through NOTIFY).
        let url = match db.dialect {
            dinhdanh_store::Dialect::Sqlite => db.url.clone(),
            dinhdanh_store::Dialect::Postgres => format!("{}&application_name=keys-rotate", db.url),
        };
        let other = dinhdanh_store::Store::connect(&url).await.unwrap();
        let (rotation, _) = rotate_keys(&other, &server.state.config.oidc_seal_key, server.clock.now()).await.unwrap();
        other.close().await;
        assert_eq!(rotation.retired, before);
        if db.dialect == dinhdanh_store::Dialect::Postgres {
            // The notification's trip: the server signs with the retired key (still published) until it arrives.
            for _ in 0..3000 {
                if key_set(&server.state, server.clock.now()).await.unwrap().current_kid() == rotation.current {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
        // SQLite: the very next token, without waiting; the command's commit reached the server's memory.
        let refreshed = client
            .exchange_refresh_token(first.refresh_token().unwrap())
            .unwrap()
            .request_async(&http())
            .await
            .expect("a refresh");
        assert_eq!(kid_of(&refreshed.id_token().unwrap().to_string()), rotation.current);
        assert_eq!(kid_of(refreshed.access_token().secret()), rotation.current);
        let reopened = key_set(&server.state, server.clock.now()).await.unwrap();
        assert!(!std::sync::Arc::ptr_eq(&held, &reopened), "opened again after the change");
        // The first ID token still verifies: its key is retired, not gone.
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![CoreJwsSigningAlgorithm::EcdsaP256Sha256])
            .set_time_fn(at(&server));
        assert!(first.id_token().unwrap().claims(&verifier, |_: Option<&Nonce>| Ok(())).is_ok());
        // And the new one verifies against the JWKS the relying party fetched before the rotation: the key that
        // signs now was published as the next key.
        assert!(refreshed.id_token().unwrap().claims(&verifier, |_: Option<&Nonce>| Ok(())).is_ok());
    }
}

const LAN_ID: &str = "001190123457";

/// Whether introspection and userinfo still serve `token` once its `jti` was revoked by hand, behind the store's
/// back: then they answered from memory (the row is put back before returning).
async fn served_after_a_revocation_by_hand(
    db: &dinhdanh_store::testing::TestDb,
    server: &TestServer,
    rp: &RelyingParty,
    token: &str,
) -> bool {
    let jti = jti_of(token);
    let (introspect, userinfo) = (server.url("/oauth/introspect"), server.url("/oauth/userinfo"));
    db.execute_by_hand(&format!("UPDATE oidc_access_tokens SET revoked_at = 1 WHERE jti = '{jti}'")).await;
    let served = active(&server.http, &introspect, rp, token).await
        && userinfo_status(&server.http, &userinfo, token).await == 200;
    db.execute_by_hand(&format!("UPDATE oidc_access_tokens SET revoked_at = NULL WHERE jti = '{jti}'")).await;
    served
}

on_both_backends! {
    introspection_and_userinfo_from_memory_refuse_a_locked_holder_s_tokens_from_the_very_next_request(db) {
        // Introspection and userinfo answer from the credential cache; a lock must still make every request sent
        // after its answer refuse the holder's tokens, while another holder's keep the cache busy.
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHC").await;
        let mai = mai(&server).await;
        citizen(&server, LAN_ID).await;
        let client = discover(&server, &rp).await;
        let watched = access_token_of(&server, &client, MAI_ID).await;
        let other = access_token_of(&server, &client, LAN_ID).await;

        // From memory indeed: a revocation made by hand, which no commit announces, is not seen. (On PostgreSQL
        // another test's commit, heard through NOTIFY, may drop the entries in between: then the database
        // answers, and it is tried again.)
        let mut from_memory = false;
        for _ in 0..20 {
            let (introspect, userinfo) = (server.url("/oauth/introspect"), server.url("/oauth/userinfo"));
            assert!(active(&server.http, &introspect, &rp, &watched).await);
            assert_eq!(userinfo_status(&server.http, &userinfo, &watched).await, 200);
            if served_after_a_revocation_by_hand(&db, &server, &rp, &watched).await {
                from_memory = true;
                break;
            }
            assert_eq!(db.dialect, dinhdanh_store::Dialect::Postgres, "on SQLite only a marked commit drops an entry");
        }
        assert!(from_memory, "introspection and userinfo were never answered from memory");

        let rp = Arc::new(rp);
        let locked = Arc::new(AtomicBool::new(false));
        let (served_before, refused_after, served_after) =
            (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        let mut load = Vec::new();
        for worker in 0..8 {
            let watching = worker % 2 == 0;
            let token = if watching { watched.clone() } else { other.clone() };
            let by_userinfo = worker % 4 >= 2;
            let (introspect, userinfo) = (server.url("/oauth/introspect"), server.url("/oauth/userinfo"));
            let (http, rp, locked) = (server.http.clone(), rp.clone(), locked.clone());
            let (served_before, refused_after, served_after) =
                (served_before.clone(), refused_after.clone(), served_after.clone());
            load.push(tokio::spawn(async move {
                let mut after = 0;
                // Each worker goes on until it has sent 20 requests after the lock was answered.
                while after < 20 {
                    let sent_after_lock = locked.load(Ordering::SeqCst);
                    let served = if by_userinfo {
                        userinfo_status(&http, &userinfo, &token).await == 200
                    } else {
                        active(&http, &introspect, &rp, &token).await
                    };
                    if !watching {
                        assert!(served, "another holder's token");
                    } else if sent_after_lock {
                        let count = if served { &served_after } else { &refused_after };
                        count.fetch_add(1, Ordering::SeqCst);
                    } else if served {
                        served_before.fetch_add(1, Ordering::SeqCst);
                    }
                    if sent_after_lock {
                        after += 1;
                    }
                    tokio::task::yield_now().await;
                }
            }));
        }
        while served_before.load(Ordering::SeqCst) < 50 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let hits_before = server.store.credential_cache_hits();
        // Mai locks her own account through the lock engine's API, with a session of hers.
        let account = server.store.account(&mai).await.unwrap().unwrap();
        let session = server.holder_session(&account).await;
        let reason = serde_json::json!({"reason": "mất máy / lost phone"});
        let (status, body) = server.call(reqwest::Method::POST, "/v1/lock-requests", &session, Some(reason)).await;
        assert_eq!(status, 201, "{body}");
        locked.store(true, Ordering::SeqCst);
        for worker in load {
            worker.await.unwrap();
        }
        assert_eq!(served_after.load(Ordering::SeqCst), 0, "a request sent after the lock's answer was served");
        assert_eq!(refused_after.load(Ordering::SeqCst), 4 * 20, "every request after the lock was refused");
        assert!(server.store.credential_cache_hits() > hits_before, "the other holder was still served from memory");
    }

    another_process_s_lock_is_seen_by_the_next_introspection(db) {
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHP").await;
        let mai = mai(&server).await;
        let client = discover(&server, &rp).await;
        let token = access_token_of(&server, &client, MAI_ID).await;
        let (introspect, userinfo) = (server.url("/oauth/introspect"), server.url("/oauth/userinfo"));
        assert!(active(&server.http, &introspect, &rp, &token).await);
        assert_eq!(userinfo_status(&server.http, &userinfo, &token).await, 200);
        if db.dialect == dinhdanh_store::Dialect::Sqlite {
            assert!(served_after_a_revocation_by_hand(&db, &server, &rp, &token).await, "answered from memory");
        }
        // Another process on the same SQLite file (it shares only the file and the counters' file beside it); on
        // PostgreSQL another node (another URL: it is heard only through NOTIFY, and its commit returns once the
        // server's listener has acknowledged it).
        let url = match db.dialect {
            dinhdanh_store::Dialect::Sqlite => db.url.clone(),
            dinhdanh_store::Dialect::Postgres => format!("{}&application_name=another-node", db.url),
        };
        let other = dinhdanh_store::Store::connect(&url).await.unwrap();
        lock_through(&server, &other, &mai).await;
        other.close().await;
        // The very next request.
        assert!(!active(&server.http, &introspect, &rp, &token).await, "the very next introspection");
        assert_eq!(userinfo_status(&server.http, &userinfo, &token).await, 401);
    }

    a_bulk_order_s_lock_ends_the_tokens_answered_from_memory_at_its_commit(db) {
        use dinhdanh_domain::actor::{OfficerRole, Scope};
        use serde_json::json;
        let server = TestServer::start(&db).await;
        let rp = relying_party(&server, "NHB").await;
        mai(&server).await;
        citizen(&server, LAN_ID).await;
        let client = discover(&server, &rp).await;
        let watched = access_token_of(&server, &client, MAI_ID).await;
        let other = access_token_of(&server, &client, LAN_ID).await;
        let (introspect, userinfo) = (server.url("/oauth/introspect"), server.url("/oauth/userinfo"));
        if db.dialect == dinhdanh_store::Dialect::Sqlite {
            assert!(active(&server.http, &introspect, &rp, &watched).await);
            assert!(served_after_a_revocation_by_hand(&db, &server, &rp, &watched).await, "answered from memory");
        }
        // An order naming Mai only, taken through the reviewer and the supervisor: its approval places the locks
        // in set-based statements (`Tx::apply_bulk_order`), not through `Tx::insert_lock`.
        let scopes = [Scope::LocksRequest];
        let (_, procuracy) = server.organization_token("VKSND-HN", OrganizationKind::ProsecutingAgency, &scopes).await;
        // The operator organization, made with the administrator who saved the registration.
        let operator = server.store.organization_by_code("C06").await.unwrap().unwrap();
        let (_, reviewer) = server.officer_session(&operator.id, &[OfficerRole::Reviewer]).await;
        let (_, supervisor) = server.officer_session(&operator.id, &[OfficerRole::Supervisor]).await;
        let order = json!({"ground": "authority_request", "reason": "đường dây lừa đảo / a fraud ring",
            "reference": "VKS-2026-118", "accounts": [{"id_number": MAI_ID}],
            "legal_basis": {"document_kind": "Quyết định", "number": "77/QĐ-VKSND", "issued_on": "2026-05-29",
                            "issuing_body": "Viện kiểm sát nhân dân TP Hà Nội", "signer": "Lê Thị B"}});
        let (status, filed) = server.call(reqwest::Method::POST, "/v1/bulk-lock-orders", &procuracy, Some(order)).await;
        assert_eq!(status, 201, "{filed}");
        let id = filed["id"].as_str().unwrap();
        for (step, body) in [("claim", None), ("forward", Some(json!({"note": "ok"})))] {
            let path = format!("/v1/requests/{id}/{step}");
            let (status, body) = server.call(reqwest::Method::POST, &path, &reviewer, body).await;
            assert_eq!(status, 200, "{body}");
        }
        assert!(active(&server.http, &introspect, &rp, &watched).await, "live until the approval");
        let (path, approve) = (format!("/v1/requests/{id}/decision"), json!({"decision": "approve"}));
        let (status, body) = server.call(reqwest::Method::POST, &path, &supervisor, Some(approve)).await;
        assert_eq!((status, body["status"].as_str()), (200, Some("effective")), "{body}");
        assert!(!active(&server.http, &introspect, &rp, &watched).await, "the very next introspection");
        assert_eq!(userinfo_status(&server.http, &userinfo, &watched).await, 401);
        assert!(active(&server.http, &introspect, &rp, &other).await, "a holder not in the order");
    }
}
