//! Configuration: one TOML file plus `WIREDESK_*` environment overrides,
//! loaded once with the `config` crate and validated into typed settings.
//!
//! Loading is two steps. [`load`] reads the layers into raw serde structs that
//! refuse unknown keys (`deny_unknown_fields`: a typo never passes silently),
//! then [`Raw::validate`] turns them into [`Settings`], whose every field has
//! already been checked. Every error names the file, the key and, for a
//! source, its index and id, e.g.
//! `config/wiredesk.toml: sources[1] (id "agency"): url: "htp//x" is not a valid URL`.
//! A key set by a `WIREDESK_*` variable is blamed on the variable instead:
//! `environment variable WIREDESK_SERVER__LISTN (overriding wiredesk.toml): server.listn: …`.
//!
//! Paths are resolved against the folder of the config file: `storage.path`
//! when relative, and source URLs written as `file:relative/path`.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use url::Url;

use crate::model::{Source, SourceId};

/// The prefix of environment overrides: `WIREDESK_SERVER__LISTEN=0.0.0.0:8080`
/// sets `server.listen`.
pub const ENV_PREFIX: &str = "WIREDESK";

/// Environment variables with the prefix that are not config keys.
const ENV_NOT_KEYS: &[&str] = &["WIREDESK_CONFIG"];

/// Why a config could not be used. The message names the file (or the
/// environment variable) and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read the config: {reason}")]
    Read { file: PathBuf, reason: String },
    #[error("{file}: {key}: {message}")]
    Invalid {
        file: PathBuf,
        key: String,
        message: String,
    },
    /// A key set by an environment variable (which wins over the file).
    #[error("environment variable {var} (overriding {file}): {key}: {message}")]
    InvalidEnv {
        var: String,
        file: PathBuf,
        key: String,
        message: String,
    },
    #[error(
        "no config file: looked for {} (name one with --config PATH or WIREDESK_CONFIG)",
        searched_list(.searched)
    )]
    NotFound { searched: Vec<PathBuf> },
}

fn searched_list(paths: &[PathBuf]) -> String {
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    paths.join(", ")
}

/// Everything the daemon needs, validated.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The file the settings came from (for messages).
    pub file: PathBuf,
    pub server: ServerSettings,
    pub storage: StorageSettings,
    pub poll: PollSettings,
    pub dedup: DedupSettings,
    pub log: LogSettings,
    pub sources: Vec<Source>,
}

/// `[log]`: the log level when `RUST_LOG` is not set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogSettings {
    /// A level or filter such as `info` or `wiredesk=debug,warn`; `None`:
    /// the command's default.
    pub level: Option<String>,
}

/// `[dedup]`: whether and how copies of one story are merged.
#[derive(Debug, Clone, PartialEq)]
pub struct DedupSettings {
    /// `false`: every item is its own story (nothing is ever deleted either way).
    pub enabled: bool,
    /// The decision thresholds, the window among them.
    pub thresholds: crate::dedup::Thresholds,
}

#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    /// The public address of the server; the feed's `self` link is built on it.
    pub base_url: Url,
    pub title: String,
    /// When set, the feeds answer only requests that carry this token (as
    /// `?token=`, a Bearer token or a Basic password); `/healthz` stays open.
    pub token: Option<String>,
    /// Whether `GET /metrics` is served (it never needs the token).
    pub metrics: bool,
}

#[derive(Debug, Clone)]
pub struct StorageSettings {
    pub path: PathBuf,
    /// Stories with no copy newer than this are deleted (with their items).
    pub keep: Duration,
    /// At most this many items are kept; the oldest stories go first.
    pub max_items: Option<u64>,
    /// How often retention runs.
    pub prune_every: Duration,
}

#[derive(Debug, Clone)]
pub struct PollSettings {
    /// Default interval for sources that set none.
    pub interval: Duration,
    /// No source is polled more often than this.
    pub min_interval: Duration,
    /// Feed and server hints may lengthen a source's interval up to this.
    pub max_interval: Duration,
    /// Up to this share of the interval is added at random to each poll.
    pub jitter: f64,
    /// The longest wait between tries of a failing source.
    pub max_backoff: Duration,
    /// Total time one fetch may take.
    pub timeout: Duration,
    /// Time to establish a connection.
    pub connect_timeout: Duration,
    /// How many sources are fetched at once.
    pub concurrency: usize,
    /// How many requests may be in flight to one host at once.
    pub per_host: usize,
    /// The least time between the starts of two requests to one host.
    pub host_delay: Duration,
    pub user_agent: String,
    /// The largest feed body accepted, in bytes (after decompression).
    pub max_body: usize,
    /// A proxy for every request; without it the usual environment
    /// variables (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) apply.
    pub proxy: Option<Url>,
    /// How long in-flight polls get to finish at shutdown.
    pub shutdown_grace: Duration,
}

