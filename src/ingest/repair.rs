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

use html5ever::data::{C1_REPLACEMENTS, NAMED_ENTITIES};

use super::{IngestError, Warning, WarningKind};

/// Elements nested deeper than this make the document malformed (no feed needs it).
pub(crate) const MAX_DEPTH: usize = 128;
/// How much junk may precede the root before we stop looking for one.
const MAX_PROLOG: usize = 64 * 1024;

const XML_DECL: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const ATOM03_NS: &str = "http://purl.org/atom/ns#";
const RSS1_NS: &str = "http://purl.org/rss/1.0/";
const RSS090_NS: &str = "http://my.netscape.com/rdf/simple/0.9/";

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
                "rss" | "feed" | "RDF" => return Sniffed::Xml { root: i, junk },
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

/// The Atom 1.0 name of the Atom 0.3 element `lname` inside `parent`.
fn atom03_local<'a>(lname: &'a str, parent: &str) -> &'a str {
    match lname {
        "issued" => "published",
        "modified" => "updated",
        "created" => "wd-created",
        "tagline" => "subtitle",
        "copyright" => "rights",
        "url" if parent == "author" || parent == "contributor" => "uri",
        other => other,
    }
}

/// What an Atom text construct's `type`/`mode` (lower case) becomes: `"keep"`,
/// a type feed-rs reads, or `None` when the element carries no text.
fn atom_text_type(
    ty: Option<&str>,
    mode: Option<&str>,
    has_src: bool,
    new_local: &str,
) -> Option<&'static str> {
    match (ty, mode) {
        (_, Some("base64")) => None,
        (_, _) if has_src && new_local == "content" => ty.map(|_| "keep"),
        (Some("text" | "html" | "xhtml"), _) => Some("keep"),
        (Some("text/html"), _) | (None, Some("escaped")) => Some("html"),
        (Some("application/xhtml+xml"), _) | (None, Some("xml")) => Some("xhtml"),
        (Some(t), _) if t.is_empty() || t.starts_with("text/") => Some("text"),
        (Some(t), _) if new_local == "content" && (t.ends_with("+xml") || t.ends_with("/xml")) => {
            Some("keep")
        }
        (None, _) => Some("keep"),
        (Some(_), _) => None,
    }
}

fn local(name: &str) -> &str {
    name.rsplit(':').next().unwrap_or(name)
}

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
static SPECIAL: [bool; 256] = special_table();

/// Bytes that may start a character [`illegal_char_len`] removes.
static MAY_BE_ILLEGAL: [bool; 256] = {
    let mut t = special_table();
    t[b'<' as usize] = false;
    t[b'&' as usize] = false;
    t
};

