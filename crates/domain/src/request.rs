//! Requests: every lock and unlock goes through one (domain.md "Requests"). A request has a tracking code, a
//! status, the time of each step and a deadline that the authority table's route sets. This module is the
//! request state machine; whether a party may file a request at all is [`crate::authority`]'s answer.
//!
//! ```text
//!  received ──claim──► verifying ──(forward: reviewer, Decree 69 route)──► verifying
//!     │                    │                                                   │
//!     ├────────────────────┴──────────────── approve ──► approved ──► effective
//!     ├── reject (with written reasons) ──► rejected
//!     ├── cancel (by the requester) ──► cancelled
//!     └── expire (an unconfirmed request past its time) ──► expired
//! ```
//! An immediate route goes from received to effective at once, in the same transaction.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::account::AccountId;
use crate::actor::OfficerRole;
use crate::authority::{Route, next_decider};
use crate::calendar::WorkingCalendar;
use crate::lock::{Ground, LegalBasis, Lock, Party};
use crate::tracking::TrackingCode;

string_enum! {
    RequestKind {
        Lock => "lock",
        Unlock => "unlock",
    }
}

string_enum! {
    RequestStatus {
        Received => "received",
        Verifying => "verifying",
        Approved => "approved",
        Effective => "effective",
        Rejected => "rejected",
        Cancelled => "cancelled",
        Expired => "expired",
    }
}

impl RequestStatus {
    pub fn is_final(self) -> bool {
        matches!(self, Self::Effective | Self::Rejected | Self::Cancelled | Self::Expired)
    }

    /// What the holder is told the status means: Vietnamese, then English.
    pub fn description(self) -> (&'static str, &'static str) {
        match self {
            Self::Received => ("đã tiếp nhận", "received"),
            Self::Verifying => ("đang xác minh", "being verified"),
            Self::Approved => ("đã phê duyệt", "approved"),
            Self::Effective => ("đã có hiệu lực", "in effect"),
            Self::Rejected => ("bị từ chối", "refused"),
            Self::Cancelled => ("đã hủy", "cancelled"),
            Self::Expired => ("đã hết hạn", "expired"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RequestError {
    #[error("a request that is {0} cannot be changed that way")]
    WrongStatus(RequestStatus),
    #[error("this step belongs to an officer with the {0} role")]
    WrongRole(OfficerRole),
    #[error("this request takes effect at once and has no officer step")]
    NoOfficerStep,
    #[error("a reviewer must verify and forward this request before a supervisor decides")]
    NotForwarded,
    #[error("this request has already been forwarded")]
    AlreadyForwarded,
    #[error("the second approval must come from another supervisor than the one who filed the request")]
    SameOfficer,
    #[error("a refusal needs written reasons")]
    ReasonsRequired,
    #[error("only the party that filed the request can cancel it")]
    NotTheRequester,
    #[error("the officer who verified and forwarded this request cannot also decide it: two people take the two steps")]
    ForwarderCannotDecide,
    #[error("another officer has claimed this request; it is theirs until they release it or the claim expires")]
    ClaimedByAnother,
    #[error("only the officer who claimed this request can release it")]
    NotTheClaimant,
    #[error(
        "the holder filed this unlock without stronger proof: approve it only after checking the holder in person, \
         and record that check (document kind, number, office)"
    )]
    InPersonCheckRequired,
}

/// How long a claim keeps a request an officer's own, unless they release it or take its step first.
pub const CLAIM_HOURS: i64 = 4;

/// What an officer checked in person before filing a holder's own unlock (Decision 34/2021 Art. 11: the holder
/// comes to the office): the identity document seen and where. Kept with the request; the audit log gets the
/// document kind, the office and only the last digits of the number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InPersonCheck {
    /// e.g. `cccd` (căn cước công dân), `passport`.
    pub document_kind: String,
    pub document_number: String,
    /// The office where the holder was seen.
    pub office: String,
}

impl InPersonCheck {
    /// The document number with all but the last three characters hidden, for the audit log.
    pub fn masked_number(&self) -> String {
        let chars: Vec<char> = self.document_number.chars().collect();
        let keep = chars.len().min(3);
        format!("{}{}", "•".repeat(chars.len() - keep), chars[chars.len() - keep..].iter().collect::<String>())
    }
}

/// What a request concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// One e-ID account.
    Account(AccountId),
    /// A bulk lock order (bulk-lock.md): the accounts are the order's entries, each with its own outcome; the
    /// order is decided once, as a whole.
    BulkOrder,
}

