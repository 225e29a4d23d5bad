//! Criterion micro-benchmarks of the hot steps of a poll and of serving
//! (issue #8). Run by hand, never in CI:
//!
//! ```text
//! cargo bench --bench micro                      # everything, a few minutes
//! cargo bench --bench micro -- fingerprint       # one group (a filter)
//! WIREDESK_BENCH_STORE_ITEMS=1000000 cargo bench --bench micro -- dedup_store
//! ```
//!
//! Every group has a baseline measured in the same run, so that results can
//! be read as ratios on a shared, noisy machine:
//!
//! | group | measures | baseline |
//! |---|---|---|
//! | `ingest` | `ingest::parse` of one 50-item RSS 2.0 / Atom document (and of the RSS one without `<figure>`s) | `feed_rs::parser::parse` of the same bytes |
//! | `fingerprint` | `dedup::fingerprint` of 50 sanitised items | SHA-256 of the same bytes |
//! | `dedup_store` | one 20-item poll through `merge::prepare` (fingerprints, before the write) and `store_items` (one write transaction), into a store of 10 000 and of `WIREDESK_BENCH_STORE_ITEMS` (default 100 000) items; also the write alone, and the same poll written again unchanged | the same polls with `[dedup] enabled = false`, and as plain inserts (no fingerprint, no keys) |
//! | `render` | a 50-entry page as Atom, RSS and JSON Feed | escaping the entries' text once |
//!
//! The corpus is generated here, deterministically: invented words, names
//! and places (non-ASCII among them), several paragraphs of HTML per item
//! with links, quotes, lists, images, entities, and in a quarter of the
//! items a `<figure>` (which the sanitiser's fast path refuses, as it
//! refuses much real-world HTML). A quarter of the items of a poll are
//! republications of another source's recent story (a label, an ad slot,
//! a changed title, sometimes the last paragraph cut), so dedup merges;
//! one in eight new stories is a follow-up ending with a background
//! paragraph of a recent one, which dedup must keep apart. Unrelated
//! stories share no dedup key, so a new item has about 0.26 candidates
//! (its original, if it is a copy): the candidate work measured is that of
//! a store where nearly every candidate is a real copy.
//!
//! Run without `--bench` (`cargo test --benches`, or `cargo bench -- --test`)
//! every benchmark runs once on small stores: a quick check that they work.

// A measuring tool run by hand: a failed setup ends it with the reason,
// which is what `expect` does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::cell::RefCell;
use std::collections::VecDeque;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};
use criterion::{
    BenchmarkId, Criterion, SamplingMode, Throughput, criterion_group, criterion_main,
};
use sha2::{Digest, Sha256};

use wiredesk::config::DedupSettings;
use wiredesk::dedup::{DedupInput, NoBoilerplate, Thresholds, fingerprint};
use wiredesk::ingest::{FetchedBody, Limits, parse};
use wiredesk::merge;
use wiredesk::model::{Item, Source, SourceId, StoredItem, Story, story_uid};
use wiredesk::serve::render::{self, Entries, FeedMeta};
use wiredesk::store::Store;

/// Items in one generated feed document (ingest, fingerprint, render).
const DOC_ITEMS: usize = 50;
/// New items in one poll written by `dedup_store`.
const POLL_ITEMS: usize = 20;
/// The smaller store of `dedup_store`.
const SMALL_STORE: usize = 10_000;
/// The larger store's default; `WIREDESK_BENCH_STORE_ITEMS` overrides it.
const LARGE_STORE_DEFAULT: usize = 100_000;
/// `dedup_store` restores the prefilled store once the polls it has
/// written grew it by this share, so every measurement sees a store within
/// 5 % of its nominal size.
const MAX_DRIFT: f64 = 0.05;
/// Sources in the stores (the bench's polls come from these too).
const SOURCES: usize = 50;

/// The clock of every generated item and write: 2026-11-28 12:00 UTC.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

/// `cargo bench` passes `--bench`; without it criterion runs every
/// benchmark once as a test, and the stores are kept small.
fn measuring() -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter().any(|a| a == "--bench") && !args.iter().any(|a| a == "--test")
}

fn config() -> Criterion {
    // Short by default (the machines are small and shared); the command
    // line (`--measurement-time`, `--warm-up-time`, `--sample-size`) wins.
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .without_plots()
}

// ---------------------------------------------------------------------------
// The generated corpus: invented text only.

const FUNCTION_WORDS: &[&str] = &[
    "the", "of", "and", "to", "in", "a", "on", "for", "that", "with", "was", "by", "is", "as",
    "at", "from", "it", "has", "have", "will", "after", "their", "its", "were", "an", "be", "who",
    "had", "which", "but", "not", "this", "over", "more", "than", "about", "into", "would",
    "could", "also", "been", "they", "against", "before", "while", "since", "under", "between",
];

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ne", "ru", "sta", "vel", "dor", "ün", "é", "ø", "ja", "tri", "bel", "gor",
    "an", "es", "ol", "ri", "zu", "pa", "ço", "när", "ki", "ås", "te", "ber", "ın", "wa", "só",
];

