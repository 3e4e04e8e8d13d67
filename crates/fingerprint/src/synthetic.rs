//! Synthetic fingers and their impressions, for tests, the evaluation and `registry generate`.
//!
//! A [`Finger`] is a set of master minutiae on a fingertip-sized ellipse, spaced like real ones and pointing
//! along a smooth loop-shaped ridge flow (so that different fingers look alike the way real ones do, which is
//! what makes impostor comparisons hard). An impression of it is what one capture would record: the finger
//! elastically distorted, turned and shifted on the scanner, some minutiae missed, some spurious ones added,
//! positions and directions jittered, and everything outside the scanner's window lost. Every draw comes from
//! the caller's random number generator, so a seed reproduces the set. No image is synthesised: these are
//! minutiae, not fingerprints.

use crate::record::{
    CaptureInfo, FingerPosition, FingerView, ImpressionType, MAX_COORDINATE, MAX_MINUTIAE_PER_VIEW, Minutia,
    MinutiaKind, MinutiaeRecord,
};
use rand::Rng;
use rand::seq::SliceRandom;
use std::f32::consts::{PI, TAU};

/// The fingertip's visible area, an ellipse centred on the origin (millimetres).
const FINGER_HALF_WIDTH_MM: f32 = 8.5;
const FINGER_HALF_HEIGHT_MM: f32 = 12.0;
/// Real minutiae are rarely closer than two ridge periods.
const MIN_MINUTIA_SPACING_MM: f32 = 1.2;
const MASTER_MINUTIAE: std::ops::RangeInclusive<usize> = 35..=60;

/// A minutia of the finger itself, before any capture: millimetres, y up, direction in radians.
#[derive(Debug, Clone, Copy, PartialEq)]
struct MasterMinutia {
    x: f32,
    y: f32,
    angle: f32,
    kind: MinutiaKind,
}

/// A synthetic finger: its master minutiae and its ridge flow.
#[derive(Debug, Clone, PartialEq)]
pub struct Finger {
    minutiae: Vec<MasterMinutia>,
    core: (f32, f32),
    delta: (f32, f32),
}

/// How one capture departs from the finger. The defaults describe an ordinary plain capture on a 500 dpi
/// optical scanner by a cooperative holder.
#[derive(Debug, Clone, PartialEq)]
pub struct ImpressionParams {
    /// The finger is turned by a uniform angle within ± this.
    pub max_rotation_degrees: f32,
    /// ... and shifted by a uniform offset within ± this along each axis.
    pub max_translation_mm: f32,
    /// The largest displacement of the smooth elastic distortion (skin pressed and dragged on the platen).
    pub distortion_mm: f32,
    /// Each master minutia is missed with this probability.
    pub missing_probability: f32,
    /// Spurious minutiae added, as a fraction of the minutiae recorded.
    pub spurious_fraction: f32,
    /// Standard deviation of the position and direction jitter.
    pub position_noise_mm: f32,
    pub angle_noise_degrees: f32,
    pub image_width: u16,
    pub image_height: u16,
    /// Pixels per centimetre, both axes.
    pub resolution: u16,
    pub finger_position: FingerPosition,
}

impl Default for ImpressionParams {
    fn default() -> Self {
        Self {
            max_rotation_degrees: 20.0,
            max_translation_mm: 2.5,
            distortion_mm: 0.8,
            missing_probability: 0.2,
            spurious_fraction: 0.2,
            position_noise_mm: 0.12,
            angle_noise_degrees: 7.0,
            image_width: 300,
            image_height: 400,
            resolution: 197,
            finger_position: FingerPosition::RightIndex,
        }
    }
}

