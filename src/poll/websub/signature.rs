//! Checking a pushed body's `X-Hub-Signature` (WebSub §8): `method=hex`,
//! the HMAC of the body under the subscription's `hub.secret`, with
//! sha1, sha256, sha384 or sha512; compared in constant time.

use hmac::{Hmac, Mac};
use subtle::ConstantTimeEq;

/// What a push's signature came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    /// It matches: the hub we subscribed with sent this body.
    Good,
    /// No `X-Hub-Signature` header.
    Missing,
    /// A method we do not know, or a value that is not hex.
    Unreadable,
    /// Well-formed, but not this body's under our secret.
    Wrong,
}

impl Signature {
    /// For the log line and the metric.
    pub fn as_str(self) -> &'static str {
        match self {
            Signature::Good => "good",
            Signature::Missing => "missing",
            Signature::Unreadable => "unreadable",
            Signature::Wrong => "wrong",
        }
    }
}

/// Checks `header` (the `X-Hub-Signature` value, if any) against `body`
/// under `secret`.
pub fn check(header: Option<&str>, secret: &[u8], body: &[u8]) -> Signature {
    let Some(header) = header else {
        return Signature::Missing;
    };
    let Some((method, hex)) = header.trim().split_once('=') else {
        return Signature::Unreadable;
    };
    let Some(given) = from_hex(hex.trim()) else {
        return Signature::Unreadable;
    };
    let expected = match method.trim().to_ascii_lowercase().as_str() {
        "sha1" => mac::<Hmac<sha1::Sha1>>(secret, body),
        "sha256" => mac::<Hmac<sha2::Sha256>>(secret, body),
        "sha384" => mac::<Hmac<sha2::Sha384>>(secret, body),
        "sha512" => mac::<Hmac<sha2::Sha512>>(secret, body),
        _ => return Signature::Unreadable,
    };
    if expected.len() == given.len() && bool::from(expected.ct_eq(&given)) {
        Signature::Good
    } else {
        Signature::Wrong
    }
}

fn mac<M: Mac + hmac::digest::KeyInit>(secret: &[u8], body: &[u8]) -> Vec<u8> {
    // HMAC takes a key of any length.
    match <M as hmac::digest::KeyInit>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(body);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 256 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// `bytes` as lowercase hex (tokens, secrets, and the tests' signatures).
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `n` random bytes from the operating system, as hex: callback tokens,
/// `hub.secret`s and our hub's challenges, which must not be guessable.
pub fn random_hex(n: usize) -> Result<String, String> {
    let mut buf = vec![0u8; n];
    getrandom::getrandom(&mut buf).map_err(|e| format!("no random bytes from the OS: {e}"))?;
    Ok(to_hex(&buf))
}

/// `sha256=…` of `body` under `secret`: what our hub sends with a
/// delivery (and the tests' hubs with a push).
pub fn sign_sha256(secret: &[u8], body: &[u8]) -> String {
    format!(
        "sha256={}",
        to_hex(&mac::<Hmac<sha2::Sha256>>(secret, body))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_sent_is_rfc_4231_hmac_sha256_in_hex() {
        // RFC 4231, test case 2.
        assert_eq!(
            sign_sha256(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn random_hex_is_as_long_as_asked_and_differs_each_time() {
        let (a, b) = (random_hex(24).unwrap(), random_hex(24).unwrap());
        assert_eq!(a.len(), 48);
        assert_ne!(a, b);
    }

    // RFC 4231 test case 2 (HMAC-SHA256), and the same key and data under
    // SHA-1 (RFC 2202 test case 2).
    const KEY: &[u8] = b"Jefe";
    const DATA: &[u8] = b"what do ya want for nothing?";

    #[test]
    fn a_sha256_signature_of_the_body_under_our_secret_is_good() {
        let header = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(check(Some(header), KEY, DATA), Signature::Good);
        assert_eq!(sign_sha256(KEY, DATA), header);
    }

    #[test]
    fn a_sha1_signature_is_good_too() {
        let header = "sha1=effcdf6ae5eb2fa2d27416d5f184df9c259a7c79";
        assert_eq!(check(Some(header), KEY, DATA), Signature::Good);
    }

    #[test]
    fn another_body_another_secret_no_header_or_nonsense_are_not_good() {
        let header = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
        assert_eq!(check(Some(header), KEY, b"another body"), Signature::Wrong);
        assert_eq!(check(Some(header), b"other", DATA), Signature::Wrong);
        assert_eq!(check(None, KEY, DATA), Signature::Missing);
        assert_eq!(check(Some("md5=abcd"), KEY, DATA), Signature::Unreadable);
        assert_eq!(check(Some("sha256=zz"), KEY, DATA), Signature::Unreadable);
        assert_eq!(check(Some("sha256"), KEY, DATA), Signature::Unreadable);
        assert_eq!(check(Some("sha256=5bdc"), KEY, DATA), Signature::Wrong);
    }
}
