//! Minutiae matching: is a probe view the same finger as a reference view?
//!
//! Two stages, in the spirit of Jiang–Yau local structures and Bozorth3's pair tables:
//!
//! 1. **Local structures.** Each minutia is described by its nearest neighbours: the distance to each, the
//!    direction to it and its ridge direction, both relative to the minutia's own direction. These do not change
//!    when the finger is moved or turned, so a probe minutia and a reference minutia whose neighbourhoods agree
//!    are a candidate correspondence, found without knowing the alignment.
//! 2. **Global consolidation.** The best candidates each propose an alignment (the rotation and translation that
//!    put the probe minutia on the reference minutia). Under each, probe and reference minutiae are paired one to
//!    one when they lie within a distance tolerance (which grows away from the aligned pair, to absorb the skin's
//!    elastic distortion) and an angle tolerance; the alignment is then refitted to all its pairs by least
//!    squares and the pairing repeated, and once more after moving each probe minutia by the residuals of the
//!    pairs around it (a smooth correction for distortion). The best alignment's pairs, each weighted by how
//!    well its neighbourhoods agree, make the score.
//!
//! Coordinates are converted to millimetres with each record's resolution, so records from scanners of
//! different resolutions compare. [`Template::from_view`] does all per-view work once; [`Matcher::compare`] is
//! the hot path: a few buffers the size of the templates, no other allocation. This module does not decide what
//! a match means for an account; it owns the score and the decision at the configured threshold.

use crate::record::{CaptureInfo, FingerView, MAX_MINUTIAE_PER_VIEW, MinutiaeRecord};
use std::f32::consts::{PI, TAU};

/// How many nearest neighbours describe a minutia's local structure. Eight keeps enough of the neighbourhood
/// when a few minutiae are missing or spurious, and fits the used-neighbour set in a `u16`.
const NEIGHBOURS: usize = 8;
/// Neighbours closer than this are dropped: at half a ridge period their relative direction is mostly noise.
const MIN_NEIGHBOUR_DISTANCE_MM: f32 = 0.3;

/// A paired minutia whose neighbourhood does not agree at all counts this much; one with `FULL_AGREEMENT`
/// agreeing neighbours counts 1. Chance pairs between different fingers rarely share neighbours, genuine ones
/// usually do, so this widens the gap between impostor and genuine scores.
const PAIR_BASE_WEIGHT: f32 = 0.4;
const FULL_AGREEMENT: f32 = 3.0;

/// The matcher's tolerances and its operating threshold. The defaults are the ones evaluated in
/// `docs/fingerprint.md` and `BENCHMARKS.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct MatcherConfig {
    /// A comparison whose score is at least this is a [`Decision::Match`]. Chosen on the synthetic evaluation
    /// so that FMR ≤ 0.01% with FNMR ≤ 2% (see `docs/fingerprint.md`).
    pub threshold: f32,
    /// The largest rotation between probe and reference considered, in degrees. Captures on a guided scanner are
    /// within ±30° of upright; refusing larger turns removes chance alignments between different fingers.
    pub max_rotation_degrees: f32,
    /// Two neighbour distances agree when they differ by at most this many millimetres, plus
    /// `local_distance_fraction` of the distance.
    pub local_distance_tolerance_mm: f32,
    pub local_distance_fraction: f32,
    /// Two relative angles in local structures agree when they differ by at most this many degrees.
    pub local_angle_tolerance_degrees: f32,
    /// How many of the best local correspondences are tried as alignments.
    pub alignment_seeds: usize,
    /// A probe and a reference minutia pair when, after alignment, they are at most this many millimetres apart,
    /// plus `distortion_allowance` of their distance from the alignment's centre.
    pub pair_distance_tolerance_mm: f32,
    pub distortion_allowance: f32,
    /// ... and their directions differ by at most this many degrees.
    pub pair_angle_tolerance_degrees: f32,
    /// The score divides by the number of minutiae in the overlapping area but never by fewer than this, so a
    /// sliver of overlap with a handful of chance pairs cannot score high.
    pub min_overlap_minutiae: usize,
}

impl Default for MatcherConfig {
    fn default() -> Self {
        Self {
            threshold: 0.17,
            max_rotation_degrees: 45.0,
            local_distance_tolerance_mm: 0.4,
            local_distance_fraction: 0.06,
            local_angle_tolerance_degrees: 25.0,
            alignment_seeds: 12,
            pair_distance_tolerance_mm: 0.5,
            distortion_allowance: 0.05,
            pair_angle_tolerance_degrees: 30.0,
            min_overlap_minutiae: 20,
        }
    }
}

