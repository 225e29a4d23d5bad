//! HTML → plain-text blocks, with html5ever's tokenizer (no tree is built).
//!
//! Rules (each with the case it came from):
//!
//! * **Block elements end a block** (`p`, `div`, `br`, `li`, headings, `blockquote`,
//!   `tr`, `section`, …): paragraphs are the unit of boilerplate learning and of lead
//!   anchors. `<br><br>` markup (a republication that turns `<p>` into line breaks)
//!   gives the same blocks as `<p>` markup.
//! * **Dropped with their content**: `script`, `style`, `noscript`, `template`, `iframe`,
//!   `object`, `embed`, `svg`, `math`, `figure`, `figcaption`, `button`, `select`,
//!   `textarea`, `head`, `title`. Ad slots arrive as `<div><script>…</script></div>` or
//!   `<div><iframe>…</iframe></div>`; photo captions as `<figure><figcaption>`.
//!   `ammonia::clean` already removes scripts, styles and iframes; the rule is kept so raw
//!   HTML gives the same result.
//! * **Entities are decoded** by the tokenizer (`&amp;` → `&`, `&nbsp;` → U+00A0).
//! * **Inline elements** (`a`, `em`, `span`, …) are transparent: a link inside the text
//!   (`<a href=…>Gordon Brown</a>`) reads as its words.
//! * Input is capped at [`MAX_HTML_BYTES`] (cut at a char boundary) so a huge page costs
//!   bounded time.

use std::cell::RefCell;

use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};

/// HTML beyond this many bytes is ignored (a news article is 2–30 KB).
pub const MAX_HTML_BYTES: usize = 512 * 1024;

/// Elements whose whole content is dropped.
const DROP_CONTENT: &[&str] = &[
    "script",
    "style",
    "noscript",
    "template",
    "iframe",
    "object",
    "embed",
    "svg",
    "math",
    "figure",
    "figcaption",
    "button",
    "select",
    "textarea",
    "head",
    "title",
    "audio",
    "video",
    "picture",
    "canvas",
];

/// Elements that start or end a text block.
const BLOCK: &[&str] = &[
    "p",
    "div",
    "br",
    "li",
    "ul",
    "ol",
    "dl",
    "dt",
    "dd",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "pre",
    "tr",
    "td",
    "th",
    "table",
    "section",
    "article",
    "aside",
    "header",
    "footer",
    "nav",
    "hr",
    "main",
    "address",
    "details",
    "summary",
    "caption",
    "body",
    "html",
];

#[derive(Default)]
struct State {
    blocks: Vec<String>,
    current: String,
    /// Depth inside dropped elements.
    skip: u32,
    /// Which raw-text element we are in (its content must not be tokenized as markup).
    raw_end: Option<&'static str>,
}

impl State {
    fn flush(&mut self) {
        let text = self.current.trim();
        if !text.is_empty() {
            self.blocks.push(text.to_owned());
        }
        self.current.clear();
    }

    fn push_text(&mut self, s: &str) {
        if self.skip > 0 {
            return;
        }
        let space = |c: char| c.is_whitespace() && c != '\u{a0}';
        if s.starts_with(space) && !self.current.is_empty() && !self.current.ends_with(' ') {
            self.current.push(' ');
        }
        let mut first = true;
        for part in s.split(space).filter(|p| !p.is_empty()) {
            if !first {
                self.current.push(' ');
            }
            self.current.push_str(part);
            first = false;
        }
        if !first && s.ends_with(space) {
            self.current.push(' ');
        }
    }
}

struct Sink(RefCell<State>);

fn static_name(name: &str, list: &[&'static str]) -> Option<&'static str> {
    list.iter().copied().find(|n| n.eq_ignore_ascii_case(name))
}

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut st = self.0.borrow_mut();
        match token {
            Token::CharacterTokens(t) => st.push_text(&t),
            Token::TagToken(tag) => {
                let name: &str = &tag.name;
                if let Some(drop) = static_name(name, DROP_CONTENT) {
                    match tag.kind {
                        TagKind::StartTag if !tag.self_closing => {
                            st.skip = st.skip.saturating_add(1);
                            // Raw-text elements: tell the tokenizer so `<` inside a script
                            // is not read as markup.
                            let raw = match drop {
                                "script" => Some(RawKind::ScriptData),
                                "style" | "iframe" | "noscript" | "xmp" | "noembed" => {
                                    Some(RawKind::Rawtext)
                                }
                                "textarea" | "title" => Some(RawKind::Rcdata),
                                _ => None,
                            };
                            if let Some(kind) = raw {
                                st.raw_end = Some(drop);
                                return TokenSinkResult::RawData(kind);
                            }
                        }
                        TagKind::EndTag => {
                            st.skip = st.skip.saturating_sub(1);
                            if st.raw_end == Some(drop) {
                                st.raw_end = None;
                            }
                        }
                        TagKind::StartTag => {}
                    }
                    st.flush();
                } else if static_name(name, BLOCK).is_some() {
                    st.flush();
                } else if name.eq_ignore_ascii_case("img") || name.eq_ignore_ascii_case("wbr") {
                    // no text
                } else if st.skip == 0 && !st.current.ends_with(' ') && inline_spaced(name) {
                    st.current.push(' ');
                }
            }
            Token::NullCharacterToken
            | Token::CommentToken(_)
            | Token::DoctypeToken(_)
            | Token::ParseError(_)
            | Token::EOFToken => {}
        }
        TokenSinkResult::Continue
    }
}

/// Inline elements that separate words when they open or close (table cells, labels).
fn inline_spaced(name: &str) -> bool {
    matches!(name, "span" | "label" | "time" | "cite" | "q")
}

/// Converts (sanitised or raw) HTML into text blocks, one per paragraph-like element.
///
/// Whitespace runs collapse to one space (U+00A0 is kept for the typography fold);
/// empty blocks are dropped.
pub fn html_to_blocks(html: &str) -> Vec<String> {
    let html = cut_at_char_boundary(html, MAX_HTML_BYTES);
    let sink = Sink(RefCell::new(State::default()));
    let tok = Tokenizer::new(sink, TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tok.feed(&input);
    tok.end();
    let mut st = tok.sink.0.take();
    st.flush();
    st.blocks
}

/// The longest prefix of `s` of at most `max` bytes that ends on a char boundary.
pub fn cut_at_char_boundary(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paragraphs_and_breaks_become_blocks() {
        let b = html_to_blocks("<p>One  two</p><div>three<br><br>four</div>");
        assert_eq!(b, vec!["One two", "three", "four"]);
    }

    #[test]
    fn figures_scripts_and_iframes_are_dropped_with_their_text() {
        let b = html_to_blocks(
            "<figure><img src=x><figcaption>A man walks. (Agency/Jo Bloggs)</figcaption></figure>\
             <div><script>var a = '<p>x</p>';</script>Sponsored</div>\
             <iframe src=y>fallback</iframe><p>Body &amp; soul&nbsp;here</p>",
        );
        assert_eq!(b, vec!["Sponsored", "Body & soul\u{a0}here"]);
    }

    #[test]
    fn links_inside_text_read_as_words() {
        let b = html_to_blocks("<p>The <a href='z'>central bank</a> said</p>");
        assert_eq!(b, vec!["The central bank said"]);
    }
}
