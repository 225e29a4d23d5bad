//! Serving: the merged feed, the sources and health over HTTP. The only
//! `axum` user.
//!
//! [`router`] is testable without a socket. A feed request goes: access
//! check ([`auth`]) → parameters ([`query`]) → the page cache ([`cache`]),
//! which reads the store and calls the pure renderers in [`render`] only
//! when the store's generation has moved on → conditional answer (`304` when
//! the reader's `If-None-Match` / `If-Modified-Since` still holds) → the
//! coding negotiated from `Accept-Encoding` ([`encoding`]; compressed bytes
//! are cached with the page). `serve` never fetches.
//! Errors answer a generic message and log the cause; a bad parameter is a
//! `400` naming it.

mod auth;
mod cache;
pub mod desk;
mod encoding;
mod feeds;
pub mod hub;
mod ops;
pub mod query;
pub mod render;
pub mod server;
pub mod websub;

use std::collections::HashSet;
use std::sync::{Arc, RwLock};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Utc};
use url::Url;

use crate::model::Source;
use crate::ops::{Metrics, Readiness};
use crate::store::Store;

use cache::{Page, PageCache, PageId};
use query::ParamError;
pub use render::{Entries, FeedMeta};

/// How many URLs the page cache keeps, and about how many bytes of pages:
/// a first page of 50 entries is some 50 kB, the largest (500) some 500 kB.
const CACHE_URLS: usize = 256;
const CACHE_BYTES: usize = 32 << 20;

/// What the handlers share; cheap to clone.
///
/// One `Arc` around the fields rather than a struct of `Arc`s: axum clones
/// the state several times per request (the middleware's and each
/// handler's `State`), and with serving loops on every core each clone of a
/// field's `Arc` was an atomic on a cache line the other cores write too
/// (and `base_url` a `String` copied); clones and drops of the state were
/// ~3 % of the time answering `304`s (issue #8).
#[derive(Clone)]
pub struct ServeState(Arc<Shared>);

/// The fields of [`ServeState`], which derefs to it (public only because a
/// `Deref` target must be; the fields are private). Cloned only by a
/// `with_*` builder called while the state is shared, which startup never
/// does.
#[derive(Clone)]
pub struct Shared {
    store: Store,
    title: Arc<str>,
    base_url: Url,
    /// The configured sources; replaced on a reload.
    configured: Arc<RwLock<Configured>>,
    token: Option<auth::Token>,
    cache: Arc<PageCache>,
    metrics: Metrics,
    metrics_enabled: bool,
    readiness: Readiness,
    /// The time, read when a response decides on `Last-Modified`.
    clock: Clock,
    /// The WebSub callback's handler, when push is on.
    callbacks: Option<Arc<dyn websub::Callbacks>>,
    /// The WebSub hub advertised, and ours when it is ours (#16).
    hub: Option<hub::HubDoor>,
    token_text: Option<String>,
}

/// Where the server reads the time from (tests set it).
pub type Clock = Arc<dyn Fn() -> DateTime<Utc> + Send + Sync>;

impl std::ops::Deref for ServeState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl ServeState {
    /// The feeds' links are built on the public `base_url`.
    pub fn new(store: Store, title: &str, base_url: &Url) -> ServeState {
        ServeState(Arc::new(Shared {
            store,
            title: title.into(),
            base_url: base_url.clone(),
            configured: Arc::default(),
            token: None,
            cache: Arc::new(PageCache::new(CACHE_URLS, CACHE_BYTES)),
            metrics: Metrics::new(),
            metrics_enabled: true,
            readiness: Readiness::default(),
            clock: Arc::new(Utc::now),
            callbacks: None,
            hub: None,
            token_text: None,
        }))
    }

    /// A server that reads the time from `clock`.
    /// Answers WebSub callbacks (`/websub/callback/…`) through `callbacks`.
    pub fn with_callbacks(mut self, callbacks: Arc<dyn websub::Callbacks>) -> ServeState {
        Arc::make_mut(&mut self.0).callbacks = Some(callbacks);
        self
    }

