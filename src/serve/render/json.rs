//! JSON Feed 1.1 (<https://jsonfeed.org/version/1.1>), as serde structs.
//!
//! Every item carries a `_wiredesk` extension object (JSON Feed's rule for
//! extensions: a key starting with `_`) naming the story and every copy,
//! the chosen one first.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{
    FeedMeta, author_parts, categories_of, content_html, enclosure_length, enclosure_type,
    entry_id, entry_link, entry_updated, feed_title, rfc3339, served_link, story_urn, summary_html,
    title_of, xml_safe,
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
    /// JSON Feed 1.1's `hubs`: where to subscribe for updates (WebSub, #16).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    hubs: Vec<Hub<'a>>,
    items: Vec<JsonItem>,
}

#[derive(Serialize)]
struct Hub<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    url: &'a str,
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
        hubs: meta
            .hub_url
            .as_deref()
            .map(|url| Hub {
                kind: "WebSub",
                url,
            })
            .into_iter()
            .collect(),
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
        url: Some(entry_link(meta, story)),
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
            .filter_map(|e| {
                let url = served_link(&e.url)?;
                Some(Attachment {
                    // JSON Feed requires a type.
                    mime_type: enclosure_type(&url, e.mime_type.as_deref())
                        .unwrap_or_else(|| "application/octet-stream".into()),
                    size_in_bytes: enclosure_length(e.length),
                    url,
                })
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
        url: c.item.link.as_deref().and_then(served_link),
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

    /// Issue #18: an image attachment was `application/octet-stream` of 0
    /// bytes, a local link was served, tracking parameters stayed on.
    #[test]
    fn an_attachment_is_typed_from_its_extension_and_has_no_false_size() {
        let mut story = merged();
        story.chosen.item.link = Some("file:///local/1".into());
        story.others[0].item.link = Some("https://outlet.example/2?mc_cid=1&mc_eid=2".into());
        story.chosen.item.enclosures = vec![
            crate::model::Enclosure {
                url: "https://img.example/p.png?wt_mc=x".into(),
                mime_type: Some("application/octet-stream".into()),
                length: Some(0),
            },
            crate::model::Enclosure {
                url: "file:///srv/p.png".into(),
                mime_type: None,
                length: None,
            },
        ];
        let text = json(&meta(), &[story], Utc::now());
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let item = &v["items"][0];
        assert_eq!(
            item["attachments"],
            serde_json::json!([{"url": "https://img.example/p.png", "mime_type": "image/png"}])
        );
        assert_eq!(item["url"], "http://127.0.0.1:8080/");
        assert_eq!(
            item["_wiredesk"]["copies"][0]["url"],
            serde_json::Value::Null
        );
        assert_eq!(
            item["_wiredesk"]["copies"][1]["url"],
            "https://outlet.example/2"
        );
        assert!(!text.contains("file:"), "{text}");
    }
}
