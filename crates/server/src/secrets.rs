//! Hashing of secrets (passwords, one-time codes) with argon2id, on a fixed set of worker threads (one per core,
//! with a bounded queue) so that a hash never stalls the async runtime and a flood cannot grow memory without
//! bound. Verification compares in constant time (argon2's `verify_password`).

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{Output, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use rand::RngCore;

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

// Bearer tokens, codes and their storage form are the OpenID Connect provider's as much as the API's: one
// definition, in the provider's crate.
pub use dinhdanh_oidc::tokens::{hex, new_token, token_hash};

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
fn params() -> Params {
    Params::new(19 * 1024, 2, 1, None).expect("argon2 params")
}

std::thread_local! {
    /// This worker's argon2 memory, allocated once and reused by every hash it computes. Allocating 19 MiB per
    /// hash and freeing it is what the allocator does not give back: two threads verifying 200 passwords each
    /// grew a process to 430 MB that way, and to 41 MB reusing their memory (measured with argon2 0.5).
    static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// argon2 of `secret` under `salt` with `params`, into `out`, in this thread's reused memory.
fn argon2_into(
    algorithm: Algorithm,
    version: Version,
    params: Params,
    secret: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = params.block_count();
    MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, Block::default());
        }
        Argon2::new(algorithm, version, params).hash_password_into_with_memory(secret, salt, out, &mut memory[..blocks])
    })
}

/// A new PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) for `secret`, as argon2's `PasswordHasher`
/// writes it, computed in the worker's reused memory.
fn hash_phc(secret: &[u8]) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_buffer = [0u8; 64];
    let salt_bytes = salt.as_salt().decode_b64(&mut salt_buffer).map_err(|e| e.to_string())?;
    let params = params();
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon2_into(Algorithm::Argon2id, Version::V0x13, params.clone(), secret, salt_bytes, out)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    })
    .map_err(|e| e.to_string())?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: params.try_into().map_err(|e: argon2::password_hash::Error| e.to_string())?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// Whether `secret` matches the PHC string `stored`, with the parameters the string names; the outputs are
/// compared in constant time (`Output`'s equality). A malformed string is no match.
fn verify_phc(secret: &[u8], stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else { return false };
    let (Ok(algorithm), Ok(params)) = (Algorithm::try_from(parsed.algorithm), Params::try_from(&parsed)) else {
        return false;
    };
    let Ok(version) = parsed.version.map_or(Ok(Version::V0x13), Version::try_from) else { return false };
    let mut salt_buffer = [0u8; 64];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_buffer) else { return false };
    let computed = Output::init_with(expected.len(), |out| {
        argon2_into(algorithm, version, params.clone(), secret, salt_bytes, out)
            .map_err(|_| argon2::password_hash::Error::Crypto)
    });
    computed.is_ok_and(|computed| computed == expected)
}

pub async fn hash_secret(secret: String) -> Result<String, ApiError> {
    argon2_slot()?.hash(secret).await
}

/// [`hash_secret`] for the second argon2 job of a request whose first has passed (a sign-in code after the
/// password was verified, an activation code after the password was hashed): it waits for room in the queue
/// instead of refusing, so that a flood cannot waste the first job's work and answer `503` after it.
pub async fn hash_secret_after_check(secret: String) -> Result<String, ApiError> {
    let jobs = argon2_workers().jobs.clone();
    let permit = jobs.reserve_owned().await.map_err(|_| ApiError::internal("the argon2 workers have stopped"))?;
    Argon2Slot(permit).hash(secret).await
}

/// True when `secret` matches the stored hash; a malformed stored hash counts as no match.
pub async fn verify_secret(state: &AppState, secret: String, stored_hash: String) -> Result<bool, ApiError> {
    argon2_slot()?.verify(state, secret, stored_hash).await
}

/// Callers that may wait for an argon2 worker, per worker; past them the answer is `503` with `Retry-After`.
pub const ARGON2_QUEUE_PER_WORKER: usize = 32;

type Argon2Job = Box<dyn FnOnce() + Send>;

/// The argon2id workers: one thread per core, each hashing one secret at a time, fed from one bounded queue.
/// argon2id is built to cost memory (19 MiB a hash): run on tokio's blocking pool, a flood of wrong passwords
/// started hundreds of threads hashing at once and grew the process to gigabytes that the allocator kept. Here
/// at most one hash per core is in memory, and a flood beyond the queue is refused at once instead of queued.
struct Argon2Workers {
    jobs: tokio::sync::mpsc::Sender<Argon2Job>,
}

