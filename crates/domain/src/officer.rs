//! The operator's officers: who they are, their roles, and the state of their credentials. Officers sign in
//! with a password and a TOTP code (authentication assurance level 2).

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

use crate::actor::OfficerRole;
/// Sign-in throttling is shared with holders; it lives in [`crate::throttle`].
pub use crate::throttle::Throttle;

/// How long a one-time enrolment token stays valid.
pub const ENROLMENT_TTL_HOURS: i64 = 72;
/// How long an officer's session lasts (a working day); it is not extended by use.
pub const SESSION_TTL_HOURS: i64 = 8;

string_enum! {
    OfficerStatus {
        /// Created; waits for the officer to set a password and enrol an authenticator.
        PendingEnrolment => "pending_enrolment",
        Active => "active",
        Disabled => "disabled",
    }
}

#[derive(Clone)]
pub struct Officer {
    pub id: String,
    pub username: String,
    pub full_name: String,
    /// The operator unit the officer works in.
    pub organization_id: String,
    pub roles: BTreeSet<OfficerRole>,
    pub status: OfficerStatus,
    pub password_hash: Option<String>,
    /// The TOTP secret (RFC 6238, base32) as stored: sealed under the server's TOTP key, which the server
    /// opens to check a code (plaintext only in databases from before sealing, until the next start).
    pub totp_secret: Option<String>,
    /// The last TOTP time step accepted: a code of that step or earlier is never accepted again.
    pub totp_last_step: Option<i64>,
    pub enrolment_token_hash: Option<String>,
    pub enrolment_expires_at: Option<DateTime<Utc>>,
    pub failed_sign_ins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Secrets stay out of debug output.
impl std::fmt::Debug for Officer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Officer")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("roles", &self.roles)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

impl Officer {
    /// A new officer who has yet to choose a password and enrol an authenticator.
    #[allow(clippy::too_many_arguments)]
    pub fn new_pending(
        id: String,
        username: String,
        full_name: String,
        organization_id: String,
        roles: BTreeSet<OfficerRole>,
        enrolment_token_hash: String,
        now: DateTime<Utc>,
    ) -> Self {
        let mut officer = Self {
            id,
            username,
            full_name,
            organization_id,
            roles,
            status: OfficerStatus::PendingEnrolment,
            password_hash: None,
            totp_secret: None,
            totp_last_step: None,
            enrolment_token_hash: None,
            enrolment_expires_at: None,
            failed_sign_ins: 0,
            locked_until: None,
            created_at: now,
            updated_at: now,
        };
        officer.restart_enrolment(enrolment_token_hash, now);
        officer
    }

    /// Enrolment again from the start (a lost authenticator, a forgotten password): the password and TOTP secret
    /// are forgotten, a new token is valid for [`ENROLMENT_TTL_HOURS`], and the officer cannot sign in until done.
    pub fn restart_enrolment(&mut self, enrolment_token_hash: String, now: DateTime<Utc>) {
        self.status = OfficerStatus::PendingEnrolment;
        self.password_hash = None;
        self.totp_secret = None;
        self.totp_last_step = None;
        self.enrolment_token_hash = Some(enrolment_token_hash);
        self.enrolment_expires_at = Some(now + Duration::hours(ENROLMENT_TTL_HOURS));
        self.failed_sign_ins = 0;
        self.locked_until = None;
        self.updated_at = now;
    }

    /// Whether the enrolment token may still be used: the officer is pending and the token has not expired.
    pub fn enrolment_open(&self, now: DateTime<Utc>) -> bool {
        self.status == OfficerStatus::PendingEnrolment
            && self.enrolment_token_hash.is_some()
            && self.enrolment_expires_at.is_some_and(|at| now < at)
    }

    /// Step 1 of enrolment: the chosen password (hashed) and a fresh TOTP secret. Repeating step 1 before
    /// confirming replaces both.
    pub fn set_credentials(&mut self, password_hash: String, totp_secret: String, now: DateTime<Utc>) {
        self.password_hash = Some(password_hash);
        self.totp_secret = Some(totp_secret);
        self.totp_last_step = None;
        self.updated_at = now;
    }

