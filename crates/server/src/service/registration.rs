//! Registration and activation of e-ID accounts (Decision 34/2021 Art. 6–7): compare the declaration with the
//! registry, create a Level 1 account pending activation, send a one-time code, activate on the right code,
//! resend within limits, and remove registrations never activated.

use chrono::{DateTime, Utc};
use dinhdanh_domain::activation::{ActivationCode, ActivationError};
use dinhdanh_domain::registration::{Declaration, citizen_matches, foreigner_matches};
use dinhdanh_domain::{Account, AccountError, AccountId, AccountStatus, Email, Level, PhoneNumber, notice};
use dinhdanh_store::{AuditEntry, Decoy, StoreError, Tx};
use rand::Rng;
use serde_json::json;

use crate::AppState;
use crate::problem::ApiError;
use crate::secrets::{hash_secret, verify_secret};
use crate::service::notices::queue_notice;

/// A registration after its fields have been parsed.
pub struct Registration {
    pub declaration: Declaration,
    pub phone: Option<PhoneNumber>,
    pub email: Option<Email>,
    pub password: String,
}

/// Where a code went and how long it and the registration last.
pub struct CodeSent {
    pub account_id: AccountId,
    pub sent_to: Vec<String>,
    pub code_expires_at: DateTime<Utc>,
    pub registration_expires_at: DateTime<Utc>,
}

const REGISTRANT: &str = "registrant";

fn audit(
    action: &'static str,
    subject: Option<&AccountId>,
    outcome: &'static str,
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry { at, actor: REGISTRANT.to_owned(), action, subject: subject.map(|id| id.to_string()), outcome, detail }
}

pub async fn register(state: &AppState, registration: Registration) -> Result<CodeSent, ApiError> {
    let now = state.clock.now();
    let Registration { declaration, phone, email, password } = registration;
    let matched = match &declaration {
        Declaration::Citizen { id_number, .. } => {
            state.registry.citizen(id_number).await?.is_some_and(|record| citizen_matches(&declaration, &record))
        }
        Declaration::Foreigner { nationality, passport_number, .. } => state
            .registry
            .foreigner(nationality, passport_number)
            .await?
            .is_some_and(|record| foreigner_matches(&declaration, &record)),
    };
    let kind = declaration.holder_kind().as_str();
    if !matched {
        // One answer whether the identity is unknown or a field differs: nothing to enumerate.
        state
            .store
            .audit(audit(
                "account.register",
                None,
                "refused",
                json!({"reason": "registry_mismatch", "holder_kind": kind}),
                now,
            ))
            .await?;
        metrics::counter!("dinhdanh_registrations_total", "outcome" => "registry_mismatch").increment(1);
        return Err(ApiError::RegistryMismatch);
    }

    let password_hash = hash_secret(password).await?;
    let code = new_code();
    let code_hash = crate::secrets::hash_secret_after_check(code.as_str().to_owned()).await?;
    let account = Account {
        id: AccountId::new(uuid::Uuid::new_v4().to_string()),
        identity_key: declaration.identity_key(),
        holder_kind: declaration.holder_kind(),
        full_name: declaration.full_name().clone(),
        level: Level::One,
        status: AccountStatus::PendingActivation,
        phone,
        email,
        password_hash,
        created_at: now,
        activated_at: None,
    };

    let mut tx = state.store.begin().await?;
    // A registration of this identity that expired and that the purge has not removed yet goes now (audited
    // as the purge would), so that it is never taken for a registered identity.
    if let Some(expired) =
        tx.delete_expired_registration_of(&account.identity_key, now - state.config.activation.pending_ttl).await?
    {
        tx.audit(expired_registration(&expired, now)).await?;
    }
    match tx.insert_account(&account).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            drop(tx);
            return answer_with_decoy(state, &account, &code_hash, kind, now).await;
        }
        Err(other) => return Err(other.into()),
    }
    let sent = send_code(state, &mut tx, &account, &code, &code_hash, now).await?;
    tx.audit(audit("account.register", Some(&account.id), "ok", json!({"holder_kind": kind, "level": 1}), now)).await?;
    tx.commit().await?;
    metrics::counter!("dinhdanh_registrations_total", "outcome" => "created").increment(1);
    tracing::info!(account = %account.id, holder_kind = kind, "registration accepted");
    Ok(sent)
}

