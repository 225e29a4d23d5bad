//! What the commands print: `sources`, `stories` and `explain` (here),
//! `import-opml` and `discover` (the feeds they find, [`opml`] and
//! [`discover`], become sources in [`new_sources`]), and the manual page
//! ([`manual`]). Each builds its text from data, so it can be tested
//! without a terminal; `main.rs` only prints it.
//!
//! Feed-supplied text (titles, errors) is printed with control characters
//! escaped: a feed must not be able to move the cursor of whoever reads it.

pub mod discover;
pub mod manual;
pub mod new_sources;
pub mod opml;

use chrono::{DateTime, Utc};

use crate::config::{DedupSettings, Settings};
use crate::dedup;
use crate::merge::{StatsFn, fingerprint_candidate};
use crate::model::ItemId;
use crate::store::{SourceState, Store, StoreError};

/// Why a command could not answer.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no item with id {0} (see `wiredesk stories` for ids)")]
    NoItem(ItemId),
    #[error("not an OPML file: {0}")]
    BadOpml(String),
}

/// `wiredesk export-opml`: the configured sources as OPML 2.0, a password
/// in a source's URL shown as `***` (an OPML file is passed around).
pub fn export_opml(settings: &Settings) -> String {
    let sources: Vec<crate::model::Source> = settings
        .sources
        .iter()
        .map(crate::model::Source::shown)
        .collect();
    crate::serve::render::opml(&settings.server.title, &sources)
}

/// `wiredesk sources`: one row per source with its poll state.
pub fn sources(settings: &Settings, store: &Store) -> Result<String, CliError> {
    let states = store.source_states()?;
    let blocked: std::collections::HashMap<_, _> = store.blocked_counts()?.into_iter().collect();
    let subs: std::collections::HashMap<_, _> = store
        .websub_subscriptions()?
        .into_iter()
        .map(|sub| (sub.source.clone(), sub))
        .collect();
    let configured: Vec<&str> = settings.sources.iter().map(|s| s.id.as_str()).collect();
    let rows: Vec<Vec<String>> = states
        .iter()
        .map(|s| {
            let mut row = source_row(s, configured.contains(&s.id.as_str()));
            let held = blocked.get(&s.id).copied().unwrap_or(0);
            row.insert(7, held.to_string());
            row.insert(8, subs.get(&s.id).map_or_else(|| "-".into(), push_cell));
            if settings.disabled_sources.iter().any(|d| d == s.id.as_str()) {
                "disabled".clone_into(&mut row[1]);
            }
            row
        })
        .collect();
    Ok(table(
        &[
            "SOURCE",
            "STATUS",
            "HTTP",
            "LAST POLL (UTC)",
            "NEXT POLL (UTC)",
            "FAILS",
            "GAPS",
            "BLOCKED",
            "PUSH",
            "ERROR",
        ],
        &rows,
    ))
}

/// A source's WebSub subscription (#16) in `wiredesk sources`: its state,
/// the end of its lease, and its pushes (bad signatures apart).
fn push_cell(sub: &crate::store::Subscription) -> String {
    let mut cell = sub.phase.as_str().to_owned();
    if let Some(until) = sub.lease_until {
        cell.push_str(&format!(" until {}", time(Some(until))));
    }
    cell.push_str(&format!(", {} pushes", sub.pushes));
    if let Some(at) = sub.last_push_at {
        cell.push_str(&format!(" (last {})", time(Some(at))));
    }
    if sub.bad_signatures > 0 {
        cell.push_str(&format!(", {} badly signed", sub.bad_signatures));
    }
    cell
}

/// One row of `wiredesk sources`. The status is in words, as `poll`
/// prints it (`not modified`, where the store and `/sources.json` keep the
/// key `not_modified`).
fn source_row(s: &SourceState, configured: bool) -> Vec<String> {
    vec![
        s.id.to_string(),
        s.shown_status(configured).replace('_', " "),
        s.last_http_status.map_or("-".into(), |c| c.to_string()),
        time(s.last_polled_at),
        time(s.next_poll_at),
        s.consecutive_failures.to_string(),
        match s.last_gap_at {
            Some(at) => format!("{} (last {})", s.gaps, time(Some(at))),
            None => s.gaps.to_string(),
        },
        s.last_error.as_deref().map_or("-".into(), safe),
    ]
}

