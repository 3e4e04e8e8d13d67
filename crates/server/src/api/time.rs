//! The one format of every timestamp the API writes: RFC 3339 in UTC with exactly three decimals
//! (`2026-06-01T08:00:00.000Z`), whatever sub-second digits the value holds. Use it on response fields with
//! `#[serde(with = "time::millis")]` (or `time::millis_option`) and `#[schema(example = time::example)]`.
//! Request bodies keep chrono's own parsing, which takes any RFC 3339 instant.

use chrono::{DateTime, SecondsFormat, Utc};

/// How a timestamp is written: `2026-06-01T08:00:00.000Z` (sub-millisecond digits are cut, not rounded).
pub fn format(at: &DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The example timestamp of the OpenAPI document.
pub fn example() -> &'static str {
    "2026-06-01T08:00:00.000Z"
}

/// `#[serde(with = "…::millis")]` for a `DateTime<Utc>`.
pub mod millis {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::format(at))
    }

    /// Any RFC 3339 instant, as chrono reads it.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
        DateTime::<Utc>::deserialize(deserializer)
    }
}

/// `#[serde(with = "…::millis_option")]` for an `Option<DateTime<Utc>>`: `null` when absent.
pub mod millis_option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(at: &Option<DateTime<Utc>>, serializer: S) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => serializer.serialize_str(&super::format(at)),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<DateTime<Utc>>, D::Error> {
        Option::<DateTime<Utc>>::deserialize(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Sample {
        #[serde(with = "millis")]
        at: DateTime<Utc>,
        #[serde(with = "millis_option")]
        until: Option<DateTime<Utc>>,
    }

    #[test]
    fn every_timestamp_has_three_decimals_in_utc() {
        let whole = Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap();
        let fine = whole + chrono::Duration::nanoseconds(123_456_789);
        let json = serde_json::to_value(Sample { at: whole, until: Some(fine) }).unwrap();
        assert_eq!(json, serde_json::json!({"at": "2026-06-01T08:00:00.000Z", "until": "2026-06-01T08:00:00.123Z"}));
        let json = serde_json::to_value(Sample { at: whole, until: None }).unwrap();
        assert_eq!(json["until"], serde_json::Value::Null);
        assert_eq!(format(&whole), example());
    }

    #[test]
    fn any_rfc3339_instant_is_read() {
        let read: Sample =
            serde_json::from_str(r#"{"at": "2026-06-01T15:00:00+07:00", "until": "2026-06-01T08:00:00.5Z"}"#).unwrap();
        assert_eq!(read.at, Utc.with_ymd_and_hms(2026, 6, 1, 8, 0, 0).unwrap());
        assert_eq!(read.until.unwrap().timestamp_subsec_millis(), 500);
    }
}
