//! A source's rhythm (#15): how often it publishes, hour by hour, learned
//! from what its polls see; and the pure rules that turn the rhythms of all
//! sources into intervals under one request budget.
//!
//! - **Evidence is arrivals, not dates.** Each poll that answers compares
//!   the feed's window with the items the source showed before
//!   ([`Rhythm::observe`]): the items it had not shown are what arrived
//!   since the last poll. Dates only place an arrival in an hour of the day,
//!   when they are plausible, and seed a new source from its first window
//!   ([`Rhythm::seed`]); missing, equal or lying dates change no count.
//! - **Rates.** Counts and watched time are kept per hour of the day (UTC)
//!   and fade with a half-life of a week, so the estimate follows a source
//!   that changes. An hour with little evidence leans on the source's
//!   average ([`HOUR_SHRINK`]); a short-memory rate (half-life an hour)
//!   catches a burst the daily pattern does not expect.
//! - **A gap.** A window that shares no item with what the source showed
//!   before means items were probably published and rolled out of it
//!   between two polls. It is counted, and the rate is raised to what the
//!   window's own dates say (or at least doubled) so the next poll comes
//!   sooner.
//! - **The budget** ([`price`]): the requests fixed-interval polling would
//!   spend are shared so that the mean delay from publication to storage is
//!   least. For Poisson publishing at rate λ polled every `I`, an item waits
//!   `I/2` on average; minimising `Σ λᵢ Iᵢ / 2` under `Σ 1/Iᵢ = budget`
//!   gives a poll rate proportional to `√λ` (Sia, Cho & Cho, 2007), per hour
//!   of the day. Each source is kept between `min_interval` and
//!   `max_interval`, and polled at least often enough that its window is not
//!   overrun ([`safe_fill`]).

use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::time::Duration;

use chrono::{DateTime, Timelike, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::store::StoredRhythm;

const HOUR: f64 = 3600.0;
const DAY: f64 = 24.0 * HOUR;
/// Hours of the day a rhythm tells apart.
pub const HOURS: usize = 24;
/// Evidence fades by half in a week.
pub const HALF_LIFE: f64 = 7.0 * DAY;
/// The short memory that the allocation follows fades by half in an hour.
pub const RECENT_HALF_LIFE: f64 = HOUR;
/// The shorter memory that keeps the window from being overrun in a burst
/// fades by half in ten minutes.
pub const BURST_HALF_LIFE: f64 = 600.0;
/// The belief before any evidence: one item in six hours, as strong as a
/// quarter of an hour of watching (a busy source soon outweighs it).
const PRIOR_ITEMS: f64 = 0.25 / 24.0;
const PRIOR_EXPOSURE: f64 = 0.25 * HOUR;
/// How much watching an hour of the day needs before its own count
/// outweighs the source's average: with less, a quiet night is not yet a
/// pattern.
pub const HOUR_SHRINK: f64 = 1.5 * HOUR;
/// The short memories lean on the usual rate of the hour as if it were a
/// quarter of an hour of watching.
const RECENT_SHRINK: f64 = 0.25 * HOUR;
/// How unlikely an overrun of the window is allowed to be, per poll, as the
/// number of standard deviations of a Poisson count above its mean (4.75:
/// about one in a million).
const OVERRUN_SIGMAS: f64 = 4.75;
/// The estimated rate is trusted to this factor when sizing the interval
/// for the window.
const RATE_MARGIN: f64 = 1.25;
/// A first window seeds at most a week of evidence.
const SEED_SPAN: f64 = 7.0 * DAY;
/// Dates this far ahead of the poll still count as "now".
const SKEW: i64 = 300;
/// A gap's estimate never claims more than this many windows' worth.
const GAP_CAP: f64 = 10.0;
/// Items remembered to tell new ones from shown ones: four windows, within
/// these bounds.
const MEMORY_MIN: usize = 256;
const MEMORY_MAX: usize = 2048;

/// What a source's polls have taught about when it publishes.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Rhythm {
    /// Items that arrived, per hour of the day (UTC), faded.
    pub items: [f64; HOURS],
    /// Seconds watched, per hour of the day, faded alike.
    pub exposure: [f64; HOURS],
    /// Items and seconds with the short memory.
    pub recent_items: f64,
    pub recent_exposure: f64,
    /// Items and seconds with the shorter memory of bursts.
    #[serde(default)]
    pub burst_items: f64,
    #[serde(default)]
    pub burst_exposure: f64,
    /// When the last observation was made (Unix seconds); `None` before the
    /// first.
    pub observed_at: Option<i64>,
    /// How many items the feed's window held last time.
    pub window: u32,
    /// The rate (items per second) of the last interval between polls that
    /// filled at least half the window, fading by half in ten minutes: a
    /// burst under way, which the next poll must not fall behind.
    #[serde(default)]
    pub surge: f64,
    /// The last observation found a gap: the next poll comes as soon as
    /// `min_interval` allows, to measure the burst before it overruns the
    /// window again.
    #[serde(default)]
    pub gapped: bool,
    /// The items shown lately (their [`key`]s), newest window first. Kept
    /// apart from the rest by the store.
    #[serde(skip)]
    pub keys: Vec<u64>,
}

