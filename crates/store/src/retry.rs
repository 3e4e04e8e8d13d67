//! Retrying a transaction that lost a race it could not have avoided.
//!
//! Every path that holds several rows takes them in one global order (see the crate documentation), so two
//! dinhdanh transactions do not deadlock each other. What can still happen is rarer: PostgreSQL may report a
//! deadlock with a statement outside that order (an index page, a foreign-key check) or a serialization failure,
//! and SQLite may answer `SQLITE_BUSY` when another process holds the file past the busy timeout. None of these
//! says anything about the caller's request, so the store runs the whole transaction again, a few times, after a
//! short random pause, instead of answering an error the caller can do nothing about.

use std::future::Future;
use std::sync::atomic::Ordering;
use std::time::Duration;

use rand::Rng;

use crate::{Store, StoreError};

/// How many times a transaction is tried in all before its error is returned.
pub const ATTEMPTS: u32 = 5;

/// An error that may go away if the same transaction runs again.
pub trait Transient {
    fn is_transient(&self) -> bool;
}

impl Transient for StoreError {
    fn is_transient(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(db)) = self else { return false };
        // 40P01 deadlock_detected, 40001 serialization_failure (PostgreSQL); 5 SQLITE_BUSY, 517 SQLITE_BUSY_SNAPSHOT,
        // 6 SQLITE_LOCKED (SQLite, extended result codes as sqlx reports them).
        matches!(db.code().as_deref(), Some("40P01" | "40001" | "5" | "517" | "6"))
    }
}

impl Store {
    /// Runs `attempt` (which must begin, do and commit one transaction of this store, and have no effect outside
    /// it) until it succeeds, fails for a reason that is not [`Transient`], or has been tried [`ATTEMPTS`] times.
    pub async fn retrying<T, E, F, Fut>(&self, attempt: F) -> Result<T, E>
    where
        E: Transient,
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        retrying(attempt, || {
            self.retries.fetch_add(1, Ordering::Relaxed);
        })
        .await
    }

    /// How many transactions this store has run again since it was opened: a figure that stays at 0 when every
    /// path keeps the lock order (the tests check it; `/metrics` shows it).
    pub fn retries(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }
}

async fn retrying<T, E, F, Fut>(mut attempt: F, mut on_retry: impl FnMut()) -> Result<T, E>
where
    E: Transient,
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut tries = 1;
    loop {
        match attempt().await {
            Err(e) if e.is_transient() && tries < ATTEMPTS => {
                on_retry();
                tracing::warn!(attempt = tries, "transaction lost a race with another one; running it again");
                // Random, growing pauses, so that the transactions that collided do not collide again in step.
                let pause = Duration::from_millis(rand::thread_rng().gen_range(1..=5u64 << tries));
                tokio::time::sleep(pause).await;
                tries += 1;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicU32;

    use super::*;

    #[derive(Debug, PartialEq)]
    enum Outcome {
        Race,
        Refused,
    }

    impl Transient for Outcome {
        fn is_transient(&self) -> bool {
            *self == Outcome::Race
        }
    }

    #[tokio::test]
    async fn a_lost_race_runs_again_until_it_succeeds() {
        let runs = AtomicU32::new(0);
        let mut retried = 0;
        let result: Result<u32, Outcome> = retrying(
            || async {
                let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
                if n < 3 { Err(Outcome::Race) } else { Ok(n) }
            },
            || retried += 1,
        )
        .await;
        assert_eq!((result, retried), (Ok(3), 2));
    }

    #[tokio::test]
    async fn other_errors_are_returned_at_once_and_races_stop_after_the_last_attempt() {
        let runs = AtomicU32::new(0);
        let refused: Result<(), Outcome> = retrying(
            || async {
                runs.fetch_add(1, Ordering::SeqCst);
                Err(Outcome::Refused)
            },
            || {},
        )
        .await;
        assert_eq!((refused, runs.swap(0, Ordering::SeqCst)), (Err(Outcome::Refused), 1));
        let raced: Result<(), Outcome> = retrying(
            || async {
                runs.fetch_add(1, Ordering::SeqCst);
                Err(Outcome::Race)
            },
            || {},
        )
        .await;
        assert_eq!((raced, runs.load(Ordering::SeqCst)), (Err(Outcome::Race), ATTEMPTS));
    }
}
