//! Where the feed starts: JSON, an XML root after any junk, or an HTML page
//! (refused).

use super::{MAX_PROLOG, Sniffed, doctype_end, local, starts_with_ci};

/// Finds the start of the feed: JSON, an XML root, or proof that it is neither.
pub(crate) fn sniff(text: &str) -> Sniffed {
    let s = text.as_bytes();
    let mut i = 0;
    let mut junk = false;
    while i < s.len() && i <= MAX_PROLOG {
        let b = s[i];
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if !text.is_char_boundary(i) {
            i += 1;
            continue;
        }
        if text[i..].starts_with('\u{FEFF}') {
            i += 3;
            continue;
        }
        if b == b'{' && looks_like_json_object(&text[i + 1..]) {
            return Sniffed::Json(i);
        }
        if b != b'<' {
            junk = true;
            i += text[i..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let rest = &text[i..];
        if rest.starts_with("<?") {
            i += rest.find("?>").map_or(s.len(), |p| p + 2);
        } else if rest.starts_with("<!--") {
            i += rest.find("-->").map_or(s.len(), |p| p + 3);
        } else if starts_with_ci(rest, "<!doctype") {
            let end = doctype_end(rest).unwrap_or(rest.len());
            let root = rest[9..end]
                .trim_start()
                .split(|c: char| c.is_whitespace() || c == '>')
                .next();
            if root.is_some_and(|r| r.eq_ignore_ascii_case("html")) {
                return Sniffed::NotAFeed("an HTML page (<!DOCTYPE html>), not a feed".into());
            }
            i += end;
        } else if rest.starts_with("</") || rest.starts_with("<!") {
            junk = true;
            i += rest.find('>').map_or(s.len(), |p| p + 1);
        } else {
            let name_len = rest[1..]
                .find(|c: char| c.is_whitespace() || c == '>' || c == '/')
                .unwrap_or(rest.len() - 1);
            let name = &rest[1..1 + name_len];
            match local(name) {
                // An Atom entry document (RFC 4287 section 2) served alone is a
                // feed of one entry, as feedparser reads it.
                "rss" | "feed" | "RDF" | "entry" => return Sniffed::Xml { root: i, junk },
                l if l.eq_ignore_ascii_case("html")
                    || l.eq_ignore_ascii_case("head")
                    || l.eq_ignore_ascii_case("body") =>
                {
                    return Sniffed::NotAFeed(format!("an HTML page (<{name}>), not a feed"));
                }
                _ => {
                    junk = true;
                    i += rest.find('>').map_or(s.len(), |p| p + 1);
                }
            }
        }
    }
    if text.trim().is_empty() {
        Sniffed::NotAFeed("the body is empty".into())
    } else {
        Sniffed::NotAFeed("no RSS, Atom, RDF or JSON Feed root found".into())
    }
}

fn looks_like_json_object(after_brace: &str) -> bool {
    matches!(
        after_brace.trim_start().as_bytes().first(),
        Some(b'"') | Some(b'}')
    )
}
