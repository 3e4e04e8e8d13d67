//! The provider's ES256 signing keys (P-256), their rotation, the public JSON Web Key Set, and signing and
//! verifying the provider's own JWTs.
//!
//! A key goes through three states: **next** (published in the JWKS, not signing, so relying parties that cache
//! the JWKS know it before its first token), **current** (signs; exactly one), **retired** (published until
//! `retire_after`, when the last token it signed has expired, then pruned). [`KeySet::rotate`] moves every key
//! one state on and makes a new next key. Keys are stored by the caller as [`StoredKey`] rows (PKCS#8 DER and
//! metadata); the `kid` is the key's RFC 7638 JWK thumbprint, so it is derived, never chosen.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::ecdsa::SigningKey as P256Key;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Kept past a retired key's last expiry, for relying parties whose clocks run behind.
pub const RETIRE_GRACE: Duration = Duration::seconds(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    /// Published, not yet signing.
    Next,
    /// The one signing key.
    Current,
    /// Published until `retire_after`, no longer signing.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Next => "next",
            Self::Current => "current",
            Self::Retired => "retired",
        }
    }
}

/// The `typ` header of a JWT the provider signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// `JWT`: ID tokens.
    IdToken,
    /// `at+jwt`: RFC 9068 access tokens, so one cannot be passed off as the other (RFC 9068 §2.1, §4).
    AccessToken,
    /// `secevent+jwt`: Security Event Tokens (RFC 8417 §2.3), never taken for an ID or access token.
    SecurityEvent,
}

impl TokenType {
    pub fn header_value(self) -> &'static str {
        match self {
            Self::IdToken => "JWT",
            Self::AccessToken => "at+jwt",
            Self::SecurityEvent => crate::ssf::SET_TYPE,
        }
    }
}

/// A key as the caller stores it: one database row. `private_key` is PKCS#8 DER, serialised as base64url; the
/// caller seals it at rest (dinhdanh's server does, under a key from its configuration). Its `Debug` omits the
/// private key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredKey {
    pub kid: String,
    pub state: KeyState,
    pub created_at: DateTime<Utc>,
    /// When it became current.
    pub activated_at: Option<DateTime<Utc>>,
    /// For a retired key: when it leaves the JWKS.
    pub retire_after: Option<DateTime<Utc>>,
    #[serde(with = "base64url")]
    pub private_key: Vec<u8>,
}

impl std::fmt::Debug for StoredKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredKey")
            .field("kid", &self.kid)
            .field("state", &self.state)
            .field("created_at", &self.created_at)
            .field("activated_at", &self.activated_at)
            .field("retire_after", &self.retire_after)
            .finish_non_exhaustive()
    }
}

mod base64url {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&URL_SAFE_NO_PAD.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        URL_SAFE_NO_PAD.decode(text).map_err(serde::de::Error::custom)
    }
}

/// A public key in the JWKS: EC P-256 coordinates only, never `d`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicJwk {
    pub kty: String,
    pub crv: String,
    pub x: String,
    pub y: String,
    pub kid: String,
    #[serde(rename = "use")]
    pub use_: String,
    pub alg: String,
}

impl PublicJwk {
    fn of(key: &P256Key) -> Self {
        let point = key.verifying_key().to_encoded_point(false);
        let x = URL_SAFE_NO_PAD.encode(point.x().expect("an uncompressed point has x"));
        let y = URL_SAFE_NO_PAD.encode(point.y().expect("an uncompressed point has y"));
        let kid = thumbprint(&x, &y);
        Self { kty: "EC".into(), crv: "P-256".into(), x, y, kid, use_: "sig".into(), alg: "ES256".into() }
    }
}

/// RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace, base64url.
fn thumbprint(x: &str, y: &str) -> String {
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The JSON Web Key Set served at `jwks_uri`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwks {
    pub keys: Vec<PublicJwk>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the stored key {0} is not a P-256 PKCS#8 key")]
    Malformed(String),
    #[error("the stored key's kid {stored} is not its thumbprint {computed}")]
    KidMismatch { stored: String, computed: String },
    #[error("a key set needs exactly one current and one next key; it has {current} current and {next} next")]
    States { current: usize, next: usize },
    #[error("signing failed: {0}")]
    Sign(String),
    #[error("the token is not valid: {0}")]
    Invalid(String),
}

/// One key, parsed.
#[derive(Clone)]
struct Key {
    stored: StoredKey,
    public: PublicJwk,
}

impl Key {
    fn generate(state: KeyState, now: DateTime<Utc>) -> Self {
        let key = P256Key::random(&mut rand::rngs::OsRng);
        let der = key.to_pkcs8_der().expect("a P-256 key encodes as PKCS#8");
        let public = PublicJwk::of(&key);
        let stored = StoredKey {
            kid: public.kid.clone(),
            state,
            created_at: now,
            activated_at: (state == KeyState::Current).then_some(now),
            retire_after: None,
            private_key: der.as_bytes().to_vec(),
        };
        Self { stored, public }
    }

    fn parse(stored: StoredKey) -> Result<Self, KeyError> {
        let key = P256Key::from_pkcs8_der(&stored.private_key).map_err(|_| KeyError::Malformed(stored.kid.clone()))?;
        let public = PublicJwk::of(&key);
        if public.kid != stored.kid {
            return Err(KeyError::KidMismatch { stored: stored.kid, computed: public.kid });
        }
        Ok(Self { stored, public })
    }
}

/// What [`KeySet::rotate`] did, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    pub retired: String,
    pub current: String,
    pub next: String,
}

/// The provider's keys: exactly one current, exactly one next, any number of retired.
#[derive(Clone)]
pub struct KeySet {
    keys: Vec<Key>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.keys.iter().map(|k| &k.stored)).finish()
    }
}

impl KeySet {
    /// A deployment's first key set: a current key (nothing was signed before it, so it need not wait) and a
    /// next key.
    pub fn generate(now: DateTime<Utc>) -> Self {
        Self { keys: vec![Key::generate(KeyState::Current, now), Key::generate(KeyState::Next, now)] }
    }

    /// The set from its stored rows; each `kid` is checked against its key.
    pub fn from_stored(rows: Vec<StoredKey>) -> Result<Self, KeyError> {
        let keys = rows.into_iter().map(Key::parse).collect::<Result<Vec<_>, _>>()?;
        let count = |state| keys.iter().filter(|k| k.stored.state == state).count();
        let (current, next) = (count(KeyState::Current), count(KeyState::Next));
        if current != 1 || next != 1 {
            return Err(KeyError::States { current, next });
        }
        Ok(Self { keys })
    }

    /// The rows to store (all of them: a rotation changes three).
    pub fn to_stored(&self) -> Vec<StoredKey> {
        self.keys.iter().map(|k| k.stored.clone()).collect()
    }

    fn in_state(&self, state: KeyState) -> &Key {
        self.keys.iter().find(|k| k.stored.state == state).expect("the set's invariant")
    }

    /// The signing key's `kid`.
    pub fn current_kid(&self) -> &str {
        &self.in_state(KeyState::Current).stored.kid
    }

    /// The next key's `kid`.
    pub fn next_kid(&self) -> &str {
        &self.in_state(KeyState::Next).stored.kid
    }

    /// Moves every key one state on: next → current, current → retired (kept until `now + max_token_lifetime`
    /// plus [`RETIRE_GRACE`], when the last token it signed has expired), and a new next key. Rotate less often
    /// than relying parties refresh their cached JWKS, so that the next key was seen before it signs.
    pub fn rotate(&mut self, now: DateTime<Utc>, max_token_lifetime: Duration) -> Rotation {
        let mut rotation = Rotation { retired: String::new(), current: String::new(), next: String::new() };
        for key in &mut self.keys {
            match key.stored.state {
                KeyState::Current => {
                    key.stored.state = KeyState::Retired;
                    key.stored.retire_after = Some(now + max_token_lifetime + RETIRE_GRACE);
                    rotation.retired = key.stored.kid.clone();
                }
                KeyState::Next => {
                    key.stored.state = KeyState::Current;
                    key.stored.activated_at = Some(now);
                    rotation.current = key.stored.kid.clone();
                }
                KeyState::Retired => {}
            }
        }
        let next = Key::generate(KeyState::Next, now);
        rotation.next = next.stored.kid.clone();
        self.keys.push(next);
        rotation
    }

