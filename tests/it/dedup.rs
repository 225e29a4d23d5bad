//! One story, many copies: merging through the real poll path (fake feed
//! servers → ingest → dedup → store), on invented wire stories.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use wiredesk::app::App;
use wiredesk::poll::PollOutcome;

use crate::helpers::{Canned, FeedServer, get_text, settings, sources_toml, spawn_app};

/// The agency's original report: a dateline, then six paragraphs.
const STRIKE: [&str; 6] = [
    "CALDERA, Nov. 24 (Northwind) -- Dockworkers at the port of Caldera walked off the job on Tuesday, halting container traffic at the country's second-largest harbour in a dispute over night-shift pay.",
    "The Harbour Workers' Union said about 2,300 of its members had joined the strike after talks with the port authority broke down late on Monday without an agreement on overtime rates.",
    "\"We have asked for the same rate that crane drivers were given last spring, nothing more,\" union secretary Ilona Varga told reporters outside the main gate, where several hundred workers had gathered.",
    "The port authority said it regretted the walkout and that its offer of a 4 percent rise for night shifts remained on the table. It expected ships to be diverted to the smaller northern terminal at Lisk.",
    "Caldera handles roughly a third of the country's container imports, and shipping agents warned that a strike lasting more than a few days would delay deliveries of fuel, grain and machinery parts.",
    "The last major strike at the port, in 2019, lasted nine days and ended with a mediated agreement that introduced the current shift system.",
];

/// Another agency's report on the same event: same facts, its own words.
const OTHER_REPORT: [&str; 5] = [
    "CALDERA (Meridian) - Thousands of harbour workers stopped work in Caldera on Tuesday, leaving cranes idle and lorries queuing on the coast road as a row over pay for night work came to a head.",
    "Union leader Ilona Varga accused managers of refusing to negotiate seriously, while the port's operator called the action disproportionate and said it would seek talks through the national mediation office.",
    "Truck drivers waiting near the terminal said they had been told to expect delays of at least two days. Several container lines announced they would call at other ports in the region instead.",
    "Economists said a long stoppage could add to inflation, which has already been pushed up this year by higher fuel costs and a weaker currency against the euro.",
    "Tuesday's walkout is the first at Caldera since a nine-day stoppage in 2019 that was settled by a government mediator.",
];

/// A follow-up days later: four paragraphs of news, then background
/// paragraphs reused from the original report.
fn follow_up() -> Vec<String> {
    let mut paras: Vec<String> = [
        "CALDERA, Nov. 28 (Northwind) -- Dockworkers at the port of Caldera voted on Saturday to accept a new pay offer, ending a five-day strike that had left dozens of container ships waiting at anchor off the coast.",
        "Under the agreement, night-shift rates will rise by 6.5 percent from January, and a joint committee will review crane rosters before the summer season begins.",
        "Union secretary Ilona Varga said members had backed the deal by a large majority in a ballot held in the port's canteen, and that the first shifts would resume at midnight.",
        "Shipping agents said it would take at least a week to clear the backlog of vessels, and some cargo would continue to be routed through the northern terminal at Lisk.",
    ]
    .map(String::from)
    .to_vec();
    paras.push(STRIKE[4].to_owned());
    paras.push(STRIKE[5].to_owned());
    paras
}

fn html(paras: &[impl AsRef<str>]) -> String {
    paras
        .iter()
        .map(|p| format!("<p>{}</p>\n", p.as_ref()))
        .collect()
}

/// One entry of a feed.
struct Entry {
    guid: &'static str,
    title: &'static str,
    link: &'static str,
    date: &'static str,
    summary: String,
    content: Option<String>,
}

fn rss(title: &str, entries: &[Entry]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" \
         xmlns:content=\"http://purl.org/rss/1.0/modules/content/\"><channel><title>{title}</title>\
         <link>https://{title}.example/</link><description>test</description>\n"
    );
    for e in entries {
        out.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{}</guid><title>{}</title><link>{}</link>\
             <pubDate>{}</pubDate><description><![CDATA[{}]]></description>",
            e.guid, e.title, e.link, e.date, e.summary
        ));
        if let Some(content) = &e.content {
            out.push_str(&format!(
                "<content:encoded><![CDATA[{content}]]></content:encoded>"
            ));
        }
        out.push_str("</item>\n");
    }
    out.push_str("</channel></rss>\n");
    out
}

fn original() -> Entry {
    Entry {
        guid: "nw-0412",
        title: "Caldera dockworkers strike over night-shift pay",
        link: "https://northwind.example/2026/11/24/caldera-strike",
        date: "Tue, 24 Nov 2026 09:00:00 GMT",
        summary: STRIKE[0].to_owned(),
        content: Some(html(&STRIKE)),
    }
}

