//! Behaviour tests with invented news fixtures (no real articles).
//!
//! Over 600 lines: the fixtures are the bulk, and they read best next to
//! the behaviour each pins.

use std::collections::HashMap;

use super::*;

const DAY: i64 = 86_400;
const T0: i64 = 1_772_800_000;

/// An invented wire story, paragraph by paragraph (dateline on the first).
const WIRE: [&str; 7] = [
    "HARBOURTON, March 6 (Nordpress) -- Dockworkers at the port of Harbourton ended a nine-day strike on Friday after the operator agreed to raise night-shift pay by 12 percent, the workers' union said.",
    "The stoppage had left more than 40 container ships waiting offshore and forced two carmakers in the region to halt assembly lines for lack of parts.",
    "\"This is a fair deal and our members voted for it by a clear margin,\" union secretary Mirela Osterhout told reporters outside the terminal gates.",
    "The operator, Harbourton Terminals, said cargo handling would resume with the evening shift and that it expected the backlog of waiting vessels to be cleared within a week.",
    "Shipping agents estimated the cost of the strike to importers at about 30 million euros, mostly in demurrage charges and freight that had to be rerouted through smaller ports.",
    "The port handles roughly a fifth of the country's container traffic and is the main gateway for fruit exports from the southern provinces, which had warned of spoiled harvests.",
    "Talks between the two sides had collapsed twice last week before a government mediator proposed a compromise on overtime rules and the length of night shifts.",
];

/// A different report of the same event, by another agency (shares one quote).
const OTHER_REPORT: [&str; 5] = [
    "Harbourton's container terminal reopens tonight after port workers accepted a pay offer, ending a walkout that began on February 26.",
    "Union members backed the agreement by 312 votes to 95 at a meeting in a warehouse near the docks, according to figures released by the union.",
    "\"This is a fair deal and our members voted for it by a clear margin,\" the union's secretary said after the count.",
    "Freight forwarders welcomed the outcome but cautioned that delays for shippers using the terminal could last well into next week as crews work through the queue.",
    "The government had come under pressure from exporters and farm groups to intervene, and the transport minister had threatened emergency legislation.",
];

/// A follow-up two days later: new text, then two background paragraphs of the wire.
fn follow_up_paragraphs() -> Vec<&'static str> {
    vec![
        "HARBOURTON, March 8 (Nordpress) -- The last of the container ships stranded by the Harbourton dock strike berthed on Sunday, two days earlier than the port operator had forecast.",
        "Harbourton Terminals said it had run extra cranes through the weekend and brought in staff from its inland depots to clear the queue of vessels.",
        "Importers said they were still counting the cost of the dispute, and two supermarket chains reported shortages of imported fruit in their northern stores.",
        "The union said it would monitor how the new overtime rules were applied and would not hesitate to call members out again if the agreement was breached.",
        WIRE[4],
        WIRE[5],
    ]
}

fn p(paras: &[&str]) -> String {
    paras.iter().map(|x| format!("<p>{x}</p>\n")).collect()
}

#[derive(Clone)]
struct Item {
    name: &'static str,
    source: &'static str,
    title: String,
    link: String,
    published: i64,
    summary: String,
    content: String,
}

impl Item {
    fn input(&self) -> DedupInput<'_> {
        DedupInput {
            source: self.source,
            title: &self.title,
            link: Some(&self.link),
            published: self.published,
            summary_html: &self.summary,
            content_html: &self.content,
        }
    }
}

fn wire() -> Item {
    Item {
        name: "wire",
        source: "nordpress",
        title: "Harbourton dockworkers end strike after pay deal".into(),
        link: "https://nordpress.example/business/harbourton-strike-ends-1".into(),
        published: T0,
        summary: WIRE[0].into(),
        content: p(&WIRE),
    }
}