impl Finger {
    /// Draws a finger: 35 to 60 minutiae on the fingertip, at least 1.2 mm apart, along a loop's ridge flow.
    pub fn generate<R: Rng + ?Sized>(rng: &mut R) -> Self {
        let core = (rng.gen_range(-2.0..2.0), rng.gen_range(0.0..3.0));
        let side = if rng.gen_bool(0.5) { 1.0 } else { -1.0 };
        let delta = (core.0 + side * rng.gen_range(4.0..7.0), core.1 - rng.gen_range(8.0..11.0));
        let mut finger = Finger { minutiae: Vec::new(), core, delta };
        let wanted = rng.gen_range(MASTER_MINUTIAE);
        // Dart throwing: at this density (under a fifth of the area excluded) it fills in a few hundred tries;
        // the bound only keeps a pathological generator from looping.
        for _ in 0..wanted * 50 {
            if finger.minutiae.len() == wanted {
                break;
            }
            let (x, y) = uniform_in_finger(rng);
            let crowded = finger.minutiae.iter().any(|m| (m.x - x).hypot(m.y - y) < MIN_MINUTIA_SPACING_MM);
            if crowded {
                continue;
            }
            let angle = finger.ridge_direction(rng, x, y);
            let kind = if rng.gen_bool(0.5) { MinutiaKind::RidgeEnding } else { MinutiaKind::Bifurcation };
            finger.minutiae.push(MasterMinutia { x, y, angle, kind });
        }
        finger
    }

    /// How many master minutiae the finger has.
    pub fn minutiae_count(&self) -> usize {
        self.minutiae.len()
    }

    /// The ridge orientation of a loop (Sherlock–Monro zero-pole model: a core and a delta), with one of its two
    /// directions drawn at random, as a minutia's direction is.
    fn ridge_direction<R: Rng + ?Sized>(&self, rng: &mut R, x: f32, y: f32) -> f32 {
        let orientation = 0.5 * ((y - self.core.1).atan2(x - self.core.0) - (y - self.delta.1).atan2(x - self.delta.0));
        if rng.gen_bool(0.5) { orientation } else { orientation + PI }
    }

    /// One capture of this finger, as the scanner's record.
    pub fn impression<R: Rng + ?Sized>(&self, rng: &mut R, params: &ImpressionParams) -> MinutiaeRecord {
        let rotation = rng.gen_range(-1.0..=1.0) * params.max_rotation_degrees.to_radians();
        let (sin, cos) = rotation.sin_cos();
        let shift = (
            rng.gen_range(-1.0..=1.0) * params.max_translation_mm,
            rng.gen_range(-1.0..=1.0) * params.max_translation_mm,
        );
        let distortion = Distortion::draw(rng, params.distortion_mm);
        let angle_noise = params.angle_noise_degrees.to_radians();
        // Clamped to what a record can carry, so that any parameters give a valid record.
        let resolution = params.resolution.max(1);
        let (width, height) =
            (params.image_width.clamp(1, MAX_COORDINATE + 1), params.image_height.clamp(1, MAX_COORDINATE + 1));
        let mm_per_pixel = 10.0 / f32::from(resolution);
        let (width_mm, height_mm) = (f32::from(width) * mm_per_pixel, f32::from(height) * mm_per_pixel);

        // Finger frame → distorted → turned and shifted on the platen → image pixels (origin top left, y down).
        let capture = |rng: &mut R, m: MasterMinutia| -> Option<Minutia> {
            let (dx, dy, twist) = distortion.at(m.x, m.y);
            let x = m.x + dx + params.position_noise_mm * gaussian(rng);
            let y = m.y + dy + params.position_noise_mm * gaussian(rng);
            let (px, py) = (cos * x - sin * y + shift.0, sin * x + cos * y + shift.1);
            let column = ((px + width_mm / 2.0) / mm_per_pixel).round();
            let row = ((height_mm / 2.0 - py) / mm_per_pixel).round();
            let inside = (0.0..f32::from(width)).contains(&column) && (0.0..f32::from(height)).contains(&row);
            if !inside {
                return None;
            }
            let angle = (m.angle + twist + rotation + angle_noise * gaussian(rng)).rem_euclid(TAU);
            Some(Minutia {
                kind: m.kind,
                // In range: checked against the image size just above.
                x: column as u16,
                y: row as u16,
                angle: ((angle / TAU * 256.0).round() as u32 % 256) as u8,
                quality: rng.gen_range(40..=100),
            })
        };

        let mut minutiae = Vec::with_capacity(self.minutiae.len() + self.minutiae.len() / 4);
        for &master in &self.minutiae {
            if rng.gen_bool(probability(params.missing_probability)) {
                continue;
            }
            minutiae.extend(capture(rng, master));
        }
        let spurious =
            ((minutiae.len() as f32 * params.spurious_fraction.max(0.0)).round() as usize).min(MAX_MINUTIAE_PER_VIEW);
        for _ in 0..spurious {
            let (x, y) = uniform_in_finger(rng);
            // Spurious minutiae come from breaks and blots along ridges, so they follow the flow, loosely.
            let angle = self.ridge_direction(rng, x, y) + 0.3 * gaussian(rng);
            let kind = if rng.gen_bool(0.5) { MinutiaKind::RidgeEnding } else { MinutiaKind::Bifurcation };
            minutiae.extend(capture(rng, MasterMinutia { x, y, angle, kind }));
        }
        // Extractors list minutiae in their own order; nothing may rely on the finger's.
        minutiae.shuffle(rng);
        minutiae.truncate(MAX_MINUTIAE_PER_VIEW);

        let view = FingerView {
            position: params.finger_position,
            view_number: 0,
            impression: ImpressionType::LiveScanPlain,
            quality: rng.gen_range(60..=100),
            minutiae,
            extended_data: Vec::new(),
        };
        let capture_info = CaptureInfo {
            equipment_certification: 0,
            device_type: 0,
            image_width: width,
            image_height: height,
            resolution_x: resolution,
            resolution_y: resolution,
        };
        // Every field was produced in range above (image size and resolution clamped, coordinates inside the
        // image, qualities ≤ 100, at most 255 minutiae, one view), so the record is valid by construction.
        MinutiaeRecord::new(capture_info, vec![view]).expect("a synthetic impression is a valid record")
    }
}