/// Length of a character to remove at `s[i]` (control/NUL/C1/non-character), or 0.
fn illegal_char_len(s: &[u8], i: usize) -> usize {
    match s[i] {
        0x09 | 0x0A | 0x0D => 0,
        b if b < 0x20 || b == 0x7F => 1,
        0xC2 if matches!(s.get(i + 1), Some(0x80..=0x9F)) => 2,
        0xEF if s.get(i + 1) == Some(&0xBF) && matches!(s.get(i + 2), Some(0xBE | 0xBF)) => 3,
        _ => 0,
    }
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

/// Repairs the XML document whose root starts at `root` (from [`sniff`]).
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
        "feed" => Dialect::Atom,
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

    fn start_tag(
        &mut self,
        name: &str,
        attrs: &str,
        self_closing: bool,
    ) -> Result<(), IngestError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(IngestError::Malformed {
                reason: format!("elements nested deeper than {MAX_DEPTH} levels"),
            });
        }
        let tag_start = self.out.len();
        let depth = self.stack.len();
        let lname = local(name);
        let is_entry = self.starts_entry(lname, depth);
        let is_entry_child =
            self.current.is_some() && self.stack.last().is_some_and(|o| o.is_entry);
        if is_entry && self.header_end.is_none() {
            self.end_header(tag_start);
        }

        let out_name = self.write_start_tag(name, attrs, depth);
        if self_closing {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
        }

        if is_entry {
            self.current = Some(Span {
                start: tag_start,
                end: tag_start,
                children: Vec::new(),
                enclosures: Vec::new(),
                base: xml_base(attrs).or_else(|| self.root_base.clone()),
            });
        }
        if is_entry_child && lname == "enclosure" && self.dialect != Dialect::Atom {
            self.record_enclosure(attrs);
        }
        if self_closing {
            if is_entry {
                self.close_entry();
            } else if is_entry_child {
                let end = self.out.len();
                if let Some(cur) = self.current.as_mut() {
                    cur.children.push((tag_start, end, name.to_owned()));
                }
            }
        } else {
            self.stack.push(Open {
                name: out_name,
                raw: name.to_owned(),
                out_start: tag_start,
                is_entry,
                is_entry_child,
            });
        }
        Ok(())
    }

    /// Whether an element named `lname` opened at `depth` starts an entry.
    fn starts_entry(&self, lname: &str, depth: usize) -> bool {
        self.current.is_none()
            && matches!(lname, "item" | "entry")
            && match self.dialect {
                Dialect::Atom | Dialect::Rdf => depth == 1,
                Dialect::Rss => {
                    depth == 2
                        && self
                            .stack
                            .get(1)
                            .is_some_and(|o| local(&o.raw) == "channel")
                }
            }
    }

    /// The first entry starts at `tag_start`: the header ends there, and the
    /// elements open around it are the document's closers.
    fn end_header(&mut self, tag_start: usize) {
        self.header_end = Some(tag_start);
        let closers = self
            .stack
            .iter()
            .rev()
            .map(|o| format!("</{}>", o.name))
            .collect();
        self.closers = Some(closers);
    }

    /// Writes `<name attrs` (without its `>`), renamed and normalised as the
    /// root or Atom need; returns the name written.
    fn write_start_tag(&mut self, name: &str, attrs: &str, depth: usize) -> String {
        if depth == 0 {
            self.root_base = xml_base(attrs);
            self.root_tag(name, attrs);
            name.to_owned()
        } else if self.dialect == Dialect::Atom {
            self.atom_tag(name, attrs)
        } else {
            self.out.push('<');
            self.out.push_str(name);
            self.push_attrs(attrs);
            name.to_owned()
        }
    }

    /// Keeps an RSS `<enclosure>` of the current entry (see [`Span::enclosures`]).
    fn record_enclosure(&mut self, attrs: &str) {
        let list = parse_attrs(attrs);
        let get = |key: &str| {
            list.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| unescape_attr(v.trim()))
                .filter(|v| !v.is_empty())
        };
        if let (Some(url), Some(cur)) = (get("url"), self.current.as_mut()) {
            cur.enclosures.push(crate::model::Enclosure {
                url,
                mime_type: get("type"),
                length: get("length").and_then(|l| l.parse().ok()),
            });
        }
    }

    fn close_entry(&mut self) {
        if let Some(mut cur) = self.current.take() {
            cur.end = self.out.len();
            self.entries.push(cur);
        }
    }

    fn end_tag(&mut self, raw: &str) {
        let Some(pos) = self.stack.iter().rposition(|o| o.raw == raw) else {
            self.counts.stray += 1;
            return;
        };
        while self.stack.len() > pos {
            let Some(open) = self.stack.pop() else { break };
            if self.stack.len() > pos {
                self.counts.closed += 1;
            }
            self.out.push_str("</");
            self.out.push_str(&open.name);
            self.out.push('>');
            if open.is_entry {
                self.close_entry();
            } else if open.is_entry_child {
                let end = self.out.len();
                if let Some(cur) = self.current.as_mut() {
                    cur.children.push((open.out_start, end, open.raw.clone()));
                }
            }
        }
        if self.stack.is_empty() {
            self.root_closed = true;
        }
    }

    /// The root start tag: normalise RSS versions and old namespaces.
    fn root_tag(&mut self, name: &str, attrs: &str) {
        let mut list = parse_attrs(attrs);
        match self.dialect {
            Dialect::Rss => {
                let version = list
                    .iter()
                    .find(|(k, _)| k == "version")
                    .map(|(_, v)| v.trim().to_owned());
                let ok = matches!(version.as_deref(), Some("2.0" | "0.91" | "0.92"));
                if !ok {
                    self.warnings.push(Warning::new(
                        WarningKind::FormatNormalised,
                        format!(
                            "RSS version {:?} read as RSS 2.0",
                            version.as_deref().unwrap_or("(none)")
                        ),
                    ));
                    list.retain(|(k, _)| k != "version");
                    list.push(("version".into(), "2.0".into()));
                }
            }
            Dialect::Rdf => {
                for (k, v) in list.iter_mut() {
                    if k.starts_with("xmlns") && v.trim() == RSS090_NS {
                        *v = RSS1_NS.into();
                        self.warnings.push(Warning::new(
                            WarningKind::FormatNormalised,
                            "RSS 0.90 namespace read as RSS 1.0",
                        ));
                    }
                }
            }
            Dialect::Atom => {
                for (k, v) in list.iter_mut() {
                    if k.starts_with("xmlns") && v.trim() == ATOM03_NS {
                        *v = ATOM_NS.into();
                        self.atom03 = true;
                    }
                }
                let v03 = list
                    .iter()
                    .any(|(k, v)| k == "version" && v.trim() == "0.3");
                if self.atom03 || v03 {
                    self.atom03 = true;
                    list.retain(|(k, _)| k != "version");
                    self.warnings.push(Warning::new(
                        WarningKind::FormatNormalised,
                        "Atom 0.3 mapped to Atom 1.0 (issued/modified/tagline/copyright/url, mode)",
                    ));
                }
            }
        }
        self.out.push('<');
        self.out.push_str(name);
        self.push_attr_list(&list);
    }

    /// Atom elements: map Atom 0.3 names and text-construct types feed-rs rejects.
    fn atom_tag(&mut self, name: &str, attrs: &str) -> String {
        let lname = local(name);
        let prefix = &name[..name.len() - lname.len()];
        let new_local = if self.atom03 {
            let parent = self.stack.last().map_or("", |o| local(&o.raw));
            atom03_local(lname, parent)
        } else {
            lname
        };
        let is_text = matches!(
            new_local,
            "content" | "summary" | "title" | "subtitle" | "rights"
        );
        let needs_attrs = is_text && (attrs.contains("type") || attrs.contains("mode"));
        if !needs_attrs {
            let out_name = format!("{prefix}{new_local}");
            self.out.push('<');
            self.out.push_str(&out_name);
            self.push_attrs(attrs);
            return out_name;
        }
        self.atom_text_tag(prefix, new_local, attrs)
    }

    /// An Atom text construct with a `type` or `mode`: kept, its type mapped
    /// to one feed-rs reads, or renamed out of the way when it is not text.
    fn atom_text_tag(&mut self, prefix: &str, new_local: &str, attrs: &str) -> String {
        let mut list = parse_attrs(attrs);
        let ty = list
            .iter()
            .find(|(k, _)| k == "type")
            .map(|(_, v)| v.trim().to_ascii_lowercase());
        let mode = list
            .iter()
            .find(|(k, _)| k == "mode")
            .map(|(_, v)| v.trim().to_ascii_lowercase());
        let has_src = list.iter().any(|(k, _)| k == "src");
        list.retain(|(k, _)| k != "mode");
        let mapped = atom_text_type(ty.as_deref(), mode.as_deref(), has_src, new_local);
        let out_name = match mapped {
            Some(m) => {
                if m != "keep" {
                    list.retain(|(k, _)| k != "type");
                    list.push(("type".into(), m.into()));
                    self.warnings.push(Warning::new(
                        WarningKind::FormatNormalised,
                        format!(
                            "Atom <{new_local}> type {:?} read as {m}",
                            ty.as_deref().unwrap_or("")
                        ),
                    ));
                }
                format!("{prefix}{new_local}")
            }
            None => {
                self.warnings.push(Warning::new(
                    WarningKind::FieldDropped,
                    format!(
                        "Atom <{new_local}> of type {:?}{} dropped: not text",
                        ty.as_deref().unwrap_or(""),
                        if mode.as_deref() == Some("base64") {
                            " (base64)"
                        } else {
                            ""
                        }
                    ),
                ));
                format!("wd-dropped-{new_local}")
            }
        };
        self.out.push('<');
        self.out.push_str(&out_name);
        self.push_attr_list(&list);
        out_name
    }

    /// Copies attribute text, repairing `&`, `<` and control characters in it.
    fn push_attrs(&mut self, attrs: &str) {
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

    fn push_attr_list(&mut self, list: &[(String, String)]) {
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

    fn reference(&mut self, i: usize) -> usize {
        reference_into(self.text, i, &mut self.out, &mut self.counts)
    }

    /// Copies a comment/CDATA/PI with control characters removed.
    fn push_filtered(&mut self, chunk: &str, _text: bool) {
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

    fn finish(mut self, truncated_at: Option<usize>, warnings: &mut Vec<Warning>) -> Repaired {
        if let Some(at) = truncated_at {
            warnings.push(self.close_truncated(at));
        }
        push_count_warnings(&self.counts, warnings);
        push_distinct(self.warnings.drain(..), warnings);
        let header_end = self.header_end.unwrap_or(self.out.len());
        Repaired {
            closers: self.closers.unwrap_or_default(),
            xml: self.out,
            dialect: self.dialect,
            entries: self.entries,
            header_end,
            hints: self.hints,
        }
    }

    /// The input ended at `at` inside an element: closes the document after
    /// its last complete entry; returns the warning that says so.
    fn close_truncated(&mut self, at: usize) -> Warning {
        // Drop the incomplete entry, then close what is still open.
        let mut dropped_partial = false;
        if let Some(cur) = self.current.take() {
            self.out.truncate(cur.start);
            while self.stack.last().is_some_and(|o| !o.is_entry) {
                self.stack.pop();
            }
            self.stack.pop();
            dropped_partial = true;
        }
        while let Some(open) = self.stack.pop() {
            self.out.push_str("</");
            self.out.push_str(&open.name);
            self.out.push('>');
        }
        Warning::new(
            WarningKind::Truncated,
            format!(
                "the document ends inside an element at byte {at}; {} complete entr{} kept{}",
                self.entries.len(),
                if self.entries.len() == 1 { "y" } else { "ies" },
                if dropped_partial {
                    ", the incomplete one dropped"
                } else {
                    ""
                }
            ),
        )
    }
}

/// One warning per kind of repair counted in `c`.
fn push_count_warnings(c: &Counts, warnings: &mut Vec<Warning>) {
    if c.amp > 0 || c.entities > 0 || c.lt > 0 {
        let mut detail = format!(
            "{} bare '&' escaped, {} HTML/cp1252 entit{} mapped, {} stray '<' escaped",
            c.amp,
            c.entities,
            if c.entities == 1 { "y" } else { "ies" },
            c.lt
        );
        if !c.unknown_entities.is_empty() {
            detail.push_str(&format!(
                "; unknown entities kept as text: {}",
                c.unknown_entities.join(", ")
            ));
        }
        warnings.push(Warning::new(WarningKind::EntitiesRepaired, detail));
    }
    if c.ctrl > 0 {
        warnings.push(Warning::new(
            WarningKind::ControlCharsRemoved,
            format!(
                "{} control character(s)/NUL(s) or references to them removed",
                c.ctrl
            ),
        ));
    }
    if c.closed > 0 || c.stray > 0 || c.trailing {
        warnings.push(Warning::new(
            WarningKind::TagsRepaired,
            format!(
                "{} unclosed element(s) closed, {} stray end tag(s) dropped{}",
                c.closed,
                c.stray,
                if c.trailing {
                    ", junk after the root element dropped"
                } else {
                    ""
                }
            ),
        ));
    }
}

/// Appends `repairs` to `warnings`, each distinct one once with its count.
fn push_distinct(repairs: impl Iterator<Item = Warning>, warnings: &mut Vec<Warning>) {
    // One warning per distinct repair, with a count, not one per entry.
    let mut distinct: Vec<(Warning, usize)> = Vec::new();
    for w in repairs {
        match distinct.iter_mut().find(|(d, _)| *d == w) {
            Some((_, n)) => *n += 1,
            None => distinct.push((w, 1)),
        }
    }
    for (mut w, n) in distinct {
        if n > 1 {
            w.detail.push_str(&format!(" ({n} times)"));
        }
        warnings.push(w);
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

fn xml_base(attrs: &str) -> Option<String> {
    if !attrs.contains("xml:base") {
        return None;
    }
    parse_attrs(attrs)
        .into_iter()
        .find(|(k, _)| k == "xml:base")
        .map(|(_, v)| unescape_attr(v.trim()))
        .filter(|v| !v.is_empty())
}

/// Decodes the references of an attribute value as written in a feed.
fn unescape_attr(v: &str) -> String {
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