/// `wiredesk stories`: the `limit` stories that arrived last, newest
/// first (the merged feed's order), each with its copies;
/// the copy shown in the merged feed is marked `*`.
pub fn stories(store: &Store, limit: usize) -> Result<String, CliError> {
    let mut out = String::new();
    for story in store.latest_stories(limit)? {
        out.push_str(&format!(
            "story {}  {}  {}\n",
            story.id,
            story.chosen.date().format("%Y-%m-%d %H:%M"),
            safe(&story.chosen.item.title)
        ));
        for (n, copy) in story.copies().enumerate() {
            out.push_str(&format!(
                "  {} item {:<6} {:<20} {}\n",
                if n == 0 { "*" } else { " " },
                copy.id,
                copy.source_id.as_str(),
                safe(&copy.item.title)
            ));
        }
    }
    if out.is_empty() {
        out.push_str("no stories yet: run `wiredesk poll` first\n");
    }
    Ok(out)
}

/// `wiredesk explain A B`: the dedup scores of two stored items and the rule
/// that merges or separates them, with today's boilerplate knowledge.
pub fn explain(
    store: &Store,
    dedup_settings: &DedupSettings,
    a: ItemId,
    b: ItemId,
) -> Result<String, CliError> {
    let item_a = store.dedup_item(a)?.ok_or(CliError::NoItem(a))?;
    let item_b = store.dedup_item(b)?.ok_or(CliError::NoItem(b))?;
    let stats =
        StatsFn(|source: &str, hash: u64| store.boilerplate_count(source, hash).unwrap_or(0));
    let fa = fingerprint_candidate(&item_a, &stats);
    let fb = fingerprint_candidate(&item_b, &stats);
    let verdict = dedup::explain(&fa, &fb, &dedup_settings.thresholds);
    let mut out = String::new();
    for c in [&item_a, &item_b] {
        out.push_str(&format!(
            "item {} ({}, story {}): {}\n",
            c.item_id,
            c.source_id.as_str(),
            c.story_id,
            safe(&c.title)
        ));
    }
    out.push_str(&format!("{verdict}\n"));
    out.push_str(&format!(
        "stored in {}\n",
        if item_a.story_id == item_b.story_id {
            "the same story"
        } else {
            "different stories"
        }
    ));
    if !dedup_settings.enabled {
        out.push_str("([dedup] enabled = false: new items are not merged)\n");
    }
    Ok(out)
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "-".into())
}

/// Feed text, with control characters escaped for the terminal.
fn safe(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Left-aligned columns two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect::<Vec<_>>()
            .join("  ");
        text.truncate(text.trim_end().len());
        text.push('\n');
        text
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_from_feeds_are_escaped() {
        assert_eq!(safe("Title\u{1b}[2J\nnext"), "Title\\u{1b}[2J\\nnext");
    }

    #[test]
    fn a_table_aligns_its_columns() {
        let t = table(
            &["A", "BB"],
            &[
                vec!["long".into(), "x".into()],
                vec!["s".into(), "y".into()],
            ],
        );
        assert_eq!(t, "A     BB\nlong  x\ns     y\n");
    }

    /// Issue #18: `sources` said `not_modified` where `poll` says `not modified`.
    #[test]
    fn a_source_row_says_its_status_in_words() {
        let source = crate::model::Source {
            id: crate::model::SourceId::new("agency"),
            name: "Agency".into(),
            url: url::Url::parse("https://agency.example/feed").unwrap(),
            interval: std::time::Duration::from_secs(600),
            priority: 0,
            fixed_interval: false,
            headers: Default::default(),
            rules: Default::default(),
            websub: true,
            tags: vec![],
        };
        let state = SourceState {
            last_status: Some("not_modified".into()),
            last_http_status: Some(304),
            ..SourceState::blank(&source)
        };
        let row = source_row(&state, true);
        assert_eq!(row[..3], ["agency", "not modified", "304"]);
        assert_eq!(source_row(&state, false)[1], "removed");
    }
}
