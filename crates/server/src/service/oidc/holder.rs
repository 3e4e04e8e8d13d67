//! What a signed-in holder reads and changes about their relying parties: the sign-ins they made
//! (`GET /v1/me/sign-ins`) and the consents they gave (`GET /v1/me/consents`, withdrawn with `DELETE`). One
//! place for the API and the portal (`service::portal`), each read asked of the authorization table first.

use dinhdanh_domain::AccountId;
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authorization::Action;
use dinhdanh_oidc::consent::Consent;
use dinhdanh_store::{AuditEntry, OidcSignIn};
use serde_json::json;

use crate::AppState;
use crate::auth::authorize;
use crate::problem::ApiError;

/// How many sign-ins a listing shows; the audit log keeps the full history for the legal 5 years.
pub const SIGN_INS_LISTED: i64 = 100;

fn holder(actor: &Actor, action: Action) -> Result<&AccountId, ApiError> {
    match actor {
        Actor::Holder { account_id, .. } => Ok(account_id),
        _ => Err(ApiError::Forbidden { action: action.as_str() }),
    }
}

/// The relying parties the holder signed in to, newest first.
pub async fn sign_ins(state: &AppState, actor: &Actor) -> Result<Vec<OidcSignIn>, ApiError> {
    authorize(state, actor, Action::OwnSignInsRead).await?;
    let account = holder(actor, Action::OwnSignInsRead)?;
    Ok(state.store.oidc_sign_ins(account, SIGN_INS_LISTED).await?)
}

/// The holder's live consents, each with its client's name, newest first.
pub async fn consents(state: &AppState, actor: &Actor) -> Result<Vec<(Consent, String)>, ApiError> {
    authorize(state, actor, Action::OwnConsentsManage).await?;
    let account = holder(actor, Action::OwnConsentsManage)?;
    Ok(state.store.oidc_consents(account).await?)
}

/// Withdraws the holder's consent to a client and revokes every grant made under it (their codes, access and
/// refresh tokens), in one transaction with its audit entry. `404` when there is no live consent to withdraw.
pub async fn withdraw_consent(state: &AppState, actor: &Actor, client_id: &str) -> Result<(), ApiError> {
    authorize(state, actor, Action::OwnConsentsManage).await?;
    let account = holder(actor, Action::OwnConsentsManage)?;
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let Some(mut consent) = tx.oidc_consent_tx(account, client_id).await?.filter(|c| c.is_live()) else {
        return Err(ApiError::NotFound { what: "consent" });
    };
    consent.revoked_at = Some(now);
    tx.upsert_oidc_consent(&consent).await?;
    let grants = tx.revoke_oidc_grants_of(account, client_id, now).await?;
    tx.audit(AuditEntry {
        at: now,
        actor: actor.audit_name(),
        action: "oidc.consent.withdraw",
        subject: Some(account.to_string()),
        outcome: "ok",
        detail: json!({"client_id": client_id, "grants_revoked": grants}),
    })
    .await?;
    tx.commit().await?;
    Ok(())
}