impl Subject {
    /// The account, for a request about one.
    pub fn account(&self) -> Option<&AccountId> {
        match self {
            Self::Account(id) => Some(id),
            Self::BulkOrder => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub id: String,
    pub tracking_code: TrackingCode,
    pub kind: RequestKind,
    pub subject: Subject,
    pub ground: Ground,
    /// For an unlock, the lock to lift; for a lock, the lock placed once effective.
    pub lock_id: Option<String>,
    pub requester: Party,
    pub route: Route,
    /// A supervisor lifting another party's lock with a legal basis.
    pub is_override: bool,
    pub status: RequestStatus,
    pub legal_basis: Option<LegalBasis>,
    pub reason: String,
    pub reference: Option<String>,
    /// For a temporary lock: when it should end.
    pub lock_ends_at: Option<DateTime<Utc>>,
    pub received_at: DateTime<Utc>,
    /// The deadline of the step now due (none once final, or for an immediate route).
    pub deadline: Option<DateTime<Utc>>,
    pub claimed_by: Option<String>,
    /// When the claim was taken; it holds for [`CLAIM_HOURS`].
    pub claimed_at: Option<DateTime<Utc>>,
    pub forwarded_at: Option<DateTime<Utc>>,
    pub forwarded_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub decided_by: Option<String>,
    /// The written reasons of a refusal, or the note of an approval.
    pub decision_reason: Option<String>,
    pub effective_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    /// For a holder's own unlock filed by an officer at the office: what the officer checked.
    pub in_person_check: Option<InPersonCheck>,
}

string_enum! {
    /// What happened at a step of a request. Several steps can leave the same status (a claim and a forward both
    /// leave a request `verifying`), so the notices name the step, not the status.
    StepEvent {
        /// Filed through an official channel.
        Received => "received",
        /// An officer took it into verification.
        Claimed => "claimed",
        /// The officer gave it back to the queue (nobody is told: nothing happened to the request).
        Released => "released",
        /// A reviewer verified it and forwarded it to the supervisors (Decree 69/2024 Art. 29–30).
        Forwarded => "forwarded",
        /// The officer due approved it.
        Approved => "approved",
        /// The lock is placed, or lifted.
        Effective => "effective",
        /// Refused, with written reasons.
        Rejected => "rejected",
        /// Withdrawn by the requester.
        Cancelled => "cancelled",
        /// Its confirmation never came, or it can no longer apply.
        Expired => "expired",
        /// The lock it placed was lifted by the operator's supervisors (four-eyes override).
        LiftedByOverride => "lifted_by_override",
        /// A step read back from storage under a word this version does not know.
        Recorded => "recorded",
    }
}

impl StepEvent {
    /// What the requester (or holder) is told the step was: Vietnamese, then English.
    pub fn description(self) -> (&'static str, &'static str) {
        match self {
            Self::Received => ("đã tiếp nhận", "received"),
            Self::Claimed => ("đang xác minh", "being verified"),
            Self::Released => ("đã trả lại hàng chờ xử lý", "returned to the queue"),
            Self::Forwarded => {
                ("đã xác minh và chuyển lãnh đạo phê duyệt", "verified and forwarded to the supervisors for a decision")
            }
            Self::Approved => ("đã phê duyệt", "approved"),
            Self::Effective => ("đã có hiệu lực", "in effect"),
            Self::Rejected => ("bị từ chối", "refused"),
            Self::Cancelled => ("đã hủy", "cancelled"),
            Self::Expired => ("đã hết hạn", "expired"),
            Self::LiftedByOverride => ("khóa đã được cơ quan quản lý gỡ", "the lock was lifted by the operator"),
            Self::Recorded => ("đã ghi nhận", "recorded"),
        }
    }
}

/// One recorded step of a request, for its history and notices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub at: DateTime<Utc>,
    pub status: RequestStatus,
    pub event: StepEvent,
    pub by: Party,
    pub note: Option<String>,
}

/// What a new request is about, before it gets its identity and deadline.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub kind: RequestKind,
    pub subject: Subject,
    pub ground: Ground,
    pub lock_id: Option<String>,
    pub requester: Party,
    pub route: Route,
    pub is_override: bool,
    pub legal_basis: Option<LegalBasis>,
    pub reason: String,
    pub reference: Option<String>,
    pub lock_ends_at: Option<DateTime<Utc>>,
    pub in_person_check: Option<InPersonCheck>,
}

