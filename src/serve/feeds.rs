//! The three feeds: parameters read, the page read from the store and
//! rendered once per change of the data (the page cache), and the answer a
//! reader's validators call for (`304`, or the page in the best coding).

use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::cache::{self, Page, PageId};
use super::query::ParamError;
use super::render::{Entries, FeedMeta};
use super::{ServeState, auth, bad_request, encoding, internal_error, query, render};
use crate::model::{SourceId, Story};
use crate::store::{FeedQueryError, StoreError};

/// A feed format: its path, media type and renderer.
pub(super) struct Format {
    path: &'static str,
    pub(super) content_type: &'static str,
    pub(super) render: fn(&FeedMeta, &[Story], DateTime<Utc>) -> String,
}

const ATOM: Format = Format {
    path: "feed.atom",
    content_type: "application/atom+xml; charset=utf-8",
    render: render::atom,
};
const RSS: Format = Format {
    path: "feed.rss",
    content_type: "application/rss+xml; charset=utf-8",
    render: render::rss,
};
const JSON: Format = Format {
    path: "feed.json",
    content_type: "application/feed+json; charset=utf-8",
    render: render::json,
};

/// The format served at `path` (`feed.atom`, …).
pub(super) fn format(path: &str) -> Option<&'static Format> {
    [&ATOM, &RSS, &JSON].into_iter().find(|f| f.path == path)
}

/// `path` as the static name of a format served there.
pub(super) fn format_path(path: &str) -> Option<&'static str> {
    format(path).map(|f| f.path)
}

pub(super) async fn atom(state: State<ServeState>, headers: HeaderMap, raw: RawQuery) -> Response {
    feed(&ATOM, state, headers, raw).await
}

pub(super) async fn rss(state: State<ServeState>, headers: HeaderMap, raw: RawQuery) -> Response {
    feed(&RSS, state, headers, raw).await
}

pub(super) async fn json(state: State<ServeState>, headers: HeaderMap, raw: RawQuery) -> Response {
    feed(&JSON, state, headers, raw).await
}

/// Why a page could not be rendered.
enum Failure {
    BadSearch(String),
    /// The page took longer than the store's budget to read.
    TooSlow(String),
    /// Too many searches at once: no search slot came free in time.
    Busy(String),
    Internal(String),
}

async fn feed(
    format: &'static Format,
    State(state): State<ServeState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.as_deref();
    if let Some(token) = &state.token
        && !token.admits(&headers, query::token_of(raw).as_deref())
    {
        return auth::unauthorized();
    }
    let ids = state.source_ids();
    let params = match query::parse(raw, |id| ids.contains(id)) {
        Ok(p) => p,
        Err(e) => return bad_request(&e),
    };
    // A token given in the URL stays in the links, or following them fails.
    let canonical = query::canonical(&params.query, params.token.as_deref());
    // WebSub discovery (#16): the hub, and the topic this is.
    let link = state
        .hub
        .as_ref()
        .map(|hub| super::hub::link_header(hub.url.as_str(), &state.url(format.path, &canonical)));
    let id = PageId {
        format: format.path,
        query: canonical.clone(),
    };
    let store = state.store.clone();
    let page = state
        .cache
        .get(
            id,
            || store.generation(),
            |previous| render_page(&state, format, params, canonical, previous),
        )
        .await;
    match page {
        Ok(page) => {
            let private = state.token.is_some();
            let mut response = respond(
                format.content_type,
                &page,
                &headers,
                private,
                (state.clock)(),
            )
            .await;
            if let Some(link) = link.and_then(|l| HeaderValue::from_str(&l).ok()) {
                response.headers_mut().insert(header::LINK, link);
            }
            response
        }
        Err(Failure::BadSearch(message)) => bad_request(&ParamError {
            param: "q".into(),
            message: format!(
                "not a search this server understands: {}; see README, \"Feeds and queries\"",
                query::search_problem(&message)
            ),
        }),
        Err(Failure::TooSlow(why)) => unavailable(&format!(
            "{why}: narrow the search (fewer words, prefixes or a closer NEAR)"
        )),
        Err(Failure::Busy(why)) => unavailable(&format!("{why}; try again in a few seconds")),
        Err(Failure::Internal(e)) => internal_error(format.path, &e),
    }
}

