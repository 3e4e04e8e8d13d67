//! Who can act in dinhdanh (domain.md "Actors"): holders, the operator's officers by role, organizations by
//! kind acting through their API clients with scopes, and the system itself. An [`Actor`] is built by the
//! server once it has proved who is asking; what that actor may do is decided in [`crate::authorization`].

use std::collections::BTreeSet;

use crate::account::{AccountId, Level};

string_enum! {
    /// The kinds of organization of domain.md.
    OrganizationKind {
        Operator => "operator",
        ProsecutingAgency => "prosecuting_agency",
        CompetentAuthority => "competent_authority",
        RelyingParty => "relying_party",
    }
}

string_enum! {
    /// An operator officer's roles; an officer may hold several.
    OfficerRole {
        Reviewer => "reviewer",
        Supervisor => "supervisor",
        Administrator => "administrator",
    }
}

string_enum! {
    /// What an organization's API client may ask for; every token carries a subset of its client's scopes.
    Scope {
        LocksRequest => "locks:request",
        LocksLift => "locks:lift",
        AccountsStatus => "accounts:status",
        /// A relying party manages its Shared Signals stream (issue 17, docs/events.md).
        SsfStreams => "ssf:streams",
    }
}

string_enum! {
    /// A suspended organization can do nothing: its clients get no tokens and its tokens stop working.
    OrganizationStatus {
        Active => "active",
        Suspended => "suspended",
    }
}

/// Parses a space-separated scope list (OAuth 2.0 `scope`); unknown scopes are returned as the error.
pub fn parse_scopes(list: &str) -> Result<BTreeSet<Scope>, String> {
    list.split_whitespace().map(|s| Scope::parse(s).ok_or_else(|| s.to_owned())).collect()
}

pub fn format_scopes(scopes: &BTreeSet<Scope>) -> String {
    scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(" ")
}

/// A proven actor, as the server knows it for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// Nobody has proved anything (public endpoints).
    Anonymous,
    /// The holder of an e-ID account, signed in. `assurance` is what this session's own sign-in proved (see
    /// [`crate::SignInProof`]), never copied from the account's level; `restore_only` for a session opened while
    /// the account was locked, which serves only to follow the locks and ask for a lift (never to sign in to
    /// relying parties).
    Holder { account_id: AccountId, assurance: Level, restore_only: bool },
    /// An officer of the operator, signed in with password and TOTP.
    Officer { officer_id: String, organization_id: String, roles: BTreeSet<OfficerRole> },
    /// An organization acting through one of its API clients with an access token.
    Organization { organization_id: String, kind: OrganizationKind, client_id: String, scopes: BTreeSet<Scope> },
    /// dinhdanh itself (automatic locks, clean-ups).
    System,
}

impl Actor {
    /// The actor's short, non-personal name for the audit log.
    pub fn audit_name(&self) -> String {
        match self {
            Actor::Anonymous => "anonymous".to_owned(),
            Actor::Holder { account_id, .. } => format!("holder:{account_id}"),
            Actor::Officer { officer_id, .. } => format!("officer:{officer_id}"),
            Actor::Organization { organization_id, client_id, .. } => {
                format!("organization:{organization_id}/client:{client_id}")
            }
            Actor::System => "system".to_owned(),
        }
    }
}
