//! JSON Feed 1.0 / 1.1, read leniently with our own serde structs.
//!
//! feed-rs's strict serde rejects ~90 % of real JSON feeds (missing or
//! http `version`, missing title, tags as a string, any wrong type). Here the
//! envelope is typed but every field is a `serde_json::Value` read by hand, so
//! a wrong type costs that field (with a warning), never the item or the feed.

use serde::Deserialize;
use serde_json::Value;

use super::date::parse_date;
use super::entry::{Body, RawEntry, RawFeed};
use super::{IngestError, Warning, WarningKind};
use crate::model::Enclosure;

#[derive(Debug, Deserialize)]
struct Doc {
    #[serde(default)]
    version: Value,
    #[serde(default)]
    title: Value,
    #[serde(default)]
    items: Value,
    #[serde(default)]
    author: Value,
    #[serde(default)]
    authors: Value,
    #[serde(default)]
    next_url: Value,
    /// WebSub discovery (#16): `hubs: [{"type": "WebSub", "url": …}]`, and
    /// the feed's own URL as the topic.
    #[serde(default)]
    hubs: Value,
    #[serde(default)]
    feed_url: Value,
}

#[derive(Debug, Deserialize)]
struct JsonItem {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    url: Value,
    #[serde(default)]
    external_url: Value,
    #[serde(default)]
    title: Value,
    #[serde(default)]
    content_html: Value,
    #[serde(default)]
    content_text: Value,
    #[serde(default)]
    summary: Value,
    #[serde(default)]
    date_published: Value,
    #[serde(default)]
    date_modified: Value,
    #[serde(default)]
    author: Value,
    #[serde(default)]
    authors: Value,
    #[serde(default)]
    tags: Value,
    #[serde(default)]
    attachments: Value,
}

