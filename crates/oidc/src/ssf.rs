//! The Shared Signals Framework as dinhdanh transmits it (OpenID SSF 1.0, final 29 August 2025; issue 17,
//! docs/events.md): the event types it sends, the subject format (RFC 9493 `iss_sub`), the claims of a Security
//! Event Token (RFC 8417 as SSF §4 profiles it), and the stream configuration a receiver creates, updates and
//! replaces (SSF §8.1.1), with its status. HTTP-free and clock-free: the caller signs, stores and delivers.
//!
//! What a relying party learns is deliberately little: that the account it knows by its pairwise `sub` was
//! disabled, enabled, had its sessions with that relying party ended, or changed level — never the ground of a
//! lock, a legal basis or an officer. [`SESSION_REVOKED_REASON`] is the one reason sent, in both languages.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::acr::acr_of;
use dinhdanh_domain::Level;

/// `spec_version` of the transmitter configuration.
pub const SPEC_VERSION: &str = "1_0";
/// The `typ` header of a Security Event Token (RFC 8417 §2.3).
pub const SET_TYPE: &str = "secevent+jwt";
/// Push delivery (RFC 8935) and poll delivery (RFC 8936), as `delivery.method` names them.
pub const PUSH: &str = "urn:ietf:rfc:8935";
pub const POLL: &str = "urn:ietf:rfc:8936";
/// The only reason dinhdanh gives for ending a relying party's sessions (CAEP `reason_admin`/`reason_user`).
pub const SESSION_REVOKED_REASON: (&str, &str) =
    ("Tài khoản định danh điện tử đã bị khóa.", "The e-ID account was locked.");
/// Longest `description` a receiver may give a stream.
pub const MAX_DESCRIPTION: usize = 256;
/// `min_verification_interval` (SSF §8.1.1): the seconds a receiver waits between two verification requests; a
/// request sooner is answered `429`.
pub const MIN_VERIFICATION_INTERVAL_SECONDS: i64 = 10;

