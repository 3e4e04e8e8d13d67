//! Face templates: which model made the embedding ([`ModelId`]), the embedding itself, and their binary and
//! base64 text encodings with a parser that refuses malformed input with an error naming the field.
//!
//! It does not compare templates (that is [`crate::matcher`]) and knows nothing of photos.
//!
//! Binary layout, version 1 (all integers and floats big-endian):
//!
//! | offset | size | field |
//! |---:|---:|---|
//! | 0 | 4 | magic `"DDFT"` |
//! | 4 | 1 | format version, 1 |
//! | 5 | 1 | model name length `n`, 1–64 |
//! | 6 | `n` | model name, ASCII letters, digits, `.`, `_`, `-`, `+` |
//! | 6 + `n` | 1 | model version length `m`, 1–32 |
//! | 7 + `n` | `m` | model version, the same characters |
//! | 7 + `n` + `m` | 2 | number of dimensions `d`, 1–4096 |
//! | 9 + `n` + `m` | 4`d` | the embedding, IEEE 754 binary32 each, finite, not all zero |
//!
//! Nothing may follow the embedding. The text form is the same bytes in standard base64 with padding
//! (RFC 4648 §4), as `registry import` takes templates in a row.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::fmt;

/// The first four bytes of every encoded face template.
pub const MAGIC: [u8; 4] = *b"DDFT";
/// The only format version this crate reads and writes.
pub const FORMAT_VERSION: u8 = 1;
pub const MAX_MODEL_NAME_LEN: usize = 64;
pub const MAX_MODEL_VERSION_LEN: usize = 32;
/// Larger than any face-recognition embedding in use (128 to 512 is usual).
pub const MAX_DIMENSIONS: usize = 4096;

