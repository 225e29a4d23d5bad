//! Bytes -> UTF-8 text, before any parser sees them.
//!
//! Order of evidence: a byte-order mark; the NUL pattern of UTF-16/32 markup
//! (a UTF-16 body never lies about that, whatever it declares); the HTTP
//! `charset`; the XML declaration; then a detector (chardetng). A declared
//! encoding is only believed when the bytes agree with it: UTF-8 must be
//! valid, and a legacy declaration on bytes that are valid, non-ASCII UTF-8
//! is taken to be wrong (the commonest lie on the web). Bytes that are mostly
//! UTF-8 with a few cp1252 bytes mixed in are repaired byte by byte.
//!
//! feed-rs panics on some UTF-16 inputs (see FIELD-NOTES), so it is only ever
//! given the UTF-8 text produced here, with the declaration rewritten.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, UTF_16BE, UTF_16LE, WINDOWS_1252};

use super::{Warning, WarningKind};

/// How many bytes the detector looks at: enough to be sure, cheap on big bodies.
const DETECTOR_SAMPLE: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wide {
    Utf16Le,
    Utf16Be,
    Utf32Le,
    Utf32Be,
}

/// Decodes `bytes` to UTF-8 text, never failing: the worst case is U+FFFD.
/// A leading BOM is not part of the result.
pub(crate) fn decode<'a>(
    bytes: &'a [u8],
    content_type: Option<&str>,
    url: &url::Url,
    warnings: &mut Vec<Warning>,
) -> Cow<'a, str> {
    // 1. Byte-order marks.
    if let Some(text) = decode_bom(bytes, url, warnings) {
        return text;
    }
    // 2. UTF-16/32 without a BOM: markup bytes interleaved with NULs.
    if let Some(wide) = sniff_wide(bytes) {
        return Cow::Owned(decode_wide(bytes, wide, warnings));
    }
    // 3./4. Declared encodings, HTTP first, each believed only if the bytes agree.
    let http = content_type.and_then(charset_param);
    let decl = xml_declared_encoding(bytes);
    // encoding_rs validates UTF-8 several times faster than `str::from_utf8`
    // on non-ASCII text, and borrows when the bytes are valid.
    let utf8 = match UTF_8.decode_without_bom_handling_and_without_replacement(bytes) {
        Some(std::borrow::Cow::Borrowed(s)) => Some(s),
        _ => None,
    };
    let mut rejected: Vec<String> = Vec::new();
    for (label, whence) in [(http, "HTTP charset"), (decl.as_deref(), "XML declaration")] {
        let Some(label) = label else { continue };
        if let Some(text) = decode_declared(bytes, utf8, label, whence, &mut rejected, warnings) {
            return text;
        }
    }
    // 5. No (believable) declaration.
    if let Some(s) = utf8 {
        if !rejected.is_empty() {
            warnings.push(Warning::new(
                WarningKind::EncodingGuessed,
                rejected.join("; "),
            ));
        }
        return Cow::Borrowed(s);
    }
    let why = if rejected.is_empty() {
        "no encoding declared and the bytes are not UTF-8".to_owned()
    } else {
        rejected.join("; ")
    };
    decode_utf8_repairing(bytes, &why, url, warnings)
}

/// The text after a byte-order mark, if `bytes` start with one (UTF-32
/// first: its LE mark starts with UTF-16's).
fn decode_bom<'a>(
    bytes: &'a [u8],
    url: &url::Url,
    warnings: &mut Vec<Warning>,
) -> Option<Cow<'a, str>> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return Some(decode_utf8_repairing(
            rest,
            "UTF-8 (byte-order mark)",
            url,
            warnings,
        ));
    }
    for (bom, wide) in [
        (&[0xFF, 0xFE, 0, 0][..], Wide::Utf32Le),
        (&[0, 0, 0xFE, 0xFF][..], Wide::Utf32Be),
        (&[0xFF, 0xFE][..], Wide::Utf16Le),
        (&[0xFE, 0xFF][..], Wide::Utf16Be),
    ] {
        if let Some(rest) = bytes.strip_prefix(bom) {
            return Some(Cow::Owned(decode_wide(rest, wide, warnings)));
        }
    }
    None
}

