//! The authorization endpoint's steps (OIDC Core §3.1.2): validate the request, then — as
//! `dinhdanh_oidc::authorize::next_step` says after each step — sign in with identifier and password, then the
//! one-time code (both through `service::holders`, with its throttling, lock checks, outbox and audit), then
//! consent, then a code for the client. Between pages the validated request waits in an interaction row whose
//! forms must carry its CSRF token; [`show`] gives an interaction's page again, read only, for the pages'
//! language switch.
//!
//! The browser's provider session is the holder session the sign-in opened, which a lock revokes in its own
//! transaction; the grants a sign-in makes are refused from a lock's commit on by the lock rows themselves
//! (`store/src/oidc.rs`).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use dinhdanh_domain::account::{HolderKind, SignInPurpose};
use dinhdanh_domain::activation::ActivationCode;
use dinhdanh_domain::actor::OrganizationStatus;
use dinhdanh_domain::biometrics::Modality;
use dinhdanh_domain::client::ClientStatus;
use dinhdanh_domain::{AccountStatus, IdentificationNumber, IdentityKey, Nationality, PassportNumber};
use dinhdanh_oidc::ErrorCode;
use dinhdanh_oidc::authorize::{
    AuthorizationParams, AuthorizationRequest, AuthorizeError, ProviderSession, SignInReason, Step, UiLocale, Via,
    next_step, resolve_pushed, validate,
};
use dinhdanh_oidc::client::ClientRegistration;
use dinhdanh_oidc::consent::{Consent, ConsentRequest};
use dinhdanh_oidc::metadata::Issuer;
use dinhdanh_oidc::scope::Claim;
use dinhdanh_oidc::tokens::{AuthorizationCode, Grant, new_id};
use dinhdanh_store::{AuditEntry, OidcInteraction};
use serde_json::{Value, json};

use crate::AppState;
use crate::problem::{ApiError, LockNotice};
use crate::secrets::token_hash;
use crate::service::holders::{self, SignInStart};

/// How long a browser may take through the sign-in pages.
pub const INTERACTION_TTL_MINUTES: i64 = 15;
/// What a password and a one-time code prove (RFC 8176).
pub const PASSWORD_AND_CODE_AMR: [&str; 2] = ["pwd", "otp"];

const AUTHORIZE: &str = "oidc.authorize";

/// What the endpoint answers the browser. A page of an interaction carries the request's `ui_locales` choice,
/// which the pages follow unless the holder chose a language.
#[derive(Debug)]
pub enum Outcome {
    /// Back to the client: a code, or an error the client is told of.
    Redirect(String),
    /// The identifier-and-password page (again, with `error` after a refusal).
    SignIn { interaction: String, reason: SignInReason, error: Option<SignInError>, ui_locale: Option<UiLocale> },
    /// The one-time-code page.
    Code { interaction: String, sent_to: String, error: Option<SignInError>, ui_locale: Option<UiLocale> },
    /// The biometric page: a Level 2 account signed in with password and code, and the client asks for Level 2.
    Biometric { interaction: String, error: Option<BiometricError>, ui_locale: Option<UiLocale> },
    /// The consent page.
    Consent { interaction: String, client_name: String, request: ConsentRequest, ui_locale: Option<UiLocale> },
    /// The account is locked: each lock's ground and how it can be lifted.
    Locked { locks: Vec<LockNotice>, ui_locale: Option<UiLocale> },
    /// Refused on the provider's own page, never redirected (unknown client, unregistered redirect URI, …).
    Refused { status: u16, error: ErrorCode, description: String },
}

/// Why a sign-in page is shown again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignInError {
    /// Wrong identifier or password (one answer for every kind).
    Failed,
    WrongCode {
        attempts_left: i64,
    },
    /// Too many failures: try again after this many seconds.
    Throttled {
        retry_after_seconds: i64,
    },
    /// The code expired or was used: start again.
    CodeExpired,
    /// The identification number is not 12 digits with a known province (said as a sign-in failure).
    Malformed,
}

/// Why the biometric page is shown again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BiometricError {
    /// Compared, no match: this many misses are left today.
    Mismatch { tries_left: Option<i64> },
    /// The registry has no reference for this finger, or no portrait (not counted).
    NoReference,
    /// The day's misses are used: try again after this many seconds.
    Exhausted { retry_after_seconds: i64 },
    /// Not a readable record or template (not counted).
    Unreadable,
}

