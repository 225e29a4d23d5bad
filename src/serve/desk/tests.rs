//! The whole page: every field from a feed, a server or the request is
//! escaped where it lands.

use chrono::TimeZone;

use super::*;
use crate::model::{Item, SourceId, StoredItem};

const EVIL: &str = "\"'><script>alert(1)</script><img src=x onerror=alert(2)>";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 10, 12, 0, 0).unwrap()
}

fn copy(id: i64, source: &str) -> StoredItem {
    StoredItem {
        id,
        source_id: SourceId::new(source),
        source_name: format!("{source} {EVIL}"),
        source_url: "https://x.example/feed".into(),
        source_priority: 0,
        source_tags: vec![EVIL.into()],
        item: Item {
            identity: format!("i{id}"),
            title: format!("Title {EVIL}"),
            link: Some(format!("https://x.example/{id}?a=\"{EVIL}")),
            published: Some(now() - TimeDelta::minutes(3)),
            updated: None,
            author: Some(EVIL.into()),
            summary: Some(EVIL.into()),
            content: Some(EVIL.into()),
            categories: vec![EVIL.into()],
            enclosures: vec![],
        },
        first_seen: now() - TimeDelta::minutes(2),
        changed_at: now(),
    }
}

fn page(params: &DeskParams, notice: Option<&str>) -> String {
    let story = Story {
        id: 1,
        uid: "u".into(),
        arrived: now() - TimeDelta::minutes(2),
        chosen: copy(1, "agency"),
        others: vec![copy(2, "outlet")],
    };
    let cards = [SourceCard {
        id: format!("id{EVIL}"),
        name: EVIL.into(),
        status: "error".into(),
        failures: 2,
        error: Some(EVIL.into()),
        gaps: 1,
        repeats: 3,
        ..SourceCard::default()
    }];
    let choices = [(format!("id{EVIL}"), EVIL.to_owned())];
    let tags = [EVIL.to_owned()];
    let names = HashMap::from([("agency".to_owned(), EVIL.to_owned())]);
    let rows = [crate::store::HourlyArrivals {
        source: SourceId::new("agency"),
        hour: now(),
        items: 2,
    }];
    let bins = chart::bins(&rows, &names, 24, now());
    render(&Desk {
        title: EVIL,
        params,
        cards: &cards,
        stories: StoriesPart {
            params,
            stories: std::slice::from_ref(&story),
            next: Some(PageKey { date: 5, id: 9 }),
            sources: &choices,
            tags: &tags,
            notice,
        },
        bins: &bins,
        now: now(),
    })
}

fn assert_no_markup_from_outside(html: &str) {
    for bad in ["<script>", "<img", "'>", "=\"\"'"] {
        assert!(!html.contains(bad), "{bad:?} in {html}");
    }
    // Our one script is a file, never inline.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert!(html.contains("<script src=\"desk.js?v="), "{html}");
}

#[test]
fn every_field_from_feeds_sources_and_the_request_is_escaped() {
    let params = DeskParams {
        feed: crate::store::FeedQuery {
            search: Some(EVIL.into()),
            tag: Some(EVIL.into()),
            sources: vec![SourceId::new(format!("id{EVIL}"))],
            after: Some(PageKey { date: 1, id: 2 }),
            limit: PAGE_STORIES,
            ..Default::default()
        },
        view: View::Latest,
        span: params::Span::Day,
        token: Some(EVIL.into()),
    };
    let html = page(&params, Some(EVIL));
    assert_no_markup_from_outside(&html);
    assert!(
        html.contains("value=\"&quot;'&gt;&lt;script&gt;"),
        "the search box echoes it escaped"
    );
    assert!(
        html.contains("<p class=\"notice\" role=\"alert\">\"'&gt;&lt;script&gt;"),
        "{html}"
    );
    assert!(
        html.contains("<input type=\"hidden\" name=\"token\""),
        "the token stays in the form"
    );
    let running = DeskParams {
        view: View::Running,
        ..params
    };
    assert_no_markup_from_outside(&page(&running, None));
}

#[test]
fn a_story_shows_its_copies_with_source_link_and_time() {
    let html = page(&DeskParams::default(), None);
    assert!(
        html.contains("<strong class=\"copies\">2 copies</strong>"),
        "{html}"
    );
    assert!(
        html.contains("<details><summary>The 2 copies</summary>"),
        "{html}"
    );
    assert!(html.contains(">3 min ago</time>"), "{html}");
    assert!(
        html.contains("href=\"https://x.example/2?a=&quot;&quot;'&gt;"),
        "{html}"
    );
    assert!(html.contains("rel=\"next\""), "there is an older page");
    assert!(!html.contains("Newest stories"), "this is the first page");
}

#[test]
fn the_page_links_its_assets_and_the_feeds_of_what_it_shows() {
    let params =
        params::parse(Some("q=port&source=agency&token=tok"), |id| id == "agency").unwrap();
    let html = page(&params, None);
    assert!(
        html.contains("<link rel=\"stylesheet\" href=\"desk.css?v="),
        "{html}"
    );
    assert!(
        html.contains("href=\"feed.atom?source=agency&amp;q=port&amp;token=tok\""),
        "{html}"
    );
    assert!(html.contains("href=\"sources.opml?token=tok\""), "{html}");
    assert!(!html.contains(" style="), "the CSP allows no inline style");
}
