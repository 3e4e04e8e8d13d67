//! The outbox worker: claims due messages with a lease, sends each through its channel and records the outcome.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use dinhdanh_domain::Channel;
use dinhdanh_store::{OutboxMessage, Store, StoreError};
use futures_util::FutureExt;
use thiserror::Error;
use tokio::sync::watch;

use crate::{DevInbox, SendError, Sender};

/// The sender of each channel. A channel without a sender of its own goes to the dev inbox when there is one;
/// without either, its messages fail transiently ("no sms channel configured") until an operator sets one up
/// or they run out of attempts.
#[derive(Clone, Default)]
pub struct Channels {
    pub email: Option<Arc<dyn Sender>>,
    pub sms: Option<Arc<dyn Sender>>,
    pub dev_inbox: Option<Arc<DevInbox>>,
}

impl Channels {
    /// The sender that will carry messages of `channel`, if any.
    pub fn sender_for(&self, channel: Channel) -> Option<Arc<dyn Sender>> {
        let own = match channel {
            Channel::Email => self.email.clone(),
            Channel::Sms => self.sms.clone(),
        };
        own.or_else(|| self.dev_inbox.clone().map(|inbox| inbox as Arc<dyn Sender>))
    }
}

impl fmt::Debug for Channels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Channels")
            .field("email", &self.email.is_some())
            .field("sms", &self.sms.is_some())
            .field("dev_inbox", &self.dev_inbox.as_ref().map(|inbox| inbox.dir()))
            .finish()
    }
}

/// How the worker polls, leases and retries.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long to sleep when there is nothing due.
    pub poll_interval: Duration,
    /// How long a claimed message is reserved for this worker. One send may take at most half of it: a send
    /// that would end after the lease is not started, so that no other worker sends the same message meanwhile.
    pub lease: chrono::Duration,
    /// How many messages one claim takes at most.
    pub batch: i64,
    /// After this many tries a message is given up, even when the last failure was transient.
    pub max_attempts: i64,
    /// The wait after the first failure; it doubles with each further failure…
    pub backoff_base: Duration,
    /// …up to this.
    pub backoff_max: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            lease: chrono::Duration::seconds(60),
            batch: 50,
            max_attempts: 10,
            backoff_base: Duration::from_secs(5),
            backoff_max: Duration::from_secs(3600),
        }
    }
}

#[derive(Debug, Error)]
pub enum WorkerError {
    #[error("outbox storage failed: {0}")]
    Store(#[from] StoreError),
}

/// Delivers outbox messages. Any number of workers, on any number of nodes, may run against one database.
pub struct Worker {
    store: Store,
    channels: Channels,
    config: WorkerConfig,
}

impl Worker {
    pub fn new(store: Store, channels: Channels, config: WorkerConfig) -> Self {
        Self { store, channels, config }
    }

    /// The wait before the next try of a message that has failed `attempts` times: `backoff_base` after the
    /// first failure, doubling after each further one, never more than `backoff_max`.
    pub fn backoff(&self, attempts: i64) -> Duration {
        let mut wait = self.config.backoff_base;
        for _ in 1..attempts.min(64) {
            if wait >= self.config.backoff_max {
                break;
            }
            wait = wait.saturating_mul(2);
        }
        wait.min(self.config.backoff_max)
    }

    /// Claims the messages due now, sends them and records the outcomes; returns how many were handled (sent,
    /// rescheduled or given up). A storage error stops the batch: its remaining messages return after the lease.
    pub async fn run_once(&self) -> Result<usize, WorkerError> {
        self.process(None).await
    }

