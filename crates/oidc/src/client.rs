//! A relying party's OpenID Connect registration: what the server stores beside the organization's API client
//! (same id, same credentials, [`ClientAuthMethod`] of the domain) to check authorization requests against —
//! exact redirect URIs, post-logout URIs, allowed scopes and claims, subject type and sector, whether PAR is
//! required. [`ClientRegistration::validate`] checks a registration once, when an administrator saves it.

use std::collections::BTreeSet;

use dinhdanh_domain::client::ClientAuthMethod;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::scope::{Claim, Scope, claims_of};
use crate::subject::SubjectType;

/// A relying party's registration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientRegistration {
    /// The organization's API client id.
    pub client_id: String,
    /// Compared with `redirect_uri` as exact strings (OIDC Core §3.1.2.1): no prefix, case or slash leniency.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back to, compared the same way.
    pub post_logout_redirect_uris: Vec<String>,
    /// The scopes the client may ask for; must contain `openid`.
    pub scopes: BTreeSet<Scope>,
    /// The claims the client may receive: at most those its scopes carry, perhaps fewer (a bank may have
    /// `profile` without `gender`).
    pub claims: BTreeSet<Claim>,
    /// `pairwise` by default (issue 14 §4).
    pub subject_type: SubjectType,
    /// The host name pairwise subjects are computed for. Clients of one relying party that must see the same
    /// `sub` (a bank's web site and app) share it; without it, the one host of the redirect URIs.
    pub sector_identifier: Option<String>,
    /// Authorization requests must come through the PAR endpoint (RFC 9126 §5).
    pub require_pushed_authorization_requests: bool,
    /// How the client authenticates at the token, introspection and revocation endpoints (the domain's: a
    /// secret, with Basic or in the form, or `private_key_jwt`).
    pub token_endpoint_auth_method: ClientAuthMethod,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("client_id must not be empty")]
    ClientId,
    #[error("at least one redirect URI is required")]
    NoRedirectUri,
    #[error(
        "{0:?} is not an acceptable redirect URI: absolute, no fragment, https (http only for loopback), or a private-use scheme with a dot"
    )]
    RedirectUri(String),
    #[error("the scopes must include openid")]
    NoOpenId,
    #[error("the claim {0} is not carried by any of the client's scopes")]
    ClaimWithoutScope(Claim),
    #[error("redirect URIs on several hosts need a sector identifier for pairwise subjects")]
    SectorNeeded,
    #[error("{0:?} is not a host name")]
    SectorIdentifier(String),
}

/// How a client authenticated at the token endpoint this time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PresentedAuth {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
}

impl PresentedAuth {
    /// The `token_endpoint_auth_methods_supported` name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
        }
    }
}

/// Checks one redirect or post-logout URI: absolute, without fragment (RFC 6749 §3.1.2); `https`, or `http` to a
/// loopback address for native apps (RFC 8252 §7.3), or a private-use scheme in reverse-domain form (§7.1).
pub fn check_redirect_uri(uri: &str) -> Result<Url, RegistrationError> {
    let bad = || RegistrationError::RedirectUri(uri.to_owned());
    let url = Url::parse(uri).map_err(|_| bad())?;
    if url.fragment().is_some() || uri.contains('#') {
        return Err(bad());
    }
    let ok = match url.scheme() {
        "https" => url.host_str().is_some(),
        "http" => matches!(url.host_str(), Some("127.0.0.1" | "[::1]" | "localhost")),
        scheme => scheme.contains('.'),
    };
    if ok { Ok(url) } else { Err(bad()) }
}

impl ClientRegistration {
    /// Checks the registration (when it is saved, not per request).
    pub fn validate(&self) -> Result<(), RegistrationError> {
        if self.client_id.trim().is_empty() {
            return Err(RegistrationError::ClientId);
        }
        if self.redirect_uris.is_empty() {
            return Err(RegistrationError::NoRedirectUri);
        }
        for uri in self.redirect_uris.iter().chain(&self.post_logout_redirect_uris) {
            check_redirect_uri(uri)?;
        }
        if !self.scopes.contains(&Scope::OpenId) {
            return Err(RegistrationError::NoOpenId);
        }
        let carried = claims_of(&self.scopes);
        if let Some(claim) = self.claims.iter().find(|c| !carried.contains(c)) {
            return Err(RegistrationError::ClaimWithoutScope(*claim));
        }
        if let Some(sector) = &self.sector_identifier {
            let valid = Url::parse(&format!("https://{sector}/")).is_ok_and(|u| u.host_str() == Some(sector.as_str()));
            if !valid {
                return Err(RegistrationError::SectorIdentifier(sector.clone()));
            }
        }
        self.sector().map(|_| ())
    }

    /// The sector pairwise subjects are computed for: the registered sector identifier, else the single host
    /// of the redirect URIs (OIDC Core §8.1). A private-use scheme's URI has no host; its scheme stands for it.
    pub fn sector(&self) -> Result<String, RegistrationError> {
        if let Some(sector) = &self.sector_identifier {
            return Ok(sector.clone());
        }
        let hosts: BTreeSet<String> = self
            .redirect_uris
            .iter()
            .filter_map(|u| Url::parse(u).ok())
            .map(|u| u.host_str().map_or_else(|| u.scheme().to_owned(), str::to_owned))
            .collect();
        match hosts.len() {
            1 => Ok(hosts.into_iter().next().expect("one host")),
            0 => Err(RegistrationError::NoRedirectUri),
            _ => Err(RegistrationError::SectorNeeded),
        }
    }