/// Whether a comparison reached the operating threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Match,
    NoMatch,
}

/// The outcome of one comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Comparison {
    /// From 0 (nothing in common) to 1 (every minutia in the overlapping area paired): the number of paired
    /// minutiae squared, divided by the number of probe and of reference minutiae in the area where the two
    /// views overlap (each at least [`MatcherConfig::min_overlap_minutiae`]).
    pub score: f32,
    /// How many minutiae were paired under the best alignment.
    pub paired: usize,
    pub decision: Decision,
}

/// A minutia in millimetres, y up, direction in radians counter-clockwise.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Point {
    x: f32,
    y: f32,
    angle: f32,
}

/// A neighbour as seen from a minutia: invariant under rotation and translation of the whole finger.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Neighbour {
    distance: f32,
    /// Direction from the minutia to the neighbour, relative to the minutia's direction, in the standard's
    /// units of 360/256° (integer angles make the innermost loop of matching cheap; 1.4° is far below the
    /// tolerances).
    radial: u8,
    /// The neighbour's direction relative to the minutia's direction, in the same units.
    orientation: u8,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Bounds {
    min_x: f32,
    min_y: f32,
    max_x: f32,
    max_y: f32,
}

impl Bounds {
    fn of(points: &[Point]) -> Self {
        points.iter().fold(Bounds { min_x: f32::MAX, min_y: f32::MAX, max_x: f32::MIN, max_y: f32::MIN }, |b, p| {
            Bounds {
                min_x: b.min_x.min(p.x),
                min_y: b.min_y.min(p.y),
                max_x: b.max_x.max(p.x),
                max_y: b.max_y.max(p.y),
            }
        })
    }

    fn contains(&self, x: f32, y: f32, margin: f32) -> bool {
        x >= self.min_x - margin && x <= self.max_x + margin && y >= self.min_y - margin && y <= self.max_y + margin
    }
}

/// One finger view prepared for comparison: minutiae in millimetres and their local structures.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    minutiae: Vec<Point>,
    /// `NEIGHBOURS` slots per minutia, nearest first; the first `neighbour_counts[i]` are used.
    neighbours: Vec<Neighbour>,
    neighbour_counts: Vec<u8>,
    /// Each minutia's direction in units of 360/256°, for the cheap rotation filter.
    directions: Vec<u8>,
    bounds: Bounds,
    /// The diagonal of `bounds`: no two minutiae are further apart.
    diameter: f32,
}

impl Template {
    /// Prepares a view of a record whose capture information is `capture` (for the resolution). A view built by
    /// hand with more minutiae than a record can carry is cut to the first 255.
    pub fn from_view(capture: &CaptureInfo, view: &FingerView) -> Self {
        // A validated record has non-zero resolutions; `max(1)` keeps this total for hand-built values.
        let mm_per_pixel_x = 10.0 / f32::from(capture.resolution_x.max(1));
        let mm_per_pixel_y = 10.0 / f32::from(capture.resolution_y.max(1));
        let mut minutiae: Vec<Point> = view
            .minutiae
            .iter()
            .take(MAX_MINUTIAE_PER_VIEW)
            .map(|m| Point {
                x: f32::from(m.x) * mm_per_pixel_x,
                // Image rows grow downwards; flipping y makes the standard's counter-clockwise angles the usual
                // mathematical ones.
                y: -f32::from(m.y) * mm_per_pixel_y,
                angle: f32::from(m.angle) * (TAU / 256.0),
            })
            .collect();
        // Sorted by x, so pairing can look only at the reference minutiae in a vertical band around each probe
        // minutia. The standard gives minutiae no order, so nothing is lost.
        minutiae.sort_unstable_by(|a, b| a.x.total_cmp(&b.x));

        let mut neighbours = vec![Neighbour::default(); minutiae.len() * NEIGHBOURS];
        let mut neighbour_counts = Vec::with_capacity(minutiae.len());
        let mut by_distance: Vec<(f32, usize)> = Vec::with_capacity(minutiae.len());
        for (i, centre) in minutiae.iter().enumerate() {
            by_distance.clear();
            by_distance.extend(minutiae.iter().enumerate().filter(|&(j, _)| j != i).filter_map(|(j, other)| {
                let distance = (other.x - centre.x).hypot(other.y - centre.y);
                (distance >= MIN_NEIGHBOUR_DISTANCE_MM).then_some((distance, j))
            }));
            by_distance.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            let count = by_distance.len().min(NEIGHBOURS);
            for (slot, &(distance, j)) in by_distance[..count].iter().enumerate() {
                let other = minutiae[j];
                neighbours[i * NEIGHBOURS + slot] = Neighbour {
                    distance,
                    radial: to_units((other.y - centre.y).atan2(other.x - centre.x) - centre.angle),
                    orientation: to_units(other.angle - centre.angle),
                };
            }
            neighbour_counts.push(count as u8);
        }
        let directions = minutiae.iter().map(|m| to_units(m.angle)).collect();
        let bounds = Bounds::of(&minutiae);
        let diameter = (bounds.max_x - bounds.min_x).hypot(bounds.max_y - bounds.min_y);
        Self {
            diameter: if diameter.is_finite() { diameter } else { 0.0 },
            minutiae,
            neighbours,
            neighbour_counts,
            directions,
            bounds,
        }
    }

