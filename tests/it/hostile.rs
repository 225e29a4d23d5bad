//! Issue #9: hostile feeds. A publisher controls every byte of its feed; what
//! it sends must never reach a reader of the merged feed as script, and must
//! never cost more than one source's poll.
//!
//! Output safety: every vector of `tests/fixtures/hostile/xss-*.txt` (after
//! the OWASP XSS filter evasion cheat sheet) is put into every field of RSS,
//! Atom and JSON Feed items, polled through a fake server, and each served
//! document is parsed and checked: well-formed, no element or attribute that
//! is not feed vocabulary, every link http(s), every HTML payload (un-escaped
//! once, as a reader does) free of scripts, handlers and dangerous URLs.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use wiredesk::app::App;
use wiredesk::ingest::Limits;
use wiredesk::poll::PollOutcome;

use crate::helpers::{
    Canned, FeedServer, ScriptedServer, get_text, settings, sources_toml, spawn_app,
};

const HTML_VECTORS: &str = include_str!("../fixtures/hostile/xss-html.txt");
const URL_VECTORS: &str = include_str!("../fixtures/hostile/xss-urls.txt");

/// The lines of a vector file, without comments and blank lines.
fn vectors(file: &str) -> Vec<&str> {
    file.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// XML-escapes text for an element or a double-quoted attribute.
fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A CDATA section holding `s`, split where `s` contains `]]>`.
fn cdata(s: &str) -> String {
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

/// A URL vector as written into XML: character references are kept so the
/// XML parser decodes them (the "entity-encoded" variants); other text is
/// escaped.
fn url_xml(u: &str) -> String {
    if u.contains("&#") {
        u.to_owned()
    } else {
        esc(u)
    }
}

fn recent() -> String {
    (chrono::Utc::now() - chrono::TimeDelta::hours(2)).to_rfc3339()
}

fn recent_rfc2822() -> String {
    (chrono::Utc::now() - chrono::TimeDelta::hours(2)).to_rfc2822()
}

/// RSS 2.0 with every vector in every field, plus hostile links, a CDATA
/// section ended early, and raw control characters and NULs.
fn hostile_rss() -> String {
    let date = recent_rfc2822();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rss version=\"2.0\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel>\
         <title>&lt;script&gt;alert(1)&lt;/script&gt;</title>\
         <link>javascript:alert(1)</link><description>d</description>\n",
    );
    for (i, v) in vectors(HTML_VECTORS).into_iter().enumerate() {
        out.push_str(&format!(
            "<item><title>{e}</title><link>https://rss.example/h{i}</link>\
             <guid isPermaLink=\"false\">rss-h{i}</guid><pubDate>{date}</pubDate>\
             <description>{c}</description><content:encoded>{e}</content:encoded>\
             <dc:creator>{e}</dc:creator><category>{e}</category>\
             <enclosure url=\"{e}\" type=\"{e}\" length=\"1\"/></item>\n",
            e = esc(v),
            c = cdata(v),
        ));
    }
    for (i, u) in vectors(URL_VECTORS).into_iter().enumerate() {
        let u = url_xml(u);
        out.push_str(&format!(
            "<item><title>rss link {i}</title><link>{u}</link><guid isPermaLink=\"false\">rss-u{i}</guid>\
             <pubDate>{date}</pubDate><description>link {i}</description>\
             <enclosure url=\"{u}\" type=\"audio/mpeg\" length=\"1\"/></item>\n\
             <item><title>rss guid {i}</title><guid isPermaLink=\"true\">{u}?{i}</guid>\
             <pubDate>{date}</pubDate><description>guid {i}</description></item>\n"
        ));
    }
    // A CDATA section ended early: what follows is markup to the XML parser.
    out.push_str(&format!(
        "<item><title>cdata</title><guid>rss-cdata</guid><pubDate>{date}</pubDate>\
         <description><![CDATA[<p>ok</p>]]><script>alert('cdata')</script>\
         <![CDATA[<img src=x onerror=alert(1)>]]></description></item>\n\
         <item><title>nul\u{0}bell\u{7}esc\u{1b}[31m del\u{7f} c1\u{85}\u{9b}</title>\
         <guid>rss-controls</guid><pubDate>{date}</pubDate>\
         <description>a\u{0}b\u{1}c\u{8}&lt;script&gt;x&lt;/script&gt;\u{b}\u{c}</description>\
         <dc:creator>bad\u{0}author\u{1b}</dc:creator><category>c\u{0}at</category></item>\n"
    ));
    out.push_str("</channel></rss>\n");
    out
}

/// Atom 1.0 with every vector in every field (html text constructs), hostile
/// links and `xml:base`, and an XHTML content with raw markup.
fn hostile_atom() -> String {
    let date = recent();
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\
         <title type=\"html\">&lt;img src=x onerror=alert(1)&gt;</title><id>urn:x</id>\n",
    );
    out.push_str(&format!("<updated>{date}</updated>\n"));
    for (i, v) in vectors(HTML_VECTORS).into_iter().enumerate() {
        out.push_str(&format!(
            "<entry><id>atom-h{i}</id><title type=\"html\">{e}</title><updated>{date}</updated>\
             <author><name>{e}</name><uri>{e}</uri><email>{e}</email></author>\
             <category term=\"{e}\" label=\"{e}\"/>\
             <link rel=\"alternate\" href=\"https://atom.example/h{i}\"/>\
             <link rel=\"enclosure\" href=\"{e}\" type=\"{e}\"/>\
             <summary type=\"html\">{e}</summary><content type=\"html\">{e}</content></entry>\n",
            e = esc(v),
        ));
    }
    for (i, u) in vectors(URL_VECTORS).into_iter().enumerate() {
        let u = url_xml(u);
        out.push_str(&format!(
            "<entry xml:base=\"{u}\"><id>atom-u{i}</id><title>atom link {i}</title>\
             <updated>{date}</updated><link href=\"{u}\"/>\
             <link rel=\"enclosure\" href=\"{u}\" type=\"audio/mpeg\"/>\
             <content type=\"html\">&lt;a href=\"rel/{i}\"&gt;relative&lt;/a&gt; \
             &lt;a href=\"{u}\"&gt;absolute&lt;/a&gt;</content></entry>\n"
        ));
    }
    out.push_str(&format!(
        "<entry><id>atom-xhtml</id><title type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">\
         <script>alert(1)</script>x<b onclick=\"alert(1)\">y</b></div></title><updated>{date}</updated>\
         <content type=\"xhtml\"><div xmlns=\"http://www.w3.org/1999/xhtml\">\
         <script>alert(1)</script><img src=\"x\" onerror=\"alert(1)\"/>\
         <a href=\"javascript:alert(1)\">j</a><svg onload=\"alert(1)\"/>\
         <iframe src=\"javascript:alert(1)\"/><style>*{{x:expression(alert(1))}}</style>\
         <p style=\"background:url(javascript:alert(1))\">p</p></div></content></entry>\n"
    ));
    out.push_str("</feed>\n");
    out
}

