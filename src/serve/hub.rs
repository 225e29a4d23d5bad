//! `POST /websub/hub`: the door of wiredesk's own WebSub hub (#16).
//!
//! A request is judged here, at once, by pure functions ([`read_request`]
//! and the rules it calls): a topic wiredesk serves, a callback the
//! operator allows, a lease within bounds, a secret under 200 bytes, room
//! under the limits. A valid one is answered `202 Accepted` and handed to
//! the hub (`crate::hub`) as an [`Intent`], which verifies it with the
//! callback and stores it; `serve` sends nothing itself. An invalid one
//! gets a `4xx` naming what is wrong.
//!
//! This module also says what the hub needs from serving: the topic's
//! document for a set of stories ([`render_topic`]).

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;
use url::Url;

use super::{ServeState, feeds, query};
use crate::model::{SourceId, Story};
use crate::store::{FeedQuery, PageKey};

/// The largest request body read, in bytes: a topic, a callback and a
/// secret fit many times over.
const MAX_FORM: usize = 16 * 1024;
/// The longest callback URL accepted, in bytes.
pub const MAX_CALLBACK: usize = 2048;
/// The longest topic URL accepted, in bytes.
const MAX_TOPIC: usize = 4096;
/// The spec's bound: a `hub.secret` is under 200 bytes.
pub const MAX_SECRET: usize = 199;
/// The shortest lease given: a subscriber may ask for a short one, as it
/// costs nothing but its own renewals.
pub const MIN_LEASE: Duration = Duration::from_secs(1);

/// What a subscriber asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Subscribe,
    Unsubscribe,
}

impl Mode {
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Subscribe => "subscribe",
            Mode::Unsubscribe => "unsubscribe",
        }
    }
}

/// A served feed variant, as a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topic {
    /// The canonical self URL, as the feed names itself (`rel="self"`).
    pub url: String,
    /// `feed.atom`, `feed.rss` or `feed.json`.
    pub format: &'static str,
    pub query: FeedQuery,
    /// The `token` the topic carries, if any.
    pub token: Option<String>,
}

/// A request that passed every check, for the hub to verify and act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Intent {
    pub mode: Mode,
    pub topic: Topic,
    pub callback: Url,
    /// The lease granted (subscribe only).
    pub lease: Duration,
    pub secret: Option<String>,
}

/// What the door checks requests against.
#[derive(Debug, Clone)]
pub struct HubRules {
    pub default_lease: Duration,
    pub max_lease: Duration,
    pub max_subscriptions: usize,
    pub max_per_topic: usize,
    /// Host patterns (`example.org`, `*.example.org`).
    pub allowed_callbacks: Vec<String>,
}

/// The hub as serving sees it: where it is, and, when it is ours, the
/// queue to the hub's worker and the rules.
#[derive(Clone)]
pub struct HubDoor {
    /// The hub advertised in `Link` headers and documents.
    pub url: Url,
    /// `None` when an external hub is advertised (`websub.hub`).
    pub own: Option<(mpsc::Sender<Intent>, HubRules)>,
}

/// A refused request: its status and the reason shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
}

fn refuse(status: StatusCode, message: impl Into<String>) -> Refusal {
    Refusal {
        status,
        message: message.into(),
    }
}

/// Reads a form into a map; a key given twice is refused.
fn form(body: &[u8]) -> Result<HashMap<String, String>, Refusal> {
    let mut fields = HashMap::new();
    for (key, value) in url::form_urlencoded::parse(body) {
        if fields
            .insert(key.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return Err(refuse(
                StatusCode::BAD_REQUEST,
                format!("{key} is given more than once"),
            ));
        }
    }
    Ok(fields)
}

/// Judges a request's fields. `base_url` is the server's public address;
/// `is_source` says whether a source id exists; `token_ok` whether a
/// topic's `token` admits it to the feed (always, without
/// `server.token`); `tokened` whether `server.token` is set.
pub fn read_request(
    fields: &HashMap<String, String>,
    rules: &HubRules,
    base_url: &Url,
    is_source: impl Fn(&str) -> bool,
    token_ok: impl Fn(Option<&str>) -> bool,
    tokened: bool,
) -> Result<Intent, Refusal> {
    let field = |name: &str| fields.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let bad = |message: String| refuse(StatusCode::BAD_REQUEST, message);
    let mode = match field("hub.mode") {
        Some("subscribe") => Mode::Subscribe,
        Some("unsubscribe") => Mode::Unsubscribe,
        Some(other) => {
            return Err(bad(format!(
                "hub.mode {other:?} is not subscribe or unsubscribe (this hub takes no publish)"
            )));
        }
        None => return Err(bad("hub.mode is missing".into())),
    };
    let topic = field("hub.topic").ok_or_else(|| bad("hub.topic is missing".into()))?;
    let topic = topic_of(topic, base_url, is_source).map_err(bad)?;
    if !token_ok(topic.token.as_deref()) {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "hub.topic: the feed needs the token; subscribe to the feed's own self URL, which carries it",
        ));
    }
    let callback = field("hub.callback").ok_or_else(|| bad("hub.callback is missing".into()))?;
    let callback = callback_of(callback, &rules.allowed_callbacks, tokened)?;
    let secret = field("hub.secret").map(str::to_owned);
    if secret.as_ref().is_some_and(|s| s.len() > MAX_SECRET) {
        return Err(bad(format!(
            "hub.secret must be under 200 bytes (at most {MAX_SECRET})"
        )));
    }
    let lease = grant_lease(field("hub.lease_seconds"), rules).map_err(bad)?;
    Ok(Intent {
        mode,
        topic,
        callback,
        lease,
        secret,
    })
}

