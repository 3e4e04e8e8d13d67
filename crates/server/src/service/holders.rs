//! Holders' sign-in (domain.md "Actors", "Effect of a lock"): identifier and password, then a one-time code sent
//! to the registered phone or e-mail, then a server-side session of [`HOLDER_SESSION_TTL_MINUTES`]. The lock
//! engine and, later, the OpenID Connect provider build on it.
//!
//! - An unknown identity, a wrong password and an account that cannot sign in (pending activation) get one
//!   answer, `401 sign-in-failed`, after the same argon2 work.
//! - Consecutive failures (wrong passwords and wrong codes) are counted per account and source and throttled by
//!   [`HolderThrottle`] (a stranger cannot lock the holder out); a throttled step 1 answers exactly as a wrong
//!   password does, even to the right password. Only a completed sign-in resets the counts. One-time codes are
//!   limited per destination and identity ([`dinhdanh_domain::throttle::CodeSendLimit`]).
//! - While any lock is in force, the right password gets `403 account-locked` with each lock's ground and how it
//!   can be lifted (never who placed it), no code is sent, and a code already sent no longer opens a session:
//!   the lock is checked again in the transaction that would open it.
//! - Codes follow the activation rules ([`dinhdanh_domain::activation::ActivationPolicy`]): 6 digits, argon2id
//!   hash, 5 minutes, 5 tries, each try taken atomically before comparing.
//!
//! Passwords and codes are verified outside any transaction; every decision is then taken on the account row
//! held by `Tx::lock_account`, so parallel attempts queue there and each sees the others' failures. Every
//! attempt, accepted or refused, leaves an audit record without personal data.

use chrono::{DateTime, Duration, Utc};
use dinhdanh_domain::account::{HolderKind, SignInPurpose};
use dinhdanh_domain::activation::ActivationCode;
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::lock::{self, Lock};
use dinhdanh_domain::throttle::{HOLDER_SESSION_TTL_MINUTES, HolderThrottle};
use dinhdanh_domain::{Account, AccountId, AccountStatus, Channel, IdentityKey, Level, SignInProof, notice};
use dinhdanh_store::{AuditEntry, NewHolderSignIn, NewMessage, Tx};
use rand::Rng;
use serde_json::json;

use crate::AppState;
use crate::auth::{HOLDER_SESSION_PREFIX, authorize};
use crate::problem::{ApiError, LockNotice};
use crate::secrets::{argon2_slot, hash_secret_after_check, new_token, token_hash, verify_secret};
use dinhdanh_domain::authorization::Action;

/// Step 1 of a sign-in, parsed.
pub struct SignInStart {
    pub holder_kind: HolderKind,
    pub identity: IdentityKey,
    pub password: String,
    /// Where to send the code; by default the phone if one is registered, else the e-mail.
    pub channel: Option<Channel>,
    /// `Restore` lets a holder whose account is locked sign in to follow the locks and ask for a lift.
    pub purpose: SignInPurpose,
}

/// Where the code went.
pub struct CodeSent {
    pub sign_in_id: String,
    pub channel: Channel,
    /// The masked destination.
    pub sent_to: String,
    pub code_expires_at: DateTime<Utc>,
}

/// An open session; the token is shown once and stored only as its hash.
pub struct HolderSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    /// What this sign-in proved: Level 1 for a password and a code, whatever the account's level.
    pub assurance: Level,
    pub account_id: AccountId,
    /// Opened on a locked account: only for following the locks and asking for a lift.
    pub restore_only: bool,
    /// The account's level: what a biometric match would add to this sign-in (`service::biometrics`).
    pub account_level: Level,
}

/// A holder's own view of their account.
pub struct MyAccount {
    pub account: Account,
    /// The locks in force now.
    pub locks: Vec<Lock>,
    /// What the sign-in of the asking session proved.
    pub session_assurance: Level,
}

const START: &str = "holder.sign_in.start";
const SIGN_IN: &str = "holder.sign_in";

fn entry(
    actor: String,
    action: &'static str,
    subject: Option<&AccountId>,
    outcome: &'static str,
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry { at, actor, action, subject: subject.map(|id| id.to_string()), outcome, detail }
}

fn holder(account: &AccountId) -> String {
    format!("holder:{account}")
}

