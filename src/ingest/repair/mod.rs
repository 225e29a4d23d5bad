//! One pass over the decoded text that turns "almost XML" into XML feed-rs
//! accepts, and remembers where each entry is.
//!
//! What it repairs (each counted into one precise [`Warning`]):
//! - junk before the root element (PHP warnings, stray text) is dropped; an
//!   HTML page is refused as [`IngestError::NotAFeed`];
//! - a bare `&` becomes `&amp;`; HTML entities (`&nbsp;`, `&eacute;`) become
//!   numeric references; `&#150;`-style cp1252 references become the character
//!   meant; references to illegal characters and raw control characters/NULs
//!   are removed; a `<` that starts no tag becomes `&lt;`;
//! - the DOCTYPE is removed *unexpanded* (no entity expansion, nothing fetched);
//! - unclosed elements are closed, stray end tags dropped, trailing junk after
//!   the root dropped; a truncated document is cut after its last complete
//!   entry and closed;
//! - dialects feed-rs rejects are normalised: `<rss>` with no/odd version ->
//!   2.0, RSS 0.90's namespace -> RSS 1.0's, Atom 0.3 -> Atom 1.0 names, Atom
//!   text `type`s outside text/html/xhtml mapped (or the element dropped when
//!   it carries base64/binary).
//!
//! It also records the byte span of each entry and of each entry's child
//! elements in the output, so `xmlfeed` can parse entry by entry, and field
//! by field, when feed-rs rejects the whole document.
//!
//! The work is split by job: [`sniff()`] finds the root, this file is the
//! scanner (the types, the main loop and the tokenizer), `tags` holds the
//! rules for start and end tags (entries, the root, Atom), `escape` the
//! character-level repairs (references, control characters, attributes),
//! and `finish` closes a truncated document and writes the warnings.

mod escape;
mod finish;
mod sniff;
mod tags;

use super::{IngestError, Warning, WarningKind};
use escape::{SPECIAL, illegal_char_len};

pub(crate) use sniff::sniff;

/// Elements nested deeper than this make the document malformed (no feed needs it).
pub(crate) const MAX_DEPTH: usize = 128;
/// How much junk may precede the root before we stop looking for one.
const MAX_PROLOG: usize = 64 * 1024;

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    Rss,
    Rdf,
    Atom,
}

/// What the body looks like, decided from its first markup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Sniffed {
    /// A JSON document starting at this byte offset.
    Json(usize),
    /// An XML feed whose root start tag is at this byte offset.
    Xml {
        root: usize,
        junk: bool,
    },
    NotAFeed(String),
}

/// One entry's place in [`Repaired::xml`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: usize,
    pub end: usize,
    /// Direct children: (start, end, local name).
    pub children: Vec<(usize, usize, String)>,
    /// RSS `<enclosure>`s of the entry: feed-rs drops them when the entry
    /// also has `media:content`, so they are read here.
    pub enclosures: Vec<crate::model::Enclosure>,
    /// The `xml:base` in force: the entry's own, else the root's.
    pub base: Option<String>,
    /// An RSS 1.0 item's `rdf:about` (unescaped): its link when it has no
    /// `<link>` (feed-rs drops such items).
    pub about: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawHints {
    pub ttl: Option<String>,
    pub update_period: Option<String>,
    pub update_frequency: Option<String>,
}

#[derive(Debug)]
pub(crate) struct Repaired {
    pub xml: String,
    pub dialect: Dialect,
    pub entries: Vec<Span>,
    /// Where the first entry starts (or the end of the document).
    pub header_end: usize,
    /// Closing tags that end the document after an entry (`</channel></rss>`).
    pub closers: String,
    pub hints: RawHints,
}

fn starts_with_ci(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// The end (exclusive) of a `<!DOCTYPE ...>` including an internal subset `[...]`.
fn doctype_end(s: &str) -> Option<usize> {
    let mut in_subset = false;
    let mut quote: Option<u8> = None;
    for (i, b) in s.bytes().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'[') => in_subset = true,
            (None, b']') => in_subset = false,
            (None, b'>') if !in_subset => return Some(i + 1),
            _ => {}
        }
    }
    None
}