/// What a sign-in proved, as RFC 8176 names it: a password and a one-time code, and the biometric match its
/// sign-in added, if any.
fn amr_of(biometric: Option<Modality>) -> Vec<String> {
    let mut amr: Vec<String> = PASSWORD_AND_CODE_AMR.map(str::to_owned).to_vec();
    match biometric {
        Some(Modality::Finger) => amr.push("fpt".to_owned()),
        Some(Modality::Face) => amr.push("face".to_owned()),
        None => {}
    }
    amr
}

fn refused(status: u16, error: ErrorCode, description: impl Into<String>) -> Outcome {
    Outcome::Refused { status, error, description: description.into() }
}

async fn audit(
    state: &AppState,
    actor: String,
    subject: Option<String>,
    outcome: &'static str,
    detail: Value,
) -> Result<(), ApiError> {
    state.store.audit(AuditEntry { at: state.clock.now(), actor, action: AUTHORIZE, subject, outcome, detail }).await?;
    Ok(())
}

/// The client's registration, if the client may sign holders in now (its API client active).
async fn registration(state: &AppState, client_id: &str) -> Result<Option<(ClientRegistration, String)>, ApiError> {
    let Some(registration) = state.store.oidc_client(client_id).await? else { return Ok(None) };
    let Some(client) = state.store.api_client(client_id).await?.filter(|c| c.status == ClientStatus::Active) else {
        return Ok(None);
    };
    match state.store.organization(&client.organization_id).await? {
        Some(org) if org.status != OrganizationStatus::Suspended => Ok(Some((registration, client.name))),
        _ => Ok(None),
    }
}

/// The browser's session at the provider, from the hash of its session cookie.
pub async fn provider_session(
    state: &AppState,
    session_hash: Option<&str>,
) -> Result<Option<(ProviderSession, String)>, ApiError> {
    let Some(hash) = session_hash else { return Ok(None) };
    let Some(row) = state.store.oidc_provider_session(hash, state.clock.now()).await? else { return Ok(None) };
    if row.account_status != AccountStatus::Active {
        return Ok(None);
    }
    let session = ProviderSession {
        account_id: row.account_id,
        assurance: row.assurance,
        auth_time: row.created_at,
        amr: amr_of(row.biometric),
        restore_only: row.restore_only,
        account_level: row.account_level,
    };
    Ok(Some((session, hash.to_owned())))
}

/// A validation or step error: back to the client when the crate says it may go there, else on our page.
async fn authorize_error(
    state: &AppState,
    issuer: &Issuer,
    client_id: Option<&str>,
    interaction: Option<&str>,
    error: AuthorizeError,
) -> Result<Outcome, ApiError> {
    let detail = json!({"reason": error.error.as_str(), "redirected": error.may_redirect()});
    audit(state, "anonymous".to_owned(), client_id.map(str::to_owned), "refused", detail).await?;
    if let Some(id) = interaction {
        let mut tx = state.store.begin().await?;
        tx.delete_oidc_interaction(id).await?;
        tx.commit().await?;
    }
    Ok(match error.redirect_url(issuer) {
        Some(url) => Outcome::Redirect(url.to_string()),
        None => refused(400, error.error, error.description),
    })
}

/// `GET /oauth/authorize`: validates the request and takes the first step. `csrf` is the token the browser's
/// cookie carries (the caller made one if it had none), bound to the interaction a page needs.
pub async fn begin(
    state: &AppState,
    issuer: &Issuer,
    pairs: Vec<(String, String)>,
    session_hash: Option<&str>,
    csrf: &str,
) -> Result<Outcome, ApiError> {
    let now = state.clock.now();
    let params = match AuthorizationParams::from_pairs(pairs) {
        Ok(params) => params,
        Err(e) => return authorize_error(state, issuer, None, None, e).await,
    };
    let client_id = params.client_id().map(str::to_owned);
    let Some((client, client_name)) = (match &client_id {
        Some(id) => registration(state, id).await?,
        None => None,
    }) else {
        return authorize_error(state, issuer, None, None, AuthorizeError::unknown_client()).await;
    };
    let validated = match params.request_uri() {
        // A pushed request (RFC 9126 §4): its reference serves once, so it is taken whatever comes next.
        Some(uri) => {
            let mut tx = state.store.begin().await?;
            let pushed = tx.take_oidc_pushed_request(&dinhdanh_oidc::tokens::token_hash(uri)).await?;
            tx.commit().await?;
            resolve_pushed(&params, pushed.as_ref(), &client, now)
        }
        None => validate(&params, &client, Via::FrontChannel, now),
    };
    let request = match validated {
        Ok(request) => request,
        Err(e) => return authorize_error(state, issuer, client_id.as_deref(), None, e).await,
    };
    let session = provider_session(state, session_hash).await?;
    proceed(state, issuer, &client, &client_name, request, session, None, csrf).await
}

