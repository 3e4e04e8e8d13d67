//! Notices to holders: one message per registered channel (SMS to the phone, e-mail), queued through the outbox in
//! the transaction of the change that causes it.

use chrono::{DateTime, Utc};
use dinhdanh_domain::{Account, Channel, notice};
use dinhdanh_store::{NewMessage, Tx};

use crate::problem::ApiError;

/// Queues a notice to every registered channel of the account; returns the masked destinations.
pub async fn queue_notice(
    tx: &mut Tx,
    account: &Account,
    kind: &'static str,
    text: notice::Notice,
    now: DateTime<Utc>,
) -> Result<Vec<String>, ApiError> {
    let mut destinations = Vec::new();
    if let Some(phone) = &account.phone {
        let message = NewMessage {
            kind,
            channel: Channel::Sms,
            recipient: phone.as_str().to_owned(),
            subject: text.subject.clone(),
            body: text.body.clone(),
        };
        tx.enqueue(message, now).await?;
        destinations.push(phone.masked());
    }
    if let Some(email) = &account.email {
        let message = NewMessage {
            kind,
            channel: Channel::Email,
            recipient: email.as_str().to_owned(),
            subject: text.subject.clone(),
            body: text.body.clone(),
        };
        tx.enqueue(message, now).await?;
        destinations.push(email.masked());
    }
    Ok(destinations)
}
