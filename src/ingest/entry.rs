//! From parser output (feed-rs or our JSON Feed reader) to [`Item`]s: clean
//! text, sanitised HTML, resolved URLs, clamped dates, stable identity.

use std::collections::HashSet;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

use super::identity;
use super::text::{Cleaner, escape_html, fold};
use super::{FeedHints, Limits, ParsedFeed, Warning, WarningKind};
use crate::model::{Enclosure, Item};

/// How far in the future a date may lie before it is clamped to `now`
/// (clock skew between us and the publisher is normal; a day ahead is not).
const FUTURE_TOLERANCE: chrono::TimeDelta = chrono::TimeDelta::minutes(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Html,
    Plain,
}

/// Text as the feed gave it, with how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Body {
    pub text: String,
    pub kind: Kind,
}

impl Body {
    pub(crate) fn html(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            kind: Kind::Html,
        }
    }
    pub(crate) fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            kind: Kind::Plain,
        }
    }
}

/// One entry as a parser saw it, before cleaning.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RawEntry {
    /// Position in the document (1-based), for warnings.
    pub position: usize,
    pub guid: Option<String>,
    pub title: Option<Body>,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    pub summary: Option<Body>,
    pub content: Option<Body>,
    pub categories: Vec<String>,
    pub enclosures: Vec<Enclosure>,
    /// `xml:base` in force for the entry.
    pub base: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct RawFeed {
    pub title: Option<Body>,
    pub entries: Vec<RawEntry>,
    pub hints: FeedHints,
    /// The link to older items, as written (see [`ParsedFeed::older`]).
    pub older: Option<String>,
    /// How many entries the document has, read or not.
    pub found: usize,
    /// Its `rel="hub"` links and its `rel="self"` link, as written
    /// (WebSub discovery, #16; see [`ParsedFeed::push`]).
    pub hubs: Vec<String>,
    pub self_link: Option<String>,
}

/// The most `rel="hub"` links kept from one document.
const MAX_HUBS: usize = 4;

/// `href` resolved against the feed's URL, when it is an http or https URL.
fn web_link(feed_url: &Url, href: &str) -> Option<Url> {
    feed_url
        .join(href.trim())
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https"))
}

/// Turns raw entries into items: the last, pure step of [`super::parse`].
pub(crate) fn finish(
    mut raw: RawFeed,
    feed_url: &Url,
    now: DateTime<Utc>,
    limits: &Limits,
    mut warnings: Vec<Warning>,
) -> ParsedFeed {
    let mut cleaner = Cleaner::new();
    let title = raw
        .title
        .as_ref()
        .map(|t| plain(&cleaner, t))
        .filter(|t| !t.is_empty());
    if raw.entries.len() > limits.max_items {
        warnings.push(Warning::new(
            WarningKind::TooManyItems,
            format!(
                "{} entries; only the first {} were taken",
                raw.entries.len(),
                limits.max_items
            ),
        ));
        raw.entries.truncate(limits.max_items);
    }
    let mut seen = HashSet::new();
    let mut items = Vec::with_capacity(raw.entries.len());
    for e in raw.entries {
        let position = e.position;
        let item = clean_entry(e, &mut cleaner, feed_url, now, &mut warnings);
        if seen.insert(item.identity.clone()) {
            items.push(item);
        } else {
            warnings.push(Warning::for_item(
                WarningKind::DuplicateIdentity,
                &item.identity,
                format!(
                    "entry {position} repeats the identity of an earlier entry and was skipped"
                ),
            ));
        }
    }
    // Older items are fetched like the feed itself: only a link of the
    // same scheme (a web feed never sends the poller to a file).
    let older = raw
        .older
        .as_deref()
        .and_then(|href| feed_url.join(href.trim()).ok())
        .filter(|u| u.scheme() == feed_url.scheme() && u != feed_url);
    let push = crate::model::PushLinks {
        hubs: raw
            .hubs
            .iter()
            .filter_map(|href| web_link(feed_url, href))
            .take(MAX_HUBS)
            .collect(),
        topic: raw
            .self_link
            .as_deref()
            .and_then(|href| web_link(feed_url, href)),
    };
    ParsedFeed {
        title,
        items,
        hints: raw.hints,
        older,
        push,
        found: raw.found,
        warnings,
    }
}

fn plain(cleaner: &Cleaner, b: &Body) -> String {
    match b.kind {
        Kind::Html => cleaner.text_from_html(&b.text),
        Kind::Plain => fold(&b.text),
    }
}

fn http_url(s: &str, base: &Url) -> Option<Url> {
    let u = base.join(s.trim()).ok()?;
    matches!(u.scheme(), "http" | "https").then_some(u)
}

