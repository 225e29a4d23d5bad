//! The WebSub callback (#16, the subscriber side):
//! `GET /websub/callback/{token}` answers a hub's verification of intent,
//! `POST /websub/callback/{token}` takes a push. The token is a random
//! secret per subscription, so a callback cannot be guessed. `serve`
//! neither decides nor ingests: it hands both to [`Callbacks`] (the
//! subscriber, wired by `app`) and answers quickly.

use std::future::Future;
use std::pin::Pin;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::ServeState;

/// The longest callback token taken; ours are 48 hex digits.
const MAX_TOKEN: usize = 128;
/// The longest `hub.challenge` echoed.
const MAX_CHALLENGE: usize = 1024;

pub type Answer<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A hub's verification of intent, as its query says.
#[derive(Debug, Default, serde::Deserialize)]
pub struct VerifyQuery {
    #[serde(rename = "hub.mode", default)]
    pub mode: String,
    #[serde(rename = "hub.topic", default)]
    pub topic: String,
    #[serde(rename = "hub.challenge")]
    pub challenge: Option<String>,
    #[serde(rename = "hub.lease_seconds")]
    pub lease_seconds: Option<String>,
    #[serde(rename = "hub.reason")]
    pub reason: Option<String>,
}

/// What the callback routes hand their requests to.
pub trait Callbacks: Send + Sync {
    /// The challenge to echo, or `None` to answer 404.
    fn verify(&self, token: String, query: VerifyQuery) -> Answer<'_, Option<String>>;
    /// The status to answer a push with (2xx also for a bad signature).
    fn push(
        &self,
        token: String,
        signature: Option<String>,
        content_type: Option<String>,
        bytes: Vec<u8>,
    ) -> Answer<'_, StatusCode>;
    /// The largest body taken (`[poll].max_body`).
    fn max_body(&self) -> usize;
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "no such subscription\n").into_response()
}

/// `GET /websub/callback/{token}`: a verification of intent.
pub async fn verify(
    State(state): State<ServeState>,
    Path(token): Path<String>,
    query: Result<Query<VerifyQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let (Some(callbacks), Ok(Query(query))) = (state.callbacks.as_ref(), query) else {
        return not_found();
    };
    if token.len() > MAX_TOKEN
        || query
            .challenge
            .as_ref()
            .is_some_and(|c| c.len() > MAX_CHALLENGE)
    {
        return not_found();
    }
    match callbacks.verify(token, query).await {
        Some(challenge) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            challenge,
        )
            .into_response(),
        None => not_found(),
    }
}

/// `POST /websub/callback/{token}`: a push, at most `[poll].max_body`.
pub async fn push(
    State(state): State<ServeState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(callbacks) = state.callbacks.as_ref() else {
        return StatusCode::GONE.into_response();
    };
    if token.len() > MAX_TOKEN {
        return StatusCode::GONE.into_response();
    }
    let Ok(bytes) = axum::body::to_bytes(body, callbacks.max_body()).await else {
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the body is over the limit\n",
        )
            .into_response();
    };
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let status = callbacks
        .push(
            token,
            text("x-hub-signature"),
            text("content-type"),
            bytes.to_vec(),
        )
        .await;
    status.into_response()
}

/// A source's push state, as `/sources.json` shows it (`push`).
#[derive(Debug, serde::Serialize)]
pub struct PushView {
    /// `subscribing`, `subscribed`, `unsubscribing`, `denied` or `failed`.
    pub state: &'static str,
    pub hub: String,
    pub topic: String,
    pub lease_until: Option<chrono::DateTime<chrono::Utc>>,
    pub last_push_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Pushes ingested, and pushes ignored for a missing or bad signature.
    pub pushes: u64,
    pub bad_signatures: u64,
    /// Why the last request failed or was denied.
    pub last_error: Option<String>,
}

impl From<crate::store::Subscription> for PushView {
    fn from(sub: crate::store::Subscription) -> PushView {
        PushView {
            state: sub.phase.as_str(),
            hub: crate::model::redacted_url(&sub.hub),
            topic: crate::model::redacted_url(&sub.topic),
            lease_until: sub.lease_until,
            last_push_at: sub.last_push_at,
            pushes: sub.pushes,
            bad_signatures: sub.bad_signatures,
            last_error: sub.last_error,
        }
    }
}