/// Decodes `bytes` as the encoding `label` that `whence` (the HTTP header,
/// the XML declaration) declares, if the bytes agree with it (`utf8`: the
/// same bytes if they are valid UTF-8); otherwise adds why not to
/// `rejected` (the reasons so far, which any warning quotes).
fn decode_declared<'a>(
    bytes: &'a [u8],
    utf8: Option<&'a str>,
    label: &str,
    whence: &str,
    rejected: &mut Vec<String>,
    warnings: &mut Vec<Warning>,
) -> Option<Cow<'a, str>> {
    match resolve_label(label) {
        Some(Label::Enc(enc)) if enc == UTF_8 => {
            if let Some(s) = utf8 {
                return Some(Cow::Borrowed(s));
            }
            rejected.push(format!(
                "{whence} says {label} but the bytes are not valid UTF-8"
            ));
        }
        Some(Label::Enc(enc)) => {
            if let Some(s) = utf8.filter(|s| !s.is_ascii()) {
                rejected.push(format!(
                    "{whence} says {label} but the bytes are valid UTF-8; decoded as UTF-8"
                ));
                warnings.push(Warning::new(
                    WarningKind::EncodingGuessed,
                    rejected.join("; "),
                ));
                return Some(Cow::Borrowed(s));
            }
            let (text, had_errors) = enc.decode_without_bom_handling(bytes);
            if !had_errors {
                if !rejected.is_empty() {
                    warnings.push(Warning::new(
                        WarningKind::EncodingGuessed,
                        format!("{}; used {whence} {label}", rejected.join("; ")),
                    ));
                }
                return Some(text);
            }
            rejected.push(format!(
                "{whence} says {label} but the bytes are not valid {}",
                enc.name()
            ));
        }
        Some(Label::Wide) => {
            rejected.push(format!(
                "{whence} says {label} but the bytes are not UTF-16/32"
            ));
        }
        None => rejected.push(format!("{whence} names an unknown encoding {label:?}")),
    }
    None
}

/// Decodes bytes that should be UTF-8 but may not be. Mostly-UTF-8 text with
/// stray bytes (cp1252 pasted into a UTF-8 page) is repaired byte by byte;
/// text with no UTF-8 multi-byte sequence at all is a legacy encoding, which
/// the detector names.
fn decode_utf8_repairing<'a>(
    bytes: &'a [u8],
    why: &str,
    url: &url::Url,
    warnings: &mut Vec<Warning>,
) -> Cow<'a, str> {
    if let Ok(s) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(s);
    }
    let (valid_multibyte, invalid) = utf8_census(bytes);
    if valid_multibyte > invalid {
        warnings.push(Warning::new(
            WarningKind::EncodingRepaired,
            format!("{why}: {invalid} invalid UTF-8 sequence(s) among valid UTF-8 were read as windows-1252"),
        ));
        return Cow::Owned(repair_mixed_utf8(bytes));
    }
    let enc = detect(bytes, url);
    let (text, _, had_errors) = enc.decode(bytes);
    warnings.push(Warning::new(
        WarningKind::EncodingGuessed,
        format!("{why}; detected {}", enc.name()),
    ));
    if had_errors {
        warnings.push(Warning::new(
            WarningKind::EncodingRepaired,
            format!("bytes invalid in {} were replaced with U+FFFD", enc.name()),
        ));
    }
    Cow::Owned(text.into_owned())
}

/// Counts valid multi-byte UTF-8 sequences and invalid sequences.
fn utf8_census(bytes: &[u8]) -> (usize, usize) {
    let (mut valid_multibyte, mut invalid) = (0usize, 0usize);
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                valid_multibyte += s.chars().filter(|c| !c.is_ascii()).count();
                return (valid_multibyte, invalid);
            }
            Err(e) => {
                let (good, after) = rest.split_at(e.valid_up_to());
                valid_multibyte += String::from_utf8_lossy(good)
                    .chars()
                    .filter(|c| !c.is_ascii())
                    .count();
                invalid += 1;
                let skip = e.error_len().unwrap_or(after.len()).max(1);
                rest = after.get(skip..).unwrap_or(&[]);
            }
        }
    }
}

/// Valid UTF-8 kept; each byte of an invalid sequence read as windows-1252.
fn repair_mixed_utf8(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() + 16);
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (good, after) = rest.split_at(e.valid_up_to());
                out.push_str(&String::from_utf8_lossy(good));
                let skip = e.error_len().unwrap_or(after.len()).max(1).min(after.len());
                let (bad, tail) = after.split_at(skip);
                let (fixed, _, _) = WINDOWS_1252.decode(bad);
                out.push_str(&fixed);
                rest = tail;
            }
        }
    }
}

