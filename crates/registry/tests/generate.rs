//! Synthetic registries: deterministic, realistic and consistent (import-level validation of generated files
//! runs on both backends in `import.rs`).

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};
use dinhdanh_domain::registry::RegistryKind;
use dinhdanh_domain::{FullName, Gender, IdentificationNumber, Nationality, PassportNumber, ProvinceTable};
use dinhdanh_registry::generate::{GenerateOptions, generate, generate_to_path};
use dinhdanh_registry::import::Format;
use unicode_normalization::UnicodeNormalization;

fn bytes(kind: RegistryKind, count: u64, seed: u64, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    generate(&mut out, &GenerateOptions { kind, count, seed, format }).unwrap();
    out
}

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

#[test]
fn the_same_seed_gives_the_same_bytes() {
    for kind in [RegistryKind::Population, RegistryKind::Immigration] {
        for format in [Format::Csv, Format::JsonLines] {
            let a = bytes(kind, 3000, 7, format);
            let b = bytes(kind, 3000, 7, format);
            assert_eq!(a, b, "{kind:?} {format:?}");
            assert_ne!(a, bytes(kind, 3000, 8, format), "{kind:?} {format:?}: another seed, other rows");
            // A shorter run is a prefix of a longer one: rows do not depend on the count.
            let shorter = bytes(kind, 1000, 7, format);
            assert!(a.starts_with(&shorter), "{kind:?} {format:?}");
        }
    }
}

#[test]
fn generate_to_path_writes_the_same_bytes_as_generate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("people.jsonl");
    let options = GenerateOptions { kind: RegistryKind::Population, count: 500, seed: 3, format: Format::JsonLines };
    generate_to_path(&path, &options).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), bytes(RegistryKind::Population, 500, 3, Format::JsonLines));
    assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 500);
}

#[test]
fn citizens_are_realistic_consistent_and_unique() {
    let provinces = ProvinceTable::builtin();
    let province_names: HashSet<&str> = provinces.codes().filter_map(|c| provinces.name(c)).collect();
    let count = 200_000;
    let data = bytes(RegistryKind::Population, count, 11, Format::Csv);
    let mut reader = csv::Reader::from_reader(data.as_slice());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "id_number",
            "full_name",
            "date_of_birth",
            "gender",
            "place_of_origin",
            "permanent_residence",
            "card_status",
            "died_on"
        ]
    );
    let mut ids = HashSet::with_capacity(count as usize);
    let (mut rows, mut females, mut revoked, mut retained, mut dead, mut nguyen, mut with_diacritics) =
        (0u64, 0u64, 0u64, 0u64, 0u64, 0u64, 0u64);
    let mut years = HashSet::new();
    let mut used_provinces = HashSet::new();
    for record in reader.records() {
        let r = record.unwrap();
        rows += 1;
        let id = IdentificationNumber::parse(&r[0], &provinces).unwrap();
        let name = FullName::parse(&r[1]).unwrap();
        assert_eq!(name.as_str(), r[1].nfc().collect::<String>(), "names are written in NFC");
        assert!(name.as_str().split(' ').count() >= 3);
        let dob = date(&r[2]);
        assert!((1930..=2010).contains(&dob.year()));
        let gender = Gender::parse(&r[3]).unwrap();
        id.check_birth(dob, gender).unwrap();
        for place in [&r[4], &r[5]] {
            assert!(place.is_empty() || province_names.contains(place), "{place}");
        }
        match &r[6] {
            "valid" => {}
            "revoked" => revoked += 1,
            "retained" => retained += 1,
            other => panic!("card status {other}"),
        }
        if !r[7].is_empty() {
            dead += 1;
            assert!(date(&r[7]) > dob);
        }
        females += u64::from(gender == Gender::Female);
        nguyen += u64::from(r[1].starts_with("Nguyễn "));
        with_diacritics += u64::from(!r[1].is_ascii());
        years.insert(dob.year());
        used_provinces.insert(id.province_code().to_owned());
        assert!(ids.insert(r[0].to_owned()), "identification numbers are unique");
    }
    assert_eq!(rows, count);
    let share = |n: u64| n as f64 / count as f64;
    assert!((0.48..0.52).contains(&share(females)));
    assert!((0.002..0.004).contains(&share(revoked)), "{revoked}");
    assert!((0.001..0.003).contains(&share(retained)), "{retained}");
    assert!((0.001..0.003).contains(&share(dead)), "{dead}");
    assert!((0.33..0.43).contains(&share(nguyen)), "Nguyễn is the most common family name");
    assert!(share(with_diacritics) > 0.95);
    assert_eq!(years.len(), 81, "every birth year from 1930 to 2010");
    assert_eq!(used_provinces.len(), 63, "every province");
}

#[test]
fn foreigners_are_realistic_and_unique() {
    let count = 100_000;
    let data = bytes(RegistryKind::Immigration, count, 5, Format::JsonLines);
    let expected: HashSet<&str> = [
        "KOR", "CHN", "JPN", "USA", "FRA", "DEU", "GBR", "AUS", "THA", "SGP", "LAO", "KHM", "RUS", "IND", "TWN", "MYS",
        "PHL", "IDN", "CAN", "ITA",
    ]
    .into();
    let mut keys = HashSet::with_capacity(count as usize);
    let mut nationalities = HashSet::new();
    let (mut passport_expired, mut stay_expired, mut no_stay, mut dead) = (0u64, 0u64, 0u64, 0u64);
    let cutoff = date("2026-01-01");
    for line in std::str::from_utf8(&data).unwrap().lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let text = |k: &str| v.get(k).and_then(|x| x.as_str());
        let passport = text("passport_number").unwrap();
        let number = PassportNumber::parse(passport).unwrap();
        assert_eq!(number.as_str(), passport);
        let (letter, digits) = passport.split_at(1);
        assert!(letter.chars().all(|c| c.is_ascii_uppercase()));
        assert!((7..=8).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit()), "{passport}");
        let nationality = Nationality::parse(text("nationality").unwrap()).unwrap();
        assert!(expected.contains(nationality.as_str()));
        nationalities.insert(nationality.as_str().to_owned());
        FullName::parse(text("full_name").unwrap()).unwrap();
        let dob = date(text("date_of_birth").unwrap());
        Gender::parse(text("gender").unwrap()).unwrap();
        if let Some(d) = text("passport_expires_on") {
            passport_expired += u64::from(date(d) < cutoff);
        }
        match text("stay_expires_on") {
            Some(d) => stay_expired += u64::from(date(d) < cutoff),
            None => no_stay += 1,
        }
        if let Some(d) = text("died_on") {
            dead += 1;
            assert!(date(d) > dob);
        }
        assert!(keys.insert((nationality.as_str().to_owned(), passport.to_owned())), "passports are unique");
    }
    assert_eq!(keys.len(), count as usize);
    assert_eq!(nationalities.len(), 20);
    let share = |n: u64| n as f64 / count as f64;
    assert!((0.02..0.06).contains(&share(passport_expired)), "some passports have expired");
    assert!((0.03..0.08).contains(&share(stay_expired)), "some stays have ended");
    assert!((0.08..0.16).contains(&share(no_stay)));
    assert!((0.001..0.003).contains(&share(dead)));
}

#[test]
fn too_many_rows_are_refused_up_front() {
    let options = GenerateOptions { kind: RegistryKind::Immigration, count: 100_000_001, seed: 1, format: Format::Csv };
    let error = generate(std::io::sink(), &options).unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
}
