//! Per-host politeness: at most `[poll].per_host` requests in flight to one
//! host, and at least `[poll].host_delay` between the starts of two requests
//! to it.
//!
//! A place is an owned permit held by the [`HostGuard`] from the moment it
//! is taken, through the wait for the host delay, until the request is over:
//! a poll cancelled anywhere on the way (a shutdown, an abandoned task)
//! gives its place back by being dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use url::Url;

/// The limits of every host polled so far.
pub(super) struct Hosts {
    per_host: usize,
    delay: Duration,
    hosts: Mutex<HashMap<String, Arc<Host>>>,
}

struct Host {
    permits: Arc<Semaphore>,
    /// When the last request to the host started. A tokio mutex: it is held
    /// across the wait for the delay, so that requests start one by one.
    last_start: tokio::sync::Mutex<Option<Instant>>,
}

/// A place among a host's requests in flight, given back when dropped.
pub(super) struct HostGuard {
    _permit: OwnedSemaphorePermit,
}

impl Hosts {
    pub(super) fn new(per_host: usize, delay: Duration) -> Hosts {
        Hosts {
            per_host,
            delay,
            hosts: Mutex::new(HashMap::new()),
        }
    }

    /// Waits until a request to `url`'s host may start; the returned guard
    /// holds its place until dropped. Files have no host and never wait.
    pub(super) async fn enter(&self, url: &Url) -> Option<HostGuard> {
        let host = self.host(url.host_str()?);
        // The semaphore is never closed, so acquiring cannot fail.
        let permit = Arc::clone(&host.permits).acquire_owned().await.ok()?;
        if !self.delay.is_zero() {
            let mut last = host.last_start.lock().await;
            if let Some(at) = *last {
                tokio::time::sleep_until(at + self.delay).await;
            }
            *last = Some(Instant::now());
        }
        Some(HostGuard { _permit: permit })
    }

    fn host(&self, name: &str) -> Arc<Host> {
        // Inserting cannot leave the map half-changed: a poisoned lock is
        // still whole.
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        let host = hosts.entry(name.to_ascii_lowercase()).or_insert_with(|| {
            Arc::new(Host {
                permits: Arc::new(Semaphore::new(self.per_host)),
                last_start: tokio::sync::Mutex::new(None),
            })
        });
        Arc::clone(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_host_start_host_delay_apart_and_other_hosts_do_not_wait() {
        let hosts = Hosts::new(3, Duration::from_millis(500));
        let a = Url::parse("https://agency.example/one").unwrap();
        let b = Url::parse("https://outlet.example/feed").unwrap();
        let start = Instant::now();
        let mut at = Vec::new();
        for url in [&a, &a, &b, &a] {
            let _guard = hosts.enter(url).await;
            at.push((Instant::now() - start).as_millis());
        }
        assert_eq!(at, [0, 500, 500, 1000]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_host_with_its_limit_in_flight_makes_the_next_request_wait() {
        let hosts = Arc::new(Hosts::new(1, Duration::ZERO));
        let url = Url::parse("https://agency.example/feed").unwrap();
        let first = hosts.enter(&url).await;
        let waiting = {
            let hosts = Arc::clone(&hosts);
            let url = url.clone();
            tokio::spawn(async move { hosts.enter(&url).await.is_some() })
        };
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        assert!(waiting.await.unwrap());
    }

    #[tokio::test]
    async fn files_have_no_host_and_never_wait() {
        let hosts = Hosts::new(1, Duration::from_secs(3600));
        let url = Url::parse("file:///tmp/feed.xml").unwrap();
        assert!(hosts.enter(&url).await.is_none());
        assert!(hosts.enter(&url).await.is_none());
    }

    /// Issue #17: the place used to be taken out of the semaphore before
    /// the wait for the host delay and given back only by a guard made
    /// after it, so a poll cancelled during the wait kept it for ever.
    #[tokio::test(start_paused = true)]
    async fn a_poll_cancelled_while_it_waits_for_the_host_delay_gives_its_place_back() {
        let hosts = Hosts::new(1, Duration::from_secs(60));
        let url = Url::parse("https://agency.example/feed").unwrap();
        drop(hosts.enter(&url).await);
        // The next request must wait a minute for the delay: cancel it
        // half-way, holding the host's only place.
        let cancelled = tokio::time::timeout(Duration::from_secs(30), hosts.enter(&url)).await;
        assert!(cancelled.is_err());
        assert_eq!(hosts.host("agency.example").permits.available_permits(), 1);
        let next = tokio::time::timeout(Duration::from_secs(3600), hosts.enter(&url)).await;
        assert!(matches!(next, Ok(Some(_))), "the host's place was lost");
    }
}
