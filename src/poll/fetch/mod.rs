//! Fetching a source's body: the only `reqwest` user.
//!
//! - Conditional GET: the stored `ETag` / `Last-Modified` go out as
//!   `If-None-Match` / `If-Modified-Since`; a `304` comes back as a
//!   [`Fetched`] without a body (none is read).
//! - Redirects are followed here, hop by hop (at most [`MAX_REDIRECTS`]), so
//!   that a permanent move is seen, loops are caught, and no hop leaves
//!   http/https.
//! - The body is capped while streaming at `[poll].max_body` decompressed
//!   bytes: an endless or oversized body is cut and reported, never buffered
//!   whole. gzip, brotli, deflate and zstd are accepted.
//! - `file` sources are read from disk under the same cap, so the bundled
//!   example runs offline.
//!
//! `local.rs` says which addresses are this machine's or a private
//! network's and holds the resolver that keeps redirects away from them;
//! `reason.rs` says what a failure is called, and whether it was this
//! machine's rather than the source's.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::io::AsyncReadExt;
use url::Url;

use super::schedule;

mod local;
mod reason;

use crate::config::PollSettings;
use crate::model::{Headers, Validators};
pub use local::{PublicOnly, Trust, is_local, is_local_ip};
use reason::{caused_by_exhaustion, connect_reason, error_chain, exhausted};

/// The most redirects followed for one fetch.
pub const MAX_REDIRECTS: usize = 5;

/// What feeds are asked for: every feed type, then anything.
const ACCEPT: &str = "application/atom+xml, application/rss+xml, application/rdf+xml, \
    application/feed+json, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, \
    */*;q=0.5";

/// A fetch that reached the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// `None` for a `304 Not Modified`.
    pub body: Option<Body>,
    /// The validators to send next time (those of this response, else none).
    pub validators: Validators,
    /// How long the server says the response stays fresh.
    pub fresh_for: Option<Duration>,
    /// The final URL when every redirect hop was permanent (301/308).
    pub moved_permanently: Option<Url>,
    /// The HTTP status of the final response (200 for a file).
    pub status: u16,
    /// The hubs and topic its `Link` header names (WebSub, #16).
    pub push: crate::model::PushLinks,
}

/// A fetched body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Body {
    pub bytes: Vec<u8>,
    /// The `Content-Type` header, when the server sent one.
    pub content_type: Option<String>,
}

/// Why a fetch failed, worded for the source's recorded error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("HTTP {status}")]
    Status { status: u16 },
    #[error("HTTP 410 Gone: the publisher removed this feed")]
    Gone,
    #[error("HTTP {status}: the server asked to retry later")]
    RetryLater {
        status: u16,
        retry_after: Option<Duration>,
    },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the body is over the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
    #[error("redirect loop at {0}")]
    RedirectLoop(String),
    #[error("bad redirect: {0}")]
    BadRedirect(String),
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
    /// This machine ran out of something the fetch needed (file
    /// descriptors, memory, socket buffers, disk): not the source's doing.
    #[error("this machine ran out of a resource: {0}")]
    Local(String),
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// The HTTP status the source answered with, when it answered one.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status } | FetchError::RetryLater { status, .. } => Some(*status),
            FetchError::Gone => Some(410),
            _ => None,
        }
    }

    /// Whether the fetch failed for a reason of this machine's, which must
    /// not back the source off (#20: a connection flood took every file
    /// descriptor, and every healthy source was counted as failing).
    pub fn is_local(&self) -> bool {
        matches!(self, FetchError::Local(_))
    }

    /// How long the server asked to be left alone (`Retry-After`), if it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            FetchError::RetryLater { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// Fetches bodies; cheap to clone (the HTTP client pools connections).
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_body: usize,
    allow_private: bool,
    /// The hosts of the URLs wiredesk was asked to fetch (a source's own,
    /// or where it moved after answering with a feed twice), which may
    /// resolve to local addresses; see [`PublicOnly`].
    trusted: Arc<Mutex<HashSet<String>>>,
}

impl Fetcher {
    /// A fetcher configured from `[poll]`.
    pub fn new(settings: &PollSettings) -> Result<Fetcher, FetchError> {
        install_crypto_provider();
        let trusted = Arc::new(Mutex::new(HashSet::new()));
        let mut builder = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .timeout(settings.timeout)
            .connect_timeout(settings.connect_timeout.min(settings.timeout))
            .redirect(reqwest::redirect::Policy::none());
        if !settings.allow_private {
            builder = builder.dns_resolver(Arc::new(PublicOnly {
                trust: Arc::clone(&trusted),
            }));
        }
        if let Some(proxy) = &settings.proxy {
            // The operator wrote it: it may be on the local network.
            if let (Some(host), Ok(mut hosts)) = (proxy.host_str(), trusted.lock()) {
                hosts.insert(host.to_ascii_lowercase());
            }
            let proxy = reqwest::Proxy::all(proxy.as_str())
                .map_err(|e| FetchError::Other(format!("poll.proxy: {e}")))?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Other(format!("cannot build the HTTP client: {e}")))?;
        Ok(Fetcher {
            client,
            timeout: settings.timeout,
            max_body: settings.max_body,
            allow_private: settings.allow_private,
            trusted,
        })
    }

