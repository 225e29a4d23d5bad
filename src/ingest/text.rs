//! Text and HTML cleaning: plain-text titles and sanitised HTML bodies.
//!
//! HTML goes through ammonia's default allowlist (no script, style, iframe,
//! event handlers, `javascript:`/`data:` URLs), with relative URLs rewritten
//! against the entry's base. Plain text comes from the same HTML parser with
//! every tag removed, so entities are decoded exactly as a browser would.

use ammonia::{Builder, UrlRelative};
use url::Url;

pub(crate) struct Cleaner {
    html: Builder<'static>,
    text: Builder<'static>,
}

impl Cleaner {
    pub(crate) fn new() -> Self {
        let mut html = Builder::default();
        html.strip_comments(true);
        let mut text = Builder::empty();
        text.strip_comments(true);
        Self { html, text }
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
        let rel = match base {
            Some(b) if !b.cannot_be_a_base() && matches!(b.scheme(), "http" | "https") => {
                UrlRelative::RewriteWithBase(b.clone())
            }
            _ => UrlRelative::Deny,
        };
        self.html.url_relative(rel);
        let mut out = self.html.clean(src).to_string();
        let trimmed = out.trim_end().len();
        out.truncate(trimmed);
        let lead = out.len() - out.trim_start().len();
        out.drain(..lead);
        out
    }

    /// Plain text from HTML: tags removed, entities decoded, whitespace folded.
    pub(crate) fn text_from_html(&self, src: &str) -> String {
        if !src.contains(['<', '&']) {
            return fold(src);
        }
        let escaped = self.text.clean(src).to_string();
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
