//! Level 2 (Decision 34/2021 Art. 7; domain.md "Levels", "Biometrics", "Assurance of a sign-in"): a holder's
//! fresh capture (one finger as an ISO/IEC 19794-2:2005 record, or a face template) compared with the registry's
//! reference, and what a match does:
//!
//! - [`step_up`]: a signed-in holder of a Level 2 account adds a match to the sign-in; the session is replaced by
//!   one that proves Level 2 (a restore session stays a restore session). At most 5 failures a day.
//! - [`upgrade_online`]: a signed-in Level 1 holder becomes Level 2. At most 3 tries a day; never while locked.
//! - [`upgrade_in_person`]: a reviewer at an office records the identity document checked and the capture.
//! - [`lower_level`]: a reviewer or supervisor lowers a Level 2 account (its registry references changed); its
//!   Level 2 sessions end.
//!
//! Every comparison is recorded (`biometric_checks`) and audited with its score, threshold and decision; the
//! capture itself is neither stored nor logged. Comparisons run before the transaction (they are CPU work) and
//! every decision is taken on the held account row, where the day's failures are counted, so parallel tries
//! queue and each sees the others. Captures arrive parsed by the caller and are refused (`422`) only after the
//! authorization check, so that a caller the table refuses is told `403` whatever it sent. A capture the registry has no reference for, or cannot be compared (another
//! face model), is refused without counting a try: nothing was compared.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, Utc};
use dinhdanh_domain::actor::Actor;
use dinhdanh_domain::authorization::Action;
use dinhdanh_domain::biometrics::{self, CheckPurpose, LevelError, Modality};
use dinhdanh_domain::request::InPersonCheck;
use dinhdanh_domain::throttle::HOLDER_SESSION_TTL_MINUTES;
use dinhdanh_domain::{Account, AccountId, Level, SignInProof, lock, notice};
use dinhdanh_face::{FaceDecision, FaceMatcher, FaceTemplate};
use dinhdanh_fingerprint::{Decision, Matcher, MinutiaeRecord, Template};
use dinhdanh_store::{AuditEntry, NewBiometricCheck, Tx};
use serde_json::json;

use crate::AppState;
use crate::auth::{HOLDER_SESSION_PREFIX, authorize};
use crate::problem::ApiError;
use crate::secrets::new_token;
use crate::service::holders::HolderSession;
use crate::service::notices::queue_notice;

/// A capture sent for comparison, parsed and checked.
#[derive(Debug, Clone)]
pub enum Probe {
    /// One finger view with its finger position (1 to 10).
    Finger(MinutiaeRecord),
    Face(FaceTemplate),
}

impl Probe {
    /// Parses `modality` (`finger` or `face`) and the base64 `template`; errors name the field.
    pub fn parse(modality: &str, template: &str) -> Result<Self, ApiError> {
        let modality =
            Modality::parse(modality).ok_or_else(|| ApiError::field("modality", "modality must be finger or face"))?;
        let bytes = STANDARD
            .decode(template.trim())
            .map_err(|_| ApiError::field("template", "the template must be standard base64 (RFC 4648 §4)"))?;
        match modality {
            Modality::Finger => {
                let record = MinutiaeRecord::parse(&bytes)
                    .map_err(|e| ApiError::field("template", format!("not an ISO/IEC 19794-2:2005 record: {e}")))?;
                let [view] = record.views() else {
                    return Err(ApiError::field(
                        "template",
                        format!(
                            "the record must hold exactly one finger view (one finger is one try); it holds {}",
                            record.views().len()
                        ),
                    ));
                };
                if !(1..=10).contains(&view.position.code()) {
                    return Err(ApiError::field(
                        "template",
                        "the finger view must name its finger (ISO/IEC 19794-2 position 1 to 10, not 0 unknown)",
                    ));
                }
                Ok(Self::Finger(record))
            }
            Modality::Face => FaceTemplate::parse(&bytes)
                .map(Self::Face)
                .map_err(|e| ApiError::field("template", format!("not a face template: {e}"))),
        }
    }

    pub fn modality(&self) -> Modality {
        match self {
            Self::Finger(_) => Modality::Finger,
            Self::Face(_) => Modality::Face,
        }
    }
}