/// A republication in the shape of the seed page: page date, ad slot label, the headline
/// repeated, a timestamp line, an agency label, a photo caption, then the text with
/// `<br>` markup and curly typography.
fn seed_style_republication() -> Item {
    let body = WIRE[..6]
        .iter()
        .map(|x| x.replace('\'', "\u{2019}").replace(" -- ", " \u{2014} "))
        .collect::<Vec<_>>()
        .join("<br><br>\n   ");
    Item {
        name: "republication",
        source: "harbour-daily",
        title: "Harbourton dockworkers end strike after pay deal - Nordpress".into(),
        link: "https://harbourdaily.example/?p=99&utm_source=feed&utm_medium=rss".into(),
        published: T0 + 3 * 3600,
        summary: String::new(),
        content: format!(
            "<p>Friday, 6 March, 2026</p><p>Available For Posting Ad</p>\
             <p>Harbourton dockworkers end strike after pay deal</p>\
             <p>6 Mar 2026, 18:05 ( 3 Hours ago)</p><p>HD-Nordpress Report</p>\
             <p>Dockworkers gather at the terminal gates in Harbourton on March 5, 2026. File Photo Nordpress/Kari Holm.</p>\
             <div>{body}</div><p>Share this story</p>"
        ),
    }
}

fn teaser() -> Item {
    let words: Vec<&str> = WIRE[0].split_whitespace().skip(5).take(30).collect();
    Item {
        name: "teaser",
        source: "morning-digest",
        title: "In brief: Harbourton dockworkers end strike after pay deal".into(),
        link: "https://digest.example/b/7".into(),
        published: T0 + 5 * 3600,
        summary: format!("{} ...", words.join(" ")),
        content: String::new(),
    }
}

fn write_thru() -> Item {
    let mut paras = vec![
        "HARBOURTON, March 6 (Nordpress) -- Cargo began moving again at Harbourton on Friday evening, hours after dockworkers voted to accept a pay offer and end a nine-day strike.".to_owned(),
    ];
    paras.push(WIRE[0].replace("HARBOURTON, March 6 (Nordpress) -- ", ""));
    paras.push(WIRE[1].into());
    paras.push(WIRE[2].into());
    paras.push(
        "The operator, Harbourton Terminals, said container handling would restart with the night shift and that it hoped the backlog of waiting ships would be gone within a week."
            .into(),
    );
    paras.push("Two ships carrying fresh fruit were given priority berths, the harbour master's office said.".into());
    paras.push(WIRE[4].into());
    paras.push(WIRE[5].into());
    let refs: Vec<&str> = paras.iter().map(String::as_str).collect();
    Item {
        name: "write-thru",
        source: "nordpress",
        title: "UPDATE 2-Harbourton dockworkers end strike after pay deal".into(),
        link: "https://nordpress.example/business/harbourton-strike-ends-2".into(),
        published: T0 + 4 * 3600,
        summary: paras[0].clone(),
        content: p(&refs),
    }
}

fn other_report() -> Item {
    Item {
        name: "other report",
        source: "andes-wire",
        title: "Harbourton port to reopen as workers accept offer".into(),
        link: "https://andeswire.example/news/551".into(),
        published: T0 + 2 * 3600,
        summary: OTHER_REPORT[0].into(),
        content: p(&OTHER_REPORT),
    }
}

fn follow_up() -> Item {
    let paras = follow_up_paragraphs();
    Item {
        name: "follow-up",
        source: "nordpress",
        title: "Last ships stranded by Harbourton strike berth".into(),
        link: "https://nordpress.example/business/harbourton-ships-berth".into(),
        published: T0 + 2 * DAY,
        summary: paras[0].into(),
        content: p(&paras),
    }
}

fn fp(it: &Item) -> Fingerprint {
    fingerprint(&it.input(), &NoBoilerplate)
}

fn verdict(a: &Item, b: &Item) -> Verdict {
    decide(&fp(a), &fp(b), &Thresholds::default())
}

/// A tiny in-memory store, run the way the daemon runs.
#[derive(Default)]
struct Store {
    stats: HashMap<(String, u64), u32>,
    rests: HashMap<(String, u64), u64>,
    index: HashMap<u64, Vec<(usize, i64)>>,
    fps: Vec<Fingerprint>,
    story: Vec<usize>,
    stories: usize,
}

impl Store {
    fn add(&mut self, it: &Item) -> usize {
        let t = Thresholds::default();
        let f = fingerprint(&it.input(), &self.stats);
        let keys = f.index_keys();
        let mut cands: Vec<usize> = keys
            .iter()
            .filter_map(|k| self.index.get(k))
            .flatten()
            .filter(|(_, p)| (p - it.published).abs() <= t.window_secs)
            .map(|(j, _)| *j)
            .collect();
        cands.sort_unstable();
        cands.dedup();
        let chosen = assign(&f, cands.iter().map(|&j| (self.story[j], &self.fps[j])), &t);
        let s = match chosen {
            Some((s, _)) => s,
            None => {
                self.stories += 1;
                self.stories - 1
            }
        };
        let id = self.fps.len();
        for k in keys {
            self.index.entry(k).or_default().push((id, it.published));
        }
        for o in f.boilerplate_observations() {
            let set = self
                .rests
                .entry((it.source.to_owned(), o.paragraph))
                .or_insert(0);
            *set |= o.rest_bit();
            self.stats
                .insert((it.source.to_owned(), o.paragraph), set.count_ones());
        }
        self.fps.push(f);
        self.story.push(s);
        s
    }
}

