//! Rendering the merged feed: stories in, document out. Pure: the clock is
//! passed in, nothing is read.
//!
//! Each story is one entry in every format ([`atom()`], [`rss()`],
//! [`json()`]). Its id is the story's stable URN, so a reader never shows a
//! story twice, whichever copy is shown. The entry shows the chosen copy and
//! names every copy: Atom in `atom:source` and `link rel="related"`, RSS in
//! `source` and the content, JSON Feed in a `_wiredesk` extension; all three
//! end the content with an "Also reported by" line.
//!
//! Documents are built with well-kept writers (`atom_syndication`, `rss`,
//! `serde_json`), so escaping is right by construction; [`xml_safe`] removes
//! the characters no escaping can make legal in XML.

mod atom;
mod json;
mod links;
mod opml;
mod rss;

pub use atom::atom;
pub use json::json;
pub use opml::opml;
pub use rss::rss;

use chrono::{DateTime, SecondsFormat, SubsecRound, TimeDelta, Utc};
use sha2::{Digest, Sha256};

pub(crate) use links::{enclosure_length, enclosure_type, served_link};

use crate::dedup::html_to_blocks;
use crate::model::{StoredItem, Story, story_uid};

/// What the entries of a document are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Entries {
    /// One entry per story (the merged feed).
    Stories,
    /// One entry per item, unmerged (`copies=all`).
    Copies,
}

/// What the document says about itself.
#[derive(Debug, Clone)]
pub struct FeedMeta {
    pub title: String,
    /// This document's own URL (`rel="self"`); also the feed's id.
    pub self_url: String,
    /// The server's address (`rel="alternate"`).
    pub home_url: String,
    /// The next page, if there is one.
    pub next_url: Option<String>,
    pub entries: Entries,
    /// The WebSub hub to subscribe at for this document's updates
    /// (`rel="hub"`, #16), when one is advertised.
    pub hub_url: Option<String>,
}

/// The entry id: the story's URN, or with [`Entries::Copies`] the item's
/// (derived from its source and identity, so it survives a rebuilt database).
pub(crate) fn entry_id(story: &Story, entries: Entries) -> String {
    match entries {
        Entries::Stories => story_urn(story),
        Entries::Copies => format!(
            "urn:wiredesk:item:{}",
            story_uid(&story.chosen.source_id, &story.chosen.item.identity)
        ),
    }
}

/// The stable URN of a story.
pub(crate) fn story_urn(story: &Story) -> String {
    format!("urn:wiredesk:story:{}", story.uid)
}

/// The entry's `updated`: the latest date its copies carry (a copy's own
/// `updated`, else its publication date), never before the date the entry
/// is published with. It moves when a source updates a copy or a copy with
/// a later date joins the story. It is not the time the story changed here:
/// a poll stores many stories in one second, and the feed validator warns
/// about entries that share an `updated`.
pub(crate) fn entry_updated(story: &Story) -> DateTime<Utc> {
    story
        .copies()
        .map(|c| c.item.updated.unwrap_or_else(|| c.date()))
        .fold(story.chosen.date(), DateTime::max)
}

/// The Atom entry's `updated`: [`entry_updated`] within its second, at a
/// fraction of it drawn from the entry's id. Publishers date to the second
/// and send many items in one second; the feed validator warns about two
/// entries with the same `updated` (readers key on it, issue #18). The
/// fraction is the same on every page and every request, so the value
/// moves only when [`entry_updated`] does.
pub(crate) fn atom_entry_updated(story: &Story, entries: Entries) -> DateTime<Utc> {
    let digest = Sha256::digest(entry_id(story, entries).as_bytes());
    let micros = digest
        .iter()
        .take(4)
        .fold(0_i64, |n, &b| (n << 8) | i64::from(b))
        % 1_000_000;
    entry_updated(story).trunc_subsecs(0) + TimeDelta::microseconds(micros)
}

/// The document's `updated`: the last change here of any entry on it (a
/// story arriving, a copy joining one, a source changing one:
/// [`Story::changed`]), else `now`. It moves whenever the page's content
/// does, even when a story arrives with an old date.
pub(crate) fn feed_updated(stories: &[Story], now: DateTime<Utc>) -> DateTime<Utc> {
    stories
        .iter()
        .map(|s| s.changed().max(entry_updated(s)))
        .max()
        .unwrap_or(now)
}

/// The document's title as plain text, never blank (a title of nothing
/// but characters XML cannot carry is possible in a config).
pub(crate) fn feed_title(meta: &FeedMeta) -> String {
    // Characters XML cannot carry go first: what is left may be blank.
    let title = xml_safe(&meta.title).trim().to_owned();
    if title.is_empty() {
        "wiredesk".to_owned()
    } else {
        title
    }
}