/// The next step for a validated request.
#[allow(clippy::too_many_arguments)]
async fn proceed(
    state: &AppState,
    issuer: &Issuer,
    client: &ClientRegistration,
    client_name: &str,
    request: AuthorizationRequest,
    session: Option<(ProviderSession, String)>,
    interaction: Option<&str>,
    csrf: &str,
) -> Result<Outcome, ApiError> {
    let now = state.clock.now();
    let consent = match &session {
        Some((s, _)) => state.store.oidc_consent(&s.account_id, &client.client_id).await?,
        None => None,
    };
    let step = next_step(&request, client, session.as_ref().map(|(s, _)| s), consent.as_ref(), now);
    let ui_locale = request.ui_locale;
    match step {
        Err(e) => authorize_error(state, issuer, Some(&client.client_id), interaction, e).await,
        Ok(Step::SignIn(reason)) => {
            let interaction = ensure_interaction(state, &request, interaction, csrf).await?;
            Ok(Outcome::SignIn { interaction, reason, error: None, ui_locale })
        }
        Ok(Step::Biometric(_)) => {
            let interaction = ensure_interaction(state, &request, interaction, csrf).await?;
            Ok(Outcome::Biometric { interaction, error: None, ui_locale })
        }
        Ok(Step::Consent(asked)) => {
            let interaction = ensure_interaction(state, &request, interaction, csrf).await?;
            Ok(Outcome::Consent { interaction, client_name: client_name.to_owned(), request: asked, ui_locale })
        }
        Ok(Step::Issue(grant)) => {
            let (_, session_hash) = session.expect("a grant comes from a session");
            issue_code(state, issuer, &request, grant, &session_hash, interaction).await
        }
    }
}

async fn ensure_interaction(
    state: &AppState,
    request: &AuthorizationRequest,
    existing: Option<&str>,
    csrf: &str,
) -> Result<String, ApiError> {
    if let Some(id) = existing {
        return Ok(id.to_owned());
    }
    let now = state.clock.now();
    let interaction = OidcInteraction {
        id: new_id(),
        request: request.clone(),
        csrf_hash: token_hash(csrf),
        sign_in_id: None,
        expires_at: now + Duration::minutes(INTERACTION_TTL_MINUTES),
    };
    let mut tx = state.store.begin().await?;
    tx.insert_oidc_interaction(&interaction, now).await?;
    tx.commit().await?;
    Ok(interaction.id)
}

/// A code for the grant, stored with the grant (which records its holder session) in one transaction; the browser
/// goes back to the client with `code`, `state` and `iss`.
async fn issue_code(
    state: &AppState,
    issuer: &Issuer,
    request: &AuthorizationRequest,
    grant: Grant,
    session_hash: &str,
    interaction: Option<&str>,
) -> Result<Outcome, ApiError> {
    let now = state.clock.now();
    let account = grant.account_id.clone();
    let (code, record) = AuthorizationCode::issue(
        grant,
        request.redirect_uri.clone(),
        request.code_challenge.clone(),
        request.nonce.clone(),
        now,
        &state.oidc.lifetimes,
    );
    let mut tx = state.store.begin().await?;
    tx.insert_oidc_grant(&record.grant, session_hash, now).await?;
    tx.insert_oidc_code(&record).await?;
    if let Some(id) = interaction {
        tx.delete_oidc_interaction(id).await?;
    }
    tx.audit(AuditEntry {
        at: now,
        actor: format!("holder:{account}"),
        action: AUTHORIZE,
        subject: Some(account.to_string()),
        outcome: "ok",
        detail: json!({"client_id": request.client_id, "grant_id": record.grant.id,
                       "scopes": dinhdanh_oidc::scope::format_scopes(&record.grant.scopes),
                       "claims": record.grant.claims.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                       "acr": dinhdanh_oidc::acr::acr_of(record.grant.acr)}),
    })
    .await?;
    tx.commit().await?;
    Ok(Outcome::Redirect(request.success_url(&code, issuer).to_string()))
}