/// JSON Feed 1.1 with every vector in every field.
fn hostile_json() -> String {
    let date = recent();
    let mut items = Vec::new();
    for (i, v) in vectors(HTML_VECTORS).into_iter().enumerate() {
        items.push(serde_json::json!({
            "id": format!("json-h{i}"),
            "url": format!("https://json.example/h{i}"),
            "title": v,
            "content_html": v,
            "summary": v,
            "date_published": date,
            "authors": [{"name": v, "url": v, "avatar": v}],
            "tags": [v],
            "attachments": [{"url": v, "mime_type": v}],
        }));
        items.push(serde_json::json!({
            "id": format!("json-t{i}"),
            "title": format!("text {i}"),
            "content_text": v,
            "date_published": date,
        }));
    }
    for (i, u) in vectors(URL_VECTORS).into_iter().enumerate() {
        items.push(serde_json::json!({
            "id": format!("json-u{i}"),
            "url": u,
            "external_url": u,
            "title": format!("json link {i}"),
            "content_html": format!("<a href=\"{}\">absolute</a>", esc(u)),
            "date_published": date,
            "attachments": [{"url": u, "mime_type": "audio/mpeg"}],
        }));
    }
    serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "<script>alert(1)</script>",
        "home_page_url": "javascript:alert(1)",
        "items": items,
    })
    .to_string()
}

// ------------------------------------------------------------------ checks

/// One HTML tag as a browser's tokenizer sees it: lower-cased name, and
/// attributes with character references decoded.
#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

struct TagSink(RefCell<Vec<Tag>>);

impl TokenSink for TagSink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        if let Token::TagToken(tag) = token
            && tag.kind == TagKind::StartTag
        {
            self.0.borrow_mut().push(Tag {
                name: tag.name.to_string().to_ascii_lowercase(),
                attrs: tag
                    .attrs
                    .iter()
                    .map(|a| {
                        (
                            a.name.local.to_string().to_ascii_lowercase(),
                            a.value.to_string(),
                        )
                    })
                    .collect(),
            });
        }
        TokenSinkResult::Continue
    }
}

fn html_tags(html: &str) -> Vec<Tag> {
    let tok = Tokenizer::new(TagSink(RefCell::new(Vec::new())), TokenizerOpts::default());
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tok.feed(&input);
    tok.end();
    tok.sink.0.take()
}

/// Elements that run script, load active content, restyle or take over the
/// page, or submit anywhere.
const FORBIDDEN_TAGS: &[&str] = &[
    "script", "iframe", "frame", "frameset", "object", "embed", "applet", "style", "link", "meta",
    "base", "form", "input", "button", "textarea", "select", "svg", "math", "body", "html", "head",
    "noscript", "template", "bgsound", "xss", "video", "audio", "source",
];

/// A URL as a browser reads it: ASCII whitespace and control characters
/// anywhere are ignored, case does not matter.
fn squeeze(value: &str) -> String {
    value
        .chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .collect::<String>()
        .to_ascii_lowercase()
}

fn dangerous_url(value: &str) -> bool {
    let v = squeeze(value);
    ["javascript:", "vbscript:", "livescript:", "data:", "file:"]
        .iter()
        .any(|s| v.starts_with(s) || v.contains(&format!("url={s}")))
}

/// Every reason `html` (an HTML payload, already un-escaped once) is unsafe.
fn html_problems(html: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let lower = html.to_ascii_lowercase();
    for raw in ["<script", "<iframe", "<svg", "<object", "<embed", "<style"] {
        if lower.contains(raw) {
            problems.push(format!("raw {raw}"));
        }
    }
    for tag in html_tags(html) {
        if FORBIDDEN_TAGS.contains(&tag.name.as_str()) {
            problems.push(format!("<{}>", tag.name));
        }
        for (name, value) in &tag.attrs {
            if name.starts_with("on") {
                problems.push(format!("<{} {name}>", tag.name));
            } else if matches!(
                name.as_str(),
                "style" | "srcdoc" | "formaction" | "action" | "xlink:href" | "http-equiv"
            ) || dangerous_url(value)
                || squeeze(value).contains("expression(")
            {
                problems.push(format!("<{} {name}={value:?}>", tag.name));
            }
        }
    }
    problems
}

