//! The lock authority table (domain.md "Lock grounds, owners and lifts at a glance"): for every ground, who may
//! place it, with what evidence, by which route (at once, or through a reviewer and/or a supervisor within a
//! number of working days), and who may lift it, with what evidence and by which route. A lawyer should be able
//! to read [`GROUND_RULES`] alone; [`placement`] and [`lifting`] are the only functions the server asks.
//!
//! In short: the holder lifts only a lock the holder placed, and only with stronger proof than the lock (Level 2
//! online, or an officer's in-person check); an organization lifts only a lock that it placed; a terms-violation
//! lock is lifted by a reviewer once the holder has remedied it and asked; the system lifts its own automatic
//! locks when the ground ends, never a death; an operator supervisor may lift any lock only with a recorded legal
//! basis and a second supervisor's approval (four-eyes), loudly audited and notified to the lock's owner.

use std::collections::BTreeSet;

use thiserror::Error;

use crate::account::AccountId;
use crate::actor::{OfficerRole, OrganizationKind};
use crate::lock::{Ground, Lock, Party};

/// Who can file a request to place a lock of some ground.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placer {
    Holder,
    Organization(OrganizationKind),
    Officer(OfficerRole),
    System,
}

/// What a request must carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    Nothing,
    /// A decision or request document: kind, number, date, issuing body, signer.
    LegalBasis,
    /// The requester's reason and its own case reference.
    ReasonAndReference,
    /// An officer's description of the evidence (a terms violation, the holder's remedy).
    OfficerEvidence,
    /// The registry record that changed.
    RegistryRecord,
    /// Proof stronger than the lock: a Level 2 sign-in, or an officer's in-person check.
    StrongHolderProof,
}

/// How a request becomes effective. Day counts are working days (see [`crate::calendar`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Route {
    /// Effective as soon as the request is accepted.
    Immediate,
    /// A supervisor approves or refuses within `days`.
    SupervisorDecides { days: u32 },
    /// A reviewer verifies and forwards within `forward_days`; a supervisor decides within `decide_days` of
    /// forwarding (Decree 69/2024 Art. 29–30).
    ReviewerThenSupervisor { forward_days: u32, decide_days: u32 },
    /// A reviewer verifies and decides within `days`.
    ReviewerDecides { days: u32 },
    /// A supervisor other than the one who filed it approves within `days` (four-eyes).
    SecondSupervisor { days: u32 },
}

/// Who may lift a lock of a ground.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifter {
    /// The holder, with [`Evidence::StrongHolderProof`].
    HolderWithStrongProof,
    /// The organization that placed the lock, and no other — not even one of the same kind.
    PlacingOrganization,
    /// The holder asks, once the violation is remedied; a reviewer verifies and decides.
    HolderAfterRemedy,
    /// The system, when the registry no longer supports the ground.
    SystemWhenGroundEnds,
    /// Nobody by the ordinary path (only the supervisors' override).
    Nobody,
}

#[derive(Debug, Clone, Copy)]
pub struct GroundRule {
    pub ground: Ground,
    pub placed_by: &'static [Placer],
    pub place_evidence: Evidence,
    pub place_route: Route,
    pub lifted_by: Lifter,
    pub lift_evidence: Evidence,
    pub lift_route: Route,
    /// When the holder of the account hears of a lock request someone else filed (domain.md "Requests").
    pub holder_told: HolderTold,
    pub source: &'static str,
}

/// When the holder learns of a lock request on their account that someone else filed: at every step, or only
/// once the lock takes effect. Until then the request does not exist for the holder (no notice, not listed, not
/// readable, its legal basis unseen): telling the subject of a criminal case before the lock would defeat it.
/// Unlock requests, and the holder's own, are told at every step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolderTold {
    AtEveryStep,
    WhenTheLockTakesEffect,
}

/// Whether the holder of the account may be told of, and read, this request as it now stands.
pub fn holder_sees(ground: Ground, kind: crate::request::RequestKind, status: crate::request::RequestStatus) -> bool {
    use crate::request::{RequestKind, RequestStatus};
    match (ground_rule(ground).holder_told, kind) {
        (HolderTold::WhenTheLockTakesEffect, RequestKind::Lock) => status == RequestStatus::Effective,
        _ => true,
    }
}

