//! Synthetic faces for demos, tests and the registry generator: a person is a random direction in a
//! [`DIMENSIONS`]-dimensional space, and each capture is that direction plus independent noise, tagged with the
//! stand-in model [`MODEL_NAME`] (profile [`crate::profiles::synthetic`]). They stand for what a real model's
//! embeddings do (captures of one person point the same way, different people are nearly orthogonal) without
//! claiming to be any real model's output.
//!
//! With the default noise, two captures of one person have a cosine similarity near 0.8, and two people near 0
//! (standard deviation 1/√128 ≈ 0.09), so the profile's threshold of 0.5 separates them by more than five
//! standard deviations.

use rand::Rng;

use crate::template::{FaceTemplate, ModelId};

pub const MODEL_NAME: &str = "dinhdanh-synthetic";
pub const MODEL_VERSION: &str = "1";
pub const DIMENSIONS: usize = 128;
/// The noise of a capture, per dimension, relative to the person's unit direction.
pub const DEFAULT_NOISE: f32 = 0.06;

/// One synthetic person's face.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticFace {
    direction: Vec<f32>,
}

impl SyntheticFace {
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let raw: Vec<f32> = (0..DIMENSIONS).map(|_| gaussian(rng)).collect();
        let norm = raw.iter().map(|x| x * x).sum::<f32>().sqrt().max(f32::EPSILON);
        Self { direction: raw.into_iter().map(|x| x / norm).collect() }
    }

    /// One capture: the person's direction plus Gaussian noise of standard deviation `noise` per dimension.
    pub fn capture<R: Rng + ?Sized>(&self, rng: &mut R, noise: f32) -> FaceTemplate {
        let mut embedding: Vec<f32> = self.direction.iter().map(|x| x + noise * gaussian(rng)).collect();
        if embedding.iter().all(|x| *x == 0.0) {
            embedding[0] = 1.0; // a template has a direction; vanishingly unlikely, but never a panic
        }
        FaceTemplate::new(model(), embedding).expect("finite, non-zero and of the model's size")
    }
}

pub fn model() -> ModelId {
    ModelId::new(MODEL_NAME, MODEL_VERSION).expect("valid model id")
}

/// A standard normal draw (Box–Muller).
fn gaussian<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    let u: f32 = rng.gen_range(f32::EPSILON..1.0);
    let v: f32 = rng.gen_range(0.0..std::f32::consts::TAU);
    (-2.0 * u.ln()).sqrt() * v.cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CosineMatcher, FaceDecision, FaceMatcher};
    use rand::SeedableRng;

    #[test]
    fn captures_of_one_person_match_and_of_two_people_do_not() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let matcher = CosineMatcher::default();
        let people: Vec<SyntheticFace> = (0..200).map(|_| SyntheticFace::generate(&mut rng)).collect();
        let (mut genuine_misses, mut impostor_hits) = (0, 0);
        for (i, person) in people.iter().enumerate() {
            let enrolled = person.capture(&mut rng, DEFAULT_NOISE);
            let again = person.capture(&mut rng, DEFAULT_NOISE);
            let other = people[(i + 1) % people.len()].capture(&mut rng, DEFAULT_NOISE);
            if matcher.compare(&again, &enrolled).unwrap().decision != FaceDecision::Match {
                genuine_misses += 1;
            }
            if matcher.compare(&other, &enrolled).unwrap().decision == FaceDecision::Match {
                impostor_hits += 1;
            }
        }
        assert_eq!((genuine_misses, impostor_hits), (0, 0));
    }

    #[test]
    fn synthetic_templates_do_not_compare_with_a_real_models() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let synthetic = SyntheticFace::generate(&mut rng).capture(&mut rng, DEFAULT_NOISE);
        let real = FaceTemplate::new(crate::profiles::insightface_buffalo_l().id, vec![0.1; 512]).unwrap();
        assert!(CosineMatcher::default().compare(&synthetic, &real).is_err());
    }
}