macro_rules! event_types {
    ($($variant:ident => $uri:literal),* $(,)?) => {
        /// An event type dinhdanh can send.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum EventType {
            $($variant),*
        }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),*];

            pub fn uri(self) -> &'static str {
                match self {
                    $(EventType::$variant => $uri),*
                }
            }

            pub fn parse(uri: &str) -> Option<Self> {
                match uri {
                    $($uri => Some(EventType::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

event_types! {
    AccountDisabled => "https://schemas.openid.net/secevent/risc/event-type/account-disabled",
    AccountEnabled => "https://schemas.openid.net/secevent/risc/event-type/account-enabled",
    SessionRevoked => "https://schemas.openid.net/secevent/caep/event-type/session-revoked",
    AssuranceLevelChange => "https://schemas.openid.net/secevent/caep/event-type/assurance-level-change",
    Verification => "https://schemas.openid.net/secevent/ssf/event-type/verification",
    StreamUpdated => "https://schemas.openid.net/secevent/ssf/event-type/stream-updated",
}

impl EventType {
    /// What a receiver may ask for (`events_supported`): the account's events. Verification and stream-updated
    /// events are sent whatever the stream asked (SSF §8.1.4, §8.1.5).
    pub const SUPPORTED: &'static [EventType] =
        &[Self::AccountDisabled, Self::AccountEnabled, Self::SessionRevoked, Self::AssuranceLevelChange];

    pub fn always_delivered(self) -> bool {
        matches!(self, Self::Verification | Self::StreamUpdated)
    }
}

/// A subject as the relying party knows it: its pairwise `sub` at this issuer (RFC 9493 §3.2.5, `iss_sub`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    pub iss: String,
    pub sub: String,
}

impl Subject {
    pub fn to_json(&self) -> Value {
        json!({"format": "iss_sub", "iss": self.iss, "sub": self.sub})
    }

    /// A receiver's subject (add or remove subject, SSF §8.1.3): only the `iss_sub` format with this issuer.
    pub fn parse(value: &Value, issuer: &str) -> Result<Self, StreamError> {
        let field = |name: &str| value.get(name).and_then(Value::as_str);
        match (field("format"), field("iss"), field("sub")) {
            (Some("iss_sub"), Some(iss), Some(sub)) if iss == issuer && !sub.is_empty() && sub.len() <= 255 => {
                Ok(Self { iss: iss.to_owned(), sub: sub.to_owned() })
            }
            (Some("iss_sub"), Some(_), Some(_)) => {
                Err(StreamError::new("subject", "the subject's iss must be this transmitter's issuer"))
            }
            _ => {
                Err(StreamError::new("subject", "subjects are {\"format\": \"iss_sub\", \"iss\", \"sub\"} (RFC 9493)"))
            }
        }
    }
}

/// What happened, for one relying party, about one subject.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    AccountDisabled,
    AccountEnabled,
    /// That relying party's session (its grant) ended by a lock, at `at` (seconds since the epoch).
    SessionRevoked {
        at: i64,
    },
    AssuranceLevelChange {
        previous: Level,
        current: Level,
        at: i64,
    },
    /// A verification event the receiver asked for, echoing its `state`.
    Verification {
        state: Option<String>,
    },
}

impl Event {
    pub fn event_type(&self) -> EventType {
        match self {
            Self::AccountDisabled => EventType::AccountDisabled,
            Self::AccountEnabled => EventType::AccountEnabled,
            Self::SessionRevoked { .. } => EventType::SessionRevoked,
            Self::AssuranceLevelChange { .. } => EventType::AssuranceLevelChange,
            Self::Verification { .. } => EventType::Verification,
        }
    }

    /// The event's members inside `events` (RISC, CAEP and SSF define them).
    fn payload(&self) -> Value {
        match self {
            // RISC's `reason` values (hijacking, bulk-account) do not fit a lock; none is sent.
            Self::AccountDisabled | Self::AccountEnabled => json!({}),
            Self::SessionRevoked { at } => json!({
                "event_timestamp": at,
                "reason_admin": {"vi": SESSION_REVOKED_REASON.0, "en": SESSION_REVOKED_REASON.1},
                "reason_user": {"vi": SESSION_REVOKED_REASON.0, "en": SESSION_REVOKED_REASON.1},
            }),
            Self::AssuranceLevelChange { previous, current, at } => json!({
                "event_timestamp": at,
                "namespace": "custom",
                "previous_level": acr_of(*previous),
                "current_level": acr_of(*current),
                "change_direction": if current > previous { "increase" } else { "decrease" },
            }),
            Self::Verification { state: Some(state) } => json!({"state": state}),
            Self::Verification { state: None } => json!({}),
        }
    }
}

/// The claims of one Security Event Token (RFC 8417 §2.2, SSF §4): one event about one subject, for one stream's
/// audience. (A verification event's subject is the stream: [`verification_claims`].)
pub fn set_claims(
    issuer: &str,
    audience: &str,
    jti: &str,
    iat: i64,
    txn: Option<&str>,
    subject: Option<&Subject>,
    event: &Event,
) -> Value {
    let mut claims = json!({
        "iss": issuer,
        "aud": audience,
        "jti": jti,
        "iat": iat,
        "events": {event.event_type().uri(): event.payload()},
    });
    if let Some(txn) = txn {
        claims["txn"] = json!(txn);
    }
    if let Some(subject) = subject {
        claims["sub_id"] = subject.to_json();
    }
    claims
}

/// The claims of a verification event (SSF §8.1.4.1): its subject is the stream itself, `{"format": "opaque",
/// "id": stream_id}`, and it echoes the receiver's `state` when one was given.
pub fn verification_claims(audience: &str, jti: &str, iat: i64, stream_id: &str, state: Option<&str>) -> Value {
    let mut claims =
        set_claims("", audience, jti, iat, None, None, &Event::Verification { state: state.map(str::to_owned) });
    claims["sub_id"] = json!({"format": "opaque", "id": stream_id});
    claims
}

/// A stream's status (SSF §8.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamStatus {
    /// Events are sent.
    Enabled,
    /// Events are kept and sent once the stream is enabled again.
    Paused,
    /// Events are neither sent nor kept.
    Disabled,
}

impl StreamStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Enabled => "enabled",
            Self::Paused => "paused",
            Self::Disabled => "disabled",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        [Self::Enabled, Self::Paused, Self::Disabled].into_iter().find(|s| s.as_str() == value)
    }
}

