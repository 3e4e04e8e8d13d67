//! Hashing of secrets (passwords, one-time codes) with argon2id, on blocking threads so that a hash never
//! stalls the async runtime. Verification compares in constant time (argon2's `verify_password`).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::AppState;
use crate::problem::ApiError;

/// What one server instance has spent on argon2id verifications: the costly step that an unknown user name and a
/// wrong password must share, so that timing tells them apart no better than the answer does. Tests compare the
/// work of two paths by it; operators see it as `dinhdanh_argon2_verifications_total`.
#[derive(Debug, Default)]
pub struct Work {
    argon2_verifications: std::sync::atomic::AtomicU64,
}

impl Work {
    pub fn argon2_verifications(&self) -> u64 {
        self.argon2_verifications.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn count_verification(&self) {
        self.argon2_verifications.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        metrics::counter!("dinhdanh_argon2_verifications_total").increment(1);
    }
}

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

/// The stored form of a secret the server generated (a client secret: 256 random bits). No one chose it, so
/// there is no dictionary to guess from and a fast hash suffices; argon2id stays for what people choose.
pub fn server_secret_digest(secret: &str) -> String {
    format!("{SERVER_SECRET_SCHEME}{}", token_hash(secret))
}

const SERVER_SECRET_SCHEME: &str = "sha256:";

/// How a presented server-generated secret compared with its stored form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretMatch {
    No,
    Yes,
    /// It matched a legacy argon2id hash: store [`server_secret_digest`] instead.
    YesUpgrade,
}

/// Compares a presented server-generated secret with its stored form: a SHA-256 digest compared in constant time,
/// or (secrets stored before digests were used) an argon2id hash, which the caller then replaces.
pub async fn verify_server_secret(state: &AppState, secret: &str, stored: &str) -> Result<SecretMatch, ApiError> {
    use subtle::ConstantTimeEq;
    if stored.starts_with(SERVER_SECRET_SCHEME) {
        let presented = server_secret_digest(secret);
        let same: bool = presented.as_bytes().ct_eq(stored.as_bytes()).into();
        return Ok(if same { SecretMatch::Yes } else { SecretMatch::No });
    }
    Ok(if verify_secret(state, secret.to_owned(), stored.to_owned()).await? {
        SecretMatch::YesUpgrade
    } else {
        SecretMatch::No
    })
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
pub async fn verify_secret(state: &AppState, secret: String, stored_hash: String) -> Result<bool, ApiError> {
    state.work.count_verification();
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&stored_hash).is_ok_and(|parsed| hasher().verify_password(secret.as_bytes(), &parsed).is_ok())
    })
    .await
    .map_err(|e| ApiError::internal(format!("verification task failed: {e}")))
}

/// Spends the time a real verification takes, against a hash nobody knows the secret of: an unknown user name,
/// identity or client is refused as slowly as a wrong password, so timing does not tell which it was.
pub async fn verify_against_nothing(state: &AppState, secret: String) -> Result<(), ApiError> {
    let hash = nothing_hash().await?;
    verify_secret(state, secret, hash).await?;
    Ok(())
}

/// The hash [`verify_against_nothing`] verifies against: made by the same hasher as every stored secret, so it
/// costs the same to check.
pub async fn nothing_hash() -> Result<String, ApiError> {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_try_init(|| async {
            let mut bytes = [0u8; 16];
            rand::rngs::OsRng.fill_bytes(&mut bytes);
            hash_secret(hex(&bytes)).await
        })
        .await
        .cloned()
}