/// One item of a feed's window, as a rhythm sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The item's [`key`].
    pub key: u64,
    /// The date the feed gives it, if any.
    pub date: Option<DateTime<Utc>>,
}

/// A stable 64-bit key for an item's identity (stored, so not `std`'s
/// hasher, which may change between releases).
pub fn key(identity: &str) -> u64 {
    let digest = Sha256::digest(identity.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first)
}

/// What one observation found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Learned {
    /// Items in the window the source had not shown before.
    pub new: usize,
    /// The window shared nothing with what the source showed before: items
    /// were probably missed.
    pub gap: bool,
}

/// The limits every paced interval keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds {
    pub min_interval: Duration,
    pub max_interval: Duration,
}

impl Bounds {
    fn ceiling(&self) -> f64 {
        1.0 / self.min_interval.as_secs_f64().max(1.0)
    }

    fn floor(&self) -> f64 {
        1.0 / self
            .max_interval
            .as_secs_f64()
            .max(self.min_interval.as_secs_f64().max(1.0))
    }
}

fn hour_of(t: i64) -> usize {
    DateTime::from_timestamp(t, 0).map_or(0, |d| d.hour() as usize)
}

/// How the seconds of `(from, to]` fall on the hours of the day.
fn spread(from: i64, to: i64) -> [f64; HOURS] {
    let mut share = [0.0; HOURS];
    if to <= from {
        return share;
    }
    let span = to - from;
    let whole_days = span / 86_400;
    if whole_days > 0 {
        for s in &mut share {
            *s += (whole_days * 3600) as f64;
        }
    }
    let mut t = from + whole_days * 86_400;
    while t < to {
        let next_hour = (t.div_euclid(3600) + 1) * 3600;
        let end = next_hour.min(to);
        share[hour_of(t)] += (end - t) as f64;
        t = end;
    }
    share
}

impl Rhythm {
    /// The rhythm as the store kept it; a new one when there is none (or
    /// what was kept cannot be read, which only forgets what was learned).
    pub fn load(stored: Option<&StoredRhythm>) -> Rhythm {
        let Some(stored) = stored else {
            return Rhythm::default();
        };
        let mut rhythm: Rhythm = serde_json::from_str(&stored.json).unwrap_or_default();
        rhythm.keys = stored.keys.clone();
        rhythm
    }

    /// The rhythm as the store keeps it.
    pub fn store(&self) -> StoredRhythm {
        StoredRhythm {
            json: serde_json::to_string(self).unwrap_or_default(),
            keys: self.keys.clone(),
        }
    }

