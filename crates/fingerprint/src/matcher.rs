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
/// when a few minutiae are missing or spurious, and one byte per neighbour fills a `u64`, which matching
/// compares eight bytes at a time.
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

/// A minutia's local structure: its nearest neighbours as seen from it, invariant under rotation and
/// translation of the whole finger. One slot per neighbour, nearest first, in fixed-size arrays and in bytes
/// packed into words, so that one probe neighbour is checked against all of a reference minutia's neighbours at
/// once.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Local {
    /// Distance to each neighbour in millimetres, ascending; slots past `count` hold infinity, which no finite
    /// distance window takes in.
    distance: [f32; NEIGHBOURS],
    /// The distances again, coarsely, one byte per slot (slot `n` in byte `n`, least significant first): see
    /// [`coarse_distance`]. Empty slots hold 255.
    coarse: u64,
    /// Direction from the minutia to each neighbour, relative to the minutia's direction, in the standard's
    /// units of 360/256°, one byte per slot (slot `n` in byte `n`, least significant first). Integer angles
    /// packed eight to a word are compared all at once with a few integer instructions; 1.4° is far below the
    /// tolerances.
    radial: u64,
    /// Each neighbour's direction relative to the minutia's direction, packed the same way.
    orientation: u64,
    count: u8,
}

impl Default for Local {
    fn default() -> Self {
        Self { distance: [f32::INFINITY; NEIGHBOURS], coarse: u64::MAX, radial: 0, orientation: 0, count: 0 }
    }
}

/// One finger view prepared for comparison: minutiae in millimetres and their local structures.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    minutiae: Vec<Point>,
    /// The minutiae again, one array per field, followed by `LANES` padding entries that pair with nothing:
    /// pairing checks `LANES` reference minutiae at a time.
    lanes: Lanes,
    /// Each minutia's local structure.
    locals: Vec<Local>,
    /// Each minutia's direction in units of 360/256°, for the cheap rotation filter.
    directions: Vec<u8>,
    bounds: Bounds,
    /// The diagonal of `bounds`: no two minutiae are further apart.
    diameter: f32,
    /// Where pairing looks along x.
    columns: Columns,
}

/// How many reference minutiae pairing checks at once.
const LANES: usize = 4;

/// Minutiae as one array per field, padded with `LANES` entries at infinity.
#[derive(Debug, Clone, PartialEq)]
struct Lanes {
    x: Vec<f32>,
    y: Vec<f32>,
    angle: Vec<f32>,
}

impl Lanes {
    fn of(minutiae: &[Point]) -> Self {
        let padded =
            |field: fn(&Point) -> f32| minutiae.iter().map(field).chain([f32::INFINITY; LANES]).collect::<Vec<f32>>();
        Self { x: padded(|m| m.x), y: padded(|m| m.y), angle: padded(|m| m.angle) }
    }
}

/// `LANES` consecutive entries of a padded array from `start`.
fn lanes_from(values: &[f32], start: usize) -> &[f32; LANES] {
    values[start..start + LANES].try_into().expect("padded to LANES past every start")
}

/// The x extent of a template cut into `COLUMNS` equal columns, so that the minutiae near some x are found with
/// a multiplication and a table look-up rather than a binary search.
#[derive(Debug, Clone, PartialEq)]
struct Columns {
    min_x: f32,
    /// Columns per millimetre; 0 when all minutiae share one x (everything is then in column 0).
    scale: f32,
    /// `first[c]`: the first minutia (in x order) whose column is `c` or later.
    first: [u8; COLUMNS + 1],
}

const COLUMNS: usize = 64;

impl Columns {
    fn of(minutiae: &[Point], bounds: &Bounds) -> Self {
        let extent = bounds.max_x - bounds.min_x;
        let scale = if extent > 0.0 && extent.is_finite() { COLUMNS as f32 / extent } else { 0.0 };
        let mut columns = Self { min_x: bounds.min_x, scale, first: [0; COLUMNS + 1] };
        // Minutiae sorted by x have never-decreasing columns: one sweep finds each column's first.
        let mut index = 0;
        for c in 0..=COLUMNS {
            while index < minutiae.len() && columns.column(minutiae[index].x) < c {
                index += 1;
            }
            columns.first[c] = index as u8;
        }
        columns
    }

