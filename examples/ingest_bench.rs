//! Throughput of `ingest::parse` against feed-rs alone, on the same bytes.
//!
//! Run: `cargo run --release --example ingest_bench [docs_per_format] [items_per_doc] [runs]`
//!
//! With `INGEST_BENCH_DIR=DIR` the corpus is every file of `DIR` instead
//! (e.g. a round of `bench/gen_corpus.py`, whose `urls.txt` is skipped): the
//! cost of parsing the poll benchmark's feeds, with the mandated parser alone
//! as the floor.
//!
//! The corpus is generated: RSS 2.0 (with content:encoded), Atom 1.0, RSS 1.0
//! (RDF) and JSON Feed 1.1 documents whose items carry several paragraphs of
//! HTML with links and images and non-ASCII text. Each run parses the whole
//! corpus once with each parser; the median of the runs is reported.
//!
//! Instruction counts (repeatable on a loaded machine): set
//! `INGEST_BENCH_SIDE` to `feed-rs`, `ingest` or `none` to parse the corpus
//! with one side only, no sanity pass and no timing, and run under
//! `valgrind --tool=callgrind`; a side's cost is its total minus `none`'s
//! (which is the corpus generation alone).

// A measuring tool run by hand: a bad file or a failed write ends it with
// the reason, which is what `expect` does.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::time::{Duration, Instant};

use wiredesk::ingest::{FetchedBody, Limits, parse};

const WORDS: &[&str] = &[
    "Regierung",
    "élection",
    "Москва",
    "北京",
    "économie",
    "Zürich",
    "señal",
    "の",
    "market",
    "Αθήνα",
    "report",
    "minister",
    "ceasefire",
    "Kraków",
    "inflation",
    "株式",
    "growth",
    "tariff",
    "São Paulo",
    "İstanbul",
];

fn words(seed: &mut u64, n: usize) -> String {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        // xorshift: a deterministic corpus without a rand dependency.
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        out.push(WORDS[(*seed % WORDS.len() as u64) as usize]);
    }
    out.join(" ")
}

fn html_body(seed: &mut u64, i: usize) -> String {
    let mut s = String::new();
    for p in 0..4 {
        s.push_str(&format!(
            "<p>{} <a href=\"/story/{i}/{p}\">{}</a> {} <em>{}</em>.</p>",
            words(seed, 25),
            words(seed, 3),
            words(seed, 20),
            words(seed, 2)
        ));
    }
    s.push_str(&format!(
        "<p><img src=\"img/{i}.jpg\" alt=\"{}\"></p>",
        words(seed, 3)
    ));
    s
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn rss(seed: &mut u64, n: usize) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><channel><title>Bench RSS</title><link>https://rss.example.com/</link><description>bench</description>\n",
    );
    for i in 0..n {
        let body = html_body(seed, i);
        s.push_str(&format!(
            "<item><title>{}</title><link>https://rss.example.com/{i}</link><guid>rss-{i}</guid><pubDate>Tue, 05 Mar 2024 10:20:30 +0100</pubDate><dc:creator>{}</dc:creator><category>{}</category><description>{}</description><content:encoded><![CDATA[{body}]]></content:encoded></item>\n",
            xml_escape(&words(seed, 8)),
            words(seed, 2),
            words(seed, 1),
            xml_escape(&words(seed, 30)),
        ));
    }
    s.push_str("</channel></rss>\n");
    s
}

fn atom(seed: &mut u64, n: usize) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>Bench Atom</title><id>urn:bench</id><updated>2024-03-05T10:00:00Z</updated>\n",
    );
    for i in 0..n {
        let body = html_body(seed, i);
        s.push_str(&format!(
            "<entry><title type=\"html\">{}</title><link href=\"https://atom.example.com/{i}\"/><id>urn:bench:{i}</id><updated>2024-03-05T10:00:00Z</updated><author><name>{}</name></author><summary>{}</summary><content type=\"html\">{}</content></entry>\n",
            xml_escape(&words(seed, 8)),
            words(seed, 2),
            xml_escape(&words(seed, 30)),
            xml_escape(&body),
        ));
    }
    s.push_str("</feed>\n");
    s
}

fn rdf(seed: &mut u64, n: usize) -> String {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns=\"http://purl.org/rss/1.0/\" xmlns:dc=\"http://purl.org/dc/elements/1.1/\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel rdf:about=\"https://rdf.example.com/\"><title>Bench RDF</title><link>https://rdf.example.com/</link><description>bench</description></channel>\n",
    );
    for i in 0..n {
        let body = html_body(seed, i);
        s.push_str(&format!(
            "<item rdf:about=\"https://rdf.example.com/{i}\"><title>{}</title><link>https://rdf.example.com/{i}</link><dc:date>2024-03-05T10:00:00Z</dc:date><description>{}</description><content:encoded><![CDATA[{body}]]></content:encoded></item>\n",
            xml_escape(&words(seed, 8)),
            xml_escape(&words(seed, 30)),
        ));
    }
    s.push_str("</rdf:RDF>\n");
    s
}

