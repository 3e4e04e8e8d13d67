//! The provider's access tokens whose signature this node has already checked, by the SHA-256 of the token: a
//! relying party that introspects or calls userinfo with the same token again costs a hash and a map lookup
//! instead of an ES256 verification (58 µs on this machine's cores, more than a whole request at the rate issue
//! 14 asks for; BENCHMARKS.md).
//!
//! Only the signature, `typ` and `iss` are remembered, never whether the token is live: every caller still asks
//! the store for its `jti` and grant (itself answered from the credential cache and dropped by the commit of a
//! lock or a revocation) and compares `exp` with the server's clock. An entry belongs to the key set that
//! verified it ([`Arc::ptr_eq`]): when the keys change (a rotation, a compromised key dropped) the next check
//! verifies again. Unverifiable tokens are never remembered, so a stranger cannot fill the map with them, and a
//! full map is emptied rather than grown.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dinhdanh_oidc::claims::AccessTokenClaims;
use dinhdanh_oidc::keys::{KeySet, TokenType};
use dinhdanh_oidc::tokens::token_hash;

/// Entries before the map is emptied: a few minutes of distinct tokens at the rates measured here.
const MAX_ENTRIES: usize = 100_000;

#[derive(Default)]
pub struct VerifiedTokens {
    entries: Mutex<HashMap<String, (Arc<KeySet>, AccessTokenClaims)>>,
}

impl VerifiedTokens {
    /// The claims of `token` if `keys` (or, remembered, the very same key set) verifies it as an access token of
    /// `issuer`; `exp` is the caller's to compare.
    pub fn verify(&self, keys: &Arc<KeySet>, token: &str, issuer: &str) -> Option<AccessTokenClaims> {
        let hash = token_hash(token);
        if let Some((verified_by, claims)) = self.entries.lock().expect("not poisoned").get(&hash)
            && Arc::ptr_eq(verified_by, keys)
            && claims.iss == issuer
        {
            return Some(claims.clone());
        }
        let claims = keys.verify::<AccessTokenClaims>(token, TokenType::AccessToken, issuer, true).ok()?;
        let mut entries = self.entries.lock().expect("not poisoned");
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(hash, (Arc::clone(keys), claims.clone()));
        Some(claims)
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().expect("not poisoned").len()
    }
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};
    use dinhdanh_oidc::keys::TokenType;
    use serde_json::json;

    use super::*;

    fn access_token(keys: &KeySet, iss: &str) -> String {
        let claims = json!({
            "iss": iss, "sub": "s", "aud": "a", "client_id": "c", "scope": "openid", "jti": "j",
            "iat": 1, "exp": 2, "auth_time": 1, "acr": "urn:dinhdanh:loa:1",
        });
        keys.sign(&claims, TokenType::AccessToken).unwrap()
    }

    #[test]
    fn a_token_is_verified_once_per_key_set_and_a_forgery_never_remembered() {
        let now = Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap();
        let keys = Arc::new(KeySet::generate(now));
        let memo = VerifiedTokens::default();
        let token = access_token(&keys, "https://id.example.vn");
        assert_eq!(memo.verify(&keys, &token, "https://id.example.vn").map(|c| c.jti), Some("j".into()));
        assert_eq!(memo.len(), 1);
        assert!(memo.verify(&keys, &token, "https://id.example.vn").is_some(), "answered from memory");
        assert!(memo.verify(&keys, &token, "https://other.example.vn").is_none(), "another issuer is not ours");

        // A token signed by another key set is not verified, and not remembered.
        let stranger = KeySet::generate(now);
        let forged = access_token(&stranger, "https://id.example.vn");
        assert!(memo.verify(&keys, &forged, "https://id.example.vn").is_none());
        assert_eq!(memo.len(), 1);

        // Another key set (a rotation that dropped the signing key) verifies again and refuses.
        let other = Arc::new(KeySet::generate(now));
        assert!(memo.verify(&other, &token, "https://id.example.vn").is_none(), "the old entry does not count");
    }
}
