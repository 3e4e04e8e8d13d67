//! Signed tree heads of the audit log, in the checkpoint format of transparency logs (C2SP `tlog-checkpoint`,
//! as Go's checksum database and Sigstore's Rekor publish them) inside a signed note (C2SP `signed-note`,
//! Ed25519). A checkpoint names the log (its origin), the tree size and the root hash; dinhdanh adds one
//! extension line with the signing time:
//!
//! ```text
//! dinhdanh.example.vn/audit
//! 1520
//! 2Ps2KLcrfGaBOJLLpl7ElVyCWiuoSGjupt5uM8gzO/Y=
//! time 2026-12-03T08:00:00Z
//!
//! — dinhdanh.example.vn/audit Az3grl...
//! ```
//!
//! The signing key lives in a file outside the database (`PRIVATE+KEY+<name>+<key id>+<base64>`, the note
//! format's own encoding), so someone who can write to the database can neither sign a head nor rewrite the
//! entries a signed head covers without `dinhdanh audit verify` naming it. The verifier key
//! (`<name>+<key id>+<base64>`) is public.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

/// The tree a checkpoint signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Hash,
    pub at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CheckpointError {
    #[error("not a key of the form PRIVATE+KEY+<name>+<key id>+<base64 key>")]
    BadSigningKey,
    #[error("not a verifier key of the form <name>+<key id>+<base64 key>")]
    BadVerifierKey,
    #[error("the key id does not match the key")]
    KeyIdMismatch,
    #[error("not a signed checkpoint: {0}")]
    Malformed(&'static str),
    #[error("no valid signature by {0} on this checkpoint")]
    BadSignature(String),
}

/// Ed25519 in the note format: algorithm byte 0x01.
const ED25519: u8 = 0x01;

fn key_id(name: &str, public: &VerifyingKey) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public.as_bytes());
    let digest = h.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(['+', ' ', '\n']) && name.chars().all(|c| !c.is_control())
}

/// Signs checkpoints; made from the key file.
pub struct CheckpointSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        f.debug_struct("CheckpointSigner").field("name", &self.name).finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// A fresh key for the log `name` (a host name and path, such as `eid.example.vn/audit`).
    pub fn generate(name: &str) -> Result<Self, CheckpointError> {
        if !valid_name(name) {
            return Err(CheckpointError::BadSigningKey);
        }
        let mut seed = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut seed);
        Ok(Self { name: name.to_owned(), key: SigningKey::from_bytes(&seed) })
    }

    /// Reads `PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ seed)>`.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or(CheckpointError::BadSigningKey)?;
        let (name, id, key) = split_key(rest).ok_or(CheckpointError::BadSigningKey)?;
        let bytes = B64.decode(key).map_err(|_| CheckpointError::BadSigningKey)?;
        let seed: [u8; 32] = match bytes.split_first() {
            Some((&ED25519, seed)) => seed.try_into().map_err(|_| CheckpointError::BadSigningKey)?,
            _ => return Err(CheckpointError::BadSigningKey),
        };
        let signer = Self { name: name.to_owned(), key: SigningKey::from_bytes(&seed) };
        if key_id(&signer.name, &signer.key.verifying_key()) != id {
            return Err(CheckpointError::KeyIdMismatch);
        }
        Ok(signer)
    }

    /// The key file's text.
    pub fn to_key_file(&self) -> String {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        let id = key_id(&self.name, &self.key.verifying_key());
        format!("PRIVATE+KEY+{}+{id:08x}+{}\n", self.name, B64.encode(bytes))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> CheckpointVerifier {
        CheckpointVerifier { name: self.name.clone(), key: self.key.verifying_key() }
    }

    /// The signed note of this head.
    pub fn sign(&self, head: &TreeHead) -> String {
        let body = format!(
            "{}\n{}\n{}\ntime {}\n",
            self.name,
            head.size,
            B64.encode(head.root),
            head.at.to_rfc3339_opts(SecondsFormat::Millis, true)
        );
        let signature = self.key.sign(body.as_bytes());
        let mut blob = key_id(&self.name, &self.key.verifying_key()).to_be_bytes().to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        format!("{body}\n\u{2014} {} {}\n", self.name, B64.encode(blob))
    }
}

/// Checks checkpoints; made from the public verifier key.
#[derive(Debug, Clone)]
pub struct CheckpointVerifier {
    name: String,
    key: VerifyingKey,
}

fn split_key(text: &str) -> Option<(&str, u32, &str)> {
    let mut parts = text.splitn(3, '+');
    let name = parts.next().filter(|n| valid_name(n))?;
    let id = parts.next().filter(|id| id.len() == 8).and_then(|id| u32::from_str_radix(id, 16).ok())?;
    Some((name, id, parts.next()?))
}