/// A link that may be emitted: an absolute http(s) URL.
fn http_link(value: &str) -> bool {
    url::Url::parse(value).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// What a document check looked at, for the figures in the assertions.
#[derive(Debug, Default)]
struct Checked {
    entries: usize,
    html_payloads: usize,
    links: usize,
    problems: Vec<String>,
}

/// Element names a served Atom or RSS document may contain.
const FEED_ELEMENTS: &[&str] = &[
    "feed",
    "title",
    "id",
    "updated",
    "published",
    "generator",
    "link",
    "entry",
    "author",
    "name",
    "email",
    "uri",
    "category",
    "source",
    "summary",
    "content",
    "rss",
    "channel",
    "description",
    "lastBuildDate",
    "atom:link",
    "item",
    "content:encoded",
    "guid",
    "pubDate",
    "enclosure",
    "dc:creator",
];

/// Attributes whose value is a URL.
const URL_ATTRS: &[&str] = &["href", "url", "src", "uri"];

/// Reads an Atom or RSS document with quick-xml (an error is a document no
/// XML reader accepts) and checks every element, attribute and payload.
fn check_xml(doc: &str) -> Checked {
    use quick_xml::XmlVersion;
    use quick_xml::events::Event;
    let v = XmlVersion::Implicit1_0;
    let mut checked = Checked::default();
    let mut reader = quick_xml::Reader::from_str(doc);
    reader.config_mut().check_end_names = true;
    // (element name, its `type` attribute, its text un-escaped once)
    let mut stack: Vec<(String, Option<String>, String)> = Vec::new();
    let problem = |checked: &mut Checked, p: String| checked.problems.push(p);
    let start = |checked: &mut Checked, e: &quick_xml::events::BytesStart| {
        let name = e.name().as_ref().to_owned();
        if !FEED_ELEMENTS.contains(&name.as_str()) {
            problem(checked, format!("element <{name}> in the document"));
        }
        if name == "entry" || name == "item" {
            checked.entries += 1;
        }
        let mut kind = None;
        for a in e.attributes() {
            let a = a.expect("attribute");
            let key = a.key.as_ref().to_owned();
            let value = a.normalized_value(v).expect("attribute value").into_owned();
            if key == "type" {
                kind = Some(value.clone());
            }
            if URL_ATTRS.contains(&key.as_str()) {
                checked.links += 1;
                if !http_link(&value) {
                    problem(
                        checked,
                        format!("<{name} {key}={value:?}>: not an http(s) link"),
                    );
                }
            } else if key.starts_with("on") || (key.starts_with("xmlns:") && name != "rss") {
                problem(checked, format!("<{name} {key}>"));
            }
        }
        (name, kind)
    };
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) => {
                let (name, kind) = start(&mut checked, &e);
                stack.push((name, kind, String::new()));
            }
            Ok(Event::Empty(e)) => {
                start(&mut checked, &e);
            }
            Ok(Event::Text(t)) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&t.xml_content(v));
                }
            }
            Ok(Event::CData(t)) => {
                if let Some(top) = stack.last_mut() {
                    top.2.push_str(&t.xml_content(v));
                }
            }
            Ok(Event::GeneralRef(r)) => {
                let name = r.xml_content(v);
                let c = match &*name {
                    "amp" => '&',
                    "lt" => '<',
                    "gt" => '>',
                    "quot" => '"',
                    "apos" => '\'',
                    _ => r
                        .resolve_char_ref()
                        .expect("character reference")
                        .unwrap_or_else(|| panic!("undefined entity &{name};")),
                };
                if let Some(top) = stack.last_mut() {
                    top.2.push(c);
                }
            }
            Ok(Event::End(_)) => {
                let (name, kind, text) = stack.pop().expect("balanced");
                let html = match name.as_str() {
                    "content" | "summary" => kind.as_deref() == Some("html"),
                    "description" | "content:encoded" => true,
                    _ => false,
                };
                if html {
                    checked.html_payloads += 1;
                    for p in html_problems(&text) {
                        checked.problems.push(format!("<{name}>: {p} in {text:?}"));
                    }
                } else if name == "link" && !text.is_empty() {
                    checked.links += 1;
                    if !http_link(&text) {
                        checked
                            .problems
                            .push(format!("<link>{text:?}: not an http(s) link"));
                    }
                }
            }
            Ok(Event::DocType(_)) => checked.problems.push("a DOCTYPE".into()),
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => panic!("not well-formed at {}: {e}", reader.buffer_position()),
        }
    }
    assert!(stack.is_empty(), "unclosed elements");
    for c in doc.chars() {
        if c.is_control() && !matches!(c, '\n' | '\t' | '\r') {
            checked
                .problems
                .push(format!("control character {c:?} in the document"));
        }
    }
    checked
}

/// Checks a JSON Feed document: every URL field http(s), every HTML field safe.
fn check_json(doc: &str) -> Checked {
    let value: serde_json::Value = serde_json::from_str(doc).expect("valid JSON");
    let mut checked = Checked::default();
    fn walk(key: &str, value: &serde_json::Value, checked: &mut Checked) {
        match value {
            serde_json::Value::Object(o) => {
                if o.contains_key("content_html") {
                    checked.entries += 1;
                }
                for (k, v) in o {
                    walk(k, v, checked);
                }
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| walk(key, v, checked)),
            serde_json::Value::String(s) => match key {
                "url" | "external_url" | "home_page_url" | "feed_url" | "next_url" | "image"
                | "banner_image" | "avatar" | "icon" | "favicon" => {
                    checked.links += 1;
                    if !http_link(s) {
                        checked
                            .problems
                            .push(format!("{key}: {s:?} is not an http(s) link"));
                    }
                }
                "content_html" | "summary" => {
                    checked.html_payloads += 1;
                    for p in html_problems(s) {
                        checked.problems.push(format!("{key}: {p} in {s:?}"));
                    }
                }
                _ => {
                    if s.chars()
                        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'))
                    {
                        checked
                            .problems
                            .push(format!("{key}: control character in {s:?}"));
                    }
                }
            },
            _ => {}
        }
    }
    walk("", &value, &mut checked);
    checked
}

#[test]
fn the_checker_itself_flags_every_html_vector_and_every_url_vector() {
    // Guard against a checker that passes everything: each raw vector that
    // carries markup must be flagged, and each URL vector refused as a link.
    for v in vectors(HTML_VECTORS) {
        // Harmless in today's browsers, or text that only turns into markup
        // once a feed parser has read it.
        // (Backtick-quoted attributes and `&{…}` entities ran in old IE only.)
        if v.starts_with("<p>NUL") || v.starts_with("<?") || v.starts_with("<BR") || v.contains('`')
        {
            continue;
        }
        assert!(!html_problems(v).is_empty(), "not flagged: {v}");
    }
    for u in vectors(URL_VECTORS) {
        assert!(!http_link(u.trim()) || u.contains("&#"), "accepted: {u}");
    }
    assert!(
        html_problems("<p>ok <a href=\"https://a.example/\">a</a> &lt;script&gt;</p>").is_empty()
    );
}

