//! Character-level repairs: references (`&`, HTML entities, cp1252),
//! control characters and non-characters, and attribute values.

use html5ever::data::{C1_REPLACEMENTS, NAMED_ENTITIES};

use super::{Counts, Scanner};

/// Bytes that end a run of plain text: markup, references, control characters
/// and the lead bytes of C1 controls (C2 80..9F) and U+FFFE/U+FFFF (EF BF BE/BF).
const fn special_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = !(b == 0x09 || b == 0x0A || b == 0x0D);
        b += 1;
    }
    t[0x7F] = true;
    t[b'<' as usize] = true;
    t[b'&' as usize] = true;
    t[0xC2] = true;
    t[0xEF] = true;
    t
}
pub(super) static SPECIAL: [bool; 256] = special_table();

/// Bytes that may start a character [`illegal_char_len`] removes.
static MAY_BE_ILLEGAL: [bool; 256] = {
    let mut t = special_table();
    t[b'<' as usize] = false;
    t[b'&' as usize] = false;
    t
};

/// Length of a character to remove at `s[i]` (control/NUL/C1/non-character), or 0.
pub(super) fn illegal_char_len(s: &[u8], i: usize) -> usize {
    match s[i] {
        0x09 | 0x0A | 0x0D => 0,
        b if b < 0x20 || b == 0x7F => 1,
        0xC2 if matches!(s.get(i + 1), Some(0x80..=0x9F)) => 2,
        0xEF if s.get(i + 1) == Some(&0xBF) && matches!(s.get(i + 2), Some(0xBE | 0xBF)) => 3,
        _ => 0,
    }
}

impl Scanner<'_> {
    /// Copies attribute text, repairing `&`, `<` and control characters in it.
    pub(super) fn push_attrs(&mut self, attrs: &str) {
        if !attrs
            .bytes()
            .any(|b| b == b'&' || b == b'<' || SPECIAL[b as usize])
        {
            self.out.push_str(attrs);
            return;
        }
        for (k, v) in parse_attrs(attrs) {
            self.out.push(' ');
            self.out.push_str(&k);
            self.out.push_str("=\"");
            self.push_attr_value(&v);
            self.out.push('"');
        }
    }

    pub(super) fn push_attr_list(&mut self, list: &[(String, String)]) {
        for (k, v) in list {
            self.out.push(' ');
            self.out.push_str(k);
            self.out.push_str("=\"");
            self.push_attr_value(v);
            self.out.push('"');
        }
    }

    fn push_attr_value(&mut self, v: &str) {
        let s = v.as_bytes();
        let mut i = 0;
        while i < s.len() {
            let start = i;
            while i < s.len() && !SPECIAL[s[i] as usize] && s[i] != b'"' {
                i += 1;
            }
            self.out.push_str(&v[start..i]);
            if i >= s.len() {
                break;
            }
            match s[i] {
                b'&' => i = reference_into(v, i, &mut self.out, &mut self.counts),
                b'<' => {
                    self.out.push_str("&lt;");
                    self.counts.lt += 1;
                    i += 1;
                }
                b'"' => {
                    self.out.push_str("&quot;");
                    i += 1;
                }
                _ => {
                    let bad = illegal_char_len(s, i);
                    if bad > 0 {
                        self.counts.ctrl += 1;
                        i += bad;
                    } else {
                        let l = v[i..].chars().next().map_or(1, char::len_utf8);
                        self.out.push_str(&v[i..i + l]);
                        i += l;
                    }
                }
            }
        }
    }

    pub(super) fn reference(&mut self, i: usize) -> usize {
        reference_into(self.text, i, &mut self.out, &mut self.counts)
    }

    /// Copies a comment/CDATA/PI with control characters removed.
    pub(super) fn push_filtered(&mut self, chunk: &str, _text: bool) {
        // One pass, copying runs between the characters removed.
        let s = chunk.as_bytes();
        let (mut i, mut start) = (0, 0);
        while i < s.len() {
            if !MAY_BE_ILLEGAL[s[i] as usize] {
                i += 1;
                continue;
            }
            let bad = illegal_char_len(s, i);
            if bad > 0 {
                self.out.push_str(&chunk[start..i]);
                self.counts.ctrl += 1;
                i += bad;
                start = i;
            } else {
                i += 1;
            }
        }
        self.out.push_str(&chunk[start..]);
    }
}

