//! Bytes -> UTF-8 text, before any parser sees them.
//!
//! Order of evidence: a byte-order mark; the NUL pattern of UTF-16/32 markup
//! (a UTF-16 body never lies about that, whatever it declares); an XML
//! declaration in EBCDIC bytes (cp037, cp500: mainframe code pages that
//! encoding_rs lacks, decoded with anyxml-encoding's IBM tables); the HTTP
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
    let http = content_type.and_then(charset_param);
    // 2b. EBCDIC: markup that starts `<?xm` in EBCDIC bytes.
    if let Some(text) = decode_ebcdic(bytes, http, warnings) {
        return Cow::Owned(text);
    }
    // 3./4. Declared encodings, HTTP first, each believed only if the bytes agree.
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

/// An EBCDIC code page: IBM's mainframe encodings, which encoding_rs (the
/// web's encodings) lacks; feedparser reads them through Python's codecs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CodePage {
    /// US/Canada.
    Cp037,
    /// International; differs from cp037 in seven punctuation bytes (`[ ] ! | ^ ¢ ¬`).
    Cp500,
}

/// `<?xm` in EBCDIC (XML 1.0, appendix F): the bytes invariant across its
/// code pages.
const EBCDIC_XML_DECL: [u8; 4] = [0x4C, 0x6F, 0xA7, 0x94];

/// The text of an EBCDIC document (one that starts with an XML declaration
/// in EBCDIC), in the code page it or the HTTP charset declares; `None` for
/// any other document.
fn decode_ebcdic(bytes: &[u8], http: Option<&str>, warnings: &mut Vec<Warning>) -> Option<String> {
    let start = bytes
        .iter()
        .position(|b| !matches!(b, 0x40 | 0x05 | 0x15 | 0x25 | 0x0D))?;
    if !bytes[start..].starts_with(&EBCDIC_XML_DECL) {
        return None;
    }
    // The declaration's characters are the same in every EBCDIC code page.
    let head = ebcdic_to_string(&bytes[start..bytes.len().min(start + 256)], CodePage::Cp037);
    let decl = xml_declared_encoding(head.as_bytes());
    let declared = [http, decl.as_deref()]
        .into_iter()
        .flatten()
        .find_map(|label| code_page(label).map(|page| (label, page)));
    let page = match declared {
        Some((_, page)) => page,
        None => {
            warnings.push(Warning::new(
                WarningKind::EncodingGuessed,
                format!(
                    "EBCDIC markup declared as {}; read as cp037",
                    decl.as_deref()
                        .map_or("nothing".to_owned(), |d| format!("{d:?}"))
                ),
            ));
            CodePage::Cp037
        }
    };
    // NEL (0x15) is EBCDIC's line end: a line end, not a control character.
    Some(ebcdic_to_string(bytes, page).replace('\u{85}', "\n"))
}

/// The EBCDIC code page a label names, if it names one wiredesk reads.
fn code_page(label: &str) -> Option<CodePage> {
    let l: String = label
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | ' '))
        .collect::<String>()
        .to_ascii_lowercase();
    match l.as_str() {
        "cp037" | "cp37" | "ibm037" | "ibm37" | "csibm037" | "ebcdiccpus" | "ebcdiccpca"
        | "ebcdiccpwt" | "ebcdiccpnl" => Some(CodePage::Cp037),
        "cp500" | "ibm500" | "csibm500" | "ebcdiccpbe" | "ebcdiccpch" => Some(CodePage::Cp500),
        _ => None,
    }
}

/// `bytes` decoded in `page` (every byte maps to a character).
fn ebcdic_to_string(bytes: &[u8], page: CodePage) -> String {
    use anyxml_encoding::{DecodeError, Decoder, IBM037Decoder, IBM500Decoder};
    let mut decoder: Box<dyn Decoder> = match page {
        CodePage::Cp037 => Box::new(IBM037Decoder),
        CodePage::Cp500 => Box::new(IBM500Decoder),
    };
    // Each byte becomes one character of one or two UTF-8 bytes.
    let mut out = String::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        out.reserve(rest.len() * 2 + 4);
        let read = match decoder.decode(rest, &mut out, true) {
            Ok((read, _)) => read,
            Err(DecodeError::Malformed { read, .. }) => {
                out.push('\u{FFFD}');
                read
            }
            Err(_) => 0,
        };
        if read == 0 {
            break;
        }
        rest = rest.get(read..).unwrap_or_default();
    }
    out
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

    fn cp037(text: &str) -> Vec<u8> {
        // Enough of cp037 for markup: its invariant letters, digits and signs.
        let signs = [
            (' ', 0x40),
            ('.', 0x4B),
            ('<', 0x4C),
            ('(', 0x4D),
            ('+', 0x4E),
            ('&', 0x50),
            (')', 0x5D),
            (';', 0x5E),
            ('-', 0x60),
            ('/', 0x61),
            (',', 0x6B),
            ('>', 0x6E),
            ('?', 0x6F),
            (':', 0x7A),
            ('\'', 0x7D),
            ('=', 0x7E),
            ('"', 0x7F),
            ('\n', 0x25),
            ('\u{85}', 0x15),
        ];
        let span = |c: char, from: char, at: u8| at + (c as u8 - from as u8);
        text.chars()
            .map(|c| match c {
                'a'..='i' => span(c, 'a', 0x81),
                'j'..='r' => span(c, 'j', 0x91),
                's'..='z' => span(c, 's', 0xA2),
                'A'..='I' => span(c, 'A', 0xC1),
                'J'..='R' => span(c, 'J', 0xD1),
                'S'..='Z' => span(c, 'S', 0xE2),
                '0'..='9' => span(c, '0', 0xF0),
                other => signs
                    .iter()
                    .find(|(s, _)| *s == other)
                    .map(|(_, b)| *b)
                    .unwrap(),
            })
            .collect()
    }

    #[test]
    fn ebcdic_line_ends_are_line_ends_and_an_unknown_page_is_read_as_cp037() {
        let bytes =
            cp037("<?xml version=\"1.0\" encoding=\"ebcdic-x\"?>\u{85}<rss>A\nB\u{85}C</rss>");
        let mut w = Vec::new();
        let text = decode(&bytes, None, &url(), &mut w);
        assert_eq!(
            text,
            "<?xml version=\"1.0\" encoding=\"ebcdic-x\"?>\n<rss>A\nB\nC</rss>"
        );
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].kind, WarningKind::EncodingGuessed);
    }

    #[test]
    fn the_http_charset_may_name_the_ebcdic_page() {
        assert_eq!(code_page("IBM500"), Some(CodePage::Cp500));
        assert_eq!(code_page("ebcdic-cp-us"), Some(CodePage::Cp037));
        assert_eq!(code_page("cp1252"), None);
        // `[` is 0x4A in cp500 (and `¢` in cp037).
        let mut bytes = cp037("<?xml version=\"1.0\"?><rss>");
        bytes.push(0x4A);
        let text = decode(
            &bytes,
            Some("text/xml; charset=cp500"),
            &url(),
            &mut Vec::new(),
        );
        assert_eq!(text, "<?xml version=\"1.0\"?><rss>[");
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
