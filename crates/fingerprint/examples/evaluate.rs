//! Runs the synthetic genuine/impostor evaluation and prints the operating point; optionally writes the DET
//! curve. `cargo run --release -p dinhdanh-fingerprint --example evaluate -- --fingers 200 --seed 1 --det det.svg`

use dinhdanh_fingerprint::evaluation::{Evaluation, EvaluationParams};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut params = EvaluationParams::default();
    let mut det_path = None;
    let mut threshold = None;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next();
        let parsed = match (flag.as_str(), value.as_deref()) {
            ("--fingers", Some(v)) => v.parse().map(|n| params.fingers = n).is_ok(),
            ("--seed", Some(v)) => v.parse().map(|n| params.seed = n).is_ok(),
            ("--threshold", Some(v)) => v.parse().map(|t| threshold = Some(t)).is_ok(),
            // Tuning knobs, for exploring the matcher; the defaults are the documented configuration.
            ("--max-rotation", Some(v)) => v.parse().map(|x| params.matcher.max_rotation_degrees = x).is_ok(),
            ("--local-distance", Some(v)) => v.parse().map(|x| params.matcher.local_distance_tolerance_mm = x).is_ok(),
            ("--local-angle", Some(v)) => v.parse().map(|x| params.matcher.local_angle_tolerance_degrees = x).is_ok(),
            ("--seeds", Some(v)) => v.parse().map(|x| params.matcher.alignment_seeds = x).is_ok(),
            ("--pair-distance", Some(v)) => v.parse().map(|x| params.matcher.pair_distance_tolerance_mm = x).is_ok(),
            ("--distortion-allowance", Some(v)) => v.parse().map(|x| params.matcher.distortion_allowance = x).is_ok(),
            ("--pair-angle", Some(v)) => v.parse().map(|x| params.matcher.pair_angle_tolerance_degrees = x).is_ok(),
            ("--min-overlap", Some(v)) => v.parse().map(|x| params.matcher.min_overlap_minutiae = x).is_ok(),
            // How hard the synthetic captures are; the defaults are `ImpressionParams::default()`.
            ("--translation", Some(v)) => v.parse().map(|x| params.impression.max_translation_mm = x).is_ok(),
            ("--distortion", Some(v)) => v.parse().map(|x| params.impression.distortion_mm = x).is_ok(),
            ("--missing", Some(v)) => v.parse().map(|x| params.impression.missing_probability = x).is_ok(),
            ("--spurious", Some(v)) => v.parse().map(|x| params.impression.spurious_fraction = x).is_ok(),
            ("--position-noise", Some(v)) => v.parse().map(|x| params.impression.position_noise_mm = x).is_ok(),
            ("--angle-noise", Some(v)) => v.parse().map(|x| params.impression.angle_noise_degrees = x).is_ok(),
            ("--det", Some(v)) => {
                det_path = Some(v.to_owned());
                true
            }
            _ => false,
        };
        if !parsed {
            eprintln!("usage: evaluate [--fingers N] [--seed S] [--threshold T] [--det FILE.svg]");
            return ExitCode::FAILURE;
        }
    }
    let evaluation = Evaluation::run(&params);
    let threshold = threshold.unwrap_or(params.matcher.threshold);
    let point = evaluation.at(threshold);
    let (eer, eer_point) = evaluation.equal_error_rate();
    let strict = evaluation.threshold_for_false_match_rate(1e-4);
    let strict_point = evaluation.at(strict);
    println!(
        "fingers {} seed {}: {} genuine, {} impostor comparisons",
        params.fingers,
        params.seed,
        evaluation.genuine.len(),
        evaluation.impostor.len()
    );
    println!(
        "at threshold {threshold:.4}: FMR {:.4}% ({} false matches), FNMR {:.2}% ({} false non-matches)",
        100.0 * point.false_match_rate(),
        point.false_matches,
        100.0 * point.false_non_match_rate(),
        point.false_non_matches
    );
    println!("EER {:.3}% at threshold {:.4}", 100.0 * eer, eer_point.threshold);
    println!(
        "lowest threshold with FMR <= 0.01%: {strict:.4}, FNMR there {:.2}% ({} of {})",
        100.0 * strict_point.false_non_match_rate(),
        strict_point.false_non_matches,
        strict_point.genuine_comparisons
    );
    let quantile =
        |scores: &[f32], q: f64| scores.get(((scores.len() as f64 - 1.0) * q) as usize).copied().unwrap_or(0.0);
    println!(
        "genuine scores: min {:.3} p2 {:.3} median {:.3}; impostor scores: median {:.3} p99.99 {:.3} max {:.3}",
        quantile(&evaluation.genuine, 0.0),
        quantile(&evaluation.genuine, 0.02),
        quantile(&evaluation.genuine, 0.5),
        quantile(&evaluation.impostor, 0.5),
        quantile(&evaluation.impostor, 0.9999),
        quantile(&evaluation.impostor, 1.0)
    );
    println!("threshold | false matches | FMR | false non-matches | FNMR");
    for step in 0..=10 {
        let t = 0.10 + 0.01 * step as f32;
        let p = evaluation.at(t);
        println!(
            "{t:.2} | {} | {:.5}% | {} | {:.2}%",
            p.false_matches,
            100.0 * p.false_match_rate(),
            p.false_non_matches,
            100.0 * p.false_non_match_rate()
        );
    }
    if let Some(path) = det_path {
        if let Err(error) = std::fs::write(&path, evaluation.det_curve_svg(Some(point))) {
            eprintln!("cannot write {path}: {error}");
            return ExitCode::FAILURE;
        }
        println!("DET curve written to {path}");
    }
    ExitCode::SUCCESS
}
