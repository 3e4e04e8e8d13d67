//! Fingerprints for Level 2 checks: ISO/IEC 19794-2:2005 finger minutiae records ([`record`]), a minutiae
//! matcher that compares a probe with a registry's reference ([`matcher`]), synthetic fingers and impressions
//! ([`synthetic`]) and the genuine/impostor evaluation that chose the matcher's operating threshold
//! ([`evaluation`]).
//!
//! Pure computation: no I/O, no clocks, no global state. Callers pass record bytes in and random number
//! generators in; nothing here depends on another dinhdanh crate.
//!
//! ```
//! use dinhdanh_fingerprint::{Decision, Finger, ImpressionParams, Matcher, MinutiaeRecord, Template};
//! use rand::{SeedableRng, rngs::StdRng};
//!
//! // What `registry generate` stores: a synthetic finger's impression, as ISO/IEC 19794-2:2005 bytes.
//! let mut rng = StdRng::seed_from_u64(1);
//! let finger = Finger::generate(&mut rng);
//! let enrolled = finger.impression(&mut rng, &ImpressionParams::default()).to_bytes();
//!
//! // A Level 2 check: parse both records (refusing malformed ones), prepare, compare, decide.
//! let capture = finger.impression(&mut rng, &ImpressionParams::default()).to_bytes();
//! let reference = MinutiaeRecord::parse(&enrolled)?;
//! let probe = MinutiaeRecord::parse(&capture)?;
//! let matcher = Matcher::default();
//! let decision = match (probe.views().first(), reference.views().first()) {
//!     (Some(probe_view), Some(reference_view)) => {
//!         let probe_template = Template::from_view(probe.capture(), probe_view);
//!         let reference_template = Template::from_view(reference.capture(), reference_view);
//!         matcher.compare(&probe_template, &reference_template).decision
//!     }
//!     _ => Decision::NoMatch, // a record without a view proves nothing
//! };
//! assert_eq!(decision, Decision::Match);
//! # Ok::<(), dinhdanh_fingerprint::RecordError>(())
//! ```

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
