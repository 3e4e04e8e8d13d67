//! The operator's officers (domain.md "Actors"): creation pending enrolment, the two enrolment steps (password,
//! then a confirmed TOTP authenticator), sign-in at authentication assurance level 2 with throttling, sessions,
//! changes of roles and status, re-enrolment, the bootstrap of the first administrator, and sealing the TOTP
//! secrets at start and re-sealing them under a new key (`crate::totp_key`). Each use case runs
//! in one transaction with its audit record; who may call it is decided before, by `crate::auth::authorize`.
//! The bootstrap takes a bare [`Store`] and instant, so that the CLI runs the same code as the API.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use dinhdanh_domain::actor::{Actor, OfficerRole, OrganizationKind, OrganizationStatus};
use dinhdanh_domain::officer::{
    Officer, OfficerError, OfficerStatus, SESSION_TTL_HOURS, Throttle, removes_last_administrator,
};
use dinhdanh_domain::organization::Organization;
use dinhdanh_domain::totp::{self, TotpCheck};
use dinhdanh_store::{AuditEntry, Store, StoreError, Tx};
use rand::RngCore;
use serde_json::json;

use crate::AppState;
use crate::auth::{OFFICER_SESSION_PREFIX, authorize};
use crate::problem::ApiError;
use crate::secrets::{hash_secret, new_token, token_hash, verify_secret};
use crate::totp_key::TotpKey;
use dinhdanh_domain::authorization::Action;

/// Prefix of one-time enrolment tokens.
pub const ENROLMENT_TOKEN_PREFIX: &str = "dd_en_";
/// The issuer shown in authenticator apps.
pub const TOTP_ISSUER: &str = "dinhdanh";

/// An officer to create, its fields already parsed.
#[derive(Debug, Clone)]
pub struct NewOfficer {
    pub username: String,
    pub full_name: String,
    pub organization_id: String,
    pub roles: BTreeSet<OfficerRole>,
}

/// An officer pending enrolment and the one-time token that lets them enrol (shown once, stored hashed).
pub struct Enrolment {
    pub officer: Officer,
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// What step 1 of enrolment hands the officer to load into an authenticator app.
pub struct Authenticator {
    pub officer: Officer,
    pub totp_secret: String,
    pub otpauth_uri: String,
}

/// A new officer session.
pub struct OfficerSession {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub officer: Officer,
}

/// An administrator's change to an officer; `None` leaves the field as it is.
#[derive(Debug, Clone, Default)]
pub struct OfficerChange {
    pub full_name: Option<String>,
    pub roles: Option<BTreeSet<OfficerRole>>,
    /// `Active` or `Disabled`.
    pub status: Option<OfficerStatus>,
}

/// `dinhdanh admin bootstrap`'s input.
#[derive(Debug, Clone)]
pub struct Bootstrap {
    pub organization_code: String,
    pub organization_name: String,
    pub username: String,
    pub full_name: String,
}

/// What the bootstrap did.
pub struct Bootstrapped {
    pub organization: Organization,
    pub organization_created: bool,
    pub enrolment: Enrolment,
}

fn entry(
    actor: String,
    action: &'static str,
    subject: Option<&str>,
    outcome: &'static str,
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry { at, actor, action, subject: subject.map(str::to_owned), outcome, detail }
}

fn officer_actor(id: &str) -> String {
    format!("officer:{id}")
}

fn role_names(roles: &BTreeSet<OfficerRole>) -> Vec<&'static str> {
    roles.iter().map(|r| r.as_str()).collect()
}

fn validation(field: &str, error: OfficerError) -> ApiError {
    ApiError::field(field, error)
}

