//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>), as serde structs.
//!
//! Every item carries a `_wiredesk` extension object (JSON Feed's rule for
//! extensions: a key starting with `_`) naming the story and every copy,
//! the chosen one first.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    FeedMeta, author_parts, categories_of, content_html, entry_id, entry_updated, feed_title,
    rfc3339, story_urn, summary_html, title_of, xml_safe,
};
use crate::model::{StoredItem, Story};

#[derive(Serialize)]
struct JsonFeed<'a> {
    version: &'static str,
    title: String,
    home_page_url: &'a str,
    feed_url: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_url: Option<&'a str>,
    description: String,
    items: Vec<JsonItem>,
}

#[derive(Serialize)]
struct JsonItem {
    id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    title: String,
    content_html: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<String>,
    date_published: String,
    date_modified: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authors: Vec<Author>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment>,
    _wiredesk: Extension,
}

#[derive(Serialize)]
struct Author {
    name: String,
}

#[derive(Serialize)]
struct Attachment {
    url: String,
    mime_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    size_in_bytes: Option<u64>,
}

/// The `_wiredesk` extension of an item.
#[derive(Serialize)]
struct Extension {
    /// The story's stable URN (with `copies=all`, the story the item belongs to).
    story: String,
    /// When this instance first stored the story (with `copies=all`, the
    /// item): the feed's order.
    arrived: String,
    copies: Vec<Copy>,
}

#[derive(Serialize)]
struct Copy {
    source: String,
    source_name: String,
    url: Option<String>,
    /// The copy's per-source identity.
    id: String,
    published: Option<String>,
}

/// The JSON Feed 1.1 document for `stories` (newest-arrived first). `now` is not
/// needed: JSON Feed has no feed-level date.
pub fn json(meta: &FeedMeta, stories: &[Story], _now: DateTime<Utc>) -> String {
    let title = feed_title(meta);
    let feed = JsonFeed {
        version: "https://jsonfeed.org/version/1.1",
        description: format!("{title}: the merged feed"),
        title,
        home_page_url: &meta.home_url,
        feed_url: &meta.self_url,
        next_url: meta.next_url.as_deref(),
        items: stories.iter().map(|s| item(meta, s)).collect(),
    };
    // Serialising plain structs of strings cannot fail.
    serde_json::to_string_pretty(&feed).unwrap_or_default()
}

fn item(meta: &FeedMeta, story: &Story) -> JsonItem {
    let chosen = &story.chosen;
    let it = &chosen.item;
    JsonItem {
        id: entry_id(story, meta.entries),
        url: it.link.as_deref().map(xml_safe),
        title: title_of(story),
        content_html: content_html(story),
        summary: summary_html(story),
        date_published: rfc3339(chosen.date()),
        date_modified: rfc3339(entry_updated(story)),
        authors: it
            .author
            .as_deref()
            .map(|a| author_parts(a).name)
            .filter(|name| !name.is_empty())
            .map(|name| Author { name })
            .into_iter()
            .collect(),
        tags: categories_of(story),
        attachments: it
            .enclosures
            .iter()
            .map(|e| Attachment {
                url: xml_safe(&e.url),
                mime_type: e
                    .mime_type
                    .as_deref()
                    .map(xml_safe)
                    .unwrap_or_else(|| "application/octet-stream".into()),
                size_in_bytes: e.length,
            })
            .collect(),
        _wiredesk: Extension {
            story: story_urn(story),
            arrived: rfc3339(story.arrived),
            copies: story.copies().map(copy).collect(),
        },
    }
}

fn copy(c: &StoredItem) -> Copy {
    Copy {
        source: c.source_id.to_string(),
        source_name: xml_safe(&c.source_name),
        url: c.item.link.as_deref().map(xml_safe),
        id: xml_safe(&c.item.identity),
        published: c.item.published.map(rfc3339),
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{merged, meta};
    use super::*;

    #[test]
    fn a_json_item_lists_every_copy_in_its_extension() {
        let text = json(&meta(), &[merged()], Utc::now());
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], "https://jsonfeed.org/version/1.1");
        let ext = &v["items"][0]["_wiredesk"];
        assert_eq!(ext["story"], "urn:wiredesk:story:abc");
        assert_eq!(ext["copies"][0]["source"], "agency");
        assert_eq!(ext["copies"][1]["source_name"], "outlet & Co");
        assert_eq!(ext["copies"][1]["id"], "outlet-2");
        assert_eq!(ext["copies"][1]["published"], "2026-11-01T08:00:02Z");
        let feed = feed_rs::parser::parse(text.as_bytes()).unwrap();
        assert_eq!(feed.entries[0].id, "urn:wiredesk:story:abc");
    }
}
