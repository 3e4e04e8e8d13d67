//! Sign-in throttling, shared by officers and holders (NIST SP 800-63B §5.2.2, "rate limiting"), and the
//! lifetime of a holder's session.
//!
//! After [`Throttle::free_failures`] consecutive failures an account's sign-in is locked for
//! [`Throttle::first_lock`], doubling with every further failure up to [`Throttle::max_lock`]. Only a successful
//! sign-in resets the count. This is not a lock in the sense of domain.md "Locks": it holds nobody's account, it
//! only slows down guessing, ends by itself, and is never shown as a lock to relying parties.

use chrono::{DateTime, Duration, Utc};

/// How long a holder's session lasts after the sign-in; it is not extended by use.
pub const HOLDER_SESSION_TTL_MINUTES: i64 = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Throttle {
    pub free_failures: i64,
    pub first_lock: Duration,
    pub max_lock: Duration,
}

impl Default for Throttle {
    fn default() -> Self {
        Self { free_failures: 5, first_lock: Duration::minutes(15), max_lock: Duration::hours(24) }
    }
}

impl Throttle {
    /// The account-wide throttle of a holder's sign-in, across all sources: no lock before 100 consecutive
    /// failures (NIST SP 800-63B §5.2.2 allows no more), so that a stranger typing wrong passwords from their own
    /// addresses cannot lock the holder out; the per-source [`Throttle::default`] slows each guesser long before.
    pub fn account_wide() -> Self {
        Self { free_failures: 100, first_lock: Duration::hours(1), max_lock: Duration::hours(24) }
    }

    /// How long the sign-in is locked after the `failures`-th consecutive failure, if at all.
    pub fn lock_after(&self, failures: i64) -> Option<Duration> {
        if failures < self.free_failures {
            return None;
        }
        // 2^20 times any sensible first lock is past any sensible cap; the bound keeps the product finite.
        let doublings = (failures - self.free_failures).min(20) as u32;
        let lock = self.first_lock * 2i32.pow(doublings);
        Some(lock.min(self.max_lock))
    }
}

/// Seconds until a sign-in locked until `locked_until` is possible again (rounded up, at least 1), or `None`
/// when it is not locked at `now`.
pub fn retry_after_seconds(locked_until: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Option<i64> {
    let until = locked_until.filter(|until| *until > now)?;
    let ms = (until - now).num_milliseconds();
    Some(((ms + 999) / 1000).max(1))
}

/// An account's consecutive sign-in failures and how long its sign-in is locked (a holder's are stored in the
/// `accounts` row; an officer's in the officer).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignInFailures {
    pub count: i64,
    pub locked_until: Option<DateTime<Utc>>,
}

impl SignInFailures {
    /// Seconds until sign-in is possible again, while it is locked.
    pub fn retry_after(&self, now: DateTime<Utc>) -> Option<i64> {
        retry_after_seconds(self.locked_until, now)
    }

    /// A failed sign-in: counted, and the sign-in locked when the throttle says so.
    pub fn record_failure(&mut self, throttle: &Throttle, now: DateTime<Utc>) {
        self.count += 1;
        if let Some(lock) = throttle.lock_after(self.count) {
            self.locked_until = Some(now + lock);
        }
    }

    /// A successful sign-in: the count starts again.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The two counters a holder's failed sign-in moves: this source's on this account (throttled by
/// [`Throttle::default`]) and the account's across all sources (by [`Throttle::account_wide`]). Either one
/// throttles; a completed sign-in resets both (the other sources' counters stay: a guesser stays slowed down).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HolderThrottle {
    pub source: SignInFailures,
    pub account: SignInFailures,
}

impl HolderThrottle {
    pub fn retry_after(&self, now: DateTime<Utc>) -> Option<i64> {
        self.source.retry_after(now).max(self.account.retry_after(now))
    }