fn clean_entry(
    e: RawEntry,
    cleaner: &mut Cleaner,
    feed_url: &Url,
    now: DateTime<Utc>,
    warnings: &mut Vec<Warning>,
) -> Item {
    let xml_base = e.base.as_deref().and_then(|b| feed_url.join(b.trim()).ok());
    let link = entry_link(&e, xml_base.as_ref().unwrap_or(feed_url));
    // Relative URLs in content: xml:base, else the entry's link, else the feed URL.
    let content_base = xml_base
        .clone()
        .or_else(|| link.clone())
        .unwrap_or_else(|| feed_url.clone());

    let title = e
        .title
        .as_ref()
        .map(|t| plain(cleaner, t))
        .unwrap_or_default();
    let (content, summary) = content_and_summary(&e, cleaner, &content_base);

    let authors = distinct_texts(cleaner, &e.authors);
    let categories = distinct_texts(cleaner, &e.categories);
    let (enclosures, dropped_enclosures) = http_enclosures(e.enclosures, &content_base);

    let raw_title = e.title.as_ref().map_or("", |t| t.text.as_str());
    let raw_body = e
        .content
        .as_ref()
        .or(e.summary.as_ref())
        .map_or("", |b| b.text.as_str());
    let first_enclosure = enclosures.first().map_or("", |x| x.url.as_str());
    let identity = identity::identity(
        e.guid.as_deref(),
        link.as_ref(),
        raw_title,
        raw_body,
        first_enclosure,
    );
    if dropped_enclosures > 0 {
        warnings.push(Warning::for_item(
            WarningKind::FieldDropped,
            &identity,
            format!(
                "entry {}: {dropped_enclosures} enclosure(s) without an http(s) URL dropped",
                e.position
            ),
        ));
    }

    let mut clamp = |d: Option<DateTime<Utc>>, which: &str| {
        d.map(|d| clamp_date(d, which, now, &identity, e.position, warnings))
    };
    let published = clamp(e.published.or(e.updated), "published");
    let updated = clamp(e.updated, "updated");

    Item {
        identity,
        title,
        link: link.map(String::from),
        published,
        updated,
        author: (!authors.is_empty()).then(|| authors.join(", ")),
        summary,
        content,
        categories,
        enclosures,
    }
}

/// RSS `ttl` and the syndication module's period / frequency.
/// The entry's content and summary as sanitised HTML, relative URLs
/// resolved against `base`; empty ones are `None`.
fn content_and_summary(
    e: &RawEntry,
    cleaner: &mut Cleaner,
    base: &Url,
) -> (Option<String>, Option<String>) {
    let mut to_html = |b: &Body| -> Option<String> {
        let h = match b.kind {
            Kind::Html => cleaner.html(&b.text, Some(base)),
            Kind::Plain => escape_html(&b.text),
        };
        (!h.is_empty()).then_some(h)
    };
    let content = e.content.as_ref().and_then(&mut to_html);
    // Feeds often repeat the content as the summary: clean it once.
    let summary = match (&e.summary, &e.content) {
        (Some(s), Some(c)) if s == c => content.clone(),
        (s, _) => s.as_ref().and_then(&mut to_html),
    };
    (content, summary)
}

/// The entry's link: its `<link>`, else a guid that is an http(s) URL.
fn entry_link(e: &RawEntry, link_base: &Url) -> Option<Url> {
    e.link
        .as_deref()
        .and_then(|l| http_url(l, link_base))
        .or_else(|| {
            // An RSS guid that is a URL is the permalink when no <link> is given.
            e.guid
                .as_deref()
                .filter(|g| g.starts_with("http"))
                .and_then(|g| http_url(g, link_base))
        })
}

/// The plain texts of `raw` (authors, categories), empty ones and repeats dropped.
fn distinct_texts(cleaner: &Cleaner, raw: &[String]) -> Vec<String> {
    let mut texts: Vec<String> = Vec::new();
    for t in raw {
        let t = cleaner.text_from_html(t);
        if !t.is_empty() && !texts.contains(&t) {
            texts.push(t);
        }
    }
    texts
}

/// The enclosures with an http(s) URL (resolved against `base`), each URL
/// once, and how many were dropped for lack of one.
fn http_enclosures(raw: Vec<Enclosure>, base: &Url) -> (Vec<Enclosure>, usize) {
    let mut enclosures: Vec<Enclosure> = Vec::new();
    let mut dropped = 0;
    for enc in raw {
        match http_url(&enc.url, base) {
            Some(u) if !enclosures.iter().any(|x| x.url == u.as_str()) => {
                enclosures.push(Enclosure {
                    url: u.to_string(),
                    mime_type: enc.mime_type.map(|m| fold(&m)).filter(|m| !m.is_empty()),
                    length: enc.length.filter(|l| *l > 0),
                })
            }
            Some(_) => {}
            None => dropped += 1,
        }
    }
    (enclosures, dropped)
}

/// `d`, or `now` with a warning when `d` lies further in the future than
/// [`FUTURE_TOLERANCE`].
fn clamp_date(
    d: DateTime<Utc>,
    which: &str,
    now: DateTime<Utc>,
    identity: &str,
    position: usize,
    warnings: &mut Vec<Warning>,
) -> DateTime<Utc> {
    if d > now + FUTURE_TOLERANCE {
        warnings.push(Warning::for_item(
            WarningKind::DateClamped,
            identity,
            format!(
                "entry {position}: {which} date {} is in the future; clamped to now",
                d.to_rfc3339()
            ),
        ));
        now
    } else {
        d
    }
}

pub(crate) fn hints(ttl: Option<&str>, period: Option<&str>, frequency: Option<&str>) -> FeedHints {
    let ttl = ttl
        .and_then(|t| t.trim().parse::<u64>().ok())
        .filter(|m| *m > 0 && *m < 525_600)
        .map(|m| Duration::from_secs(m * 60));
    let period_secs = period.map(|p| match p.trim().to_ascii_lowercase().as_str() {
        "hourly" => Some(3600),
        "daily" => Some(86_400),
        "weekly" => Some(7 * 86_400),
        "monthly" => Some(30 * 86_400),
        "yearly" => Some(365 * 86_400),
        _ => None,
    });
    let freq = frequency
        .and_then(|f| f.trim().parse::<u64>().ok())
        .filter(|f| *f > 0)
        .unwrap_or(1);
    let update_period = match (period_secs, frequency) {
        (Some(Some(secs)), _) => Some(Duration::from_secs(secs / freq)),
        // Frequency without a period: the period defaults to daily.
        (None, Some(_)) => Some(Duration::from_secs(86_400 / freq)),
        _ => None,
    };
    FeedHints { ttl, update_period }
}
