//! The registries' biometric references, imported from a side file beside the registry file (issue 16,
//! docs/biometrics.md): per person, an ISO/IEC 19794-2:2005 finger minutiae record per finger and a face
//! template, each base64 in a CSV row. Every value is parsed and checked (`dinhdanh_fingerprint`,
//! `dinhdanh_face`) and its person must be in the registry already; a bad row is reported with its line and
//! the reason, and the good ones are written all the same, in one transaction.
//!
//! Columns, with a header row: population `id_number,modality,position,template`; immigration
//! `nationality,passport_number,modality,position,template`. `modality` is `finger` (then `position` is the
//! ISO finger position, 1 to 10: 1 the right thumb … 6 the left thumb …) or `face` (`position` 0).
//!
//! [`generate_biometrics`] writes such a file for a synthetic registry: synthetic fingers and their impressions
//! (`dinhdanh_fingerprint::synthetic`) and a synthetic face (`dinhdanh_face::synthetic`), for demos, tests and
//! benchmarks.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use dinhdanh_domain::registry::RegistryKind;
use dinhdanh_domain::{IdentificationNumber, IdentityKey, Nationality, PassportNumber, ProvinceTable};
use dinhdanh_store::Store;

/// What an import did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct BiometricsReport {
    pub fingerprints: usize,
    pub faces: usize,
    /// `(line, reason)` of each row not imported.
    pub rejected: Vec<(u64, String)>,
}

/// The ISO/IEC 19794-2 finger positions of the ten fingers.
const FINGER_POSITIONS: std::ops::RangeInclusive<u8> = 1..=10;

/// One checked row: the person's identity key and what to keep.
enum Checked {
    Finger(String, u8, String),
    Face(String, String),
}

fn field<'a>(record: &'a csv::StringRecord, headers: &csv::StringRecord, name: &str) -> Result<&'a str, String> {
    let index = headers.iter().position(|h| h == name).ok_or_else(|| format!("the header has no {name} column"))?;
    record.get(index).map(str::trim).ok_or_else(|| format!("the row has no {name}"))
}

async fn check_row(
    store: &Store,
    kind: RegistryKind,
    provinces: &ProvinceTable,
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
) -> Result<Checked, String> {
    let identity = match kind {
        RegistryKind::Population => {
            let id = IdentificationNumber::parse(field(record, headers, "id_number")?, provinces)
                .map_err(|e| format!("id_number: {e}"))?;
            store.find_citizen(&id).await.map_err(|e| e.to_string())?.ok_or("no such citizen in the registry")?;
            IdentityKey::citizen(&id)
        }
        RegistryKind::Immigration => {
            let nationality =
                Nationality::parse(field(record, headers, "nationality")?).map_err(|e| format!("nationality: {e}"))?;
            let passport = PassportNumber::parse(field(record, headers, "passport_number")?)
                .map_err(|e| format!("passport_number: {e}"))?;
            store
                .find_foreigner(&nationality, &passport)
                .await
                .map_err(|e| e.to_string())?
                .ok_or("no such foreigner in the registry")?;
            IdentityKey::foreigner(&nationality, &passport)
        }
    };
    let template = field(record, headers, "template")?;
    let position = field(record, headers, "position")?;
    match field(record, headers, "modality")? {
        "finger" => {
            let position: u8 = position.parse().map_err(|_| format!("position: {position:?} is not a number"))?;
            if !FINGER_POSITIONS.contains(&position) {
                return Err(format!("position: {position} is not a finger (1 to 10)"));
            }
            let bytes = STANDARD.decode(template).map_err(|e| format!("template: not base64 ({e})"))?;
            let parsed = dinhdanh_fingerprint::MinutiaeRecord::parse(&bytes).map_err(|e| format!("template: {e}"))?;
            if parsed.views().is_empty() {
                return Err("template: the record has no finger view".to_owned());
            }
            // A view of another finger would be compared with captures of this one (0 is "unknown").
            if let Some(other) = parsed.views().iter().map(|v| v.position.code()).find(|&p| p != 0 && p != position) {
                return Err(format!("template: the record shows finger position {other}, the row says {position}"));
            }
            Ok(Checked::Finger(identity.as_str().to_owned(), position, template.to_owned()))
        }
        "face" => {
            if position != "0" {
                return Err(format!("position: a face has position 0, not {position:?}"));
            }
            dinhdanh_face::FaceTemplate::from_base64(template).map_err(|e| format!("template: {e}"))?;
            Ok(Checked::Face(identity.as_str().to_owned(), template.to_owned()))
        }
        other => Err(format!("modality: {other:?} is neither finger nor face")),
    }
}