    /// Step 2 of enrolment: a valid code proves the authenticator works. The token is spent and the step used.
    pub fn confirm_enrolment(&mut self, step: i64, now: DateTime<Utc>) {
        self.status = OfficerStatus::Active;
        self.enrolment_token_hash = None;
        self.enrolment_expires_at = None;
        self.totp_last_step = Some(step);
        self.failed_sign_ins = 0;
        self.locked_until = None;
        self.updated_at = now;
    }

    /// Whether the officer has a password and a confirmed authenticator.
    pub fn enrolled(&self) -> bool {
        self.password_hash.is_some() && self.totp_secret.is_some() && self.enrolment_token_hash.is_none()
    }

    /// Only an active, enrolled officer can sign in.
    pub fn can_sign_in(&self) -> bool {
        self.status == OfficerStatus::Active && self.enrolled()
    }

    pub fn is_active_administrator(&self) -> bool {
        self.status == OfficerStatus::Active && self.roles.contains(&OfficerRole::Administrator)
    }

    /// Seconds until sign-in is possible again, while the account's sign-in is locked.
    pub fn sign_in_retry_after(&self, now: DateTime<Utc>) -> Option<i64> {
        crate::throttle::retry_after_seconds(self.locked_until, now)
    }

    /// A failed sign-in: counted, and the sign-in locked when the throttle says so.
    pub fn record_failed_sign_in(&mut self, throttle: &Throttle, now: DateTime<Utc>) {
        self.failed_sign_ins += 1;
        if let Some(lock) = throttle.lock_after(self.failed_sign_ins) {
            self.locked_until = Some(now + lock);
        }
        self.updated_at = now;
    }

    /// A successful sign-in: the failure count starts again and the TOTP step is spent.
    pub fn record_sign_in(&mut self, step: i64, now: DateTime<Utc>) {
        self.failed_sign_ins = 0;
        self.locked_until = None;
        self.totp_last_step = Some(step);
        self.updated_at = now;
    }

    /// An administrator's status change (`active` or `disabled`). Re-enabling an officer who never finished
    /// enrolment puts them back to `pending_enrolment`; a pending officer cannot be made active by decree.
    pub fn change_status(&mut self, to: OfficerStatus, now: DateTime<Utc>) -> Result<(), OfficerError> {
        let next = match (self.status, to) {
            (_, OfficerStatus::Disabled) => OfficerStatus::Disabled,
            (OfficerStatus::PendingEnrolment, OfficerStatus::Active) => return Err(OfficerError::NotEnrolled),
            (OfficerStatus::Disabled, OfficerStatus::Active) if !self.enrolled() => OfficerStatus::PendingEnrolment,
            (_, OfficerStatus::Active) => OfficerStatus::Active,
            (_, OfficerStatus::PendingEnrolment) => return Err(OfficerError::StatusChange),
        };
        if next != self.status {
            self.status = next;
            self.updated_at = now;
        }
        Ok(())
    }
}

/// Whether changing `before` into `after` would leave the operator without an active administrator: nobody
/// could then manage officers, organizations or clients. `active_administrators` are the ids of all active
/// administrators before the change, read under lock.
pub fn removes_last_administrator(active_administrators: &[String], before: &Officer, after: &Officer) -> bool {
    before.is_active_administrator()
        && !after.is_active_administrator()
        && active_administrators.iter().all(|id| *id == before.id)
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OfficerError {
    #[error("the username must be 3 to 64 lower-case letters, digits, '.', '-' or '_', starting with a letter")]
    Username,
    #[error("the full name must not be empty or longer than 200 characters")]
    FullName,
    #[error("an officer needs at least one role")]
    NoRoles,
    #[error("the officer has not finished enrolment and cannot be made active; re-enable after enrolment")]
    NotEnrolled,
    #[error("the status can only be set to active or disabled")]
    StatusChange,
}

/// A username: trimmed and lower-cased; ASCII so that it types the same on every keyboard.
pub fn parse_username(username: &str) -> Result<String, OfficerError> {
    let username = username.trim().to_ascii_lowercase();
    let ok = (3..=64).contains(&username.len())
        && username.as_bytes()[0].is_ascii_lowercase()
        && username.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'_'));
    if ok { Ok(username) } else { Err(OfficerError::Username) }
}

pub fn parse_full_name(full_name: &str) -> Result<String, OfficerError> {
    let name = full_name.split_whitespace().collect::<Vec<_>>().join(" ");
    if name.is_empty() || name.chars().count() > 200 { Err(OfficerError::FullName) } else { Ok(name) }
}