#[tokio::test]
async fn no_xss_vector_in_any_field_reaches_atom_rss_or_json_output() {
    let feeds = FeedServer::start().await;
    feeds.set("x.rss", Canned::ok("application/rss+xml", &hostile_rss()));
    feeds.set(
        "x.atom",
        Canned::ok("application/atom+xml", &hostile_atom()),
    );
    feeds.set(
        "x.json",
        Canned::ok("application/feed+json", &hostile_json()),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[
            (
                "rss",
                "RSS <script>alert(1)</script>",
                &feeds.url("x.rss"),
                2,
            ),
            (
                "atom",
                "Atom \\\" onload=\\\"alert(1)",
                &feeds.url("x.atom"),
                1,
            ),
            ("json", "JSON ]]> &amp;", &feeds.url("x.json"), 0),
        ]),
    );
    let app = App::build(settings).await.unwrap();
    let html = vectors(HTML_VECTORS).len();
    let urls = vectors(URL_VECTORS).len();
    let expected = [html + 2 * urls + 2, html + urls + 1, 2 * html + urls];
    for (report, want) in app.poll_once().await.into_iter().zip(expected) {
        match report.outcome {
            PollOutcome::Ok { seen, .. } => {
                assert_eq!(seen, want, "{}: every hostile item is kept", report.source)
            }
            other => panic!("{}: {other:?}", report.source),
        }
    }
    let stored = app.store().counts().unwrap().items as usize;
    assert_eq!(stored, expected.iter().sum::<usize>());

    let running = spawn_app(app);
    let mut totals = Checked::default();
    for query in ["?limit=500", "?limit=500&copies=all"] {
        for (path, json) in [
            ("/feed.atom", false),
            ("/feed.rss", false),
            ("/feed.json", true),
        ] {
            let (status, body) = get_text(&running.url(&format!("{path}{query}"))).await;
            assert_eq!(status, StatusCode::OK, "{path}{query}");
            let checked = if json {
                check_json(&body)
            } else {
                check_xml(&body)
            };
            assert!(
                checked.problems.is_empty(),
                "{path}{query}: {} problems:\n{}",
                checked.problems.len(),
                checked.problems.join("\n")
            );
            if query.contains("copies=all") {
                assert_eq!(checked.entries, stored, "{path}{query}: every item served");
            }
            totals.entries += checked.entries;
            totals.html_payloads += checked.html_payloads;
            totals.links += checked.links;
        }
    }
    // The figures, so a reader of the test log sees how much was checked.
    eprintln!(
        "hostile output: {html} html + {urls} url vectors; {} entries, {} html payloads, {} links checked",
        totals.entries, totals.html_payloads, totals.links
    );
    assert!(totals.html_payloads > 1000, "{totals:?}");
    running.stop().await;
}

#[tokio::test]
async fn an_item_link_that_is_not_http_is_never_emitted_as_a_link() {
    let feeds = FeedServer::start().await;
    feeds.set("x.rss", Canned::ok("application/rss+xml", &hostile_rss()));
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[("rss", "RSS", &feeds.url("x.rss"), 0)]),
    );
    let app = App::build(settings).await.unwrap();
    app.poll_once().await;
    let stories = app.store().latest_stories(1000).unwrap();
    let mut without = HashSet::new();
    for story in &stories {
        for copy in story.copies() {
            let item = &copy.item;
            if let Some(link) = &item.link {
                assert!(http_link(link), "{}: {link:?}", item.identity);
            } else {
                without.insert(item.identity.clone());
            }
            for e in &item.enclosures {
                assert!(
                    http_link(&e.url),
                    "{}: enclosure {:?}",
                    item.identity,
                    e.url
                );
            }
        }
    }
    // Every "rss link N" item lost its link (or it resolved to http), and
    // the items themselves were kept.
    let urls = vectors(URL_VECTORS).len();
    assert!(
        (0..urls).all(|i| stories
            .iter()
            .any(|s| s.chosen.item.title == format!("rss link {i}")
                || s.others
                    .iter()
                    .any(|c| c.item.title == format!("rss link {i}")))),
        "an item with a hostile link was dropped"
    );
    assert!(without.len() >= urls, "{without:?}");
}

// ------------------------------------------------------ resource safety

const CONTROL_RSS: &str = crate::helpers::AGENCY_RSS;

/// An RSS document around `items` (raw XML), with an optional prolog
/// (declarations, DOCTYPE) before the root.
fn rss_doc(prolog: &str, items: &str) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n{prolog}\n<rss version=\"2.0\"><channel>\
         <title>hostile</title><link>https://hostile.example/</link><description>d</description>\
         {items}</channel></rss>\n"
    )
}

/// Billion laughs, parameter entities and a quadratic blow-up: about 1 GB
/// each if anything expanded them.
fn entity_bombs() -> String {
    let big = "A".repeat(50_000);
    let refs = "&big;".repeat(20_000);
    rss_doc(
        &format!(
            "<!DOCTYPE rss [\n\
             <!ENTITY lol \"lol\">\n\
             <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n\
             <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n\
             <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n\
             <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n\
             <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n\
             <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n\
             <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n\
             <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n\
             <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n\
             <!ENTITY % pe \"<!ENTITY pex '&lol9;'>\"> %pe;\n\
             <!ENTITY big \"{big}\">\n]>"
        ),
        &format!(
            "<item><title>laughs &lol9;</title><guid>bomb-1</guid><description>&lol9;&pex;</description></item>\
             <item><title>quadratic</title><guid>bomb-2</guid><description>{refs}</description></item>\
             <item><title>plain</title><guid>bomb-3</guid><description>still here</description></item>"
        ),
    )
}