const FIRST_NAMES: &[&str] = &[
    "Zoë", "José", "Søren", "Łucja", "Ólafur", "Ngọc", "Çağla", "Aurélie", "Jürgen", "Ewa",
    "Tomás", "Ayşe", "Håkon", "Chloé", "Dmitrij", "Ingrid", "Kwabena", "Mariña", "Renée", "Žaneta",
];

const SURNAMES: &[&str] = &[
    "Łukasiewicz",
    "Ødegård",
    "Nuñez",
    "Kovačević",
    "Brontë-Hale",
    "Şahin",
    "Dvořák",
    "Ångström",
    "Pérez Olmo",
    "Nakamura",
    "Oyèlọ́wọ̀",
    "Vuković",
    "Fernández",
    "Mbeki-Sørlie",
    "d'Aubigné",
    "Øyen",
    "Grünewald",
    "Jovanović",
    "Ibáñez",
    "Łapiński",
];

const VERBS: &[&str] = &[
    "said",
    "told reporters",
    "added",
    "noted",
    "warned",
    "argued",
    "wrote",
    "insisted",
];

const DAYS: &[&str] = &[
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

const PLACES: &[&str] = &[
    "Kraków",
    "São Paulo",
    "Zürich",
    "Reykjavík",
    "İstanbul",
    "Москва",
    "北京",
    "Göteborg",
    "Bogotá",
    "Montréal",
    "Łódź",
    "Curaçao",
    "Tromsø",
    "Düsseldorf",
    "Málaga",
];

const ROLES: &[&str] = &[
    "minister of finance",
    "spokeswoman",
    "chief executive",
    "opposition leader",
    "head of the central bank",
    "union representative",
    "mayor",
    "senior analyst",
];

/// One story as its agency writes it; copies are built from it.
#[derive(Clone)]
struct StoryText {
    id: u64,
    title: String,
    lead: String,
    /// Body blocks as HTML, the dateline already in the first.
    blocks: Vec<String>,
    author: String,
    category: &'static str,
    published: DateTime<Utc>,
}

/// A deterministic generator of invented news text.
struct Corpus {
    rng: fastrand::Rng,
    vocab: Vec<String>,
    next_story: u64,
}

impl Corpus {
    fn new(seed: u64, first_story: u64) -> Corpus {
        // The vocabulary is drawn from its own seed: every corpus speaks
        // the same invented language.
        let mut vrng = fastrand::Rng::with_seed(0x5EED_0F0C_0FFE);
        let vocab = (0..30_000)
            .map(|_| {
                let n = vrng.usize(2..=4);
                (0..n)
                    .map(|_| SYLLABLES[vrng.usize(..SYLLABLES.len())])
                    .collect::<String>()
            })
            .collect();
        Corpus {
            rng: fastrand::Rng::with_seed(seed),
            vocab,
            next_story: first_story,
        }
    }

    fn pick<'a>(&mut self, list: &[&'a str]) -> &'a str {
        list[self.rng.usize(..list.len())]
    }

    fn name(&mut self) -> String {
        format!("{} {}", self.pick(FIRST_NAMES), self.pick(SURNAMES))
    }

    fn word(&mut self) -> String {
        match self.rng.u32(..100) {
            0..40 => self.pick(FUNCTION_WORDS).to_owned(),
            40..95 => self.vocab[self.rng.usize(..self.vocab.len())].clone(),
            95..97 => self.pick(PLACES).to_owned(),
            97..99 => self.rng.u32(2..2_000).to_string(),
            _ => format!("{}.{}%", self.rng.u32(0..12), self.rng.u32(0..10)),
        }
    }

    fn words(&mut self, n: usize) -> String {
        (0..n).map(|_| self.word()).collect::<Vec<_>>().join(" ")
    }

    /// A sentence of HTML text, with the entities feeds use. Every four
    /// words in a row are mostly new ones: unrelated stories share few
    /// shingles, as real ones do.
    fn sentence(&mut self) -> String {
        let n = self.rng.usize(14..28);
        let mut s = self.words(n);
        if let Some(first) = s.get(..1) {
            let upper = first.to_uppercase();
            s.replace_range(..1, &upper);
        }
        let verb = self.pick(VERBS);
        match self.rng.u32(..10) {
            0 => {
                let (name, role, org) = (self.name(), self.pick(ROLES), self.words(2));
                let day = self.pick(DAYS);
                format!("{s}, {name}, {role} at {org}, {verb} on {day}.")
            }
            1 => {
                let (name, tail) = (self.name(), self.words(5));
                format!("&#8220;{s},&#8221; {name} {verb}, {tail}&#8217;s view.")
            }
            2 => format!("{s} &mdash; {}.", self.words(6)),
            3 => format!("{s} &amp; {}.", self.words(4)),
            4 => format!(
                "{s},&nbsp;{} {} per cent.",
                self.words(2),
                self.rng.u32(1..99)
            ),
            _ => format!("{s}."),
        }
    }

    fn paragraph(&mut self) -> String {
        let n = self.rng.usize(2..5);
        (0..n)
            .map(|_| self.sentence())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// A new story, dated `published`.
    fn story(&mut self, published: DateTime<Utc>) -> StoryText {
        let id = self.next_story;
        self.next_story += 1;
        let place = self.pick(PLACES);
        // English-language wires write the dateline's place in capitals,
        // in Latin (or Cyrillic) letters: dedup strips it only then, and a
        // dateline left in would give every story from that place the same
        // lead anchor.
        let dateline = match place {
            "北京" => "BEIJING".to_owned(),
            p => p.to_uppercase(),
        };
        let mut blocks = vec![format!(
            "<p>{dateline}, Nov. 28 (Wirepress) &mdash; {}</p>",
            self.paragraph()
        )];
        let paragraphs = self.rng.usize(4..8);
        for k in 1..paragraphs {
            let text = self.paragraph();
            let block = match k {
                1 => {
                    let topic = self.vocab[self.rng.usize(..self.vocab.len())].clone();
                    let link = self.words(3);
                    format!(
                        "<p>{text} <a href=\"https://wirepress.example/topics/{topic}?ref=feed&amp;id={id}\">{link}</a> {}.</p>",
                        self.words(8)
                    )
                }
                2 => format!(
                    "<blockquote><p>&#8220;{}&#8221;</p></blockquote>",
                    self.sentence()
                ),
                3 if self.rng.bool() => format!(
                    "<ul><li>{}</li><li>{}</li><li>{}</li></ul>",
                    self.words(9),
                    self.words(11),
                    self.words(7)
                ),
                4 => format!(
                    "<p><em>{}</em> {text} <strong>{}</strong></p>",
                    self.words(4),
                    self.words(3)
                ),
                _ => format!("<p>{text}</p>"),
            };
            blocks.push(block);
        }
        let alt = format!("{} in {place}", self.name());
        let image = if self.rng.u32(..4) == 0 {
            // Outside the sanitiser's fast path: ammonia does the work.
            format!(
                "<figure><img src=\"https://img.wirepress.example/{id}.jpg\" alt=\"{alt}\" width=\"640\"><figcaption>{alt}. (Wirepress/{})</figcaption></figure>",
                self.name()
            )
        } else {
            format!("<p><img src=\"/img/{id}.jpg\" alt=\"{alt}\" width=\"640\"></p>")
        };
        blocks.insert(2.min(blocks.len()), image);
        let title = format!("{} in {place} {}", self.words(5), self.words(3));
        let mut title_chars = title.chars();
        let title = match title_chars.next() {
            Some(c) => c.to_uppercase().chain(title_chars).collect(),
            None => title,
        };
        StoryText {
            id,
            title,
            lead: self.sentence(),
            blocks,
            author: self.name(),
            category: self.pick(&["world", "économie", "politics", "markets", "culture"]),
            published,
        }
    }

    /// The HTML of `story` as `source` publishes it: the agency's own text,
    /// or a republication in a wrapper.
    fn body(&mut self, story: &StoryText, republished: bool) -> String {
        if !republished {
            return story.blocks.concat();
        }
        let mut blocks = vec!["<p>Wirepress Report</p>".to_owned()];
        blocks.extend(story.blocks.iter().cloned());
        if blocks.len() > 5 && self.rng.bool() {
            blocks.pop();
        }
        blocks.insert(3.min(blocks.len()), "<p>Advertisement</p>".to_owned());
        blocks.push(format!(
            "<p>Read more: <a href=\"https://outlet.example/{}\">{}</a></p>",
            self.rng.u32(..100_000),
            self.words(6)
        ));
        blocks.concat()
    }
}

