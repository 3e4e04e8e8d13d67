//! Full names as people write them: Vietnamese with diacritics. Stored as given; compared after Unicode NFC
//! normalisation, lower-casing and whitespace collapsing. Diacritics are never stripped (Hùng ≠ Hưng).

use std::fmt;

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FullName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    #[error("the full name is empty")]
    Empty,
    #[error("the full name is longer than 200 characters")]
    TooLong,
    #[error("the full name contains control characters or digits")]
    Characters,
}

impl FullName {
    pub fn parse(s: &str) -> Result<Self, NameError> {
        let trimmed = s.trim();
        if trimmed.is_empty() {
            return Err(NameError::Empty);
        }
        if trimmed.chars().count() > 200 {
            return Err(NameError::TooLong);
        }
        if trimmed.chars().any(|c| c.is_control() || c.is_ascii_digit()) {
            return Err(NameError::Characters);
        }
        Ok(Self(trimmed.nfc().collect()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form two names are compared in: NFC, lower case, single spaces.
    pub fn comparison_key(&self) -> String {
        comparison_key(&self.0)
    }

    pub fn matches(&self, other: &FullName) -> bool {
        self.comparison_key() == other.comparison_key()
    }
}

/// NFC, lower case (then NFC again, since case mapping may decompose), whitespace collapsed to single spaces.
pub fn comparison_key(s: &str) -> String {
    let lower: String = s.nfc().collect::<String>().to_lowercase();
    let normalised: String = lower.nfc().collect();
    normalised.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Names are personal data: debug output does not show them.
impl fmt::Debug for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FullName(***)")
    }
}

impl fmt::Display for FullName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composed_and_decomposed_forms_match() {
        let composed = FullName::parse("Nguyễn Văn Hùng").unwrap();
        let decomposed: String = "Nguyễn Văn Hùng".nfd().collect();
        assert_ne!(decomposed, "Nguyễn Văn Hùng");
        assert!(composed.matches(&FullName::parse(&decomposed).unwrap()));
    }

    #[test]
    fn case_and_spaces_are_folded() {
        let a = FullName::parse("  NGUYỄN   văn  hùng ").unwrap();
        assert!(a.matches(&FullName::parse("Nguyễn Văn Hùng").unwrap()));
    }

    #[test]
    fn diacritics_are_never_stripped() {
        let hung = FullName::parse("Nguyễn Văn Hùng").unwrap();
        assert!(!hung.matches(&FullName::parse("Nguyễn Văn Hưng").unwrap()));
        assert!(!hung.matches(&FullName::parse("Nguyen Van Hung").unwrap()));
    }

    #[test]
    fn empty_and_odd_names_are_refused() {
        assert_eq!(FullName::parse("   "), Err(NameError::Empty));
        assert_eq!(FullName::parse("Nguyễn 2"), Err(NameError::Characters));
        assert_eq!(FullName::parse(&"a".repeat(201)), Err(NameError::TooLong));
    }

    #[test]
    fn stored_form_keeps_the_case_given() {
        assert_eq!(FullName::parse(" Trần Thị Mai ").unwrap().as_str(), "Trần Thị Mai");
    }
}
