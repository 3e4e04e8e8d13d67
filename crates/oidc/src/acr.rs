//! Levels of assurance as OpenID Connect `acr` values (domain.md "Levels", "Assurance of a sign-in"): the URI of
//! each [`Level`], what a relying party asked for (`acr_values`, or an `acr` member of the `claims` parameter),
//! whether a sign-in's own assurance satisfies it, and whether a sign-in is fresh enough for `max_age` and
//! `prompt=login`. The assurance given here is always that of the sign-in ([`dinhdanh_domain::SignInProof`]),
//! never the account's level.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use dinhdanh_domain::Level;
use serde::{Deserialize, Serialize};

use crate::error::ErrorCode;

/// `acr` of a sign-in that matched the declared data with the registry (password and a one-time code).
pub const ACR_LEVEL_1: &str = "urn:dinhdanh:loa:1";
/// `acr` of a sign-in that also matched a portrait or fingerprint with the registry's, or that an officer
/// checked in person.
pub const ACR_LEVEL_2: &str = "urn:dinhdanh:loa:2";

/// The `acr` value of a level.
pub fn acr_of(level: Level) -> &'static str {
    match level {
        Level::One => ACR_LEVEL_1,
        Level::Two => ACR_LEVEL_2,
    }
}

/// The level an `acr` value names, if it is one of ours.
pub fn level_of(acr: &str) -> Option<Level> {
    Level::ALL.iter().copied().find(|l| acr_of(*l) == acr)
}

/// Every `acr` value, lowest first (`acr_values_supported`).
pub fn supported() -> Vec<&'static str> {
    Level::ALL.iter().map(|l| acr_of(*l)).collect()
}

/// Where a relying party's `acr` demand came from; it decides the error when the sign-in falls short.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AcrSource {
    /// `acr_values`: refused with `access_denied`.
    AcrValues,
    /// `claims` with `"acr": {"essential": true, ...}`: refused with `unmet_authentication_requirements`.
    EssentialClaim,
    /// `claims` with a non-essential `acr` member: treated like `acr_values`.
    VoluntaryClaim,
}

/// The levels a relying party accepts. dinhdanh treats every `acr` demand as binding, voluntary ones too: a
/// relying party that names Level 2 gets Level 2 or an error, never a weaker token (issue 14, §3).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcrRequirement {
    /// Non-empty.
    pub accepted: BTreeSet<Level>,
    pub source: AcrSource,
}

impl AcrRequirement {
    /// The requirement of a request, from `acr_values` and from the `acr` member of the `claims` parameter (an
    /// essential claim wins over `acr_values`). Values that are not ours are ignored; a demand that names none of
    /// ours can never be met and is an error (`Err` with a description, for `invalid_request`).
    pub fn from_request(
        acr_values: Option<&str>,
        claim: Option<&crate::authorize::ClaimRequest>,
    ) -> Result<Option<Self>, String> {
        if let Some(claim) = claim {
            let values = claim.requested_values();
            if !values.is_empty() {
                let source = if claim.essential { AcrSource::EssentialClaim } else { AcrSource::VoluntaryClaim };
                return Self::of(values.iter().map(String::as_str), source).map(Some);
            }
        }
        match acr_values.map(str::trim).filter(|v| !v.is_empty()) {
            Some(list) => Self::of(list.split(' ').filter(|v| !v.is_empty()), AcrSource::AcrValues).map(Some),
            None => Ok(None),
        }
    }

    fn of<'a>(values: impl Iterator<Item = &'a str>, source: AcrSource) -> Result<Self, String> {
        let accepted: BTreeSet<Level> = values.filter_map(level_of).collect();
        if accepted.is_empty() {
            return Err(format!("none of the requested acr values is supported; use {}", supported().join(" or ")));
        }
        Ok(Self { accepted, source })
    }

    /// The error for a sign-in that cannot reach this requirement.
    pub fn unmet_error(&self) -> ErrorCode {
        match self.source {
            AcrSource::EssentialClaim => ErrorCode::UnmetAuthenticationRequirements,
            AcrSource::AcrValues | AcrSource::VoluntaryClaim => ErrorCode::AccessDenied,
        }
    }
}

/// The level a token issued for a sign-in of `assurance` states as `acr`, or the error when the requirement is
/// not met. A sign-in satisfies an accepted level at or below its own assurance; the token then says the highest
/// such accepted level, so its `acr` is always one the relying party named and never more than the sign-in
/// proved. Without a requirement the token says the sign-in's own assurance.
pub fn satisfy(requirement: Option<&AcrRequirement>, assurance: Level) -> Result<Level, ErrorCode> {
    match requirement {
        None => Ok(assurance),
        Some(req) => req.accepted.iter().rev().find(|l| **l <= assurance).copied().ok_or(req.unmet_error()),
    }
}

