//! What the read-only commands print: `sources`, `stories` and `explain`.
//! Each builds its text from the store, so it can be tested without a
//! terminal; `main.rs` only prints it.
//!
//! Feed-supplied text (titles, errors) is printed with control characters
//! escaped: a feed must not be able to move the cursor of whoever reads it.

use chrono::{DateTime, Utc};

use crate::config::{DedupSettings, Settings};
use crate::dedup;
use crate::model::ItemId;
use crate::poll::merge::{StatsFn, fingerprint_candidate};
use crate::store::{Store, StoreError};

/// Why a command could not answer.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no item with id {0} (see `wiredesk stories` for ids)")]
    NoItem(ItemId),
}

/// `wiredesk sources`: one row per source with its poll state.
pub fn sources(settings: &Settings, store: &Store) -> Result<String, CliError> {
    let states = store.source_states()?;
    let configured: Vec<&str> = settings.sources.iter().map(|s| s.id.as_str()).collect();
    let rows: Vec<Vec<String>> = states
        .iter()
        .map(|s| {
            let status = match (configured.contains(&s.id.as_str()), &s.last_status) {
                (false, _) => "removed".to_owned(),
                (true, Some(status)) => status.clone(),
                (true, None) => "new".to_owned(),
            };
            vec![
                s.id.to_string(),
                status,
                s.last_http_status.map_or("-".into(), |c| c.to_string()),
                time(s.last_polled_at),
                time(s.next_poll_at),
                s.consecutive_failures.to_string(),
                s.last_error.as_deref().map_or("-".into(), safe),
            ]
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
            "ERROR",
        ],
        &rows,
    ))
}

/// `wiredesk stories`: the newest `limit` stories, each with its copies;
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
}
