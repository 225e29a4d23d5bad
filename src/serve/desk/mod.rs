//! The desk (`GET /`, #19): one HTML page for a person — the stories
//! (searchable, filtered by source and tag, paged, each with its copies),
//! what is running everywhere, arrivals per hour per source, and the
//! sources, failing ones first. It works without script and fits 360 px
//! to wide screens; `desk.css` and `desk.js` are served beside it, as the
//! strict CSP allows nothing inline.
//!
//! The handler reads the store once and hands plain data to the pure
//! renderers: [`params`] (the page's query and its links), [`stories`],
//! [`chart`], [`sources`], [`time`]. Everything from a feed, a server or
//! the request is HTML-escaped where it is written, and only `http(s)`
//! links become `href`s.

pub mod chart;
pub mod params;
pub mod sources;
pub mod stories;
pub mod time;

use std::collections::{BTreeSet, HashMap};
use std::fmt::Write;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeDelta, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::{ServeState, auth, internal_error, query};
use crate::model::Story;
use crate::store::{FeedQueryError, PageKey, StoreError};
use chart::Bins;
use params::{DeskParams, PAGE_STORIES, View};
use sources::SourceCard;
use stories::StoriesPart;

/// The page's policy: nothing inline, styles and the one script from here,
/// forms submit here.
pub const CSP: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; \
                       base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const CSS: &str = include_str!("assets/desk.css");
const JS: &str = include_str!("assets/desk.js");
/// Appended to the assets' URLs, so a new build's are fetched anew.
const ASSET_VERSION: &str = env!("CARGO_PKG_VERSION");

/// How far back "running everywhere" looks.
const RUNNING_WINDOW: TimeDelta = TimeDelta::hours(24);

/// "1 item", "3 items".
pub fn count(n: u64, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Everything the page shows.
pub struct Desk<'a> {
    pub title: &'a str,
    pub params: &'a DeskParams,
    /// In the desk's order (see [`sources::order`]).
    pub cards: &'a [SourceCard],
    pub stories: StoriesPart<'a>,
    pub bins: &'a Bins,
    pub now: DateTime<Utc>,
}

/// The page, as HTML.
pub fn render(desk: &Desk<'_>) -> String {
    let mut out = String::with_capacity(32 * 1024);
    let p = desk.params;
    let feed = attr(&p.feed_href()).into_owned();
    let all = attr(&p.cleared().feed_href()).into_owned();
    let t = attr(desk.title).into_owned();
    let failing = desk
        .cards
        .iter()
        .filter(|c| !c.is_off() && c.failures > 0)
        .count();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title}</title>\
         <link rel=\"stylesheet\" href=\"desk.css?v={ASSET_VERSION}\">\
         <script src=\"desk.js?v={ASSET_VERSION}\" defer></script>\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"{t} (Atom)\" href=\"feed.atom{feed}\">\
         <link rel=\"alternate\" type=\"application/rss+xml\" title=\"{t} (RSS)\" href=\"feed.rss{feed}\">\
         <link rel=\"alternate\" type=\"application/feed+json\" title=\"{t} (JSON Feed)\" href=\"feed.json{feed}\">\
         </head><body>\n<header><h1>{title}</h1><p class=\"quiet\">as of {now} · \
         <a href=\"#sources-h\">{sources}, {failing} failing</a> · Everything: \
         <a href=\"feed.atom{all}\">Atom</a> · <a href=\"feed.rss{all}\">RSS</a> · \
         <a href=\"feed.json{all}\">JSON</a> · <a href=\"sources.opml{token}\">OPML</a></p></header>\n<main>\n",
        title = text(desk.title),
        now = time::tag(Some(desk.now), desk.now),
        sources = count(desk.cards.len() as u64, "source"),
        token = attr(&p.cleared().href()),
    );
    stories::render(&mut out, &desk.stories, desk.now);
    chart::render(&mut out, desk.bins, p);
    sources::render(&mut out, desk.cards, p, desk.now);
    out.push_str("</main>\n<footer class=\"quiet\">Times are UTC on the server; hover one for the exact time.</footer>\n</body></html>\n");
    out
}