/// Every way an XML document can ask its reader to fetch something.
fn external_entities(base: &str) -> String {
    format!(
        "<?xml version=\"1.0\"?>\n\
         <?xml-stylesheet type=\"text/xsl\" href=\"{base}/ext-xsl\"?>\n\
         <!DOCTYPE rss SYSTEM \"{base}/ext-dtd\" [\n\
         <!ENTITY xxe SYSTEM \"{base}/ext-entity\">\n\
         <!ENTITY pub PUBLIC \"-//X//Y\" \"{base}/ext-public\">\n\
         <!ENTITY % pe SYSTEM \"{base}/ext-parameter\"> %pe;\n\
         <!ENTITY file SYSTEM \"file:///etc/passwd\">\n\
         ]>\n\
         <rss version=\"2.0\" xmlns:xi=\"http://www.w3.org/2001/XInclude\"><channel>\
         <title>xxe &xxe;</title><link>https://xxe.example/</link><description>d</description>\
         <item><title>XXE &xxe;&pub;&file;</title><guid>xxe-1</guid>\
         <description>a&xxe;b<xi:include href=\"{base}/ext-xinclude\" parse=\"text\"/></description></item>\
         </channel></rss>\n"
    )
}

/// 200 000 nested elements, as XML and as escaped HTML in a description.
fn deep_xml() -> String {
    rss_doc(
        "",
        &format!(
            "<item><title>deep</title><guid>deep-1</guid><description>{}</description></item>",
            "<div>".repeat(200_000)
        ),
    )
}

fn deep_html() -> String {
    rss_doc(
        "",
        &format!(
            "<item><title>deep html</title><guid>deep-2</guid><description>{}x{}</description></item>",
            "&lt;div&gt;&lt;b&gt;".repeat(50_000),
            "&lt;/b&gt;&lt;/div&gt;".repeat(50_000)
        ),
    )
}

/// One item whose description is a single text node of `bytes` bytes.
fn one_text_node(bytes: usize) -> String {
    let words = "lorem ipsum dolor sit amet ";
    let text = words.repeat(bytes / words.len() + 1);
    rss_doc(
        "",
        &format!(
            "<item><title>huge</title><guid>huge-1</guid><description>{}</description></item>",
            &text[..bytes]
        ),
    )
}

fn many_items(n: usize) -> String {
    let mut items = String::with_capacity(n * 48);
    for i in 0..n {
        items.push_str(&format!(
            "<item><title>n{i}</title><guid>g{i}</guid></item>"
        ));
    }
    rss_doc("", &items)
}

/// Invalid UTF-8 in the declaration, element names, attributes, titles,
/// CDATA and text: lone continuation bytes, overlong forms, surrogates,
/// bytes that never occur, a sequence cut at the end.
fn invalid_utf8() -> Vec<u8> {
    let bad: &[&[u8]] = &[
        b"\x80",
        b"\xbf\xbf",
        b"\xc0\xaf",
        b"\xe0\x80\xaf",
        b"\xed\xa0\x80",
        b"\xed\xbf\xbf",
        b"\xf4\x90\x80\x80",
        b"\xf8\x88\x80\x80\x80",
        b"\xfe\xff",
        b"\xff",
        b"\xe2\x82",
    ];
    let mut doc: Vec<u8> = b"<?xml version=\"1.0\" encoding=\"utf-8\xff\"?>\n".to_vec();
    doc.extend_from_slice(b"<rss version=\"2.0\"><channel><title>t\xc3</title>");
    doc.extend_from_slice(b"<link>https://u.example/\xff</link><description>d</description>");
    for (i, b) in bad.iter().enumerate() {
        doc.extend_from_slice(format!("<item><guid>utf-{i}").as_bytes());
        doc.extend_from_slice(b);
        doc.extend_from_slice(b"</guid><title>caf\xc3\xa9 ");
        doc.extend_from_slice(b);
        doc.extend_from_slice(b" x</title><description><![CDATA[<p>");
        doc.extend_from_slice(b);
        doc.extend_from_slice(b"</p>]]></description><category>");
        doc.extend_from_slice(b);
        doc.extend_from_slice(b"</category><enclosure url=\"https://u.example/");
        doc.extend_from_slice(b);
        doc.extend_from_slice(b"\" type=\"a\"/><x");
        doc.extend_from_slice(b);
        doc.extend_from_slice(b">y</x");
        doc.extend_from_slice(b);
        doc.extend_from_slice(b"></item>");
    }
    doc.extend_from_slice(b"</channel></rss>\xe2\x82");
    doc
}

fn invalid_utf8_json() -> Vec<u8> {
    let mut doc =
        b"{\"version\":\"https://jsonfeed.org/version/1.1\",\"title\":\"j\xff\",\"items\":["
            .to_vec();
    doc.extend_from_slice(
        b"{\"id\":\"a\xc0\xaf\",\"title\":\"t\xed\xa0\x80\",\"content_html\":\"<p>\xfe</p>\"},",
    );
    doc.extend_from_slice(b"{\"id\":\"b\",\"title\":\"ok\",\"content_text\":\"fine\"}]}");
    doc
}

/// How one hazard must end: items stored, or a recorded error.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Parsed and stored, with at least this many items.
    Stored(usize),
    /// Either stored or a recorded error; never a panic, never the others.
    Either,
    /// A recorded error whose reason contains this text.
    Error(&'static str),
}

