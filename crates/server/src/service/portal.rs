//! The holder portal's use cases (issue 15, docs/portal.md). The portal is a relying party of this server's own
//! OpenID Connect provider: it signs holders in through the provider's pages with the authorization code flow
//! and PKCE, like any bank or public-service portal, and redeems the code in this process (it has no credential
//! to present to itself, so its API client has none, and nobody can use it over HTTP).
//!
//! Its session is the provider session that signed the holder in (the holder session whose sign-in made the
//! grant): the portal's cookie carries that session's token hash, sealed, so it proves exactly what that
//! sign-in proved, and a lock, a sign-out at the provider or the portal's own sign-out ends both at once. What
//! the pages read and change goes through the same services and the one authorization table as the API.

use dinhdanh_domain::AccountStatus;
use dinhdanh_domain::actor::{Actor, OrganizationKind, OrganizationStatus};
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::client::{ApiClient, ClientAuthMethod, ClientStatus};
use dinhdanh_domain::lock::{Ground, Lock, Party};
use dinhdanh_domain::organization::Organization;
use dinhdanh_domain::request::Request;
use dinhdanh_oidc::TokenError;
use dinhdanh_oidc::client::ClientRegistration;
use dinhdanh_oidc::consent::Consent;
use dinhdanh_oidc::metadata::Issuer;
use dinhdanh_oidc::pkce::CodeChallenge;
use dinhdanh_oidc::scope::Scope;
use dinhdanh_oidc::subject::SubjectType;
use dinhdanh_store::{AuditEntry, OidcSignIn};
use serde_json::json;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::auth::authorize;
use crate::problem::ApiError;
use crate::secrets::token_hash;
use crate::service::holders::{self, MyAccount};
use crate::service::locks::{LockOrder, UnlockOrder, may_read, placed_by_name, request_lock, request_unlock};
use crate::service::oidc::token::{CodeGrant, exchange_for_client};

/// The portal's API client and relying-party registration.
pub const CLIENT_ID: &str = "dinhdanh-portal";
/// The operator's organization that owns the portal's client.
const ORGANIZATION_ID: &str = "dinhdanh-portal";
const ORGANIZATION_CODE: &str = "DINHDANH-PORTAL";
const ORGANIZATION_NAME: &str = "Cổng thông tin định danh điện tử (dinhdanh)";
/// Where the provider sends the browser back with the code.
pub const CALLBACK_PATH: &str = "/portal/callback";
/// The issuer is the configured public URL, or in development the request's loopback host: the portal keeps
/// a callback for each of the few it has seen, under one sector so that its pairwise subjects do not change.
const MAX_CALLBACKS: usize = 4;
const SECTOR: &str = "portal.dinhdanh.invalid";
/// The associated data of the sealed session cookie: a value sealed for anything else does not open as one.
const SESSION_SEAL_CONTEXT: &[u8] = b"dinhdanh portal session v1";

/// The portal's registration, with these callbacks: `openid` only (the portal reads the account through the
/// services, not through claims), pairwise under its own sector, authenticated as its API client.
fn registration(redirect_uris: Vec<String>) -> ClientRegistration {
    ClientRegistration {
        client_id: CLIENT_ID.to_owned(),
        redirect_uris,
        post_logout_redirect_uris: Vec::new(),
        scopes: [Scope::OpenId].into(),
        claims: Default::default(),
        subject_type: SubjectType::Pairwise,
        sector_identifier: Some(SECTOR.to_owned()),
        require_pushed_authorization_requests: false,
        token_endpoint_auth_method: ClientAuthMethod::ClientSecret,
    }
}

