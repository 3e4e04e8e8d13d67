//! Comparing a probe face template with the registry's reference: the [`FaceMatcher`] trait the server calls,
//! and the built-in [`CosineMatcher`], which knows each model's embedding size and threshold from a table of
//! [`ModelProfile`]s.
//!
//! It does not compute embeddings (the capture device or an external model does) and does not decide what a
//! match means for an account (the server does). Templates with non-finite values or all zeros cannot reach a
//! matcher: [`FaceTemplate::new`] and [`FaceTemplate::parse`] refuse them.

use crate::template::{FaceTemplate, MAX_DIMENSIONS, ModelId};

/// Match when the score is at or above the model's threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaceDecision {
    Match,
    NoMatch,
}

/// One comparison's outcome, with the threshold it was decided at (to audit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FaceComparison {
    /// Cosine similarity for [`CosineMatcher`]: −1 to 1, higher is more alike.
    pub score: f32,
    pub threshold: f32,
    pub decision: FaceDecision,
}

/// Why two templates were not compared. A refusal is not a non-match: it means the capture app sent a
/// template this deployment cannot judge, and the caller should say so rather than count a failed try.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CompareError {
    #[error("the probe was made by {probe} and the reference by {reference}; only templates of one model compare")]
    ModelMismatch { probe: ModelId, reference: ModelId },
    #[error("no profile for model {0}: its embedding size and threshold are not configured")]
    UnknownModel(ModelId),
    #[error("the {which} has {found} dimensions; model {model} makes {expected}")]
    DimensionMismatch { which: &'static str, model: ModelId, expected: usize, found: usize },
}

/// Why a table of model profiles was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ProfileError {
    #[error("model {0} has more than one profile")]
    Duplicate(ModelId),
    #[error("model {model}'s profile gives {dimensions} dimensions; it must be 1 to 4096")]
    Dimensions { model: ModelId, dimensions: usize },
    #[error("model {model}'s threshold {threshold} is not a cosine similarity between -1 and 1")]
    Threshold { model: ModelId, threshold: f32 },
}

/// Compares a probe with a reference. Implementations must be pure: the same templates give the same result.
pub trait FaceMatcher {
    fn compare(&self, probe: &FaceTemplate, reference: &FaceTemplate) -> Result<FaceComparison, CompareError>;
}

/// What dinhdanh must know about a face-recognition model to compare its embeddings.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelProfile {
    pub id: ModelId,
    /// The length of every embedding the model makes.
    pub dimensions: usize,
    /// The cosine similarity at or above which two embeddings are the same person: set from genuine and
    /// impostor pairs at the deployment's target false match rate (docs/face.md).
    pub threshold: f32,
}

/// Cosine similarity between embeddings of the same model and length, decided at that model's threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct CosineMatcher {
    profiles: Vec<ModelProfile>,
}

impl CosineMatcher {
    /// Refuses duplicate models, impossible sizes and thresholds outside [−1, 1].
    pub fn new(profiles: Vec<ModelProfile>) -> Result<Self, ProfileError> {
        for (index, profile) in profiles.iter().enumerate() {
            if profiles[..index].iter().any(|earlier| earlier.id == profile.id) {
                return Err(ProfileError::Duplicate(profile.id.clone()));
            }
            if profile.dimensions == 0 || profile.dimensions > MAX_DIMENSIONS {
                return Err(ProfileError::Dimensions { model: profile.id.clone(), dimensions: profile.dimensions });
            }
            if !(-1.0..=1.0).contains(&profile.threshold) {
                return Err(ProfileError::Threshold { model: profile.id.clone(), threshold: profile.threshold });
            }
        }
        Ok(Self { profiles })
    }

    pub fn profiles(&self) -> &[ModelProfile] {
        &self.profiles
    }

    pub fn profile(&self, model: &ModelId) -> Option<&ModelProfile> {
        self.profiles.iter().find(|profile| &profile.id == model)
    }
}

impl Default for CosineMatcher {
    /// The built-in profiles ([`profiles::builtin`]).
    fn default() -> Self {
        Self::new(profiles::builtin()).expect("the built-in profiles are valid")
    }
}

impl FaceMatcher for CosineMatcher {
    fn compare(&self, probe: &FaceTemplate, reference: &FaceTemplate) -> Result<FaceComparison, CompareError> {
        if probe.model() != reference.model() {
            return Err(CompareError::ModelMismatch {
                probe: probe.model().clone(),
                reference: reference.model().clone(),
            });
        }
        let profile = self.profile(probe.model()).ok_or_else(|| CompareError::UnknownModel(probe.model().clone()))?;
        for (which, template) in [("probe", probe), ("reference", reference)] {
            if template.embedding().len() != profile.dimensions {
                return Err(CompareError::DimensionMismatch {
                    which,
                    model: profile.id.clone(),
                    expected: profile.dimensions,
                    found: template.embedding().len(),
                });
            }
        }
        let score = cosine_similarity(probe.embedding(), reference.embedding());
        let decision = if score >= profile.threshold { FaceDecision::Match } else { FaceDecision::NoMatch };
        Ok(FaceComparison { score, threshold: profile.threshold, decision })
    }
}

/// In f64, so neither large finite values (whose squares overflow f32) nor tiny ones (whose squares underflow)
/// lose the direction; templates are never zero vectors, so the norms are positive.
fn cosine_similarity(a: &[f32], b: &[f32]) -> f32 {
    let (mut dot, mut norm_a, mut norm_b) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        dot += x * y;
        norm_a += x * x;
        norm_b += y * y;
    }
    (dot / (norm_a.sqrt() * norm_b.sqrt())).clamp(-1.0, 1.0) as f32
}

/// Built-in profiles of published models. Their thresholds are starting points, not measurements: before
/// production each is set again on the deployment's own portrait pairs (docs/face.md, "Thresholds").
pub mod profiles {
    use super::ModelProfile;
    use crate::template::ModelId;

    /// InsightFace's `buffalo_l` model pack: its recognition model `w600k_r50.onnx` (ResNet-50 trained with
    /// the ArcFace loss on WebFace600K) maps an aligned 112 × 112 face to 512 numbers.
    pub fn insightface_buffalo_l() -> ModelProfile {
        ModelProfile {
            id: ModelId::new("insightface-buffalo_l", "w600k_r50").expect("valid model id"),
            dimensions: 512,
            threshold: 0.40,
        }
    }

    /// FaceNet (Inception-ResNet-v1) trained on VGGFace2, the `20180402-114759` release of David Sandberg's
    /// `facenet` (also facenet-pytorch's `vggface2` weights): 512 numbers per aligned 160 × 160 face.
    pub fn facenet_vggface2() -> ModelProfile {
        ModelProfile {
            id: ModelId::new("facenet-vggface2", "20180402-114759").expect("valid model id"),
            dimensions: 512,
            threshold: 0.60,
        }
    }

    /// [`crate::synthetic`]'s stand-in model: the faces `registry generate --biometrics` writes for demos and
    /// tests. Its templates compare only with each other, so a registry of real portraits never matches one.
    pub fn synthetic() -> ModelProfile {
        ModelProfile {
            id: ModelId::new(crate::synthetic::MODEL_NAME, crate::synthetic::MODEL_VERSION).expect("valid model id"),
            dimensions: crate::synthetic::DIMENSIONS,
            threshold: 0.5,
        }
    }

    pub fn builtin() -> Vec<ModelProfile> {
        vec![insightface_buffalo_l(), facenet_vggface2(), synthetic()]
    }
}
