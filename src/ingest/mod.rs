//! Ingest: the bytes of a fetched feed become clean, safe, stably identified
//! items. The only `feed-rs` and `ammonia` user.
//!
//! Pure: the clock is passed in, nothing is read or written. The parser runs
//! behind `catch_unwind`, so a feed that trips a bug in it is a reported
//! error for that source, never a crash of the daemon.

use std::collections::HashSet;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use url::Url;

use crate::model::{Enclosure, Item};

/// A fetched body and what the fetch knew about it.
#[derive(Debug, Clone, Copy)]
pub struct FetchedBody<'a> {
    pub bytes: &'a [u8],
    pub content_type: Option<&'a str>,
    pub url: &'a Url,
}

/// Bounds on what one poll takes in.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The largest body parsed, in bytes.
    pub max_body: usize,
    /// The most items taken from one feed per poll (the first ones in
    /// document order, which feeds put newest first).
    pub max_items: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body: 10 * 1024 * 1024,
            max_items: 5000,
        }
    }
}

/// What the feed says about itself and its items.
#[derive(Debug, Clone, Default)]
pub struct ParsedFeed {
    pub title: Option<String>,
    pub items: Vec<Item>,
    pub hints: FeedHints,
    /// Entries skipped or repaired, each with its reason.
    pub warnings: Vec<String>,
}

/// How often the feed says it changes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedHints {
    pub ttl: Option<Duration>,
}

/// Why a body could not be read as a feed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum IngestError {
    #[error("the body is {size} bytes, over the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("the body is empty")]
    Empty,
    #[error("not a feed: {reason}")]
    NotAFeed { reason: String },
    #[error("the feed cannot be parsed: {reason}")]
    Malformed { reason: String },
}

/// What feed-rs puts in `id` when an entry has none; we compute identity
/// ourselves instead of using its generated (sometimes random) ids.
const NO_ID: &str = "\u{0}wiredesk:no-id";

/// Parses one fetched body into items.
pub fn parse(
    body: &FetchedBody<'_>,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<ParsedFeed, IngestError> {
    if body.bytes.len() > limits.max_body {
        return Err(IngestError::TooLarge {
            size: body.bytes.len(),
            limit: limits.max_body,
        });
    }
    if body.bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(IngestError::Empty);
    }
    let parser = feed_rs::parser::Builder::new()
        .base_uri(Some(body.url.as_str()))
        .id_generator(|_, _, _| NO_ID.to_owned())
        .build();
    let feed = catch_unwind(AssertUnwindSafe(|| parser.parse(body.bytes)))
        .map_err(|_| IngestError::Malformed {
            reason: "the parser failed on this input".into(),
        })?
        .map_err(|e| {
            let reason = e.to_string();
            if looks_like_html(body.bytes) {
                IngestError::NotAFeed {
                    reason: "the server sent an HTML page".into(),
                }
            } else {
                IngestError::Malformed { reason }
            }
        })?;

    let mut parsed = ParsedFeed {
        title: feed.title.map(|t| plain_text(&t.content)),
        hints: FeedHints {
            ttl: feed.ttl.map(|m| Duration::from_secs(u64::from(m) * 60)),
        },
        ..ParsedFeed::default()
    };
    let mut identities = HashSet::new();
    for entry in feed.entries {
        if parsed.items.len() >= limits.max_items {
            parsed.warnings.push(format!(
                "the feed has more than {} entries; the rest are skipped",
                limits.max_items
            ));
            break;
        }
        let item = item_from(entry, now);
        if !identities.insert(item.identity.clone()) {
            parsed.warnings.push(format!(
                "entry {:?} repeats an id already in this feed; the first one is kept",
                item.identity
            ));
            continue;
        }
        parsed.items.push(item);
    }
    Ok(parsed)
}

fn item_from(entry: feed_rs::model::Entry, now: DateTime<Utc>) -> Item {
    let title = entry
        .title
        .as_ref()
        .map(|t| plain_text(&t.content))
        .unwrap_or_default();
    let link = entry
        .links
        .iter()
        .find(|l| l.rel.as_deref().is_none_or(|r| r == "alternate"))
        .map(|l| l.href.trim().to_owned())
        .filter(|l| !l.is_empty());
    let content = entry
        .content
        .as_ref()
        .and_then(|c| c.body.as_deref())
        .map(sanitise)
        .filter(|c| !c.trim().is_empty());
    let summary = entry
        .summary
        .as_ref()
        .map(|s| sanitise(&s.content))
        .filter(|s| !s.trim().is_empty());
    let published = entry.published.or(entry.updated).map(|d| d.min(now));
    let updated = entry.updated.map(|d| d.min(now));
    let author = entry
        .authors
        .first()
        .and_then(|p| p.name.as_deref().map(plain_text))
        .filter(|n| !n.is_empty());
    let categories = entry
        .categories
        .iter()
        .map(|c| plain_text(c.label.as_deref().unwrap_or(&c.term)))
        .filter(|c| !c.is_empty())
        .collect();
    let enclosures = entry
        .media
        .iter()
        .flat_map(|m| m.content.iter())
        .filter_map(|c| {
            let url = c.url.as_ref()?;
            Some(Enclosure {
                url: url.to_string(),
                mime_type: c.content_type.as_ref().map(|m| m.to_string()),
                length: c.size,
            })
        })
        .collect();
    let identity = identity(
        &entry.id,
        link.as_deref(),
        &title,
        content.as_deref(),
        summary.as_deref(),
    );
    Item {
        identity,
        title,
        link,
        published,
        updated,
        author,
        summary,
        content,
        categories,
        enclosures,
    }
}

