//! The daemon's metrics, in the OpenMetrics text format that Prometheus
//! scrapes (`GET /metrics`).
//!
//! Counters and histograms move where things happen: every poll passes
//! through [`Metrics::poll`] (called from `poll::log_report`), every HTTP
//! request through [`Metrics::http_request`]. Sizes that live in the store
//! (stories, failing sources, schedule lag, database size) are gauges set
//! from the store just before each scrape ([`Metrics::set_store_gauges`]).
//!
//! Histograms have explicit buckets (prometheus-client never turns them into
//! summaries). Labels are bounded: source ids come from the config, routes
//! from the router (`other` for anything unrouted), outcomes and statuses
//! from fixed sets.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The media type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Fetch durations, in seconds: 10 ms to the default 30 s timeout.
const FETCH_BUCKETS: [f64; 12] = [
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 30.0,
];
/// HTTP answers, in seconds: a cached page takes well under a millisecond.
const HTTP_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PollLabels {
    source: String,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PushLabels {
    source: String,
    /// `good`, `missing`, `unreadable` or `wrong`.
    signature: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SourceLabel {
    source: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabel {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: String,
}

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

/// What one poll contributes to the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollSample<'a> {
    pub source: &'a str,
    /// `ok`, `not_modified`, `unchanged` or `error`.
    pub outcome: &'static str,
    /// How long the fetch took (body included), when there was one.
    pub fetch: Option<Duration>,
    /// Body bytes received (after decompression).
    pub bytes: u64,
    /// Items new to the store.
    pub stored: u64,
    /// New items that joined an existing story as a copy.
    pub merged: u64,
}

/// Sizes read from the store at scrape time.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct StoreGauges {
    pub stories: i64,
    pub items: i64,
    /// Configured sources whose last poll failed.
    pub sources_failing: i64,
    /// How far past its due time the most overdue source is, in seconds
    /// (0 when none is overdue).
    pub next_poll_lag_seconds: f64,
    pub database_bytes: i64,
    /// Learned boilerplate paragraphs, as counted by the last retention
    /// run (`None` before it).
    pub learned_paragraphs: Option<i64>,
}

/// The registry and its metrics; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    polls: Family<PollLabels, Counter>,
    fetch_seconds: HistogramFamily<SourceLabel>,
    fetched_bytes: Family<SourceLabel, Counter>,
    items_stored: Family<SourceLabel, Counter>,
    poll_gaps: Family<SourceLabel, Counter>,
    websub_pushes: Family<PushLabels, Counter>,
    copies_merged: Counter,
    hub_subscriptions: Gauge,
    hub_deliveries: Family<OutcomeLabel, Counter>,
    stories: Gauge,
    items: Gauge,
    sources_failing: Gauge,
    next_poll_lag: Gauge<f64, AtomicU64>,
    database_bytes: Gauge,
    learned_paragraphs: Gauge,
    learned_per_item: Gauge<f64, AtomicU64>,
    http_requests: Family<RouteStatus, Counter>,
    http_seconds: HistogramFamily<RouteLabel>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut r = Registry::with_prefix("wiredesk");
        let polls = register(&mut r, POLLS, Family::<PollLabels, Counter>::default());
        let fetch_seconds: HistogramFamily<SourceLabel> = register(
            &mut r,
            FETCH_SECONDS,
            Family::new_with_constructor(|| Histogram::new(FETCH_BUCKETS)),
        );
        let fetched_bytes = register(&mut r, FETCHED, Family::<SourceLabel, Counter>::default());
        let items_stored = register(&mut r, ITEMS_STORED, Family::default());
        let poll_gaps = register(&mut r, POLL_GAPS, Family::default());
        let websub_pushes = register(&mut r, WEBSUB_PUSHES, Family::default());
        let copies_merged = register(&mut r, COPIES_MERGED, Counter::default());
        let hub_subscriptions = register(&mut r, HUB_SUBSCRIPTIONS, Gauge::default());
        let hub_deliveries = register(&mut r, HUB_DELIVERIES, Family::default());
        let stories = register(&mut r, STORIES, Gauge::default());
        let items = register(&mut r, ITEMS, Gauge::default());
        let sources_failing = register(&mut r, SOURCES_FAILING, Gauge::default());
        let next_poll_lag = register(&mut r, NEXT_POLL_LAG, Gauge::<f64, AtomicU64>::default());
        let database_bytes = register(&mut r, DATABASE_SIZE, Gauge::default());
        let learned_paragraphs = register(&mut r, LEARNED, Gauge::default());
        let learned_per_item =
            register(&mut r, LEARNED_PER_ITEM, Gauge::<f64, AtomicU64>::default());
        let http_requests = register(&mut r, HTTP_REQUESTS, Family::default());
        let http_seconds: HistogramFamily<RouteLabel> = register(
            &mut r,
            HTTP_REQUEST_DURATION,
            Family::new_with_constructor(|| Histogram::new(HTTP_BUCKETS)),
        );
        Metrics {
            inner: Arc::new(Inner {
                registry: r,
                polls,
                fetch_seconds,
                fetched_bytes,
                items_stored,
                poll_gaps,
                websub_pushes,
                copies_merged,
                hub_subscriptions,
                hub_deliveries,
                stories,
                items,
                sources_failing,
                next_poll_lag,
                database_bytes,
                learned_paragraphs,
                learned_per_item,
                http_requests,
                http_seconds,
            }),
        }
    }

    /// Counts one finished poll.
    pub fn poll(&self, sample: &PollSample<'_>) {
        let m = &self.inner;
        let source = SourceLabel {
            source: sample.source.to_owned(),
        };
        m.polls
            .get_or_create(&PollLabels {
                source: source.source.clone(),
                outcome: sample.outcome,
            })
            .inc();
        if let Some(fetch) = sample.fetch {
            m.fetch_seconds
                .get_or_create(&source)
                .observe(fetch.as_secs_f64());
        }
        if sample.bytes > 0 {
            m.fetched_bytes.get_or_create(&source).inc_by(sample.bytes);
        }
        m.items_stored.get_or_create(&source).inc_by(sample.stored);
        m.copies_merged.inc_by(sample.merged);
    }

    /// A push a hub sent for `source` (WebSub, #16), by what its
    /// signature came to; only `good` ones are ingested.
    pub fn websub_push(&self, source: &str, signature: &str) {
        self.inner
            .websub_pushes
            .get_or_create(&PushLabels {
                source: source.to_owned(),
                signature: signature.to_owned(),
            })
            .inc();
    }

    /// Counts a poll that found a gap in `source`'s feed.
    pub fn gap(&self, source: &str) {
        self.inner
            .poll_gaps
            .get_or_create(&SourceLabel {
                source: source.to_owned(),
            })
            .inc();
    }

    /// The WebSub hub's subscriptions held now.
    pub fn hub_subscriptions(&self, held: usize) {
        self.inner
            .hub_subscriptions
            .set(i64::try_from(held).unwrap_or(i64::MAX));
    }

    /// Counts one content distribution of the hub.
    pub fn hub_delivery(&self, ok: bool) {
        self.inner
            .hub_deliveries
            .get_or_create(&OutcomeLabel {
                outcome: if ok { "ok" } else { "failed" },
            })
            .inc();
    }

    /// Counts one answered HTTP request; `route` is the router's pattern.
    pub fn http_request(&self, route: &str, status: u16, elapsed: Duration) {
        let m = &self.inner;
        m.http_requests
            .get_or_create(&RouteStatus {
                route: route.to_owned(),
                status,
            })
            .inc();
        m.http_seconds
            .get_or_create(&RouteLabel {
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }

    /// Sets the gauges read from the store.
    pub fn set_store_gauges(&self, g: &StoreGauges) {
        let m = &self.inner;
        m.stories.set(g.stories);
        m.items.set(g.items);
        m.sources_failing.set(g.sources_failing);
        m.next_poll_lag.set(g.next_poll_lag_seconds.max(0.0));
        m.database_bytes.set(g.database_bytes);
        if let Some(n) = g.learned_paragraphs {
            m.learned_paragraphs.set(n);
            m.learned_per_item.set(if g.items > 0 {
                n as f64 / g.items as f64
            } else {
                0.0
            });
        }
    }

    /// The whole exposition, ending with `# EOF`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }
}

/// A metric's name (after the `wiredesk_` prefix), help text and unit.
type Desc = (&'static str, &'static str, Option<Unit>);

const POLLS: Desc = ("polls", "Polls finished, by source and outcome", None);
const FETCH_SECONDS: Desc = (
    "fetch_duration",
    "How long fetching a source's feed took, body included",
    Some(Unit::Seconds),
);
const FETCHED: Desc = (
    "fetched",
    "Feed body bytes received (after decompression)",
    Some(Unit::Bytes),
);
const ITEMS_STORED: Desc = ("items_stored", "Items new to the store", None);
const WEBSUB_PUSHES: Desc = (
    "websub_pushes",
    "Pushes received from WebSub hubs, by signature (good ones are ingested)",
    None,
);

const POLL_GAPS: Desc = (
    "poll_gaps",
    "Polls whose window shared no item with the last one (items probably missed)",
    None,
);
const HUB_SUBSCRIPTIONS: Desc = (
    "hub_subscriptions",
    "Subscriptions held by wiredesk's own WebSub hub",
    None,
);
const HUB_DELIVERIES: Desc = (
    "hub_deliveries",
    "Content distributions of the WebSub hub, by outcome (ok, failed)",
    None,
);
const COPIES_MERGED: Desc = (
    "copies_merged",
    "New items that joined an existing story as a copy",
    None,
);
const STORIES: Desc = ("stories", "Stories in the store", None);
const ITEMS: Desc = ("items", "Items in the store", None);
const SOURCES_FAILING: Desc = (
    "sources_failing",
    "Configured sources whose last poll failed",
    None,
);
const NEXT_POLL_LAG: Desc = (
    "next_poll_lag",
    "How far past its due time the most overdue source is",
    Some(Unit::Seconds),
);
const DATABASE_SIZE: Desc = (
    "database_size",
    "Size of the SQLite database (main file)",
    Some(Unit::Bytes),
);
const LEARNED: Desc = (
    "dedup_learned_paragraphs",
    "Paragraphs counted for boilerplate learning (rows, about 40 bytes each), at the last retention run",
    None,
);
const LEARNED_PER_ITEM: Desc = (
    "dedup_learned_paragraphs_per_item",
    "Paragraphs counted for boilerplate learning per stored item, at the last retention run",
    None,
);
const HTTP_REQUESTS: Desc = (
    "http_requests",
    "HTTP requests answered, by route and status",
    None,
);
const HTTP_REQUEST_DURATION: Desc = (
    "http_request_duration",
    "How long answering an HTTP request took, by route",
    Some(Unit::Seconds),
);

/// Registers `metric` under its [`Desc`] and hands it back, to be kept and
/// updated.
fn register<M: prometheus_client::registry::Metric + Clone>(
    registry: &mut Registry,
    (name, help, unit): Desc,
    metric: M,
) -> M {
    match unit {
        Some(unit) => registry.register_with_unit(name, help, unit, metric.clone()),
        None => registry.register(name, help, metric.clone()),
    }
    metric
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poll_moves_its_counters_and_fills_a_fetch_bucket() {
        let m = Metrics::new();
        m.poll(&PollSample {
            source: "agency",
            outcome: "ok",
            fetch: Some(Duration::from_millis(30)),
            bytes: 1200,
            stored: 3,
            merged: 1,
        });
        let text = m.render();
        assert!(
            text.contains("wiredesk_polls_total{source=\"agency\",outcome=\"ok\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("wiredesk_fetched_bytes_total{source=\"agency\"} 1200\n"),
            "{text}"
        );
        assert!(
            text.contains("wiredesk_items_stored_total{source=\"agency\"} 3\n"),
            "{text}"
        );
        assert!(text.contains("wiredesk_copies_merged_total 1\n"), "{text}");
        assert!(
            text.contains(
                "wiredesk_fetch_duration_seconds_bucket{le=\"0.05\",source=\"agency\"} 1\n"
            ),
            "{text}"
        );
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn learned_boilerplate_is_reported_in_all_and_per_item() {
        let m = Metrics::new();
        let mut g = StoreGauges {
            items: 200,
            ..StoreGauges::default()
        };
        m.set_store_gauges(&g);
        assert!(m.render().contains("wiredesk_dedup_learned_paragraphs 0\n"));
        g.learned_paragraphs = Some(650);
        m.set_store_gauges(&g);
        let text = m.render();
        assert!(
            text.contains("wiredesk_dedup_learned_paragraphs 650\n"),
            "{text}"
        );
        assert!(
            text.contains("wiredesk_dedup_learned_paragraphs_per_item 3.25\n"),
            "{text}"
        );
    }
}