#[tokio::test]
async fn each_resource_hazard_costs_only_its_own_source_and_nothing_is_fetched_for_it() {
    let bodies: Arc<std::sync::Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
    let table = Arc::clone(&bodies);
    let server = ScriptedServer::start(Duration::ZERO, move |seen, _| {
        match table.lock().unwrap().get(&seen.path) {
            Some(body) => (
                [(header::CONTENT_TYPE, "application/rss+xml")],
                body.clone(),
            )
                .into_response(),
            None => StatusCode::NOT_FOUND.into_response(),
        }
    })
    .await;
    let base = server.url("");
    let hazards: Vec<(&str, Vec<u8>, Expect)> = vec![
        ("bombs", entity_bombs().into_bytes(), Expect::Stored(3)),
        (
            "external",
            external_entities(&base).into_bytes(),
            Expect::Stored(1),
        ),
        ("deep-xml", deep_xml().into_bytes(), Expect::Either),
        ("deep-html", deep_html().into_bytes(), Expect::Stored(1)),
        (
            "over-cap",
            one_text_node(20 * 1024 * 1024).into_bytes(),
            Expect::Error("over the limit of 10485760 bytes"),
        ),
        ("utf8", invalid_utf8(), Expect::Stored(5)),
        ("utf8-json", invalid_utf8_json(), Expect::Stored(1)),
        (
            "control",
            CONTROL_RSS.as_bytes().to_vec(),
            Expect::Stored(3),
        ),
    ];
    let mut table = Vec::new();
    for (id, body, _) in &hazards {
        bodies
            .lock()
            .unwrap()
            .insert(format!("/{id}"), body.clone());
        table.push((*id, *id, server.url(&format!("/{id}")), 0));
    }
    let toml: Vec<(&str, &str, &str, i64)> = table
        .iter()
        .map(|(a, b, c, d)| (*a, *b, c.as_str(), *d))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(settings(dir.path(), &sources_toml(&toml)))
        .await
        .unwrap();
    let reports = app.poll_once().await;
    let states = app.store().source_states().unwrap();
    for ((id, _, expect), report) in hazards.iter().zip(&reports) {
        let state = states.iter().find(|s| s.id.as_str() == *id).unwrap();
        assert!(
            state.last_polled_at.is_some(),
            "{id}: the poll was recorded"
        );
        // Generous (debug build, 2 shared cores): before the fix, 2 MB of
        // nested HTML took 290 s and 150 KB of references 10 s here.
        assert!(
            report.elapsed < Duration::from_secs(30),
            "{id}: {:?}",
            report.elapsed
        );
        match (expect, &report.outcome) {
            (Expect::Stored(n), PollOutcome::Ok { seen, .. }) => {
                assert!(seen >= n, "{id}: {seen} items, expected at least {n}")
            }
            (Expect::Error(text), PollOutcome::Failed { reason }) => {
                assert!(reason.contains(text), "{id}: {reason}");
                assert_eq!(state.last_error.as_deref(), Some(reason.as_str()), "{id}");
            }
            (Expect::Either, PollOutcome::Ok { .. }) => {}
            (Expect::Either, PollOutcome::Failed { reason }) => {
                assert_eq!(state.last_error.as_deref(), Some(reason.as_str()), "{id}");
            }
            (_, other) => panic!("{id}: {other:?}, expected {expect:?}"),
        }
    }
    for path in [
        "/ext-xsl",
        "/ext-dtd",
        "/ext-entity",
        "/ext-public",
        "/ext-parameter",
        "/ext-xinclude",
    ] {
        assert_eq!(server.hits(path), 0, "{path} was fetched");
    }

    // Nothing was expanded: no stored text holds the laughs or the file.
    let stories = app.store().latest_stories(1000).unwrap();
    for story in &stories {
        for copy in story.copies() {
            let item = &copy.item;
            let all = format!(
                "{} {:?} {:?} {:?}",
                item.title, item.summary, item.content, item.author
            );
            assert!(!all.contains("lollol"), "{}: expanded", item.identity);
            assert!(!all.contains("root:"), "{}: /etc/passwd", item.identity);
            assert!(
                all.len() < 2_000_000,
                "{}: {} bytes",
                item.identity,
                all.len()
            );
        }
    }
    // And what was stored is served as well-formed, safe documents.
    let running = spawn_app(app);
    for path in ["/feed.atom?limit=500", "/feed.rss?limit=500"] {
        let (status, body) = get_text(&running.url(path)).await;
        assert_eq!(status, StatusCode::OK);
        let checked = check_xml(&body);
        assert!(
            checked.problems.is_empty(),
            "{path}: {:?}",
            checked.problems
        );
    }
    let (_, body) = get_text(&running.url("/feed.json?limit=500")).await;
    assert!(check_json(&body).problems.is_empty());
    running.stop().await;
}

#[tokio::test]
async fn a_single_text_node_just_under_the_body_cap_is_parsed_and_stored() {
    let body = one_text_node(Limits::DEFAULT_MAX_BODY - 4096);
    assert!(body.len() < Limits::DEFAULT_MAX_BODY);
    let feeds = FeedServer::start().await;
    feeds.set("huge.xml", Canned::ok("application/rss+xml", &body));
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[("huge", "Huge", &feeds.url("huge.xml"), 0)]),
    );
    let app = App::build(settings).await.unwrap();
    let report = app.poll_once().await.remove(0);
    assert!(
        matches!(
            report.outcome,
            PollOutcome::Ok {
                seen: 1,
                new: 1,
                ..
            }
        ),
        "{:?}",
        report.outcome
    );
    let story = app.store().latest_stories(1).unwrap().remove(0);
    let stored = story
        .chosen
        .item
        .summary
        .or(story.chosen.item.content)
        .unwrap();
    assert!(
        stored.len() > Limits::DEFAULT_MAX_BODY - 8192,
        "{} bytes",
        stored.len()
    );
}

#[tokio::test]
async fn a_feed_of_100_000_items_is_cut_at_the_item_cap_and_the_poll_says_so() {
    let body = many_items(100_000);
    assert!(body.len() < Limits::DEFAULT_MAX_BODY);
    let feeds = FeedServer::start().await;
    feeds.set("many.xml", Canned::ok("application/rss+xml", &body));
    feeds.set(
        "control.xml",
        Canned::ok("application/rss+xml", CONTROL_RSS),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[
            ("many", "Many", &feeds.url("many.xml"), 0),
            ("control", "Control", &feeds.url("control.xml"), 0),
        ]),
    );
    let app = App::build(settings).await.unwrap();
    let started = std::time::Instant::now();
    let reports = app.poll_once().await;
    let cap = Limits::DEFAULT_MAX_ITEMS;
    assert_eq!(
        reports[0].outcome,
        PollOutcome::Ok {
            seen: cap,
            new: cap,
            updated: 0,
            merged: 0
        }
    );
    assert!(matches!(reports[1].outcome, PollOutcome::Ok { new: 3, .. }));
    assert_eq!(app.store().counts().unwrap().items as usize, cap + 3);
    // The first items in document order are the ones taken.
    let titles: HashSet<String> = app
        .store()
        .latest_stories(cap + 10)
        .unwrap()
        .into_iter()
        .map(|s| s.chosen.item.title)
        .collect();
    assert!(titles.contains("n0") && titles.contains(&format!("n{}", cap - 1)));
    assert!(!titles.contains(&format!("n{cap}")));
    // The cap is recorded on the source, where an operator looks.
    let state = app
        .store()
        .source_state(&wiredesk::model::SourceId::new("many"))
        .unwrap()
        .unwrap();
    assert_eq!(state.last_status.as_deref(), Some("ok"));
    let note = state.last_error.unwrap_or_default();
    assert!(
        note.contains("100000 entries") && note.contains(&cap.to_string()),
        "{note}"
    );
    eprintln!("100 000 items polled in {:?}", started.elapsed());
}

