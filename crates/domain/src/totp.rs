//! Time-based one-time passwords (RFC 6238 over the HOTP of RFC 4226) as officers' authenticator apps compute
//! them: HMAC-SHA-1, 6 digits, 30-second steps, secrets exchanged in base32 (RFC 4648) inside an `otpauth://`
//! URI. Pure functions: the caller passes the time and the secret bytes; nothing here reads a clock or draws
//! random numbers. Which step may still be accepted (tolerance, replay) is decided by [`check`].

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Seconds per time step.
pub const PERIOD_SECONDS: i64 = 30;
/// Steps accepted on either side of the current one (clock drift between the server and the phone).
pub const TOLERANCE_STEPS: i64 = 1;
/// Length of a generated secret (RFC 4226 recommends 160 bits).
pub const SECRET_BYTES: usize = 20;

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as authenticator apps expect.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u64 = 0;
    let mut bits = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u64::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32_ALPHABET[((buffer >> bits) & 0x1f) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32_ALPHABET[((buffer << (5 - bits)) & 0x1f) as usize] as char);
    }
    out
}

/// Decodes base32, ignoring case, spaces, hyphens and padding; `None` on any other character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u64 = 0;
    let mut bits = 0;
    for c in text.chars().filter(|c| !matches!(c, ' ' | '-' | '=')) {
        let c = c.to_ascii_uppercase() as u8;
        let value = BASE32_ALPHABET.iter().position(|&a| a == c)? as u64;
        buffer = (buffer << 5) | value;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    Some(out)
}

/// HOTP (RFC 4226 §5.3) truncated to `digits` decimal digits.
pub fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(&counter.to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = (hash[hash.len() - 1] & 0x0f) as usize;
    let binary = u32::from_be_bytes([hash[offset] & 0x7f, hash[offset + 1], hash[offset + 2], hash[offset + 3]]);
    binary % 10u32.pow(digits)
}

/// The time step of a Unix time (RFC 6238 §4.2, T0 = 0).
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(PERIOD_SECONDS)
}

/// The 6-digit code of a step, zero-padded.
pub fn code_for_step(key: &[u8], step: i64) -> String {
    format!("{:0width$}", hotp(key, step as u64, DIGITS), width = DIGITS as usize)
}

/// A code as typed: six digits, spaces allowed between them (`123 456`).
pub fn parse_code(text: &str) -> Option<String> {
    let code: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    (code.len() == DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit())).then_some(code)
}

/// What a submitted code proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TotpCheck {
    /// The code of this step, within the tolerance and later than any step accepted before.
    Accepted { step: i64 },
    /// A valid code of a step already used (or older): refused, even inside the window.
    Replayed,
    /// Not the code of any step in the window.
    Wrong,
}

/// Checks `code` against the steps around `now_unix` (± [`TOLERANCE_STEPS`]). Only a step greater than
/// `last_step` is accepted, so that a code seen once (over a shoulder, in a log) never works again.
pub fn check(key: &[u8], code: &str, now_unix: i64, last_step: Option<i64>) -> TotpCheck {
    let Some(code) = parse_code(code) else { return TotpCheck::Wrong };
    let current = step_at(now_unix);
    let mut result = TotpCheck::Wrong;
    // Every step of the window is computed and compared in full, whichever matches, so the time taken says
    // nothing about which one did.
    for step in (current - TOLERANCE_STEPS)..=(current + TOLERANCE_STEPS) {
        if constant_time_eq(code_for_step(key, step).as_bytes(), code.as_bytes()) {
            let fresh = last_step.is_none_or(|last| step > last);
            result = match (result, fresh) {
                (TotpCheck::Accepted { .. }, _) => result,
                (_, true) => TotpCheck::Accepted { step },
                (_, false) => TotpCheck::Replayed,
            };
        }
    }
    result
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `otpauth://` URI (Key Uri Format) that authenticator apps read from a QR code or a paste.
pub fn otpauth_uri(issuer: &str, account: &str, secret_base32: &str) -> String {
    let issuer = percent_encode(issuer);
    format!(
        "otpauth://totp/{issuer}:{}?secret={secret_base32}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECONDS}",
        percent_encode(account)
    )
}

fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_KEY: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_4226_appendix_d_hotp_values() {
        let expected = [755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489];
        for (counter, value) in expected.iter().enumerate() {
            assert_eq!(hotp(RFC_KEY, counter as u64, 6), *value, "counter {counter}");
        }
    }

    #[test]
    fn rfc_6238_appendix_b_sha1_vectors() {
        let vectors: [(i64, u32); 6] = [
            (59, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for (time, value) in vectors {
            assert_eq!(hotp(RFC_KEY, step_at(time) as u64, 8), value, "T = {time}");
            // The 6-digit code is the last six of the eight.
            assert_eq!(code_for_step(RFC_KEY, step_at(time)), format!("{:06}", value % 1_000_000));
        }
    }

    #[test]
    fn base32_round_trips_and_matches_rfc_4648() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(base32_encode(b"f"), "MY");
        assert_eq!(base32_encode(RFC_KEY), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(base32_decode("gezd gnbv-gy3tqojqgezdgnbvgy3tqojq===").as_deref(), Some(RFC_KEY));
        assert_eq!(base32_decode("MZXW6YTBOI").as_deref(), Some(&b"foobar"[..]));
        assert_eq!(base32_decode("MZ1W"), None);
        for len in 0..41 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(base32_decode(&base32_encode(&bytes)), Some(bytes));
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let now = 1_750_000_015;
        let step = step_at(now);
        for offset in -1..=1 {
            let code = code_for_step(RFC_KEY, step + offset);
            assert_eq!(check(RFC_KEY, &code, now, None), TotpCheck::Accepted { step: step + offset });
        }
        for offset in [-3, -2, 2, 3] {
            assert_eq!(check(RFC_KEY, &code_for_step(RFC_KEY, step + offset), now, None), TotpCheck::Wrong);
        }
    }

    #[test]
    fn a_used_step_is_never_accepted_again() {
        let now = 1_750_000_015;
        let step = step_at(now);
        let code = code_for_step(RFC_KEY, step);
        assert_eq!(check(RFC_KEY, &code, now, Some(step)), TotpCheck::Replayed);
        assert_eq!(check(RFC_KEY, &code, now, Some(step + 1)), TotpCheck::Replayed);
        assert_eq!(check(RFC_KEY, &code, now, Some(step - 1)), TotpCheck::Accepted { step });
        // An older step's code after a newer one was used: refused.
        assert_eq!(check(RFC_KEY, &code_for_step(RFC_KEY, step - 1), now, Some(step)), TotpCheck::Replayed);
    }

    #[test]
    fn malformed_codes_are_wrong() {
        for code in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(check(RFC_KEY, code, 59, None), TotpCheck::Wrong, "{code}");
        }
        assert_eq!(parse_code(" 123 456 "), Some("123456".into()));
    }

    #[test]
    fn otpauth_uri_has_the_expected_shape() {
        assert_eq!(
            otpauth_uri("dinhdanh", "tuan.pm", "GEZDGNBV"),
            "otpauth://totp/dinhdanh:tuan.pm?secret=GEZDGNBV&issuer=dinhdanh&algorithm=SHA1&digits=6&period=30"
        );
        assert!(otpauth_uri("dinhdanh", "a b", "X").contains("dinhdanh:a%20b?"));
    }
}