    /// Whether `redirect_uri` is one of the registered ones, as an exact string.
    pub fn has_redirect_uri(&self, redirect_uri: &str) -> bool {
        self.redirect_uris.iter().any(|u| u == redirect_uri)
    }

    /// Whether `uri` is a registered post-logout redirect URI, as an exact string.
    pub fn has_post_logout_redirect_uri(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|u| u == uri)
    }

    /// Whether this way of authenticating is the one registered (a secret may come by Basic or in the form).
    pub fn accepts_auth(&self, presented: PresentedAuth) -> bool {
        matches!(
            (self.token_endpoint_auth_method, presented),
            (ClientAuthMethod::ClientSecret, PresentedAuth::ClientSecretBasic | PresentedAuth::ClientSecretPost)
                | (ClientAuthMethod::PrivateKeyJwt, PresentedAuth::PrivateKeyJwt)
        )
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A valid registration to vary in tests.
    pub(crate) fn bank() -> ClientRegistration {
        ClientRegistration {
            client_id: "bank".into(),
            redirect_uris: vec!["https://bank.example/cb".into(), "https://bank.example/app/cb".into()],
            post_logout_redirect_uris: vec!["https://bank.example/bye".into()],
            scopes: [Scope::OpenId, Scope::Profile, Scope::Email, Scope::Phone, Scope::IdNumber, Scope::OfflineAccess]
                .into(),
            claims: [
                Claim::Name,
                Claim::Birthdate,
                Claim::Gender,
                Claim::Email,
                Claim::EmailVerified,
                Claim::PhoneNumber,
                Claim::PhoneNumberVerified,
                Claim::IdNumber,
            ]
            .into(),
            subject_type: SubjectType::Pairwise,
            sector_identifier: None,
            require_pushed_authorization_requests: false,
            token_endpoint_auth_method: ClientAuthMethod::ClientSecret,
        }
    }

    #[test]
    fn a_good_registration_passes_and_its_sector_is_its_host() {
        assert_eq!(bank().validate(), Ok(()));
        assert_eq!(bank().sector(), Ok("bank.example".into()));
    }

    #[test]
    fn redirect_uris_must_be_safe() {
        for good in
            ["https://bank.example/cb?x=1", "http://127.0.0.1:8123/cb", "http://localhost/cb", "vn.bank.app:/cb"]
        {
            assert!(check_redirect_uri(good).is_ok(), "{good}");
        }
        for bad in ["/cb", "http://bank.example/cb", "https://bank.example/cb#x", "javascript:alert(1)", "bank:/cb", ""]
        {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        let mut reg = bank();
        reg.post_logout_redirect_uris.push("http://evil.example/".into());
        assert!(matches!(reg.validate(), Err(RegistrationError::RedirectUri(_))));
    }

    #[test]
    fn scopes_need_openid_and_claims_need_a_scope() {
        let mut reg = bank();
        reg.scopes.remove(&Scope::OpenId);
        assert_eq!(reg.validate(), Err(RegistrationError::NoOpenId));
        let mut reg = bank();
        reg.scopes.remove(&Scope::IdNumber);
        assert_eq!(reg.validate(), Err(RegistrationError::ClaimWithoutScope(Claim::IdNumber)));
    }

    #[test]
    fn several_hosts_need_a_sector_identifier() {
        let mut reg = bank();
        reg.redirect_uris.push("https://m.bank.example/cb".into());
        assert_eq!(reg.validate(), Err(RegistrationError::SectorNeeded));
        reg.sector_identifier = Some("bank.example".into());
        assert_eq!(reg.validate(), Ok(()));
        reg.sector_identifier = Some("bank.example/path".into());
        assert!(matches!(reg.validate(), Err(RegistrationError::SectorIdentifier(_))));
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let reg = bank();
        assert!(reg.has_redirect_uri("https://bank.example/cb"));
        for near in [
            "https://bank.example/cb/",
            "https://BANK.example/cb",
            "https://bank.example/cb?x",
            "https://bank.example/c",
        ] {
            assert!(!reg.has_redirect_uri(near), "{near}");
        }
        assert!(reg.has_post_logout_redirect_uri("https://bank.example/bye"));
        assert!(!reg.has_post_logout_redirect_uri("https://bank.example/cb"));
    }

    #[test]
    fn the_registered_auth_method_is_the_only_one_accepted() {
        let reg = bank();
        assert!(reg.accepts_auth(PresentedAuth::ClientSecretBasic));
        assert!(reg.accepts_auth(PresentedAuth::ClientSecretPost));
        assert!(!reg.accepts_auth(PresentedAuth::PrivateKeyJwt));
        let jwt = ClientRegistration { token_endpoint_auth_method: ClientAuthMethod::PrivateKeyJwt, ..bank() };
        assert!(jwt.accepts_auth(PresentedAuth::PrivateKeyJwt));
        assert!(!jwt.accepts_auth(PresentedAuth::ClientSecretPost));
    }
}
