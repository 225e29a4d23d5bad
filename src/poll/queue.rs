//! The scheduler's bookkeeping, pure: which sources are due when, given
//! their recorded next-poll times and the time now ([`Queue`]), and when
//! the first round of polls is over, which makes the daemon ready
//! ([`FirstRound`]). The scheduler (`scheduler.rs`) spawns the polls,
//! sleeps and talks to systemd around them.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::model::SourceId;
use crate::store::SourceState;

/// The sources waiting for their next poll, the earliest due first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Queue {
    /// (due, source). A source may wait twice for a while (rescheduled by
    /// a reload while a poll of it ran); the scheduler polls it once.
    waiting: BTreeSet<(DateTime<Utc>, SourceId)>,
}

impl Queue {
    /// The sources `ids`, each due when the store says (`states`' recorded
    /// `next_poll_at`), or at `now` when it has no schedule (never polled).
    /// States of sources not in `ids` are ignored.
    pub fn plan(
        ids: impl IntoIterator<Item = SourceId>,
        states: &[SourceState],
        now: DateTime<Utc>,
    ) -> Queue {
        let recorded: HashMap<&SourceId, DateTime<Utc>> = states
            .iter()
            .filter_map(|s| Some((&s.id, s.next_poll_at?)))
            .collect();
        let waiting = ids
            .into_iter()
            .map(|id| (recorded.get(&id).copied().unwrap_or(now), id))
            .collect();
        Queue { waiting }
    }

    /// The sources due at `now`, the earliest first.
    pub fn due(&self, now: DateTime<Utc>) -> impl Iterator<Item = &SourceId> {
        self.waiting
            .iter()
            .take_while(move |(due, _)| *due <= now)
            .map(|(_, id)| id)
    }

    /// When the earliest source is due, if any waits.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.waiting.first().map(|(due, _)| *due)
    }

    /// How long from `now` until the earliest source is due: zero when one
    /// is due already, `None` when none waits.
    pub fn wait(&self, now: DateTime<Utc>) -> Option<Duration> {
        self.next_due()
            .map(|due| (due - now).to_std().unwrap_or(Duration::ZERO))
    }

    /// Takes the earliest source out of the queue if it is due at `now`.
    pub fn pop_due(&mut self, now: DateTime<Utc>) -> Option<SourceId> {
        match self.waiting.first() {
            Some((due, _)) if *due <= now => self.waiting.pop_first().map(|(_, id)| id),
            _ => None,
        }
    }

    /// `id` waits to be polled at `at`.
    pub fn push(&mut self, at: DateTime<Utc>, id: SourceId) {
        self.waiting.insert((at, id));
    }

    /// Makes `id` due at `at` at the latest: a later place in the queue is
    /// dropped, an earlier one kept. Nothing is added for a source that is
    /// not waiting (a poll of it is running and will place it again).
    pub fn advance(&mut self, id: &SourceId, at: DateTime<Utc>) {
        let places: Vec<DateTime<Utc>> = self
            .waiting
            .iter()
            .filter(|(_, waiting)| waiting == id)
            .map(|(due, _)| *due)
            .collect();
        if places.is_empty() || places.iter().any(|due| *due <= at) {
            return;
        }
        for due in places {
            self.waiting.remove(&(due, id.clone()));
        }
        self.waiting.insert((at, id.clone()));
    }
}

/// The first round of polls: the sources due when the scheduler starts.
/// Once each has been polled (or removed by a reload), the round is over
/// and the daemon reports ready.
#[derive(Debug, Default)]
pub struct FirstRound {
    /// `None` until the round begins; then the sources not yet polled.
    waiting: Option<HashSet<SourceId>>,
}

impl FirstRound {
    /// Whether [`FirstRound::begin`] has been called.
    pub fn begun(&self) -> bool {
        self.waiting.is_some()
    }