/// A page's interaction, if it is live and the form's CSRF token is the one it was made with. A refusal is
/// audited and shown on our page.
async fn interaction(
    state: &AppState,
    id: &str,
    csrf: Option<&str>,
) -> Result<Result<(OidcInteraction, ClientRegistration, String), Outcome>, ApiError> {
    let now = state.clock.now();
    let Some(found) = state.store.oidc_interaction(id, now).await? else {
        audit(state, "anonymous".to_owned(), None, "refused", json!({"reason": "interaction_expired"})).await?;
        return Ok(Err(refused(
            400,
            ErrorCode::InvalidRequest,
            "this sign-in has expired or was completed; go back to the service and start again",
        )));
    };
    let csrf_ok = csrf.is_some_and(|c| {
        use subtle::ConstantTimeEq;
        token_hash(c).as_bytes().ct_eq(found.csrf_hash.as_bytes()).into()
    });
    if !csrf_ok {
        let client = Some(found.request.client_id.clone());
        audit(state, "anonymous".to_owned(), client, "refused", json!({"reason": "csrf"})).await?;
        return Ok(Err(refused(403, ErrorCode::AccessDenied, "the form did not come from this sign-in")));
    }
    let Some((client, name)) = registration(state, &found.request.client_id).await? else {
        audit(state, "anonymous".to_owned(), None, "refused", json!({"reason": "unknown_client"})).await?;
        return Ok(Err(refused(400, ErrorCode::InvalidRequest, "the client is no longer registered")));
    };
    Ok(Ok((found, client, name)))
}

/// What the sign-in form identifies the holder by: a citizen's identification number, or a foreigner's
/// passport number and nationality (ISO 3166-1 alpha-3).
#[derive(Debug, Clone, Copy, Default)]
pub struct Identifier<'a> {
    /// `citizen` (the default) or `foreigner`.
    pub holder_kind: Option<&'a str>,
    pub id_number: &'a str,
    pub passport_number: &'a str,
    pub nationality: &'a str,
}

impl Identifier<'_> {
    fn parse(&self, state: &AppState) -> Option<(HolderKind, IdentityKey)> {
        match self.holder_kind.unwrap_or("citizen") {
            "citizen" => IdentificationNumber::parse(self.id_number.trim(), &state.config.provinces)
                .ok()
                .map(|n| (HolderKind::Citizen, IdentityKey::citizen(&n))),
            "foreigner" => {
                let passport = PassportNumber::parse(self.passport_number).ok()?;
                let nationality = Nationality::parse(self.nationality).ok()?;
                Some((HolderKind::Foreigner, IdentityKey::foreigner(&nationality, &passport)))
            }
            _ => None,
        }
    }
}