fn counter(step: &'static str, outcome: &'static str) {
    metrics::counter!("dinhdanh_holder_sign_ins_total", "step" => step, "outcome" => outcome).increment(1);
}

fn new_code() -> ActivationCode {
    ActivationCode::from_random(rand::rngs::OsRng.gen_range(0..1_000_000))
}

/// The locks in force at `now`, as the holder is told about them.
pub fn lock_notices(locks: &[Lock], now: DateTime<Utc>) -> Vec<LockNotice> {
    lock::active_locks(locks, now).map(LockNotice::of).collect()
}

fn grounds(locks: &[Lock], now: DateTime<Utc>) -> Vec<&'static str> {
    lock::active_locks(locks, now).map(|l| l.ground.as_str()).collect()
}

/// `POST /v1/holder-sessions`: checks identifier and password and sends a one-time code.
///
/// `source` is the pseudonymous client address ([`crate::ratelimit::ClientSource`]): failures are throttled per
/// account and source, and a throttled start answers exactly as a wrong password does (`401`), so that only
/// someone who knows the password could tell an existing account from an unknown one.
pub async fn start_sign_in(state: &AppState, start: SignInStart, source: &str) -> Result<CodeSent, ApiError> {
    let now = state.clock.now();
    let policy = &state.config.activation;
    let SignInStart { holder_kind, identity, password, channel, purpose } = start;
    let kind = holder_kind.as_str();
    let Some(account) = state.store.account_by_identity(&identity).await? else {
        // Spend the time a wrong password would take.
        crate::secrets::verify_against_nothing(state, password).await?;
        state
            .store
            .audit(entry(
                "anonymous".to_owned(),
                START,
                None,
                "refused",
                json!({"reason": "unknown_identity", "holder_kind": kind}),
                now,
            ))
            .await?;
        counter("start", "failed");
        return Err(ApiError::SignInFailed);
    };
    let actor = holder(&account.id);
    // Verified even while throttled: a throttled sign-in costs and answers what a wrong password does.
    let password_ok = verify_secret(state, password, account.password_hash.clone()).await?;
    // The code is hashed before the transaction (argon2 must not run while the account is held), and only when
    // it may be needed, so that a wrong password costs exactly one argon2 verification.
    let prepared = if password_ok && account.status == AccountStatus::Active {
        let code = new_code();
        let hash = hash_secret_after_check(code.as_str().to_owned()).await?;
        Some((code, hash))
    } else {
        None
    };

    let mut tx = state.store.begin().await?;
    let Some(current) = tx.lock_account(&account.id).await? else {
        // Removed meanwhile (a registration that expired): as if it had never existed.
        drop(tx);
        state
            .store
            .audit(entry(
                actor,
                START,
                None,
                "refused",
                json!({"reason": "unknown_identity", "holder_kind": kind}),
                now,
            ))
            .await?;
        counter("start", "failed");
        return Err(ApiError::SignInFailed);
    };
    let mut failures = throttle_of(&mut tx, &current.id, source).await?;
    // Decided on the held row: parallel guesses queue here and each sees the others' failures.
    if let Some(retry_after_seconds) = failures.retry_after(now) {
        return throttled(tx, START, &current.id, retry_after_seconds, now).await;
    }
    let verdict = if !password_ok || current.password_hash != account.password_hash {
        Err("wrong_password")
    } else {
        // `prepared` is empty when the account was not active before the transaction either.
        prepared.filter(|_| current.status == AccountStatus::Active).ok_or("not_active")
    };
    let (code, code_hash) = match verdict {
        Ok(prepared) => prepared,
        Err(reason) => {
            let detail = json!({"reason": reason, "holder_kind": kind});
            return failed(tx, START, &current.id, source, &mut failures, detail, now).await;
        }
    };

    let locks = tx.locks_of_account(&current.id).await?;
    if purpose == SignInPurpose::SignIn && !lock::account_usable(&locks, now) {
        tx.audit(entry(
            actor,
            START,
            Some(&current.id),
            "refused",
            json!({"reason": "account_locked", "grounds": grounds(&locks, now)}),
            now,
        ))
        .await?;
        tx.commit().await?;
        counter("start", "account_locked");
        return Err(ApiError::AccountLocked { locks: lock_notices(&locks, now) });
    }

    let channel = channel.unwrap_or(if current.phone.is_some() { Channel::Sms } else { Channel::Email });
    let destination = match channel {
        Channel::Sms => current.phone.as_ref().map(|p| (p.as_str().to_owned(), p.masked())),
        Channel::Email => current.email.as_ref().map(|e| (e.as_str().to_owned(), e.masked())),
    };
    let Some((recipient, sent_to)) = destination else {
        tx.audit(entry(
            actor,
            START,
            Some(&current.id),
            "refused",
            json!({"reason": "channel_not_registered", "channel": channel.as_str()}),
            now,
        ))
        .await?;
        tx.commit().await?;
        counter("start", "refused");
        let what = match channel {
            Channel::Sms => "no phone number is registered for this account; choose email",
            Channel::Email => "no e-mail address is registered for this account; choose sms",
        };
        return Err(ApiError::field("channel", what));
    };

    if let Err(too_many) = crate::service::notices::check_code_limit(&mut tx, &current, &[&recipient], now).await {
        tx.audit(entry(actor, START, Some(&current.id), "refused", json!({"reason": "code_limit"}), now)).await?;
        tx.commit().await?;
        counter("start", "code_limit");
        return Err(too_many);
    }
    let sign_in_id = uuid::Uuid::new_v4().to_string();
    let code_expires_at = policy.code_expires_at(now);
    tx.insert_holder_sign_in(&NewHolderSignIn {
        id: sign_in_id.clone(),
        account_id: current.id.clone(),
        code_hash,
        channel,
        created_at: now,
        expires_at: code_expires_at,
        purpose,
    })
    .await?;
    let text = notice::sign_in_code(code.as_str(), policy.code_ttl.num_minutes());
    let message =
        NewMessage { kind: "holder_sign_in_code", channel, recipient, subject: text.subject, body: text.body };
    tx.enqueue(message, now).await?;
    tx.audit(entry(
        actor,
        START,
        Some(&current.id),
        "ok",
        json!({"channel": channel.as_str(), "sign_in_id": sign_in_id, "code_expires_at": code_expires_at}),
        now,
    ))
    .await?;
    tx.commit().await?;
    counter("start", "code_sent");
    Ok(CodeSent { sign_in_id, channel, sent_to, code_expires_at })
}

