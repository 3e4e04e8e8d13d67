//! Locks (Decision 34/2021 Art. 10, Decree 59/2022 Art. 19, Law on Identification 2023 Art. 34): independent
//! holds on an account, each with its ground, the party that placed it, its legal basis or evidence, when it
//! took effect, an optional end, and — once lifted — who lifted it, on what basis and when. An account is usable
//! only while none of its locks is active; lifting one lock leaves the others in force. Locking never deletes
//! data. Who may place or lift which lock is decided in [`crate::authority`].

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::account::AccountId;
use crate::actor::OrganizationKind;

string_enum! {
    /// Why an account is locked (domain.md "Locks" and "Later decrees").
    Ground {
        /// The holder asked (Art. 10.1).
        HolderRequest => "holder_request",
        /// A prosecuting agency or competent authority asked, with a legal basis (Art. 10.2).
        AuthorityRequest => "authority_request",
        /// A relying party asked, with its reason and reference (Art. 10.2; switchable off).
        RelyingPartyRequest => "relying_party_request",
        /// The holder broke the terms of use (Art. 10.3).
        TermsViolation => "terms_violation",
        /// The identity card was revoked or temporarily retained (Law 2023 Art. 34).
        IdentityDocumentRevoked => "identity_document_revoked",
        /// The holder died.
        HolderDeceased => "holder_deceased",
        /// A foreigner's passport or travel document expired (Decree 69/2024 Art. 15).
        TravelDocumentExpired => "travel_document_expired",
        /// A foreigner's permitted stay ended.
        ResidenceExpired => "residence_expired",
    }
}

impl Ground {
    /// Grounds the system places and lifts by itself from registry data.
    pub fn is_automatic(self) -> bool {
        matches!(
            self,
            Self::IdentityDocumentRevoked | Self::HolderDeceased | Self::TravelDocumentExpired | Self::ResidenceExpired
        )
    }

    /// What the holder is told about a lock of this ground when the party that asked is not known: Vietnamese,
    /// then English. Prefer [`Ground::description_for`] (or [`Lock::description`]), which names the kind of
    /// organization that asked.
    pub fn description(self) -> (&'static str, &'static str) {
        match self {
            Self::HolderRequest => ("khóa theo yêu cầu của chủ tài khoản", "locked at the holder's request"),
            Self::AuthorityRequest => (
                "khóa theo yêu cầu của cơ quan tiến hành tố tụng hoặc cơ quan có thẩm quyền khác",
                "locked at the request of a prosecuting agency or another competent authority",
            ),
            Self::RelyingPartyRequest => {
                ("khóa theo yêu cầu của bên sử dụng dịch vụ", "locked at the request of a service provider")
            }
            Self::TermsViolation => ("khóa do vi phạm thỏa thuận sử dụng", "locked for breaking the terms of use"),
            Self::IdentityDocumentRevoked => (
                "khóa do thẻ căn cước bị thu hồi hoặc tạm giữ",
                "locked because the identity card was revoked or retained",
            ),
            Self::HolderDeceased => ("khóa do chủ tài khoản đã chết", "locked because the holder has died"),
            Self::TravelDocumentExpired => (
                "khóa do hộ chiếu hoặc giấy tờ đi lại hết hạn",
                "locked because the passport or travel document expired",
            ),
            Self::ResidenceExpired => {
                ("khóa do hết thời hạn cư trú", "locked because the permitted stay in Viet Nam ended")
            }
        }
    }

    /// What the holder is told about a lock of this ground asked for by `requester`: where the ground covers
    /// several kinds of organization (Law on Identification 2023 Art. 34.1: "a prosecuting agency or another
    /// competent authority"), the text names the kind that asked. The one place for this wording.
    pub fn description_for(self, requester: &Party) -> (&'static str, &'static str) {
        match (self, requester) {
            (Self::AuthorityRequest, Party::Organization { kind: OrganizationKind::ProsecutingAgency, .. }) => {
                ("khóa theo yêu cầu của cơ quan tiến hành tố tụng", "locked at the request of a prosecuting agency")
            }
            (Self::AuthorityRequest, Party::Organization { kind: OrganizationKind::CompetentAuthority, .. }) => {
                ("khóa theo yêu cầu của cơ quan có thẩm quyền", "locked at the request of a competent authority")
            }
            _ => self.description(),
        }
    }
}

/// Who placed or lifted a lock, or filed a request. Officers appear only by id: the holder is never told who
/// the officer was.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Party {
    Holder { account_id: AccountId },
    Organization { organization_id: String, kind: OrganizationKind },
    Officer { officer_id: String },
    System,
}

