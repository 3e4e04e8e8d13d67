//! Organizations: the operator and its units, prosecuting agencies, competent authorities and relying parties.
//! Each has a code, a kind, an optional parent (a unit of a larger body), a status and contact channels.

use chrono::{DateTime, Utc};
use thiserror::Error;

use crate::actor::{OrganizationKind, OrganizationStatus};
use crate::contact::{Email, PhoneNumber};

#[derive(Debug, Clone)]
pub struct Organization {
    pub id: String,
    /// A short unique code, e.g. `C06` or `VCB`: upper-case letters, digits, `-` and `_`.
    pub code: String,
    pub name: String,
    pub kind: OrganizationKind,
    pub parent_id: Option<String>,
    pub status: OrganizationStatus,
    pub contact_email: Option<Email>,
    pub contact_phone: Option<PhoneNumber>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum OrganizationError {
    #[error("the code must be 2 to 32 upper-case letters, digits, '-' or '_'")]
    Code,
    #[error("the name must not be empty or longer than 300 characters")]
    Name,
    #[error("a unit must have the same kind as its parent organization")]
    ParentKind,
    #[error("an organization cannot be its own parent or ancestor")]
    ParentCycle,
}

pub fn parse_code(code: &str) -> Result<String, OrganizationError> {
    let code = code.trim().to_uppercase();
    if (2..=32).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        Ok(code)
    } else {
        Err(OrganizationError::Code)
    }
}

pub fn parse_name(name: &str) -> Result<String, OrganizationError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 300 { Err(OrganizationError::Name) } else { Ok(name.to_owned()) }
}

/// A unit belongs to a body of its own kind (a provincial police unit under the operator, a district court
/// under a provincial court).
pub fn check_parent(kind: OrganizationKind, parent_kind: OrganizationKind) -> Result<(), OrganizationError> {
    if kind == parent_kind { Ok(()) } else { Err(OrganizationError::ParentKind) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_upper_cased_and_checked() {
        assert_eq!(parse_code(" vcb "), Ok("VCB".into()));
        assert_eq!(parse_code("C06-HN"), Ok("C06-HN".into()));
        assert_eq!(parse_code("a"), Err(OrganizationError::Code));
        assert_eq!(parse_code("ngân hàng"), Err(OrganizationError::Code));
    }

    #[test]
    fn units_share_their_parent_kind() {
        assert!(check_parent(OrganizationKind::Operator, OrganizationKind::Operator).is_ok());
        assert_eq!(
            check_parent(OrganizationKind::RelyingParty, OrganizationKind::Operator),
            Err(OrganizationError::ParentKind)
        );
    }
}
