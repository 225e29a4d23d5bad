//! Raw → [`Settings`]: every check, in the order of the file's sections,
//! each failure an [`Invalid`] naming its key. One function per section
//! and one per value that needs more than a line.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use url::Url;

use super::Invalid;
use super::raw::{Raw, RawDedup, RawLog, RawPoll, RawServer, RawStorage, SourceName, read_source};
use super::settings::{
    DedupSettings, LogSettings, PollSettings, ServerSettings, Settings, StorageSettings, defaults,
};
use crate::model::{Source, SourceId};

/// The lowest `poll.min_interval` accepted (the README: "at least `10s`").
/// The default floor is a minute ([`defaults::MIN_INTERVAL`]); an operator
/// may lower it for a source that needs it, but not so far that a feed is
/// polled every second or two, a burden on its publisher.
const HARD_MIN_INTERVAL: Duration = Duration::from_secs(10);

/// The shortest `server.token` accepted: a short token is guessed.
const MIN_TOKEN_CHARS: usize = 16;

pub(super) fn bad(key: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        key: key.to_owned(),
        message: message.into(),
    }
}

/// Checks every value of `raw`; relative paths are resolved against
/// `base_dir`. `file` is only recorded in the settings.
pub(super) fn validate(raw: Raw, file: &Path, base_dir: &Path) -> Result<Settings, Invalid> {
    let server = server(raw.server)?;
    let storage = storage(raw.storage, base_dir)?;
    let poll = poll(raw.poll)?;
    let dedup = dedup(raw.dedup)?;
    let log = log(raw.log)?;
    let websub = super::websub::validate(raw.websub, &server)?;
    let (sources, disabled_sources) = sources(raw.sources, &poll, base_dir)?;
    Ok(Settings {
        file: file.to_owned(),
        server,
        storage,
        poll,
        dedup,
        log,
        websub,
        sources,
        disabled_sources,
        sources_cleared: false,
    })
}

fn server(raw: RawServer) -> Result<ServerSettings, Invalid> {
    let listen_text = raw.listen.as_deref().unwrap_or(defaults::LISTEN);
    let listen = listen_address(listen_text).ok_or_else(|| {
        bad(
            "server.listen",
            format!(
                "{listen_text:?} is not an address like 127.0.0.1:8080, [::1]:8080 or localhost:8080"
            ),
        )
    })?;
    let base_url = match &raw.base_url {
        Some(text) => base_url(text)?,
        None => Url::parse(&format!("http://{listen}/"))
            .map_err(|e| bad("server.listen", e.to_string()))?,
    };
    let title = raw.title.unwrap_or_else(|| defaults::TITLE.into());
    if title.trim().is_empty() {
        return Err(bad("server.title", "must not be empty"));
    }
    let token = raw.token.map(token).transpose()?;
    let max_connections = raw
        .max_connections
        .map(|n| {
            usize::try_from(n)
                .ok()
                .filter(|n| (1..=1_000_000).contains(n))
                .ok_or_else(|| {
                    bad(
                        "server.max_connections",
                        format!("{n} is out of range 1..=1000000"),
                    )
                })
        })
        .transpose()?;
    Ok(ServerSettings {
        listen,
        base_url,
        title,
        token,
        metrics: raw.metrics.unwrap_or(true),
        max_connections,
    })
}

/// `server.listen`: an IP address and port, or `localhost:PORT` (the IPv4
/// loopback, without asking a resolver: what `localhost` means is not a
/// reason for a config to pass on one machine and fail on another).
fn listen_address(text: &str) -> Option<SocketAddr> {
    let text = text.trim();
    if let Ok(addr) = text.parse() {
        return Some(addr);
    }
    let (host, port) = text.rsplit_once(':')?;
    host.eq_ignore_ascii_case("localhost")
        .then(|| port.parse().ok())
        .flatten()
        .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
}