    /// The source's average rate, items per second.
    pub fn mean_rate(&self) -> f64 {
        let items: f64 = self.items.iter().sum();
        let exposure: f64 = self.exposure.iter().sum();
        (items + PRIOR_ITEMS) / (exposure + PRIOR_EXPOSURE)
    }

    /// The rate in hour `hour` of the day (UTC), leaning on the average
    /// where the hour has little evidence.
    pub fn hourly_rate(&self, hour: usize) -> f64 {
        let hour = hour % HOURS;
        let mean = self.mean_rate();
        (self.items[hour] + HOUR_SHRINK * mean) / (self.exposure[hour] + HOUR_SHRINK)
    }

    /// The rate of the hour of the day of the last observation: what the
    /// short memories lean on while they hold little.
    fn usual_rate(&self) -> f64 {
        self.hourly_rate(self.observed_at.map_or(0, hour_of))
    }

    /// The rate of the last hour or so.
    pub fn recent_rate(&self) -> f64 {
        (self.recent_items + RECENT_SHRINK * self.usual_rate())
            / (self.recent_exposure + RECENT_SHRINK)
    }

    /// The rate expected at `at`: the hour's, or the recent one when a
    /// burst runs above it.
    pub fn rate_at(&self, at: DateTime<Utc>) -> f64 {
        self.hourly_rate(at.hour() as usize).max(self.recent_rate())
    }

    /// What a poll at `now` teaches: `window` is the feed's items when a new
    /// body was parsed, `None` when the source answered that nothing
    /// changed (`304`, or the same bytes). Returns the rhythm after it.
    pub fn observe(&self, window: Option<&[Seen]>, now: DateTime<Utc>) -> (Rhythm, Learned) {
        let mut next = self.clone();
        let now_s = now.timestamp();
        let Some(since) = self.observed_at.filter(|&s| s <= now_s) else {
            let mut learned = Learned::default();
            if self.observed_at.is_none()
                && let Some(window) = window
            {
                next.seed(window, now);
                learned.new = distinct(window).len();
            }
            if let Some(window) = window {
                next.remember(window);
            }
            next.observed_at = Some(now_s);
            return (next, learned);
        };
        let span = (now_s - since) as f64;
        next.fade(span);
        let (fresh, gap) = match window {
            None => (Vec::new(), false),
            Some(window) => {
                let known: HashSet<u64> = self.keys.iter().copied().collect();
                let shown = distinct(window);
                let fresh: Vec<Seen> = shown
                    .iter()
                    .filter(|s| !known.contains(&s.key))
                    .copied()
                    .collect();
                let gap = !known.is_empty() && !shown.is_empty() && fresh.len() == shown.len();
                (fresh, gap)
            }
        };
        let mut events = fresh.len() as f64;
        if gap && let Some(window) = window {
            events = events.max(overrun(window, span));
        }
        let share = spread(since, now_s);
        for (e, s) in next.exposure.iter_mut().zip(share) {
            *e += s;
        }
        // Dated arrivals go to their hour; the rest (and what a gap hid)
        // are spread over the hours watched.
        let mut undated = events;
        for s in &fresh {
            if let Some(d) = s.date.map(|d| d.timestamp())
                && d > since
                && d <= now_s + SKEW
            {
                next.items[hour_of(d.min(now_s))] += 1.0;
                undated -= 1.0;
            }
        }
        if undated > 0.0 {
            if span > 0.0 {
                for (i, s) in next.items.iter_mut().zip(share) {
                    *i += undated * s / span;
                }
            } else {
                next.items[hour_of(now_s)] += undated;
            }
        }
        next.recent_items += events;
        next.recent_exposure += span;
        next.burst_items += events;
        next.burst_exposure += span;
        // A burst: this interval filled half the window or more. Its rate
        // holds (fading with the burst memory) until a fuller one replaces
        // it, so one quieter interval in a burst does not slow the polls.
        let window_len = window.map_or(0, |w| distinct(w).len()) as f64;
        let held = self.surge * 0.5f64.powf(span / BURST_HALF_LIFE);
        next.surge = if window_len > 0.0 && events >= window_len / 2.0 && span > 0.0 {
            let rate = match window.filter(|_| gap).and_then(dated_rate) {
                Some(rate) => rate.max(events / span),
                None => events / span,
            };
            rate.max(held)
        } else {
            held
        };
        if let Some(window) = window {
            next.remember(window);
        }
        next.observed_at = Some(now_s);
        next.gapped = gap;
        let learned = Learned {
            new: fresh.len(),
            gap,
        };
        (next, learned)
    }

