//! The holder's consent (issue 14 §4): what a client's request would release — the scopes that need consent and
//! each claim, limited to what the client is registered for — and whether a remembered consent covers a new
//! request. A consent is remembered per (holder, client) and revocable by the holder; storing it, listing it
//! and revoking it (with the grants it covered) is the caller's.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use dinhdanh_domain::AccountId;
use serde::{Deserialize, Serialize};

use crate::authorize::AuthorizationRequest;
use crate::client::ClientRegistration;
use crate::scope::{Claim, Scope, claims_of};

/// What a request asks the holder to agree to: shown on the consent page, one line per claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRequest {
    pub client_id: String,
    /// The scopes asked for, `openid` included (signing in to the client is itself something the holder agrees
    /// to: the client learns a `sub` and the level reached).
    pub scopes: BTreeSet<Scope>,
    /// The claims that would be released: those the scopes and the `claims` parameter ask for, that the client
    /// is registered for.
    pub claims: BTreeSet<Claim>,
}

impl ConsentRequest {
    /// What `request` (already validated against `client`) would release.
    pub fn for_request(request: &AuthorizationRequest, client: &ClientRegistration) -> Self {
        let mut asked = claims_of(&request.scopes);
        asked.extend(request.claims.userinfo.iter().chain(&request.claims.id_token).copied());
        Self {
            client_id: client.client_id.clone(),
            scopes: request.scopes.clone(),
            claims: asked.intersection(&client.claims).copied().collect(),
        }
    }

    /// Whether it asks for a refresh token, which the page must say (access continues while the holder is away).
    pub fn offline_access(&self) -> bool {
        self.scopes.contains(&Scope::OfflineAccess)
    }
}

/// A consent the holder gave, as the caller remembers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub account_id: AccountId,
    pub client_id: String,
    pub scopes: BTreeSet<Scope>,
    pub claims: BTreeSet<Claim>,
    pub granted_at: DateTime<Utc>,
    /// Set when the holder withdraws it; the caller then also revokes the grants made under it.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl Consent {
    /// The consent the holder gives on the page: the request, less any claims the holder unticked (`approved`
    /// is intersected with what was asked, so a forged form cannot add claims). Merged with an earlier consent
    /// of the same client, so agreeing to `email` today does not forget `profile` agreed last week.
    pub fn give(
        account_id: AccountId,
        request: &ConsentRequest,
        approved_claims: &BTreeSet<Claim>,
        earlier: Option<&Consent>,
        now: DateTime<Utc>,
    ) -> Self {
        let mut scopes = request.scopes.clone();
        let mut claims: BTreeSet<Claim> = request.claims.intersection(approved_claims).copied().collect();
        if let Some(earlier) =
            earlier.filter(|c| c.is_live() && c.client_id == request.client_id && c.account_id == account_id)
        {
            scopes.extend(earlier.scopes.iter().copied());
            claims.extend(earlier.claims.iter().copied());
        }
        Self { account_id, client_id: request.client_id.clone(), scopes, claims, granted_at: now, revoked_at: None }
    }

    pub fn is_live(&self) -> bool {
        self.revoked_at.is_none()
    }

    /// Whether this remembered consent covers a new request: live, for the same client, and every scope and
    /// claim asked for was agreed to before. A claim the holder declined last time is asked again.
    pub fn covers(&self, request: &ConsentRequest) -> bool {
        self.is_live()
            && self.client_id == request.client_id
            && request.scopes.is_subset(&self.scopes)
            && request.claims.is_subset(&self.claims)
    }

    /// The claims of `request` this consent releases.
    pub fn released(&self, request: &ConsentRequest) -> BTreeSet<Claim> {
        if !self.is_live() {
            return BTreeSet::new();
        }
        request.claims.intersection(&self.claims).copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap()
    }

    fn request(scopes: &[Scope], claims: &[Claim]) -> ConsentRequest {
        ConsentRequest {
            client_id: "bank".into(),
            scopes: scopes.iter().copied().collect(),
            claims: claims.iter().copied().collect(),
        }
    }

    fn holder() -> AccountId {
        AccountId::new("a1".into())
    }

    #[test]
    fn a_consent_covers_the_same_or_a_smaller_request_of_the_same_client() {
        let asked = request(&[Scope::OpenId, Scope::Profile], &[Claim::Name, Claim::Birthdate]);
        let consent = Consent::give(holder(), &asked, &asked.claims, None, t0());
        assert!(consent.covers(&asked));
        assert!(consent.covers(&request(&[Scope::OpenId], &[])));
        assert!(!consent.covers(&request(&[Scope::OpenId, Scope::Email], &[Claim::Email])));
        assert!(!consent.covers(&ConsentRequest { client_id: "shop".into(), ..asked.clone() }));
        let mut revoked = consent.clone();
        revoked.revoked_at = Some(t0());
        assert!(!revoked.covers(&asked));
        assert!(revoked.released(&asked).is_empty());
    }

    #[test]
    fn unticked_claims_are_not_released_and_are_asked_again() {
        let asked = request(&[Scope::OpenId, Scope::Profile], &[Claim::Name, Claim::Birthdate, Claim::Gender]);
        let consent = Consent::give(holder(), &asked, &[Claim::Name, Claim::IdNumber].into(), None, t0());
        assert_eq!(consent.claims, [Claim::Name].into(), "a forged IdNumber is not added");
        assert_eq!(consent.released(&asked), [Claim::Name].into());
        assert!(!consent.covers(&asked));
    }

    #[test]
    fn new_consent_adds_to_the_earlier_one() {
        let profile = request(&[Scope::OpenId, Scope::Profile], &[Claim::Name]);
        let first = Consent::give(holder(), &profile, &profile.claims, None, t0());
        let email = request(&[Scope::OpenId, Scope::Email], &[Claim::Email]);
        let second = Consent::give(holder(), &email, &email.claims, Some(&first), t0());
        assert!(second.covers(&profile) && second.covers(&email));
    }
}
