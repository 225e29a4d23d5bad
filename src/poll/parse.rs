//! The parse step of a poll: a new body into items ready for the write
//! (through `ingest`, then fingerprinted by [`merge::prepare`]), off the
//! async threads and at most one per core.
//!
//! It also keeps the stored dates of items whose future date was clamped
//! (#14, [`keep_clamped_dates`]): only a parse knows which dates it clamped.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use url::Url;

use super::decide::Feed;
use super::{Poller, fetch, rhythm};
use crate::ingest::{self, FetchedBody, IngestError};
use crate::merge;
use crate::model::{Item, Source, SourceId};
use crate::store::StoredDates;

/// Why a new body gave no items.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The body is not a feed, or one too broken to read.
    #[error(transparent)]
    Feed(#[from] IngestError),
    /// The parse itself failed (it panicked or was cancelled).
    #[error("the parse failed: {0}")]
    Crashed(String),
}

/// A parsed body: its items ready for the write, and what the poll
/// decision needs of it.
pub(super) struct Parsed {
    pub(super) items: Vec<merge::Ready>,
    pub(super) feed: Feed,
    /// Where the feed's older items are (RFC 5005), if it says.
    pub(super) older: Option<Url>,
    /// The hubs and topic its links name (WebSub, #16).
    pub(super) push: crate::model::PushLinks,
}

impl Poller {
    /// Parses a body into items, fingerprinted ready for the store, the
    /// interval the feed asks for, and a note when items were dropped at the
    /// item cap or when there are none. CPU work: it runs on the blocking pool, off the threads
    /// that serve the merged feed.
    pub(super) async fn parse(
        &self,
        source: &Source,
        url: &Url,
        body: fetch::Body,
        now: DateTime<Utc>,
    ) -> Result<Parsed, ParseError> {
        // More parses at once than there are cores would only queue the
        // store's writer behind them on the blocking pool.
        let _core = self.inner.parsing.acquire().await.ok();
        let (poller, source, url) = (self.clone(), source.clone(), url.clone());
        tokio::task::spawn_blocking(move || poller.parse_now(&source, &url, &body, now))
            .await
            .map_err(|e| ParseError::Crashed(e.to_string()))?
    }

    fn parse_now(
        &self,
        source: &Source,
        url: &Url,
        body: &fetch::Body,
        now: DateTime<Utc>,
    ) -> Result<Parsed, ParseError> {
        let mut parsed = ingest::parse(
            &FetchedBody {
                bytes: &body.bytes,
                content_type: body.content_type.as_deref(),
                url,
            },
            now,
            &self.inner.limits,
        )?;
        let stored = self.stored_clamped_dates(&source.id, &parsed);
        keep_clamped_dates(&mut parsed.items, &stored, now);
        log_warnings(&source.id, &parsed.warnings, &stored);
        let feed = Feed {
            items: parsed.items.len(),
            // The feed's own word on how often it changes: RSS <ttl> or
            // sy:updatePeriod/updateFrequency, whichever asks for longer.
            hint: parsed.hints.ttl.max(parsed.hints.update_period),
            note: parsed.why_no_items().or_else(|| {
                parsed
                    .warnings
                    .iter()
                    .find(|w| w.kind == ingest::WarningKind::TooManyItems)
                    .map(|w| format!("items capped: {}", w.detail))
            }),
            window: parsed
                .items
                .iter()
                .map(|item| rhythm::Seen {
                    key: rhythm::key(&item.identity),
                    date: item.published.or(item.updated),
                })
                .collect(),
        };
        let boilerplate = self.inner.merging.learned.of(&source.id);
        // Most items of a feed that changed are the ones stored last time.
        let unchanged = self
            .inner
            .store
            .unchanged_items(
                &source.id,
                &parsed.items,
                crate::dedup::NORMALISATION_VERSION,
            )
            .unwrap_or_else(|e| {
                tracing::debug!(source = %source.id, error = %e, "cannot tell unchanged items");
                Default::default()
            });
        let older = parsed.older.take();
        let push = std::mem::take(&mut parsed.push);
        let items = merge::prepare(&source.id, parsed.items, now, &boilerplate, &unchanged);
        Ok(Parsed {
            items,
            feed,
            older,
            push,
        })
    }

    /// The stored dates of the items of `parsed` that are stored already and
    /// had a date in the future clamped by this parse.
    fn stored_clamped_dates(
        &self,
        source: &SourceId,
        parsed: &ingest::ParsedFeed,
    ) -> HashMap<String, StoredDates> {
        let clamped: BTreeSet<&str> = parsed
            .warnings
            .iter()
            .filter(|w| w.kind == ingest::WarningKind::DateClamped)
            .filter_map(|w| w.identity.as_deref())
            .collect();
        let mut stored = HashMap::new();
        for identity in clamped {
            match self.inner.store.stored_dates(source, identity) {
                Ok(Some(dates)) => {
                    stored.insert(identity.to_owned(), dates);
                }
                Ok(None) => {}
                // Without the stored date the item is clamped again: it
                // moves, and nothing is lost.
                Err(e) => tracing::debug!(source = %source, error = %e, "cannot read stored dates"),
            }
        }
        stored
    }
}

/// Each repair or loss once, as a warning; a clamped date whose stored date
/// was kept only at debug level (it would otherwise be warned of on every
/// poll).
fn log_warnings(
    source: &SourceId,
    warnings: &[ingest::Warning],
    stored: &HashMap<String, StoredDates>,
) {
    for warning in warnings {
        let again = warning.kind == ingest::WarningKind::DateClamped
            && warning
                .identity
                .as_ref()
                .is_some_and(|id| stored.contains_key(id));
        if again {
            tracing::debug!(source = %source, warning = %warning, "stored date kept");
        } else {
            // Said as what it is (#18: an encoding guess was logged as
            // "entry skipped or repaired").
            tracing::warn!(source = %source, kind = ?warning.kind, warning = %warning, "{}", warning.kind.headline());
        }
    }
}

/// A date in the future is clamped to the time of the poll that parses it
/// (`now`, by ingest), and so to the time of the poll that first stores its
/// item. Polled again, the same item would be clamped to a new `now`: it
/// would count as changed on every poll and its date would creep forward
/// for ever. An item already stored keeps the dates stored for it instead
/// (#14). `stored` holds the stored dates of the clamped items.
fn keep_clamped_dates(
    items: &mut [Item],
    stored: &HashMap<String, StoredDates>,
    now: DateTime<Utc>,
) {
    for item in items {
        if let Some(dates) = stored.get(&item.identity) {
            if item.published == Some(now) {
                item.published = dates.published;
            }
            if item.updated == Some(now) {
                item.updated = dates.updated;
            }
        }
    }
}
