//! Genuine and impostor comparisons on synthetic fingers, and the error rates they give: FMR and FNMR at a
//! threshold, the equal error rate, the threshold for a target FMR, and a DET curve as an SVG image.
//!
//! This is how the matcher's default threshold was chosen (docs/fingerprint.md); `biometrics evaluate` reports
//! the same numbers. It measures accuracy only: it reads no clock, so speed is the benchmark's business.

use crate::matcher::{Matcher, MatcherConfig, Template};
use crate::synthetic::{Finger, ImpressionParams};
use rand::SeedableRng;
use rand::rngs::StdRng;
use std::fmt::Write as _;

/// What to evaluate: how many fingers, on which seed, captured how, matched how.
#[derive(Debug, Clone, PartialEq)]
pub struct EvaluationParams {
    /// Each finger gives one genuine pair (its second impression against its first) and, with every other
    /// finger, one impostor pair: `fingers` genuine and `fingers × (fingers − 1) / 2` impostor comparisons.
    pub fingers: usize,
    pub seed: u64,
    pub impression: ImpressionParams,
    pub matcher: MatcherConfig,
}

impl Default for EvaluationParams {
    fn default() -> Self {
        Self { fingers: 200, seed: 1, impression: ImpressionParams::default(), matcher: MatcherConfig::default() }
    }
}

/// The scores of every genuine and impostor comparison of one run.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Sorted ascending.
    pub genuine: Vec<f32>,
    /// Sorted ascending.
    pub impostor: Vec<f32>,
}

/// Error rates at one threshold, with the counts behind them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OperatingPoint {
    pub threshold: f32,
    /// Impostor comparisons scoring at or above the threshold.
    pub false_matches: usize,
    pub impostor_comparisons: usize,
    /// Genuine comparisons scoring below the threshold.
    pub false_non_matches: usize,
    pub genuine_comparisons: usize,
}

impl OperatingPoint {
    pub fn false_match_rate(&self) -> f64 {
        ratio(self.false_matches, self.impostor_comparisons)
    }

    pub fn false_non_match_rate(&self) -> f64 {
        ratio(self.false_non_matches, self.genuine_comparisons)
    }
}

impl Evaluation {
    /// Generates the fingers and their impressions from `params.seed` and runs every comparison.
    pub fn run(params: &EvaluationParams) -> Self {
        let mut rng = StdRng::seed_from_u64(params.seed);
        let matcher = Matcher::new(params.matcher.clone());
        let mut references = Vec::with_capacity(params.fingers);
        let mut probes = Vec::with_capacity(params.fingers);
        for _ in 0..params.fingers {
            let finger = Finger::generate(&mut rng);
            for templates in [&mut references, &mut probes] {
                let record = finger.impression(&mut rng, &params.impression);
                // One view per synthetic impression.
                templates.extend(Template::from_record(&record).into_iter().next());
            }
        }
        let genuine: Vec<f32> =
            probes.iter().zip(&references).map(|(probe, reference)| matcher.compare(probe, reference).score).collect();
        // Reserved up front for the usual sizes; a huge request grows as it goes rather than failing here.
        let impostor_pairs = params.fingers.saturating_mul(params.fingers.saturating_sub(1)) / 2;
        let mut impostor = Vec::with_capacity(impostor_pairs.min(1 << 24));
        for (a, reference) in references.iter().enumerate() {
            for probe in &probes[a + 1..] {
                impostor.push(matcher.compare(probe, reference).score);
            }
        }
        Self::from_scores(genuine, impostor)
    }

    /// Wraps scores measured elsewhere (for example by another matcher on the same pairs).
    pub fn from_scores(mut genuine: Vec<f32>, mut impostor: Vec<f32>) -> Self {
        genuine.sort_unstable_by(f32::total_cmp);
        impostor.sort_unstable_by(f32::total_cmp);
        Self { genuine, impostor }
    }

    /// The error rates at `threshold` (a score at or above it is a match).
    pub fn at(&self, threshold: f32) -> OperatingPoint {
        OperatingPoint {
            threshold,
            false_matches: self.impostor.len() - self.impostor.partition_point(|&s| s < threshold),
            impostor_comparisons: self.impostor.len(),
            false_non_matches: self.genuine.partition_point(|&s| s < threshold),
            genuine_comparisons: self.genuine.len(),
        }
    }

    /// The lowest threshold whose FMR is at most `max_false_match_rate`: the most lenient setting that still
    /// meets the target. With no impostor scores every threshold meets it, and the lowest score is returned.
    pub fn threshold_for_false_match_rate(&self, max_false_match_rate: f64) -> f32 {
        let allowed = (max_false_match_rate.max(0.0) * self.impostor.len() as f64).floor() as usize;
        if allowed >= self.impostor.len() {
            return self.genuine.first().copied().unwrap_or(0.0).min(self.impostor.first().copied().unwrap_or(0.0));
        }
        // Strictly above the (allowed + 1)-th highest impostor score lets at most `allowed` of them through.
        self.impostor[self.impostor.len() - 1 - allowed].next_up()
    }

