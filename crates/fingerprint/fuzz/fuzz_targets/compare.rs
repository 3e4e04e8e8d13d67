//! Any two records the parser accepts compare without panicking, to a score in [0, 1]. The input's first two
//! bytes give the length of the first record (big-endian); the rest after it is the second.
#![no_main]

use dinhdanh_fingerprint::{Matcher, MinutiaeRecord, Template};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Some((length, rest)) = bytes.split_first_chunk::<2>() else { return };
    let at = usize::from(u16::from_be_bytes(*length)).min(rest.len());
    let (Ok(probe), Ok(reference)) = (MinutiaeRecord::parse(&rest[..at]), MinutiaeRecord::parse(&rest[at..])) else {
        return;
    };
    let matcher = Matcher::default();
    for probe in Template::from_record(&probe) {
        for reference in Template::from_record(&reference) {
            let score = matcher.compare(&probe, &reference).score;
            assert!((0.0..=1.0).contains(&score), "score {score}");
        }
    }
});