/// How a stream's events reach the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The transmitter POSTs each SET to the receiver's `endpoint_url` (RFC 8935), with `authorization_header`
    /// as the `Authorization` header if the receiver gave one.
    Push { endpoint_url: String, authorization_header: Option<String> },
    /// The receiver polls the transmitter's endpoint (RFC 8936).
    Poll,
}

/// Why a stream request was refused: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct StreamError {
    pub field: &'static str,
    pub message: String,
}

impl StreamError {
    fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// What a receiver may set on a stream (SSF §8.1.1): the rest (`iss`, `aud`, `events_supported`,
/// `events_delivered`, `stream_id`) is the transmitter's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSettings {
    pub delivery: Delivery,
    /// The event types asked for that dinhdanh supports (`events_delivered`); unknown ones are dropped, as SSF
    /// says, and kept in `events_requested` only as asked.
    pub events_requested: Vec<String>,
    pub description: Option<String>,
}

impl StreamSettings {
    /// `events_delivered`: the supported types among those requested.
    pub fn events_delivered(&self) -> BTreeSet<EventType> {
        self.events_requested
            .iter()
            .filter_map(|uri| EventType::parse(uri))
            .filter(|t| EventType::SUPPORTED.contains(t))
            .collect()
    }

    /// Parses a create (`POST`) or replace (`PUT`) body: `delivery` defaults to poll, `events_requested` to
    /// none. Members the transmitter owns are ignored, as SSF allows.
    pub fn parse(body: &Value) -> Result<Self, StreamError> {
        Self::default_poll().updated(body)
    }

    /// Applies an update (`PATCH`) body to these settings: only the members present change.
    pub fn updated(&self, body: &Value) -> Result<Self, StreamError> {
        let Some(body) = body.as_object() else {
            return Err(StreamError::new("body", "a stream configuration is a JSON object"));
        };
        let mut next = self.clone();
        if let Some(delivery) = body.get("delivery") {
            next.delivery = parse_delivery(delivery)?;
        }
        if let Some(requested) = body.get("events_requested") {
            let Some(list) = requested.as_array() else {
                return Err(StreamError::new("events_requested", "a list of event type URIs"));
            };
            let mut uris = Vec::new();
            for uri in list {
                let Some(uri) = uri.as_str().filter(|u| !u.is_empty() && u.len() <= 512) else {
                    return Err(StreamError::new("events_requested", "each event type is a URI string"));
                };
                if !uris.iter().any(|u: &String| u == uri) {
                    uris.push(uri.to_owned());
                }
            }
            next.events_requested = uris;
        }
        if let Some(description) = body.get("description") {
            next.description = match description {
                Value::Null => None,
                Value::String(text) if text.chars().count() <= MAX_DESCRIPTION => Some(text.clone()),
                _ => {
                    return Err(StreamError::new(
                        "description",
                        format!("a string of at most {MAX_DESCRIPTION} characters"),
                    ));
                }
            };
        }
        Ok(next)
    }

    /// The settings as stored (and read back with [`StreamSettings::parse`]), the push endpoint's
    /// `authorization_header` included.
    pub fn to_json(&self) -> Value {
        json!({
            "delivery": match &self.delivery {
                Delivery::Poll => json!({"method": POLL}),
                Delivery::Push { endpoint_url, authorization_header } => {
                    json!({"method": PUSH, "endpoint_url": endpoint_url, "authorization_header": authorization_header})
                }
            },
            "events_requested": self.events_requested,
            "description": self.description,
        })
    }

    /// The stream's configuration as SSF §8.1.1 answers it to its receiver: the settings, what the transmitter
    /// owns, and `poll_url` as a poll stream's `endpoint_url`. The push endpoint's `authorization_header` is a
    /// secret the receiver gave: never echoed.
    pub fn configuration(&self, stream_id: &str, issuer: &str, audience: &str, poll_url: &str) -> Value {
        let delivery = match &self.delivery {
            Delivery::Poll => json!({"method": POLL, "endpoint_url": poll_url}),
            Delivery::Push { endpoint_url, .. } => json!({"method": PUSH, "endpoint_url": endpoint_url}),
        };
        let mut config = json!({
            "stream_id": stream_id,
            "iss": issuer,
            "aud": audience,
            "delivery": delivery,
            "events_supported": EventType::SUPPORTED.iter().map(|t| t.uri()).collect::<Vec<_>>(),
            "events_requested": self.events_requested,
            "events_delivered": self.events_delivered().iter().map(|t| t.uri()).collect::<Vec<_>>(),
            "min_verification_interval": MIN_VERIFICATION_INTERVAL_SECONDS,
        });
        if let Some(description) = &self.description {
            config["description"] = json!(description);
        }
        config
    }

