//! The periodic jobs' runs across the cluster: each node ticks every job, and [`run_scheduled`] runs a tick's
//! work only when this node claims the job for the period (`Store::claim_scheduled_job`, docs/scaling.md), so
//! with any number of nodes up a job runs once a period.

use std::future::Future;
use std::time::Duration;

use crate::AppState;
use crate::problem::ApiError;

/// The jobs, by the name their row and metrics carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// Placing and lifting the automatic locks from the registries.
    AutomaticLocks,
    /// Purging expired rows, then the signing keys' rotation and pruning when due.
    Purge,
    /// Signing a checkpoint of the audit log.
    AuditCheckpoint,
}

impl Job {
    pub fn name(self) -> &'static str {
        match self {
            Job::AutomaticLocks => "automatic-locks",
            Job::Purge => "purge",
            Job::AuditCheckpoint => "audit-checkpoint",
        }
    }
}

/// A name for this node in the jobs' rows and the logs: the host, the process and a random part (several
/// servers may run in one process, as the tests do).
pub fn node_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let host = host.trim();
    let host = if host.is_empty() { "node" } else { host };
    format!("{host}-{}-{:08x}", std::process::id(), rand::random::<u32>())
}

/// Runs `work` if this node claims `job` for the period `every` (`None` when another node has it); the claim
/// is freed when the work ends, whether it succeeded or not.
pub async fn run_scheduled<T, F>(state: &AppState, job: Job, every: Duration, work: F) -> Result<Option<T>, ApiError>
where
    F: Future<Output = Result<T, ApiError>>,
{
    let Some(claim) = state.store.claim_scheduled_job(job.name(), &state.node, state.clock.now(), every).await? else {
        metrics::counter!("dinhdanh_scheduled_job_ticks_total", "job" => job.name(), "outcome" => "skipped")
            .increment(1);
        return Ok(None);
    };
    let outcome = work.await;
    metrics::counter!("dinhdanh_scheduled_job_ticks_total", "job" => job.name(),
                      "outcome" => if outcome.is_ok() { "ran" } else { "failed" })
    .increment(1);
    claim.finish(state.clock.now()).await?;
    outcome.map(Some)
}
