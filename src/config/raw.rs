//! The config as written: serde structs that refuse unknown keys
//! (`deny_unknown_fields`: a typo never passes silently), read from the
//! layered file and environment. Nothing here is checked beyond its type;
//! `validate` turns these into [`Settings`](super::Settings).

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
    pub keep: Option<String>,
    pub max_items: Option<i64>,
    pub prune_every: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPoll {
    pub interval: Option<String>,
    pub min_interval: Option<String>,
    pub max_interval: Option<String>,
    pub jitter: Option<f64>,
    pub max_backoff: Option<String>,
    pub timeout: Option<String>,
    pub connect_timeout: Option<String>,
    pub concurrency: Option<i64>,
    pub per_host: Option<i64>,
    pub host_delay: Option<String>,
    pub user_agent: Option<String>,
    pub contact: Option<String>,
    pub max_body: Option<i64>,
    pub proxy: Option<String>,
    pub shutdown_grace: Option<String>,
}

/// `[dedup]` as written: every threshold of `dedup::Thresholds` may be set.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDedup {
    pub enabled: Option<bool>,
    pub window: Option<String>,
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

/// `[[sources]]`, one of them.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSource {
    pub id: String,
    pub name: Option<String>,
    pub url: String,
    pub interval: Option<String>,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub tags: Vec<String>,
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
    layered.try_deserialize().map_err(invalid_from)
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
    value.try_deserialize().map_err(|e| {
        let message = e.to_string();
        let field = field_named_in(&message).unwrap_or_default();
        Invalid {
            key: name.key(field),
            message,
        }
    })
}

/// Turns a `config` deserialisation error into one that names the key.
fn invalid_from(e: config::ConfigError) -> Invalid {
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
    Invalid { key, message }
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