/// The identity has an account already: the caller is answered as a fresh registration would be, with a decoy
/// that behaves like a pending registration whose code nobody was sent, and the real holder is told through
/// their registered channels (within the per-identity code limits, so that this cannot flood them). The same
/// work as a fresh registration was done before this point (two argon2id hashes) and is done here (one
/// transaction, one audit entry), so neither the answer nor its cost tells the caller anything.
async fn answer_with_decoy(
    state: &AppState,
    declared: &Account,
    code_hash: &str,
    kind: &str,
    now: DateTime<Utc>,
) -> Result<CodeSent, ApiError> {
    let policy = &state.config.activation;
    let sent_to: Vec<String> =
        [declared.phone.as_ref().map(|p| p.masked()), declared.email.as_ref().map(|e| e.masked())]
            .into_iter()
            .flatten()
            .collect();
    let decoy = Decoy {
        id: uuid::Uuid::new_v4().to_string(),
        created_at: now,
        sent_to: sent_to.clone(),
        code_hash: code_hash.to_owned(),
        code_expires_at: policy.code_expires_at(now),
        attempts: 0,
        sends: vec![now],
    };
    let mut tx = state.store.begin().await?;
    // The same limit on codes to the declared destinations as a fresh registration meets.
    let declared_contacts = crate::service::notices::account_contacts(declared);
    crate::service::notices::check_code_limit(&mut tx, declared, &declared_contacts, now).await?;
    let holder = match state.store.account_by_identity(&declared.identity_key).await? {
        Some(holder) => tx.lock_account(&holder.id).await?,
        None => None,
    };
    let mut told = false;
    if let Some(holder) = &holder {
        let contacts = crate::service::notices::account_contacts(holder);
        if crate::service::notices::check_code_limit(&mut tx, holder, &contacts, now).await.is_ok() {
            queue_notice(&mut tx, holder, "registration_attempt", notice::registration_attempt(), now).await?;
            told = true;
        }
    }
    tx.insert_decoy(&decoy).await?;
    tx.audit(audit(
        "account.register",
        holder.as_ref().map(|h| &h.id),
        "refused",
        json!({"reason": "already_registered", "holder_kind": kind, "holder_told": told, "decoy": decoy.id}),
        now,
    ))
    .await?;
    tx.commit().await?;
    metrics::counter!("dinhdanh_registrations_total", "outcome" => "already_registered").increment(1);
    Ok(CodeSent {
        account_id: AccountId::new(decoy.id),
        sent_to,
        code_expires_at: decoy.code_expires_at,
        registration_expires_at: now + policy.pending_ttl,
    })
}

/// Checks the code and activates the account.
pub async fn activate(state: &AppState, account_id: &AccountId, code: ActivationCode) -> Result<Account, ApiError> {
    let now = state.clock.now();
    let policy = &state.config.activation;
    let account = match pending_account(state, account_id, now).await {
        Err(ApiError::AccountNotFound) => return Err(activate_decoy(state, account_id, code, now).await?),
        other => other?,
    };
    // A place in the argon2 queue before the attempt: refused for a full queue, the holder keeps the attempt.
    let slot = crate::secrets::argon2_slot()?;
    let Some(stored) = state.store.take_activation_attempt(&account.id, now, policy.max_attempts).await? else {
        state
            .store
            .audit(audit("account.activate", Some(&account.id), "refused", json!({"reason": "code_expired"}), now))
            .await?;
        return Err(ApiError::CodeExpired);
    };
    if !slot.verify(state, code.as_str().to_owned(), stored.code_hash).await? {
        let attempts_left = (policy.max_attempts - stored.attempts).max(0);
        state
            .store
            .audit(audit(
                "account.activate",
                Some(&account.id),
                "refused",
                json!({"reason": "wrong_code", "attempts_left": attempts_left}),
                now,
            ))
            .await?;
        metrics::counter!("dinhdanh_activations_total", "outcome" => "wrong_code").increment(1);
        return Err(ApiError::WrongCode { attempts_left });
    }

    let mut tx = state.store.begin().await?;
    let mut account = tx.lock_account(&account.id).await?.ok_or(ApiError::AccountNotFound)?;
    account.activate(now, policy.pending_ttl).map_err(|e| match e {
        AccountError::AlreadyActive => ApiError::AlreadyActive,
        AccountError::RegistrationExpired => ApiError::RegistrationExpired,
    })?;
    tx.update_account_status(&account).await?;
    tx.delete_activation_code(&account.id).await?;
    queue_notice(&mut tx, &account, "account_activated", notice::account_activated(), now).await?;
    tx.audit(audit("account.activate", Some(&account.id), "ok", json!({}), now)).await?;
    tx.commit().await?;
    metrics::counter!("dinhdanh_activations_total", "outcome" => "activated").increment(1);
    Ok(account)
}

