//! The e-ID account and its lifecycle: registered at Level 1 in `pending_activation`, then `active` once the
//! registrant proves control of the phone or e-mail. (Locks, in a later issue, are separate holds on an active
//! account; they do not change this status.)

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::contact::{Email, PhoneNumber};
use crate::identity::IdentityKey;
use crate::name::FullName;

/// An account's opaque public identifier (a UUID in text form, made by the caller).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountId(String);

impl AccountId {
    pub fn new(id: String) -> Self {
        Self(id)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

string_enum! {
    AccountStatus {
        PendingActivation => "pending_activation",
        Active => "active",
    }
}

/// Level 1: declared data matched the registry. Level 2: and a portrait or fingerprint matched (Art. 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Level {
    #[serde(rename = "1")]
    One,
    #[serde(rename = "2")]
    Two,
}

impl Level {
    /// Every level (the migrations' CHECK constraints are compared with it).
    pub const ALL: &'static [Level] = &[Self::One, Self::Two];

    pub fn number(self) -> i64 {
        match self {
            Self::One => 1,
            Self::Two => 2,
        }
    }

    pub fn from_number(n: i64) -> Option<Self> {
        match n {
            1 => Some(Self::One),
            2 => Some(Self::Two),
            _ => None,
        }
    }
}

// A new level fails to compile here until it is added to `Level::ALL`.
const _: fn(Level) = |level| match level {
    Level::One | Level::Two => {}
};

/// What one sign-in proved (domain.md "Assurance of a sign-in"). A session carries the assurance its own sign-in
/// reached, never the account's level: a password and a code to the phone are exactly what a phone thief has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInProof {
    /// The password and a one-time code sent to a registered channel.
    PasswordAndCode,
    /// A portrait or fingerprint captured in this sign-in matched the registry's (Level 2 issue).
    BiometricMatch,
}

impl SignInProof {
    /// The assurance a session opened by this proof carries: Level 2 only for a biometric match, and only on an
    /// account whose registry data and biometrics were verified (a Level 2 account).
    pub fn assurance(self, account_level: Level) -> Level {
        match self {
            Self::PasswordAndCode => Level::One,
            Self::BiometricMatch => account_level,
        }
    }
}

string_enum! {
    HolderKind {
        Citizen => "citizen",
        Foreigner => "foreigner",
    }
}

string_enum! {
    /// Why a holder signs in. An ordinary sign-in is refused while any lock is in force; a `restore` sign-in is
    /// allowed then, and its session may only follow the holder's locks and requests and ask for a lift.
    SignInPurpose {
        SignIn => "sign_in",
        Restore => "restore",
        /// Not a sign-in: the code confirms a lock filed without signing in (a lost phone).
        LostPhoneLock => "lost_phone_lock",
    }
}

string_enum! {
    /// What everyone who trusts an account must learn of it (domain.md "Effect of a lock"; issue 17): it became
    /// unusable (its first lock in force), usable again (its last lock lifted), or its level changed.
    AccountEventKind {
        Disabled => "disabled",
        Enabled => "enabled",
        LevelChanged => "level_changed",
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AccountError {
    #[error("the account is already active")]
    AlreadyActive,
    #[error("the registration has expired; register again")]
    RegistrationExpired,
}

#[derive(Debug, Clone)]
pub struct Account {
    pub id: AccountId,
    pub identity_key: IdentityKey,
    pub holder_kind: HolderKind,
    pub full_name: FullName,
    pub level: Level,
    pub status: AccountStatus,
    pub phone: Option<PhoneNumber>,
    pub email: Option<Email>,
    pub password_hash: String,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
}

impl Account {
    /// The registered phone number (E.164) or e-mail address a message by `channel` goes to, if any.
    pub fn destination(&self, channel: crate::Channel) -> Option<&str> {
        match channel {
            crate::Channel::Sms => self.phone.as_ref().map(|p| p.as_str()),
            crate::Channel::Email => self.email.as_ref().map(|e| e.as_str()),
        }
    }

    /// The transition `pending_activation → active`; refused for an active account and for a registration
    /// older than `pending_ttl`.
    pub fn activate(&mut self, now: DateTime<Utc>, pending_ttl: chrono::Duration) -> Result<(), AccountError> {
        match self.status {
            AccountStatus::Active => Err(AccountError::AlreadyActive),
            AccountStatus::PendingActivation if now >= self.created_at + pending_ttl => {
                Err(AccountError::RegistrationExpired)
            }
            AccountStatus::PendingActivation => {
                self.status = AccountStatus::Active;
                self.activated_at = Some(now);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{IdentificationNumber, ProvinceTable};
    use chrono::{Duration, TimeZone};

    fn pending(created_at: DateTime<Utc>) -> Account {
        let id = IdentificationNumber::parse("001190123456", &ProvinceTable::builtin()).unwrap();
        Account {
            id: AccountId::new("a1".into()),
            identity_key: IdentityKey::citizen(&id),
            holder_kind: HolderKind::Citizen,
            full_name: FullName::parse("Trần Thị Mai").unwrap(),
            level: Level::One,
            status: AccountStatus::PendingActivation,
            phone: None,
            email: None,
            password_hash: String::new(),
            created_at,
            activated_at: None,
        }
    }

    #[test]
    fn pending_account_activates_once() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
        let mut account = pending(t0);
        account.activate(t0 + Duration::minutes(2), Duration::hours(24)).unwrap();
        assert_eq!(account.status, AccountStatus::Active);
        assert_eq!(account.activated_at, Some(t0 + Duration::minutes(2)));
        assert_eq!(account.activate(t0, Duration::hours(24)), Err(AccountError::AlreadyActive));
    }

    #[test]
    fn expired_registration_cannot_activate() {
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 8, 0, 0).unwrap();
        let mut account = pending(t0);
        assert_eq!(
            account.activate(t0 + Duration::hours(24), Duration::hours(24)),
            Err(AccountError::RegistrationExpired)
        );
        assert_eq!(account.status, AccountStatus::PendingActivation);
    }

    #[test]
    fn status_and_level_round_trip_through_storage_forms() {
        for s in [AccountStatus::PendingActivation, AccountStatus::Active] {
            assert_eq!(AccountStatus::parse(s.as_str()), Some(s));
        }
        for l in [Level::One, Level::Two] {
            assert_eq!(Level::from_number(l.number()), Some(l));
        }
        assert_eq!(Level::from_number(3), None);
    }

    #[test]
    fn a_session_is_level_2_only_after_a_biometric_match_on_a_level_2_account() {
        assert_eq!(SignInProof::PasswordAndCode.assurance(Level::Two), Level::One, "what a phone thief has");
        assert_eq!(SignInProof::PasswordAndCode.assurance(Level::One), Level::One);
        assert_eq!(SignInProof::BiometricMatch.assurance(Level::Two), Level::Two);
        assert_eq!(SignInProof::BiometricMatch.assurance(Level::One), Level::One, "the account was never verified");
    }
}