/// The portal's registration, with this issuer's callback: created on first use (its organization, an API
/// client without credentials and the registration, in one transaction, audited as the system's), and the
/// callback added when the issuer is one not seen before. Nodes racing to create it: the loser reads the
/// winner's.
pub async fn ensure_client(state: &AppState, issuer: &Issuer) -> Result<ClientRegistration, ApiError> {
    let callback = issuer.url(CALLBACK_PATH);
    let existing = state.store.oidc_client(CLIENT_ID).await?;
    if let Some(found) = &existing
        && found.redirect_uris.contains(&callback)
    {
        return Ok(found.clone());
    }
    let now = state.clock.now();
    let mut callbacks = existing.map(|r| r.redirect_uris).unwrap_or_default();
    callbacks.push(callback);
    let drop_oldest = callbacks.len().saturating_sub(MAX_CALLBACKS);
    callbacks.drain(..drop_oldest);
    let wanted = registration(callbacks);
    wanted.validate().map_err(|e| ApiError::internal(format!("the portal's registration is invalid: {e}")))?;
    let written = async {
        let mut tx = state.store.begin().await?;
        if tx.organization(ORGANIZATION_ID).await?.is_none() {
            tx.insert_organization(&Organization {
                id: ORGANIZATION_ID.to_owned(),
                code: ORGANIZATION_CODE.to_owned(),
                name: ORGANIZATION_NAME.to_owned(),
                kind: OrganizationKind::RelyingParty,
                parent_id: None,
                status: OrganizationStatus::Active,
                contact_email: None,
                contact_phone: None,
                created_at: now,
                updated_at: now,
            })
            .await?;
            tx.insert_api_client(&ApiClient {
                id: CLIENT_ID.to_owned(),
                organization_id: ORGANIZATION_ID.to_owned(),
                name: "Cổng thông tin / Portal".to_owned(),
                auth_method: ClientAuthMethod::ClientSecret,
                scopes: Default::default(),
                status: ClientStatus::Active,
                created_at: now,
                revoked_at: None,
            })
            .await?;
        }
        tx.upsert_oidc_client(&wanted, now).await?;
        tx.audit(AuditEntry {
            at: now,
            actor: "system".into(),
            action: "oidc.client.register",
            subject: Some(CLIENT_ID.to_owned()),
            outcome: "ok",
            detail: json!({"redirect_uris": wanted.redirect_uris.len(), "portal": true}),
        })
        .await?;
        tx.commit().await?;
        Ok::<_, ApiError>(())
    }
    .await;
    match written {
        Ok(()) => Ok(wanted),
        // Another node created it meanwhile: use theirs if it has this callback, else fail as before.
        Err(error) => match state.store.oidc_client(CLIENT_ID).await? {
            Some(found) if found.redirect_uris.contains(&issuer.url(CALLBACK_PATH)) => Ok(found),
            _ => Err(error),
        },
    }
}

/// One sign-in attempt of one browser: the `state` the provider sends back and the PKCE verifier, kept in a
/// cookie of the portal's until the callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub state: String,
    pub verifier: String,
}

impl Flow {
    pub fn new() -> Self {
        // 64 hex characters each: a valid PKCE verifier (RFC 7636 §4.1) and an unguessable state.
        let random = || dinhdanh_oidc::tokens::new_token("").0;
        Self { state: random(), verifier: random() }
    }

    /// The cookie's value.
    pub fn to_cookie(&self) -> String {
        format!("{}.{}", self.state, self.verifier)
    }

    pub fn from_cookie(value: &str) -> Option<Self> {
        let (state, verifier) = value.split_once('.')?;
        let hex = |s: &str| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit());
        (hex(state) && hex(verifier)).then(|| Self { state: state.to_owned(), verifier: verifier.to_owned() })
    }
}

impl Default for Flow {
    fn default() -> Self {
        Self::new()
    }
}

/// The provider's authorization request for this flow: the code flow with S256 PKCE, `openid`, and the page's
/// language as `ui_locales` (the holder's own choice still wins there).
pub async fn authorization_url(state: &AppState, issuer: &Issuer, flow: &Flow, lang: &str) -> Result<String, ApiError> {
    ensure_client(state, issuer).await?;
    let challenge = CodeChallenge::of_verifier(&flow.verifier);
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", CLIENT_ID)
        .append_pair("redirect_uri", &issuer.url(CALLBACK_PATH))
        .append_pair("scope", "openid")
        .append_pair("state", &flow.state)
        .append_pair("code_challenge", challenge.as_str())
        .append_pair("code_challenge_method", "S256")
        .append_pair("ui_locales", lang)
        .finish();
    Ok(format!("{}?{query}", issuer.url(&state.oidc.paths.authorization)))
}

