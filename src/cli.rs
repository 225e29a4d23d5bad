//! What the read-only commands print: `sources`, `stories` and `explain`.
//! Each builds its text from the store, so it can be tested without a
//! terminal; `main.rs` only prints it.
//!
//! Feed-supplied text (titles, errors) is printed with control characters
//! escaped: a feed must not be able to move the cursor of whoever reads it.

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

/// `wiredesk import-opml FILE`: `[[sources]]` blocks for the feeds of an
/// OPML file (as feed readers export them), to paste into the config.
///
/// Each outline with an `xmlUrl` becomes a source; its id is made from its
/// title (`a-z`, `0-9`, `-`), unique within the file and against `taken`
/// (the ids already in the config); the titles of the outlines it is nested
/// in (folders) become its tags.
pub fn import_opml(opml: &str, taken: &[&str]) -> Result<String, CliError> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(opml);
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut used: Vec<String> = taken.iter().map(|t| (*t).to_owned()).collect();
    let mut out = String::new();
    let mut saw_opml = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| CliError::BadOpml(format!("at byte {}: {e}", reader.buffer_position())))?;
        let (start, empty) = match &event {
            Event::Start(e) => (Some(e.clone()), false),
            Event::Empty(e) => (Some(e.clone()), true),
            Event::End(e) if e.name().as_ref() == "outline" => {
                folders.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        let Some(element) = start else { continue };
        match element.name().as_ref() {
            "opml" => saw_opml = true,
            "outline" => {
                let mut text = None;
                let mut title = None;
                let mut xml_url = None;
                for attr in element.attributes().flatten() {
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.trim().to_owned())
                        .ok()
                        .filter(|v| !v.is_empty());
                    match attr.key.as_ref() {
                        "text" => text = value,
                        "title" => title = value,
                        "xmlUrl" | "xmlurl" => xml_url = value,
                        _ => {}
                    }
                }
                let name = title.or(text);
                if let Some(url) = xml_url {
                    let name = name.clone().unwrap_or_else(|| url.clone());
                    let id = unique_id(&slug(&name), &mut used);
                    let tags: Vec<&str> = folders.iter().flatten().map(String::as_str).collect();
                    out.push_str(&format!(
                        "[[sources]]\nid = {}\nname = {}\nurl = {}\n",
                        toml_string(&id),
                        toml_string(&name),
                        toml_string(&url)
                    ));
                    if !tags.is_empty() {
                        let tags: Vec<String> = tags.iter().map(|t| toml_string(t)).collect();
                        out.push_str(&format!("tags = [{}]\n", tags.join(", ")));
                    }
                    out.push('\n');
                }
                if !empty {
                    folders.push(name);
                }
            }
            _ => {}
        }
    }
    if !saw_opml {
        return Err(CliError::BadOpml("no <opml> element".into()));
    }
    Ok(out)
}

/// `wiredesk export-opml`: the configured sources as OPML 2.0.
pub fn export_opml(settings: &Settings) -> String {
    crate::serve::render::opml(&settings.server.title, &settings.sources)
}

/// A TOML basic string. JSON's string escapes are a subset of TOML's, so
/// serde_json writes it exactly.
fn toml_string(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// An id from a title: lower case ASCII letters and digits, words joined by
/// `-`; `feed` when nothing is left.
fn slug(title: &str) -> String {
    let mut id = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.ends_with('-') && !id.is_empty() {
            id.push('-');
        }
    }
    let id = id.trim_end_matches('-');
    let id: String = id.chars().take(40).collect();
    let id = id.trim_end_matches('-').to_owned();
    if id.is_empty() { "feed".to_owned() } else { id }
}

/// `base`, or `base-2`, `base-3`... whichever is not in `used` yet.
fn unique_id(base: &str, used: &mut Vec<String>) -> String {
    let mut id = base.to_owned();
    let mut n = 2;
    while used.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    used.push(id.clone());
    id
}

/// `wiredesk sources`: one row per source with its poll state.
pub fn sources(settings: &Settings, store: &Store) -> Result<String, CliError> {
    let states = store.source_states()?;
    let configured: Vec<&str> = settings.sources.iter().map(|s| s.id.as_str()).collect();
    let rows: Vec<Vec<String>> = states
        .iter()
        .map(|s| source_row(s, configured.contains(&s.id.as_str())))
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
            "ERROR",
        ],
        &rows,
    ))
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
    fn an_opml_file_becomes_sources_with_unique_ids_and_folder_tags() {
        let opml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>Reader export</title></head><body>
  <outline text="World">
    <outline type="rss" text="Xinhua | World" xmlUrl="http://www.xinhuanet.com/english/rss/worldrss.xml"/>
    <outline type="rss" text="BBC News &amp; Co" title="BBC News" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
  </outline>
  <outline type="rss" text="BBC News" xmlUrl="https://feeds.bbci.co.uk/news/rss.xml"/>
  <outline text="Just a folder"/>
</body></opml>"#;
        let toml = import_opml(opml, &["xinhua-world"]).unwrap();
        assert_eq!(
            toml,
            "[[sources]]\nid = \"xinhua-world-2\"\nname = \"Xinhua | World\"\n\
             url = \"http://www.xinhuanet.com/english/rss/worldrss.xml\"\ntags = [\"World\"]\n\n\
             [[sources]]\nid = \"bbc-news\"\nname = \"BBC News\"\n\
             url = \"https://feeds.bbci.co.uk/news/world/rss.xml\"\ntags = [\"World\"]\n\n\
             [[sources]]\nid = \"bbc-news-2\"\nname = \"BBC News\"\n\
             url = \"https://feeds.bbci.co.uk/news/rss.xml\"\n\n"
        );
    }

    #[test]
    fn a_file_that_is_not_opml_is_refused() {
        assert!(matches!(
            import_opml("<rss></rss>", &[]),
            Err(CliError::BadOpml(_))
        ));
        assert!(matches!(
            import_opml("<opml><body><outline", &[]),
            Err(CliError::BadOpml(_))
        ));
    }

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
