//! E-mail delivered over SMTP to a real server: Python's aiosmtpd, started by the test.

mod common;

use chrono::Timelike;
use common::*;
use dinhdanh_domain::{Channel, notice};
use dinhdanh_notify::{Channels, Worker};
use dinhdanh_store::OutboxStatus;

/// `<left@domain>`, with a non-empty left part and nothing else around it (RFC 5322 `msg-id`).
fn is_message_id_in(id: &str, domain: &str) -> bool {
    let Some(inner) = id.strip_prefix('<').and_then(|s| s.strip_suffix('>')) else { return false };
    match inner.split_once('@') {
        Some((left, right)) => {
            !left.is_empty() && !left.contains(['<', '>', '@', ' ']) && right.eq_ignore_ascii_case(domain)
        }
        None => false,
    }
}

dinhdanh_store::on_both_backends! {
    email_is_delivered_as_utf8_text_over_smtp(db) {
        let store = db.store().await;
        let smtp = SmtpServer::start().await;
        let notice = notice::activation_code("482913", 5);
        let id = enqueue(&store, "activation_code", Channel::Email, "mai.nguyen@example.vn", &notice.subject, &notice.body)
            .await;

        let channels = Channels { email: Some(smtp_sender(smtp.port)), ..Channels::default() };
        let worker = Worker::new(store.clone(), channels, fast_config());
        // The Date header has whole seconds.
        let before = chrono::Utc::now().with_nanosecond(0).unwrap();
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let after = chrono::Utc::now();

        let sent = message(&store, id).await;
        assert_eq!(sent.status, OutboxStatus::Sent);
        assert_eq!(sent.attempts, 1);
        assert!(sent.sent_at.is_some());
        assert_eq!(sent.body, "", "the body, which holds the code, is cleared once sent");

        let mails = smtp.mails();
        assert_eq!(mails.len(), 1, "{mails:?}");
        let mail = &mails[0];
        assert_eq!(mail.to, "mai.nguyen@example.vn");
        assert_eq!(mail.rcpt_to, "mai.nguyen@example.vn");
        assert_eq!(mail.from, "Định danh điện tử <no-reply@dinhdanh.example.vn>");
        assert_eq!(mail.subject, "Mã kích hoạt tài khoản định danh điện tử / e-ID activation code");
        assert_eq!(mail.content_type, "text/plain");
        assert_eq!(mail.charset.as_deref(), Some("utf-8"));
        assert_eq!(mail.body.trim_end(), notice.body);
        assert!(mail.body.starts_with("Mã kích hoạt tài khoản định danh điện tử của bạn là 482913."));
        // On the wire the headers are 7-bit: the Vietnamese subject travels RFC 2047-encoded.
        assert!(mail.raw.contains("Subject: =?utf-8?"), "{}", mail.raw);
        // The headers a receiving server expects.
        let id = mail.message_id.as_deref().expect("a Message-ID header");
        assert!(is_message_id_in(id, "dinhdanh.example.vn"), "{id}");
        let date = mail.date.as_deref().expect("a Date header");
        let date = chrono::DateTime::parse_from_rfc2822(date).unwrap_or_else(|e| panic!("{date}: {e}"));
        assert!(before <= date && date <= after, "the Date is the sending time: {date}, sent in [{before}, {after}]");
        assert_eq!(mail.mime_version.as_deref(), Some("1.0"));
        let encoding = mail.content_transfer_encoding.as_deref().expect("a Content-Transfer-Encoding header");
        assert!(["7bit", "quoted-printable", "base64"].contains(&encoding), "{encoding}");
        assert!(mail.raw.contains("Content-Type: text/plain; charset=utf-8"), "{}", mail.raw);

        // Nothing is due any more: the message is not sent twice.
        assert_eq!(worker.run_once().await.unwrap(), 0);
        assert_eq!(smtp.mails().len(), 1);
    }

    every_email_gets_its_own_message_id(db) {
        let store = db.store().await;
        let smtp = SmtpServer::start().await;
        for to in ["lan@example.vn", "mai@example.vn"] {
            enqueue(&store, "activation_code", Channel::Email, to, "Mã kích hoạt", "Mã: 123456").await;
        }
        let channels = Channels { email: Some(smtp_sender(smtp.port)), ..Channels::default() };
        let worker = Worker::new(store.clone(), channels, fast_config());
        assert_eq!(worker.run_once().await.unwrap(), 2);
        let mails = smtp.mails();
        assert_eq!(mails.len(), 2, "{mails:?}");
        let ids: Vec<&str> = mails.iter().map(|m| m.message_id.as_deref().expect("a Message-ID")).collect();
        assert!(ids.iter().all(|id| is_message_id_in(id, "dinhdanh.example.vn")), "{ids:?}");
        assert_ne!(ids[0], ids[1]);
        assert!(mails.iter().all(|m| m.date.is_some()), "{mails:?}");
    }

    invalid_email_address_is_given_up_at_once(db) {
        let store = db.store().await;
        // Never contacted: the address is refused before any connection.
        let closed = ClosedPort::new();
        let channels = Channels { email: Some(smtp_sender(closed.port)), ..Channels::default() };
        let id = enqueue(&store, "activation_code", Channel::Email, "not an address", "s", "b").await;
        let worker = Worker::new(store.clone(), channels, fast_config());
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let failed = message(&store, id).await;
        assert_eq!(failed.status, OutboxStatus::Failed);
        assert_eq!(failed.attempts, 1);
        assert!(failed.last_error.as_deref().unwrap().contains("not a valid e-mail address"), "{failed:?}");
    }

    unreachable_smtp_server_is_retried_with_backoff(db) {
        let store = db.store().await;
        let closed = ClosedPort::new();
        let channels = Channels { email: Some(smtp_sender(closed.port)), ..Channels::default() };
        let id = enqueue(&store, "activation_code", Channel::Email, "mai@example.vn", "s", "b").await;
        let worker = Worker::new(store.clone(), channels, fast_config());
        // Instants are stored in whole milliseconds, hence the 1 ms of slack below.
        let before = chrono::Utc::now();
        assert_eq!(worker.run_once().await.unwrap(), 1);
        let pending = message(&store, id).await;
        assert_eq!(pending.status, OutboxStatus::Pending);
        assert_eq!(pending.attempts, 1);
        assert!(pending.next_attempt_at >= before + chrono::Duration::milliseconds(299), "{pending:?}");
        assert!(pending.last_error.as_deref().unwrap().starts_with("smtp:"), "{pending:?}");
        assert_eq!(pending.body, "b", "the body is kept until the message is sent");
        // Not due yet: the next round leaves it alone.
        assert_eq!(worker.run_once().await.unwrap(), 0);
    }
}
