//! The activation rules (Art. 7): a 6-digit code, valid 5 minutes, voided after 5 wrong tries; a new code at
//! most once a minute and five times an hour per account; a registration not activated within a day is
//! removed. The numbers live in [`ActivationPolicy`]; the functions here decide, the server acts.

use chrono::{DateTime, Duration, Utc};
use thiserror::Error;

#[derive(Debug, Clone)]
pub struct ActivationPolicy {
    pub code_ttl: Duration,
    pub max_attempts: i64,
    pub resend_min_interval: Duration,
    pub resend_max_per_hour: usize,
    /// How long a registration may stay in `pending_activation` before it is removed.
    pub pending_ttl: Duration,
}

impl Default for ActivationPolicy {
    fn default() -> Self {
        Self {
            code_ttl: Duration::minutes(5),
            max_attempts: 5,
            resend_min_interval: Duration::minutes(1),
            resend_max_per_hour: 5,
            pending_ttl: Duration::hours(24),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ActivationError {
    #[error("the activation code must be 6 digits")]
    CodeFormat,
    #[error("the activation code is wrong")]
    WrongCode { attempts_left: i64 },
    #[error("the activation code has expired or was voided after too many wrong tries; ask for a new one")]
    CodeExpired,
    #[error("a new code can be sent in {retry_after_seconds} seconds")]
    ResendTooSoon { retry_after_seconds: i64 },
}

/// A code as the registrant typed it: exactly six ASCII digits.
#[derive(Clone, PartialEq, Eq)]
pub struct ActivationCode(String);

impl ActivationCode {
    pub fn parse(s: &str) -> Result<Self, ActivationError> {
        let s = s.trim();
        if s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(ActivationError::CodeFormat)
        }
    }

    /// A code from a random number drawn by the caller (uniform in `0..1_000_000`).
    pub fn from_random(n: u32) -> Self {
        Self(format!("{:06}", n % 1_000_000))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ActivationCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ActivationCode(******)")
    }
}

impl ActivationPolicy {
    pub fn code_expires_at(&self, issued_at: DateTime<Utc>) -> DateTime<Utc> {
        issued_at + self.code_ttl
    }

    /// Whether a code may still be tried: not expired, and fewer than `max_attempts` tries used.
    pub fn code_usable(&self, expires_at: DateTime<Utc>, attempts_used: i64, now: DateTime<Utc>) -> bool {
        now < expires_at && attempts_used < self.max_attempts
    }

    /// Whether a new code may be sent now, given when earlier codes for this account were sent (any order).
    pub fn check_resend(&self, earlier_sends: &[DateTime<Utc>], now: DateTime<Utc>) -> Result<(), ActivationError> {
        let hour_ago = now - Duration::hours(1);
        let mut recent: Vec<DateTime<Utc>> = earlier_sends.iter().copied().filter(|t| *t > hour_ago).collect();
        recent.sort();
        if let Some(last) = recent.last() {
            let next_allowed = *last + self.resend_min_interval;
            if now < next_allowed {
                return Err(ActivationError::ResendTooSoon { retry_after_seconds: seconds_until(now, next_allowed) });
            }
        }
        if recent.len() >= self.resend_max_per_hour {
            // The oldest send in the window has to leave it before another is allowed.
            let next_allowed = recent[recent.len() - self.resend_max_per_hour] + Duration::hours(1);
            return Err(ActivationError::ResendTooSoon { retry_after_seconds: seconds_until(now, next_allowed) });
        }
        Ok(())
    }

    pub fn registration_expired(&self, created_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        now >= created_at + self.pending_ttl
    }
}

fn seconds_until(now: DateTime<Utc>, then: DateTime<Utc>) -> i64 {
    let millis = (then - now).num_milliseconds().max(0);
    (millis + 999) / 1000
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap()
    }

    #[test]
    fn codes_are_six_digits() {
        assert!(ActivationCode::parse("012345").is_ok());
        for bad in ["", "12345", "1234567", "12345a", "１２３４５６"] {
            assert_eq!(ActivationCode::parse(bad), Err(ActivationError::CodeFormat), "{bad}");
        }
        assert_eq!(ActivationCode::from_random(42).as_str(), "000042");
        assert_eq!(ActivationCode::from_random(1_999_999).as_str(), "999999");
    }

    #[test]
    fn a_code_lives_five_minutes_and_five_tries() {
        let p = ActivationPolicy::default();
        let expires = p.code_expires_at(t0());
        assert!(p.code_usable(expires, 0, t0() + Duration::seconds(299)));
        assert!(!p.code_usable(expires, 0, t0() + Duration::seconds(300)));
        assert!(p.code_usable(expires, 4, t0()));
        assert!(!p.code_usable(expires, 5, t0()));
    }

    #[test]
    fn resend_at_most_once_a_minute() {
        let p = ActivationPolicy::default();
        assert_eq!(p.check_resend(&[], t0()), Ok(()));
        assert_eq!(
            p.check_resend(&[t0()], t0() + Duration::seconds(20)),
            Err(ActivationError::ResendTooSoon { retry_after_seconds: 40 })
        );
        assert_eq!(p.check_resend(&[t0()], t0() + Duration::seconds(60)), Ok(()));
    }

    #[test]
    fn resend_at_most_five_times_an_hour() {
        let p = ActivationPolicy::default();
        let sends: Vec<_> = (0..5).map(|i| t0() + Duration::minutes(i * 2)).collect();
        let now = t0() + Duration::minutes(30);
        assert_eq!(p.check_resend(&sends, now), Err(ActivationError::ResendTooSoon { retry_after_seconds: 30 * 60 }));
        assert_eq!(p.check_resend(&sends, t0() + Duration::minutes(60) + Duration::seconds(1)), Ok(()));
        assert_eq!(p.check_resend(&sends[1..], now), Ok(()));
    }

    #[test]
    fn registrations_expire_after_a_day() {
        let p = ActivationPolicy::default();
        assert!(!p.registration_expired(t0(), t0() + Duration::hours(23)));
        assert!(p.registration_expired(t0(), t0() + Duration::hours(24)));
    }
}
