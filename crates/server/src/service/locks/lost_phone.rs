//! A holder's own lock without signing in (a lost phone): the identity details must match the account and the
//! registry, then a code goes to the channel the holder still has and confirms a lock that takes effect at once;
//! with no other channel, the request waits for a reviewer.

use chrono::{DateTime, Utc};
use dinhdanh_domain::AccountId;
use dinhdanh_domain::authority::{self, Placer, Route};
use dinhdanh_domain::lock::{Ground, Party};
use dinhdanh_domain::notice;
use dinhdanh_domain::request::{NewRequest, Request, RequestKind, Subject};
use dinhdanh_store::AuditEntry;
use rand::RngCore;
use serde_json::json;

use super::filing::file;
use super::refusal;
use crate::AppState;
use crate::problem::ApiError;

/// A holder's own lock filed without signing in (a lost phone): who they say they are, and which channel they lost.
#[derive(Debug, Clone)]
pub struct LostPhoneLock {
    pub declaration: dinhdanh_domain::registration::Declaration,
    /// The channel the holder can no longer read; the confirmation code goes to the other one.
    pub lost_channel: dinhdanh_domain::Channel,
    pub reason: String,
}

/// What became of a lost-phone lock: a code went to the other channel, or (no other channel) an officer will verify.
#[derive(Debug)]
pub enum LostPhoneOutcome {
    /// The caller is anonymous: where the code went (even masked) is not told, only that it went.
    CodeSent {
        confirmation_id: String,
        code_expires_at: DateTime<Utc>,
    },
    Queued(Box<Request>),
}

const LOST_PHONE: &str = "request.lock_without_sign_in";

/// The holder's own lock request on `account`, by `route`.
fn own_lock(account: &AccountId, route: Route, reason: String) -> NewRequest {
    NewRequest {
        kind: RequestKind::Lock,
        subject: Subject::Account(account.clone()),
        ground: Ground::HolderRequest,
        lock_id: None,
        requester: Party::Holder { account_id: account.clone() },
        route,
        is_override: false,
        legal_basis: None,
        reason,
        reference: None,
        lock_ends_at: None,
        in_person_check: None,
    }
}

/// Step 1 of a lock without sign-in: the identity details must match the account and the registry (one answer
/// for any difference); then a code goes to the channel the holder still has, or the request is queued for a
/// reviewer when there is none.
pub async fn lock_without_sign_in(state: &AppState, input: LostPhoneLock) -> Result<LostPhoneOutcome, ApiError> {
    use dinhdanh_domain::registration::{Declaration, citizen_matches, foreigner_matches};
    let now = state.clock.now();
    let declaration = &input.declaration;
    let account = state.store.account_by_identity(&declaration.identity_key()).await?;
    let matches = match declaration {
        Declaration::Citizen { id_number, .. } => {
            state.registry.citizen(id_number).await?.is_some_and(|r| citizen_matches(declaration, &r))
        }
        Declaration::Foreigner { nationality, passport_number, .. } => state
            .registry
            .foreigner(nationality, passport_number)
            .await?
            .is_some_and(|r| foreigner_matches(declaration, &r)),
    };
    let account = match account {
        Some(a) if matches && a.status == dinhdanh_domain::AccountStatus::Active => a,
        other => {
            let subject = other.map(|a| a.id.to_string());
            state
                .store
                .audit(AuditEntry {
                    at: now,
                    actor: "anonymous".to_owned(),
                    action: LOST_PHONE,
                    subject,
                    outcome: "refused",
                    detail: json!({"reason": "identity_not_verified"}),
                })
                .await?;
            return Err(ApiError::RegistryMismatch);
        }
    };
    authority::placement(Placer::Holder, Ground::HolderRequest, state.config.lock_policy).map_err(refusal)?;
    let other = match input.lost_channel {
        dinhdanh_domain::Channel::Sms => {
            account.email.as_ref().map(|e| (dinhdanh_domain::Channel::Email, e.as_str().to_owned(), e.masked()))
        }
        dinhdanh_domain::Channel::Email => {
            account.phone.as_ref().map(|p| (dinhdanh_domain::Channel::Sms, p.as_str().to_owned(), p.masked()))
        }
    };
    let reason = Some(input.reason.trim().to_owned())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| "mất thiết bị / lost device".to_owned());
    let actor_name = format!("holder:{}", account.id);
    match other {
        Some((channel, recipient, _masked)) => {
            let code =
                dinhdanh_domain::activation::ActivationCode::from_random((rand::rngs::OsRng.next_u32()) % 1_000_000);
            let code_hash = crate::secrets::hash_secret(code.as_str().to_owned()).await?;
            let policy = &state.config.activation;
            let confirmation_id = uuid::Uuid::new_v4().to_string();
            let code_expires_at = policy.code_expires_at(now);
            let mut tx = state.store.begin().await?;
            tx.lock_account(&account.id).await?;
            crate::service::notices::check_code_limit(&mut tx, &account, &[&recipient], now).await?;
            tx.insert_holder_sign_in(&dinhdanh_store::NewHolderSignIn {
                id: confirmation_id.clone(),
                account_id: account.id.clone(),
                code_hash,
                channel,
                created_at: now,
                expires_at: code_expires_at,
                purpose: dinhdanh_domain::account::SignInPurpose::LostPhoneLock,
            })
            .await?;
            let text = notice::lock_confirmation_code(code.as_str(), policy.code_ttl.num_minutes());
            tx.enqueue(
                dinhdanh_store::NewMessage {
                    kind: "lock_confirmation_code",
                    channel,
                    recipient,
                    subject: text.subject,
                    body: text.body,
                },
                now,
            )
            .await?;
            tx.audit(AuditEntry {
                at: now,
                actor: actor_name,
                action: LOST_PHONE,
                subject: Some(account.id.to_string()),
                outcome: "ok",
                detail: json!({"step": "code_sent", "channel": channel.as_str()}),
            })
            .await?;
            tx.commit().await?;
            Ok(LostPhoneOutcome::CodeSent { confirmation_id, code_expires_at })
        }
        None => {
            let new = own_lock(&account.id, authority::LOST_PHONE_UNCONFIRMED_ROUTE, reason);
            let mut tx = state.store.begin().await?;
            let account = tx.lock_account(&account.id).await?.ok_or(ApiError::NotFound { what: "e-ID account" })?;
            let filed = file(&mut tx, &state.config.calendar, &actor_name, Some(&account), new, now).await?;
            tx.commit().await?;
            Ok(LostPhoneOutcome::Queued(Box::new(filed)))
        }
    }
}

