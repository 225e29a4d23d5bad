//! The shared vocabulary: plain data that every stage speaks.
//!
//! Nothing here does I/O or knows about an outside crate's types except
//! `chrono` timestamps and `url::Url`, which are part of the vocabulary.
//!
//! - a **source** is one configured feed URL ([`Source`]);
//! - an **item** is one entry from one source, normalised by `ingest` ([`Item`]);
//! - a **story** is what the merged feed shows once; it has one or more items,
//!   its **copies** ([`Story`]);
//! - a **poll** is one fetch + ingest + dedup + store pass for one source.

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};
use url::Url;

/// The id of a source, as written in the config (`[a-z0-9_-]+`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SourceId(String);

impl SourceId {
    /// Wraps a string that the config has already validated.
    pub fn new(id: impl Into<String>) -> Self {
        Self(id.into())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One configured feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub id: SourceId,
    /// Display name, shown in the merged feed next to each copy.
    pub name: String,
    /// Where the feed is fetched from: `http`, `https` or `file`.
    pub url: Url,
    /// How often the source is polled: its own `interval`, else
    /// `[poll].interval`, which is then the average when polling is
    /// adaptive.
    pub interval: Duration,
    /// Polled at `interval` exactly: the source sets its own, or
    /// `[poll] adaptive = false`. Otherwise it is polled to its rhythm
    /// (`poll::rhythm`).
    pub fixed_interval: bool,
    /// Higher wins when a story has copies from several sources.
    pub priority: i64,
    pub tags: Vec<String>,
    /// Request headers sent with every fetch of this source (#18).
    pub headers: Headers,
    /// Its keep/block rules: which new items are stored blocked (#18).
    pub rules: crate::rules::Rules,
    /// Subscribed to the hub its feed advertises, if any and `[websub]`
    /// is on (`websub = false` in its config: never) (#16).
    pub websub: bool,
}

impl Source {
    /// This source as a page or a file handed on may show it: a password
    /// (or a lone user name) in its URL as [`REDACTED`] (see
    /// [`redacted_url`]).
    pub fn shown(&self) -> Source {
        let mut shown = self.clone();
        if let Ok(url) = Url::parse(&redacted_url(&self.url)) {
            shown.url = url;
        }
        shown
    }
}

/// The request headers of one source, as configured and validated: names
/// and values that are valid HTTP, none the fetcher owns. Their `Debug`
/// shows secret values as `***` (see [`is_secret_header`]), so a source
/// printed whole never leaks a credential.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

/// What a secret header value, or a URL's password, is shown as.
pub const REDACTED: &str = "***";

impl Headers {
    /// Headers already validated by the config.
    pub fn new(pairs: Vec<(String, String)>) -> Self {
        Headers(pairs)
    }

    /// Every (name, value), in the config's order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Every (name, value) as logs and pages may show them: a secret
    /// header's value is [`REDACTED`].
    pub fn redacted(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|(n, v)| {
                let shown = if is_secret_header(n) { REDACTED } else { v };
                (n.to_owned(), shown.to_owned())
            })
            .collect()
    }

    /// These headers less the secret ones: what may go to a host other
    /// than the source's own.
    pub fn without_secrets(&self) -> Headers {
        Headers(
            self.0
                .iter()
                .filter(|(n, _)| !is_secret_header(n))
                .cloned()
                .collect(),
        )
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.redacted()).finish()
    }
}

/// Whether a header's value is a credential, never logged or shown:
/// `Authorization`, `Proxy-Authorization`, `Cookie`, and any header whose
/// name holds `token`, `key`, `secret`, `auth`, `session` or `password`
/// (`X-Api-Key`, `X-Auth-Token`, ...).
pub fn is_secret_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "cookie"
        || ["token", "key", "secret", "auth", "session", "password"]
            .iter()
            .any(|word| name.contains(word))
}

/// `url` as logs and pages show it: a password in it as [`REDACTED`], and
/// a user name alone (often a token) too. `https://u:pw@host/feed` shows as
/// `https://u:***@host/feed`.
pub fn redacted_url(url: &Url) -> String {
    if url.username().is_empty() && url.password().is_none() {
        return url.to_string();
    }
    let mut shown = url.clone();
    let done = if url.password().is_some() {
        shown.set_password(Some(REDACTED))
    } else {
        shown.set_username(REDACTED)
    };
    match done {
        Ok(()) => shown.to_string(),
        // A URL without a host cannot hold credentials; never echo it.
        Err(()) => REDACTED.to_owned(),
    }
}

/// A media file attached to an item (RSS `enclosure`, Atom `link rel="enclosure"`, `media:content`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Enclosure {
    pub url: String,
    pub mime_type: Option<String>,
    pub length: Option<u64>,
}

/// One entry of one source, as `ingest` hands it on: text is clean, HTML is
/// sanitised, and `identity` is stable across polls and restarts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    /// Per-source identity computed by wiredesk (guid, else normalised link,
    /// else a hash of title + content); never a parser-generated id.
    pub identity: String,
    /// Title as plain text.
    pub title: String,
    pub link: Option<String>,
    pub published: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub author: Option<String>,
    /// Sanitised HTML of the teaser / description.
    pub summary: Option<String>,
    /// Sanitised HTML of the full text, when the feed carries it.
    pub content: Option<String>,
    pub categories: Vec<String>,
    pub enclosures: Vec<Enclosure>,
}

/// HTTP validators of a source's last response, sent back on the next poll
/// as `If-None-Match` / `If-Modified-Since`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// The row id of a stored item.
pub type ItemId = i64;

