//! Officers' TOTP secrets at rest: sealed by [`crate::sealing`] under the TOTP key from the configuration (a key
//! file or `DINHDANH_TOTP_KEY`), never from the database, with the officer's id as associated data, so that a
//! sealed secret opens only with that key and only for that officer (copying one officer's ciphertext onto
//! another's row gets nothing). The stored form is the sealing module's: `v1:` then base64(24-byte random
//! nonce ‖ ciphertext and tag).
//!
//! A value without the prefix is a plaintext base32 secret written before secrets were sealed; it still opens
//! (as itself), and `service::officers::seal_totp_secrets` seals every such value at start-up. This module adds
//! to the sealing only what is the officers': the key's own type (it cannot be passed where another key is
//! expected), the secret's text form, and errors that name the officer and the setting. Not here: which key the
//! configuration names, or rotation (`dinhdanh admin rotate-totp-key`, `service::officers`).

use thiserror::Error;

use crate::sealing::{SealingError, SealingKey};

pub use crate::sealing::KEY_BYTES;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TotpKeyError {
    #[error("a TOTP key is 32 random bytes in base64 (for example from `openssl rand -base64 32`)")]
    NotAKey,
    #[error(
        "the TOTP secret of officer {officer_id} does not open with the configured TOTP key: it was sealed under \
         another key (point [officers] totp_key_file or DINHDANH_TOTP_KEY at the key of the last \
         `dinhdanh admin rotate-totp-key`) or for another officer"
    )]
    WrongKey { officer_id: String },
    #[error("the stored TOTP secret of officer {officer_id} is neither sealed (v1:…) nor a base32 secret")]
    Unreadable { officer_id: String },
}

/// The key that seals officers' TOTP secrets. Its bytes never reach `Debug` or the logs.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpKey(SealingKey);

impl std::fmt::Debug for TotpKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpKey(…)")
    }
}

impl From<SealingKey> for TotpKey {
    fn from(key: SealingKey) -> Self {
        Self(key)
    }
}

impl TotpKey {
    /// A new random key.
    pub fn generate() -> Self {
        Self(SealingKey::generate())
    }

    /// The text form of a key file or `DINHDANH_TOTP_KEY`: base64 of 32 bytes, surrounding whitespace ignored.
    pub fn parse(text: &str) -> Result<Self, TotpKeyError> {
        SealingKey::parse(text).map(Self).map_err(|_| TotpKeyError::NotAKey)
    }

    /// What [`TotpKey::parse`] reads.
    pub fn to_text(&self) -> String {
        self.0.to_text()
    }

    /// Seals `secret` (the base32 text) for `officer_id`; a new random nonce each time.
    pub fn seal(&self, officer_id: &str, secret: &str) -> String {
        self.0.seal(secret.as_bytes(), officer_id.as_bytes())
    }

    /// The base32 secret stored for `officer_id`: opened when sealed, as it is when still plaintext.
    pub fn open(&self, officer_id: &str, stored: &str) -> Result<String, TotpKeyError> {
        let unreadable = || TotpKeyError::Unreadable { officer_id: officer_id.to_owned() };
        match self.0.open(stored, officer_id.as_bytes()) {
            Ok(opened) => String::from_utf8(opened).map_err(|_| unreadable()),
            Err(SealingError::NotSealed) => match dinhdanh_domain::totp::base32_decode(stored) {
                Some(bytes) if !bytes.is_empty() => Ok(stored.to_owned()),
                _ => Err(unreadable()),
            },
            Err(SealingError::WrongKey) => Err(TotpKeyError::WrongKey { officer_id: officer_id.to_owned() }),
            Err(SealingError::Malformed | SealingError::NotAKey) => Err(unreadable()),
        }
    }
}

/// Whether a stored secret is sealed (rather than plaintext from before sealing).
pub fn is_sealed(stored: &str) -> bool {
    crate::sealing::is_sealed(stored)
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    use super::*;

    const SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

    #[test]
    fn a_sealed_secret_opens_with_its_key_for_its_officer_only() {
        let key = TotpKey::generate();
        let sealed = key.seal("officer-1", SECRET);
        assert!(is_sealed(&sealed) && !sealed.contains(SECRET), "{sealed}");
        assert_ne!(sealed, key.seal("officer-1", SECRET), "a new nonce each time");
        assert_eq!(key.open("officer-1", &sealed).unwrap(), SECRET);
        assert_eq!(
            key.open("officer-2", &sealed),
            Err(TotpKeyError::WrongKey { officer_id: "officer-2".into() }),
            "moved to another officer"
        );
        assert!(matches!(TotpKey::generate().open("officer-1", &sealed), Err(TotpKeyError::WrongKey { .. })));
        let mut flipped = sealed.into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert!(key.open("officer-1", &String::from_utf8(flipped).unwrap()).is_err(), "tampered");
    }

    #[test]
    fn a_secret_sealed_before_the_sealing_module_still_opens() {
        // Made by the TOTP key's own implementation before it was generalised into `crate::sealing`.
        let key = TotpKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").unwrap();
        let sealed =
            "v1:iFfcz3gGp+3ayf4Z5Ix7eH50eI1XhfIWbqxHSvLlTI87tCHQuKTNGYOWU5OKNv+w1DE5Wusol2XCxnaQqD4vH1Z01k251CBD";
        assert_eq!(key.open("officer-1", sealed).unwrap(), SECRET);
        assert!(matches!(key.open("officer-2", sealed), Err(TotpKeyError::WrongKey { .. })));
    }

    #[test]
    fn plaintext_from_before_sealing_still_opens_and_garbage_does_not() {
        let key = TotpKey::generate();
        assert_eq!(key.open("o", SECRET).unwrap(), SECRET);
        assert!(!is_sealed(SECRET));
        for bad in ["", "not base32!", "v1:", "v1:%%%", "v1:AAAA"] {
            assert_eq!(key.open("o", bad), Err(TotpKeyError::Unreadable { officer_id: "o".into() }), "{bad:?}");
        }
    }

    #[test]
    fn keys_round_trip_as_text_and_nothing_else_is_a_key() {
        let key = TotpKey::generate();
        assert_eq!(TotpKey::parse(&format!("  {}\n", key.to_text())).unwrap(), key);
        assert_eq!(format!("{key:?}"), "TotpKey(…)");
        for bad in ["", "short", &STANDARD.encode([0u8; 31]), &STANDARD.encode([0u8; 33])] {
            assert_eq!(TotpKey::parse(bad), Err(TotpKeyError::NotAKey), "{bad:?}");
        }
    }
}
