//! How instants and dates are stored: instants as Unix milliseconds, dates as `YYYY-MM-DD` text.

use chrono::{DateTime, NaiveDate, Utc};

use crate::StoreError;

pub fn to_ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn from_ms(ms: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| StoreError::Corrupt(format!("instant {ms} out of range")))
}

pub fn now_ms() -> i64 {
    to_ms(Utc::now())
}

pub fn date_to_text(d: NaiveDate) -> String {
    d.format("%Y-%m-%d").to_string()
}

pub fn date_from_text(s: &str) -> Result<NaiveDate, StoreError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| StoreError::Corrupt(format!("date {s:?}")))
}
