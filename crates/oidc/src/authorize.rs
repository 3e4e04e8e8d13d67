//! The authorization endpoint's rules, without HTTP: parsing a request's parameters ([`AuthorizationParams`]),
//! validating them against the client's registration into an [`AuthorizationRequest`] (OIDC Core §3.1.2.1–2,
//! RFC 6749 §4.1.1, RFC 7636, RFC 9126), and deciding the next step once the caller knows the browser's
//! provider session and the holder's remembered consent ([`next_step`]): sign in, consent, or issue a code.
//!
//! Errors ([`AuthorizeError`]) say whether they may go back to the client: until the client and its exact
//! `redirect_uri` are established they must not (RFC 6749 §4.1.2.1: an open redirector otherwise), and the
//! caller shows an error page instead.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use dinhdanh_domain::{AccountId, Level};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::acr::{AcrRequirement, needs_fresh_sign_in, satisfy};
use crate::client::ClientRegistration;
use crate::consent::{Consent, ConsentRequest};
use crate::error::ErrorCode;
use crate::metadata::Issuer;
use crate::pkce::CodeChallenge;
use crate::scope::{Claim, Scope};
use crate::tokens::{Grant, REQUEST_URI_PREFIX, new_id};

/// Longest accepted `state`, `nonce`, `login_hint` and `id_token_hint`: they are stored with the request.
pub const MAX_PARAMETER_LENGTH: usize = 2048;
/// Longest accepted `claims` parameter.
pub const MAX_CLAIMS_LENGTH: usize = 8192;

/// The parameters of an authorization request (query string, PAR form body) as name → value, each name at most
/// once (RFC 6749 §3.1) and empty values dropped ("treated as if omitted"). Stored as is for a pushed request.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AuthorizationParams(BTreeMap<String, String>);

impl AuthorizationParams {
    /// From decoded name/value pairs. A repeated parameter is an error that is never redirected: which
    /// `redirect_uri` would it go to?
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, AuthorizeError> {
        let mut map = BTreeMap::new();
        for (name, value) in pairs {
            let (name, value) = (name.into(), value.into());
            if value.is_empty() {
                continue;
            }
            if map.contains_key(&name) {
                return Err(AuthorizeError::page(
                    ErrorCode::InvalidRequest,
                    format!("the parameter {name} is repeated"),
                ));
            }
            map.insert(name, value);
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// The `client_id` the caller looks the registration up by.
    pub fn client_id(&self) -> Option<&str> {
        self.get("client_id")
    }

    /// A PAR reference: when present, the caller loads the pushed request it names and calls [`resolve_pushed`].
    pub fn request_uri(&self) -> Option<&str> {
        self.get("request_uri")
    }
}

/// Where an error may be sent back to the client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRedirect {
    /// A registered redirect URI, checked exactly.
    pub redirect_uri: String,
    pub state: Option<String>,
}

/// An authorization error: its code, a description for developers (never personal data), and — once the
/// client's `redirect_uri` is proven — where to send it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct AuthorizeError {
    pub error: ErrorCode,
    pub description: String,
    /// `None`: show an error page to the browser; never redirect.
    pub redirect: Option<ErrorRedirect>,
}

impl AuthorizeError {
    /// An error shown on the provider's own page (unknown client, wrong redirect URI, repeated parameter).
    pub fn page(error: ErrorCode, description: impl Into<String>) -> Self {
        Self { error, description: description.into(), redirect: None }
    }

    /// The `client_id` names no registered relying party.
    pub fn unknown_client() -> Self {
        Self::page(ErrorCode::InvalidRequest, "unknown client_id")
    }

    pub fn may_redirect(&self) -> bool {
        self.redirect.is_some()
    }

    /// The URL to send the browser to (RFC 6749 §4.1.2.1 with `iss`, RFC 9207), if this error may be
    /// redirected; the same JSON body serves a PAR endpoint error.
    pub fn redirect_url(&self, issuer: &Issuer) -> Option<Url> {
        let target = self.redirect.as_ref()?;
        let mut url = Url::parse(&target.redirect_uri).ok()?;
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("error", self.error.as_str());
            query.append_pair("error_description", &self.description);
            if let Some(state) = &target.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", issuer.as_str());
        }
        Some(url)
    }

    /// The `{"error", "error_description"}` body of the PAR endpoint (RFC 9126 §2.3), which never redirects.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.error.as_str(), "error_description": self.description })
    }
}

/// The `prompt` values of OIDC Core §3.1.2.1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
    /// There is one account per browser session: handled like `login`, so the holder can sign in as another.
    pub select_account: bool,
}

impl Prompt {
    fn parse(value: Option<&str>) -> Result<Self, String> {
        let mut prompt = Self::default();
        for word in value.unwrap_or("").split(' ').filter(|w| !w.is_empty()) {
            match word {
                "none" => prompt.none = true,
                "login" => prompt.login = true,
                "consent" => prompt.consent = true,
                "select_account" => prompt.select_account = true,
                other => return Err(format!("unknown prompt value {other:?}")),
            }
        }
        if prompt.none && (prompt.login || prompt.consent || prompt.select_account) {
            return Err("prompt=none cannot be combined with other values".into());
        }
        Ok(prompt)
    }
}

/// One member of the `claims` parameter (OIDC Core §5.5.1): `null`, or `essential` / `value` / `values`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRequest {
    #[serde(default)]
    pub essential: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl ClaimRequest {
    /// `value` and `values` together.
    pub fn requested_values(&self) -> Vec<String> {
        self.value.iter().chain(&self.values).cloned().collect()
    }
}

/// The claims a `claims` parameter names that dinhdanh knows (others are ignored, OIDC Core §5.5), per target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedClaims {
    pub userinfo: BTreeSet<Claim>,
    pub id_token: BTreeSet<Claim>,
}

