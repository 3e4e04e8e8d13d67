//! dinhdanh's matcher and NIST's Bozorth3 on the same synthetic genuine and impostor pairs (issue 16, item 6):
//! EER, FNMR at FMR ≤ 0.01%, comparisons per second on one core. Writes the evaluation's impressions as ISO/IEC
//! 19794-2 records, scores them here, and runs Bozorth3 over the same files through nbis-python
//! (interop/nbis_interop.py). Needs python3 with nbis-python 0.1.9 (scripts/test installs it).
//!
//! `cargo run --release -p dinhdanh-fingerprint --example nbis_side_by_side -- --fingers 200 --seed 1`

use dinhdanh_fingerprint::evaluation::{Evaluation, EvaluationParams};
use dinhdanh_fingerprint::{Finger, Matcher, Template};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::process::{Command, ExitCode};
use std::time::Instant;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/interop/nbis_interop.py");

fn main() -> ExitCode {
    let mut params = EvaluationParams::default();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let parsed = match (flag.as_str(), args.next()) {
            ("--fingers", Some(v)) => v.parse().map(|n| params.fingers = n).is_ok(),
            ("--seed", Some(v)) => v.parse().map(|n| params.seed = n).is_ok(),
            // How hard the synthetic captures are, as in the evaluate example; the defaults are ImpressionParams'.
            ("--distortion", Some(v)) => v.parse().map(|x| params.impression.distortion_mm = x).is_ok(),
            ("--missing", Some(v)) => v.parse().map(|x| params.impression.missing_probability = x).is_ok(),
            ("--spurious", Some(v)) => v.parse().map(|x| params.impression.spurious_fraction = x).is_ok(),
            ("--position-noise", Some(v)) => v.parse().map(|x| params.impression.position_noise_mm = x).is_ok(),
            ("--angle-noise", Some(v)) => v.parse().map(|x| params.impression.angle_noise_degrees = x).is_ok(),
            _ => false,
        };
        if !parsed {
            eprintln!(
                "usage: nbis_side_by_side [--fingers N] [--seed S] [--distortion MM] [--missing P] [--spurious F] \
                 [--position-noise MM] [--angle-noise DEGREES]"
            );
            return ExitCode::FAILURE;
        }
    }
    match run(&params) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("nbis_side_by_side: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(params: &EvaluationParams) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // The same draws, in the same order, as Evaluation::run: the same fingers and impressions.
    let mut rng = StdRng::seed_from_u64(params.seed);
    let (mut references, mut probes) = (Vec::new(), Vec::new());
    for index in 0..params.fingers {
        let finger = Finger::generate(&mut rng);
        for (kind, templates) in [("ref", &mut references), ("probe", &mut probes)] {
            let record = finger.impression(&mut rng, &params.impression);
            std::fs::write(dir.path().join(format!("{kind}-{index:05}.fmr")), record.to_bytes())
                .map_err(|e| e.to_string())?;
            templates.extend(Template::from_record(&record).into_iter().next());
        }
    }

    // dinhdanh: the comparisons alone, timed; templates are prepared once per record, as in production.
    let matcher = Matcher::new(params.matcher.clone());
    let (started, cpu_started) = (Instant::now(), cpu_seconds());
    let genuine: Vec<f32> = probes.iter().zip(&references).map(|(p, r)| matcher.compare(p, r).score).collect();
    let mut impostor = Vec::new();
    for (a, reference) in references.iter().enumerate() {
        for probe in &probes[a + 1..] {
            impostor.push(matcher.compare(probe, reference).score);
        }
    }
    let (dinhdanh_seconds, dinhdanh_cpu_seconds) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu_started);
    let dinhdanh = Evaluation::from_scores(genuine, impostor);
    if dinhdanh != Evaluation::run(params) {
        return Err("the impressions written differ from Evaluation::run's".into());
    }

    let output = Command::new("python3")
        .arg(SCRIPT)
        .arg("bozorth")
        .arg(dir.path())
        .output()
        .map_err(|e| format!("cannot run python3 ({e}); install python3 and nbis-python==0.1.9"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).map_err(|e| e.to_string())?;
    let scores = |key: &str| -> Vec<f32> {
        report[key]
            .as_array()
            .map(|a| a.iter().filter_map(|s| s.as_f64()).map(|s| s as f32).collect())
            .unwrap_or_default()
    };
    let bozorth = Evaluation::from_scores(scores("genuine"), scores("impostor"));
    let seconds = |key: &str| report[key].as_f64().unwrap_or(f64::NAN);
    let comparisons = (bozorth.genuine.len() + bozorth.impostor.len()) as f64;

    println!(
        "{} fingers, seed {}: {} genuine and {} impostor pairs; nbis-python {}",
        params.fingers,
        params.seed,
        dinhdanh.genuine.len(),
        dinhdanh.impostor.len(),
        report["nbis_python"].as_str().unwrap_or("?")
    );
    println!(
        "matcher | EER | FNMR at FMR <= 0.01% (threshold) | at its usual threshold: FMR, FNMR | comparisons per CPU-second"
    );
    row("dinhdanh", &dinhdanh, params.matcher.threshold, comparisons / dinhdanh_cpu_seconds, None);
    let overhead = seconds("call_overhead_seconds");
    let cpu = seconds("cpu_seconds");
    let without_python = comparisons / (cpu - overhead * comparisons);
    row("Bozorth3", &bozorth, 40.0, comparisons / cpu, Some(without_python));
    println!(
        "(dinhdanh: {dinhdanh_seconds:.2} s wall, {dinhdanh_cpu_seconds:.2} s CPU; Bozorth3 through nbis-python: {:.2} s \
         wall, {cpu:.2} s CPU, of which {:.1} µs a call is Python's: without it, in brackets)",
        seconds("seconds"),
        overhead * 1e6
    );
    Ok(())
}

fn row(name: &str, evaluation: &Evaluation, usual: f32, per_second: f64, without_overhead: Option<f64>) {
    let (eer, _) = evaluation.equal_error_rate();
    let strict_threshold = evaluation.threshold_for_false_match_rate(1e-4);
    let strict = evaluation.at(strict_threshold);
    let point = evaluation.at(usual);
    let speed = match without_overhead {
        Some(faster) => format!("{per_second:.0} ({faster:.0})"),
        None => format!("{per_second:.0}"),
    };
    println!(
        "{name} | {:.3}% | {:.2}% ({} of {}; {strict_threshold:.3}) | at {usual}: {:.4}% ({}), {:.2}% ({}) | {speed}",
        100.0 * eer,
        100.0 * strict.false_non_match_rate(),
        strict.false_non_matches,
        strict.genuine_comparisons,
        100.0 * point.false_match_rate(),
        point.false_matches,
        100.0 * point.false_non_match_rate(),
        point.false_non_matches,
    );
}

/// This thread's CPU time (user and system) from /proc, in seconds; on a shared machine wall time would count
/// other processes' turns. Linux only, as the interop script's platform is; elsewhere 0.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/thread-self/stat") else { return 0.0 };
    // Fields after the command name (which is in parentheses and may hold spaces): utime and stime are the
    // 12th and 13th, in clock ticks of 1/100 s on Linux.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |index: usize| fields.get(index).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}