/// Reads the page from the store and renders it.
async fn render_page(
    state: &ServeState,
    format: &'static Format,
    params: query::Params,
    canonical: String,
    previous: Option<Arc<Page>>,
) -> Result<Page, Failure> {
    let q = params.query.clone();
    let read = move |s: &crate::store::Store| Ok(s.feed_page(&q));
    let page = if params.query.search.is_some() {
        state.store.run_search(read).await
    } else {
        state.store.run(read).await
    };
    let page = page
        .map_err(|e| match e {
            e @ StoreError::SearchesBusy => Failure::Busy(e.to_string()),
            e => Failure::Internal(e.to_string()),
        })?
        .map_err(|e| match e {
            FeedQueryError::BadSearch(m) => Failure::BadSearch(m),
            e @ FeedQueryError::TooSlow(_) => Failure::TooSlow(e.to_string()),
            FeedQueryError::Store(e) => Failure::Internal(e.to_string()),
        })?;
    let next_url = page.next.map(|key| {
        let mut next = params.query.clone();
        next.after = Some(key);
        state.url(
            format.path,
            &query::canonical(&next, params.token.as_deref()),
        )
    });
    let sources = state.sources();
    let name_of = |id: &SourceId| {
        sources
            .iter()
            .find(|s| &s.id == id)
            .map_or_else(|| id.to_string(), |s| s.name.clone())
    };
    let meta = FeedMeta {
        title: query::title(&state.title, &params.query, name_of),
        self_url: state.url(format.path, &canonical),
        home_url: state.url("", ""),
        next_url,
        entries: if params.query.copies {
            Entries::Copies
        } else {
            Entries::Stories
        },
        hub_url: state.hub.as_ref().map(|h| h.url.to_string()),
    };
    // The document's fallback date is the data's, not the wall clock's, so
    // the same data renders the same bytes (and the same ETag).
    let changed = state.store.last_change();
    let body = (format.render)(&meta, &page.stories, changed);
    Ok(cache::page(body, previous.as_deref(), changed))
}

/// `304` when the reader's validators still hold, else the page in the
/// best coding the reader accepts. `If-None-Match` wins over
/// `If-Modified-Since` (RFC 9110 §13.2.2).
///
/// `Last-Modified` has whole seconds, and a reader given one drops any later
/// answer that carries the same (libcurl, and so newsboat, does so
/// itself: a `200` whose `Last-Modified` is not newer than the one sent is
/// taken as unchanged). So a page whose data changed in the current second
/// (`now`), which may change again within it, is sent without one, and
/// answers no `If-Modified-Since` with a `304`: any `Last-Modified` a reader
/// holds is from a second already over, and the next change is dated later.
pub(super) async fn respond(
    content_type: &'static str,
    page: &Page,
    headers: &HeaderMap,
    private: bool,
    now: DateTime<Utc>,
) -> Response {
    let settled = page.last_modified.timestamp() < now.timestamp();
    let not_modified = match headers.get(header::IF_NONE_MATCH) {
        Some(value) => etag_matches(value, &page.etag),
        None => {
            settled
                && headers
                    .get(header::IF_MODIFIED_SINCE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| httpdate::parse_http_date(v).ok())
                    .is_some_and(|since| {
                        DateTime::<Utc>::from(since).timestamp() >= page.last_modified.timestamp()
                    })
        }
    };
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        let coding = encoding::negotiate(headers);
        let (coding, body) = match page.encoded(coding).await {
            Some(body) => (coding, body),
            None => (encoding::Coding::Identity, page.body.clone()),
        };
        let mut response = (
            [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
            body,
        )
            .into_response();
        if let Some(name) = coding.header() {
            response
                .headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static(name));
        }
        response
    };
    let h = response.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if let Ok(etag) = HeaderValue::from_str(&page.etag) {
        h.insert(header::ETAG, etag);
    }
    let date = httpdate::fmt_http_date(page.last_modified.into());
    if let Ok(date) = HeaderValue::from_str(&date)
        && settled
    {
        h.insert(header::LAST_MODIFIED, date);
    }
    // Readers revalidate every time: a 304 is cheap.
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if private {
            "private, no-cache"
        } else {
            "no-cache"
        }),
    );
    response
}

/// Weak comparison of an `If-None-Match` list against our ETag.
pub(super) fn etag_matches(value: &HeaderValue, etag: &str) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    let ours = etag.trim_start_matches("W/");
    value
        .split(',')
        .map(str::trim)
        .any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == ours)
}

/// `503` for a page cut off by the store's time budget (the question was
/// too costly: a narrower one gets an answer) or refused for want of a
/// search slot (too many searches at once): the server is fine either way.
pub(super) fn unavailable(why: &str) -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [(header::RETRY_AFTER, "10")],
        format!("{why}\n"),
    )
        .into_response()
}