/// One comparison's outcome.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Verdict {
    pub modality: Modality,
    pub finger_position: Option<u8>,
    pub score: f64,
    pub threshold: f64,
    pub matched: bool,
}

/// Compares `probe` with the registry's reference of this person: the same finger, or the portrait.
pub async fn compare(state: &AppState, account: &Account, probe: &Probe) -> Result<Verdict, ApiError> {
    let identity = account.identity_key.as_str();
    match probe {
        Probe::Finger(record) => {
            let view = &record.views()[0];
            let position = view.position.code();
            let references = state.store.registry_fingerprints(identity).await?;
            let Some((_, stored)) = references.into_iter().find(|(p, _)| *p == position) else {
                return Err(ApiError::BiometricReferenceMissing);
            };
            let reference = stored_record(&stored)?;
            let matcher = Matcher::default();
            let probe = Template::from_view(record.capture(), view);
            // The row is the registry's reference for this finger; its record may hold several impressions of
            // it, and the best one decides.
            let best = reference
                .views()
                .iter()
                .map(|v| matcher.compare(&probe, &Template::from_view(reference.capture(), v)))
                .max_by(|a, b| a.score.total_cmp(&b.score));
            let Some(best) = best else { return Err(ApiError::BiometricReferenceMissing) };
            Ok(Verdict {
                modality: Modality::Finger,
                finger_position: Some(position),
                score: f64::from(best.score),
                threshold: f64::from(matcher.config().threshold),
                matched: best.decision == Decision::Match,
            })
        }
        Probe::Face(template) => {
            let Some(stored) = state.store.registry_face(identity).await? else {
                return Err(ApiError::BiometricReferenceMissing);
            };
            let reference = STANDARD
                .decode(&stored)
                .ok()
                .and_then(|bytes| FaceTemplate::parse(&bytes).ok())
                .ok_or_else(|| ApiError::internal("a stored face template does not parse"))?;
            let comparison = dinhdanh_face::CosineMatcher::default()
                .compare(template, &reference)
                .map_err(|e| ApiError::field("template", e))?;
            Ok(Verdict {
                modality: Modality::Face,
                finger_position: None,
                score: f64::from(comparison.score),
                threshold: f64::from(comparison.threshold),
                matched: comparison.decision == FaceDecision::Match,
            })
        }
    }
}

fn stored_record(stored: &str) -> Result<MinutiaeRecord, ApiError> {
    STANDARD
        .decode(stored)
        .ok()
        .and_then(|bytes| MinutiaeRecord::parse(&bytes).ok())
        .ok_or_else(|| ApiError::internal("a stored finger record does not parse"))
}

/// The audit detail of a comparison: what was compared and how it scored, never the capture.
fn verdict_detail(verdict: &Verdict) -> serde_json::Value {
    json!({"modality": verdict.modality.as_str(), "finger_position": verdict.finger_position,
           "score": verdict.score, "threshold": verdict.threshold, "matched": verdict.matched})
}

fn audit(
    actor: String,
    action: &'static str,
    account: &AccountId,
    outcome: &'static str,
    detail: serde_json::Value,
    at: DateTime<Utc>,
) -> AuditEntry {
    AuditEntry { at, actor, action, subject: Some(account.to_string()), outcome, detail }
}

fn counter(purpose: CheckPurpose, outcome: &'static str) {
    metrics::counter!("dinhdanh_biometric_checks_total", "purpose" => purpose.as_str(), "outcome" => outcome)
        .increment(1);
}

/// Records a comparison in the transaction that acts on it.
async fn record(
    tx: &mut Tx,
    account: &AccountId,
    purpose: CheckPurpose,
    verdict: &Verdict,
    officer_id: Option<&str>,
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    tx.record_biometric_check(&NewBiometricCheck {
        account_id: account,
        purpose,
        modality: verdict.modality,
        finger_position: verdict.finger_position,
        score: verdict.score,
        threshold: verdict.threshold,
        matched: verdict.matched,
        checked_at: now,
        officer_id,
    })
    .await?;
    Ok(())
}