    /// Whether `window` shares nothing with the items shown before: items
    /// were probably missed (never on a first poll, nor for an empty
    /// window).
    pub fn overrun_by(&self, window: &[Seen]) -> bool {
        if self.keys.is_empty() || window.is_empty() {
            return false;
        }
        let known: HashSet<u64> = self.keys.iter().copied().collect();
        window.iter().all(|s| !known.contains(&s.key))
    }

    /// Whether the item with `key` was shown before.
    pub fn knows(&self, key: u64) -> bool {
        self.keys.contains(&key)
    }

    /// Seeds a new source from the dates in its first window: the items
    /// dated in the last week (or since the oldest) over the time they
    /// cover. Unusable dates (fewer than two distinct, all in the future)
    /// seed nothing: the prior stands until polls teach more.
    pub fn seed(&mut self, window: &[Seen], now: DateTime<Utc>) {
        let now_s = now.timestamp();
        let mut dates: Vec<i64> = distinct(window)
            .iter()
            .filter_map(|s| s.date.map(|d| d.timestamp().min(now_s)))
            .filter(|&d| d <= now_s)
            .collect();
        dates.sort_unstable();
        let distinct_dates = {
            let mut d = dates.clone();
            d.dedup();
            d.len()
        };
        let Some(&oldest) = dates.first() else {
            return;
        };
        if distinct_dates < 2 {
            return;
        }
        let start = oldest.max(now_s - SEED_SPAN as i64);
        // The oldest item marks the start of the watch when it lies inside
        // the week; it is not an arrival within it.
        let share = spread(start, now_s);
        for (e, s) in self.exposure.iter_mut().zip(share) {
            *e += s;
        }
        for &d in dates.iter().filter(|&&d| d > start) {
            self.items[hour_of(d)] += 1.0;
        }
        // The short memories start from the last hour or two the window
        // covers.
        let recent_start = start.max(now_s - 2 * 3600);
        let recent = dates.iter().filter(|&&d| d > recent_start).count() as f64;
        let watched = (now_s - recent_start) as f64;
        self.recent_items = recent;
        self.recent_exposure = watched;
        self.burst_items = recent;
        self.burst_exposure = watched;
    }

    /// Remembers `window` as the items shown last: the window's keys first,
    /// then those remembered before, up to four windows.
    fn remember(&mut self, window: &[Seen]) {
        let shown = distinct(window);
        let cap = (4 * shown.len()).clamp(MEMORY_MIN, MEMORY_MAX);
        let fresh: HashSet<u64> = shown.iter().map(|s| s.key).collect();
        let mut keys: Vec<u64> = shown.iter().map(|s| s.key).collect();
        keys.extend(self.keys.iter().filter(|k| !fresh.contains(k)));
        keys.truncate(cap);
        self.keys = keys;
        self.window = shown.len() as u32;
    }

    fn fade(&mut self, span: f64) {
        let long = 0.5f64.powf(span / HALF_LIFE);
        for v in self.items.iter_mut().chain(self.exposure.iter_mut()) {
            *v *= long;
        }
        let short = 0.5f64.powf(span / RECENT_HALF_LIFE);
        self.recent_items *= short;
        self.recent_exposure *= short;
        let shorter = 0.5f64.powf(span / BURST_HALF_LIFE);
        self.burst_items *= shorter;
        self.burst_exposure *= shorter;
    }

