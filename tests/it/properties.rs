//! Properties (issue #9): normalisation is idempotent and deterministic, the
//! query parser round-trips, and every rendered document parses back with
//! the same entries, whatever the stories hold (control characters, `]]>`,
//! right-to-left text, emoji, `&` in URLs). Also the inputs the fuzz targets
//! (`fuzz/`) found, kept as regression tests.

use chrono::{DateTime, TimeZone, Utc};
use proptest::prelude::*;
use wiredesk::dedup::{DedupInput, NoBoilerplate, canonical_link, fingerprint, fold, title_key};
use wiredesk::model::{Item, SourceId, StoredItem, Story, story_uid};
use wiredesk::serve::query;
use wiredesk::serve::render::{self, Entries, FeedMeta};

use crate::helpers::atom_rule_breaks;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(256)
}

/// Pieces that break feeds in interesting ways, mixed with arbitrary chars.
const NASTY: &[&str] = &[
    "]]>",
    "<![CDATA[",
    "&",
    "&amp;",
    "&#0;",
    "<",
    ">",
    "\"",
    "'",
    "\0",
    "\u{1b}[31m",
    "\u{7}",
    "\u{FFFE}",
    "\u{FFFF}",
    "\r\n",
    "\t",
    "\u{202E}",
    "\u{200F}",
    "שלום עולם",
    "مرحبا",
    "👩‍👩‍👧",
    "🇺🇦",
    "e\u{301}",
    "ﬁ",
    "Ⅻ",
    "<script>alert(1)</script>",
    "<p>para</p>",
    " ",
    "UPDATE 2-",
    " - Reuters",
    "|",
    "—",
    "«»",
];

fn nasty() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            any::<char>().prop_map(String::from),
            (0..NASTY.len()).prop_map(|i| NASTY[i].to_owned()),
            "[a-zA-Z0-9 ]{1,8}",
        ],
        0..16,
    )
    .prop_map(|v| v.concat())
}

fn link() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        nasty().prop_map(|q| {
            let mut u = url::Url::parse("https://news.example.com/a/b").unwrap();
            u.query_pairs_mut()
                .append_pair("a", "1")
                .append_pair("q", &q)
                .append_pair("utm_source", "x");
            u.to_string()
        }),
        Just("https://news.example.com/story?id=1&amp;x=2&y=<3>".to_owned()),
        nasty(),
    ])
}

/// Mostly values some parameter accepts, so the round trip is exercised.
fn query_value() -> impl Strategy<Value = String> {
    prop_oneof![
        nasty(),
        "[0-9]{1,4}",
        Just("all".to_owned()),
        Just("a".to_owned()),
        Just("a,a".to_owned()),
        Just("2026-11-01T00:00:00Z".to_owned()),
        Just("2026-11-01T00:00:00+05:30".to_owned()),
        (any::<i64>(), any::<i64>())
            .prop_map(|(date, id)| query::encode_cursor(wiredesk::store::PageKey { date, id })),
    ]
}

// ---- normalisation ---------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn fold_is_idempotent(s in nasty()) {
        let once = fold(&s);
        prop_assert_eq!(fold(&once), once);
    }

    #[test]
    fn title_key_of_a_title_key_is_itself(s in nasty()) {
        let key = title_key(&s);
        prop_assert_eq!(title_key(&key), key);
    }

    #[test]
    fn canonical_link_is_idempotent(l in link()) {
        if let Some(c) = l.as_deref().and_then(canonical_link) {
            prop_assert_eq!(canonical_link(&c), Some(c));
        }
    }

    #[test]
    fn fingerprinting_the_same_input_twice_is_identical(
        title in nasty(), summary in nasty(), content in nasty(), link in link(), published in any::<i64>(),
    ) {
        let input = DedupInput {
            source: "s",
            title: &title,
            link: link.as_deref(),
            published,
            summary_html: &summary,
            content_html: &content,
        };
        prop_assert_eq!(fingerprint(&input, &NoBoilerplate), fingerprint(&input, &NoBoilerplate));
    }

    #[test]
    fn an_accepted_query_is_written_back_to_the_same_parameters(
        pairs in prop::collection::vec((0..query::KNOWN.len(), query_value()), 0..4),
    ) {
        let mut raw = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            raw.append_pair(query::KNOWN[*k], v);
        }
        let raw = raw.finish();
        let is_source = |id: &str| id == "a";
        if let Ok(p) = query::parse(Some(&raw), is_source) {
            let again = query::canonical(&p.query, p.token.as_deref());
            prop_assert_eq!(query::parse(Some(&again), is_source), Ok(p));
        }
    }
}

// ---- rendering -------------------------------------------------------------

fn date() -> impl Strategy<Value = DateTime<Utc>> {
    // 1970..2100: what a stored item can carry (ingest clamps the future).
    (0i64..4_102_444_800).prop_map(|s| Utc.timestamp_opt(s, 0).unwrap())
}

