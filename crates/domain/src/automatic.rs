//! Automatic locks from the registries (Decree 59/2022 Art. 19, Law on Identification 2023 Art. 34, Decree
//! 69/2024 Art. 15): which automatic grounds a registry record supports, and what to place and lift so that an
//! account's automatic locks follow the registry.
//!
//! - A citizen's card revoked or temporarily retained (`card_status` `revoked` / `retained`) →
//!   [`Ground::IdentityDocumentRevoked`]; a valid card (a new card issued) ends it.
//! - A recorded death (`died_on` set, citizen or foreigner) → [`Ground::HolderDeceased`], which the system never
//!   lifts, whatever the registry says later: only the supervisors' override can (domain.md "at a glance").
//! - A foreigner's passport past its validity (`passport_expires_on`) → [`Ground::TravelDocumentExpired`]; the
//!   permitted stay past its end (`stay_expires_on`) → [`Ground::ResidenceExpired`]. A later date in the record
//!   (a renewed or extended document) ends them.
//!
//! **The expiry boundary.** A date in the registry is the last day the document or stay is valid ("valid until
//! D", "permitted to stay until D"), as printed on passports and visas. So the document is still valid on D
//! and expired from D+1 on: a ground holds when `today > D`, where `today` is the calendar day in Vietnam
//! ([`crate::calendar::vietnam`]) — not the UTC day. A missing date means the registry records no expiry, so
//! nothing is due.
//!
//! Each registry fact is its own ground: a dead holder whose card the registry also marks revoked gets both
//! locks, so each is lifted (or not) for its own reason. The rule here is pure; the server applies
//! [`plan`] through the ordinary request path (a system request on the immediate route, with its steps,
//! notice and audit).

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};

use crate::lock::{Ground, Lock, Party};
use crate::registry::{CardStatus, CitizenRecord, ForeignerRecord};

/// A registry date ("valid until D") has passed on `today`: expired from D+1 on.
pub fn expired(valid_until: Option<NaiveDate>, today: NaiveDate) -> bool {
    valid_until.is_some_and(|d| today > d)
}

/// The automatic grounds a citizen record supports.
pub fn due_grounds_citizen(record: &CitizenRecord) -> BTreeSet<Ground> {
    let mut due = BTreeSet::new();
    if matches!(record.card_status, CardStatus::Revoked | CardStatus::Retained) {
        due.insert(Ground::IdentityDocumentRevoked);
    }
    if record.died_on.is_some() {
        due.insert(Ground::HolderDeceased);
    }
    due
}

/// The automatic grounds a foreigner record supports on `today` (the day in Vietnam).
pub fn due_grounds_foreigner(record: &ForeignerRecord, today: NaiveDate) -> BTreeSet<Ground> {
    let mut due = BTreeSet::new();
    if expired(record.passport_expires_on, today) {
        due.insert(Ground::TravelDocumentExpired);
    }
    if expired(record.stay_expires_on, today) {
        due.insert(Ground::ResidenceExpired);
    }
    if record.died_on.is_some() {
        due.insert(Ground::HolderDeceased);
    }
    due
}

/// The registry record behind an account: a citizen's or a foreigner's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryRecord {
    Citizen(CitizenRecord),
    Foreigner(ForeignerRecord),
}

impl RegistryRecord {
    /// The automatic grounds this record supports on `today` (the day in Vietnam).
    pub fn due_grounds(&self, today: NaiveDate) -> BTreeSet<Ground> {
        match self {
            Self::Citizen(c) => due_grounds_citizen(c),
            Self::Foreigner(f) => due_grounds_foreigner(f, today),
        }
    }
}

/// What to do on one account: the grounds to place a lock for, and the ids of the locks to lift.
pub type Plan = (Vec<Ground>, Vec<String>);

/// What makes an account's automatic locks match the `due` grounds. `active_locks` are the account's locks in
/// force now (of any ground: the others are ignored). A due ground without an active lock of it gets one; an
/// active automatic lock placed by the system whose ground is no longer due is lifted — except
/// [`Ground::HolderDeceased`], which stays. Locks of other grounds or other parties are never touched, and a
/// ground in `due` that is not automatic is ignored.
pub fn plan(due: &BTreeSet<Ground>, active_locks: &[Lock]) -> Plan {
    let automatic: Vec<&Lock> = active_locks.iter().filter(|l| l.ground.is_automatic()).collect();
    let present: BTreeSet<Ground> = automatic.iter().map(|l| l.ground).collect();
    let to_place = due.iter().copied().filter(|g| g.is_automatic() && !present.contains(g)).collect();
    let to_lift = automatic
        .iter()
        .filter(|l| l.placed_by == Party::System && l.ground != Ground::HolderDeceased && !due.contains(&l.ground))
        .map(|l| l.id.clone())
        .collect();
    (to_place, to_lift)
}