use OfficerRole::{Reviewer, Supervisor};
use OrganizationKind::{CompetentAuthority, ProsecutingAgency, RelyingParty};

const AUTHORITY_ROUTE: Route = Route::ReviewerThenSupervisor { forward_days: 1, decide_days: 2 };

/// A holder's unlock of their own lock filed online without stronger proof (a Level 1 sign-in: exactly what a
/// phone thief has): it waits for a reviewer, who lifts the lock only after checking the holder in person at an
/// office and recording that check (Decree 69/2024 Art. 30: "in the app with the unlock form; once the request is
/// verified the unlock is immediate"). No text sets the time; dinhdanh gives the holder a working week to come.
pub const IN_PERSON_CHECK_ROUTE: Route = Route::ReviewerDecides { days: 5 };

/// The table.
pub const GROUND_RULES: &[GroundRule] = &[
    GroundRule {
        ground: Ground::HolderRequest,
        // A reviewer places it at the office on the holder's behalf; the lock is the holder's either way.
        placed_by: &[Placer::Holder, Placer::Officer(Reviewer)],
        place_evidence: Evidence::Nothing,
        place_route: Route::Immediate,
        lifted_by: Lifter::HolderWithStrongProof,
        lift_evidence: Evidence::StrongHolderProof,
        lift_route: Route::Immediate,
        holder_told: HolderTold::AtEveryStep,
        source: "QĐ 34/2021 Art. 10.1, 11.1; NĐ 69/2024 Art. 30",
    },
    GroundRule {
        ground: Ground::AuthorityRequest,
        placed_by: &[Placer::Organization(ProsecutingAgency), Placer::Organization(CompetentAuthority)],
        place_evidence: Evidence::LegalBasis,
        place_route: AUTHORITY_ROUTE,
        lifted_by: Lifter::PlacingOrganization,
        lift_evidence: Evidence::LegalBasis,
        lift_route: AUTHORITY_ROUTE,
        holder_told: HolderTold::WhenTheLockTakesEffect,
        source: "QĐ 34/2021 Art. 10.2, 11.2; NĐ 59/2022 Art. 19; NĐ 69/2024 Art. 29–30",
    },
    GroundRule {
        ground: Ground::RelyingPartyRequest,
        placed_by: &[Placer::Organization(RelyingParty)],
        place_evidence: Evidence::ReasonAndReference,
        place_route: Route::SupervisorDecides { days: 2 },
        lifted_by: Lifter::PlacingOrganization,
        lift_evidence: Evidence::ReasonAndReference,
        lift_route: Route::SupervisorDecides { days: 2 },
        holder_told: HolderTold::AtEveryStep,
        source: "QĐ 34/2021 Art. 10.2, 11.2; NĐ 59/2022 Art. 19",
    },
    GroundRule {
        ground: Ground::TermsViolation,
        placed_by: &[Placer::Officer(Reviewer)],
        place_evidence: Evidence::OfficerEvidence,
        place_route: Route::Immediate,
        lifted_by: Lifter::HolderAfterRemedy,
        lift_evidence: Evidence::OfficerEvidence,
        lift_route: Route::ReviewerDecides { days: 2 },
        holder_told: HolderTold::AtEveryStep,
        source: "QĐ 34/2021 Art. 10.3, 11.3",
    },
    GroundRule {
        ground: Ground::IdentityDocumentRevoked,
        placed_by: &[Placer::System],
        place_evidence: Evidence::RegistryRecord,
        place_route: Route::Immediate,
        lifted_by: Lifter::SystemWhenGroundEnds,
        lift_evidence: Evidence::RegistryRecord,
        lift_route: Route::Immediate,
        holder_told: HolderTold::AtEveryStep,
        source: "NĐ 59/2022 Art. 19; Law on Identification 2023 Art. 34",
    },
    GroundRule {
        ground: Ground::HolderDeceased,
        placed_by: &[Placer::System],
        place_evidence: Evidence::RegistryRecord,
        place_route: Route::Immediate,
        lifted_by: Lifter::Nobody,
        lift_evidence: Evidence::LegalBasis,
        lift_route: Route::SecondSupervisor { days: 2 },
        holder_told: HolderTold::AtEveryStep,
        source: "NĐ 59/2022 Art. 19; Law on Identification 2023 Art. 34",
    },
    GroundRule {
        ground: Ground::TravelDocumentExpired,
        placed_by: &[Placer::System],
        place_evidence: Evidence::RegistryRecord,
        place_route: Route::Immediate,
        lifted_by: Lifter::SystemWhenGroundEnds,
        lift_evidence: Evidence::RegistryRecord,
        lift_route: Route::Immediate,
        holder_told: HolderTold::AtEveryStep,
        source: "NĐ 59/2022 Art. 19; NĐ 69/2024 Art. 15",
    },
    GroundRule {
        ground: Ground::ResidenceExpired,
        placed_by: &[Placer::System],
        place_evidence: Evidence::RegistryRecord,
        place_route: Route::Immediate,
        lifted_by: Lifter::SystemWhenGroundEnds,
        lift_evidence: Evidence::RegistryRecord,
        lift_route: Route::Immediate,
        holder_told: HolderTold::AtEveryStep,
        source: "NĐ 59/2022 Art. 19; NĐ 69/2024 Art. 15",
    },
];