fn stored_item() -> impl Strategy<Value = StoredItem> {
    (
        (0usize..4, nasty(), nasty(), nasty()),
        (
            nasty(),
            link(),
            prop::option::of(date()),
            prop::option::of(nasty()),
        ),
        (
            prop::option::of(nasty()),
            prop::option::of(nasty()),
            prop::collection::vec(nasty(), 0..3),
            date(),
        ),
    )
        .prop_map(
            |(
                (src, source_name, identity, title),
                (tag, link, published, author),
                (summary, content, categories, first_seen),
            )| {
                let source = ["agency", "outlet-1", "x_y", "z"][src];
                StoredItem {
                    id: 0,
                    source_id: SourceId::new(source),
                    source_name,
                    source_url: format!("https://{source}.example/feed?a=1&b=2"),
                    source_priority: 0,
                    source_tags: vec![tag],
                    item: Item {
                        identity,
                        title,
                        link,
                        published,
                        updated: None,
                        author,
                        summary,
                        content,
                        categories,
                        enclosures: vec![],
                    },
                    first_seen,
                    changed_at: first_seen,
                }
            },
        )
}

fn stories() -> impl Strategy<Value = Vec<Story>> {
    prop::collection::vec(prop::collection::vec(stored_item(), 1..4), 0..5).prop_map(|groups| {
        let mut next_id = 0;
        groups
            .into_iter()
            .enumerate()
            .filter_map(|(n, mut copies)| {
                for c in &mut copies {
                    next_id += 1;
                    c.id = next_id;
                }
                let uid = story_uid(&copies[0].source_id, &copies[0].item.identity);
                let arrived = copies[0].first_seen;
                Story::from_copies(n as i64 + 1, uid, arrived, copies)
            })
            .collect()
    })
}

fn meta(entries: Entries, title: String, next: bool) -> FeedMeta {
    FeedMeta {
        title,
        self_url: "http://127.0.0.1:8080/feed.atom?source=a&q=x%26y".into(),
        home_url: "http://127.0.0.1:8080/".into(),
        next_url: next.then(|| "http://127.0.0.1:8080/feed.atom?cursor=abc&limit=2".into()),
        entries,
        hub_url: None,
    }
}

fn expected_ids(stories: &[Story], entries: Entries) -> Vec<String> {
    stories
        .iter()
        .map(|s| match entries {
            Entries::Stories => format!("urn:wiredesk:story:{}", s.uid),
            Entries::Copies => format!(
                "urn:wiredesk:item:{}",
                story_uid(&s.chosen.source_id, &s.chosen.item.identity)
            ),
        })
        .collect()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 0, 0, 0).unwrap()
}

fn reparsed_ids(doc: &str) -> Result<Vec<String>, String> {
    let feed = feed_rs::parser::parse(doc.as_bytes()).map_err(|e| format!("{e}\n{doc}"))?;
    Ok(feed.entries.into_iter().map(|e| e.id).collect())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn every_rendered_document_parses_back_with_the_same_entries(
        stories in stories(), title in nasty(), copies in any::<bool>(), next in any::<bool>(),
    ) {
        let entries = if copies { Entries::Copies } else { Entries::Stories };
        let meta = meta(entries, title, next);
        let want = expected_ids(&stories, entries);

        let atom = render::atom(&meta, &stories, now());
        prop_assert_eq!(reparsed_ids(&atom).map_err(TestCaseError::fail)?, want.clone(), "atom");
        // The validator's rules but unique ids (these stories may repeat one).
        let breaks: Vec<String> = atom_rule_breaks(&atom)
            .into_iter()
            .filter(|b| !b.ends_with("an id another entry has"))
            .collect();
        prop_assert!(breaks.is_empty(), "{:?}\n{}", breaks, atom);

        let rss = render::rss(&meta, &stories, now());
        prop_assert_eq!(reparsed_ids(&rss).map_err(TestCaseError::fail)?, want.clone(), "rss");

        let json = render::json(&meta, &stories, now());
        prop_assert_eq!(reparsed_ids(&json).map_err(TestCaseError::fail)?, want.clone(), "json (feed-rs)");
        let value: serde_json::Value = serde_json::from_str(&json).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let ids: Vec<String> = value["items"]
            .as_array()
            .map(|a| a.iter().map(|i| i["id"].as_str().unwrap_or_default().to_owned()).collect())
            .unwrap_or_default();
        prop_assert_eq!(ids, want, "json (serde_json)");
    }
}

// ---- inputs the fuzz targets found ------------------------------------------

/// `fuzz/` target `dedup`: a control character between a base letter and a
/// combining mark was removed after NFKC, so the first fold left `y\u{30A}`
/// and the second composed it to `ẙ` (fixed in src/dedup/text.rs, `fold`).
#[test]
fn fold_composes_a_mark_left_beside_its_base_by_a_removed_control_character() {
    let title = "LL\0lby\u{3}\u{30a}";
    let once = fold(title);
    assert_eq!(once, "LLlb\u{1e99}");
    assert_eq!(fold(&once), once);
    assert_eq!(title_key(&title_key(title)), title_key(title));
}

/// `fuzz/` target `dedup`: `İ` lower-cases to `i` + U+0307, a combining dot
/// that is not alphanumeric, so the title key of a title key lost it (fixed
/// in src/dedup/text.rs, `for_each_token`).
#[test]
fn title_key_drops_the_combining_dot_of_a_lower_cased_dotted_capital_i() {
    let key = title_key("LLzİ");
    assert_eq!(key, "llzi");
    assert_eq!(title_key(&key), key);
    assert_eq!(
        title_key("İstanbul talks resume"),
        title_key("ISTANBUL TALKS RESUME")
    );
}
