//! The outbox's one hot writer. New events from every session and the outcomes of
//! attempts go into one transaction per turn, as many as are waiting: under load a turn
//! carries hundreds of events, so the per-statement and per-commit costs of SQLite are
//! shared. Committed events go to the worker in memory.

use super::{
    outbox::{self, Claimed, Next, Outcome},
    queue::{Command, Outbox, Signals, WriterInbox},
    Targets,
};
use crate::{
    db::{self, outbox::NewEvent},
    engine::Ack,
    live::Live,
    metrics::Metrics,
};
use serde_json::json;
use sqlx::SqlitePool;
use std::{sync::Arc, time::Duration};
use tokio::sync::{mpsc, oneshot};

/// Commands taken per turn.
const TURN: usize = 2048;
/// After a turn of at least `GATHER_AFTER` commands, a turn of fewer than
/// `GATHER_UP_TO` waits `GATHER_FOR` for more (on this thread only).
const GATHER_AFTER: usize = 8;
const GATHER_UP_TO: usize = 64;
const GATHER_FOR: Duration = Duration::from_micros(300);

pub struct Writer {
    pool: SqlitePool,
    live: Live,
    metrics: Arc<Metrics>,
    /// Told when an endpoint answered 410 Gone.
    targets: Arc<Targets>,
    commands: mpsc::Receiver<Command>,
    /// To pass committed events on to the worker.
    outbox: Outbox,
    signals: Arc<Signals>,
}

type Stored = Vec<Option<(i64, String)>>;
type Done = oneshot::Sender<Result<(), String>>;

/// A writer started with [`Writer::spawn`].
pub struct Running {
    stop: oneshot::Sender<()>,
    thread: std::thread::JoinHandle<()>,
}

impl Running {
    /// Stops after the current turn's statement; an unfinished turn is rolled back.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = tokio::task::spawn_blocking(move || self.thread.join()).await;
    }
}

impl Writer {
    pub fn new(pool: SqlitePool, live: Live, metrics: Arc<Metrics>, targets: Arc<Targets>, inbox: WriterInbox) -> Self {
        let WriterInbox { commands, outbox, signals } = inbox;
        Self { pool, live, metrics, targets, commands, outbox, signals }
    }

