//! Ingest: the bytes of one fetched feed -> clean, safe, stably identified items.
//!
//! This module is the only user of `feed-rs`. It owns everything between the
//! HTTP body and [`crate::model::Item`]:
//!
//! 1. [`decode`]: size check, then bytes -> UTF-8 (BOM, HTTP charset, XML
//!    declaration, detector; UTF-16/32; EBCDIC cp037/cp500; cp1252 bytes in
//!    "UTF-8" repaired).
//! 2. [`repair`]: a one-pass XML scanner that drops junk before the root,
//!    refuses HTML pages, fixes `&`/entities/control characters, removes the
//!    DTD, normalises RSS versions, Atom 0.3 and Atom content types, closes a
//!    truncated document after its last complete entry, and records where
//!    each entry is so that a feed is never rejected for one bad entry.
//! 3. [`xmlfeed`] / [`jsonfeed`]: feed-rs (behind `catch_unwind`, fed only
//!    UTF-8 it cannot panic on) with an entry-by-entry fallback; JSON Feed
//!    parsed leniently with our own serde structs.
//! 4. [`entry`]: plain-text titles, sanitised HTML (ammonia), dates clamped,
//!    identity computed (guid, else normalised link, else content hash).
//!
//! Everything here is pure: the clock is an argument, there is no I/O and no
//! global state, and [`parse`] never panics (see the proptests).

mod date;
mod decode;
mod entry;
mod fasthtml;
mod identity;
mod jsonfeed;
mod repair;
mod text;
mod xmlfeed;

use std::fmt;
use std::time::Duration;

use chrono::{DateTime, Utc};

pub use date::parse_date;
pub use identity::normalise_link;

/// The body of one fetch, as `poll::fetch` hands it over (already decompressed).
#[derive(Debug, Clone, Copy)]
pub struct FetchedBody<'a> {
    pub bytes: &'a [u8],
    /// The HTTP `Content-Type` header, if any (its `charset` is used).
    pub content_type: Option<&'a str>,
    /// The URL the body came from (after redirects): the base for relative URLs.
    pub url: &'a url::Url,
}

/// Caps applied to one poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bodies larger than this are refused before any parsing.
    pub max_body: usize,
    /// At most this many items are taken from one document (the first ones in
    /// document order); the rest are dropped with a [`WarningKind::TooManyItems`].
    pub max_items: usize,
}

impl Limits {
    pub const DEFAULT_MAX_BODY: usize = 10 * 1024 * 1024;
    pub const DEFAULT_MAX_ITEMS: usize = 5000;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body: Self::DEFAULT_MAX_BODY,
            max_items: Self::DEFAULT_MAX_ITEMS,
        }
    }
}

/// Hints the feed gives about how often to poll it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FeedHints {
    /// RSS `<ttl>` (minutes in the feed).
    pub ttl: Option<Duration>,
    /// `sy:updatePeriod` divided by `sy:updateFrequency`.
    pub update_period: Option<Duration>,
}

/// The outcome of ingesting one document.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedFeed {
    /// The feed's title as plain text.
    pub title: Option<String>,
    /// Items in document order, one per identity.
    pub items: Vec<crate::model::Item>,
    pub hints: FeedHints,
    /// Where the feed's older items are: an RFC 5005 `prev-archive` link
    /// (archived feeds) or `next` link (paged feeds), or a JSON Feed's
    /// `next_url`; resolved, and of the feed's own scheme.
    pub older: Option<url::Url>,
    /// The hubs it is pushed from and its topic URL (WebSub, #16), from
    /// its `rel="hub"` and `rel="self"` links (a JSON Feed's `hubs` and
    /// `feed_url`): resolved, http or https only, at most four hubs.
    pub push: crate::model::PushLinks,
    /// How many entries the document has, whether they gave items or not.
    pub found: usize,
    /// Every repair made and every entry or field dropped.
    pub warnings: Vec<Warning>,
}

impl ParsedFeed {
    /// Why a feed gave no items, in words for an operator (`None` when it
    /// gave some): a feed is more often broken than empty, and a poll that
    /// stores nothing must not look like one that found nothing new (#18).
    pub fn why_no_items(&self) -> Option<String> {
        if !self.items.is_empty() {
            return None;
        }
        let first = |kind: WarningKind| self.warnings.iter().find(|w| w.kind == kind);
        Some(if let Some(dropped) = first(WarningKind::EntryDropped) {
            format!(
                "{} entr{}, none usable: {}",
                self.found,
                if self.found == 1 { "y" } else { "ies" },
                dropped.detail
            )
        } else if let Some(cut) = first(WarningKind::Truncated) {
            format!("no items: {}", cut.detail)
        } else if self.found > 0 {
            format!("{} entries, none usable", self.found)
        } else {
            "the feed lists no items".to_owned()
        })
    }

    /// Whether the item with this identity had its `published`/`updated`
    /// date moved back to `now` because it lay in the future.
    pub fn published_clamped(&self, identity: &str) -> bool {
        self.warnings
            .iter()
            .any(|w| w.kind == WarningKind::DateClamped && w.identity.as_deref() == Some(identity))
    }
}

