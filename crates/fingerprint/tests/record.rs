//! The ISO/IEC 19794-2:2005 reader and writer: canonical records round-trip, malformed ones are refused with the
//! error that names what is wrong, and no input makes the parser panic.

use dinhdanh_fingerprint::record::{MAX_COORDINATE, MAX_QUALITY};
use dinhdanh_fingerprint::{
    CaptureInfo, FingerPosition, FingerView, ImpressionType, Minutia, MinutiaKind, MinutiaeRecord, RecordError,
};
use proptest::prelude::*;

fn capture(width: u16, height: u16) -> CaptureInfo {
    CaptureInfo {
        equipment_certification: 0,
        device_type: 0,
        image_width: width,
        image_height: height,
        resolution_x: 197,
        resolution_y: 197,
    }
}

fn minutia(x: u16, y: u16) -> Minutia {
    Minutia { kind: MinutiaKind::RidgeEnding, x, y, angle: 64, quality: 80 }
}

fn view(minutiae: Vec<Minutia>) -> FingerView {
    FingerView {
        position: FingerPosition::RightIndex,
        view_number: 0,
        impression: ImpressionType::LiveScanPlain,
        quality: 70,
        minutiae,
        extended_data: Vec::new(),
    }
}

fn two_minutiae_record() -> MinutiaeRecord {
    MinutiaeRecord::new(capture(300, 400), vec![view(vec![minutia(10, 20), minutia(299, 399)])]).unwrap()
}

/// Byte offset of a view's first minutia in a record whose earlier views hold no minutiae or extended data.
const FIRST_MINUTIA: usize = 24 + 4;

#[test]
fn a_known_record_has_the_standard_layout() {
    let bytes = two_minutiae_record().to_bytes();
    let expected: Vec<u8> = [
        b"FMR\0".as_slice(),
        b" 20\0",
        &[0, 0, 0, 42],             // 24 + 4 + 2 * 6 + 2
        &[0, 0],                    // equipment
        &[1, 44, 1, 144],           // 300 x 400
        &[0, 197, 0, 197],          // pixels per centimetre
        &[1, 0],                    // one view, reserved
        &[2, 0x00, 70, 2],          // right index, view 0 live-scan plain, quality 70, two minutiae
        &[0x40, 10, 0, 20, 64, 80], // ridge ending (0b01) at (10, 20)
        &[0x41, 43, 1, 143, 64, 80],
        &[0, 0], // no extended data
    ]
    .concat();
    assert_eq!(bytes, expected);
    assert_eq!(MinutiaeRecord::parse(&bytes).unwrap(), two_minutiae_record());
}

#[test]
fn extended_data_is_kept_as_it_came() {
    let mut finger = view(vec![minutia(1, 1)]);
    finger.extended_data = vec![0, 1, 0, 8, 1, 2, 3, 4];
    let record = MinutiaeRecord::new(capture(10, 10), vec![finger.clone(), view(Vec::new())]).unwrap();
    let parsed = MinutiaeRecord::parse(&record.to_bytes()).unwrap();
    assert_eq!(parsed.views()[0].extended_data, finger.extended_data);
    assert_eq!(parsed, record);
}

#[test]
fn every_truncation_of_a_record_is_refused() {
    let bytes = two_minutiae_record().to_bytes();
    for length in 0..bytes.len() {
        let error = MinutiaeRecord::parse(&bytes[..length]).unwrap_err();
        assert!(
            matches!(error, RecordError::Truncated { .. } | RecordError::LengthMismatch { .. }),
            "length {length}: {error}"
        );
    }
}

#[test]
fn a_record_whose_length_field_disagrees_with_its_bytes_is_refused() {
    let mut bytes = two_minutiae_record().to_bytes();
    bytes[11] += 1;
    assert_eq!(MinutiaeRecord::parse(&bytes), Err(RecordError::LengthMismatch { declared: 43, actual: 42 }));
}

#[test]
fn bytes_after_the_last_view_are_refused() {
    let mut bytes = two_minutiae_record().to_bytes();
    bytes.extend_from_slice(&[0, 0]);
    bytes[11] += 2; // the length field agrees, the content does not
    assert_eq!(MinutiaeRecord::parse(&bytes), Err(RecordError::TrailingBytes { count: 2 }));
}