    /// Templates for every view of a record, in order.
    pub fn from_record(record: &MinutiaeRecord) -> Vec<Self> {
        record.views().iter().map(|view| Self::from_view(record.capture(), view)).collect()
    }

    pub fn len(&self) -> usize {
        self.minutiae.len()
    }

    pub fn is_empty(&self) -> bool {
        self.minutiae.is_empty()
    }

    fn neighbours_of(&self, i: usize) -> &[Neighbour] {
        let start = i * NEIGHBOURS;
        &self.neighbours[start..start + usize::from(self.neighbour_counts[i])]
    }
}

/// A rigid motion of the plane: rotate by `angle` about the origin, then translate.
#[derive(Debug, Clone, Copy)]
struct Alignment {
    angle: f32,
    cos: f32,
    sin: f32,
    dx: f32,
    dy: f32,
}

impl Alignment {
    /// The motion that puts `from` onto `to`, position and direction.
    fn between(from: Point, to: Point) -> Self {
        let angle = wrap(to.angle - from.angle);
        let (sin, cos) = angle.sin_cos();
        Self { angle, cos, sin, dx: to.x - (cos * from.x - sin * from.y), dy: to.y - (sin * from.x + cos * from.y) }
    }

    fn apply(&self, p: Point) -> Point {
        Point {
            x: self.cos * p.x - self.sin * p.y + self.dx,
            y: self.sin * p.x + self.cos * p.y + self.dy,
            angle: normalise(p.angle + self.angle),
        }
    }

    fn invert(&self, p: Point) -> Point {
        let (x, y) = (p.x - self.dx, p.y - self.dy);
        Point {
            x: self.cos * x + self.sin * y,
            y: -self.sin * x + self.cos * y,
            angle: normalise(p.angle - self.angle),
        }
    }

    /// The least-squares rigid motion taking `from[k]` onto `to[k]` (2-D Procrustes, no scaling).
    fn fit(pairs: impl Iterator<Item = (Point, Point)> + Clone) -> Option<Self> {
        let (mut n, mut fx, mut fy, mut tx, mut ty) = (0.0f32, 0.0, 0.0, 0.0, 0.0);
        for (from, to) in pairs.clone() {
            n += 1.0;
            fx += from.x;
            fy += from.y;
            tx += to.x;
            ty += to.y;
        }
        if n < 2.0 {
            return None;
        }
        let (fx, fy, tx, ty) = (fx / n, fy / n, tx / n, ty / n);
        let (mut dot, mut cross) = (0.0f32, 0.0f32);
        for (from, to) in pairs {
            let (ax, ay, bx, by) = (from.x - fx, from.y - fy, to.x - tx, to.y - ty);
            dot += ax * bx + ay * by;
            cross += ax * by - ay * bx;
        }
        let angle = cross.atan2(dot);
        let (sin, cos) = angle.sin_cos();
        Some(Self { angle, cos, sin, dx: tx - (cos * fx - sin * fy), dy: ty - (sin * fx + cos * fy) })
    }
}

/// Compares templates at one configuration. Cheap to build; share one across threads.
#[derive(Debug, Clone)]
pub struct Matcher {
    config: MatcherConfig,
    max_rotation: u8,
    local_angle_tolerance: u8,
    pair_angle_tolerance: f32,
}

impl Default for Matcher {
    fn default() -> Self {
        Self::new(MatcherConfig::default())
    }
}

impl Matcher {
    pub fn new(config: MatcherConfig) -> Self {
        Self {
            max_rotation: degrees_to_units(config.max_rotation_degrees),
            local_angle_tolerance: degrees_to_units(config.local_angle_tolerance_degrees),
            pair_angle_tolerance: config.pair_angle_tolerance_degrees.to_radians(),
            config,
        }
    }