/// Runs items in the given order and returns the partition as sorted groups of names.
fn partition(items: &[Item]) -> Vec<Vec<&'static str>> {
    let mut store = Store::default();
    let mut groups: HashMap<usize, Vec<&'static str>> = HashMap::new();
    for it in items {
        let s = store.add(it);
        groups.entry(s).or_default().push(it.name);
    }
    let mut out: Vec<Vec<&'static str>> = groups
        .into_values()
        .map(|mut g| {
            g.sort_unstable();
            g
        })
        .collect();
    out.sort();
    out
}

#[test]
fn seed_style_republication_merges_with_the_original() {
    let v = verdict(&wire(), &seed_style_republication());
    assert!(v.merge, "{v}");
    // The wrapper is gone entirely: the normalised body is the wire's minus its last
    // paragraph, and starts where the wire starts (no dateline, no page lines).
    let rep = normalise_body(&seed_style_republication().input(), &NoBoilerplate);
    let orig = normalise_body(&wire().input(), &NoBoilerplate);
    assert_eq!(rep.paragraphs[..], orig.paragraphs[..6]);
    assert!(rep.paragraphs[0].starts_with("dockworkers at the port"));
}

#[test]
fn teaser_merges_with_the_full_text_it_starts() {
    let v = verdict(&teaser(), &wire());
    assert!(v.merge, "{v}");
    assert_eq!(v.rule, Rule::ContainedAtLead);
    // The same words taken from the end of the story do not line up with its lead.
    let tail: Vec<&str> = WIRE[5].split_whitespace().take(30).collect();
    let mut end_teaser = teaser();
    end_teaser.title = "Port gateway for fruit".into();
    end_teaser.summary = format!("{} ...", tail.join(" "));
    let v = verdict(&end_teaser, &wire());
    assert!(!v.merge, "{v}");
}

#[test]
fn write_thru_merges_with_the_first_version() {
    let v = verdict(&write_thru(), &wire());
    assert!(v.merge, "{v}");
}

#[test]
fn a_different_report_of_the_same_event_stays_apart() {
    for other in [wire(), seed_style_republication(), teaser(), write_thru()] {
        let v = verdict(&other_report(), &other);
        assert!(!v.merge, "{} vs other report: {v}", other.name);
    }
}

#[test]
fn a_follow_up_reusing_background_paragraphs_stays_apart() {
    for other in [wire(), seed_style_republication(), teaser(), write_thru()] {
        let v = verdict(&follow_up(), &other);
        assert!(!v.merge, "{} vs follow-up: {v}", other.name);
    }
    // ...even though most of the follow-up's background is the wire's text.
    let v = verdict(&follow_up(), &wire());
    assert!(v.scores.shared > 40, "{v}");
}

#[test]
fn grouping_of_copies_does_not_depend_on_arrival_order() {
    let items = vec![
        wire(),
        seed_style_republication(),
        teaser(),
        write_thru(),
        other_report(),
        follow_up(),
    ];
    let expected = vec![
        vec!["follow-up"],
        vec!["other report"],
        vec!["republication", "teaser", "wire", "write-thru"],
    ];
    // Every rotation and its reverse.
    for r in 0..items.len() {
        let mut order = items.clone();
        order.rotate_left(r);
        assert_eq!(partition(&order), expected, "rotation {r}");
        order.reverse();
        assert_eq!(partition(&order), expected, "reversed rotation {r}");
    }
}

#[test]
fn normalisation_is_idempotent() {
    for it in [
        wire(),
        seed_style_republication(),
        teaser(),
        write_thru(),
        follow_up(),
    ] {
        let once = normalise_body(&it.input(), &NoBoilerplate);
        let html: String = once
            .paragraphs
            .iter()
            .map(|x| format!("<p>{x}</p>"))
            .collect();
        let again_in = DedupInput {
            content_html: &html,
            summary_html: "",
            ..it.input()
        };
        let twice = normalise_body(&again_in, &NoBoilerplate);
        assert_eq!(once.paragraphs, twice.paragraphs, "{}", it.name);
    }
}