/// Imports the biometric side file at `path` for the registry `kind`.
pub async fn import_biometrics(
    store: &Store,
    kind: RegistryKind,
    provinces: &ProvinceTable,
    path: &Path,
    now: DateTime<Utc>,
) -> Result<BiometricsReport, String> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let headers = reader.headers().map_err(|e| format!("{}: no header row ({e})", path.display()))?.clone();
    let mut report = BiometricsReport::default();
    let (mut fingerprints, mut faces) = (Vec::new(), Vec::new());
    for (index, row) in reader.records().enumerate() {
        // The header is line 1.
        let line = index as u64 + 2;
        let record = match row {
            Ok(record) => record,
            Err(e) => {
                report.rejected.push((line, format!("not a CSV row: {e}")));
                continue;
            }
        };
        match check_row(store, kind, provinces, &headers, &record).await {
            Ok(Checked::Finger(key, position, template)) => fingerprints.push((key, position, template)),
            Ok(Checked::Face(key, template)) => faces.push((key, template)),
            Err(reason) => report.rejected.push((line, reason)),
        }
    }
    store.upsert_registry_biometrics(&fingerprints, &faces, now).await.map_err(|e| e.to_string())?;
    report.fingerprints = fingerprints.len();
    report.faces = faces.len();
    Ok(report)
}

/// The fingers a generated side file holds for each person: the right thumb and the right index (ISO positions).
pub const GENERATED_FINGERS: [u8; 2] = [1, 2];
/// The low byte of the face's generator seed: beside the finger positions (1 to 10), never one of them.
const FACE_STREAM: u64 = 0xFA;

/// Writes a biometric side file for the people of the registry file `registry` (CSV or JSON Lines, as
/// `registry generate` writes them): for each person, one synthetic finger per [`GENERATED_FINGERS`] position and
/// one impression of it, and one synthetic face template, the same for the same `seed`. Returns how many records
/// it wrote: `(finger records, face templates)`.
pub fn generate_biometrics(
    kind: RegistryKind,
    registry: &Path,
    out: &Path,
    seed: u64,
) -> Result<(usize, usize), String> {
    use rand::SeedableRng;
    let people = people_of(kind, registry)?;
    let mut writer = csv::Writer::from_path(out).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    let header: &[&str] = match kind {
        RegistryKind::Population => &["id_number", "modality", "position", "template"],
        RegistryKind::Immigration => &["nationality", "passport_number", "modality", "position", "template"],
    };
    let write_error = |e: csv::Error| format!("cannot write {}: {e}", out.display());
    writer.write_record(header).map_err(write_error)?;
    let (mut fingers, mut faces) = (0, 0);
    for (index, person) in people.iter().enumerate() {
        for position in GENERATED_FINGERS {
            // One generator per finger of a person: the same seed gives the same file, whatever else changes.
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ ((index as u64) << 8 | u64::from(position)));
            let finger = dinhdanh_fingerprint::Finger::generate(&mut rng);
            let params = dinhdanh_fingerprint::ImpressionParams {
                finger_position: dinhdanh_fingerprint::FingerPosition::from_code(position)
                    .expect("GENERATED_FINGERS are finger positions"),
                ..Default::default()
            };
            let record = finger.impression(&mut rng, &params);
            let template = STANDARD.encode(record.to_bytes());
            let mut row: Vec<String> = person.clone();
            row.extend(["finger".to_owned(), position.to_string(), template]);
            writer.write_record(&row).map_err(write_error)?;
            fingers += 1;
        }
        // The portrait: a synthetic face (`dinhdanh_face::synthetic`), from its own generator.
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed ^ ((index as u64) << 8 | FACE_STREAM));
        let face = dinhdanh_face::synthetic::SyntheticFace::generate(&mut rng);
        let template = face.capture(&mut rng, dinhdanh_face::synthetic::DEFAULT_NOISE).to_base64();
        let mut row: Vec<String> = person.clone();
        row.extend(["face".to_owned(), "0".to_owned(), template]);
        writer.write_record(&row).map_err(write_error)?;
        faces += 1;
    }
    writer.flush().map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok((fingers, faces))
}

/// Each person's identifying columns, as the side file names them.
fn people_of(kind: RegistryKind, registry: &Path) -> Result<Vec<Vec<String>>, String> {
    let columns: &[&str] = match kind {
        RegistryKind::Population => &["id_number"],
        RegistryKind::Immigration => &["nationality", "passport_number"],
    };
    let unreadable = |e: &dyn std::fmt::Display| format!("cannot read {}: {e}", registry.display());
    let json_lines = matches!(crate::import::Format::from_path(registry), Some(crate::import::Format::JsonLines));
    let mut people = Vec::new();
    if json_lines {
        let text = std::fs::read_to_string(registry).map_err(|e| unreadable(&e))?;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let value: serde_json::Value = serde_json::from_str(line).map_err(|e| unreadable(&e))?;
            people.push(columns.iter().map(|c| value[*c].as_str().unwrap_or_default().to_owned()).collect());
        }
    } else {
        let mut reader = csv::Reader::from_path(registry).map_err(|e| unreadable(&e))?;
        let headers = reader.headers().map_err(|e| unreadable(&e))?.clone();
        for row in reader.records() {
            let row = row.map_err(|e| unreadable(&e))?;
            let person: Result<Vec<String>, String> =
                columns.iter().map(|c| field(&row, &headers, c).map(str::to_owned)).collect();
            people.push(person?);
        }
    }
    Ok(people)
}