    /// The rate it publishes at now: the last hour's, or a burst's under
    /// way (the last interval's when it filled half the window, or the
    /// ten-minute memory's).
    fn current_rate(&self) -> f64 {
        let shrink = RECENT_SHRINK / 3.0;
        let burst =
            (self.burst_items + shrink * self.usual_rate()) / (self.burst_exposure + shrink);
        self.recent_rate().max(burst).max(self.surge)
    }

    /// The least poll rate (polls per second) that keeps the window from
    /// being overrun at `rate`.
    fn window_floor(&self, rate: f64) -> f64 {
        if self.window == 0 {
            return 0.0;
        }
        rate * RATE_MARGIN / safe_fill(self.window)
    }

    /// What the source asks of the budget, for [`price`].
    pub fn demand(&self, bounds: Bounds) -> Demand {
        let rates: Vec<f64> = (0..HOURS).map(|h| self.hourly_rate(h)).collect();
        let root = rates.iter().map(|r| r.sqrt()).sum::<f64>() / HOURS as f64;
        let ceiling = bounds.ceiling();
        let floor = self
            .window_floor(self.current_rate())
            .max(bounds.floor())
            .min(ceiling);
        let bursting = self.gapped || self.surge > 2.0 * self.usual_rate();
        Demand {
            root,
            floor,
            ceiling,
            bursting,
        }
    }

    /// The highest hourly rate expected in the `span` seconds from `from`.
    fn peak_rate(&self, from: DateTime<Utc>, span: f64) -> f64 {
        let first = from.hour() as usize;
        let hours = ((f64::from(from.minute()) * 60.0 + span) / HOUR).ceil() as usize;
        (first..=first + hours.min(HOURS - 1))
            .map(|h| self.hourly_rate(h))
            .fold(0.0, f64::max)
    }

    /// How long after `now` the source is next polled when the budget's
    /// price is `price` (see [`price`]): `price × √rate` polls a second, or
    /// more if the window would be overrun, within the bounds.
    ///
    /// The allocation follows the busiest hour the interval reaches (or the
    /// last hour's rate, if higher), so a source is not left waiting into
    /// its busy hours; the window is sized for the rate it publishes at now
    /// (a burst included), raised as the hours ahead are busier than this
    /// one.
    pub fn interval(&self, price: f64, bounds: Bounds, now: DateTime<Utc>) -> Duration {
        if self.gapped {
            return bounds.min_interval.max(Duration::from_secs(1));
        }
        let here = self.hourly_rate(now.hour() as usize);
        let current = self.current_rate();
        let at = |span: f64| {
            let ahead = self.peak_rate(now, span);
            let allocated = price * ahead.max(self.recent_rate()).sqrt();
            let floor = self.window_floor(current * (ahead / here).max(1.0));
            1.0 / allocated.max(floor).clamp(bounds.floor(), bounds.ceiling())
        };
        let mut interval = at(0.0);
        for _ in 0..2 {
            interval = interval.min(at(interval));
        }
        Duration::from_secs_f64(interval)
    }
}

/// How many items may arrive between two polls for a window of `window`
/// items to be overrun about once in a million polls, for Poisson arrivals:
/// the mean `m` with `m + OVERRUN_SIGMAS·√m = window` (2.5 for a window of
/// 10, 7 for 20, 26 for 50).
pub fn safe_fill(window: u32) -> f64 {
    let z = OVERRUN_SIGMAS;
    let root = (-z + (z * z + 4.0 * f64::from(window)).sqrt()) / 2.0;
    (root * root).max(0.05)
}

/// The window's items, each key once, in the feed's order.
fn distinct(window: &[Seen]) -> Vec<Seen> {
    let mut seen = HashSet::with_capacity(window.len());
    window
        .iter()
        .filter(|s| seen.insert(s.key))
        .copied()
        .collect()
}