#[test]
fn learned_boilerplate_is_stripped_once_an_outlet_repeats_it() {
    // An outlet that prefixes every story with the same sentence (prose, so no fixed rule
    // removes it) and signs off with the same line.
    let note = "This report reaches you through our agency partnership and is reproduced in full.";
    let sign = "Follow the Coastal Ledger for more regional business coverage.";
    let mut store = Store::default();
    // Different items are counted in a 64-bit set, where two may share a
    // bit: a few more than the minimum.
    for i in 0..BOILERPLATE_MIN_ITEMS + 3 {
        let body = format!(
            "<p>{note}</p><p>Story number {i} is about something entirely different from the others, with its own facts.</p><p>{sign}</p>"
        );
        store.add(&Item {
            name: "filler",
            source: "coastal-ledger",
            title: format!("Filler story {i}"),
            link: format!("https://coastal.example/{i}"),
            published: T0 - DAY + i64::from(i),
            summary: String::new(),
            content: body,
        });
    }
    let rep = Item {
        name: "rep",
        source: "coastal-ledger",
        title: "Harbourton dockworkers end strike after pay deal".into(),
        link: "https://coastal.example/strike".into(),
        published: T0 + 3600,
        summary: String::new(),
        content: format!("<p>{note}</p>{}<p>{sign}</p>", p(&WIRE)),
    };
    let learned = fingerprint(&rep.input(), &store.stats);
    assert_eq!(learned.body_hash, fp(&wire()).body_hash);
    let cold = fp(&rep);
    assert_ne!(cold.body_hash, fp(&wire()).body_hash);
    // Either way it merges with the wire.
    assert!(decide(&cold, &fp(&wire()), &Thresholds::default()).merge);
}

/// Item `i` of a teaser feed: its own headline over the feed's stock `body`.
fn teaser_feed_item(name: &'static str, i: usize, body: &str) -> Item {
    const PLACES: [&str; 10] = [
        "Harbourton",
        "Caldera",
        "Lisk",
        "Norrvik",
        "Ostmark",
        "Pellam",
        "Quarry Bay",
        "Redwater",
        "Saltmere",
        "Tovik",
    ];
    const EVENTS: [&str; 4] = [
        "council votes to close the old library",
        "ferry operator cancels winter timetable",
        "hospital opens a new maternity ward",
        "police appeal for witnesses after a fire",
    ];
    Item {
        name,
        source: "paywalled",
        title: format!("{} {}", PLACES[i % 10], EVENTS[i / 10 % 4]),
        link: format!("https://paywalled.example/story/{i}"),
        published: T0 + i64::try_from(i).unwrap_or(0) * 60,
        summary: String::new(),
        content: format!("<p>{body}</p>"),
    }
}

const NAMES: [&str; 20] = [
    "s0", "s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8", "s9", "s10", "s11", "s12", "s13", "s14",
    "s15", "s16", "s17", "s18", "s19",
];

#[test]
fn a_stock_line_under_different_titles_merges_nothing() {
    // #21: 20 such items became 16 stories. The one-line stub, and a stock
    // text of two sentences (long enough for every other rule), each sent
    // under 20 different headlines.
    for body in [
        "Read the full story on our website.",
        "This article is available to subscribers only. Subscribe today or log in \
         with your account to read the full story and the rest of our coverage.",
    ] {
        let items: Vec<Item> = (0..20)
            .map(|i| teaser_feed_item(NAMES[i], i, body))
            .collect();
        assert_eq!(partition(&items).len(), 20, "{body}");
        let v = verdict(&items[0], &items[1]);
        assert_eq!(v.rule, Rule::NoStory, "{v}");
    }
    // Items with the same title and a real body still merge, the same
    // title with the stub too (nothing tells them apart).
    let mut copy = wire();
    copy.name = "copy";
    copy.source = "kestrel";
    assert_eq!(partition(&[wire(), copy]).len(), 1);
    let mut again = teaser_feed_item("again", 0, "Read the full story on our website.");
    again.source = "other-paywalled";
    let first = teaser_feed_item("first", 0, "Read the full story on our website.");
    assert!(verdict(&first, &again).merge);
}