/// The entry's title as plain text, never blank: the item's own, else the
/// first words of its text, else its link (without the scheme), else its
/// source's name and date (issue #18: "(untitled)" told a reader nothing).
pub(crate) fn title_of(story: &Story) -> String {
    let chosen = &story.chosen;
    let item = &chosen.item;
    let title = xml_safe(&item.title).trim().to_owned();
    if !title.is_empty() {
        return title;
    }
    let text = item.content.as_deref().or(item.summary.as_deref());
    if let Some(words) = text.and_then(first_words) {
        return words;
    }
    if let Some(link) = item.link.as_deref().and_then(served_link) {
        let bare = link
            .split_once("://")
            .map_or(link.as_str(), |(_, rest)| rest);
        return bare.trim_end_matches('/').to_owned();
    }
    let name = xml_safe(&chosen.source_name).trim().to_owned();
    let name = if name.is_empty() {
        chosen.source_id.to_string()
    } else {
        name
    };
    format!("{name}, {}", chosen.date().format("%-d %b %Y %H:%M UTC"))
}

/// The entry's link: the item's own as served ([`served_link`]), else the
/// desk's page, where the story is listed. Every client wants a link to
/// open (feedparser, reader and newsboat list an entry without one with a
/// blank link, issue #18), and a linkless item, or one whose link was a
/// local path, has nowhere else to be read.
pub(crate) fn entry_link(meta: &FeedMeta, story: &Story) -> String {
    (story.chosen.item.link.as_deref())
        .and_then(served_link)
        .unwrap_or_else(|| xml_safe(&meta.home_url))
}

/// The most words a title made from an item's text has.
const TITLE_WORDS: usize = 12;

/// The first [`TITLE_WORDS`] words of an HTML text, with "…" when there is
/// more; `None` for a text with no words.
fn first_words(html: &str) -> Option<String> {
    let text = xml_safe(&html_to_blocks(html).join(" "));
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let mut title = words[..words.len().min(TITLE_WORDS)].join(" ");
    if words.len() > TITLE_WORDS {
        title.push('…');
    }
    Some(title)
}

/// The entry's HTML, never blank: the full text (else the summary), else
/// the title (linked to the item when it has a link), then the "Also
/// reported by" line. Every client shows it as the entry's body, and the
/// feed validator warns about an Atom entry without one (issue #18).
pub(crate) fn content_html(story: &Story) -> String {
    let item = &story.chosen.item;
    let body = item
        .content
        .as_deref()
        .or(item.summary.as_deref())
        .unwrap_or("");
    let mut html = xml_safe(body);
    if html.trim().is_empty() {
        let title = html_escape::encode_text(&title_of(story)).into_owned();
        html = match item.link.as_deref().and_then(served_link) {
            Some(href) => format!(
                "<p><a href=\"{}\">{title}</a></p>",
                html_escape::encode_double_quoted_attribute(&href)
            ),
            None => format!("<p>{title}</p>"),
        };
    }
    if let Some(also) = also_reported_by(&story.others) {
        html.push_str(&also);
    }
    html
}

/// The summary, when the entry has both a summary and a full text.
pub(crate) fn summary_html(story: &Story) -> Option<String> {
    let item = &story.chosen.item;
    match (&item.content, &item.summary) {
        (Some(_), Some(summary)) => Some(xml_safe(summary)),
        _ => None,
    }
}

/// The entry's categories: the chosen copy's source tags, then its own
/// categories, without repeats.
pub(crate) fn categories_of(story: &Story) -> Vec<String> {
    let chosen = &story.chosen;
    let mut out: Vec<String> = Vec::new();
    for term in chosen.source_tags.iter().chain(&chosen.item.categories) {
        let term = xml_safe(term.trim());
        if !term.is_empty() && !out.contains(&term) {
            out.push(term);
        }
    }
    out
}

/// An item's author as stored: a name, or RSS's `email (Name)` form.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Author {
    pub name: String,
    pub email: Option<String>,
}