/// The seed's kind of republication: a page date, an ad slot, a date line,
/// an agency label, a photo caption, the body without its dateline, and
/// related links below.
fn republication() -> Entry {
    let mut body = vec![STRIKE[0].split(" -- ").nth(1).unwrap().to_owned()];
    body.extend(STRIKE[1..].iter().map(|p| p.replace('"', "\u{201c}")));
    Entry {
        guid: "hh-58812",
        title: "Caldera dockworkers strike over night-shift pay - Northwind",
        link: "https://harbourherald.example/news/58812?utm_source=rss&amp;utm_medium=feed",
        date: "Tue, 24 Nov 2026 11:47:00 GMT",
        summary: "Dockworkers at the port of Caldera walked off the job on Tuesday.".into(),
        content: Some(format!(
            "<p>Tuesday, 24 November, 2026</p><div><p>Available For Posting Ad</p>\
             <script>ads.push('top')</script></div><p>24 Nov 2026, 11:47 ( 2 Hours ago)</p>\
             <p>DF-Northwind Report</p><figure><img src=\"https://harbourherald.example/i/1.jpg\">\
             <figcaption>Cranes stand idle at the port of Caldera on Nov. 24, 2026. \
             Photo Northwind/Harbour Herald.</figcaption></figure>{}\
             <p>Related News: <a href=\"https://harbourherald.example/news/58790\">Port talks \
             stall</a></p>",
            html(&body)
        )),
    }
}

/// A digest's teaser: the first 35 words, cut with "...".
fn teaser() -> Entry {
    let text = STRIKE.join(" ");
    // Without the dateline's four words.
    let words: Vec<&str> = text.split_whitespace().skip(5).take(35).collect();
    Entry {
        guid: "digest-77",
        title: "In brief: Caldera dockworkers strike",
        link: "https://northwind.example/2026/11/24/caldera-strike?utm_campaign=digest",
        date: "Tue, 24 Nov 2026 13:10:00 GMT",
        summary: format!("{} ...", words.join(" ")),
        content: None,
    }
}

/// The agency's write-thru a few hours later: a new first paragraph, one
/// paragraph reworded, the last one dropped.
fn write_thru() -> Entry {
    let mut paras = vec![
        "CALDERA, Nov. 24 (Northwind) -- Ships began queuing outside the port of Caldera on Tuesday evening as a strike by dockworkers over night-shift pay entered its first night.".to_owned(),
    ];
    paras.extend(STRIKE[..5].iter().map(|p| (*p).to_owned()));
    paras[3] = paras[3].replace("about 2,300 of its members", "some 2,300 members");
    Entry {
        guid: "nw-0431",
        title: "UPDATE 2-Caldera dockworkers strike over night-shift pay",
        link: "https://northwind.example/2026/11/24/caldera-strike-update",
        date: "Tue, 24 Nov 2026 17:30:00 GMT",
        summary: paras[0].clone(),
        content: Some(html(&paras)),
    }
}

fn other_report() -> Entry {
    Entry {
        guid: "mw-9912",
        title: "Caldera port at standstill as harbour workers strike",
        link: "https://meridian.example/world/caldera-port-standstill",
        date: "Tue, 24 Nov 2026 10:15:00 GMT",
        summary: OTHER_REPORT[0].to_owned(),
        content: Some(html(&OTHER_REPORT)),
    }
}

fn follow_up_entry() -> Entry {
    let paras = follow_up();
    Entry {
        guid: "nw-0533",
        title: "Caldera dockworkers accept pay offer, ending strike",
        link: "https://northwind.example/2026/11/28/caldera-deal",
        date: "Sat, 28 Nov 2026 16:00:00 GMT",
        summary: paras[0].clone(),
        content: Some(html(&paras)),
    }
}