#[test]
fn a_body_that_is_all_learned_boilerplate_is_kept_but_carries_no_story() {
    // A stock line that became the source's boilerplate: the body is not
    // emptied, its item is marked, and it is found by its title and link
    // only (its text is a key every item of the source shares).
    let body = "This article is available to subscribers only. Subscribe today or log in \
                with your account to read the full story and the rest of our coverage.";
    let mut store = Store::default();
    for (i, name) in NAMES.iter().enumerate().take(12) {
        store.add(&teaser_feed_item(name, i, body));
    }
    let later = teaser_feed_item(NAMES[12], 12, body);
    let normalised = normalise_body(&later.input(), &store.stats);
    assert!(normalised.all_boilerplate);
    assert_eq!(normalised.paragraphs.len(), 1);
    let learned = fingerprint(&later.input(), &store.stats);
    let cold = fp(&later);
    assert!(learned.stub && !cold.stub);
    assert_eq!(learned.body_hash, cold.body_hash);
    assert!(learned.index_keys().len() < cold.index_keys().len());
    assert_eq!(learned.index_keys().len(), 2, "title and link");
    assert_eq!(
        Fingerprint::from_bytes(&learned.to_bytes()).as_ref(),
        Ok(&learned)
    );
    // A real story of the same source after its stock line keeps its own
    // text, without the line.
    let mut story = wire();
    story.source = "paywalled";
    story.content = format!("{}<p>{body}</p>", p(&WIRE));
    let f = fingerprint(&story.input(), &store.stats);
    assert!(!f.stub);
    assert_eq!(f.body_hash, fp(&wire()).body_hash);
}

#[test]
fn an_item_sent_again_under_new_ids_is_never_learned_as_boilerplate() {
    // #21: a feed that sent its items under new ids on every poll had their
    // text learned as its boilerplate from the 6th poll on. Twenty times
    // the same item, and the wire's text is still its text.
    let mut store = Store::default();
    for n in 0..20 {
        let mut again = wire();
        again.link = format!("https://nordpress.example/strike?session={n}");
        store.add(&again);
    }
    let later = fingerprint(&wire().input(), &store.stats);
    assert_eq!(later, fp(&wire()));
    assert!(!later.stub);
}

#[test]
fn the_same_item_is_told_by_title_and_text_and_a_stub_by_its_link_too() {
    let a = fp(&wire());
    let mut renamed = wire();
    renamed.link = "https://nordpress.example/strike?sid=77".into();
    renamed.title = "UPDATE 1-Harbourton dockworkers end strike after pay deal".into();
    assert!(same_item(&a, &fp(&renamed)));
    let mut retitled = wire();
    retitled.title = "Port strike over as union accepts a 12 percent rise".into();
    assert!(!same_item(&a, &fp(&retitled)));
    assert!(!same_item(&a, &fp(&write_thru())));
    // Two stubs with one headline are one item only at one link.
    let stub = teaser_feed_item("a", 3, "Read the full story on our website.");
    let mut elsewhere = stub.clone();
    elsewhere.link = "https://paywalled.example/story/other".into();
    assert!(same_item(&fp(&stub), &fp(&stub.clone())));
    assert!(!same_item(&fp(&stub), &fp(&elsewhere)));
    // So are two items whose titles are too short for a title key (found
    // by the hostile-input test: `text 48` and an empty title).
    let mut short = wire();
    short.title = "text 48".into();
    let mut empty = wire();
    empty.title = String::new();
    empty.link = "https://nordpress.example/h48".into();
    assert!(!same_item(&fp(&short), &fp(&empty)));
    assert!(same_item(&fp(&short), &fp(&short.clone())));
}

#[test]
fn a_copy_names_every_story_it_is_a_copy_of_once() {
    let t = Thresholds::default();
    let (w, r, o) = (
        fp(&wire()),
        fp(&seed_style_republication()),
        fp(&other_report()),
    );
    // Story 7 holds the wire and the other report, story 3 the republication.
    let found = copies_of(&fp(&teaser()), [(7, &w), (7, &o), (3, &r)], &t);
    let stories: Vec<i32> = found.iter().map(|(s, _)| *s).collect();
    assert_eq!(stories, [3, 7]);
    assert!(found.iter().all(|(_, v)| v.merge));
    assert!(copies_of(&o, [(3, &r)], &t).is_empty());
}