    pub fn with_clock(mut self, clock: Clock) -> ServeState {
        Arc::make_mut(&mut self.0).clock = clock;
        self
    }

    /// The metrics `/metrics` renders and every request is counted in, and
    /// the readiness `/readyz` answers from.
    pub fn with_ops(mut self, metrics: &Metrics, readiness: &Readiness) -> ServeState {
        let shared = Arc::make_mut(&mut self.0);
        shared.metrics = metrics.clone();
        shared.readiness = readiness.clone();
        self
    }

    /// Whether `/metrics` is served (`[server].metrics`); it never needs the
    /// token.
    pub fn with_metrics_enabled(mut self, enabled: bool) -> ServeState {
        Arc::make_mut(&mut self.0).metrics_enabled = enabled;
        self
    }

    /// The configured sources: listed in `/sources.opml`, and the ids
    /// `source=` accepts.
    pub fn with_sources(mut self, sources: &[Source]) -> ServeState {
        Arc::make_mut(&mut self.0).configured = Arc::new(RwLock::new(Configured::new(sources)));
        self
    }

    /// The ids of the sources the config lists with `enabled = false`:
    /// shown as `disabled`, not `removed`.
    pub fn with_disabled(self, ids: &[String]) -> ServeState {
        self.configured
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .disabled = Arc::new(ids.iter().cloned().collect());
        self
    }

    /// Replaces the configured sources in this state and every clone of it
    /// (a reload).
    pub fn set_sources(&self, sources: &[Source], disabled: &[String]) {
        let mut configured = Configured::new(sources);
        configured.disabled = Arc::new(disabled.iter().cloned().collect());
        *self.configured.write().unwrap_or_else(|p| p.into_inner()) = configured;
    }

    fn disabled_ids(&self) -> Arc<HashSet<String>> {
        self.configured
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .disabled
            .clone()
    }

    fn sources(&self) -> Arc<[Source]> {
        self.configured
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .sources
            .clone()
    }

    /// The configured source ids now (the hub judges its topics by them).
    pub fn source_ids_now(&self) -> Arc<HashSet<String>> {
        self.source_ids()
    }

    /// The configured `server.token`, as the hub pings an external hub
    /// with the feeds' URLs. Only the digest is kept for checking, so
    /// this is the text given to [`ServeState::with_token`].
    pub fn token_text(&self) -> Option<String> {
        self.token_text.clone()
    }

    fn source_ids(&self) -> Arc<HashSet<String>> {
        self.configured
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .ids
            .clone()
    }

    /// Advertises a WebSub hub on the feeds, and takes requests at
    /// `POST /websub/hub` when it is ours (#16).
    pub fn with_hub(mut self, door: hub::HubDoor) -> ServeState {
        Arc::make_mut(&mut self.0).hub = Some(door);
        self
    }

    /// Requires `token` on every route but `/healthz`.
    pub fn with_token(mut self, token: Option<&str>) -> ServeState {
        let shared = Arc::make_mut(&mut self.0);
        shared.token = token.map(auth::Token::new);
        shared.token_text = token.map(str::to_owned);
        self
    }

    fn url(&self, path: &str, query: &str) -> String {
        let mut url = self
            .base_url
            .join(path)
            .map(String::from)
            .unwrap_or_else(|_| format!("{}{path}", self.base_url));
        if !query.is_empty() {
            url.push('?');
            url.push_str(query);
        }
        url
    }
}

/// The configured sources and their ids.
#[derive(Default)]
struct Configured {
    sources: Arc<[Source]>,
    ids: Arc<HashSet<String>>,
    /// Listed with `enabled = false`.
    disabled: Arc<HashSet<String>>,
}

