//! The composition root: builds every stage from the settings and runs them
//! under one cancellation token.
//!
//! [`App::build`] opens the store, records the configured sources and binds
//! the listener (port 0 works, for tests); [`App::run`] polls and serves until
//! the `shutdown` future completes, then lets in-flight polls and requests
//! finish.
//!
//! - `config_watch.rs`: where reloads come from (SIGHUP, the file changing on
//!   disk), and the decision of when a changed file is read;
//! - `reload.rs`: applying a re-read config;
//! - this file: building and running the daemon.

mod config_watch;
mod reload;
mod websub;

pub use config_watch::watch_config;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{ConfigError, Settings, StorageSettings};
use crate::model::Source;
use crate::ops::{Metrics, Readiness, notify};
use crate::poll::{PollReport, Poller};
use crate::serve::{self, ServeState};
use crate::store::{Store, StoreError, WriterLock};

/// Why the daemon could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
    #[error("cannot set up polling: {0}")]
    Poll(#[source] crate::poll::fetch::FetchError),
    /// The server's task panicked or was cancelled.
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] tokio::task::JoinError),
}

/// Runs retention every `[storage].prune_every` until `stop`; a failure is
/// logged and retried at the next turn.
async fn prune_on_schedule(store: Store, storage: StorageSettings, stop: CancellationToken) {
    let mut every = tokio::time::interval(storage.prune_every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = every.tick() => {}
        }
        let (keep, max_items) = (storage.keep, storage.max_items);
        match store
            .run(move |s| s.prune(chrono::Utc::now(), keep, max_items))
            .await
        {
            Ok(done) if done.stories > 0 || done.tombstones_expired > 0 => tracing::info!(
                stories = done.stories,
                items = done.items,
                tombstones_expired = done.tombstones_expired,
                "retention deleted old stories"
            ),
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "retention failed; retrying at the next turn"),
        }
    }
}

/// Re-keys the items stored under another dedup normalisation (an upgrade
/// changed it, or dedup was off), a batch per write transaction, until none
/// is left or `stop`; a failure is logged and the rest waits for the next
/// start (items are also re-keyed when their source sends them again).
async fn rekey_stale_items(store: Store, stop: CancellationToken) {
    let mut below = None;
    let mut total = 0usize;
    while !stop.is_cancelled() {
        match store
            .run(move |s| s.write_poll(|tx| crate::merge::rekey_batch(tx, below)))
            .await
        {
            Ok(done) => {
                total += done.items;
                match done.next {
                    Some(next) => below = Some(next),
                    None => break,
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "re-keying stored items failed; the rest waits for the next start");
                return;
            }
        }
    }
    if total > 0 {
        tracing::info!(
            items = total,
            "stored items re-keyed for the current dedup rules"
        );
    }
}

/// A wired-up daemon, ready to run.
pub struct App {
    settings: Settings,
    store: Store,
    poller: Poller,
    listener: Option<TcpListener>,
    /// Counted into by the poller and the server alike.
    metrics: Metrics,
    /// Told by the store and the poller, read by the server (`/readyz`).
    readiness: Readiness,
    /// This process writes the database, and no other wiredesk does.
    _lock: WriterLock,
}