#[test]
fn oversized_records_are_refused() {
    let mut appended = two_minutiae_record().to_bytes();
    appended.extend_from_slice(&[0; 6]); // a seventh minutia the counts do not announce
    assert_eq!(MinutiaeRecord::parse(&appended), Err(RecordError::LengthMismatch { declared: 42, actual: 48 }));
    appended[11] += 6;
    assert_eq!(MinutiaeRecord::parse(&appended), Err(RecordError::TrailingBytes { count: 6 }));
}

#[test]
fn a_view_count_larger_than_the_record_is_refused() {
    let mut bytes = two_minutiae_record().to_bytes();
    bytes[22] = 2;
    assert!(matches!(MinutiaeRecord::parse(&bytes), Err(RecordError::Truncated { field: "finger position", .. })));
}

#[test]
fn a_minutia_count_larger_than_the_record_is_refused() {
    let mut bytes = two_minutiae_record().to_bytes();
    bytes[27] = 255;
    assert!(matches!(
        MinutiaeRecord::parse(&bytes),
        Err(RecordError::Truncated { field: "minutiae", needed: 1530, .. })
    ));
}

#[test]
fn wrong_magic_and_other_versions_are_refused() {
    let mut bytes = two_minutiae_record().to_bytes();
    bytes[0] = b'X';
    assert!(matches!(MinutiaeRecord::parse(&bytes), Err(RecordError::WrongFormatIdentifier { .. })));
    let mut bytes = two_minutiae_record().to_bytes();
    bytes[4..8].copy_from_slice(b"030\0"); // ISO/IEC 19794-2:2011
    assert!(matches!(MinutiaeRecord::parse(&bytes), Err(RecordError::UnsupportedVersion { .. })));
}

#[test]
fn a_minutia_outside_the_image_is_refused() {
    let mut bytes = two_minutiae_record().to_bytes();
    bytes[FIRST_MINUTIA + 6 + 1] = 44; // x = 300 in a 300-pixel-wide image
    assert_eq!(
        MinutiaeRecord::parse(&bytes),
        Err(RecordError::MinutiaOutsideImage { view: 0, minutia: 1, x: 300, y: 399, width: 300, height: 400 })
    );
    let error = MinutiaeRecord::new(capture(300, 400), vec![view(vec![minutia(0, 400)])]).unwrap_err();
    assert!(matches!(error, RecordError::MinutiaOutsideImage { y: 400, .. }));
}

#[test]
fn zero_resolution_and_zero_image_size_are_refused() {
    let mut bytes = two_minutiae_record().to_bytes();
    bytes[18..20].copy_from_slice(&[0, 0]);
    assert_eq!(MinutiaeRecord::parse(&bytes), Err(RecordError::ZeroResolution { x: 0, y: 197 }));
    let error = MinutiaeRecord::new(capture(0, 10), Vec::new()).unwrap_err();
    assert_eq!(error, RecordError::ZeroImageSize { width: 0, height: 10 });
}

#[test]
fn reserved_fields_must_be_zero() {
    let mut bytes = two_minutiae_record().to_bytes();
    bytes[23] = 1;
    assert!(matches!(MinutiaeRecord::parse(&bytes), Err(RecordError::ReservedNotZero { .. })));
    let mut bytes = two_minutiae_record().to_bytes();
    bytes[FIRST_MINUTIA + 2] |= 0x80;
    assert!(matches!(MinutiaeRecord::parse(&bytes), Err(RecordError::ReservedNotZero { .. })));
    let mut bytes = two_minutiae_record().to_bytes();
    bytes[FIRST_MINUTIA] |= 0xC0; // minutia type 0b11
    assert_eq!(MinutiaeRecord::parse(&bytes), Err(RecordError::InvalidMinutiaType { view: 0, minutia: 0 }));
}