/// `POST /v1/holder-sessions/{sign_in_id}/verify`: checks the code and opens a session.
pub async fn verify_sign_in(
    state: &AppState,
    sign_in_id: &str,
    code: ActivationCode,
    source: &str,
) -> Result<HolderSession, ApiError> {
    let now = state.clock.now();
    let policy = &state.config.activation;
    let known_id = uuid::Uuid::parse_str(sign_in_id).is_ok();
    // A place in the argon2 queue first: refused for a full queue, the holder keeps the attempt.
    let slot = argon2_slot()?;
    let taken = if known_id {
        state.store.take_holder_sign_in_attempt(sign_in_id, now, policy.max_attempts).await?
    } else {
        None
    };
    // A code that confirms a lost-phone lock is not a sign-in code.
    let taken = taken.filter(|a| a.purpose != SignInPurpose::LostPhoneLock);
    let Some(attempt) = taken else {
        let account = if known_id { state.store.holder_sign_in_account(sign_in_id).await? } else { None };
        let actor = account.as_ref().map(holder).unwrap_or_else(|| "anonymous".to_owned());
        state
            .store
            .audit(entry(actor, SIGN_IN, account.as_ref(), "refused", json!({"reason": "code_expired"}), now))
            .await?;
        counter("verify", "code_expired");
        return Err(ApiError::CodeExpired);
    };
    let account_id = attempt.account_id.clone();
    let code_ok = slot.verify(state, code.as_str().to_owned(), attempt.code_hash).await?;

    let mut tx = state.store.begin().await?;
    let Some(account) = tx.lock_account(&account_id).await? else {
        drop(tx);
        state
            .store
            .audit(entry(holder(&account_id), SIGN_IN, None, "refused", json!({"reason": "code_expired"}), now))
            .await?;
        counter("verify", "code_expired");
        return Err(ApiError::CodeExpired);
    };
    let mut failures = throttle_of(&mut tx, &account.id, source).await?;
    // Decided on the held row: a throttle, a status change or a lock may have come since the code was sent.
    // A throttled sign-in is refused even with the right code (the code was compared, so the work is the same).
    if let Some(retry_after_seconds) = failures.retry_after(now) {
        return throttled(tx, SIGN_IN, &account.id, retry_after_seconds, now).await;
    }
    if !code_ok {
        let attempts_left = (policy.max_attempts - attempt.attempts).max(0);
        failures.record_failure(now);
        save_throttle(&mut tx, &account.id, source, &failures, now).await?;
        tx.audit(entry(
            holder(&account.id),
            SIGN_IN,
            Some(&account.id),
            "refused",
            json!({"reason": "wrong_code", "attempts_left": attempts_left, "failed_sign_ins": failures.account.count,
                   "failed_from_source": failures.source.count, "locked_until": failures.source.locked_until}),
            now,
        ))
        .await?;
        tx.commit().await?;
        counter("verify", "wrong_code");
        return Err(ApiError::WrongCode { attempts_left });
    }
    if account.status != AccountStatus::Active {
        return failed(tx, SIGN_IN, &account.id, source, &mut failures, json!({"reason": "not_active"}), now).await;
    }
    let locks = tx.locks_of_account(&account.id).await?;
    let locked = !lock::account_usable(&locks, now);
    if locked && attempt.purpose == SignInPurpose::SignIn {
        tx.audit(entry(
            holder(&account.id),
            SIGN_IN,
            Some(&account.id),
            "refused",
            json!({"reason": "account_locked", "grounds": grounds(&locks, now)}),
            now,
        ))
        .await?;
        tx.commit().await?;
        counter("verify", "account_locked");
        return Err(ApiError::AccountLocked { locks: lock_notices(&locks, now) });
    }
    if !tx.consume_holder_sign_in(sign_in_id, now).await? {
        // Used by a parallel request with the same code, or voided by a newer sign-in.
        tx.audit(entry(
            holder(&account.id),
            SIGN_IN,
            Some(&account.id),
            "refused",
            json!({"reason": "code_expired"}),
            now,
        ))
        .await?;
        tx.commit().await?;
        counter("verify", "code_expired");
        return Err(ApiError::CodeExpired);
    }
    failures.reset();
    save_throttle(&mut tx, &account.id, source, &failures, now).await?;
    // The code reached the holder by this channel: that contact is proved (OpenID Connect's `_verified` claims).
    if let Some(destination) = account.destination(attempt.channel) {
        tx.record_contact_verified(&account.id, attempt.channel, &contact_digest(destination), now).await?;
    }
    let (token, hash) = new_token(HOLDER_SESSION_PREFIX);
    let expires_at = now + Duration::minutes(HOLDER_SESSION_TTL_MINUTES);
    // A restore sign-in opens a restore-only session, even if the lock has gone meanwhile: it asked for no more.
    let restore_only = attempt.purpose == SignInPurpose::Restore;
    let assurance = SignInProof::PasswordAndCode.assurance(account.level);
    tx.insert_holder_session(&hash, &account.id, assurance, restore_only, now, expires_at).await?;
    tx.audit(entry(
        holder(&account.id),
        SIGN_IN,
        Some(&account.id),
        "ok",
        json!({"assurance": assurance.number(), "account_level": account.level.number(),
               "session_expires_at": expires_at, "restore_only": restore_only,
               "locked": locked}),
        now,
    ))
    .await?;
    tx.commit().await?;
    counter("verify", "ok");
    Ok(HolderSession {
        token,
        expires_at,
        assurance,
        account_id: account.id,
        restore_only,
        account_level: account.level,
    })
}