// ------------------------------------------------------ server side

#[tokio::test]
async fn pathological_searches_and_limits_are_answered_in_bounded_time() {
    let feeds = FeedServer::start().await;
    feeds.set(
        "many.xml",
        Canned::ok("application/rss+xml", &many_items(3000)),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[("many", "Many", &feeds.url("many.xml"), 0)]),
    );
    let app = App::build(settings).await.unwrap();
    app.poll_once().await;
    let running = spawn_app(app);

    let near = format!("NEAR({} , 100000)", "n* ".repeat(150));
    let searches: Vec<(String, &[StatusCode])> = vec![
        (
            format!("{}n1{}", "(".repeat(240), ")".repeat(240)),
            &[StatusCode::OK, StatusCode::BAD_REQUEST],
        ),
        // Refused before any read since #20: too many prefixes, a prefix
        // of one character, a NEAR wider than 100 words.
        ("n* ".repeat(160), &[StatusCode::BAD_REQUEST]),
        ("n* OR ".repeat(80) + "n*", &[StatusCode::BAD_REQUEST]),
        (near, &[StatusCode::BAD_REQUEST]),
        ("NEAR(n1* n2* n3* n4*, 100)".into(), &[StatusCode::OK]),
        ("\"n1 n2 n3".into(), &[StatusCode::BAD_REQUEST]),
        ("title:".into(), &[StatusCode::BAD_REQUEST]),
        ("*".into(), &[StatusCode::BAD_REQUEST]),
        ("a\u{0}b".into(), &[StatusCode::OK, StatusCode::BAD_REQUEST]),
        ("x".repeat(501), &[StatusCode::BAD_REQUEST]),
        ("é".repeat(500), &[StatusCode::OK]),
    ];
    for (q, allowed) in &searches {
        for format in ["atom", "json"] {
            let encoded: String = url::form_urlencoded::byte_serialize(q.as_bytes()).collect();
            let started = std::time::Instant::now();
            let (status, _) =
                get_text(&running.url(&format!("/feed.{format}?limit=500&q={encoded}"))).await;
            assert!(allowed.contains(&status), "q={q:.60}: {status}");
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "q={q:.60}: {:?}",
                started.elapsed()
            );
        }
    }
    for (limit, want) in [
        ("500", StatusCode::OK),
        ("501", StatusCode::BAD_REQUEST),
        ("1000000000000000000000000", StatusCode::BAD_REQUEST),
        ("-1", StatusCode::BAD_REQUEST),
        ("0x10", StatusCode::BAD_REQUEST),
    ] {
        let (status, _) = get_text(&running.url(&format!("/feed.rss?limit={limit}"))).await;
        assert_eq!(status, want, "limit={limit}");
    }
    // Invalid UTF-8 in a parameter, and a query string of 60 KB.
    // (read lossily, as U+FFFD: a search like any other)
    let (status, _) = get_text(&running.url("/feed.atom?q=%FF%FE")).await;
    assert!(
        matches!(status, StatusCode::OK | StatusCode::BAD_REQUEST),
        "{status}"
    );
    let (status, _) = get_text(&running.url(&format!("/feed.atom?q={}", "a".repeat(60_000)))).await;
    assert!(status.is_client_error(), "{status}");
    let (status, _) = get_text(&running.url("/healthz")).await;
    assert_eq!(status, StatusCode::OK, "the server still answers");
    running.stop().await;
}

#[tokio::test]
async fn a_slow_client_is_cut_off_and_oversized_request_heads_are_refused() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use wiredesk::serve::server::{HEADER_READ_TIMEOUT, MAX_HEAD_BYTES, MAX_HEADERS};
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(settings(dir.path(), "")).await.unwrap();
    let running = spawn_app(app);

    // Slowloris: a header line every half second, never the end of the
    // head. The deadline counts from the connection's start, so trickling
    // does not reset it.
    let started = std::time::Instant::now();
    let stream = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        writer
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            .await?;
        for i in 0.. {
            tokio::time::sleep(Duration::from_millis(500)).await;
            writer.write_all(format!("X-{i}: y\r\n").as_bytes()).await?;
        }
        Ok::<(), std::io::Error>(())
    });
    let mut buf = Vec::new();
    let read = tokio::time::timeout(HEADER_READ_TIMEOUT * 3, reader.read_to_end(&mut buf)).await;
    assert!(
        read.is_ok(),
        "the connection was still open after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() >= HEADER_READ_TIMEOUT.mul_f64(0.9));
    trickle.abort();

    // Too many headers, and a head larger than the buffer: 431, no hang.
    for head in [
        (0..MAX_HEADERS + 10)
            .map(|i| format!("X-{i}: y\r\n"))
            .collect::<String>(),
        format!("X-big: {}\r\n", "y".repeat(200_000)),
        // Just over the documented 64 KiB, in one header and in twelve
        // (#20: a 114 KB head got through).
        format!("X-big: {}\r\n", "y".repeat(MAX_HEAD_BYTES + 100)),
        (0..12)
            .map(|i| format!("X-{i}: {}\r\n", "y".repeat(9_500)))
            .collect::<String>(),
    ] {
        let mut stream = tokio::net::TcpStream::connect(running.addr).await.unwrap();
        let request = format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{head}\r\n");
        let _ = stream.write_all(request.as_bytes()).await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut answer))
            .await
            .expect("answered and closed");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 431"), "{:.80}", answer);
    }
    // A head of a few KB, as a reader with long cookies sends, is served.
    let mut stream = tokio::net::TcpStream::connect(running.addr).await.unwrap();
    let request = format!(
        "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nCookie: {}\r\n\r\n",
        "c".repeat(8_000)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    assert!(
        answer.starts_with(b"HTTP/1.1 200"),
        "{:.80}",
        String::from_utf8_lossy(&answer)
    );
    // A reader that behaves is still served.
    let (status, _) = get_text(&running.url("/healthz")).await;
    assert_eq!(status, StatusCode::OK);
    running.stop().await;
}