fn base_url(text: &str) -> Result<Url, Invalid> {
    let url = Url::parse(text)
        .map_err(|e| bad("server.base_url", format!("{text:?} is not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad(
            "server.base_url",
            format!("{text:?} must be an http:// or https:// URL"),
        ));
    }
    Ok(url)
}

fn token(token: String) -> Result<String, Invalid> {
    if token.chars().count() < MIN_TOKEN_CHARS {
        return Err(bad(
            "server.token",
            format!("must be at least {MIN_TOKEN_CHARS} characters long"),
        ));
    }
    if !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(bad(
            "server.token",
            "may only hold printable ASCII without spaces (it travels in URLs and headers)",
        ));
    }
    Ok(token)
}

fn storage(raw: RawStorage, base_dir: &Path) -> Result<StorageSettings, Invalid> {
    let path_text = raw.path.as_deref().unwrap_or(defaults::STORAGE_PATH);
    if path_text.trim().is_empty() {
        return Err(bad("storage.path", "must not be empty"));
    }
    let keep = raw.keep.unwrap_or(defaults::KEEP);
    if keep < Duration::from_secs(24 * 3600) {
        return Err(bad("storage.keep", "must be at least 1d"));
    }
    let max_items = match raw.max_items {
        Some(n) if n < 1 => {
            return Err(bad("storage.max_items", format!("{n} must be at least 1")));
        }
        Some(n) => Some(n as u64),
        None => None,
    };
    let prune_every = raw.prune_every.unwrap_or(defaults::PRUNE_EVERY);
    if prune_every < Duration::from_secs(60) {
        return Err(bad("storage.prune_every", "must be at least 1m"));
    }
    Ok(StorageSettings {
        path: base_dir.join(path_text),
        keep,
        max_items,
        prune_every,
    })
}

/// The intervals of `[poll]`: (interval, min_interval, max_interval).
fn intervals(raw: &RawPoll) -> Result<(Duration, Duration, Duration), Invalid> {
    let min_interval = raw.min_interval.unwrap_or(defaults::MIN_INTERVAL);
    if min_interval < HARD_MIN_INTERVAL {
        return Err(bad(
            "poll.min_interval",
            format!(
                "{} is below {}",
                humantime::format_duration(min_interval),
                humantime::format_duration(HARD_MIN_INTERVAL)
            ),
        ));
    }
    let interval = raw.interval.unwrap_or(defaults::INTERVAL);
    check_interval(interval, min_interval).map_err(|m| bad("poll.interval", m))?;
    let max_interval = raw.max_interval.unwrap_or(defaults::MAX_INTERVAL);
    if max_interval < min_interval {
        return Err(bad(
            "poll.max_interval",
            "must not be shorter than poll.min_interval",
        ));
    }
    Ok((interval, min_interval, max_interval))
}

fn poll(raw: RawPoll) -> Result<PollSettings, Invalid> {
    let (interval, min_interval, max_interval) = intervals(&raw)?;
    let jitter = raw.jitter.unwrap_or(defaults::JITTER);
    if !(0.0..=0.5).contains(&jitter) {
        return Err(bad(
            "poll.jitter",
            format!("{jitter} is out of range 0.0..=0.5 (a share of the interval)"),
        ));
    }
    let max_backoff = raw.max_backoff.unwrap_or(defaults::MAX_BACKOFF);
    let timeout = raw.timeout.unwrap_or(defaults::TIMEOUT);
    not_zero("poll.timeout", timeout)?;
    let connect_timeout = raw.connect_timeout.unwrap_or(defaults::CONNECT_TIMEOUT);
    not_zero("poll.connect_timeout", connect_timeout)?;
    let concurrency = count("poll.concurrency", raw.concurrency, defaults::CONCURRENCY)?;
    let per_host = count("poll.per_host", raw.per_host, defaults::PER_HOST)?;
    let host_delay = raw.host_delay.unwrap_or(defaults::HOST_DELAY);
    let shutdown_grace = raw.shutdown_grace.unwrap_or(defaults::SHUTDOWN_GRACE);
    let max_body = raw.max_body.unwrap_or(defaults::MAX_BODY);
    let max_body = usize::try_from(max_body)
        .ok()
        .filter(|n| *n >= 1024)
        .ok_or_else(|| bad("poll.max_body", format!("{max_body} is below 1024 bytes")))?;
    let contact = raw.contact.as_deref().map(contact).transpose()?;
    let user_agent = user_agent(contact.as_deref(), raw.user_agent)?;
    let proxy = raw.proxy.as_deref().map(proxy).transpose()?;
    Ok(PollSettings {
        interval,
        min_interval,
        max_interval,
        jitter,
        adaptive: raw.adaptive.unwrap_or(true),
        max_backoff,
        timeout,
        connect_timeout,
        concurrency,
        per_host,
        host_delay,
        user_agent,
        contact,
        max_body,
        proxy,
        allow_private: raw.allow_private.unwrap_or(false),
        shutdown_grace,
    })
}