/// Step 2: the code from the other channel confirms the lock, which takes effect at once.
pub async fn confirm_lock_without_sign_in(
    state: &AppState,
    confirmation_id: &str,
    code: &str,
) -> Result<Request, ApiError> {
    let now = state.clock.now();
    let policy = &state.config.activation;
    let code = dinhdanh_domain::activation::ActivationCode::parse(code).map_err(|e| ApiError::field("code", e))?;
    // A place in the argon2 queue before the attempt: refused for a full queue, the holder keeps the attempt.
    let slot = crate::secrets::argon2_slot()?;
    let attempt = match uuid::Uuid::parse_str(confirmation_id) {
        Ok(_) => state.store.take_holder_sign_in_attempt(confirmation_id, now, policy.max_attempts).await?,
        Err(_) => None,
    }
    .filter(|a| a.purpose == dinhdanh_domain::account::SignInPurpose::LostPhoneLock)
    .ok_or(ApiError::CodeExpired)?;
    let actor_name = format!("holder:{}", attempt.account_id);
    if !slot.verify(state, code.as_str().to_owned(), attempt.code_hash.clone()).await? {
        let attempts_left = (policy.max_attempts - attempt.attempts).max(0);
        state
            .store
            .audit(AuditEntry {
                at: now,
                actor: actor_name,
                action: LOST_PHONE,
                subject: Some(attempt.account_id.to_string()),
                outcome: "refused",
                detail: json!({"step": "confirm", "reason": "wrong_code", "attempts_left": attempts_left}),
            })
            .await?;
        return Err(ApiError::WrongCode { attempts_left });
    }
    let mut tx = state.store.begin().await?;
    let account = tx.lock_account(&attempt.account_id).await?.ok_or(ApiError::NotFound { what: "e-ID account" })?;
    if !tx.consume_holder_sign_in(confirmation_id, now).await? {
        return Err(ApiError::CodeExpired);
    }
    let reason = "mất thiết bị, xác nhận qua kênh còn lại / lost device, confirmed on the other channel";
    let new = own_lock(&account.id, authority::LOST_PHONE_CONFIRMED_ROUTE, reason.to_owned());
    let filed = file(&mut tx, &state.config.calendar, &actor_name, Some(&account), new, now).await?;
    tx.commit().await?;
    Ok(filed)
}
