//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0 §2–3) without HTTP: which client asks, whether
//! its `post_logout_redirect_uri` is registered (exact string), and whether the holder must confirm. Ending the
//! provider session and the grants is the caller's.

use serde::Deserialize;
use url::Url;

use crate::authorize::{AuthorizationParams, AuthorizeError};
use crate::client::ClientRegistration;
use crate::error::ErrorCode;

/// The claims of a verified `id_token_hint` that logout needs (verify it with
/// [`crate::keys::KeySet::verify`], `allow_expired`: a hint may be an expired ID token).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdTokenHint {
    pub aud: String,
    pub sub: String,
}

/// What to do with a logout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    /// The client that asked, if known.
    pub client_id: Option<String>,
    /// Where to send the browser afterwards (with `state`), only when registered for that client.
    pub redirect: Option<Url>,
    /// The `sub` of the hint. End the session without asking only when it is the `sub` the current session's
    /// holder has at that client; otherwise ask the holder to confirm (a logout link anyone can send must not
    /// sign people out silently).
    pub hint_sub: Option<String>,
}

/// The client a logout names: `client_id`, or the hint's `aud`. The caller looks it up and calls [`validate`].
pub fn client_id<'a>(params: &'a AuthorizationParams, hint: Option<&'a IdTokenHint>) -> Option<&'a str> {
    params.client_id().or(hint.map(|h| h.aud.as_str()))
}

/// Validates a logout request. `hint` is the verified `id_token_hint` (`None` if absent; an invalid hint is an
/// error page the caller shows before calling this); `client` the registration [`client_id`] names.
pub fn validate(
    params: &AuthorizationParams,
    hint: Option<&IdTokenHint>,
    client: Option<&ClientRegistration>,
) -> Result<Logout, AuthorizeError> {
    if let (Some(id), Some(hint)) = (params.client_id(), hint)
        && id != hint.aud
    {
        return Err(AuthorizeError::page(
            ErrorCode::InvalidRequest,
            "client_id differs from the id_token_hint's audience",
        ));
    }
    if client.is_some_and(|c| Some(c.client_id.as_str()) != client_id(params, hint)) {
        return Err(AuthorizeError::page(ErrorCode::InvalidRequest, "the registration is not the named client's"));
    }
    let redirect = match params.get("post_logout_redirect_uri") {
        None => None,
        Some(uri) => {
            let Some(client) = client else {
                return Err(AuthorizeError::page(
                    ErrorCode::InvalidRequest,
                    "post_logout_redirect_uri needs client_id or id_token_hint",
                ));
            };
            if !client.has_post_logout_redirect_uri(uri) {
                return Err(AuthorizeError::page(
                    ErrorCode::InvalidRequest,
                    "post_logout_redirect_uri is not registered",
                ));
            }
            let mut url = Url::parse(uri).map_err(|_| AuthorizeError::page(ErrorCode::InvalidRequest, "bad URI"))?;
            if let Some(state) = params.get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            Some(url)
        }
    };
    Ok(Logout { client_id: client.map(|c| c.client_id.clone()), redirect, hint_sub: hint.map(|h| h.sub.clone()) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::tests::bank;

    fn params(pairs: &[(&str, &str)]) -> AuthorizationParams {
        AuthorizationParams::from_pairs(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn a_registered_post_logout_uri_is_followed_with_state() {
        let p =
            params(&[("client_id", "bank"), ("post_logout_redirect_uri", "https://bank.example/bye"), ("state", "s1")]);
        let out = validate(&p, None, Some(&bank())).unwrap();
        assert_eq!(out.redirect.unwrap().as_str(), "https://bank.example/bye?state=s1");
        assert_eq!(out.hint_sub, None, "no hint: the holder confirms");
    }

    #[test]
    fn unregistered_or_unattributed_post_logout_uris_are_refused() {
        let p = params(&[("client_id", "bank"), ("post_logout_redirect_uri", "https://evil.example/")]);
        assert!(validate(&p, None, Some(&bank())).is_err());
        let p = params(&[("post_logout_redirect_uri", "https://bank.example/bye")]);
        assert!(validate(&p, None, None).is_err());
        // A redirect URI of the sign-in is not a post-logout one.
        let p = params(&[("client_id", "bank"), ("post_logout_redirect_uri", "https://bank.example/cb")]);
        assert!(validate(&p, None, Some(&bank())).is_err());
    }

    #[test]
    fn the_hint_names_the_client_and_must_agree_with_client_id() {
        let hint = IdTokenHint { aud: "bank".into(), sub: "pairwise-sub".into() };
        let p = params(&[("post_logout_redirect_uri", "https://bank.example/bye")]);
        assert_eq!(client_id(&p, Some(&hint)), Some("bank"));
        let out = validate(&p, Some(&hint), Some(&bank())).unwrap();
        assert_eq!(out.hint_sub.as_deref(), Some("pairwise-sub"));
        assert!(out.redirect.is_some());
        let other = params(&[("client_id", "shop")]);
        assert!(validate(&other, Some(&hint), None).is_err());
        // Logout without any parameter is fine: end the session after confirming, show the provider's page.
        assert_eq!(
            validate(&params(&[]), None, None).unwrap(),
            Logout { client_id: None, redirect: None, hint_sub: None }
        );
    }
}
