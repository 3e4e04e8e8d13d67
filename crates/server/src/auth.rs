//! Proving who is asking, and asking the authorization table whether they may. A request carries
//! `Authorization: Bearer <token>`: `dd_at_…` is an organization's access token (OAuth 2.0 client credentials),
//! `dd_os_…` an officer's session, `dd_hs_…` a holder's session. Every call re-checks the token, the client's
//! and the organization's status, the officer's status and the holder's session and account, through the store's
//! credential cache (answered from memory, dropped by each commit that changes them, on every node), so a
//! revocation, suspension or lock (which revokes the holder's sessions) takes effect at once.
//! [`authorize`] is the one door to [`dinhdanh_domain::authorization`]; a refusal is audited.

use std::collections::BTreeSet;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use dinhdanh_domain::AccountStatus;
use dinhdanh_domain::actor::{Actor, OfficerRole, OrganizationStatus, parse_scopes};
use dinhdanh_domain::authorization::{self, Action, Denied};
use dinhdanh_store::AuditEntry;
use serde_json::json;

use crate::AppState;
use crate::problem::ApiError;
use crate::secrets::token_hash;

pub const ACCESS_TOKEN_PREFIX: &str = "dd_at_";
pub const OFFICER_SESSION_PREFIX: &str = "dd_os_";
pub const HOLDER_SESSION_PREFIX: &str = "dd_hs_";

/// An actor proved by a bearer token. Requests without a valid token are refused with 401 before a handler runs.
pub struct Authenticated(pub Actor);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or(ApiError::Unauthorized)?;
        actor_for_token(state, token).await.map(Authenticated)
    }
}

/// The token of an `Authorization: Bearer …` header.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// The actor a bearer token proves, or why it proves nothing.
pub async fn actor_for_token(state: &AppState, token: &str) -> Result<Actor, ApiError> {
    let now = state.clock.now();
    if token.starts_with(ACCESS_TOKEN_PREFIX) {
        let owner = state.store.access_token_owner(&token_hash(token), now).await?.ok_or(ApiError::Unauthorized)?;
        if owner.expires_at <= now || owner.client_status != "active" {
            return Err(ApiError::Unauthorized);
        }
        let actor = Actor::Organization {
            organization_id: owner.organization_id,
            kind: owner.organization_kind,
            client_id: owner.client_id,
            scopes: parse_scopes(&owner.scopes).unwrap_or_default(),
        };
        if owner.organization_status == OrganizationStatus::Suspended {
            deny(state, &actor, None, "organization_suspended").await?;
            return Err(ApiError::OrganizationSuspended);
        }
        Ok(actor)
    } else if token.starts_with(OFFICER_SESSION_PREFIX) {
        let owner = state.store.officer_session_owner(&token_hash(token), now).await?.ok_or(ApiError::Unauthorized)?;
        if owner.officer_status != "active" {
            return Err(ApiError::Unauthorized);
        }
        let roles: BTreeSet<OfficerRole> = owner.roles.split_whitespace().filter_map(OfficerRole::parse).collect();
        let actor = Actor::Officer { officer_id: owner.officer_id, organization_id: owner.organization_id, roles };
        if owner.organization_status == OrganizationStatus::Suspended {
            deny(state, &actor, None, "organization_suspended").await?;
            return Err(ApiError::OrganizationSuspended);
        }
        Ok(actor)
    } else if token.starts_with(HOLDER_SESSION_PREFIX) {
        // Live: not revoked (a lock revokes them in its own transaction), not expired, of an active account.
        let owner = state.store.holder_session_owner(&token_hash(token), now).await?.ok_or(ApiError::Unauthorized)?;
        if owner.account_status != AccountStatus::Active {
            return Err(ApiError::Unauthorized);
        }
        Ok(Actor::Holder { account_id: owner.account_id, assurance: owner.assurance, restore_only: owner.restore_only })
    } else {
        Err(ApiError::Unauthorized)
    }
}

/// Asks the authorization table; a refusal is written to the audit log and answered 401 or 403.
pub async fn authorize(state: &AppState, actor: &Actor, action: Action) -> Result<(), ApiError> {
    match authorization::authorize(actor, action) {
        Ok(()) => {
            crate::api::access::record_grant(action);
            Ok(())
        }
        Err(Denied::NotAuthenticated) => Err(ApiError::Unauthorized),
        Err(Denied::NotPermitted) => {
            deny(state, actor, Some(action), "not_permitted").await?;
            Err(ApiError::Forbidden { action: action.as_str() })
        }
        Err(Denied::MissingScope(scope)) => {
            deny(state, actor, Some(action), "missing_scope").await?;
            Err(ApiError::InsufficientScope { scope: scope.as_str() })
        }
    }
}

async fn deny(state: &AppState, actor: &Actor, action: Option<Action>, reason: &str) -> Result<(), ApiError> {
    metrics::counter!("dinhdanh_denied_total", "reason" => reason.to_owned()).increment(1);
    state
        .store
        .audit(AuditEntry {
            at: state.clock.now(),
            actor: actor.audit_name(),
            action: "authorization.denied",
            subject: None,
            outcome: "refused",
            detail: json!({"action": action.map(Action::as_str), "reason": reason}),
        })
        .await?;
    Ok(())
}
