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

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{self, HeaderMap, HeaderValue};
use tokio::io::AsyncReadExt;
use url::Url;

use super::schedule;
use crate::config::PollSettings;
use crate::model::{Headers, Validators};

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
    /// resolve to local addresses; see [`Resolver`].
    trusted: Arc<Mutex<HashSet<String>>>,
}

/// Resolves names as the system does, but leaves out loopback, private and
/// link-local addresses for any host wiredesk reached only by a redirect
/// (#20): a public source's `301` to a name that resolves to 127.0.0.1 or
/// 10.0.0.5 would have wiredesk fetch from its own ports or a service
/// behind the firewall and show the answer as the source's error. Judging
/// the addresses the connection will use, not the name, also stops a name
/// that changes its answer between a check and the connection.
struct Resolver {
    trusted: Arc<Mutex<HashSet<String>>>,
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().trim_end_matches('.').to_ascii_lowercase();
        let trusted = self.trusted.lock().is_ok_and(|hosts| hosts.contains(&host));
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let admitted = admit(&host, found, trusted)?;
            Ok(Box::new(admitted.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The addresses a fetch may connect to for `host`: all of them when the
/// host is trusted; otherwise the public ones, and an error naming the
/// host when it has none.
fn admit(host: &str, found: Vec<SocketAddr>, trusted: bool) -> Result<Vec<SocketAddr>, String> {
    if trusted {
        return Ok(found);
    }
    let public: Vec<SocketAddr> = found
        .iter()
        .copied()
        .filter(|a| !is_local_ip(a.ip()))
        .collect();
    if public.is_empty() && !found.is_empty() {
        return Err(format!(
            "{host} resolves only to loopback, private or link-local addresses, and was \
             reached by a redirect from a source elsewhere (set poll.allow_private = true to allow it)"
        ));
    }
    Ok(public)
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
            builder = builder.dns_resolver(Arc::new(Resolver {
                trusted: Arc::clone(&trusted),
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
        })
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

/// Why a connection could not be made, in the words of its deepest cause
/// (#18: a refused connection showed "error sending request for url (…):
/// client error (Connect): tcp connect error: Connection refused (os error
/// 111)"): `connection refused`, `no such host: …`, `TLS: …`.
fn connect_reason(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut deepest = e;
    while let Some(c) = cause {
        if let Some(tls) = c.downcast_ref::<rustls::Error>() {
            return format!("TLS: {}", tls_reason(tls));
        }
        if let Some(io) = c.downcast_ref::<std::io::Error>() {
            // An io::Error's source() skips the error it wraps: look inside.
            if let Some(tls) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                return format!("TLS: {}", tls_reason(tls));
            }
            use std::io::ErrorKind as K;
            let said = match io.kind() {
                K::ConnectionRefused => Some("connection refused"),
                K::ConnectionReset => Some("connection reset"),
                K::TimedOut => Some("connection timed out"),
                K::HostUnreachable => Some("host unreachable"),
                K::NetworkUnreachable => Some("network unreachable"),
                _ => None,
            };
            if let Some(said) = said {
                return said.to_owned();
            }
        }
        deepest = c;
        cause = c.source();
    }
    let text = deepest.to_string();
    if text.contains("failed to lookup address") || text.contains("Name or service not known") {
        return format!("no such host ({text})");
    }
    text
}

/// A TLS failure as an operator reads it (#18: `Other(OtherError(
/// CaUsedAsEndEntity))` was shown as it came).
fn tls_reason(e: &rustls::Error) -> String {
    use rustls::CertificateError as C;
    match e {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                "the certificate is not valid for this name".to_owned()
            }
            C::Expired | C::ExpiredContext { .. } => "the certificate has expired".to_owned(),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                "the certificate is not valid yet".to_owned()
            }
            C::UnknownIssuer => {
                "the certificate is not trusted (unknown issuer, or self-signed)".to_owned()
            }
            C::Revoked => "the certificate has been revoked".to_owned(),
            C::BadSignature => "the certificate's signature is bad".to_owned(),
            other => {
                let text = format!("{other:?}");
                if text.contains("CaUsedAsEndEntity") {
                    "the server presents a CA certificate as its own".to_owned()
                } else {
                    format!("invalid certificate ({text})")
                }
            }
        },
        rustls::Error::AlertReceived(alert) => {
            format!("the server refused the handshake ({alert:?})")
        }
        rustls::Error::NoCertificatesPresented => "the server sent no certificate".to_owned(),
        other => other.to_string(),
    }
}

/// Whether `e` or one of its causes is this machine running out of
/// something (see [`exhausted`]).
fn caused_by_exhaustion(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if c.downcast_ref::<std::io::Error>().is_some_and(exhausted) {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Whether an I/O error says this machine ran out of file descriptors
/// (its own or the system's), memory, socket buffers or disk.
fn exhausted(e: &std::io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::ENOBUFS | libc::ENOSPC)
    )
}

/// Whether `url` names this machine or a private network: a loopback,
/// private, link-local, shared (100.64/10) or unspecified address, or
/// `localhost`. A public source redirected there would have wiredesk fetch
/// from the daemon's own ports or a service behind the firewall and show
/// the answer as the source's error (#20). A name is judged as written, not
/// resolved.
fn is_local(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Ipv4(ip)) => is_local_ip(IpAddr::V4(ip)),
        Some(url::Host::Ipv6(ip)) => is_local_ip(IpAddr::V6(ip)),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => true,
    }
}

