//! The composition root: builds every stage from the settings and runs them
//! under one cancellation token.
//!
//! [`App::build`] opens the store, records the configured sources and binds
//! the listener (port 0 works, for tests); [`App::run`] polls and serves until
//! the `shutdown` future completes, then lets in-flight polls and requests
//! finish.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Settings;
use crate::poll::{PollReport, Poller};
use crate::serve::{self, ServeState};
use crate::store::{Store, StoreError};

/// How long open HTTP connections get to finish at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("cannot set up polling: {0}")]
    Poll(String),
    #[error("the HTTP server failed: {0}")]
    Serve(String),
}

/// A wired-up daemon, ready to run.
pub struct App {
    settings: Settings,
    store: Store,
    poller: Poller,
    listener: Option<TcpListener>,
}

impl App {
    /// Opens the store and prepares polling, without binding a listener
    /// (for one-off commands such as `poll`).
    pub fn build_offline(settings: Settings) -> Result<App, AppError> {
        let store = Store::open(&settings.storage.path)?;
        store.sync_sources(&settings.sources)?;
        let poller = Poller::new(&settings.poll, &settings.dedup, store.clone())
            .map_err(|e| AppError::Poll(e.to_string()))?;
        Ok(App {
            settings,
            store,
            poller,
            listener: None,
        })
    }

    /// Opens the store, prepares polling and binds `[server].listen`.
    pub async fn build(settings: Settings) -> Result<App, AppError> {
        let addr = settings.server.listen;
        let mut app = App::build_offline(settings)?;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| AppError::Listen {
                addr,
                reason: e.to_string(),
            })?;
        app.listener = Some(listener);
        Ok(app)
    }

    /// The address the server listens on (useful with port 0).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// One poll of the configured sources with these ids, now.
    pub async fn poll_sources_now(&self, ids: &[&str]) -> Vec<PollReport> {
        let sources: Vec<_> = self
            .settings
            .sources
            .iter()
            .filter(|s| ids.contains(&s.id.as_str()))
            .cloned()
            .collect();
        self.poller.poll_sources(&sources).await
    }

    /// One poll of every configured source, in config order.
    pub async fn poll_once(&self) -> Vec<PollReport> {
        self.poller.poll_sources(&self.settings.sources).await
    }

    /// Polls on schedule and serves HTTP until `shutdown` completes; then
    /// stops starting work, lets in-flight polls and requests finish, and
    /// returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();

        let poller = self.poller.clone();
        let sources = self.settings.sources.clone();
        tracker.spawn(poller.run(sources, token.child_token()));

        let server = match self.listener {
            Some(listener) => {
                let addr = listener.local_addr().ok();
                tracing::info!(
                    listen = ?addr,
                    feed = %self.settings.server.base_url.join("feed.atom").map(String::from).unwrap_or_default(),
                    sources = self.settings.sources.len(),
                    "wiredesk is serving"
                );
                let state = ServeState::new(
                    self.store.clone(),
                    &self.settings.server.title,
                    &self.settings.server.base_url,
                )
                .with_sources(&self.settings.sources)
                .with_token(self.settings.server.token.as_deref());
                let stop = token.child_token();
                // Not `axum::serve`: it sets no header read timeout (see
                // `serve::server`).
                Some(tracker.spawn(serve::server::serve(listener, serve::router(state), stop)))
            }
            None => None,
        };
        tracker.close();

        shutdown.await;
        tracing::info!("shutting down: finishing in-flight polls and requests");
        token.cancel();
        // axum's graceful shutdown waits for every open connection without
        // a deadline of its own; a reader holding a connection open must not
        // keep the daemon from stopping.
        let result = match server {
            Some(handle) => match tokio::time::timeout(SHUTDOWN_GRACE, handle).await {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(AppError::Serve(e.to_string())),
                Err(_) => {
                    tracing::warn!("open HTTP connections did not close in time; leaving them");
                    Ok(())
                }
            },
            None => Ok(()),
        };
        tracker.wait().await;
        tracing::info!("stopped");
        result
    }
}
