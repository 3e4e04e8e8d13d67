//! Notices to holders: one message per registered channel (SMS to the phone, e-mail), queued through the outbox in
//! the transaction of the change that causes it.

use chrono::{DateTime, Utc};
use dinhdanh_domain::throttle::CodeSendLimit;
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
    let phone = account.phone.as_ref().map(|p| p.as_str());
    let email = account.email.as_ref().map(|e| e.as_str());
    for message in messages_to(phone, email, kind, &text) {
        tx.enqueue(message, now).await?;
    }
    Ok([account.phone.as_ref().map(|p| p.masked()), account.email.as_ref().map(|e| e.masked())]
        .into_iter()
        .flatten()
        .collect())
}

/// One message of `text` per registered channel: an SMS to the phone, an e-mail to the address.
pub fn messages_to(
    phone: Option<&str>,
    email: Option<&str>,
    kind: &'static str,
    text: &notice::Notice,
) -> Vec<NewMessage> {
    [(Channel::Sms, phone), (Channel::Email, email)]
        .into_iter()
        .filter_map(|(channel, recipient)| {
            Some(NewMessage {
                kind,
                channel,
                recipient: recipient?.to_owned(),
                subject: text.subject.clone(),
                body: text.body.clone(),
            })
        })
        .collect()
}

/// The account's registered phone number and e-mail address, as stored.
pub fn account_contacts(account: &Account) -> Vec<&str> {
    [account.phone.as_ref().map(|p| p.as_str()), account.email.as_ref().map(|e| e.as_str())]
        .into_iter()
        .flatten()
        .collect()
}

/// Whether one more one-time code may go to `recipient` for `account` ([`CodeSendLimit`]: per destination
/// whatever the source, and per identity over all its registered channels); `Err` is the `429` to answer.
pub async fn check_code_limit(
    tx: &mut Tx,
    account: &Account,
    recipients: &[&str],
    now: DateTime<Utc>,
) -> Result<(), ApiError> {
    let limit = CodeSendLimit::default();
    let since = now - limit.window;
    let contacts = account_contacts(account);
    // One count per distinct address: a recipient is usually one of the account's own contacts.
    let mut sent: std::collections::BTreeMap<&str, i64> = std::collections::BTreeMap::new();
    for address in contacts.iter().chain(recipients) {
        if !sent.contains_key(address) {
            sent.insert(address, tx.codes_sent_to(address, since).await?);
        }
    }
    let to_destination = recipients.iter().map(|r| sent[r]).max().unwrap_or(0);
    let for_identity = contacts.iter().map(|c| sent[c]).sum();
    limit.check(to_destination, for_identity).map_err(|retry_after_seconds| {
        metrics::counter!("dinhdanh_code_limit_total").increment(1);
        ApiError::TooManyRequests { retry_after_seconds }
    })
}
