//! Operations: what an operator and a service manager see of the running
//! daemon. A leaf module: it knows nothing of polling or serving, which
//! report into it.
//!
//! - [`metrics`]: the Prometheus counters and histograms (prometheus-client,
//!   the only user), rendered by `GET /metrics`.
//! - [`Readiness`]: whether the daemon is ready (`GET /readyz`): the store is
//!   open and a first poll round has run.
//! - [`notify`]: systemd's notification protocol (`READY=1`, `WATCHDOG=1`,
//!   `STATUS=…`, `STOPPING=1`; sd-notify, the only user), a no-op outside
//!   systemd.
//! - [`logging`]: the log format and level (tracing-subscriber, the only user).

pub mod logging;
pub mod metrics;
pub mod notify;

use std::sync::Arc;

use tokio::sync::watch;

pub use metrics::Metrics;

/// Whether the daemon is ready to serve a useful feed; cheap to clone.
#[derive(Clone)]
pub struct Readiness {
    state: Arc<watch::Sender<Ready>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Ready {
    store_open: bool,
    polled: bool,
}

impl Default for Readiness {
    fn default() -> Readiness {
        Readiness {
            state: Arc::new(watch::Sender::new(Ready::default())),
        }
    }
}

impl Readiness {
    /// The store is open and its schema up to date.
    pub fn store_opened(&self) {
        self.state.send_modify(|r| r.store_open = true);
    }

    /// A poll round has run: every source due at start has been polled once.
    pub fn round_polled(&self) {
        self.state.send_modify(|r| r.polled = true);
    }

    /// `None` when ready, else why not, in a few words.
    pub fn not_ready_because(&self) -> Option<&'static str> {
        let r = *self.state.borrow();
        if !r.store_open {
            Some("the store is not open yet")
        } else if !r.polled {
            Some("no poll round has run yet")
        } else {
            None
        }
    }

    /// Completes once the daemon is ready.
    pub async fn wait(&self) {
        let mut rx = self.state.subscribe();
        // The sender lives in `self`, so the channel never closes here.
        let _ = rx.wait_for(|r| r.store_open && r.polled).await;
    }
}
