//! Text and HTML cleaning: plain-text titles and sanitised HTML bodies.
//!
//! HTML goes through ammonia's default allowlist (no script, style, iframe,
//! event handlers, `javascript:`/`data:` URLs), with relative URLs rewritten
//! against the entry's base. Plain text comes from the same HTML parser with
//! every tag removed, so entities are decoded exactly as a browser would.

use std::cell::RefCell;
use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use url::Url;

use super::fasthtml;

/// Strips every tag: the policy never changes, so it is built once.
static TEXT: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut text = Builder::empty();
    text.strip_comments(true);
    text
});

/// Open elements nested deeper than this make HTML hostile: html5ever's
/// tree builder (inside ammonia) costs O(depth) per tag — scope checks walk
/// the stack of open elements, and each formatting element scans the list
/// of active ones — so 50 000 nested `<div><b>` (2 MB) took minutes of CPU
/// per poll (issue #9). Such HTML is reduced to its text with html5ever's
/// tokenizer, which is linear. Real articles nest a few dozen levels.
const MAX_HTML_DEPTH: usize = 256;

pub(crate) struct Cleaner {
    /// ammonia's default policy, built on first use (its relative-URL base
    /// changes per entry, so it is one per document, not shared); most
    /// documents never need it thanks to the fast path.
    html: Option<Builder<'static>>,
}

impl Cleaner {
    pub(crate) fn new() -> Self {
        Self { html: None }
    }

    /// Sanitised HTML, relative URLs resolved against `base` (dropped without one).
    pub(crate) fn html(&mut self, src: &str, base: Option<&Url>) -> String {
        // Text without markup or references comes out of ammonia unchanged:
        // skip the DOM round trip (most RSS descriptions, most titles).
        if !src.contains(['<', '&', '>', '\u{A0}']) {
            return src.trim().to_owned();
        }
        // Only an http(s) base may resolve relative URLs: ammonia checks the
        // scheme of absolute URLs but not of the ones it builds from the
        // base, so a hostile `xml:base="file:///etc/"` (or a file:// source)
        // turned `href="x"` into a `file:` link (issue #9).
        let base = base.filter(|b| !b.cannot_be_a_base() && matches!(b.scheme(), "http" | "https"));
        if let Some(text) = flatten_if_too_costly(src) {
            return escape_html(&text);
        }
        // Simple, well-formed HTML (most feed content) is cleaned in one
        // scan with ammonia's exact result; anything else goes to ammonia.
        let mut out = match fasthtml::clean(src, base) {
            Some(fast) => {
                debug_assert_eq!(
                    fast,
                    self.ammonia(src, base),
                    "the fast path differs from ammonia on {src:?}"
                );
                fast
            }
            None => self.ammonia(src, base),
        };
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        let lead = out.len() - out.trim_start().len();
        out.drain(..lead);
        out
    }

    /// ammonia's allowlist; relative URLs rewritten against `base`, or
    /// dropped without one.
    fn ammonia(&mut self, src: &str, base: Option<&Url>) -> String {
        let rel = match base {
            Some(b) => UrlRelative::RewriteWithBase(b.clone()),
            None => UrlRelative::Deny,
        };
        let html = self.html.get_or_insert_with(|| {
            let mut html = Builder::default();
            html.strip_comments(true);
            html
        });
        html.url_relative(rel);
        html.clean(src).to_string()
    }

    /// Plain text from HTML: tags removed, entities decoded, whitespace folded.
    pub(crate) fn text_from_html(&self, src: &str) -> String {
        if !src.contains(['<', '&']) {
            return fold(src);
        }
        if let Some(text) = flatten_if_too_costly(src) {
            return fold(&text);
        }
        let escaped = TEXT.clean(src).to_string();
        fold(&unescape_serialised(&escaped))
    }
}

/// The most (character references × bytes) HTML may have before it is
/// reduced to text: html5ever's tree builder copies a text node for each
/// reference in it, so 40 000 `&amp;` in one 240 KB text took 15 s in a
/// debug build, four times 20 000's — quadratic (issue #9). Ordinary
/// articles stay far below this (100 KB with 10 000 references reaches it).
const MAX_REF_COST: usize = 1 << 30;

/// The text of `src` when sanitising it would cost more than linear time:
/// elements nested deeper than [`MAX_HTML_DEPTH`], or more character
/// references than [`MAX_REF_COST`] allows. `None` for ordinary HTML,
/// which goes through ammonia.
fn flatten_if_too_costly(src: &str) -> Option<String> {
    let refs = src.bytes().filter(|&b| b == b'&').count();
    let too_many_refs = refs.saturating_mul(src.len()) > MAX_REF_COST;
    // Fewer tags than the limit cannot nest deeper than it.
    if !too_many_refs && src.bytes().filter(|&b| b == b'<').count() <= MAX_HTML_DEPTH {
        return None;
    }
    let sink = DepthSink(RefCell::default());
    let tok = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(src));
    let _ = tok.feed(&input);
    tok.end();
    let state = tok.sink.0.take();
    (too_many_refs || state.max_depth > MAX_HTML_DEPTH).then_some(state.text)
}

#[derive(Default)]
struct DepthState {
    depth: usize,
    max_depth: usize,
    /// Text outside script, style and the like.
    text: String,
    /// Inside a raw-text element whose content is not text to keep.
    raw_end: Option<String>,
}

struct DepthSink(RefCell<DepthState>);

