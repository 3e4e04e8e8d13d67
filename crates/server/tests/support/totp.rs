//! TOTP codes as an officer's authenticator app computes them (RFC 6238, HMAC-SHA-1, 30-second steps), with a
//! small implementation of the tests' own, never the server's; `officers.rs` checks it against the RFC's test
//! vectors.

use hmac::{Hmac, Mac};
use sha1::Sha1;

/// RFC 4648 base32, decoded without the server's code.
pub fn base32(text: &str) -> Vec<u8> {
    let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0);
    for c in text.trim_end_matches('=').bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'2'..=b'7' => c - b'2' + 26,
            _ => panic!("not base32: {text}"),
        };
        buffer = (buffer << 5) | u32::from(value);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
            buffer &= (1 << bits) - 1;
        }
    }
    out
}

/// RFC 6238 TOTP with HMAC-SHA-1 and 30-second steps, `digits` long.
pub fn totp(key: &[u8], unix_seconds: i64, digits: u32) -> String {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).unwrap();
    mac.update(&((unix_seconds / 30) as u64).to_be_bytes());
    let hash = mac.finalize().into_bytes();
    let offset = usize::from(hash[19] & 0x0f);
    let value = u32::from_be_bytes(hash[offset..offset + 4].try_into().unwrap()) & 0x7fff_ffff;
    format!("{:0width$}", value % 10u32.pow(digits), width = digits as usize)
}