/// The `claims` parameter's JSON; values that are neither objects nor `null` are malformed.
fn parse_claims(json: &str) -> Result<(RequestedClaims, Option<ClaimRequest>), String> {
    #[derive(Deserialize)]
    struct Top {
        #[serde(default)]
        userinfo: Option<BTreeMap<String, Option<ClaimRequestWire>>>,
        #[serde(default)]
        id_token: Option<BTreeMap<String, Option<ClaimRequestWire>>>,
    }
    // `value`/`values` may be any JSON; only `acr`'s are used, as strings.
    #[derive(Deserialize)]
    struct ClaimRequestWire {
        #[serde(default)]
        essential: Option<bool>,
        #[serde(default)]
        value: Option<serde_json::Value>,
        #[serde(default)]
        values: Option<Vec<serde_json::Value>>,
    }
    if json.len() > MAX_CLAIMS_LENGTH {
        return Err("the claims parameter is too long".into());
    }
    let top: Top = serde_json::from_str(json).map_err(|e| format!("the claims parameter is not valid JSON: {e}"))?;
    let names = |m: &Option<BTreeMap<String, Option<ClaimRequestWire>>>| -> BTreeSet<Claim> {
        m.iter().flat_map(|m| m.keys()).filter_map(|k| Claim::parse(k)).collect()
    };
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    let acr = top.id_token.as_ref().and_then(|m| m.get("acr")).map(|wire| match wire {
        None => ClaimRequest::default(),
        Some(w) => ClaimRequest {
            essential: w.essential.unwrap_or(false),
            value: w.value.as_ref().and_then(text),
            values: w.values.iter().flatten().filter_map(text).collect(),
        },
    });
    Ok((RequestedClaims { userinfo: names(&top.userinfo), id_token: names(&top.id_token) }, acr))
}

/// The languages of the sign-in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UiLocale {
    Vi,
    En,
}

/// The first `ui_locales` tag the pages speak (`vi`, `vi-VN`, `en-GB`, …) in the space-separated list; `None`
/// leaves the choice to the pages (Vietnamese first).
pub fn parse_ui_locales(value: Option<&str>) -> Option<UiLocale> {
    value?.split(' ').find_map(|tag| match tag.split('-').next().map(str::to_ascii_lowercase).as_deref() {
        Some("vi") => Some(UiLocale::Vi),
        Some("en") => Some(UiLocale::En),
        _ => None,
    })
}

/// A validated authorization request: every field can be trusted. Kept by the caller while the holder signs in
/// and consents (it serialises), and turned into a code by [`next_step`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    /// One of the client's registered URIs, exactly.
    pub redirect_uri: String,
    /// Contains `openid`; all registered for the client.
    pub scopes: BTreeSet<Scope>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: CodeChallenge,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub acr: Option<AcrRequirement>,
    pub claims: RequestedClaims,
    pub ui_locale: Option<UiLocale>,
    pub login_hint: Option<String>,
    /// Passed through; verifying it (an ID token of ours, perhaps expired) is the caller's, with
    /// [`crate::keys::KeySet::verify`]. When its `sub` is not the `sub` the session's holder has at this client,
    /// call [`next_step`] without the session (OIDC Core §3.1.2.1: with `prompt=none`, `login_required`).
    pub id_token_hint: Option<String>,
    /// It came through the PAR endpoint.
    pub pushed: bool,
    /// When the browser arrived: a sign-in or consent at or after it belongs to this request.
    pub received_at: DateTime<Utc>,
}

impl AuthorizationRequest {
    /// An error to send back to this request's client (the holder declined, the sign-in was refused, …).
    pub fn error(&self, error: ErrorCode, description: impl Into<String>) -> AuthorizeError {
        AuthorizeError {
            error,
            description: description.into(),
            redirect: Some(ErrorRedirect { redirect_uri: self.redirect_uri.clone(), state: self.state.clone() }),
        }
    }

    /// The successful response: `redirect_uri?code=…&state=…&iss=…` (RFC 6749 §4.1.2, RFC 9207).
    pub fn success_url(&self, code: &str, issuer: &Issuer) -> Url {
        let mut url = Url::parse(&self.redirect_uri).expect("a registered redirect URI parses");
        {
            let mut query = url.query_pairs_mut();
            query.append_pair("code", code);
            if let Some(state) = &self.state {
                query.append_pair("state", state);
            }
            query.append_pair("iss", issuer.as_str());
        }
        url
    }
}

/// How the request reached the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// Its parameters were in the authorization URL.
    FrontChannel,
    /// Pushed to the PAR endpoint by the authenticated client (RFC 9126).
    Pushed,
}

