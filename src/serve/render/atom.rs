//! Atom 1.0 (RFC 4287), written with `atom_syndication`.
//!
//! The chosen copy is named in `atom:source` (RFC 4287 §4.2.11), the others
//! as `link rel="related"` titled with their source's name.
//!
//! Every entry is valid on its own (issue #18, the W3C validator's rules):
//! it has an author — the item's, else its source's name, as a publisher is
//! the author of what it publishes unsigned (RFC 4287 §4.1.2 wants one per
//! entry unless the feed names one, and a merged feed has no single author)
//! — and its content is never blank: an entry with no text has none when its
//! `link rel="alternate"` stands in for it (§4.1.1), else its title as text.

use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text,
};
use chrono::{DateTime, Utc};

use super::{
    Author, FeedMeta, author_parts, categories_of, content_html, entry_id, entry_updated,
    feed_title, feed_updated, summary_html, title_of, xml_safe,
};
use crate::model::{StoredItem, Story};

/// The Atom 1.0 document for `stories` (newest-arrived first).
pub fn atom(meta: &FeedMeta, stories: &[Story], now: DateTime<Utc>) -> String {
    let mut links = vec![
        link(&meta.self_url, "self", Some("application/atom+xml"), None),
        link(&meta.home_url, "alternate", None, None),
    ];
    if let Some(next) = &meta.next_url {
        links.push(link(next, "next", Some("application/atom+xml"), None));
    }
    let feed = Feed {
        title: Text::plain(feed_title(meta)),
        id: xml_safe(&meta.self_url),
        updated: feed_updated(stories, now).fixed_offset(),
        generator: Some(Generator {
            value: "wiredesk".into(),
            uri: None,
            version: Some(env!("CARGO_PKG_VERSION").into()),
        }),
        links,
        entries: stories.iter().map(|s| entry(meta, s)).collect(),
        ..Feed::default()
    };
    feed.to_string()
}

fn entry(meta: &FeedMeta, story: &Story) -> Entry {
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
    Entry {
        title: Text::plain(title_of(story)),
        id: entry_id(story, meta.entries),
        updated: entry_updated(story).fixed_offset(),
        published: Some(chosen.date().fixed_offset()),
        authors: vec![author_of(chosen)],
        categories: categories_of(story)
            .into_iter()
            .map(|term| Category {
                term,
                ..Category::default()
            })
            .collect(),
        links,
        source: Some(source_of(chosen)),
        summary: summary_html(story).map(Text::html),
        content: content_of(story),
        ..Entry::default()
    }
}

/// The entry's author: the item's own (name and address), else its
/// source's name (then id: a name may be nothing but characters XML cannot
/// carry).
fn author_of(copy: &StoredItem) -> Person {
    let Author { name, email } = [
        copy.item.author.as_deref().unwrap_or(""),
        &copy.source_name,
        copy.source_id.as_str(),
    ]
    .into_iter()
    .map(author_parts)
    .find(|a| !a.name.is_empty())
    .unwrap_or(Author {
        name: String::new(),
        email: None,
    });
    Person {
        name,
        email,
        ..Person::default()
    }
}

/// The entry's content; never blank. Without text, none when the entry
/// links to the item, else the title as plain text.
fn content_of(story: &Story) -> Option<Content> {
    let html = content_html(story);
    let (value, content_type) = if !html.trim().is_empty() {
        (html, "html")
    } else if (story.chosen.item.link.as_deref()).is_some_and(|l| !xml_safe(l).trim().is_empty()) {
        return None;
    } else {
        (title_of(story), "text")
    };
    Some(Content {
        value: Some(value),
        content_type: Some(content_type.into()),
        ..Content::default()
    })
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

fn link(href: &str, rel: &str, mime_type: Option<&str>, title: Option<&str>) -> Link {
    Link {
        href: xml_safe(href),
        rel: rel.into(),
        mime_type: mime_type.map(str::to_owned),
        title: title.map(xml_safe),
        ..Link::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{copy, merged, meta};
    use super::super::{Entries, FeedMeta};
    use super::*;

    #[test]
    fn a_story_is_one_entry_naming_every_copy() {
        let xml = atom(&meta(), &[merged()], Utc::now());
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
        let story = Story::from_copies(1, "u".into(), Utc::now(), vec![c]).unwrap();
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

    #[test]
    fn a_next_page_is_linked_and_copies_have_item_ids() {
        let meta = FeedMeta {
            next_url: Some("http://h/feed.atom?cursor=x".into()),
            entries: Entries::Copies,
            ..meta()
        };
        let xml = atom(&meta, &[merged()], Utc::now());
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        let next = feed.links.iter().find(|l| l.rel.as_deref() == Some("next"));
        assert_eq!(next.unwrap().href, "http://h/feed.atom?cursor=x");
        assert!(feed.entries[0].id.starts_with("urn:wiredesk:item:"));
    }

    /// Issue #18: the W3C validator's "Missing entry element: author".
    #[test]
    fn an_entry_without_an_author_is_credited_to_its_source() {
        let mut signed = copy(1, "agency", "Talks", 0);
        signed.item.author = Some("Ana Díaz".into());
        let mut blank = copy(2, "outlet", "Vote", 0);
        blank.item.author = Some("  ".into());
        let stories = [
            Story::from_copies(1, "a".into(), Utc::now(), vec![signed]).unwrap(),
            Story::from_copies(2, "b".into(), Utc::now(), vec![blank]).unwrap(),
            merged(),
        ];
        let xml = atom(&meta(), &stories, Utc::now());
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        let authors: Vec<_> = feed
            .entries
            .iter()
            .map(|e| e.authors[0].name.as_deref().unwrap_or(""))
            .collect();
        assert_eq!(authors, ["Ana Díaz", "outlet & Co", "agency & Co"]);
    }

    /// Issue #18: the W3C validator's "content should not be blank".
    #[test]
    fn an_entry_without_text_has_no_blank_content() {
        let mut linked = copy(1, "agency", "Photo of the day", 0);
        linked.item.content = None;
        let mut bare = copy(2, "outlet", "Short note", 0);
        bare.item.content = Some(" ".into());
        bare.item.link = None;
        let stories = [
            Story::from_copies(1, "a".into(), Utc::now(), vec![linked]).unwrap(),
            Story::from_copies(2, "b".into(), Utc::now(), vec![bare]).unwrap(),
        ];
        let xml = atom(&meta(), &stories, Utc::now());
        assert!(!xml.contains("<content type=\"html\"></content>"), "{xml}");
        assert!(!xml.contains("<content type=\"html\"/>"), "{xml}");
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        // The first has its alternate link instead (RFC 4287 §4.1.1).
        assert!(feed.entries[0].content.is_none(), "{xml}");
        assert_eq!(feed.entries[0].links[0].rel.as_deref(), Some("alternate"));
        // The second has neither text nor link: its title stands in.
        assert!(
            xml.contains("<content type=\"text\">Short note</content>"),
            "{xml}"
        );
    }

    /// Issue #18: RSS's `email (Name)` keeps both, each in its element.
    #[test]
    fn an_author_with_an_address_is_split_into_name_and_email() {
        let mut c = copy(1, "xinhua", "Talks", 0);
        c.item.author = Some("english@news.cn (Xinhua)".into());
        let story = Story::from_copies(1, "x".into(), Utc::now(), vec![c]).unwrap();
        let xml = atom(&meta(), &[story], Utc::now());
        assert!(
            xml.contains("<author><name>Xinhua</name><email>english@news.cn</email></author>"),
            "{xml}"
        );
    }
}
