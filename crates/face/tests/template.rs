//! The face template encoding: valid templates round-trip as bytes and as base64, and malformed input is
//! refused with an error naming the field, never a panic.

use dinhdanh_face::template::{FORMAT_VERSION, MAGIC, MAX_DIMENSIONS};
use dinhdanh_face::{FaceTemplate, ModelId, TemplateError};
use proptest::prelude::*;

fn model() -> ModelId {
    ModelId::new("insightface-buffalo_l", "w600k_r50").unwrap()
}

fn template(embedding: Vec<f32>) -> FaceTemplate {
    FaceTemplate::new(model(), embedding).unwrap()
}

#[test]
fn the_encoding_is_the_documented_layout() {
    let bytes = FaceTemplate::new(ModelId::new("m", "1").unwrap(), vec![1.0, -0.5]).unwrap().to_bytes();
    let mut expected = b"DDFT\x01\x01m\x011\x00\x02".to_vec();
    expected.extend_from_slice(&1.0f32.to_be_bytes());
    expected.extend_from_slice(&(-0.5f32).to_be_bytes());
    assert_eq!(bytes, expected);
    assert_eq!(FaceTemplate::parse(&bytes).unwrap().embedding(), &[1.0, -0.5]);
}

#[test]
fn a_model_id_shows_as_name_at_version() {
    assert_eq!(model().to_string(), "insightface-buffalo_l@w600k_r50");
}

#[test]
fn model_ids_with_empty_long_or_odd_parts_are_refused() {
    assert_eq!(ModelId::new("", "1"), Err(TemplateError::ModelFieldLength { field: "model name", len: 0, max: 64 }));
    assert_eq!(
        ModelId::new("m", "v".repeat(33)),
        Err(TemplateError::ModelFieldLength { field: "model version", len: 33, max: 32 })
    );
    assert_eq!(ModelId::new("arc face", "1"), Err(TemplateError::ModelFieldCharacters { field: "model name" }));
    assert_eq!(ModelId::new("m", "ổn"), Err(TemplateError::ModelFieldCharacters { field: "model version" }));
}

#[test]
fn non_finite_values_are_refused_with_their_index() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        assert_eq!(FaceTemplate::new(model(), vec![0.1, 0.2, bad]), Err(TemplateError::NonFinite { index: 2 }));
    }
}

#[test]
fn a_zero_vector_has_no_direction_and_is_refused() {
    assert_eq!(FaceTemplate::new(model(), vec![0.0; 512]), Err(TemplateError::ZeroVector));
    assert_eq!(FaceTemplate::new(model(), vec![-0.0; 3]), Err(TemplateError::ZeroVector));
    // The smallest non-zero value still has a direction.
    assert!(FaceTemplate::new(model(), vec![0.0, f32::from_bits(1)]).is_ok());
}

#[test]
fn empty_and_oversized_embeddings_are_refused() {
    assert_eq!(FaceTemplate::new(model(), vec![]), Err(TemplateError::DimensionCount(0)));
    assert_eq!(
        FaceTemplate::new(model(), vec![1.0; MAX_DIMENSIONS + 1]),
        Err(TemplateError::DimensionCount(MAX_DIMENSIONS + 1))
    );
}

#[test]
fn parsing_refuses_a_wrong_magic_or_version() {
    let mut bytes = template(vec![1.0]).to_bytes();
    bytes[0] = b'X';
    assert_eq!(FaceTemplate::parse(&bytes), Err(TemplateError::BadMagic));
    let mut bytes = template(vec![1.0]).to_bytes();
    bytes[4] = FORMAT_VERSION + 1;
    assert_eq!(FaceTemplate::parse(&bytes), Err(TemplateError::UnsupportedVersion(2)));
}

#[test]
fn parsing_refuses_truncated_templates_naming_the_field() {
    let bytes = template(vec![1.0, 2.0]).to_bytes();
    assert_eq!(
        FaceTemplate::parse(&bytes[..bytes.len() - 1]),
        Err(TemplateError::Truncated { field: "embedding", offset: bytes.len() - 8, needed: 8, len: bytes.len() - 1 })
    );
    assert!(matches!(FaceTemplate::parse(&MAGIC), Err(TemplateError::Truncated { field: "format version", .. })));
    assert!(matches!(FaceTemplate::parse(&bytes[..7]), Err(TemplateError::Truncated { field: "model name", .. })));
}

