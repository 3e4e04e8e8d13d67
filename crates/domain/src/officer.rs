//! The operator's officers: who they are, their roles, and the state of their credentials. Officers sign in
//! with a password and a TOTP code (authentication assurance level 2).

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use crate::actor::OfficerRole;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OfficerStatus {
    /// Created; waits for the officer to set a password and enrol an authenticator.
    PendingEnrolment,
    Active,
    Disabled,
}

impl OfficerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PendingEnrolment => "pending_enrolment",
            Self::Active => "active",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending_enrolment" => Some(Self::PendingEnrolment),
            "active" => Some(Self::Active),
            "disabled" => Some(Self::Disabled),
            _ => None,
        }
    }
}

#[derive(Clone)]
pub struct Officer {
    pub id: String,
    pub username: String,
    pub full_name: String,
    /// The operator unit the officer works in.
    pub organization_id: String,
    pub roles: BTreeSet<OfficerRole>,
    pub status: OfficerStatus,
    pub password_hash: Option<String>,
    /// Base32 TOTP secret (RFC 6238).
    pub totp_secret: Option<String>,
    /// The last TOTP time step accepted: a code of that step or earlier is never accepted again.
    pub totp_last_step: Option<i64>,
    pub enrolment_token_hash: Option<String>,
    pub enrolment_expires_at: Option<DateTime<Utc>>,
    pub failed_sign_ins: i64,
    pub locked_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Secrets stay out of debug output.
impl std::fmt::Debug for Officer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Officer")
            .field("id", &self.id)
            .field("organization_id", &self.organization_id)
            .field("roles", &self.roles)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

pub fn format_roles(roles: &BTreeSet<OfficerRole>) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(" ")
}

pub fn parse_roles(list: &str) -> Result<BTreeSet<OfficerRole>, String> {
    list.split([' ', ','])
        .filter(|s| !s.is_empty())
        .map(|s| OfficerRole::parse(s).ok_or_else(|| s.to_owned()))
        .collect()
}