    /// Begins the round with the sources `due`; true when none is due, so
    /// the round is over at once.
    pub fn begin<'a>(&mut self, due: impl IntoIterator<Item = &'a SourceId>) -> bool {
        let due: HashSet<SourceId> = due.into_iter().cloned().collect();
        let over = due.is_empty();
        self.waiting = Some(due);
        over
    }

    /// `id` has been polled; true when that ends the round.
    pub fn polled(&mut self, id: &SourceId) -> bool {
        self.waiting
            .as_mut()
            .is_some_and(|waiting| waiting.remove(id) && waiting.is_empty())
    }

    /// Only the sources `configured` still hold the round up (after a
    /// reload); true when that ends the round.
    pub fn keep(&mut self, configured: impl Fn(&SourceId) -> bool) -> bool {
        let Some(waiting) = &mut self.waiting else {
            return false;
        };
        let was_waiting = !waiting.is_empty();
        waiting.retain(|id| configured(id));
        was_waiting && waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
    }

    fn minutes(m: i64) -> DateTime<Utc> {
        t0() + chrono::Duration::minutes(m)
    }

    fn id(name: &str) -> SourceId {
        SourceId::new(name)
    }

    #[test]
    fn advance_brings_a_later_place_forward_and_keeps_an_earlier_one() {
        let mut q = Queue::default();
        q.push(minutes(60), id("pushed"));
        q.push(minutes(5), id("soon"));
        q.advance(&id("pushed"), minutes(1));
        q.advance(&id("soon"), minutes(10));
        q.advance(&id("running"), minutes(1));
        assert_eq!(q.pop_due(minutes(1)), Some(id("pushed")));
        assert_eq!(
            q.pop_due(minutes(1)),
            None,
            "pushed waits once, running not at all"
        );
        assert_eq!(q.next_due(), Some(minutes(5)));
        assert_eq!(q.pop_due(minutes(5)), Some(id("soon")));
        assert_eq!(q.next_due(), None);
    }

    fn ids(names: &[&str]) -> Vec<SourceId> {
        names.iter().map(|n| id(n)).collect()
    }

    /// A recorded state of `name`, next due at `next` minutes from t0.
    fn state(name: &str, next: Option<i64>) -> SourceState {
        let source = crate::model::Source {
            id: id(name),
            name: name.into(),
            url: url::Url::parse("https://agency.example/feed").unwrap(),
            interval: Duration::from_secs(900),
            priority: 0,
            fixed_interval: false,
            headers: Default::default(),
            rules: Default::default(),
            websub: true,
            tags: vec![],
        };
        SourceState {
            next_poll_at: next.map(minutes),
            ..crate::store::SourceState::blank(&source)
        }
    }

    fn names<'a>(due: impl Iterator<Item = &'a SourceId>) -> Vec<&'a str> {
        due.map(SourceId::as_str).collect()
    }

    #[test]
    fn a_source_is_due_when_the_store_says_and_at_once_when_never_polled() {
        let states = [state("agency", Some(10)), state("outlet", None)];
        let queue = Queue::plan(ids(&["agency", "outlet", "new"]), &states, t0());
        assert_eq!(names(queue.due(t0())), ["new", "outlet"]);
        assert_eq!(names(queue.due(minutes(10))), ["new", "outlet", "agency"]);
        assert_eq!(queue.next_due(), Some(t0()));
    }

    #[test]
    fn a_source_polled_minutes_ago_is_not_due_and_says_when_it_will_be() {
        // What a restart finds: the schedule recorded by the last poll.
        let queue = Queue::plan(ids(&["agency"]), &[state("agency", Some(15))], minutes(5));
        assert_eq!(queue.due(minutes(5)).count(), 0);
        assert_eq!(queue.next_due(), Some(minutes(15)));
        assert_eq!(queue.wait(minutes(5)), Some(Duration::from_secs(600)));
    }

    #[test]
    fn a_removed_source_is_not_queued_whatever_the_store_recorded() {
        let states = [state("agency", Some(10)), state("removed", None)];
        let queue = Queue::plan(ids(&["agency"]), &states, t0());
        assert_eq!(names(queue.due(minutes(60))), ["agency"]);
    }

    #[test]
    fn due_sources_are_taken_earliest_first_and_only_when_due() {
        let states = [
            state("b", Some(5)),
            state("a", Some(5)),
            state("c", Some(20)),
        ];
        let mut queue = Queue::plan(ids(&["c", "b", "a"]), &states, t0());
        assert_eq!(queue.pop_due(t0()), None);
        let now = minutes(10);
        assert_eq!(queue.pop_due(now), Some(id("a")));
        assert_eq!(queue.pop_due(now), Some(id("b")));
        assert_eq!(queue.pop_due(now), None);
        assert_eq!(queue.wait(now), Some(Duration::from_secs(600)));
        queue.push(minutes(15), id("a"));
        assert_eq!(queue.next_due(), Some(minutes(15)));
    }

    #[test]
    fn an_overdue_source_is_waited_for_no_time_and_an_empty_queue_not_at_all() {
        let mut queue = Queue::default();
        assert_eq!(queue.wait(t0()), None);
        queue.push(t0(), id("agency"));
        assert_eq!(queue.wait(minutes(3)), Some(Duration::ZERO));
    }

    #[test]
    fn the_first_round_is_over_once_each_source_due_at_start_is_polled() {
        let mut round = FirstRound::default();
        assert!(!round.begun());
        let due = ids(&["agency", "outlet"]);
        assert!(!round.begin(&due));
        assert!(round.begun());
        // A source polled again, or not due at start, does not end it.
        assert!(!round.polled(&id("late")));
        assert!(!round.polled(&id("agency")));
        assert!(!round.polled(&id("agency")));
        assert!(round.polled(&id("outlet")));
        // It ends once.
        assert!(!round.polled(&id("outlet")));
    }

    #[test]
    fn a_round_with_nothing_due_is_over_at_once() {
        assert!(FirstRound::default().begin(&[]));
    }

    #[test]
    fn a_source_removed_before_its_first_poll_no_longer_holds_the_round_up() {
        let mut round = FirstRound::default();
        // Before the round begins, a reload changes nothing.
        assert!(!round.keep(|_| false));
        round.begin(&ids(&["agency", "removed"]));
        assert!(!round.keep(|id| id.as_str() != "nothing"));
        assert!(!round.polled(&id("agency")));
        assert!(round.keep(|id| id.as_str() == "agency"));
        // Over already: a later reload does not end it again.
        assert!(!round.keep(|_| false));
    }
}