/// A holder's own lock filed without signing in (a lost phone), on identification number, full name and date of
/// birth: a code sent to the holder's other registered channel confirms it and it takes effect at once; with no
/// other channel to send it to, a reviewer verifies the holder (by a call back or at the office) within a working
/// day. Locking stays easy; the lock still belongs to the holder and is lifted as any `holder_request`.
pub const LOST_PHONE_CONFIRMED_ROUTE: Route = Route::Immediate;
pub const LOST_PHONE_UNCONFIRMED_ROUTE: Route = Route::ReviewerDecides { days: 1 };

/// The supervisors' override: any lock, with a legal basis and a second supervisor's approval.
pub const OVERRIDE_ROUTE: Route = Route::SecondSupervisor { days: 2 };

pub fn ground_rule(ground: Ground) -> &'static GroundRule {
    GROUND_RULES.iter().find(|r| r.ground == ground).expect("every ground has a rule")
}

/// What a holder refused at sign-in is told about how a lock of `ground` can be lifted: Vietnamese, then
/// English. Derived from the table's [`GroundRule::lifted_by`], so that it cannot drift from the rule; it never
/// names the officer or anyone of the organization that asked for the lock (domain.md "Effect of a lock").
pub fn how_to_lift(ground: Ground) -> (&'static str, &'static str) {
    match ground_rule(ground).lifted_by {
        Lifter::HolderWithStrongProof => (
            "Bạn có thể tự mở khóa khi đăng nhập ở mức độ 2; hoặc gửi yêu cầu mở khóa rồi đến cơ quan Công an để \
             được kiểm tra danh tính trực tiếp.",
            "You can lift it yourself with a Level 2 sign-in; or file an unlock request and have your identity \
             checked in person at a police identity office.",
        ),
        Lifter::PlacingOrganization => (
            "Chỉ cơ quan, tổ chức đã yêu cầu khóa mới có thể đề nghị mở khóa; đề nghị được cơ quan Công an xét duyệt.",
            "Only the organization that asked for the lock can ask to lift it; the police unit decides on that request.",
        ),
        Lifter::HolderAfterRemedy => (
            "Hãy khắc phục vi phạm rồi gửi yêu cầu mở khóa; cán bộ sẽ xác minh việc khắc phục.",
            "Remedy the violation and then ask for the lock to be lifted; an officer verifies the remedy.",
        ),
        Lifter::SystemWhenGroundEnds => (
            "Hệ thống tự động mở khóa khi thông tin trong Cơ sở dữ liệu quốc gia được cập nhật (cấp giấy tờ mới, gia \
             hạn cư trú).",
            "The system lifts it by itself once the national registry is updated (a new document is issued, the \
             stay is extended).",
        ),
        Lifter::Nobody => (
            "Khóa này không được mở theo thủ tục thông thường; hãy liên hệ cơ quan quản lý định danh điện tử.",
            "This lock is not lifted by the ordinary procedure; contact the e-ID operator.",
        ),
    }
}