/// A source's fetch within the config's `[poll].timeout` (2 s here) in all.
async fn fetch_once(url: &str) -> Result<wiredesk::poll::fetch::Fetched, String> {
    let dir = tempfile::tempdir().unwrap();
    let settings = wiredesk::config::from_str(
        "[poll]\ntimeout = \"2s\"\n",
        &dir.path().join("t.toml"),
        dir.path(),
        [],
    )
    .unwrap();
    let fetcher = wiredesk::poll::fetch::Fetcher::new(&settings.poll).unwrap();
    fetcher
        .fetch(
            &url::Url::parse(url).unwrap(),
            &wiredesk::model::Validators::default(),
            &wiredesk::model::Headers::default(),
            chrono::Utc::now(),
        )
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn a_chain_of_slow_redirects_is_bounded_by_the_timeout_in_all() {
    // Five answers of 0.8 s each: every one within the 2 s timeout, 4 s in
    // all. The client's own timeout is per request, so this used to succeed.
    let server = ScriptedServer::start(Duration::from_millis(800), |seen, _| {
        let hop: u32 = seen.path.trim_start_matches("/hop").parse().unwrap_or(0);
        if hop < 4 {
            (
                StatusCode::FOUND,
                [(header::LOCATION, format!("/hop{}", hop + 1))],
            )
                .into_response()
        } else {
            (
                [(header::CONTENT_TYPE, "application/rss+xml")],
                crate::helpers::AGENCY_RSS,
            )
                .into_response()
        }
    })
    .await;
    let e = fetch_once(&server.url("/hop0")).await.unwrap_err();
    assert_eq!(e, "timed out after 2s");
}

#[tokio::test]
async fn a_file_source_that_is_not_a_regular_file_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("feed.xml");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if !made.is_ok_and(|s| s.success()) {
        eprintln!("skipped: mkfifo is not available here");
        return;
    }
    let url = url::Url::from_file_path(&fifo).unwrap();
    // Opening a FIFO for reading waits for a writer: for ever, past any
    // timeout, on a thread no one can stop.
    let e = fetch_once(url.as_str()).await.unwrap_err();
    assert!(e.contains("not a regular file"), "{e}");
    let e = fetch_once(url::Url::from_directory_path(dir.path()).unwrap().as_str())
        .await
        .unwrap_err();
    assert!(e.contains("not a regular file"), "{e}");
}

#[tokio::test]
async fn over_the_connection_cap_a_new_connection_is_closed_and_let_in_once_one_ends() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = tempfile::tempdir().unwrap();
    let store = wiredesk::store::Store::open(&dir.path().join("cap.db")).unwrap();
    let state = wiredesk::serve::ServeState::new(
        store,
        "cap",
        &url::Url::parse("http://127.0.0.1/").unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(wiredesk::serve::server::serve_with(
        listener,
        wiredesk::serve::router(state),
        stop.clone(),
        wiredesk::serve::server::Limits {
            connections: 2,
            write_timeout: wiredesk::serve::server::WRITE_TIMEOUT,
        },
    ));
    const REQUEST: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    // One request on a connection kept open; the status line, or None when
    // the server closed it.
    async fn ask(conn: &mut tokio::net::TcpStream) -> Option<String> {
        conn.write_all(REQUEST).await.ok()?;
        let mut buf = [0u8; 4096];
        let n = conn.read(&mut buf).await.ok()?;
        (n > 0).then(|| {
            String::from_utf8_lossy(&buf[..n])
                .lines()
                .next()
                .unwrap()
                .to_owned()
        })
    }
    // Two connections answered and kept alive hold both places.
    let mut a = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut b = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(ask(&mut a).await.as_deref(), Some("HTTP/1.1 200 OK"));
    assert_eq!(ask(&mut b).await.as_deref(), Some("HTTP/1.1 200 OK"));
    let mut c = tokio::net::TcpStream::connect(addr).await.unwrap();
    assert_eq!(ask(&mut c).await, None, "the third is closed at once");
    // One goes: a new connection is served again (once the server has
    // seen it go).
    drop(a);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let mut d = tokio::net::TcpStream::connect(addr).await.unwrap();
        if ask(&mut d).await.as_deref() == Some("HTTP/1.1 200 OK") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never let in again");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(b);
    stop.cancel();
}

#[tokio::test]
async fn a_client_that_stops_reading_an_answer_is_cut_off_and_frees_its_place() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A page far larger than the socket buffers between the two ends.
    let big = axum::Router::new()
        .route(
            "/big",
            axum::routing::get(|| async { vec![b'x'; 64 << 20] }),
        )
        .route("/small", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = tokio_util::sync::CancellationToken::new();
    tokio::spawn(wiredesk::serve::server::serve_with(
        listener,
        big,
        stop.clone(),
        wiredesk::serve::server::Limits {
            connections: 1,
            write_timeout: Duration::from_millis(500),
        },
    ));
    // The one place is taken by a client that asks and never reads (#20:
    // such connections held their descriptors for as long as they stayed
    // open).
    let mut stalled = tokio::net::TcpStream::connect(addr).await.unwrap();
    stalled
        .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    // Once the server gives up on it, another client is served.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let mut next = tokio::net::TcpStream::connect(addr).await.unwrap();
        let _ = next
            .write_all(b"GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await;
        let mut answer = Vec::new();
        let _ = next.read_to_end(&mut answer).await;
        if answer.starts_with(b"HTTP/1.1 200") {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the stalled client still holds the only place"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(stalled);
    stop.cancel();
}
