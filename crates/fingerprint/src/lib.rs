//! Fingerprints for Level 2 checks: ISO/IEC 19794-2:2005 finger minutiae records ([`record`]), a minutiae
//! matcher that compares a probe with a registry's reference ([`matcher`]), synthetic fingers and impressions
//! ([`synthetic`]) and the genuine/impostor evaluation that chose the matcher's operating threshold
//! ([`evaluation`]).
//!
//! Pure computation: no I/O, no clocks, no global state. Callers pass record bytes in and random number
//! generators in; nothing here depends on another dinhdanh crate.

#![forbid(unsafe_code)]

pub mod evaluation;
pub mod matcher;
pub mod record;
pub mod synthetic;

pub use matcher::{Comparison, Decision, Matcher, MatcherConfig, Template};
pub use record::{
    CaptureInfo, FingerPosition, FingerView, ImpressionType, Minutia, MinutiaKind, MinutiaeRecord, RecordError,
};
pub use synthetic::{Finger, ImpressionParams};
