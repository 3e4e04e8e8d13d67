//! What the server's integration tests share: a real server on a random port over a fresh database, a
//! manual clock, an HTTP client, and fixtures for actors (an operator with an administrator session).
#![allow(dead_code)]

pub mod biometrics;
pub mod browser;
pub mod oidc;
pub mod totp;

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use dinhdanh_domain::account::HolderKind;
use dinhdanh_domain::actor::{OfficerRole, OrganizationKind, OrganizationStatus};
use dinhdanh_domain::client::{ApiClient, ClientAuthMethod, ClientCredential, ClientStatus, CredentialKind};
use dinhdanh_domain::lock::{Ground, Lock, Party};
use dinhdanh_domain::officer::{Officer, OfficerStatus};
use dinhdanh_domain::organization::Organization;
use dinhdanh_domain::{
    Account, AccountId, AccountStatus, Email, FullName, IdentificationNumber, IdentityKey, Level, PhoneNumber,
    ProvinceTable,
};
use dinhdanh_registry::StoreRegistry;
use dinhdanh_server::clock::{Clock, ManualClock};
use dinhdanh_server::ratelimit::RateLimit;
use dinhdanh_server::secrets::{hash_secret, new_token};
use dinhdanh_server::{AppState, ServerConfig};
use dinhdanh_store::testing::TestDb;
use dinhdanh_store::{OutboxStatus, Store};
use serde_json::{Value, json};

/// The `kid` under which `private_key_jwt` test clients register [`test_ec_key`].
pub const TEST_EC_KID: &str = "rp-ec-1";

/// The committed P-256 test key (`tests/keys/ec-1`): its private half for signing, and its public JWK with
/// `kid`, `alg` and `use` as a client registers it.
pub fn test_ec_key() -> (jsonwebtoken::EncodingKey, Value) {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");
    let pem = std::fs::read(format!("{dir}/ec-1.pem")).unwrap();
    let jwk = std::fs::read_to_string(format!("{dir}/ec-1.jwk.json")).unwrap();
    let mut jwk: Value = serde_json::from_str(&jwk).unwrap();
    jwk["kid"] = TEST_EC_KID.into();
    jwk["alg"] = "ES256".into();
    jwk["use"] = "sig".into();
    (jsonwebtoken::EncodingKey::from_ec_pem(&pem).unwrap(), jwk)
}

pub struct TestServer {
    pub base: String,
    pub store: Store,
    pub clock: ManualClock,
    pub http: reqwest::Client,
    pub state: AppState,
    _stop: tokio::sync::oneshot::Sender<()>,
}

/// Limits high enough that tests which do not test them never meet them.
pub fn relaxed_config() -> ServerConfig {
    let unlimited = RateLimit { per_minute: 100_000, burst: 100_000 };
    ServerConfig {
        public_rate_limit: unlimited,
        ops_rate_limit: unlimited,
        api_rate_limit: unlimited,
        ..ServerConfig::default()
    }
}

impl TestServer {
    pub async fn start(db: &TestDb) -> Self {
        Self::start_with(db, relaxed_config()).await
    }

    pub async fn start_with(db: &TestDb, config: ServerConfig) -> Self {
        Self::start_on(db.store().await, config).await
    }

    /// Another node on the same database, with a store of its own: on PostgreSQL it connects under another
    /// `application_name`, so it shares nothing in memory with the first node and hears its commits only
    /// through `NOTIFY`, as a node on another machine does.
    pub async fn another_node(db: &TestDb, name: &str, config: ServerConfig) -> Self {
        let url = match db.dialect {
            dinhdanh_store::Dialect::Postgres => format!("{}&application_name={name}", db.url),
            dinhdanh_store::Dialect::Sqlite => db.url.clone(),
        };
        Self::start_on(Store::connect(&url).await.expect("connect to test database"), config).await
    }

