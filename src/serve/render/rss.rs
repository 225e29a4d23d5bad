//! RSS 2.0, written with the `rss` crate: full text in `content:encoded`,
//! an author with an e-mail address in `author` as `email (Name)`, one
//! without in `dc:creator` (RSS's own `author` must be an address),
//! `atom:link rel="self"`, `rel="next"` and `rel="hub"` on the channel.
//!
//! RSS names one `source` per item: the chosen copy's feed (none for a
//! source read from a local file: a local path is never served). The other
//! copies are listed in the content's "Also reported by" line. Links are
//! served links ([`served_link`]); an enclosure without a known length says
//! 0, as RSS wants the attribute.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rss::extension::dublincore::DublinCoreExtension;
use rss::extension::{Extension, ExtensionMap};
use rss::{Category, Channel, Enclosure, Guid, Item, Source};

use super::{
    Author, FeedMeta, author_parts, categories_of, content_html, enclosure_length, enclosure_type,
    entry_id, entry_link, feed_title, feed_updated, served_link, summary_html, title_of, xml_safe,
};
use crate::model::Story;

/// The RSS 2.0 document for `stories` (newest-arrived first).
pub fn rss(meta: &FeedMeta, stories: &[Story], now: DateTime<Utc>) -> String {
    let mut links = vec![atom_link(&meta.self_url, "self")];
    if let Some(next) = &meta.next_url {
        links.push(atom_link(next, "next"));
    }
    if let Some(hub) = &meta.hub_url {
        let mut hub = atom_link(hub, "hub");
        hub.attrs.remove("type");
        links.push(hub);
    }
    let title = feed_title(meta);
    // `atom:link` is written as a plain extension element: the `rss` crate's
    // own Atom support pulls in a builder macro crate for nothing else.
    let mut extensions = ExtensionMap::new();
    extensions.insert("atom".into(), BTreeMap::from([("link".to_owned(), links)]));
    let channel = Channel {
        namespaces: BTreeMap::from([("atom".to_owned(), ATOM_NS.to_owned())]),
        extensions,
        description: format!("{title}: the merged feed"),
        title,
        link: xml_safe(&meta.home_url),
        last_build_date: Some(feed_updated(stories, now).to_rfc2822()),
        generator: Some(format!("wiredesk {}", env!("CARGO_PKG_VERSION"))),
        items: stories.iter().map(|s| item(meta, s)).collect(),
        ..Channel::default()
    };
    channel.to_string()
}

fn item(meta: &FeedMeta, story: &Story) -> Item {
    let chosen = &story.chosen;
    let it = &chosen.item;
    let content = content_html(story);
    let author = it
        .author
        .as_deref()
        .map(author_parts)
        .filter(|a| !a.name.is_empty());
    Item {
        title: Some(title_of(story)),
        link: Some(entry_link(meta, story)),
        description: Some(summary_html(story).unwrap_or_else(|| content.clone())),
        content: Some(content),
        guid: Some(Guid {
            value: entry_id(story, meta.entries),
            permalink: false,
        }),
        pub_date: Some(chosen.date().to_rfc2822()),
        categories: categories_of(story)
            .into_iter()
            .map(|name| Category { name, domain: None })
            .collect(),
        // RSS allows one enclosure per item: the first that can be served.
        enclosure: it.enclosures.iter().find_map(|e| {
            let url = served_link(&e.url)?;
            Some(Enclosure {
                length: enclosure_length(e.length).unwrap_or(0).to_string(),
                mime_type: enclosure_type(&url, e.mime_type.as_deref())
                    .unwrap_or_else(|| "application/octet-stream".into()),
                url,
            })
        }),
        source: served_link(&chosen.source_url).map(|url| Source {
            url,
            title: Some(xml_safe(&chosen.source_name)),
        }),
        author: author.as_ref().and_then(rss_author),
        dublin_core_ext: author
            .filter(|a| a.email.is_none())
            .map(|a| DublinCoreExtension {
                creators: vec![a.name],
                ..DublinCoreExtension::default()
            }),
        ..Item::default()
    }
}

