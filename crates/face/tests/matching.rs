//! Cosine comparison: genuine synthetic captures match and impostors do not at the model's threshold (fixed
//! seed, counts asserted), and templates of another model or length are refused rather than scored.

use dinhdanh_face::{
    CompareError, CosineMatcher, FaceDecision, FaceMatcher, FaceTemplate, ModelId, ModelProfile, ProfileError, profiles,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A standard normal value (Box–Muller), so the test needs no distribution crate.
fn normal(rng: &mut StdRng) -> f32 {
    let (u, v): (f64, f64) = (rng.gen_range(f64::EPSILON..1.0), rng.r#gen());
    ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
}

/// A synthetic identity: a random direction in the model's embedding space.
fn identity(rng: &mut StdRng, dimensions: usize) -> Vec<f32> {
    (0..dimensions).map(|_| normal(rng) / (dimensions as f32).sqrt()).collect()
}

/// A capture of that identity: the direction plus per-dimension noise whose size varies with the capture's
/// quality (σ from 0.02 to 0.06 per dimension; at 512 dimensions σ 0.05 turns a capture by about 50°).
fn capture(rng: &mut StdRng, model: &ModelId, identity: &[f32]) -> FaceTemplate {
    let sigma = rng.gen_range(0.02..0.06);
    let embedding = identity.iter().map(|&x| x + sigma * normal(rng)).collect();
    FaceTemplate::new(model.clone(), embedding).unwrap()
}

#[test]
fn genuine_captures_match_and_impostors_do_not_at_the_buffalo_l_threshold() {
    let profile = profiles::insightface_buffalo_l();
    let matcher = CosineMatcher::default();
    let mut rng = StdRng::seed_from_u64(7);
    let mut references = Vec::new();
    let mut probes = Vec::new();
    for _ in 0..200 {
        let person = identity(&mut rng, profile.dimensions);
        references.push(capture(&mut rng, &profile.id, &person));
        probes.push(capture(&mut rng, &profile.id, &person));
    }
    let mut false_non_matches = 0;
    for (probe, reference) in probes.iter().zip(&references) {
        let comparison = matcher.compare(probe, reference).unwrap();
        assert_eq!(comparison.threshold, profile.threshold);
        false_non_matches += usize::from(comparison.decision == FaceDecision::NoMatch);
    }
    let (mut false_matches, mut impostor_pairs, mut highest_impostor) = (0, 0, -1.0f32);
    for (a, reference) in references.iter().enumerate() {
        for probe in &probes[a + 1..] {
            let comparison = matcher.compare(probe, reference).unwrap();
            false_matches += usize::from(comparison.decision == FaceDecision::Match);
            highest_impostor = highest_impostor.max(comparison.score);
            impostor_pairs += 1;
        }
    }
    assert_eq!(impostor_pairs, 19_900);
    assert_eq!(false_matches, 0, "highest impostor score {highest_impostor}");
    // Random directions in 512 dimensions are nearly orthogonal: the impostor tail stays far below 0.40.
    assert!(highest_impostor < 0.25, "highest impostor score {highest_impostor}");
    // The noisiest captures (σ near 0.06 on both sides) fall below the threshold: the seed gives this many.
    assert_eq!(false_non_matches, 7);
}

#[test]
fn an_identical_embedding_scores_one_and_an_opposite_one_minus_one() {
    let model = profiles::facenet_vggface2().id;
    let embedding: Vec<f32> = (0..512).map(|i| (i as f32).sin()).collect();
    let opposite = embedding.iter().map(|x| -x).collect();
    let (a, b) = (FaceTemplate::new(model.clone(), embedding).unwrap(), FaceTemplate::new(model, opposite).unwrap());
    let matcher = CosineMatcher::default();
    let same = matcher.compare(&a, &a).unwrap();
    assert!((same.score - 1.0).abs() < 1e-6);
    assert_eq!(same.decision, FaceDecision::Match);
    let reversed = matcher.compare(&a, &b).unwrap();
    assert!((reversed.score + 1.0).abs() < 1e-6);
    assert_eq!(reversed.decision, FaceDecision::NoMatch);
}

#[test]
fn extreme_but_finite_values_keep_their_direction() {
    let model = profiles::insightface_buffalo_l().id;
    let huge = FaceTemplate::new(model.clone(), vec![f32::MAX; 512]).unwrap();
    let tiny = FaceTemplate::new(model, vec![f32::from_bits(1); 512]).unwrap();
    let comparison = CosineMatcher::default().compare(&huge, &tiny).unwrap();
    assert!((comparison.score - 1.0).abs() < 1e-6, "{}", comparison.score);
}

#[test]
fn templates_of_different_models_are_refused() {
    let buffalo = FaceTemplate::new(profiles::insightface_buffalo_l().id, vec![1.0; 512]).unwrap();
    let facenet = FaceTemplate::new(profiles::facenet_vggface2().id, vec![1.0; 512]).unwrap();
    assert_eq!(
        CosineMatcher::default().compare(&buffalo, &facenet),
        Err(CompareError::ModelMismatch { probe: buffalo.model().clone(), reference: facenet.model().clone() })
    );
}

#[test]
fn a_newer_version_of_the_same_model_is_another_model() {
    let newer = ModelId::new("insightface-buffalo_l", "w600k_r50-2").unwrap();
    let template = FaceTemplate::new(newer.clone(), vec![1.0; 512]).unwrap();
    assert_eq!(CosineMatcher::default().compare(&template, &template), Err(CompareError::UnknownModel(newer)));
}

#[test]
fn templates_of_another_length_are_refused_naming_which_side() {
    let model = profiles::insightface_buffalo_l().id;
    let full = FaceTemplate::new(model.clone(), vec![1.0; 512]).unwrap();
    let short = FaceTemplate::new(model.clone(), vec![1.0; 128]).unwrap();
    let matcher = CosineMatcher::default();
    assert_eq!(
        matcher.compare(&short, &full),
        Err(CompareError::DimensionMismatch { which: "probe", model: model.clone(), expected: 512, found: 128 })
    );
    assert_eq!(
        matcher.compare(&full, &short),
        Err(CompareError::DimensionMismatch { which: "reference", model, expected: 512, found: 128 })
    );
    let message = matcher.compare(&short, &full).unwrap_err().to_string();
    assert_eq!(message, "the probe has 128 dimensions; model insightface-buffalo_l@w600k_r50 makes 512");
}

#[test]
fn a_profile_table_with_duplicates_or_impossible_values_is_refused() {
    let profile = profiles::insightface_buffalo_l();
    assert_eq!(
        CosineMatcher::new(vec![profile.clone(), profile.clone()]),
        Err(ProfileError::Duplicate(profile.id.clone()))
    );
    let no_dimensions = ModelProfile { dimensions: 0, ..profile.clone() };
    assert!(matches!(CosineMatcher::new(vec![no_dimensions]), Err(ProfileError::Dimensions { .. })));
    for threshold in [1.5, -2.0, f32::NAN] {
        let bad = ModelProfile { threshold, ..profile.clone() };
        assert!(matches!(CosineMatcher::new(vec![bad]), Err(ProfileError::Threshold { .. })), "{threshold}");
    }
}

#[test]
fn a_deployment_can_configure_its_own_model() {
    let own = ModelProfile { id: ModelId::new("vendor-face", "3.1").unwrap(), dimensions: 128, threshold: 0.5 };
    let matcher = CosineMatcher::new(vec![own.clone()]).unwrap();
    let template = FaceTemplate::new(own.id.clone(), vec![0.25; 128]).unwrap();
    assert_eq!(matcher.compare(&template, &template).unwrap().decision, FaceDecision::Match);
    assert_eq!(matcher.profile(&own.id), Some(&own));
}