    pub async fn start_on(store: Store, config: ServerConfig) -> Self {
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap());
        let state =
            AppState::new(store.clone(), Arc::new(StoreRegistry::new(store.clone())), Arc::new(clock.clone()), config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(dinhdanh_server::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        Self { base, store, clock, http: reqwest::Client::new(), state, _stop: stop }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self.http.post(self.url(path)).json(&body).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A request with a bearer token; returns status and JSON body (Null when there is none).
    pub async fn call(&self, method: reqwest::Method, path: &str, token: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, self.url(path)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn counts(&self) -> (i64, i64) {
        (self.store.count_accounts().await.unwrap(), self.store.count_messages(OutboxStatus::Pending).await.unwrap())
    }

    /// The last activation code queued (read from the outbox, as the SMS would carry it).
    pub async fn last_code(&self) -> String {
        self.last_code_of("activation_code").await
    }

    /// The newest sign-in code queued for a holder (as the SMS carries it).
    pub async fn last_sign_in_code(&self) -> String {
        self.last_code_of("holder_sign_in_code").await
    }

    /// The six digits of the newest queued message of this kind.
    async fn last_code_of(&self, kind: &str) -> String {
        let messages = self.store.outbox_messages(None, 100).await.unwrap();
        let message = messages.iter().find(|m| m.kind == kind).unwrap_or_else(|| panic!("a {kind} was queued"));
        message.body.split_whitespace().find(|w| w.len() >= 6 && w[..6].bytes().all(|b| b.is_ascii_digit())).unwrap()
            [..6]
            .to_owned()
    }

    /// An organization written straight to the store (fixtures; the API path is tested on its own).
    pub async fn organization(&self, code: &str, kind: OrganizationKind) -> Organization {
        let now = self.clock.now();
        let org = Organization {
            id: uuid::Uuid::new_v4().to_string(),
            code: code.to_owned(),
            name: format!("Tổ chức {code}"),
            kind,
            parent_id: None,
            status: OrganizationStatus::Active,
            contact_email: None,
            contact_phone: None,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.begin().await.unwrap();
        tx.insert_organization(&org).await.unwrap();
        tx.commit().await.unwrap();
        org
    }

    /// An active API client of a new relying-party organization that proves itself with `method`, written as an
    /// administrator's `client create` would: returns its id and its secret (empty for `private_key_jwt`, whose
    /// one key is [`test_ec_key`] under [`TEST_EC_KID`]).
    pub async fn relying_party_client(&self, code: &str, method: ClientAuthMethod) -> (String, String) {
        let org = self.organization(code, OrganizationKind::RelyingParty).await;
        let now = self.clock.now();
        let client_id = uuid::Uuid::new_v4().to_string();
        let (secret, kind, key_id, material) = match method {
            ClientAuthMethod::ClientSecret => {
                let secret = format!("dd_cs_{}", uuid::Uuid::new_v4().simple());
                let digest = dinhdanh_server::secrets::server_secret_digest(&secret);
                (secret, CredentialKind::Secret, None, digest)
            }
            ClientAuthMethod::PrivateKeyJwt => {
                (String::new(), CredentialKind::Jwk, Some(TEST_EC_KID.to_owned()), test_ec_key().1.to_string())
            }
        };
        let client = ApiClient {
            id: client_id.clone(),
            organization_id: org.id.clone(),
            name: format!("Ngân hàng {code}"),
            auth_method: method,
            scopes: BTreeSet::new(),
            status: ClientStatus::Active,
            created_at: now,
            revoked_at: None,
        };
        let credential = ClientCredential {
            id: uuid::Uuid::new_v4().to_string(),
            client_id: client_id.clone(),
            kind,
            key_id,
            material,
            created_at: now,
            revoked_at: None,
        };
        let mut tx = self.store.begin().await.unwrap();
        tx.insert_api_client(&client).await.unwrap();
        tx.insert_client_credential(&credential).await.unwrap();
        tx.commit().await.unwrap();
        (client_id, secret)
    }

    /// An active officer with these roles in `organization_id` and a live session; returns the bearer token.
    pub async fn officer_session(&self, organization_id: &str, roles: &[OfficerRole]) -> (Officer, String) {
        let now = self.clock.now();
        let id = uuid::Uuid::new_v4().to_string();
        let officer = Officer {
            id: id.clone(),
            username: format!("officer-{}", &id[..8]),
            full_name: "Phạm Minh Tuấn".to_owned(),
            organization_id: organization_id.to_owned(),
            roles: roles.iter().copied().collect::<BTreeSet<_>>(),
            status: OfficerStatus::Active,
            password_hash: None,
            totp_secret: None,
            totp_last_step: None,
            enrolment_token_hash: None,
            enrolment_expires_at: None,
            failed_sign_ins: 0,
            locked_until: None,
            created_at: now,
            updated_at: now,
        };
        let (token, hash) = new_token(dinhdanh_server::auth::OFFICER_SESSION_PREFIX);
        let mut tx = self.store.begin().await.unwrap();
        tx.insert_officer(&officer).await.unwrap();
        tx.insert_officer_session(&hash, &officer.id, now, now + Duration::hours(8)).await.unwrap();
        tx.commit().await.unwrap();
        (officer, token)
    }

    /// An active Level 1 or 2 account for a citizen with this identification number, and a live holder session
    /// whose sign-in proved that level (see [`Self::holder_session`]).
    pub async fn holder(&self, id_number: &str, level: dinhdanh_domain::Level) -> (dinhdanh_domain::Account, String) {
        self.holder_with_channels(id_number, level, true, true).await
    }

    /// Like [`Self::holder`], with only the channels asked for (a phone `0912345678`, an e-mail `mai@example.vn`).
    pub async fn holder_with_channels(
        &self,
        id_number: &str,
        level: dinhdanh_domain::Level,
        phone: bool,
        email: bool,
    ) -> (dinhdanh_domain::Account, String) {
        use dinhdanh_domain::{
            Account, AccountId, AccountStatus, FullName, IdentificationNumber, IdentityKey, ProvinceTable,
        };
        let now = self.clock.now();
        let id = IdentificationNumber::parse(id_number, &ProvinceTable::builtin()).unwrap();
        let account = Account {
            id: AccountId::new(uuid::Uuid::new_v4().to_string()),
            identity_key: IdentityKey::citizen(&id),
            holder_kind: dinhdanh_domain::account::HolderKind::Citizen,
            full_name: FullName::parse("Trần Thị Mai").unwrap(),
            level,
            status: AccountStatus::Active,
            phone: phone.then(|| dinhdanh_domain::PhoneNumber::parse("0912345678").unwrap()),
            email: email.then(|| dinhdanh_domain::Email::parse("mai@example.vn").unwrap()),
            password_hash: "unused".into(),
            created_at: now,
            activated_at: Some(now),
        };
        let (token, hash) = new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
        let mut tx = self.store.begin().await.unwrap();
        tx.insert_account(&account).await.unwrap();
        tx.insert_holder_session(&hash, &account.id, level, false, now, now + Duration::hours(1)).await.unwrap();
        tx.commit().await.unwrap();
        (account, token)
    }

    /// A new live session for an existing account (after a lock revoked the old ones, say), opened at the
    /// account's level as a sign-in with a biometric match will open it; a password-and-code sign-in (Level 1
    /// whatever the account) goes through the API.
    pub async fn holder_session(&self, account: &dinhdanh_domain::Account) -> String {
        let now = self.clock.now();
        let (token, hash) = new_token(dinhdanh_server::auth::HOLDER_SESSION_PREFIX);
        let mut tx = self.store.begin().await.unwrap();
        tx.insert_holder_session(&hash, &account.id, account.level, false, now, now + Duration::hours(1))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        token
    }

    /// An organization of `kind` with an API client holding `scopes`, and a live access token for it.
    pub async fn organization_token(
        &self,
        code: &str,
        kind: OrganizationKind,
        scopes: &[dinhdanh_domain::actor::Scope],
    ) -> (Organization, String) {
        use dinhdanh_domain::client::{ApiClient, ClientAuthMethod, ClientStatus};
        let org = self.organization(code, kind).await;
        let now = self.clock.now();
        let scopes: BTreeSet<_> = scopes.iter().copied().collect();
        let client = ApiClient {
            id: uuid::Uuid::new_v4().to_string(),
            organization_id: org.id.clone(),
            name: format!("{code} client"),
            auth_method: ClientAuthMethod::ClientSecret,
            scopes: scopes.clone(),
            status: ClientStatus::Active,
            created_at: now,
            revoked_at: None,
        };
        let (token, hash) = new_token(dinhdanh_server::auth::ACCESS_TOKEN_PREFIX);
        let mut tx = self.store.begin().await.unwrap();
        tx.insert_api_client(&client).await.unwrap();
        tx.insert_access_token(&hash, &client.id, &scopes, now, now + Duration::days(30)).await.unwrap();
        tx.commit().await.unwrap();
        (org, token)
    }

    /// The operator organization (created on first use) and an administrator's bearer token.
    pub async fn admin(&self) -> String {
        let operator = match self.store.organization_by_code("C06").await.unwrap() {
            Some(org) => org,
            None => self.organization("C06", OrganizationKind::Operator).await,
        };
        self.officer_session(&operator.id, &[OfficerRole::Administrator]).await.1
    }
}

/// Trần Thị Mai's identification number and password, for the tests that sign her in.
pub const MAI_ID: &str = "001190123456";
pub const MAI_PASSWORD: &str = "hoa sen nở trên hồ tây";

/// Trần Thị Mai, an active Level 1 citizen with a phone and an e-mail.
pub async fn mai(server: &TestServer) -> AccountId {
    citizen(server, MAI_ID).await
}

/// Trần Thị Mai in the population registry (born 1 May 1990, female), without an account: someone who can
/// register.
pub async fn mai_in_the_registry(server: &TestServer) {
    let record = dinhdanh_domain::registry::CitizenRecord {
        id_number: IdentificationNumber::parse(MAI_ID, &ProvinceTable::builtin()).unwrap(),
        full_name: FullName::parse("Trần Thị Mai").unwrap(),
        date_of_birth: chrono::NaiveDate::from_ymd_opt(1990, 5, 1).unwrap(),
        gender: dinhdanh_domain::Gender::Female,
        place_of_origin: None,
        permanent_residence: None,
        card_status: dinhdanh_domain::registry::CardStatus::Valid,
        died_on: None,
    };
    server.store.upsert_citizens(&[record], chrono::Utc::now()).await.unwrap();
}

/// An active Level 1 citizen with this identification number, Mai's name, phone, e-mail and password.
pub async fn citizen(server: &TestServer, id_number: &str) -> AccountId {
    let now = server.clock.now();
    let id = IdentificationNumber::parse(id_number, &ProvinceTable::builtin()).unwrap();
    let account = Account {
        id: AccountId::new(uuid::Uuid::new_v4().to_string()),
        identity_key: IdentityKey::citizen(&id),
        holder_kind: HolderKind::Citizen,
        full_name: FullName::parse("Trần Thị Mai").unwrap(),
        level: Level::One,
        status: AccountStatus::Active,
        phone: Some(PhoneNumber::parse("0912345678").unwrap()),
        email: Some(Email::parse("mai@example.vn").unwrap()),
        password_hash: hash_secret(MAI_PASSWORD.to_owned()).await.unwrap(),
        created_at: now,
        activated_at: Some(now),
    };
    let mut tx = server.store.begin().await.unwrap();
    tx.insert_account(&account).await.unwrap();
    tx.commit().await.unwrap();
    account.id
}

/// A holder's own lock, placed as the lock engine does: the lock and the end of the holder's sessions in one
/// transaction.
pub async fn lock(server: &TestServer, account_id: &AccountId) {
    lock_through(server, &server.store, account_id).await;
}

/// The same lock, committed through `store` (another process's or node's, say).
pub async fn lock_through(server: &TestServer, store: &Store, account_id: &AccountId) {
    let lock = holder_lock(server, account_id);
    let mut tx = store.begin().await.unwrap();
    tx.insert_lock(&lock).await.unwrap();
    tx.revoke_holder_sessions(account_id, server.clock.now()).await.unwrap();
    tx.commit().await.unwrap();
}

/// A holder's own lock ("mất điện thoại") in force from now, not yet written.
pub fn holder_lock(server: &TestServer, account_id: &AccountId) -> Lock {
    Lock {
        id: uuid::Uuid::new_v4().to_string(),
        account_id: account_id.clone(),
        ground: Ground::HolderRequest,
        placed_by: Party::Holder { account_id: account_id.clone() },
        legal_basis: None,
        reference: None,
        reason: "mất điện thoại".into(),
        effective_at: server.clock.now(),
        ends_at: None,
        request_id: None,
        lifted: None,
    }
}

/// The password every officer of [`TestServer::enrolled_officer`] chose.
pub const OFFICER_PASSWORD: &str = "sông Hồng chảy qua Hà Nội";

/// An officer who has gone through enrolment, with what they type to sign in.
pub struct EnrolledOfficer {
    pub username: String,
    pub password: String,
    /// The TOTP secret their authenticator app holds.
    pub secret: Vec<u8>,
}

impl EnrolledOfficer {
    /// The code their authenticator app shows at this instant.
    pub fn code_at(&self, unix_seconds: i64) -> String {
        totp::totp(&self.secret, unix_seconds, 6)
    }
}

impl TestServer {
    /// An officer of `organization_id` with `roles`, created by the administrator `admin` and enrolled over the
    /// API (password, then the first TOTP code); the clock then moves on one time step, so that the sign-in has
    /// a code not used yet.
    pub async fn enrolled_officer(
        &self,
        admin: &str,
        organization_id: &str,
        username: &str,
        roles: &[&str],
    ) -> EnrolledOfficer {
        let body = json!({"username": username, "full_name": "Lê Thị Hoa", "organization_id": organization_id, "roles": roles});
        let (status, created) = self.call(reqwest::Method::POST, "/v1/officers", admin, Some(body)).await;
        assert_eq!(status, 201, "{created}");
        let token = created["enrolment_token"].as_str().unwrap();
        let (status, body) =
            self.post("/v1/officer-enrolment", json!({"token": token, "password": OFFICER_PASSWORD})).await;
        assert_eq!(status, 200, "{body}");
        let officer = EnrolledOfficer {
            username: username.to_owned(),
            password: OFFICER_PASSWORD.to_owned(),
            secret: totp::base32(body["totp_secret"].as_str().unwrap()),
        };
        let code = officer.code_at(self.clock.now().timestamp());
        let (status, body) = self.post("/v1/officer-enrolment/confirm", json!({"token": token, "code": code})).await;
        assert_eq!(status, 200, "{body}");
        self.clock.advance(chrono::Duration::seconds(30));
        officer
    }
}
