//! Text and attribute values as html5ever reads them and its serialiser
//! writes them: character references decoded exactly as its tokenizer
//! does (or refused), and the serialiser's escaping.

use html5ever::data::NAMED_ENTITIES;

pub(super) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0C)
}

/// Characters (at byte `i`) that html5ever would report or change: NUL, CR,
/// other C0 controls but tab/newline, DEL and C1 controls. Refused.
fn is_unsafe_byte(s: &[u8], i: usize) -> bool {
    match s[i] {
        b'\t' | b'\n' => false,
        b if b < 0x20 || b == 0x7F => true,
        0xC2 => matches!(s.get(i + 1), Some(0x80..=0x9F)),
        _ => false,
    }
}

/// Decodes the character reference at `s[i] == '&'` exactly as html5ever's
/// tokenizer would, or refuses it. Returns the text and the offset after it.
fn reference(src: &str, i: usize, out: &mut String) -> Option<usize> {
    let s = src.as_bytes();
    let rest = &s[i + 1..];
    // `&` not followed by an alphanumeric or `#` is not a reference: text.
    if rest
        .first()
        .is_none_or(|b| !b.is_ascii_alphanumeric() && *b != b'#')
    {
        out.push('&');
        return Some(i + 1);
    }
    if rest.first() == Some(&b'#') {
        let (hex, start) = match rest.get(1) {
            Some(b'x' | b'X') => (true, 2),
            _ => (false, 1),
        };
        let digits = rest[start..]
            .iter()
            .take_while(|b| {
                if hex {
                    b.is_ascii_hexdigit()
                } else {
                    b.is_ascii_digit()
                }
            })
            .count();
        if digits == 0 || digits > 6 || rest.get(start + digits) != Some(&b';') {
            return None;
        }
        let text = &src[i + 1 + start..i + 1 + start + digits];
        let v = u32::from_str_radix(text, if hex { 16 } else { 10 }).ok()?;
        // Only values html5ever passes through unchanged and without note.
        let plain = matches!(v, 0x09 | 0x0A | 0x20..=0x7E | 0xA0..=0xD7FF | 0xE000..=0xFDCF | 0xFDF0..=0x10FFFF)
            && (v & 0xFFFE) != 0xFFFE;
        if !plain {
            return None;
        }
        out.push(char::from_u32(v)?);
        return Some(i + 1 + start + digits + 1);
    }
    let len = rest
        .iter()
        .take(40)
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    if len == 0 || !rest[0].is_ascii_alphabetic() || rest.get(len) != Some(&b';') {
        return None;
    }
    // `name;` is in the table, so it is the longest match html5ever finds.
    let &(c1, c2) = NAMED_ENTITIES.get(&src[i + 1..i + 1 + len + 1])?;
    for cp in [c1, c2] {
        if cp != 0 {
            out.push(char::from_u32(cp)?);
        }
    }
    Some(i + 1 + len + 1)
}

/// Bytes that need a look while copying text: controls but tab/newline,
/// DEL, markup and reference characters, and 0xC2 (NBSP and C1 controls).
const fn text_special() -> [bool; 256] {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = !(b == 0x09 || b == 0x0A);
        b += 1;
    }
    t[0x7F] = true;
    t[b'&' as usize] = true;
    t[b'<' as usize] = true;
    t[b'>' as usize] = true;
    t[b'"' as usize] = true;
    t[0xC2] = true;
    t
}
static TEXT_SPECIAL: [bool; 256] = text_special();

/// Appends decoded text escaped as html5ever's serialiser does.
pub(super) fn push_escaped(out: &mut String, text: &str, attr: bool) {
    let s = text.as_bytes();
    let mut i = 0;
    while i < s.len() {
        let start = i;
        while i < s.len() && !matches!(s[i], b'&' | b'<' | b'>' | b'"' | 0xC2) {
            i += 1;
        }
        out.push_str(&text[start..i]);
        if i >= s.len() {
            break;
        }
        let (rep, len) = match s[i] {
            b'&' => ("&amp;", 1),
            b'<' => ("&lt;", 1),
            b'>' => ("&gt;", 1),
            b'"' if attr => ("&quot;", 1),
            b'"' => ("\"", 1),
            _ if s.get(i + 1) == Some(&0xA0) => ("&nbsp;", 2),
            // 0xC2 starting another character: copy it.
            _ => (&text[i..i + 2], 2),
        };
        out.push_str(rep);
        i += len;
    }
}

/// Copies the text from `src[from..]` up to the next `<` (returned, or the
/// end) to `out`, decoding its references and escaping it as html5ever's
/// serialiser does.
pub(super) fn push_text(src: &str, from: usize, out: &mut String) -> Option<usize> {
    let s = src.as_bytes();
    let to = s.len();
    let mut i = from;
    let mut tmp = String::new();
    while i < to {
        let start = i;
        while i < to && !TEXT_SPECIAL[s[i] as usize] {
            i += 1;
        }
        out.push_str(&src[start..i]);
        if i >= to {
            break;
        }
        match s[i] {
            b'<' => return Some(i),
            b'&' => {
                tmp.clear();
                i = reference(src, i, &mut tmp)?;
                if i > to {
                    return None;
                }
                push_escaped(out, &tmp, false);
            }
            b'>' => {
                out.push_str("&gt;");
                i += 1;
            }
            b'"' => {
                out.push('"');
                i += 1;
            }
            0xC2 => match s.get(i + 1) {
                Some(0xA0) => {
                    out.push_str("&nbsp;");
                    i += 2;
                }
                Some(0x80..=0x9F) | None => return None,
                Some(_) => {
                    out.push_str(&src[i..i + 2]);
                    i += 2;
                }
            },
            _ => return None,
        }
    }
    Some(to)
}

/// Decodes text or an attribute value `src[from..to]` (no markup inside).
pub(super) fn decode_into(src: &str, from: usize, to: usize, buf: &mut String) -> Option<()> {
    let s = src.as_bytes();
    let mut i = from;
    while i < to {
        let start = i;
        while i < to && s[i] != b'&' && !is_unsafe_byte(s, i) {
            i += 1;
        }
        buf.push_str(&src[start..i]);
        if i >= to {
            break;
        }
        if s[i] != b'&' {
            return None;
        }
        i = reference(src, i, buf)?;
        if i > to {
            return None;
        }
    }
    Some(())
}
