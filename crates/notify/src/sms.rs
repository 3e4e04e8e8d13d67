//! SMS through an HTTP gateway: one JSON POST per message.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use dinhdanh_domain::Channel;
use dinhdanh_store::OutboxMessage;
use reqwest::StatusCode;
use serde::{Deserialize, Serialize};

use crate::{SendError, Sender};

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How much of a gateway's error response is kept in the outbox's `last_error`.
const ERROR_BODY_CHARS: usize = 200;

/// Where the SMS gateway listens, and the token it expects.
#[derive(Clone, Deserialize)]
pub struct SmsGatewayConfig {
    /// The full URL requests are POSTed to, `http://` or `https://`.
    pub url: String,
    /// Sent as `Authorization: Bearer <token>` when set.
    pub bearer_token: Option<String>,
}

impl fmt::Debug for SmsGatewayConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmsGatewayConfig")
            .field("url", &self.url)
            .field("bearer_token", &self.bearer_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// The JSON body POSTed to the gateway.
#[derive(Debug, Serialize)]
struct GatewayRequest<'a> {
    /// E.164, e.g. `+84912345678`.
    to: &'a str,
    text: &'a str,
    /// The outbox id, as a string: a gateway may use it to drop duplicates, since delivery is at least once.
    message_id: String,
}

/// Sends SMS messages by POSTing `{"to", "text", "message_id"}` to the gateway. A 2xx answer means delivered;
/// a 4xx other than 429 is a permanent failure; 429, 5xx and network errors are transient.
pub struct SmsGatewaySender {
    client: reqwest::Client,
    url: reqwest::Url,
    bearer_token: Option<String>,
}

impl SmsGatewaySender {
    pub fn new(config: &SmsGatewayConfig) -> Result<Self, SendError> {
        let url = reqwest::Url::parse(&config.url)
            .map_err(|e| SendError::Config(format!("the SMS gateway URL is not valid: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(SendError::Config("the SMS gateway URL must start with http:// or https://".to_owned()));
        }
        let client = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("dinhdanh/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SendError::Config(format!("the HTTP client cannot be built: {e}")))?;
        Ok(Self { client, url, bearer_token: config.bearer_token.clone() })
    }
}

#[async_trait]
impl Sender for SmsGatewaySender {
    async fn send(&self, message: &OutboxMessage) -> Result<(), SendError> {
        if message.channel != Channel::Sms {
            return Err(SendError::Permanent(format!(
                "the SMS gateway cannot send {} messages",
                message.channel.as_str()
            )));
        }
        let body = GatewayRequest { to: &message.recipient, text: &message.body, message_id: message.id.to_string() };
        let mut request = self.client.post(self.url.clone()).json(&body);
        if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token);
        }
        // reqwest's errors name the URL, which is configuration, never the recipient.
        let response =
            request.send().await.map_err(|e| SendError::Transient(format!("sms gateway: {}", e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let detail: String = response.text().await.unwrap_or_default().chars().take(ERROR_BODY_CHARS).collect();
        let text = format!("sms gateway answered {status}: {}", detail.trim());
        if status.is_client_error() && status != StatusCode::TOO_MANY_REQUESTS {
            Err(SendError::Permanent(text))
        } else {
            Err(SendError::Transient(text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_urls_that_are_not_http() {
        for bad in ["", "gateway.example.vn/sms", "ftp://gateway.example.vn/sms"] {
            let result = SmsGatewaySender::new(&SmsGatewayConfig { url: bad.to_owned(), bearer_token: None });
            assert!(matches!(result, Err(SendError::Config(_))), "{bad}");
        }
        SmsGatewaySender::new(&SmsGatewayConfig {
            url: "https://gateway.example.vn/sms".to_owned(),
            bearer_token: None,
        })
        .unwrap();
    }

    #[test]
    fn debug_hides_the_token() {
        let config =
            SmsGatewayConfig { url: "https://g.example.vn".to_owned(), bearer_token: Some("tok3n".to_owned()) };
        assert!(!format!("{config:?}").contains("tok3n"));
    }
}
