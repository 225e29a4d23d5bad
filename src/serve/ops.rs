//! The operator's routes: `/readyz`, `/metrics`, and
//! the middleware that counts every HTTP request.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::Utc;

use super::{ServeState, internal_error};
use crate::ops::metrics::{CONTENT_TYPE, StoreGauges};
use crate::store::StoreError;

/// Counts the request by route pattern (`other` when nothing matched, so
/// probing for random paths cannot grow the label set) and status.
pub(super) async fn track(
    State(state): State<ServeState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    state
        .metrics
        .http_request(&route, response.status().as_u16(), started.elapsed());
    response
}

/// `200 ready`, or `503` with the reason.
pub(super) async fn readyz(State(state): State<ServeState>) -> Response {
    let mut response = match state.readiness.not_ready_because() {
        None => (StatusCode::OK, "ready\n".to_owned()).into_response(),
        Some(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}\n"),
        )
            .into_response(),
    };
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The metrics, with the store's gauges read now.
pub(super) async fn metrics(State(state): State<ServeState>) -> Response {
    if !state.metrics_enabled {
        return super::not_found().await;
    }
    let configured = state.source_ids();
    let gauges = state
        .store
        .run(move |s| {
            let counts = s.counts()?;
            let now = Utc::now();
            let mut failing = 0;
            let mut lag = 0.0_f64;
            for st in s.source_states()? {
                if !configured.contains(st.id.as_str()) {
                    continue;
                }
                if st.consecutive_failures > 0 {
                    failing += 1;
                }
                if let Some(due) = st.next_poll_at
                    && due < now
                {
                    lag = lag.max((now - due).num_milliseconds() as f64 / 1000.0);
                }
            }
            Ok::<_, StoreError>(StoreGauges {
                stories: counts.stories,
                items: counts.items,
                sources_failing: failing,
                next_poll_lag_seconds: lag,
                database_bytes: s.database_bytes()?,
                learned_paragraphs: s.learned_paragraphs(),
            })
        })
        .await;
    match gauges {
        Ok(g) => state.metrics.set_store_gauges(&g),
        Err(e) => return internal_error("metrics", &e),
    }
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        state.metrics.render(),
    )
        .into_response()
}