/// Splits an author (made XML-safe) into its name and e-mail address: RSS's
/// `email (Name)`, a bare address (which is then the name too), else a name.
pub(crate) fn author_parts(author: &str) -> Author {
    let author = xml_safe(author.trim());
    let is_email = |s: &str| {
        s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.contains('@')
                && !s
                    .chars()
                    .any(|c| c.is_whitespace() || "()<>,;\"".contains(c))
        })
    };
    if let Some((email, rest)) = author.split_once(" (")
        && let Some(name) = rest.strip_suffix(')')
        && is_email(email)
        && !name.trim().is_empty()
        && !name.contains(['(', ')'])
    {
        return Author {
            name: name.trim().to_owned(),
            email: Some(email.to_owned()),
        };
    }
    Author {
        email: is_email(&author).then(|| author.clone()),
        name: author,
    }
}

/// The closing line naming the other copies, as HTML; `None` without any.
pub(crate) fn also_reported_by(others: &[StoredItem]) -> Option<String> {
    if others.is_empty() {
        return None;
    }
    let names: Vec<String> = others
        .iter()
        .map(|c| {
            let name = html_escape::encode_text(&xml_safe(&c.source_name)).into_owned();
            match c.item.link.as_deref().and_then(served_link) {
                Some(href) => format!(
                    "<a href=\"{}\">{name}</a>",
                    html_escape::encode_double_quoted_attribute(&href)
                ),
                None => name,
            }
        })
        .collect();
    Some(format!("<p>Also reported by: {}</p>", names.join(", ")))
}