#[test]
fn datelines_and_decorations_of_unseen_outlets_are_removed() {
    let mut rep = wire();
    rep.source = "kestrel";
    rep.title = "HARBOURTON DOCKWORKERS END STRIKE AFTER PAY DEAL | Kestrel News".into();
    rep.content = rep.content.replace(
        "HARBOURTON, March 6 (Nordpress) -- ",
        "Harbourton, 6 March (Kestrel Wire): ",
    );
    rep.link =
        "https://www.nordpress.example/business/harbourton-strike-ends-1/?utm_campaign=x#comments"
            .into();
    let (a, b) = (fp(&rep), fp(&wire()));
    assert_eq!(a.body_hash, b.body_hash);
    assert_eq!(a.title_hash, b.title_hash);
    assert_eq!(a.link_hash, b.link_hash);
    assert_eq!(decide(&a, &b, &Thresholds::default()).rule, Rule::SameBody);
}

#[test]
fn items_outside_the_window_are_not_merged() {
    let mut late = seed_style_republication();
    late.published = T0 + 8 * DAY;
    let v = verdict(&late, &wire());
    assert_eq!(v.rule, Rule::OutsideWindow);
    assert!(!v.merge);
}

#[test]
fn chinese_copies_merge_and_different_chinese_stories_stay_apart() {
    let a = "<p>新华社北京3月6日电 港口工人周五结束了为期九天的罢工，此前运营商同意将夜班工资提高百分之十二。</p>\
             <p>罢工导致四十多艘集装箱船在海上等待，两家汽车制造商因缺少零部件而停产。</p>";
    let b = "<p>港口工人周五结束了为期九天的罢工，此前运营商同意将夜班工资提高百分之十二。</p>\
             <p>罢工导致四十多艘集装箱船在海上等待，两家汽车制造商因缺少零部件而停产。</p><p>责任编辑：李明</p>";
    let c = "<p>港口管理局周日表示，最后一批滞留的船只已经靠泊，比预期提前两天完成。</p>\
             <p>进口商表示仍在计算罢工造成的损失，部分超市的进口水果出现短缺。</p>";
    let mk = |src: &'static str, html: &'static str| Item {
        name: "zh",
        source: src,
        title: "港口罢工结束".into(),
        link: format!("https://{src}.example/1"),
        published: T0,
        summary: String::new(),
        content: html.into(),
    };
    let (fa, fb, fc) = (fp(&mk("x", a)), fp(&mk("y", b)), fp(&mk("z", c)));
    let t = Thresholds::default();
    assert!(decide(&fa, &fb, &t).merge, "{}", decide(&fa, &fb, &t));
    let v = decide(&fa, &fc, &t);
    assert!(!v.merge, "{v}");
    assert!(fa.shingle_count() > 40);
    // The agency's dateline is not part of the text (#21): the copy without
    // it is an exact copy.
    let bare = "<p>港口工人周五结束了为期九天的罢工，此前运营商同意将夜班工资提高百分之十二。</p>\
                <p>罢工导致四十多艘集装箱船在海上等待，两家汽车制造商因缺少零部件而停产。</p>";
    assert_eq!(fa.body_hash, fp(&mk("w", bare)).body_hash);
}

#[test]
fn copies_with_and_without_a_cyrillic_or_arabic_dateline_are_exact_copies() {
    let mk = |source: &'static str, html: String| Item {
        name: "copy",
        source,
        title: "Budget".into(),
        link: format!("https://{source}.example/1"),
        published: T0,
        summary: String::new(),
        content: html,
    };
    for (dated, bare) in [
        (
            "МОСКВА, 13 ноября – РИА Новости. Правительство утвердило проект бюджета на следующий год.",
            "Правительство утвердило проект бюджета на следующий год.",
        ),
        (
            "دبي، 13 نوفمبر (رويترز) - ارتفعت أسعار النفط في التعاملات المبكرة اليوم الخميس.",
            "ارتفعت أسعار النفط في التعاملات المبكرة اليوم الخميس.",
        ),
    ] {
        let more = "<p>Второй абзац сообщения, одинаковый в обеих копиях текста.</p>";
        let a = fp(&mk("agency", format!("<p>{dated}</p>{more}")));
        let b = fp(&mk("outlet", format!("<p>{bare}</p>{more}")));
        assert_eq!(a.body_hash, b.body_hash, "{dated}");
    }
}

