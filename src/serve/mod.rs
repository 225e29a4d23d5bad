//! Serving: the merged feed and health over HTTP. The only `axum` user.
//!
//! [`router`] is testable without a socket; the handlers read from the store
//! and hand data to the pure renderers in [`render`]. `serve` never fetches.
//! Errors answer a generic message and log the cause.

pub mod render;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::Utc;
use url::Url;

use crate::store::Store;

pub use render::FeedMeta;

/// How many stories the merged feed shows.
pub const PAGE_SIZE: usize = 50;

/// What the handlers share.
#[derive(Clone)]
pub struct ServeState {
    pub store: Store,
    pub meta: FeedMeta,
}

impl ServeState {
    /// The feed's links are built on the public `base_url`.
    pub fn new(store: Store, title: &str, base_url: &Url) -> ServeState {
        let join = |path: &str| {
            base_url
                .join(path)
                .map(String::from)
                .unwrap_or_else(|_| format!("{base_url}{path}"))
        };
        ServeState {
            store,
            meta: FeedMeta {
                title: title.to_owned(),
                self_url: join("feed.atom"),
                home_url: join(""),
            },
        }
    }
}

/// The HTTP routes.
pub fn router(state: ServeState) -> Router {
    Router::new()
        .route("/feed.atom", get(feed_atom))
        .route("/healthz", get(healthz))
        .fallback(not_found)
        .with_state(state)
}

async fn feed_atom(State(state): State<ServeState>) -> Response {
    match state.store.run(|s| s.latest_stories(PAGE_SIZE)).await {
        Ok(stories) => {
            let body = render::atom(&state.meta, &stories, Utc::now());
            (
                [(header::CONTENT_TYPE, "application/atom+xml; charset=utf-8")],
                body,
            )
                .into_response()
        }
        Err(e) => internal_error("feed.atom", &e),
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

/// A generic 500; the cause goes to the log, never to the client.
fn internal_error(route: &str, e: &dyn std::fmt::Display) -> Response {
    tracing::error!(route, error = %e, "request failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error\n").into_response()
}
