//! Properties: `parse` is total, and identity is a function of the entry.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use wiredesk::ingest::{FetchedBody, IngestError, Limits, ParsedFeed, parse};

const FIXTURES: &[&str] = &[
    "rss20.xml",
    "atom10.xml",
    "atom03.xml",
    "rss10.rdf",
    "jsonfeed11.json",
    "jsonfeed10_lenient.json",
    "bad_entry.xml",
    "unescaped_amp.xml",
];

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z")
        .unwrap()
        .to_utc()
}

fn run(bytes: &[u8], content_type: Option<&str>) -> Result<ParsedFeed, IngestError> {
    let url = url::Url::parse("https://feeds.example.com/feed/").unwrap();
    let r = parse(
        &FetchedBody {
            bytes,
            content_type,
            url: &url,
        },
        now(),
        &Limits::default(),
    );
    if let Err(IngestError::Malformed { reason }) = &r {
        assert!(
            !reason.contains("internal error"),
            "a panic inside ingest was caught: {reason}"
        );
    }
    r
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/ingest/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Tokens that break XML in interesting ways.
const NASTY: &[&[u8]] = &[
    b"&",
    b"<",
    b">",
    b"\0",
    b"]]>",
    b"<![CDATA[",
    b"<!--",
    b"&#0;",
    b"&nbsp;",
    b"\xff\xfe",
    b"\xfe\xff",
    b"\xef\xbb\xbf",
    b"\xc3",
    b"<item>",
    b"</item>",
    b"<entry>",
    b"</channel>",
    b"\"",
    b"<?xml version='1.0' encoding='utf-16'?>",
    b"{",
    b"}",
    b"<!DOCTYPE x [<!ENTITY a 'b'>]>",
    b"xml:base=\"::\"",
    b"\x00<\x00",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Delete(usize, usize),
    Insert(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Flip(p, b)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), 0..NASTY.len()).prop_map(|(p, t)| Mutation::Insert(p, t)),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(mut bytes: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = bytes.len().max(1);
        match *m {
            Mutation::Flip(p, b) => {
                if let Some(x) = bytes.get_mut(p % len) {
                    *x = b;
                }
            }
            Mutation::Delete(p, n) => {
                let start = (p % len).min(bytes.len());
                let end = (start + n).min(bytes.len());
                bytes.drain(start..end);
            }
            Mutation::Insert(p, t) => {
                let at = (p % len).min(bytes.len());
                bytes.splice(at..at, NASTY[t].iter().copied());
            }
            Mutation::Truncate(p) => bytes.truncate(p % len),
        }
    }
    bytes
}

fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(any::<char>(), 0..24).prop_map(String::from_iter)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[derive(Debug, Clone)]
struct GenItem {
    guid: Option<String>,
    link: Option<u32>,
    title: String,
    body: String,
}

fn gen_item() -> impl Strategy<Value = GenItem> {
    (
        prop::option::of(text()),
        prop::option::of(any::<u32>()),
        text(),
        text(),
    )
        .prop_map(|(guid, link, title, body)| GenItem {
            guid,
            link,
            title,
            body,
        })
}

fn rss(items: &[GenItem]) -> String {
    let mut s =
        String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>gen</title>");
    for i in items {
        s.push_str("<item>");
        if let Some(g) = &i.guid {
            s.push_str(&format!("<guid>{}</guid>", xml_escape(g)));
        }
        if let Some(l) = i.link {
            s.push_str(&format!("<link>https://gen.example.com/{l}</link>"));
        }
        s.push_str(&format!(
            "<title>{}</title><description>{}</description></item>",
            xml_escape(&i.title),
            xml_escape(&i.body)
        ));
    }
    s.push_str("</channel></rss>");
    s
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(512)
}

fn identities(f: &ParsedFeed) -> Vec<String> {
    f.items.iter().map(|i| i.identity.clone()).collect()
}

proptest! {
    // 512 cases by default (2 shared cores); PROPTEST_CASES=20000 for a long hunt.
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..2048), ct in prop::option::of(0usize..4)) {
        let ct = ct.map(|i| ["text/xml; charset=utf-16", "text/xml; charset=koi8-r", "application/json", "text/html; charset=bogus"][i]);
        let _ = run(&bytes, ct);
    }

    #[test]
    fn parse_never_panics_on_mutated_valid_feeds(which in 0..FIXTURES.len(), muts in prop::collection::vec(mutation(), 1..6)) {
        let bytes = apply(fixture(FIXTURES[which]), &muts);
        let _ = run(&bytes, None);
    }

    #[test]
    fn parse_never_panics_on_mutated_utf16_feeds(which in 0..FIXTURES.len(), muts in prop::collection::vec(mutation(), 0..4)) {
        let text = String::from_utf8_lossy(&fixture(FIXTURES[which])).into_owned();
        let mut bytes = vec![0xFE, 0xFF];
        bytes.extend(text.encode_utf16().flat_map(u16::to_be_bytes));
        let _ = run(&apply(bytes, &muts), None);
    }

    #[test]
    fn identity_is_stable_when_a_feed_is_re_parsed(items in prop::collection::vec(gen_item(), 0..12)) {
        let doc = rss(&items);
        let a = run(doc.as_bytes(), None).unwrap();
        let b = run(doc.as_bytes(), None).unwrap();
        prop_assert_eq!(&a.items, &b.items);
        // Identity depends on the entry, not on its position or neighbours.
        let mut reversed = items.clone();
        reversed.reverse();
        let c = run(rss(&reversed).as_bytes(), None).unwrap();
        let mut ia = identities(&a);
        let mut ic = identities(&c);
        ia.sort();
        ic.sort();
        prop_assert_eq!(ia, ic);
        // Never a made-up id: every identity is of one of our three kinds.
        for id in identities(&a) {
            prop_assert!(id.starts_with("guid") || id.starts_with("link:") || id.starts_with("hash:"), "{}", id);
        }
    }
}
