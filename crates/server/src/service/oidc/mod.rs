//! The OpenID Connect provider's use cases (issue 14, docs/oidc.md): the issuer, the signing keys ([`keys`]:
//! sealed at rest, rotated) and the pairwise salt from the store, relying parties' registrations, the authorization endpoint's steps
//! ([`authorize`]), the token endpoint's grants, PAR, introspection, revocation and userinfo ([`token`]), and
//! RP-initiated logout ([`logout`]). The rules are `dinhdanh_oidc`'s; this module applies its decisions in store
//! transactions, with their audit entries. HTTP (pages, cookies, forms) is in `api/oidc`.

pub mod authorize;
pub mod holder;
pub mod keys;
pub mod logout;
pub mod token;
pub mod verified;

pub use keys::{ensure_keys, key_set, rotate_keys};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use dinhdanh_domain::actor::{Actor, OrganizationKind};
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::client::ClientStatus;
use dinhdanh_oidc::client::ClientRegistration;
use dinhdanh_oidc::metadata::{EndpointPaths, Issuer, ProviderMetadata};
use dinhdanh_oidc::subject::SubjectSalt;
use dinhdanh_oidc::tokens::Lifetimes;
use dinhdanh_store::{AuditEntry, OIDC_SUBJECT_SALT};
use serde_json::json;

use crate::AppState;
use crate::auth::authorize as authorize_action;
use crate::problem::ApiError;

/// What the provider keeps in memory: its paths and lifetimes, the pairwise salt once read, and the signing keys
/// as last opened ([`keys::key_set`]), and the access tokens whose signature it has checked.
#[derive(Default)]
pub struct Provider {
    pub paths: EndpointPaths,
    pub lifetimes: Lifetimes,
    salt: tokio::sync::OnceCell<SubjectSalt>,
    keys: keys::CachedKeySet,
    /// Access tokens whose signature this node has checked (`verified.rs`).
    pub verified: verified::VerifiedTokens,
}

/// The issuer identifier: the configured one (`[oidc] issuer`, `DINHDANH_ISSUER`), else the server's public
/// URL, else (development and tests) `http://` + the request's `Host`, which [`Issuer::parse`] accepts only for
/// a loopback host.
pub fn issuer(state: &AppState, host: Option<&str>) -> Result<Issuer, ApiError> {
    let configured = state.config.oidc_issuer.as_deref().or(state.config.public_url.as_deref());
    let text = match (configured, host) {
        (Some(url), _) => url.trim_end_matches('/').to_owned(),
        (None, Some(host)) => format!("http://{}", host.trim()),
        (None, None) => return Err(ApiError::internal("no issuer is configured and the request has no Host")),
    };
    Issuer::parse(&text).map_err(|e| ApiError::internal(format!("the issuer {text:?} is not usable: {e}")))
}

/// The discovery document.
pub fn metadata(state: &AppState, issuer: &Issuer) -> ProviderMetadata {
    ProviderMetadata::new(issuer, &state.oidc.paths)
}

/// The deployment's pairwise-subject salt (made with the first key set).
pub async fn subject_salt(state: &AppState) -> Result<&SubjectSalt, ApiError> {
    state
        .oidc
        .salt
        .get_or_try_init(|| async {
            let now = state.clock.now();
            let text = match state.store.oidc_setting(OIDC_SUBJECT_SALT).await? {
                Some(text) => text,
                None => {
                    ensure_keys(&state.store, &state.config.oidc_seal_key, now).await?;
                    state
                        .store
                        .oidc_setting(OIDC_SUBJECT_SALT)
                        .await?
                        .ok_or_else(|| ApiError::internal("the pairwise salt was not stored"))?
                }
            };
            let bytes = STANDARD.decode(text).map_err(|_| ApiError::internal("the pairwise salt is corrupt"))?;
            SubjectSalt::new(bytes).map_err(|_| ApiError::internal("the pairwise salt is too short"))
        })
        .await
}

/// Saves a relying party's OpenID Connect registration for one of its organization's API clients (an
/// administrator's act): the client must be active and belong to an organization of kind `relying_party`, and
/// the registration must pass [`ClientRegistration::validate`]. Its authentication method is the API client's.
pub async fn set_registration(
    state: &AppState,
    actor: &Actor,
    registration: ClientRegistration,
) -> Result<ClientRegistration, ApiError> {
    authorize_action(state, actor, Action::ClientsManage).await?;
    let now = state.clock.now();
    let client =
        state.store.api_client(&registration.client_id).await?.ok_or(ApiError::NotFound { what: "API client" })?;
    if client.status != ClientStatus::Active {
        return Err(ApiError::ClientRevoked);
    }
    let organization =
        state.store.organization(&client.organization_id).await?.ok_or(ApiError::NotFound { what: "organization" })?;
    if organization.kind != OrganizationKind::RelyingParty {
        return Err(ApiError::field("client_id", "only a relying party's API client can sign holders in"));
    }
    // Same client, same credentials: it authenticates as its API client does.
    let mut registration = registration;
    registration.token_endpoint_auth_method = client.auth_method;
    registration.validate().map_err(|e| ApiError::field("registration", e))?;
    let mut tx = state.store.begin().await?;
    tx.upsert_oidc_client(&registration, now).await?;
    tx.audit(AuditEntry {
        at: now,
        actor: actor.audit_name(),
        action: "oidc.client.register",
        subject: Some(registration.client_id.clone()),
        outcome: "ok",
        detail: json!({"redirect_uris": registration.redirect_uris.len(),
                       "require_par": registration.require_pushed_authorization_requests}),
    })
    .await?;
    tx.commit().await?;
    Ok(registration)
}