/// How a callback ended.
#[derive(Debug)]
pub enum Callback {
    /// Signed in: the portal's session cookie and how long it lives (the provider session's remaining time).
    SignedIn { cookie: String, max_age_seconds: i64 },
    /// Not signed in, and why, in the provider's words (`access_denied` when the holder declined, a lock, …).
    Refused { error: String },
}

/// The provider sent the browser back: checks `state` against the browser's flow (constant time), redeems the
/// code with the flow's verifier as the relying party (every check of the token endpoint, a lock since the
/// sign-in included), and opens the portal's session.
pub async fn callback(
    state: &AppState,
    issuer: &Issuer,
    flow: Option<Flow>,
    returned_state: Option<&str>,
    code: Option<&str>,
    error: Option<&str>,
) -> Result<Callback, ApiError> {
    let refused = |error: &str| Ok(Callback::Refused { error: error.to_owned() });
    let Some(flow) = flow else { return refused("no_flow") };
    let same_state = returned_state.is_some_and(|s| bool::from(s.as_bytes().ct_eq(flow.state.as_bytes())));
    if !same_state {
        return refused("state_mismatch");
    }
    if let Some(error) = error {
        return refused(error);
    }
    let Some(code) = code else { return refused("no_code") };
    let client = ensure_client(state, issuer).await?;
    let session_hash = state.store.oidc_code_holder_session(&token_hash(code)).await?;
    let grant = CodeGrant {
        client: None,
        code: code.to_owned(),
        redirect_uri: Some(issuer.url(CALLBACK_PATH)),
        code_verifier: Some(flow.verifier),
    };
    match exchange_for_client(state, issuer, &client, grant).await? {
        Ok(_tokens) => {}
        Err(TokenError { error, .. }) => return refused(error.as_str()),
    }
    let Some(session_hash) = session_hash else { return refused("invalid_grant") };
    let Some(owner) = state.store.holder_session_owner(&session_hash, state.clock.now()).await? else {
        return refused("login_required");
    };
    let max_age_seconds = (owner.expires_at - state.clock.now()).num_seconds().max(0);
    Ok(Callback::SignedIn { cookie: session_cookie(state, &session_hash), max_age_seconds })
}

/// The portal's cookie for the holder session with this token hash: the hash, sealed.
pub fn session_cookie(state: &AppState, session_hash: &str) -> String {
    seal_session_cookie(&state.config.oidc_seal_key, session_hash)
}

/// [`session_cookie`] under this seal key (the page benchmark makes its cookie without a server state).
pub fn seal_session_cookie(key: &crate::sealing::SealingKey, session_hash: &str) -> String {
    key.seal(session_hash.as_bytes(), SESSION_SEAL_CONTEXT)
}

/// The holder a portal cookie signs in, and their session's token hash: only while that session is live (not
/// revoked by a lock or a sign-out, not expired) and its account active. A cookie that does not open under this
/// server's key is nobody's.
pub async fn signed_in(state: &AppState, cookie: &str) -> Result<Option<(Actor, String)>, ApiError> {
    let Ok(opened) = state.config.oidc_seal_key.open(cookie, SESSION_SEAL_CONTEXT) else { return Ok(None) };
    let Ok(session_hash) = String::from_utf8(opened) else { return Ok(None) };
    let Some(owner) = state.store.holder_session_owner(&session_hash, state.clock.now()).await? else {
        return Ok(None);
    };
    if owner.account_status != AccountStatus::Active {
        return Ok(None);
    }
    let actor =
        Actor::Holder { account_id: owner.account_id, assurance: owner.assurance, restore_only: owner.restore_only };
    Ok(Some((actor, session_hash)))
}

/// A lock as the account page shows it.
#[derive(Debug, Clone)]
pub struct LockView {
    pub lock: Lock,
    /// The organization's name, or which kind of party it was (never an officer's identity).
    pub placed_by: String,
    pub placed_by_holder: bool,
}