    /// Runs on a thread of its own, so its turns do not queue behind the HTTP work on
    /// the shared runtime, and its synchronous SQLite connection (`outbox::commit_turn`)
    /// blocks only this thread.
    pub fn spawn(self) -> Running {
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("webhook-writer".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                match runtime {
                    Ok(runtime) => runtime.block_on(async move {
                        tokio::select! {
                            _ = self.run() => {}
                            _ = stopped => {}
                        }
                    }),
                    Err(e) => tracing::error!(error = %e, "could not start the webhook writer"),
                }
            })
            .expect("a thread for the webhook writer");
        Running { stop, thread }
    }

    async fn run(mut self) {
        let mut conn = None;
        let mut batch = Vec::with_capacity(TURN);
        let mut last_turn = 0;
        while self.commands.recv_many(&mut batch, TURN).await > 0 {
            if last_turn >= GATHER_AFTER && batch.len() < GATHER_UP_TO {
                // Busy: let the turn fill a little; every commit rewrites the same pages.
                std::thread::sleep(GATHER_FOR);
                while batch.len() < TURN {
                    match self.commands.try_recv() {
                        Ok(command) => batch.push(command),
                        Err(_) => break,
                    }
                }
            }
            last_turn = batch.len();
            let mut events = Vec::new();
            let mut stores: Vec<(Vec<Ack>, Done)> = Vec::new();
            let mut outcomes = Vec::new();
            for command in batch.drain(..) {
                match command {
                    Command::Store { events: mut e, acks, done } => {
                        stores.push((acks, done));
                        events.append(&mut e);
                    }
                    Command::Record(o) => outcomes.push(o),
                }
            }
            // Marked before the commit, so no attempt after it still goes to a gone endpoint.
            let gone: Vec<i64> = outcomes.iter().filter(|o| matches!(o.next, Next::Gone)).map(|o| o.user_id).collect();
            gone.iter().for_each(|user| self.targets.mark_gone(*user));
            let (stored, recorded) = match self.commit(&mut conn, &events, &outcomes).await {
                Ok(stored) => (Ok(stored), outcomes),
                // Apart, so one bad part cannot fail the other.
                Err(e) => {
                    tracing::warn!(error = %e, "writing webhook events and outcomes failed; writing them apart");
                    let stored = self.commit(&mut conn, &events, &[]).await.map_err(|e| e.to_string());
                    (stored, self.record_one_by_one(&mut conn, outcomes).await)
                }
            };
            let events_count = events.len();
            match stored {
                Ok(stored) => {
                    for (event, row) in events.into_iter().zip(stored) {
                        if let Some((id, event_id)) = row {
                            self.outbox.hand(Claimed::fresh(event, id, event_id));
                        }
                    }
                    self.metrics.messages_recorded(events_count as u64);
                    for (acks, done) in stores {
                        acks.into_iter().for_each(|ack| {
                            let _ = ack.send(());
                        });
                        let _ = done.send(Ok(()));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not store webhook events");
                    // The acks are dropped: the engine learns the events were not stored.
                    for (_, done) in stores {
                        let _ = done.send(Err(e.clone()));
                    }
                }
            }
            for user in gone {
                if !recorded.iter().any(|o| o.user_id == user && matches!(o.next, Next::Gone)) {
                    self.targets.forget(user);
                }
            }
            self.announce(&recorded);
        }
    }

    /// One transaction, on the writer's own connection (opened again after an error).
    async fn commit(
        &self,
        conn: &mut Option<rusqlite::Connection>,
        events: &[NewEvent],
        outcomes: &[Outcome],
    ) -> Result<Stored, rusqlite::Error> {
        if events.is_empty() && outcomes.is_empty() {
            return Ok(Vec::new());
        }
        let _turn = db::write_turn().await;
        let connection = match conn {
            Some(c) => c,
            None => conn.insert(outbox::writer_connection(&self.pool)?),
        };
        let done = outbox::commit_turn(connection, events, outcomes);
        if done.is_err() {
            *conn = None;
        }
        done
    }

    /// An outcome that still fails is dropped; its event is made due again, so it is
    /// attempted again (at-least-once holds; if even that fails, the next start does it).
    async fn record_one_by_one(&self, conn: &mut Option<rusqlite::Connection>, outcomes: Vec<Outcome>) -> Vec<Outcome> {
        let mut recorded = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            match self.commit(conn, &[], std::slice::from_ref(&outcome)).await {
                Ok(_) => recorded.push(outcome),
                Err(e) => {
                    tracing::error!(event = outcome.id, error = %e, "could not record a webhook outcome");
                    if let Err(e) = outbox::release(&self.pool, &[outcome.id]).await {
                        tracing::error!(event = outcome.id, error = %e, "could not release a webhook event");
                    }
                }
            }
        }
        recorded
    }

    /// Tells `/ws` about recorded outcomes, and the worker about retries now scheduled.
    fn announce(&self, recorded: &[Outcome]) {
        let signals = &self.signals;
        let mut retry = false;
        // Building `/ws` events costs on the hot path; skip it when no socket listens.
        let listening = self.live.has_listeners();
        for o in recorded {
            if let Next::Retry { at_ms } = o.next {
                signals.due_by(at_ms);
                retry = true;
            }
            if listening {
                let mut event = json!({
                    "type": "delivery", "id": o.id, "kind": o.kind, "state": o.next.state(), "attempts": o.attempts,
                });
                if let Some(status) = o.status {
                    event["status_code"] = json!(status);
                }
                if let Some(error) = &o.error {
                    event["error"] = json!(error);
                }
                self.live.publish(o.user_id, event.to_string());
            }
        }
        if retry {
            signals.wake.notify_one();
        }
    }
}
