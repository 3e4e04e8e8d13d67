//! Any bytes: the parser returns Ok or Err and never panics, and whatever it accepts writes back unchanged.
#![no_main]

use dinhdanh_fingerprint::MinutiaeRecord;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(record) = MinutiaeRecord::parse(bytes) {
        assert_eq!(record.to_bytes(), bytes);
    }
});