/// An operator supervisor lifted a lock of `ground` (the override, four-eyes) after the registry record last
/// changed (`record_changed_at`): the system must not place it again until the registry changes, or it would
/// undo the supervisors' decision a minute later. A lift by the system itself (the ground ended) does not count.
pub fn overridden_since(ground: Ground, locks: &[Lock], record_changed_at: DateTime<Utc>) -> bool {
    locks.iter().any(|l| {
        l.ground == ground
            && l.lifted.as_ref().is_some_and(|lift| lift.by != Party::System && lift.at >= record_changed_at)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::account::AccountId;
    use crate::identity::{Gender, IdentificationNumber, Nationality, PassportNumber, ProvinceTable};
    use crate::lock::Lift;
    use crate::name::FullName;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    fn citizen(card_status: CardStatus, died_on: Option<NaiveDate>) -> CitizenRecord {
        CitizenRecord {
            id_number: IdentificationNumber::parse("001190123456", &ProvinceTable::builtin()).unwrap(),
            full_name: FullName::parse("Trần Thị Mai").unwrap(),
            date_of_birth: d(1990, 1, 1),
            gender: Gender::Female,
            place_of_origin: None,
            permanent_residence: None,
            card_status,
            died_on,
        }
    }

    fn foreigner(passport: Option<NaiveDate>, stay: Option<NaiveDate>, died_on: Option<NaiveDate>) -> ForeignerRecord {
        ForeignerRecord {
            passport_number: PassportNumber::parse("M1234567").unwrap(),
            nationality: Nationality::parse("KOR").unwrap(),
            full_name: FullName::parse("Kim Min-jun").unwrap(),
            date_of_birth: d(1985, 5, 5),
            gender: Gender::Male,
            passport_expires_on: passport,
            stay_expires_on: stay,
            died_on,
        }
    }

    fn lock(id: &str, ground: Ground, placed_by: Party) -> Lock {
        Lock {
            id: id.into(),
            account_id: AccountId::new("acc".into()),
            ground,
            placed_by,
            legal_basis: None,
            reference: None,
            reason: String::new(),
            effective_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            ends_at: None,
            request_id: None,
            lifted: None,
        }
    }

    #[test]
    fn a_revoked_or_retained_card_and_a_death_are_due() {
        assert!(due_grounds_citizen(&citizen(CardStatus::Valid, None)).is_empty());
        for status in [CardStatus::Revoked, CardStatus::Retained] {
            assert_eq!(due_grounds_citizen(&citizen(status, None)), BTreeSet::from([Ground::IdentityDocumentRevoked]));
        }
        assert_eq!(
            due_grounds_citizen(&citizen(CardStatus::Revoked, Some(d(2026, 5, 1)))),
            BTreeSet::from([Ground::IdentityDocumentRevoked, Ground::HolderDeceased])
        );
    }

    #[test]
    fn a_document_valid_until_d_is_expired_from_d_plus_one() {
        let until = d(2026, 6, 10);
        let record = foreigner(Some(until), Some(until), None);
        assert!(due_grounds_foreigner(&record, d(2026, 6, 9)).is_empty());
        assert!(due_grounds_foreigner(&record, until).is_empty(), "still valid on its last day");
        assert_eq!(
            due_grounds_foreigner(&record, d(2026, 6, 11)),
            BTreeSet::from([Ground::TravelDocumentExpired, Ground::ResidenceExpired])
        );
        assert!(due_grounds_foreigner(&foreigner(None, None, None), d(2100, 1, 1)).is_empty(), "no date, no expiry");
        assert_eq!(
            due_grounds_foreigner(&foreigner(Some(d(2030, 1, 1)), Some(d(2026, 1, 1)), None), d(2026, 6, 1)),
            BTreeSet::from([Ground::ResidenceExpired])
        );
        assert_eq!(
            due_grounds_foreigner(&foreigner(None, None, Some(d(2026, 1, 1))), d(2026, 6, 1)),
            BTreeSet::from([Ground::HolderDeceased])
        );
    }

    #[test]
    fn the_plan_places_what_is_missing_and_lifts_what_ended_but_never_a_death() {
        let due = BTreeSet::from([Ground::TravelDocumentExpired]);
        let locks = vec![
            lock("stay", Ground::ResidenceExpired, Party::System),
            lock("death", Ground::HolderDeceased, Party::System),
            lock("own", Ground::HolderRequest, Party::Holder { account_id: AccountId::new("acc".into()) }),
        ];
        assert_eq!(plan(&due, &locks), (vec![Ground::TravelDocumentExpired], vec!["stay".to_owned()]));
        // Nothing to do once applied.
        let applied =
            vec![lock("pp", Ground::TravelDocumentExpired, Party::System), locks[1].clone(), locks[2].clone()];
        assert_eq!(plan(&due, &applied), (vec![], vec![]));
        // A non-automatic ground named as due is ignored.
        assert_eq!(plan(&BTreeSet::from([Ground::HolderRequest]), &[]), (vec![], vec![]));
    }

    #[test]
    fn an_override_holds_until_the_registry_changes_again() {
        let t = |h| Utc.with_ymd_and_hms(2026, 6, 1, h, 0, 0).unwrap();
        let mut overridden = lock("l", Ground::IdentityDocumentRevoked, Party::System);
        overridden.lifted = Some(Lift {
            at: t(10),
            by: Party::Officer { officer_id: "sup".into() },
            legal_basis: None,
            reason: String::new(),
            request_id: None,
        });
        let locks = [overridden.clone()];
        assert!(overridden_since(Ground::IdentityDocumentRevoked, &locks, t(9)));
        assert!(!overridden_since(Ground::IdentityDocumentRevoked, &locks, t(11)), "the registry changed since");
        assert!(!overridden_since(Ground::HolderDeceased, &locks, t(9)));
        let mut by_system = overridden;
        by_system.lifted.as_mut().unwrap().by = Party::System;
        assert!(!overridden_since(Ground::IdentityDocumentRevoked, &[by_system], t(9)));
    }

    fn any_ground() -> impl Strategy<Value = Ground> {
        proptest::sample::select(Ground::ALL.to_vec())
    }

    fn any_party() -> impl Strategy<Value = Party> {
        prop_oneof![
            Just(Party::System),
            Just(Party::Holder { account_id: AccountId::new("acc".into()) }),
            Just(Party::Officer { officer_id: "o".into() }),
            Just(Party::Organization {
                organization_id: "court".into(),
                kind: crate::actor::OrganizationKind::ProsecutingAgency
            }),
        ]
    }

    proptest! {
        /// Whatever the account's active locks and the due grounds: the plan lifts only the system's automatic
        /// locks and never a death, and after applying it the active automatic grounds are exactly the due ones
        /// (plus a death that is no longer due, which stays). A second plan then has nothing to do.
        #[test]
        fn applying_the_plan_makes_automatic_locks_follow_the_registry(
            due in proptest::collection::btree_set(any_ground(), 0..6),
            existing in proptest::collection::vec((any_ground(), any_party()), 0..8),
        ) {
            // The table lets only the system place automatic grounds; model that.
            let locks: Vec<Lock> = existing
                .into_iter()
                .enumerate()
                .map(|(i, (g, p))| lock(&format!("l{i}"), g, if g.is_automatic() { Party::System } else { p }))
                .collect();
            let (to_place, to_lift) = plan(&due, &locks);
            for id in &to_lift {
                let lifted = locks.iter().find(|l| &l.id == id).unwrap();
                prop_assert!(lifted.ground.is_automatic(), "lifted a non-automatic lock {:?}", lifted);
                prop_assert_ne!(lifted.ground, Ground::HolderDeceased);
                prop_assert_eq!(&lifted.placed_by, &Party::System);
            }
            prop_assert!(to_place.iter().all(|g| g.is_automatic() && due.contains(g)));
            let mut after: Vec<Lock> = locks.iter().filter(|l| !to_lift.contains(&l.id)).cloned().collect();
            // Every non-automatic lock survives.
            prop_assert_eq!(
                after.iter().filter(|l| !l.ground.is_automatic()).count(),
                locks.iter().filter(|l| !l.ground.is_automatic()).count()
            );
            after.extend(to_place.iter().map(|g| lock(&format!("new-{g}"), *g, Party::System)));
            let active_automatic: BTreeSet<Ground> =
                after.iter().map(|l| l.ground).filter(|g| g.is_automatic()).collect();
            let mut expected: BTreeSet<Ground> = due.iter().copied().filter(|g| g.is_automatic()).collect();
            if locks.iter().any(|l| l.ground == Ground::HolderDeceased) {
                expected.insert(Ground::HolderDeceased);
            }
            prop_assert_eq!(active_automatic, expected);
            prop_assert_eq!(plan(&due, &after), (vec![], vec![]), "idempotent");
        }
    }
}
