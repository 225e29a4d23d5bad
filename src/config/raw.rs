//! The config as written: serde structs that refuse unknown keys
//! (`deny_unknown_fields`: a typo never passes silently), read from the
//! layered file and environment. Nothing here is checked beyond its type;
//! `validate` turns these into [`Settings`](super::Settings).

use std::time::Duration;

use serde::Deserialize;

use super::Invalid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Raw {
    #[serde(default)]
    pub server: RawServer,
    #[serde(default)]
    pub storage: RawStorage,
    #[serde(default)]
    pub poll: RawPoll,
    #[serde(default)]
    pub dedup: RawDedup,
    #[serde(default)]
    pub log: RawLog,
    #[serde(default)]
    pub websub: RawWebSub,
    /// Read one by one ([`read_source`]), so that an error can name the
    /// index and id of the source at fault.
    #[serde(default)]
    pub sources: Vec<config::Value>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawServer {
    pub listen: Option<String>,
    pub base_url: Option<String>,
    pub title: Option<String>,
    pub token: Option<String>,
    pub metrics: Option<bool>,
    pub max_connections: Option<i64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLog {
    pub level: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStorage {
    pub path: Option<String>,
    #[serde(default, deserialize_with = "duration")]
    pub keep: Option<Duration>,
    pub max_items: Option<i64>,
    #[serde(default, deserialize_with = "duration")]
    pub prune_every: Option<Duration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPoll {
    #[serde(default, deserialize_with = "duration")]
    pub interval: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub min_interval: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub max_interval: Option<Duration>,
    pub jitter: Option<f64>,
    pub adaptive: Option<bool>,
    #[serde(default, deserialize_with = "duration")]
    pub max_backoff: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub timeout: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub connect_timeout: Option<Duration>,
    pub concurrency: Option<i64>,
    pub per_host: Option<i64>,
    #[serde(default, deserialize_with = "duration")]
    pub host_delay: Option<Duration>,
    pub user_agent: Option<String>,
    pub contact: Option<String>,
    pub max_body: Option<i64>,
    pub proxy: Option<String>,
    pub allow_private: Option<bool>,
    #[serde(default, deserialize_with = "duration")]
    pub shutdown_grace: Option<Duration>,
}

/// `[dedup]` as written: every threshold of `dedup::Thresholds` may be set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDedup {
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "duration")]
    pub window: Option<Duration>,
    pub resemblance: Option<f64>,
    pub resemblance_anywhere: Option<f64>,
    pub lead_min_shared: Option<u32>,
    pub containment: Option<f64>,
    pub lead_slack: Option<u32>,
    pub title_resemblance: Option<f64>,
    pub title_containment: Option<f64>,
    pub link_containment: Option<f64>,
    pub min_shingles: Option<u32>,
}

/// `[websub]` as written (#16): push in (subscribing to publishers' hubs)
/// and out (wiredesk's own hub for the merged feed).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebSub {
    pub enabled: Option<bool>,
    #[serde(default, deserialize_with = "duration")]
    pub lease: Option<Duration>,
    pub hub: Option<String>,
    #[serde(default, deserialize_with = "duration")]
    pub default_lease: Option<Duration>,
    #[serde(default, deserialize_with = "duration")]
    pub max_lease: Option<Duration>,
    pub max_subscriptions: Option<i64>,
    pub max_per_topic: Option<i64>,
    #[serde(default, deserialize_with = "duration")]
    pub callback_timeout: Option<Duration>,
    pub allowed_callbacks: Option<Vec<String>>,
}

/// `[[sources]]`, one of them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub id: String,
    pub name: Option<String>,
    pub url: String,
    #[serde(default, deserialize_with = "duration")]
    pub interval: Option<Duration>,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub tags: Vec<String>,
    /// `false`: not polled, its stored items kept.
    pub enabled: Option<bool>,
    /// Request headers sent with every fetch of the source (#18).
    #[serde(default)]
    pub headers: std::collections::BTreeMap<String, String>,
    /// Regexes: a new item matching none (when there are any) is blocked.
    #[serde(default)]
    pub keep: Vec<String>,
    /// Regexes: a new item matching any is blocked.
    #[serde(default)]
    pub block: Vec<String>,
    /// `false`: never subscribed to the hub its feed advertises (#16).
    pub websub: Option<bool>,
}

