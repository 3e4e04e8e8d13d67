//! The delivery side of the notification outbox.
//!
//! Messages are written to the outbox by the store in the same transaction as the change that causes them
//! (`Tx::enqueue`). A [`Worker`] claims due messages with a lease, hands each to the [`Sender`] of its channel
//! — [`SmtpSender`] for e-mail, [`SmsGatewaySender`] for SMS, or the [`DevInbox`] in development — and records
//! the outcome: sent (the body is then cleared), retried later with exponential backoff, or given up.
//! Delivery is at least once: a worker that dies mid-send leaves its lease to run out, and the message is sent
//! again by the next worker. See `docs/notifications.md`.
//!
//! Nothing here logs personal data (recipients, bodies), except the dev inbox, whose purpose is to show them.

mod dev_inbox;
mod sms;
mod smtp;
mod worker;

use async_trait::async_trait;
use thiserror::Error;

pub use dev_inbox::DevInbox;
pub use dinhdanh_store::OutboxMessage;
pub use sms::{SmsGatewayConfig, SmsGatewaySender};
pub use smtp::{SmtpConfig, SmtpSender, SmtpTls};
pub use worker::{Channels, Worker, WorkerConfig, WorkerError};

/// Delivers one outbox message on one channel.
#[async_trait]
pub trait Sender: Send + Sync {
    /// Sends the message. `Ok` means the channel has accepted it; the worker then marks it sent.
    async fn send(&self, message: &OutboxMessage) -> Result<(), SendError>;
}

/// Why a message could not be sent. Error texts are stored in the outbox and logged, so they name no person:
/// the worker also masks the recipient in them, should a server echo it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendError {
    /// Worth trying again later: the server is down, busy, or refused for now.
    #[error("{0}")]
    Transient(String),
    /// Will never succeed: the recipient is invalid or the server refuses the message for good.
    #[error("{0}")]
    Permanent(String),
    /// A sender cannot be built from its configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl SendError {
    /// Whether the message should be given up at once rather than retried.
    pub fn is_permanent(&self) -> bool {
        matches!(self, Self::Permanent(_))
    }
}