/// An entry of a generated document: a story as one source publishes it.
struct Entry {
    story: StoryText,
    republished: bool,
    body: String,
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The title of `e` as its source writes it (outlets decorate theirs).
fn entry_title(source: &str, e: &Entry) -> String {
    if e.republished {
        format!("{} | {source} & Co", e.story.title)
    } else {
        e.story.title.clone()
    }
}

/// An RSS 2.0 document with `content:encoded`, as most news sites serve.
fn rss(source: &str, entries: &[Entry]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:atom=\"http://www.w3.org/2005/Atom\">\n<channel><title>{source} &#8212; Nachrichten &amp; Analysen</title><link>https://{source}.example/</link><description>Invented news for benchmarks</description><language>en</language><atom:link href=\"https://{source}.example/feed.rss\" rel=\"self\" type=\"application/rss+xml\"/>\n"
    );
    for e in entries {
        let id = e.story.id;
        s.push_str(&format!(
            "<item><title>{}</title><link>https://{source}.example/news/{id}?utm_source=rss&amp;utm_medium=feed</link><guid isPermaLink=\"false\">{source}:{id}</guid><pubDate>{}</pubDate><dc:creator>{}</dc:creator><category>{}</category><description>{}</description><content:encoded><![CDATA[{}]]></content:encoded></item>\n",
            xml_escape(&entry_title(source, e)),
            e.story.published.to_rfc2822(),
            xml_escape(&e.story.author),
            e.story.category,
            xml_escape(&format!("<p>{}</p>", e.story.lead)),
            e.body,
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

/// An Atom 1.0 document with escaped HTML content.
fn atom(source: &str, entries: &[Entry]) -> String {
    let mut s = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\" xml:lang=\"en\"><title>{source} &#8212; Nachrichten &amp; Analysen</title><id>tag:{source}.example,2026:feed</id><updated>{}</updated><link rel=\"self\" href=\"https://{source}.example/feed.atom\"/><link href=\"https://{source}.example/\"/>\n",
        t0().to_rfc3339()
    );
    for e in entries {
        let id = e.story.id;
        let date = e.story.published.to_rfc3339();
        s.push_str(&format!(
            "<entry><title type=\"html\">{}</title><link href=\"https://{source}.example/news/{id}\"/><id>tag:{source}.example,2026:{id}</id><published>{date}</published><updated>{date}</updated><author><name>{}</name></author><category term=\"{}\"/><summary type=\"html\">{}</summary><content type=\"html\">{}</content></entry>\n",
            xml_escape(&xml_escape(&entry_title(source, e))),
            xml_escape(&e.story.author),
            e.story.category,
            xml_escape(&e.story.lead),
            xml_escape(&e.body),
        ));
    }
    s.push_str("</feed>\n");
    s
}

/// The items `ingest` makes of `doc` from `source`.
fn ingest(source: &str, doc: &str) -> Vec<Item> {
    let url = url::Url::parse(&format!("https://{source}.example/feed")).unwrap();
    let parsed = parse(
        &FetchedBody {
            bytes: doc.as_bytes(),
            content_type: None,
            url: &url,
        },
        t0(),
        &Limits::default(),
    )
    .unwrap_or_else(|e| panic!("{source}: {e}"));
    parsed.items
}

fn source_name(i: usize) -> String {
    format!("outlet-{i:02}")
}

fn sources() -> Vec<Source> {
    (0..SOURCES)
        .map(|i| Source {
            id: SourceId::new(source_name(i)),
            name: format!("{} Nachrichten & Söhne", FIRST_NAMES[i % FIRST_NAMES.len()]),
            url: url::Url::parse(&format!("https://{}.example/feed", source_name(i))).unwrap(),
            interval: Duration::from_secs(900),
            priority: 0,
            fixed_interval: false,
            headers: Default::default(),
            rules: Default::default(),
            websub: true,
            tags: vec!["world".into()],
        })
        .collect()
}

/// Generates polls: each from the next source, its items three quarters
/// new stories and one quarter republications of stories other sources
/// published in the last few polls, dated in `span` before [`t0`].
struct Polls {
    corpus: Corpus,
    recent: VecDeque<StoryText>,
    next_source: usize,
    span: i64,
}

impl Polls {
    fn new(seed: u64, first_story: u64, span: Duration) -> Polls {
        Polls {
            corpus: Corpus::new(seed, first_story),
            recent: VecDeque::new(),
            next_source: 0,
            span: span.as_secs() as i64,
        }
    }

    /// The source and entries of the next poll of `n` items; `copies`:
    /// whether some of them republish recent stories.
    fn entries(&mut self, n: usize, copies: bool) -> (String, Vec<Entry>) {
        let source = source_name(self.next_source % SOURCES);
        self.next_source += 1;
        let mut entries = Vec::with_capacity(n);
        for k in 0..n {
            // A story another source published lately, not yet in this
            // poll (a feed lists an item once).
            let pick = if copies && k % 4 == 3 && !self.recent.is_empty() {
                (0..8)
                    .map(|_| self.corpus.rng.usize(..self.recent.len()))
                    .find(|&i| {
                        !entries
                            .iter()
                            .any(|e: &Entry| e.story.id == self.recent[i].id)
                    })
            } else {
                None
            };
            let (story, republished) = match pick {
                Some(i) => (self.recent[i].clone(), true),
                None => {
                    let at =
                        t0() - chrono::Duration::seconds(self.corpus.rng.i64(0..self.span.max(1)));
                    let mut story = self.corpus.story(at);
                    // One new story in eight is a follow-up that ends with
                    // a background paragraph of a recent one: a candidate
                    // that dedup must keep apart.
                    if copies && k % 8 == 1 && !self.recent.is_empty() {
                        let earlier = &self.recent[self.corpus.rng.usize(..self.recent.len())];
                        if let Some(background) = earlier.blocks.get(3) {
                            story.blocks.push(background.clone());
                        }
                    }
                    (story, false)
                }
            };
            let body = self.corpus.body(&story, republished);
            entries.push(Entry {
                story,
                republished,
                body,
            });
        }
        for e in entries.iter().filter(|e| !e.republished) {
            self.recent.push_back(e.story.clone());
        }
        while self.recent.len() > 4 * n {
            self.recent.pop_front();
        }
        (source, entries)
    }

    /// The next poll as the items `ingest` hands on.
    fn poll(&mut self, n: usize) -> (SourceId, Vec<Item>) {
        let (source, entries) = self.entries(n, true);
        let items = ingest(&source, &rss(&source, &entries));
        assert_eq!(items.len(), n, "{source}: every generated item parses");
        (SourceId::new(source), items)
    }

    /// Forgets the recent stories (the store they were written to is gone).
    fn forget(&mut self) {
        self.recent.clear();
    }
}

// ---------------------------------------------------------------------------
// ingest

fn bench_ingest(c: &mut Criterion) {
    let mut polls = Polls::new(1, 0, Duration::from_secs(86_400));
    let (_, rss_entries) = polls.entries(DOC_ITEMS, true);
    let (_, atom_entries) = polls.entries(DOC_ITEMS, true);
    // The same kind of items without the figures the sanitiser's fast path
    // refuses: what the fast path gains.
    let mut simple_entries: Vec<Entry> = polls.entries(DOC_ITEMS, true).1;
    for e in &mut simple_entries {
        e.story.blocks.retain(|b| !b.starts_with("<figure>"));
        e.body = e.story.blocks.concat();
    }
    let docs = [
        ("rss", rss("outlet-01", &rss_entries)),
        ("atom", atom("outlet-02", &atom_entries)),
        ("rss_no_figures", rss("outlet-03", &simple_entries)),
    ];
    let url = url::Url::parse("https://outlet.example/feed").unwrap();
    let (now, limits) = (t0(), Limits::default());

    let mut group = c.benchmark_group("ingest");
    for (name, doc) in &docs {
        let bytes = doc.as_bytes();
        // Both parsers see every item.
        let ours = parse(
            &FetchedBody {
                bytes,
                content_type: None,
                url: &url,
            },
            now,
            &limits,
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ours.items.len(), DOC_ITEMS, "{name}");
        assert!(ours.warnings.is_empty(), "{name}: {:?}", ours.warnings);
        let theirs = feed_rs::parser::parse(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(theirs.entries.len(), DOC_ITEMS, "{name}");

        group.throughput(Throughput::ElementsAndBytes {
            elements: DOC_ITEMS as u64,
            bytes: bytes.len() as u64,
        });
        group.bench_with_input(BenchmarkId::new("ingest_parse", name), bytes, |b, bytes| {
            b.iter(|| {
                parse(
                    &FetchedBody {
                        bytes: black_box(bytes),
                        content_type: None,
                        url: &url,
                    },
                    now,
                    &limits,
                )
            });
        });
        group.bench_with_input(
            BenchmarkId::new("feed_rs_baseline", name),
            bytes,
            |b, bytes| b.iter(|| feed_rs::parser::parse(black_box(bytes))),
        );
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// fingerprint

fn bench_fingerprint(c: &mut Criterion) {
    let mut polls = Polls::new(2, 0, Duration::from_secs(86_400));
    let (source, entries) = polls.entries(DOC_ITEMS, true);
    // The sanitised HTML the store holds and dedup reads.
    let items = ingest(&source, &rss(&source, &entries));
    let inputs: Vec<DedupInput<'_>> = items
        .iter()
        .map(|it| DedupInput {
            source: &source,
            title: &it.title,
            link: it.link.as_deref(),
            published: it.published.unwrap_or_else(t0).timestamp(),
            summary_html: it.summary.as_deref().unwrap_or(""),
            content_html: it.content.as_deref().unwrap_or(""),
        })
        .collect();
    let bytes: usize = inputs
        .iter()
        .map(|i| i.title.len() + i.summary_html.len() + i.content_html.len())
        .sum();

    let mut group = c.benchmark_group("fingerprint");
    // 50 fingerprints take milliseconds: the same count in every sample.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::ElementsAndBytes {
        elements: inputs.len() as u64,
        bytes: bytes as u64,
    });
    group.bench_function("fingerprint", |b| {
        b.iter(|| {
            for input in &inputs {
                black_box(fingerprint(black_box(input), &NoBoilerplate));
            }
        });
    });
    group.bench_function("sha256_baseline", |b| {
        b.iter(|| {
            for input in &inputs {
                let mut h = Sha256::new();
                h.update(black_box(input.title).as_bytes());
                h.update(input.summary_html.as_bytes());
                h.update(input.content_html.as_bytes());
                black_box(h.finalize());
            }
        });
    });
    group.finish();
}

// ---------------------------------------------------------------------------
// dedup_store

/// How one `dedup_store` benchmark writes a poll.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The daemon's step with dedup on: `prepare` (the fingerprints, made
    /// before the write) then `store_items` in one write transaction.
    Dedup,
    /// The same, timing the write transaction alone: what holds the one
    /// writer, while `prepare` runs in parallel with other polls.
    DedupWriteOnly,
    /// `prepare` and `store_items` with `[dedup] enabled = false`: the same
    /// items, each its own story, not fingerprinted or indexed (#21): it
    /// should cost what a plain insert costs.
    DedupDisabled,
    /// No fingerprint, no keys: the item and its story rows alone, as
    /// `examples/dedup_eval.rs` measures its baseline.
    PlainInsert,
    /// A poll already stored, written again unchanged (a feed that gained
    /// an item lists its old ones again).
    Unchanged,
}

impl Step {
    fn name(self) -> &'static str {
        match self {
            Step::Dedup => "dedup",
            Step::DedupWriteOnly => "dedup_write_only",
            Step::DedupDisabled => "dedup_disabled_baseline",
            Step::PlainInsert => "plain_insert_baseline",
            Step::Unchanged => "unchanged_repoll",
        }
    }
}

/// The prefilled stores, built once per run on first use.
struct Prefill {
    dir: tempfile::TempDir,
    /// Generates the prefill's items; kept to grow a store further.
    polls: Polls,
    /// Items in the largest store built so far.
    stored: usize,
    /// Pristine copies, by item count.
    pristine: Vec<(usize, PathBuf)>,
}

impl Prefill {
    fn new() -> Prefill {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let store = Store::open(&dir.path().join("growing.db")).expect("open the store");
        store.sync_sources(&sources()).expect("record the sources");
        Prefill {
            dir,
            // A month of items: a quarter of them inside the window of the
            // bench's new items.
            polls: Polls::new(3, 1 << 40, Duration::from_secs(30 * 86_400)),
            stored: 0,
            pristine: Vec::new(),
        }
    }

    /// A pristine store of `count` items (grown through the daemon's own
    /// dedup → store step, in polls of 500 items, a quarter copies).
    fn store_of(&mut self, count: usize) -> PathBuf {
        if let Some((_, path)) = self.pristine.iter().find(|(n, _)| *n == count) {
            return path.clone();
        }
        assert!(
            count >= self.stored,
            "stores are built smallest first ({count} < {})",
            self.stored
        );
        // Grown from the largest store built so far (a move, not a copy,
        // made it pristine: one copy of a large store is enough).
        let growing = self.dir.path().join("growing.db");
        if let Some((_, largest)) = self.pristine.last() {
            copy_db(largest, &growing);
        }
        let store = Store::open(&growing).expect("open the store");
        let settings = DedupSettings {
            enabled: true,
            thresholds: Thresholds::default(),
        };
        let merging = merge::Merging::new(&settings);
        let started = Instant::now();
        let from = self.stored;
        while self.stored < count {
            let n = (count - self.stored).min(500);
            let (source, entries) = self.polls.entries(n, true);
            let items = ingest(&source, &rss(&source, &entries));
            let source = SourceId::new(source);
            let learned = merging.learned.of(&source);
            let mut ready = merge::prepare(&source, items, t0(), &learned, &Default::default());
            let mut known = merging.known();
            store
                .write_poll(|tx| {
                    merge::store_items(tx, &source, &mut ready, t0(), &settings, &mut known)
                })
                .expect("prefill the store");
            known.committed();
            self.stored += n;
            if self.stored.is_multiple_of(20_000) && self.stored < count {
                eprintln!("dedup_store: prefilling, {} / {count} items", self.stored);
            }
        }
        let counts = store.counts().expect("count the store");
        drop(store);
        let path = self.dir.path().join(format!("pristine-{count}.db"));
        for suffix in ["", "-wal", "-shm"] {
            let from = with_suffix(&growing, suffix);
            if from.exists() {
                std::fs::rename(&from, with_suffix(&path, suffix)).expect("move the store");
            }
        }
        let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
        eprintln!(
            "dedup_store: prefilled {count} items ({} stories) in {:.0} s ({:.0} µs per item), {:.0} MB",
            counts.stories,
            started.elapsed().as_secs_f64(),
            started.elapsed().as_secs_f64() * 1e6 / (count - from).max(1) as f64,
            bytes as f64 / 1e6
        );
        self.pristine.push((count, path.clone()));
        path
    }
}

/// Copies a closed SQLite database (and its WAL, if one was left).
fn copy_db(from: &Path, to: &Path) {
    for suffix in ["", "-wal", "-shm"] {
        let (f, t) = (with_suffix(from, suffix), with_suffix(to, suffix));
        let _ = std::fs::remove_file(&t);
        if f.exists() {
            std::fs::copy(&f, &t).expect("copy the store");
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// A working copy of a prefilled store that one benchmark writes polls to.
struct Work {
    pristine: PathBuf,
    path: PathBuf,
    base: usize,
    store: Option<Store>,
    merging: merge::Merging,
    polls: Polls,
    /// Items written since the last restore.
    added: usize,
    /// A poll already stored (for [`Step::Unchanged`]).
    stored_poll: (SourceId, Vec<Item>),
    restores: usize,
    written: usize,
    merged: usize,
}

impl Work {
    fn new(pristine: PathBuf, base: usize, dir: &Path) -> Work {
        let mut work = Work {
            pristine,
            path: dir.join("work.db"),
            base,
            store: None,
            merging: merging(),
            // The same polls for every benchmark: new stories dated in the
            // last six hours.
            polls: Polls::new(4, 1 << 50, Duration::from_secs(6 * 3600)),
            added: 0,
            stored_poll: (SourceId::new(""), Vec::new()),
            restores: 0,
            written: 0,
            merged: 0,
        };
        work.restore();
        work
    }

    /// Back to the pristine store, with an empty fingerprint cache (item
    /// ids are given again) and nothing learned, as after a restart, then
    /// one untimed poll so that the next polls have recent stories to be
    /// copies of.
    fn restore(&mut self) {
        drop(self.store.take());
        copy_db(&self.pristine, &self.path);
        self.store = Some(Store::open(&self.path).expect("open the working store"));
        self.merging = merging();
        self.polls.forget();
        self.added = 0;
        let (source, items) = self.polls.poll(POLL_ITEMS);
        self.stored_poll = (source.clone(), items.clone());
        self.write(Step::Dedup, &source, items);
        self.restores += 1;
    }

    /// Writes one poll: the time `how` measures, and the items merged into
    /// a stored story.
    fn write(&mut self, how: Step, source: &SourceId, items: Vec<Item>) -> (Duration, usize) {
        let store = self.store.as_ref().expect("an open store");
        let settings = DedupSettings {
            enabled: how != Step::DedupDisabled,
            thresholds: Thresholds::default(),
        };
        let now = t0();
        if how == Step::PlainInsert {
            let started = Instant::now();
            let added = store
                .write_poll(|tx| {
                    let mut added = 0;
                    for item in &items {
                        if tx.existing_item(source, &item.identity)?.is_none() {
                            let story = tx.insert_story(source, &item.identity, now)?;
                            tx.insert_item(source, story, item, &[], 0, &[], now)?;
                            added += 1;
                        }
                    }
                    Ok(added)
                })
                .expect("store the poll");
            let took = started.elapsed();
            self.added += added;
            return (took, 0);
        }
        // As a poll does: the fingerprints made before the write, against
        // the boilerplate learned so far, then the write.
        let started = Instant::now();
        let learned = match how {
            Step::DedupDisabled => None,
            _ => self.merging.learned.of(source),
        };
        let unchanged = store
            .unchanged_items(source, &items, wiredesk::dedup::NORMALISATION_VERSION)
            .expect("read the store");
        let mut ready = merge::prepare(source, items, now, &learned, &unchanged);
        let prepared = started.elapsed();
        let started = Instant::now();
        let mut known = self.merging.known();
        let summary = store
            .write_poll(|tx| merge::store_items(tx, source, &mut ready, now, &settings, &mut known))
            .expect("store the poll");
        known.committed();
        let wrote = started.elapsed();
        self.added += summary.new;
        let took = match how {
            Step::DedupWriteOnly => wrote,
            _ => prepared + wrote,
        };
        (took, summary.merged)
    }

    /// Writes `iters` polls the way `how` does; the time it measures
    /// (generating, parsing and restoring are not timed).
    fn run(&mut self, how: Step, iters: u64) -> Duration {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            if self.added as f64 > self.base as f64 * MAX_DRIFT {
                self.restore();
            }
            let (source, items) = if how == Step::Unchanged {
                (self.stored_poll.0.clone(), self.stored_poll.1.clone())
            } else {
                self.polls.poll(POLL_ITEMS)
            };
            let n = items.len();
            let (took, merged) = self.write(how, &source, items);
            total += took;
            self.merged += merged;
            self.written += n;
        }
        total
    }
}

/// What the dedup → store step keeps between polls (fingerprint cache,
/// learned boilerplate), new.
fn merging() -> merge::Merging {
    merge::Merging::new(&DedupSettings {
        enabled: true,
        thresholds: Thresholds::default(),
    })
}

fn large_store() -> usize {
    match std::env::var("WIREDESK_BENCH_STORE_ITEMS") {
        Ok(v) => v
            .replace('_', "")
            .parse()
            .unwrap_or_else(|_| panic!("WIREDESK_BENCH_STORE_ITEMS={v}: not a number of items")),
        Err(_) => LARGE_STORE_DEFAULT,
    }
}

fn bench_dedup_store(c: &mut Criterion) {
    let sizes: Vec<usize> = if measuring() {
        let mut s = vec![SMALL_STORE, large_store()];
        s.sort_unstable();
        s.dedup();
        s
    } else {
        vec![200, 400]
    };
    let prefill: RefCell<Option<Prefill>> = RefCell::new(None);
    let mut group = c.benchmark_group("dedup_store");
    // A poll takes milliseconds: the same number of polls in every sample.
    group.sampling_mode(SamplingMode::Flat);
    group.throughput(Throughput::Elements(POLL_ITEMS as u64));
    for &size in &sizes {
        for how in [
            Step::Dedup,
            Step::DedupWriteOnly,
            Step::DedupDisabled,
            Step::PlainInsert,
            Step::Unchanged,
        ] {
            // Built on first use, so a filter that skips this benchmark
            // skips the prefill too.
            let work: RefCell<Option<Work>> = RefCell::new(None);
            group.bench_function(BenchmarkId::new(how.name(), size), |b| {
                // Outside `iter_custom`, whose wall time criterion's
                // warm-up counts: the prefill is no part of a poll.
                let mut work = work.borrow_mut();
                let work = work.get_or_insert_with(|| {
                    let mut prefill = prefill.borrow_mut();
                    let prefill = prefill.get_or_insert_with(Prefill::new);
                    let pristine = prefill.store_of(size);
                    Work::new(pristine, size, prefill.dir.path())
                });
                b.iter_custom(|iters| work.run(how, iters));
            });
            if let Some(work) = work.borrow().as_ref() {
                eprintln!(
                    "dedup_store/{}/{size}: {} items written ({} merged into a story), {} restores of the {size}-item store",
                    how.name(),
                    work.written,
                    work.merged,
                    work.restores
                );
            }
        }
    }
    group.finish();
}

// ---------------------------------------------------------------------------
// render

/// A page of `DOC_ITEMS` stories as the store would return it: each the
/// agency's item, half of them with one to three republications.
fn page() -> Vec<Story> {
    let mut polls = Polls::new(5, 0, Duration::from_secs(86_400));
    let (agency, entries) = polls.entries(DOC_ITEMS, false);
    let originals = ingest(&agency, &rss(&agency, &entries));
    let first_seen = t0();
    let stored = |id: i64, source: &str, item: Item| StoredItem {
        id,
        source_id: SourceId::new(source),
        source_name: format!("{source}: Nachrichten & Söhne"),
        source_url: format!("https://{source}.example/feed"),
        source_priority: 0,
        source_tags: vec!["world".into(), "économie".into()],
        item,
        first_seen,
        changed_at: first_seen,
    };
    let mut next_id = 1_000;
    entries
        .iter()
        .zip(originals)
        .enumerate()
        .map(|(k, (entry, original))| {
            let mut copies = vec![stored(k as i64, &agency, original)];
            for c in 0..(k % 2) * (1 + k % 3) {
                let outlet = source_name(10 + c);
                let body = polls.corpus.body(&entry.story, true);
                let copy = Entry {
                    story: entry.story.clone(),
                    republished: true,
                    body,
                };
                let item = ingest(&outlet, &rss(&outlet, &[copy])).remove(0);
                next_id += 1;
                copies.push(stored(next_id, &outlet, item));
            }
            let uid = story_uid(&copies[0].source_id, &copies[0].item.identity);
            Story::from_copies(k as i64, uid, first_seen, copies).unwrap()
        })
        .collect()
}

fn bench_render(c: &mut Criterion) {
    let stories = page();
    let meta = |ext: &str| FeedMeta {
        title: "wiredesk — Nachrichten & Analysen".into(),
        self_url: format!("http://127.0.0.1:8080/feed.{ext}?limit=50"),
        home_url: "http://127.0.0.1:8080/".into(),
        next_url: Some(format!(
            "http://127.0.0.1:8080/feed.{ext}?limit=50&before=2026-11-28T11%3A00%3A00Z"
        )),
        entries: Entries::Stories,
        hub_url: None,
    };
    let now = t0();
    type Render = fn(&FeedMeta, &[Story], DateTime<Utc>) -> String;
    let formats: [(&str, &str, Render); 3] = [
        ("atom", "atom", render::atom),
        ("rss", "rss", render::rss),
        ("json", "json", render::json),
    ];
    // What every entry must carry, escaped once: the shown copy's title,
    // summary and content, and the other copies' names and links.
    let escape_floor = |stories: &[Story]| {
        let mut out = String::new();
        for s in stories {
            let item = &s.chosen.item;
            html_escape::encode_text_to_string(&item.title, &mut out);
            for html in [&item.summary, &item.content].into_iter().flatten() {
                html_escape::encode_text_to_string(html, &mut out);
            }
            for other in &s.others {
                html_escape::encode_text_to_string(&other.source_name, &mut out);
                if let Some(link) = &other.item.link {
                    html_escape::encode_double_quoted_attribute_to_string(link, &mut out);
                }
            }
        }
        out
    };

    let mut group = c.benchmark_group("render");
    for (name, ext, f) in formats {
        let meta = meta(ext);
        let bytes = f(&meta, &stories, now).len();
        group.throughput(Throughput::ElementsAndBytes {
            elements: stories.len() as u64,
            bytes: bytes as u64,
        });
        group.bench_function(name, |b| b.iter(|| f(&meta, black_box(&stories), now)));
    }
    let floor = escape_floor(&stories).len();
    group.throughput(Throughput::ElementsAndBytes {
        elements: stories.len() as u64,
        bytes: floor as u64,
    });
    group.bench_function("escape_floor_baseline", |b| {
        b.iter(|| escape_floor(black_box(&stories)))
    });
    group.finish();
}

criterion_group! {
    name = micro;
    config = config();
    targets = bench_ingest, bench_fingerprint, bench_dedup_store, bench_render
}
criterion_main!(micro);