impl CheckpointVerifier {
    /// Reads `<name>+<key id>+<base64(0x01 ‖ public key)>`.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let (name, id, key) = split_key(text.trim()).ok_or(CheckpointError::BadVerifierKey)?;
        let bytes = B64.decode(key).map_err(|_| CheckpointError::BadVerifierKey)?;
        let public: [u8; 32] = match bytes.split_first() {
            Some((&ED25519, public)) => public.try_into().map_err(|_| CheckpointError::BadVerifierKey)?,
            _ => return Err(CheckpointError::BadVerifierKey),
        };
        let key = VerifyingKey::from_bytes(&public).map_err(|_| CheckpointError::BadVerifierKey)?;
        if key_id(name, &key) != id {
            return Err(CheckpointError::KeyIdMismatch);
        }
        Ok(Self { name: name.to_owned(), key })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The public form, to publish beside the checkpoints.
    pub fn to_text(&self) -> String {
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(self.key.as_bytes());
        format!("{}+{:08x}+{}", self.name, key_id(&self.name, &self.key), B64.encode(bytes))
    }

    /// The head a signed note states, if this key signed it.
    pub fn open(&self, note: &str) -> Result<TreeHead, CheckpointError> {
        let (body, signatures) = note.split_once("\n\n").ok_or(CheckpointError::Malformed("no signature block"))?;
        let body = format!("{body}\n");
        let id = key_id(&self.name, &self.key);
        let signed = signatures.lines().filter_map(|line| line.strip_prefix("\u{2014} ")).any(|line| {
            let Some((name, blob)) = line.split_once(' ') else { return false };
            let Ok(blob) = B64.decode(blob) else { return false };
            if name != self.name || blob.len() != 68 || blob[..4] != id.to_be_bytes() {
                return false;
            }
            let signature = Signature::from_bytes(blob[4..].try_into().expect("64 bytes"));
            self.key.verify(body.as_bytes(), &signature).is_ok()
        });
        if !signed {
            return Err(CheckpointError::BadSignature(self.name.clone()));
        }
        let mut lines = body.lines();
        if lines.next() != Some(self.name.as_str()) {
            return Err(CheckpointError::Malformed("another log's origin"));
        }
        let size = lines.next().and_then(|s| s.parse().ok()).ok_or(CheckpointError::Malformed("tree size"))?;
        let root = lines
            .next()
            .and_then(|r| B64.decode(r).ok())
            .and_then(|r| <Hash>::try_from(r).ok())
            .ok_or(CheckpointError::Malformed("root hash"))?;
        let at = lines
            .find_map(|l| l.strip_prefix("time "))
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .ok_or(CheckpointError::Malformed("time"))?;
        Ok(TreeHead { size, root, at })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::audit::merkle::leaf_hash;

    fn head() -> TreeHead {
        TreeHead { size: 1520, root: leaf_hash(b"x"), at: Utc.with_ymd_and_hms(2026, 12, 3, 8, 0, 0).unwrap() }
    }

    #[test]
    fn a_signed_checkpoint_opens_with_its_verifier_only() {
        let signer = CheckpointSigner::generate("eid.example.vn/audit").unwrap();
        let note = signer.sign(&head());
        assert!(note.starts_with("eid.example.vn/audit\n1520\n"), "{note}");
        let verifier = CheckpointVerifier::parse(&signer.verifier().to_text()).unwrap();
        assert_eq!(verifier.open(&note), Ok(head()));
        let other = CheckpointSigner::generate("eid.example.vn/audit").unwrap().verifier();
        assert!(matches!(other.open(&note), Err(CheckpointError::BadSignature(_))));
        let edited = note.replacen("1520", "1519", 1);
        assert!(matches!(verifier.open(&edited), Err(CheckpointError::BadSignature(_))), "a changed size breaks it");
    }

    #[test]
    fn the_key_file_round_trips_and_a_wrong_key_id_is_refused() {
        let signer = CheckpointSigner::generate("dinhdanh/audit").unwrap();
        let text = signer.to_key_file();
        assert!(text.starts_with("PRIVATE+KEY+dinhdanh/audit+"));
        let back = CheckpointSigner::parse(&text).unwrap();
        assert_eq!(back.verifier().to_text(), signer.verifier().to_text());
        let parts: Vec<&str> = text.trim().splitn(5, '+').collect();
        let wrong = format!("PRIVATE+KEY+{}+00000000+{}", parts[2], parts[4]);
        assert_eq!(CheckpointSigner::parse(&wrong).unwrap_err(), CheckpointError::KeyIdMismatch);
        assert_eq!(CheckpointSigner::parse("not a key").unwrap_err(), CheckpointError::BadSigningKey);
        assert!(format!("{signer:?}").contains("dinhdanh/audit") && !format!("{signer:?}").contains(parts[4]));
    }
}
