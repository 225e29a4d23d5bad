//! Retention: old stories go, tombstones keep them from coming back, and
//! the space is given back.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use wiredesk::poll::{PollOutcome, Poller};
use wiredesk::store::Store;

use crate::helpers::{AGENCY_RSS, OUTLET_ATOM, settings};

const DAY: Duration = Duration::from_secs(24 * 3600);

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

/// A store in `dir` with the two sample feeds as file sources, and a poller
/// whose clock reads `at`.
fn desk(dir: &std::path::Path, at: DateTime<Utc>) -> (wiredesk::config::Settings, Store, Poller) {
    std::fs::write(dir.join("agency.xml"), AGENCY_RSS).unwrap();
    std::fs::write(dir.join("outlet.xml"), OUTLET_ATOM).unwrap();
    let s = settings(
        dir,
        "[[sources]]\nid = \"agency\"\nurl = \"file:agency.xml\"\n\
         [[sources]]\nid = \"outlet\"\nurl = \"file:outlet.xml\"\n",
    );
    let store = Store::open(&s.storage.path).unwrap();
    store.sync_sources(&s.sources).unwrap();
    let poller =
        Poller::with_clock(&s.poll, &s.dedup, store.clone(), Arc::new(move || at)).unwrap();
    (s, store, poller)
}

#[tokio::test]
async fn old_stories_go_and_their_items_do_not_come_back() {
    let dir = tempfile::tempdir().unwrap();
    let (s, store, poller) = desk(dir.path(), t0());
    poller.poll_sources(&s.sources).await;
    let before = store.counts().unwrap();
    assert_eq!(before.items, 6);

    // Nothing is old enough yet.
    let none = store.prune(t0() + 30 * DAY, 90 * DAY, None).unwrap();
    assert_eq!(none.stories, 0);

    let done = store.prune(t0() + 91 * DAY, 90 * DAY, None).unwrap();
    assert_eq!(done.stories as i64, before.stories);
    assert_eq!(done.items, 6);
    assert_eq!(store.counts().unwrap().items, 0);

    // The feeds still list the same items: they stay deleted. (The agency's
    // file changes by a byte so it is parsed again, not skipped as unchanged.)
    std::fs::write(dir.path().join("agency.xml"), format!("{AGENCY_RSS}\n")).unwrap();
    let later = t0() + 92 * DAY;
    let poller =
        Poller::with_clock(&s.poll, &s.dedup, store.clone(), Arc::new(move || later)).unwrap();
    let reports = poller.poll_sources(&s.sources[..1]).await;
    assert_eq!(
        reports[0].outcome,
        PollOutcome::Ok {
            seen: 3,
            new: 0,
            updated: 0,
            merged: 0
        }
    );
    assert_eq!(store.counts().unwrap().items, 0);
    assert!(
        store
            .is_tombstoned(&s.sources[0].id, "guid:northwind-2026-11-26-0412")
            .unwrap()
    );

    // Tombstones themselves expire after another `keep`.
    let expired = store.prune(t0() + 200 * DAY, 90 * DAY, None).unwrap();
    assert_eq!(expired.tombstones_expired, 6);
    assert!(
        !store
            .is_tombstoned(&s.sources[0].id, "guid:northwind-2026-11-26-0412")
            .unwrap()
    );
}

#[tokio::test]
async fn a_story_with_a_recent_copy_stays() {
    let dir = tempfile::tempdir().unwrap();
    let (s, store, poller) = desk(dir.path(), t0());
    // The agency's copies arrive at t0, the outlet's 60 days later: the
    // stories they share have a recent copy and stay, the others go.
    poller.poll_sources(&s.sources[..1]).await;
    let later = t0() + 60 * DAY;
    let poller =
        Poller::with_clock(&s.poll, &s.dedup, store.clone(), Arc::new(move || later)).unwrap();
    poller.poll_sources(&s.sources[1..]).await;
    let done = store.prune(t0() + 91 * DAY, 90 * DAY, None).unwrap();
    assert_eq!(done.stories, 1, "only the agency-only story is old");
    let left: Vec<String> = store
        .latest_stories(10)
        .unwrap()
        .iter()
        .map(|st| st.chosen.item.title.clone())
        .collect();
    assert_eq!(left.len(), 3, "{left:?}");
    assert!(!left.iter().any(|t| t.starts_with("Zürich")), "{left:?}");
}

#[tokio::test]
async fn max_items_removes_the_quietest_stories_first() {
    let dir = tempfile::tempdir().unwrap();
    let (s, store, poller) = desk(dir.path(), t0());
    poller.poll_sources(&s.sources[..1]).await;
    let later = t0() + DAY;
    let poller =
        Poller::with_clock(&s.poll, &s.dedup, store.clone(), Arc::new(move || later)).unwrap();
    poller.poll_sources(&s.sources[1..]).await;
    // 6 items in 4 stories; a cap of 3 takes the story quiet since t0 (one
    // item), then the next quietest whole stories until 3 items are gone.
    let done = store.prune(t0() + 2 * DAY, 90 * DAY, Some(3)).unwrap();
    assert_eq!(store.counts().unwrap().items, 3);
    assert_eq!(done.items, 3);
    assert_eq!(done.stories, 2);
    let left: Vec<String> = store
        .latest_stories(10)
        .unwrap()
        .iter()
        .map(|st| st.chosen.item.title.clone())
        .collect();
    assert!(!left.iter().any(|t| t.starts_with("Zürich")), "{left:?}");
}

#[tokio::test]
async fn pruning_gives_the_space_back() {
    let dir = tempfile::tempdir().unwrap();
    // Many items: the sample feed repeated under 200 guids.
    let mut big =
        String::from("<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>big</title>\n");
    for i in 0..200 {
        big.push_str(&format!(
            "<item><guid>g{i}</guid><title>Item {i}</title><description>{}</description></item>\n",
            format!("Paragraph number {i} of a long filler text. ").repeat(40)
        ));
    }
    big.push_str("</channel></rss>");
    std::fs::write(dir.path().join("big.xml"), big).unwrap();
    let s = settings(
        dir.path(),
        "[[sources]]\nid = \"big\"\nurl = \"file:big.xml\"\n",
    );
    let store = Store::open(&s.storage.path).unwrap();
    store.sync_sources(&s.sources).unwrap();
    let at = t0();
    let poller =
        Poller::with_clock(&s.poll, &s.dedup, store.clone(), Arc::new(move || at)).unwrap();
    poller.poll_sources(&s.sources).await;
    let file = || std::fs::metadata(&s.storage.path).unwrap().len();
    store.prune(t0(), 90 * DAY, None).unwrap(); // checkpoints the WAL into the file
    let full = file();
    store.prune(t0() + 100 * DAY, 90 * DAY, None).unwrap();
    let emptied = file();
    assert!(emptied < full / 2, "{full} -> {emptied} bytes");
}