/// A smooth elastic displacement field: a few long-wavelength sinusoids. Their sum moves no point by more than
/// the requested amplitude, and neighbouring minutiae move together, as skin does.
struct Distortion {
    waves: [Wave; 3],
}

struct Wave {
    /// Wave vector (radians per millimetre).
    kx: f32,
    ky: f32,
    phase: f32,
    /// Displacement vector at the crest (millimetres).
    ux: f32,
    uy: f32,
}

impl Distortion {
    fn draw<R: Rng + ?Sized>(rng: &mut R, amplitude: f32) -> Self {
        let mut wave = || {
            let (heading, wavelength) = (rng.gen_range(0.0..TAU), rng.gen_range(15.0..35.0));
            let (displacement, size) = (rng.gen_range(0.0..TAU), amplitude / 3.0 * rng.gen_range(0.5..=1.0));
            Wave {
                kx: heading.cos() * TAU / wavelength,
                ky: heading.sin() * TAU / wavelength,
                phase: rng.gen_range(0.0..TAU),
                ux: displacement.cos() * size,
                uy: displacement.sin() * size,
            }
        };
        Self { waves: [wave(), wave(), wave()] }
    }

    /// The displacement at (x, y) and the local rotation it causes (half the curl), which turns minutiae there.
    fn at(&self, x: f32, y: f32) -> (f32, f32, f32) {
        self.waves.iter().fold((0.0, 0.0, 0.0), |(dx, dy, twist), w| {
            let (sin, cos) = (w.kx * x + w.ky * y + w.phase).sin_cos();
            (dx + w.ux * sin, dy + w.uy * sin, twist + 0.5 * cos * (w.uy * w.kx - w.ux * w.ky))
        })
    }
}

/// A probability `gen_bool` accepts, whatever the caller passed (NaN counts as never).
fn probability(p: f32) -> f64 {
    if p.is_nan() { 0.0 } else { f64::from(p.clamp(0.0, 1.0)) }
}

fn uniform_in_finger<R: Rng + ?Sized>(rng: &mut R) -> (f32, f32) {
    loop {
        let (u, v): (f32, f32) = (rng.gen_range(-1.0..=1.0), rng.gen_range(-1.0..=1.0));
        if u * u + v * v <= 1.0 {
            return (u * FINGER_HALF_WIDTH_MM, v * FINGER_HALF_HEIGHT_MM);
        }
    }
}

/// A standard normal draw (Box–Muller), so the crate needs no distribution dependency.
fn gaussian<R: Rng + ?Sized>(rng: &mut R) -> f32 {
    let u: f32 = rng.gen_range(f32::EPSILON..1.0);
    let v: f32 = rng.gen_range(0.0..TAU);
    (-2.0 * u.ln()).sqrt() * v.cos()
}