fn json(seed: &mut u64, n: usize) -> String {
    let items: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "id": format!("json-{i}"),
                "url": format!("https://json.example.com/{i}"),
                "title": words(seed, 8),
                "content_html": html_body(seed, i),
                "summary": words(seed, 30),
                "date_published": "2024-03-05T10:00:00Z",
                "tags": [words(seed, 1)],
                "authors": [{"name": words(seed, 2)}],
            })
        })
        .collect();
    serde_json::json!({
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Bench JSON",
        "items": items,
    })
    .to_string()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let docs = args.first().copied().unwrap_or(10);
    let items = args.get(1).copied().unwrap_or(50);
    let runs = args.get(2).copied().unwrap_or(7);

    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut corpus: Vec<(String, Vec<u8>)> = Vec::new();
    let from_dir = std::env::var_os("INGEST_BENCH_DIR");
    if let Some(dir) = &from_dir {
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .expect("INGEST_BENCH_DIR")
            .map(|e| e.expect("INGEST_BENCH_DIR").path())
            .filter(|p| p.is_file() && p.file_name().is_some_and(|n| n != "urls.txt"))
            .collect();
        paths.sort();
        for p in paths {
            let bytes = std::fs::read(&p).expect("a corpus file");
            corpus.push((p.display().to_string(), bytes));
        }
    } else {
        for _ in 0..docs {
            corpus.push(("rss".into(), rss(&mut seed, items).into_bytes()));
            corpus.push(("atom".into(), atom(&mut seed, items).into_bytes()));
            corpus.push(("rdf".into(), rdf(&mut seed, items).into_bytes()));
            corpus.push(("json".into(), json(&mut seed, items).into_bytes()));
        }
    }
    let bytes: usize = corpus.iter().map(|(_, b)| b.len()).sum();
    let url = url::Url::parse("https://bench.example.com/feed").unwrap_or_else(|e| panic!("{e}"));
    let now = chrono::Utc::now();
    let limits = Limits::default();

    if let Ok(side) = std::env::var("INGEST_BENCH_SIDE") {
        for _ in 0..runs {
            for (_, b) in &corpus {
                match side.as_str() {
                    "feed-rs" => {
                        std::hint::black_box(&feed_rs::parser::parse(&b[..]));
                    }
                    "ingest" => {
                        let body = FetchedBody {
                            bytes: b,
                            content_type: None,
                            url: &url,
                        };
                        std::hint::black_box(&parse(&body, now, &limits));
                    }
                    _ => {}
                }
            }
        }
        println!(
            "{side}: {} documents, {bytes} bytes, {runs} runs",
            corpus.len()
        );
        return;
    }

    // Sanity: both parsers see every item of every document.
    let mut total_items = 0;
    for (kind, b) in &corpus {
        let ours = parse(
            &FetchedBody {
                bytes: b,
                content_type: None,
                url: &url,
            },
            now,
            &limits,
        )
        .unwrap_or_else(|e| panic!("{kind}: {e}"));
        let theirs =
            feed_rs::parser::parse(&b[..]).unwrap_or_else(|e| panic!("{kind}: feed-rs: {e}"));
        assert_eq!(ours.items.len(), theirs.entries.len(), "{kind}");
        if from_dir.is_none() {
            assert_eq!(ours.items.len(), items, "{kind}");
        }
        total_items += ours.items.len();
    }

    let (mut ours_t, mut theirs_t) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        for (_, b) in &corpus {
            let f = feed_rs::parser::parse(&b[..]);
            std::hint::black_box(&f);
        }
        theirs_t.push(t.elapsed());
        let t = Instant::now();
        for (_, b) in &corpus {
            let f = parse(
                &FetchedBody {
                    bytes: b,
                    content_type: None,
                    url: &url,
                },
                now,
                &limits,
            );
            std::hint::black_box(&f);
        }
        ours_t.push(t.elapsed());
    }
    let (ours, theirs) = (median(ours_t), median(theirs_t));
    let mb = bytes as f64 / 1e6;
    match &from_dir {
        Some(dir) => println!(
            "corpus: {} documents from {}, {total_items} items, {mb:.1} MB; median of {runs} runs",
            corpus.len(),
            dir.to_string_lossy()
        ),
        None => println!(
            "corpus: {} documents (rss/atom/rdf/json x {docs}), {total_items} items, {mb:.1} MB; median of {runs} runs",
            corpus.len()
        ),
    }
    for (name, d) in [("feed-rs alone", theirs), ("ingest::parse", ours)] {
        println!(
            "{name:>14}: {:>8.1} ms  {:>7.1} MB/s  {:>9.0} items/s  {:>6.1} us/item",
            d.as_secs_f64() * 1e3,
            mb / d.as_secs_f64(),
            total_items as f64 / d.as_secs_f64(),
            d.as_secs_f64() * 1e6 / total_items.max(1) as f64
        );
    }
    println!(
        "ratio ingest/feed-rs: {:.2}x",
        ours.as_secs_f64() / theirs.as_secs_f64()
    );
}