/// The lease given for an asked `hub.lease_seconds`: the default when none
/// is asked, else the asked one within [`MIN_LEASE`]..=`max_lease`.
pub fn grant_lease(asked: Option<&str>, rules: &HubRules) -> Result<Duration, String> {
    let Some(asked) = asked else {
        return Ok(rules.default_lease);
    };
    let seconds: u64 = asked
        .parse()
        .map_err(|_| format!("hub.lease_seconds {asked:?} is not a whole number of seconds"))?;
    Ok(Duration::from_secs(seconds).clamp(MIN_LEASE, rules.max_lease))
}

/// The topic `text` names: a URL of a feed this server serves, under
/// `base_url`, with parameters it accepts; written back in the canonical
/// form the feed names itself by. A page (`cursor=`) is not a topic.
pub fn topic_of(
    text: &str,
    base_url: &Url,
    is_source: impl Fn(&str) -> bool,
) -> Result<Topic, String> {
    if text.len() > MAX_TOPIC {
        return Err(format!("hub.topic is longer than {MAX_TOPIC} bytes"));
    }
    let url = Url::parse(text).map_err(|_| format!("hub.topic {text:?} is not a URL"))?;
    let format = base_url
        .make_relative(&url)
        .filter(|_| url.origin() == base_url.origin())
        .map(|rel| rel.split(['?', '#']).next().unwrap_or("").to_owned())
        .and_then(|path| feeds::format_path(&path))
        .ok_or_else(|| {
            format!(
                "hub.topic {text:?} is not a feed this server serves: topics are {base_url}feed.atom, \
                 feed.rss and feed.json, with their query parameters"
            )
        })?;
    let params = query::parse(url.query(), is_source).map_err(|e| format!("hub.topic: {e}"))?;
    if params.query.after.is_some() {
        return Err("hub.topic: a page (cursor=) is not a topic; subscribe to the feed".into());
    }
    let canonical = query::canonical(&params.query, params.token.as_deref());
    let mut url = base_url
        .join(format)
        .map_err(|e| format!("hub.topic: {e}"))?
        .to_string();
    if !canonical.is_empty() {
        url.push('?');
        url.push_str(&canonical);
    }
    Ok(Topic {
        url,
        format,
        query: params.query,
        token: params.token,
    })
}

/// Whether `host` matches one of `patterns` (`example.org` exactly,
/// `*.example.org` for its subdomains and itself).
pub fn host_allowed(host: &str, patterns: &[String]) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    patterns.iter().any(|p| match p.strip_prefix("*.") {
        Some(suffix) => host == suffix || host.ends_with(&format!(".{suffix}")),
        None => host == *p,
    })
}

/// The callback `text` names, if the operator's rules let the hub call
/// it: `http(s)`, at most [`MAX_CALLBACK`] bytes; on a host in
/// `allowed` when that list is given or `server.token` is set; else on a
/// public host (a loopback, private or link-local one must be listed).
pub fn callback_of(text: &str, allowed: &[String], tokened: bool) -> Result<Url, Refusal> {
    let bad = |message: String| refuse(StatusCode::BAD_REQUEST, message);
    let forbidden = |message: String| refuse(StatusCode::FORBIDDEN, message);
    if text.len() > MAX_CALLBACK {
        return Err(bad(format!(
            "hub.callback is longer than {MAX_CALLBACK} bytes"
        )));
    }
    let url = Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| {
            bad(format!(
                "hub.callback {text:?} is not an http:// or https:// URL"
            ))
        })?;
    let host = url.host_str().unwrap_or_default();
    if host_allowed(host, allowed) {
        return Ok(url);
    }
    if tokened {
        return Err(forbidden(format!(
            "hub.callback: the feeds need a token here, and only callbacks on the hosts the \
             operator lists in websub.allowed_callbacks get them; {host} is not one"
        )));
    }
    if !allowed.is_empty() {
        return Err(forbidden(format!(
            "hub.callback: {host} is not among the hosts this hub calls back (websub.allowed_callbacks)"
        )));
    }
    if crate::poll::fetch::is_local(&url) {
        return Err(forbidden(format!(
            "hub.callback: {host} is a loopback, private or link-local address; this hub calls \
             such a host only when the operator lists it in websub.allowed_callbacks"
        )));
    }
    Ok(url)
}

