//! The outbox's one hot writer. New events from every session and the outcomes of
//! attempts go into one transaction per turn, as many as are waiting: under load a turn
//! carries hundreds of events, so the per-statement and per-commit costs of SQLite are
//! shared. Committed events go to the worker in memory.

use super::{
    outbox::{self, Claimed, Next, Outcome},
    queue::{Command, Inbox, Outbox, Signals},
};
use crate::{
    db::{self, outbox::NewEvent},
    live::Live,
};
use serde_json::json;
use sqlx::SqlitePool;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Commands taken per turn.
const TURN: usize = 2048;

pub struct Writer {
    pool: SqlitePool,
    live: Live,
    commands: mpsc::Receiver<Command>,
    /// To pass committed events on to the worker.
    outbox: Outbox,
    signals: Arc<Signals>,
}

type Stored = Vec<Option<(i64, String)>>;

impl Writer {
    /// Takes the command end of `inbox`.
    pub fn new(pool: SqlitePool, live: Live, inbox: &mut Inbox) -> Option<Self> {
        let commands = inbox.commands.take()?;
        Some(Self { pool, live, commands, outbox: inbox.outbox.clone(), signals: inbox.signals.clone() })
    }

    /// Runs until the task is aborted.
    pub async fn run(mut self) {
        let mut batch = Vec::with_capacity(TURN);
        while self.commands.recv_many(&mut batch, TURN).await > 0 {
            let mut events = Vec::new();
            let mut acks: Vec<(usize, oneshot::Sender<Result<(), String>>)> = Vec::new();
            let mut outcomes = Vec::new();
            for command in batch.drain(..) {
                match command {
                    Command::Store { events: mut e, done } => {
                        acks.push((e.len(), done));
                        events.append(&mut e);
                    }
                    Command::Record(o) => outcomes.push(o),
                }
            }
            let (stored, recorded) = match commit(&self.pool, &events, &outcomes).await {
                Ok(stored) => (Ok(stored), outcomes),
                // Apart, so one bad part cannot fail the other.
                Err(e) => {
                    tracing::warn!(error = %e, "writing webhook events and outcomes failed; writing them apart");
                    let stored = commit(&self.pool, &events, &[]).await.map_err(|e| e.to_string());
                    (stored, self.record_one_by_one(outcomes).await)
                }
            };
            match stored {
                Ok(stored) => {
                    for (event, row) in events.into_iter().zip(stored) {
                        if let Some((id, event_id)) = row {
                            self.outbox.hand(Claimed {
                                id,
                                event_id,
                                user_id: event.user_id,
                                kind: event.kind.to_owned(),
                                payload: event.payload,
                                media: event.media,
                                attempts: 0,
                            });
                        }
                    }
                    for (_, done) in acks {
                        let _ = done.send(Ok(()));
                    }
                }
                Err(e) => {
                    tracing::error!(error = %e, "could not store webhook events");
                    for (_, done) in acks {
                        let _ = done.send(Err(e.clone()));
                    }
                }
            }
            self.announce(&recorded);
        }
    }

    /// An outcome that still fails is dropped; its event is made due again, so it is
    /// attempted again (at-least-once holds; if even that fails, the next start does it).
    async fn record_one_by_one(&self, outcomes: Vec<Outcome>) -> Vec<Outcome> {
        let mut recorded = Vec::with_capacity(outcomes.len());
        for outcome in outcomes {
            match commit(&self.pool, &[], std::slice::from_ref(&outcome)).await {
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

/// One transaction: the new events (held for the worker) and the outcomes.
async fn commit(pool: &SqlitePool, events: &[NewEvent], outcomes: &[Outcome]) -> Result<Stored, sqlx::Error> {
    if events.is_empty() && outcomes.is_empty() {
        return Ok(Vec::new());
    }
    let _turn = db::write_turn().await;
    let mut tx = pool.begin().await?;
    let stored = if events.is_empty() { Vec::new() } else { db::outbox::insert_held(&mut tx, events).await? };
    outbox::record(&mut tx, outcomes).await?;
    tx.commit().await?;
    Ok(stored)
}