/// Validates a request's parameters against the client's registration (found by the caller from
/// [`AuthorizationParams::client_id`]). `now` is when the browser arrived at the authorization endpoint.
pub fn validate(
    params: &AuthorizationParams,
    client: &ClientRegistration,
    via: Via,
    now: DateTime<Utc>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    // Until the redirect URI is proven, errors stay on the provider's page.
    if params.client_id() != Some(client.client_id.as_str()) {
        return Err(AuthorizeError::page(ErrorCode::InvalidRequest, "client_id is missing or is not this client's"));
    }
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Err(AuthorizeError::page(ErrorCode::InvalidRequest, "redirect_uri is required"));
    };
    if !client.has_redirect_uri(redirect_uri) {
        return Err(AuthorizeError::page(ErrorCode::InvalidRequest, "redirect_uri is not registered for this client"));
    }
    let state = params.get("state").map(str::to_owned);
    let fail = |error: ErrorCode, description: &str| AuthorizeError {
        error,
        description: description.to_owned(),
        redirect: Some(ErrorRedirect {
            redirect_uri: redirect_uri.to_owned(),
            // An over-long state is not echoed back.
            state: state.clone().filter(|s| s.len() <= MAX_PARAMETER_LENGTH),
        }),
    };
    use ErrorCode::*;

    if via == Via::FrontChannel && client.require_pushed_authorization_requests {
        return Err(fail(InvalidRequest, "this client must push its authorization requests (PAR)"));
    }
    if params.get("request").is_some() {
        return Err(fail(RequestNotSupported, "request objects are not supported"));
    }
    if params.get("registration").is_some() {
        return Err(fail(RegistrationNotSupported, "the registration parameter is not supported"));
    }
    if params.request_uri().is_some() {
        // A front-channel request_uri is handled by resolve_pushed; one inside a pushed request is forbidden.
        return Err(fail(InvalidRequest, "request_uri is not allowed here"));
    }

    match params.get("response_type") {
        None => return Err(fail(InvalidRequest, "response_type is required")),
        Some("code") => {}
        Some(_) => return Err(fail(UnsupportedResponseType, "only response_type=code is supported")),
    }
    if let Some(mode) = params.get("response_mode")
        && mode != "query"
    {
        return Err(fail(InvalidRequest, "only response_mode=query is supported"));
    }

    // Values it does not understand are ignored (OIDC Core §3.1.2.1); known ones the client is not registered
    // for are refused.
    let scopes: BTreeSet<Scope> = params.get("scope").unwrap_or("").split(' ').filter_map(Scope::parse).collect();
    if !scopes.contains(&Scope::OpenId) {
        return Err(fail(InvalidScope, "scope must include openid"));
    }
    if let Some(scope) = scopes.iter().find(|s| !client.scopes.contains(s)) {
        return Err(fail(InvalidScope, &format!("the client is not registered for the scope {scope}")));
    }

    let Some(challenge) = params.get("code_challenge") else {
        return Err(fail(InvalidRequest, "code_challenge is required (PKCE, S256)"));
    };
    // Without a method RFC 7636 means `plain`, which is refused like an explicit `plain`.
    if params.get("code_challenge_method") != Some("S256") {
        return Err(fail(InvalidRequest, "code_challenge_method must be S256"));
    }
    let code_challenge = CodeChallenge::parse_s256(challenge).map_err(|e| fail(InvalidRequest, &e.to_string()))?;

    for name in ["state", "nonce", "login_hint", "id_token_hint"] {
        if params.get(name).is_some_and(|v| v.len() > MAX_PARAMETER_LENGTH) {
            return Err(fail(InvalidRequest, &format!("{name} is longer than {MAX_PARAMETER_LENGTH} bytes")));
        }
    }
    let prompt = Prompt::parse(params.get("prompt")).map_err(|e| fail(InvalidRequest, &e))?;
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| fail(InvalidRequest, "max_age must be a non-negative integer"))?),
    };
    let (claims, acr_claim) = match params.get("claims") {
        None => (RequestedClaims::default(), None),
        Some(json) => parse_claims(json).map_err(|e| fail(InvalidRequest, &e))?,
    };
    let acr = AcrRequirement::from_request(params.get("acr_values"), acr_claim.as_ref())
        .map_err(|e| fail(InvalidRequest, &e))?;

    Ok(AuthorizationRequest {
        client_id: client.client_id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scopes,
        state,
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        prompt,
        max_age,
        acr,
        claims,
        ui_locale: parse_ui_locales(params.get("ui_locales")),
        login_hint: params.get("login_hint").map(str::to_owned),
        id_token_hint: params.get("id_token_hint").map(str::to_owned),
        pushed: via == Via::Pushed,
        received_at: now,
    })
}

/// A request pushed to the PAR endpoint, as the caller stores it under the hash of its `request_uri`
/// ([`crate::tokens::new_request_uri`]), to be used once before `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRequest {
    pub client_id: String,
    pub params: AuthorizationParams,
    pub expires_at: DateTime<Utc>,
}

/// The PAR endpoint's `201 Created` body (RFC 9126 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushResponse {
    pub request_uri: String,
    pub expires_in: i64,
}

impl PushedRequest {
    /// The response for this pushed request stored under `request_uri`.
    pub fn response(&self, request_uri: String, now: DateTime<Utc>) -> PushResponse {
        PushResponse { request_uri, expires_in: (self.expires_at - now).num_seconds().max(0) }
    }
}

/// The PAR endpoint's rules (RFC 9126 §2): the authenticated client's parameters are validated as the
/// authorization endpoint would (errors are answered as JSON, never redirected), and kept for `lifetime`.
pub fn push(
    params: AuthorizationParams,
    client: &ClientRegistration,
    now: DateTime<Utc>,
    lifetime: chrono::Duration,
) -> Result<PushedRequest, AuthorizeError> {
    // The client authenticated; `client_id` in the body, if any, must be the same one (§2.1). Make it present
    // so that the front channel's lookup and the stored request agree.
    let mut params = params;
    match params.client_id() {
        Some(id) if id != client.client_id => {
            return Err(AuthorizeError::page(
                ErrorCode::InvalidRequest,
                "client_id differs from the authenticated client",
            ));
        }
        Some(_) => {}
        None => {
            params.0.insert("client_id".into(), client.client_id.clone());
        }
    }
    validate(&params, client, Via::Pushed, now).map_err(|e| AuthorizeError { redirect: None, ..e })?;
    Ok(PushedRequest { client_id: client.client_id.clone(), params, expires_at: now + lifetime })
}

