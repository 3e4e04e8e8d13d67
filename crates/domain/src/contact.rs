//! The channels a holder registers to receive codes and notices: a phone number (kept in E.164 form) and an
//! e-mail address.

use std::fmt;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ContactError {
    #[error("the phone number must be a Vietnamese number (0xxxxxxxxx) or an international one (+ and 8 to 15 digits)")]
    Phone,
    #[error("the e-mail address is not valid")]
    Email,
    #[error("give a phone number or an e-mail address (or both) to receive the activation code")]
    NoChannel,
}

string_enum! {
    Channel {
        Sms => "sms",
        Email => "email",
    }
}

/// A phone number in E.164 form (`+84912345678`). Vietnamese numbers may be given as `0912345678`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(s: &str) -> Result<Self, ContactError> {
        let compact: String = s.chars().filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')')).collect();
        let e164 = if let Some(rest) = compact.strip_prefix('+') {
            rest.to_owned()
        } else if let Some(rest) = compact.strip_prefix("00") {
            rest.to_owned()
        } else if let Some(rest) = compact.strip_prefix('0') {
            // Mobile numbers have 9 digits after the 0, landlines (area code + subscriber) 10.
            if !(9..=10).contains(&rest.len()) {
                return Err(ContactError::Phone);
            }
            format!("84{rest}")
        } else {
            return Err(ContactError::Phone);
        };
        if !(8..=15).contains(&e164.len()) || !e164.bytes().all(|b| b.is_ascii_digit()) || e164.starts_with('0') {
            return Err(ContactError::Phone);
        }
        Ok(Self(format!("+{e164}")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last three digits, for telling a holder where a code went without disclosing the number.
    pub fn masked(&self) -> String {
        format!("•••{}", &self.0[self.0.len() - 3..])
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// An e-mail address: one `@`, a non-empty local part, a domain with a dot; the domain is lower-cased.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub fn parse(s: &str) -> Result<Self, ContactError> {
        let s = s.trim();
        let (local, domain) = s.rsplit_once('@').ok_or(ContactError::Email)?;
        let valid = !local.is_empty()
            && local.len() <= 64
            && s.len() <= 254
            && !local.contains('@')
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && !s.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';'));
        if !valid {
            return Err(ContactError::Email);
        }
        Ok(Self(format!("{local}@{}", domain.to_lowercase())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first letter and the domain, for telling a holder where a code went.
    pub fn masked(&self) -> String {
        let (local, domain) = self.0.rsplit_once('@').unwrap_or(("", ""));
        let first: String = local.chars().take(1).collect();
        format!("{first}•••@{domain}")
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vietnamese_local_numbers_become_e164() {
        assert_eq!(PhoneNumber::parse("0912 345 678").unwrap().as_str(), "+84912345678");
        assert_eq!(PhoneNumber::parse("+84912345678").unwrap().as_str(), "+84912345678");
        assert_eq!(PhoneNumber::parse("0084912345678").unwrap().as_str(), "+84912345678");
        assert_eq!(PhoneNumber::parse("024 3934 3137").unwrap().as_str(), "+842439343137");
    }

    #[test]
    fn bad_phone_numbers_are_refused() {
        for bad in ["", "912345678", "091234567", "091234567890", "+12", "+8491234567890123", "09123a5678"] {
            assert_eq!(PhoneNumber::parse(bad), Err(ContactError::Phone), "{bad}");
        }
    }

    #[test]
    fn emails_are_checked_and_domain_lowercased() {
        assert_eq!(Email::parse(" Mai@Example.VN ").unwrap().as_str(), "Mai@example.vn");
        for bad in ["", "mai", "@example.vn", "mai@example", "mai@.vn", "m ai@example.vn", "a@b@c.vn"] {
            assert_eq!(Email::parse(bad), Err(ContactError::Email), "{bad}");
        }
    }

    #[test]
    fn masks_hide_most_of_the_contact() {
        assert_eq!(PhoneNumber::parse("0912345678").unwrap().masked(), "•••678");
        assert_eq!(Email::parse("mai@example.vn").unwrap().masked(), "m•••@example.vn");
    }
}