    pub fn config(&self) -> &MatcherConfig {
        &self.config
    }

    /// Compares a probe (the fresh capture) with a reference (the registry's template) and decides at the
    /// configured threshold. The score is symmetric in intent but not bit for bit: pass the capture as `probe`.
    pub fn compare(&self, probe: &Template, reference: &Template) -> Comparison {
        let (score, paired) = self.score(probe, reference);
        let decision = if score >= self.config.threshold { Decision::Match } else { Decision::NoMatch };
        Comparison { score, paired, decision }
    }

    fn score(&self, probe: &Template, reference: &Template) -> (f32, usize) {
        let columns = reference.len();
        let mut agreement = vec![0u8; probe.len() * columns];
        let seeds = self.local_seeds(probe, reference, &mut agreement);
        let mut best = (0.0f32, 0usize);
        let mut aligned = Vec::with_capacity(probe.len());
        let mut warped = Vec::with_capacity(probe.len());
        let mut candidates = Vec::new();
        let mut pairs = Vec::new();
        for &(_, i, j) in &seeds {
            let centre = reference.minutiae[j];
            let seed = Alignment::between(probe.minutiae[i], centre);
            aligned.clear();
            aligned.extend(probe.minutiae.iter().map(|&p| seed.apply(p)));
            self.pair(&aligned, reference, centre, self.config.distortion_allowance, &mut candidates, &mut pairs);
            // Refit to every pair found: one minutia's direction is a noisy estimate of the rotation, the pairs
            // together are a good one.
            let Some(refit) = Alignment::fit(pairs.iter().map(|&(k, l)| (probe.minutiae[k], reference.minutiae[l])))
            else {
                continue;
            };
            aligned.clear();
            aligned.extend(probe.minutiae.iter().map(|&p| refit.apply(p)));
            self.pair(&aligned, reference, centre, self.config.distortion_allowance, &mut candidates, &mut pairs);
            let rigid = self.overlap_score(probe, reference, &refit, pair_weight(&agreement, columns, &pairs));
            if rigid > best.0 {
                best = (rigid, pairs.len());
            }
            // What is left is mostly elastic distortion, smooth across the finger: move each probe minutia by
            // the residuals of the pairs around it and pair again. A handful of pairs is too few to estimate it
            // from (and is what chance alignments of different fingers give), and an alignment far behind the
            // best so far will not overtake it by straightening a little distortion.
            if pairs.len() >= MIN_PAIRS_TO_FOLLOW_DISTORTION && rigid >= WORTH_FOLLOWING_DISTORTION * best.0 {
                follow_distortion(&aligned, reference, &pairs, &mut warped);
                self.pair(&warped, reference, centre, WARPED_DISTORTION_ALLOWANCE, &mut candidates, &mut pairs);
                let elastic = self.overlap_score(probe, reference, &refit, pair_weight(&agreement, columns, &pairs));
                if elastic > best.0 {
                    best = (elastic, pairs.len());
                }
            }
        }
        best
    }

    /// The best `alignment_seeds` correspondences by local-structure agreement, as (agreeing neighbours, probe
    /// index, reference index). Correspondences with fewer than two agreeing neighbours are not worth aligning on.
    fn local_seeds(&self, probe: &Template, reference: &Template, agreement: &mut [u8]) -> Vec<(u32, usize, usize)> {
        // Never more seeds than candidate pairs, whatever the configuration says.
        let capacity = self.config.alignment_seeds.clamp(1, (probe.len() * reference.len()).max(1));
        let mut seeds: Vec<(u32, usize, usize)> = Vec::with_capacity(capacity + 1);
        for (i, &p) in probe.directions.iter().enumerate() {
            let probe_neighbours = probe.neighbours_of(i);
            for (j, &r) in reference.directions.iter().enumerate() {
                if units_between(p, r) > self.max_rotation {
                    continue;
                }
                let agreeing = self.agreeing_neighbours(probe_neighbours, reference.neighbours_of(j));
                agreement[i * reference.len() + j] = agreeing as u8;
                let worst = seeds.last().map_or(1, |s| s.0);
                if agreeing >= 2 && (seeds.len() < capacity || agreeing > worst) {
                    let at = seeds.partition_point(|s| s.0 >= agreeing);
                    seeds.insert(at, (agreeing, i, j));
                    seeds.truncate(capacity);
                }
            }
        }
        seeds
    }

