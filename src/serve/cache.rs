//! Rendered pages, kept until the store's generation moves on, so a burst
//! of identical reader polls renders once and a re-poll with a matching
//! validator is answered without touching the database.
//!
//! Each URL (format + canonical query) has one slot: the generation it was
//! rendered at and a `OnceCell` that the first request fills while the
//! others wait on it (one render per burst, not one per request). When the
//! generation moves on, the slot starts over but remembers the last page, so
//! a re-render that yields the same bytes keeps its `Last-Modified`.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use tokio::sync::OnceCell;

use super::encoding::{self, Coding};

/// One rendered document, its validators, and its compressed forms (made
/// on first demand, once).
#[derive(Debug)]
pub struct Page {
    pub body: Bytes,
    gzip: OnceCell<Option<Bytes>>,
    brotli: OnceCell<Option<Bytes>>,
    /// A weak validator (`W/"…"`) derived from the bytes: the same document
    /// has the same ETag across restarts, and any encoding of it matches.
    pub etag: String,
    /// When the document's data last changed (whole seconds).
    pub last_modified: DateTime<Utc>,
}

/// What a page is cached under.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PageId {
    pub format: &'static str,
    pub query: String,
}

struct Slot {
    generation: u64,
    cell: Arc<OnceCell<Arc<Page>>>,
    previous: Option<Arc<Page>>,
}

/// The cache; cheap to share behind an `Arc`.
pub struct PageCache {
    slots: Mutex<HashMap<PageId, Slot>>,
    capacity: usize,
    max_bytes: usize,
}

impl Slot {
    /// Roughly the memory the slot holds: its pages, with room for their
    /// compressed forms.
    fn bytes(&self) -> usize {
        let page = |p: Option<&Arc<Page>>| p.map_or(0, |p| p.body.len() * 2);
        page(self.cell.get()) + page(self.previous.as_ref())
    }
}

impl PageCache {
    /// A cache of at most `capacity` URLs and about `max_bytes` of pages
    /// (past either, pages of old generations go first, then everything:
    /// queries are unbounded, and a reader may ask for any of them).
    pub fn new(capacity: usize, max_bytes: usize) -> PageCache {
        PageCache {
            slots: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            max_bytes,
        }
    }

    /// The page for `id` at the current `generation()`, rendering it with
    /// `render(previous page)` if no request has yet. The generation is read
    /// before the render starts, so a write during the render only makes the
    /// next request render again.
    pub async fn get<F, Fut, E>(
        &self,
        id: PageId,
        generation: impl Fn() -> u64,
        render: F,
    ) -> Result<Arc<Page>, E>
    where
        F: FnOnce(Option<Arc<Page>>) -> Fut,
        Fut: Future<Output = Result<Page, E>>,
    {
        let (cell, previous) = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            // Read under the lock, so slots only ever move forward.
            let now = generation();
            if !slots.contains_key(&id) {
                let full = |slots: &HashMap<PageId, Slot>| {
                    slots.len() >= self.capacity
                        || slots.values().map(Slot::bytes).sum::<usize>() > self.max_bytes
                };
                if full(&slots) {
                    slots.retain(|_, slot| slot.generation == now);
                    if full(&slots) {
                        slots.clear();
                    }
                }
            }
            let slot = slots.entry(id).or_insert_with(|| Slot {
                generation: now,
                cell: Arc::default(),
                previous: None,
            });
            if slot.generation < now {
                let previous = slot.cell.get().cloned().or_else(|| slot.previous.take());
                *slot = Slot {
                    generation: now,
                    cell: Arc::default(),
                    previous,
                };
            }
            (slot.cell.clone(), slot.previous.clone())
        };
        cell.get_or_try_init(|| async { render(previous).await.map(Arc::new) })
            .await
            .cloned()
    }
}