/// A duration written as humantime reads it: `90s`, `15m`, `1h 30m`, `2d`
/// (and `90sec`, `1 hour`, ...). Numbers are read as text too, so `90` is
/// refused for lacking a unit rather than for its type.
fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    match Option::<String>::deserialize(d)? {
        Some(text) => parse_duration(&text)
            .map(Some)
            .map_err(serde::de::Error::custom),
        None => Ok(None),
    }
}

/// Parses a human-readable duration such as `90s`, `15m` or `1h 30m`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text.trim()).map_err(|e| {
        format!("{text:?} is not a duration like \"90s\", \"15m\" or \"1h 30m\" ({e})")
    })
}

/// How messages name `sources[index]`: with its id when one can be read,
/// e.g. `sources[1] (id "agency").url`.
pub(super) struct SourceName {
    pub index: usize,
    pub id: Option<String>,
}

impl SourceName {
    /// The key of `field` of this source (the source itself when empty).
    pub fn key(&self, field: &str) -> String {
        let source = match &self.id {
            Some(id) => format!("sources[{}] (id {id:?})", self.index),
            None => format!("sources[{}]", self.index),
        };
        if field.is_empty() {
            source
        } else {
            format!("{source}.{field}")
        }
    }
}

/// Reads the layered config into [`Raw`].
pub(super) fn read(layered: config::Config) -> Result<Raw, Invalid> {
    serde_path_to_error::deserialize(layered).map_err(|e| {
        let (key, message) = located(e);
        Invalid {
            key: key.unwrap_or_else(|| "(top level)".to_owned()),
            message,
        }
    })
}

/// Reads `sources[index]`; an error names the source.
pub(super) fn read_source(index: usize, value: config::Value) -> Result<RawSource, Invalid> {
    // The id, if one can be read, names the source in every message.
    let id = value
        .clone()
        .into_table()
        .ok()
        .and_then(|t| t.get("id").cloned())
        .and_then(|v| v.into_string().ok());
    let name = SourceName { index, id };
    serde_path_to_error::deserialize(value).map_err(|e| {
        let (field, message) = located(e);
        Invalid {
            key: name.key(field.as_deref().unwrap_or_default()),
            message,
        }
    })
}

/// A deserialisation error as the key it is about (`None`: the whole of
/// what was read) and the parser's words.
///
/// The key is the path serde was at, tracked by `serde_path_to_error`. A
/// field missing from a table is reported at the table; at the root of
/// what is read (a source's `id` or `url`), the `config` crate's NotFound
/// names the field itself. The words are the error's own, less the "for
/// key `…`" and "in the environment" the `config` crate adds: the key and
/// the variable lead the message already.
fn located(e: serde_path_to_error::Error<config::ConfigError>) -> (Option<String>, String) {
    let key = path_key(e.path());
    let inner = e.into_inner();
    let key = match (key, &inner) {
        (None, config::ConfigError::NotFound(field)) => Some(field.clone()),
        (key, _) => key,
    };
    (key, words(inner))
}

/// `poll.interval`, `sources[2].url`; `None` for the root.
fn path_key(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut key = String::new();
    for segment in path {
        match segment {
            Segment::Seq { index } => key.push_str(&format!("[{index}]")),
            Segment::Map { key: name } | Segment::Enum { variant: name } => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push_str(name);
            }
            Segment::Unknown => {
                if !key.is_empty() {
                    key.push('.');
                }
                key.push('?');
            }
        }
    }
    (!key.is_empty()).then_some(key)
}

/// What went wrong, without where.
fn words(e: config::ConfigError) -> String {
    match e {
        config::ConfigError::At { error, .. } => words(*error),
        config::ConfigError::Type {
            unexpected,
            expected,
            ..
        } => config::ConfigError::Type {
            origin: None,
            unexpected,
            expected,
            key: None,
        }
        .to_string(),
        other => other.to_string(),
    }
}