fn not_zero(key: &str, d: Duration) -> Result<(), Invalid> {
    if d.is_zero() {
        return Err(bad(key, "must be longer than 0s"));
    }
    Ok(())
}

/// A count of things at once: 1 to 1024.
pub(super) fn count(key: &str, value: Option<i64>, default: i64) -> Result<usize, Invalid> {
    let n = value.unwrap_or(default);
    usize::try_from(n)
        .ok()
        .filter(|n| (1..=1024).contains(n))
        .ok_or_else(|| bad(key, format!("{n} is out of range 1..=1024")))
}

/// `poll.contact` as it goes in the `User-Agent`: an http(s) URL, a
/// `mailto:` URL, or an e-mail address (written as `mailto:`).
fn contact(text: &str) -> Result<String, Invalid> {
    let text = text.trim();
    let refuse = |why: &str| {
        bad(
            "poll.contact",
            format!(
                "{text:?} {why}: write an https:// page, mailto:you@example.org or you@example.org"
            ),
        )
    };
    let is_address = |a: &str| {
        a.split_once('@').is_some_and(|(user, host)| {
            !user.is_empty() && host.contains('.') && !host.starts_with('.') && !host.ends_with('.')
        }) && !a.contains(|c: char| c.is_whitespace() || c == '(' || c == ')' || c == ';')
    };
    match Url::parse(text) {
        Ok(url) if matches!(url.scheme(), "http" | "https") => {
            if url.host_str().is_some_and(|h| !h.is_empty()) {
                Ok(url.to_string())
            } else {
                Err(refuse("has no host"))
            }
        }
        Ok(url) if url.scheme() == "mailto" => {
            if is_address(url.path()) {
                Ok(url.to_string())
            } else {
                Err(refuse("is not a mailto: URL with an address"))
            }
        }
        Ok(_) => Err(refuse("is neither a web page nor an e-mail address")),
        Err(_) if is_address(text) => Ok(format!("mailto:{text}")),
        Err(_) => Err(refuse("is neither a URL nor an e-mail address")),
    }
}

/// `poll.user_agent`, or `wiredesk/<version>` with `(+<contact>)` when
/// there is a contact. No address is made up when there is none: the
/// daemon says at start that `poll.contact` is unset.
fn user_agent(contact: Option<&str>, user_agent: Option<String>) -> Result<String, Invalid> {
    let version = env!("CARGO_PKG_VERSION");
    let user_agent = user_agent.unwrap_or_else(|| match contact {
        Some(contact) => format!("wiredesk/{version} (+{contact})"),
        None => format!("wiredesk/{version}"),
    });
    if user_agent.trim().is_empty() {
        return Err(bad("poll.user_agent", "must not be empty"));
    }
    Ok(user_agent)
}

fn proxy(text: &str) -> Result<Url, Invalid> {
    Url::parse(text)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https" | "socks5"))
        .ok_or_else(|| {
            bad(
                "poll.proxy",
                format!("{text:?} is not an http:// proxy URL"),
            )
        })
}

