//! `ingest::parse` on arbitrary bytes with an arbitrary `Content-Type`.
//! A panic anywhere in it (even one its `catch_unwind` would turn into an
//! error) aborts the run: libFuzzer's panic hook fires first.
//!
//! Input: a feed body as is (so the test fixtures make a good seed corpus,
//! `cargo fuzz run ingest fuzz/corpus/ingest tests/fixtures/ingest`), its
//! content type one of a few common ones picked by the length; or, when it
//! starts with `\0`, a content type up to the first `\n`, then the body.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wiredesk::ingest::{FetchedBody, IngestError, Limits, parse};

const TYPES: &[Option<&str>] = &[
    None,
    Some("application/rss+xml"),
    Some("application/atom+xml; charset=iso-8859-1"),
    Some("text/xml; charset=utf-16"),
    Some("application/feed+json"),
    Some("application/json; charset=koi8-r"),
    Some("text/html; charset=bogus"),
];

fuzz_target!(|data: &[u8]| {
    let (content_type, bytes) = match data.strip_prefix(b"\0") {
        Some(rest) => {
            let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
            let ct = String::from_utf8_lossy(&rest[..end]).into_owned();
            (Some(ct), rest.get(end + 1..).unwrap_or_default())
        }
        None => (TYPES[data.len() % TYPES.len()].map(str::to_owned), data),
    };
    let url = url::Url::parse("https://feeds.example.com/feed/").expect("a valid URL");
    let now = chrono::DateTime::from_timestamp(1_717_200_000, 0).expect("a valid time");
    let body = FetchedBody {
        bytes,
        content_type: content_type.as_deref(),
        url: &url,
    };
    if let Err(IngestError::Malformed { reason }) = parse(&body, now, &Limits::default()) {
        assert!(!reason.contains("internal error"), "{reason}");
    }
});
