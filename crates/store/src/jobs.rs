//! Scheduled jobs run once across the cluster (`scheduled_jobs`, migration 0022 `cluster`; issue 17, docs/scaling.md):
//! every node ticks each periodic job, and a tick runs the job only if it claims the job's row, which one
//! node can do once per period. On PostgreSQL the run also holds a session advisory lock (named after the
//! schema and the job), so no two runs ever overlap and a node that dies mid-run frees the job when its
//! connection ends; on SQLite, where the nodes are one process or a few on one machine, a run that has not
//! finished after [`STALE`] is taken over.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::pool::PoolConnection;

use crate::time::{from_ms, to_ms};
use crate::{Dialect, Store, StoreError};

/// How long an unfinished run on SQLite keeps its job from the others.
pub const STALE: Duration = Duration::from_secs(15 * 60);

/// A claimed run of a job; [`JobClaim::finish`] records its end and frees the job. Dropped unfinished (the
/// run failed or panicked), the job is freed as well: on PostgreSQL its connection is closed rather than put
/// back into the pool with the lock held.
pub struct JobClaim {
    store: Store,
    name: String,
    node: String,
    advisory: Option<PoolConnection<sqlx::Any>>,
}

/// A job's row, for the operator and the tests.
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduledJobRow {
    pub name: String,
    pub node: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub runs: i64,
    pub attempts: i64,
}

const ADVISORY_KEY: &str = "hashtextextended(current_schema() || '/dinhdanh-job/' || $1, 0)";

impl Store {
    /// Claims job `name` for a run by `node` at `now` unless it was started less than `every` ago (less a
    /// tenth of it, at most a second, so that nodes ticking at the same pace do not miss a period by a hair) or
    /// is running: `None` when another node has it.
    pub async fn claim_scheduled_job(
        &self,
        name: &str,
        node: &str,
        now: DateTime<Utc>,
        every: Duration,
    ) -> Result<Option<JobClaim>, StoreError> {
        let advisory = match self.dialect {
            Dialect::Postgres => {
                let mut conn = self.pool.acquire().await?;
                let held: bool = sqlx::query(&format!("SELECT pg_try_advisory_lock({ADVISORY_KEY})"))
                    .bind(name)
                    .fetch_one(&mut *conn)
                    .await?
                    .try_get(0)?;
                if !held {
                    self.count_job_attempt(name, node).await?;
                    return Ok(None);
                }
                Some(conn)
            }
            Dialect::Sqlite => None,
        };
        // Held as long as `claim` lives: an early return below frees the advisory lock with it.
        let claim = JobClaim { store: self.clone(), name: name.to_owned(), node: node.to_owned(), advisory };
        let tolerance = (every / 10).min(Duration::from_secs(1));
        let period_cutoff = now - chrono::Duration::from_std(every.saturating_sub(tolerance)).unwrap_or_default();
        // With the advisory lock held nobody else is running it, whatever the row says.
        let stale_cutoff = match self.dialect {
            Dialect::Postgres => now,
            Dialect::Sqlite => now - chrono::Duration::from_std(STALE).unwrap_or_default(),
        };
        let mut tx = self.begin().await?;
        let claimed = sqlx::query(
            "INSERT INTO scheduled_jobs (name, node, started_at, finished_at, runs, attempts) \
             VALUES ($1, $2, $3, NULL, 1, 1) \
             ON CONFLICT (name) DO UPDATE SET node = excluded.node, started_at = excluded.started_at, \
             finished_at = NULL, runs = scheduled_jobs.runs + 1, attempts = scheduled_jobs.attempts + 1 \
             WHERE scheduled_jobs.started_at <= $4 \
             AND (scheduled_jobs.finished_at IS NOT NULL OR scheduled_jobs.started_at <= $5)",
        )
        .bind(name)
        .bind(node)
        .bind(to_ms(now))
        .bind(to_ms(period_cutoff))
        .bind(to_ms(stale_cutoff))
        .execute(&mut *tx.inner)
        .await?
        .rows_affected()
            == 1;
        if !claimed {
            count_attempt(&mut tx, name, node).await?;
        }
        tx.commit().await?;
        Ok(claimed.then_some(claim))
    }

    async fn count_job_attempt(&self, name: &str, node: &str) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        count_attempt(&mut tx, name, node).await?;
        tx.commit().await
    }

    /// Every job's row, by name.
    pub async fn scheduled_jobs(&self) -> Result<Vec<ScheduledJobRow>, StoreError> {
        let rows =
            sqlx::query("SELECT name, node, started_at, finished_at, runs, attempts FROM scheduled_jobs ORDER BY name")
                .fetch_all(&self.pool)
                .await?;
        rows.iter()
            .map(|row| {
                Ok(ScheduledJobRow {
                    name: row.try_get(0)?,
                    node: row.try_get(1)?,
                    started_at: from_ms(row.try_get(2)?)?,
                    finished_at: row.try_get::<Option<i64>, _>(3)?.map(from_ms).transpose()?,
                    runs: row.try_get(4)?,
                    attempts: row.try_get(5)?,
                })
            })
            .collect()
    }
}

/// Counts a tick that did not run the job. The node holding it may not have written the job's first row yet:
/// then this writes it as never run (started and finished at the epoch), which the holder's claim takes over.
async fn count_attempt(tx: &mut crate::Tx, name: &str, node: &str) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO scheduled_jobs (name, node, started_at, finished_at, runs, attempts) VALUES ($1, $2, 0, 0, 0, 1) \
         ON CONFLICT (name) DO UPDATE SET attempts = scheduled_jobs.attempts + 1",
    )
    .bind(name)
    .bind(node)
    .execute(&mut *tx.inner)
    .await?;
    Ok(())
}

impl JobClaim {
    /// Records the run's end at `at` and frees the job for the next period.
    pub async fn finish(mut self, at: DateTime<Utc>) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        sqlx::query("UPDATE scheduled_jobs SET finished_at = $1 WHERE name = $2 AND node = $3")
            .bind(to_ms(at))
            .bind(&self.name)
            .bind(&self.node)
            .execute(&mut *tx.inner)
            .await?;
        tx.commit().await?;
        if let Some(mut conn) = self.advisory.take() {
            let unlocked = sqlx::query(&format!("SELECT pg_advisory_unlock({ADVISORY_KEY})"))
                .bind(&self.name)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                drop(conn.detach());
            }
            unlocked?;
        }
        Ok(())
    }
}

impl Drop for JobClaim {
    fn drop(&mut self) {
        if let Some(conn) = self.advisory.take() {
            // Closing the session is what releases a session-level advisory lock without a round trip.
            drop(conn.detach());
        }
    }
}
