//! The matcher on synthetic fingers: impressions of one finger match at the configured threshold, impressions
//! of different fingers do not, and the score is bounded and total on any record. Fixed seeds; counts asserted.

use dinhdanh_fingerprint::evaluation::{Evaluation, EvaluationParams};
use dinhdanh_fingerprint::{
    CaptureInfo, Decision, Finger, FingerPosition, FingerView, ImpressionParams, ImpressionType, Matcher, Minutia,
    MinutiaKind, MinutiaeRecord, Template,
};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn template(record: &MinutiaeRecord) -> Template {
    Template::from_record(record).remove(0)
}

/// The statistical test, small enough for a debug build: 100 fingers give 100 genuine and 4,950
/// impostor comparisons at the default configuration.
#[test]
fn genuine_impressions_match_and_impostors_do_not_at_the_default_threshold() {
    let params = EvaluationParams { fingers: 100, seed: 2026, ..EvaluationParams::default() };
    let evaluation = Evaluation::run(&params);
    let point = evaluation.at(params.matcher.threshold);
    assert_eq!((point.genuine_comparisons, point.impostor_comparisons), (100, 4_950));
    assert!(point.false_non_matches <= 2, "{} of 100 genuine pairs did not match", point.false_non_matches);
    assert_eq!(point.false_matches, 0, "impostor pairs matched");
}

#[test]
fn a_record_matches_itself_fully() {
    let mut rng = StdRng::seed_from_u64(1);
    let record = Finger::generate(&mut rng).impression(&mut rng, &ImpressionParams::default());
    let comparison = Matcher::default().compare(&template(&record), &template(&record));
    assert_eq!(comparison.decision, Decision::Match);
    assert!(comparison.score > 0.99, "score {}", comparison.score);
    assert_eq!(comparison.paired, record.views()[0].minutiae.len());
}

/// The record turned counter-clockwise (as the standard measures angles, on an image whose rows grow
/// downwards) by `degrees` about its image centre, and shifted; minutiae that leave the image are dropped.
fn turned(record: &MinutiaeRecord, degrees: f32, shift: (f32, f32)) -> MinutiaeRecord {
    let capture = *record.capture();
    let (centre_x, centre_y) = (f32::from(capture.image_width) / 2.0, f32::from(capture.image_height) / 2.0);
    let (sin, cos) = degrees.to_radians().sin_cos();
    let mut view = record.views()[0].clone();
    view.minutiae = view
        .minutiae
        .iter()
        .filter_map(|m| {
            let (dx, dy) = (f32::from(m.x) - centre_x, f32::from(m.y) - centre_y);
            let x = (centre_x + cos * dx + sin * dy + shift.0).round();
            let y = (centre_y - sin * dx + cos * dy + shift.1).round();
            let inside = (0.0..f32::from(capture.image_width)).contains(&x)
                && (0.0..f32::from(capture.image_height)).contains(&y);
            let angle = (f32::from(m.angle) + degrees * 256.0 / 360.0).round().rem_euclid(256.0) as u8;
            inside.then_some(Minutia { x: x as u16, y: y as u16, angle, ..*m })
        })
        .collect();
    MinutiaeRecord::new(capture, vec![view]).unwrap()
}

#[test]
fn a_turned_and_shifted_capture_still_matches_and_a_mirrored_one_does_not() {
    let mut rng = StdRng::seed_from_u64(9);
    let record = Finger::generate(&mut rng).impression(&mut rng, &ImpressionParams::default());
    let matcher = Matcher::default();
    for degrees in [-40.0, -15.0, 15.0, 40.0] {
        let copy = turned(&record, degrees, (12.0, -20.0));
        let comparison = matcher.compare(&template(&copy), &template(&record));
        assert_eq!(comparison.decision, Decision::Match, "turned by {degrees}°: score {}", comparison.score);
    }
    // Turning positions one way and directions the other is what a sign error in the angle convention would
    // do; the result must not look like the same finger.
    let mut mirrored = turned(&record, 30.0, (0.0, 0.0));
    let mut view = mirrored.clone().into_views().remove(0);
    for minutia in &mut view.minutiae {
        minutia.angle = minutia.angle.wrapping_sub(2 * 21); // 30° is 21.3 units: undo it, then turn by -30°
    }
    mirrored = MinutiaeRecord::new(*mirrored.capture(), vec![view]).unwrap();
    assert_eq!(matcher.compare(&template(&mirrored), &template(&record)).decision, Decision::NoMatch);
}

