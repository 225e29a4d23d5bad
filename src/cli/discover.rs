//! `wiredesk discover URL`: the feeds a web page links to, found in its
//! `<link rel="alternate" type="application/rss+xml|atom+xml|feed+json">`
//! tags, resolved against the page's address (or its `<base href>`).
//!
//! The page is fetched as a poll fetches a feed ([`Fetcher`]: the same
//! client, User-Agent, timeouts, body cap and redirect rules); a URL that is
//! a feed itself is said to be one.

use std::cell::RefCell;

use chrono::Utc;
use html5ever::tendril::StrTendril;
use html5ever::tokenizer::states::RawKind;
use html5ever::tokenizer::{
    BufferQueue, TagKind, Token, TokenSink, TokenSinkResult, Tokenizer, TokenizerOpts,
};
use url::Url;

use super::new_sources::Found;
use crate::ingest::{self, FetchedBody, Limits};
use crate::model::{Headers, Validators};
use crate::poll::{FetchError, Fetcher};

/// The feed types a page's `<link rel="alternate">` may announce.
const FEED_TYPES: &[&str] = &[
    "application/rss+xml",
    "application/atom+xml",
    "application/feed+json",
    "application/json+feed",
    "application/rdf+xml",
];

/// What is at a URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Discovered {
    /// The URL is a feed itself (with its title, if it has one).
    Feed(Found),
    /// A page, and the feeds it links to (perhaps none).
    Page(Vec<Found>),
}

/// Why a URL could not be looked at.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{url}: {source}")]
    Fetch { url: Url, source: FetchError },
    #[error("{url}: the server answered 304 Not Modified to a plain GET")]
    NoBody { url: Url },
}

/// Fetches `url` and says what is there.
pub async fn discover(fetcher: &Fetcher, url: &Url) -> Result<Discovered, DiscoverError> {
    let fetched = fetcher
        .fetch(url, &Validators::default(), &Headers::default(), Utc::now())
        .await
        .map_err(|source| DiscoverError::Fetch {
            url: url.clone(),
            source,
        })?;
    let body = fetched
        .body
        .ok_or_else(|| DiscoverError::NoBody { url: url.clone() })?;
    // Relative links resolve against where the page is now, when it says.
    let page = fetched.moved_permanently.unwrap_or_else(|| url.clone());
    Ok(what_is(&body.bytes, body.content_type.as_deref(), &page))
}

/// What a fetched body is: a feed (if it parses as one), else a page whose
/// feed links are listed.
pub fn what_is(bytes: &[u8], content_type: Option<&str>, url: &Url) -> Discovered {
    let looks_like_html = content_type.is_some_and(|t| t.to_ascii_lowercase().contains("html"));
    if !looks_like_html {
        let body = FetchedBody {
            bytes,
            content_type,
            url,
        };
        let limits = Limits {
            max_body: bytes.len().max(Limits::DEFAULT_MAX_BODY),
            max_items: Limits::DEFAULT_MAX_ITEMS,
        };
        if let Ok(feed) = ingest::parse(&body, Utc::now(), &limits) {
            return Discovered::Feed(Found {
                name: feed.title.filter(|t| !t.trim().is_empty()),
                url: url.to_string(),
                tags: vec![],
            });
        }
    }
    let text = ingest::decode_text(bytes, content_type, url);
    Discovered::Page(feed_links(&text, url))
}

#[derive(Default)]
struct Links {
    base: Option<String>,
    /// `(href, title)` of each feed link, in document order.
    feeds: Vec<(String, Option<String>)>,
    /// The page's `<title>`, for links without a title of their own.
    page_title: Option<String>,
    in_title: bool,
}

struct Sink(RefCell<Links>);

impl TokenSink for Sink {
    type Handle = ();