    /// Runs until `shutdown` completes, sleeping `poll_interval` whenever nothing is due. On shutdown the send in
    /// progress is finished and recorded; the other claimed messages are left to return after their lease.
    /// Errors are logged and retried after `poll_interval`.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let signal = async move {
            shutdown.await;
            let _ = stop_tx.send(true);
        };
        let work = async {
            let mut stop = stop_rx;
            tracing::info!(channels = ?self.channels, "outbox worker started");
            while !*stop.borrow() {
                let idle = match self.process(Some(&stop)).await {
                    Ok(handled) => (handled as i64) < self.config.batch,
                    Err(error) => {
                        tracing::error!(%error, "outbox worker: a round failed; trying again");
                        true
                    }
                };
                if idle && !*stop.borrow() {
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                        _ = stop.changed() => {}
                    }
                }
            }
            tracing::info!("outbox worker stopped");
        };
        tokio::join!(signal, work);
    }

    /// The longest one send may take.
    fn send_timeout(&self) -> Duration {
        self.config.lease.to_std().unwrap_or(Duration::ZERO) / 2
    }

    async fn process(&self, stop: Option<&watch::Receiver<bool>>) -> Result<usize, WorkerError> {
        let claimed_at = Utc::now();
        let lease_end = claimed_at + self.config.lease;
        let messages = self.store.claim_due_messages(claimed_at, self.config.lease, self.config.batch).await?;
        let count = messages.len();
        let mut handled = 0;
        for message in messages {
            if stop.is_some_and(|stop| *stop.borrow()) {
                tracing::info!(left = count - handled, "outbox worker stopping; the rest return after their lease");
                break;
            }
            let timeout = self.send_timeout();
            if Utc::now() + timeout > lease_end {
                tracing::warn!(
                    left = count - handled,
                    "the lease is running out; the rest of the batch returns after it (lower batch or raise lease)"
                );
                break;
            }
            self.deliver(&message, timeout).await?;
            handled += 1;
        }
        Ok(handled)
    }

    async fn deliver(&self, message: &OutboxMessage, timeout: Duration) -> Result<(), StoreError> {
        let channel = message.channel.as_str();
        let attempt = message.attempts + 1;
        let outcome = match self.channels.sender_for(message.channel) {
            None => Err(SendError::Transient(format!("no {channel} channel configured"))),
            Some(sender) => {
                match tokio::time::timeout(timeout, AssertUnwindSafe(sender.send(message)).catch_unwind()).await {
                    Err(_) => Err(SendError::Transient(format!("sending took longer than {timeout:?}"))),
                    Ok(Err(_)) => Err(SendError::Transient(format!("the {channel} sender panicked"))),
                    Ok(Ok(result)) => result,
                }
            }
        };
        match outcome {
            Ok(()) => {
                self.store.mark_message_sent(message.id, Utc::now()).await?;
                metrics::counter!("dinhdanh_notifications_sent_total", "channel" => channel).increment(1);
                tracing::info!(outbox_id = message.id, kind = %message.kind, channel, attempt, "notification sent");
            }
            Err(error) => {
                metrics::counter!("dinhdanh_notifications_failed_total", "channel" => channel).increment(1);
                let text = mask_recipient(&error.to_string(), &message.recipient);
                if error.is_permanent() || attempt >= self.config.max_attempts {
                    self.store.mark_message_failed(message.id, &text, None).await?;
                    metrics::counter!("dinhdanh_notifications_given_up_total", "channel" => channel).increment(1);
                    tracing::error!(
                        outbox_id = message.id,
                        kind = %message.kind,
                        channel,
                        attempt,
                        permanent = error.is_permanent(),
                        error = %text,
                        "notification given up"
                    );
                } else {
                    let wait = self.backoff(attempt);
                    let retry_at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::MAX);
                    self.store.mark_message_failed(message.id, &text, Some(retry_at)).await?;
                    tracing::warn!(
                        outbox_id = message.id,
                        kind = %message.kind,
                        channel,
                        attempt,
                        retry_in = ?wait,
                        error = %text,
                        "notification failed; will retry"
                    );
                }
            }
        }
        Ok(())
    }
}

/// Servers sometimes echo the recipient in their errors; error texts are logged, so it is masked.
fn mask_recipient(text: &str, recipient: &str) -> String {
    if recipient.is_empty() { text.to_owned() } else { text.replace(recipient, "<recipient>") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_never_name_the_recipient() {
        assert_eq!(
            mask_recipient("550 5.1.1 <mai@example.vn>: unknown user", "mai@example.vn"),
            "550 5.1.1 <<recipient>>: unknown user"
        );
        assert_eq!(mask_recipient("refused", ""), "refused");
    }
}
