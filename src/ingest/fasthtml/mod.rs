//! A fast path for the sanitiser: HTML that is already simple and well formed.
//!
//! Most feed HTML is a few paragraphs of text with links, emphasis, lists and
//! images, every element closed where it was opened. For exactly that shape
//! the tree html5ever builds is the tag structure as written (no implied
//! tags, no adoption agency, no foster parenting), so ammonia's output can be
//! produced by one scan: decode the references, keep the allowlisted
//! attributes, resolve URLs as ammonia does, add `rel` to links, and escape
//! the way html5ever's serialiser does.
//!
//! [`clean`] returns `None` for anything outside that shape, and the caller
//! then runs ammonia itself, so this path only decides *when* ammonia's work
//! can be skipped, never *what* is allowed: every element it accepts is one
//! ammonia keeps, every attribute it keeps is one ammonia keeps (checked
//! against ammonia's own tables by a test), and it refuses comments,
//! doctypes, processing instructions, any element outside a small list
//! (so no script, style, iframe, svg, math, form, table, pre, textarea...),
//! misnested or unclosed elements, references it cannot decode exactly as
//! html5ever does, and control characters. Debug builds (so every test)
//! compare each fast result with ammonia's.
//!
//! [`policy`] holds what ammonia keeps (elements, attributes, URLs), [`text`]
//! how html5ever decodes and escapes text; this file is the scan itself: the
//! tags, and where the tree builder lets each one go.

mod policy;
mod text;

use url::Url;

use policy::{Class, LINK_REL, allowed_attr_name, class, static_name, url_value};
use text::{decode_into, is_space, push_escaped, push_text};

struct Open {
    name: &'static str,
    class: Class,
}

/// ammonia's output for `src` (default policy, comments stripped, relative
/// URLs rewritten against `base` or denied without one), or `None` when
/// `src` is outside the simple shape and ammonia must do the work.
pub(crate) fn clean(src: &str, base: Option<&Url>) -> Option<String> {
    // html5ever's tokenizer drops a leading byte-order mark.
    if src.starts_with('\u{FEFF}') {
        return None;
    }
    let n = src.len();
    let mut sc = Scan {
        src,
        s: src.as_bytes(),
        base,
        out: String::with_capacity(n + n / 8),
        stack: Vec::new(),
        buf: String::new(),
    };
    let mut i = 0;
    while i < n {
        // Text up to the next tag.
        i = push_text(src, i, &mut sc.out)?;
        if i >= n {
            break;
        }
        i = sc.tag(i)?;
    }
    // At the end of the input html5ever stops with the elements still open
    // in the tree; the serialiser closes them.
    while let Some(open) = sc.stack.pop() {
        close(&mut sc.out, open.name);
    }
    Some(sc.out)
}

/// The state of one [`clean`]: the input, the output so far, the open
/// elements, and a buffer reused for every attribute value.
struct Scan<'a> {
    src: &'a str,
    s: &'a [u8],
    base: Option<&'a Url>,
    out: String,
    stack: Vec<Open>,
    buf: String,
}

