//! Who may do what: the one table the server consults for every request (domain.md "Actors"). Each [`Rule`]
//! names an action, the actors allowed to perform it, the scope an organization's token must carry, and where
//! the rule comes from. Anything not in the table is denied. Lock-specific questions (which ground, whose
//! lock) are decided by the lock authority table on top of this one.

use crate::actor::{Actor, OfficerRole, OrganizationKind, Scope};

macro_rules! actions {
    ($($variant:ident => $text:literal),* $(,)?) => {
        /// Everything an actor can ask dinhdanh to do.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Action {
            $($variant),*
        }

        impl Action {
            pub const ALL: &'static [Action] = &[$(Action::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $(Action::$variant => $text),*
                }
            }
        }
    };
}

actions! {
    OrganizationsRead => "organizations.read",
    OrganizationsManage => "organizations.manage",
    ClientsManage => "clients.manage",
    OfficersRead => "officers.read",
    OfficersManage => "officers.manage",
    AuditRead => "audit.read",
    OwnOfficerRead => "officers.me.read",
    OfficerSignOut => "officers.sign_out",
    OwnClientRead => "clients.me.read",
    OwnAccountRead => "holders.me.read",
    HolderSignOut => "holders.sign_out",
    OwnSignInsRead => "holders.me.sign_ins.read",
    OwnConsentsManage => "holders.me.consents.manage",
    BiometricSignIn => "holders.sign_in.biometric",
    UpgradeOwnLevel => "holders.me.level.upgrade",
    AccountStatusRead => "accounts.status.read",
    LocksRead => "locks.read",
    LockOwnAccount => "locks.own.place",
    RequestOwnUnlock => "locks.own.lift.request",
    RequestLock => "locks.request",
    RequestUnlock => "locks.lift.request",
    RequestsList => "requests.list",
    RequestsRead => "requests.read",
    RequestsCancel => "requests.cancel",
    BulkResultsRead => "bulk.results.read",
    WorkQueue => "requests.queue.work",
    ForwardRequest => "requests.forward",
    DecideRequest => "requests.decide",
    PlaceLockAsOfficer => "locks.officer.place",
    UpgradeLevelInPerson => "accounts.level.upgrade_in_person",
    LowerLevel => "accounts.level.lower",
    ManageEventStream => "ssf.streams.manage",
    ReceiveEvents => "ssf.events.receive",
    EventDeadLetters => "ssf.dead_letters.manage",
}

/// A kind of actor a rule can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// A holder in an ordinary session.
    Holder,
    /// A holder in a `restore_only` session, opened while the account was locked: it may follow the locks and
    /// requests of its own account, ask for a lift and sign out, and nothing else (holder-sign-in.md).
    RestoringHolder,
    Officer(OfficerRole),
    Organization(OrganizationKind),
    System,
}

#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub action: Action,
    pub who: &'static [Who],
    /// The scope an organization's token needs for this action (officers and holders have no scopes).
    pub scope: Option<Scope>,
    pub source: &'static str,
    pub summary: &'static str,
}

use OfficerRole::{Administrator, Reviewer, Supervisor};
use OrganizationKind::{CompetentAuthority, ProsecutingAgency, RelyingParty};

const THIRD_PARTIES: [Who; 3] =
    [Who::Organization(ProsecutingAgency), Who::Organization(CompetentAuthority), Who::Organization(RelyingParty)];
const ANY_OFFICER: [Who; 3] = [Who::Officer(Administrator), Who::Officer(Supervisor), Who::Officer(Reviewer)];
const ANY_ORGANIZATION: [Who; 4] = [
    Who::Organization(OrganizationKind::Operator),
    Who::Organization(ProsecutingAgency),
    Who::Organization(CompetentAuthority),
    Who::Organization(RelyingParty),
];
/// Who takes part in requests: the holders they concern (restore sessions included), the organizations that file
/// them and the officers who work them. Not the administrator role, which manages who exists, not locks.
const REQUEST_PARTIES: [Who; 7] = [
    Who::Holder,
    Who::RestoringHolder,
    Who::Officer(Reviewer),
    Who::Officer(Supervisor),
    Who::Organization(ProsecutingAgency),
    Who::Organization(CompetentAuthority),
    Who::Organization(RelyingParty),
];