    pub fn record_failure(&mut self, now: DateTime<Utc>) {
        self.source.record_failure(&Throttle::default(), now);
        self.account.record_failure(&Throttle::account_wide(), now);
    }

    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// How many one-time codes (activation, sign-in, lock confirmation) may go out in a window: to one phone number
/// or address whatever the source, and for one identity over all its channels. SMS and e-mail cost money, and a
/// stream of codes is harassment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSendLimit {
    pub per_destination: i64,
    pub per_identity: i64,
    pub window: Duration,
}

impl Default for CodeSendLimit {
    fn default() -> Self {
        Self { per_destination: 5, per_identity: 10, window: Duration::hours(1) }
    }
}

impl CodeSendLimit {
    /// Whether one more code may go out, given the codes already sent in the window to that destination and for
    /// that identity; `Err` carries the seconds to wait (the whole window: the server does not say when the
    /// oldest code leaves it).
    pub fn check(&self, to_destination: i64, for_identity: i64) -> Result<(), i64> {
        if to_destination >= self.per_destination || for_identity >= self.per_identity {
            Err(self.window.num_seconds())
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap()
    }

    #[test]
    fn five_failures_lock_for_fifteen_minutes_then_doubling_up_to_a_day() {
        let t = Throttle::default();
        assert_eq!(t.lock_after(4), None);
        assert_eq!(t.lock_after(5), Some(Duration::minutes(15)));
        assert_eq!(t.lock_after(6), Some(Duration::minutes(30)));
        assert_eq!(t.lock_after(7), Some(Duration::hours(1)));
        assert_eq!(t.lock_after(12), Some(Duration::hours(24)));
        assert_eq!(t.lock_after(1_000), Some(Duration::hours(24)));
    }

    #[test]
    fn failures_lock_and_a_success_resets() {
        let t = Throttle::default();
        let mut f = SignInFailures::default();
        for _ in 0..4 {
            f.record_failure(&t, now());
            assert_eq!(f.retry_after(now()), None);
        }
        f.record_failure(&t, now());
        assert_eq!(f.retry_after(now()), Some(15 * 60));
        assert_eq!(f.retry_after(now() + Duration::minutes(15)), None, "ends by itself");
        f.record_failure(&t, now() + Duration::minutes(15));
        assert_eq!(f.retry_after(now() + Duration::minutes(15)), Some(30 * 60));
        f.reset();
        assert_eq!(f, SignInFailures { count: 0, locked_until: None });
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_seconds(Some(now() + Duration::milliseconds(1)), now()), Some(1));
        assert_eq!(retry_after_seconds(Some(now() + Duration::milliseconds(1001)), now()), Some(2));
        assert_eq!(retry_after_seconds(Some(now()), now()), None);
        assert_eq!(retry_after_seconds(None, now()), None);
    }

    #[test]
    fn a_holder_session_lasts_an_hour() {
        assert_eq!(HOLDER_SESSION_TTL_MINUTES, 60);
    }

    #[test]
    fn a_stranger_from_another_address_cannot_lock_the_holder_out() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap();
        let mut stranger = HolderThrottle::default();
        for _ in 0..99 {
            stranger.record_failure(now);
        }
        assert!(stranger.source.retry_after(now).is_some(), "the guesser is slowed down");
        // The holder's own source has no failures; the account-wide count is below 100.
        let holder = HolderThrottle { source: SignInFailures::default(), account: stranger.account };
        assert_eq!(holder.retry_after(now), None, "99 failures elsewhere do not lock the holder out");
        let mut one_more = holder;
        one_more.record_failure(now);
        assert_eq!(one_more.account.count, 100);
        assert_eq!(one_more.retry_after(now), Some(3600), "the 100th consecutive failure locks for an hour");
    }

    #[test]
    fn codes_are_limited_per_destination_and_per_identity() {
        let limit = CodeSendLimit::default();
        assert_eq!(limit.check(4, 9), Ok(()));
        assert_eq!(limit.check(5, 5), Err(3600));
        assert_eq!(limit.check(0, 10), Err(3600));
    }
}