/// RFC 3339 with whole seconds and `Z`, as JSON Feed and `since=` use.
pub(crate) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Text with the characters XML 1.0 forbids removed (control characters
/// other than tab and newlines, U+FFFE, U+FFFF): escaping cannot make them
/// legal, and one would make the whole document unreadable to a reader.
/// (`]]>` needs no care here: the writers escape text, and split it inside
/// CDATA sections.)
pub fn xml_safe(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    /// #16: a subscriber finds the hub in the document itself.
    #[test]
    fn every_format_names_the_hub_and_itself_when_a_hub_is_advertised() {
        let meta = FeedMeta {
            hub_url: Some("https://desk.example/websub/hub".into()),
            ..fixtures::meta()
        };
        let now = Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap();
        let stories = [fixtures::merged()];
        for xml in [atom(&meta, &stories, now), rss(&meta, &stories, now)] {
            let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
            let rel = |rel: &str| {
                feed.links
                    .iter()
                    .find(|l| l.rel.as_deref() == Some(rel))
                    .map(|l| l.href.clone())
            };
            assert_eq!(
                rel("hub").as_deref(),
                Some("https://desk.example/websub/hub"),
                "{xml}"
            );
            assert_eq!(
                rel("self").as_deref(),
                Some(meta.self_url.as_str()),
                "{xml}"
            );
        }
        let doc: serde_json::Value = serde_json::from_str(&json(&meta, &stories, now)).unwrap();
        assert_eq!(
            doc["hubs"],
            serde_json::json!([{"type": "WebSub", "url": "https://desk.example/websub/hub"}])
        );
        // Without a hub, none is named.
        let plain = atom(&fixtures::meta(), &stories, now);
        assert!(!plain.contains("rel=\"hub\""), "{plain}");
        assert!(!json(&fixtures::meta(), &stories, now).contains("hubs"));
    }

    #[test]
    fn a_title_of_control_characters_around_a_line_break_is_blank() {
        // Found by the render property test: "\0\r\n\0" rendered as a
        // title of "\r\n", which Atom counts as blank.
        let mut story = fixtures::merged();
        story.chosen.item.title = "\0\r\n\0".into();
        story.chosen.item.content = None;
        story.chosen.item.link = None;
        assert_eq!(title_of(&story), "agency & Co, 1 Nov 2026 08:00 UTC");
        let meta = FeedMeta {
            title: "\0\r\n\0".into(),
            ..fixtures::meta()
        };
        assert_eq!(feed_title(&meta), "wiredesk");
    }

    /// Issue #18: an item with no title was served as "(untitled)".
    #[test]
    fn an_item_without_a_title_is_titled_by_its_first_words_else_its_link() {
        let mut story = fixtures::merged();
        story.chosen.item.title = " ".into();
        story.chosen.item.content = Some(
            "<p>Ferry services across the <b>Baltic</b> resume on Monday \
             morning after the storm, the operator said.</p>"
                .into(),
        );
        assert_eq!(
            title_of(&story),
            "Ferry services across the Baltic resume on Monday morning after the storm,…"
        );
        story.chosen.item.content = Some("<p>Short &amp; sweet.</p>".into());
        assert_eq!(title_of(&story), "Short & sweet.");
        story.chosen.item.content = Some("<p> </p>".into());
        story.chosen.item.summary = None;
        story.chosen.item.link = Some("https://a.example/briefs/4/?utm_source=x".into());
        assert_eq!(title_of(&story), "a.example/briefs/4");
        // A local path is no title either.
        story.chosen.item.link = Some("file:///srv/feeds/briefs/4".into());
        assert_eq!(title_of(&story), "agency & Co, 1 Nov 2026 08:00 UTC");
    }

    /// Issue #18: the validator warns about an Atom entry without text, and
    /// feedparser, reader and newsboat show an empty entry.
    #[test]
    fn an_entry_without_text_says_its_title_linked_to_the_item() {
        let mut story = fixtures::merged();
        story.chosen.item.content = Some("  ".into());
        story.chosen.item.link = Some("https://a.example/1?fbclid=x&a=1&b=2".into());
        assert!(
            content_html(&story).starts_with(
                "<p><a href=\"https://a.example/1?a=1&amp;b=2\">Talks</a></p><p>Also reported by"
            ),
            "{}",
            content_html(&story)
        );
        story.chosen.item.link = None;
        story.chosen.item.title = "A < B".into();
        story.others.clear();
        assert_eq!(content_html(&story), "<p>A &lt; B</p>");
    }

    /// Issue #18: items of one poll share a second, and the validator warns
    /// about entries with the same `updated`.
    #[test]
    fn entries_of_the_same_second_have_distinct_atom_updated_within_it() {
        let at = Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, 0).unwrap();
        let stories: Vec<Story> = (0..50)
            .map(|n| {
                let mut c = fixtures::copy(n, "agency", "Talks", 0);
                c.item.published = Some(at);
                Story::from_copies(n, format!("u{n}"), at, vec![c]).unwrap()
            })
            .collect();
        let mut seen = std::collections::HashSet::new();
        for story in &stories {
            let updated = atom_entry_updated(story, Entries::Stories);
            assert_eq!(updated.trunc_subsecs(0), at);
            assert!(seen.insert(updated), "{updated}");
            // The same on every request.
            assert_eq!(atom_entry_updated(story, Entries::Stories), updated);
        }
    }

    #[test]
    fn an_author_is_split_into_name_and_address_in_rss_form_only() {
        let parts = |a: &str| {
            let Author { name, email } = author_parts(a);
            (name, email)
        };
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(
            parts(" english@news.cn (Xinhua) "),
            ("Xinhua".into(), some("english@news.cn"))
        );
        assert_eq!(parts("a@b.org"), ("a@b.org".into(), some("a@b.org")));
        assert_eq!(parts("Ana Díaz"), ("Ana Díaz".into(), None));
        assert_eq!(parts("Ana (AFP)"), ("Ana (AFP)".into(), None));
        assert_eq!(parts("a@b (X)"), ("a@b (X)".into(), None));
        assert_eq!(
            parts("a@b.org (A), c@d.org (C)"),
            ("a@b.org (A), c@d.org (C)".into(), None)
        );
        assert_eq!(parts("a@b.org ()"), ("a@b.org ()".into(), None));
    }
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Stories for the renderers' unit tests.
    use super::*;
    use crate::model::{Item, SourceId};
    use chrono::TimeZone;

    pub fn copy(id: i64, source: &str, title: &str, priority: i64) -> StoredItem {
        StoredItem {
            id,
            source_id: SourceId::new(source),
            source_name: format!("{source} & Co"),
            source_url: format!("https://{source}.example/feed"),
            source_priority: priority,
            source_tags: vec!["world".into()],
            item: Item {
                identity: format!("{source}-{id}"),
                title: title.into(),
                link: Some(format!("https://{source}.example/{id}?a=1&b=2")),
                published: Some(Utc.with_ymd_and_hms(2026, 11, 1, 8, 0, id as u32).unwrap()),
                updated: None,
                author: None,
                summary: None,
                content: Some("<p>Body</p>".into()),
                categories: vec![],
                enclosures: vec![],
            },
            first_seen: Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap(),
            changed_at: Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap(),
        }
    }

    pub fn meta() -> FeedMeta {
        FeedMeta {
            title: "wiredesk".into(),
            self_url: "http://127.0.0.1:8080/feed.atom".into(),
            home_url: "http://127.0.0.1:8080/".into(),
            next_url: None,
            entries: Entries::Stories,
            hub_url: None,
        }
    }

    pub fn merged() -> Story {
        Story::from_copies(
            7,
            "abc".into(),
            Utc.with_ymd_and_hms(2026, 11, 1, 9, 0, 0).unwrap(),
            vec![copy(1, "agency", "Talks", 0), copy(2, "outlet", "Talks", 0)],
        )
        .unwrap()
    }
}