/// The working days allowed for the first officer step of a route.
fn first_step_days(route: Route) -> Option<u32> {
    match route {
        Route::Immediate => None,
        Route::SupervisorDecides { days } | Route::ReviewerDecides { days } | Route::SecondSupervisor { days } => {
            Some(days)
        }
        Route::ReviewerThenSupervisor { forward_days, .. } => Some(forward_days),
    }
}

impl Request {
    /// A request as received, with the deadline of its first step.
    pub fn receive(
        new: NewRequest,
        id: String,
        tracking_code: TrackingCode,
        now: DateTime<Utc>,
        calendar: &WorkingCalendar,
    ) -> (Self, Step) {
        let deadline = first_step_days(new.route).map(|days| calendar.deadline(now, days));
        let step = Step {
            at: now,
            status: RequestStatus::Received,
            event: StepEvent::Received,
            by: new.requester.clone(),
            note: None,
        };
        let request = Self {
            id,
            tracking_code,
            kind: new.kind,
            subject: new.subject,
            ground: new.ground,
            lock_id: new.lock_id,
            requester: new.requester,
            route: new.route,
            is_override: new.is_override,
            status: RequestStatus::Received,
            legal_basis: new.legal_basis,
            reason: new.reason,
            reference: new.reference,
            lock_ends_at: new.lock_ends_at,
            received_at: now,
            deadline,
            claimed_by: None,
            claimed_at: None,
            forwarded_at: None,
            forwarded_by: None,
            decided_at: None,
            decided_by: None,
            decision_reason: None,
            effective_at: None,
            closed_at: None,
            in_person_check: new.in_person_check,
        };
        (request, step)
    }

    /// Whether this is a bulk lock order.
    pub fn is_bulk_order(&self) -> bool {
        self.subject == Subject::BulkOrder
    }

    /// The lock this lock request, now effective, places on `account` (its only account, or one of a bulk
    /// order's). The holder's own lock belongs to the holder even when an officer filed it at the office.
    pub fn lock_on(&self, account: &AccountId, lock_id: String, now: DateTime<Utc>) -> Lock {
        let placed_by = match self.ground {
            Ground::HolderRequest => Party::Holder { account_id: account.clone() },
            _ => self.requester.clone(),
        };
        Lock {
            id: lock_id,
            account_id: account.clone(),
            ground: self.ground,
            placed_by,
            legal_basis: self.legal_basis.clone(),
            reference: self.reference.clone(),
            reason: self.reason.clone(),
            effective_at: now,
            ends_at: self.lock_ends_at,
            request_id: Some(self.id.clone()),
            lifted: None,
        }
    }