    /// Rotation after the current key leaked: next → current at once and the leaked key **removed** from the
    /// JWKS (not retired; the caller deletes the row `retired` names), so every token it signed stops
    /// verifying; a new next key. Relying parties that
    /// cached the JWKS before the next key was published will refetch it on the unknown `kid`. The caller must
    /// still revoke the grants whose tokens the leaked key signed if it wants them dead before they expire.
    pub fn rotate_compromised(&mut self, now: DateTime<Utc>) -> Rotation {
        let leaked = self.current_kid().to_owned();
        let rotation = self.rotate(now, Duration::zero());
        self.keys.retain(|k| k.stored.kid != leaked);
        rotation
    }

    /// Removes the retired keys whose time has passed; returns their `kid`s (rows to delete).
    pub fn prune(&mut self, now: DateTime<Utc>) -> Vec<String> {
        let (gone, kept): (Vec<Key>, Vec<Key>) =
            std::mem::take(&mut self.keys).into_iter().partition(|k| Self::prunable(k, now));
        self.keys = kept;
        gone.into_iter().map(|k| k.stored.kid).collect()
    }

    fn prunable(key: &Key, now: DateTime<Utc>) -> bool {
        key.stored.state == KeyState::Retired && key.stored.retire_after.is_none_or(|t| t <= now)
    }

    /// Whether [`KeySet::prune`] at `now` would remove a key.
    pub fn prune_due(&self, now: DateTime<Utc>) -> bool {
        self.keys.iter().any(|k| Self::prunable(k, now))
    }

    /// Whether the current key has signed for `every` or longer at `now` (a scheduled rotation is due): counted
    /// from when it became current, or, for a key stored without that time, from when it was made.
    pub fn rotation_due(&self, now: DateTime<Utc>, every: Duration) -> bool {
        let current = &self.in_state(KeyState::Current).stored;
        now - current.activated_at.unwrap_or(current.created_at) >= every
    }

    /// The public key set: current first, then next, then retired; public coordinates only.
    pub fn jwks(&self) -> Jwks {
        let order = |s: KeyState| match s {
            KeyState::Current => 0,
            KeyState::Next => 1,
            KeyState::Retired => 2,
        };
        let mut keys: Vec<&Key> = self.keys.iter().collect();
        keys.sort_by_key(|k| order(k.stored.state));
        Jwks { keys: keys.into_iter().map(|k| k.public.clone()).collect() }
    }

    /// Signs `claims` with the current key: `alg: ES256`, its `kid`, and the `typ` of the token.
    pub fn sign<T: Serialize>(&self, claims: &T, typ: TokenType) -> Result<String, KeyError> {
        let key = self.in_state(KeyState::Current);
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(key.stored.kid.clone());
        header.typ = Some(typ.header_value().to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_ec_der(&key.stored.private_key))
            .map_err(|e| KeyError::Sign(e.to_string()))
    }

