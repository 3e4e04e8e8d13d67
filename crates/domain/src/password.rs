//! The password rules of NIST SP 800-63B §5.1.1.2: at least 8 characters, at most 128, no composition rules,
//! refused when found in a list of common passwords or when it is the holder's own identifier. Hashing
//! (argon2id) is the server's job; this module only decides whether a password may be chosen.

use std::collections::HashSet;
use std::sync::OnceLock;

use thiserror::Error;

pub const MIN_PASSWORD_CHARS: usize = 8;
pub const MAX_PASSWORD_CHARS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PasswordError {
    #[error("the password must have at least 8 characters")]
    TooShort,
    #[error("the password must have at most 128 characters")]
    TooLong,
    #[error("this password is too common; choose one that is harder to guess")]
    Common,
    #[error("the password must not be your identification or passport number")]
    IsIdentifier,
}

const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().filter(|l| !l.starts_with("# ") && !l.is_empty()).collect())
}

/// Checks a new password. `identifiers` are the holder's own numbers (identification or passport number),
/// which must not serve as the password.
pub fn check_new_password(password: &str, identifiers: &[&str]) -> Result<(), PasswordError> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_CHARS {
        return Err(PasswordError::TooShort);
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(PasswordError::TooLong);
    }
    let lower = password.to_lowercase();
    if common_passwords().contains(lower.as_str()) {
        return Err(PasswordError::Common);
    }
    if identifiers.iter().any(|id| !id.is_empty() && lower == id.to_lowercase()) {
        return Err(PasswordError::IsIdentifier);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_limits() {
        assert_eq!(check_new_password("Ab1!xyz", &[]), Err(PasswordError::TooShort));
        assert_eq!(check_new_password(&"x".repeat(129), &[]), Err(PasswordError::TooLong));
        // Eight characters of Vietnamese count as eight, not as their UTF-8 bytes.
        assert_eq!(check_new_password("đường", &[]), Err(PasswordError::TooShort));
    }

    #[test]
    fn common_passwords_are_refused_in_any_case() {
        assert_eq!(check_new_password("password", &[]), Err(PasswordError::Common));
        assert_eq!(check_new_password("PassWord", &[]), Err(PasswordError::Common));
        assert_eq!(check_new_password("12345678", &[]), Err(PasswordError::Common));
        assert_eq!(check_new_password("anhyeuem123", &[]), Err(PasswordError::Common));
        assert!(common_passwords().len() > 90_000);
    }

    #[test]
    fn no_composition_rules() {
        assert_eq!(check_new_password("hoa sen nở trên hồ tây", &[]), Ok(()));
    }

    #[test]
    fn own_identifier_is_refused() {
        assert_eq!(check_new_password("001190123456", &["001190123456"]), Err(PasswordError::IsIdentifier));
    }
}