// ---------------------------------------------------------------------------
// Raw, as written in the file.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    storage: RawStorage,
    #[serde(default)]
    poll: RawPoll,
    #[serde(default)]
    dedup: RawDedup,
    #[serde(default)]
    log: RawLog,
    /// Deserialised one by one in `validate`, so that an error can name the
    /// index and id of the source at fault.
    #[serde(default)]
    sources: Vec<config::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    listen: Option<String>,
    base_url: Option<String>,
    title: Option<String>,
    token: Option<String>,
    metrics: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStorage {
    path: Option<String>,
    keep: Option<String>,
    max_items: Option<i64>,
    prune_every: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    interval: Option<String>,
    min_interval: Option<String>,
    max_interval: Option<String>,
    jitter: Option<f64>,
    max_backoff: Option<String>,
    timeout: Option<String>,
    connect_timeout: Option<String>,
    concurrency: Option<i64>,
    per_host: Option<i64>,
    host_delay: Option<String>,
    user_agent: Option<String>,
    contact: Option<String>,
    max_body: Option<i64>,
    proxy: Option<String>,
    shutdown_grace: Option<String>,
}

/// `[dedup]` as written: every threshold of `dedup::Thresholds` may be set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDedup {
    enabled: Option<bool>,
    window: Option<String>,
    resemblance: Option<f64>,
    resemblance_anywhere: Option<f64>,
    lead_min_shared: Option<u32>,
    containment: Option<f64>,
    lead_slack: Option<u32>,
    title_resemblance: Option<f64>,
    title_containment: Option<f64>,
    link_containment: Option<f64>,
    min_shingles: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSource {
    id: String,
    name: Option<String>,
    url: String,
    interval: Option<String>,
    #[serde(default)]
    priority: i64,
    #[serde(default)]
    tags: Vec<String>,
}

/// Defaults, in one place so the README and the code agree.
pub mod defaults {
    pub const LISTEN: &str = "127.0.0.1:8080";
    pub const TITLE: &str = "wiredesk";
    pub const STORAGE_PATH: &str = "wiredesk.db";
    pub const KEEP: &str = "90d";
    pub const PRUNE_EVERY: &str = "1h";
    pub const INTERVAL: &str = "15m";
    pub const MIN_INTERVAL: &str = "1m";
    pub const MAX_INTERVAL: &str = "1h";
    pub const JITTER: f64 = 0.1;
    pub const MAX_BACKOFF: &str = "24h";
    pub const TIMEOUT: &str = "30s";
    pub const CONNECT_TIMEOUT: &str = "10s";
    pub const CONCURRENCY: i64 = 8;
    pub const PER_HOST: i64 = 1;
    pub const HOST_DELAY: &str = "0s";
    pub const MAX_BODY: i64 = 10 * 1024 * 1024;
    pub const SHUTDOWN_GRACE: &str = "15s";
    pub const CONTACT: &str = "https://github.com/wiredesk/wiredesk";
}

/// No configurable floor goes below this: polling a feed more than once a
/// minute is never needed for news and is impolite to the publisher.
const HARD_MIN_INTERVAL: Duration = Duration::from_secs(10);

/// The shortest `server.token` accepted: a short token is guessed.
const MIN_TOKEN_CHARS: usize = 16;

/// Where the config is read from when `--config` and `WIREDESK_CONFIG` are
/// not given: the first of these that exists; with none, an error naming
/// every place searched.
///
/// 1. `config/wiredesk.toml` in the working directory,
/// 2. `$XDG_CONFIG_HOME/wiredesk/wiredesk.toml` (`~/.config/...` when unset),
/// 3. `/etc/wiredesk/wiredesk.toml`.
pub fn locate(
    xdg_config_home: Option<&Path>,
    home: Option<&Path>,
    exists: impl Fn(&Path) -> bool,
) -> Result<PathBuf, ConfigError> {
    let mut candidates = vec![PathBuf::from("config/wiredesk.toml")];
    match (xdg_config_home, home) {
        (Some(xdg), _) if xdg.is_absolute() => candidates.push(xdg.join("wiredesk/wiredesk.toml")),
        (_, Some(home)) => candidates.push(home.join(".config/wiredesk/wiredesk.toml")),
        _ => {}
    }
    candidates.push(PathBuf::from("/etc/wiredesk/wiredesk.toml"));
    match candidates.iter().find(|p| exists(p)) {
        Some(found) => Ok(found.clone()),
        None => Err(ConfigError::NotFound {
            searched: candidates,
        }),
    }
}