/// Everything the account page shows.
pub struct Overview {
    pub account: MyAccount,
    /// A restore session (a locked holder's): only the locks and requests, and unlock forms.
    pub restore_only: bool,
    /// In force now.
    pub active: Vec<LockView>,
    /// Every lock, lifted ones included, newest first.
    pub history: Vec<LockView>,
    /// The requests filed on the account that the holder may see, newest first.
    pub requests: Vec<Request>,
    pub sign_ins: Vec<OidcSignIn>,
    pub consents: Vec<(Consent, String)>,
}

/// How many requests the account page lists.
const REQUESTS_LISTED: i64 = 50;

async fn view(state: &AppState, lock: Lock) -> Result<LockView, ApiError> {
    let placed_by = placed_by_name(state, &lock.placed_by).await?;
    let placed_by_holder = matches!(lock.placed_by, Party::Holder { .. });
    Ok(LockView { lock, placed_by, placed_by_holder })
}

/// The signed-in holder's account page: each read through the service (and the authorization table) the API
/// uses for it.
pub async fn overview(state: &AppState, actor: &Actor) -> Result<Overview, ApiError> {
    let account = holders::my_account(state, actor).await?;
    let now = state.clock.now();
    let mut all = state.store.locks_of_account(&account.account.id).await?;
    all.sort_by(|a, b| b.effective_at.cmp(&a.effective_at).then_with(|| a.id.cmp(&b.id)));
    let mut history = Vec::with_capacity(all.len());
    for lock in all {
        history.push(view(state, lock).await?);
    }
    let active = history.iter().filter(|v| v.lock.is_active(now)).cloned().collect();
    authorize(state, actor, Action::RequestsList).await?;
    let mut requests = state.store.requests_of_account(&account.account.id, REQUESTS_LISTED).await?;
    // Without the requests the holder may not hear of yet (an authority's pending lock request).
    requests.retain(|r| may_read(actor, r));
    let restore_only = matches!(actor, Actor::Holder { restore_only: true, .. });
    // A restore session serves only the locks and requests (docs/holder-sign-in.md).
    let (sign_ins, consents) = if restore_only {
        (Vec::new(), Vec::new())
    } else {
        (super::oidc::holder::sign_ins(state, actor).await?, super::oidc::holder::consents(state, actor).await?)
    };
    Ok(Overview { account, restore_only, active, history, requests, sign_ins, consents })
}

/// The reason recorded when the holder gives none: the portal's one-click lock.
pub const DEFAULT_LOCK_REASON: &str = "Chủ tài khoản tự khoá trên cổng thông tin / locked by the holder on the portal";

/// "Lock my account": the holder's own lock (Art. 10.1), effective at once, through the lock engine as the API's
/// `POST /v1/lock-requests`. Its transaction revokes every session of the holder, the portal's included.
pub async fn lock_own_account(state: &AppState, actor: &Actor, reason: &str) -> Result<Request, ApiError> {
    let reason = reason.trim();
    let order = LockOrder {
        account: None,
        ground: Ground::HolderRequest,
        legal_basis: None,
        reason: if reason.is_empty() { DEFAULT_LOCK_REASON.to_owned() } else { reason.to_owned() },
        reference: None,
        ends_at: None,
    };
    request_lock(state, actor, order, None).await
}

/// Signs out: ends the session the portal's cookie carries, which is the provider session too (single sign-on
/// ends with it).
pub async fn sign_out(state: &AppState, actor: &Actor, session_hash: &str) -> Result<(), ApiError> {
    holders::end_session(state, actor, session_hash).await
}

/// "Ask to lift this lock": the holder's unlock request, through the lock engine as `POST /v1/unlock-requests`.
/// From a Level 2 sign-in it lifts the holder's own lock at once; from Level 1 it waits for a reviewer who sees
/// the holder in person (`authority::IN_PERSON_CHECK_ROUTE`); other grounds follow the lock authority table.
pub async fn ask_to_lift(state: &AppState, actor: &Actor, lock_id: &str, reason: &str) -> Result<Request, ApiError> {
    let order = UnlockOrder {
        lock_id: lock_id.to_owned(),
        reason: reason.trim().to_owned(),
        legal_basis: None,
        reference: None,
        in_person_check: None,
        is_override: false,
    };
    request_unlock(state, actor, order, None).await
}
