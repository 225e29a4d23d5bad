//! Group commit: the polls that finish while another poll's write is under
//! way are written together, in one transaction, by whichever of them gets
//! the writer next. A busy round (a cold start, hundreds of sources due at
//! once) then commits a few dozen times instead of once per source, and each
//! page of the indexes it touches is written to disk once per group; a quiet
//! daemon still writes each poll on its own, as soon as it arrives.
//!
//! A group is all or nothing, like a single poll was: if any poll of it
//! fails to write, the transaction is rolled back and each poll of the group
//! is written again in its own transaction, so one poll's failure never
//! loses another's items.
//!
//! The queue holds at most [`QUEUE_ITEMS`] items (a poll with none counts
//! as one): the bigger a group, the fewer times each page of the randomly
//! keyed indexes (dedup keys, content hashes, learned boilerplate) is
//! written, and a cold start of many small feeds is mostly such writes
//! (issue #8: 10 000 sources x 5 items rewrote ~13 pages per page stored
//! with groups of at most 32 polls). Memory stays bounded: a poll takes its
//! room in the queue before it lets go of its place among the
//! `[poll].concurrency` polls being fetched or parsed.

use std::sync::Mutex;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, SemaphorePermit, oneshot};

use super::{self as merge, Known, Merging, Ready};
use crate::model::SourceId;
use crate::store::{PollRecord, PollTx, Store, StoreError, WriteSummary};

/// Items that may wait, parsed and fingerprinted, to be written: with a
/// fingerprint, ~6 KB each of a typical news feed.
pub const QUEUE_ITEMS: usize = 1000;

/// What one poll writes: its items and how the poll went.
pub struct Job {
    pub source: SourceId,
    pub items: Vec<Ready>,
    /// Items the source's keep/block rules hold back (#18): stored
    /// blocked unless already stored before the rules said so.
    pub blocked: Vec<crate::model::Item>,
    pub record: PollRecord,
    pub now: DateTime<Utc>,
}

struct Queued {
    job: Job,
    reply: oneshot::Sender<Result<WriteSummary, StoreError>>,
}

/// The polls waiting to be written, and the turn to write them.
pub struct Writes {
    queue: Mutex<Vec<Queued>>,
    /// Held by the poll writing a group; polls queue for it in order.
    turn: tokio::sync::Mutex<()>,
    /// Room in the queue, in items.
    room: Semaphore,
    capacity: u32,
}

impl Writes {
    /// Room for `items` items waiting to be written.
    pub fn new(items: usize) -> Writes {
        let capacity = u32::try_from(items.clamp(1, Semaphore::MAX_PERMITS)).unwrap_or(u32::MAX);
        Writes {
            queue: Mutex::new(Vec::new()),
            turn: tokio::sync::Mutex::new(()),
            room: Semaphore::new(capacity as usize),
            capacity,
        }
    }

    /// Writes `job`, alone or with the other polls waiting, and returns
    /// what it wrote. `fetching` (the poll's fetch permit, if any) is let go
    /// once the job has a place in the queue.
    pub async fn write(
        &self,
        store: &Store,
        merging: &std::sync::Arc<Merging>,
        job: Job,
        fetching: Option<SemaphorePermit<'_>>,
    ) -> Result<WriteSummary, StoreError> {
        // A poll of more items than the queue holds waits for it to empty.
        let weight = u32::try_from(job.items.len())
            .unwrap_or(u32::MAX)
            .clamp(1, self.capacity);
        let _room = self.room.acquire_many(weight).await.ok();
        drop(fetching);
        let (reply, mut answer) = oneshot::channel();
        self.lock_queue().push(Queued { job, reply });
        let turn = self.turn.lock().await;
        // The poll before us may have written our job with its own.
        match answer.try_recv() {
            Ok(result) => return result,
            Err(oneshot::error::TryRecvError::Empty) => {}
            Err(oneshot::error::TryRecvError::Closed) => return Err(abandoned()),
        }
        let group = std::mem::take(&mut *self.lock_queue());
        let (store, merging) = (store.clone(), merging.clone());
        // A panic in the worker drops the replies: each poll of the group
        // then reports the write as failed (below).
        let _ = tokio::task::spawn_blocking(move || write_group(&store, group, &merging)).await;
        drop(turn);
        answer.await.unwrap_or_else(|_| Err(abandoned()))
    }

