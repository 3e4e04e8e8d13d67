//! Group commit: many small writes of one kind that arrive together run as one transaction.
//!
//! A caller hands its input to [`GroupCommit::submit`] and waits. One writer task per group takes every input
//! waiting (up to a batch's size), applies them all in one [`Tx`] through the group's [`GroupWork`], commits,
//! and only then answers each caller with its own output. So the rule "every state change is one transaction"
//! holds per batch: a batch commits all or nothing, and no caller hears of its write before the commit that
//! makes it durable (at the store's configured level). While one batch commits, the next one gathers, so under
//! load the cost of a commit (and, on SQLite, of the single writer's turn; on PostgreSQL, of the audit head's
//! row) is shared by the whole batch instead of paid by each caller.
//!
//! A caller that goes away (a client hanging up) does not stop its batch: the writer runs to completion in its
//! own task, so no batch is ever left half done.

use std::future::Future;
use std::sync::{Arc, OnceLock};

use tokio::sync::{mpsc, oneshot};

use crate::{Store, StoreError, Tx};

/// What a group does to a batch of inputs, inside the batch's transaction.
pub trait GroupWork: Send + Sync + 'static {
    type Input: Send + Sync + 'static;
    /// One per input, in order: what the caller hears (including a refusal that is not an error of the batch).
    type Output: Send + 'static;

    /// Applies every input in `tx`. An error fails (and rolls back) the whole batch; a transient one (a lost
    /// race) runs the whole batch again.
    fn apply(
        &self,
        tx: &mut Tx,
        inputs: &[Self::Input],
    ) -> impl Future<Output = Result<Vec<Self::Output>, StoreError>> + Send;
}

/// Why a submitted input has no output: its batch failed, or the writer is gone (the runtime is shutting down).
#[derive(Debug, Clone, thiserror::Error)]
pub enum GroupError {
    #[error("the batch failed: {0}")]
    Batch(Arc<StoreError>),
    #[error("the group's writer has stopped")]
    Stopped,
}

type Waiting<W> = (<W as GroupWork>::Input, oneshot::Sender<Result<<W as GroupWork>::Output, GroupError>>);

/// A group of one kind of write; cheap to clone. The writer task starts on the first submission, on the
/// runtime of that caller.
pub struct GroupCommit<W: GroupWork> {
    store: Store,
    work: Arc<W>,
    max_batch: usize,
    queue: Arc<OnceLock<mpsc::UnboundedSender<Waiting<W>>>>,
}

impl<W: GroupWork> Clone for GroupCommit<W> {
    fn clone(&self) -> Self {
        Self {
            store: self.store.clone(),
            work: self.work.clone(),
            max_batch: self.max_batch,
            queue: self.queue.clone(),
        }
    }
}

impl<W: GroupWork> GroupCommit<W> {
    /// At most `max_batch` inputs per transaction (bounded so that one transaction's statements stay small).
    pub fn new(store: Store, work: W, max_batch: usize) -> Self {
        Self { store, work: Arc::new(work), max_batch: max_batch.max(1), queue: Arc::new(OnceLock::new()) }
    }

    /// The group's work (for its own counters and tests).
    pub fn work(&self) -> &W {
        &self.work
    }

    /// Applies `input` in the next batch and returns its output once that batch has committed.
    pub async fn submit(&self, input: W::Input) -> Result<W::Output, GroupError> {
        let queue = self.queue.get_or_init(|| {
            let (sender, receiver) = mpsc::unbounded_channel();
            tokio::spawn(write_batches(self.store.clone(), self.work.clone(), self.max_batch, receiver));
            sender
        });
        let (answer, answered) = oneshot::channel();
        queue.send((input, answer)).map_err(|_| GroupError::Stopped)?;
        answered.await.map_err(|_| GroupError::Stopped)?
    }
}

async fn write_batches<W: GroupWork>(
    store: Store,
    work: Arc<W>,
    max_batch: usize,
    mut queue: mpsc::UnboundedReceiver<Waiting<W>>,
) {
    let mut inputs = Vec::with_capacity(max_batch);
    let mut answers = Vec::with_capacity(max_batch);
    while let Some((input, answer)) = queue.recv().await {
        inputs.push(input);
        answers.push(answer);
        while inputs.len() < max_batch {
            let Ok((input, answer)) = queue.try_recv() else { break };
            inputs.push(input);
            answers.push(answer);
        }
        count_batch(inputs.len());
        let committed = store
            .retrying(|| async {
                let mut tx = store.begin().await?;
                let outputs = work.apply(&mut tx, &inputs).await?;
                tx.commit().await?;
                Ok::<_, StoreError>(outputs)
            })
            .await;
        match committed {
            Ok(outputs) => {
                debug_assert_eq!(outputs.len(), answers.len(), "one output per input");
                for (answer, output) in answers.drain(..).zip(outputs) {
                    // A caller that went away has nothing to be told.
                    let _ = answer.send(Ok(output));
                }
            }
            Err(error) => {
                tracing::error!(%error, batch = inputs.len(), "a group commit failed; every caller in it is told");
                let error = Arc::new(error);
                for answer in answers.drain(..) {
                    let _ = answer.send(Err(GroupError::Batch(error.clone())));
                }
            }
        }
        // Both drains emptied `answers` (an answer left without an output, were `apply` to return too few, is
        // dropped with the drain: its caller hears `Stopped` rather than waiting for ever).
        inputs.clear();
    }
}

/// The sizes of the batches, for the tests and benchmarks that show a group commit gathered.
static BATCHES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
static BATCHED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn count_batch(size: usize) {
    BATCHES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    BATCHED.fetch_add(size as u64, std::sync::atomic::Ordering::Relaxed);
}

/// Batches committed by every group of this process, and the inputs they held: `(batches, inputs)`.
pub fn group_commit_totals() -> (u64, u64) {
    (BATCHES.load(std::sync::atomic::Ordering::Relaxed), BATCHED.load(std::sync::atomic::Ordering::Relaxed))
}