/// The per-source identity of an item: its guid / id, else its link, else a
/// hash of its title and text. Deterministic: the same entry gets the same
/// identity on every poll.
fn identity(
    id: &str,
    link: Option<&str>,
    title: &str,
    content: Option<&str>,
    summary: Option<&str>,
) -> String {
    let id = id.trim();
    if id != NO_ID && !id.is_empty() {
        return id.to_owned();
    }
    if let Some(link) = link {
        return link.to_owned();
    }
    let mut h = Sha256::new();
    for part in [title, content.unwrap_or(""), summary.unwrap_or("")] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    let digest = h.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("urn:wiredesk:content:{hex}")
}

/// Sanitised HTML: an allowlist of tags and attributes, no scripts, styles,
/// event handlers or `javascript:` URLs.
fn sanitise(html: &str) -> String {
    ammonia::clean(html)
}

/// Text with markup removed and white space folded.
fn plain_text(text: &str) -> String {
    let stripped;
    let text = if text.contains('<') {
        stripped = ammonia::Builder::empty().clean(text).to_string();
        stripped
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&amp;", "&")
    } else {
        text.to_owned()
    };
    text.split_whitespace()
        .filter(|w| !w.chars().all(char::is_control))
        .collect::<Vec<_>>()
        .join(" ")
}

fn looks_like_html(bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(1024)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    head.contains("<!doctype html") || head.contains("<html")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(xml: &str) -> Result<ParsedFeed, IngestError> {
        let url = Url::parse("https://agency.example/feed.xml").unwrap();
        parse(
            &FetchedBody {
                bytes: xml.as_bytes(),
                content_type: None,
                url: &url,
            },
            Utc::now(),
            &Limits::default(),
        )
    }

    #[test]
    fn an_item_without_guid_is_identified_by_its_link_every_time() {
        let xml = r#"<rss version="2.0"><channel><title>A</title>
            <item><title>One</title><link>https://a.example/1</link></item>
            </channel></rss>"#;
        let a = parse_str(xml).unwrap();
        let b = parse_str(xml).unwrap();
        assert_eq!(a.items[0].identity, "https://a.example/1");
        assert_eq!(a.items[0].identity, b.items[0].identity);
    }

    #[test]
    fn an_item_with_only_text_gets_a_content_identity_not_a_random_one() {
        let xml = r#"<rss version="2.0"><channel><title>A</title>
            <item><description>Only text</description></item>
            </channel></rss>"#;
        let a = parse_str(xml).unwrap();
        let b = parse_str(xml).unwrap();
        assert!(a.items[0].identity.starts_with("urn:wiredesk:content:"));
        assert_eq!(a.items[0].identity, b.items[0].identity);
    }

    #[test]
    fn scripts_are_removed_from_content() {
        let xml = r#"<rss version="2.0"><channel><title>A</title>
            <item><guid>g1</guid><title>T</title>
            <description>&lt;p onclick="x()"&gt;Hi&lt;script&gt;alert(1)&lt;/script&gt;&lt;/p&gt;</description></item>
            </channel></rss>"#;
        let feed = parse_str(xml).unwrap();
        let summary = feed.items[0].summary.as_deref().unwrap();
        assert!(
            !summary.contains("script") && !summary.contains("onclick"),
            "{summary}"
        );
        assert!(summary.contains("Hi"));
    }

    #[test]
    fn a_repeated_guid_keeps_the_first_entry() {
        let xml = r#"<rss version="2.0"><channel><title>A</title>
            <item><guid>g</guid><title>First</title></item>
            <item><guid>g</guid><title>Second</title></item>
            </channel></rss>"#;
        let feed = parse_str(xml).unwrap();
        assert_eq!(feed.items.len(), 1);
        assert_eq!(feed.items[0].title, "First");
        assert_eq!(feed.warnings.len(), 1);
    }

    #[test]
    fn an_html_page_is_not_a_feed() {
        let e = parse_str("<!DOCTYPE html><html><body>Moved</body></html>").unwrap_err();
        assert!(matches!(e, IngestError::NotAFeed { .. }), "{e}");
    }
}