/// Why a face template or a model identifier was refused. Every variant says which field and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    #[error("the template is not valid base64: {0}")]
    Base64(String),
    #[error("the template ends at byte {len}, inside the {field} (which needs {needed} bytes from offset {offset})")]
    Truncated { field: &'static str, offset: usize, needed: usize, len: usize },
    #[error("the template does not start with \"DDFT\"")]
    BadMagic,
    #[error("face template format version {0} is not supported (this reader knows version 1)")]
    UnsupportedVersion(u8),
    #[error("the {field} is {len} characters long; it must be 1 to {max}")]
    ModelFieldLength { field: &'static str, len: usize, max: usize },
    #[error("the {field} may only hold ASCII letters, digits, '.', '_', '-' and '+'")]
    ModelFieldCharacters { field: &'static str },
    #[error("the embedding has {0} dimensions; it must have 1 to 4096")]
    DimensionCount(usize),
    #[error("embedding value {index} is not a finite number")]
    NonFinite { index: usize },
    #[error("the embedding is all zeros: it has no direction to compare")]
    ZeroVector,
    #[error("{0} bytes follow the embedding; a template ends with its last value")]
    TrailingBytes(usize),
}

/// A face-recognition model and its version: embeddings are only comparable within one model and version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelId {
    name: String,
    version: String,
}

impl ModelId {
    /// Checks both parts: 1–64 (name) and 1–32 (version) ASCII letters, digits, `.`, `_`, `-` or `+`.
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Result<Self, TemplateError> {
        let (name, version) = (name.into(), version.into());
        check_model_field("model name", &name, MAX_MODEL_NAME_LEN)?;
        check_model_field("model version", &version, MAX_MODEL_VERSION_LEN)?;
        Ok(Self { name, version })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn version(&self) -> &str {
        &self.version
    }
}

impl fmt::Display for ModelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

fn check_model_field(field: &'static str, value: &str, max: usize) -> Result<(), TemplateError> {
    if value.is_empty() || value.len() > max {
        return Err(TemplateError::ModelFieldLength { field, len: value.chars().count(), max });
    }
    if !value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+')) {
        return Err(TemplateError::ModelFieldCharacters { field });
    }
    Ok(())
}

/// One portrait's embedding from one model. Every value is finite and at least one is not zero, so every
/// template has a direction and a cosine with any other of the same model and length is defined.
#[derive(Debug, Clone, PartialEq)]
pub struct FaceTemplate {
    model: ModelId,
    embedding: Vec<f32>,
}

impl FaceTemplate {
    /// Refuses an empty or over-long embedding, non-finite values and the zero vector.
    pub fn new(model: ModelId, embedding: Vec<f32>) -> Result<Self, TemplateError> {
        if embedding.is_empty() || embedding.len() > MAX_DIMENSIONS {
            return Err(TemplateError::DimensionCount(embedding.len()));
        }
        if let Some(index) = embedding.iter().position(|v| !v.is_finite()) {
            return Err(TemplateError::NonFinite { index });
        }
        if embedding.iter().all(|&v| v == 0.0) {
            return Err(TemplateError::ZeroVector);
        }
        Ok(Self { model, embedding })
    }

    pub fn model(&self) -> &ModelId {
        &self.model
    }

    pub fn embedding(&self) -> &[f32] {
        &self.embedding
    }

    /// The binary encoding (module documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let (name, version) = (self.model.name.as_bytes(), self.model.version.as_bytes());
        let mut bytes = Vec::with_capacity(9 + name.len() + version.len() + 4 * self.embedding.len());
        bytes.extend_from_slice(&MAGIC);
        bytes.push(FORMAT_VERSION);
        // Lengths fit: ModelId and new() bound them.
        bytes.push(name.len() as u8);
        bytes.extend_from_slice(name);
        bytes.push(version.len() as u8);
        bytes.extend_from_slice(version);
        bytes.extend_from_slice(&(self.embedding.len() as u16).to_be_bytes());
        for value in &self.embedding {
            bytes.extend_from_slice(&value.to_be_bytes());
        }
        bytes
    }

    /// Reads the binary encoding, refusing anything [`FaceTemplate::to_bytes`] would not write.
    pub fn parse(bytes: &[u8]) -> Result<Self, TemplateError> {
        let mut reader = Reader { bytes, offset: 0 };
        if reader.take("magic", 4)? != MAGIC {
            return Err(TemplateError::BadMagic);
        }
        let version = reader.take("format version", 1)?[0];
        if version != FORMAT_VERSION {
            return Err(TemplateError::UnsupportedVersion(version));
        }
        let name = reader.model_field("model name")?;
        let model_version = reader.model_field("model version")?;
        let model = ModelId::new(name, model_version)?;
        let count = usize::from(u16::from_be_bytes(reader.take("dimension count", 2)?.try_into().expect("2 bytes")));
        if count == 0 || count > MAX_DIMENSIONS {
            return Err(TemplateError::DimensionCount(count));
        }
        let embedding = reader
            .take("embedding", 4 * count)?
            .chunks_exact(4)
            .map(|chunk| f32::from_be_bytes(chunk.try_into().expect("4 bytes")))
            .collect();
        if reader.offset < bytes.len() {
            return Err(TemplateError::TrailingBytes(bytes.len() - reader.offset));
        }
        Self::new(model, embedding)
    }

    /// The binary encoding in standard base64 with padding.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.to_bytes())
    }

    /// Reads [`FaceTemplate::to_base64`]'s text; no surrounding whitespace is allowed.
    pub fn from_base64(text: &str) -> Result<Self, TemplateError> {
        let bytes = STANDARD.decode(text).map_err(|error| TemplateError::Base64(error.to_string()))?;
        Self::parse(&bytes)
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    offset: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, field: &'static str, needed: usize) -> Result<&'a [u8], TemplateError> {
        let slice = self.bytes.get(self.offset..self.offset + needed).ok_or(TemplateError::Truncated {
            field,
            offset: self.offset,
            needed,
            len: self.bytes.len(),
        })?;
        self.offset += needed;
        Ok(slice)
    }

    /// A length byte and that many bytes; their length and characters are checked by [`ModelId::new`].
    fn model_field(&mut self, field: &'static str) -> Result<String, TemplateError> {
        let len = usize::from(self.take(field, 1)?[0]);
        let raw = self.take(field, len)?;
        String::from_utf8(raw.to_vec()).map_err(|_| TemplateError::ModelFieldCharacters { field })
    }
}