/// Settings of an operator that change what the table allows.
#[derive(Debug, Clone, Copy)]
pub struct AuthorityPolicy {
    /// Decree 69/2024 no longer lists relying parties as requesters; an operator may switch the ground off.
    pub relying_party_requests_enabled: bool,
}

impl Default for AuthorityPolicy {
    fn default() -> Self {
        Self { relying_party_requests_enabled: true }
    }
}

/// Who asks to lift a lock, with what they can show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LiftRequester {
    /// A signed-in holder; `strong_proof` when signed in at Level 2.
    Holder {
        account_id: AccountId,
        strong_proof: bool,
    },
    Organization {
        organization_id: String,
        kind: OrganizationKind,
    },
    /// An officer; `in_person_check` when the officer has checked the holder in person at the office and files
    /// on the holder's behalf; `override_basis` when a supervisor invokes the override with a legal basis.
    Officer {
        officer_id: String,
        roles: BTreeSet<OfficerRole>,
        in_person_check: bool,
        override_basis: bool,
    },
    /// The system; `ground_still_holds` from the current registry record.
    System {
        ground_still_holds: bool,
    },
}

/// What a permitted request needs and how it proceeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requirement {
    pub evidence: Evidence,
    pub route: Route,
    /// The loud path: a supervisor lifting another party's lock.
    pub is_override: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Refusal {
    #[error("this party may not request a lock on this ground")]
    NotAPlacerOfThisGround,
    #[error("this operator does not accept relying-party lock requests")]
    GroundDisabled,
    #[error("only the party that placed this lock may ask to lift it")]
    NotTheOwner,
    #[error("this lock is lifted by the system when its ground no longer holds")]
    LiftedBySystemOnly,
    #[error("the registry still supports this lock")]
    GroundStillHolds,
    #[error("this lock is never lifted automatically")]
    NeverLiftedAutomatically,
    #[error("this lock is not active")]
    NotActive,
    #[error("the request concerns another account")]
    OtherAccount,
}

/// May `placer` ask for a lock on `ground`, and how does the request proceed?
pub fn placement(placer: Placer, ground: Ground, policy: AuthorityPolicy) -> Result<Requirement, Refusal> {
    let rule = ground_rule(ground);
    if ground == Ground::RelyingPartyRequest && !policy.relying_party_requests_enabled {
        return Err(Refusal::GroundDisabled);
    }
    if !rule.placed_by.contains(&placer) {
        return Err(Refusal::NotAPlacerOfThisGround);
    }
    Ok(Requirement { evidence: rule.place_evidence, route: rule.place_route, is_override: false })
}

/// May `requester` ask to lift `lock` (which is active), and how does the request proceed?
pub fn lifting(requester: &LiftRequester, lock: &Lock, active: bool) -> Result<Requirement, Refusal> {
    if !active {
        return Err(Refusal::NotActive);
    }
    let rule = ground_rule(lock.ground);
    let ordinary = Requirement { evidence: rule.lift_evidence, route: rule.lift_route, is_override: false };
    match (requester, rule.lifted_by) {
        // The override comes first: a supervisor with a legal basis, for any lock, four-eyes.
        (LiftRequester::Officer { roles, override_basis: true, .. }, _) if roles.contains(&Supervisor) => {
            Ok(Requirement { evidence: Evidence::LegalBasis, route: OVERRIDE_ROUTE, is_override: true })
        }
        (LiftRequester::Holder { account_id, strong_proof }, Lifter::HolderWithStrongProof) => {
            if *account_id != lock.account_id {
                Err(Refusal::OtherAccount)
            } else if *strong_proof {
                Ok(ordinary)
            } else {
                // Filed, but effective only once a reviewer has seen the holder in person.
                Ok(Requirement { evidence: Evidence::Nothing, route: IN_PERSON_CHECK_ROUTE, is_override: false })
            }
        }
        (LiftRequester::Officer { roles, in_person_check: true, .. }, Lifter::HolderWithStrongProof)
            if roles.contains(&Reviewer) =>
        {
            Ok(ordinary)
        }
        (LiftRequester::Holder { account_id, .. }, Lifter::HolderAfterRemedy) => {
            if *account_id == lock.account_id {
                Ok(ordinary)
            } else {
                Err(Refusal::OtherAccount)
            }
        }
        (LiftRequester::Organization { organization_id, .. }, Lifter::PlacingOrganization) => match &lock.placed_by {
            Party::Organization { organization_id: owner, .. } if owner == organization_id => Ok(ordinary),
            _ => Err(Refusal::NotTheOwner),
        },
        (LiftRequester::System { ground_still_holds }, Lifter::SystemWhenGroundEnds) => {
            if *ground_still_holds {
                Err(Refusal::GroundStillHolds)
            } else {
                Ok(ordinary)
            }
        }
        (LiftRequester::System { .. }, Lifter::Nobody) => Err(Refusal::NeverLiftedAutomatically),
        (_, Lifter::SystemWhenGroundEnds) => Err(Refusal::LiftedBySystemOnly),
        _ => Err(Refusal::NotTheOwner),
    }
}

