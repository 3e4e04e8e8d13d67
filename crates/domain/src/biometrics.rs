//! Level 2 checks (Decision 34/2021 Art. 7; domain.md "Levels", "Biometrics", "Assurance of a sign-in"): why a
//! fresh capture is compared with the registry's reference, how many failed comparisons a day each purpose
//! allows, and the account's level transitions those comparisons (or an officer) cause.
//!
//! The comparison itself is `dinhdanh_fingerprint` and `dinhdanh_face`; the server decides with these rules.

use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use thiserror::Error;

use crate::account::{Account, AccountStatus, Level};
use crate::calendar::vietnam;

string_enum! {
    /// Why a capture was compared with the registry's reference.
    CheckPurpose {
        /// The second factor of a Level 2 sign-in: a signed-in holder's session steps up to Level 2.
        SignIn => "sign_in",
        /// A Level 1 holder asks online to become Level 2.
        Upgrade => "upgrade",
        /// An officer captured the holder's biometrics at an office, after checking the identity document.
        InPerson => "in_person",
    }
}

string_enum! {
    /// What was captured: one finger as an ISO/IEC 19794-2 record, or a portrait as a face template.
    Modality {
        Finger => "finger",
        Face => "face",
    }
}

impl CheckPurpose {
    /// Failed comparisons allowed per account and Vietnamese calendar day, past which the purpose is refused
    /// until midnight (UTC+7). Online upgrade: 3 tries (issue 16), a try that succeeds ending the upgrade. A
    /// Level 2 sign-in: 5 failures, so that a thief with the password and the phone cannot grind through forged
    /// templates. In person: none, the officer sees the holder.
    pub fn daily_failures(self) -> Option<i64> {
        match self {
            Self::Upgrade => Some(3),
            Self::SignIn => Some(5),
            Self::InPerson => None,
        }
    }

    /// `Ok(tries left after this one)` when one more comparison may be made today, given the failures counted
    /// since [`day_start`]; `Err(seconds until the next day)` when the day's failures are used up.
    pub fn may_try(self, failures_today: i64, now: DateTime<Utc>) -> Result<Option<i64>, i64> {
        match self.daily_failures() {
            None => Ok(None),
            Some(limit) if failures_today < limit => Ok(Some(limit - failures_today - 1)),
            Some(_) => Err((next_day_start(now) - now).num_seconds().max(1)),
        }
    }
}

/// The start of `now`'s calendar day in Vietnam (UTC+7): the day's tries are counted from it.
pub fn day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let local = now.with_timezone(&vietnam()).date_naive();
    vietnam()
        .with_ymd_and_hms(local.year(), local.month(), local.day(), 0, 0, 0)
        .single()
        .expect("UTC+7 has no gaps")
        .with_timezone(&Utc)
}

fn next_day_start(now: DateTime<Utc>) -> DateTime<Utc> {
    day_start(now) + Duration::days(1)
}

/// Why a level change was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LevelError {
    #[error("the account is already Level 2")]
    AlreadyLevelTwo,
    #[error("the account is Level 1 already")]
    AlreadyLevelOne,
    #[error("the account is not active yet: activate it first")]
    NotActive,
    #[error("the account is locked: a locked account cannot change its level")]
    Locked,
    /// A biometric sign-in proves Level 2 only on a Level 2 account.
    #[error("the account is Level 1: become Level 2 first (online upgrade, or at an office)")]
    NotLevelTwo,
}

/// Whether a biometric match may lift this account's sign-in to Level 2 ([`crate::SignInProof::BiometricMatch`]).
pub fn may_step_up(account: &Account) -> Result<(), LevelError> {
    match account.level {
        Level::Two => Ok(()),
        Level::One => Err(LevelError::NotLevelTwo),
    }
}

/// Level 1 → Level 2 after a biometric match (online or in person). `usable` is whether no lock is in force.
pub fn raise(account: &Account, usable: bool) -> Result<Level, LevelError> {
    if account.status != AccountStatus::Active {
        return Err(LevelError::NotActive);
    }
    if !usable {
        return Err(LevelError::Locked);
    }
    match account.level {
        Level::Two => Err(LevelError::AlreadyLevelTwo),
        Level::One => Ok(Level::Two),
    }
}

/// Level 2 → Level 1, by an officer (the registry's references changed and no longer match the holder's
/// biometrics). Allowed on a locked account too: lowering only takes away.
pub fn lower(account: &Account) -> Result<Level, LevelError> {
    match account.level {
        Level::One => Err(LevelError::AlreadyLevelOne),
        Level::Two => Ok(Level::One),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::HolderKind;
    use crate::identity::{IdentificationNumber, IdentityKey, ProvinceTable};
    use crate::{AccountId, FullName};

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, min, 0).unwrap()
    }

    #[test]
    fn the_day_is_vietnams() {
        // 18:30 UTC is 01:30 the next day in Hà Nội: that day began at 17:00 UTC.
        assert_eq!(day_start(at(2026, 12, 7, 18, 30)), at(2026, 12, 7, 17, 0));
        assert_eq!(day_start(at(2026, 12, 7, 16, 59)), at(2026, 12, 6, 17, 0));
        assert_eq!(day_start(at(2026, 12, 7, 17, 0)), at(2026, 12, 7, 17, 0));
    }

    #[test]
    fn online_upgrade_has_three_tries_a_day() {
        let now = at(2026, 12, 7, 16, 0); // 23:00 in Hà Nội
        assert_eq!(CheckPurpose::Upgrade.may_try(0, now), Ok(Some(2)));
        assert_eq!(CheckPurpose::Upgrade.may_try(2, now), Ok(Some(0)));
        assert_eq!(CheckPurpose::Upgrade.may_try(3, now), Err(3600), "until midnight in Hà Nội");
        assert_eq!(CheckPurpose::SignIn.may_try(4, now), Ok(Some(0)));
        assert!(CheckPurpose::SignIn.may_try(5, now).is_err());
        assert_eq!(CheckPurpose::InPerson.may_try(1000, now), Ok(None));
    }

    fn account(level: Level, status: AccountStatus) -> Account {
        let id = IdentificationNumber::parse("001190123456", &ProvinceTable::builtin()).unwrap();
        Account {
            id: AccountId::new("a1".into()),
            identity_key: IdentityKey::citizen(&id),
            holder_kind: HolderKind::Citizen,
            full_name: FullName::parse("Trần Thị Mai").unwrap(),
            level,
            status,
            phone: None,
            email: None,
            password_hash: String::new(),
            created_at: at(2026, 1, 1, 0, 0),
            activated_at: None,
        }
    }

    #[test]
    fn level_transitions() {
        use AccountStatus::{Active, PendingActivation};
        assert_eq!(raise(&account(Level::One, Active), true), Ok(Level::Two));
        assert_eq!(raise(&account(Level::One, Active), false), Err(LevelError::Locked));
        assert_eq!(raise(&account(Level::Two, Active), true), Err(LevelError::AlreadyLevelTwo));
        assert_eq!(raise(&account(Level::One, PendingActivation), true), Err(LevelError::NotActive));
        assert_eq!(lower(&account(Level::Two, Active)), Ok(Level::One));
        assert_eq!(lower(&account(Level::One, Active)), Err(LevelError::AlreadyLevelOne));
        assert_eq!(may_step_up(&account(Level::One, Active)), Err(LevelError::NotLevelTwo));
        assert_eq!(may_step_up(&account(Level::Two, Active)), Ok(()));
    }
}
