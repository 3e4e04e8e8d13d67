//! Proof Key for Code Exchange (RFC 7636) with the `S256` method only: the syntax of `code_challenge` and
//! `code_verifier`, and the check at the token endpoint, compared in constant time. `plain` is refused where the
//! request is parsed ([`crate::authorize`]), as the metadata's `code_challenge_methods_supported` says.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// An `S256` code challenge: `BASE64URL(SHA256(code_verifier))` without padding, 43 characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CodeChallenge(String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PkceError {
    #[error("code_challenge must be the 43-character base64url SHA-256 of the verifier")]
    ChallengeSyntax,
    #[error("code_verifier must be 43 to 128 characters of A-Z a-z 0-9 - . _ ~")]
    VerifierSyntax,
    #[error("code_verifier does not match the code_challenge")]
    Mismatch,
}

/// RFC 7636 §4.1: `[A-Z] / [a-z] / [0-9] / "-" / "." / "_" / "~"`, 43 to 128 characters.
pub fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

impl CodeChallenge {
    /// Parses an `S256` challenge: exactly the 43 base64url characters a SHA-256 digest encodes to.
    pub fn parse_s256(challenge: &str) -> Result<Self, PkceError> {
        let decoded = URL_SAFE_NO_PAD.decode(challenge).map_err(|_| PkceError::ChallengeSyntax)?;
        // A 43-character string that decodes to 32 bytes but is not canonical (stray low bits) is refused too.
        if challenge.len() != 43 || decoded.len() != 32 || URL_SAFE_NO_PAD.encode(&decoded) != challenge {
            return Err(PkceError::ChallengeSyntax);
        }
        Ok(Self(challenge.to_owned()))
    }

    /// The challenge of a verifier (what a client computes; for tests and tools).
    pub fn of_verifier(verifier: &str) -> Self {
        Self(URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Checks a `code_verifier` against this challenge (RFC 7636 §4.6), comparing in constant time.
    pub fn verify(&self, verifier: &str) -> Result<(), PkceError> {
        if !is_valid_verifier(verifier) {
            return Err(PkceError::VerifierSyntax);
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if bool::from(computed.as_bytes().ct_eq(self.0.as_bytes())) { Ok(()) } else { Err(PkceError::Mismatch) }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = CodeChallenge::parse_s256("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM").unwrap();
        assert_eq!(CodeChallenge::of_verifier(verifier), challenge);
        assert_eq!(challenge.verify(verifier), Ok(()));
        assert_eq!(challenge.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK"), Err(PkceError::Mismatch));
    }

    #[test]
    fn malformed_challenges_and_verifiers_are_refused() {
        for bad in
            ["", "abc", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM=", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"]
        {
            assert_eq!(CodeChallenge::parse_s256(bad), Err(PkceError::ChallengeSyntax), "{bad}");
        }
        // Non-canonical: the last character carries bits beyond the 256.
        assert_eq!(
            CodeChallenge::parse_s256("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"),
            Err(PkceError::ChallengeSyntax)
        );
        let challenge = CodeChallenge::of_verifier(&"a".repeat(43));
        assert_eq!(challenge.verify(&"a".repeat(42)), Err(PkceError::VerifierSyntax));
        assert_eq!(challenge.verify(&"a".repeat(129)), Err(PkceError::VerifierSyntax));
        assert_eq!(challenge.verify(&format!("{}+", "a".repeat(42))), Err(PkceError::VerifierSyntax));
        // A `plain` client sends the verifier itself as the challenge: it is no S256 challenge of itself.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(CodeChallenge::parse_s256(verifier).unwrap().verify(verifier), Err(PkceError::Mismatch));
    }

    proptest! {
        #[test]
        fn every_valid_verifier_matches_its_own_challenge_only(
            verifier in "[A-Za-z0-9._~-]{43,128}",
            other in "[A-Za-z0-9._~-]{43,128}",
        ) {
            prop_assert!(is_valid_verifier(&verifier));
            let challenge = CodeChallenge::parse_s256(CodeChallenge::of_verifier(&verifier).as_str()).unwrap();
            prop_assert_eq!(challenge.verify(&verifier), Ok(()));
            if other != verifier {
                prop_assert_eq!(challenge.verify(&other), Err(PkceError::Mismatch));
            }
        }

        #[test]
        fn verifiers_outside_the_unreserved_set_are_refused(prefix in "[A-Za-z0-9]{42,127}", bad in "[^A-Za-z0-9._~-]") {
            let verifier = prefix + &bad;
            prop_assert!(!is_valid_verifier(&verifier));
        }
    }
}