/// A decoy's activation: the answers of a pending registration to someone who does not have its code (wrong
/// code with the tries left, then the code expired; the registration expired after 24 hours), after the same
/// argon2id comparison and the same audited transaction; it never becomes an account. An id that is no decoy
/// either is `account-not-found`, as before.
async fn activate_decoy(
    state: &AppState,
    id: &AccountId,
    code: ActivationCode,
    now: DateTime<Utc>,
) -> Result<ApiError, ApiError> {
    let policy = &state.config.activation;
    let decoy = state.store.decoy(id.as_str()).await?.ok_or(ApiError::AccountNotFound)?;
    if policy.registration_expired(decoy.created_at, now) {
        return Ok(ApiError::RegistrationExpired);
    }
    let refusal = match state.store.take_decoy_attempt(&decoy.id, now, policy.max_attempts).await? {
        None => ("code_expired", ApiError::CodeExpired),
        Some(taken) => {
            // Compared like a real code, and refused whatever the comparison says: a decoy has no account.
            let _ = verify_secret(state, code.as_str().to_owned(), taken.code_hash).await?;
            let attempts_left = (policy.max_attempts - taken.attempts).max(0);
            ("wrong_code", ApiError::WrongCode { attempts_left })
        }
    };
    state
        .store
        .audit(audit("account.activate", None, "refused", json!({"reason": refusal.0, "decoy": decoy.id}), now))
        .await?;
    Ok(refusal.1)
}