    /// Fetches `url`, whatever its scheme, sending `validators` and the
    /// source's `headers` (its secret ones only to `url`'s own origin: a
    /// redirect elsewhere gets the others, as a browser drops credentials), within
    /// `[poll].timeout` in all: every redirect hop and the body together
    /// (the HTTP client's own timeout is per request, so five slow hops
    /// could take five times it, #20).
    pub async fn fetch(
        &self,
        url: &Url,
        validators: &Validators,
        headers: &Headers,
        now: DateTime<Utc>,
    ) -> Result<Fetched, FetchError> {
        // Only the resolver reads it, and there is none with allow_private.
        if !self.allow_private
            && let (Some(host), Ok(mut hosts)) = (url.host_str(), self.trusted.lock())
        {
            hosts.insert(host.trim_end_matches('.').to_ascii_lowercase());
        }
        let fetch = async {
            match url.scheme() {
                "file" => self.read_file(url).await,
                _ => self.get(url, validators, headers, now).await,
            }
        };
        tokio::time::timeout(self.timeout, fetch)
            .await
            .unwrap_or(Err(FetchError::Timeout(self.timeout)))
    }

    async fn get(
        &self,
        url: &Url,
        validators: &Validators,
        headers: &Headers,
        now: DateTime<Utc>,
    ) -> Result<Fetched, FetchError> {
        let (mut response, moved_permanently) = self.follow(url, validators, headers).await?;
        let status = response.status().as_u16();
        let headers = response.headers();
        let push = super::websub::discover::from_link_headers(
            headers
                .get_all(header::LINK)
                .iter()
                .filter_map(|v| v.to_str().ok()),
            response.url(),
        );
        let fresh_for = schedule::freshness(
            header_str(headers, header::CACHE_CONTROL),
            header_str(headers, header::EXPIRES),
            now,
        );
        let new_validators = Validators {
            etag: header_str(headers, header::ETAG).map(str::to_owned),
            last_modified: header_str(headers, header::LAST_MODIFIED).map(str::to_owned),
        };
        match status {
            304 => {
                return Ok(Fetched {
                    body: None,
                    // A 304 may omit validators: keep the ones that matched.
                    validators: Validators {
                        etag: new_validators.etag.or_else(|| validators.etag.clone()),
                        last_modified: new_validators
                            .last_modified
                            .or_else(|| validators.last_modified.clone()),
                    },
                    fresh_for,
                    moved_permanently,
                    status,
                    push,
                });
            }
            410 => return Err(FetchError::Gone),
            429 | 503 => {
                let retry_after = header_str(headers, header::RETRY_AFTER)
                    .and_then(|v| schedule::parse_retry_after(v, now));
                return Err(FetchError::RetryLater {
                    status,
                    retry_after,
                });
            }
            200..=299 => {}
            _ => return Err(FetchError::Status { status }),
        }
        let content_type = header_str(headers, header::CONTENT_TYPE).map(str::to_owned);
        let bytes = self.read_body(&mut response).await?;
        Ok(Fetched {
            body: Some(Body {
                bytes,
                content_type,
            }),
            validators: new_validators,
            fresh_for,
            moved_permanently,
            status,
            push,
        })
    }