    /// Past the deadline of the step now due, and not final.
    pub fn is_overdue(&self, now: DateTime<Utc>) -> bool {
        !self.status.is_final() && self.deadline.is_some_and(|d| now > d)
    }

    fn open(&self) -> Result<(), RequestError> {
        match self.status {
            RequestStatus::Received | RequestStatus::Verifying => Ok(()),
            other => Err(RequestError::WrongStatus(other)),
        }
    }

    /// The role that takes the next step, if any.
    pub fn next_decider(&self) -> Option<OfficerRole> {
        next_decider(self.route, self.forwarded_at.is_some())
    }

    fn check_decider(&self, roles: &BTreeSet<OfficerRole>) -> Result<(), RequestError> {
        let role = self.next_decider().ok_or(RequestError::NoOfficerStep)?;
        if roles.contains(&role) { Ok(()) } else { Err(RequestError::WrongRole(role)) }
    }

    /// Whether another officer's claim holds the request at `now`.
    pub fn claimed_by_another(&self, officer_id: &str, now: DateTime<Utc>) -> bool {
        self.claimed_by.as_deref().is_some_and(|by| by != officer_id)
            && self.claimed_at.is_some_and(|at| now < at + chrono::Duration::hours(CLAIM_HOURS))
    }

    /// An officer's step is theirs to take: of the role due, and not held by another officer's claim.
    fn check_officer_step(
        &self,
        officer_id: &str,
        roles: &BTreeSet<OfficerRole>,
        now: DateTime<Utc>,
    ) -> Result<(), RequestError> {
        self.check_decider(roles)?;
        if self.claimed_by_another(officer_id, now) { Err(RequestError::ClaimedByAnother) } else { Ok(()) }
    }

    /// Separation of duties on the two-step route (Decree 69/2024 Art. 29–30): the officer who verified and
    /// forwarded does not decide, whatever roles they hold.
    fn check_not_forwarder(&self, officer_id: &str) -> Result<(), RequestError> {
        if self.forwarded_by.as_deref() == Some(officer_id) { Err(RequestError::ForwarderCannotDecide) } else { Ok(()) }
    }

    /// An immediate request takes effect as it is accepted.
    pub fn take_effect_at_once(&mut self, now: DateTime<Utc>) -> Result<Vec<Step>, RequestError> {
        self.open()?;
        if self.route != Route::Immediate {
            return Err(RequestError::NotForwarded);
        }
        self.status = RequestStatus::Effective;
        self.effective_at = Some(now);
        self.closed_at = Some(now);
        self.deadline = None;
        Ok(vec![Step {
            at: now,
            status: RequestStatus::Effective,
            event: StepEvent::Effective,
            by: self.requester.clone(),
            note: None,
        }])
    }

    /// An officer of the role due takes the request into verification.
    pub fn claim(
        &mut self,
        officer_id: &str,
        roles: &BTreeSet<OfficerRole>,
        now: DateTime<Utc>,
    ) -> Result<Step, RequestError> {
        self.open()?;
        self.check_officer_step(officer_id, roles, now)?;
        self.check_not_forwarder(officer_id)?;
        self.status = RequestStatus::Verifying;
        self.claimed_by = Some(officer_id.to_owned());
        self.claimed_at = Some(now);
        Ok(Step { at: now, status: self.status, event: StepEvent::Claimed, by: officer(officer_id), note: None })
    }

    /// The claimant gives the request back to the queue before taking its step.
    pub fn release(&mut self, officer_id: &str, now: DateTime<Utc>) -> Result<Step, RequestError> {
        self.open()?;
        if self.claimed_by.as_deref() != Some(officer_id) {
            return Err(RequestError::NotTheClaimant);
        }
        self.claimed_by = None;
        self.claimed_at = None;
        Ok(Step { at: now, status: self.status, event: StepEvent::Released, by: officer(officer_id), note: None })
    }