/// What the handler reads from the store.
struct Read {
    cards: Vec<SourceCard>,
    hours: Vec<crate::store::HourlyArrivals>,
    stories: Result<(Vec<Story>, Option<PageKey>), FeedQueryError>,
}

/// `GET /`: the desk. It shows feed content, so it needs the token when
/// one is set.
pub(super) async fn page(
    State(state): State<ServeState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.as_deref();
    let token = query::token_of(raw);
    if let Some(t) = &state.token
        && !t.admits(&headers, token.as_deref())
    {
        return auth::unauthorized();
    }
    let ids = state.source_ids();
    let (params, bad_param) = match params::parse(raw, |id| ids.contains(id)) {
        Ok(p) => (p, None),
        Err(e) => (
            DeskParams {
                token,
                ..DeskParams::default()
            },
            Some(e.to_string()),
        ),
    };
    let now = (state.clock)();
    let configured = state.sources();
    let disabled = state.disabled_ids();
    let read = {
        let search = params.feed.search.is_some();
        let (params, configured, disabled) = (params.clone(), configured.clone(), disabled.clone());
        let list = bad_param.is_none();
        let read =
            move |s: &crate::store::Store| read(s, &params, &configured, &disabled, list, now);
        if search {
            state.store.run_search(read).await
        } else {
            state.store.run(read).await
        }
    };
    let read = match read {
        Ok(read) => read,
        Err(e @ StoreError::SearchesBusy) => {
            return super::feeds::unavailable(&format!("{e}; try again in a few seconds"));
        }
        Err(e) => return internal_error("desk", &e),
    };
    let (stories, next, notice, status) = match (read.stories, bad_param) {
        (_, Some(bad)) => (Vec::new(), None, Some(bad), StatusCode::BAD_REQUEST),
        (Ok((stories, next)), None) => (stories, next, None, StatusCode::OK),
        (Err(FeedQueryError::BadSearch(m)), None) => (
            Vec::new(),
            None,
            Some(format!(
                "Not a search this server understands: {}",
                query::search_problem(&m)
            )),
            StatusCode::BAD_REQUEST,
        ),
        (Err(e @ FeedQueryError::TooSlow(_)), None) => (
            Vec::new(),
            None,
            Some(format!("The search took too long: {e}")),
            StatusCode::SERVICE_UNAVAILABLE,
        ),
        (Err(FeedQueryError::Store(e)), None) => return internal_error("desk", &e),
    };
    let names: HashMap<String, String> = configured
        .iter()
        .map(|s| (s.id.to_string(), s.name.clone()))
        .collect();
    let mut choices: Vec<(String, String)> =
        names.iter().map(|(i, n)| (i.clone(), n.clone())).collect();
    choices.sort_by(|a, b| {
        a.1.to_lowercase()
            .cmp(&b.1.to_lowercase())
            .then(a.0.cmp(&b.0))
    });
    let tags: Vec<String> = configured
        .iter()
        .flat_map(|s| s.tags.iter().cloned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let bins = chart::bins(&read.hours, &names, params.span.hours(), now);
    let body = render(&Desk {
        title: &state.title,
        params: &params,
        cards: &read.cards,
        stories: StoriesPart {
            params: &params,
            stories: &stories,
            next,
            sources: &choices,
            tags: &tags,
            notice: notice.as_deref(),
        },
        bins: &bins,
        now,
    });
    let cache = if state.token.is_some() {
        "private, no-cache"
    } else {
        "no-cache"
    };
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
        ],
        body,
    )
        .into_response()
}

