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
mod opml;
mod rss;

pub use atom::atom;
pub use json::json;
pub use opml::opml;
pub use rss::rss;

use chrono::{DateTime, SecondsFormat, Utc};

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

/// The entry's title as plain text, never empty.
pub(crate) fn title_of(story: &Story) -> String {
    let title = xml_safe(&story.chosen.item.title).trim().to_owned();
    if title.is_empty() {
        "(untitled)".to_owned()
    } else {
        title
    }
}

/// The entry's HTML: the full text (else the summary), then the "Also
/// reported by" line.
pub(crate) fn content_html(story: &Story) -> String {
    let item = &story.chosen.item;
    let body = item
        .content
        .as_deref()
        .or(item.summary.as_deref())
        .unwrap_or("");
    let mut html = xml_safe(body);
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
            match &c.item.link {
                Some(href) => format!(
                    "<a href=\"{}\">{name}</a>",
                    html_escape::encode_double_quoted_attribute(&xml_safe(href))
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

    #[test]
    fn a_title_of_control_characters_around_a_line_break_is_blank() {
        // Found by the render property test: "\0\r\n\0" rendered as a
        // title of "\r\n", which Atom counts as blank.
        let mut story = fixtures::merged();
        story.chosen.item.title = "\0\r\n\0".into();
        assert_eq!(title_of(&story), "(untitled)");
        let meta = FeedMeta {
            title: "\0\r\n\0".into(),
            ..fixtures::meta()
        };
        assert_eq!(feed_title(&meta), "wiredesk");
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