/// The identifier-and-password form: on success a one-time code goes out and the code page follows.
pub async fn submit_password(
    state: &AppState,
    interaction_id: &str,
    csrf: Option<&str>,
    identifier: Identifier<'_>,
    password: String,
    source: &str,
) -> Result<Outcome, ApiError> {
    let (found, _, _) = match interaction(state, interaction_id, csrf).await? {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    let ui_locale = found.request.ui_locale;
    let again = |error| Outcome::SignIn {
        interaction: found.id.clone(),
        reason: SignInReason::NoSession,
        error: Some(error),
        ui_locale,
    };
    let Some((holder_kind, identity)) = identifier.parse(state) else {
        let detail = json!({"reason": "malformed_identity", "client_id": found.request.client_id});
        audit(state, "anonymous".to_owned(), None, "refused", detail).await?;
        return Ok(again(SignInError::Malformed));
    };
    let start = SignInStart { holder_kind, identity, password, channel: None, purpose: SignInPurpose::SignIn };
    // The holder service audits every refusal (unknown identity, wrong password, throttle, lock).
    match holders::start_sign_in(state, start, source).await {
        Ok(sent) => {
            let mut tx = state.store.begin().await?;
            tx.set_oidc_interaction_sign_in(&found.id, &sent.sign_in_id).await?;
            tx.commit().await?;
            Ok(Outcome::Code { interaction: found.id, sent_to: sent.sent_to, error: None, ui_locale })
        }
        Err(ApiError::SignInFailed) => Ok(again(SignInError::Failed)),
        Err(ApiError::SignInLocked { retry_after_seconds }) => {
            Ok(again(SignInError::Throttled { retry_after_seconds }))
        }
        Err(ApiError::TooManyRequests { retry_after_seconds }) => {
            Ok(again(SignInError::Throttled { retry_after_seconds }))
        }
        Err(ApiError::AccountLocked { locks }) => Ok(Outcome::Locked { locks, ui_locale }),
        Err(other) => Err(other),
    }
}

/// What the code form gives back: the outcome, and the new session's token for the browser's cookie.
pub struct CodeOutcome {
    pub outcome: Outcome,
    pub session: Option<(String, DateTime<Utc>)>,
}

/// The one-time-code form: on success a holder session opens (the provider session) and the next step follows.
pub async fn submit_code(
    state: &AppState,
    issuer: &Issuer,
    interaction_id: &str,
    csrf: Option<&str>,
    code: &str,
    source: &str,
) -> Result<CodeOutcome, ApiError> {
    let plain = |outcome| Ok(CodeOutcome { outcome, session: None });
    let (found, client, name) = match interaction(state, interaction_id, csrf).await? {
        Ok(found) => found,
        Err(outcome) => return plain(outcome),
    };
    let ui_locale = found.request.ui_locale;
    let Some(sign_in_id) = found.sign_in_id.clone() else {
        let reason = SignInReason::NoSession;
        return plain(Outcome::SignIn { interaction: found.id, reason, error: None, ui_locale });
    };
    let again =
        |error| Outcome::Code { interaction: found.id.clone(), sent_to: String::new(), error: Some(error), ui_locale };
    let Ok(code) = ActivationCode::parse(code.trim()) else {
        // Not a try at the code (no attempt is spent), but a refusal all the same.
        let detail = json!({"reason": "malformed_code", "client_id": found.request.client_id});
        audit(state, "anonymous".to_owned(), None, "refused", detail).await?;
        return plain(again(SignInError::WrongCode { attempts_left: -1 }));
    };
    let session = match holders::verify_sign_in(state, &sign_in_id, code, source).await {
        Ok(session) => session,
        Err(ApiError::WrongCode { attempts_left }) => return plain(again(SignInError::WrongCode { attempts_left })),
        Err(ApiError::CodeExpired) => {
            return plain(Outcome::SignIn {
                interaction: found.id,
                reason: SignInReason::NoSession,
                error: Some(SignInError::CodeExpired),
                ui_locale,
            });
        }
        Err(ApiError::SignInLocked { retry_after_seconds }) => {
            return plain(again(SignInError::Throttled { retry_after_seconds }));
        }
        Err(ApiError::SignInFailed) => return plain(again(SignInError::Failed)),
        Err(ApiError::AccountLocked { locks }) => return plain(Outcome::Locked { locks, ui_locale }),
        Err(other) => return Err(other),
    };
    let hash = token_hash(&session.token);
    let provider = ProviderSession {
        account_id: session.account_id.clone(),
        assurance: session.assurance,
        auth_time: state.clock.now(),
        amr: amr_of(None),
        restore_only: session.restore_only,
        account_level: session.account_level,
    };
    let csrf = csrf.unwrap_or_default();
    let outcome =
        proceed(state, issuer, &client, &name, found.request, Some((provider, hash)), Some(&found.id), csrf).await?;
    Ok(CodeOutcome { outcome, session: Some((session.token, session.expires_at)) })
}

/// The biometric form (the capture app's, or a template pasted in): the match is added to the browser's
/// session through `service::biometrics::step_up` (its tries, audit and records), which replaces the session
/// with one whose sign-in proved Level 2; the new session's token goes to the browser's cookie.
pub async fn submit_biometric(
    state: &AppState,
    issuer: &Issuer,
    interaction_id: &str,
    csrf: Option<&str>,
    session_hash: Option<&str>,
    modality: &str,
    template: &str,
) -> Result<CodeOutcome, ApiError> {
    let plain = |outcome| Ok(CodeOutcome { outcome, session: None });
    let (found, client, name) = match interaction(state, interaction_id, csrf).await? {
        Ok(found) => found,
        Err(outcome) => return plain(outcome),
    };
    let csrf = csrf.unwrap_or_default();
    let Some((session, hash)) = provider_session(state, session_hash).await? else {
        // The session ended meanwhile (a lock, a sign-out): sign in again.
        return plain(proceed(state, issuer, &client, &name, found.request, None, Some(&found.id), csrf).await?);
    };
    let ui_locale = found.request.ui_locale;
    let again = |error| Outcome::Biometric { interaction: found.id.clone(), error: Some(error), ui_locale };
    let actor = dinhdanh_domain::actor::Actor::Holder {
        account_id: session.account_id.clone(),
        assurance: session.assurance,
        restore_only: session.restore_only,
    };
    let capture = crate::service::biometrics::Probe::parse(modality, template);
    let amr = amr_of(capture.as_ref().ok().map(|probe| probe.modality()));
    let stepped = match crate::service::biometrics::step_up(state, &actor, &hash, capture).await {
        Ok(stepped) => stepped,
        Err(ApiError::BiometricMismatch { tries_left }) => {
            return plain(again(BiometricError::Mismatch { tries_left }));
        }
        Err(ApiError::BiometricReferenceMissing) => return plain(again(BiometricError::NoReference)),
        Err(ApiError::BiometricTriesExhausted { retry_after_seconds }) => {
            return plain(again(BiometricError::Exhausted { retry_after_seconds }));
        }
        // Not a readable record or template: nothing compared, nothing counted (the step audits nothing either,
        // so this page does).
        Err(ApiError::Validation(_)) => {
            let detail = json!({"reason": "unreadable_capture", "client_id": found.request.client_id});
            let account = session.account_id.to_string();
            audit(state, format!("holder:{account}"), Some(account), "refused", detail).await?;
            return plain(again(BiometricError::Unreadable));
        }
        // The account is no longer Level 2, or the session ended: the request's next step says what follows.
        Err(ApiError::Level(_)) => {
            return plain(
                proceed(state, issuer, &client, &name, found.request, Some((session, hash)), Some(&found.id), csrf)
                    .await?,
            );
        }
        Err(ApiError::Unauthorized) => {
            return plain(proceed(state, issuer, &client, &name, found.request, None, Some(&found.id), csrf).await?);
        }
        Err(other) => return Err(other),
    };
    let provider = ProviderSession {
        account_id: stepped.account_id.clone(),
        assurance: stepped.assurance,
        auth_time: state.clock.now(),
        amr,
        restore_only: stepped.restore_only,
        account_level: stepped.account_level,
    };
    let new_hash = token_hash(&stepped.token);
    let outcome =
        proceed(state, issuer, &client, &name, found.request, Some((provider, new_hash)), Some(&found.id), csrf)
            .await?;
    Ok(CodeOutcome { outcome, session: Some((stepped.token, stepped.expires_at)) })
}

/// The consent form: `allow` with the claims the holder left ticked, or a refusal (`access_denied` to the
/// client).
pub async fn submit_consent(
    state: &AppState,
    issuer: &Issuer,
    interaction_id: &str,
    csrf: Option<&str>,
    session_hash: Option<&str>,
    allow: bool,
    approved: BTreeSet<Claim>,
) -> Result<Outcome, ApiError> {
    let (found, client, name) = match interaction(state, interaction_id, csrf).await? {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    let csrf = csrf.unwrap_or_default();
    let Some((session, hash)) = provider_session(state, session_hash).await? else {
        // The session ended meanwhile (a lock, a sign-out): sign in again.
        return proceed(state, issuer, &client, &name, found.request, None, Some(&found.id), csrf).await;
    };
    let now = state.clock.now();
    let actor = format!("holder:{}", session.account_id);
    if !allow {
        audit(
            state,
            actor,
            Some(session.account_id.to_string()),
            "refused",
            json!({"reason": "consent_declined", "client_id": client.client_id}),
        )
        .await?;
        let error = found.request.error(ErrorCode::AccessDenied, "the holder declined");
        return authorize_error(state, issuer, Some(&client.client_id), Some(&found.id), error).await;
    }
    let asked = ConsentRequest::for_request(&found.request, &client);
    let mut tx = state.store.begin().await?;
    let earlier = tx.oidc_consent_tx(&session.account_id, &client.client_id).await?;
    let consent = Consent::give(session.account_id.clone(), &asked, &approved, earlier.as_ref(), now);
    tx.upsert_oidc_consent(&consent).await?;
    tx.audit(AuditEntry {
        at: now,
        actor,
        action: "oidc.consent",
        subject: Some(session.account_id.to_string()),
        outcome: "ok",
        detail: json!({"client_id": client.client_id,
                       "scopes": dinhdanh_oidc::scope::format_scopes(&consent.scopes),
                       "claims": consent.claims.iter().map(|c| c.as_str()).collect::<Vec<_>>()}),
    })
    .await?;
    tx.commit().await?;
    proceed(state, issuer, &client, &name, found.request, Some((session, hash)), Some(&found.id), csrf).await
}

/// The pages of an interaction, as the language switch names the one it was on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// Identifier and password.
    Password,
    /// The one-time code.
    Code,
    /// The biometric check of a Level 2 sign-in.
    Biometric,
    /// Consent.
    Consent,
}

impl PageKind {
    pub const fn as_str(self) -> &'static str {
        match self {
            PageKind::Password => "password",
            PageKind::Code => "code",
            PageKind::Biometric => "biometric",
            PageKind::Consent => "consent",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [PageKind::Password, PageKind::Code, PageKind::Biometric, PageKind::Consent]
            .into_iter()
            .find(|p| p.as_str() == value)
    }
}

/// An interaction's page again, for the language switch (`GET /oauth/authorize/page`): the same checks as a
/// form (a live interaction, the browser's CSRF token the one it was made with), and nothing else comes of it —
/// no sign-in, consent or code. The page is the request's next step for the browser's session; `page` only
/// tells the code page from the password page (a password accepted, the code not yet), which the interaction's
/// state alone cannot, since an expired code sends the holder back to the password page.
pub async fn show(
    state: &AppState,
    interaction_id: &str,
    csrf: Option<&str>,
    session_hash: Option<&str>,
    page: PageKind,
) -> Result<Outcome, ApiError> {
    let (found, client, client_name) = match interaction(state, interaction_id, csrf).await? {
        Ok(found) => found,
        Err(outcome) => return Ok(outcome),
    };
    let session = provider_session(state, session_hash).await?;
    let consent = match &session {
        Some((s, _)) => state.store.oidc_consent(&s.account_id, &client.client_id).await?,
        None => None,
    };
    let step =
        next_step(&found.request, &client, session.as_ref().map(|(s, _)| s), consent.as_ref(), state.clock.now());
    let (interaction, ui_locale) = (found.id, found.request.ui_locale);
    let sign_in = |interaction, reason| Outcome::SignIn { interaction, reason, error: None, ui_locale };
    Ok(match step {
        Ok(Step::SignIn(_)) if page == PageKind::Code && found.sign_in_id.is_some() => {
            Outcome::Code { interaction, sent_to: String::new(), error: None, ui_locale }
        }
        Ok(Step::SignIn(reason)) => sign_in(interaction, reason),
        Ok(Step::Biometric(_)) => Outcome::Biometric { interaction, error: None, ui_locale },
        Ok(Step::Consent(asked)) => Outcome::Consent { interaction, client_name, request: asked, ui_locale },
        // Nothing left to ask (a consent given meanwhile, in another tab) or a refusal to come: the page the
        // switch was on, whose form takes the request on as usual.
        Ok(Step::Issue(_)) | Err(_) if page == PageKind::Consent && session.is_some() => {
            let request = ConsentRequest::for_request(&found.request, &client);
            Outcome::Consent { interaction, client_name, request, ui_locale }
        }
        Ok(Step::Issue(_)) | Err(_) => sign_in(interaction, SignInReason::NoSession),
    })
}
