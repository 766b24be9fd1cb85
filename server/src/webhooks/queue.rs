//! The in-process path of an event: a session hands new events to the `writer`, which
//! commits them (held for their first attempt) and passes them on to the `worker` in
//! memory, so no SQL claim stands between the commit and the first POST. Events due in
//! the database (retries, resends) are claimed with SQL when `due_at` says so.

use super::outbox::{Claimed, Outcome};
use crate::{db::outbox::NewEvent, engine::Ack};
use std::{
    collections::{HashMap, VecDeque},
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
};
use tokio::sync::{mpsc, oneshot, Notify};

/// Work for the writer.
pub enum Command {
    /// Events to commit; then `acks` tell the engine they are stored, and `done` the sender.
    Store {
        events: Vec<NewEvent>,
        acks: Vec<Ack>,
        done: oneshot::Sender<Result<(), String>>,
    },
    Record(Outcome),
}

/// Answers once a store is committed (or failed).
pub type Stored = oneshot::Receiver<Result<(), String>>;

/// An event waiting for its first attempt (or its first after a restart).
#[derive(Debug)]
pub enum Queued {
    Ready(Claimed),
    /// Only the ids: the rest is read from the database when it is sent (after a restart,
    /// or when so many wait that keeping their payloads would cost too much memory).
    Stored {
        id: i64,
        user_id: i64,
    },
}

impl Queued {
    pub fn user_id(&self) -> i64 {
        match self {
            Self::Ready(c) => c.user_id,
            Self::Stored { user_id, .. } => *user_id,
        }
    }
}

/// What the writer and the worker share besides the channels.
#[derive(Default)]
pub struct Signals {
    /// Rung when an attempt finishes, events arrive, or due times changed.
    pub wake: Notify,
    /// The earliest time (unix ms) an event may be due in the database; `i64::MAX`
    /// when none is known, so the worker claims with SQL only when there is reason to.
    due_at: AtomicI64,
}

impl Signals {
    pub fn due_by(&self, at_ms: i64) {
        self.due_at.fetch_min(at_ms, Ordering::SeqCst);
    }

    pub fn due_at(&self) -> i64 {
        self.due_at.load(Ordering::SeqCst)
    }

    /// Takes the hint before a claim; a hint given meanwhile is kept.
    pub fn clear_due(&self) {
        self.due_at.store(i64::MAX, Ordering::SeqCst);
    }
}

/// What sessions and request handlers use to add events or make them due; cheap to clone.
#[derive(Clone)]
pub struct Outbox {
    commands: mpsc::Sender<Command>,
    fresh: mpsc::UnboundedSender<Queued>,
    signals: Arc<Signals>,
}

/// The writer's end: the commands, and what it needs to pass committed events on.
pub struct WriterInbox {
    pub commands: mpsc::Receiver<Command>,
    pub outbox: Outbox,
    pub signals: Arc<Signals>,
}

/// The worker's end: committed events, and where outcomes go.
pub struct WorkerInbox {
    pub fresh: mpsc::UnboundedReceiver<Queued>,
    pub outbox: Outbox,
    pub signals: Arc<Signals>,
}

/// Commands waiting beyond this make senders wait (back-pressure on ingest).
const COMMANDS: usize = 16_384;

pub fn channel() -> (Outbox, WriterInbox, WorkerInbox) {
    let (commands_tx, commands) = mpsc::channel(COMMANDS);
    let (fresh_tx, fresh) = mpsc::unbounded_channel();
    let signals = Arc::new(Signals { wake: Notify::new(), due_at: AtomicI64::new(0) });
    let outbox = Outbox { commands: commands_tx, fresh: fresh_tx, signals: signals.clone() };
    let writer = WriterInbox { commands, outbox: outbox.clone(), signals: signals.clone() };
    let worker = WorkerInbox { fresh, outbox: outbox.clone(), signals };
    (outbox, writer, worker)
}