    /// The operating point where FMR and FNMR are closest, and their mean there: the equal error rate.
    pub fn equal_error_rate(&self) -> (f64, OperatingPoint) {
        let mut best: Option<(f64, f64, OperatingPoint)> = None;
        for &threshold in self.genuine.iter().chain(&self.impostor) {
            let point = self.at(threshold);
            let (fmr, fnmr) = (point.false_match_rate(), point.false_non_match_rate());
            let gap = (fmr - fnmr).abs();
            if best.as_ref().is_none_or(|&(best_gap, _, _)| gap < best_gap) {
                best = Some((gap, (fmr + fnmr) / 2.0, point));
            }
        }
        match best {
            Some((_, rate, point)) => (rate, point),
            None => (0.0, self.at(0.0)),
        }
    }

    /// A detection error trade-off curve (FNMR against FMR, both on log scales from 10⁻⁵ to 1) as a standalone
    /// SVG document, with `marked` drawn as a point. Rates of zero are drawn on the axis.
    pub fn det_curve_svg(&self, marked: Option<OperatingPoint>) -> String {
        const SIZE: f64 = 480.0;
        const MARGIN: f64 = 60.0;
        const DECADES: f64 = 5.0;
        let to_svg = |fmr: f64, fnmr: f64| {
            let scale = |rate: f64| (rate.max(10f64.powf(-DECADES)).log10() + DECADES) / DECADES;
            (MARGIN + scale(fmr) * SIZE, MARGIN + (1.0 - scale(fnmr)) * SIZE)
        };
        let mut svg = String::new();
        let total = SIZE + 2.0 * MARGIN;
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{total}" viewBox="0 0 {total} {total}" font-family="sans-serif" font-size="12">"#
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
        for decade in 0..=DECADES as i32 {
            let rate = 10f64.powi(-decade);
            let (x, _) = to_svg(rate, 1.0);
            let (_, y) = to_svg(1.0, rate);
            let (left, top, right, bottom) = (MARGIN, MARGIN, MARGIN + SIZE, MARGIN + SIZE);
            let _ = writeln!(svg, r##"<line x1="{x}" y1="{top}" x2="{x}" y2="{bottom}" stroke="#ddd"/>"##);
            let _ = writeln!(svg, r##"<line x1="{left}" y1="{y}" x2="{right}" y2="{y}" stroke="#ddd"/>"##);
            let _ = writeln!(svg, r#"<text x="{x}" y="{}" text-anchor="middle">1e-{decade}</text>"#, bottom + 18.0);
            let _ = writeln!(svg, r#"<text x="{}" y="{y}" text-anchor="end">1e-{decade}</text>"#, left - 6.0);
        }
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">false match rate</text>"#,
            MARGIN + SIZE / 2.0,
            total - 12.0
        );
        let _ = writeln!(
            svg,
            r#"<text x="16" y="{0}" text-anchor="middle" transform="rotate(-90 16 {0})">false non-match rate</text>"#,
            MARGIN + SIZE / 2.0
        );
        let mut points = String::new();
        let mut thresholds: Vec<f32> = self.genuine.iter().chain(&self.impostor).copied().collect();
        thresholds.sort_unstable_by(f32::total_cmp);
        thresholds.dedup();
        for threshold in thresholds {
            let point = self.at(threshold);
            let (x, y) = to_svg(point.false_match_rate(), point.false_non_match_rate());
            let _ = write!(points, "{x:.1},{y:.1} ");
        }
        let _ = writeln!(
            svg,
            r##"<polyline points="{}" fill="none" stroke="#1f5fbf" stroke-width="2"/>"##,
            points.trim_end()
        );
        if let Some(point) = marked {
            let (x, y) = to_svg(point.false_match_rate(), point.false_non_match_rate());
            let _ = writeln!(svg, r##"<circle cx="{x:.1}" cy="{y:.1}" r="5" fill="#c0392b"/>"##);
            let _ =
                writeln!(svg, r#"<text x="{:.1}" y="{:.1}">threshold {:.3}</text>"#, x + 8.0, y - 8.0, point.threshold);
        }
        svg.push_str("</svg>\n");
        svg
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores() -> Evaluation {
        Evaluation::from_scores(vec![0.9, 0.8, 0.7, 0.2], vec![0.1, 0.2, 0.3, 0.05, 0.0])
    }

    #[test]
    fn rates_count_scores_on_the_right_side_of_the_threshold() {
        let point = scores().at(0.3);
        assert_eq!((point.false_matches, point.false_non_matches), (1, 1));
        assert!((point.false_match_rate() - 0.2).abs() < 1e-12);
        assert!((point.false_non_match_rate() - 0.25).abs() < 1e-12);
    }

    #[test]
    fn the_threshold_for_a_target_lets_through_no_more_impostors_than_allowed() {
        let evaluation = scores();
        assert_eq!(evaluation.at(evaluation.threshold_for_false_match_rate(0.0)).false_matches, 0);
        let lenient = evaluation.threshold_for_false_match_rate(0.2);
        assert_eq!(evaluation.at(lenient).false_matches, 1);
        assert!(lenient <= 0.3);
    }

    #[test]
    fn the_equal_error_rate_is_where_the_curves_cross() {
        let (rate, point) = scores().equal_error_rate();
        assert!((point.false_match_rate() - point.false_non_match_rate()).abs() <= 0.05);
        assert!(rate > 0.0 && rate < 0.3);
    }

    #[test]
    fn the_det_curve_is_an_svg_document_with_the_marked_point() {
        let evaluation = scores();
        let svg = evaluation.det_curve_svg(Some(evaluation.at(0.25)));
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
        assert!(svg.contains("<polyline") && svg.contains("<circle") && svg.contains("threshold 0.250"));
    }
}
