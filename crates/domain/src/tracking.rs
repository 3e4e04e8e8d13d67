//! Tracking codes for requests: short, easy to read aloud over the phone, and checked. Ten characters from
//! Crockford's base-32 alphabet (no I, L, O or U, so nothing is mistaken for 1 or 0), the last one a Luhn mod 32
//! check character that catches every single wrong character and most swapped neighbours. Shown as
//! `ABCD-EFGH-JK`; read back case-insensitively, with or without the dashes, with I/L taken as 1 and O as 0.

use std::fmt;

use thiserror::Error;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const DATA_CHARS: usize = 9;

#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrackingCode(String);

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TrackingCodeError {
    #[error("a tracking code has 10 characters, like ABCD-EFGH-JK")]
    Length,
    #[error("a tracking code uses the digits and the letters A–Z except I, L, O and U")]
    Character,
    #[error("this tracking code is mistyped (its check character does not match)")]
    Check,
}

fn value_of(c: char) -> Option<u32> {
    let c = match c.to_ascii_uppercase() {
        'I' | 'L' => '1',
        'O' => '0',
        other => other,
    };
    ALPHABET.iter().position(|&a| a as char == c).map(|p| p as u32)
}

/// Luhn mod N over the alphabet's values.
fn check_value(values: &[u32]) -> u32 {
    let n = 32;
    let mut factor = 2;
    let mut sum = 0;
    for &v in values.iter().rev() {
        let addend = factor * v;
        factor = if factor == 2 { 1 } else { 2 };
        sum += addend / n + addend % n;
    }
    (n - sum % n) % n
}

impl TrackingCode {
    /// The example used in the docs and the OpenAPI document: a valid code (its check character agrees).
    pub const EXAMPLE: &'static str = "7K3M-9QX2-PJ";

    /// A code from 45 random bits drawn by the caller.
    pub fn from_random(bits: u64) -> Self {
        let mut values = Vec::with_capacity(DATA_CHARS + 1);
        for i in 0..DATA_CHARS {
            values.push(((bits >> (5 * i)) & 31) as u32);
        }
        values.push(check_value(&values));
        Self(values.iter().map(|&v| ALPHABET[v as usize] as char).collect())
    }

    pub fn parse(s: &str) -> Result<Self, TrackingCodeError> {
        let cleaned: Vec<char> = s.chars().filter(|c| !matches!(c, '-' | ' ')).collect();
        if cleaned.len() != DATA_CHARS + 1 {
            return Err(TrackingCodeError::Length);
        }
        let values: Vec<u32> =
            cleaned.iter().map(|&c| value_of(c)).collect::<Option<_>>().ok_or(TrackingCodeError::Character)?;
        if check_value(&values[..DATA_CHARS]) != values[DATA_CHARS] {
            return Err(TrackingCodeError::Check);
        }
        Ok(Self(values.iter().map(|&v| ALPHABET[v as usize] as char).collect()))
    }

    /// The compact stored form (10 characters, no dashes).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TrackingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{}", &self.0[..4], &self.0[4..8], &self.0[8..])
    }
}

impl fmt::Debug for TrackingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrackingCode({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_round_trip_through_their_display_form() {
        let code = TrackingCode::from_random(0x1234_5678_9abc);
        let shown = code.to_string();
        assert_eq!(shown.len(), 12);
        assert_eq!(TrackingCode::parse(&shown), Ok(code.clone()));
        assert_eq!(TrackingCode::parse(&shown.to_lowercase()), Ok(code.clone()));
        assert_eq!(TrackingCode::parse(&shown.replace('-', " ")), Ok(code));
    }

    #[test]
    fn confusable_letters_are_read_as_digits() {
        let code = TrackingCode::from_random(0);
        assert_eq!(code.as_str()[..9].to_owned(), "000000000");
        let typed = format!("OOOO-oooo-{}", &code.as_str()[8..]);
        assert_eq!(TrackingCode::parse(&typed), Ok(code));
    }

    #[test]
    fn bad_codes_are_refused() {
        assert_eq!(TrackingCode::parse("ABC"), Err(TrackingCodeError::Length));
        assert_eq!(TrackingCode::parse("ABCD-EFGH-J!"), Err(TrackingCodeError::Character));
        assert_eq!(TrackingCode::parse("ABCD-EFGH-JU"), Err(TrackingCodeError::Character));
    }

    proptest! {
        #[test]
        fn every_single_wrong_character_is_caught(bits in 0u64..(1 << 45), position in 0usize..10, replacement in 0usize..32) {
            let code = TrackingCode::from_random(bits);
            let mut chars: Vec<char> = code.as_str().chars().collect();
            let new = ALPHABET[replacement] as char;
            prop_assume!(chars[position] != new);
            chars[position] = new;
            let typed: String = chars.into_iter().collect();
            prop_assert_eq!(TrackingCode::parse(&typed), Err(TrackingCodeError::Check));
        }

        #[test]
        fn generated_codes_always_parse(bits in any::<u64>()) {
            let code = TrackingCode::from_random(bits);
            prop_assert_eq!(TrackingCode::parse(&code.to_string()), Ok(code));
        }
    }

    #[test]
    fn the_documented_example_is_a_valid_code() {
        assert_eq!(TrackingCode::parse(TrackingCode::EXAMPLE).unwrap().to_string(), TrackingCode::EXAMPLE);
        assert_eq!(TrackingCode::parse("7K3M-9QX2-PA"), Err(TrackingCodeError::Check), "the old example was not");
    }
}