    /// The column of `x`, clamped to the grid. Never decreasing in `x`, which is all `around` relies on.
    fn column(&self, x: f32) -> usize {
        // Clamped first (NaN to 0), so that the conversion, which rounds towards zero, needs no saturation.
        ((x - self.min_x) * self.scale).clamp(0.0, (COLUMNS - 1) as f32) as i32 as usize
    }

    /// A range of indices (into the minutiae, sorted by x, of these columns' template) that holds every minutia
    /// whose x is within `left..=right`, and possibly a few either side.
    fn around(&self, left: f32, right: f32) -> std::ops::Range<usize> {
        // `column` never decreases with x, so a minutia at or right of `left` is in `left`'s column or later, and
        // one at or left of `right` in `right`'s column or earlier.
        let start = usize::from(self.first[self.column(left)]);
        let end = usize::from(self.first[self.column(right) + 1]);
        start..end.max(start)
    }
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

        let mut locals = Vec::with_capacity(minutiae.len());
        let mut by_distance: Vec<(f32, usize)> = Vec::with_capacity(minutiae.len());
        for (i, centre) in minutiae.iter().enumerate() {
            by_distance.clear();
            by_distance.extend(minutiae.iter().enumerate().filter(|&(j, _)| j != i).filter_map(|(j, other)| {
                let distance = (other.x - centre.x).hypot(other.y - centre.y);
                (distance >= MIN_NEIGHBOUR_DISTANCE_MM).then_some((distance, j))
            }));
            by_distance.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
            let count = by_distance.len().min(NEIGHBOURS);
            let (mut radial, mut orientation) = ([0u8; NEIGHBOURS], [0u8; NEIGHBOURS]);
            let mut local = Local { count: count as u8, ..Local::default() };
            for (slot, &(distance, j)) in by_distance[..count].iter().enumerate() {
                let other = minutiae[j];
                local.distance[slot] = distance;
                radial[slot] = to_units((other.y - centre.y).atan2(other.x - centre.x) - centre.angle);
                orientation[slot] = to_units(other.angle - centre.angle);
            }
            (local.radial, local.orientation) = (u64::from_le_bytes(radial), u64::from_le_bytes(orientation));
            local.coarse = u64::from_le_bytes(local.distance.map(coarse_distance));
            locals.push(local);
        }
        let directions = minutiae.iter().map(|m| to_units(m.angle)).collect();
        let bounds = Bounds::of(&minutiae);
        let diameter = (bounds.max_x - bounds.min_x).hypot(bounds.max_y - bounds.min_y);
        Self {
            diameter: if diameter.is_finite() { diameter } else { 0.0 },
            columns: Columns::of(&minutiae, &bounds),
            lanes: Lanes::of(&minutiae),
            minutiae,
            locals,
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
        let mut from_centre = Vec::with_capacity(reference.len());
        let mut tolerances = Tolerances::default();
        let rigid_allowance = self.config.distortion_allowance;
        for &(_, i, j) in &seeds {
            let centre = reference.minutiae[j];
            // Each reference minutia's distance from the seed, once per seed for all its pairings.
            from_centre.clear();
            from_centre.extend(
                reference.minutiae.iter().map(|r| ((r.x - centre.x).powi(2) + (r.y - centre.y).powi(2)).sqrt()),
            );
            self.tolerances(&from_centre, rigid_allowance, &mut tolerances);
            let seed = Alignment::between(probe.minutiae[i], centre);
            aligned.clear();
            aligned.extend(probe.minutiae.iter().map(|&p| seed.apply(p)));
            self.pair(&aligned, reference, &tolerances, &mut candidates, &mut pairs);
            // Refit to every pair found: one minutia's direction is a noisy estimate of the rotation, the pairs
            // together are a good one.
            let Some(refit) = Alignment::fit(pairs.iter().map(|&(k, l)| (probe.minutiae[k], reference.minutiae[l])))
            else {
                continue;
            };
            aligned.clear();
            aligned.extend(probe.minutiae.iter().map(|&p| refit.apply(p)));
            self.pair(&aligned, reference, &tolerances, &mut candidates, &mut pairs);
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
                self.tolerances(&from_centre, WARPED_DISTORTION_ALLOWANCE, &mut tolerances);
                self.pair(&warped, reference, &tolerances, &mut candidates, &mut pairs);
                let elastic = self.overlap_score(probe, reference, &refit, pair_weight(&agreement, columns, &pairs));
                if elastic > best.0 {
                    best = (elastic, pairs.len());
                }
            }
        }
        best
    }

    /// The pairing distance tolerance at each reference minutia: the base tolerance plus `distortion_allowance`
    /// of its distance from the alignment's centre; padded like [`Lanes`].
    fn tolerances(&self, from_centre: &[f32], distortion_allowance: f32, tolerances: &mut Tolerances) {
        let base = self.config.pair_distance_tolerance_mm;
        tolerances.distortion_allowance = distortion_allowance;
        tolerances.linear.clear();
        tolerances.linear.extend(from_centre.iter().map(|&distance| base + distortion_allowance * distance));
        tolerances.squared.clear();
        tolerances.squared.extend(tolerances.linear.iter().map(|&tolerance| tolerance * tolerance));
        tolerances.squared.extend([f32::NEG_INFINITY; LANES]);
    }

    /// The best `alignment_seeds` correspondences by local-structure agreement, as (agreeing neighbours, probe
    /// index, reference index). Correspondences with fewer than two agreeing neighbours are not worth aligning on.
    fn local_seeds(&self, probe: &Template, reference: &Template, agreement: &mut [u8]) -> Vec<(u32, usize, usize)> {
        // Never more seeds than candidate pairs, whatever the configuration says.
        let capacity = self.config.alignment_seeds.clamp(1, (probe.len() * reference.len()).max(1));
        let mut seeds: Vec<(u32, usize, usize)> = Vec::with_capacity(capacity + 1);
        // The reference minutiae turned by no more than `max_rotation` from the probe minutia at hand, listed
        // without a branch per minutia (about a third pass, unpredictably).
        let mut turned_little = [0u8; MAX_MINUTIAE_PER_VIEW];
        for (i, (&p, local)) in probe.directions.iter().zip(&probe.locals).enumerate() {
            let mut count = 0;
            for (j, &r) in reference.directions.iter().enumerate() {
                turned_little[count] = j as u8;
                count += usize::from(within(p, r, self.max_rotation));
            }
            let window = self.window(local);
            let row = &mut agreement[i * reference.len()..(i + 1) * reference.len()];
            for &j in &turned_little[..count] {
                let j = usize::from(j);
                let agreeing = self.agreeing_neighbours(&window, &reference.locals[j]);
                row[j] = agreeing as u8;
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

    /// What a probe minutia's neighbours accept, computed once for all reference minutiae.
    fn window(&self, local: &Local) -> Window {
        let mut window = Window {
            low: [f32::INFINITY; NEIGHBOURS],
            high: [f32::NEG_INFINITY; NEIGHBOURS],
            near: [ByteRange::default(); NEIGHBOURS],
            radial: [ByteRange::default(); NEIGHBOURS],
            orientation: [ByteRange::default(); NEIGHBOURS],
            radial_exact: [0; NEIGHBOURS],
            orientation_exact: [0; NEIGHBOURS],
            count: usize::from(local.count),
        };
        let (radial, orientation) = (local.radial.to_le_bytes(), local.orientation.to_le_bytes());
        for slot in 0..window.count {
            let distance = local.distance[slot];
            let tolerance = self.config.local_distance_tolerance_mm + self.config.local_distance_fraction * distance;
            let (low, high) = (distance - tolerance, distance + tolerance);
            (window.low[slot], window.high[slot]) = (low, high);
            // When nothing is within `low..=high` (a negative or NaN tolerance) the coarse range does not matter.
            let (first, last) = (coarse_distance(low), coarse_distance(high));
            window.near[slot] = ByteRange::new(first, last.saturating_sub(first));
            // Directions within the tolerance either way round: `2 × tolerance` up from `direction − tolerance`.
            let span = self.local_angle_tolerance.saturating_mul(2);
            window.radial[slot] = ByteRange::new(radial[slot].wrapping_sub(self.local_angle_tolerance), span);
            window.orientation[slot] = ByteRange::new(orientation[slot].wrapping_sub(self.local_angle_tolerance), span);
            (window.radial_exact[slot], window.orientation_exact[slot]) = (radial[slot], orientation[slot]);
        }
        window
    }

    /// How many neighbours of two local structures correspond, each used once: each probe neighbour in turn,
    /// nearest first, takes the nearest unused reference neighbour that agrees with it (distance within its
    /// window, both relative angles within the tolerance). All eight reference slots are checked at once on
    /// their bytes (coarse distance and both angles, a superset of the exact test), and the few that pass are
    /// checked exactly, nearest first.
    fn agreeing_neighbours(&self, probe: &Window, reference: &Local) -> u32 {
        let mut used = 0u32;
        let mut agreeing = 0;
        for slot in 0..probe.count {
            let outside = probe.near[slot].outside(reference.coarse)
                | probe.radial[slot].outside(reference.radial)
                | probe.orientation[slot].outside(reference.orientation);
            let mut candidates = gather_bytes(((!outside & HIGH_BITS) >> 7).to_le_bytes()) & !used;
            while candidates != 0 {
                let other = candidates.trailing_zeros() as usize;
                let distance = reference.distance[other];
                let tolerance = self.local_angle_tolerance;
                // (An empty slot's infinite distance fails every finite window; the count keeps it out of
                // infinite ones too.)
                if other < usize::from(reference.count)
                    && distance >= probe.low[slot]
                    && distance <= probe.high[slot]
                    && within(probe.radial_exact[slot], reference.radial.to_le_bytes()[other], tolerance)
                    && within(probe.orientation_exact[slot], reference.orientation.to_le_bytes()[other], tolerance)
                {
                    used |= 1 << other;
                    agreeing += 1;
                    break;
                }
                candidates &= candidates - 1;
            }
        }
        agreeing
    }

    /// Pairs aligned probe minutiae with reference minutiae one to one, closest first, into `pairs`. The
    /// distance tolerance at each reference minutia is in `tolerances` (see [`Matcher::tolerances`]): it grows
    /// with the distance from the alignment's centre, where the alignment is most accurate.
    fn pair(
        &self,
        aligned: &[Point],
        reference: &Template,
        tolerances: &Tolerances,
        candidates: &mut Vec<(f32, u8, u8)>,
        pairs: &mut Vec<(usize, usize)>,
    ) {
        candidates.clear();
        // No reference minutia is further than the diameter from the centre, which is one of them.
        let widest = self.config.pair_distance_tolerance_mm + tolerances.distortion_allowance * reference.diameter;
        let lanes = &reference.lanes;
        let (bottom, top) = (reference.bounds.min_y, reference.bounds.max_y);
        for (k, p) in aligned.iter().enumerate() {
            // Further than `widest` below every reference minutia or above every one: nothing pairs. (Rounded
            // subtraction never decreases as its first operand grows, nor increases as its second does, so this
            // follows from the same test per minutia below.)
            if p.y - bottom < -widest || p.y - top > widest {
                continue;
            }
            // The reference minutiae within `widest` of the probe minutia along x, and a few more either side;
            // the test below keeps exactly those within it, `LANES` at a time.
            let (left, right) = (p.x - widest, p.x + widest);
            let band = reference.columns.around(left, right);
            for start in band.clone().step_by(LANES) {
                let (xs, ys, angles) =
                    (lanes_from(&lanes.x, start), lanes_from(&lanes.y, start), lanes_from(&lanes.angle, start));
                let squared = lanes_from(&tolerances.squared, start);
                let mut close = [0u32; LANES];
                for lane in 0..LANES {
                    let (dx, dy) = (p.x - xs[lane], p.y - ys[lane]);
                    close[lane] = u32::from(
                        (xs[lane] >= left)
                            & (xs[lane] <= right)
                            & (dy.abs() <= widest)
                            & (dx * dx + dy * dy <= squared[lane])
                            & (angle_between(p.angle, angles[lane]) <= self.pair_angle_tolerance),
                    ) << lane;
                }
                // Lanes past the band's end may hold minutiae of the next columns: those fail the x test, but
                // leaving them out costs nothing.
                let mut hits = close.iter().fold(0, |hits, &lane| hits | lane)
                    & (u32::MAX >> (32 - (band.end - start).min(LANES)));
                while hits != 0 {
                    let l = start + hits.trailing_zeros() as usize;
                    hits &= hits - 1;
                    let r = reference.minutiae[l];
                    let (dx, dy) = (p.x - r.x, p.y - r.y);
                    let tolerance = tolerances.linear[l];
                    let turn = angle_between(p.angle, r.angle);
                    let cost = (dx * dx + dy * dy).sqrt() / tolerance + turn / self.pair_angle_tolerance;
                    // Templates hold at most 255 minutiae (the record's counter), so indices fit a byte.
                    candidates.push((cost, k as u8, l as u8));
                }
            }
        }
        candidates.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let (mut probe_used, mut reference_used) = ([0u64; 4], [0u64; 4]);
        pairs.clear();
        for &(_, k, l) in candidates.iter() {
            let (k, l) = (usize::from(k), usize::from(l));
            let (k_bit, l_bit) = (1 << (k % 64), 1 << (l % 64));
            if probe_used[k / 64] & k_bit == 0 && reference_used[l / 64] & l_bit == 0 {
                probe_used[k / 64] |= k_bit;
                reference_used[l / 64] |= l_bit;
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

/// A probe minutia's local structure as the matcher compares it: per neighbour slot, the range of reference
/// neighbour distances that agree (exactly, and coarsely as a superset), and the ranges of the two relative angles.
struct Window {
    low: [f32; NEIGHBOURS],
    high: [f32; NEIGHBOURS],
    near: [ByteRange; NEIGHBOURS],
    radial: [ByteRange; NEIGHBOURS],
    orientation: [ByteRange; NEIGHBOURS],
    radial_exact: [u8; NEIGHBOURS],
    orientation_exact: [u8; NEIGHBOURS],
    count: usize,
}

/// The coarse distance of [`Local::coarse`]: millimetres in units of 1/32 mm, rounded down, 255 from 7.97 mm
/// on (and for infinity). It never decreases as the distance grows, so a distance in `low..=high` has its
/// coarse distance in `coarse_distance(low)..=coarse_distance(high)`: the coarse test lets through every
/// neighbour the exact test would, and a few more, which the exact test then refuses.
fn coarse_distance(millimetres: f32) -> u8 {
    // `as` rounds towards zero and saturates: negative values (and NaN) become 0, large ones 255.
    (millimetres * 32.0) as u8
}

/// A range of byte values modulo 256, `first` to `first + span`, tested on eight bytes at once. A span of 128
/// or more lets every byte through: the range is then a superset, and the exact test must follow.
#[derive(Debug, Clone, Copy, Default)]
struct ByteRange {
    /// `first` in every byte, with the high bits cleared.
    first_low: u64,
    /// `!first` in every byte, with only the high bits kept.
    first_high: u64,
    /// `127 − span` in every byte.
    bias: u64,
    /// The high bits, or nothing when the span is 128 or more.
    mask: u64,
}

impl ByteRange {
    fn new(first: u8, span: u8) -> Self {
        let first = EVERY_BYTE * u64::from(first);
        let (bias, mask) = if span < 128 { (127 - span, HIGH_BITS) } else { (0, 0) };
        Self { first_low: first & LOW_BITS, first_high: !first & HIGH_BITS, bias: EVERY_BYTE * u64::from(bias), mask }
    }

    /// The high bit of each byte of `values` that is outside the range; all other bits clear.
    fn outside(&self, values: u64) -> u64 {
        // Byte by byte, `values − first` modulo 256, without borrows from one byte into the next: the high bits
        // of `values` are set and those of `first` cleared so that no byte borrows, then the high bits are
        // corrected. A byte is inside when that is at most `span`. Adding the bias to its low seven bits carries
        // into the high bit exactly when they exceed `span` (no carry leaves a byte: at most 127 + 127); a byte
        // whose own high bit is set is above `span` anyway.
        let above = ((values | HIGH_BITS) - self.first_low) ^ ((values ^ self.first_high) & HIGH_BITS);
        (((above & LOW_BITS) + self.bias) | above) & self.mask
    }
}

/// The pairing distance tolerance at each reference minutia under one alignment, and squared (padded with
/// `LANES` entries that nothing is within).
#[derive(Default)]
struct Tolerances {
    distortion_allowance: f32,
    linear: Vec<f32>,
    squared: Vec<f32>,
}

/// Eight bytes of 0 or 1 as the bits of a mask, byte `n` at bit `n`.
fn gather_bytes(bytes: [u8; 8]) -> u32 {
    (u64::from_le_bytes(bytes).wrapping_mul(GATHER_BYTES) >> 56) as u32
}

/// Masks for byte-wise arithmetic on eight bytes packed in a `u64`.
const EVERY_BYTE: u64 = 0x0101_0101_0101_0101;
const LOW_BITS: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
/// Multiplying by this moves bit 0 of each byte `n` to bit 56 + n (no two partial products overlap).
const GATHER_BYTES: u64 = 0x0102_0408_1020_4080;

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

/// Whether two directions in units of 360/256° differ by at most `tolerance` (0..=128) either way round. The
/// difference modulo a turn is within ±tolerance exactly when, shifted up by the tolerance, it is at most twice
/// the tolerance: one subtraction, one addition and one comparison, without branches.
fn within(a: u8, b: u8, tolerance: u8) -> bool {
    // At 128 every difference is within: 2 × 128 saturates to 255, which every byte is at most.
    a.wrapping_sub(b).wrapping_add(tolerance) <= tolerance.saturating_mul(2)
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
    use crate::synthetic::{Finger, ImpressionParams};
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    /// Two impressions of each of a few synthetic fingers.
    fn impressions() -> Vec<(Template, Template)> {
        let mut rng = StdRng::seed_from_u64(17);
        let params = ImpressionParams::default();
        (0..3)
            .map(|_| {
                let finger = Finger::generate(&mut rng);
                let mut template = || Template::from_record(&finger.impression(&mut rng, &params)).remove(0);
                (template(), template())
            })
            .collect()
    }

    /// Tolerances around and far from the defaults, to reach every branch of the fast paths.
    fn configs() -> Vec<MatcherConfig> {
        let default = MatcherConfig::default();
        vec![
            default.clone(),
            MatcherConfig { local_angle_tolerance_degrees: 0.0, local_distance_tolerance_mm: 0.0, ..default.clone() },
            MatcherConfig { local_angle_tolerance_degrees: 5.0, local_distance_fraction: 0.0, ..default.clone() },
            MatcherConfig { local_angle_tolerance_degrees: 90.0, local_distance_tolerance_mm: 4.0, ..default.clone() },
            MatcherConfig {
                local_angle_tolerance_degrees: 180.0,
                local_distance_tolerance_mm: 100.0,
                local_distance_fraction: 1.0,
                pair_distance_tolerance_mm: 3.0,
                pair_angle_tolerance_degrees: 180.0,
                ..default.clone()
            },
            MatcherConfig { local_distance_tolerance_mm: -0.5, pair_distance_tolerance_mm: 0.1, ..default },
        ]
    }

    /// The agreement count one neighbour pair at a time, as the matcher first computed it: the definition that
    /// [`Matcher::agreeing_neighbours`] must meet exactly.
    fn agreeing_neighbours_plainly(config: &MatcherConfig, probe: &Local, reference: &Local) -> u32 {
        let angle_tolerance = degrees_to_units(config.local_angle_tolerance_degrees);
        let (probe_radial, probe_orientation) = (probe.radial.to_le_bytes(), probe.orientation.to_le_bytes());
        let (radial, orientation) = (reference.radial.to_le_bytes(), reference.orientation.to_le_bytes());
        let mut used = [false; NEIGHBOURS];
        let mut agreeing = 0;
        for slot in 0..usize::from(probe.count) {
            let a = probe.distance[slot];
            let tolerance = config.local_distance_tolerance_mm + config.local_distance_fraction * a;
            for other in 0..usize::from(reference.count) {
                let b = reference.distance[other];
                if b > a + tolerance {
                    break;
                }
                if used[other]
                    || b < a - tolerance
                    || units_between(probe_radial[slot], radial[other]) > angle_tolerance
                    || units_between(probe_orientation[slot], orientation[other]) > angle_tolerance
                {
                    continue;
                }
                used[other] = true;
                agreeing += 1;
                break;
            }
        }
        agreeing
    }

    #[test]
    fn neighbours_agree_as_when_checked_one_pair_at_a_time() {
        let mut templates: Vec<Template> = impressions().into_iter().flat_map(|(a, b)| [a, b]).collect();
        // And a view of six minutiae, whose local structures have empty slots.
        let mut rng = StdRng::seed_from_u64(5);
        let record = Finger::generate(&mut rng).impression(&mut rng, &ImpressionParams::default());
        let mut view = record.views()[0].clone();
        view.minutiae.truncate(6);
        templates.push(Template::from_view(record.capture(), &view));
        let mut configs = configs();
        configs.push(MatcherConfig { local_distance_tolerance_mm: f32::INFINITY, ..MatcherConfig::default() });
        let mut counts = [0usize; NEIGHBOURS + 1];
        for config in configs {
            let matcher = Matcher::new(config.clone());
            // Every template against every other and itself (where even zero tolerances agree).
            for first in &templates {
                for second in &templates {
                    for probe in &first.locals {
                        let window = matcher.window(probe);
                        for reference in &second.locals {
                            let expected = agreeing_neighbours_plainly(&config, probe, reference);
                            assert_eq!(matcher.agreeing_neighbours(&window, reference), expected, "{config:?}");
                            counts[expected as usize] += 1;
                        }
                    }
                }
            }
        }
        // The cases are not all trivial: every count from none to all eight occurs.
        assert!(counts.iter().all(|&count| count > 0), "{counts:?}");
    }

    /// Pairing as the matcher first did it: every reference minutia in the x band by binary search, the
    /// tolerance computed per candidate, candidates cheapest first.
    fn pair_plainly(
        matcher: &Matcher,
        aligned: &[Point],
        reference: &Template,
        centre: Point,
        distortion_allowance: f32,
    ) -> Vec<(usize, usize)> {
        let base = matcher.config.pair_distance_tolerance_mm;
        let widest = base + distortion_allowance * reference.diameter;
        let mut candidates = Vec::new();
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
                if turn > matcher.pair_angle_tolerance {
                    continue;
                }
                let cost = distance_squared.sqrt() / tolerance + turn / matcher.pair_angle_tolerance;
                candidates.push((cost, k as u8, l as u8));
            }
        }
        // Pushed in the same order as by the matcher, and sorted the same way, so that equal costs come out in
        // the same order too.
        candidates.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        let (mut probe_used, mut reference_used) = ([false; 256], [false; 256]);
        let mut pairs = Vec::new();
        for (_, k, l) in candidates {
            let (k, l) = (usize::from(k), usize::from(l));
            if !probe_used[k] && !reference_used[l] {
                (probe_used[k], reference_used[l]) = (true, true);
                pairs.push((k, l));
            }
        }
        pairs
    }

    #[test]
    fn pairing_pairs_as_when_every_candidate_is_checked_one_at_a_time() {
        let impressions = impressions();
        let mut paired = 0;
        for config in configs() {
            let matcher = Matcher::new(config.clone());
            for (index, (probe, _)) in impressions.iter().enumerate() {
                // The same finger (alignments that pair many minutiae) and another one.
                for (_, reference) in &impressions[index..] {
                    for (i, j) in [(0, 0), (3, 5), (probe.len() / 2, reference.len() / 2), (7, 2)] {
                        let (i, j) = (i.min(probe.len() - 1), j.min(reference.len() - 1));
                        let centre = reference.minutiae[j];
                        let alignment = Alignment::between(probe.minutiae[i], centre);
                        let aligned: Vec<Point> = probe.minutiae.iter().map(|&p| alignment.apply(p)).collect();
                        let from_centre: Vec<f32> = reference
                            .minutiae
                            .iter()
                            .map(|r| ((r.x - centre.x).powi(2) + (r.y - centre.y).powi(2)).sqrt())
                            .collect();
                        for allowance in [config.distortion_allowance, WARPED_DISTORTION_ALLOWANCE] {
                            let mut tolerances = Tolerances::default();
                            matcher.tolerances(&from_centre, allowance, &mut tolerances);
                            let (mut candidates, mut pairs) = (Vec::new(), Vec::new());
                            matcher.pair(&aligned, reference, &tolerances, &mut candidates, &mut pairs);
                            assert_eq!(pairs, pair_plainly(&matcher, &aligned, reference, centre, allowance));
                            paired += pairs.len();
                        }
                    }
                }
            }
        }
        assert!(paired > 100, "{paired}");
    }

    #[test]
    fn pairing_pairs_as_when_every_candidate_is_checked_one_at_a_time_near_the_edges() {
        // One probe minutia at a time (so that no better candidate hides it) on a grid around the reference's
        // outermost minutiae, out to beyond the widest tolerance: every bound of the band and of the extent is
        // tried from both sides.
        let (_, reference) = &impressions()[0];
        let outermost = [
            reference.minutiae.iter().min_by(|a, b| a.y.total_cmp(&b.y)),
            reference.minutiae.iter().max_by(|a, b| a.y.total_cmp(&b.y)),
            reference.minutiae.first(),
            reference.minutiae.last(),
        ];
        let centre = reference.minutiae[reference.len() / 2];
        let from_centre: Vec<f32> =
            reference.minutiae.iter().map(|r| ((r.x - centre.x).powi(2) + (r.y - centre.y).powi(2)).sqrt()).collect();
        let mut paired = 0;
        for config in configs() {
            let matcher = Matcher::new(config.clone());
            for allowance in [config.distortion_allowance, WARPED_DISTORTION_ALLOWANCE] {
                let widest = config.pair_distance_tolerance_mm + allowance * reference.diameter;
                let mut tolerances = Tolerances::default();
                matcher.tolerances(&from_centre, allowance, &mut tolerances);
                let (mut candidates, mut pairs) = (Vec::new(), Vec::new());
                for (n, r) in outermost.iter().flatten().enumerate() {
                    for (row, column) in (0..13).flat_map(|row| (0..13).map(move |column| (row, column))) {
                        let step = |index: usize| (index as f32 - 6.0) * 0.2 * widest;
                        let turn = if (row + column + n) % 2 == 0 { 0.3 } else { 0.7 };
                        let probe =
                            [Point { x: r.x + step(column), y: r.y + step(row), angle: normalise(r.angle + turn) }];
                        matcher.pair(&probe, reference, &tolerances, &mut candidates, &mut pairs);
                        assert_eq!(pairs, pair_plainly(&matcher, &probe, reference, centre, allowance), "{config:?}");
                        paired += pairs.len();
                    }
                }
            }
        }
        assert!(paired > 100, "{paired}");
    }

    #[test]
    fn angles_wrap_to_the_half_open_circle() {
        assert!((wrap(3.0 * PI) - PI).abs() < 1e-5);
        assert!((wrap(-0.5) + 0.5).abs() < 1e-6);
        assert!((angle_between(0.1, TAU - 0.1) - 0.2).abs() < 1e-5);
    }

    #[test]
    fn eight_bytes_at_once_agree_with_one_at_a_time() {
        for first in 0..=255u8 {
            for span in (0..=255u8).step_by(3).chain([1, 126, 127, 128, 129, 254, 255]) {
                let range = ByteRange::new(first, span);
                for start in (0..=255u8).step_by(8) {
                    let values: [u8; 8] = std::array::from_fn(|n| start + n as u8);
                    let outside = range.outside(u64::from_le_bytes(values));
                    for (n, &value) in values.iter().enumerate() {
                        // Exact below 128; from 128 on, every byte is let through.
                        let inside = value.wrapping_sub(first) <= span || span >= 128;
                        assert_eq!(outside & (0x80 << (8 * n)) == 0, inside, "{value} in {first} + {span}");
                    }
                }
            }
        }
    }

    #[test]
    fn within_agrees_with_the_plain_definition() {
        for degrees in (0..=200).step_by(5).chain([1, 2, 3, 89, 90, 91, 179, 180, 181, 359, 360]) {
            let tolerance = degrees_to_units(degrees as f32);
            for a in 0..=255u8 {
                for b in 0..=255u8 {
                    assert_eq!(within(a, b, tolerance), units_between(a, b) <= tolerance, "{a} {b} at {degrees}°");
                }
            }
        }
    }

    /// The absolute difference of two directions in units of 360/256°, in 0..=128: the plain definition that
    /// `within` computes faster.
    fn units_between(a: u8, b: u8) -> u8 {
        let difference = a.wrapping_sub(b);
        difference.min(difference.wrapping_neg())
    }

    #[test]
    fn coarse_distances_never_decrease() {
        // Negative and tiny values, a geometric sweep, and both sides of every unit boundary.
        let mut values = vec![f32::NEG_INFINITY, -1e30, -1.0, -1e-30, -0.0, 0.0, 1e-30];
        let mut distance = 1e-6f32;
        while distance < 1e4 {
            values.extend([distance, distance.next_up()]);
            distance *= 1.001;
        }
        for unit in 0..=300 {
            let boundary = unit as f32 / 32.0;
            values.extend([boundary.next_down(), boundary, boundary.next_up()]);
        }
        values.extend([f32::MAX, f32::INFINITY]);
        values.sort_by(f32::total_cmp);
        for pair in values.windows(2) {
            assert!(coarse_distance(pair[0]) <= coarse_distance(pair[1]), "{} {}", pair[0], pair[1]);
        }
        assert_eq!((coarse_distance(-1.0), coarse_distance(1.0), coarse_distance(f32::INFINITY)), (0, 32, 255));
    }

    #[test]
    fn gathering_bytes_collects_their_low_bits() {
        for bits in 0..=255u32 {
            let bytes: [u8; 8] = std::array::from_fn(|n| ((bits >> n) & 1) as u8);
            assert_eq!((u64::from_le_bytes(bytes).wrapping_mul(GATHER_BYTES) >> 56) as u32, bits);
        }
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
