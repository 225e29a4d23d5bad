//! A full disk: polls fail with a clear error, nothing stored is lost or
//! corrupted, serving goes on, and polling resumes once space returns.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use axum::http::StatusCode;
use chrono::{TimeZone, Utc};
use tower::ServiceExt;
use wiredesk::poll::{PollOutcome, Poller};
use wiredesk::store::Store;

use crate::helpers::{AGENCY_RSS, settings};

/// A small tmpfs mounted for the test, unmounted when dropped.
struct SmallDisk {
    path: PathBuf,
}

impl SmallDisk {
    /// Mounts `size` of tmpfs at `path`; `None` where the machine does not
    /// allow it (not root, no mount).
    fn mount(path: &Path, size: &str) -> Option<SmallDisk> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(path)
            .status()
            .is_ok_and(|s| s.success());
        ok.then(|| SmallDisk {
            path: path.to_owned(),
        })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes `path` until the file system is full.
fn fill(path: &Path) {
    let mut file = std::fs::File::create(path).unwrap();
    let chunk = vec![0u8; 16 * 1024];
    while file.write_all(&chunk).and_then(|()| file.flush()).is_ok() {}
    // The last partial chunk may have gone out: what is left is < 16 KiB.
}

/// The same feed with `n` more items at the top, each with a long body.
fn grown_feed(n: usize) -> String {
    let extra: String = (0..n)
        .map(|i| {
            format!(
                "<item><guid>extra-{i}</guid><title>Extra story {i}</title>\
                 <description>{}</description></item>",
                format!("Paragraph {i} of a long new story about the harbour. ").repeat(60)
            )
        })
        .collect();
    AGENCY_RSS.replacen("<item>", &format!("{extra}<item>"), 1)
}

#[tokio::test]
async fn a_full_disk_fails_polls_clearly_keeps_serving_and_resumes_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let Some(disk) = SmallDisk::mount(dir.path(), "3m") else {
        eprintln!("skipped: this machine does not allow mounting a small tmpfs");
        return;
    };
    std::fs::write(disk.path.join("agency.xml"), AGENCY_RSS).unwrap();
    let s = settings(
        &disk.path,
        "[[sources]]\nid = \"agency\"\nurl = \"file:agency.xml\"\n",
    );
    let store = Store::open(&s.storage.path).unwrap();
    store.sync_sources(&s.sources).unwrap();
    let t0 = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
    let poller =
        Poller::with_clock(&s.poll, &s.dedup, store.clone(), Arc::new(move || t0)).unwrap();
    let source = &s.sources[0];
    assert!(matches!(
        poller.poll_source(source).await.outcome,
        PollOutcome::Ok { new: 3, .. }
    ));

    // The disk fills up; the feed grows.
    std::fs::write(disk.path.join("agency.xml"), grown_feed(40)).unwrap();
    let ballast = disk.path.join("ballast");
    fill(&ballast);
    let report = poller.poll_source(source).await;
    let PollOutcome::Failed { reason } = &report.outcome else {
        panic!("{report:?}");
    };
    assert!(reason.contains("full"), "{reason}");
    // Said on the source where the operator looks, and not counted as the
    // source's failure (#20: it was only in the log).
    let state = store.source_state(&source.id).unwrap().unwrap();
    assert_eq!(state.last_status.as_deref(), Some("local_error"));
    let error = state.last_error.unwrap_or_default();
    assert!(
        error.contains("cannot store the poll") && error.contains("full"),
        "{error}"
    );
    assert_eq!(state.consecutive_failures, 0);

    // Nothing stored is lost or damaged, and the feed is still served.
    assert_eq!(store.counts().unwrap().items, 3);
    let check = rusqlite::Connection::open(&s.storage.path).unwrap();
    let integrity: String = check
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let router = wiredesk::serve::router(wiredesk::serve::ServeState::new(
        store.clone(),
        "t",
        &url::Url::parse("http://desk.example/").unwrap(),
    ));
    let response = router
        .oneshot(
            axum::http::Request::get("/feed.atom")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // Space returns: the next poll (the scheduler's retry) stores it all.
    std::fs::remove_file(&ballast).unwrap();
    let report = poller.poll_source(source).await;
    assert!(
        matches!(report.outcome, PollOutcome::Ok { new: 40, .. }),
        "{report:?}"
    );
    assert_eq!(store.counts().unwrap().items, 43);
    drop((poller, store, check));
}