#[test]
fn empty_and_garbage_input_do_not_panic() {
    let huge = "word ".repeat(200_000);
    let nested = "<div>".repeat(10_000);
    let inputs: Vec<(String, String, String)> = vec![
        (String::new(), String::new(), String::new()),
        (
            "<".into(),
            "<script>unclosed".into(),
            "\u{0}\u{1}\u{feff}".into(),
        ),
        ("&#0;&#xD800;&bogus;".into(), nested, "\u{200b}".repeat(50)),
        ("x".into(), format!("<p>{huge}</p>"), "ab".into()),
        ("🙂".repeat(100), "<p>٠١٢٣ العربية</p>".into(), "Ω".into()),
        (
            "(".into(),
            "<p>(</p><p>)</p><p>-- -</p><p>LONDON (</p>".into(),
            ":".into(),
        ),
    ];
    let t = Thresholds::default();
    let mut fps = Vec::new();
    for (title, content, summary) in &inputs {
        let f = fingerprint(
            &DedupInput {
                source: "",
                title,
                link: Some("::::"),
                published: i64::MIN,
                summary_html: summary,
                content_html: content,
            },
            &NoBoilerplate,
        );
        let _ = f.index_keys();
        assert_eq!(Fingerprint::from_bytes(&f.to_bytes()).as_ref(), Ok(&f));
        fps.push(f);
    }
    for a in &fps {
        for b in &fps {
            let _ = decide(a, b, &t).to_string();
        }
    }
    // Only the all-empty pair could merge, and it does not.
    assert!(!decide(&fps[0], &fps[0], &t).merge);
    // A huge body is cut, not refused.
    assert_eq!(fps[3].body_tokens as usize, MAX_TOKENS);
    for bytes in [
        &[][..],
        &[0xD1][..],
        &[0xD1, 0xff, 0xff, 0xff][..],
        &[1, 2, 3][..],
    ] {
        assert!(Fingerprint::from_bytes(bytes).is_err());
    }
}

#[test]
fn fingerprints_round_trip_through_bytes_and_keys_are_bounded() {
    for it in [wire(), teaser(), write_thru(), follow_up()] {
        let f = fp(&it);
        let g = Fingerprint::from_bytes(&f.to_bytes());
        assert_eq!(g.as_ref(), Ok(&f));
        let keys = f.index_keys();
        assert!(keys.len() <= 3 + LEAD_ANCHORS + LSH_BANDS);
        assert_eq!(f.version, NORMALISATION_VERSION);
    }
    // Copies can find each other through the index.
    let (w, r) = (fp(&wire()), fp(&teaser()));
    let wk = w.index_keys();
    assert!(r.index_keys().iter().any(|k| wk.contains(k)));
}