/// Polls each (source id, priority, feed) once, in order, with dedup on or
/// off, and returns the app.
async fn poll_feeds(feeds: &[(&str, i64, String)], dedup: bool) -> (App, tempfile::TempDir) {
    let server = FeedServer::start().await;
    let mut list = Vec::new();
    let urls: Vec<String> = feeds
        .iter()
        .map(|(id, _, body)| {
            server.set(id, Canned::ok("application/rss+xml", body));
            server.url(id)
        })
        .collect();
    for ((id, priority, _), url) in feeds.iter().zip(&urls) {
        list.push((*id, *id, url.as_str(), *priority));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut toml = sources_toml(&list);
    if !dedup {
        toml = format!("[dedup]\nenabled = false\n{toml}");
    }
    let app = App::build(settings(dir.path(), &toml)).await.unwrap();
    for (id, _, _) in feeds {
        let reports = app.poll_sources_now(&[id]).await;
        assert!(
            matches!(reports[0].outcome, PollOutcome::Ok { .. }),
            "{id}: {:?}",
            reports[0].outcome
        );
    }
    (app, dir)
}

/// The stories as sets of "source:guid" copies.
fn grouping(app: &App) -> BTreeSet<BTreeSet<String>> {
    app.store()
        .latest_stories(500)
        .unwrap()
        .iter()
        .map(|s| {
            s.copies()
                .map(|c| format!("{}:{}", c.source_id, c.item.identity))
                .collect()
        })
        .collect()
}

fn together(app: &App, a: &str, b: &str) -> bool {
    grouping(app)
        .iter()
        .any(|story| story.iter().any(|c| c.ends_with(a)) && story.iter().any(|c| c.ends_with(b)))
}

#[tokio::test]
async fn a_wrapped_republication_is_one_entry_of_the_merged_feed_naming_both_copies() {
    let (app, _dir) = poll_feeds(
        &[
            ("northwind", 10, rss("northwind", &[original()])),
            (
                "harbour-herald",
                0,
                rss("harbour-herald", &[republication()]),
            ),
        ],
        true,
    )
    .await;
    assert_eq!(app.store().counts().unwrap().stories, 1);
    let running = spawn_app(app);
    let (status, xml) = get_text(&running.url("/feed.atom")).await;
    assert_eq!(status, StatusCode::OK);
    let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
    assert_eq!(feed.entries.len(), 1);
    let entry = &feed.entries[0];
    assert_eq!(
        entry.links[0].href,
        "https://northwind.example/2026/11/24/caldera-strike"
    );
    let related: Vec<_> = entry
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("related"))
        .collect();
    assert_eq!(related.len(), 1);
    assert_eq!(related[0].title.as_deref(), Some("harbour-herald"));
    running.stop().await;
}

#[tokio::test]
async fn a_teaser_merges_with_the_full_text_it_starts() {
    let (app, _dir) = poll_feeds(
        &[
            ("northwind", 0, rss("northwind", &[original()])),
            ("digest", 0, rss("digest", &[teaser()])),
        ],
        true,
    )
    .await;
    assert!(
        together(&app, "nw-0412", "digest-77"),
        "{:#?}",
        grouping(&app)
    );
}

#[tokio::test]
async fn a_write_thru_joins_the_story_it_revises() {
    let (app, _dir) = poll_feeds(
        &[(
            "northwind",
            0,
            rss("northwind", &[original(), write_thru()]),
        )],
        true,
    )
    .await;
    assert!(
        together(&app, "nw-0412", "nw-0431"),
        "{:#?}",
        grouping(&app)
    );
}

#[tokio::test]
async fn another_agencys_report_of_the_same_event_stays_apart() {
    let (app, _dir) = poll_feeds(
        &[
            ("northwind", 0, rss("northwind", &[original()])),
            ("meridian", 0, rss("meridian", &[other_report()])),
        ],
        true,
    )
    .await;
    assert_eq!(grouping(&app).len(), 2, "{:#?}", grouping(&app));
}

#[tokio::test]
async fn a_follow_up_that_reuses_background_paragraphs_stays_apart() {
    let (app, _dir) = poll_feeds(
        &[(
            "northwind",
            0,
            rss("northwind", &[original(), follow_up_entry()]),
        )],
        true,
    )
    .await;
    assert!(
        !together(&app, "nw-0412", "nw-0533"),
        "{:#?}",
        grouping(&app)
    );
}

#[tokio::test]
async fn the_story_id_stays_when_a_higher_priority_copy_arrives_later() {
    // The outlet's copy comes first and founds the story...
    let server = FeedServer::start().await;
    server.set(
        "outlet",
        Canned::ok("application/rss+xml", &rss("o", &[republication()])),
    );
    server.set(
        "agency",
        Canned::ok("application/rss+xml", &rss("a", &[original()])),
    );
    let dir = tempfile::tempdir().unwrap();
    let toml = sources_toml(&[
        ("outlet", "Outlet", &server.url("outlet"), 0),
        ("agency", "Agency", &server.url("agency"), 10),
    ]);
    let app = App::build(settings(dir.path(), &toml)).await.unwrap();
    app.poll_sources_now(&["outlet"]).await;
    let before = app.store().latest_stories(10).unwrap();
    assert_eq!(before.len(), 1);
    assert_eq!(before[0].chosen.source_id.as_str(), "outlet");

    // ...then the agency's, with a higher priority, becomes the copy shown,
    // under the same story id.
    app.poll_sources_now(&["agency"]).await;
    let after = app.store().latest_stories(10).unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(after[0].chosen.source_id.as_str(), "agency");
    assert_eq!(after[0].uid, before[0].uid);
    assert_eq!(after[0].others.len(), 1);
}