/// The table. One row per action; the server asks [`authorize`], never re-decides.
pub const RULES: &[Rule] = &[
    Rule {
        action: Action::OrganizationsRead,
        who: &[Who::Officer(Administrator), Who::Officer(Supervisor), Who::Officer(Reviewer)],
        scope: None,
        source: "domain.md Actors",
        summary: "Officers see the organizations that file requests.",
    },
    Rule {
        action: Action::OrganizationsManage,
        who: &[Who::Officer(Administrator)],
        scope: None,
        source: "domain.md Actors (administrator)",
        summary: "Administrators register, change, suspend and reinstate organizations.",
    },
    Rule {
        action: Action::ClientsManage,
        who: &[Who::Officer(Administrator)],
        scope: None,
        source: "domain.md Actors (administrator)",
        summary: "Administrators register organizations' API clients, rotate their keys and secrets, revoke them.",
    },
    Rule {
        action: Action::OfficersRead,
        who: &[Who::Officer(Administrator), Who::Officer(Supervisor)],
        scope: None,
        source: "domain.md Actors",
        summary: "Administrators and supervisors see who the officers are.",
    },
    Rule {
        action: Action::OfficersManage,
        who: &[Who::Officer(Administrator)],
        scope: None,
        source: "domain.md Actors (administrator)",
        summary: "Administrators create officers, change their roles, disable them.",
    },
    Rule {
        action: Action::AuditRead,
        who: &[Who::Officer(Supervisor), Who::Officer(Administrator)],
        scope: None,
        source: "domain.md Audit",
        summary: "Supervisors and administrators read the audit log.",
    },
    Rule {
        action: Action::OwnOfficerRead,
        who: &ANY_OFFICER,
        scope: None,
        source: "domain.md Actors",
        summary: "An officer reads their own profile and roles.",
    },
    Rule {
        action: Action::OfficerSignOut,
        who: &ANY_OFFICER,
        scope: None,
        source: "domain.md Actors",
        summary: "An officer ends their own session.",
    },
    Rule {
        action: Action::OwnClientRead,
        who: &ANY_ORGANIZATION,
        scope: None,
        source: "domain.md Actors",
        summary: "An organization's API client reads what its own token proves (client, organization, scopes).",
    },
    Rule {
        action: Action::OwnAccountRead,
        who: &[Who::Holder, Who::RestoringHolder],
        scope: None,
        source: "QĐ 34/2021 Art. 11; NĐ 69/2024 Art. 30",
        summary: "A holder reads their own account and the locks in force on it, in a restore session too.",
    },
    Rule {
        action: Action::OwnSignInsRead,
        who: &[Who::Holder],
        scope: None,
        source: "NĐ 69/2024 Art. 28; domain.md Audit",
        summary: "A holder lists the relying parties they signed in to, and when (not in a restore session).",
    },
    Rule {
        action: Action::OwnConsentsManage,
        who: &[Who::Holder],
        scope: None,
        source: "issue 14 §4; domain.md Audit",
        summary: "A holder lists the consents they gave relying parties and withdraws one, ending what it covered.",
    },
    Rule {
        action: Action::BiometricSignIn,
        who: &[Who::Holder, Who::RestoringHolder],
        scope: None,
        source: "QĐ 34/2021 Art. 7; domain.md Assurance of a sign-in",
        summary: "A signed-in holder adds a fingerprint or portrait match to their sign-in, which then proves Level 2 if the account is Level 2; in a restore session too, so that a Level 2 holder can lift their own lock.",
    },
    Rule {
        action: Action::UpgradeOwnLevel,
        who: &[Who::Holder],
        scope: None,
        source: "QĐ 34/2021 Art. 7",
        summary: "A Level 1 holder becomes Level 2 online with a fingerprint or portrait that matches the registry's (3 tries a day; never while locked).",
    },
    Rule {
        action: Action::HolderSignOut,
        who: &[Who::Holder, Who::RestoringHolder],
        scope: None,
        source: "domain.md Actors",
        summary: "A holder ends their own session.",
    },
    Rule {
        action: Action::AccountStatusRead,
        who: &[
            Who::Holder,
            Who::Officer(Reviewer),
            Who::Officer(Supervisor),
            Who::Organization(ProsecutingAgency),
            Who::Organization(CompetentAuthority),
            Who::Organization(RelyingParty),
        ],
        scope: Some(Scope::AccountsStatus),
        source: "domain.md Effect of a lock",
        summary: "Holders see their own account; reviewers, supervisors and organizations with accounts:status see whether an account is usable.",
    },
    Rule {
        action: Action::LocksRead,
        who: &[Who::Holder, Who::RestoringHolder, Who::Officer(Reviewer), Who::Officer(Supervisor)],
        scope: None,
        source: "domain.md Audit",
        summary: "A holder sees every lock and lift on their own account, reviewers and supervisors on any; organizations learn only whether an account is usable.",
    },
    Rule {
        action: Action::LockOwnAccount,
        who: &[Who::Holder],
        scope: None,
        source: "QĐ 34/2021 Art. 10.1",
        summary: "A holder locks their own account at once.",
    },
    Rule {
        action: Action::RequestOwnUnlock,
        who: &[Who::Holder, Who::RestoringHolder],
        scope: None,
        source: "QĐ 34/2021 Art. 11; NĐ 69/2024 Art. 30",
        summary: "A holder asks to lift a lock on their own account, from a restore session too; which locks, and with what proof, the lock authority table says.",
    },
    Rule {
        action: Action::RequestLock,
        who: &THIRD_PARTIES,
        scope: Some(Scope::LocksRequest),
        source: "QĐ 34/2021 Art. 10.2; NĐ 59/2022 Art. 19",
        summary: "Prosecuting agencies, competent authorities and relying parties request a lock with a legal basis.",
    },
    Rule {
        action: Action::RequestUnlock,
        who: &THIRD_PARTIES,
        scope: Some(Scope::LocksLift),
        source: "QĐ 34/2021 Art. 11.2",
        summary: "The organization that asked for a lock asks for it to be lifted.",
    },
    Rule {
        action: Action::RequestsList,
        who: &REQUEST_PARTIES,
        scope: None,
        source: "domain.md Requests; NĐ 69/2024 Art. 30",
        summary: "Reviewers and supervisors list the queue; holders list the requests about their account, organizations the ones they filed.",
    },
    Rule {
        action: Action::RequestsRead,
        who: &REQUEST_PARTIES,
        scope: None,
        source: "domain.md Requests",
        summary: "Reviewers and supervisors read any request with its steps; holders the requests about their account, organizations the ones they filed (any other answers 404).",
    },
    Rule {
        action: Action::RequestsCancel,
        who: &[
            Who::Holder,
            Who::Officer(Reviewer),
            Who::Officer(Supervisor),
            Who::Organization(ProsecutingAgency),
            Who::Organization(CompetentAuthority),
            Who::Organization(RelyingParty),
        ],
        scope: None,
        source: "domain.md Requests",
        summary: "The requester withdraws a pending request of their own (any other answers 404).",
    },
    Rule {
        action: Action::BulkResultsRead,
        who: &[
            Who::Officer(Reviewer),
            Who::Officer(Supervisor),
            Who::Organization(ProsecutingAgency),
            Who::Organization(CompetentAuthority),
            Who::Organization(RelyingParty),
        ],
        scope: None,
        source: "NĐ 59/2022 Art. 19; domain.md Requests",
        summary: "A bulk lock order and its per-account results: the organization that filed it, reviewers and supervisors.",
    },
    Rule {
        action: Action::WorkQueue,
        who: &[Who::Officer(Reviewer), Who::Officer(Supervisor)],
        scope: None,
        source: "NĐ 69/2024 Art. 29–30",
        summary: "Reviewers and supervisors work the queue (claim, verify, forward, decide); which role takes which step, the request's route says (the two actions below).",
    },
    Rule {
        action: Action::ForwardRequest,
        who: &[Who::Officer(Reviewer)],
        scope: None,
        source: "NĐ 69/2024 Art. 29–30",
        summary: "A reviewer verifies a request and forwards it (within 1 working day).",
    },
    Rule {
        action: Action::DecideRequest,
        who: &[Who::Officer(Supervisor)],
        scope: None,
        source: "NĐ 59/2022 Art. 19; NĐ 69/2024 Art. 30",
        summary: "A supervisor approves or refuses a forwarded request (within 2 working days), with reasons.",
    },
    Rule {
        action: Action::PlaceLockAsOfficer,
        who: &[Who::Officer(Reviewer)],
        scope: None,
        source: "QĐ 34/2021 Art. 10.3; NĐ 69/2024 Art. 30",
        summary: "A reviewer places a terms-violation lock with the evidence, or files a holder's own lock or unlock after checking the holder in person; which grounds, the lock authority table says.",
    },
    Rule {
        action: Action::UpgradeLevelInPerson,
        who: &[Who::Officer(Reviewer)],
        scope: None,
        source: "QĐ 34/2021 Art. 7",
        summary: "A reviewer at an office checks the holder's identity document, captures a fingerprint or portrait that matches the registry's, and so raises the account to Level 2.",
    },
    Rule {
        action: Action::LowerLevel,
        who: &[Who::Officer(Reviewer), Who::Officer(Supervisor)],
        scope: None,
        source: "QĐ 34/2021 Art. 7; issue 16",
        summary: "A reviewer or supervisor lowers a Level 2 account to Level 1 with a reason (its biometrics no longer match the registry's); its Level 2 sessions end.",
    },
    Rule {
        action: Action::ManageEventStream,
        who: &[Who::Organization(RelyingParty)],
        scope: Some(Scope::SsfStreams),
        source: "issue 17; OpenID SSF 1.0 §8",
        summary: "A relying party creates, reads, changes and deletes its own Shared Signals stream, and sets its status; no one sees another's.",
    },
    Rule {
        action: Action::ReceiveEvents,
        who: &[Who::Organization(RelyingParty)],
        scope: Some(Scope::SsfStreams),
        source: "issue 17; RFC 8936",
        summary: "A relying party polls its own stream's events and acknowledges them.",
    },
    Rule {
        action: Action::EventDeadLetters,
        who: &[Who::Officer(Administrator)],
        scope: None,
        source: "issue 17 §3",
        summary: "Administrators, who register relying parties and their clients, see the events a receiver refused or never took, and send one again.",
    },
];

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// Nobody proved who they are.
    NotAuthenticated,
    /// This kind of actor, or these roles, may not do it.
    NotPermitted,
    /// The organization may, but its token lacks the scope.
    MissingScope(Scope),
}