/// Creates an officer pending enrolment in `tx`: the unit must be an active organization of kind operator.
async fn insert_pending(
    tx: &mut Tx,
    actor: String,
    new: NewOfficer,
    now: DateTime<Utc>,
) -> Result<Enrolment, ApiError> {
    if new.roles.is_empty() {
        return Err(validation("roles", OfficerError::NoRoles));
    }
    let unit = tx.lock_organization(&new.organization_id).await?;
    if !unit.is_some_and(|o| o.kind == OrganizationKind::Operator && o.status == OrganizationStatus::Active) {
        return Err(ApiError::field("organization_id", "must be an active organization of kind operator"));
    }
    let (token, hash) = new_token(ENROLMENT_TOKEN_PREFIX);
    let officer = Officer::new_pending(
        uuid::Uuid::new_v4().to_string(),
        new.username,
        new.full_name,
        new.organization_id,
        new.roles,
        hash,
        now,
    );
    match tx.insert_officer(&officer).await {
        Ok(()) => {}
        Err(StoreError::Conflict(what)) => return Err(ApiError::Conflict { what: what.to_owned() }),
        Err(e) => return Err(e.into()),
    }
    let expires_at = officer.enrolment_expires_at.unwrap_or(now);
    tx.audit(entry(
        actor,
        "officer.create",
        Some(&officer.id),
        "ok",
        json!({"organization_id": officer.organization_id, "roles": role_names(&officer.roles),
               "enrolment_expires_at": expires_at}),
        now,
    ))
    .await?;
    Ok(Enrolment { officer, token, expires_at })
}

/// `POST /v1/officers`: an administrator creates an officer; the enrolment token is returned once.
pub async fn create(state: &AppState, actor: &Actor, new: NewOfficer) -> Result<Enrolment, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let enrolment = insert_pending(&mut tx, actor.audit_name(), new, now).await?;
    tx.commit().await?;
    Ok(enrolment)
}

