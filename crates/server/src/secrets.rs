//! Hashing of secrets (passwords, one-time codes) with argon2id, on blocking threads so that a hash never
//! stalls the async runtime. Verification compares in constant time (argon2's `verify_password`).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::problem::ApiError;

/// A new bearer token: `prefix` and 32 random bytes in hex, and the SHA-256 hash under which it is stored.
/// Tokens carry 256 bits of entropy, so a fast hash suffices (no dictionary to guess from); the plain token is
/// shown once and never stored.
pub fn new_token(prefix: &str) -> (String, String) {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let token = format!("{prefix}{}", hex(&bytes));
    let hash = token_hash(&token);
    (token, hash)
}

/// The storage form of a bearer token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// argon2id with OWASP's recommended minimum (19 MiB, 2 passes, 1 lane).
fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(19 * 1024, 2, 1, None).expect("argon2 params"))
}

pub async fn hash_secret(secret: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        hasher().hash_password(secret.as_bytes(), &salt).map(|h| h.to_string())
    })
    .await
    .map_err(|e| ApiError::internal(format!("hashing task failed: {e}")))?
    .map_err(|e| ApiError::internal(format!("hashing failed: {e}")))
}

/// True when `secret` matches the stored hash; a malformed stored hash counts as no match.
pub async fn verify_secret(secret: String, stored_hash: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored_hash).is_ok_and(|parsed| hasher().verify_password(secret.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|e| ApiError::internal(format!("verification task failed: {e}")))
}

/// Spends the time a real verification takes, against a hash nobody knows the secret of: an unknown user name,
/// identity or client is refused as slowly as a wrong password, so timing does not tell which it was.
pub async fn verify_against_nothing(secret: String) -> Result<(), ApiError> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    let hash = DUMMY
        .get_or_try_init(|| async {
            let mut bytes = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            hash_secret(hex(&bytes)).await
        })
        .await?;
    verify_secret(secret, hash.clone()).await?;
    Ok(())
}