    fn lock_queue(&self) -> std::sync::MutexGuard<'_, Vec<Queued>> {
        // Pushing and taking cannot panic half-way: a poisoned queue is
        // still whole.
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn abandoned() -> StoreError {
    StoreError::Worker("the write of this poll was abandoned".into())
}

/// Writes `group` in one transaction; if that fails, each poll of it in
/// its own. Every poll gets its answer.
fn write_group(store: &Store, mut group: Vec<Queued>, merging: &Merging) {
    let mut known = merging.known();
    let together = store.write_poll(|tx| {
        group
            .iter_mut()
            .map(|q| write_job(tx, &mut q.job, merging, &mut known))
            .collect::<Result<Vec<_>, _>>()
    });
    match together {
        Ok(summaries) => {
            known.committed();
            for (q, summary) in group.into_iter().zip(summaries) {
                let _ = q.reply.send(Ok(summary));
            }
        }
        Err(e) if group.len() == 1 => {
            if let Some(q) = group.pop() {
                let _ = q.reply.send(Err(e));
            }
        }
        Err(e) => {
            tracing::debug!(polls = group.len(), error = %e, "a group write failed; writing its polls one by one");
            for mut q in group {
                let mut known = merging.known();
                let result = store.write_poll(|tx| write_job(tx, &mut q.job, merging, &mut known));
                if result.is_ok() {
                    known.committed();
                }
                let _ = q.reply.send(result);
            }
        }
    }
}

/// One poll's write: its items through dedup, then how the poll went.
fn write_job(
    tx: &mut PollTx<'_>,
    job: &mut Job,
    merging: &Merging,
    known: &mut Known<'_>,
) -> Result<WriteSummary, StoreError> {
    // A rules change applies to items stored from then on: an item stored
    // before its source's rules blocked it is written as usual.
    let mut stored_before = Vec::new();
    let mut blocked = 0;
    for item in &job.blocked {
        if tx.existing_item(&job.source, &item.identity)?.is_some() {
            stored_before.push(Ready::from(item.clone()));
        } else if !tx.is_tombstoned(&job.source, &item.identity)?
            && tx.insert_blocked(&job.source, item, job.now)?
        {
            blocked += 1;
        }
    }
    let mut summary = merge::store_items(
        tx,
        &job.source,
        &mut job.items,
        job.now,
        &merging.dedup,
        known,
    )?;
    if !stored_before.is_empty() {
        let before = merge::store_items(
            tx,
            &job.source,
            &mut stored_before,
            job.now,
            &merging.dedup,
            known,
        )?;
        summary.updated += before.updated;
    }
    summary.blocked = blocked;
    tx.record_poll_state(&job.source, &job.record)?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DedupSettings;
    use crate::model::Item;
    use crate::store::PollStatus;
    use chrono::TimeZone;

    /// A poll of `source` with one item: a long report, so that a copy of
    /// it on another source is recognised.
    fn queued(
        source: &str,
        identity: &str,
    ) -> (Queued, oneshot::Receiver<Result<WriteSummary, StoreError>>) {
        let now = Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap();
        let body: String = (0..6)
            .map(|p| {
                format!(
                    "<p>Paragraph {p} of the harbour report: the port authority said on \
                     Tuesday that ferry crossings to the northern islands would resume after \
                     {p} days of storms, and that repair crews were checking the piers.</p>"
                )
            })
            .collect();
        let item = Item {
            identity: identity.into(),
            title: "Ferry crossings to resume after storms".into(),
            link: Some(format!("https://{source}.example/{identity}")),
            published: Some(now),
            updated: None,
            author: None,
            summary: None,
            content: Some(body),
            categories: vec![],
            enclosures: vec![],
        };
        let record = PollRecord {
            at: now,
            status: PollStatus::Ok,
            error: None,
            http_status: Some(200),
            duration_ms: 1,
            bytes: Some(1),
            next_poll_at: now,
            validators: None,
            body_hash: None,
            interval_hint: None,
            effective_url: None,
            moved_to: None,
            moved_count: 0,
            rhythm: None,
            gap: false,
        };
        let (reply, answer) = oneshot::channel();
        let job = Job {
            source: SourceId::new(source),
            items: vec![merge::Ready::from(item)],
            blocked: Vec::new(),
            record,
            now,
        };
        (Queued { job, reply }, answer)
    }

    fn dedup() -> DedupSettings {
        DedupSettings {
            enabled: true,
            thresholds: crate::dedup::Thresholds::default(),
        }
    }

    #[test]
    fn polls_written_together_see_each_others_items() {
        let (_dir, store) = crate::store::testing::agency_and_outlet();
        let merging = Merging::new(&dedup());
        let (a, mut a_answer) = queued("agency", "a-1");
        let (b, mut b_answer) = queued("outlet", "b-1");
        write_group(&store, vec![a, b], &merging);
        let a = a_answer.try_recv().unwrap().unwrap();
        let b = b_answer.try_recv().unwrap().unwrap();
        assert_eq!((a.new, a.merged), (1, 0));
        // The outlet's copy joined the agency's story, written in the same
        // transaction a moment before.
        assert_eq!((b.new, b.merged), (1, 1));
        assert_eq!(store.counts().unwrap().stories, 1);
    }

    #[test]
    fn a_poll_that_fails_to_write_loses_no_other_polls_items() {
        let (_dir, store) = crate::store::testing::agency_and_outlet();
        let merging = Merging::new(&dedup());
        let (a, mut a_answer) = queued("agency", "a-1");
        // Not a configured source: its items break a foreign key.
        let (ghost, mut ghost_answer) = queued("ghost", "g-1");
        let (b, mut b_answer) = queued("outlet", "b-1");
        write_group(&store, vec![a, ghost, b], &merging);
        assert_eq!(a_answer.try_recv().unwrap().unwrap().new, 1);
        assert!(ghost_answer.try_recv().unwrap().is_err());
        let b = b_answer.try_recv().unwrap().unwrap();
        assert_eq!((b.new, b.merged), (1, 1));
        let counts = store.counts().unwrap();
        assert_eq!((counts.items, counts.stories), (2, 1));
        let agency = store
            .source_state(&SourceId::new("agency"))
            .unwrap()
            .unwrap();
        assert!(agency.last_polled_at.is_some());
    }
}