    /// Verifies a JWT this provider signed (an access token presented to userinfo or introspection, an
    /// `id_token_hint`): `ES256`, a `kid` of a current or retired key, the `typ`, `iss`, and `exp` unless
    /// `allow_expired` (logout accepts an expired ID token as a hint). The caller still checks revocation and
    /// the audience it needs.
    pub fn verify<T: DeserializeOwned>(
        &self,
        token: &str,
        typ: TokenType,
        issuer: &str,
        allow_expired: bool,
    ) -> Result<T, KeyError> {
        let invalid = |e: &str| KeyError::Invalid(e.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|e| invalid(&e.to_string()))?;
        if header.alg != Algorithm::ES256 {
            return Err(invalid("not ES256"));
        }
        if header.typ.as_deref().map(str::to_ascii_lowercase) != Some(typ.header_value().to_ascii_lowercase()) {
            return Err(invalid("wrong typ"));
        }
        let kid = header.kid.ok_or_else(|| invalid("no kid"))?;
        let key = self
            .keys
            .iter()
            .find(|k| k.stored.kid == kid && k.stored.state != KeyState::Next)
            .ok_or_else(|| invalid("unknown kid"))?;
        let decoding =
            DecodingKey::from_ec_components(&key.public.x, &key.public.y).map_err(|e| invalid(&e.to_string()))?;
        let mut validation = Validation::new(Algorithm::ES256);
        validation.set_issuer(&[issuer]);
        validation.validate_aud = false;
        validation.validate_exp = !allow_expired;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<T>(token, &decoding, &validation).map(|d| d.claims).map_err(|e| invalid(&e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::{Value, json};

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap()
    }

    fn claims(exp: DateTime<Utc>) -> Value {
        json!({"iss": "https://id.example", "sub": "s1", "aud": "bank", "exp": exp.timestamp(), "iat": t0().timestamp()})
    }

    #[test]
    fn kids_are_rfc_7638_thumbprints_as_jsonwebtoken_computes_them() {
        let set = KeySet::generate(t0());
        for public in set.jwks().keys {
            let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(serde_json::to_value(&public).unwrap()).unwrap();
            assert_eq!(jwk.thumbprint(jsonwebtoken::jwk::ThumbprintHash::SHA256), public.kid);
        }
    }

    #[test]
    fn the_jwks_has_public_parts_only() {
        let set = KeySet::generate(t0());
        let jwks = serde_json::to_value(set.jwks()).unwrap();
        let keys = jwks["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 2);
        for key in keys {
            let mut members: Vec<&str> = key.as_object().unwrap().keys().map(String::as_str).collect();
            members.sort();
            assert_eq!(members, ["alg", "crv", "kid", "kty", "use", "x", "y"], "no d, ever");
            assert_eq!(key["alg"], "ES256");
            assert_eq!(key["use"], "sig");
        }
        assert_eq!(keys[0]["kid"], set.current_kid());
        assert!(!format!("{set:?}").contains("private_key"));
    }

    #[test]
    fn keys_survive_storage_and_a_tampered_kid_is_refused() {
        let set = KeySet::generate(t0());
        let rows = set.to_stored();
        let json = serde_json::to_string(&rows).unwrap();
        let back = KeySet::from_stored(serde_json::from_str(&json).unwrap()).unwrap();
        assert_eq!(back.jwks(), set.jwks());
        let token = back.sign(&claims(t0() + Duration::minutes(5)), TokenType::IdToken).unwrap();
        assert!(set.verify::<Value>(&token, TokenType::IdToken, "https://id.example", true).is_ok());

        let mut tampered = rows.clone();
        tampered[0].kid = "chosen".into();
        assert!(matches!(KeySet::from_stored(tampered), Err(KeyError::KidMismatch { .. })));
        let mut garbage = rows.clone();
        garbage[0].private_key = vec![1, 2, 3];
        assert!(matches!(KeySet::from_stored(garbage), Err(KeyError::Malformed(_))));
        assert_eq!(KeySet::from_stored(rows[..1].to_vec()).unwrap_err(), KeyError::States { current: 1, next: 0 });
    }

    #[test]
    fn rotation_publishes_before_signing_and_keeps_retired_keys_until_their_tokens_expire() {
        let mut set = KeySet::generate(t0());
        let (first, second) = (set.current_kid().to_owned(), set.next_kid().to_owned());
        let old_token = set.sign(&claims(t0() + Duration::minutes(5)), TokenType::IdToken).unwrap();

        let now = t0() + Duration::days(30);
        let rotation = set.rotate(now, Duration::minutes(5));
        assert_eq!(rotation.retired, first);
        assert_eq!(rotation.current, second, "the key that was published as next now signs");
        assert_eq!(set.current_kid(), second);
        assert_eq!(set.next_kid(), rotation.next);
        let kids: Vec<String> = set.jwks().keys.into_iter().map(|k| k.kid).collect();
        assert_eq!(kids, [second.clone(), rotation.next.clone(), first.clone()]);

        let header = jsonwebtoken::decode_header(set.sign(&claims(now), TokenType::IdToken).unwrap()).unwrap();
        assert_eq!(header.kid.as_deref(), Some(second.as_str()));
        // The retired key still verifies what it signed, until pruned.
        assert!(set.verify::<Value>(&old_token, TokenType::IdToken, "https://id.example", true).is_ok());
        assert!(set.prune(now + Duration::minutes(5)).is_empty(), "not before its last token expired");
        assert_eq!(set.prune(now + Duration::minutes(6)), [first]);
        assert_eq!(set.jwks().keys.len(), 2);
        assert!(set.verify::<Value>(&old_token, TokenType::IdToken, "https://id.example", true).is_err());
        assert!(KeySet::from_stored(set.to_stored()).is_ok());
    }

    #[test]
    fn a_rotation_is_due_once_the_current_key_has_signed_for_the_interval_and_a_prune_once_a_retired_key_expired() {
        let every = Duration::days(90);
        let mut set = KeySet::generate(t0());
        assert!(!set.rotation_due(t0() + every - Duration::seconds(1), every));
        assert!(set.rotation_due(t0() + every, every));
        assert!(!set.prune_due(t0() + Duration::days(365)), "nothing retired yet");

        // Counted from when the key became current, not from when it was made (the next key waited 90 days).
        let now = t0() + every;
        set.rotate(now, Duration::minutes(5));
        assert!(!set.rotation_due(now + Duration::days(89), every));
        assert!(set.rotation_due(now + every, every));
        let retire_after = now + Duration::minutes(5) + RETIRE_GRACE;
        assert!(!set.prune_due(retire_after - Duration::seconds(1)));
        assert!(set.prune_due(retire_after));
        assert_eq!(set.prune(retire_after).len(), 1);
        assert!(!set.prune_due(retire_after));
    }

    #[test]
    fn a_compromised_key_leaves_the_jwks_at_once() {
        let mut set = KeySet::generate(t0());
        let leaked = set.current_kid().to_owned();
        let token = set.sign(&claims(t0() + Duration::minutes(5)), TokenType::IdToken).unwrap();
        let rotation = set.rotate_compromised(t0() + Duration::hours(1));
        assert_eq!(rotation.retired, leaked);
        assert!(set.jwks().keys.iter().all(|k| k.kid != leaked));
        assert_eq!(set.jwks().keys.len(), 2);
        assert!(set.verify::<Value>(&token, TokenType::IdToken, "https://id.example", true).is_err());
        assert!(KeySet::from_stored(set.to_stored()).is_ok());
    }

    #[test]
    fn verification_checks_typ_issuer_expiry_and_key() {
        let set = KeySet::generate(t0());
        let fresh = claims(Utc::now() + Duration::minutes(5));
        let at = set.sign(&fresh, TokenType::AccessToken).unwrap();
        assert_eq!(jsonwebtoken::decode_header(&at).unwrap().typ.as_deref(), Some("at+jwt"));
        assert!(set.verify::<Value>(&at, TokenType::AccessToken, "https://id.example", false).is_ok());
        assert!(
            set.verify::<Value>(&at, TokenType::IdToken, "https://id.example", false).is_err(),
            "an access token is no ID token"
        );
        assert!(set.verify::<Value>(&at, TokenType::AccessToken, "https://other.example", false).is_err());
        let expired = set.sign(&claims(Utc::now() - Duration::hours(1)), TokenType::IdToken).unwrap();
        assert!(set.verify::<Value>(&expired, TokenType::IdToken, "https://id.example", false).is_err());
        assert!(set.verify::<Value>(&expired, TokenType::IdToken, "https://id.example", true).is_ok());
        let stranger = KeySet::generate(t0()).sign(&fresh, TokenType::AccessToken).unwrap();
        assert!(set.verify::<Value>(&stranger, TokenType::AccessToken, "https://id.example", false).is_err());
    }
}