#[tokio::test]
async fn the_grouping_does_not_depend_on_the_order_items_arrive_in() {
    let all = || {
        vec![
            original(),
            teaser(),
            write_thru(),
            other_report(),
            follow_up_entry(),
            republication(),
        ]
    };
    // Everything in one feed, in two orders...
    let forward = rss("wire", &all());
    let mut reversed_entries = all();
    reversed_entries.reverse();
    let backward = rss("wire", &reversed_entries);
    let (a, _da) = poll_feeds(&[("wire", 0, forward)], true).await;
    let (b, _db) = poll_feeds(&[("wire", 0, backward)], true).await;
    assert_eq!(grouping(&a), grouping(&b));
    // ...and the expected grouping: the strike's copies together, the other
    // report and the follow-up each alone. The republication is the
    // original's text under its headline, from the same source: the same
    // item sent twice, stored once (#21).
    assert!(
        grouping(&a)
            .iter()
            .flatten()
            .all(|c| !c.ends_with("hh-58812"))
    );
    let sizes: BTreeMap<usize, usize> = grouping(&a).iter().fold(BTreeMap::new(), |mut m, s| {
        *m.entry(s.len()).or_default() += 1;
        m
    });
    assert_eq!(
        sizes,
        BTreeMap::from([(1, 2), (3, 1)]),
        "{:#?}",
        grouping(&a)
    );
}

#[tokio::test]
async fn with_dedup_off_every_item_is_its_own_story() {
    let (app, _dir) = poll_feeds(
        &[
            ("northwind", 0, rss("northwind", &[original()])),
            (
                "harbour-herald",
                0,
                rss("harbour-herald", &[republication()]),
            ),
        ],
        false,
    )
    .await;
    assert_eq!(grouping(&app).len(), 2);
    assert_eq!(app.store().counts().unwrap().items, 2);
    // Off means off (#21): nothing learned either.
    assert_eq!(app.store().boilerplate_rows().unwrap(), 0);
}

