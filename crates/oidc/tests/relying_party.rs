//! The provider's pieces put together as the HTTP layer will, and the result checked the way a strict relying
//! party does: the ID token's signature from nothing but the JWKS JSON, then `iss`, `aud`, `azp`, `nonce`,
//! `acr`, `auth_time` and `at_hash`.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{Duration, Utc};
use dinhdanh_domain::client::ClientAuthMethod;
use dinhdanh_domain::{AccountId, FullName, Level, SignInProof};
use dinhdanh_oidc::authorize::{self, AuthorizationParams, ProviderSession, Step, Via};
use dinhdanh_oidc::claims::{HolderClaims, TokenInput, issue_tokens};
use dinhdanh_oidc::client::ClientRegistration;
use dinhdanh_oidc::consent::{Consent, ConsentRequest};
use dinhdanh_oidc::keys::KeySet;
use dinhdanh_oidc::metadata::{EndpointPaths, Issuer, ProviderMetadata};
use dinhdanh_oidc::pkce::CodeChallenge;
use dinhdanh_oidc::scope::{Claim, Scope};
use dinhdanh_oidc::subject::{SubjectSalt, SubjectType, subject_for};
use dinhdanh_oidc::tokens::{
    self, AuthorizationCode, CodeDecision, CodeExchange, Lifetimes, RefreshDecision, RefreshFamily,
};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;
use sha2::{Digest, Sha256};

const VERIFIER: &str = "a-strict-relying-party-keeps-this-verifier-secret-0123456789";

fn bank() -> ClientRegistration {
    ClientRegistration {
        client_id: "bank".into(),
        redirect_uris: vec!["https://bank.example/cb".into()],
        post_logout_redirect_uris: vec![],
        scopes: [Scope::OpenId, Scope::Profile, Scope::OfflineAccess].into(),
        claims: [Claim::Name].into(),
        subject_type: SubjectType::Pairwise,
        sector_identifier: None,
        require_pushed_authorization_requests: false,
        token_endpoint_auth_method: ClientAuthMethod::ClientSecret,
    }
}