/// Reads `file` and the `WIREDESK_*` variables of `env`, then validates.
///
/// `env` is passed in (usually `std::env::vars()`) so tests never touch the
/// process environment.
pub fn load(
    file: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Read {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    from_str(&text, file, &folder_of(file), env)
}

/// The folder a config file's relative paths start from: `wiredesk.toml`
/// given bare is in the current folder (its `parent()` is empty, not none).
fn folder_of(file: &Path) -> PathBuf {
    file.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Parses config text as if read from `file`, resolving relative paths
/// against `base_dir`.
pub fn from_str(
    text: &str,
    file: &Path,
    base_dir: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let prefix = format!("{ENV_PREFIX}_");
    let env: config::Map<String, String> = env
        .into_iter()
        .filter(|(k, _)| k.starts_with(&prefix) && !ENV_NOT_KEYS.contains(&k.as_str()))
        .collect();
    // The key each variable sets, as the config crate reads it, to blame an
    // error on the variable rather than on the file (issue #18).
    let env_keys: Vec<(String, String)> = env
        .keys()
        .map(|var| {
            let key = var.strip_prefix(&prefix).unwrap_or(var);
            (key.to_lowercase().replace("__", "."), var.clone())
        })
        .collect();
    let blame_env = |e: ConfigError| match e {
        ConfigError::Invalid { file, key, message } => {
            let set_by = env_keys.iter().find(|(k, _)| {
                k == &key
                    || k.strip_prefix(key.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            });
            match set_by {
                Some((_, var)) => ConfigError::InvalidEnv {
                    var: var.clone(),
                    file,
                    key,
                    message,
                },
                None => ConfigError::Invalid { file, key, message },
            }
        }
        other => other,
    };
    let read_err = |e: config::ConfigError| ConfigError::Read {
        file: file.to_owned(),
        reason: e.to_string(),
    };
    let layered = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .add_source(
            config::Environment::with_prefix(ENV_PREFIX)
                .prefix_separator("_")
                .separator("__")
                .source(Some(env)),
        )
        .build()
        .map_err(read_err)?;
    let raw: Raw = layered
        .try_deserialize()
        .map_err(|e| blame_env(invalid_from(file, e)))?;
    raw.validate(file, base_dir).map_err(blame_env)
}

/// Turns a `config` deserialisation error into one that names the key.
fn invalid_from(file: &Path, e: config::ConfigError) -> ConfigError {
    let message = e.to_string();
    // The config crate words unknown fields as "unknown field `x`, expected
    // ... for key `poll`"; pull the key out so the message leads with it.
    let key = match (&e, message.find("unknown field `")) {
        (config::ConfigError::Type { key: Some(k), .. }, _) => k.clone(),
        (_, Some(start)) => {
            let rest = &message[start + "unknown field `".len()..];
            let field = rest.split('`').next().unwrap_or_default();
            match message.rsplit_once("for key `") {
                Some((_, tail)) => {
                    let parent = tail.trim_end_matches('`');
                    format!("{parent}.{field}")
                }
                None => field.to_owned(),
            }
        }
        _ => "(top level)".to_owned(),
    };
    ConfigError::Invalid {
        file: file.to_owned(),
        key,
        message,
    }
}

impl Raw {
    fn validate(self, file: &Path, base_dir: &Path) -> Result<Settings, ConfigError> {
        let bad = |key: &str, message: String| ConfigError::Invalid {
            file: file.to_owned(),
            key: key.to_owned(),
            message,
        };

        let listen_text = self.server.listen.as_deref().unwrap_or(defaults::LISTEN);
        let listen = listen_address(listen_text).ok_or_else(|| {
            bad(
                "server.listen",
                format!(
                    "{listen_text:?} is not an address like 127.0.0.1:8080, [::1]:8080 or localhost:8080"
                ),
            )
        })?;
        let base_url = match &self.server.base_url {
            Some(text) => {
                let url = Url::parse(text)
                    .map_err(|e| bad("server.base_url", format!("{text:?} is not a URL: {e}")))?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(bad(
                        "server.base_url",
                        format!("{text:?} must be an http:// or https:// URL"),
                    ));
                }
                url
            }
            None => Url::parse(&format!("http://{listen}/"))
                .map_err(|e| bad("server.listen", e.to_string()))?,
        };
        let title = self.server.title.unwrap_or_else(|| defaults::TITLE.into());
        if title.trim().is_empty() {
            return Err(bad("server.title", "must not be empty".into()));
        }

        let token = match self.server.token {
            None => None,
            Some(token) => {
                if token.chars().count() < MIN_TOKEN_CHARS {
                    return Err(bad(
                        "server.token",
                        format!("must be at least {MIN_TOKEN_CHARS} characters long"),
                    ));
                }
                if !token.bytes().all(|b| b.is_ascii_graphic()) {
                    return Err(bad(
                        "server.token",
                        "may only hold printable ASCII without spaces (it travels in URLs and headers)"
                            .into(),
                    ));
                }
                Some(token)
            }
        };

        let path_text = self
            .storage
            .path
            .as_deref()
            .unwrap_or(defaults::STORAGE_PATH);
        if path_text.trim().is_empty() {
            return Err(bad("storage.path", "must not be empty".into()));
        }
        let path = base_dir.join(path_text);
        let keep = duration(self.storage.keep.as_deref().unwrap_or(defaults::KEEP))
            .map_err(|m| bad("storage.keep", m))?;
        if keep < Duration::from_secs(24 * 3600) {
            return Err(bad("storage.keep", "must be at least 1d".into()));
        }
        let max_items = match self.storage.max_items {
            Some(n) if n < 1 => {
                return Err(bad("storage.max_items", format!("{n} must be at least 1")));
            }
            Some(n) => Some(n as u64),
            None => None,
        };
        let prune_every = duration(
            self.storage
                .prune_every
                .as_deref()
                .unwrap_or(defaults::PRUNE_EVERY),
        )
        .map_err(|m| bad("storage.prune_every", m))?;
        if prune_every < Duration::from_secs(60) {
            return Err(bad("storage.prune_every", "must be at least 1m".into()));
        }

        let poll = self.poll;
        let dur = |key: &str, value: Option<&str>, default: &str| {
            duration(value.unwrap_or(default)).map_err(|m| bad(key, m))
        };
        let min_interval = dur(
            "poll.min_interval",
            poll.min_interval.as_deref(),
            defaults::MIN_INTERVAL,
        )?;
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
        let interval = dur(
            "poll.interval",
            poll.interval.as_deref(),
            defaults::INTERVAL,
        )?;
        check_interval(interval, min_interval).map_err(|m| bad("poll.interval", m))?;
        let max_interval = dur(
            "poll.max_interval",
            poll.max_interval.as_deref(),
            defaults::MAX_INTERVAL,
        )?;
        if max_interval < min_interval {
            return Err(bad(
                "poll.max_interval",
                "must not be shorter than poll.min_interval".into(),
            ));
        }
        let jitter = poll.jitter.unwrap_or(defaults::JITTER);
        if !(0.0..=0.5).contains(&jitter) {
            return Err(bad(
                "poll.jitter",
                format!("{jitter} is out of range 0.0..=0.5 (a share of the interval)"),
            ));
        }
        let max_backoff = dur(
            "poll.max_backoff",
            poll.max_backoff.as_deref(),
            defaults::MAX_BACKOFF,
        )?;
        let timeout = dur("poll.timeout", poll.timeout.as_deref(), defaults::TIMEOUT)?;
        if timeout.is_zero() {
            return Err(bad("poll.timeout", "must be longer than 0s".into()));
        }
        let connect_timeout = dur(
            "poll.connect_timeout",
            poll.connect_timeout.as_deref(),
            defaults::CONNECT_TIMEOUT,
        )?;
        if connect_timeout.is_zero() {
            return Err(bad("poll.connect_timeout", "must be longer than 0s".into()));
        }
        let count = |key: &str, value: Option<i64>, default: i64| {
            let n = value.unwrap_or(default);
            usize::try_from(n)
                .ok()
                .filter(|n| (1..=1024).contains(n))
                .ok_or_else(|| bad(key, format!("{n} is out of range 1..=1024")))
        };
        let concurrency = count("poll.concurrency", poll.concurrency, defaults::CONCURRENCY)?;
        let per_host = count("poll.per_host", poll.per_host, defaults::PER_HOST)?;
        let host_delay = dur(
            "poll.host_delay",
            poll.host_delay.as_deref(),
            defaults::HOST_DELAY,
        )?;
        let shutdown_grace = dur(
            "poll.shutdown_grace",
            poll.shutdown_grace.as_deref(),
            defaults::SHUTDOWN_GRACE,
        )?;
        let max_body = poll.max_body.unwrap_or(defaults::MAX_BODY);
        let max_body = usize::try_from(max_body)
            .ok()
            .filter(|n| *n >= 1024)
            .ok_or_else(|| bad("poll.max_body", format!("{max_body} is below 1024 bytes")))?;
        let contact = poll.contact.as_deref().unwrap_or(defaults::CONTACT);
        Url::parse(contact)
            .map_err(|e| bad("poll.contact", format!("{contact:?} is not a URL: {e}")))?;
        let user_agent = poll
            .user_agent
            .unwrap_or_else(|| format!("wiredesk/{} (+{contact})", env!("CARGO_PKG_VERSION")));
        if user_agent.trim().is_empty() {
            return Err(bad("poll.user_agent", "must not be empty".into()));
        }
        let proxy = match &poll.proxy {
            Some(text) => Some(
                Url::parse(text)
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https" | "socks5"))
                    .ok_or_else(|| {
                        bad(
                            "poll.proxy",
                            format!("{text:?} is not an http:// proxy URL"),
                        )
                    })?,
            ),
            None => None,
        };

        let dedup = validate_dedup(self.dedup).map_err(|(key, m)| bad(&key, m))?;
        if let Some(level) = &self.log.level {
            crate::ops::logging::check_level(level).map_err(|m| bad("log.level", m))?;
        }

        let mut sources = Vec::with_capacity(self.sources.len());
        let mut seen = HashSet::new();
        for (index, value) in self.sources.into_iter().enumerate() {
            let source = validate_source(index, value, interval, min_interval, base_dir)
                .map_err(|(key, message)| bad(&key, message))?;
            if !seen.insert(source.id.clone()) {
                return Err(bad(
                    &format!("sources[{index}].id"),
                    format!(
                        "duplicate id {:?}: each source needs its own",
                        source.id.as_str()
                    ),
                ));
            }
            sources.push(source);
        }

        Ok(Settings {
            file: file.to_owned(),
            server: ServerSettings {
                listen,
                base_url,
                title,
                token,
                metrics: self.server.metrics.unwrap_or(true),
            },
            storage: StorageSettings {
                path,
                keep,
                max_items,
                prune_every,
            },
            poll: PollSettings {
                interval,
                min_interval,
                max_interval,
                jitter,
                max_backoff,
                timeout,
                connect_timeout,
                concurrency,
                per_host,
                host_delay,
                user_agent,
                max_body,
                proxy,
                shutdown_grace,
            },
            dedup,
            log: LogSettings {
                level: self.log.level,
            },
            sources,
        })
    }
}

/// Validates `[dedup]`; an error is (key, message).
fn validate_dedup(raw: RawDedup) -> Result<DedupSettings, (String, String)> {
    let mut t = crate::dedup::Thresholds::default();
    if let Some(text) = &raw.window {
        let window = duration(text).map_err(|m| ("dedup.window".to_owned(), m))?;
        t.window_secs = i64::try_from(window.as_secs())
            .ok()
            .filter(|s| *s >= 60)
            .ok_or_else(|| ("dedup.window".to_owned(), "must be at least 1m".to_owned()))?;
    }
    let share = |key: &str, value: Option<f64>, into: &mut f64| {
        if let Some(v) = value {
            if !(0.0..=1.0).contains(&v) {
                return Err((
                    format!("dedup.{key}"),
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

/// Validates `sources[index]`; an error is (key, message).
fn validate_source(
    index: usize,
    value: config::Value,
    default_interval: Duration,
    min_interval: Duration,
    base_dir: &Path,
) -> Result<Source, (String, String)> {
    // The id, if one can be read, names the source in every message.
    let id_hint = value
        .clone()
        .into_table()
        .ok()
        .and_then(|t| t.get("id").cloned())
        .and_then(|v| v.into_string().ok());
    let at = |field: &str| match &id_hint {
        Some(id) => format!("sources[{index}] (id {id:?}).{field}"),
        None => format!("sources[{index}].{field}"),
    };
    let raw: RawSource = value.try_deserialize().map_err(|e| {
        let message = e.to_string();
        let field = field_named_in(&message).unwrap_or_default();
        (at(field).trim_end_matches('.').to_owned(), message)
    })?;

    if raw.id.is_empty()
        || !raw
            .id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    {
        return Err((
            at("id"),
            format!(
                "{:?} may only hold a-z, 0-9, '_' and '-' (and not be empty)",
                raw.id
            ),
        ));
    }
    let url = source_url(&raw.url, base_dir).map_err(|m| (at("url"), m))?;
    let interval = match &raw.interval {
        Some(text) => {
            let d = duration(text).map_err(|m| (at("interval"), m))?;
            check_interval(d, min_interval).map_err(|m| (at("interval"), m))?;
            d
        }
        None => default_interval,
    };
    let mut tags = Vec::with_capacity(raw.tags.len());
    for tag in raw.tags {
        let tag = tag.trim().to_owned();
        if tag.is_empty() {
            return Err((at("tags"), "a tag must not be empty".into()));
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    let name = raw
        .name
        .map(|n| n.trim().to_owned())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| raw.id.clone());
    Ok(Source {
        id: SourceId::new(raw.id),
        name,
        url,
        interval,
        priority: raw.priority,
        tags,
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

/// The field a serde or config error message is about, if it names one:
/// "unknown field `x`", "missing field `x`", "missing configuration field \"x\"".
fn field_named_in(message: &str) -> Option<&str> {
    [
        ("unknown field `", '`'),
        ("missing field `", '`'),
        ("missing configuration field \"", '"'),
    ]
    .into_iter()
    .find_map(|(intro, close)| message.split(intro).nth(1)?.split(close).next())
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

/// Parses a human-readable duration such as `90s`, `15m` or `1h 30m`.
fn duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("{text:?} is not a duration like \"90s\", \"15m\" or \"1h 30m\" ({e})")
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        from_str(text, Path::new("test.toml"), Path::new("/srv/wd"), [])
    }

    fn error(text: &str) -> String {
        match parse(text) {
            Ok(_) => panic!("config was accepted:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    const ONE_SOURCE: &str = r#"
        [[sources]]
        id = "agency"
        url = "https://agency.example/feed.xml"
    "#;

    #[test]
    fn a_config_named_without_a_folder_reads_file_sources_from_the_current_one() {
        // `wiredesk --config wiredesk.toml` failed: "cannot make an empty
        // path absolute".
        let dir = folder_of(Path::new("wiredesk.toml"));
        assert_eq!(dir, Path::new("."));
        let text = "[[sources]]\nid = \"local\"\nurl = \"file:samples/a.xml\"\n";
        let s = from_str(text, Path::new("wiredesk.toml"), &dir, []).unwrap();
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(
            s.sources[0].url.to_file_path().unwrap(),
            cwd.join("samples/a.xml")
        );
        assert_eq!(folder_of(Path::new("conf/w.toml")), Path::new("conf"));
    }

    #[test]
    fn an_empty_config_takes_the_documented_defaults() {
        let s = parse("").unwrap();
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.server.base_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(s.storage.path, Path::new("/srv/wd/wiredesk.db"));
        assert_eq!(s.poll.interval, Duration::from_secs(15 * 60));
        assert_eq!(s.poll.max_body, 10 * 1024 * 1024);
        assert!(s.poll.user_agent.starts_with("wiredesk/"));
        assert!(s.sources.is_empty());
    }

    #[test]
    fn a_source_takes_the_poll_interval_unless_it_sets_its_own() {
        let s = parse(&format!(
            "[poll]\ninterval = \"1h 30m\"\n{ONE_SOURCE}\n[[sources]]\nid = \"b\"\nurl = \"http://b.example/\"\ninterval = \"90s\"\npriority = 5\ntags = [\"world\", \"world\"]"
        ))
        .unwrap();
        assert_eq!(s.sources[0].interval, Duration::from_secs(5400));
        assert_eq!(s.sources[0].name, "agency");
        assert_eq!(s.sources[1].interval, Duration::from_secs(90));
        assert_eq!(s.sources[1].priority, 5);
        assert_eq!(s.sources[1].tags, vec!["world".to_owned()]);
    }

    #[test]
    fn a_relative_file_url_is_resolved_against_the_config_folder() {
        let s = parse("[[sources]]\nid = \"local\"\nurl = \"file:samples/a.xml\"").unwrap();
        assert_eq!(s.sources[0].url.as_str(), "file:///srv/wd/samples/a.xml");
    }

    #[test]
    fn an_unknown_key_is_named() {
        let e = error("[poll]\nintervall = \"15m\"");
        assert!(e.contains("poll.intervall"), "{e}");
        let e = error("colour = 1");
        assert!(e.contains("colour"), "{e}");
    }

    #[test]
    fn an_unknown_key_in_a_source_names_the_source() {
        let e = error(&format!("{ONE_SOURCE}\nurll = \"x\""));
        assert!(e.contains("sources[0] (id \"agency\").urll"), "{e}");
    }

    #[test]
    fn a_duplicate_id_is_named() {
        let e = error(&format!("{ONE_SOURCE}\n{ONE_SOURCE}"));
        assert!(e.contains("sources[1].id"), "{e}");
        assert!(e.contains("duplicate id \"agency\""), "{e}");
    }

    #[test]
    fn a_bad_duration_is_named() {
        let e = error("[poll]\ninterval = \"fortnightly\"");
        assert!(e.starts_with("test.toml: poll.interval:"), "{e}");
        let e = error(&format!("{ONE_SOURCE}\ninterval = \"5 parsecs\""));
        assert!(e.contains("sources[0] (id \"agency\").interval"), "{e}");
    }

    #[test]
    fn an_interval_below_a_minute_is_refused() {
        let e = error("[poll]\ninterval = \"10s\"");
        assert!(e.contains("poll.interval") && e.contains("minimum"), "{e}");
    }

    #[test]
    fn a_bad_url_is_named() {
        for url in [
            "htp://x",
            "agency.example/feed",
            "https://",
            "ftp://a.example/f",
        ] {
            let e = error(&format!("[[sources]]\nid = \"a\"\nurl = \"{url}\""));
            assert!(e.contains("sources[0] (id \"a\").url"), "{url}: {e}");
        }
    }

    #[test]
    fn a_bad_id_is_named() {
        let e = error("[[sources]]\nid = \"Agency One\"\nurl = \"https://a.example/\"");
        assert!(e.contains("sources[0] (id \"Agency One\").id"), "{e}");
    }

    #[test]
    fn a_missing_url_is_named() {
        let e = error("[[sources]]\nid = \"a\"");
        assert!(e.contains("sources[0] (id \"a\").url"), "{e}");
    }

    #[test]
    fn dedup_thresholds_default_and_can_be_set() {
        let s = parse("").unwrap();
        assert!(s.dedup.enabled);
        assert_eq!(s.dedup.thresholds, crate::dedup::Thresholds::default());
        let s = parse("[dedup]\nenabled = false\nwindow = \"2d\"\ncontainment = 0.9").unwrap();
        assert!(!s.dedup.enabled);
        assert_eq!(s.dedup.thresholds.window_secs, 2 * 24 * 3600);
        assert_eq!(s.dedup.thresholds.containment, 0.9);
        let e = error("[dedup]\nresemblance = 1.5");
        assert!(e.contains("dedup.resemblance"), "{e}");
        let e = error("[dedup]\nthreshold = 0.5");
        assert!(e.contains("dedup.threshold"), "{e}");
    }

    #[test]
    fn the_config_is_looked_up_in_the_documented_order() {
        let xdg = Path::new("/home/u/.xdg");
        let home = Path::new("/home/u");
        let found = |present: &'static [&'static str]| {
            locate(Some(xdg), Some(home), |p| {
                present.iter().any(|q| Path::new(q) == p)
            })
            .unwrap()
        };
        assert_eq!(
            found(&["config/wiredesk.toml", "/etc/wiredesk/wiredesk.toml"]),
            Path::new("config/wiredesk.toml")
        );
        assert_eq!(
            found(&[
                "/home/u/.xdg/wiredesk/wiredesk.toml",
                "/etc/wiredesk/wiredesk.toml"
            ]),
            Path::new("/home/u/.xdg/wiredesk/wiredesk.toml")
        );
        assert_eq!(
            found(&["/etc/wiredesk/wiredesk.toml"]),
            Path::new("/etc/wiredesk/wiredesk.toml")
        );
        let no_xdg = locate(None, Some(home), |p| {
            p == Path::new("/home/u/.config/wiredesk/wiredesk.toml")
        });
        assert_eq!(
            no_xdg.unwrap(),
            Path::new("/home/u/.config/wiredesk/wiredesk.toml")
        );
    }

    /// Issue #18: with no config anywhere, the error named only the first
    /// place searched.
    #[test]
    fn with_no_config_anywhere_the_error_names_every_place_searched() {
        let e = locate(Some(Path::new("/x")), Some(Path::new("/home/u")), |_| false)
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "no config file: looked for config/wiredesk.toml, /x/wiredesk/wiredesk.toml, \
             /etc/wiredesk/wiredesk.toml (name one with --config PATH or WIREDESK_CONFIG)"
        );
        let e = locate(None, Some(Path::new("/home/u")), |_| false).unwrap_err();
        assert!(
            e.to_string()
                .contains("/home/u/.config/wiredesk/wiredesk.toml"),
            "{e}"
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let env = [
            (
                "WIREDESK_SERVER__LISTEN".to_owned(),
                "0.0.0.0:9000".to_owned(),
            ),
            ("WIREDESK_POLL__CONCURRENCY".to_owned(), "3".to_owned()),
            ("WIREDESK_CONFIG".to_owned(), "elsewhere.toml".to_owned()),
            ("UNRELATED".to_owned(), "1".to_owned()),
        ];
        let s = from_str(
            "[server]\nlisten = \"127.0.0.1:1\"",
            Path::new("t.toml"),
            Path::new("."),
            env,
        )
        .unwrap();
        assert_eq!(s.server.listen.to_string(), "0.0.0.0:9000");
        assert_eq!(s.poll.concurrency, 3);
    }

    #[test]
    fn the_server_token_is_optional_and_kept_when_set() {
        assert_eq!(parse("").unwrap().server.token, None);
        let s = parse("[server]\ntoken = \"s3cret-token-0123456789\"").unwrap();
        assert_eq!(s.server.token.as_deref(), Some("s3cret-token-0123456789"));
    }

    #[test]
    fn a_short_or_spaced_server_token_is_named() {
        let e = error("[server]\ntoken = \"short\"");
        assert!(e.contains("server.token") && e.contains("16"), "{e}");
        let e = error("[server]\ntoken = \"a token with spaces in it\"");
        assert!(e.contains("server.token") && e.contains("spaces"), "{e}");
    }

    #[test]
    fn a_misspelt_environment_override_is_an_error() {
        let env = [("WIREDESK_SERVER__LISTN".to_owned(), "x".to_owned())];
        let e = from_str("", Path::new("t.toml"), Path::new("."), env).unwrap_err();
        assert!(e.to_string().contains("listn"), "{e}");
    }

    /// Issue #18: a bad key or value from the environment was blamed on the
    /// file.
    #[test]
    fn an_error_in_an_environment_override_names_the_variable() {
        let env = |k: &str, v: &str| [(k.to_owned(), v.to_owned())];
        let e = from_str(
            "",
            Path::new("good.toml"),
            Path::new("."),
            env("WIREDESK_SERVER__LISTN", "1"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with(
                "environment variable WIREDESK_SERVER__LISTN (overriding good.toml): server.listn: "
            ),
            "{e}"
        );
        let e = from_str(
            "[server]\ntoken = \"s3cret-token-0123456789\"",
            Path::new("good.toml"),
            Path::new("."),
            env("WIREDESK_SERVER__TOKEN", "abc"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("environment variable WIREDESK_SERVER__TOKEN (overriding good.toml): server.token: must be"),
            "{e}"
        );
        let e = from_str(
            "",
            Path::new("good.toml"),
            Path::new("."),
            env("WIREDESK_SERVR__LISTEN", "1"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("WIREDESK_SERVR__LISTEN"), "{e}");
        // An error in the file is still the file's, whatever the environment sets.
        let e = from_str(
            "[server]\ntoken = \"abc\"",
            Path::new("bad.toml"),
            Path::new("."),
            env("WIREDESK_SERVER__LISTEN", "127.0.0.1:1"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("bad.toml: server.token: "), "{e}");
    }

    /// Issue #18: `server.listen = "localhost:8080"` was refused.
    #[test]
    fn the_listen_address_may_be_localhost() {
        let s = parse("[server]\nlisten = \"localhost:8080\"").unwrap();
        assert_eq!(s.server.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.server.base_url.as_str(), "http://127.0.0.1:8080/");
        let s = parse("[server]\nlisten = \"[::1]:9000\"").unwrap();
        assert_eq!(s.server.listen.to_string(), "[::1]:9000");
        for bad in ["localhost", "localhost:x", "example.org:80", "8080"] {
            let e = error(&format!("[server]\nlisten = {bad:?}"));
            assert!(
                e.contains("server.listen") && e.contains("localhost:8080"),
                "{e}"
            );
        }
    }
}