#[test]
fn records_of_different_resolutions_compare_in_millimetres() {
    let mut rng = StdRng::seed_from_u64(3);
    let matcher = Matcher::default();
    let (mut matched, mut impostor_matches) = (0, 0);
    let fingers: Vec<Finger> = (0..10).map(|_| Finger::generate(&mut rng)).collect();
    let fine = ImpressionParams { resolution: 394, image_width: 600, image_height: 800, ..ImpressionParams::default() };
    let coarse = ImpressionParams::default();
    let references: Vec<Template> = fingers.iter().map(|f| template(&f.impression(&mut rng, &fine))).collect();
    for (index, finger) in fingers.iter().enumerate() {
        let probe = template(&finger.impression(&mut rng, &coarse));
        matched += usize::from(matcher.compare(&probe, &references[index]).decision == Decision::Match);
        let other = &references[(index + 1) % references.len()];
        impostor_matches += usize::from(matcher.compare(&probe, other).decision == Decision::Match);
    }
    assert!(matched >= 9, "{matched} of 10 genuine pairs matched across resolutions");
    assert_eq!(impostor_matches, 0);
}

#[test]
fn synthetic_impressions_are_reproducible_valid_records() {
    let draw = || {
        let mut rng = StdRng::seed_from_u64(42);
        let finger = Finger::generate(&mut rng);
        (finger.minutiae_count(), finger.impression(&mut rng, &ImpressionParams::default()))
    };
    let (count, record) = draw();
    assert_eq!(draw().1, record);
    assert!((35..=60).contains(&count));
    let minutiae = record.views()[0].minutiae.len();
    assert!((15..=80).contains(&minutiae), "{minutiae} minutiae in one impression");
    assert_eq!(MinutiaeRecord::parse(&record.to_bytes()), Ok(record));
}

#[test]
fn impressions_with_absurd_parameters_are_still_valid_records() {
    let mut rng = StdRng::seed_from_u64(5);
    let finger = Finger::generate(&mut rng);
    let absurd = ImpressionParams {
        max_rotation_degrees: f32::NAN,
        missing_probability: f32::NAN,
        spurious_fraction: 1e9,
        image_width: u16::MAX,
        image_height: 0,
        resolution: 0,
        ..ImpressionParams::default()
    };
    let record = finger.impression(&mut rng, &absurd);
    assert_eq!(MinutiaeRecord::parse(&record.to_bytes()), Ok(record));
}

/// A template from a one-view record built by hand: minutiae as (x, y, angle) in a 64x64 image.
fn hand_made(resolution_x: u16, resolution_y: u16, minutiae: &[(u16, u16, u8)]) -> Template {
    let capture = CaptureInfo {
        equipment_certification: 0,
        device_type: 0,
        image_width: 64,
        image_height: 64,
        resolution_x,
        resolution_y,
    };
    let view = FingerView {
        position: FingerPosition::Unknown,
        view_number: 0,
        impression: ImpressionType::LiveScanPlain,
        quality: 0,
        minutiae: minutiae
            .iter()
            .map(|&(x, y, angle)| Minutia { kind: MinutiaKind::Other, x, y, angle, quality: 0 })
            .collect(),
        extended_data: Vec::new(),
    };
    Template::from_view(&capture, &view)
}

#[test]
fn views_with_too_few_minutiae_score_zero() {
    let empty = hand_made(197, 197, &[]);
    let single = hand_made(197, 197, &[(32, 32, 0)]);
    let matcher = Matcher::default();
    for (probe, reference) in [(&empty, &empty), (&single, &single), (&empty, &single)] {
        let comparison = matcher.compare(probe, reference);
        assert_eq!((comparison.score, comparison.decision), (0.0, Decision::NoMatch));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any two views, however odd (duplicates, all minutiae on one spot, extreme resolutions), compare to a
    /// score in [0, 1] without panicking.
    #[test]
    fn any_two_views_compare_to_a_bounded_score(
        resolutions in (1..=u16::MAX, 1..=u16::MAX, 1..=u16::MAX, 1..=u16::MAX),
        probe in prop::collection::vec((0..64u16, 0..64u16, any::<u8>()), 0..40),
        reference in prop::collection::vec((0..64u16, 0..64u16, any::<u8>()), 0..40),
    ) {
        let probe = hand_made(resolutions.0, resolutions.1, &probe);
        let reference = hand_made(resolutions.2, resolutions.3, &reference);
        let comparison = Matcher::default().compare(&probe, &reference);
        prop_assert!((0.0..=1.0).contains(&comparison.score), "score {}", comparison.score);
    }
}