impl App {
    /// Opens the store and prepares polling, without binding a listener
    /// (for one-off commands such as `poll`).
    pub fn build_offline(settings: Settings) -> Result<App, AppError> {
        let lock = WriterLock::acquire(&settings.storage.path)?;
        let store = Store::open(&settings.storage.path)?;
        store.sync_sources(&settings.sources)?;
        let (metrics, readiness) = (Metrics::new(), Readiness::default());
        let poller = Poller::with_ops(
            &settings.poll,
            &settings.dedup,
            store.clone(),
            Arc::new(chrono::Utc::now),
            metrics.clone(),
            readiness.clone(),
        )
        .map_err(AppError::Poll)?;
        readiness.store_opened();
        Ok(App {
            settings,
            store,
            poller,
            listener: None,
            metrics,
            readiness,
            _lock: lock,
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

    /// Whether the daemon is ready (`/readyz`); await `readiness().wait()`
    /// to know when the first poll round has run.
    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    /// The metrics polls and requests are counted in.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
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

    /// One poll of every configured source; the reports in config order.
    pub async fn poll_once(&self) -> Vec<PollReport> {
        self.poller.poll_sources(&self.settings.sources).await
    }

    /// [`App::poll_once`], calling `done` as each poll finishes.
    pub async fn poll_once_with(&self, done: impl FnMut(&PollReport)) -> Vec<PollReport> {
        self.poller
            .poll_sources_with(&self.settings.sources, done)
            .await
    }

    /// How many sources are configured.
    pub fn source_count(&self) -> usize {
        self.settings.sources.len()
    }

    /// Polls on schedule and serves HTTP until `shutdown` completes; then
    /// stops starting work, lets in-flight polls and requests finish, and
    /// returns.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), AppError> {
        let (_no_reloads, reloads) = mpsc::channel(1);
        self.run_with_reloads(shutdown, reloads).await
    }

    /// [`App::run`], applying each config that arrives on `reloads` (the
    /// `run` command's come from [`watch_config`]). The sources of a valid
    /// one take effect at once; any other change is logged as needing a
    /// restart; an invalid one is logged and the running config stays.
    pub async fn run_with_reloads(
        mut self,
        shutdown: impl Future<Output = ()> + Send + 'static,
        reloads: mpsc::Receiver<Result<Settings, ConfigError>>,
    ) -> Result<(), AppError> {
        let token = CancellationToken::new();
        let tracker = TaskTracker::new();
        let (sources_tx, sources_rx) = watch::channel(self.settings.sources.clone());
        tracker.spawn(
            self.poller
                .clone()
                .run_with_updates(sources_rx, token.child_token()),
        );
        tracker.spawn(prune_on_schedule(
            self.store.clone(),
            self.settings.storage.clone(),
            token.child_token(),
        ));
        if self.settings.dedup.enabled {
            tracker.spawn(rekey_stale_items(self.store.clone(), token.child_token()));
        }
        // Push from publishers' hubs (#16): only with a server a hub can
        // call back.
        let callbacks: Option<Arc<dyn serve::websub::Callbacks>> =
            match (self.settings.websub.enabled, &self.listener) {
                (true, Some(_)) => {
                    let (subscriber, pushed, advertised) = crate::poll::websub::Subscriber::new(
                        &self.poller,
                        &self.settings.server.base_url,
                        self.settings.websub.lease,
                    );
                    tracker.spawn(subscriber.clone().run(
                        sources_tx.subscribe(),
                        advertised,
                        pushed,
                        token.child_token(),
                    ));
                    Some(Arc::new(subscriber))
                }
                _ => None,
            };
        // The server is not on `tracker`: waiting for it is bounded by the
        // shutdown grace below, waiting for the tracker is not.
        let (serving, server) = match self.listener.take() {
            Some(listener) => {
                let (state, server) =
                    self.serve(listener, token.child_token(), callbacks, &tracker);
                (Some(state), Some(server))
            }
            None => (None, None),
        };
        tracker.close();

        self.reload_until(shutdown, reloads, serving.as_ref(), &sources_tx)
            .await;
        notify::stopping();
        tracing::info!("shutting down: finishing in-flight polls and requests");
        token.cancel();
        let result = match server {
            Some(server) => stop_server(server, self.settings.poll.shutdown_grace).await,
            None => Ok(()),
        };
        tracker.wait().await;
        tracing::info!("stopped");
        result
    }

    /// Serves HTTP on `listener` until `stop` is cancelled: the state the
    /// routes share (a reload changes its sources) and the server's task.
    fn serve(
        &self,
        listener: TcpListener,
        stop: CancellationToken,
        callbacks: Option<Arc<dyn serve::websub::Callbacks>>,
        tracker: &TaskTracker,
    ) -> (ServeState, JoinHandle<()>) {
        let addr = listener.local_addr().ok();
        let server = &self.settings.server;
        // Where to look, in the first lines a new user reads (#18).
        tracing::info!(
            listen = ?addr,
            desk = %server.base_url,
            feed = %server.base_url.join("feed.atom").map(String::from).unwrap_or_default(),
            config = %self.settings.file.display(),
            database = %self.settings.storage.path.display(),
            sources = self.settings.sources.len(),
            "wiredesk is serving"
        );
        let state = ServeState::new(self.store.clone(), &server.title, &server.base_url)
            .with_sources(&self.settings.sources)
            .with_disabled(&self.settings.disabled_sources)
            .with_token(server.token.as_deref())
            .with_ops(&self.metrics, &self.readiness)
            .with_metrics_enabled(server.metrics);
        let state = match callbacks {
            Some(callbacks) => state.with_callbacks(callbacks),
            None => state,
        };
        let state = self.start_hub(state, stop.clone(), tracker);
        notify::ready(&format!(
            "serving on {}; polling {} sources",
            addr.map_or_else(|| "?".to_owned(), |a| a.to_string()),
            self.settings.sources.len()
        ));
        // Not `axum::serve`: it sets no header read timeout (see
        // `serve::server`).
        let task = tokio::spawn(serve::server::serve(
            listener,
            serve::router(state.clone()),
            stop,
            server.max_connections,
        ));
        (state, task)
    }

    /// With `[websub]` on: the feeds advertise a hub, and our own hub's
    /// worker (or the external hub's pinger) runs on `tracker` until `stop`.
    fn start_hub(
        &self,
        state: ServeState,
        stop: CancellationToken,
        tracker: &TaskTracker,
    ) -> ServeState {
        let base_url = &self.settings.server.base_url;
        let Some((door, intents)) = crate::hub::door(&self.settings.websub, base_url) else {
            return state;
        };
        let advertised = door.url.clone();
        let state = state.with_hub(door);
        let hub = crate::hub::Hub::new(
            state.clone(),
            self.store.clone(),
            &self.settings.websub,
            base_url,
            &self.settings.poll.user_agent,
            self.metrics.clone(),
        );
        match (hub, intents) {
            (Ok(hub), Some(intents)) => {
                tracing::info!(hub = %advertised, "websub: serving our own hub");
                tracker.spawn(hub.run(intents, stop));
            }
            (Ok(hub), None) => {
                tracing::info!(hub = %advertised, "websub: advertising and pinging an external hub");
                tracker.spawn(hub.run_publisher(advertised, stop));
            }
            (Err(e), _) => tracing::error!(error = %e, "websub: the hub cannot start"),
        }
        state
    }

    /// Applies each config that arrives on `reloads` until `shutdown`
    /// completes.
    async fn reload_until(
        &mut self,
        shutdown: impl Future<Output = ()>,
        mut reloads: mpsc::Receiver<Result<Settings, ConfigError>>,
        serving: Option<&ServeState>,
        sources_tx: &watch::Sender<Vec<Source>>,
    ) {
        tokio::pin!(shutdown);
        let mut listening = true;
        loop {
            tokio::select! {
                () = &mut shutdown => return,
                loaded = reloads.recv(), if listening => match loaded {
                    Some(loaded) => self.reload(loaded, serving, sources_tx).await,
                    None => listening = false,
                },
            }
        }
    }
}

/// Waits for the server to stop, at most `grace`, then drops the
/// connections still open. Its graceful shutdown waits for every open
/// connection to finish its request, without a deadline of its own; a
/// reader that holds a response half read must not keep the daemon from
/// stopping. The polls in flight get the same grace, at the same time.
async fn stop_server(mut server: JoinHandle<()>, grace: Duration) -> Result<(), AppError> {
    match tokio::time::timeout(grace, &mut server).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(AppError::Serve(e)),
        Err(_) => {
            tracing::warn!("open HTTP connections did not close in time; closing them");
            server.abort();
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue #17: the server had a hard-coded 10 s beside the configured
    /// grace.
    #[tokio::test(start_paused = true)]
    async fn the_server_gets_the_shutdown_grace_and_no_more() {
        let start = tokio::time::Instant::now();
        let held = tokio::spawn(std::future::pending::<()>());
        assert!(stop_server(held, Duration::from_secs(15)).await.is_ok());
        assert_eq!(start.elapsed(), Duration::from_secs(15));

        let start = tokio::time::Instant::now();
        let quick = tokio::spawn(tokio::time::sleep(Duration::from_secs(3)));
        assert!(stop_server(quick, Duration::from_secs(15)).await.is_ok());
        assert_eq!(start.elapsed(), Duration::from_secs(3));
    }
}
