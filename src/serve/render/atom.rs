//! Atom 1.0 (RFC 4287), written with `atom_syndication`.
//!
//! The chosen copy is named in `atom:source` (RFC 4287 §4.2.11), the others
//! as `link rel="related"` titled with their source's name.
//!
//! Every entry is valid on its own (issue #18, the W3C validator's rules):
//! it has an author — the item's, else its source's name, as a publisher is
//! the author of what it publishes unsigned (RFC 4287 §4.1.2 wants one per
//! entry unless the feed names one, and a merged feed has no single author)
//! — its content is never blank nor missing (the validator warns about an
//! entry without text, and readers show an empty entry: an entry with no
//! text of its own says its title, linked to the item), no two entries share
//! an `updated` ([`atom_entry_updated`]), links are served links
//! ([`served_link`]: no local path, no tracking parameter) and an
//! enclosure's type and length are said only when known.

use atom_syndication::{
    Category, Content, Entry, Feed, FixedDateTime, Generator, Link, Person, Text,
};
use chrono::{DateTime, Utc};

use super::{
    Author, FeedMeta, atom_entry_updated, author_parts, categories_of, content_html,
    enclosure_length, enclosure_type, entry_id, entry_link, feed_title, feed_updated, served_link,
    summary_html, title_of, xml_safe,
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
    if let Some(hub) = &meta.hub_url {
        links.push(link(hub, "hub", None, None));
    }
    let feed = Feed {
        title: Text::plain(feed_title(meta)),
        id: xml_safe(&meta.self_url),
        // Never before an entry's (which sits within its second).
        updated: stories
            .iter()
            .map(|s| atom_entry_updated(s, meta.entries))
            .fold(feed_updated(stories, now), DateTime::max)
            .fixed_offset(),
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
    let mut links = vec![link(
        &entry_link(meta, story),
        "alternate",
        Some("text/html"),
        None,
    )];
    for other in &story.others {
        if let Some(href) = other.item.link.as_deref().and_then(served_link) {
            links.push(link(
                &href,
                "related",
                Some("text/html"),
                Some(&other.source_name),
            ));
        }
    }
    for enclosure in &item.enclosures {
        let Some(href) = served_link(&enclosure.url) else {
            continue;
        };
        links.push(Link {
            mime_type: enclosure_type(&href, enclosure.mime_type.as_deref()),
            // Atom's length is optional: an unknown one is left out.
            length: enclosure_length(enclosure.length).map(|l| l.to_string()),
            href,
            rel: "enclosure".into(),
            ..Link::default()
        });
    }
    Entry {
        title: Text::plain(title_of(story)),
        id: entry_id(story, meta.entries),
        updated: atom_entry_updated(story, meta.entries).fixed_offset(),
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
        content: Some(Content {
            value: Some(content_html(story)),
            content_type: Some("html".into()),
            ..Content::default()
        }),
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

/// The `atom:source` of a copy: the feed it came from, by its URL; a
/// source read from a local file is named by a URN of its id instead, and
/// not linked (a local path is never served).
fn source_of(copy: &StoredItem) -> atom_syndication::Source {
    let url = served_link(&copy.source_url);
    atom_syndication::Source {
        title: Text::plain(xml_safe(&copy.source_name)),
        id: url
            .clone()
            .unwrap_or_else(|| format!("urn:wiredesk:source:{}", copy.source_id)),
        updated: FixedDateTime::from(copy.first_seen.fixed_offset()),
        links: url
            .iter()
            .map(|href| link(href, "self", None, None))
            .collect(),
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
        // The first says its title, linked to the item: the validator warns
        // about an entry without text even when it has a link.
        let body = |n: usize| feed.entries[n].content.as_ref().unwrap().body.clone();
        assert_eq!(
            body(0).as_deref(),
            Some("<p><a href=\"https://agency.example/1?a=1&amp;b=2\">Photo of the day</a></p>")
        );
        // The second has neither text nor link: its title stands in, and
        // it links to the desk.
        assert_eq!(body(1).as_deref(), Some("<p>Short note</p>"));
        assert_eq!(feed.entries[1].links[0].href, "http://127.0.0.1:8080/");
    }

    /// Issue #18: a `file:` source's path was served as `atom:source`'s id
    /// and link, and an item link resolved against it as the entry's link.
    #[test]
    fn a_local_path_is_never_served() {
        let mut c = copy(1, "local", "Talks", 0);
        c.source_url = "file:///srv/feeds/local.xml".into();
        c.item.link = Some("file:///local/7".into());
        c.item.enclosures = vec![crate::model::Enclosure {
            url: "file:///srv/feeds/p.jpg".into(),
            mime_type: None,
            length: None,
        }];
        let mut other = copy(2, "outlet", "Talks", 0);
        other.item.link = Some("file:///outlet/2".into());
        let story = Story::from_copies(1, "x".into(), Utc::now(), vec![c, other]).unwrap();
        let xml = atom(&meta(), &[story], Utc::now());
        assert!(!xml.contains("file:"), "{xml}");
        assert!(xml.contains("<id>urn:wiredesk:source:local</id>"), "{xml}");
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        let links: Vec<_> = feed.entries[0].links.iter().map(|l| &l.href).collect();
        assert_eq!(links, ["http://127.0.0.1:8080/"]);
    }

    /// Issue #18: tracking parameters stayed on the links served, an image
    /// enclosure was served without a type, and a length of 0 as a length.
    #[test]
    fn links_are_served_clean_and_enclosures_typed_and_never_0_long() {
        let mut c = copy(1, "agency", "Talks", 0);
        c.item.link = Some("https://agency.example/1?utm_source=rss&id=7&gclid=x".into());
        c.item.enclosures = vec![
            crate::model::Enclosure {
                url: "https://img.example/p.jpg".into(),
                mime_type: Some(String::new()),
                length: Some(0),
            },
            crate::model::Enclosure {
                url: "https://cdn.example/6.mp3?utm_medium=feed".into(),
                mime_type: Some("audio/mpeg".into()),
                length: Some(123),
            },
        ];
        let mut other = copy(2, "outlet", "Talks", 0);
        other.item.link = Some("https://outlet.example/2?fbclid=y".into());
        let story = Story::from_copies(1, "x".into(), Utc::now(), vec![c, other]).unwrap();
        let xml = atom(&meta(), &[story], Utc::now());
        for tracking in ["utm_", "gclid", "fbclid"] {
            assert!(!xml.contains(tracking), "{xml}");
        }
        assert!(
            xml.contains("href=\"https://agency.example/1?id=7\" rel=\"alternate\""),
            "{xml}"
        );
        assert!(
            xml.contains("&lt;a href=&quot;https://outlet.example/2&quot;&gt;"),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<link href=\"https://img.example/p.jpg\" rel=\"enclosure\" type=\"image/jpeg\"/>"
            ),
            "{xml}"
        );
        assert!(
            xml.contains(
                "<link href=\"https://cdn.example/6.mp3\" rel=\"enclosure\" type=\"audio/mpeg\" length=\"123\"/>"
            ),
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