/// Which officer role takes the next step of a request on `route`; `forwarded` tells whether a reviewer has
/// already forwarded it. `None` for an immediate route.
pub fn next_decider(route: Route, forwarded: bool) -> Option<OfficerRole> {
    match route {
        Route::Immediate => None,
        Route::SupervisorDecides { .. } | Route::SecondSupervisor { .. } => Some(Supervisor),
        Route::ReviewerDecides { .. } => Some(Reviewer),
        Route::ReviewerThenSupervisor { .. } => Some(if forwarded { Supervisor } else { Reviewer }),
    }
}

/// The table as Markdown for `docs/lock-authority.md` (kept in step by a test).
pub fn render_markdown() -> String {
    fn placer(p: &Placer) -> String {
        match p {
            Placer::Holder => "holder".into(),
            Placer::Organization(k) => format!("organization: {k}"),
            Placer::Officer(r) => format!("officer: {r}"),
            Placer::System => "system".into(),
        }
    }
    fn route(r: Route) -> String {
        match r {
            Route::Immediate => "at once".into(),
            Route::SupervisorDecides { days } => format!("supervisor decides ≤ {days} working days"),
            Route::ReviewerThenSupervisor { forward_days, decide_days } => format!(
                "reviewer verifies and forwards ≤ {forward_days} working day(s), supervisor decides ≤ {decide_days} more"
            ),
            Route::ReviewerDecides { days } => format!("reviewer verifies and decides ≤ {days} working days"),
            Route::SecondSupervisor { days } => format!("a second supervisor approves ≤ {days} working days"),
        }
    }
    fn lifter(l: Lifter) -> &'static str {
        match l {
            Lifter::HolderWithStrongProof => {
                "the holder: at once with a Level 2 sign-in or when a reviewer files it after checking the holder in \
                 person; filed with a Level 1 sign-in, a reviewer decides ≤ 5 working days after that in-person check"
            }
            Lifter::PlacingOrganization => "the organization that placed it, only",
            Lifter::HolderAfterRemedy => "a reviewer, after the holder remedies the violation and asks",
            Lifter::SystemWhenGroundEnds => "the system, when the registry no longer supports it",
            Lifter::Nobody => "nobody (only the supervisors' override)",
        }
    }
    let mut out = String::from(
        "| ground | placed by | evidence | takes effect | lifted by | lift evidence | lift takes effect | holder told of a request by another | source |\n\
         |---|---|---|---|---|---|---|---|---|\n",
    );
    for r in GROUND_RULES {
        out.push_str(&format!(
            "| `{}` | {} | {:?} | {} | {} | {:?} | {} | {} | {} |\n",
            r.ground,
            r.placed_by.iter().map(placer).collect::<Vec<_>>().join(", "),
            r.place_evidence,
            route(r.place_route),
            lifter(r.lifted_by),
            r.lift_evidence,
            route(r.lift_route),
            match r.holder_told {
                HolderTold::AtEveryStep => "at every step",
                HolderTold::WhenTheLockTakesEffect => "only when the lock takes effect (no tip-off)",
            },
            r.source
        ));
    }
    out.push_str(&format!(
        "| *any* (override) | — | — | — | an operator supervisor, with a legal basis | LegalBasis | {} | at every step | domain.md |\n",
        route(OVERRIDE_ROUTE)
    ));
    out
}

