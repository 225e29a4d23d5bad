//! Text and HTML cleaning: plain-text titles and sanitised HTML bodies.
//!
//! HTML goes through ammonia's default allowlist (no script, style, iframe,
//! event handlers, `javascript:`/`data:` URLs), with relative URLs rewritten
//! against the entry's base. Plain text comes from the same HTML parser with
//! every tag removed, so entities are decoded exactly as a browser would.

use std::sync::LazyLock;

use ammonia::{Builder, UrlRelative};
use url::Url;

use super::fasthtml;

/// Strips every tag: the policy never changes, so it is built once.
static TEXT: LazyLock<Builder<'static>> = LazyLock::new(|| {
    let mut text = Builder::empty();
    text.strip_comments(true);
    text
});

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
        let base = base.filter(|b| !b.cannot_be_a_base());
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
        let escaped = TEXT.clean(src).to_string();
        fold(&unescape_serialised(&escaped))
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
    fn folding_removes_control_characters() {
        assert_eq!(fold("a\u{0}\u{7}b \t\n c\u{85}"), "ab c");
    }
}