impl Configured {
    fn new(sources: &[Source]) -> Configured {
        Configured {
            sources: sources.into(),
            ids: Arc::new(sources.iter().map(|s| s.id.to_string()).collect()),
            disabled: Arc::default(),
        }
    }
}

/// The status shown for a stored source: `disabled` when the config lists
/// it with `enabled = false` (it was shown as `removed`), else the store's.
fn shown_status(
    state: &crate::store::SourceState,
    configured: bool,
    disabled: &HashSet<String>,
) -> String {
    if disabled.contains(state.id.as_str()) {
        "disabled".to_owned()
    } else {
        state.shown_status(configured)
    }
}

/// The HTTP routes.
pub fn router(state: ServeState) -> Router {
    Router::new()
        .route("/feed.atom", get(feeds::atom))
        .route("/feed.rss", get(feeds::rss))
        .route("/feed.json", get(feeds::json))
        .route("/sources.opml", get(sources_opml))
        .route("/sources.json", get(sources_json))
        .route("/healthz", get(healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/", get(desk::page))
        .route("/desk.css", get(desk::css))
        .route("/desk.js", get(desk::js))
        .route(
            "/websub/callback/{token}",
            get(websub::verify).post(websub::push),
        )
        .route("/websub/hub", axum::routing::post(hub::request))
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            ops::track,
        ))
        .with_state(state)
}

/// For a route that takes no parameter but the token: the answer that
/// refuses the request (401 without the token), or `None` to go on. Other
/// parameters are ignored, as on the feeds (readers and proxies add
/// `utm_source=`, cache-busters `_=`).
fn only_token(state: &ServeState, headers: &HeaderMap, raw: Option<&str>) -> Option<Response> {
    if let Some(token) = &state.token
        && !token.admits(headers, query::token_of(raw).as_deref())
    {
        return Some(auth::unauthorized());
    }
    None
}

/// One source's poll state, as `/sources.json` shows it.
#[derive(serde::Serialize)]
struct SourceView {
    id: String,
    name: String,
    url: String,
    /// Polled instead of `url` after a permanent redirect.
    effective_url: Option<String>,
    /// `ok`, `not_modified`, `unchanged`, `gone`, `error`, `new` (never
    /// polled) or `removed` (no longer in the config).
    status: String,
    http_status: Option<u16>,
    last_polled_at: Option<DateTime<Utc>>,
    last_ok_at: Option<DateTime<Utc>>,
    next_poll_at: Option<DateTime<Utc>>,
    consecutive_failures: u32,
    last_error: Option<String>,
    duration_ms: Option<u64>,
    bytes: Option<u64>,
    /// Polls whose window shared nothing with the last one (items were
    /// probably missed), and when the last one was.
    gaps: u32,
    last_gap_at: Option<DateTime<Utc>>,
    /// The rate its polls have learned, items an hour (`null` before the
    /// first answer).
    items_per_hour: Option<f64>,
    /// Items the source sent again under new ids (its ids churn: a session
    /// or a time in them), recognised by their content and not stored
    /// again; 0 if never.
    repeats: u64,
    repeated_at: Option<DateTime<Utc>>,
    /// New items its keep/block rules held back (never served), as long
    /// as retention keeps them; 0 if none.
    blocked: u64,
    /// Its subscription to a publisher's WebSub hub (#16); `null`: none.
    push: Option<websub::PushView>,
}