/// Whether `ip` is on this machine or a private network (see [`is_local`]).
fn is_local_ip(ip: IpAddr) -> bool {
    let v4 = |ip: std::net::Ipv4Addr| {
        ip.is_loopback()
            || ip.is_private()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast()
            || (ip.octets()[0] == 100 && (ip.octets()[1] & 0xc0) == 64)
    };
    match ip {
        IpAddr::V4(ip) => v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => v4(mapped),
            None => {
                let first = ip.segments()[0];
                ip.is_loopback()
                    || ip.is_unspecified()
                    || (first & 0xfe00) == 0xfc00
                    || (first & 0xffc0) == 0xfe80
            }
        },
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

/// The error and its causes on one line: reqwest's own message alone
/// ("error sending request") does not say what went wrong.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// reqwest is built without a TLS crypto provider (to keep aws-lc's C build
/// out); ring is installed as the process default before the first client.
pub fn install_crypto_provider() {
    // `Err` means a provider is already installed, which is the goal.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(url: &str) -> bool {
        is_local(&Url::parse(url).unwrap())
    }

    #[test]
    fn loopback_private_and_link_local_addresses_are_local_public_ones_are_not() {
        for url in [
            "http://127.0.0.1:9090/metrics",
            "http://localhost/",
            "http://LOCALHOST./",
            "http://admin.localhost/",
            "http://10.1.2.3/",
            "http://172.16.0.1/",
            "http://192.168.1.1/",
            "http://169.254.169.254/latest/meta-data/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://[::1]/",
            "http://[fd00::1]/",
            "http://[fe80::1]/",
            "http://[::ffff:127.0.0.1]/",
        ] {
            assert!(local(url), "{url}");
        }
        for url in [
            "https://news.example/feed",
            "http://93.184.216.34/",
            "http://100.128.0.1/",
            "http://[2001:db8::1]/",
            "http://localhost.example/",
        ] {
            assert!(!local(url), "{url}");
        }
    }

    fn addr(text: &str) -> SocketAddr {
        SocketAddr::new(text.parse().unwrap(), 0)
    }

    #[test]
    fn a_name_reached_by_redirect_connects_only_to_its_public_addresses() {
        let name = "feeds.example";
        // Only local addresses: refused, naming the host and the way out.
        let inside = vec![addr("127.0.0.1"), addr("10.0.0.5"), addr("::1")];
        let refused = admit(name, inside.clone(), false).unwrap_err();
        assert!(
            refused.contains("feeds.example") && refused.contains("poll.allow_private"),
            "{refused}"
        );
        // Mixed: the public ones only, never the local one (a name that
        // answers both cannot steer the connection inside).
        let mixed = vec![addr("192.168.1.1"), addr("93.184.216.34")];
        assert_eq!(
            admit(name, mixed, false).unwrap(),
            vec![addr("93.184.216.34")]
        );
        // A host the operator wrote (or allow_private): all of them.
        assert_eq!(admit(name, inside.clone(), true).unwrap(), inside);
    }

    #[test]
    fn a_connection_failure_is_said_in_words_an_operator_reads() {
        #[derive(Debug)]
        struct Wrapper(std::io::Error);
        impl std::fmt::Display for Wrapper {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("client error (Connect)")
            }
        }
        impl std::error::Error for Wrapper {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let tls = |e: rustls::Error| {
            connect_reason(&Wrapper(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                e,
            )))
        };
        assert_eq!(
            tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::NotValidForName
            )),
            "TLS: the certificate is not valid for this name"
        );
        assert_eq!(
            tls(rustls::Error::InvalidCertificate(
                rustls::CertificateError::UnknownIssuer
            )),
            "TLS: the certificate is not trusted (unknown issuer, or self-signed)"
        );
        let refused = Wrapper(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(connect_reason(&refused), "connection refused");
    }
}
