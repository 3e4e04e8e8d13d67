//! `dinhdanh biometrics evaluate` as an engineer runs it, with the real binary: a small synthetic run prints
//! the error rates and the speed, `--json` gives the same figures to a script, and `--det` writes the curve.

use std::process::{Command, Output};

fn dinhdanh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dinhdanh"))
        .args(args)
        .env("RUST_LOG", "warn")
        .env_remove("DINHDANH_CONFIG")
        .output()
        .expect("run dinhdanh")
}

fn ok(out: &Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {stdout}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

#[test]
fn evaluate_prints_the_error_rates_and_writes_the_det_curve() {
    let dir = tempfile::tempdir().unwrap();
    let det = dir.path().join("det.svg");
    let stdout =
        ok(&dinhdanh(&["biometrics", "evaluate", "--fingers", "30", "--seed", "3", "--det", det.to_str().unwrap()]));
    assert!(stdout.contains("30 synthetic fingers, seed 3: 30 genuine and 435 impostor comparisons"), "{stdout}");
    // The default threshold, with FMR and FNMR and their counts.
    assert!(stdout.contains("at threshold 0.1700: FMR "), "{stdout}");
    assert!(stdout.contains(" of 435), FNMR ") && stdout.contains(" of 30)"), "{stdout}");
    assert!(stdout.contains("EER "), "{stdout}");
    assert!(stdout.contains("FNMR at FMR <= 0.01%: "), "{stdout}");
    // 435 impostor pairs cannot resolve 0.01%: the output says so.
    assert!(stdout.contains("use 142 fingers or more"), "{stdout}");
    assert!(stdout.contains(" comparisons/s on one core (465 comparisons in "), "{stdout}");
    assert!(stdout.contains(&format!("DET curve written to {}", det.display())), "{stdout}");
    let svg = std::fs::read_to_string(&det).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("<polyline") && svg.contains("threshold 0.170"), "{svg}");
}

#[test]
fn evaluate_json_gives_the_same_figures_to_a_script() {
    let stdout =
        ok(&dinhdanh(&["biometrics", "evaluate", "--fingers", "30", "--seed", "3", "--threshold", "0.2", "--json"]));
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("one JSON object");
    assert_eq!(report["fingers"], 30);
    assert_eq!(report["genuine_comparisons"], 30);
    assert_eq!(report["impostor_comparisons"], 435);
    assert!((report["threshold"].as_f64().unwrap() - 0.2).abs() < 1e-6);
    // The synthetic default set separates cleanly: no impostor reaches 0.2, and genuine pairs do.
    assert_eq!(report["false_matches"], 0);
    assert!(report["false_non_match_rate"].as_f64().unwrap() <= 0.1, "{report}");
    assert!(report["comparisons_per_second"].as_f64().unwrap() > 0.0);
    assert!(report["det"].is_null());
    // Same seed, same scores: the text run's counts at the same threshold agree.
    let again =
        ok(&dinhdanh(&["biometrics", "evaluate", "--fingers", "30", "--seed", "3", "--threshold", "0.2", "--json"]));
    let again: serde_json::Value = serde_json::from_str(&again).unwrap();
    assert_eq!(again["false_non_matches"], report["false_non_matches"]);
    assert_eq!(again["equal_error_rate"], report["equal_error_rate"]);
}

#[test]
fn evaluate_refuses_impossible_options_and_explains_itself() {
    let out = dinhdanh(&["biometrics", "evaluate", "--fingers", "1"]);
    assert!(!out.status.success());
    let out = dinhdanh(&["biometrics", "evaluate", "--threshold", "1.5"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a score between 0 and 1"));
    let help = ok(&dinhdanh(&["biometrics", "evaluate", "--help"]));
    for flag in ["--fingers", "--seed", "--threshold", "--det", "--json", "false match rate", "DET curve"] {
        assert!(help.contains(flag), "--help does not mention {flag}:\n{help}");
    }
}