fn argon2_workers() -> &'static Argon2Workers {
    static WORKERS: std::sync::OnceLock<Argon2Workers> = std::sync::OnceLock::new();
    WORKERS.get_or_init(|| {
        let count = std::thread::available_parallelism().map_or(2, |n| n.get());
        let (jobs, queue) = tokio::sync::mpsc::channel::<Argon2Job>(count * ARGON2_QUEUE_PER_WORKER);
        let queue = std::sync::Arc::new(std::sync::Mutex::new(queue));
        for n in 0..count {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("argon2-{n}"))
                .spawn(move || {
                    loop {
                        // The lock is held only to take the next job, not while hashing.
                        let job = match queue.lock() {
                            Ok(mut queue) => queue.blocking_recv(),
                            Err(_) => return,
                        };
                        match job {
                            Some(job) => job(),
                            None => return,
                        }
                    }
                })
                .expect("start an argon2 worker thread");
        }
        Argon2Workers { jobs }
    })
}

/// A place in the argon2 queue, taken before the work it is for: a request that must not waste a try when the
/// queue is full (a code check, which uses up one of the code's attempts) takes its place first, and only then
/// its attempt.
pub struct Argon2Slot(tokio::sync::mpsc::OwnedPermit<Argon2Job>);

/// A place in the queue now, or `Saturated` (503, `Retry-After`) when every worker is busy and the queue is full.
pub fn argon2_slot() -> Result<Argon2Slot, ApiError> {
    match argon2_workers().jobs.clone().try_reserve_owned() {
        Ok(permit) => Ok(Argon2Slot(permit)),
        Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
            metrics::counter!("dinhdanh_argon2_refused_total").increment(1);
            Err(ApiError::Saturated)
        }
        Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => {
            Err(ApiError::internal("the argon2 workers have stopped"))
        }
    }
}

impl Argon2Slot {
    /// Runs `work` on an argon2 worker in this place and waits for it.
    async fn run<T: Send + 'static>(self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let (done, result) = tokio::sync::oneshot::channel();
        self.0.send(Box::new(move || {
            let _ = done.send(work());
        }));
        result.await.map_err(|_| ApiError::internal("an argon2 worker dropped its job"))
    }

    /// A new PHC string for `secret`.
    pub async fn hash(self, secret: String) -> Result<String, ApiError> {
        self.run(move || hash_phc(secret.as_bytes()))
            .await?
            .map_err(|e| ApiError::internal(format!("hashing failed: {e}")))
    }

    /// Whether `secret` matches `stored_hash` (counted in [`Work`]).
    pub async fn verify(self, state: &AppState, secret: String, stored_hash: String) -> Result<bool, ApiError> {
        state.work.count_verification();
        self.run(move || verify_phc(secret.as_bytes(), &stored_hash)).await
    }
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

#[cfg(test)]
mod tests {
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[test]
    fn hashes_in_reused_memory_are_argon2s_own_phc_strings() {
        let ours = hash_phc("hoa sen nở trên hồ tây".as_bytes()).unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{ours}");
        // argon2's own verifier accepts ours, and ours accepts argon2's own (the hashes stored before).
        let parsed = PasswordHash::new(&ours).unwrap();
        let standard = Argon2::new(Algorithm::Argon2id, Version::V0x13, params());
        assert!(standard.verify_password("hoa sen nở trên hồ tây".as_bytes(), &parsed).is_ok());
        let theirs = standard.hash_password(b"mat khau cu", &SaltString::generate(&mut OsRng)).unwrap().to_string();
        assert!(verify_phc(b"mat khau cu", &theirs));
        assert!(!verify_phc(b"mat khau moi", &theirs));
        assert!(!verify_phc("hoa sen nở trên hồ Tây".as_bytes(), &ours));
    }

    #[test]
    fn other_parameters_named_by_the_hash_are_honoured_and_garbage_is_no_match() {
        let light = Argon2::new(Algorithm::Argon2i, Version::V0x10, Params::new(1024, 1, 1, None).unwrap());
        let stored = light.hash_password(b"secret", &SaltString::generate(&mut OsRng)).unwrap().to_string();
        assert!(verify_phc(b"secret", &stored), "{stored}");
        assert!(!verify_phc(b"Secret", &stored));
        for garbage in ["", "$argon2id$", "sha256:abcd", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$"] {
            assert!(!verify_phc(b"secret", garbage), "{garbage}");
        }
    }
}
