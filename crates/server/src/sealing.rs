//! Secrets at rest that the server must read back, so cannot hash: officers' TOTP secrets (`totp_key`) and the
//! OpenID Connect provider's private signing keys (`service::oidc::keys`). Each is sealed with
//! XChaCha20-Poly1305 under a 32-byte key that comes from the configuration (a key file or an environment
//! variable), never from the database, with associated data naming the row it belongs to, so that a sealed value
//! opens only with that key and only in its own row (a ciphertext copied onto another row gets nothing).
//!
//! The stored form is versioned text: `v1:` then base64(24-byte random nonce ‖ ciphertext and tag). Values
//! without the prefix are plaintext from before sealing; what they look like, and how to seal them at start, is
//! each caller's business. Not here: which key the configuration names, or re-sealing under a new key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use thiserror::Error;

/// Length of a key, in bytes.
pub const KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
/// The stored form's version.
const V1: &str = "v1:";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum SealingError {
    /// The text is not a key.
    #[error("a sealing key is 32 random bytes in base64 (for example from `openssl rand -base64 32`)")]
    NotAKey,
    /// The value has no `v1:` prefix: plaintext from before sealing, or something else.
    #[error("the value is not sealed")]
    NotSealed,
    /// `v1:` followed by something that is not base64 of a nonce and a ciphertext.
    #[error("the sealed value is malformed")]
    Malformed,
    /// Sealed under another key, for another row, or tampered with: the AEAD cannot tell which.
    #[error("the sealed value does not open with this key for this row")]
    WrongKey,
}

/// A key that seals secrets at rest. Its bytes never reach `Debug` or the logs.
#[derive(Clone, PartialEq, Eq)]
pub struct SealingKey([u8; KEY_BYTES]);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(…)")
    }
}

impl SealingKey {
    /// A new random key.
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    /// The text form of a key file or an environment variable: base64 of 32 bytes, surrounding whitespace
    /// ignored.
    pub fn parse(text: &str) -> Result<Self, SealingError> {
        let bytes = STANDARD.decode(text.trim()).map_err(|_| SealingError::NotAKey)?;
        Ok(Self(bytes.try_into().map_err(|_| SealingError::NotAKey)?))
    }

    /// What [`SealingKey::parse`] reads.
    pub fn to_text(&self) -> String {
        STANDARD.encode(self.0)
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// Seals `plaintext` for the row `associated_data` names; a new random nonce each time.
    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(XNonce::from_slice(&nonce), Payload { msg: plaintext, aad: associated_data })
            .expect("XChaCha20-Poly1305 seals any message of this size");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        format!("{V1}{}", STANDARD.encode(out))
    }

    /// Opens what [`SealingKey::seal`] made for the same `associated_data`.
    pub fn open(&self, stored: &str, associated_data: &[u8]) -> Result<Vec<u8>, SealingError> {
        let sealed = stored.strip_prefix(V1).ok_or(SealingError::NotSealed)?;
        let bytes = STANDARD.decode(sealed).map_err(|_| SealingError::Malformed)?;
        if bytes.len() <= NONCE_BYTES {
            return Err(SealingError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        self.cipher()
            .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: associated_data })
            .map_err(|_| SealingError::WrongKey)
    }
}

/// Whether a stored value is sealed (rather than plaintext from before sealing).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(V1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"\x30\x81\x87 a private key's DER, say";

    #[test]
    fn a_sealed_value_opens_with_its_key_for_its_row_only() {
        let key = SealingKey::generate();
        let sealed = key.seal(SECRET, b"row-1");
        assert!(is_sealed(&sealed), "{sealed}");
        assert!(!sealed.contains(&STANDARD.encode(SECRET)), "{sealed}");
        assert_ne!(sealed, key.seal(SECRET, b"row-1"), "a new nonce each time");
        assert_eq!(key.open(&sealed, b"row-1").unwrap(), SECRET);
        assert_eq!(key.open(&sealed, b"row-2"), Err(SealingError::WrongKey), "moved to another row");
        assert_eq!(SealingKey::generate().open(&sealed, b"row-1"), Err(SealingError::WrongKey));
        let mut flipped = sealed.into_bytes();
        let last = flipped.len() - 3;
        flipped[last] = if flipped[last] == b'A' { b'B' } else { b'A' };
        assert_eq!(key.open(&String::from_utf8(flipped).unwrap(), b"row-1"), Err(SealingError::WrongKey), "tampered");
    }

    #[test]
    fn what_is_not_in_the_sealed_form_is_told_apart() {
        let key = SealingKey::generate();
        assert_eq!(key.open("JBSWY3DPEHPK3PXP", b"r"), Err(SealingError::NotSealed));
        assert!(!is_sealed("JBSWY3DPEHPK3PXP"));
        for bad in ["v1:", "v1:%%%", "v1:AAAA"] {
            assert_eq!(key.open(bad, b"r"), Err(SealingError::Malformed), "{bad:?}");
        }
    }

    #[test]
    fn the_stored_form_is_v1_and_base64_of_nonce_then_ciphertext_and_tag() {
        let key = SealingKey::generate();
        let sealed = key.seal(SECRET, b"r");
        let bytes = STANDARD.decode(sealed.strip_prefix("v1:").unwrap()).unwrap();
        assert_eq!(bytes.len(), NONCE_BYTES + SECRET.len() + 16);
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        let opened = key.cipher().decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad: b"r" }).unwrap();
        assert_eq!(opened, SECRET);
    }

    #[test]
    fn keys_round_trip_as_text_and_nothing_else_is_a_key() {
        let key = SealingKey::generate();
        assert_eq!(SealingKey::parse(&format!("  {}\n", key.to_text())).unwrap(), key);
        assert_eq!(format!("{key:?}"), "SealingKey(…)");
        for bad in ["", "short", &STANDARD.encode([0u8; 31]), &STANDARD.encode([0u8; 33])] {
            assert_eq!(SealingKey::parse(bad), Err(SealingError::NotAKey), "{bad:?}");
        }
    }
}