/// `POST /websub/hub`.
pub(super) async fn request(State(state): State<ServeState>, request: Request) -> Response {
    let Some((intake, rules)) = state.hub.as_ref().and_then(|h| h.own.clone()) else {
        return (StatusCode::NOT_FOUND, "no hub is served here\n").into_response();
    };
    let form_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_type {
        return answer(refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a hub request is a form: Content-Type application/x-www-form-urlencoded",
        ));
    }
    let body = match axum::body::to_bytes(request.into_body(), MAX_FORM).await {
        Ok(body) => body,
        Err(_) => {
            return answer(refuse(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("a hub request is at most {MAX_FORM} bytes"),
            ));
        }
    };
    let intent = form(&body).and_then(|fields| {
        let ids = state.source_ids();
        read_request(
            &fields,
            &rules,
            &state.base_url,
            |id| ids.contains(id),
            |token| {
                state
                    .token
                    .as_ref()
                    .is_none_or(|t| t.admits(&Default::default(), token))
            },
            state.token.is_some(),
        )
    });
    let intent = match intent {
        Ok(intent) => intent,
        Err(refusal) => return answer(refusal),
    };
    if intent.mode == Mode::Subscribe
        && let Err(refusal) = room_for(&state, &intent, &rules).await
    {
        return answer(refusal);
    }
    match intake.try_send(intent) {
        Ok(()) => (
            StatusCode::ACCEPTED,
            "accepted: verifying intent with the callback\n",
        )
            .into_response(),
        Err(mpsc::error::TrySendError::Full(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::RETRY_AFTER, "10")],
            "the hub is busy verifying other requests; try again shortly\n",
        )
            .into_response(),
        Err(mpsc::error::TrySendError::Closed(_)) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the hub is shutting down\n",
        )
            .into_response(),
    }
}

/// Refuses a new subscription when the limits are reached (a renewal is
/// always let through); the store checks again when it stores it.
async fn room_for(state: &ServeState, intent: &Intent, rules: &HubRules) -> Result<(), Refusal> {
    let (topic, callback) = (intent.topic.url.clone(), intent.callback.to_string());
    let now = (state.clock)();
    let read = state
        .store
        .run(move |s| {
            Ok((
                s.hub_subscription(&topic, &callback)?,
                s.hub_counts(&topic, now)?,
            ))
        })
        .await;
    let (held, (total, on_topic)) = read.map_err(|e| {
        tracing::error!(error = %e, "hub: cannot read the subscriptions");
        refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    })?;
    if held.is_some_and(|h| h.expires_at > now) {
        return Ok(());
    }
    if total >= rules.max_subscriptions {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "this hub holds as many subscriptions as it takes (websub.max_subscriptions)",
        ));
    }
    if on_topic >= rules.max_per_topic {
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "this topic has as many subscribers as the hub takes (websub.max_per_topic)",
        ));
    }
    Ok(())
}

fn answer(refusal: Refusal) -> Response {
    (refusal.status, format!("{}\n", refusal.message)).into_response()
}

/// The `Link` header value naming the hub and the document itself.
pub fn link_header(hub: &str, self_url: &str) -> String {
    format!("<{hub}>; rel=\"hub\", <{self_url}>; rel=\"self\"")
}

/// The document of `topic` holding `stories` (newest first), as the feed
/// would render it, and its media type; `None` for a format this server
/// does not serve.
pub fn render_topic(
    state: &ServeState,
    topic: &Topic,
    stories: &[Story],
) -> Option<(&'static str, String)> {
    let format = feeds::format(topic.format)?;
    let sources = state.sources();
    let name_of = |id: &SourceId| {
        sources
            .iter()
            .find(|s| &s.id == id)
            .map_or_else(|| id.to_string(), |s| s.name.clone())
    };
    let meta = super::FeedMeta {
        title: query::title(&state.title, &topic.query, name_of),
        self_url: topic.url.clone(),
        home_url: state.url("", ""),
        next_url: None,
        entries: if topic.query.copies {
            super::Entries::Copies
        } else {
            super::Entries::Stories
        },
        hub_url: state.hub.as_ref().map(|h| h.url.to_string()),
    };
    let body = (format.render)(&meta, stories, state.store.last_change());
    Some((format.content_type, body))
}

/// A story's position in the topic's order (the store's page key).
pub fn position(story: &Story, copies: bool) -> PageKey {
    PageKey {
        date: story.arrived.timestamp(),
        id: if copies { story.chosen.id } else { story.id },
    }
}