#[cfg(test)]
mod tests {
    //! The table walked exhaustively — every placer × ground × policy, and every lift requester × ground × lock
    //! owner × active — each outcome compared with domain.md's intent, written here independently by category.
    use super::*;
    use crate::actor::Actor;
    use crate::authorization::{Action, authorize};
    use chrono::{TimeZone, Utc};

    fn placers() -> Vec<Placer> {
        let mut all = vec![Placer::Holder, Placer::System];
        all.extend(OrganizationKind::ALL.iter().map(|k| Placer::Organization(*k)));
        all.extend(OfficerRole::ALL.iter().map(|r| Placer::Officer(*r)));
        all
    }

    fn intended_placement(placer: Placer, ground: Ground, policy: AuthorityPolicy) -> Result<Route, Refusal> {
        let third_party_authority =
            matches!(placer, Placer::Organization(ProsecutingAgency) | Placer::Organization(CompetentAuthority));
        match ground {
            Ground::RelyingPartyRequest if !policy.relying_party_requests_enabled => Err(Refusal::GroundDisabled),
            // Locking is protective: fast and easy for the holder, and an officer can do it for them at the office.
            Ground::HolderRequest if matches!(placer, Placer::Holder | Placer::Officer(Reviewer)) => {
                Ok(Route::Immediate)
            }
            // Third parties go through the police: reviewer forwards (1 day), head decides (2 days).
            Ground::AuthorityRequest if third_party_authority => {
                Ok(Route::ReviewerThenSupervisor { forward_days: 1, decide_days: 2 })
            }
            Ground::RelyingPartyRequest if placer == Placer::Organization(RelyingParty) => {
                Ok(Route::SupervisorDecides { days: 2 })
            }
            Ground::TermsViolation if placer == Placer::Officer(Reviewer) => Ok(Route::Immediate),
            g if g.is_automatic() && placer == Placer::System => Ok(Route::Immediate),
            _ => Err(Refusal::NotAPlacerOfThisGround),
        }
    }