fn detect(bytes: &[u8], url: &url::Url) -> &'static Encoding {
    let mut det = chardetng::EncodingDetector::new();
    let sample = &bytes[..bytes.len().min(DETECTOR_SAMPLE)];
    det.feed(sample, sample.len() == bytes.len());
    // chardetng asserts the TLD is a lower-case ASCII label; only pass one that is.
    let tld = url
        .host_str()
        .and_then(|h| h.rsplit('.').next())
        .filter(|t| {
            !t.is_empty()
                && t.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    det.guess(tld.map(str::as_bytes), false)
}

/// UTF-16 or UTF-32 without a BOM, told by where the NULs are in the markup.
fn sniff_wide(bytes: &[u8]) -> Option<Wide> {
    let n = bytes.len().min(512) / 4 * 4;
    if n < 4 {
        return None;
    }
    let mut zeros = [0usize; 4];
    for (i, b) in bytes[..n].iter().enumerate() {
        if *b == 0 {
            zeros[i % 4] += 1;
        }
    }
    let quarter = n / 4;
    // In UTF-32 the top byte is always 0 and the next nearly always (BMP);
    // in UTF-16 markup the high byte of most characters is 0.
    let all = |z: usize| z * 10 >= quarter * 9;
    let most = |z: usize| z * 2 >= quarter;
    let few = |z: usize| z * 10 <= quarter;
    if all(zeros[2]) && all(zeros[3]) && few(zeros[0]) {
        Some(Wide::Utf32Le)
    } else if all(zeros[0]) && all(zeros[1]) && few(zeros[3]) {
        Some(Wide::Utf32Be)
    } else if most(zeros[1]) && most(zeros[3]) && few(zeros[0]) && few(zeros[2]) {
        Some(Wide::Utf16Le)
    } else if most(zeros[0]) && most(zeros[2]) && few(zeros[1]) && few(zeros[3]) {
        Some(Wide::Utf16Be)
    } else {
        None
    }
}

fn decode_wide(bytes: &[u8], wide: Wide, warnings: &mut Vec<Warning>) -> String {
    let (text, had_errors) = match wide {
        Wide::Utf16Le => {
            let (t, e) = UTF_16LE.decode_without_bom_handling(bytes);
            (t.into_owned(), e)
        }
        Wide::Utf16Be => {
            let (t, e) = UTF_16BE.decode_without_bom_handling(bytes);
            (t.into_owned(), e)
        }
        // encoding_rs has no UTF-32 (the web does not use it); it is a fixed-width format.
        Wide::Utf32Le | Wide::Utf32Be => {
            let mut errors = !bytes.len().is_multiple_of(4);
            let text = bytes
                .chunks_exact(4)
                .map(|c| {
                    let arr = [c[0], c[1], c[2], c[3]];
                    let v = if wide == Wide::Utf32Le {
                        u32::from_le_bytes(arr)
                    } else {
                        u32::from_be_bytes(arr)
                    };
                    char::from_u32(v).unwrap_or_else(|| {
                        errors = true;
                        '\u{FFFD}'
                    })
                })
                .collect();
            (text, errors)
        }
    };
    if had_errors {
        warnings.push(Warning::new(
            WarningKind::EncodingRepaired,
            format!("invalid {wide:?} sequences were replaced with U+FFFD"),
        ));
    }
    text
}

enum Label {
    Enc(&'static Encoding),
    /// UTF-16/32 named in a document whose bytes are not (handled above).
    Wide,
}

fn resolve_label(label: &str) -> Option<Label> {
    let l = label
        .trim()
        .trim_matches(|c| c == '"' || c == '\'')
        .to_ascii_lowercase()
        .replace('_', "-");
    if l.starts_with("utf-16") || l.starts_with("utf-32") || l.starts_with("ucs-") || l == "unicode"
    {
        return Some(Label::Wide);
    }
    // Names the WHATWG list lacks but real feeds use.
    let alias = match l.as_str() {
        "utf8" => "utf-8",
        "cp932" | "ms932" | "windows-932" | "sjis" | "shift-jis" => "shift_jis",
        "cp936" | "ms936" | "windows-936" => "gbk",
        "cp949" | "ms949" | "windows-949" | "uhc" => "euc-kr",
        "cp950" | "ms950" | "windows-950" | "big5-hkscs" => "big5",
        "eucjp" => "euc-jp",
        "euckr" => "euc-kr",
        "latin-1" => "iso-8859-1",
        other => other,
    };
    let alias = alias
        .strip_prefix("cp125")
        .map(|d| format!("windows-125{d}"))
        .unwrap_or_else(|| alias.to_owned());
    Encoding::for_label_no_replacement(alias.as_bytes()).map(Label::Enc)
}

/// The `charset` parameter of a Content-Type header.
fn charset_param(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|p| {
        let (k, v) = p.split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| v.trim().trim_matches(|c| c == '"' || c == '\''))
            .filter(|v| !v.is_empty())
    })
}