/// An RSS feed of generated entries: (guid, title, date, HTML body).
fn plain_rss(channel: &str, entries: &[(String, String, String, String)]) -> String {
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel>\
         <title>{channel}</title><link>https://{channel}.example/</link>\
         <description>test</description>\n"
    );
    for (guid, title, date, body) in entries {
        out.push_str(&format!(
            "<item><guid isPermaLink=\"false\">{guid}</guid><title>{title}</title>\
             <link>https://{channel}.example/{guid}</link><pubDate>{date}</pubDate>\
             <description><![CDATA[{body}]]></description></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// Headline `i` of 20, each about something else.
fn headline(i: usize) -> String {
    const PLACES: [&str; 5] = ["Harbourton", "Caldera", "Lisk", "Norrvik", "Ostmark"];
    const EVENTS: [&str; 4] = [
        "council votes to close the old library",
        "ferry operator cancels winter timetable",
        "hospital opens a new maternity ward",
        "police appeal for witnesses after a fire",
    ];
    format!("{} {}", PLACES[i % 5], EVENTS[i / 5 % 4])
}

#[tokio::test]
async fn items_that_share_only_a_stub_body_stay_apart_under_different_titles() {
    // #21: a teaser feed's 20 items with one stock line became 16 stories.
    let entries: Vec<_> = (0..20)
        .map(|i| {
            (
                format!("pw-{i}"),
                headline(i),
                format!("Wed, 25 Nov 2026 {:02}:{:02}:00 GMT", 6 + i / 6, i % 6 * 10),
                "<p>Read the full story on our website.</p>".to_owned(),
            )
        })
        .collect();
    let (app, _dir) = poll_feeds(
        &[
            ("paywalled", 0, plain_rss("paywalled", &entries)),
            ("northwind", 0, rss("northwind", &[original()])),
            (
                "harbour-herald",
                0,
                rss("harbour-herald", &[republication()]),
            ),
        ],
        true,
    )
    .await;
    let stories = grouping(&app);
    assert_eq!(stories.len(), 21, "{stories:#?}");
    // The copies of a real story still merge.
    assert!(together(&app, "nw-0412", "hh-58812"));
}

/// Story `k` of 3 of a source with rotating ids: (title, body).
fn rotating_story(k: usize) -> (String, String) {
    match k {
        0 => (original().title.to_owned(), html(&STRIKE)),
        1 => (other_report().title.to_owned(), html(&OTHER_REPORT)),
        _ => (follow_up_entry().title.to_owned(), html(&follow_up())),
    }
}

#[tokio::test]
async fn a_source_whose_ids_rotate_on_every_poll_gives_one_story_per_real_story() {
    // #21: a CMS that puts a session in every guid served its 3 items under
    // new ids on every poll. They were merged as copies for 5 polls, then
    // learned as boilerplate, and each poll added 3 more stories.
    let server = FeedServer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let toml = sources_toml(&[("churn", "Churn", &server.url("churn"), 0)]);
    let app = App::build(settings(dir.path(), &toml)).await.unwrap();
    for poll in 0..20 {
        let entries: Vec<_> = (0..3)
            .map(|k| {
                let (title, body) = rotating_story(k);
                (
                    format!("story-{k}-sess{poll:04}"),
                    title,
                    format!("Wed, 25 Nov 2026 0{k}:00:00 GMT"),
                    body,
                )
            })
            .collect();
        server.set(
            "churn",
            Canned::ok("application/rss+xml", &plain_rss("churn", &entries)),
        );
        let reports = app.poll_sources_now(&["churn"]).await;
        assert!(
            matches!(reports[0].outcome, PollOutcome::Ok { new, .. } if new == usize::from(poll == 0) * 3),
            "poll {poll}: {:?}",
            reports[0].outcome
        );
    }
    let stories = grouping(&app);
    assert_eq!(stories.len(), 3, "{stories:#?}");
    assert!(stories.iter().all(|s| s.len() == 1));
    assert_eq!(app.store().counts().unwrap().items, 3);
    // The source's state says its ids churn.
    let repeats = app.store().repeats().unwrap();
    assert_eq!(repeats.len(), 1);
    assert_eq!(repeats[0].0.as_str(), "churn");
    assert_eq!(repeats[0].1.items, 19 * 3);
    // A real new story of that source is still stored.
    let (title, body) = rotating_story(0);
    let entries = vec![
        (
            "fresh-sess9999".to_owned(),
            "Harbour council approves a new breakwater for the northern quay".to_owned(),
            "Wed, 25 Nov 2026 09:00:00 GMT".to_owned(),
            html(&[
                "The harbour council approved a new breakwater for the northern quay on Wednesday, after two winters in which storms damaged moored fishing boats.",
                "The structure will cost about 14 million euros, most of it from a national fund for coastal protection, and should be finished within three years.",
                "Fishermen's representatives welcomed the vote but asked that work be scheduled outside the main herring season.",
            ]),
        ),
        (
            "story-0-sess9999".to_owned(),
            title,
            "Wed, 25 Nov 2026 00:00:00 GMT".to_owned(),
            body,
        ),
    ];
    server.set(
        "churn",
        Canned::ok("application/rss+xml", &plain_rss("churn", &entries)),
    );
    app.poll_sources_now(&["churn"]).await;
    assert_eq!(grouping(&app).len(), 4);
    // Where the sources' state is shown.
    let running = spawn_app(app);
    let (status, json) = get_text(&running.url("/sources.json")).await;
    assert_eq!(status, StatusCode::OK);
    let sources: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(sources[0]["id"], "churn");
    assert_eq!(sources[0]["repeats"], 19 * 3 + 1);
    assert!(sources[0]["repeated_at"].is_string());
    let (status, page) = get_text(&running.url("/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("ids churn: 58 items sent again under new ids"),
        "{page}"
    );
    running.stop().await;
}

#[tokio::test]
async fn five_hundred_items_identical_in_title_and_text_under_distinct_ids_are_one_story() {
    // #21: one poll of them gave 496 stories.
    let entries: Vec<_> = (0..500)
        .map(|i| {
            (
                format!("urn:session:{i:03}"),
                "Caldera dockworkers strike over night-shift pay".to_owned(),
                "Tue, 24 Nov 2026 09:00:00 GMT".to_owned(),
                html(&STRIKE),
            )
        })
        .collect();
    let (app, _dir) = poll_feeds(&[("same", 0, plain_rss("same", &entries))], true).await;
    assert_eq!(grouping(&app).len(), 1);
    assert_eq!(app.store().counts().unwrap().items, 1);
}