/// `s.find("]]>")`, faster on long sections: `find(char)` is memchr-based.
fn find_cdata_end(s: &str) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = s[from..].find(']') {
        let at = from + p;
        if s[at..].starts_with("]]>") {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// A start tag: finds its '>' outside quotes in `b` (which starts with its
/// `<`). Stops at a `<` outside quotes; returns the '>' if found and the quote
/// still open at the end.
fn start_tag_end(b: &[u8]) -> (Option<usize>, Option<u8>) {
    let mut quote: Option<u8> = None;
    for (j, &c) in b.iter().enumerate().skip(1) {
        match (quote, c) {
            (Some(q), _) if c == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(c),
            (None, b'>') => return (Some(j), quote),
            (None, b'<') => break,
            _ => {}
        }
    }
    (None, quote)
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

#[derive(Debug, Default)]
struct Counts {
    amp: usize,
    entities: usize,
    unknown_entities: Vec<String>,
    ctrl: usize,
    lt: usize,
    closed: usize,
    stray: usize,
    trailing: bool,
}

struct Open {
    /// The name as written in the output (possibly renamed).
    name: String,
    /// The name as written in the input, for matching end tags.
    raw: String,
    out_start: usize,
    is_entry: bool,
    /// This element is a direct child of the entry being recorded.
    is_entry_child: bool,
}

struct Scanner<'a> {
    text: &'a str,
    s: &'a [u8],
    out: String,
    counts: Counts,
    stack: Vec<Open>,
    dialect: Dialect,
    atom03: bool,
    entries: Vec<Span>,
    current: Option<Span>,
    header_end: Option<usize>,
    closers: Option<String>,
    hints: RawHints,
    warnings: Vec<Warning>,
    root_closed: bool,
    root_base: Option<String>,
}

/// Repairs the XML document whose root starts at `root` (from [`sniff()`]).
pub(crate) fn repair(
    text: &str,
    root: usize,
    junk: bool,
    warnings: &mut Vec<Warning>,
) -> Result<Repaired, IngestError> {
    if junk {
        warnings.push(Warning::new(
            WarningKind::JunkRemoved,
            format!("{root} bytes of junk before the root element were removed"),
        ));
    }
    let root_name = text[root + 1..]
        .split(|c: char| c.is_whitespace() || c == '>' || c == '/')
        .next()
        .unwrap_or("");
    let dialect = match local(root_name) {
        "feed" | "entry" => Dialect::Atom,
        "RDF" => Dialect::Rdf,
        _ => Dialect::Rss,
    };
    let mut sc = Scanner {
        text,
        s: text.as_bytes(),
        out: String::with_capacity(text.len() + text.len() / 64 + 64),
        counts: Counts::default(),
        stack: Vec::new(),
        dialect,
        atom03: false,
        entries: Vec::new(),
        current: None,
        header_end: None,
        closers: None,
        hints: RawHints::default(),
        warnings: Vec::new(),
        root_closed: false,
        root_base: None,
    };
    sc.out.push_str(XML_DECL);
    let truncated_at = sc.run(root)?;
    Ok(sc.finish(truncated_at, warnings))
}

impl Scanner<'_> {
    /// Scans from `i`; returns the offset where the input was cut short, if it was.
    fn run(&mut self, mut i: usize) -> Result<Option<usize>, IngestError> {
        let (text, s) = (self.text, self.s);
        let n = s.len();
        while i < n {
            let start = i;
            while i < n && !SPECIAL[s[i] as usize] {
                i += 1;
            }
            self.out.push_str(&text[start..i]);
            if i >= n {
                break;
            }
            match s[i] {
                b'<' => match self.markup(i)? {
                    Some(next) => i = next,
                    None => return Ok(Some(i)),
                },
                b'&' => i = self.reference(i),
                _ => {
                    let bad = illegal_char_len(s, i);
                    if bad > 0 {
                        self.counts.ctrl += 1;
                        i += bad;
                    } else {
                        let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
                        self.out.push_str(&text[i..i + ch_len]);
                        i += ch_len;
                    }
                }
            }
            if self.root_closed {
                self.counts.trailing = !text[i..].trim().is_empty();
                return Ok(None);
            }
        }
        Ok((!self.stack.is_empty()).then_some(n))
    }

    /// Handles markup at `i` (a `<`); returns where to continue, or None when
    /// the input ends inside it.
    fn markup(&mut self, i: usize) -> Result<Option<usize>, IngestError> {
        let rest = &self.text[i..];
        if rest.starts_with("<!--") {
            let Some(end) = rest.find("-->") else {
                return Ok(None);
            };
            self.push_filtered(&rest[..end + 3], false);
            return Ok(Some(i + end + 3));
        }
        if rest.starts_with("<![CDATA[") {
            let Some(end) = find_cdata_end(rest) else {
                return Ok(None);
            };
            self.push_filtered(&rest[..end + 3], false);
            return Ok(Some(i + end + 3));
        }
        if starts_with_ci(rest, "<!doctype") {
            let Some(end) = doctype_end(rest) else {
                return Ok(None);
            };
            self.warnings.push(Warning::new(
                WarningKind::DoctypeRemoved,
                "a DOCTYPE inside the document was removed unexpanded",
            ));
            return Ok(Some(i + end));
        }
        if rest.starts_with("<?") {
            let Some(end) = rest.find("?>") else {
                return Ok(None);
            };
            if !starts_with_ci(rest, "<?xml ") {
                self.push_filtered(&rest[..end + 2], false);
            }
            return Ok(Some(i + end + 2));
        }
        if let Some(after) = rest.strip_prefix("</") {
            let Some(gt) = after.find('>') else {
                return Ok(None);
            };
            let name = after[..gt].trim();
            self.end_tag(name);
            return Ok(Some(i + 2 + gt + 1));
        }
        self.start_tag_at(i)
    }

    /// Handles a `<` that is neither a comment, CDATA, a DOCTYPE, a
    /// processing instruction nor an end tag: a start tag, or a stray `<`.
    fn start_tag_at(&mut self, i: usize) -> Result<Option<usize>, IngestError> {
        let rest = &self.text[i..];
        let starts_name = rest[1..]
            .chars()
            .next()
            .is_some_and(|c| c.is_alphabetic() || c == '_' || c == ':');
        if !starts_name {
            self.counts.lt += 1;
            self.out.push_str("&lt;");
            return Ok(Some(i + 1));
        }
        let b = rest.as_bytes();
        let (gt, quote) = start_tag_end(b);
        let Some(gt) = gt else {
            if quote.is_none() && b.iter().skip(1).any(|&c| c == b'<') {
                // `<name ... <` : not a tag after all.
                self.counts.lt += 1;
                self.out.push_str("&lt;");
                return Ok(Some(i + 1));
            }
            return Ok(None);
        };
        let inner = &rest[1..gt];
        let self_closing = inner.trim_end().ends_with('/');
        let inner = if self_closing {
            inner.trim_end().trim_end_matches('/')
        } else {
            inner
        };
        let name_len = inner
            .find(|c: char| c.is_whitespace())
            .unwrap_or(inner.len());
        let (name, attrs) = inner.split_at(name_len);
        self.start_tag(name, attrs, self_closing)?;
        let next = i + gt + 1;
        if !self_closing {
            self.capture_hint(name, next);
        }
        Ok(Some(next))
    }

    /// Remembers the text of `ttl` / `sy:updatePeriod` / `sy:updateFrequency`
    /// outside entries (the text runs until the next `<`).
    fn capture_hint(&mut self, name: &str, after: usize) {
        if self.current.is_some() || self.stack.len() > 3 {
            return;
        }
        let slot = match local(name) {
            "ttl" => &mut self.hints.ttl,
            "updatePeriod" => &mut self.hints.update_period,
            "updateFrequency" => &mut self.hints.update_frequency,
            _ => return,
        };
        let rest = &self.text[after..];
        let value: String = rest[..rest.find('<').unwrap_or(rest.len())]
            .chars()
            .take(64)
            .collect();
        let value = value.trim();
        if !value.is_empty() {
            *slot = Some(value.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fix(xml: &str) -> (Repaired, Vec<Warning>) {
        let mut w = Vec::new();
        let Sniffed::Xml { root, junk } = sniff(xml) else {
            panic!("not xml: {:?}", sniff(xml))
        };
        (repair(xml, root, junk, &mut w).unwrap(), w)
    }

    #[test]
    fn a_bare_ampersand_is_escaped_and_known_references_are_kept() {
        let (r, _) = fix("<rss version=\"2.0\"><t>Q&A &amp; &#233; &#xE9; a&b;</t></rss>");
        assert!(
            r.xml
                .contains("<t>Q&amp;A &amp; &#233; &#xE9; a&amp;b;</t>"),
            "{}",
            r.xml
        );
    }

    #[test]
    fn html_entities_become_numeric_references() {
        let (r, w) = fix("<rss version=\"2.0\"><t>caf&eacute;&nbsp;x</t></rss>");
        assert!(r.xml.contains("<t>caf&#233;&#160;x</t>"), "{}", r.xml);
        assert_eq!(w[0].kind, WarningKind::EntitiesRepaired);
    }

    #[test]
    fn control_characters_and_references_to_them_are_removed() {
        let (r, _) = fix("<rss version=\"2.0\"><t>a\u{0}b\u{1}c&#0;d&#x1F;e\u{85}f</t></rss>");
        assert!(r.xml.contains("<t>abcdef</t>"), "{}", r.xml);
    }

    #[test]
    fn the_end_of_a_cdata_section_is_its_first_terminator() {
        for s in ["]]>", "a]]>b]]>", "]]]>", "] ]]>", "]]", "", "x]", "]]]]]>"] {
            assert_eq!(find_cdata_end(s), s.find("]]>"), "{s:?}");
        }
    }

    #[test]
    fn cdata_is_copied_without_escaping() {
        let (r, _) = fix("<rss version=\"2.0\"><t><![CDATA[a & b <i>]]></t></rss>");
        assert!(r.xml.contains("<![CDATA[a & b <i>]]>"));
    }

    #[test]
    fn a_doctype_with_entity_declarations_is_removed() {
        let (r, _) = fix(
            "<?xml version=\"1.0\"?><!DOCTYPE rss [<!ENTITY a \"aaaa\"><!ENTITY b \"&a;&a;\">]><rss version=\"2.0\"><t>&b;</t></rss>",
        );
        assert!(!r.xml.contains("ENTITY"));
        assert!(r.xml.contains("<t>&amp;b;</t>"), "{}", r.xml);
    }

    #[test]
    fn entries_and_their_children_are_located() {
        let (r, _) = fix(
            "<rss version=\"2.0\"><channel><title>x</title><item><title>a</title><link>l</link></item><item/></channel></rss>",
        );
        assert_eq!(r.entries.len(), 2);
        assert_eq!(r.closers, "</channel></rss>");
        assert_eq!(
            &r.xml[r.entries[0].start..r.entries[0].end],
            "<item><title>a</title><link>l</link></item>"
        );
        assert_eq!(r.entries[0].children.len(), 2);
    }

    #[test]
    fn a_truncated_document_keeps_complete_entries_and_is_closed() {
        let (r, w) = fix("<rss><channel><item><title>a</title></item><item><title>b</ti");
        assert!(
            r.xml
                .ends_with("<item><title>a</title></item></channel></rss>"),
            "{}",
            r.xml
        );
        assert!(w.iter().any(|w| w.kind == WarningKind::Truncated));
    }

    #[test]
    fn an_html_page_is_not_a_feed() {
        assert!(matches!(
            sniff("<!DOCTYPE html><html><body>hi</body></html>"),
            Sniffed::NotAFeed(_)
        ));
        assert!(matches!(sniff("\n<html lang=en>"), Sniffed::NotAFeed(_)));
    }

    #[test]
    fn php_warnings_before_the_declaration_are_junk() {
        let s = "<br />\n<b>Warning</b>: x in y.php<br />\n<?xml version=\"1.0\"?><rss></rss>";
        assert!(matches!(sniff(s), Sniffed::Xml { junk: true, .. }));
    }

    #[test]
    fn deep_nesting_is_refused_not_recursed() {
        let mut w = Vec::new();
        let xml = format!("<rss>{}", "<a>".repeat(100_000));
        assert!(repair(&xml, 0, false, &mut w).is_err());
    }
}
