//! The typed settings: what a valid config means, every field checked.
//! Each stage is handed only its slice (`PollSettings` to the poller,
//! `DedupSettings` to the merge step, ...).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use url::Url;

use crate::model::Source;

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
    pub websub: WebSubSettings,
    /// The sources to poll, in config order.
    pub sources: Vec<Source>,
    /// The ids of the sources set `enabled = false`: not polled, not in
    /// `sources`; their stored items stay, as a removed source's do.
    pub disabled_sources: Vec<String>,
    /// The file says `sources = []`: no sources on purpose.
    pub sources_cleared: bool,
}

/// `[websub]` (#16): push from publishers' hubs, and wiredesk's own hub.
#[derive(Debug, Clone, PartialEq)]
pub struct WebSubSettings {
    /// Subscribe to hubs and serve our own. Default: on when
    /// `server.base_url` names a host other than a loopback address (a hub
    /// could not reach a callback on one).
    pub enabled: bool,
    /// The lease asked of a publisher's hub (it may grant another).
    pub lease: Duration,
    /// An external hub pinged when the merged feed changes, advertised
    /// instead of our own.
    pub hub: Option<Url>,
    /// Our hub: the lease given when a subscriber asks for none.
    pub default_lease: Duration,
    /// Our hub: the longest lease given.
    pub max_lease: Duration,
    /// Our hub: subscriptions held at once, all topics together.
    pub max_subscriptions: usize,
    /// Our hub: subscriptions held at once for one topic.
    pub max_per_topic: usize,
    /// Our hub: how long one verification or delivery may take.
    pub callback_timeout: Duration,
    /// Our hub: the hosts callbacks may be on (`example.org`,
    /// `*.example.org`); empty: any public host.
    pub allowed_callbacks: Vec<String>,
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

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq)]
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
    /// Most connections served at once, when the operator set it; the
    /// server never goes past its share of the open-file limit either way
    /// (`serve::server::connection_cap`).
    pub max_connections: Option<usize>,
}

/// `[storage]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageSettings {
    pub path: PathBuf,
    /// Stories with no copy newer than this are deleted (with their items).
    pub keep: Duration,
    /// At most this many items are kept; the oldest stories go first.
    pub max_items: Option<u64>,
    /// How often retention runs.
    pub prune_every: Duration,
}

/// `[poll]`.
#[derive(Debug, Clone, PartialEq)]
pub struct PollSettings {
    /// Default interval for sources that set none.
    pub interval: Duration,
    /// No source is polled more often than this.
    pub min_interval: Duration,
    /// Feed and server hints may lengthen a source's interval up to this.
    pub max_interval: Duration,
    /// Up to this share of the interval is added at random to each poll.
    pub jitter: f64,
    /// Sources without an `interval` of their own are polled to their
    /// rhythm, `interval` being the average (#15); `false`: every source at
    /// its fixed interval.
    pub adaptive: bool,
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
    /// How publishers reach the operator (`poll.contact`): an http(s) or
    /// `mailto:` URL, in the default `User-Agent`; `None` when unset.
    pub contact: Option<String>,
    /// The largest feed body accepted, in bytes (after decompression).
    pub max_body: usize,
    /// A proxy for every request; without it the usual environment
    /// variables (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`) apply.
    pub proxy: Option<Url>,
    /// Whether a redirect (or a name learned from a feed) may lead a fetch
    /// to a loopback, private or link-local address; names the operator
    /// wrote may always (`poll::fetch`).
    pub allow_private: bool,
    /// How long polls in flight, and open HTTP connections, get to finish
    /// at shutdown.
    pub shutdown_grace: Duration,
}

/// Defaults, in one place so the README and the code agree (a test reads
/// the README's config reference against them).
pub mod defaults {
    use std::time::Duration;

    const MINUTE: u64 = 60;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;

    pub const LISTEN: &str = "127.0.0.1:8080";
    pub const TITLE: &str = "wiredesk";
    pub const STORAGE_PATH: &str = "wiredesk.db";
    pub const KEEP: Duration = Duration::from_secs(90 * DAY);
    pub const PRUNE_EVERY: Duration = Duration::from_secs(HOUR);
    pub const INTERVAL: Duration = Duration::from_secs(15 * MINUTE);
    pub const MIN_INTERVAL: Duration = Duration::from_secs(MINUTE);
    pub const MAX_INTERVAL: Duration = Duration::from_secs(HOUR);
    pub const JITTER: f64 = 0.1;
    pub const MAX_BACKOFF: Duration = Duration::from_secs(DAY);
    pub const TIMEOUT: Duration = Duration::from_secs(30);
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
    pub const CONCURRENCY: i64 = 8;
    pub const PER_HOST: i64 = 1;
    pub const HOST_DELAY: Duration = Duration::ZERO;
    pub const MAX_BODY: i64 = 10 * 1024 * 1024;
    pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(15);
    pub const WEBSUB_LEASE: Duration = Duration::from_secs(10 * DAY);
    pub const HUB_DEFAULT_LEASE: Duration = Duration::from_secs(10 * DAY);
    pub const HUB_MAX_LEASE: Duration = Duration::from_secs(30 * DAY);
    pub const HUB_MAX_SUBSCRIPTIONS: i64 = 1_000;
    pub const HUB_MAX_PER_TOPIC: i64 = 100;
    pub const HUB_CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::defaults;

    /// The default the README's config reference gives `key`: the first
    /// `code` after the key in its row.
    fn documented(key: &str) -> String {
        let readme = include_str!("../../README.md");
        let row = readme
            .lines()
            .find(|line| line.starts_with(&format!("| `{key}` |")))
            .unwrap_or_else(|| panic!("{key} is not in the README's config reference"));
        row.split('`').nth(3).unwrap_or_default().to_owned()
    }

    #[test]
    fn the_default_durations_are_the_documented_ones() {
        let cases: [(&str, Duration); 10] = [
            ("storage.keep", defaults::KEEP),
            ("storage.prune_every", defaults::PRUNE_EVERY),
            ("poll.interval", defaults::INTERVAL),
            ("poll.min_interval", defaults::MIN_INTERVAL),
            ("poll.max_interval", defaults::MAX_INTERVAL),
            ("poll.max_backoff", defaults::MAX_BACKOFF),
            ("poll.timeout", defaults::TIMEOUT),
            ("poll.connect_timeout", defaults::CONNECT_TIMEOUT),
            ("poll.host_delay", defaults::HOST_DELAY),
            ("poll.shutdown_grace", defaults::SHUTDOWN_GRACE),
        ];
        for (key, default) in cases {
            let text = documented(key);
            assert_eq!(
                humantime::parse_duration(&text),
                Ok(default),
                "{key}: README says {text:?}"
            );
        }
    }
}