fn dedup(raw: RawDedup) -> Result<DedupSettings, Invalid> {
    let mut t = crate::dedup::Thresholds::default();
    if let Some(window) = raw.window {
        t.window_secs = i64::try_from(window.as_secs())
            .ok()
            .filter(|s| *s >= 60)
            .ok_or_else(|| bad("dedup.window", "must be at least 1m"))?;
    }
    let share = |key: &str, value: Option<f64>, into: &mut f64| {
        if let Some(v) = value {
            if !(0.0..=1.0).contains(&v) {
                return Err(bad(
                    &format!("dedup.{key}"),
                    format!("{v} is out of range 0.0..=1.0"),
                ));
            }
            *into = v;
        }
        Ok(())
    };
    share("resemblance", raw.resemblance, &mut t.resemblance)?;
    share(
        "resemblance_anywhere",
        raw.resemblance_anywhere,
        &mut t.resemblance_anywhere,
    )?;
    share("containment", raw.containment, &mut t.containment)?;
    share(
        "title_resemblance",
        raw.title_resemblance,
        &mut t.title_resemblance,
    )?;
    share(
        "title_containment",
        raw.title_containment,
        &mut t.title_containment,
    )?;
    share(
        "link_containment",
        raw.link_containment,
        &mut t.link_containment,
    )?;
    if let Some(v) = raw.lead_min_shared {
        t.lead_min_shared = v;
    }
    if let Some(v) = raw.lead_slack {
        t.lead_slack = v;
    }
    if let Some(v) = raw.min_shingles {
        t.min_shingles = v.max(1);
    }
    Ok(DedupSettings {
        enabled: raw.enabled.unwrap_or(true),
        thresholds: t,
    })
}

fn log(raw: RawLog) -> Result<LogSettings, Invalid> {
    if let Some(level) = &raw.level {
        crate::ops::logging::check_level(level).map_err(|m| bad("log.level", m))?;
    }
    Ok(LogSettings { level: raw.level })
}

/// Every `[[sources]]`, in order; ids must be unique.
/// The enabled sources, and the ids of those set `enabled = false` (not
/// polled; their stored items stay). Ids are unique across both.
fn sources(
    values: Vec<config::Value>,
    poll: &PollSettings,
    base_dir: &Path,
) -> Result<(Vec<Source>, Vec<String>), Invalid> {
    let mut sources = Vec::with_capacity(values.len());
    let mut disabled = Vec::new();
    let mut seen = HashSet::new();
    for (index, value) in values.into_iter().enumerate() {
        let (source, enabled) = source(index, value, poll, base_dir)?;
        if !seen.insert(source.id.clone()) {
            return Err(bad(
                &format!("sources[{index}].id"),
                format!(
                    "duplicate id {:?}: each source needs its own",
                    source.id.as_str()
                ),
            ));
        }
        if enabled {
            sources.push(source);
        } else {
            disabled.push(source.id.as_str().to_owned());
        }
    }
    Ok((sources, disabled))
}

/// `sources[index]` and whether it is enabled; its interval defaults to
/// `poll.interval`.
fn source(
    index: usize,
    value: config::Value,
    poll: &PollSettings,
    base_dir: &Path,
) -> Result<(Source, bool), Invalid> {
    let raw = read_source(index, value)?;
    let name = SourceName {
        index,
        id: Some(raw.id.clone()),
    };
    let at = |field: &str, message: String| bad(&name.key(field), message);
    if raw.id.is_empty()
        || !raw
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err(at(
            "id",
            format!(
                "{:?} may only hold a-z, 0-9, '_' and '-' (and not be empty)",
                raw.id
            ),
        ));
    }
    let url = source_url(&raw.url, base_dir).map_err(|m| at("url", m))?;
    let (interval, fixed_interval) = match raw.interval {
        Some(d) => {
            check_interval(d, poll.min_interval).map_err(|m| at("interval", m))?;
            (d, true)
        }
        None => (poll.interval, !poll.adaptive),
    };
    let tags = tags(raw.tags).map_err(|m| at("tags", m))?;
    let headers = headers(raw.headers).map_err(|(name, m)| at(&format!("headers.{name}"), m))?;
    let rules =
        crate::rules::Rules::new(&raw.keep, &raw.block).map_err(|e| at(&e.key, e.message))?;
    let display_name = raw
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| raw.id.clone());
    let source = Source {
        id: SourceId::new(raw.id),
        name: display_name,
        url,
        interval,
        fixed_interval,
        priority: raw.priority,
        tags,
        headers,
        rules,
        websub: raw.websub.unwrap_or(true),
    };
    Ok((source, raw.enabled.unwrap_or(true)))
}