pub fn rule(action: Action) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.action == action)
}

/// Decides whether `actor` may perform `action`.
pub fn authorize(actor: &Actor, action: Action) -> Result<(), Denied> {
    let Some(rule) = rule(action) else { return Err(Denied::NotPermitted) };
    let allowed = match actor {
        Actor::Anonymous => return Err(Denied::NotAuthenticated),
        Actor::Holder { restore_only: false, .. } => rule.who.contains(&Who::Holder),
        Actor::Holder { restore_only: true, .. } => rule.who.contains(&Who::RestoringHolder),
        Actor::System => rule.who.contains(&Who::System),
        Actor::Officer { roles, .. } => roles.iter().any(|role| rule.who.contains(&Who::Officer(*role))),
        Actor::Organization { kind, scopes, .. } => {
            if !rule.who.contains(&Who::Organization(*kind)) {
                false
            } else if let Some(scope) = rule.scope.filter(|s| !scopes.contains(s)) {
                return Err(Denied::MissingScope(scope));
            } else {
                true
            }
        }
    };
    if allowed { Ok(()) } else { Err(Denied::NotPermitted) }
}

/// The table as Markdown, for the docs (`docs/authorization.md` is generated from it and checked by a test).
pub fn render_markdown() -> String {
    let mut out =
        String::from("| action | who may | scope (organizations) | source | what it means |\n|---|---|---|---|---|\n");
    for rule in RULES {
        let who: Vec<String> = rule
            .who
            .iter()
            .map(|w| match w {
                Who::Holder => "holder".to_owned(),
                Who::RestoringHolder => "holder (restore session)".to_owned(),
                Who::Officer(role) => format!("officer: {role}"),
                Who::Organization(kind) => format!("organization: {kind}"),
                Who::System => "system".to_owned(),
            })
            .collect();
        out.push_str(&format!(
            "| `{}` | {} | {} | {} | {} |\n",
            rule.action.as_str(),
            who.join(", "),
            rule.scope.map(|s| format!("`{}`", s.as_str())).unwrap_or_else(|| "—".to_owned()),
            rule.source,
            rule.summary
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    //! The table walked exhaustively: every actor kind × role (or organization kind × scopes) × action, each
    //! outcome compared with the intent domain.md states, written here as independent predicates.
    use std::collections::BTreeSet;

    use super::*;
    use crate::account::AccountId;

    fn actors() -> Vec<Actor> {
        let mut all = vec![
            Actor::Anonymous,
            Actor::System,
            Actor::Holder {
                account_id: AccountId::new("a".into()),
                assurance: crate::account::Level::One,
                restore_only: false,
            },
            Actor::Holder {
                account_id: AccountId::new("a".into()),
                assurance: crate::account::Level::Two,
                restore_only: true,
            },
        ];
        for role in OfficerRole::ALL {
            all.push(Actor::Officer {
                officer_id: "o".into(),
                organization_id: "op".into(),
                roles: BTreeSet::from([*role]),
            });
        }
        all.push(Actor::Officer { officer_id: "o".into(), organization_id: "op".into(), roles: BTreeSet::new() });
        for kind in OrganizationKind::ALL {
            for scopes in [BTreeSet::new(), Scope::ALL.iter().copied().collect()] {
                all.push(Actor::Organization {
                    organization_id: "org".into(),
                    kind: *kind,
                    client_id: "c".into(),
                    scopes,
                });
            }
        }
        all
    }

    /// The intent, action by action, as domain.md words it.
    fn intended(actor: &Actor, action: Action) -> Result<(), Denied> {
        use Action::*;
        let officer_has = |role: OfficerRole| matches!(actor, Actor::Officer { roles, .. } if roles.contains(&role));
        let is_officer = matches!(actor, Actor::Officer { roles, .. } if !roles.is_empty());
        let holder = matches!(actor, Actor::Holder { restore_only: false, .. });
        let restoring = matches!(actor, Actor::Holder { restore_only: true, .. });
        let works_requests = officer_has(OfficerRole::Reviewer) || officer_has(OfficerRole::Supervisor);
        let third_party = matches!(actor, Actor::Organization { kind, .. } if *kind != OrganizationKind::Operator);
        let third_party_with = |scope: Scope| match actor {
            Actor::Organization { kind, scopes, .. } if *kind != OrganizationKind::Operator => {
                if scopes.contains(&scope) { Ok(()) } else { Err(Denied::MissingScope(scope)) }
            }
            _ => Err(Denied::NotPermitted),
        };
        let yes = |b: bool| if b { Ok(()) } else { Err(Denied::NotPermitted) };
        if *actor == Actor::Anonymous {
            return Err(Denied::NotAuthenticated);
        }
        // A restore session follows its own account's locks and requests, asks for a lift (proving Level 2 with a
        // biometric sign-in first, if it can), signs out: no more.
        if restoring {
            return yes(matches!(
                action,
                OwnAccountRead
                    | HolderSignOut
                    | LocksRead
                    | RequestsList
                    | RequestsRead
                    | RequestOwnUnlock
                    | BiometricSignIn
            ));
        }
        match action {
            // The administrator role has no power over locks, only over who exists.
            OrganizationsManage | ClientsManage | OfficersManage | EventDeadLetters => {
                yes(officer_has(OfficerRole::Administrator))
            }
            OrganizationsRead => yes(is_officer),
            OfficersRead | AuditRead => {
                yes(officer_has(OfficerRole::Administrator) || officer_has(OfficerRole::Supervisor))
            }
            OwnOfficerRead | OfficerSignOut => yes(is_officer),
            OwnClientRead => yes(matches!(actor, Actor::Organization { .. })),
            OwnAccountRead | HolderSignOut | LockOwnAccount | RequestOwnUnlock | OwnSignInsRead | OwnConsentsManage
            | BiometricSignIn | UpgradeOwnLevel => yes(holder),
            RequestsList | RequestsRead | RequestsCancel => yes(holder || third_party || works_requests),
            BulkResultsRead => yes(third_party || works_requests),
            WorkQueue => yes(works_requests),
            AccountStatusRead => match actor {
                Actor::Organization { .. } => third_party_with(Scope::AccountsStatus),
                Actor::Holder { .. } => Ok(()),
                _ => yes(officer_has(OfficerRole::Reviewer) || officer_has(OfficerRole::Supervisor)),
            },
            LocksRead => match actor {
                Actor::Holder { .. } => Ok(()),
                _ => yes(officer_has(OfficerRole::Reviewer) || officer_has(OfficerRole::Supervisor)),
            },
            RequestLock => third_party_with(Scope::LocksRequest),
            RequestUnlock => third_party_with(Scope::LocksLift),
            ForwardRequest | PlaceLockAsOfficer | UpgradeLevelInPerson => yes(officer_has(OfficerRole::Reviewer)),
            DecideRequest => yes(officer_has(OfficerRole::Supervisor)),
            LowerLevel => yes(officer_has(OfficerRole::Reviewer) || officer_has(OfficerRole::Supervisor)),
            ManageEventStream | ReceiveEvents => match actor {
                Actor::Organization { kind: OrganizationKind::RelyingParty, .. } => third_party_with(Scope::SsfStreams),
                _ => Err(Denied::NotPermitted),
            },
        }
    }

    #[test]
    fn every_actor_and_action_gets_the_intended_answer() {
        let mut checked = 0;
        for actor in actors() {
            for action in Action::ALL {
                assert_eq!(authorize(&actor, *action), intended(&actor, *action), "{actor:?} × {action:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, actors().len() * Action::ALL.len());
        assert!(checked >= 400, "{checked}");
    }

    #[test]
    fn every_action_has_exactly_one_rule() {
        for action in Action::ALL {
            assert_eq!(RULES.iter().filter(|r| r.action == *action).count(), 1, "{action:?}");
        }
    }

    #[test]
    fn a_restore_session_follows_its_locks_proves_level_2_asks_for_a_lift_and_signs_out_and_nothing_else() {
        let restoring = Actor::Holder {
            account_id: AccountId::new("a".into()),
            assurance: crate::account::Level::Two,
            restore_only: true,
        };
        let allowed: Vec<&str> =
            Action::ALL.iter().filter(|a| authorize(&restoring, **a).is_ok()).map(|a| a.as_str()).collect();
        assert_eq!(
            allowed,
            [
                "holders.me.read",
                "holders.sign_out",
                "holders.sign_in.biometric",
                "locks.read",
                "locks.own.lift.request",
                "requests.list",
                "requests.read"
            ]
        );
    }

    #[test]
    fn the_administrator_role_reads_no_request_and_no_lock() {
        let admin = Actor::Officer {
            officer_id: "o".into(),
            organization_id: "op".into(),
            roles: BTreeSet::from([OfficerRole::Administrator]),
        };
        for action in [
            Action::RequestsList,
            Action::RequestsRead,
            Action::RequestsCancel,
            Action::BulkResultsRead,
            Action::LocksRead,
            Action::WorkQueue,
        ] {
            assert_eq!(authorize(&admin, action), Err(Denied::NotPermitted), "{action:?}");
        }
    }

    #[test]
    fn an_officer_with_several_roles_has_the_union() {
        let both = Actor::Officer {
            officer_id: "o".into(),
            organization_id: "op".into(),
            roles: BTreeSet::from([OfficerRole::Reviewer, OfficerRole::Administrator]),
        };
        assert_eq!(authorize(&both, Action::ForwardRequest), Ok(()));
        assert_eq!(authorize(&both, Action::OfficersManage), Ok(()));
        assert_eq!(authorize(&both, Action::DecideRequest), Err(Denied::NotPermitted));
    }

    #[test]
    fn the_rendered_table_names_every_action() {
        let md = render_markdown();
        for action in Action::ALL {
            assert!(md.contains(action.as_str()));
        }
    }
}