/// The `encoding` of an XML declaration near the start (junk may precede it).
fn xml_declared_encoding(bytes: &[u8]) -> Option<String> {
    let head = &bytes[..bytes.len().min(4096)];
    let start = find(head, b"<?xml")?;
    let decl = &head[start..];
    let end = find(decl, b"?>").unwrap_or(decl.len());
    let decl = &decl[..end];
    let at = find(decl, b"encoding")? + "encoding".len();
    let rest = decl[at..]
        .iter()
        .position(|b| *b == b'=')
        .map(|p| &decl[at + p + 1..])?;
    let rest = rest.trim_ascii_start();
    let quote = *rest.first()?;
    if quote != b'"' && quote != b'\'' {
        return None;
    }
    let value = &rest[1..];
    let close = value.iter().position(|b| *b == quote)?;
    let label = std::str::from_utf8(&value[..close]).ok()?.trim();
    (!label.is_empty() && label.len() < 40).then(|| label.to_owned())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> url::Url {
        url::Url::parse("https://example.org/feed").unwrap()
    }

    #[test]
    fn a_charset_parameter_is_read_from_the_content_type() {
        assert_eq!(
            charset_param("text/xml; charset=\"ISO-8859-2\""),
            Some("ISO-8859-2")
        );
        assert_eq!(charset_param("text/xml"), None);
    }

    #[test]
    fn the_xml_declaration_encoding_is_found_after_junk() {
        let b = b"junk\n<?xml version='1.0' encoding = 'koi8-r' ?><rss/>";
        assert_eq!(xml_declared_encoding(b).as_deref(), Some("koi8-r"));
    }

    #[test]
    fn cp1252_bytes_declared_as_utf8_are_repaired() {
        let mut w = Vec::new();
        let b = b"<?xml version=\"1.0\" encoding=\"utf-8\"?><t>caf\xe9 \x93quoted\x94</t>";
        let s = decode(b, None, &url(), &mut w);
        assert!(s.contains("café “quoted”"), "{s}");
        assert!(!w.is_empty());
    }

    #[test]
    fn mixed_utf8_and_cp1252_keeps_the_utf8_and_repairs_the_rest() {
        let mut w = Vec::new();
        let b = "<t>naïve — ok</t>"
            .as_bytes()
            .iter()
            .chain(b"<u>caf\xe9</u>")
            .copied()
            .collect::<Vec<_>>();
        let s = decode(&b, None, &url(), &mut w);
        assert_eq!(s, "<t>naïve — ok</t><u>café</u>");
    }

    #[test]
    fn a_latin1_declaration_on_utf8_bytes_is_overruled() {
        let mut w = Vec::new();
        let b = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?><t>Grüße</t>".as_bytes();
        assert!(decode(b, None, &url(), &mut w).contains("Grüße"));
        assert_eq!(w[0].kind, WarningKind::EncodingGuessed);
    }

    #[test]
    fn utf16_without_a_bom_is_recognised_by_its_nuls() {
        let mut w = Vec::new();
        let s = "<?xml version=\"1.0\"?><t>é</t>";
        let le: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
        let be: Vec<u8> = s.encode_utf16().flat_map(u16::to_be_bytes).collect();
        assert_eq!(decode(&le, None, &url(), &mut w), s);
        assert_eq!(decode(&be, None, &url(), &mut w), s);
    }

    #[test]
    fn utf32_is_decoded_with_and_without_a_bom() {
        let mut w = Vec::new();
        let s = "<t>日本</t>";
        let le: Vec<u8> = s.chars().flat_map(|c| (c as u32).to_le_bytes()).collect();
        let be: Vec<u8> = s.chars().flat_map(|c| (c as u32).to_be_bytes()).collect();
        assert_eq!(decode(&le, None, &url(), &mut w), s);
        assert_eq!(decode(&be, None, &url(), &mut w), s);
        let with_bom: Vec<u8> = [0xFF, 0xFE, 0, 0].iter().copied().chain(le).collect();
        assert_eq!(decode(&with_bom, None, &url(), &mut w), s);
    }
}