/// `GET /sources.json`: every source with its poll state.
async fn sources_json(
    State(state): State<ServeState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = only_token(&state, &headers, raw.as_deref()) {
        return refused;
    }
    let read = state
        .store
        .run(|s| {
            let subs = s.websub_subscriptions()?;
            Ok((s.source_states()?, s.repeats()?, s.blocked_counts()?, subs))
        })
        .await;
    let (states, repeats, blocked, subs) = match read {
        Ok(read) => read,
        Err(e) => return internal_error("sources.json", &e.to_string()),
    };
    let repeats: std::collections::HashMap<_, _> = repeats.into_iter().collect();
    let blocked: std::collections::HashMap<_, _> = blocked.into_iter().collect();
    let mut subs: std::collections::HashMap<_, _> = subs
        .into_iter()
        .map(|sub| (sub.source.clone(), sub))
        .collect();
    let (ids, disabled) = (state.source_ids(), state.disabled_ids());
    let views: Vec<SourceView> = states
        .into_iter()
        .map(|s| {
            let repeated = repeats.get(&s.id).copied();
            SourceView {
                repeats: repeated.map_or(0, |r| r.items),
                blocked: blocked.get(&s.id).copied().unwrap_or(0),
                push: subs.remove(&s.id).map(websub::PushView::from),
                repeated_at: repeated.and_then(|r| r.last_at),
                status: shown_status(&s, ids.contains(s.id.as_str()), &disabled),
                id: s.id.to_string(),
                name: s.name,
                url: s.url,
                effective_url: s.effective_url,
                http_status: s.last_http_status,
                last_polled_at: s.last_polled_at,
                last_ok_at: s.last_ok_at,
                next_poll_at: s.next_poll_at,
                consecutive_failures: s.consecutive_failures,
                last_error: s.last_error,
                duration_ms: s.last_duration_ms,
                bytes: s.last_bytes,
                gaps: s.gaps,
                last_gap_at: s.last_gap_at,
                items_per_hour: s.rhythm.as_ref().map(|r| {
                    let rate = crate::poll::rhythm::Rhythm::load(Some(r)).mean_rate() * 3600.0;
                    (rate * 100.0).round() / 100.0
                }),
            }
        })
        .collect();
    let mut response = axum::Json(views).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn sources_opml(
    State(state): State<ServeState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if let Some(refused) = only_token(&state, &headers, raw.as_deref()) {
        return refused;
    }
    let id = PageId {
        format: "sources.opml",
        query: String::new(),
    };
    let store = state.store.clone();
    let page = state
        .cache
        .get(
            id,
            || store.generation(),
            |previous: Option<Arc<Page>>| {
                let state = &state;
                async move {
                    let shown: Vec<_> = state.sources().iter().map(Source::shown).collect();
                    let body = render::opml(&state.title, &shown);
                    Ok::<_, std::convert::Infallible>(cache::page(
                        body,
                        previous.as_deref(),
                        state.store.last_change(),
                    ))
                }
            },
        )
        .await;
    match page {
        Ok(page) => {
            let private = state.token.is_some();
            feeds::respond(
                "text/x-opml; charset=utf-8",
                &page,
                &headers,
                private,
                (state.clock)(),
            )
            .await
        }
        Err(never) => match never {},
    }
}

#[derive(serde::Serialize)]
struct Health {
    status: &'static str,
    sources: i64,
    items: i64,
    stories: i64,
}

async fn healthz(State(state): State<ServeState>) -> Response {
    match state.store.run(|s| s.counts()).await {
        Ok(c) => axum::Json(Health {
            status: "ok",
            sources: c.sources,
            items: c.items,
            stories: c.stories,
        })
        .into_response(),
        Err(e) => internal_error("healthz", &e),
    }
}

async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

fn bad_request(e: &ParamError) -> Response {
    (StatusCode::BAD_REQUEST, format!("{e}\n")).into_response()
}

/// A generic 500; the cause goes to the log, never to the client.
fn internal_error(route: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(route, error = %e, "request failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_none_match_compares_weakly_and_accepts_lists_and_star() {
        let ours = "W/\"abc\"";
        for (header, expected) in [
            ("W/\"abc\"", true),
            ("\"abc\"", true),
            ("\"x\", W/\"abc\"", true),
            ("*", true),
            ("W/\"abd\"", false),
            ("", false),
        ] {
            let value = HeaderValue::from_static(header);
            assert_eq!(feeds::etag_matches(&value, ours), expected, "{header}");
        }
    }
}