/// Refuses and audits a step the day's failures no longer allow, or passes on the tries left after this one.
async fn take_try(
    tx: &mut Tx,
    actor: &str,
    action: &'static str,
    account: &AccountId,
    purpose: CheckPurpose,
    now: DateTime<Utc>,
) -> Result<Result<Option<i64>, ApiError>, ApiError> {
    let failures = tx.biometric_failures_since(account, purpose, biometrics::day_start(now)).await?;
    match purpose.may_try(failures, now) {
        Ok(left) => Ok(Ok(left)),
        Err(retry_after_seconds) => {
            tx.audit(audit(
                actor.to_owned(),
                action,
                account,
                "refused",
                json!({"reason": "tries_exhausted", "failures_today": failures, "retry_after": retry_after_seconds}),
                now,
            ))
            .await?;
            counter(purpose, "tries_exhausted");
            Ok(Err(ApiError::BiometricTriesExhausted { retry_after_seconds }))
        }
    }
}

/// Audits a level change refused by the domain rules, commits, and answers `409 level-conflict`.
async fn refuse_level<T>(
    mut tx: Tx,
    actor: String,
    action: &'static str,
    account: &AccountId,
    error: LevelError,
    now: DateTime<Utc>,
) -> Result<T, ApiError> {
    let reason = match error {
        LevelError::AlreadyLevelTwo => "already_level_2",
        LevelError::AlreadyLevelOne => "already_level_1",
        LevelError::NotActive => "not_active",
        LevelError::Locked => "account_locked",
        LevelError::NotLevelTwo => "account_level_1",
    };
    tx.audit(audit(actor, action, account, "refused", json!({"reason": reason}), now)).await?;
    tx.commit().await?;
    Err(ApiError::Level(error))
}

const STEP_UP: &str = "holder.sign_in.biometric";
const UPGRADE: &str = "account.level.upgrade";
const LOWER: &str = "account.level.lower";

/// `POST /v1/holder-sessions/current/biometric`: the session this call is made with (`session_hash`) is replaced
/// by one whose sign-in proved Level 2, when the capture matches the registry's and the account is Level 2.
pub async fn step_up(
    state: &AppState,
    actor: &Actor,
    session_hash: &str,
    capture: Result<Probe, ApiError>,
) -> Result<HolderSession, ApiError> {
    authorize(state, actor, Action::BiometricSignIn).await?;
    let probe = &capture?;
    let Actor::Holder { account_id, restore_only, .. } = actor else {
        return Err(ApiError::Forbidden { action: Action::BiometricSignIn.as_str() });
    };
    let now = state.clock.now();
    let name = actor.audit_name();
    let account = state.store.account(account_id).await?.ok_or(ApiError::Unauthorized)?;
    // Refused before comparing: a Level 1 account's match would prove nothing more, and costs no try.
    if let Err(error) = biometrics::may_step_up(&account) {
        let tx = state.store.begin().await?;
        return refuse_level(tx, name, STEP_UP, account_id, error, now).await;
    }
    let verdict = compare(state, &account, probe).await?;

    let mut tx = state.store.begin().await?;
    let Some(current) = tx.lock_account(account_id).await? else { return Err(ApiError::Unauthorized) };
    if let Err(error) = biometrics::may_step_up(&current) {
        return refuse_level(tx, name, STEP_UP, account_id, error, now).await;
    }
    let tries_left = match take_try(&mut tx, &name, STEP_UP, account_id, CheckPurpose::SignIn, now).await? {
        Ok(left) => left,
        Err(refusal) => {
            tx.commit().await?;
            return Err(refusal);
        }
    };
    record(&mut tx, account_id, CheckPurpose::SignIn, &verdict, None, now).await?;
    if !verdict.matched {
        let mut detail = verdict_detail(&verdict);
        detail["reason"] = json!("no_match");
        detail["tries_left"] = json!(tries_left);
        tx.audit(audit(name, STEP_UP, account_id, "refused", detail, now)).await?;
        tx.commit().await?;
        counter(CheckPurpose::SignIn, "no_match");
        return Err(ApiError::BiometricMismatch { tries_left });
    }
    // The session this sign-in continues must still be live: a lock or a sign-out since ends it, and so this.
    if !tx.revoke_holder_session(session_hash, account_id, now).await? {
        drop(tx);
        return Err(ApiError::Unauthorized);
    }
    let (token, hash) = new_token(HOLDER_SESSION_PREFIX);
    let expires_at = now + Duration::minutes(HOLDER_SESSION_TTL_MINUTES);
    let assurance = SignInProof::BiometricMatch.assurance(current.level);
    tx.insert_holder_session(&hash, account_id, assurance, *restore_only, now, expires_at).await?;
    tx.set_holder_session_biometric(&hash, verdict.modality).await?;
    let mut detail = verdict_detail(&verdict);
    detail["assurance"] = json!(assurance.number());
    detail["restore_only"] = json!(restore_only);
    detail["session_expires_at"] = json!(expires_at);
    tx.audit(audit(name, STEP_UP, account_id, "ok", detail, now)).await?;
    tx.commit().await?;
    counter(CheckPurpose::SignIn, "match");
    Ok(HolderSession {
        token,
        expires_at,
        assurance,
        account_id: account_id.clone(),
        restore_only: *restore_only,
        account_level: current.level,
    })
}