fn string(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn names(author: &Value, authors: &Value) -> Vec<String> {
    let one = |v: &Value| match v {
        Value::Object(o) => o.get("name").and_then(string),
        other => string(other),
    };
    let mut out: Vec<String> = match authors {
        Value::Array(a) => a.iter().filter_map(one).collect(),
        other => one(other).into_iter().collect(),
    };
    if out.is_empty() {
        out.extend(one(author));
    }
    out
}

/// `text` with each bare `NaN`, `Infinity` and `-Infinity` (JavaScript's
/// and Python's, not JSON) replaced by `null`, and how many there were;
/// `None` when there is none. Strings are left alone.
fn non_finite_to_null(text: &str) -> Option<(String, usize)> {
    const TOKENS: [&str; 3] = ["-Infinity", "Infinity", "NaN"];
    let mut out = String::with_capacity(text.len());
    let mut count = 0;
    let (mut in_string, mut escaped) = (false, false);
    let mut rest = text;
    while let Some(c) = rest.chars().next() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
        } else if let Some(token) = TOKENS.iter().find(|t| rest.starts_with(**t)) {
            out.push_str("null");
            count += 1;
            rest = &rest[token.len()..];
            continue;
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    (count > 0).then_some((out, count))
}

/// The document, read as JSON, or as JSON with `NaN`/`Infinity` values:
/// Python's json module reads them, so some feeds have them (as ids,
/// issue #18). They are read as null: an id falls back to the url.
fn read_doc(text: &str, warnings: &mut Vec<Warning>) -> Result<Doc, serde_json::Error> {
    let e = match serde_json::from_str(text) {
        Ok(doc) => return Ok(doc),
        Err(e) if e.is_syntax() => e,
        Err(e) => return Err(e),
    };
    let Some((fixed, count)) = non_finite_to_null(text) else {
        return Err(e);
    };
    let doc = serde_json::from_str(&fixed).map_err(|_| e)?;
    warnings.push(Warning::new(
        WarningKind::FormatNormalised,
        format!("{count} NaN/Infinity value(s), which JSON lacks, read as null"),
    ));
    Ok(doc)
}

pub(crate) fn parse(text: &str, warnings: &mut Vec<Warning>) -> Result<RawFeed, IngestError> {
    let doc = read_doc(text, warnings).map_err(|e| {
        if e.is_eof() {
            IngestError::Malformed {
                reason: format!("JSON Feed truncated: {e}"),
            }
        } else {
            IngestError::Malformed {
                reason: format!("invalid JSON: {e}"),
            }
        }
    })?;
    let version = string(&doc.version).unwrap_or_default();
    let is_jsonfeed = version.contains("jsonfeed.org");
    let items = match doc.items {
        Value::Array(items) => items,
        Value::Null if is_jsonfeed => Vec::new(),
        Value::Null => {
            return Err(IngestError::NotAFeed {
                reason: "a JSON document without a JSON Feed version or items".into(),
            });
        }
        other => {
            return Err(IngestError::Malformed {
                reason: format!("JSON Feed `items` is not an array but {}", kind(&other)),
            });
        }
    };
    if !is_jsonfeed {
        warnings.push(Warning::new(
            WarningKind::FormatNormalised,
            if version.is_empty() {
                "JSON Feed without a version read as JSON Feed 1.1".to_owned()
            } else {
                format!("JSON Feed with version {version:?} read as JSON Feed 1.1")
            },
        ));
    }
    let feed_authors = names(&doc.author, &doc.authors);
    let found = items.len();
    let mut entries = Vec::with_capacity(items.len());
    for (i, v) in items.into_iter().enumerate() {
        let position = i + 1;
        let it: JsonItem = match serde_json::from_value(v) {
            Ok(it) => it,
            Err(e) => {
                warnings.push(Warning::new(
                    WarningKind::EntryDropped,
                    format!("JSON Feed item {position} skipped: {e}"),
                ));
                continue;
            }
        };
        entries.push(item(it, position, &feed_authors, warnings));
    }
    Ok(RawFeed {
        title: string(&doc.title).map(Body::html),
        entries,
        hints: Default::default(),
        older: string(&doc.next_url),
        found,
        hubs: doc
            .hubs
            .as_array()
            .into_iter()
            .flatten()
            .filter(|hub| {
                hub.get("type")
                    .and_then(Value::as_str)
                    .is_none_or(|t| t.eq_ignore_ascii_case("websub"))
            })
            .filter_map(|hub| hub.get("url").and_then(Value::as_str).map(str::to_owned))
            .collect(),
        self_link: string(&doc.feed_url),
    })
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A string (or number) field; any other non-null type is dropped with a warning.
fn str_field(
    field: &str,
    v: &Value,
    position: usize,
    warnings: &mut Vec<Warning>,
) -> Option<String> {
    let s = string(v);
    if s.is_none() && !matches!(v, Value::String(_) | Value::Null) {
        warnings.push(Warning::new(
            WarningKind::FieldDropped,
            format!(
                "JSON Feed item {position}: `{field}` is {} and was dropped",
                kind(v)
            ),
        ));
    }
    s
}

fn item(
    it: JsonItem,
    position: usize,
    feed_authors: &[String],
    warnings: &mut Vec<Warning>,
) -> RawEntry {
    let mut str_field = |field: &str, v: &Value| str_field(field, v, position, warnings);
    let guid = str_field("id", &it.id);
    let link = str_field("url", &it.url).or_else(|| string(&it.external_url));
    let title = str_field("title", &it.title).map(Body::html);
    let content_html = str_field("content_html", &it.content_html);
    let content_text = str_field("content_text", &it.content_text);
    let summary = str_field("summary", &it.summary).map(Body::plain);
    let mut date = |field: &str, v: &Value| -> Option<chrono::DateTime<chrono::Utc>> {
        let s = self::str_field(field, v, position, warnings)?;
        let d = parse_date(&s);
        if d.is_none() {
            warnings.push(Warning::new(
                WarningKind::DateUnparseable,
                format!(
                    "JSON Feed item {position}: {field} {s:?} could not be understood; left empty"
                ),
            ));
        }
        d
    };
    let published = date("date_published", &it.date_published);
    let updated = date("date_modified", &it.date_modified);
    let categories = match &it.tags {
        Value::Array(a) => a.iter().filter_map(string).collect(),
        // Tags given as one string: "a, b, c".
        Value::String(s) => s
            .split(',')
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty())
            .collect(),
        _ => Vec::new(),
    };
    let enclosures = match &it.attachments {
        Value::Array(a) => a
            .iter()
            .filter_map(|att| {
                let o = att.as_object()?;
                Some(Enclosure {
                    url: o.get("url").and_then(string)?,
                    mime_type: o.get("mime_type").and_then(string),
                    length: o.get("size_in_bytes").and_then(|v| match v {
                        Value::Number(n) => n.as_u64(),
                        Value::String(s) => s.trim().parse().ok(),
                        _ => None,
                    }),
                })
            })
            .collect(),
        _ => Vec::new(),
    };
    let mut authors = names(&it.author, &it.authors);
    if authors.is_empty() {
        authors = feed_authors.to_vec();
    }
    RawEntry {
        position,
        guid,
        title,
        link,
        published,
        updated,
        authors,
        summary,
        content: content_html
            .map(Body::html)
            .or_else(|| content_text.map(Body::plain)),
        categories,
        enclosures,
        base: None,
    }
}