/// The authorization endpoint's rules for a front-channel `request_uri` (RFC 9126 §4): `pushed` is what the
/// caller found (and deleted: a reference is used once) under the hash of the `request_uri`. The pushed
/// parameters are the request; the front channel's others are ignored.
pub fn resolve_pushed(
    front: &AuthorizationParams,
    pushed: Option<&PushedRequest>,
    client: &ClientRegistration,
    now: DateTime<Utc>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let Some(uri) = front.request_uri() else {
        return Err(AuthorizeError::page(ErrorCode::InvalidRequest, "request_uri is missing"));
    };
    if !uri.starts_with(REQUEST_URI_PREFIX) {
        return Err(AuthorizeError::page(
            ErrorCode::RequestUriNotSupported,
            "only request_uri values from the PAR endpoint are accepted",
        ));
    }
    let Some(pushed) = pushed else {
        return Err(AuthorizeError::page(ErrorCode::InvalidRequestUri, "request_uri is unknown, used or expired"));
    };
    if front.client_id() != Some(pushed.client_id.as_str()) || pushed.client_id != client.client_id {
        return Err(AuthorizeError::page(ErrorCode::InvalidRequestUri, "request_uri was pushed by another client"));
    }
    if now >= pushed.expires_at {
        return Err(AuthorizeError::page(ErrorCode::InvalidRequestUri, "request_uri has expired"));
    }
    validate(&pushed.params, client, Via::Pushed, now)
}

/// The browser's session at the provider (single sign-on across relying parties), as the caller knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSession {
    pub account_id: AccountId,
    /// What this session's own sign-in proved ([`dinhdanh_domain::SignInProof::assurance`]).
    pub assurance: Level,
    pub auth_time: DateTime<Utc>,
    pub amr: Vec<String>,
    /// A session opened while the account was locked, only to follow the locks and ask for a lift: it never
    /// reaches a relying party.
    pub restore_only: bool,
    /// The account's level: what this sign-in can still reach by adding a biometric match
    /// ([`Step::Biometric`]). Never the session's assurance by itself.
    pub account_level: Level,
}

/// Why the holder is sent to the sign-in pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInReason {
    /// No usable session.
    NoSession,
    /// `prompt=login`/`select_account`, or the session is older than `max_age`.
    Reauthenticate,
    /// The session's assurance is below what the client demands: sign in at this level.
    StepUp(Level),
}

/// What the authorization endpoint does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    SignIn(SignInReason),
    /// The session proved less than the client demands, and the account can prove it: add a fingerprint or
    /// portrait match to this sign-in (the caller replaces the session with one of this level) and ask again.
    Biometric(Level),
    /// Show the consent page; on approval, store [`Consent::give`] and ask again.
    Consent(ConsentRequest),
    /// Issue a code for this grant ([`crate::tokens::AuthorizationCode::issue`]) and redirect with
    /// [`AuthorizationRequest::success_url`].
    Issue(Grant),
}