#[test]
fn thresholds_deserialise_with_defaults_for_missing_fields() {
    let t: Thresholds = serde_json::from_str(r#"{"resemblance": 0.6}"#).unwrap();
    assert_eq!(t.resemblance, 0.6);
    assert_eq!(t.window_secs, Thresholds::default().window_secs);
    assert!(serde_json::from_str::<Thresholds>(r#"{"resemblence": 0.6}"#).is_err());
}

#[test]
fn explain_names_the_rule_and_scores() {
    let v = explain(&fp(&follow_up()), &fp(&wire()), &Thresholds::default());
    let s = v.to_string();
    assert!(s.starts_with("SEPARATE"), "{s}");
    assert!(s.contains("resemblance"), "{s}");
    let v = explain(&fp(&teaser()), &fp(&wire()), &Thresholds::default());
    assert!(v.to_string().contains("ContainedAtLead"));
}

#[test]
fn assign_prefers_the_strongest_story_and_breaks_ties_by_id() {
    let t = Thresholds::default();
    let (w, r, o) = (
        fp(&wire()),
        fp(&seed_style_republication()),
        fp(&other_report()),
    );
    let got = assign(&r, [(7u64, &o), (5u64, &w), (3u64, &w)], &t);
    assert_eq!(got.map(|(s, _)| s), Some(3));
    assert_eq!(assign(&o, [(1u64, &w)], &t).map(|(s, _)| s), None);
}

/// The words and marks the pinned fingerprints are made of: cases, accents,
/// composed and decomposed forms, widths, invisible and CJK characters.
const PIECES: &[&str] = &[
    "the",
    "port",
    "Strike",
    "ENDED",
    "on",
    "Friday",
    "said",
    "union",
    "pay",
    "12",
    "percent",
    "Zoë",
    "Müller",
    "ŁUKASZ",
    "Wróbel",
    "İstanbul",
    "STRASSE",
    "Straße",
    "e\u{301}te\u{301}",
    "A\u{30A}",
    "１２０",
    "ec\u{200B}onomy",
    "\u{00A0}",
    "\u{2019}s",
    "\u{201C}quoted\u{201D}",
    "\u{2013}",
    "北京",
    "市场",
    "ｶﾀｶﾅ",
    "한국",
    "ﬁnance",
    "½",
    "x²",
    "ǅ",
    "ǲ",
    "Ⅻ",
    "ﾞ",
    "&amp;",
    "&eacute;",
    "<b>bold</b>",
    "<br>",
    "…",
    "(Reuters)",
    "--",
    ",",
    ".",
    "2026-11-28",
    "01:09",
    "£120,000",
    "Ω",
    "ῼ",
    "ﬀ",
    "\u{0130}I",
];

/// Lines the pinned items are wrapped in: datelines, labels, captions,
/// credit lines.
const LINES: &[&str] = &[
    "GENEVA, Nov. 28 (Northwind) -- ",
    "SÃO PAULO (Meridian) - ",
    "Available For Posting Ad",
    "DF-Xinhua Report",
    "Related News: more",
    "(Reporting by Ana Lúcia; Editing by Mei Chen)",
    "File photo (Atlas/Søren Ødegård)",
    "17 Sep 2026, 01:09",
    "Share on Facebook",
];

/// Fingerprints are stored (and their keys index the store), so a change of
/// the normalisation must bump [`NORMALISATION_VERSION`]; a speed-up must
/// not change a bit. This pins the fingerprints and keys of 400 invented
/// items mixing what the rules treat differently: accented and dotted
/// capitals (`İ`), combining marks, full-width digits, invisible
/// characters, curly quotes, CJK, datelines, wrappers, captions, credit
/// lines, digits and markup; half of them against learned boilerplate.
#[test]
fn fingerprints_are_pinned_bit_for_bit() {
    let mut state = 0x5eed_u64;
    let mut next = |n: usize| {
        state = text::mix64(state.wrapping_add(0x9e37_79b9_7f4a_7c15));
        (state % n as u64) as usize
    };
    let mut all = Vec::new();
    for item in 0..400 {
        let mut html = String::new();
        for para in 0..1 + next(8) {
            html.push_str(if next(4) == 0 { "<div>" } else { "<p>" });
            if para < 3 && next(3) == 0 {
                html.push_str(LINES[next(2)]);
            }
            if next(5) == 0 {
                html.push_str(LINES[next(LINES.len())]);
            } else {
                for _ in 0..next(40) {
                    html.push_str(PIECES[next(PIECES.len())]);
                    html.push_str(if next(6) == 0 { "" } else { " " });
                }
            }
            html.push_str("</p>\n");
        }
        let title: String = (0..next(9))
            .map(|_| PIECES[next(PIECES.len())])
            .collect::<Vec<_>>()
            .join(" ");
        let summary = if next(3) == 0 {
            html.get(..html.len() / 2).unwrap_or("")
        } else {
            ""
        };
        let input = DedupInput {
            source: if item % 2 == 0 { "agency" } else { "outlet" },
            title: &title,
            link: Some("https://x.example/news?id=7&utm_source=feed"),
            published: T0 + item,
            summary_html: summary,
            content_html: &html,
        };
        // The outlet has learned a third of all paragraph hashes as its
        // boilerplate.
        let learned =
            |source: &str, hash: u64| u32::from(source == "outlet" && hash.is_multiple_of(3)) * 9;
        let f = fingerprint(&input, &FnStats(learned));
        all.extend_from_slice(&f.to_bytes());
        for k in f.index_keys() {
            all.extend_from_slice(&k.to_le_bytes());
        }
    }
    assert_eq!(
        (all.len(), format!("{:016x}", text::hash_bytes(&all))),
        (189_684, "284c0ba800a46f4a".to_owned()),
        "the fingerprints changed: bump NORMALISATION_VERSION if that was meant",
    );
}

struct FnStats<F>(F);

impl<F: Fn(&str, u64) -> u32> BoilerplateStats for FnStats<F> {
    fn distinct_items(&self, source: &str, paragraph_hash: u64) -> u32 {
        (self.0)(source, paragraph_hash)
    }
}