    fn default_poll() -> Self {
        Self { delivery: Delivery::Poll, events_requested: Vec::new(), description: None }
    }
}

fn parse_delivery(value: &Value) -> Result<Delivery, StreamError> {
    let method = value.get("method").and_then(Value::as_str);
    match method {
        Some(POLL) => Ok(Delivery::Poll),
        Some(PUSH) => {
            let Some(url) = value.get("endpoint_url").and_then(Value::as_str) else {
                return Err(StreamError::new(
                    "delivery.endpoint_url",
                    "push delivery needs the receiver's endpoint_url",
                ));
            };
            check_push_url(url)?;
            let authorization_header = match value.get("authorization_header") {
                None | Some(Value::Null) => None,
                Some(Value::String(header)) if !header.is_empty() && header.len() <= 2048 && header.is_ascii() => {
                    Some(header.clone())
                }
                Some(_) => {
                    return Err(StreamError::new("delivery.authorization_header", "an ASCII header value"));
                }
            };
            Ok(Delivery::Push { endpoint_url: url.to_owned(), authorization_header })
        }
        _ => Err(StreamError::new("delivery.method", format!("{PUSH} (push) or {POLL} (poll)"))),
    }
}

/// A push endpoint is `https`, or `http` on the loopback interface (a receiver on the same machine).
fn check_push_url(url: &str) -> Result<(), StreamError> {
    let parsed = url::Url::parse(url).map_err(|_| StreamError::new("delivery.endpoint_url", "not an absolute URL"))?;
    let loopback = matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]"));
    match parsed.scheme() {
        "https" => {}
        "http" if loopback => {}
        _ => return Err(StreamError::new("delivery.endpoint_url", "https, or http on the loopback interface")),
    }
    if parsed.fragment().is_some() || !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(StreamError::new("delivery.endpoint_url", "no fragment and no user information"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_type_parses_back_from_its_uri() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.uri()), Some(*t));
        }
        assert_eq!(EventType::parse("https://example.com/other"), None);
    }

    #[test]
    fn a_set_names_one_event_about_one_subject_for_one_audience() {
        let subject = Subject { iss: "https://id.example.vn".into(), sub: "pairwise-1".into() };
        let claims = set_claims(
            "https://id.example.vn",
            "bank",
            "j1",
            1_800_000_000,
            Some("txn-1"),
            Some(&subject),
            &Event::AccountDisabled,
        );
        assert_eq!(
            claims,
            json!({"iss": "https://id.example.vn", "aud": "bank", "jti": "j1", "iat": 1_800_000_000, "txn": "txn-1",
                   "sub_id": {"format": "iss_sub", "iss": "https://id.example.vn", "sub": "pairwise-1"},
                   "events": {"https://schemas.openid.net/secevent/risc/event-type/account-disabled": {}}})
        );
        let change = Event::AssuranceLevelChange { previous: Level::One, current: Level::Two, at: 5 };
        let claims = set_claims("i", "a", "j", 6, None, Some(&subject), &change);
        let payload = &claims["events"][EventType::AssuranceLevelChange.uri()];
        assert_eq!(payload["change_direction"], "increase");
        assert_eq!(
            (payload["previous_level"].as_str(), payload["current_level"].as_str()),
            (Some("urn:dinhdanh:loa:1"), Some("urn:dinhdanh:loa:2"))
        );
        assert!(claims.get("txn").is_none());
        let revoked = set_claims("i", "a", "j", 6, None, Some(&subject), &Event::SessionRevoked { at: 5 });
        let text = revoked.to_string();
        assert!(text.contains("The e-ID account was locked.") && !text.contains("ground"), "{text}");
    }

    #[test]
    fn stream_settings_parse_update_and_refuse_with_the_field() {
        let created = StreamSettings::parse(&json!({
            "delivery": {"method": PUSH, "endpoint_url": "https://bank.example.vn/ssf", "authorization_header": "Bearer x"},
            "events_requested": [EventType::AccountDisabled.uri(), EventType::AccountDisabled.uri(), "https://example.com/unknown",
                                 EventType::Verification.uri()],
            "iss": "ignored", "stream_id": "ignored"
        }))
        .unwrap();
        assert_eq!(created.events_requested.len(), 3, "duplicates dropped");
        assert_eq!(created.events_delivered(), [EventType::AccountDisabled].into(), "only supported account events");
        let updated = created.updated(&json!({"description": "ngân hàng", "delivery": {"method": POLL}})).unwrap();
        assert_eq!((updated.delivery.clone(), updated.events_requested.len()), (Delivery::Poll, 3));
        assert_eq!(StreamSettings::parse(&json!({})).unwrap().delivery, Delivery::Poll);
        for (body, field) in [
            (json!([]), "body"),
            (json!({"delivery": {"method": "urn:other"}}), "delivery.method"),
            (json!({"delivery": {"method": PUSH}}), "delivery.endpoint_url"),
            (
                json!({"delivery": {"method": PUSH, "endpoint_url": "http://bank.example.vn/ssf"}}),
                "delivery.endpoint_url",
            ),
            (
                json!({"delivery": {"method": PUSH, "endpoint_url": "https://u:p@bank.example.vn/"}}),
                "delivery.endpoint_url",
            ),
            (json!({"events_requested": "all"}), "events_requested"),
            (json!({"description": "x".repeat(257)}), "description"),
        ] {
            assert_eq!(StreamSettings::parse(&body).unwrap_err().field, field, "{body}");
        }
        assert!(
            StreamSettings::parse(&json!({"delivery": {"method": PUSH, "endpoint_url": "http://127.0.0.1:9/ssf"}}))
                .is_ok()
        );
        // Stored and read back unchanged; the configuration never echoes the receiver's secret.
        assert_eq!(StreamSettings::parse(&created.to_json()).unwrap(), created);
        let config = created.configuration("s1", "https://id.example.vn", "bank", "https://id.example.vn/ssf/poll");
        assert_eq!(config["delivery"], json!({"method": PUSH, "endpoint_url": "https://bank.example.vn/ssf"}));
        assert_eq!(config["events_delivered"], json!([EventType::AccountDisabled.uri()]));
        assert_eq!(config["events_supported"].as_array().unwrap().len(), 4);
        let polled = updated.configuration("s1", "https://id.example.vn", "bank", "https://id.example.vn/ssf/poll");
        assert_eq!(polled["delivery"]["endpoint_url"], "https://id.example.vn/ssf/poll");
        assert_eq!(polled["description"], "ngân hàng");
    }

    #[test]
    fn subjects_are_iss_sub_at_this_issuer() {
        let ok = json!({"format": "iss_sub", "iss": "https://id.example.vn", "sub": "s1"});
        assert_eq!(Subject::parse(&ok, "https://id.example.vn").unwrap().sub, "s1");
        assert!(Subject::parse(&ok, "https://other.example").is_err());
        assert!(Subject::parse(&json!({"format": "email", "email": "a@b.c"}), "https://id.example.vn").is_err());
    }

    #[test]
    fn a_verification_event_names_the_stream_as_an_opaque_subject_and_echoes_the_state() {
        let claims = verification_claims("bank", "j1", 7, "stream-1", Some("xyz"));
        assert_eq!(claims["sub_id"], json!({"format": "opaque", "id": "stream-1"}));
        assert_eq!(claims["events"][EventType::Verification.uri()], json!({"state": "xyz"}));
        assert_eq!((claims["aud"].as_str(), claims.get("txn")), (Some("bank"), None));
        let without = verification_claims("bank", "j2", 7, "stream-1", None);
        assert_eq!(without["events"][EventType::Verification.uri()], json!({}));
    }

    #[test]
    fn statuses_round_trip() {
        for s in [StreamStatus::Enabled, StreamStatus::Paused, StreamStatus::Disabled] {
            assert_eq!(StreamStatus::parse(s.as_str()), Some(s));
        }
    }
}