#[test]
fn parsing_refuses_bytes_after_the_embedding() {
    let mut bytes = template(vec![1.0]).to_bytes();
    bytes.extend_from_slice(&[0, 0]);
    assert_eq!(FaceTemplate::parse(&bytes), Err(TemplateError::TrailingBytes(2)));
}

#[test]
fn parsing_refuses_a_zero_dimension_count_and_encoded_nan_or_zero_vectors() {
    let mut bytes = b"DDFT\x01\x01m\x011\x00\x00".to_vec();
    assert_eq!(FaceTemplate::parse(&bytes), Err(TemplateError::DimensionCount(0)));
    bytes[10] = 1;
    bytes.extend_from_slice(&f32::NAN.to_be_bytes());
    assert_eq!(FaceTemplate::parse(&bytes), Err(TemplateError::NonFinite { index: 0 }));
    bytes.truncate(11);
    bytes.extend_from_slice(&0.0f32.to_be_bytes());
    assert_eq!(FaceTemplate::parse(&bytes), Err(TemplateError::ZeroVector));
}

#[test]
fn base64_text_round_trips_and_garbage_is_refused() {
    let original = template((1..=512).map(|i| i as f32 / 512.0).collect());
    assert_eq!(FaceTemplate::from_base64(&original.to_base64()), Ok(original.clone()));
    assert!(matches!(FaceTemplate::from_base64("not base64!"), Err(TemplateError::Base64(_))));
    // Surrounding whitespace is not part of the text form.
    assert!(matches!(FaceTemplate::from_base64(&format!(" {}", original.to_base64())), Err(TemplateError::Base64(_))));
}

fn model_part(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[A-Za-z0-9._+-]{{1,{max}}}")).unwrap()
}

fn finite_nonzero_embedding() -> impl Strategy<Value = Vec<f32>> {
    prop::collection::vec(prop::num::f32::NORMAL | prop::num::f32::ZERO | prop::num::f32::SUBNORMAL, 1..600)
        .prop_filter("not all zero", |values| values.iter().any(|&v| v != 0.0))
}

fn arbitrary_template() -> impl Strategy<Value = FaceTemplate> {
    (model_part(64), model_part(32), finite_nonzero_embedding()).prop_map(|(name, version, embedding)| {
        FaceTemplate::new(ModelId::new(name, version).unwrap(), embedding).unwrap()
    })
}

proptest! {
    #[test]
    fn every_valid_template_round_trips(template in arbitrary_template()) {
        prop_assert_eq!(FaceTemplate::parse(&template.to_bytes()), Ok(template.clone()));
        prop_assert_eq!(FaceTemplate::from_base64(&template.to_base64()), Ok(template));
    }

    #[test]
    fn every_proper_prefix_of_a_template_is_refused(template in arbitrary_template(), cut in any::<prop::sample::Index>()) {
        let bytes = template.to_bytes();
        let cut = cut.index(bytes.len());
        let refused = matches!(FaceTemplate::parse(&bytes[..cut]), Err(TemplateError::Truncated { .. }));
        prop_assert!(refused, "prefix of {} bytes accepted or refused for another reason", cut);
    }

    #[test]
    fn any_bytes_parse_without_panicking(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(template) = FaceTemplate::parse(&bytes) {
            // What is accepted is canonical.
            prop_assert_eq!(template.to_bytes(), bytes);
        }
    }

    #[test]
    fn corrupted_templates_parse_without_panicking(
        template in arbitrary_template(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let mut bytes = template.to_bytes();
        let position = position.index(bytes.len());
        bytes[position] = byte;
        if let Ok(parsed) = FaceTemplate::parse(&bytes) {
            prop_assert_eq!(parsed.to_bytes(), bytes);
        }
    }

    #[test]
    fn any_text_decodes_without_panicking(text in ".{0,200}") {
        let _ = FaceTemplate::from_base64(&text);
    }
}
