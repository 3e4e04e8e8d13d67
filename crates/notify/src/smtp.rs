//! E-mail over SMTP, with lettre.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use dinhdanh_domain::Channel;
use dinhdanh_store::OutboxMessage;
use lettre::message::{Mailbox, Message, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;

use crate::{SendError, Sender};

/// How long one SMTP conversation may take before it counts as a transient failure.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the SMTP server is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text: only for a relay on the same host or a test server.
    None,
    /// Plain connection upgraded with STARTTLS, which is required (usually port 587).
    #[default]
    #[serde(alias = "start_tls")]
    StartTls,
    /// TLS from the first byte, "SMTPS" (usually port 465).
    Tls,
}

/// Where and as whom e-mail is sent.
#[derive(Clone, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The `From` of every message, e.g. `dinhdanh <no-reply@example.vn>`.
    pub from: String,
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("from", &self.from)
            .finish()
    }
}

/// Sends e-mail messages as UTF-8 `text/plain` over SMTP. Each message opens its own connection.
///
/// Every message carries the headers receiving servers and spam filters expect: `Date`, a unique
/// `Message-ID` in the From address's domain, `MIME-Version: 1.0`, `Content-Type: text/plain; charset=utf-8`
/// and a `Content-Transfer-Encoding` (7bit, quoted-printable or base64, whichever suits the body).
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The right-hand side of every Message-ID: the From address's domain.
    message_id_domain: Option<String>,
}

impl SmtpSender {
    pub fn new(config: &SmtpConfig) -> Result<Self, SendError> {
        if config.host.trim().is_empty() {
            return Err(SendError::Config("the SMTP host is empty".to_owned()));
        }
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|e| SendError::Config(format!("the SMTP from address {:?} is not valid: {e}", config.from)))?;
        let tls_parameters = || {
            TlsParameters::new(config.host.clone())
                .map_err(|e| SendError::Config(format!("TLS for SMTP host {}: {e}", config.host)))
        };
        let tls = match config.tls {
            SmtpTls::None => Tls::None,
            SmtpTls::StartTls => Tls::Required(tls_parameters()?),
            SmtpTls::Tls => Tls::Wrapper(tls_parameters()?),
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
            .port(config.port)
            .tls(tls)
            .timeout(Some(SMTP_TIMEOUT));
        match (&config.username, &config.password) {
            (Some(username), Some(password)) => {
                builder = builder.credentials(Credentials::new(username.clone(), password.clone()));
            }
            (None, None) => {}
            _ => return Err(SendError::Config("give both the SMTP username and password, or neither".to_owned())),
        }
        let message_id_domain = message_id_domain(&from);
        Ok(Self { transport: builder.build(), from, message_id_domain })
    }
}

/// The From address's domain, when it can stand in a Message-ID as is (ASCII, RFC 5322 `id-right`); an
/// internationalised domain cannot, and lettre's default (the host's name) is used instead.
fn message_id_domain(from: &Mailbox) -> Option<String> {
    let domain = from.email.domain();
    let usable = !domain.is_empty()
        && domain.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'<' | b'>' | b'@' | b'"' | b'\\'));
    usable.then(|| domain.to_ascii_lowercase())
}

/// A new Message-ID: `<random@domain>`, 128 bits of randomness so it is unique without any state.
fn new_message_id(domain: &str) -> String {
    format!("<{}@{domain}>", uuid::Uuid::new_v4().simple())
}

#[async_trait]
impl Sender for SmtpSender {
    async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        if message.channel != Channel::Email {
            return Err(SendError::Permanent(format!(
                "the SMTP sender cannot send {} messages",
                message.channel.as_str()
            )));
        }
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|_| SendError::Permanent("the recipient is not a valid e-mail address".to_owned()))?;
        // `singlepart` (unlike `body`) also writes MIME-Version; the part brings Content-Type (text/plain;
        // charset=utf-8) and Content-Transfer-Encoding.
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.as_str())
            .date_now()
            .message_id(self.message_id_domain.as_deref().map(new_message_id))
            .singlepart(SinglePart::plain(message.body.clone()))
            .map_err(|e| SendError::Permanent(format!("the e-mail cannot be built: {e}")))?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) => Err(classify(&e)),
        }
    }
}

/// A 5xx reply is permanent, except when it concerns authentication, which an operator can fix; anything
/// else (4xx replies, connection, TLS, timeouts) is transient.
fn classify(error: &lettre::transport::smtp::Error) -> SendError {
    let text = format!("smtp: {error}");
    let code = error.status().map(u16::from);
    match code {
        Some(530 | 534 | 535 | 538) => SendError::Transient(text),
        _ if error.is_permanent() => SendError::Permanent(text),
        _ => SendError::Transient(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> SmtpConfig {
        SmtpConfig {
            host: "smtp.example.vn".to_owned(),
            port: 587,
            tls: SmtpTls::StartTls,
            username: Some("user".to_owned()),
            password: Some("secret".to_owned()),
            from: "dinhdanh <no-reply@example.vn>".to_owned(),
        }
    }

    #[test]
    fn builds_for_every_tls_mode() {
        for tls in [SmtpTls::None, SmtpTls::StartTls, SmtpTls::Tls] {
            SmtpSender::new(&SmtpConfig { tls, ..config() }).unwrap();
        }
    }

    #[test]
    fn refuses_bad_configuration() {
        let bad_from = SmtpSender::new(&SmtpConfig { from: "not an address".to_owned(), ..config() });
        assert!(matches!(bad_from, Err(SendError::Config(_))));
        let half_credentials = SmtpSender::new(&SmtpConfig { password: None, ..config() });
        assert!(matches!(half_credentials, Err(SendError::Config(_))));
    }

    #[test]
    fn message_ids_are_unique_and_in_the_from_domain() {
        let sender = SmtpSender::new(&SmtpConfig { from: "dinhdanh <no-reply@Mail.Example.VN>".into(), ..config() });
        let domain = sender.unwrap().message_id_domain.expect("an ASCII domain");
        assert_eq!(domain, "mail.example.vn");
        let (a, b) = (new_message_id(&domain), new_message_id(&domain));
        assert_ne!(a, b);
        for id in [&a, &b] {
            let inner = id.strip_prefix('<').and_then(|s| s.strip_suffix("@mail.example.vn>")).expect("<…@domain>");
            assert_eq!(inner.len(), 32, "{id}");
            assert!(inner.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
        }
        let idn: Mailbox = "no-reply@định-danh.vn".parse().unwrap();
        assert_eq!(message_id_domain(&idn), None, "not usable in a Message-ID as is");
    }

    #[test]
    fn debug_hides_the_password() {
        let shown = format!("{:?}", config());
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn tls_modes_read_from_configuration_files() {
        #[derive(Deserialize)]
        struct Wrapper {
            tls: SmtpTls,
        }
        let parse = |s: &str| serde_json::from_str::<Wrapper>(&format!(r#"{{"tls":"{s}"}}"#)).unwrap().tls;
        assert_eq!(parse("none"), SmtpTls::None);
        assert_eq!(parse("starttls"), SmtpTls::StartTls);
        assert_eq!(parse("tls"), SmtpTls::Tls);
    }
}