/// The next step for a validated request, given the browser's session and the holder's remembered consent for
/// this client (OIDC Core §3.1.2.3–4): with `prompt=none` every step that needs the holder becomes an error.
/// Call it again after each sign-in and consent; those made during this request satisfy `prompt=login`,
/// `max_age` and `prompt=consent`.
pub fn next_step(
    request: &AuthorizationRequest,
    client: &ClientRegistration,
    session: Option<&ProviderSession>,
    consent: Option<&Consent>,
    now: DateTime<Utc>,
) -> Result<Step, AuthorizeError> {
    let interactive = |step: Step, error: ErrorCode, why: &str| {
        if request.prompt.none { Err(request.error(error, why)) } else { Ok(step) }
    };
    let Some(session) = session.filter(|s| !s.restore_only) else {
        return interactive(
            Step::SignIn(SignInReason::NoSession),
            ErrorCode::LoginRequired,
            "the holder is not signed in",
        );
    };
    let fresh_now = session.auth_time.timestamp() >= request.received_at.timestamp();
    let reauth = request.prompt.login || request.prompt.select_account;
    if needs_fresh_sign_in(reauth, request.max_age, session.auth_time, request.received_at, now) {
        return interactive(
            Step::SignIn(SignInReason::Reauthenticate),
            ErrorCode::LoginRequired,
            "a fresh sign-in is required",
        );
    }
    let acr = match satisfy(request.acr.as_ref(), session.assurance) {
        Ok(level) => level,
        // A Level 2 account signed in with password and code: a biometric match takes this sign-in there.
        Err(_) if satisfy(request.acr.as_ref(), session.account_level).is_ok() => {
            let level = session.account_level;
            return interactive(
                Step::Biometric(level),
                ErrorCode::InteractionRequired,
                "a fingerprint or portrait check is required",
            );
        }
        // The holder signed in for this very request and still fell short (the account cannot reach the level):
        // refuse, never a weaker token.
        Err(code) if fresh_now => {
            return Err(request.error(code, "the sign-in did not reach the requested level of assurance"));
        }
        Err(_) => {
            let lowest = request.acr.as_ref().and_then(|r| r.accepted.iter().next().copied()).unwrap_or(Level::One);
            return interactive(
                Step::SignIn(SignInReason::StepUp(lowest)),
                ErrorCode::LoginRequired,
                "a sign-in at a higher level is required",
            );
        }
    };

    let asked = ConsentRequest::for_request(request, client);
    let live = consent.filter(|c| c.is_live() && c.account_id == session.account_id && c.client_id == client.client_id);
    // A consent given on this request's own page settles it, also when the holder unticked some claims;
    // a remembered one must cover the whole request, and does not count with prompt=consent.
    let given_now = live.is_some_and(|c| c.granted_at.timestamp() >= request.received_at.timestamp());
    let usable = live.filter(|c| given_now || (!request.prompt.consent && c.covers(&asked)));
    let Some(consent) = usable else {
        return interactive(Step::Consent(asked), ErrorCode::ConsentRequired, "the holder's consent is required");
    };

    let claims = consent.released(&asked);
    Ok(Step::Issue(Grant {
        id: new_id(),
        client_id: client.client_id.clone(),
        account_id: session.account_id.clone(),
        scopes: request.scopes.clone(),
        id_token_claims: request.claims.id_token.intersection(&claims).copied().collect(),
        claims,
        acr,
        amr: session.amr.clone(),
        auth_time: session.auth_time,
    }))
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::acr::{ACR_LEVEL_1, ACR_LEVEL_2};
    use crate::client::tests::bank;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap()
    }

    fn issuer() -> Issuer {
        Issuer::parse("https://id.dinhdanh.example").unwrap()
    }

    /// A good request, with `changes` applied (`""` removes a parameter).
    fn params(changes: &[(&str, &str)]) -> AuthorizationParams {
        let mut map: BTreeMap<&str, &str> = [
            ("client_id", "bank"),
            ("redirect_uri", "https://bank.example/cb"),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "st-1"),
            ("nonce", "n-1"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .into();
        for (k, v) in changes {
            map.insert(k, v);
        }
        AuthorizationParams::from_pairs(map).unwrap()
    }

    fn check(changes: &[(&str, &str)]) -> Result<AuthorizationRequest, AuthorizeError> {
        validate(&params(changes), &bank(), Via::FrontChannel, t0())
    }

    fn refused(changes: &[(&str, &str)]) -> AuthorizeError {
        check(changes).expect_err("refused")
    }

    #[test]
    fn a_good_request_validates() {
        let req = check(&[("ui_locales", "fr en-GB vi"), ("max_age", "300"), ("prompt", "login consent")]).unwrap();
        assert_eq!(req.scopes, [Scope::OpenId, Scope::Profile].into());
        assert_eq!(req.state.as_deref(), Some("st-1"));
        assert_eq!(req.nonce.as_deref(), Some("n-1"));
        assert_eq!(req.ui_locale, Some(UiLocale::En));
        assert_eq!(req.max_age, Some(300));
        assert!(req.prompt.login && req.prompt.consent && !req.prompt.none);
        assert_eq!(req.acr, None);
        assert!(!req.pushed);
        // It survives being stored between the pages.
        let back: AuthorizationRequest = serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(back, req);
    }

    #[test]
    fn unknown_clients_and_unregistered_redirect_uris_are_never_redirected() {
        for changes in [
            &[("client_id", "shop")][..],
            &[("client_id", "")],
            &[("redirect_uri", "")],
            &[("redirect_uri", "https://evil.example/cb")],
            &[("redirect_uri", "https://bank.example/cb/")],
            &[("redirect_uri", "https://bank.example/cb?x=1")],
        ] {
            let e = refused(changes);
            assert_eq!(e.error, ErrorCode::InvalidRequest, "{changes:?}");
            assert!(!e.may_redirect(), "{changes:?}");
            assert!(e.redirect_url(&issuer()).is_none());
        }
        assert!(!AuthorizeError::unknown_client().may_redirect());
        // A repeated parameter, too: which redirect_uri would it be?
        let e = AuthorizationParams::from_pairs([
            ("redirect_uri", "https://bank.example/cb"),
            ("redirect_uri", "https://evil.example/"),
        ])
        .unwrap_err();
        assert!(!e.may_redirect());
    }

    #[test]
    fn only_the_code_flow_is_accepted() {
        for rt in ["token", "id_token", "code id_token", "code token", "id_token token", "code id_token token", "none"]
        {
            let e = refused(&[("response_type", rt)]);
            assert_eq!(e.error, ErrorCode::UnsupportedResponseType, "{rt}");
            assert!(e.may_redirect());
        }
        assert_eq!(refused(&[("response_type", "")]).error, ErrorCode::InvalidRequest);
        assert_eq!(refused(&[("response_mode", "fragment")]).error, ErrorCode::InvalidRequest);
        assert_eq!(refused(&[("response_mode", "form_post")]).error, ErrorCode::InvalidRequest);
        assert!(check(&[("response_mode", "query")]).is_ok());
    }

    #[test]
    fn redirected_errors_carry_state_and_iss() {
        let e = refused(&[("response_type", "token")]);
        let url = e.redirect_url(&issuer()).unwrap();
        let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(url.as_str().split('?').next(), Some("https://bank.example/cb"));
        assert_eq!(q["error"], "unsupported_response_type");
        assert_eq!(q["state"], "st-1");
        assert_eq!(q["iss"], "https://id.dinhdanh.example");
        let long_state = "s".repeat(MAX_PARAMETER_LENGTH + 1);
        let e = refused(&[("state", &long_state)]);
        assert_eq!(e.error, ErrorCode::InvalidRequest);
        assert_eq!(e.redirect.unwrap().state, None, "an over-long state is not echoed");
    }

    #[test]
    fn scopes_must_include_openid_and_be_registered() {
        assert_eq!(refused(&[("scope", "")]).error, ErrorCode::InvalidScope);
        assert_eq!(refused(&[("scope", "profile")]).error, ErrorCode::InvalidScope);
        assert_eq!(check(&[("scope", "openid admin")]).unwrap().scopes, [Scope::OpenId].into(), "unknown: ignored");
        assert_eq!(refused(&[("scope", "admin")]).error, ErrorCode::InvalidScope);
        let mut narrow = bank();
        narrow.scopes = [Scope::OpenId, Scope::Profile].into();
        narrow.claims = [Claim::Name].into();
        let e = validate(&params(&[("scope", "openid id_number")]), &narrow, Via::FrontChannel, t0()).unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidScope);
        assert!(e.may_redirect());
    }

    #[test]
    fn pkce_s256_is_required_and_plain_is_refused() {
        for changes in [
            &[("code_challenge", "")][..],
            &[("code_challenge_method", "")],
            &[("code_challenge_method", "plain")],
            &[("code_challenge_method", "s256")],
            &[("code_challenge", "short")],
        ] {
            let e = refused(changes);
            assert_eq!(e.error, ErrorCode::InvalidRequest, "{changes:?}");
            assert!(e.may_redirect(), "{changes:?}");
        }
    }

    #[test]
    fn prompt_max_age_and_unsupported_features() {
        for bad in ["none login", "none consent", "none select_account", "sometimes"] {
            assert_eq!(refused(&[("prompt", bad)]).error, ErrorCode::InvalidRequest, "{bad}");
        }
        assert!(check(&[("prompt", "none")]).unwrap().prompt.none);
        for bad in ["-1", "1.5", "soon"] {
            assert_eq!(refused(&[("max_age", bad)]).error, ErrorCode::InvalidRequest, "{bad}");
        }
        assert_eq!(refused(&[("request", "eyJ...")]).error, ErrorCode::RequestNotSupported);
        assert_eq!(refused(&[("registration", "{}")]).error, ErrorCode::RegistrationNotSupported);
    }

    #[test]
    fn acr_values_and_the_claims_parameter() {
        let req = check(&[("acr_values", ACR_LEVEL_2)]).unwrap();
        assert_eq!(req.acr.unwrap().accepted, [Level::Two].into());
        let claims = r#"{"id_token":{"acr":{"essential":true,"values":["urn:dinhdanh:loa:2"]},"name":null,"x-unknown":null},
                         "userinfo":{"email":{"essential":true},"dinhdanh:id_number":null}}"#;
        let req = check(&[("claims", claims), ("acr_values", ACR_LEVEL_1)]).unwrap();
        let acr = req.acr.unwrap();
        assert_eq!(acr.accepted, [Level::Two].into(), "the essential claim wins");
        assert_eq!(acr.unmet_error(), ErrorCode::UnmetAuthenticationRequirements);
        assert_eq!(req.claims.id_token, [Claim::Name].into());
        assert_eq!(req.claims.userinfo, [Claim::Email, Claim::IdNumber].into());
        assert_eq!(refused(&[("claims", "{not json")]).error, ErrorCode::InvalidRequest);
        assert_eq!(refused(&[("claims", r#"{"id_token":{"name":3}}"#)]).error, ErrorCode::InvalidRequest);
        assert_eq!(refused(&[("acr_values", "urn:elsewhere:high")]).error, ErrorCode::InvalidRequest);
    }

    #[test]
    fn a_client_that_requires_par_cannot_use_the_front_channel() {
        let client = ClientRegistration { require_pushed_authorization_requests: true, ..bank() };
        let e = validate(&params(&[]), &client, Via::FrontChannel, t0()).unwrap_err();
        assert_eq!(e.error, ErrorCode::InvalidRequest);
        assert!(validate(&params(&[]), &client, Via::Pushed, t0()).is_ok());
    }

    #[test]
    fn pushed_requests_are_validated_at_push_and_used_through_their_request_uri() {
        let client = ClientRegistration { require_pushed_authorization_requests: true, ..bank() };
        let mut body = params(&[]);
        body.0.remove("client_id");
        let pushed = push(body, &client, t0(), Duration::seconds(60)).unwrap();
        assert_eq!(pushed.params.client_id(), Some("bank"));
        let body = serde_json::to_value(pushed.response("urn:ietf:params:oauth:request_uri:r".into(), t0())).unwrap();
        assert_eq!(body, serde_json::json!({"request_uri": "urn:ietf:params:oauth:request_uri:r", "expires_in": 60}));
        // Errors at the PAR endpoint are answered, never redirected.
        let e = push(params(&[("response_type", "token")]), &client, t0(), Duration::seconds(60)).unwrap_err();
        assert!(!e.may_redirect());
        assert_eq!(e.to_json()["error"], "unsupported_response_type");
        assert!(push(params(&[("client_id", "shop")]), &client, t0(), Duration::seconds(60)).is_err());
        assert!(push(params(&[("request_uri", "urn:x")]), &client, t0(), Duration::seconds(60)).is_err());

        let (uri, _hash) = crate::tokens::new_request_uri();
        let front = AuthorizationParams::from_pairs([
            ("client_id", "bank"),
            ("request_uri", uri.as_str()),
            ("scope", "openid email"),
        ])
        .unwrap();
        let req = resolve_pushed(&front, Some(&pushed), &client, t0() + Duration::seconds(5)).unwrap();
        assert!(req.pushed);
        assert_eq!(req.scopes, [Scope::OpenId, Scope::Profile].into(), "the pushed parameters are the request");

        let code = |r: Result<AuthorizationRequest, AuthorizeError>| r.map(|_| ()).unwrap_err().error;
        assert_eq!(code(resolve_pushed(&front, None, &client, t0())), ErrorCode::InvalidRequestUri);
        assert_eq!(
            code(resolve_pushed(&front, Some(&pushed), &client, t0() + Duration::seconds(60))),
            ErrorCode::InvalidRequestUri
        );
        let other = AuthorizationParams::from_pairs([("client_id", "shop"), ("request_uri", uri.as_str())]).unwrap();
        assert_eq!(code(resolve_pushed(&other, Some(&pushed), &client, t0())), ErrorCode::InvalidRequestUri);
        let foreign =
            AuthorizationParams::from_pairs([("client_id", "bank"), ("request_uri", "https://bank.example/req.jwt")])
                .unwrap();
        assert_eq!(code(resolve_pushed(&foreign, Some(&pushed), &client, t0())), ErrorCode::RequestUriNotSupported);
    }

    fn session(assurance: Level, auth_time: DateTime<Utc>) -> ProviderSession {
        ProviderSession {
            account_id: AccountId::new("a1".into()),
            assurance,
            auth_time,
            amr: vec!["pwd".into(), "otp".into()],
            restore_only: false,
            account_level: assurance,
        }
    }

    fn consent_for(req: &AuthorizationRequest, at: DateTime<Utc>) -> Consent {
        let asked = ConsentRequest::for_request(req, &bank());
        Consent::give(AccountId::new("a1".into()), &asked, &asked.claims, None, at)
    }

    #[test]
    fn without_a_session_the_holder_signs_in_or_prompt_none_fails() {
        let now = t0() + Duration::seconds(1);
        let req = check(&[]).unwrap();
        assert_eq!(next_step(&req, &bank(), None, None, now), Ok(Step::SignIn(SignInReason::NoSession)));
        let restore = ProviderSession { restore_only: true, ..session(Level::Two, t0()) };
        assert_eq!(
            next_step(&req, &bank(), Some(&restore), None, now),
            Ok(Step::SignIn(SignInReason::NoSession)),
            "restore-only sessions never reach a relying party"
        );
        let silent = check(&[("prompt", "none")]).unwrap();
        let e = next_step(&silent, &bank(), None, None, now).unwrap_err();
        assert_eq!(e.error, ErrorCode::LoginRequired);
        assert!(e.may_redirect());
    }

    #[test]
    fn a_remembered_consent_lets_the_code_be_issued_with_the_sessions_acr_and_auth_time() {
        let earlier = t0() - Duration::hours(1);
        let req = check(&[]).unwrap();
        let consent = consent_for(&req, earlier);
        let Ok(Step::Issue(grant)) =
            next_step(&req, &bank(), Some(&session(Level::One, earlier)), Some(&consent), t0())
        else {
            panic!()
        };
        assert_eq!(grant.acr, Level::One);
        assert_eq!(grant.auth_time, earlier);
        assert_eq!(grant.claims, [Claim::Name, Claim::Birthdate, Claim::Gender].into());
        assert_eq!(grant.client_id, "bank");
        // prompt=none passes silently with a session and a consent.
        let silent = check(&[("prompt", "none")]).unwrap();
        assert!(matches!(
            next_step(&silent, &bank(), Some(&session(Level::One, earlier)), Some(&consent), t0()),
            Ok(Step::Issue(_))
        ));
    }

    #[test]
    fn consent_is_asked_when_missing_insufficient_or_prompted() {
        let earlier = t0() - Duration::hours(1);
        let s = session(Level::One, earlier);
        let req = check(&[]).unwrap();
        assert!(
            matches!(next_step(&req, &bank(), Some(&s), None, t0()), Ok(Step::Consent(asked)) if asked.claims.contains(&Claim::Name))
        );
        let old = consent_for(&check(&[("scope", "openid")]).unwrap(), earlier);
        assert!(matches!(next_step(&req, &bank(), Some(&s), Some(&old), t0()), Ok(Step::Consent(_))));
        let silent = check(&[("prompt", "none")]).unwrap();
        assert_eq!(
            next_step(&silent, &bank(), Some(&s), Some(&old), t0()).unwrap_err().error,
            ErrorCode::ConsentRequired
        );
        // prompt=consent asks even with a covering consent, and is satisfied by the one given on its page.
        let prompted = check(&[("prompt", "consent")]).unwrap();
        let full = consent_for(&prompted, earlier);
        assert!(matches!(next_step(&prompted, &bank(), Some(&s), Some(&full), t0()), Ok(Step::Consent(_))));
        let on_page = consent_for(&prompted, t0() + Duration::seconds(3));
        assert!(matches!(
            next_step(&prompted, &bank(), Some(&s), Some(&on_page), t0() + Duration::seconds(3)),
            Ok(Step::Issue(_))
        ));
        // Another holder's consent does not count.
        let mut someone_else = full.clone();
        someone_else.account_id = AccountId::new("a2".into());
        assert!(matches!(next_step(&req, &bank(), Some(&s), Some(&someone_else), t0()), Ok(Step::Consent(_))));
    }

    #[test]
    fn a_partial_consent_on_the_page_releases_only_what_was_ticked() {
        let s = session(Level::One, t0() - Duration::hours(1));
        let req = check(&[]).unwrap();
        let asked = ConsentRequest::for_request(&req, &bank());
        let now = t0() + Duration::seconds(2);
        let partial = Consent::give(AccountId::new("a1".into()), &asked, &[Claim::Name].into(), None, now);
        let Ok(Step::Issue(grant)) = next_step(&req, &bank(), Some(&s), Some(&partial), now) else { panic!() };
        assert_eq!(grant.claims, [Claim::Name].into());
    }

    #[test]
    fn prompt_login_and_max_age_send_the_holder_to_sign_in_until_they_do() {
        let earlier = t0() - Duration::hours(1);
        let req = check(&[("prompt", "login")]).unwrap();
        let consent = consent_for(&req, earlier);
        assert_eq!(
            next_step(&req, &bank(), Some(&session(Level::One, earlier)), Some(&consent), t0()),
            Ok(Step::SignIn(SignInReason::Reauthenticate))
        );
        let after = t0() + Duration::seconds(4);
        assert!(matches!(
            next_step(&req, &bank(), Some(&session(Level::One, after)), Some(&consent), after),
            Ok(Step::Issue(_))
        ));
        let aged = check(&[("max_age", "60")]).unwrap();
        assert_eq!(
            next_step(&aged, &bank(), Some(&session(Level::One, earlier)), Some(&consent), t0()),
            Ok(Step::SignIn(SignInReason::Reauthenticate))
        );
        let recent = t0() - Duration::seconds(30);
        assert!(matches!(
            next_step(&aged, &bank(), Some(&session(Level::One, recent)), Some(&consent), t0()),
            Ok(Step::Issue(_))
        ));
        let silent = check(&[("prompt", "none"), ("max_age", "60")]).unwrap();
        assert_eq!(
            next_step(&silent, &bank(), Some(&session(Level::One, earlier)), Some(&consent), t0()).unwrap_err().error,
            ErrorCode::LoginRequired
        );
    }

    #[test]
    fn level_2_demands_step_up_and_a_fresh_level_1_sign_in_is_refused_not_downgraded() {
        let earlier = t0() - Duration::hours(1);
        let req = check(&[("acr_values", ACR_LEVEL_2)]).unwrap();
        let consent = consent_for(&req, earlier);
        assert_eq!(
            next_step(&req, &bank(), Some(&session(Level::One, earlier)), Some(&consent), t0()),
            Ok(Step::SignIn(SignInReason::StepUp(Level::Two)))
        );
        let after = t0() + Duration::seconds(10);
        let e = next_step(&req, &bank(), Some(&session(Level::One, after)), Some(&consent), after).unwrap_err();
        assert_eq!(e.error, ErrorCode::AccessDenied);
        assert!(e.may_redirect());
        let Ok(Step::Issue(grant)) = next_step(&req, &bank(), Some(&session(Level::Two, after)), Some(&consent), after)
        else {
            panic!()
        };
        assert_eq!(grant.acr, Level::Two);
        let essential = r#"{"id_token":{"acr":{"essential":true,"value":"urn:dinhdanh:loa:2"}}}"#;
        let req = check(&[("claims", essential)]).unwrap();
        let e = next_step(&req, &bank(), Some(&session(Level::One, after)), Some(&consent), after).unwrap_err();
        assert_eq!(e.error, ErrorCode::UnmetAuthenticationRequirements);
    }

    #[test]
    fn a_level_2_account_signed_in_with_password_and_code_adds_a_biometric_match() {
        let after = t0() + Duration::seconds(10);
        let req = check(&[("acr_values", ACR_LEVEL_2)]).unwrap();
        let consent = consent_for(&req, after);
        let level_1_sign_in = ProviderSession { account_level: Level::Two, ..session(Level::One, after) };
        assert_eq!(
            next_step(&req, &bank(), Some(&level_1_sign_in), Some(&consent), after),
            Ok(Step::Biometric(Level::Two))
        );
        let essential = r#"{"id_token":{"acr":{"essential":true,"value":"urn:dinhdanh:loa:2"}}}"#;
        let asked = check(&[("claims", essential)]).unwrap();
        assert_eq!(
            next_step(&asked, &bank(), Some(&level_1_sign_in), Some(&consent), after),
            Ok(Step::Biometric(Level::Two))
        );
        // Without asking for Level 2, a password and a code are enough (and the token says Level 1).
        let plain = check(&[]).unwrap();
        let Ok(Step::Issue(grant)) =
            next_step(&plain, &bank(), Some(&level_1_sign_in), Some(&consent_for(&plain, after)), after)
        else {
            panic!()
        };
        assert_eq!(grant.acr, Level::One);
        let silent = check(&[("acr_values", ACR_LEVEL_2), ("prompt", "none")]).unwrap();
        let e = next_step(&silent, &bank(), Some(&level_1_sign_in), Some(&consent), after).unwrap_err();
        assert_eq!(e.error, ErrorCode::InteractionRequired);
    }

    proptest::proptest! {
        #[test]
        fn errors_go_back_only_to_a_registered_redirect_uri(
            redirect in proptest::option::of(proptest::prop_oneof![
                "https://bank\\.example/cb",
                "https://bank\\.example/app/cb",
                "https://bank\\.example/[a-z/]{0,6}",
                "https://[a-z]{1,8}\\.example/cb",
            ]),
            response_type in proptest::option::of("code|token|id_token|code id_token|[a-z ]{0,10}"),
            scope in proptest::option::of("(openid|profile|email|admin| ){0,5}"),
            method in proptest::option::of("S256|plain|s256"),
            prompt in proptest::option::of("(none|login|consent|select_account|x| ){0,4}"),
            max_age in proptest::option::of("-?[0-9]{1,4}|x"),
            claims in proptest::option::of("\\{\"id_token\":\\{\"acr\":(null|\\{\"essential\":true,\"value\":\"urn:dinhdanh:loa:2\"\\})\\}\\}|\\{x"),
        ) {
            let mut pairs: Vec<(&str, String)> = vec![
                ("client_id", "bank".into()),
                ("code_challenge", CHALLENGE.into()),
                ("state", "st".into()),
            ];
            for (name, value) in [
                ("redirect_uri", &redirect), ("response_type", &response_type), ("scope", &scope),
                ("code_challenge_method", &method), ("prompt", &prompt), ("max_age", &max_age), ("claims", &claims),
            ] {
                if let Some(v) = value {
                    pairs.push((name, v.clone()));
                }
            }
            let params = AuthorizationParams::from_pairs(pairs).unwrap();
            match validate(&params, &bank(), Via::FrontChannel, t0()) {
                Ok(req) => proptest::prop_assert!(bank().has_redirect_uri(&req.redirect_uri)),
                Err(e) => match &e.redirect {
                    Some(target) => {
                        proptest::prop_assert!(bank().has_redirect_uri(&target.redirect_uri));
                        proptest::prop_assert_eq!(Some(target.redirect_uri.as_str()), redirect.as_deref());
                    }
                    None => proptest::prop_assert!(redirect.as_deref().is_none_or(|r| !bank().has_redirect_uri(r))),
                },
            }
        }
    }

    #[test]
    fn the_success_redirect_carries_code_state_and_iss() {
        let req = check(&[]).unwrap();
        let url = req.success_url("dd_ac_x", &issuer());
        let q: BTreeMap<String, String> = url.query_pairs().into_owned().collect();
        assert_eq!(q["code"], "dd_ac_x");
        assert_eq!(q["state"], "st-1");
        assert_eq!(q["iss"], "https://id.dinhdanh.example");
        let denied = req.error(ErrorCode::AccessDenied, "the holder declined");
        assert!(denied.redirect_url(&issuer()).unwrap().as_str().contains("error=access_denied"));
    }
}
