//! A bulk lock order's per-entry outcomes, and what each reader may learn of them when (bulk-lock.md).
//!
//! An identification number is printed on many documents, so a list of them proves nothing: the order's filer
//! must not learn, from filing, which identities have an e-ID account (no answer tells whether one has). While the
//! order waits for its decision the filer sees only what its own input says (an entry it wrote wrongly, or
//! twice); whether an identity has an account, and whether that account is active, is told to the officers who
//! decide the order, and to the filer once the order has taken effect, when its legal right to know has been
//! checked. An order refused, cancelled or expired locked nothing, and that is all its filer learns.

use crate::actor::Actor;
use crate::request::RequestStatus;

string_enum! {
    /// What became of one entry of an order.
    TargetOutcome {
        /// Names an active account; waits for the order's decision.
        Pending => "pending",
        /// The order's lock is in force on the account.
        Locked => "locked",
        /// The filer already had a lock of this ground in force on the account: not locked twice.
        AlreadyLocked => "already_locked",
        /// The entry is malformed.
        Invalid => "invalid",
        /// No e-ID account for this identity.
        NotFound => "not_found",
        /// The identity's e-ID account is not active (not yet activated).
        Inactive => "inactive",
        /// The same identity as an earlier entry of the order.
        Duplicate => "duplicate",
        /// The order was rejected, cancelled or expired: nothing was locked (shown, never stored).
        NotLocked => "not_locked",
    }
}

/// Who reads an order's outcomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The organization that filed the order.
    Filer,
    /// The operator's officers who work and decide it.
    Decider,
}

impl Reader {
    /// Who `actor` reads an order as, once the authorization table and the order's own reading rule
    /// (`requests.read` / `bulk.results.read`: its filer and the operator's officers) have let them read it.
    pub fn of(actor: &Actor) -> Self {
        if matches!(actor, Actor::Officer { .. }) { Self::Decider } else { Self::Filer }
    }
}

impl TargetOutcome {
    /// Whether an entry can be stored with this outcome (`not_locked` is only shown, of a refused order).
    pub fn is_stored(self) -> bool {
        self != Self::NotLocked
    }

    /// An entry that was not accepted, listed among the order's problems.
    pub fn is_problem(self) -> bool {
        matches!(self, Self::Invalid | Self::NotFound | Self::Inactive | Self::Duplicate)
    }

    /// Whether this outcome speaks of the filer's input only (it tells nothing about anyone's account).
    fn is_about_the_input(self) -> bool {
        matches!(self, Self::Invalid | Self::Duplicate)
    }

    /// The outcome `reader` is shown, for an entry stored with this outcome, of an order that is `status`.
    pub fn as_seen_by(self, reader: Reader, status: RequestStatus) -> TargetOutcome {
        let refused = status.is_final() && status != RequestStatus::Effective;
        match reader {
            _ if self.is_about_the_input() => self,
            // An order that did not take effect locked nothing: its decider still sees why an entry was left out.
            Reader::Decider if refused && self == Self::Pending => Self::NotLocked,
            Reader::Decider => self,
            Reader::Filer if refused => Self::NotLocked,
            // Before the decision, an entry the filer wrote correctly is simply pending, account or not.
            Reader::Filer if status != RequestStatus::Effective => Self::Pending,
            Reader::Filer => self,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_the_decision_the_filer_cannot_tell_an_account_from_none() {
        for status in RequestStatus::ALL.iter().copied().filter(|s| !s.is_final()) {
            let seen: Vec<_> = [TargetOutcome::Pending, TargetOutcome::NotFound, TargetOutcome::Inactive]
                .map(|o| o.as_seen_by(Reader::Filer, status))
                .to_vec();
            assert_eq!(seen, [TargetOutcome::Pending; 3], "{status}");
            assert_eq!(TargetOutcome::NotFound.as_seen_by(Reader::Decider, status), TargetOutcome::NotFound);
            assert_eq!(TargetOutcome::Inactive.as_seen_by(Reader::Decider, status), TargetOutcome::Inactive);
        }
    }

    #[test]
    fn once_the_order_is_in_effect_the_filer_sees_what_the_decider_saw() {
        for outcome in TargetOutcome::ALL.iter().copied() {
            assert_eq!(
                outcome.as_seen_by(Reader::Filer, RequestStatus::Effective),
                outcome.as_seen_by(Reader::Decider, RequestStatus::Effective)
            );
        }
    }

    #[test]
    fn a_refused_order_tells_its_filer_only_that_nothing_was_locked() {
        for status in [RequestStatus::Rejected, RequestStatus::Cancelled, RequestStatus::Expired] {
            for outcome in [TargetOutcome::Pending, TargetOutcome::NotFound, TargetOutcome::Inactive] {
                assert_eq!(outcome.as_seen_by(Reader::Filer, status), TargetOutcome::NotLocked);
            }
            assert_eq!(TargetOutcome::Pending.as_seen_by(Reader::Decider, status), TargetOutcome::NotLocked);
            assert_eq!(TargetOutcome::NotFound.as_seen_by(Reader::Decider, status), TargetOutcome::NotFound);
        }
    }

    #[test]
    fn what_the_filer_wrote_wrongly_is_always_shown() {
        for status in RequestStatus::ALL.iter().copied() {
            for reader in [Reader::Filer, Reader::Decider] {
                assert_eq!(TargetOutcome::Invalid.as_seen_by(reader, status), TargetOutcome::Invalid);
                assert_eq!(TargetOutcome::Duplicate.as_seen_by(reader, status), TargetOutcome::Duplicate);
            }
        }
    }
}