impl Outbox {
    /// Sends events to be committed without waiting for the commit, so a session's next
    /// messages can join the same turn; `acks` are answered once they are durable (and
    /// dropped if storing failed, so the engine knows). A repeated `dedupe_key` is
    /// stored once (an engine's redelivery is a no-op).
    pub async fn send(&self, events: Vec<NewEvent>, acks: Vec<Ack>) -> anyhow::Result<Stored> {
        let (done, stored) = oneshot::channel();
        self.commands
            .send(Command::Store { events, acks, done })
            .await
            .map_err(|_| anyhow::anyhow!("the webhook writer is not running"))?;
        Ok(stored)
    }

    /// Queues an event its caller committed itself with `db::outbox::insert_held`.
    pub fn hand(&self, event: Claimed) {
        let _ = self.fresh.send(Queued::Ready(event));
        self.signals.wake.notify_one();
    }

    /// An outcome for the writer to record. Waits when the writer is behind.
    pub async fn record(&self, outcome: Outcome) {
        let _ = self.commands.send(Command::Record(outcome)).await;
    }

    /// Events were made due in the database (a resend): look now.
    pub fn wake_due(&self) {
        self.signals.due_by(0);
        self.signals.wake.notify_one();
    }
}

/// Beyond this many waiting events, new ones keep only their ids in memory.
const EAGER_LIMIT: usize = 50_000;

/// Events waiting for their first attempt, per user in event order; users take turns.
#[derive(Default)]
pub struct Queues {
    by_user: HashMap<i64, VecDeque<Queued>>,
    turns: VecDeque<i64>,
    len: usize,
}

impl Queues {
    pub fn push(&mut self, event: Queued) {
        let event = match event {
            Queued::Ready(c) if self.len >= EAGER_LIMIT => Queued::Stored { id: c.id, user_id: c.user_id },
            other => other,
        };
        let user = event.user_id();
        let queue = self.by_user.entry(user).or_default();
        if queue.is_empty() {
            self.turns.push_back(user);
        }
        queue.push_back(event);
        self.len += 1;
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Takes up to `budget` events in turns, at most `room(user)` of each user's.
    pub fn take(&mut self, mut budget: usize, mut room: impl FnMut(i64) -> usize) -> Vec<Queued> {
        let mut taken = Vec::new();
        for _ in 0..self.turns.len() {
            if budget == 0 {
                break;
            }
            let Some(user) = self.turns.pop_front() else { break };
            let queue = self.by_user.get_mut(&user).expect("a user in turn has a queue");
            let n = room(user).min(budget).min(queue.len());
            taken.extend(queue.drain(..n));
            budget -= n;
            self.len -= n;
            if queue.is_empty() {
                self.by_user.remove(&user);
            } else {
                self.turns.push_back(user);
            }
        }
        taken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(id: i64, user_id: i64) -> Queued {
        Queued::Stored { id, user_id }
    }

    fn ids(events: &[Queued]) -> Vec<i64> {
        events
            .iter()
            .map(|e| match e {
                Queued::Ready(c) => c.id,
                Queued::Stored { id, .. } => *id,
            })
            .collect()
    }

    #[test]
    fn users_take_turns_in_event_order_within_their_room() {
        let mut q = Queues::default();
        for (id, user) in [(1, 10), (2, 10), (3, 20), (4, 10), (5, 20)] {
            q.push(stored(id, user));
        }
        // User 10 has room for one, user 20 for any.
        let first = q.take(10, |u| if u == 10 { 1 } else { 9 });
        assert_eq!(ids(&first), [1, 3, 5]);
        assert_eq!(ids(&q.take(1, |_| 9)), [2]);
        assert_eq!(ids(&q.take(9, |_| 9)), [4]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_full_room_leaves_the_user_waiting() {
        let mut q = Queues::default();
        q.push(stored(1, 10));
        assert!(q.take(5, |_| 0).is_empty());
        assert!(!q.is_empty());
        assert_eq!(ids(&q.take(5, |_| 1)), [1]);
    }
}