/// The rate the window's own dates give, items per second: at least three
/// distinct dates over a span longer than nothing, else `None`.
fn dated_rate(window: &[Seen]) -> Option<f64> {
    let mut dates: Vec<i64> = window
        .iter()
        .filter_map(|s| s.date.map(|d| d.timestamp()))
        .collect();
    dates.sort_unstable();
    dates.dedup();
    match (dates.first(), dates.last()) {
        (Some(&oldest), Some(&newest)) if dates.len() >= 3 && newest > oldest => {
            Some((dates.len() - 1) as f64 / (newest - oldest) as f64)
        }
        _ => None,
    }
}

/// How many items a window that was overrun stands for over `span`
/// seconds: what its own dates say the rate is, else twice the window,
/// within [`GAP_CAP`] windows.
fn overrun(window: &[Seen], span: f64) -> f64 {
    let n = distinct(window).len() as f64;
    let from_dates = dated_rate(window).map_or(2.0 * n, |rate| rate * span);
    from_dates.clamp(n, GAP_CAP * n)
}

/// What one source asks of the budget: poll rates in polls per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    /// The daily mean of the square root of its hourly rates.
    pub root: f64,
    /// It is polled at least this often (its window, `max_interval`).
    pub floor: f64,
    /// And at most this often (`min_interval`).
    pub ceiling: f64,
    /// A burst is under way (a gap, or a window half filled between two
    /// polls at more than twice the usual rate): what it spends is catching
    /// up, on top of the budget, and it does not make the others wait.
    pub bursting: bool,
}

/// The price that spends `budget` polls per second on `demands`: each
/// source is polled `price × √rate` times a second, within its floor and
/// ceiling. `0` when the floors alone spend the budget (each source at its
/// floor); the price that puts every source at its ceiling when even that
/// does not.
pub fn price(demands: &[Demand], budget: f64) -> f64 {
    let spend = |c: f64| -> f64 {
        demands
            .iter()
            .map(|d| (c * d.root).clamp(d.floor, d.ceiling.max(d.floor)))
            .sum()
    };
    if demands.is_empty() || !budget.is_finite() || budget <= spend(0.0) {
        return 0.0;
    }
    let mut high = 1.0;
    while spend(high) < budget {
        high *= 2.0;
        if high > 1e12 {
            return high;
        }
    }
    let mut low = 0.0;
    for _ in 0..64 {
        let mid = (low + high) / 2.0;
        if spend(mid) < budget {
            low = mid;
        } else {
            high = mid;
        }
    }
    high
}

/// How often the budget's price is worked out again, at most.
pub const REPRICE: Duration = Duration::from_secs(60);
/// How far the correction for what the schedule really spends may move the
/// budget the price is worked out for.
const CORRECTION: (f64, f64) = (0.8, 1.25);

/// The budget of the paced sources and its price, kept as their rhythms
/// change. Keyed by source (the simulator keys by number).
#[derive(Debug, Clone)]
pub struct Pacer<K> {
    bounds: Bounds,
    demands: HashMap<K, Demand>,
    /// Polls per second each paced source is scheduled at now.
    spent: HashMap<K, f64>,
    /// Polls per second fixed polling would spend on each paced source.
    shares: HashMap<K, f64>,
    /// Polls per second that fixed intervals would spend on these sources.
    budget: f64,
    /// The budget the price is worked out for, over the budget: below 1
    /// when the schedule spends more than the price plans (windows kept
    /// from overrun, busy hours, bursts), above when it spends less (hints,
    /// backoff).
    correction: f64,
    price: f64,
    priced_at: Option<DateTime<Utc>>,
    changed: bool,
}

impl<K: Hash + Eq + Clone> Pacer<K> {
    pub fn new(bounds: Bounds) -> Pacer<K> {
        Pacer {
            bounds,
            demands: HashMap::new(),
            spent: HashMap::new(),
            shares: HashMap::new(),
            budget: 0.0,
            correction: 1.0,
            price: 0.0,
            priced_at: None,
            changed: true,
        }
    }