/// Reads what the page shows; `list` is false when the parameters were bad
/// (no stories are read then).
fn read(
    s: &crate::store::Store,
    params: &DeskParams,
    configured: &[crate::model::Source],
    disabled: &std::collections::HashSet<String>,
    list: bool,
    now: DateTime<Utc>,
) -> Result<Read, StoreError> {
    let repeats: HashMap<_, _> = s.repeats()?.into_iter().collect();
    let activity: HashMap<_, _> = s
        .source_activity()?
        .into_iter()
        .map(|a| (a.source.clone(), a))
        .collect();
    let intervals: HashMap<_, _> = configured
        .iter()
        .map(|c| (c.id.clone(), c.interval))
        .collect();
    let mut subs: HashMap<_, _> = s
        .websub_subscriptions()?
        .into_iter()
        .map(|sub| (sub.source.clone(), sub))
        .collect();
    let mut cards: Vec<SourceCard> = s
        .source_states()?
        .into_iter()
        .map(|st| {
            let stored = activity.get(&st.id);
            SourceCard {
                status: super::shown_status(&st, intervals.contains_key(&st.id), disabled),
                http_status: st.last_http_status,
                failures: st.consecutive_failures,
                error: st.last_error.clone(),
                gaps: st.gaps,
                last_gap_at: st.last_gap_at,
                repeats: repeats.get(&st.id).map_or(0, |r| r.items),
                last_polled_at: st.last_polled_at,
                next_poll_at: st.next_poll_at,
                items: stored.map_or(0, |a| a.items),
                last_new_at: stored.and_then(|a| a.last_new_at),
                items_per_hour: st
                    .rhythm
                    .as_ref()
                    .map(|r| crate::poll::rhythm::Rhythm::load(Some(r)).mean_rate() * 3600.0),
                interval: intervals.get(&st.id).copied(),
                push: subs.remove(&st.id),
                id: st.id.to_string(),
                name: st.name,
            }
        })
        .collect();
    sources::order(&mut cards);
    let hours = s.arrivals_per_hour(now - TimeDelta::hours(i64::from(params.span.hours())))?;
    let stories = if !list {
        Ok((Vec::new(), None))
    } else {
        match params.view {
            View::Latest => s.feed_page(&params.feed).map(|p| (p.stories, p.next)),
            View::Running => running(s, params, now).map(|v| (v, None)),
        }
    };
    Ok(Read {
        cards,
        hours,
        stories,
    })
}

/// What is running everywhere: the stories of the last 24 h with the
/// most copies (two or more). Unfiltered, the store ranks them all; with a
/// search, source or tag, the newest [`query::MAX_LIMIT`] matching stories
/// of the window are ranked (a larger match is cut there).
fn running(
    s: &crate::store::Store,
    params: &DeskParams,
    now: DateTime<Utc>,
) -> Result<Vec<Story>, FeedQueryError> {
    let since = now - RUNNING_WINDOW;
    let f = &params.feed;
    if f.search.is_none() && f.sources.is_empty() && f.tag.is_none() {
        return Ok(s.most_copied(since, PAGE_STORIES)?);
    }
    let window = crate::store::FeedQuery {
        limit: query::MAX_LIMIT,
        since: Some(since),
        after: None,
        ..f.clone()
    };
    let mut stories: Vec<Story> = s
        .feed_page(&window)?
        .stories
        .into_iter()
        .filter(|st| !st.others.is_empty())
        .collect();
    // Stable: among equals, newest-arrived first, as the page came.
    stories.sort_by_key(|st| std::cmp::Reverse(st.others.len()));
    stories.truncate(PAGE_STORIES);
    Ok(stories)
}

/// `GET /desk.css` and `GET /desk.js`: static, no feed content, so no token
/// (a browser fetches them without the page's `?token=`).
pub(super) async fn css() -> Response {
    asset("text/css; charset=utf-8", CSS)
}

pub(super) async fn js() -> Response {
    asset("text/javascript; charset=utf-8", JS)
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(kind)),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=86400"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests;