/// Headers a source may not set: those that frame the message or belong
/// to one connection (the HTTP client writes them), and the validators the
/// poller sends from what the source last answered.
const FORBIDDEN_HEADERS: &[&str] = &[
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "upgrade",
    "if-none-match",
    "if-modified-since",
];

/// A source's `headers`: valid HTTP names and values, none the fetcher
/// owns. An error is the header's name and why; a value is never echoed
/// (it may be a credential).
fn headers(
    raw: std::collections::BTreeMap<String, String>,
) -> Result<crate::model::Headers, (String, String)> {
    let mut pairs = Vec::with_capacity(raw.len());
    let mut seen = HashSet::new();
    for (name, value) in raw {
        let refuse = |why: &str| (name.clone(), why.to_owned());
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(refuse(
                "is given twice (header names are the same in any case)",
            ));
        }
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        {
            return Err(refuse(
                "is not a header name (letters, digits and -, no spaces or colons)",
            ));
        }
        if FORBIDDEN_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            return Err(refuse(
                "is set by wiredesk itself (the connection, the message framing or the \
                 poll's validators) and cannot be set per source",
            ));
        }
        let value = value.trim();
        if value.is_empty() {
            return Err(refuse("must not be empty"));
        }
        if !value
            .bytes()
            .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
        {
            return Err(refuse(
                "may only hold printable ASCII (no line breaks or control characters)",
            ));
        }
        pairs.push((name, value.to_owned()));
    }
    Ok(crate::model::Headers::new(pairs))
}

/// A source's tags, trimmed, without repeats; none may be empty.
fn tags(raw: Vec<String>) -> Result<Vec<String>, String> {
    let mut tags = Vec::with_capacity(raw.len());
    for tag in raw {
        let tag = tag.trim().to_owned();
        if tag.is_empty() {
            return Err("a tag must not be empty".into());
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// A source URL: `http://`, `https://`, `file:///absolute/path`, or
/// `file:relative/path` (resolved against the config file's folder).
fn source_url(text: &str, base_dir: &Path) -> Result<Url, String> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("file:")
        && !rest.starts_with('/')
    {
        if rest.is_empty() {
            return Err("\"file:\" needs a path".into());
        }
        let dir = std::path::absolute(base_dir).map_err(|e| e.to_string())?;
        return Url::from_file_path(dir.join(rest))
            .map_err(|()| format!("{text:?} is not a usable file path"));
    }
    let url = Url::parse(text).map_err(|e| match e {
        url::ParseError::RelativeUrlWithoutBase => format!(
            "{text:?} has no scheme: write https://… for a web feed or file:… for a local file"
        ),
        other => format!("{text:?} is not a valid URL: {other}"),
    })?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        "http" | "https" => Err(format!("{text:?} has no host")),
        "file" => Ok(url),
        other => Err(format!(
            "{text:?}: scheme {other:?} is not supported (use http, https or file)"
        )),
    }
}

fn check_interval(d: Duration, min: Duration) -> Result<(), String> {
    if d < min {
        Err(format!(
            "{} is shorter than the minimum of {} (poll.min_interval)",
            humantime::format_duration(d),
            humantime::format_duration(min)
        ))
    } else {
        Ok(())
    }
}