/// `PATCH /v1/officers/{id}`: name, roles, status. Disabling or changing roles ends the officer's sessions in
/// the same transaction; the last active administrator keeps the role and stays active.
pub async fn update(state: &AppState, actor: &Actor, id: &str, change: OfficerChange) -> Result<Officer, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let administrators = tx.lock_active_administrators().await?;
    let before = tx.lock_officer(id).await?.ok_or(ApiError::NotFound { what: "officer" })?;
    let mut after = before.clone();
    let mut changed = Vec::new();
    if let Some(full_name) = change.full_name.filter(|n| *n != before.full_name) {
        after.full_name = full_name;
        changed.push("full_name");
    }
    if let Some(roles) = change.roles.filter(|r| *r != before.roles) {
        if roles.is_empty() {
            return Err(validation("roles", OfficerError::NoRoles));
        }
        after.roles = roles;
        changed.push("roles");
    }
    if let Some(status) = change.status {
        after.change_status(status, now).map_err(|e| validation("status", e))?;
        if after.status != before.status {
            changed.push("status");
        }
    }
    if removes_last_administrator(&administrators, &before, &after) {
        drop(tx);
        state
            .store
            .audit(entry(
                actor.audit_name(),
                "officer.update",
                Some(id),
                "refused",
                json!({"reason": "last_administrator", "fields": changed}),
                now,
            ))
            .await?;
        return Err(ApiError::LastAdministrator);
    }
    if changed.is_empty() {
        return Ok(before);
    }
    after.updated_at = now;
    tx.update_officer(&after).await?;
    let disabled = after.status == OfficerStatus::Disabled && before.status != OfficerStatus::Disabled;
    let sessions_revoked =
        if disabled || after.roles != before.roles { tx.revoke_officer_sessions(id, now).await? } else { 0 };
    tx.audit(entry(
        actor.audit_name(),
        "officer.update",
        Some(id),
        "ok",
        json!({"fields": changed, "roles": role_names(&after.roles), "previous_roles": role_names(&before.roles),
               "status": after.status.as_str(), "previous_status": before.status.as_str(),
               "sessions_revoked": sessions_revoked}),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// `POST /v1/officers/{id}/enrolment`: for a lost authenticator or a forgotten password. The password and TOTP
/// secret are forgotten, the officer is pending enrolment again with a new token, and their sessions end.
pub async fn reissue_enrolment(state: &AppState, actor: &Actor, id: &str) -> Result<Enrolment, ApiError> {
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    let administrators = tx.lock_active_administrators().await?;
    let before = tx.lock_officer(id).await?.ok_or(ApiError::NotFound { what: "officer" })?;
    if before.status == OfficerStatus::Disabled {
        return Err(ApiError::field("status", "the officer is disabled; set them active first"));
    }
    let (token, hash) = new_token(ENROLMENT_TOKEN_PREFIX);
    let mut after = before.clone();
    after.restart_enrolment(hash, now);
    if removes_last_administrator(&administrators, &before, &after) {
        drop(tx);
        state
            .store
            .audit(entry(
                actor.audit_name(),
                "officer.enrolment_reissue",
                Some(id),
                "refused",
                json!({"reason": "last_administrator"}),
                now,
            ))
            .await?;
        return Err(ApiError::LastAdministrator);
    }
    tx.update_officer(&after).await?;
    let sessions_revoked = tx.revoke_officer_sessions(id, now).await?;
    let expires_at = after.enrolment_expires_at.unwrap_or(now);
    tx.audit(entry(
        actor.audit_name(),
        "officer.enrolment_reissue",
        Some(id),
        "ok",
        json!({"previous_status": before.status.as_str(), "sessions_revoked": sessions_revoked,
               "enrolment_expires_at": expires_at}),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(Enrolment { officer: after, token, expires_at })
}

/// The pending officer an enrolment token belongs to; unknown, spent and expired tokens all get one answer.
async fn enrolling_officer(
    state: &AppState,
    token: &str,
    action: &'static str,
    now: DateTime<Utc>,
) -> Result<Officer, ApiError> {
    let found = match token.trim() {
        t if t.starts_with(ENROLMENT_TOKEN_PREFIX) => state.store.officer_by_enrolment_token(&token_hash(t)).await?,
        _ => None,
    };
    match found {
        Some(officer) if officer.enrolment_open(now) => Ok(officer),
        other => {
            let (actor, subject, reason) = match &other {
                Some(o) => (officer_actor(&o.id), Some(o.id.as_str()), "token_expired"),
                None => ("anonymous".to_owned(), None, "token_unknown"),
            };
            state.store.audit(entry(actor, action, subject, "refused", json!({"reason": reason}), now)).await?;
            Err(ApiError::NotFound { what: "enrolment (the token is unknown, used or expired)" })
        }
    }
}

/// Locks the officer again and checks that the token is still theirs and open (it may have been spent or
/// reissued meanwhile).
async fn relock_enrolling(
    tx: &mut Tx,
    officer: &Officer,
    token: &str,
    now: DateTime<Utc>,
) -> Result<Officer, ApiError> {
    let locked = tx.lock_officer(&officer.id).await?;
    let hash = token_hash(token.trim());
    locked
        .filter(|o| o.enrolment_open(now) && o.enrolment_token_hash.as_deref() == Some(hash.as_str()))
        .ok_or(ApiError::NotFound { what: "enrolment (the token is unknown, used or expired)" })
}

/// Enrolment step 1: the officer chooses a password and receives a new TOTP secret.
pub async fn enrol(state: &AppState, token: &str, password: String) -> Result<Authenticator, ApiError> {
    let now = state.clock.now();
    let officer = enrolling_officer(state, token, "officer.enrol", now).await?;
    dinhdanh_domain::password::check_new_password(&password, &[&officer.username])
        .map_err(|e| ApiError::field("password", e))?;
    let password_hash = hash_secret(password).await?;
    let mut secret = [0u8; totp::SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let totp_secret = totp::base32_encode(&secret);

    let mut tx = state.store.begin().await?;
    let mut officer = relock_enrolling(&mut tx, &officer, token, now).await?;
    officer.set_credentials(password_hash, state.config.totp_key.seal(&officer.id, &totp_secret), now);
    tx.update_officer(&officer).await?;
    tx.audit(entry(
        officer_actor(&officer.id),
        "officer.enrol",
        Some(&officer.id),
        "ok",
        json!({"step": "password_and_authenticator"}),
        now,
    ))
    .await?;
    tx.commit().await?;
    let otpauth_uri = totp::otpauth_uri(TOTP_ISSUER, &officer.username, &totp_secret);
    Ok(Authenticator { officer, totp_secret, otpauth_uri })
}

/// The officer's TOTP secret, opened with the configured key. A secret that does not open is the operator's
/// problem (a key not rotated in the configuration), never the officer's: a clear error, logged, not a refusal.
fn totp_key(state: &AppState, officer: &Officer) -> Result<Vec<u8>, ApiError> {
    let stored = officer
        .totp_secret
        .as_deref()
        .ok_or_else(|| ApiError::internal(format!("officer {} has no TOTP secret", officer.id)))?;
    let secret = state.config.totp_key.open(&officer.id, stored).map_err(|e| {
        tracing::error!(error = %e, "cannot open an officer's TOTP secret");
        ApiError::internal(e.to_string())
    })?;
    totp::base32_decode(&secret)
        .ok_or_else(|| ApiError::internal(format!("officer {} has no readable TOTP secret", officer.id)))
}

/// Seals, in one transaction, every TOTP secret still stored in plaintext (from before secrets were sealed),
/// and checks that every sealed one opens with `key`, so that a node started with the wrong key stops at once
/// with a clear message instead of refusing officers one by one. Returns how many were sealed; audited
/// (`officer.totp_sealed`, the count only) when any was.
pub async fn seal_totp_secrets(store: &Store, key: &TotpKey, now: DateTime<Utc>) -> Result<usize, ApiError> {
    let mut tx = store.begin().await?;
    let mut sealed = 0;
    for (officer_id, stored) in tx.lock_totp_secrets().await? {
        let secret = key.open(&officer_id, &stored).map_err(|e| ApiError::internal(e.to_string()))?;
        if !crate::totp_key::is_sealed(&stored) {
            tx.set_totp_secret(&officer_id, &key.seal(&officer_id, &secret)).await?;
            sealed += 1;
        }
    }
    if sealed > 0 {
        tx.audit(entry("system".to_owned(), "officer.totp_sealed", None, "ok", json!({"sealed": sealed}), now)).await?;
    }
    tx.commit().await?;
    Ok(sealed)
}

/// Re-seals every officer's TOTP secret under `new`, in one transaction: each is opened with `old` (or read as
/// plaintext from before sealing) and sealed again; one that does not open stops it all and changes nothing.
/// Returns how many; audited `officer.totp_key_rotated` with the count. Nodes still holding `old` cannot open
/// the secrets afterwards: the configuration must name `new` and the nodes restart.
pub async fn rotate_totp_key(
    store: &Store,
    old: &TotpKey,
    new: &TotpKey,
    now: DateTime<Utc>,
) -> Result<usize, ApiError> {
    if old == new {
        return Err(ApiError::field("new_key_file", "the new TOTP key is the key in use: make a new one"));
    }
    let mut tx = store.begin().await?;
    let secrets = tx.lock_totp_secrets().await?;
    for (officer_id, stored) in &secrets {
        let secret = old.open(officer_id, stored).map_err(|e| ApiError::internal(e.to_string()))?;
        tx.set_totp_secret(officer_id, &new.seal(officer_id, &secret)).await?;
    }
    let count = secrets.len();
    tx.audit(entry("system".to_owned(), "officer.totp_key_rotated", None, "ok", json!({"resealed": count}), now))
        .await?;
    tx.commit().await?;
    Ok(count)
}

/// Enrolment step 2: a valid code from the authenticator activates the officer and spends the token.
pub async fn confirm_enrolment(state: &AppState, token: &str, code: &str) -> Result<Officer, ApiError> {
    let now = state.clock.now();
    let officer = enrolling_officer(state, token, "officer.enrolment_confirm", now).await?;
    if officer.totp_secret.is_none() {
        return Err(ApiError::field("token", "choose a password first (POST /v1/officer-enrolment)"));
    }
    let mut tx = state.store.begin().await?;
    let mut officer = relock_enrolling(&mut tx, &officer, token, now).await?;
    let key = totp_key(state, &officer)?;
    let step = match totp::check(&key, code, now.timestamp(), officer.totp_last_step) {
        TotpCheck::Accepted { step } => step,
        TotpCheck::Replayed | TotpCheck::Wrong => {
            drop(tx);
            state
                .store
                .audit(entry(
                    officer_actor(&officer.id),
                    "officer.enrolment_confirm",
                    Some(&officer.id),
                    "refused",
                    json!({"reason": "wrong_code"}),
                    now,
                ))
                .await?;
            return Err(ApiError::field("code", "the code is wrong; check the authenticator app and its clock"));
        }
    };
    officer.confirm_enrolment(step, now);
    tx.update_officer(&officer).await?;
    tx.audit(entry(officer_actor(&officer.id), "officer.enrolment_confirm", Some(&officer.id), "ok", json!({}), now))
        .await?;
    tx.commit().await?;
    Ok(officer)
}

fn sign_in_counter(outcome: &'static str) {
    metrics::counter!("dinhdanh_officer_sign_ins_total", "outcome" => outcome).increment(1);
}

/// `POST /v1/officer-sessions`: password and TOTP code (AAL2). Wrong username, password or code get one
/// answer; failures are counted on the locked officer row and lock the sign-in as [`Throttle`] says.
pub async fn sign_in(
    state: &AppState,
    username: &str,
    password: String,
    code: &str,
) -> Result<OfficerSession, ApiError> {
    let now = state.clock.now();
    let throttle = Throttle::default();
    let username = username.trim().to_ascii_lowercase();
    let found = if username.is_empty() { None } else { state.store.officer_by_username(&username).await? };
    let Some(officer) = found else {
        // Spend the time a wrong password would take.
        crate::secrets::verify_against_nothing(state, password).await?;
        state
            .store
            .audit(entry(
                "anonymous".to_owned(),
                "officer.sign_in",
                None,
                "refused",
                json!({"reason": "unknown_username"}),
                now,
            ))
            .await?;
        sign_in_counter("failed");
        return Err(ApiError::SignInFailed);
    };
    if let Some(retry_after_seconds) = officer.sign_in_retry_after(now) {
        return locked(state, &officer, retry_after_seconds, now).await;
    }
    let stored_hash = officer.password_hash.clone();
    let password_ok = match &stored_hash {
        Some(hash) => verify_secret(state, password, hash.clone()).await?,
        None => {
            crate::secrets::verify_against_nothing(state, password).await?;
            false
        }
    };

    let mut tx = state.store.begin().await?;
    let mut officer = tx.lock_officer(&officer.id).await?.ok_or(ApiError::SignInFailed)?;
    // Decided again on the locked row: parallel guesses queue here and each sees the others' failures.
    if let Some(retry_after_seconds) = officer.sign_in_retry_after(now) {
        drop(tx);
        return locked(state, &officer, retry_after_seconds, now).await;
    }
    let verdict = if !password_ok || officer.password_hash != stored_hash {
        Err("wrong_password")
    } else if !officer.can_sign_in() {
        Err(if officer.status == OfficerStatus::Disabled { "disabled" } else { "pending_enrolment" })
    } else {
        match totp::check(&totp_key(state, &officer)?, code, now.timestamp(), officer.totp_last_step) {
            TotpCheck::Accepted { step } => Ok(step),
            TotpCheck::Replayed => Err("replayed_code"),
            TotpCheck::Wrong => Err("wrong_code"),
        }
    };
    let step = match verdict {
        Ok(step) => step,
        Err(reason) => {
            officer.record_failed_sign_in(&throttle, now);
            tx.update_officer(&officer).await?;
            tx.audit(entry(
                officer_actor(&officer.id),
                "officer.sign_in",
                Some(&officer.id),
                "refused",
                json!({"reason": reason, "failed_sign_ins": officer.failed_sign_ins,
                       "locked_until": officer.locked_until}),
                now,
            ))
            .await?;
            tx.commit().await?;
            sign_in_counter("failed");
            return Err(match officer.sign_in_retry_after(now) {
                Some(retry_after_seconds) => ApiError::SignInLocked { retry_after_seconds },
                None => ApiError::SignInFailed,
            });
        }
    };
    officer.record_sign_in(step, now);
    tx.update_officer(&officer).await?;
    let (token, hash) = new_token(OFFICER_SESSION_PREFIX);
    let expires_at = now + Duration::hours(SESSION_TTL_HOURS);
    tx.insert_officer_session(&hash, &officer.id, now, expires_at).await?;
    tx.audit(entry(
        officer_actor(&officer.id),
        "officer.sign_in",
        Some(&officer.id),
        "ok",
        json!({"aal": 2, "session_expires_at": expires_at}),
        now,
    ))
    .await?;
    tx.commit().await?;
    sign_in_counter("ok");
    Ok(OfficerSession { token, expires_at, officer })
}

async fn locked<T>(
    state: &AppState,
    officer: &Officer,
    retry_after_seconds: i64,
    now: DateTime<Utc>,
) -> Result<T, ApiError> {
    state
        .store
        .audit(entry(
            officer_actor(&officer.id),
            "officer.sign_in",
            Some(&officer.id),
            "refused",
            json!({"reason": "locked", "locked_until": officer.locked_until}),
            now,
        ))
        .await?;
    sign_in_counter("locked");
    Err(ApiError::SignInLocked { retry_after_seconds })
}

/// `DELETE /v1/officer-sessions/current`: ends the session the request was made with.
pub async fn sign_out(state: &AppState, actor: &Actor, token: &str) -> Result<(), ApiError> {
    authorize(state, actor, Action::OfficerSignOut).await?;
    let Actor::Officer { officer_id, .. } = actor else {
        return Err(ApiError::Forbidden { action: Action::OfficerSignOut.as_str() });
    };
    let now = state.clock.now();
    let mut tx = state.store.begin().await?;
    tx.revoke_officer_session(&token_hash(token), officer_id, now).await?;
    tx.audit(entry(actor.audit_name(), "officer.sign_out", Some(officer_id), "ok", json!({}), now)).await?;
    tx.commit().await?;
    Ok(())
}

/// `dinhdanh admin bootstrap`: on a database without any officer, creates the operator organization (unless a
/// matching one exists) and the first administrator, pending enrolment. Refused once any officer exists; the
/// check and the insert share one transaction that keeps other writers of officers out.
pub async fn bootstrap(store: &Store, now: DateTime<Utc>, request: Bootstrap) -> Result<Bootstrapped, ApiError> {
    let code = dinhdanh_domain::organization::parse_code(&request.organization_code)
        .map_err(|e| ApiError::field("organization_code", e))?;
    let name = dinhdanh_domain::organization::parse_name(&request.organization_name)
        .map_err(|e| ApiError::field("organization_name", e))?;
    let username =
        dinhdanh_domain::officer::parse_username(&request.username).map_err(|e| validation("username", e))?;
    let full_name =
        dinhdanh_domain::officer::parse_full_name(&request.full_name).map_err(|e| validation("full_name", e))?;
    let existing = store.organization_by_code(&code).await?;

    let mut tx = store.begin().await?;
    tx.lock_officers_table().await?;
    if tx.count_officers_tx().await? > 0 {
        drop(tx);
        store
            .audit(entry(
                "system".to_owned(),
                "officer.bootstrap",
                None,
                "refused",
                json!({"reason": "officers_exist", "via": "cli"}),
                now,
            ))
            .await?;
        return Err(ApiError::Conflict {
            what: "officers (bootstrap runs only on a database without any officer)".to_owned(),
        });
    }
    let (organization, organization_created) = match existing {
        Some(org) if org.kind == OrganizationKind::Operator && org.status == OrganizationStatus::Active => (org, false),
        Some(_) => {
            return Err(ApiError::field(
                "organization_code",
                format!("{code} exists but is not an active organization of kind operator"),
            ));
        }
        None => {
            let org = Organization {
                id: uuid::Uuid::new_v4().to_string(),
                code,
                name,
                kind: OrganizationKind::Operator,
                parent_id: None,
                status: OrganizationStatus::Active,
                contact_email: None,
                contact_phone: None,
                created_at: now,
                updated_at: now,
            };
            match tx.insert_organization(&org).await {
                Ok(()) => {}
                Err(StoreError::Conflict(what)) => return Err(ApiError::Conflict { what: what.to_owned() }),
                Err(e) => return Err(e.into()),
            }
            tx.audit(entry(
                "system".to_owned(),
                "organization.create",
                Some(&org.id),
                "ok",
                json!({"code": org.code, "kind": org.kind.as_str(), "via": "cli"}),
                now,
            ))
            .await?;
            (org, true)
        }
    };
    let new = NewOfficer {
        username,
        full_name,
        organization_id: organization.id.clone(),
        roles: BTreeSet::from([OfficerRole::Administrator]),
    };
    let enrolment = insert_pending(&mut tx, "system".to_owned(), new, now).await?;
    tx.audit(entry(
        "system".to_owned(),
        "officer.bootstrap",
        Some(&enrolment.officer.id),
        "ok",
        json!({"organization_id": organization.id, "organization_created": organization_created, "via": "cli"}),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(Bootstrapped { organization, organization_created, enrolment })
}