    /// A reviewer has verified a request on the two-step route and forwards it to the supervisors; the decision
    /// deadline counts from now.
    pub fn forward(
        &mut self,
        officer_id: &str,
        roles: &BTreeSet<OfficerRole>,
        note: Option<String>,
        now: DateTime<Utc>,
        calendar: &WorkingCalendar,
    ) -> Result<Step, RequestError> {
        self.open()?;
        let Route::ReviewerThenSupervisor { decide_days, .. } = self.route else {
            return Err(RequestError::NoOfficerStep);
        };
        if self.forwarded_at.is_some() {
            return Err(RequestError::AlreadyForwarded);
        }
        self.check_officer_step(officer_id, roles, now)?;
        self.status = RequestStatus::Verifying;
        self.forwarded_at = Some(now);
        self.forwarded_by = Some(officer_id.to_owned());
        self.claimed_by = None;
        self.claimed_at = None;
        self.deadline = Some(calendar.deadline(now, decide_days));
        Ok(Step { at: now, status: self.status, event: StepEvent::Forwarded, by: officer(officer_id), note })
    }

    /// The officer due approves: the request passes through `approved` to `effective` (the caller applies the
    /// effect in the same transaction).
    /// A holder's unlock of their own lock, filed without stronger proof, whose approval has no in-person check
    /// recorded yet (`authority::IN_PERSON_CHECK_ROUTE`): the approving reviewer must record one first.
    pub fn awaits_in_person_check(&self) -> bool {
        self.kind == RequestKind::Unlock
            && self.ground == crate::lock::Ground::HolderRequest
            && matches!(self.requester, Party::Holder { .. })
            && self.route != Route::Immediate
            && self.in_person_check.is_none()
    }