#[test]
fn codes_outside_their_tables_are_refused() {
    let record = two_minutiae_record().to_bytes();
    let mut bytes = record.clone();
    bytes[24] = 11;
    assert_eq!(MinutiaeRecord::parse(&bytes), Err(RecordError::InvalidFingerPosition { view: 0, code: 11 }));
    let mut bytes = record.clone();
    bytes[25] = 0x04;
    assert_eq!(MinutiaeRecord::parse(&bytes), Err(RecordError::InvalidImpressionType { view: 0, code: 4 }));
    let mut bytes = record.clone();
    bytes[26] = MAX_QUALITY + 1;
    assert_eq!(MinutiaeRecord::parse(&bytes), Err(RecordError::FingerQualityOutOfRange { view: 0, quality: 101 }));
    let mut bytes = record;
    bytes[FIRST_MINUTIA + 5] = 255;
    assert!(matches!(MinutiaeRecord::parse(&bytes), Err(RecordError::MinutiaQualityOutOfRange { quality: 255, .. })));
}

#[test]
fn records_the_format_cannot_count_are_refused_when_built() {
    let many = vec![minutia(0, 0); 256];
    assert_eq!(
        MinutiaeRecord::new(capture(10, 10), vec![view(many)]),
        Err(RecordError::TooManyMinutiae { view: 0, count: 256 })
    );
    assert_eq!(
        MinutiaeRecord::new(capture(10, 10), vec![view(Vec::new()); 256]),
        Err(RecordError::TooManyViews { count: 256 })
    );
    let mut long = view(Vec::new());
    long.extended_data = vec![0; 65536];
    assert!(matches!(
        MinutiaeRecord::new(capture(10, 10), vec![long]),
        Err(RecordError::ExtendedDataTooLong { length: 65536, .. })
    ));
    assert!(matches!(
        MinutiaeRecord::new(capture(MAX_COORDINATE + 2, 10), Vec::new()),
        Err(RecordError::ImageTooLarge { .. })
    ));
}

fn arbitrary_record() -> impl Strategy<Value = MinutiaeRecord> {
    (1..=MAX_COORDINATE + 1, 1..=MAX_COORDINATE + 1, 1..=u16::MAX, 1..=u16::MAX, 0..=15u8, 0..=0x0FFFu16).prop_flat_map(
        |(width, height, resolution_x, resolution_y, certification, device)| {
            let capture = CaptureInfo {
                equipment_certification: certification,
                device_type: device,
                image_width: width,
                image_height: height,
                resolution_x,
                resolution_y,
            };
            let minutia =
                (0..width, 0..height, 0..3u8, any::<u8>(), 0..=MAX_QUALITY).prop_map(|(x, y, kind, angle, quality)| {
                    Minutia {
                        kind: [MinutiaKind::Other, MinutiaKind::RidgeEnding, MinutiaKind::Bifurcation]
                            [usize::from(kind)],
                        x,
                        y,
                        angle,
                        quality,
                    }
                });
            let view = (
                0..=10u8,
                0..=15u8,
                prop::sample::select(vec![0u8, 1, 2, 3, 8, 9]),
                0..=MAX_QUALITY,
                prop::collection::vec(minutia, 0..60),
                prop::collection::vec(any::<u8>(), 0..20),
            )
                .prop_map(|(position, view_number, impression, quality, minutiae, extended_data)| {
                    FingerView {
                        position: FingerPosition::from_code(position).unwrap(),
                        view_number,
                        impression: ImpressionType::from_code(impression).unwrap(),
                        quality,
                        minutiae,
                        extended_data,
                    }
                });
            prop::collection::vec(view, 0..4).prop_map(move |views| MinutiaeRecord::new(capture, views).unwrap())
        },
    )
}

proptest! {
    #[test]
    fn every_valid_record_round_trips(record in arbitrary_record()) {
        let bytes = record.to_bytes();
        prop_assert_eq!(bytes.len(), record.encoded_len());
        prop_assert_eq!(MinutiaeRecord::parse(&bytes), Ok(record));
    }

    #[test]
    fn any_bytes_parse_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(record) = MinutiaeRecord::parse(&bytes) {
            prop_assert_eq!(record.to_bytes(), bytes);
        }
    }

    /// Random bytes rarely get past the magic; mutating valid records reaches every later check.
    #[test]
    fn mutated_records_parse_without_panicking_and_accepted_ones_are_canonical(
        record in arbitrary_record(),
        mutations in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = record.to_bytes();
        for (index, value) in mutations {
            let at = index.index(bytes.len());
            bytes[at] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(parsed) = MinutiaeRecord::parse(&bytes) {
            prop_assert_eq!(parsed.to_bytes(), bytes);
        }
    }
}