/// What kind of repair or loss a [`Warning`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WarningKind {
    /// The declared encoding was missing or wrong; the text was decoded otherwise.
    EncodingGuessed,
    /// Bytes invalid in the chosen encoding were repaired or replaced.
    EncodingRepaired,
    /// Text before the root element (PHP warnings, stray bytes) was removed.
    JunkRemoved,
    /// Unescaped `&`, HTML entities or a stray `<` were escaped or mapped.
    EntitiesRepaired,
    /// Control characters or NULs were removed.
    ControlCharsRemoved,
    /// A DOCTYPE (and any entity declarations in it) was removed unexpanded.
    DoctypeRemoved,
    /// Unbalanced tags were closed or dropped.
    TagsRepaired,
    /// The document was cut short; only complete entries were kept.
    Truncated,
    /// A version or dialect feed-rs does not accept was normalised.
    FormatNormalised,
    /// One entry could not be parsed at all and was skipped.
    EntryDropped,
    /// One field of an entry could not be parsed and was dropped; the entry was kept.
    FieldDropped,
    /// A second entry with an identity already seen in this document was skipped.
    DuplicateIdentity,
    /// A date was present but could not be understood.
    DateUnparseable,
    /// A date in the future was moved back to `now`.
    DateClamped,
    /// More entries than [`Limits::max_items`]; the rest were dropped.
    TooManyItems,
}

impl WarningKind {
    /// What happened, in a few words for a log line: a repair is not a
    /// loss, and says so (#18: an encoding guess was logged as "entry
    /// skipped or repaired").
    pub fn headline(self) -> &'static str {
        use WarningKind as K;
        match self {
            K::EncodingGuessed => "the feed's encoding was guessed",
            K::EncodingRepaired => "bytes invalid in the feed's encoding were replaced",
            K::JunkRemoved
            | K::EntitiesRepaired
            | K::ControlCharsRemoved
            | K::DoctypeRemoved
            | K::TagsRepaired
            | K::FormatNormalised => "the feed was repaired before parsing",
            K::Truncated => "the feed was cut short; complete entries kept",
            K::EntryDropped => "an entry could not be read and was skipped",
            K::FieldDropped => "a field of an entry could not be read and was dropped",
            K::DuplicateIdentity => "an entry repeating another's id was skipped",
            K::DateUnparseable => "a date could not be read",
            K::DateClamped => "a date in the future was moved back to now",
            K::TooManyItems => "entries over the item cap were dropped",
        }
    }
}

/// One repair or loss, precise enough to show an operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub kind: WarningKind,
    /// The identity of the item concerned, when the warning is about one item.
    pub identity: Option<String>,
    /// Human-readable detail (entry position, field, offending value...).
    pub detail: String,
}

impl Warning {
    pub(crate) fn new(kind: WarningKind, detail: impl Into<String>) -> Self {
        Self {
            kind,
            identity: None,
            detail: detail.into(),
        }
    }

    pub(crate) fn for_item(kind: WarningKind, identity: &str, detail: impl Into<String>) -> Self {
        Self {
            kind,
            identity: Some(identity.to_owned()),
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.detail)?;
        if let Some(id) = &self.identity {
            write!(f, " (item {id})")?;
        }
        Ok(())
    }
}

/// Why a body gave no feed at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IngestError {
    #[error("body of {size} bytes is larger than the {max} byte limit")]
    TooLarge { size: usize, max: usize },
    #[error("not a feed: {reason}")]
    NotAFeed { reason: String },
    #[error("malformed feed: {reason}")]
    Malformed { reason: String },
}

/// Bytes of any XML or HTML document as UTF-8 text, decoded as feeds are
/// (byte-order mark, `charset` of `content_type`, XML declaration, then a
/// guess); `import-opml` and `discover` read their documents with it.
pub fn decode_text(bytes: &[u8], content_type: Option<&str>, url: &url::Url) -> String {
    decode::decode(bytes, content_type, url, &mut Vec::new()).into_owned()
}

/// Parses one fetched body into a feed. Total: never panics, on any input.
pub fn parse(
    body: &FetchedBody,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<ParsedFeed, IngestError> {
    if body.bytes.len() > limits.max_body {
        return Err(IngestError::TooLarge {
            size: body.bytes.len(),
            max: limits.max_body,
        });
    }
    // Last line of defence: every stage is written not to panic and feed-rs
    // has its own guard, but a bug here must cost one poll, not the daemon.
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        parse_inner(body, now, limits)
    }))
    .unwrap_or_else(|_| {
        Err(IngestError::Malformed {
            reason: "internal error while parsing (a bug in ingest; please report)".into(),
        })
    })
}

fn parse_inner(
    body: &FetchedBody,
    now: DateTime<Utc>,
    limits: &Limits,
) -> Result<ParsedFeed, IngestError> {
    let mut warnings = Vec::new();
    let text = decode::decode(body.bytes, body.content_type, body.url, &mut warnings);
    let raw = match repair::sniff(&text) {
        repair::Sniffed::Json(start) => {
            if !text[..start]
                .trim_start_matches('\u{FEFF}')
                .trim()
                .is_empty()
            {
                warnings.push(Warning::new(
                    WarningKind::JunkRemoved,
                    format!("{start} bytes of junk before the JSON object were removed"),
                ));
            }
            jsonfeed::parse(&text[start..], &mut warnings)?
        }
        repair::Sniffed::Xml { root, junk } => {
            let repaired = repair::repair(&text, root, junk, &mut warnings)?;
            xmlfeed::parse(&repaired, body.url, &mut warnings)?
        }
        repair::Sniffed::NotAFeed(reason) => return Err(IngestError::NotAFeed { reason }),
    };
    Ok(entry::finish(raw, body.url, now, limits, warnings))
}

#[cfg(test)]
mod warning_tests {
    use super::WarningKind;

    #[test]
    fn a_repair_is_not_logged_as_a_loss() {
        for kind in [
            WarningKind::EncodingGuessed,
            WarningKind::EncodingRepaired,
            WarningKind::EntitiesRepaired,
        ] {
            assert!(!kind.headline().contains("skipped"), "{kind:?}");
        }
        assert!(WarningKind::EntryDropped.headline().contains("skipped"));
    }
}