/// What a relying party does with the token response: verify the ID token against the JWKS document alone.
fn relying_party_checks(jwks_json: &str, discovery: &Value, id_token: &str, access_token: &str, nonce: &str) -> Value {
    let jwks: JwkSet = serde_json::from_str(jwks_json).unwrap();
    let header = jsonwebtoken::decode_header(id_token).unwrap();
    assert_eq!(header.alg, Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    let jwk = jwks.find(header.kid.as_deref().unwrap()).expect("the kid is in the JWKS");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let mut validation = Validation::new(Algorithm::ES256);
    validation.set_issuer(&[discovery["issuer"].as_str().unwrap()]);
    validation.set_audience(&["bank"]);
    validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
    let claims: Value = jsonwebtoken::decode(id_token, &key, &validation).unwrap().claims;
    assert_eq!(claims["azp"], "bank");
    assert_eq!(claims["nonce"], nonce);
    let digest = Sha256::digest(access_token.as_bytes());
    assert_eq!(claims["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    let acr = claims["acr"].as_str().unwrap();
    assert!(discovery["acr_values_supported"].as_array().unwrap().iter().any(|v| v == acr));
    assert!(claims["auth_time"].as_i64().unwrap() <= claims["iat"].as_i64().unwrap());
    claims
}

#[test]
fn code_flow_from_request_to_a_verified_id_token_and_a_rotated_refresh_token() {
    let issuer = Issuer::parse("https://id.dinhdanh.example").unwrap();
    let discovery = serde_json::to_value(ProviderMetadata::new(&issuer, &EndpointPaths::default())).unwrap();
    let lifetimes = Lifetimes::default();
    let now = Utc::now();
    let keys = KeySet::generate(now - Duration::days(1));
    let salt = SubjectSalt::generate();
    let client = bank();
    client.validate().unwrap();

    // The browser arrives with the relying party's request.
    let challenge = CodeChallenge::of_verifier(VERIFIER);
    let params = AuthorizationParams::from_pairs([
        ("client_id", "bank"),
        ("redirect_uri", "https://bank.example/cb"),
        ("response_type", "code"),
        ("scope", "openid profile offline_access"),
        ("state", "af0ifjsldkj"),
        ("nonce", "n-0S6_WzA2Mj"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
        ("prompt", "consent"),
    ])
    .unwrap();
    let request = authorize::validate(&params, &client, Via::FrontChannel, now).unwrap();
    assert_eq!(
        authorize::next_step(&request, &client, None, None, now).unwrap(),
        Step::SignIn(authorize::SignInReason::NoSession)
    );

    // The holder signs in with password and code (Level 1, whatever the account's level), then consents.
    let session = ProviderSession {
        account_id: AccountId::new("3f0c6a52-5d1e-4a8f-9c1b-2b7d8e9f0a11".into()),
        assurance: SignInProof::PasswordAndCode.assurance(Level::Two),
        auth_time: now,
        amr: vec!["pwd".into(), "otp".into()],
        restore_only: false,
        account_level: Level::Two,
    };
    let Step::Consent(asked) = authorize::next_step(&request, &client, Some(&session), None, now).unwrap() else {
        panic!("consent first")
    };
    assert_eq!(asked, ConsentRequest::for_request(&request, &client));
    assert!(asked.offline_access());
    let consent = Consent::give(session.account_id.clone(), &asked, &asked.claims, None, now);
    let Step::Issue(grant) = authorize::next_step(&request, &client, Some(&session), Some(&consent), now).unwrap()
    else {
        panic!("issue")
    };
    assert_eq!(grant.acr, Level::One);
    let (code, record) = AuthorizationCode::issue(
        grant.clone(),
        request.redirect_uri.clone(),
        request.code_challenge.clone(),
        request.nonce.clone(),
        now,
        &lifetimes,
    );
    let redirect = request.success_url(&code, &issuer);
    assert!(redirect.as_str().starts_with("https://bank.example/cb?code=dd_ac_"));

    // The relying party exchanges the code.
    let exchange = CodeExchange {
        client_id: "bank",
        redirect_uri: Some("https://bank.example/cb"),
        code_verifier: Some(VERIFIER),
    };
    assert_eq!(tokens::token_hash(&code), record.hash);
    assert_eq!(tokens::redeem_code(&record, exchange, now + Duration::seconds(2)), CodeDecision::Exchange);
    let (family, first_refresh) = RefreshFamily::start(&record.grant, now, &lifetimes).unwrap();
    let sub = subject_for(client.subject_type, &client.sector().unwrap(), &grant.account_id, &salt);
    let holder = HolderClaims { name: Some(FullName::parse("Trần Thị Mai").unwrap()), ..HolderClaims::default() };
    let issued = issue_tokens(
        &keys,
        TokenInput {
            issuer: &issuer,
            audience: &issuer.url("/oauth/userinfo"),
            sub: &sub,
            grant: &record.grant,
            scopes: &record.grant.scopes,
            nonce: record.nonce.as_deref(),
            holder: &holder,
            refresh_token: Some(&first_refresh.token),
        },
        now,
        &lifetimes,
    )
    .unwrap();
    assert_eq!(issued.response.expires_in, 300);
    assert_eq!(issued.response.scope, "openid profile offline_access");

    let jwks_json = serde_json::to_string(&keys.jwks()).unwrap();
    let id_token = issued.response.id_token.as_deref().unwrap();
    let claims = relying_party_checks(&jwks_json, &discovery, id_token, &issued.response.access_token, "n-0S6_WzA2Mj");
    assert_eq!(claims["sub"], sub.as_str());
    assert_eq!(claims["acr"], "urn:dinhdanh:loa:1", "the sign-in's assurance, not the account's");
    assert_eq!(claims["auth_time"], now.timestamp());
    assert!(claims.get("name").is_none(), "claims go to userinfo unless the claims parameter asks for them here");

    // The access token is an RFC 9068 JWT the provider itself accepts back.
    let access: Value = keys
        .verify(&issued.response.access_token, dinhdanh_oidc::keys::TokenType::AccessToken, issuer.as_str(), false)
        .unwrap();
    assert_eq!(access["jti"], issued.access.jti.as_str());
    assert_eq!(access["client_id"], "bank");

    // Refresh once, then present the first refresh token again: the family is revoked.
    let mut first = first_refresh.record.clone();
    let RefreshDecision::Rotate { used, .. } = tokens::refresh(&family, &first, "bank", None, now, &lifetimes) else {
        panic!("rotate")
    };
    assert_eq!(used, first.hash);
    first.used_at = Some(now);
    assert!(matches!(
        tokens::refresh(&family, &first, "bank", None, now, &lifetimes),
        RefreshDecision::Reuse { revoke_grant, .. } if revoke_grant == grant.id
    ));

    // The code is single-use: a second exchange revokes the grant.
    let mut used_code = record.clone();
    used_code.used_at = Some(now);
    assert!(matches!(tokens::redeem_code(&used_code, exchange, now), CodeDecision::Reuse { .. }));
}

#[test]
fn tokens_signed_before_a_rotation_still_verify_from_the_published_jwks() {
    let now = Utc::now();
    let mut keys = KeySet::generate(now);
    let claims = serde_json::json!({"iss": "https://id.example", "sub": "s", "aud": "bank", "exp": (now + Duration::minutes(5)).timestamp(), "iat": now.timestamp()});
    let before = keys.sign(&claims, dinhdanh_oidc::keys::TokenType::IdToken).unwrap();
    keys.rotate(now, Duration::minutes(5));
    let after = keys.sign(&claims, dinhdanh_oidc::keys::TokenType::IdToken).unwrap();
    let jwks: JwkSet = serde_json::from_value(serde_json::to_value(keys.jwks()).unwrap()).unwrap();
    let mut kids = BTreeSet::new();
    for token in [&before, &after] {
        let kid = jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        let key = DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_audience(&["bank"]);
        jsonwebtoken::decode::<Value>(token, &key, &validation).unwrap();
        kids.insert(kid);
    }
    assert_eq!(kids.len(), 2, "signed by two different keys, both published");
}