    /// How many neighbours of two local structures correspond, each used once.
    fn agreeing_neighbours(&self, probe: &[Neighbour], reference: &[Neighbour]) -> u32 {
        let mut used = 0u16;
        let mut agreeing = 0;
        for a in probe {
            let tolerance = self.config.local_distance_tolerance_mm + self.config.local_distance_fraction * a.distance;
            for (slot, b) in reference.iter().enumerate() {
                // Neighbours are sorted by distance: past the tolerance, none further can agree.
                if b.distance > a.distance + tolerance {
                    break;
                }
                if used & (1 << slot) != 0
                    || b.distance < a.distance - tolerance
                    || units_between(a.radial, b.radial) > self.local_angle_tolerance
                    || units_between(a.orientation, b.orientation) > self.local_angle_tolerance
                {
                    continue;
                }
                used |= 1 << slot;
                agreeing += 1;
                break;
            }
        }
        agreeing
    }

    /// Pairs aligned probe minutiae with reference minutiae one to one, closest first, into `pairs`. The
    /// distance tolerance grows with the distance from `centre`, where the alignment is most accurate.
    fn pair(
        &self,
        aligned: &[Point],
        reference: &Template,
        centre: Point,
        distortion_allowance: f32,
        candidates: &mut Vec<(f32, u8, u8)>,
        pairs: &mut Vec<(usize, usize)>,
    ) {
        candidates.clear();
        let base = self.config.pair_distance_tolerance_mm;
        // No reference minutia is further than the diameter from the centre, which is one of them.
        let widest = base + distortion_allowance * reference.diameter;
        for (k, p) in aligned.iter().enumerate() {
            let start = reference.minutiae.partition_point(|r| r.x < p.x - widest);
            for (l, r) in reference.minutiae.iter().enumerate().skip(start) {
                if r.x > p.x + widest {
                    break;
                }
                let (dx, dy) = (p.x - r.x, p.y - r.y);
                if dy.abs() > widest {
                    continue;
                }
                let from_centre = ((r.x - centre.x).powi(2) + (r.y - centre.y).powi(2)).sqrt();
                let tolerance = base + distortion_allowance * from_centre;
                let distance_squared = dx * dx + dy * dy;
                if distance_squared > tolerance * tolerance {
                    continue;
                }
                let turn = angle_between(p.angle, r.angle);
                if turn > self.pair_angle_tolerance {
                    continue;
                }
                // Templates hold at most 255 minutiae (the record's counter), so indices fit a byte.
                let cost = distance_squared.sqrt() / tolerance + turn / self.pair_angle_tolerance;
                candidates.push((cost, k as u8, l as u8));
            }
        }
        candidates.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let mut probe_used = [false; 256];
        let mut reference_used = [false; 256];
        pairs.clear();
        for &(_, k, l) in candidates.iter() {
            let (k, l) = (usize::from(k), usize::from(l));
            if !probe_used[k] && !reference_used[l] {
                probe_used[k] = true;
                reference_used[l] = true;
                pairs.push((k, l));
            }
        }
    }

    /// `paired²` over the minutiae of each view that fall inside the other's extent under `alignment`.
    fn overlap_score(&self, probe: &Template, reference: &Template, alignment: &Alignment, paired: f32) -> f32 {
        let margin = self.config.pair_distance_tolerance_mm;
        let inside = |bounds: &Bounds, points: &mut dyn Iterator<Item = Point>| {
            points.filter(|p| bounds.contains(p.x, p.y, margin)).count()
        };
        let probe_inside = inside(&reference.bounds, &mut probe.minutiae.iter().map(|&p| alignment.apply(p)));
        let reference_inside = inside(&probe.bounds, &mut reference.minutiae.iter().map(|&r| alignment.invert(r)));
        let floor = self.config.min_overlap_minutiae.max(1);
        (paired * paired / (probe_inside.max(floor) as f32 * reference_inside.max(floor) as f32)).min(1.0)
    }
}

/// The pairs' total weight: each counts between `PAIR_BASE_WEIGHT` and 1 by how many neighbours agree.
fn pair_weight(agreement: &[u8], columns: usize, pairs: &[(usize, usize)]) -> f32 {
    pairs
        .iter()
        .map(|&(k, l)| {
            let agreeing = f32::from(agreement[k * columns + l]);
            PAIR_BASE_WEIGHT + (1.0 - PAIR_BASE_WEIGHT) * (agreeing / FULL_AGREEMENT).min(1.0)
        })
        .sum()
}