    pub fn approve(
        &mut self,
        officer_id: &str,
        roles: &BTreeSet<OfficerRole>,
        note: Option<String>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Step>, RequestError> {
        self.open()?;
        if matches!(self.route, Route::ReviewerThenSupervisor { .. }) && self.forwarded_at.is_none() {
            // The reviewer's step comes first; a supervisor cannot skip it.
            return Err(RequestError::NotForwarded);
        }
        self.check_officer_step(officer_id, roles, now)?;
        self.check_not_forwarder(officer_id)?;
        if self.awaits_in_person_check() {
            return Err(RequestError::InPersonCheckRequired);
        }
        if matches!(self.route, Route::SecondSupervisor { .. })
            && self.requester == (Party::Officer { officer_id: officer_id.to_owned() })
        {
            return Err(RequestError::SameOfficer);
        }
        self.status = RequestStatus::Effective;
        self.decided_at = Some(now);
        self.decided_by = Some(officer_id.to_owned());
        self.decision_reason = note.clone();
        self.effective_at = Some(now);
        self.closed_at = Some(now);
        self.deadline = None;
        Ok(vec![
            Step {
                at: now,
                status: RequestStatus::Approved,
                event: StepEvent::Approved,
                by: officer(officer_id),
                note,
            },
            Step {
                at: now,
                status: RequestStatus::Effective,
                event: StepEvent::Effective,
                by: officer(officer_id),
                note: None,
            },
        ])
    }

    /// The officer due refuses, with written reasons that the requester receives (Decree 59/2022 Art. 19).
    pub fn reject(
        &mut self,
        officer_id: &str,
        roles: &BTreeSet<OfficerRole>,
        reasons: &str,
        now: DateTime<Utc>,
    ) -> Result<Step, RequestError> {
        self.open()?;
        self.check_officer_step(officer_id, roles, now)?;
        self.check_not_forwarder(officer_id)?;
        let reasons = reasons.trim();
        if reasons.is_empty() {
            return Err(RequestError::ReasonsRequired);
        }
        self.status = RequestStatus::Rejected;
        self.decided_at = Some(now);
        self.decided_by = Some(officer_id.to_owned());
        self.decision_reason = Some(reasons.to_owned());
        self.closed_at = Some(now);
        self.deadline = None;
        Ok(Step {
            at: now,
            status: self.status,
            event: StepEvent::Rejected,
            by: officer(officer_id),
            note: Some(reasons.to_owned()),
        })
    }

    /// The requester withdraws a pending request.
    pub fn cancel(&mut self, by: &Party, now: DateTime<Utc>) -> Result<Step, RequestError> {
        self.open()?;
        if *by != self.requester {
            return Err(RequestError::NotTheRequester);
        }
        self.status = RequestStatus::Cancelled;
        self.closed_at = Some(now);
        self.deadline = None;
        Ok(Step { at: now, status: self.status, event: StepEvent::Cancelled, by: by.clone(), note: None })
    }

    /// A request whose confirmation never came (the lost-phone path) or that can no longer apply.
    pub fn expire(&mut self, now: DateTime<Utc>, why: &str) -> Result<Step, RequestError> {
        self.open()?;
        self.status = RequestStatus::Expired;
        self.closed_at = Some(now);
        self.deadline = None;
        Ok(Step {
            at: now,
            status: self.status,
            event: StepEvent::Expired,
            by: Party::System,
            note: Some(why.to_owned()),
        })
    }
}

fn officer(id: &str) -> Party {
    Party::Officer { officer_id: id.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actor::OrganizationKind;
    use crate::authority::{AuthorityPolicy, Placer, placement};
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        // Friday 6 March 2026, 10:00 in Hà Nội.
        Utc.with_ymd_and_hms(2026, 3, 6, 3, 0, 0).unwrap()
    }

    fn roles(r: &[OfficerRole]) -> BTreeSet<OfficerRole> {
        r.iter().copied().collect()
    }

    fn court_request() -> Request {
        let route = placement(
            Placer::Organization(OrganizationKind::ProsecutingAgency),
            Ground::AuthorityRequest,
            AuthorityPolicy::default(),
        )
        .unwrap()
        .route;
        let new = NewRequest {
            kind: RequestKind::Lock,
            subject: Subject::Account(AccountId::new("acc".into())),
            ground: Ground::AuthorityRequest,
            lock_id: None,
            requester: Party::Organization {
                organization_id: "court".into(),
                kind: OrganizationKind::ProsecutingAgency,
            },
            route,
            is_override: false,
            legal_basis: None,
            reason: "điều tra / investigation".into(),
            reference: None,
            lock_ends_at: None,
            in_person_check: None,
        };
        Request::receive(new, "r1".into(), TrackingCode::from_random(7), t0(), &WorkingCalendar::default()).0
    }

    #[test]
    fn the_decree_69_route_is_reviewer_then_supervisor_with_two_deadlines() {
        let calendar = WorkingCalendar::default();
        let mut r = court_request();
        // Received Friday: the reviewer has until the end of Monday.
        assert_eq!(r.deadline, Some(calendar.deadline(t0(), 1)));
        assert_eq!(r.approve("sup", &roles(&[OfficerRole::Supervisor]), None, t0()), Err(RequestError::NotForwarded));
        assert_eq!(
            r.claim("sup", &roles(&[OfficerRole::Supervisor]), t0()),
            Err(RequestError::WrongRole(OfficerRole::Reviewer))
        );
        r.claim("rev", &roles(&[OfficerRole::Reviewer]), t0()).unwrap();
        let forwarded_at = t0() + Duration::hours(5);
        r.forward("rev", &roles(&[OfficerRole::Reviewer]), None, forwarded_at, &calendar).unwrap();
        assert_eq!(
            r.deadline,
            Some(calendar.deadline(forwarded_at, 2)),
            "the decision deadline counts from forwarding"
        );
        assert_eq!(
            r.approve("rev", &roles(&[OfficerRole::Reviewer]), None, t0()),
            Err(RequestError::WrongRole(OfficerRole::Supervisor))
        );
        let steps = r.approve("sup", &roles(&[OfficerRole::Supervisor]), None, forwarded_at).unwrap();
        assert_eq!(
            steps.iter().map(|s| s.status).collect::<Vec<_>>(),
            vec![RequestStatus::Approved, RequestStatus::Effective]
        );
        assert_eq!(r.status, RequestStatus::Effective);
        assert_eq!(r.deadline, None);
        assert_eq!(r.cancel(&r.requester.clone(), t0()), Err(RequestError::WrongStatus(RequestStatus::Effective)));
    }

    #[test]
    fn a_refusal_needs_reasons() {
        let calendar = WorkingCalendar::default();
        let mut r = court_request();
        r.forward("rev", &roles(&[OfficerRole::Reviewer]), None, t0(), &calendar).unwrap();
        assert_eq!(r.reject("sup", &roles(&[OfficerRole::Supervisor]), "  ", t0()), Err(RequestError::ReasonsRequired));
        r.reject("sup", &roles(&[OfficerRole::Supervisor]), "Căn cứ pháp lý không hợp lệ / invalid legal basis", t0())
            .unwrap();
        assert_eq!(r.status, RequestStatus::Rejected);
        assert!(r.decision_reason.is_some());
    }

    #[test]
    fn only_the_requester_cancels_and_only_while_pending() {
        let mut r = court_request();
        let bank = Party::Organization { organization_id: "bank".into(), kind: OrganizationKind::RelyingParty };
        assert_eq!(r.cancel(&bank, t0()), Err(RequestError::NotTheRequester));
        let requester = r.requester.clone();
        r.cancel(&requester, t0()).unwrap();
        assert_eq!(r.status, RequestStatus::Cancelled);
    }

    #[test]
    fn four_eyes_needs_another_supervisor() {
        let new = NewRequest {
            kind: RequestKind::Unlock,
            subject: Subject::Account(AccountId::new("acc".into())),
            ground: Ground::AuthorityRequest,
            lock_id: Some("l1".into()),
            requester: Party::Officer { officer_id: "sup-a".into() },
            route: crate::authority::OVERRIDE_ROUTE,
            is_override: true,
            legal_basis: None,
            reason: "court order annulled".into(),
            reference: None,
            lock_ends_at: None,
            in_person_check: None,
        };
        let (mut r, _) =
            Request::receive(new, "r2".into(), TrackingCode::from_random(9), t0(), &WorkingCalendar::default());
        let sup = roles(&[OfficerRole::Supervisor]);
        assert_eq!(r.approve("sup-a", &sup, None, t0()), Err(RequestError::SameOfficer));
        r.approve("sup-b", &sup, None, t0()).unwrap();
        assert_eq!(r.status, RequestStatus::Effective);
    }

    #[test]
    fn overdue_means_past_the_deadline_and_still_open() {
        let r = court_request();
        let deadline = r.deadline.unwrap();
        assert!(!r.is_overdue(deadline));
        assert!(r.is_overdue(deadline + Duration::milliseconds(1)));
    }

    #[test]
    fn the_officer_who_forwarded_cannot_decide_even_with_both_roles() {
        let calendar = WorkingCalendar::default();
        let both = roles(&[OfficerRole::Reviewer, OfficerRole::Supervisor]);
        let mut r = court_request();
        r.forward("minh", &both, None, t0(), &calendar).unwrap();
        assert_eq!(r.approve("minh", &both, None, t0()), Err(RequestError::ForwarderCannotDecide));
        assert_eq!(r.reject("minh", &both, "không đủ căn cứ", t0()), Err(RequestError::ForwarderCannotDecide));
        assert_eq!(r.claim("minh", &both, t0()), Err(RequestError::ForwarderCannotDecide));
        assert_eq!(r.status, RequestStatus::Verifying, "nothing changed");
        r.approve("lan", &roles(&[OfficerRole::Supervisor]), None, t0()).unwrap();
        assert_eq!(r.decided_by.as_deref(), Some("lan"));
    }

    #[test]
    fn a_claim_is_the_officers_until_released_or_expired() {
        let calendar = WorkingCalendar::default();
        let reviewer = roles(&[OfficerRole::Reviewer]);
        let mut r = court_request();
        r.claim("an", &reviewer, t0()).unwrap();
        assert_eq!(r.claim("binh", &reviewer, t0()), Err(RequestError::ClaimedByAnother));
        assert_eq!(r.forward("binh", &reviewer, None, t0(), &calendar), Err(RequestError::ClaimedByAnother));
        assert_eq!(r.release("binh", t0()), Err(RequestError::NotTheClaimant));
        r.release("an", t0()).unwrap();
        r.claim("binh", &reviewer, t0()).unwrap();
        let later = t0() + Duration::hours(CLAIM_HOURS) - Duration::seconds(1);
        assert_eq!(r.forward("an", &reviewer, None, later, &calendar), Err(RequestError::ClaimedByAnother));
        let expired = t0() + Duration::hours(CLAIM_HOURS);
        r.forward("an", &reviewer, None, expired, &calendar).unwrap();
        assert_eq!((r.forwarded_by.as_deref(), r.claimed_by.as_deref()), (Some("an"), None));
    }

    #[test]
    fn a_holders_own_unlock_filed_at_level_1_is_approved_only_with_an_in_person_check() {
        use crate::authority::{IN_PERSON_CHECK_ROUTE, LiftRequester, lifting};
        let holder = AccountId::new("acc".into());
        let lock = Lock {
            id: "l1".into(),
            account_id: holder.clone(),
            ground: Ground::HolderRequest,
            placed_by: Party::Holder { account_id: holder.clone() },
            legal_basis: None,
            reference: None,
            reason: String::new(),
            effective_at: t0(),
            ends_at: None,
            request_id: None,
            lifted: None,
        };
        let route = lifting(&LiftRequester::Holder { account_id: holder.clone(), strong_proof: false }, &lock, true)
            .unwrap()
            .route;
        assert_eq!(route, IN_PERSON_CHECK_ROUTE);
        let new = NewRequest {
            kind: RequestKind::Unlock,
            subject: Subject::Account(holder.clone()),
            ground: Ground::HolderRequest,
            lock_id: Some(lock.id.clone()),
            requester: Party::Holder { account_id: holder },
            route,
            is_override: false,
            legal_basis: None,
            reason: "tìm lại được điện thoại / found my phone".into(),
            reference: None,
            lock_ends_at: None,
            in_person_check: None,
        };
        let (mut r, _) =
            Request::receive(new, "r1".into(), TrackingCode::from_random(8), t0(), &WorkingCalendar::default());
        assert_eq!(r.status, RequestStatus::Received, "never at once");
        assert!(r.awaits_in_person_check());
        let reviewer = roles(&[OfficerRole::Reviewer]);
        assert_eq!(r.approve("rev", &reviewer, None, t0()), Err(RequestError::InPersonCheckRequired));
        assert_eq!(r.status, RequestStatus::Received, "a refused approval changes nothing");
        r.in_person_check = Some(InPersonCheck {
            document_kind: "cccd".into(),
            document_number: "001190123456".into(),
            office: "Công an phường Điện Biên".into(),
        });
        assert!(!r.awaits_in_person_check());
        r.approve("rev", &reviewer, None, t0()).unwrap();
        assert_eq!(r.status, RequestStatus::Effective);
    }

    #[test]
    fn an_in_person_check_shows_only_the_last_digits_to_the_audit_log() {
        let check = InPersonCheck {
            document_kind: "cccd".into(),
            document_number: "001190123456".into(),
            office: "Công an quận Ba Đình".into(),
        };
        assert_eq!(check.masked_number(), "•••••••••456");
    }
}
