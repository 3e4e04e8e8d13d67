//! `dinhdanh biometrics evaluate`: the fingerprint matcher's error rates and speed on synthetic fingers, and
//! its DET curve, from `dinhdanh_fingerprint::evaluation`. Needs no database, no server and no configuration;
//! it does not touch real biometrics (docs/fingerprint.md, "Operating point").

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use dinhdanh_fingerprint::MatcherConfig;
use dinhdanh_fingerprint::evaluation::{Evaluation, EvaluationParams};

/// The target false match rate: 0.01%.
const TARGET_FALSE_MATCH_RATE: f64 = 1e-4;

#[derive(Debug, Subcommand)]
pub enum BiometricsCommand {
    /// Measure the fingerprint matcher on synthetic fingers: FMR, FNMR, EER, FNMR at FMR ≤ 0.01%, speed.
    ///
    /// Generates `--fingers` synthetic fingers from `--seed` and two impressions of each (a plain capture on
    /// a 500 dpi scanner: turned up to ±20°, shifted up to ±2.5 mm, elastically distorted, a fifth of the
    /// minutiae missed, a fifth more spurious, position and direction noise), written as ISO/IEC 19794-2
    /// records. Each finger gives one genuine comparison (its second impression against its first) and, with
    /// every other finger, one impostor comparison: N genuine and N × (N − 1) / 2 impostor comparisons, on one
    /// thread.
    ///
    /// Prints, at `--threshold`: the false match rate (impostor pairs scoring at or above it) and the false
    /// non-match rate (genuine pairs below it), with their counts; the equal error rate; the lowest threshold
    /// with FMR ≤ 0.01% and the FNMR there; and comparisons per second on one core (the run's wall time,
    /// generating the impressions included). `--det` writes the detection error trade-off curve (FNMR against
    /// FMR, log scales) as an SVG image with the threshold's point marked. The same seed gives the same
    /// scores; synthetic fingers are not an accuracy claim for real ones.
    Evaluate(EvaluateArgs),
}

#[derive(Debug, Args)]
pub struct EvaluateArgs {
    /// Number of synthetic fingers (at least 2). 1000 fingers make about half a million comparisons.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(2..=20_000))]
    fingers: u32,
    /// Seed of the random generator: the same seed gives the same fingers, impressions and scores.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Decision threshold on the matcher's 0–1 score (default: the matcher's configured one).
    #[arg(long, value_parser = parse_threshold)]
    threshold: Option<f32>,
    /// Write the DET curve as an SVG image to this file.
    #[arg(long, value_name = "PATH.svg")]
    det: Option<PathBuf>,
    /// Print the figures as one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

fn parse_threshold(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(value) if (0.0..=1.0).contains(&value) => Ok(value),
        _ => Err(format!("{text:?} is not a score between 0 and 1")),
    }
}

pub fn run(command: BiometricsCommand) -> Result<()> {
    match command {
        BiometricsCommand::Evaluate(args) => evaluate(args),
    }
}

fn evaluate(args: EvaluateArgs) -> Result<()> {
    let params = EvaluationParams { fingers: args.fingers as usize, seed: args.seed, ..EvaluationParams::default() };
    let threshold = args.threshold.unwrap_or(MatcherConfig::default().threshold);
    let started = Instant::now();
    let evaluation = Evaluation::run(&params);
    let seconds = started.elapsed().as_secs_f64();
    let comparisons = evaluation.genuine.len() + evaluation.impostor.len();
    let per_second = comparisons as f64 / seconds.max(1e-9);

    let point = evaluation.at(threshold);
    let (eer, eer_point) = evaluation.equal_error_rate();
    let strict_threshold = evaluation.threshold_for_false_match_rate(TARGET_FALSE_MATCH_RATE);
    let strict = evaluation.at(strict_threshold);
    if let Some(path) = &args.det {
        std::fs::write(path, evaluation.det_curve_svg(Some(point)))
            .with_context(|| format!("cannot write the DET curve to {}", path.display()))?;
    }

    if args.json {
        let report = serde_json::json!({
            "fingers": params.fingers,
            "seed": params.seed,
            "genuine_comparisons": point.genuine_comparisons,
            "impostor_comparisons": point.impostor_comparisons,
            "threshold": threshold,
            "false_matches": point.false_matches,
            "false_match_rate": point.false_match_rate(),
            "false_non_matches": point.false_non_matches,
            "false_non_match_rate": point.false_non_match_rate(),
            "equal_error_rate": eer,
            "equal_error_rate_threshold": eer_point.threshold,
            "target_false_match_rate": TARGET_FALSE_MATCH_RATE,
            "threshold_at_target": strict_threshold,
            "false_non_match_rate_at_target": strict.false_non_match_rate(),
            "false_non_matches_at_target": strict.false_non_matches,
            "seconds": seconds,
            "comparisons_per_second": per_second,
            "det": args.det.as_ref().map(|path| path.display().to_string()),
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    println!(
        "{} synthetic fingers, seed {}: {} genuine and {} impostor comparisons",
        params.fingers, params.seed, point.genuine_comparisons, point.impostor_comparisons
    );
    println!(
        "at threshold {threshold:.4}: FMR {:.4}% ({} of {}), FNMR {:.2}% ({} of {})",
        100.0 * point.false_match_rate(),
        point.false_matches,
        point.impostor_comparisons,
        100.0 * point.false_non_match_rate(),
        point.false_non_matches,
        point.genuine_comparisons
    );
    println!("EER {:.3}% (at threshold {:.4})", 100.0 * eer, eer_point.threshold);
    println!(
        "FNMR at FMR <= 0.01%: {:.2}% ({} of {}), threshold {strict_threshold:.4}",
        100.0 * strict.false_non_match_rate(),
        strict.false_non_matches,
        strict.genuine_comparisons
    );
    if point.impostor_comparisons < 10_000 {
        println!(
            "  (with {} impostor comparisons, FMR steps by {:.4}%: use 142 fingers or more to resolve 0.01%)",
            point.impostor_comparisons,
            100.0 / point.impostor_comparisons as f64
        );
    }
    println!("speed: {per_second:.0} comparisons/s on one core ({comparisons} comparisons in {seconds:.2} s)");
    if let Some(path) = &args.det {
        println!("DET curve written to {}", path.display());
    }
    Ok(())
}
