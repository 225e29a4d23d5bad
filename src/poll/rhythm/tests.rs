use super::*;
use chrono::TimeZone;

const MIN: i64 = 60;

/// Midnight UTC, a Monday.
fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap()
}

fn at(secs: i64) -> DateTime<Utc> {
    t0() + chrono::Duration::seconds(secs)
}

fn per_hour(rate: f64) -> f64 {
    rate * HOUR
}

fn bounds() -> Bounds {
    Bounds {
        min_interval: Duration::from_secs(60),
        max_interval: Duration::from_secs(3600),
    }
}

/// A feed whose items `0..` are published every `every` seconds from t0;
/// its window at `now` holds the newest `size`, newest first.
struct Feed {
    every: i64,
    size: usize,
    dates: Dates,
}

#[derive(Clone, Copy)]
enum Dates {
    True,
    Missing,
    /// Every item carries the same date.
    Equal,
    /// Every item claims a date years ago.
    Ancient,
}

impl Feed {
    fn window(&self, now: i64) -> Vec<Seen> {
        let published = now / self.every + 1;
        let first = published.saturating_sub(self.size as i64).max(0);
        (first..published)
            .rev()
            .map(|n| Seen {
                key: key(&format!("item-{n}")),
                date: match self.dates {
                    Dates::True => Some(at(n * self.every)),
                    Dates::Missing => None,
                    Dates::Equal => Some(at(0)),
                    Dates::Ancient => Some(at(-3 * 365 * 86_400 + n)),
                },
            })
            .collect()
    }
}

/// Polls `feed` every `interval` seconds from `start` to `end`.
fn watch(feed: &Feed, start: i64, end: i64, interval: i64) -> (Rhythm, Vec<Learned>) {
    let mut rhythm = Rhythm::default();
    let mut learned = Vec::new();
    let mut now = start;
    while now <= end {
        let (next, l) = rhythm.observe(Some(&feed.window(now)), at(now));
        rhythm = next;
        learned.push(l);
        now += interval;
    }
    (rhythm, learned)
}

fn close(actual: f64, expected: f64, tolerance: f64) -> bool {
    (actual - expected).abs() <= tolerance * expected
}

#[test]
fn arrivals_teach_the_rate_whatever_the_dates_say() {
    // One item every ten minutes, polled every five for two days.
    for dates in [Dates::True, Dates::Missing, Dates::Equal, Dates::Ancient] {
        let feed = Feed {
            every: 10 * MIN,
            size: 20,
            dates,
        };
        let (rhythm, learned) = watch(&feed, 0, 2 * 86_400, 5 * MIN);
        let rate = per_hour(rhythm.mean_rate());
        assert!(close(rate, 6.0, 0.1), "learned {rate} items an hour");
        assert!(learned.iter().all(|l| !l.gap));
        assert!(learned.iter().skip(1).all(|l| l.new <= 1));
    }
}

#[test]
fn a_new_source_is_seeded_from_the_dates_in_its_first_window() {
    let feed = Feed {
        every: 30 * MIN,
        size: 10,
        dates: Dates::True,
    };
    let now = 86_400;
    let (rhythm, learned) = Rhythm::default().observe(Some(&feed.window(now)), at(now));
    assert_eq!(learned.new, 10);
    assert!(!learned.gap);
    let rate = per_hour(rhythm.mean_rate());
    // 9 arrivals in the 4.5 hours the window covers, against the prior of
    // one item in six hours: between the two, near the truth.
    assert!((1.0..=2.0).contains(&rate), "seeded {rate} items an hour");
    assert!(rate > 3.0 * per_hour(Rhythm::default().mean_rate()));
}

#[test]
fn unusable_dates_seed_nothing() {
    for dates in [Dates::Missing, Dates::Equal] {
        let feed = Feed {
            every: 30 * MIN,
            size: 10,
            dates,
        };
        let (rhythm, _) = Rhythm::default().observe(Some(&feed.window(86_400)), at(86_400));
        assert_eq!(rhythm.mean_rate(), Rhythm::default().mean_rate());
        assert_eq!(rhythm.window, 10);
    }
}

