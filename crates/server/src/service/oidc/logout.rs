//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): `dinhdanh_oidc::logout` decides which client
//! asks and whether its `post_logout_redirect_uri` is registered; this module ends the browser's provider
//! session (the holder session behind its cookie). Without an `id_token_hint` naming the signed-in holder, the
//! holder confirms first: a logout link anyone can send must not sign people out silently. The relying
//! parties' grants are left alone (offline access survives a logout).

use dinhdanh_oidc::ErrorCode;
use dinhdanh_oidc::authorize::AuthorizationParams;
use dinhdanh_oidc::client::ClientRegistration;
use dinhdanh_oidc::keys::TokenType;
use dinhdanh_oidc::logout::{self, IdTokenHint, Logout};
use dinhdanh_oidc::metadata::Issuer;
use dinhdanh_oidc::subject::subject_for;
use dinhdanh_store::AuditEntry;
use serde_json::json;

use super::authorize::provider_session;
use crate::AppState;
use crate::problem::ApiError;

/// What the logout endpoint answers.
#[derive(Debug)]
pub enum LogoutOutcome {
    /// The session ended (or there was none): back to the client's registered URI, with `state`.
    Redirect { url: String, ended: bool },
    /// The session ended (or there was none) and no URI was given: our own page says so.
    SignedOut { ended: bool },
    /// Ask the holder first; the form repeats the request's parameters.
    Confirm { params: Vec<(String, String)>, client_name: Option<String> },
    /// Refused on our page (a bad hint, an unregistered URI).
    Refused { error: ErrorCode, description: String },
}

struct Checked {
    logout: Logout,
    client: Option<ClientRegistration>,
    client_name: Option<String>,
    params: Vec<(String, String)>,
}

async fn check(
    state: &AppState,
    issuer: &Issuer,
    pairs: Vec<(String, String)>,
) -> Result<Result<Checked, LogoutOutcome>, ApiError> {
    let refused = |error: ErrorCode, description: &str| {
        Ok(Err(LogoutOutcome::Refused { error, description: description.to_owned() }))
    };
    // Only the parameters logout knows are carried on (to the confirmation form).
    let pairs: Vec<(String, String)> = pairs
        .into_iter()
        .filter(|(n, _)| {
            matches!(n.as_str(), "id_token_hint" | "client_id" | "post_logout_redirect_uri" | "state" | "ui_locales")
        })
        .collect();
    let params = match AuthorizationParams::from_pairs(pairs.clone()) {
        Ok(params) => params,
        Err(e) => return refused(e.error, &e.description),
    };
    let hint = match params.get("id_token_hint") {
        None => None,
        Some(token) => {
            let keys = super::key_set(state, state.clock.now()).await?;
            match keys.verify::<IdTokenHint>(token, TokenType::IdToken, issuer.as_str(), true) {
                Ok(hint) => Some(hint),
                Err(_) => {
                    return refused(ErrorCode::InvalidRequest, "id_token_hint is not an ID token of this provider");
                }
            }
        }
    };
    let (client, client_name) = match logout::client_id(&params, hint.as_ref()) {
        None => (None, None),
        Some(id) => match (state.store.oidc_client(id).await?, state.store.api_client(id).await?) {
            (Some(registration), Some(api)) => (Some(registration), Some(api.name)),
            _ => return refused(ErrorCode::InvalidRequest, "the client is not registered"),
        },
    };
    match logout::validate(&params, hint.as_ref(), client.as_ref()) {
        Ok(logout) => Ok(Ok(Checked { logout, client, client_name, params: pairs })),
        Err(e) => refused(e.error, &e.description),
    }
}

/// Ends the session behind `session_hash`, if any; whether one was ended.
async fn end(state: &AppState, session_hash: Option<&str>, client_id: Option<&str>) -> Result<bool, ApiError> {
    let Some((session, hash)) = provider_session(state, session_hash).await? else { return Ok(false) };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let ended = tx.revoke_holder_session(&hash, &session.account_id, now).await?;
    tx.audit(AuditEntry {
        at: now,
        actor: format!("holder:{}", session.account_id),
        action: "oidc.logout",
        subject: Some(session.account_id.to_string()),
        outcome: "ok",
        detail: json!({"client_id": client_id}),
    })
    .await?;
    tx.commit().await?;
    Ok(ended)
}

fn done(logout: &Logout, ended: bool) -> LogoutOutcome {
    match &logout.redirect {
        Some(url) => LogoutOutcome::Redirect { url: url.to_string(), ended },
        None => LogoutOutcome::SignedOut { ended },
    }
}

/// `GET`/`POST /oauth/logout`: ends the session at once when the hint names its holder at that client, else
/// asks.
pub async fn begin(
    state: &AppState,
    issuer: &Issuer,
    pairs: Vec<(String, String)>,
    session_hash: Option<&str>,
) -> Result<LogoutOutcome, ApiError> {
    let checked = match check(state, issuer, pairs).await? {
        Ok(checked) => checked,
        Err(outcome) => return Ok(outcome),
    };
    let Some((session, _)) = provider_session(state, session_hash).await? else {
        return Ok(done(&checked.logout, false));
    };
    let holder_named = match (&checked.logout.hint_sub, &checked.client) {
        (Some(sub), Some(client)) => {
            let sector =
                client.sector().map_err(|e| ApiError::internal(format!("a saved registration is invalid: {e}")))?;
            let salt = super::subject_salt(state).await?;
            *sub == subject_for(client.subject_type, &sector, &session.account_id, salt)
        }
        _ => false,
    };
    if !holder_named {
        return Ok(LogoutOutcome::Confirm { params: checked.params, client_name: checked.client_name });
    }
    let ended = end(state, session_hash, checked.logout.client_id.as_deref()).await?;
    Ok(done(&checked.logout, ended))
}

/// The confirmation form: the holder agreed (its CSRF token checked by the caller); the request is checked
/// again and the session ended.
pub async fn confirm(
    state: &AppState,
    issuer: &Issuer,
    pairs: Vec<(String, String)>,
    session_hash: Option<&str>,
) -> Result<LogoutOutcome, ApiError> {
    let checked = match check(state, issuer, pairs).await? {
        Ok(checked) => checked,
        Err(outcome) => return Ok(outcome),
    };
    let ended = end(state, session_hash, checked.logout.client_id.as_deref()).await?;
    Ok(done(&checked.logout, ended))
}
