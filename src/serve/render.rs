//! Rendering the merged feed: stories in, document out. Pure: the clock is
//! passed in, nothing is read.
//!
//! Each story is one entry. Its id is the story's stable URN, so a reader
//! never shows a story twice, whichever copy is shown. The entry shows the
//! chosen copy and names every copy: the chosen one in `atom:source`
//! (RFC 4287 §4.2.11), the others as `link rel="related"` with the source
//! name as title, and in an "Also reported by" line at the end of the
//! content.

use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text,
};
use chrono::{DateTime, Utc};

use crate::model::{StoredItem, Story};

/// What the feed says about itself.
#[derive(Debug, Clone)]
pub struct FeedMeta {
    pub title: String,
    /// The feed's own URL (`rel="self"`); also its id.
    pub self_url: String,
    /// The server's address (`rel="alternate"`).
    pub home_url: String,
}

/// The Atom 1.0 document for `stories` (newest first).
pub fn atom(meta: &FeedMeta, stories: &[Story], now: DateTime<Utc>) -> String {
    let updated = stories
        .iter()
        .map(entry_updated)
        .max()
        .unwrap_or(now)
        .fixed_offset();
    let feed = Feed {
        title: Text::plain(xml_safe(&meta.title)),
        id: meta.self_url.clone(),
        updated,
        generator: Some(Generator {
            value: "wiredesk".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        links: vec![
            link(&meta.self_url, "self", Some("application/atom+xml"), None),
            link(&meta.home_url, "alternate", None, None),
        ],
        entries: stories.iter().map(entry).collect(),
        ..Feed::default()
    };
    feed.to_string()
}

/// The entry's `updated`: the latest change among its copies.
fn entry_updated(story: &Story) -> DateTime<Utc> {
    story
        .copies()
        .map(|c| c.item.updated.unwrap_or_else(|| c.date()))
        .max()
        .unwrap_or_else(|| story.chosen.date())
}

fn entry(story: &Story) -> Entry {
    let chosen = &story.chosen;
    let item = &chosen.item;
    let mut links = Vec::new();
    if let Some(href) = &item.link {
        links.push(link(href, "alternate", Some("text/html"), None));
    }
    for other in &story.others {
        if let Some(href) = &other.item.link {
            links.push(link(
                href,
                "related",
                Some("text/html"),
                Some(&other.source_name),
            ));
        }
    }
    for enclosure in &item.enclosures {
        links.push(Link {
            href: xml_safe(&enclosure.url),
            rel: "enclosure".into(),
            mime_type: enclosure.mime_type.as_deref().map(xml_safe),
            length: enclosure.length.map(|l| l.to_string()),
            ..Link::default()
        });
    }
    let title = if item.title.trim().is_empty() {
        "(untitled)".to_owned()
    } else {
        xml_safe(&item.title)
    };
    let body = item
        .content
        .as_deref()
        .or(item.summary.as_deref())
        .unwrap_or("");
    let mut html = xml_safe(body);
    if let Some(also) = also_reported_by(&story.others) {
        html.push_str(&also);
    }
    let summary = match (&item.content, &item.summary) {
        (Some(_), Some(summary)) => Some(Text::html(xml_safe(summary))),
        _ => None,
    };
    Entry {
        title: Text::plain(title),
        id: format!("urn:wiredesk:story:{}", story.uid),
        updated: entry_updated(story).fixed_offset(),
        published: Some(chosen.date().fixed_offset()),
        authors: item
            .author
            .iter()
            .map(|name| Person {
                name: xml_safe(name),
                ..Person::default()
            })
            .collect(),
        categories: chosen
            .source_tags
            .iter()
            .chain(item.categories.iter())
            .map(|term| Category {
                term: xml_safe(term),
                ..Category::default()
            })
            .collect(),
        links,
        source: Some(source_of(chosen)),
        summary,
        content: Some(Content {
            value: Some(html),
            content_type: Some("html".into()),
            ..Content::default()
        }),
        ..Entry::default()
    }
}

/// The `atom:source` of a copy: the feed it came from.
fn source_of(copy: &StoredItem) -> atom_syndication::Source {
    atom_syndication::Source {
        title: Text::plain(xml_safe(&copy.source_name)),
        id: xml_safe(&copy.source_url),
        updated: FixedDateTime::from(copy.first_seen.fixed_offset()),
        links: vec![link(&copy.source_url, "self", None, None)],
        ..atom_syndication::Source::default()
    }
}

/// The closing line naming the other copies, as HTML; `None` without any.
fn also_reported_by(others: &[StoredItem]) -> Option<String> {
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

fn link(href: &str, rel: &str, mime_type: Option<&str>, title: Option<&str>) -> Link {
    Link {
        href: xml_safe(href),
        rel: rel.into(),
        mime_type: mime_type.map(str::to_owned),
        title: title.map(xml_safe),
        ..Link::default()
    }
}

/// Text with the characters XML 1.0 forbids removed (control characters
/// other than tab and newlines, U+FFFE, U+FFFF): escaping cannot make them
/// legal, and one would make the whole document unreadable to a reader.
fn xml_safe(text: &str) -> String {
    text.chars()
        .filter(|&c| {
            matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{FFFE}' && c != '\u{FFFF}')
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Item, SourceId};
    use chrono::TimeZone;

    fn copy(id: i64, source: &str, title: &str, priority: i64) -> StoredItem {
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
        }
    }

    fn meta() -> FeedMeta {
        FeedMeta {
            title: "wiredesk".into(),
            self_url: "http://127.0.0.1:8080/feed.atom".into(),
            home_url: "http://127.0.0.1:8080/".into(),
        }
    }

    #[test]
    fn a_story_is_one_entry_naming_every_copy() {
        let story = Story::from_copies(
            7,
            "abc".into(),
            vec![copy(1, "agency", "Talks", 0), copy(2, "outlet", "Talks", 0)],
        )
        .unwrap();
        let xml = atom(&meta(), &[story], Utc::now());
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        assert_eq!(feed.entries.len(), 1);
        let entry = &feed.entries[0];
        assert_eq!(entry.id, "urn:wiredesk:story:abc");
        assert_eq!(entry.links[0].href, "https://agency.example/1?a=1&b=2");
        assert_eq!(entry.links[1].rel.as_deref(), Some("related"));
        assert_eq!(entry.links[1].title.as_deref(), Some("outlet & Co"));
        let content = entry.content.as_ref().unwrap().body.as_deref().unwrap();
        assert!(content.contains("Also reported by"), "{content}");
        assert!(xml.contains("<source>"), "{xml}");
    }

    #[test]
    fn control_characters_never_reach_the_document() {
        let mut c = copy(1, "agency", "Bad\u{0}title\u{1b}[31m", 0);
        c.item.content = Some("<p>x\u{8}y</p>".into());
        let story = Story::from_copies(1, "u".into(), vec![c]).unwrap();
        let xml = atom(&meta(), &[story], Utc::now());
        assert!(
            !xml.chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
        );
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        assert_eq!(
            feed.entries[0].title.as_ref().unwrap().content,
            "Badtitle[31m"
        );
    }
}
