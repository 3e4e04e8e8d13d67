//! Face comparison for Level 2 checks: a [`FaceTemplate`] is the embedding that a named, versioned
//! face-recognition model computed from a portrait ([`template`]); a [`FaceMatcher`] compares a probe (the
//! fresh capture) with the registry's reference and returns a score and a decision ([`matcher`]).
//!
//! The embedding is computed outside dinhdanh, by the capture device or an external model service:
//! dinhdanh never sees, decodes or keeps a photo. Pure computation: no I/O, no clocks, no global state, no
//! other dinhdanh crate (docs/face.md).
//!
//! ```
//! use dinhdanh_face::{CosineMatcher, FaceDecision, FaceMatcher, FaceTemplate, profiles};
//!
//! let model = profiles::insightface_buffalo_l().id;
//! // What the registry holds and what the capture app sends: 512 numbers from the same model.
//! let enrolled: Vec<f32> = (0..512).map(|i| ((i * 7 % 13) as f32 - 6.0) / 6.0).collect();
//! let mut captured = enrolled.clone();
//! captured[0] += 0.3; // a fresh capture is never identical
//! let reference = FaceTemplate::new(model.clone(), enrolled)?;
//! // Templates travel as base64 text (or bytes) and are parsed, refusing malformed ones.
//! let probe = FaceTemplate::from_base64(&FaceTemplate::new(model, captured)?.to_base64())?;
//!
//! let comparison = CosineMatcher::default().compare(&probe, &reference).expect("same model and length");
//! assert_eq!(comparison.decision, FaceDecision::Match);
//! # Ok::<(), dinhdanh_face::TemplateError>(())
//! ```

#![forbid(unsafe_code)]

pub mod matcher;
pub mod synthetic;
pub mod template;

pub use matcher::{
    CompareError, CosineMatcher, FaceComparison, FaceDecision, FaceMatcher, ModelProfile, ProfileError, profiles,
};
pub use template::{FaceTemplate, ModelId, TemplateError};