/// A decoy's resend: the same limits and answer as a registration's, after the same hashing; nothing is sent.
async fn resend_decoy(state: &AppState, id: &AccountId, now: DateTime<Utc>) -> Result<CodeSent, ApiError> {
    let policy = &state.config.activation;
    let found = state.store.decoy(id.as_str()).await?.ok_or(ApiError::AccountNotFound)?;
    if policy.registration_expired(found.created_at, now) {
        return Err(ApiError::RegistrationExpired);
    }
    let code_hash = hash_secret(new_code().as_str().to_owned()).await?;
    let mut tx = state.store.begin().await?;
    let decoy = tx.lock_decoy(&found.id).await?.ok_or(ApiError::AccountNotFound)?;
    let earlier: Vec<DateTime<Utc>> =
        decoy.sends.iter().copied().filter(|t| *t > now - chrono::Duration::hours(1)).collect();
    if let Err(ActivationError::ResendTooSoon { retry_after_seconds }) = policy.check_resend(&earlier, now) {
        drop(tx);
        state
            .store
            .audit(audit(
                "account.resend_code",
                None,
                "refused",
                json!({"reason": "rate_limited", "decoy": decoy.id}),
                now,
            ))
            .await?;
        return Err(ApiError::TooManyRequests { retry_after_seconds });
    }
    let expires_at = policy.code_expires_at(now);
    tx.renew_decoy_code(&decoy, &code_hash, now, expires_at).await?;
    tx.audit(audit(
        "account.resend_code",
        None,
        "refused",
        json!({"reason": "already_registered", "decoy": decoy.id}),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(CodeSent {
        account_id: id.clone(),
        sent_to: decoy.sent_to,
        code_expires_at: expires_at,
        registration_expires_at: decoy.created_at + policy.pending_ttl,
    })
}

/// Sends a new code (voiding the previous one), within the resend limits.
pub async fn resend_code(state: &AppState, account_id: &AccountId) -> Result<CodeSent, ApiError> {
    let now = state.clock.now();
    match pending_account(state, account_id, now).await {
        Err(ApiError::AccountNotFound) => return resend_decoy(state, account_id, now).await,
        other => other?,
    };
    let code = new_code();
    let code_hash = hash_secret(code.as_str().to_owned()).await?;
    let mut tx = state.store.begin().await?;
    // Holding the account serialises concurrent resends, so the limits below count every send.
    let account = tx.lock_account(account_id).await?.ok_or(ApiError::AccountNotFound)?;
    let earlier = tx.activation_sends_since(&account.id, now - chrono::Duration::hours(1)).await?;
    if let Err(ActivationError::ResendTooSoon { retry_after_seconds }) =
        state.config.activation.check_resend(&earlier, now)
    {
        drop(tx);
        state
            .store
            .audit(audit("account.resend_code", Some(account_id), "refused", json!({"reason": "rate_limited"}), now))
            .await?;
        return Err(ApiError::TooManyRequests { retry_after_seconds });
    }
    let sent = send_code(state, &mut tx, &account, &code, &code_hash, now).await?;
    tx.audit(audit("account.resend_code", Some(&account.id), "ok", json!({}), now)).await?;
    tx.commit().await?;
    Ok(sent)
}

/// Removes registrations that stayed pending longer than the policy allows, and the decoys of the same age;
/// returns how many registrations.
pub async fn remove_expired_registrations(state: &AppState) -> Result<usize, ApiError> {
    Ok(remove_expired_registrations_counted(state).await?.0 as usize)
}

/// [`remove_expired_registrations`], in batches of [`super::purge::BATCH`], each one transaction with the
/// audit entries of the registrations it removes; returns how many registrations and decoys went.
pub(crate) async fn remove_expired_registrations_counted(state: &AppState) -> Result<(u64, u64), ApiError> {
    let now = state.clock.now();
    let cutoff = now - state.config.activation.pending_ttl;
    let batch = super::purge::BATCH;
    let mut registrations = 0;
    loop {
        let removed = state
            .store
            .retrying(|| async {
                let mut tx = state.store.begin().await?;
                let removed = tx.delete_pending_created_by(cutoff, batch).await?;
                for id in &removed {
                    tx.audit(expired_registration(id, now)).await?;
                }
                tx.commit().await?;
                Ok::<_, ApiError>(removed.len() as u64)
            })
            .await?;
        registrations += removed;
        if removed < batch as u64 {
            break;
        }
    }
    let mut decoys = 0;
    loop {
        let mut tx = state.store.begin().await?;
        let removed = tx.delete_decoys_created_by(cutoff, batch).await?;
        tx.commit().await?;
        decoys += removed;
        if removed < batch as u64 {
            break;
        }
    }
    if registrations > 0 {
        tracing::info!(count = registrations, "expired registrations removed");
    }
    Ok((registrations, decoys))
}

fn expired_registration(id: &AccountId, now: DateTime<Utc>) -> AuditEntry {
    AuditEntry {
        at: now,
        actor: "system".to_owned(),
        action: "account.registration_expired",
        subject: Some(id.to_string()),
        outcome: "ok",
        detail: json!({}),
    }
}

/// The account, if it exists and may still be activated.
async fn pending_account(state: &AppState, account_id: &AccountId, now: DateTime<Utc>) -> Result<Account, ApiError> {
    let account = state.store.account(account_id).await?.ok_or(ApiError::AccountNotFound)?;
    match account.status {
        AccountStatus::Active => Err(ApiError::AlreadyActive),
        AccountStatus::PendingActivation if state.config.activation.registration_expired(account.created_at, now) => {
            Err(ApiError::RegistrationExpired)
        }
        AccountStatus::PendingActivation => Ok(account),
    }
}

fn new_code() -> ActivationCode {
    ActivationCode::from_random(rand::rngs::OsRng.gen_range(0..1_000_000))
}

async fn send_code(
    state: &AppState,
    tx: &mut Tx,
    account: &Account,
    code: &ActivationCode,
    code_hash: &str,
    now: DateTime<Utc>,
) -> Result<CodeSent, ApiError> {
    let policy = &state.config.activation;
    let contacts = crate::service::notices::account_contacts(account);
    crate::service::notices::check_code_limit(tx, account, &contacts, now).await?;
    let expires_at = policy.code_expires_at(now);
    tx.put_activation_code(&account.id, code_hash, now, expires_at).await?;
    let text = notice::activation_code(code.as_str(), policy.code_ttl.num_minutes());
    let sent_to = queue_notice(tx, account, "activation_code", text, now).await?;
    Ok(CodeSent {
        account_id: account.id.clone(),
        sent_to,
        code_expires_at: expires_at,
        registration_expires_at: account.created_at + policy.pending_ttl,
    })
}