impl Party {
    pub fn audit_name(&self) -> String {
        match self {
            Party::Holder { account_id } => format!("holder:{account_id}"),
            Party::Organization { organization_id, .. } => format!("organization:{organization_id}"),
            Party::Officer { officer_id } => format!("officer:{officer_id}"),
            Party::System => "system".to_owned(),
        }
    }
}

/// The document a lock or lift rests on: a decision or request with its number, date, issuing body and signer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LegalBasis {
    /// e.g. "Quyết định", "Công văn", "Lệnh".
    pub document_kind: String,
    pub number: String,
    pub issued_on: NaiveDate,
    pub issuing_body: String,
    pub signer: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum LegalBasisError {
    #[error("the legal basis needs {0}")]
    Missing(&'static str),
    #[error("the legal basis is dated in the future")]
    FutureDate,
    #[error("a field of the legal basis is longer than 500 characters")]
    TooLong,
}

impl LegalBasis {
    /// Checks that every part is there and plausible on `today`.
    pub fn validate(&self, today: NaiveDate) -> Result<(), LegalBasisError> {
        for (value, name) in [
            (&self.document_kind, "a document kind"),
            (&self.number, "a document number"),
            (&self.issuing_body, "an issuing body"),
            (&self.signer, "a signer"),
        ] {
            if value.trim().is_empty() {
                return Err(LegalBasisError::Missing(name));
            }
            if value.chars().count() > 500 {
                return Err(LegalBasisError::TooLong);
            }
        }
        if self.issued_on > today {
            return Err(LegalBasisError::FutureDate);
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lift {
    pub at: DateTime<Utc>,
    pub by: Party,
    pub legal_basis: Option<LegalBasis>,
    pub reason: String,
    pub request_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lock {
    pub id: String,
    pub account_id: AccountId,
    pub ground: Ground,
    pub placed_by: Party,
    pub legal_basis: Option<LegalBasis>,
    /// The requester's own reference (a relying party's case number, an officer's evidence reference).
    pub reference: Option<String>,
    pub reason: String,
    pub effective_at: DateTime<Utc>,
    /// A temporary lock ends by itself at this instant.
    pub ends_at: Option<DateTime<Utc>>,
    pub request_id: Option<String>,
    pub lifted: Option<Lift>,
}

impl Lock {
    /// What the holder is told about this lock: its ground, naming the kind of organization that asked
    /// ([`Ground::description_for`]). Vietnamese, then English.
    pub fn description(&self) -> (&'static str, &'static str) {
        self.ground.description_for(&self.placed_by)
    }

    /// In force at `now`: took effect, not lifted, not past its end.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.effective_at <= now && self.lifted.is_none() && self.ends_at.is_none_or(|end| now < end)
    }
}

/// An account can be used only while it has no active lock.
pub fn account_usable(locks: &[Lock], now: DateTime<Utc>) -> bool {
    !locks.iter().any(|l| l.is_active(now))
}

/// The active locks of an account at `now`.
pub fn active_locks(locks: &[Lock], now: DateTime<Utc>) -> impl Iterator<Item = &Lock> {
    locks.iter().filter(move |l| l.is_active(now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authority::LiftRequester;
    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    fn t(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap() + Duration::minutes(minutes)
    }

    fn lock(id: &str, owner: Party) -> Lock {
        Lock {
            id: id.into(),
            account_id: AccountId::new("acc".into()),
            ground: Ground::HolderRequest,
            placed_by: owner,
            legal_basis: None,
            reference: None,
            reason: String::new(),
            effective_at: t(0),
            ends_at: None,
            request_id: None,
            lifted: None,
        }
    }

    #[test]
    fn an_authority_lock_names_the_kind_of_organization_that_asked() {
        let by = |kind| Party::Organization { organization_id: "o".into(), kind };
        let prosecutor =
            Lock { ground: Ground::AuthorityRequest, ..lock("l1", by(OrganizationKind::ProsecutingAgency)) };
        assert_eq!(
            prosecutor.description(),
            ("khóa theo yêu cầu của cơ quan tiến hành tố tụng", "locked at the request of a prosecuting agency")
        );
        let authority =
            Lock { ground: Ground::AuthorityRequest, ..lock("l2", by(OrganizationKind::CompetentAuthority)) };
        assert_eq!(authority.description().1, "locked at the request of a competent authority");
        assert_eq!(authority.description().0, "khóa theo yêu cầu của cơ quan có thẩm quyền");
        // Other grounds say the same whoever asked; without a known organization the text names both kinds.
        assert_eq!(Ground::TermsViolation.description_for(&Party::System), Ground::TermsViolation.description());
        assert!(Ground::AuthorityRequest.description_for(&Party::System).1.contains("prosecuting agency or another"));
    }

    #[test]
    fn a_temporary_lock_ends_by_itself() {
        let mut l = lock("l1", Party::System);
        l.ends_at = Some(t(60));
        assert!(l.is_active(t(59)));
        assert!(!l.is_active(t(60)));
        assert!(!l.is_active(t(-1)), "not yet in force before it takes effect");
    }

    #[test]
    fn legal_basis_needs_every_part() {
        let basis = LegalBasis {
            document_kind: "Quyết định".into(),
            number: "123/QĐ-CSĐT".into(),
            issued_on: NaiveDate::from_ymd_opt(2026, 5, 30).unwrap(),
            issuing_body: "Cơ quan CSĐT Công an TP Hà Nội".into(),
            signer: "Nguyễn Văn A".into(),
        };
        let today = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        assert_eq!(basis.validate(today), Ok(()));
        assert_eq!(
            LegalBasis { signer: " ".into(), ..basis.clone() }.validate(today),
            Err(LegalBasisError::Missing("a signer"))
        );
        assert_eq!(
            LegalBasis { issued_on: NaiveDate::from_ymd_opt(2026, 6, 2).unwrap(), ..basis }.validate(today),
            Err(LegalBasisError::FutureDate)
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Place { owner: u8, ends_in: Option<i64> },
        Lift { requester: u8, which: usize },
        Wait(i64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u8..3, proptest::option::of(1i64..120)).prop_map(|(owner, ends_in)| Op::Place { owner, ends_in }),
            (0u8..6, 0usize..10).prop_map(|(requester, which)| Op::Lift { requester, which }),
            (1i64..90).prop_map(Op::Wait),
        ]
    }

    fn acc() -> AccountId {
        AccountId::new("acc".into())
    }

    /// Three owners, each with the ground it places.
    fn placed(n: u8) -> (Party, Ground) {
        match n {
            0 => (Party::Holder { account_id: acc() }, Ground::HolderRequest),
            1 => (
                Party::Organization { organization_id: "court".into(), kind: OrganizationKind::ProsecutingAgency },
                Ground::AuthorityRequest,
            ),
            _ => (Party::System, Ground::ResidenceExpired),
        }
    }

    /// Who tries to lift: the owners, a stronger or weaker holder, another court, a bank, the system.
    fn requester(n: u8) -> (LiftRequester, Option<Party>) {
        match n {
            0 => (LiftRequester::Holder { account_id: acc(), strong_proof: true }, Some(placed(0).0)),
            1 => (LiftRequester::Holder { account_id: acc(), strong_proof: false }, Some(placed(0).0)),
            2 => (
                LiftRequester::Organization {
                    organization_id: "court".into(),
                    kind: OrganizationKind::ProsecutingAgency,
                },
                Some(placed(1).0),
            ),
            3 => (
                LiftRequester::Organization {
                    organization_id: "other-court".into(),
                    kind: OrganizationKind::ProsecutingAgency,
                },
                None,
            ),
            4 => (
                LiftRequester::Organization { organization_id: "bank".into(), kind: OrganizationKind::RelyingParty },
                None,
            ),
            _ => (LiftRequester::System { ground_still_holds: false }, Some(Party::System)),
        }
    }

    proptest! {
        /// Over any sequence of place / lift / time passing, with every lift decided by the authority table: the
        /// account is usable exactly when no lock is active, and a lift never ends another party's lock.
        #[test]
        fn usable_exactly_when_no_lock_is_active(ops in proptest::collection::vec(op(), 1..40)) {
            let mut now = t(0);
            let mut locks: Vec<Lock> = Vec::new();
            for op in ops {
                match op {
                    Op::Place { owner: o, ends_in } => {
                        let (owner, ground) = placed(o);
                        let mut l = lock(&format!("l{}", locks.len()), owner);
                        l.ground = ground;
                        l.effective_at = now;
                        l.ends_at = ends_in.map(|m| now + Duration::minutes(m));
                        locks.push(l);
                    }
                    Op::Lift { requester: r, which } => {
                        let (who, party) = requester(r);
                        if let Some(target) = locks.iter_mut().filter(|l| l.is_active(now)).nth(which) {
                            let active = target.is_active(now);
                            if crate::authority::lifting(&who, target, active).is_ok() {
                                prop_assert_eq!(Some(&target.placed_by), party.as_ref(), "{:?} lifted another party's lock", who);
                                target.lifted = Some(Lift { at: now, by: target.placed_by.clone(), legal_basis: None, reason: String::new(), request_id: None });
                            }
                        }
                    }
                    Op::Wait(m) => now += Duration::minutes(m),
                }
                let any_active = locks.iter().any(|l| l.lifted.is_none() && l.effective_at <= now && l.ends_at.is_none_or(|e| now < e));
                prop_assert_eq!(account_usable(&locks, now), !any_active);
                prop_assert_eq!(active_locks(&locks, now).count() == 0, account_usable(&locks, now));
            }
        }
    }
}