/// Whether the holder must sign in again before this request is answered (OIDC Core §3.1.2.1): with
/// `prompt=login`, or when `max_age` seconds have passed since `auth_time`. A sign-in made while serving this
/// very request (at or after `received_at`) always counts as fresh: that is what ends `prompt=login` and
/// `max_age=0` instead of asking forever.
pub fn needs_fresh_sign_in(
    prompt_login: bool,
    max_age: Option<u64>,
    auth_time: DateTime<Utc>,
    received_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    // Whole seconds, as `auth_time` travels in tokens.
    if auth_time.timestamp() >= received_at.timestamp() {
        return false;
    }
    if prompt_login {
        return true;
    }
    match max_age {
        None => false,
        Some(max_age) => now.timestamp() - auth_time.timestamp() > i64::try_from(max_age).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::authorize::ClaimRequest;

    #[test]
    fn levels_have_documented_uris() {
        assert_eq!(acr_of(Level::One), "urn:dinhdanh:loa:1");
        assert_eq!(acr_of(Level::Two), "urn:dinhdanh:loa:2");
        for l in Level::ALL {
            assert_eq!(level_of(acr_of(*l)), Some(*l));
        }
        assert_eq!(level_of("urn:mace:incommon:iap:silver"), None);
        assert_eq!(supported(), ["urn:dinhdanh:loa:1", "urn:dinhdanh:loa:2"]);
    }

    #[test]
    fn a_level_1_sign_in_never_gets_a_level_2_token() {
        let req = AcrRequirement::from_request(Some(ACR_LEVEL_2), None).unwrap();
        assert_eq!(satisfy(req.as_ref(), Level::One), Err(ErrorCode::AccessDenied));
        assert_eq!(satisfy(req.as_ref(), Level::Two), Ok(Level::Two));
        let essential = ClaimRequest { essential: true, value: Some(ACR_LEVEL_2.into()), values: vec![] };
        let req = AcrRequirement::from_request(Some(ACR_LEVEL_1), Some(&essential)).unwrap();
        assert_eq!(satisfy(req.as_ref(), Level::One), Err(ErrorCode::UnmetAuthenticationRequirements));
    }

    #[test]
    fn the_token_names_the_highest_accepted_level_the_sign_in_reached() {
        assert_eq!(satisfy(None, Level::One), Ok(Level::One));
        assert_eq!(satisfy(None, Level::Two), Ok(Level::Two));
        let only_1 = AcrRequirement::from_request(Some(ACR_LEVEL_1), None).unwrap();
        assert_eq!(satisfy(only_1.as_ref(), Level::Two), Ok(Level::One), "acr stays one the client named");
        let both = AcrRequirement::from_request(Some("urn:x urn:dinhdanh:loa:2 urn:dinhdanh:loa:1"), None).unwrap();
        assert_eq!(satisfy(both.as_ref(), Level::One), Ok(Level::One));
        assert_eq!(satisfy(both.as_ref(), Level::Two), Ok(Level::Two));
    }

    #[test]
    fn demands_naming_no_level_of_ours_are_errors_and_absent_ones_are_none() {
        assert!(AcrRequirement::from_request(Some("urn:other:gold"), None).is_err());
        assert_eq!(AcrRequirement::from_request(Some("  "), None), Ok(None));
        assert_eq!(AcrRequirement::from_request(None, None), Ok(None));
        // An `acr` claim request without values (`"acr": null`) asks for the claim, not for a level.
        let any = ClaimRequest::default();
        assert_eq!(AcrRequirement::from_request(None, Some(&any)), Ok(None));
    }

    #[test]
    fn freshness_follows_prompt_login_and_max_age() {
        let received = Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap();
        let now = received + Duration::seconds(5);
        let earlier = received - Duration::seconds(600);
        assert!(!needs_fresh_sign_in(false, None, earlier, received, now));
        assert!(needs_fresh_sign_in(true, None, earlier, received, now));
        assert!(needs_fresh_sign_in(false, Some(300), earlier, received, now));
        assert!(!needs_fresh_sign_in(false, Some(605), earlier, received, now));
        assert!(needs_fresh_sign_in(false, Some(604), earlier, received, now));
        // A sign-in during this request satisfies prompt=login and max_age=0.
        let during = received + Duration::seconds(2);
        assert!(!needs_fresh_sign_in(true, Some(0), during, received, now));
    }
}