#[test]
fn a_window_that_shares_nothing_with_the_last_one_is_a_gap() {
    let feed = Feed {
        every: MIN,
        size: 10,
        dates: Dates::True,
    };
    let (rhythm, _) = Rhythm::default().observe(Some(&feed.window(0)), at(0));
    // Five minutes later: five new, five shared.
    let (rhythm, learned) = rhythm.observe(Some(&feed.window(5 * MIN)), at(5 * MIN));
    assert_eq!(learned, Learned { new: 5, gap: false });
    // Thirty minutes later: twenty published, ten shown, none shared.
    let (after, learned) = rhythm.observe(Some(&feed.window(35 * MIN)), at(35 * MIN));
    assert_eq!(learned, Learned { new: 10, gap: true });
    // The dates say one a minute: thirty arrived, not ten.
    let counted = after.recent_items - rhythm.recent_items * 0.5f64.powf(0.5);
    assert!(close(counted, 30.0, 0.05), "counted {counted}");
}

#[test]
fn a_gap_without_dates_counts_at_least_twice_the_window() {
    let feed = Feed {
        every: MIN,
        size: 10,
        dates: Dates::Missing,
    };
    let (rhythm, _) = Rhythm::default().observe(Some(&feed.window(0)), at(0));
    let (after, learned) = rhythm.observe(Some(&feed.window(60 * MIN)), at(60 * MIN));
    assert!(learned.gap);
    let counted = after.recent_items - rhythm.recent_items * 0.5;
    assert!(close(counted, 20.0, 0.01), "counted {counted}");
}

#[test]
fn reordering_or_republishing_old_items_is_no_gap() {
    let feed = Feed {
        every: MIN,
        size: 10,
        dates: Dates::True,
    };
    let (rhythm, _) = Rhythm::default().observe(Some(&feed.window(9 * MIN)), at(9 * MIN));
    // The same items, oldest first.
    let mut reversed = feed.window(9 * MIN);
    reversed.reverse();
    let (rhythm, learned) = rhythm.observe(Some(&reversed), at(10 * MIN));
    assert_eq!(learned, Learned { new: 0, gap: false });
    // Ten new items, then a window of old items brought back to the top.
    let (rhythm, _) = rhythm.observe(Some(&feed.window(19 * MIN)), at(20 * MIN));
    let (_, learned) = rhythm.observe(Some(&feed.window(9 * MIN)), at(21 * MIN));
    assert_eq!(learned, Learned { new: 0, gap: false });
}

#[test]
fn an_unchanged_answer_is_watched_time_without_arrivals() {
    let feed = Feed {
        every: MIN,
        size: 10,
        dates: Dates::True,
    };
    let (mut rhythm, _) = Rhythm::default().observe(Some(&feed.window(0)), at(0));
    let before = rhythm.mean_rate();
    for hour in 1..=48 {
        let (next, learned) = rhythm.observe(None, at(hour * 3600));
        assert_eq!(learned, Learned::default());
        rhythm = next;
    }
    assert!(rhythm.mean_rate() < before / 4.0);
    assert!(per_hour(rhythm.mean_rate()) < 0.2);
}

#[test]
fn a_daily_pattern_is_learned_where_the_evidence_supports_one() {
    // Twelve items an hour from 08:00 to 20:00 UTC, none at night, for
    // two weeks, polled every ten minutes.
    let mut rhythm = Rhythm::default();
    let mut next_item = 0;
    let mut shown: Vec<Seen> = Vec::new();
    for poll in 0..(14 * 144) {
        let now = poll * 10 * MIN;
        let hour = (now / 3600) % 24;
        if (8..20).contains(&hour) {
            for _ in 0..2 {
                shown.insert(
                    0,
                    Seen {
                        key: key(&format!("n{next_item}")),
                        date: None,
                    },
                );
                next_item += 1;
            }
            shown.truncate(30);
        }
        rhythm = rhythm.observe(Some(&shown), at(now)).0;
    }
    let noon = per_hour(rhythm.hourly_rate(12));
    let night = per_hour(rhythm.hourly_rate(3));
    assert!(close(noon, 12.0, 0.15), "noon {noon}");
    assert!(night < noon / 8.0, "night {night}");
    // The allocation follows it, by the square root: polled more than
    // three times as often at noon.
    let night_interval = rhythm.interval(0.05, bounds(), at(3 * 3600));
    let noon_interval = rhythm.interval(0.05, bounds(), at(12 * 3600));
    assert!(noon_interval * 3 < night_interval);
}