/// RSS's `author` for an author with an e-mail address, in RSS's own form
/// `email (Name)`; an author without one goes in `dc:creator` (validators
/// want an address in `author`).
fn rss_author(author: &Author) -> Option<String> {
    let email = author.email.as_deref()?;
    Some(if author.name == email {
        email.to_owned()
    } else {
        format!("{email} ({})", author.name)
    })
}

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";

/// `<atom:link href=… rel=… type="application/rss+xml"/>`.
fn atom_link(href: &str, rel: &str) -> Extension {
    Extension {
        name: "atom:link".into(),
        attrs: BTreeMap::from([
            ("href".to_owned(), xml_safe(href)),
            ("rel".to_owned(), rel.to_owned()),
            ("type".to_owned(), "application/rss+xml".to_owned()),
        ]),
        ..Extension::default()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{merged, meta};
    use super::*;

    #[test]
    fn an_rss_item_carries_full_text_creator_and_source() {
        let mut story = merged();
        story.chosen.item.author = Some("Ana Díaz".into());
        let xml = rss(&meta(), &[story], Utc::now());
        assert!(xml.contains("<content:encoded>"), "{xml}");
        assert!(xml.contains("<dc:creator>Ana Díaz</dc:creator>"), "{xml}");
        assert!(xml.contains("<atom:link"), "{xml}");
        assert!(
            xml.contains("<source url=\"https://agency.example/feed\">agency &amp; Co</source>"),
            "{xml}"
        );
        let feed = feed_rs::parser::parse(xml.as_bytes()).unwrap();
        assert_eq!(feed.entries[0].id, "urn:wiredesk:story:abc");
        assert_eq!(feed.entries[0].authors[0].name.as_deref(), Some("Ana Díaz"));
    }

    /// Issue #18: a `file:` source's path was served as the item's
    /// `source`, tracking parameters stayed on links, and an untyped image
    /// enclosure was `application/octet-stream`.
    #[test]
    fn an_item_serves_no_local_path_no_tracking_and_a_typed_enclosure() {
        let mut story = merged();
        story.chosen.source_url = "file:///srv/feeds/agency.xml".into();
        story.chosen.item.link = Some("https://agency.example/1?utm_campaign=x&id=7".into());
        story.chosen.item.enclosures = vec![crate::model::Enclosure {
            url: "https://img.example/p.webp".into(),
            mime_type: None,
            length: None,
        }];
        let xml = rss(&meta(), &[story], Utc::now());
        assert!(!xml.contains("file:"), "{xml}");
        assert!(!xml.contains("<source"), "{xml}");
        assert!(
            xml.contains("<link>https://agency.example/1?id=7</link>"),
            "{xml}"
        );
        // RSS requires a length: 0 is its "unknown".
        assert!(
            xml.contains(
                "<enclosure url=\"https://img.example/p.webp\" length=\"0\" type=\"image/webp\"/>"
            ),
            "{xml}"
        );
    }

    /// Issue #18: Xinhua's `english@news.cn (Xinhua)` was served as `(Xinhua)`.
    #[test]
    fn an_author_with_an_address_keeps_rss_form_and_a_name_alone_is_a_creator() {
        let mut story = merged();
        story.chosen.item.author = Some("english@news.cn (Xinhua)".into());
        let xml = rss(&meta(), &[story], Utc::now());
        assert!(
            xml.contains("<author>english@news.cn (Xinhua)</author>"),
            "{xml}"
        );
        assert!(!xml.contains("dc:creator>"), "{xml}");
        let mut story = merged();
        story.chosen.item.author = Some("desk@example.org".into());
        let xml = rss(&meta(), &[story], Utc::now());
        assert!(xml.contains("<author>desk@example.org</author>"), "{xml}");
    }
}