pub fn format_roles(roles: &BTreeSet<OfficerRole>) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" ")
}

pub fn parse_roles(list: &str) -> Result<BTreeSet<OfficerRole>, String> {
    list.split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(|s| OfficerRole::parse(s).ok_or_else(|| s.to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap()
    }

    fn officer(roles: &[OfficerRole]) -> Officer {
        let mut o = Officer::new_pending(
            "o1".into(),
            "tuan.pm".into(),
            "Phạm Minh Tuấn".into(),
            "op".into(),
            roles.iter().copied().collect(),
            "hash".into(),
            now(),
        );
        o.set_credentials("pw".into(), "SECRET".into(), now());
        o.confirm_enrolment(1, now());
        o
    }

    #[test]
    fn a_success_resets_the_count() {
        let t = Throttle::default();
        let mut o = officer(&[OfficerRole::Reviewer]);
        for _ in 0..5 {
            assert_eq!(o.sign_in_retry_after(now()), None);
            o.record_failed_sign_in(&t, now());
        }
        assert_eq!(o.sign_in_retry_after(now()), Some(15 * 60));
        assert_eq!(o.sign_in_retry_after(now() + Duration::minutes(15)), None);
        o.record_failed_sign_in(&t, now() + Duration::minutes(15));
        assert_eq!(o.sign_in_retry_after(now() + Duration::minutes(15)), Some(30 * 60));
        o.record_sign_in(9, now() + Duration::minutes(50));
        assert_eq!((o.failed_sign_ins, o.locked_until, o.totp_last_step), (0, None, Some(9)));
    }

    #[test]
    fn enrolment_expires_after_72_hours_and_only_while_pending() {
        let o = Officer::new_pending(
            "o".into(),
            "a.b".into(),
            "A B".into(),
            "op".into(),
            BTreeSet::from([OfficerRole::Reviewer]),
            "h".into(),
            now(),
        );
        assert!(o.enrolment_open(now() + Duration::hours(71)));
        assert!(!o.enrolment_open(now() + Duration::hours(72)));
        assert!(!o.can_sign_in());
        let active = officer(&[OfficerRole::Reviewer]);
        assert!(!active.enrolment_open(now()));
        assert!(active.can_sign_in());
    }

    #[test]
    fn status_changes() {
        let mut o = officer(&[OfficerRole::Reviewer]);
        o.change_status(OfficerStatus::Disabled, now()).unwrap();
        assert!(!o.can_sign_in());
        o.change_status(OfficerStatus::Active, now()).unwrap();
        assert_eq!(o.status, OfficerStatus::Active);
        o.restart_enrolment("h2".into(), now());
        assert_eq!(o.change_status(OfficerStatus::Active, now()), Err(OfficerError::NotEnrolled));
        o.change_status(OfficerStatus::Disabled, now()).unwrap();
        o.change_status(OfficerStatus::Active, now()).unwrap();
        assert_eq!(o.status, OfficerStatus::PendingEnrolment);
    }

    #[test]
    fn the_last_active_administrator_stays() {
        let admin = officer(&[OfficerRole::Administrator]);
        let mut demoted = admin.clone();
        demoted.roles = BTreeSet::from([OfficerRole::Supervisor]);
        assert!(removes_last_administrator(&["o1".into()], &admin, &demoted));
        assert!(!removes_last_administrator(&["o1".into(), "o2".into()], &admin, &demoted));
        let mut disabled = admin.clone();
        disabled.change_status(OfficerStatus::Disabled, now()).unwrap();
        assert!(removes_last_administrator(&["o1".into()], &admin, &disabled));
        assert!(!removes_last_administrator(&["o1".into()], &admin, &admin));
    }

    #[test]
    fn usernames_and_names() {
        assert_eq!(parse_username(" Tuan.PM "), Ok("tuan.pm".into()));
        assert_eq!(parse_username("ab"), Err(OfficerError::Username));
        assert_eq!(parse_username("1abc"), Err(OfficerError::Username));
        assert_eq!(parse_username("tuấn"), Err(OfficerError::Username));
        assert_eq!(parse_full_name("  Phạm   Minh Tuấn "), Ok("Phạm Minh Tuấn".into()));
        assert_eq!(parse_full_name("  "), Err(OfficerError::FullName));
    }
}