#[test]
fn a_burst_raises_the_recent_rate_at_once_and_it_fades() {
    let quiet = Feed {
        every: 3600,
        size: 10,
        dates: Dates::Missing,
    };
    let (rhythm, _) = watch(&quiet, 0, 86_400, 15 * MIN);
    let before = rhythm.rate_at(at(86_400));
    // Sixty items in fifteen minutes.
    let burst: Vec<Seen> = (0..60)
        .map(|n| Seen {
            key: key(&format!("burst-{n}")),
            date: None,
        })
        .collect();
    let (during, learned) = rhythm.observe(Some(&burst), at(86_400 + 15 * MIN));
    assert!(learned.gap);
    assert!(during.rate_at(at(86_400 + 15 * MIN)) > 50.0 * before);
    // Quiet for a day after: the burst no longer rules the rate.
    let (after, _) = during.observe(None, at(2 * 86_400));
    assert!(after.recent_rate() < before);
}

#[test]
fn the_price_spends_the_budget_by_the_square_root_of_the_rate() {
    let d = |root: f64| Demand {
        root,
        floor: 0.0,
        ceiling: 1.0,
        bursting: false,
    };
    let demands = [d(1.0), d(4.0)];
    let c = price(&demands, 0.5);
    let polls: Vec<f64> = demands.iter().map(|x| c * x.root).collect();
    assert!(
        close(polls[0], 0.1, 1e-9) && close(polls[1], 0.4, 1e-9),
        "{polls:?}"
    );
}

#[test]
fn floors_and_ceilings_are_kept_and_the_rest_share_what_is_left() {
    let demands = [
        // Wants much, capped at 0.1.
        Demand {
            root: 100.0,
            floor: 0.0,
            ceiling: 0.1,
            bursting: false,
        },
        // Wants little but its window needs 0.2.
        Demand {
            root: 0.001,
            floor: 0.2,
            ceiling: 1.0,
            bursting: false,
        },
        Demand {
            root: 1.0,
            floor: 0.0,
            ceiling: 1.0,
            bursting: false,
        },
    ];
    let c = price(&demands, 0.5);
    let spent: f64 = demands
        .iter()
        .map(|d| (c * d.root).clamp(d.floor, d.ceiling))
        .sum();
    assert!(close(spent, 0.5, 1e-9));
    assert!(close(c * 1.0, 0.2, 1e-6), "the third gets {}", c);
    // Floors above the budget: every source at its floor.
    assert_eq!(price(&demands, 0.1), 0.0);
    assert_eq!(price(&[], 1.0), 0.0);
}

#[test]
fn an_interval_stays_within_the_bounds_and_short_enough_for_the_window() {
    let busy = Feed {
        every: 10,
        size: 30,
        dates: Dates::True,
    };
    let (rhythm, _) = watch(&busy, 0, 86_400, 60);
    // A tiny price would poll it hourly, but its window fills in five
    // minutes: polled every 100 s at least.
    let interval = rhythm.interval(1e-6, bounds(), at(86_400));
    assert!(
        (90..=110).contains(&interval.as_secs()),
        "{interval:?} for a window of 30 at 6 a minute"
    );
    // A huge price polls it at the floor of a minute.
    assert_eq!(rhythm.interval(1e6, bounds(), at(86_400)).as_secs(), 60);
    // A quiet source with no window is left at the ceiling of an hour.
    assert_eq!(
        Rhythm::default().interval(1e-6, bounds(), at(0)).as_secs(),
        3600
    );
}