/// Elements that are never open (void) or that close themselves implicitly
/// (`<p>`, `<li>`… left unclosed by sloppy HTML): not counted as depth.
fn not_nesting(name: &str) -> bool {
    matches!(
        name,
        "area"
            | "base"
            | "br"
            | "col"
            | "embed"
            | "hr"
            | "img"
            | "input"
            | "link"
            | "meta"
            | "source"
            | "track"
            | "wbr"
            | "p"
            | "li"
            | "dt"
            | "dd"
            | "tr"
            | "td"
            | "th"
            | "option"
            | "optgroup"
            | "rb"
            | "rt"
            | "rp"
            | "tbody"
            | "thead"
            | "tfoot"
            | "colgroup"
            | "caption"
            | "html"
            | "head"
            | "body"
    )
}

impl TokenSink for DepthSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut st = self.0.borrow_mut();
        match token {
            Token::CharacterTokens(t) if st.raw_end.is_none() => st.text.push_str(&t),
            Token::TagToken(tag) => {
                let name = tag.name.to_string().to_ascii_lowercase();
                if not_nesting(&name) {
                    if name == "br" || name == "p" || name == "li" {
                        st.text.push(' ');
                    }
                    return TokenSinkResult::Continue;
                }
                match tag.kind {
                    TagKind::StartTag if tag.self_closing => {}
                    TagKind::StartTag => {
                        st.depth += 1;
                        st.max_depth = st.max_depth.max(st.depth);
                        let raw = match name.as_str() {
                            "script" => Some(RawKind::ScriptData),
                            "style" | "iframe" | "noscript" | "xmp" | "noembed" | "noframes" => {
                                Some(RawKind::Rawtext)
                            }
                            "textarea" | "title" => Some(RawKind::Rcdata),
                            _ => None,
                        };
                        if let Some(kind) = raw {
                            st.raw_end = Some(name);
                            return TokenSinkResult::RawData(kind);
                        }
                    }
                    TagKind::EndTag => {
                        st.depth = st.depth.saturating_sub(1);
                        if st.raw_end.as_deref() == Some(name.as_str()) {
                            st.raw_end = None;
                        }
                    }
                }
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// Whitespace folded to single spaces, control and format characters dropped.
pub(crate) fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.chars() {
        if c.is_whitespace() {
            space = !out.is_empty();
        } else if c.is_control() || matches!(c, '\u{200B}' | '\u{FEFF}' | '\u{FFFE}' | '\u{FFFF}') {
            continue;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Undoes the escaping html5ever's serialiser applies to text nodes.
fn unescape_serialised(s: &str) -> String {
    if !s.contains('&') {
        return s.to_owned();
    }
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&nbsp;", "\u{A0}")
        .replace("&amp;", "&")
}

/// Escapes plain text for use as HTML, keeping line breaks visible.
pub(crate) fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.trim().chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("<br>"),
            c if c.is_control() && c != '\t' => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_lose_markup_and_keep_decoded_entities() {
        let c = Cleaner::new();
        assert_eq!(
            c.text_from_html("  <b>Caf&eacute;</b>\n &amp; <i>bar</i>&nbsp;x "),
            "Café & bar x"
        );
        assert_eq!(c.text_from_html("a <script>alert(1)</script>b"), "a b");
        assert_eq!(c.text_from_html("5 < 6 &lt;tag&gt;"), "5 < 6 <tag>");
    }

    #[test]
    fn html_is_sanitised_and_relative_urls_resolved() {
        let mut c = Cleaner::new();
        let base = Url::parse("https://example.org/news/a.html").unwrap();
        let out = c.html(
            "<p onclick=x>Hi <a href=\"b.html\">b</a><img src=/i.png><script>x</script>\
             <iframe src=//evil></iframe><a href=\"javascript:alert(1)\">j</a><img src=\"data:image/png;base64,AA\"></p>",
            Some(&base),
        );
        assert!(
            out.contains("href=\"https://example.org/news/b.html\""),
            "{out}"
        );
        assert!(out.contains("src=\"https://example.org/i.png\""), "{out}");
        for bad in ["onclick", "script", "iframe", "javascript:", "data:"] {
            assert!(!out.contains(bad), "{bad} in {out}");
        }
    }

    #[test]
    fn deeply_nested_html_is_reduced_to_its_text_in_linear_time() {
        let mut c = Cleaner::new();
        let deep = format!(
            "{}<script>alert(1)</script>x &amp; <img src=x onerror=alert(1)>{}",
            "<div><b>".repeat(20_000),
            "</b></div>".repeat(20_000)
        );
        let started = std::time::Instant::now();
        assert_eq!(c.html(&deep, None), "x &amp;");
        assert_eq!(c.text_from_html(&deep), "x &");
        // Through ammonia this took tens of seconds in a debug build.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Ordinary nesting still goes through the sanitiser.
        let shallow = format!("{}x{}", "<div>".repeat(100), "</div>".repeat(100));
        assert!(c.html(&shallow, None).starts_with("<div><div>"));
    }

    #[test]
    fn a_text_of_many_character_references_is_cleaned_in_linear_time() {
        let mut c = Cleaner::new();
        let many = format!(
            "<p>{}</p><script>x</script>",
            "a &amp; b &big; ".repeat(40_000)
        );
        let started = std::time::Instant::now();
        let html = c.html(&many, None);
        assert!(
            html.starts_with("a &amp; b &amp;big; a &amp;"),
            "{}",
            &html[..40]
        );
        assert!(!html.contains("script"));
        assert!(c.text_from_html(&many).starts_with("a & b &big; a"));
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // A few references in an article still go through the sanitiser.
        assert_eq!(
            c.html("<p>caf&eacute; &amp; <b>bar</b></p>", None),
            "<p>café &amp; <b>bar</b></p>"
        );
    }

    #[test]
    fn folding_removes_control_characters() {
        assert_eq!(fold("a\u{0}\u{7}b \t\n c\u{85}"), "ab c");
    }
}