    fn process_token(&self, token: Token, _line: u64) -> TokenSinkResult<()> {
        let mut links = self.0.borrow_mut();
        match token {
            Token::TagToken(tag) if tag.kind == TagKind::StartTag => {
                let attr = |name: &str| {
                    tag.attrs
                        .iter()
                        .find(|a| a.name.local.eq_ignore_ascii_case(&name.into()))
                        .map(|a| a.value.trim().to_owned())
                };
                let name: &str = &tag.name;
                match name {
                    "link" => {
                        let rel = attr("rel").unwrap_or_default().to_ascii_lowercase();
                        let kind = attr("type").unwrap_or_default().to_ascii_lowercase();
                        let kind = kind.split(';').next().unwrap_or_default().trim();
                        if rel.split_ascii_whitespace().any(|r| r == "alternate")
                            && FEED_TYPES.contains(&kind)
                            && let Some(href) = attr("href").filter(|h| !h.is_empty())
                        {
                            let title = attr("title").filter(|t| !t.is_empty());
                            links.feeds.push((href, title));
                        }
                    }
                    "base" if links.base.is_none() => links.base = attr("href"),
                    "title" if !tag.self_closing && links.page_title.is_none() => {
                        links.in_title = true;
                        return TokenSinkResult::RawData(RawKind::Rcdata);
                    }
                    "script" if !tag.self_closing => {
                        return TokenSinkResult::RawData(RawKind::ScriptData);
                    }
                    "style" | "noscript" | "iframe" | "xmp" if !tag.self_closing => {
                        return TokenSinkResult::RawData(RawKind::Rawtext);
                    }
                    "textarea" if !tag.self_closing => {
                        return TokenSinkResult::RawData(RawKind::Rcdata);
                    }
                    _ => {}
                }
            }
            Token::TagToken(tag) if &*tag.name == "title" => links.in_title = false,
            Token::CharacterTokens(text) if links.in_title => {
                links
                    .page_title
                    .get_or_insert_with(String::new)
                    .push_str(&text);
            }
            _ => {}
        }
        TokenSinkResult::Continue
    }
}

/// The feeds an HTML page links to, resolved against `page` (or the
/// page's `<base href>`), each once, in document order. A link without a
/// title is named after the page's `<title>`.
pub fn feed_links(html: &str, page: &Url) -> Vec<Found> {
    let tokenizer = Tokenizer::new(
        Sink(RefCell::new(Links::default())),
        TokenizerOpts::default(),
    );
    let input = BufferQueue::default();
    input.push_back(StrTendril::from_slice(html));
    let _ = tokenizer.feed(&input);
    tokenizer.end();
    let links = tokenizer.sink.0.take();
    let base = links
        .base
        .and_then(|b| page.join(&b).ok())
        .unwrap_or_else(|| page.clone());
    let page_title = links
        .page_title
        .map(|t| t.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|t| !t.is_empty());
    let mut found: Vec<Found> = Vec::new();
    for (href, title) in links.feeds {
        let url = base.join(&href).map_or(href, |u| u.to_string());
        if found.iter().any(|f| f.url == url) {
            continue;
        }
        found.push(Found {
            name: title.or_else(|| page_title.clone()),
            url,
            tags: vec![],
        });
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page() -> Url {
        Url::parse("https://paper.example/news/index.html").unwrap()
    }

    #[test]
    fn a_pages_feed_links_are_resolved_against_it() {
        let html = r#"<!doctype html><html><head><title>The  Paper</title>
            <link rel="stylesheet" href="/s.css">
            <link rel="alternate" type="application/rss+xml" title="Top stories" href="rss.xml">
            <LINK REL="Alternate" TYPE="application/atom+xml; charset=utf-8" HREF="/atom">
            <link rel="alternate" type="application/feed+json" title="JSON" href="//cdn.example/feed.json">
            <link rel="alternate" type="text/html" hreflang="de" href="/de/">
            <link rel="alternate" type="application/rss+xml" title="Again" href="/news/rss.xml">
            <script>var s = '<link rel="alternate" type="application/rss+xml" href="/fake">';</script>
            </head><body><link rel="alternate" type="application/rss+xml" title="Late" href="late.xml"></body></html>"#;
        let found = feed_links(html, &page());
        let got: Vec<(&str, Option<&str>)> = found
            .iter()
            .map(|f| (f.url.as_str(), f.name.as_deref()))
            .collect();
        assert_eq!(
            got,
            [
                ("https://paper.example/news/rss.xml", Some("Top stories")),
                ("https://paper.example/atom", Some("The Paper")),
                ("https://cdn.example/feed.json", Some("JSON")),
                ("https://paper.example/news/late.xml", Some("Late")),
            ]
        );
    }

    #[test]
    fn a_base_href_is_where_relative_links_start() {
        let html = r#"<base href="https://static.example/feeds/"><link rel="alternate" type="application/atom+xml" href="all.atom">"#;
        assert_eq!(
            feed_links(html, &page())[0].url,
            "https://static.example/feeds/all.atom"
        );
    }

    #[test]
    fn a_feed_is_recognised_as_one() {
        let rss = br#"<?xml version="1.0"?><rss version="2.0"><channel><title>Wire</title>
            <item><title>One</title><link>https://w.example/1</link></item></channel></rss>"#;
        let url = Url::parse("https://w.example/rss").unwrap();
        assert_eq!(
            what_is(rss, Some("application/rss+xml"), &url),
            Discovered::Feed(Found {
                name: Some("Wire".into()),
                url: url.to_string(),
                tags: vec![],
            })
        );
        assert_eq!(
            what_is(b"<html><p>nothing</p></html>", Some("text/html"), &url),
            Discovered::Page(vec![])
        );
    }
}