/// The account's level after a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LevelChanged {
    pub account_id: AccountId,
    pub level: Level,
    /// How many messages (SMS, e-mail) tell the holder.
    pub notified: usize,
}

/// `POST /v1/me/level-upgrade`: a signed-in Level 1 holder's capture; a match raises the account to Level 2.
/// The session that made the call keeps what its own sign-in proved (Level 1).
pub async fn upgrade_online(
    state: &AppState,
    actor: &Actor,
    capture: Result<Probe, ApiError>,
) -> Result<LevelChanged, ApiError> {
    authorize(state, actor, Action::UpgradeOwnLevel).await?;
    let probe = &capture?;
    let Actor::Holder { account_id, .. } = actor else {
        return Err(ApiError::Forbidden { action: Action::UpgradeOwnLevel.as_str() });
    };
    let now = state.clock.now();
    let name = actor.audit_name();
    let account = state.store.account(account_id).await?.ok_or(ApiError::Unauthorized)?;
    let usable = lock::account_usable(&state.store.locks_of_account(account_id).await?, now);
    if let Err(error) = biometrics::raise(&account, usable) {
        let tx = state.store.begin().await?;
        return refuse_level(tx, name, UPGRADE, account_id, error, now).await;
    }
    let verdict = compare(state, &account, probe).await?;

    let mut tx = state.store.begin().await?;
    let Some(current) = tx.lock_account(account_id).await? else { return Err(ApiError::Unauthorized) };
    let usable = lock::account_usable(&tx.locks_of_account(account_id).await?, now);
    let raised = match biometrics::raise(&current, usable) {
        Ok(level) => level,
        Err(error) => return refuse_level(tx, name, UPGRADE, account_id, error, now).await,
    };
    let tries_left = match take_try(&mut tx, &name, UPGRADE, account_id, CheckPurpose::Upgrade, now).await? {
        Ok(left) => left,
        Err(refusal) => {
            tx.commit().await?;
            return Err(refusal);
        }
    };
    record(&mut tx, account_id, CheckPurpose::Upgrade, &verdict, None, now).await?;
    let mut detail = verdict_detail(&verdict);
    detail["how"] = json!("online");
    detail["tries_left"] = json!(tries_left);
    settle_upgrade(tx, name, &current, raised, CheckPurpose::Upgrade, verdict.matched, detail, tries_left, now).await
}