/// Handles the `&` at `s[i]` of `text`, writing XML-safe output; returns the next offset.
fn reference_into(text: &str, i: usize, out: &mut String, counts: &mut Counts) -> usize {
    let rest = &text[i + 1..];
    let b = rest.as_bytes();
    // Numeric reference.
    if b.first() == Some(&b'#') {
        let (digits, radix, skip) = if matches!(b.get(1), Some(b'x' | b'X')) {
            (&rest[2..], 16, 2)
        } else {
            (&rest[1..], 10, 1)
        };
        let len = digits
            .bytes()
            .take(8)
            .take_while(|c| c.is_ascii_hexdigit())
            .count();
        let len = if radix == 10 {
            digits
                .bytes()
                .take(len)
                .take_while(u8::is_ascii_digit)
                .count()
        } else {
            len
        };
        if len > 0 && digits.as_bytes().get(len) == Some(&b';') {
            let end = i + 1 + skip + len + 1;
            let value = u32::from_str_radix(&digits[..len], radix).ok();
            match value {
                Some(v @ 0x80..=0x9F) => {
                    // cp1252 bytes written as references (&#150;): the character meant.
                    match C1_REPLACEMENTS[(v - 0x80) as usize] {
                        Some(c) => {
                            out.push(c);
                            counts.entities += 1;
                        }
                        None => counts.ctrl += 1,
                    }
                }
                Some(v) if is_xml_char(v) => out.push_str(&text[i..end]),
                _ => counts.ctrl += 1,
            }
            return end;
        }
        counts.amp += 1;
        out.push_str("&amp;");
        return i + 1;
    }
    // Named reference.
    let len = b
        .iter()
        .take(32)
        .take_while(|c| c.is_ascii_alphanumeric())
        .count();
    if len > 0 && b.first().is_some_and(u8::is_ascii_alphabetic) && b.get(len) == Some(&b';') {
        let name = &rest[..len];
        let end = i + 1 + len + 1;
        if matches!(name, "amp" | "lt" | "gt" | "quot" | "apos") {
            out.push_str(&text[i..end]);
            return end;
        }
        if let Some(&(c1, c2)) = NAMED_ENTITIES.get(&rest[..len + 1]) {
            for cp in [c1, c2] {
                if cp != 0 {
                    out.push_str("&#");
                    out.push_str(&cp.to_string());
                    out.push(';');
                }
            }
            counts.entities += 1;
            return end;
        }
        if counts.unknown_entities.len() < 5 {
            counts.unknown_entities.push(format!("&{name};"));
        }
    }
    counts.amp += 1;
    out.push_str("&amp;");
    i + 1
}

/// Decodes the references of an attribute value as written in a feed.
pub(super) fn unescape_attr(v: &str) -> String {
    if !v.contains('&') {
        return v.to_owned();
    }
    let mut out = String::new();
    let mut counts = Counts::default();
    let mut xml = String::new();
    let mut i = 0;
    while let Some(p) = v[i..].find('&') {
        xml.push_str(&v[i..i + p]);
        i = reference_into(v, i + p, &mut xml, &mut counts);
    }
    xml.push_str(&v[i..]);
    // `xml` now has only the five XML entities and numeric references.
    let mut rest = xml.as_str();
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let r = &rest[p..];
        let end = r.find(';').unwrap_or(0);
        let name = &r[1..end.max(1)];
        let ch = match name {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            n => n
                .strip_prefix("#x")
                .or_else(|| n.strip_prefix("#X"))
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| n.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match ch {
            Some(c) if end > 0 => {
                out.push(c);
                rest = &r[end + 1..];
            }
            _ => {
                out.push('&');
                rest = &r[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn is_xml_char(v: u32) -> bool {
    matches!(v, 0x9 | 0xA | 0xD | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

/// A forgiving attribute parser: `k="v"`, `k='v'`, `k=v`, bare `k`.
/// Values are returned raw (references not decoded).
pub(crate) fn parse_attrs(attrs: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let s = attrs;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
            i += 1;
        }
        let ks = i;
        while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'=' && b[i] != b'/' {
            i += 1;
        }
        if ks == i {
            i += 1;
            continue;
        }
        let key = &s[ks..i];
        while i < b.len() && b[i].is_ascii_whitespace() {
            i += 1;
        }
        if i < b.len() && b[i] == b'=' {
            i += 1;
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let value = if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                let q = b[i];
                let vs = i + 1;
                let ve = s[vs..]
                    .bytes()
                    .position(|c| c == q)
                    .map_or(b.len(), |p| vs + p);
                i = (ve + 1).min(b.len());
                &s[vs..ve]
            } else {
                let vs = i;
                while i < b.len() && !b[i].is_ascii_whitespace() {
                    i += 1;
                }
                &s[vs..i]
            };
            if !out.iter().any(|(k, _): &(String, String)| k == key) {
                out.push((key.to_owned(), value.to_owned()));
            }
        } else if !out.iter().any(|(k, _): &(String, String)| k == key) {
            out.push((key.to_owned(), key.to_owned()));
        }
    }
    out
}