    /// The paced sources: each with its configured interval (what fixed
    /// polling would spend on it) and what it has learned so far.
    pub fn set_sources<'a>(
        &mut self,
        sources: impl IntoIterator<Item = (K, Duration, Option<&'a Rhythm>)>,
    ) {
        self.demands.clear();
        self.shares.clear();
        self.budget = 0.0;
        let mut spent = std::mem::take(&mut self.spent);
        let fresh = Rhythm::default();
        for (id, interval, rhythm) in sources {
            let interval = interval.max(self.bounds.min_interval).as_secs_f64();
            let share = 1.0 / interval.max(1.0);
            self.budget += share;
            self.shares.insert(id.clone(), share);
            let demand = rhythm.unwrap_or(&fresh).demand(self.bounds);
            if let Some(polls) = spent.remove(&id) {
                self.spent.insert(id.clone(), polls);
            }
            self.demands.insert(id, demand);
        }
        self.changed = true;
        self.priced_at = None;
    }

    /// `id` has learned more (ignored unless it is paced).
    pub fn update(&mut self, id: &K, rhythm: &Rhythm) {
        if let Some(demand) = self.demands.get_mut(id) {
            *demand = rhythm.demand(self.bounds);
            self.changed = true;
        }
    }

    /// `id` is next polled `interval` from now (whatever decided it: its
    /// rhythm, a hint, a backoff).
    pub fn scheduled(&mut self, id: &K, interval: Duration) {
        if self.demands.contains_key(id) {
            let polls = 1.0 / interval.as_secs_f64().max(1.0);
            self.spent.insert(id.clone(), polls);
        }
    }

    /// Whether `id` is paced.
    pub fn paces(&self, id: &K) -> bool {
        self.demands.contains_key(id)
    }

    /// The budget, in polls per second.
    pub fn budget(&self) -> f64 {
        self.budget
    }

    /// The share of the budget the price is worked out for (see
    /// [`Pacer::scheduled`]).
    pub fn correction(&self) -> f64 {
        self.correction
    }

    /// What the schedule spends now, in polls per second, and the part of
    /// it the floors (windows, `max_interval`) take.
    pub fn spending(&self) -> (f64, f64) {
        let floors = self.demands.values().map(|d| d.floor).sum();
        (self.spent.values().sum(), floors)
    }

    /// The price at `now`, worked out again when demands changed and
    /// [`REPRICE`] has passed since the last time (or the sources changed).
    pub fn price(&mut self, now: DateTime<Utc>) -> f64 {
        let stale = match self.priced_at {
            None => true,
            Some(at) => self.changed && (now - at).to_std().is_ok_and(|d| d >= REPRICE),
        };
        if stale {
            // Sources in a burst spend on top of the budget: the others
            // share what is left of it after their shares.
            let calm: Vec<(&K, &Demand)> =
                self.demands.iter().filter(|(_, d)| !d.bursting).collect();
            let budget = self.budget
                - self
                    .demands
                    .iter()
                    .filter(|(_, d)| d.bursting)
                    .filter_map(|(id, _)| self.shares.get(id))
                    .sum::<f64>();
            if self.priced_at.is_some() && !self.spent.is_empty() {
                // What the schedule spends on the calm ones, a source not
                // yet scheduled counted as the price plans it.
                let spending: f64 = self
                    .demands
                    .iter()
                    .map(|(id, d)| match self.spent.get(id) {
                        Some(&polls) => polls,
                        None => (self.price * d.root).clamp(d.floor, d.ceiling.max(d.floor)),
                    })
                    .sum();
                if spending > 0.0 {
                    let step = (self.budget / spending).sqrt();
                    self.correction = (self.correction * step).clamp(CORRECTION.0, CORRECTION.1);
                }
            }
            let demands: Vec<Demand> = calm.into_iter().map(|(_, d)| *d).collect();
            self.price = price(&demands, budget.max(0.0) * self.correction);
            self.priced_at = Some(now);
            self.changed = false;
        }
        self.price
    }

    /// The bounds every paced interval keeps.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }
}

#[cfg(test)]
mod tests;