    /// Sends the request for `url`, following redirects hop by hop; returns
    /// the final response, and its URL when every hop was permanent.
    async fn follow(
        &self,
        url: &Url,
        validators: &Validators,
        headers: &Headers,
    ) -> Result<(reqwest::Response, Option<Url>), FetchError> {
        let own = request_headers(validators, headers);
        let elsewhere = request_headers(validators, &headers.without_secrets());
        let mut current = url.clone();
        let mut visited = HashSet::from([current.to_string()]);
        let mut all_permanent = true;
        let mut hops = 0;
        let response = loop {
            let response = self
                .client
                .get(current.clone())
                .headers(if current.origin() == url.origin() {
                    own.clone()
                } else {
                    elsewhere.clone()
                })
                .send()
                .await
                .map_err(|e| self.classify(e))?;
            let status = response.status().as_u16();
            if !matches!(status, 301 | 302 | 303 | 307 | 308) {
                break response;
            }
            hops += 1;
            if hops > MAX_REDIRECTS {
                return Err(FetchError::TooManyRedirects);
            }
            all_permanent &= matches!(status, 301 | 308);
            let location = response
                .headers()
                .get(header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| {
                    FetchError::BadRedirect(format!("HTTP {status} without Location"))
                })?;
            let next = current
                .join(location)
                .map_err(|e| FetchError::BadRedirect(format!("{location:?}: {e}")))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(FetchError::BadRedirect(format!(
                    "to {:?}: only http and https are followed",
                    next.scheme()
                )));
            }
            if is_local(&next) && !is_local(url) && !self.allow_private {
                return Err(FetchError::BadRedirect(format!(
                    "to {}: a loopback or private address, from a public one",
                    next.host_str().unwrap_or("")
                )));
            }
            if !visited.insert(next.to_string()) {
                return Err(FetchError::RedirectLoop(crate::model::redacted_url(&next)));
            }
            current = next;
        };
        let moved_permanently = (hops > 0 && all_permanent).then_some(current);
        Ok((response, moved_permanently))
    }

    /// Reads the body of `response`, cut at `[poll].max_body` decompressed
    /// bytes.
    async fn read_body(&self, response: &mut reqwest::Response) -> Result<Vec<u8>, FetchError> {
        if let Some(length) = response.content_length()
            && length > self.max_body as u64
        {
            return Err(FetchError::TooLarge {
                limit: self.max_body,
            });
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            if bytes.len() + chunk.len() > self.max_body {
                return Err(FetchError::TooLarge {
                    limit: self.max_body,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }

    async fn read_file(&self, url: &Url) -> Result<Fetched, FetchError> {
        let path = url.to_file_path().map_err(|()| FetchError::File {
            path: url.to_string(),
            reason: "not a local path".into(),
        })?;
        let file_err = |e: std::io::Error| {
            if exhausted(&e) {
                FetchError::Local(format!("{}: {e}", path.display()))
            } else {
                FetchError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                }
            }
        };
        // Only a regular file: opening a FIFO (or a device) for reading
        // blocks a thread until a writer comes, past any timeout, and kept
        // the daemon from stopping (#20).
        let kind = tokio::fs::metadata(&path).await.map_err(file_err)?;
        if !kind.is_file() {
            return Err(FetchError::File {
                path: path.display().to_string(),
                reason: "not a regular file (a folder, FIFO or device)".into(),
            });
        }
        let file = tokio::fs::File::open(&path).await.map_err(file_err)?;
        let mut bytes = Vec::new();
        let cap = u64::try_from(self.max_body).unwrap_or(u64::MAX);
        file.take(cap.saturating_add(1))
            .read_to_end(&mut bytes)
            .await
            .map_err(file_err)?;
        if bytes.len() > self.max_body {
            return Err(FetchError::TooLarge {
                limit: self.max_body,
            });
        }
        Ok(Fetched {
            body: Some(Body {
                bytes,
                content_type: None,
            }),
            validators: Validators::default(),
            fresh_for: None,
            moved_permanently: None,
            status: 200,
            push: Default::default(),
        })
    }

    /// POSTs `form` to a WebSub hub (a subscription request, #16) with the
    /// fetches' client: their timeouts, user agent, proxy and address
    /// rules; no redirect is followed. The hub's status comes back; a body
    /// is read only to name the hub's reason, at most 1 KiB of it.
    pub async fn post_form(
        &self,
        url: &Url,
        form: &[(&str, &str)],
    ) -> Result<(u16, String), FetchError> {
        if !self.allow_private
            && let (Some(host), Ok(mut hosts)) = (url.host_str(), self.trusted.lock())
        {
            hosts.insert(host.trim_end_matches('.').to_ascii_lowercase());
        }
        let send = async {
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            let mut response = self
                .client
                .post(url.clone())
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .await
                .map_err(|e| self.classify(e))?;
            let status = response.status().as_u16();
            let mut said = Vec::new();
            while said.len() < 1024
                && let Ok(Some(chunk)) = response.chunk().await
            {
                said.extend_from_slice(&chunk);
            }
            said.truncate(1024);
            Ok((status, String::from_utf8_lossy(&said).trim().to_owned()))
        };
        tokio::time::timeout(self.timeout, send)
            .await
            .unwrap_or(Err(FetchError::Timeout(self.timeout)))
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if caused_by_exhaustion(&e) {
            FetchError::Local(error_chain(&e))
        } else if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else if e.is_connect() {
            FetchError::Connect(connect_reason(&e))
        } else {
            FetchError::Other(error_chain(&e))
        }
    }
}

/// What goes out with a request: `Accept`, the source's own headers (its
/// `User-Agent` and `Accept` replace the defaults), and the validators.
fn request_headers(validators: &Validators, source: &Headers) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(header::ACCEPT, HeaderValue::from_static(ACCEPT));
    // Checked by the config; a pair that is not valid HTTP is not sent.
    for (name, value) in source.iter() {
        if let (Ok(name), Ok(mut value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            value.set_sensitive(crate::model::is_secret_header(name.as_str()));
            headers.insert(name, value);
        }
    }
    // Stored validators came from a server's headers, so they are valid
    // header values; one that is not is simply not sent.
    if let Some(etag) = validators
        .etag
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(header::IF_NONE_MATCH, etag);
    }
    if let Some(date) = validators
        .last_modified
        .as_deref()
        .and_then(|v| HeaderValue::from_str(v).ok())
    {
        headers.insert(header::IF_MODIFIED_SINCE, date);
    }
    headers
}

fn header_str(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// reqwest is built without a TLS crypto provider (to keep aws-lc's C build
/// out); ring is installed as the process default before the first client.
pub fn install_crypto_provider() {
    // `Err` means a provider is already installed, which is the goal.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
