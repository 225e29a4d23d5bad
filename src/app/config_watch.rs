//! Where config reloads come from: SIGHUP, and the config file changing on
//! disk.
//!
//! Whether the file has changed, and settled, is decided by [`FileWatch`]
//! from what each look saw ([`FileState`]), with no clock and no I/O of its
//! own; [`watch_config`] is the task around it that looks every
//! [`CONFIG_CHECK`], listens for SIGHUP and reads the config.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc;

use crate::config::{self, ConfigError, Settings};

/// How often the config file is checked for changes.
pub const CONFIG_CHECK: Duration = Duration::from_secs(2);

/// The config file as one look saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileState {
    /// Not there, or its metadata cannot be read.
    Missing,
    /// There, with its modification time (where the platform keeps one) and
    /// size.
    Present {
        modified: Option<SystemTime>,
        len: u64,
    },
}

impl FileState {
    /// Looks at the file at `path`.
    pub fn of(path: &Path) -> FileState {
        match std::fs::metadata(path) {
            Ok(meta) => FileState::Present {
                modified: meta.modified().ok(),
                len: meta.len(),
            },
            Err(_) => FileState::Missing,
        }
    }
}

/// What the watcher remembers between two looks at the file.
///
/// A change is read once it has stayed the same for one more look, so an
/// editor's save, written in several steps, is read once and whole. A file
/// that vanishes is a change too: reading it then fails, and the running
/// config stays until it comes back.
#[derive(Debug)]
pub struct FileWatch {
    /// The file as it was when the config was last read.
    read: FileState,
    /// A change the last look saw, waiting for this look to show it settled.
    settling: Option<FileState>,
}

impl FileWatch {
    /// A watch over a file the config was just read from, as `read`.
    pub fn new(read: FileState) -> FileWatch {
        FileWatch {
            read,
            settling: None,
        }
    }

    /// One look at the file, seen as `now`: `true` when it is time to read
    /// the config, because the file differs from when it was last read and
    /// is the same as at the previous look.
    pub fn look(&mut self, now: FileState) -> bool {
        let previous = self.settling.take();
        if now == self.read {
            return false;
        }
        if previous == Some(now) {
            return true;
        }
        self.settling = Some(now);
        false
    }

    /// The config has been read (after [`FileWatch::look`] said so, or on
    /// SIGHUP) with the file as `now`.
    pub fn was_read(&mut self, now: FileState) {
        self.read = now;
    }
}

/// Re-reads the config at `path` on SIGHUP, and when the file changes on
/// disk (looked at every 2 s, `CONFIG_CHECK`, and read once the change has
/// settled: see `FileWatch`). Every read is sent, valid or not, for
/// [`App::run_with_reloads`](super::App::run_with_reloads) to apply or
/// refuse. Must be called within a tokio runtime.
pub fn watch_config(path: PathBuf) -> mpsc::Receiver<Result<Settings, ConfigError>> {
    let (tx, rx) = mpsc::channel(1);
    tokio::spawn(async move {
        let mut hangups = Hangups::listen();
        let mut watch = FileWatch::new(FileState::of(&path));
        let mut every = tokio::time::interval(CONFIG_CHECK);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let reason = tokio::select! {
                got = hangups.next() => match got {
                    Some(()) => "SIGHUP",
                    None => return,
                },
                _ = every.tick() => {
                    if !watch.look(FileState::of(&path)) {
                        continue;
                    }
                    "the file changed"
                }
            };
            tracing::info!(config = %path.display(), reason, "reloading the config");
            watch.was_read(FileState::of(&path));
            if tx
                .send(config::load(&path, std::env::vars()))
                .await
                .is_err()
            {
                break;
            }
        }
    });
    rx
}

/// SIGHUP deliveries, or none where they cannot be had.
struct Hangups {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Hangups {
    fn listen() -> Hangups {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let signal = signal(SignalKind::hangup())
                .map_err(|e| {
                    tracing::error!(error = %e, "cannot listen for SIGHUP; reload on SIGHUP is off");
                })
                .ok();
            Hangups { signal }
        }
        #[cfg(not(unix))]
        Hangups {}
    }

    /// The next SIGHUP; `None` once no more can come. Never completes
    /// without a handler.
    async fn next(&mut self) -> Option<()> {
        #[cfg(unix)]
        if let Some(signal) = self.signal.as_mut() {
            return signal.recv().await;
        }
        std::future::pending().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(secs: u64, len: u64) -> FileState {
        FileState::Present {
            modified: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
            len,
        }
    }

    #[test]
    fn a_file_that_did_not_change_is_never_read_again() {
        let mut watch = FileWatch::new(file(100, 10));
        for _ in 0..5 {
            assert!(!watch.look(file(100, 10)));
        }
    }

    #[test]
    fn a_change_is_read_once_it_has_stayed_the_same_for_one_more_look() {
        let mut watch = FileWatch::new(file(100, 10));
        assert!(
            !watch.look(file(105, 12)),
            "just changed: may still be written"
        );
        assert!(watch.look(file(105, 12)), "settled: read it");
        watch.was_read(file(105, 12));
        assert!(!watch.look(file(105, 12)), "read once, not again");
        assert!(!watch.look(file(105, 12)));
    }

    #[test]
    fn a_file_still_being_written_waits_until_it_stops_changing() {
        let mut watch = FileWatch::new(file(100, 10));
        assert!(!watch.look(file(101, 4)));
        assert!(!watch.look(file(101, 9)), "the size moved: not settled");
        assert!(!watch.look(file(102, 15)), "the time moved: not settled");
        assert!(watch.look(file(102, 15)));
    }

    #[test]
    fn a_change_undone_before_it_settled_is_not_read() {
        let mut watch = FileWatch::new(file(100, 10));
        assert!(!watch.look(file(105, 12)));
        assert!(!watch.look(file(100, 10)));
        assert!(!watch.look(file(100, 10)));
    }

    #[test]
    fn a_file_that_vanished_is_read_once_and_again_when_it_comes_back() {
        let mut watch = FileWatch::new(file(100, 10));
        assert!(!watch.look(FileState::Missing));
        assert!(
            watch.look(FileState::Missing),
            "gone for good: read, and refused"
        );
        watch.was_read(FileState::Missing);
        assert!(!watch.look(FileState::Missing));
        assert!(!watch.look(file(200, 10)), "back: may still be written");
        assert!(watch.look(file(200, 10)), "back and settled: read it");
    }

    #[test]
    fn a_read_on_sighup_while_a_change_settles_counts_as_the_read() {
        let mut watch = FileWatch::new(file(100, 10));
        assert!(!watch.look(file(105, 12)));
        watch.was_read(file(105, 12));
        assert!(!watch.look(file(105, 12)));
    }

    #[test]
    fn the_state_of_a_file_is_its_time_and_size_or_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.toml");
        assert_eq!(FileState::of(&path), FileState::Missing);
        std::fs::write(&path, "abc").unwrap();
        assert!(matches!(
            FileState::of(&path),
            FileState::Present { len: 3, .. }
        ));
    }
}