/// Builds a page from rendered bytes: the ETag from their hash; the
/// `Last-Modified` kept from `previous` when the bytes are the same, else
/// `changed` (when the store last changed).
pub fn page(body: String, previous: Option<&Page>, changed: DateTime<Utc>) -> Page {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(body.as_bytes());
    let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
    let etag = format!("W/\"{hex}\"");
    let last_modified = match previous {
        Some(p) if p.etag == etag => p.last_modified,
        _ => changed,
    };
    Page {
        body: Bytes::from(body),
        gzip: OnceCell::new(),
        brotli: OnceCell::new(),
        etag,
        last_modified,
    }
}

impl Page {
    /// The body in `coding`, compressing it on the blocking pool the first
    /// time it is asked for (concurrent askers wait for that one run).
    /// `None` if the compressor failed: answer uncompressed.
    pub async fn encoded(&self, coding: Coding) -> Option<Bytes> {
        let cell = match coding {
            Coding::Identity => return Some(self.body.clone()),
            Coding::Gzip => &self.gzip,
            Coding::Brotli => &self.brotli,
        };
        let body = self.body.clone();
        cell.get_or_init(|| async move {
            tokio::task::spawn_blocking(move || encoding::compress(&body, coding))
                .await
                .ok()
        })
        .await
        .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

    fn id(q: &str) -> PageId {
        PageId {
            format: "atom",
            query: q.into(),
        }
    }

    #[tokio::test]
    async fn a_burst_of_identical_requests_renders_once() {
        let cache = Arc::new(PageCache::new(8, 1 << 20));
        let renders = Arc::new(AtomicUsize::new(0));
        let gate = Arc::new(tokio::sync::Notify::new());
        let mut tasks = Vec::new();
        for _ in 0..20 {
            let (cache, renders, gate) = (cache.clone(), renders.clone(), gate.clone());
            tasks.push(tokio::spawn(async move {
                cache
                    .get(
                        id(""),
                        || 1,
                        |_| async move {
                            renders.fetch_add(1, Ordering::SeqCst);
                            gate.notified().await;
                            Ok::<_, ()>(page("doc".into(), None, Utc::now()))
                        },
                    )
                    .await
                    .unwrap()
            }));
        }
        // Let every task reach the cell before the one render finishes.
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        gate.notify_one();
        for t in tasks {
            assert_eq!(&t.await.unwrap().body[..], b"doc");
        }
        assert_eq!(renders.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn a_new_generation_renders_again_and_same_bytes_keep_last_modified() {
        let cache = PageCache::new(8, 1 << 20);
        let generation = AtomicU64::new(1);
        let t0 = DateTime::from_timestamp(1_000, 0).unwrap();
        let t1 = DateTime::from_timestamp(2_000, 0).unwrap();
        let get = |changed| {
            cache.get(
                id("q"),
                || generation.load(Ordering::SeqCst),
                move |prev| async move {
                    Ok::<_, ()>(page("same".into(), prev.as_deref(), changed))
                },
            )
        };
        let first = get(t0).await.unwrap();
        assert_eq!(get(t1).await.unwrap().last_modified, t0, "cached");
        generation.store(2, Ordering::SeqCst);
        let again = get(t1).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &again), "rendered again");
        assert_eq!(again.last_modified, t0, "same bytes, same date");
        assert_eq!(again.etag, first.etag);
    }

    #[tokio::test]
    async fn the_cache_forgets_pages_past_its_byte_budget() {
        let cache = PageCache::new(100, 1000);
        let renders = AtomicUsize::new(0);
        let get = |q: &'static str| {
            cache.get(
                id(q),
                || 1,
                |_| async {
                    renders.fetch_add(1, Ordering::SeqCst);
                    Ok::<_, ()>(page("x".repeat(300), None, Utc::now()))
                },
            )
        };
        get("a").await.unwrap();
        get("b").await.unwrap();
        get("a").await.unwrap();
        assert_eq!(renders.load(Ordering::SeqCst), 2, "both kept");
        get("c").await.unwrap(); // 1200 bytes held: over budget, cleared
        get("a").await.unwrap();
        assert_eq!(renders.load(Ordering::SeqCst), 4, "a rendered again");
    }
}