const MIN_PAIRS_TO_FOLLOW_DISTORTION: usize = 6;
const WORTH_FOLLOWING_DISTORTION: f32 = 0.6;

/// After the distortion correction little is left to allow for away from the centre.
const WARPED_DISTORTION_ALLOWANCE: f32 = 0.02;
/// How far a pair's residual displacement reaches when correcting its neighbours (the kernel's half-width, millimetres).
const DISTORTION_REACH_MM: f32 = 4.0;

/// Moves each aligned probe minutia by the distance-weighted mean residual (reference minus probe) of the pairs
/// near it, into `warped`: a smooth, local correction for the skin's elastic distortion.
fn follow_distortion(aligned: &[Point], reference: &Template, pairs: &[(usize, usize)], warped: &mut Vec<Point>) {
    let inverse_reach = 1.0 / (DISTORTION_REACH_MM * DISTORTION_REACH_MM);
    warped.clear();
    warped.extend(aligned.iter().map(|&p| {
        let (mut sum_x, mut sum_y, mut total) = (0.0f32, 0.0f32, 1e-3f32);
        for &(k, l) in pairs {
            let (from, to) = (aligned[k], reference.minutiae[l]);
            // A Cauchy kernel: as smooth as a Gaussian for this purpose, without an `exp` in the inner loop.
            let weight = 1.0 / (1.0 + ((p.x - from.x).powi(2) + (p.y - from.y).powi(2)) * inverse_reach);
            sum_x += weight * (to.x - from.x);
            sum_y += weight * (to.y - from.y);
            total += weight;
        }
        Point { x: p.x + sum_x / total, y: p.y + sum_y / total, angle: p.angle }
    }));
}

/// An angle in radians as the standard's units of 360/256°, rounded, modulo a turn.
fn to_units(angle: f32) -> u8 {
    (angle * (256.0 / TAU)).round().rem_euclid(256.0) as u8
}

/// A tolerance in degrees as units of 360/256°, at most half a turn (any difference is within it).
fn degrees_to_units(degrees: f32) -> u8 {
    (degrees * (256.0 / 360.0)).round().clamp(0.0, 128.0) as u8
}

/// The absolute difference of two directions in units of 360/256°, in 0..=128.
fn units_between(a: u8, b: u8) -> u8 {
    let difference = a.wrapping_sub(b);
    difference.min(difference.wrapping_neg())
}

/// An angle in (-π, π].
fn wrap(angle: f32) -> f32 {
    let wrapped = angle.rem_euclid(TAU);
    if wrapped > PI { wrapped - TAU } else { wrapped }
}

/// The absolute difference of two directions, in [0, π]. Both must lie in one turn's range ([0, 2π) or
/// (-π, π], as every stored angle does), so their difference is within one turn and needs no division.
fn angle_between(a: f32, b: f32) -> f32 {
    let difference = (a - b).abs();
    if difference > PI { TAU - difference } else { difference }
}

/// An angle in [0, 2π) from one within a turn of that range.
fn normalise(angle: f32) -> f32 {
    if angle >= TAU {
        angle - TAU
    } else if angle < 0.0 {
        angle + TAU
    } else {
        angle
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn angles_wrap_to_the_half_open_circle() {
        assert!((wrap(3.0 * PI) - PI).abs() < 1e-5);
        assert!((wrap(-0.5) + 0.5).abs() < 1e-6);
        assert!((angle_between(0.1, TAU - 0.1) - 0.2).abs() < 1e-5);
    }

    #[test]
    fn a_fitted_alignment_recovers_a_known_motion() {
        let motion = Alignment::between(Point { x: 0.0, y: 0.0, angle: 0.0 }, Point { x: 3.0, y: -2.0, angle: 0.4 });
        let points = [(1.0, 2.0), (5.0, -1.0), (-3.0, 4.0), (0.5, 0.5)].map(|(x, y)| Point { x, y, angle: 0.0 });
        let fitted = Alignment::fit(points.iter().map(|&p| (p, motion.apply(p)))).unwrap();
        assert!((fitted.angle - 0.4).abs() < 1e-4);
        let moved = fitted.apply(points[0]);
        let expected = motion.apply(points[0]);
        assert!((moved.x - expected.x).abs() < 1e-4 && (moved.y - expected.y).abs() < 1e-4);
        let back = fitted.invert(moved);
        assert!((back.x - points[0].x).abs() < 1e-4 && (back.y - points[0].y).abs() < 1e-4);
    }
}
