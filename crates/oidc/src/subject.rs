//! Subject identifiers (OIDC Core §8): `public` (the account's own id, the same for every relying party) and
//! `pairwise` (the default: a different `sub` per sector, so two relying parties cannot join their users by
//! `sub`). The pairwise value is
//!
//! ```text
//! sub = BASE64URL(SHA-256(sector_identifier || 0x00 || account_id || 0x00 || salt))
//! ```
//!
//! OIDC Core §8.1's example construction, with a zero byte between the parts so that no two (sector, account)
//! pairs can concatenate to the same input. The salt is a server secret of at least 32 random bytes: without it
//! anyone who knows an account id could compute its `sub` at every relying party. Changing the salt changes
//! every pairwise `sub`, so it is set once per deployment and never rotated.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dinhdanh_domain::AccountId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// How a client's `sub` values are made (`subject_type` in its registration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectType {
    Pairwise,
    Public,
}

impl SubjectType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pairwise => "pairwise",
            Self::Public => "public",
        }
    }
}

/// The server's pairwise salt. Its `Debug` does not show it.
#[derive(Clone)]
pub struct SubjectSalt(Vec<u8>);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pairwise subject salt must be at least 32 bytes")]
pub struct SaltTooShort;

impl SubjectSalt {
    pub fn new(bytes: Vec<u8>) -> Result<Self, SaltTooShort> {
        if bytes.len() < 32 { Err(SaltTooShort) } else { Ok(Self(bytes)) }
    }

    /// 32 new random bytes, for a deployment's first start (the caller stores them with its other secrets).
    pub fn generate() -> Self {
        use rand::RngCore;
        let mut bytes = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for SubjectSalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectSalt(…)")
    }
}

/// The pairwise `sub` of an account in a sector (the formula in the module docs): 43 base64url characters.
pub fn pairwise_subject(sector_identifier: &str, account: &AccountId, salt: &SubjectSalt) -> String {
    let mut hash = Sha256::new();
    hash.update(sector_identifier.as_bytes());
    hash.update([0u8]);
    hash.update(account.as_str().as_bytes());
    hash.update([0u8]);
    hash.update(salt.as_bytes());
    URL_SAFE_NO_PAD.encode(hash.finalize())
}

/// The `sub` a client sees for an account: pairwise in the client's sector, or the account id itself.
pub fn subject_for(
    subject_type: SubjectType,
    sector_identifier: &str,
    account: &AccountId,
    salt: &SubjectSalt,
) -> String {
    match subject_type {
        SubjectType::Pairwise => pairwise_subject(sector_identifier, account, salt),
        SubjectType::Public => account.as_str().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn salt() -> SubjectSalt {
        SubjectSalt::new(b"a deployment's pairwise salt, 32+ bytes".to_vec()).unwrap()
    }

    #[test]
    fn a_known_value_so_the_formula_never_changes_unnoticed() {
        let account = AccountId::new("7d3f2c1e-0000-4000-8000-000000000001".into());
        let salt = SubjectSalt::new(vec![7u8; 32]).unwrap();
        let mut input = b"bank.example\0".to_vec();
        input.extend_from_slice(b"7d3f2c1e-0000-4000-8000-000000000001\0");
        input.extend_from_slice(&[7u8; 32]);
        assert_eq!(pairwise_subject("bank.example", &account, &salt), URL_SAFE_NO_PAD.encode(Sha256::digest(&input)));
        assert_eq!(pairwise_subject("bank.example", &account, &salt).len(), 43);
    }

    #[test]
    fn short_salts_are_refused_and_never_printed() {
        assert_eq!(SubjectSalt::new(vec![1; 31]).unwrap_err(), SaltTooShort);
        assert_eq!(format!("{:?}", SubjectSalt::generate()), "SubjectSalt(…)");
    }

    #[test]
    fn public_subjects_are_the_account_id() {
        let account = AccountId::new("a1".into());
        assert_eq!(subject_for(SubjectType::Public, "x.example", &account, &salt()), "a1");
        assert_ne!(subject_for(SubjectType::Pairwise, "x.example", &account, &salt()), "a1");
    }

    proptest! {
        #[test]
        fn pairwise_subjects_are_stable_per_sector_and_differ_between_sectors(
            account in "[a-z0-9-]{1,40}",
            sector_a in "[a-z]{1,20}\\.example",
            sector_b in "[a-z]{1,20}\\.example",
        ) {
            let account = AccountId::new(account);
            let a = pairwise_subject(&sector_a, &account, &salt());
            prop_assert_eq!(&a, &pairwise_subject(&sector_a, &account, &salt()));
            if sector_a != sector_b {
                prop_assert_ne!(a, pairwise_subject(&sector_b, &account, &salt()));
            }
        }

        #[test]
        fn moving_a_boundary_between_sector_and_account_changes_the_subject(left in "[a-z]{1,10}", right in "[a-z]{2,10}") {
            // "ab" + "c" and "a" + "bc" would collide without the separator.
            let (moved_sector, moved_account) = (format!("{left}{}", &right[..1]), right[1..].to_owned());
            prop_assert_ne!(
                pairwise_subject(&left, &AccountId::new(right.clone()), &salt()),
                pairwise_subject(&moved_sector, &AccountId::new(moved_account), &salt())
            );
        }

        #[test]
        fn another_salt_gives_other_subjects(account in "[a-z0-9-]{1,40}") {
            let account = AccountId::new(account);
            prop_assert_ne!(
                pairwise_subject("bank.example", &account, &salt()),
                pairwise_subject("bank.example", &account, &SubjectSalt::generate())
            );
        }
    }
}
