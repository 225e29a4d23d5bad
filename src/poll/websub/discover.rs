//! Discovery (WebSub §4): the hub and topic a feed's HTTP `Link` header
//! names. The document's own `rel="hub"` and `rel="self"` links are read
//! by `ingest` (the only feed parser) into the same [`PushLinks`].

use url::Url;

use crate::model::PushLinks;

/// The most hubs kept from one response: a feed names one or two; a
/// header with hundreds is not honoured further.
pub const MAX_HUBS: usize = 4;

/// The hubs and the topic in `Link` header values (each may hold several
/// comma-separated links), resolved against `base`; only http and https
/// URLs, at most [`MAX_HUBS`] hubs.
pub fn from_link_headers<'a>(values: impl IntoIterator<Item = &'a str>, base: &Url) -> PushLinks {
    let mut links = PushLinks::default();
    for value in values {
        for (target, rels) in split_links(value) {
            let Some(url) = base.join(target).ok().filter(is_web) else {
                continue;
            };
            if rels.iter().any(|r| r.eq_ignore_ascii_case("hub")) && links.hubs.len() < MAX_HUBS {
                links.hubs.push(url.clone());
            }
            if rels.iter().any(|r| r.eq_ignore_ascii_case("self")) && links.topic.is_none() {
                links.topic = Some(url);
            }
        }
    }
    links
}

fn is_web(url: &Url) -> bool {
    matches!(url.scheme(), "http" | "https")
}

/// `<a>; rel="hub self", <b>; rel=next` into `[("a", ["hub", "self"]), ("b", ["next"])]`.
/// A comma inside `<…>` or a quoted value does not split (RFC 8288).
fn split_links(value: &str) -> Vec<(&str, Vec<&str>)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|c| open + c) else {
            break;
        };
        let target = rest[open + 1..close].trim();
        let after = &rest[close + 1..];
        // The parameters run to the next comma outside quotes.
        let mut quoted = false;
        let end = after
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    quoted = !quoted;
                }
                c == ',' && !quoted
            })
            .map_or(after.len(), |(i, _)| i);
        let rels = after[..end]
            .split(';')
            .filter_map(|param| {
                let (name, value) = param.split_once('=')?;
                name.trim()
                    .eq_ignore_ascii_case("rel")
                    .then(|| value.trim().trim_matches('"'))
            })
            .flat_map(str::split_ascii_whitespace)
            .collect();
        out.push((target, rels));
        rest = &after[end..];
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn base() -> Url {
        Url::parse("https://news.example/feeds/world.xml").unwrap()
    }

    #[test]
    fn a_link_header_names_the_hub_and_the_topic() {
        let links = from_link_headers(
            [r#"<https://hub.example/>; rel="hub", <https://news.example/world>; rel="self""#],
            &base(),
        );
        assert_eq!(
            links.hubs,
            vec![Url::parse("https://hub.example/").unwrap()]
        );
        assert_eq!(links.topic.unwrap().as_str(), "https://news.example/world");
    }

    #[test]
    fn links_in_separate_headers_with_several_rels_and_relative_targets_are_read() {
        let links = from_link_headers(
            [
                "</hub>; rel=\"hub\"",
                "<world.xml>; title=\"a, b\"; rel=\"self alternate\"",
            ],
            &base(),
        );
        assert_eq!(links.hubs[0].as_str(), "https://news.example/hub");
        assert_eq!(
            links.topic.unwrap().as_str(),
            "https://news.example/feeds/world.xml"
        );
    }

    #[test]
    fn a_header_without_hub_or_with_other_schemes_gives_nothing() {
        let links = from_link_headers(
            ["<https://news.example/p2>; rel=next, <ftp://hub.example/>; rel=hub, garbage <"],
            &base(),
        );
        assert_eq!(links, PushLinks::default());
    }

    #[test]
    fn no_more_than_four_hubs_are_kept_from_one_header() {
        let many: Vec<String> = (0..50)
            .map(|i| format!("<https://hub{i}.example/>; rel=hub"))
            .collect();
        let links = from_link_headers(many.iter().map(String::as_str), &base());
        assert_eq!(links.hubs.len(), MAX_HUBS);
    }

    #[test]
    fn the_headers_links_win_over_the_documents() {
        let header = from_link_headers(["<https://hub.example/>; rel=hub"], &base());
        let document = PushLinks {
            hubs: vec![Url::parse("https://other-hub.example/").unwrap()],
            topic: Some(Url::parse("https://news.example/world").unwrap()),
        };
        let links = header.or(document);
        assert_eq!(links.hubs[0].as_str(), "https://hub.example/");
        assert_eq!(links.topic.unwrap().as_str(), "https://news.example/world");
    }
}

#[cfg(test)]
mod document_tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::ingest::{FetchedBody, Limits, parse};

    fn links_of(body: &str, content_type: &str) -> PushLinks {
        let url = Url::parse("https://news.example/feeds/world").unwrap();
        let parsed = parse(
            &FetchedBody {
                bytes: body.as_bytes(),
                content_type: Some(content_type),
                url: &url,
            },
            chrono::Utc::now(),
            &Limits::default(),
        )
        .unwrap();
        parsed.push
    }

    #[test]
    fn an_atom_feed_names_its_hub_and_self_in_its_links() {
        let atom = r#"<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom">
            <title>World</title><id>urn:w</id><updated>2026-12-05T10:00:00Z</updated>
            <link rel="hub" href="https://hub.example/"/>
            <link rel="self" href="/feeds/world.atom"/>
            <entry><id>urn:1</id><title>One</title><updated>2026-12-05T10:00:00Z</updated>
            <link href="https://news.example/1"/></entry></feed>"#;
        let links = links_of(atom, "application/atom+xml");
        assert_eq!(links.hubs[0].as_str(), "https://hub.example/");
        assert_eq!(
            links.topic.unwrap().as_str(),
            "https://news.example/feeds/world.atom"
        );
    }

    #[test]
    fn a_json_feed_names_its_websub_hubs_and_feed_url() {
        let json = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "World",
            "feed_url": "https://news.example/world.json",
            "hubs": [{"type": "rssCloud", "url": "https://cloud.example/"},
                     {"type": "WebSub", "url": "https://hub.example/"}],
            "items": [{"id": "1", "url": "https://news.example/1", "title": "One"}]}"#;
        let links = links_of(json, "application/feed+json");
        assert_eq!(links.hubs.len(), 1);
        assert_eq!(links.hubs[0].as_str(), "https://hub.example/");
        assert_eq!(
            links.topic.unwrap().as_str(),
            "https://news.example/world.json"
        );
    }
}