impl Scan<'_> {
    /// Handles the tag at `i` (a `<`); returns the offset after it.
    fn tag(&mut self, i: usize) -> Option<usize> {
        let (src, s, n) = (self.src, self.s, self.s.len());
        let end_tag = s.get(i + 1) == Some(&b'/');
        let name_start = i + 1 + usize::from(end_tag);
        let mut j = name_start;
        while j < n && s[j].is_ascii_alphanumeric() {
            j += 1;
        }
        if j == name_start || !s[name_start].is_ascii_alphabetic() {
            return None;
        }
        let name = static_name(&src[name_start..j])?;
        let cls = class(name)?;
        if end_tag {
            self.end_tag(j, name, cls)
        } else {
            self.start_tag(j, name, cls)
        }
    }

    /// The end tag `</name` whose name ends at `j`.
    fn end_tag(&mut self, mut j: usize, name: &'static str, cls: Class) -> Option<usize> {
        let (s, n) = (self.s, self.s.len());
        while j < n && is_space(s[j]) {
            j += 1;
        }
        if s.get(j) != Some(&b'>') || cls == Class::Void {
            return None;
        }
        // `</ul>`, `</div>`...: html5ever first generates implied end
        // tags, which closes an open `p` or `li` above the element;
        // `</li>` closes an open `p` the same way.
        if matches!(cls, Class::Container | Class::ListItem) {
            while let Some(top) = self.stack.last().filter(|o| o.name != name) {
                if !matches!(top.name, "p" | "li") {
                    return None;
                }
                close(&mut self.out, top.name);
                self.stack.pop();
            }
        }
        let top = self.stack.pop()?;
        if top.name != name {
            return None;
        }
        close(&mut self.out, name);
        Some(j + 1)
    }

    /// The start tag `<name` whose name ends at `j`.
    fn start_tag(&mut self, j: usize, name: &'static str, cls: Class) -> Option<usize> {
        let (s, n) = (self.s, self.s.len());
        self.make_room(name, cls)?;
        if !(j < n && (is_space(s[j]) || s[j] == b'>' || s[j] == b'/')) {
            return None;
        }
        self.out.push('<');
        self.out.push_str(name);
        let (j, self_closing) = self.attributes(j, name)?;
        if name == "a" {
            self.out.push_str(" rel=\"");
            self.out.push_str(LINK_REL);
            self.out.push('"');
        }
        self.out.push('>');
        if cls != Class::Void {
            if self_closing {
                return None;
            }
            self.stack.push(Open { name, class: cls });
        }
        Some(j)
    }

    /// Where this start tag may appear without the tree builder changing
    /// anything: blocks only among containers, `li` right in a list, no
    /// formatting element inside itself. Closes what the tag implicitly
    /// closes; `None` for any other place.
    fn make_room(&mut self, name: &str, cls: Class) -> Option<()> {
        let stack = &mut self.stack;
        match cls {
            Class::Container | Class::Leaf | Class::ListItem => {
                // A block start tag closes a `p` that is the current node
                // ("close a p element"); `<li>` closes an `li` that is.
                if stack.last().is_some_and(|o| o.name == "p") {
                    close(&mut self.out, "p");
                    stack.pop();
                }
                if cls == Class::ListItem && stack.last().is_some_and(|o| o.name == "li") {
                    close(&mut self.out, "li");
                    stack.pop();
                }
                if stack
                    .iter()
                    .any(|o| !matches!(o.class, Class::Container | Class::ListItem))
                {
                    return None;
                }
                let in_list = stack.last().is_some_and(|o| matches!(o.name, "ul" | "ol"));
                if (cls == Class::ListItem) != in_list {
                    return None;
                }
            }
            Class::Inline => {
                if stack.iter().any(|o| o.name == name)
                    || stack.last().is_some_and(|o| matches!(o.name, "ul" | "ol"))
                {
                    return None;
                }
            }
            Class::Void => {
                if stack.last().is_some_and(|o| matches!(o.name, "ul" | "ol")) {
                    return None;
                }
            }
        }
        Some(())
    }

    /// The attributes of the start tag `name` from `j` up to and including
    /// its `>` or `/>`: returns the offset after it and whether it was `/>`.
    fn attributes(&mut self, mut j: usize, name: &'static str) -> Option<(usize, bool)> {
        let (src, s, n) = (self.src, self.s, self.s.len());
        // Attribute names seen in this tag (spans in `src`), for duplicates.
        let mut seen = [(0usize, 0usize); 12];
        let mut n_seen = 0;
        loop {
            while j < n && is_space(s[j]) {
                j += 1;
            }
            match s.get(j) {
                None => return None,
                Some(b'>') => return Some((j + 1, false)),
                Some(b'/') => {
                    if s.get(j + 1) != Some(&b'>') {
                        return None;
                    }
                    return Some((j + 2, true));
                }
                _ => {}
            }
            let an_start = j;
            while j < n && (s[j].is_ascii_alphanumeric() || matches!(s[j], b'-' | b'_' | b':')) {
                j += 1;
            }
            if j == an_start || !s[an_start].is_ascii_alphabetic() {
                return None;
            }
            let raw_name = &src[an_start..j];
            if n_seen == seen.len()
                || seen[..n_seen]
                    .iter()
                    .any(|&(a, b)| src[a..b].eq_ignore_ascii_case(raw_name))
            {
                return None;
            }
            seen[n_seen] = (an_start, j);
            n_seen += 1;
            j = self.attr_value(j)?;
            self.push_attr(name, raw_name)?;
        }
    }

    /// Reads the `= value` (if any) after an attribute name ending at `j`
    /// into `self.buf`, decoded; returns the offset after it.
    fn attr_value(&mut self, mut j: usize) -> Option<usize> {
        let (src, s, n) = (self.src, self.s, self.s.len());
        while j < n && is_space(s[j]) {
            j += 1;
        }
        self.buf.clear();
        if s.get(j) != Some(&b'=') {
            return Some(j);
        }
        j += 1;
        while j < n && is_space(s[j]) {
            j += 1;
        }
        match s.get(j) {
            Some(&q @ (b'"' | b'\'')) => {
                let vs = j + 1;
                let ve = vs + s[vs..].iter().position(|&c| c == q)?;
                decode_into(src, vs, ve, &mut self.buf)?;
                j = ve + 1;
                if !(j < n && (is_space(s[j]) || s[j] == b'>' || s[j] == b'/')) {
                    return None;
                }
            }
            Some(_) => {
                let vs = j;
                while j < n && !is_space(s[j]) && s[j] != b'>' {
                    if matches!(s[j], b'"' | b'\'' | b'<' | b'=' | b'`') {
                        return None;
                    }
                    j += 1;
                }
                if j == vs {
                    return None;
                }
                decode_into(src, vs, j, &mut self.buf)?;
            }
            None => return None,
        }
        Some(j)
    }

    /// Writes the attribute `raw_name` of `tag` with the value in `self.buf`
    /// if ammonia keeps it (URLs resolved as ammonia does); `None` when
    /// ammonia's handling is not reproduced here.
    fn push_attr(&mut self, tag: &str, raw_name: &str) -> Option<()> {
        let Some(attr_name) = allowed_attr_name(tag, raw_name) else {
            return Some(());
        };
        let url;
        let value = if matches!(attr_name, "href" | "src") {
            match url_value(&self.buf, self.base).ok()? {
                Some(v) => {
                    url = v;
                    url.as_str()
                }
                None => return Some(()),
            }
        } else {
            self.buf.as_str()
        };
        self.out.push(' ');
        self.out.push_str(attr_name);
        self.out.push_str("=\"");
        push_escaped(&mut self.out, value, true);
        self.out.push('"');
        Some(())
    }
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ammonia(src: &str, base: Option<&Url>) -> String {
        let mut b = ammonia::Builder::default();
        b.strip_comments(true);
        b.url_relative(match base {
            Some(u) => ammonia::UrlRelative::RewriteWithBase(u.clone()),
            None => ammonia::UrlRelative::Deny,
        });
        b.clean(src).to_string()
    }

    const CASES: &[&str] = &[
        "<p>Ad</p><figure><img src=\"https://i.example/1.jpg\"><figcaption>File photo &copy; Desk</figcaption></figure>\n<p>Text.</p>",
        "<p>a<figure>b</figure>c</p>",
        "<figure><p>x</figure>",
        "<p>Hi <a href=\"b.html\">b</a> &amp; <em>c</em>.</p>",
        "<p>caf&eacute; &nbsp; &#233; &#xE9; &lt;x&gt; 5 > 4 \"q\" 'a'</p>",
        "<P CLASS=x>Up<BR>per</P>",
        "<ul>\n<li>one</li>\n<li>two <b>x</b></li>\n</ul>",
        "<ol start=\"3\"><li><p>a</p><ul><li>b</li></ul></li></ol>",
        "<div><blockquote cite=\"x\"><p>q</p></blockquote></div>",
        "<h2 title=\"t &quot;x&quot;\">H</h2><p>x</p>",
        "<img src=\"i.png\" alt=\"a<b\" width=10 onerror=\"x\"/>",
        "<img src=\"data:image/png;base64,AA\"><img src=javascript:x>",
        "<a href=\"javascript:alert(1)\" rel=x target=_blank>j</a>",
        "<a href=\"https://e.com/?a=1&amp;b=2\" title='x'>q</a>",
        "<a href=\"//cdn.example.com/x\">s</a><a href=\"mailto:a@b\">m</a>",
        "<a href=\"http://[::1\">bad</a><a href=\" /x \">sp</a><a href=\"\">e</a>",
        "<a href=\"#frag\">f</a><a href=\"?q\">q</a><a>none</a>",
        "<span lang=en>x</span><sub>1</sub><sup>2</sup><code>c</code>",
        "<p>a\tb\nc</p>",
        "<p>x</p>\n\n<p>y</p>",
        "<a href=x href=y>dup</a>",
        "text &notin; &not; &amp x",
        "<p>unclosed",
        "<p>unclosed <b>bold <i>it",
        "<ul><li>a<li>b</ul>",
        "<ul><li><p>a<li>b</ul>",
        "<ul><li><div><p>a<li>b</ul>",
        "<p>a<p>b<div>c</div><p>d",
        "<p><b>a<p>b",
        "<h1>a<div>b</div></h1>",
        "<div><p>a</div>tail",
        "<div><ul><li>a</div>",
        "<ol><li>a</li><p>x<li>b</ol>",
        "Q & A, 5&6, x &",
        "<a href=\"/q?a=1&b=2\" title=\"a & b\">x</a>",
        "AT&T &#; &#x; & #",
        "<p><div>x</div></p>",
        "<b><b>x</b></b>",
        "<a href=a><a href=b>x</a></a>",
        "<b><i>x</b></i>",
        "<li>x</li>",
        "<ul>x<li>y</li></ul>",
        "<pre>\nx</pre>",
        "<!-- c --><p>x</p>",
        "<script>x</script><p>y</p>",
        "<p>a\r\nb</p>",
        "<br/><br><img src=a.png>",
        "<p/>x",
        "</p>x",
        "<table><tr><td>x</td></tr></table>",
        "<p>&#0; &#128; &#x110000; &#xD800;</p>",
        "<svg><a href=x>y</a></svg>",
        "<p>\u{A0}nbsp</p>",
        "<a href='x'title=y>z</a>",
        "<em>a<strong>b<code>c</code></strong></em>",
        "<div><p>a</p>tail<h3>h</h3></div>",
        "<p onclick=\"evil()\" style=\"color:red\" id=x>p</p>",
        "<q cite=\"/x\">q</q><del datetime=\"2020\" cite=x>d</del>",
        "<img src=\"/a b.png\" alt=\"é &amp; ü\" title=\"&#34;\">",
    ];

    #[test]
    fn fast_results_equal_ammonias() {
        let base = Url::parse("https://example.org/news/a.html").unwrap();
        let mut fast = 0;
        for base in [Some(&base), None] {
            for src in CASES {
                if let Some(ours) = clean(src, base) {
                    fast += 1;
                    assert_eq!(ours, ammonia(src, base), "{src:?}");
                }
            }
        }
        assert!(
            fast > CASES.len() / 2,
            "only {fast} cases took the fast path"
        );
    }

    #[test]
    fn unsafe_or_unusual_markup_is_left_to_ammonia() {
        for src in [
            "<script>x</script>",
            "<iframe src=x></iframe>",
            "<style>p{}</style>",
            "<!-- c -->",
            "<svg></svg>",
            "<p><b>a<p>b",
            "<h1>a<div>b</div></h1>",
            "<b><i>x</b></i>",
            "<a href=x><a href=y>z</a></a>",
            "a < b",
            "a &bogus; b",
            "\u{FEFF}bom",
            "<p>\u{0}</p>",
        ] {
            assert_eq!(clean(src, None), None, "{src:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn random_tag_soup_is_either_refused_or_equal_to_ammonia(
            parts in proptest::collection::vec(0usize..50, 0..24)
        ) {
            const BITS: &[&str] = &[
                "<p>", "</p>", "<a href=\"x.html\">", "<a href='javascript:y'>", "</a>",
                "<b>", "</b>", "<i>", "</i>", "<ul>", "</ul>", "<li>", "</li>", "<div>",
                "</div>", "<br>", "<img src=//h/i.png alt=\"A&amp;B\">", "text", " ",
                "\n", "&amp;", "&lt;", "&nbsp;", "&eacute;", "&#x263A;", ">", "\"",
                "<h1>", "</h1>", "<span title=t>", "</span>", "<em>", "</em>",
                "<blockquote>", "</blockquote>", "é", "<ol>", "</ol>", "<code>", "</code>",
                "&", " & ", "&amp", "<p title='a&b'>", "<h2>", "</h2>",
                "<figure>", "</figure>", "<figcaption>", "</figcaption>",
            ];
            let src: String = parts.iter().map(|&p| BITS[p]).collect();
            let base = Url::parse("https://example.org/a/b").unwrap();
            if let Some(ours) = clean(&src, Some(&base)) {
                proptest::prop_assert_eq!(ours, ammonia(&src, Some(&base)), "{:?}", src);
            }
        }
    }
}