/// `POST /v1/accounts/{id}/level-upgrade`: a reviewer at an office checked the holder's identity document
/// (`check`) and captured `probe`; a match raises the account to Level 2, with the officer in the audit.
pub async fn upgrade_in_person(
    state: &AppState,
    actor: &Actor,
    account_id: &AccountId,
    checked: Result<(InPersonCheck, Probe), ApiError>,
) -> Result<LevelChanged, ApiError> {
    authorize(state, actor, Action::UpgradeLevelInPerson).await?;
    let (check, probe) = checked?;
    let (check, probe) = (&check, &probe);
    let Actor::Officer { officer_id, .. } = actor else {
        return Err(ApiError::Forbidden { action: Action::UpgradeLevelInPerson.as_str() });
    };
    let now = state.clock.now();
    let name = actor.audit_name();
    let account = state.store.account(account_id).await?.ok_or(ApiError::NotFound { what: "account" })?;
    let verdict = compare(state, &account, probe).await?;

    let mut tx = state.store.begin().await?;
    let Some(current) = tx.lock_account(account_id).await? else {
        return Err(ApiError::NotFound { what: "account" });
    };
    let usable = lock::account_usable(&tx.locks_of_account(account_id).await?, now);
    let raised = match biometrics::raise(&current, usable) {
        Ok(level) => level,
        Err(error) => return refuse_level(tx, name, UPGRADE, account_id, error, now).await,
    };
    record(&mut tx, account_id, CheckPurpose::InPerson, &verdict, Some(officer_id), now).await?;
    let mut detail = verdict_detail(&verdict);
    detail["how"] = json!("in_person");
    detail["document_kind"] = json!(check.document_kind);
    detail["document_number"] = json!(check.masked_number());
    detail["office"] = json!(check.office);
    settle_upgrade(tx, name, &current, raised, CheckPurpose::InPerson, verdict.matched, detail, None, now).await
}

/// The end of an upgrade whose comparison is recorded: on a match the level is raised, audited and notified;
/// otherwise the miss is audited. Either way the transaction commits.
#[allow(clippy::too_many_arguments)]
async fn settle_upgrade(
    mut tx: Tx,
    actor: String,
    account: &Account,
    raised: Level,
    purpose: CheckPurpose,
    matched: bool,
    mut detail: serde_json::Value,
    tries_left: Option<i64>,
    now: DateTime<Utc>,
) -> Result<LevelChanged, ApiError> {
    if !matched {
        detail["reason"] = json!("no_match");
        tx.audit(audit(actor, UPGRADE, &account.id, "refused", detail, now)).await?;
        tx.commit().await?;
        counter(purpose, "no_match");
        return Err(ApiError::BiometricMismatch { tries_left });
    }
    tx.set_account_level(&account.id, raised, now).await?;
    detail["from"] = json!(account.level.number());
    detail["to"] = json!(raised.number());
    tx.audit(audit(actor, UPGRADE, &account.id, "ok", detail, now)).await?;
    let text = notice::level_raised(purpose == CheckPurpose::InPerson);
    let notified = queue_notice(&mut tx, account, "level_raised", text, now).await?;
    tx.commit().await?;
    counter(purpose, "match");
    Ok(LevelChanged { account_id: account.id.clone(), level: raised, notified: notified.len() })
}

/// `POST /v1/accounts/{id}/level-lowering`: an officer lowers a Level 2 account to Level 1 with a reason (its
/// biometrics no longer match the registry's, after an update); the holder's Level 2 sessions end in the same
/// transaction, and the holder is told.
pub async fn lower_level(
    state: &AppState,
    actor: &Actor,
    account_id: &AccountId,
    reason: &str,
) -> Result<LevelChanged, ApiError> {
    authorize(state, actor, Action::LowerLevel).await?;
    let reason = reason.trim();
    if !(10..=2000).contains(&reason.chars().count()) {
        return Err(ApiError::field("reason", "give the reason in 10 to 2000 characters"));
    }
    let now = state.clock.now();
    let name = actor.audit_name();
    let mut tx = state.store.begin().await?;
    let Some(current) = tx.lock_account(account_id).await? else {
        return Err(ApiError::NotFound { what: "account" });
    };
    let lowered = match biometrics::lower(&current) {
        Ok(level) => level,
        Err(error) => return refuse_level(tx, name, LOWER, account_id, error, now).await,
    };
    tx.set_account_level(account_id, lowered, now).await?;
    let ended = tx.revoke_holder_sessions_above(account_id, lowered, now).await?;
    tx.audit(audit(
        name,
        LOWER,
        account_id,
        "ok",
        json!({"from": current.level.number(), "to": lowered.number(), "reason": reason, "sessions_ended": ended}),
        now,
    ))
    .await?;
    let notified = queue_notice(&mut tx, &current, "level_lowered", notice::level_lowered(), now).await?;
    tx.commit().await?;
    Ok(LevelChanged { account_id: account_id.clone(), level: lowered, notified: notified.len() })
}