    #[test]
    fn every_placer_and_ground_gets_the_intended_answer() {
        let mut checked = 0;
        for enabled in [true, false] {
            let policy = AuthorityPolicy { relying_party_requests_enabled: enabled };
            for placer in placers() {
                for ground in Ground::ALL {
                    let got = placement(placer, *ground, policy).map(|r| r.route);
                    assert_eq!(got, intended_placement(placer, *ground, policy), "{placer:?} places {ground:?}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 2 * placers().len() * Ground::ALL.len());
    }

    #[test]
    fn third_party_locks_need_their_evidence() {
        let p = AuthorityPolicy::default();
        assert_eq!(
            placement(Placer::Organization(ProsecutingAgency), Ground::AuthorityRequest, p).unwrap().evidence,
            Evidence::LegalBasis
        );
        assert_eq!(
            placement(Placer::Organization(RelyingParty), Ground::RelyingPartyRequest, p).unwrap().evidence,
            Evidence::ReasonAndReference
        );
        assert_eq!(
            placement(Placer::Officer(Reviewer), Ground::TermsViolation, p).unwrap().evidence,
            Evidence::OfficerEvidence
        );
    }

    fn holder() -> AccountId {
        AccountId::new("holder".into())
    }

    fn owners() -> Vec<Party> {
        let mut all = vec![
            Party::Holder { account_id: holder() },
            Party::Officer { officer_id: "reviewer-1".into() },
            Party::System,
        ];
        for kind in OrganizationKind::ALL {
            all.push(Party::Organization { organization_id: format!("{kind}-a"), kind: *kind });
        }
        all
    }

    fn requesters() -> Vec<LiftRequester> {
        let mut all = Vec::new();
        for account in [holder(), AccountId::new("someone-else".into())] {
            for strong_proof in [true, false] {
                all.push(LiftRequester::Holder { account_id: account.clone(), strong_proof });
            }
        }
        for kind in OrganizationKind::ALL {
            for suffix in ["a", "b"] {
                all.push(LiftRequester::Organization { organization_id: format!("{kind}-{suffix}"), kind: *kind });
            }
        }
        for role in OfficerRole::ALL {
            for in_person_check in [true, false] {
                for override_basis in [true, false] {
                    all.push(LiftRequester::Officer {
                        officer_id: "officer-9".into(),
                        roles: BTreeSet::from([*role]),
                        in_person_check,
                        override_basis,
                    });
                }
            }
        }
        for ground_still_holds in [true, false] {
            all.push(LiftRequester::System { ground_still_holds });
        }
        all
    }

    fn lock_of(ground: Ground, owner: Party) -> Lock {
        Lock {
            id: "lock".into(),
            account_id: holder(),
            ground,
            placed_by: owner,
            legal_basis: None,
            reference: None,
            reason: String::new(),
            effective_at: Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap(),
            ends_at: None,
            request_id: None,
            lifted: None,
        }
    }

    /// domain.md "Restoring" and the glance table, category by category.
    fn intended_lift(requester: &LiftRequester, lock: &Lock, active: bool) -> Result<(Route, bool), Refusal> {
        if !active {
            return Err(Refusal::NotActive);
        }
        if let LiftRequester::Officer { roles, override_basis: true, .. } = requester
            && roles.contains(&Supervisor)
        {
            return Ok((Route::SecondSupervisor { days: 2 }, true));
        }
        let own_account = |a: &AccountId| *a == lock.account_id;
        match lock.ground {
            Ground::HolderRequest => match requester {
                LiftRequester::Holder { account_id, .. } if !own_account(account_id) => Err(Refusal::OtherAccount),
                LiftRequester::Holder { strong_proof: true, .. } => Ok((Route::Immediate, false)),
                LiftRequester::Holder { strong_proof: false, .. } => Ok((Route::ReviewerDecides { days: 5 }, false)),
                LiftRequester::Officer { roles, in_person_check: true, .. } if roles.contains(&Reviewer) => {
                    Ok((Route::Immediate, false))
                }
                _ => Err(Refusal::NotTheOwner),
            },
            Ground::AuthorityRequest | Ground::RelyingPartyRequest => match (requester, &lock.placed_by) {
                (
                    LiftRequester::Organization { organization_id, .. },
                    Party::Organization { organization_id: owner, .. },
                ) if organization_id == owner => Ok((ground_rule(lock.ground).lift_route, false)),
                _ => Err(Refusal::NotTheOwner),
            },
            Ground::TermsViolation => match requester {
                LiftRequester::Holder { account_id, .. } if own_account(account_id) => {
                    Ok((Route::ReviewerDecides { days: 2 }, false))
                }
                LiftRequester::Holder { .. } => Err(Refusal::OtherAccount),
                _ => Err(Refusal::NotTheOwner),
            },
            Ground::HolderDeceased => match requester {
                LiftRequester::System { .. } => Err(Refusal::NeverLiftedAutomatically),
                _ => Err(Refusal::NotTheOwner),
            },
            _automatic => match requester {
                LiftRequester::System { ground_still_holds: true } => Err(Refusal::GroundStillHolds),
                LiftRequester::System { ground_still_holds: false } => Ok((Route::Immediate, false)),
                _ => Err(Refusal::LiftedBySystemOnly),
            },
        }
    }

    #[test]
    fn every_lift_requester_ground_and_owner_gets_the_intended_answer() {
        let mut checked = 0;
        for ground in Ground::ALL {
            for owner in owners() {
                let lock = lock_of(*ground, owner);
                for requester in requesters() {
                    for active in [true, false] {
                        let got = lifting(&requester, &lock, active).map(|r| (r.route, r.is_override));
                        assert_eq!(got, intended_lift(&requester, &lock, active), "{requester:?} lifts {lock:?}");
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 2000, "{checked}");
    }

    #[test]
    fn court_lock_cannot_be_lifted_by_a_bank_or_another_court() {
        let court = Party::Organization { organization_id: "tand-hn".into(), kind: ProsecutingAgency };
        let lock = lock_of(Ground::AuthorityRequest, court);
        let bank = LiftRequester::Organization { organization_id: "vcb".into(), kind: RelyingParty };
        let other_court = LiftRequester::Organization { organization_id: "tand-hcm".into(), kind: ProsecutingAgency };
        let same_court = LiftRequester::Organization { organization_id: "tand-hn".into(), kind: ProsecutingAgency };
        assert_eq!(lifting(&bank, &lock, true), Err(Refusal::NotTheOwner));
        assert_eq!(lifting(&other_court, &lock, true), Err(Refusal::NotTheOwner));
        assert_eq!(lifting(&same_court, &lock, true).unwrap().route, AUTHORITY_ROUTE);
    }

    #[test]
    fn a_stolen_phone_cannot_undo_the_holders_lock_without_an_officer_seeing_the_holder() {
        let lock = lock_of(Ground::HolderRequest, Party::Holder { account_id: holder() });
        let level_1 = LiftRequester::Holder { account_id: holder(), strong_proof: false };
        let filed = lifting(&level_1, &lock, true).unwrap();
        assert_eq!(filed.route, IN_PERSON_CHECK_ROUTE, "never at once");
        assert_eq!(next_decider(filed.route, false), Some(Reviewer));
        let level_2 = LiftRequester::Holder { account_id: holder(), strong_proof: true };
        assert_eq!(lifting(&level_2, &lock, true).unwrap().route, Route::Immediate);
    }

    #[test]
    fn a_death_is_never_lifted_automatically() {
        let lock = lock_of(Ground::HolderDeceased, Party::System);
        assert_eq!(
            lifting(&LiftRequester::System { ground_still_holds: false }, &lock, true),
            Err(Refusal::NeverLiftedAutomatically)
        );
    }

    #[test]
    fn the_next_step_belongs_to_the_role_the_authorization_table_empowers() {
        let routes = GROUND_RULES.iter().flat_map(|r| [r.place_route, r.lift_route]).chain([OVERRIDE_ROUTE]);
        for route in routes {
            for forwarded in [false, true] {
                let Some(decider) = next_decider(route, forwarded) else { continue };
                let action = match decider {
                    Reviewer => Action::ForwardRequest,
                    _ => Action::DecideRequest,
                };
                for role in OfficerRole::ALL {
                    let officer = Actor::Officer {
                        officer_id: "o".into(),
                        organization_id: "op".into(),
                        roles: BTreeSet::from([*role]),
                    };
                    assert_eq!(
                        authorize(&officer, action).is_ok(),
                        *role == decider,
                        "{route:?} forwarded={forwarded} {role:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn every_ground_has_exactly_one_rule() {
        for ground in Ground::ALL {
            assert_eq!(GROUND_RULES.iter().filter(|r| r.ground == *ground).count(), 1, "{ground:?}");
        }
        assert!(render_markdown().contains("holder_deceased"));
    }
    #[test]
    fn every_ground_says_how_it_is_lifted_without_naming_anyone() {
        for ground in Ground::ALL {
            let (vi, en) = how_to_lift(*ground);
            assert!(!vi.is_empty() && !en.is_empty(), "{ground}");
            for word in ["officer:", "signer", "cán bộ tên"] {
                assert!(!vi.contains(word) && !en.contains(word), "{ground}");
            }
        }
        assert!(how_to_lift(Ground::HolderRequest).1.contains("Level 2"));
        assert!(how_to_lift(Ground::AuthorityRequest).1.contains("organization that asked"));
        assert_eq!(how_to_lift(Ground::AuthorityRequest), how_to_lift(Ground::RelyingPartyRequest));
        assert!(how_to_lift(Ground::TermsViolation).1.contains("Remedy"));
        assert!(how_to_lift(Ground::ResidenceExpired).1.contains("by itself"));
        assert!(how_to_lift(Ground::HolderDeceased).1.contains("not lifted"));
    }

    #[test]
    fn an_authoritys_pending_lock_request_is_not_told_to_the_holder() {
        use crate::request::{RequestKind, RequestStatus};
        for status in
            [RequestStatus::Received, RequestStatus::Verifying, RequestStatus::Rejected, RequestStatus::Cancelled]
        {
            assert!(!holder_sees(Ground::AuthorityRequest, RequestKind::Lock, status), "{status:?}");
        }
        assert!(holder_sees(Ground::AuthorityRequest, RequestKind::Lock, RequestStatus::Effective));
        assert!(holder_sees(Ground::AuthorityRequest, RequestKind::Unlock, RequestStatus::Received));
        assert!(holder_sees(Ground::RelyingPartyRequest, RequestKind::Lock, RequestStatus::Received));
        assert!(holder_sees(Ground::HolderRequest, RequestKind::Lock, RequestStatus::Received));
    }
}