/// How a proved contact is kept: its SHA-256, so that no second copy of the number or address is stored.
pub fn contact_digest(destination: &str) -> String {
    crate::secrets::token_hash(destination)
}

/// `DELETE /v1/holder-sessions/current`: ends the session the request was made with.
pub async fn sign_out(state: &AppState, actor: &Actor, token: &str) -> Result<(), ApiError> {
    end_session(state, actor, &token_hash(token)).await
}

/// Ends the holder session with this token hash, which `actor` is signed in with (the API's bearer session, or
/// the portal's, `service::portal`).
pub async fn end_session(state: &AppState, actor: &Actor, session_hash: &str) -> Result<(), ApiError> {
    authorize(state, actor, Action::HolderSignOut).await?;
    let Actor::Holder { account_id, .. } = actor else {
        return Err(ApiError::Forbidden { action: Action::HolderSignOut.as_str() });
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.revoke_holder_session(session_hash, account_id, now).await?;
    tx.audit(entry(actor.audit_name(), "holder.sign_out", Some(account_id), "ok", json!({}), now)).await?;
    tx.commit().await?;
    Ok(())
}

/// `GET /v1/me`: the signed-in holder's account and the locks in force on it.
pub async fn my_account(state: &AppState, actor: &Actor) -> Result<MyAccount, ApiError> {
    authorize(state, actor, Action::OwnAccountRead).await?;
    let Actor::Holder { account_id, assurance, .. } = actor else {
        return Err(ApiError::Forbidden { action: Action::OwnAccountRead.as_str() });
    };
    let now = state.clock.now();
    let account = state.store.account(account_id).await?.ok_or(ApiError::Unauthorized)?;
    let locks = state.store.active_locks(account_id, now).await?;
    Ok(MyAccount { account, locks, session_assurance: *assurance })
}

/// The throttle counters of an account and a source, read on the held account row.
async fn throttle_of(tx: &mut Tx, account: &AccountId, source: &str) -> Result<HolderThrottle, ApiError> {
    Ok(HolderThrottle {
        source: tx.holder_source_failures(account, source).await?,
        account: tx.holder_sign_in_failures(account).await?,
    })
}

async fn save_throttle(
    tx: &mut Tx,
    account: &AccountId,
    source: &str,
    failures: &HolderThrottle,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    tx.set_holder_source_failures(account, source, &failures.source, now).await?;
    tx.set_holder_sign_in_failures(account, &failures.account).await?;
    Ok(())
}

/// The answer of a refused step: step 1 always answers `401 sign-in-failed`, throttled or not (a `429` there
/// would tell a stranger that the identity has an account); step 2, which only someone who knew the password
/// reaches, answers `429 sign-in-locked` while throttled.
fn refusal(action: &'static str, retry_after_seconds: Option<i64>) -> ApiError {
    match retry_after_seconds {
        Some(retry_after_seconds) if action == SIGN_IN => ApiError::SignInLocked { retry_after_seconds },
        _ => ApiError::SignInFailed,
    }
}

/// Counts a failure on the held account row (this source's and the account's), audits it, commits, and answers
/// as [`refusal`] says.
async fn failed<T>(
    mut tx: Tx,
    action: &'static str,
    account: &AccountId,
    source: &str,
    failures: &mut HolderThrottle,
    mut detail: serde_json::Value,
    now: DateTime<Utc>,
) -> Result<T, ApiError> {
    failures.record_failure(now);
    save_throttle(&mut tx, account, source, failures, now).await?;
    detail["failed_sign_ins"] = json!(failures.account.count);
    detail["failed_from_source"] = json!(failures.source.count);
    detail["locked_until"] = json!(failures.source.locked_until.max(failures.account.locked_until));
    tx.audit(entry(holder(account), action, Some(account), "refused", detail, now)).await?;
    tx.commit().await?;
    let step = if action == START { "start" } else { "verify" };
    let retry_after = failures.retry_after(now);
    counter(step, if retry_after.is_some() { "throttled" } else { "failed" });
    Err(refusal(action, retry_after))
}

/// A step refused because the account and source are throttled: audited in the transaction that holds the row.
async fn throttled<T>(
    mut tx: Tx,
    action: &'static str,
    account: &AccountId,
    retry_after_seconds: i64,
    now: DateTime<Utc>,
) -> Result<T, ApiError> {
    tx.audit(entry(
        holder(account),
        action,
        Some(account),
        "refused",
        json!({"reason": "throttled", "retry_after": retry_after_seconds}),
        now,
    ))
    .await?;
    tx.commit().await?;
    counter(if action == START { "start" } else { "verify" }, "throttled");
    Err(refusal(action, Some(retry_after_seconds)))
}