#[test]
fn the_pacer_prices_again_only_once_a_minute() {
    let mut pacer = Pacer::new(bounds());
    let busy = watch(
        &Feed {
            every: MIN,
            size: 50,
            dates: Dates::True,
        },
        0,
        3600,
        MIN,
    )
    .0;
    let quiet = Rhythm::default();
    pacer.set_sources([
        ("busy", Duration::from_secs(900), Some(&busy)),
        ("quiet", Duration::from_secs(900), Some(&quiet)),
    ]);
    assert!(close(pacer.budget(), 2.0 / 900.0, 1e-9));
    let first = pacer.price(at(3600));
    // The busy source is polled more often than the quiet one, and the
    // two spend the fixed budget.
    let b = busy.interval(first, bounds(), at(3600)).as_secs_f64();
    let q = quiet.interval(first, bounds(), at(3600)).as_secs_f64();
    assert!(b < 900.0 && q > 900.0, "busy {b}, quiet {q}");
    let (quieter, _) = busy.observe(None, at(3 * 3600));
    pacer.update(&"busy", &quieter);
    assert_eq!(pacer.price(at(3630)), first);
    assert_ne!(pacer.price(at(3660)), first);
    assert!(!pacer.paces(&"other"));
}

#[test]
fn the_rhythm_survives_a_round_trip_through_json() {
    let (rhythm, _) = watch(
        &Feed {
            every: MIN,
            size: 10,
            dates: Dates::True,
        },
        0,
        3600,
        5 * MIN,
    );
    let text = serde_json::to_string(&rhythm).unwrap();
    let back: Rhythm = serde_json::from_str(&text).unwrap();
    assert_eq!(back.items, rhythm.items);
    assert_eq!(back.observed_at, rhythm.observed_at);
    // The keys are stored apart.
    assert!(back.keys.is_empty());
}

#[test]
fn spread_splits_time_over_the_hours_of_the_day() {
    let share = spread(1800, 3 * 3600);
    assert_eq!(share[0], 1800.0);
    assert_eq!(share[1], 3600.0);
    assert_eq!(share[2], 3600.0);
    assert_eq!(share[3], 0.0);
    let days = spread(0, 2 * 86_400 + 3600);
    assert_eq!(days[0], 3.0 * 3600.0);
    assert_eq!(days[5], 2.0 * 3600.0);
    assert_eq!(spread(10, 10).iter().sum::<f64>(), 0.0);
}

#[test]
fn a_burst_spends_on_top_of_the_budget_and_does_not_starve_the_others() {
    let calm = watch(
        &Feed {
            every: 10 * MIN,
            size: 50,
            dates: Dates::True,
        },
        0,
        86_400,
        10 * MIN,
    )
    .0;
    // A source whose window was just overrun.
    let (burst, learned) = calm.observe(
        Some(
            &(0..50)
                .map(|n| Seen {
                    key: 1_000_000 + n,
                    date: None,
                })
                .collect::<Vec<_>>(),
        ),
        at(86_400 + 600),
    );
    assert!(learned.gap);
    assert!(burst.demand(bounds()).bursting);
    assert!(!calm.demand(bounds()).bursting);
    // It is polled again as soon as allowed.
    assert_eq!(
        burst.interval(0.0, bounds(), at(86_400 + 600)).as_secs(),
        60
    );

    let mut quiet_only = Pacer::new(bounds());
    quiet_only.set_sources([("a", Duration::from_secs(900), Some(&calm))]);
    let alone = quiet_only.price(at(86_400 + 600));
    let mut with_burst = Pacer::new(bounds());
    with_burst.set_sources([
        ("a", Duration::from_secs(900), Some(&calm)),
        ("b", Duration::from_secs(900), Some(&burst)),
    ]);
    // The calm source gets the same price, burst or not.
    assert!(close(with_burst.price(at(86_400 + 600)), alone, 1e-9));
}