/// The row id of a stored story. Once served it never changes.
pub type StoryId = i64;

/// A SHA-256 digest (of a fetched body, to skip parsing an unchanged one).
pub type ContentHash = [u8; 32];

/// A stored item that may be a copy of a new one: what dedup needs to
/// compare it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub item_id: ItemId,
    pub story_id: StoryId,
    pub source_id: SourceId,
    pub title: String,
    pub link: Option<String>,
    /// Its date (published, else first seen), Unix seconds.
    pub date: i64,
    pub summary: Option<String>,
    pub content: Option<String>,
}

/// An item as the store returns it to `serve`: the item plus where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredItem {
    pub id: ItemId,
    pub source_id: SourceId,
    pub source_name: String,
    /// The source's feed URL.
    pub source_url: String,
    pub source_priority: i64,
    pub source_tags: Vec<String>,
    pub item: Item,
    pub first_seen: DateTime<Utc>,
    /// When wiredesk last stored a change to it (first stored it, or its
    /// source changed its fields).
    pub changed_at: DateTime<Utc>,
}

impl StoredItem {
    /// The time the merged feed sorts and dates this item by: its published
    /// date, else when wiredesk first saw it.
    pub fn date(&self) -> DateTime<Utc> {
        self.item.published.unwrap_or(self.first_seen)
    }
}

/// One story of the merged feed: the copy it shows, and the other copies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Story {
    pub id: StoryId,
    /// Stable public id, derived from the copy that founded the story; the
    /// merged feed's entry id. It never changes once served.
    pub uid: String,
    /// When this instance first stored the story (its first copy): the
    /// merged feed's order, newest first. A copy joining later changes
    /// neither this nor the uid. With `copies=all`, when the item arrived.
    pub arrived: DateTime<Utc>,
    /// The copy the merged feed shows.
    pub chosen: StoredItem,
    /// Every other copy, in the same order of preference.
    pub others: Vec<StoredItem>,
}

impl Story {
    /// Builds a story from its copies in any order, choosing the copy shown:
    /// the highest source `priority`, then the earliest date, then the
    /// lowest item id (so the choice is deterministic). `None` without copies.
    pub fn from_copies(
        id: StoryId,
        uid: String,
        arrived: DateTime<Utc>,
        mut copies: Vec<StoredItem>,
    ) -> Option<Story> {
        copies.sort_by(|a, b| {
            b.source_priority
                .cmp(&a.source_priority)
                .then_with(|| a.date().cmp(&b.date()))
                .then_with(|| a.id.cmp(&b.id))
        });
        let mut copies = copies.into_iter();
        let chosen = copies.next()?;
        Some(Story {
            id,
            uid,
            arrived,
            chosen,
            others: copies.collect(),
        })
    }

    /// When the story as served last changed here: it arrived, a copy
    /// joined it, or a copy's source changed that copy.
    pub fn changed(&self) -> DateTime<Utc> {
        self.copies()
            .map(|c| c.changed_at)
            .fold(self.arrived, DateTime::max)
    }

    /// Every copy, the chosen one first.
    pub fn copies(&self) -> impl Iterator<Item = &StoredItem> {
        std::iter::once(&self.chosen).chain(self.others.iter())
    }
}

/// The public id of a story founded by `identity` of `source`: the first 16
/// bytes of a SHA-256, in hex. Stable across restarts and rebuilt databases.
pub fn story_uid(source: &SourceId, identity: &str) -> String {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(source.as_str().as_bytes());
    h.update([0u8]);
    h.update(identity.as_bytes());
    let digest = h.finalize();
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_header_values_and_url_passwords_are_shown_as_stars() {
        let headers = Headers::new(vec![
            ("Authorization".into(), "Basic dXNlcjpwdw==".into()),
            ("Cookie".into(), "session=abc".into()),
            ("X-Api-Key".into(), "k-123".into()),
            ("X-Auth-Token".into(), "t-456".into()),
            ("User-Agent".into(), "my reader".into()),
        ]);
        let shown = format!("{headers:?}");
        for secret in ["dXNlcjpwdw", "abc", "k-123", "t-456"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("my reader"), "{shown}");
        let kept: Vec<_> = headers
            .without_secrets()
            .iter()
            .map(|(n, _)| n.to_owned())
            .collect();
        assert_eq!(kept, ["User-Agent"]);

        let url = |s: &str| Url::parse(s).unwrap();
        assert_eq!(
            redacted_url(&url("https://me:hunter2@news.example/feed")),
            "https://me:***@news.example/feed"
        );
        assert_eq!(
            redacted_url(&url("https://tok3n@news.example/feed")),
            "https://***@news.example/feed"
        );
        assert_eq!(
            redacted_url(&url("https://news.example/feed?x=1")),
            "https://news.example/feed?x=1"
        );
    }
}

/// Where a feed says it is pushed from (WebSub, #16): the hubs it names
/// (`rel="hub"`) and the topic URL to subscribe to (`rel="self"`), from its
/// HTTP `Link` header or its document.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PushLinks {
    pub hubs: Vec<Url>,
    pub topic: Option<Url>,
}

impl PushLinks {
    /// These links, with `other`'s filling what these lack (the header's
    /// win over the document's, as the WebSub spec orders them).
    pub fn or(self, other: PushLinks) -> PushLinks {
        PushLinks {
            hubs: if self.hubs.is_empty() {
                other.hubs
            } else {
                self.hubs
            },
            topic: self.topic.or(other.topic),
        }
    }
}
