//! The delivery worker: events from memory (fresh ones, committed by the `writer`) and
//! from SQL (retries, resends) → sign → POST → outcome to the writer → retry schedule.
//! It knows no axum. At-least-once: an event stays `pending` in the database until an
//! attempt's outcome is committed, so a crash only ever causes a repeat (same
//! `webhook-id`). Each user has a cap on attempts in flight, so one slow or dead
//! receiver never holds the slots other users' deliveries need.

use super::{
    outbox::{self, Claimed, Next, Outcome},
    queue::{Outbox, Queued, Queues, Signals, WorkerInbox},
    Callback, OutboundAuth, Target, Webhooks,
};
use crate::clock::unix_ms;
use rand::Rng;
use serde_json::{json, Value};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};

pub struct WorkerConfig {
    pub schedule: Vec<Duration>,
    pub timeout: Duration,
    pub concurrency: usize,
    pub per_user: usize,
}

pub struct Worker {
    webhooks: Arc<Webhooks>,
    client: reqwest::Client,
    config: WorkerConfig,
    signals: Arc<Signals>,
    /// Where outcomes go (to the writer).
    outbox: Outbox,
    in_flight: Mutex<HashMap<i64, usize>>,
}

const RESPONSE_BODY_LIMIT: usize = 1024;
/// Events claimed from SQL per statement.
const CLAIM_BLOCK: usize = 256;

/// `{callback}/message` without a double slash when the URL ends with `/`.
pub fn endpoint(callback: &str, kind: &str) -> String {
    format!("{}/{kind}", callback.trim_end_matches('/'))
}

impl Worker {
    /// Returns the worker and the end of the channel committed events arrive on, for [`Self::run`].
    pub fn new(
        webhooks: Arc<Webhooks>,
        config: WorkerConfig,
        inbox: WorkerInbox,
    ) -> anyhow::Result<(Arc<Self>, mpsc::UnboundedReceiver<Queued>)> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wa-gateway/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()?;
        let WorkerInbox { fresh, outbox, signals } = inbox;
        let worker = Self { webhooks, client, config, signals, outbox, in_flight: Mutex::default() };
        Ok((Arc::new(worker), fresh))
    }

    /// Runs until the task is aborted.
    pub async fn run(self: Arc<Self>, mut fresh: mpsc::UnboundedReceiver<Queued>) {
        let mut queues = Queues::default();
        // Events leased when the gateway stopped go first, in event order.
        match outbox::recover(self.webhooks.pool()).await {
            Ok(held) => held.into_iter().for_each(|(id, user_id)| queues.push(Queued::Stored { id, user_id })),
            Err(e) => tracing::error!(error = %e, "could not recover held webhook events"),
        }
        let permits = Arc::new(Semaphore::new(self.config.concurrency));
        loop {
            while let Ok(event) = fresh.try_recv() {
                queues.push(event);
            }
            let started = match self.start_queued(&mut queues, &permits).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "webhook dispatch failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
            };
            let claimed = if permits.available_permits() > 0 && self.signals.due_at() <= unix_ms() {
                match self.claim_due(&permits).await {
                    Ok(n) => n,
                    Err(e) => {
                        tracing::error!(error = %e, "claiming due webhook events failed; retrying shortly");
                        self.signals.due_by(unix_ms() + 500);
                        0
                    }
                }
            } else {
                0
            };
            if started + claimed == 0 {
                // Wait for a new event, a finished attempt, or the next one due in SQL.
                let wait =
                    Duration::from_millis((self.signals.due_at().saturating_sub(unix_ms())).clamp(1, 1000) as u64);
                tokio::select! {
                    Some(event) = fresh.recv() => queues.push(event),
                    _ = self.signals.wake.notified() => {}
                    _ = tokio::time::sleep(wait) => {}
                }
            }
        }
    }

    /// How many more attempts `user` may have in flight.
    fn room(&self, in_flight: &HashMap<i64, usize>, user: i64) -> usize {
        self.config.per_user.saturating_sub(in_flight.get(&user).copied().unwrap_or(0))
    }

    /// Starts attempts for queued events, as far as free slots allow.
    async fn start_queued(self: &Arc<Self>, queues: &mut Queues, permits: &Arc<Semaphore>) -> anyhow::Result<usize> {
        let free = permits.available_permits();
        if queues.is_empty() || free == 0 {
            return Ok(0);
        }
        let taken = {
            let mut in_flight = self.in_flight.lock().expect("in flight");
            let taken = queues.take(free, |user| self.room(&in_flight, user));
            for event in &taken {
                *in_flight.entry(event.user_id()).or_default() += 1;
            }
            taken
        };
        let mut events = Vec::with_capacity(taken.len());
        let mut stored = Vec::new();
        for event in taken {
            match event {
                Queued::Ready(c) => events.push(c),
                Queued::Stored { id, user_id } => stored.push((id, user_id)),
            }
        }
        if !stored.is_empty() {
            let ids: Vec<i64> = stored.iter().map(|(id, _)| *id).collect();
            let loaded = match outbox::load(self.webhooks.pool(), &ids).await {
                Ok(loaded) => loaded,
                Err(e) => {
                    // Back in the queue, slots given back.
                    self.finished(stored.iter().map(|(_, user)| *user).chain(events.iter().map(|c| c.user_id)));
                    events.into_iter().for_each(|c| queues.push(Queued::Ready(c)));
                    stored.into_iter().for_each(|(id, user_id)| queues.push(Queued::Stored { id, user_id }));
                    return Err(e.into());
                }
            };
            // Events no longer pending (their user was deleted) give their slot back.
            let found: std::collections::HashSet<i64> = loaded.iter().map(|c| c.id).collect();
            self.finished(stored.iter().filter(|(id, _)| !found.contains(id)).map(|(_, user)| *user));
            events.extend(loaded);
        }
        let targets = match self.targets(&events).await {
            Ok(targets) => targets,
            Err(e) => {
                // Back in the queue (behind its user's others: order yields to not losing it).
                self.finished(events.iter().map(|c| c.user_id));
                events.into_iter().for_each(|c| queues.push(Queued::Ready(c)));
                return Err(e);
            }
        };
        let count = events.len();
        self.launch(events, targets, permits).await?;
        Ok(count)
    }

    /// Claims events due in the database (retries, resends) for the free slots.
    async fn claim_due(self: &Arc<Self>, permits: &Arc<Semaphore>) -> anyhow::Result<usize> {
        let limit = permits.available_permits().min(CLAIM_BLOCK);
        let saturated: Vec<i64> = {
            let in_flight = self.in_flight.lock().expect("in flight");
            in_flight.iter().filter(|(_, n)| **n >= self.config.per_user).map(|(u, _)| *u).collect()
        };
        self.signals.clear_due();
        let lease = unix_ms() + self.config.timeout.as_millis() as i64 + 30_000;
        let claimed = outbox::claim(self.webhooks.pool(), unix_ms(), lease, limit as i64, &saturated).await?;
        if claimed.len() == limit {
            self.signals.due_by(0);
        } else {
            let next = outbox::next_due(self.webhooks.pool()).await?.unwrap_or(i64::MAX);
            // Due events of users at their cap wait for a slot, without a busy loop.
            let floor = if saturated.is_empty() { 0 } else { unix_ms() + 100 };
            self.signals.due_by(next.max(floor));
        }
        let mut events = Vec::with_capacity(claimed.len());
        let mut over_cap = Vec::new();
        {
            let mut in_flight = self.in_flight.lock().expect("in flight");
            for event in claimed {
                let n = in_flight.entry(event.user_id).or_default();
                if *n >= self.config.per_user {
                    over_cap.push(event.id);
                } else {
                    *n += 1;
                    events.push(event);
                }
            }
        }
        if !over_cap.is_empty() {
            // If this fails, their leases run out and they fall due again.
            match outbox::release(self.webhooks.pool(), &over_cap).await {
                Ok(()) => self.signals.due_by(0),
                Err(e) => tracing::warn!(error = %e, "could not give back webhook events over a user's cap"),
            }
        }
        let targets = match self.targets(&events).await {
            Ok(targets) => targets,
            Err(e) => {
                // Their leases run out and they fall due again.
                self.finished(events.iter().map(|c| c.user_id));
                return Err(e);
            }
        };
        let count = events.len();
        self.launch(events, targets, permits).await?;
        Ok(count)
    }

    /// Gives back the in-flight slots of attempts that ended (or never started).
    fn finished(&self, users: impl IntoIterator<Item = i64>) {
        let mut in_flight = self.in_flight.lock().expect("in flight");
        for user in users {
            if let Some(n) = in_flight.get_mut(&user) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    in_flight.remove(&user);
                }
            }
        }
    }

    /// Each user's delivery settings, read once per round.
    async fn targets(&self, events: &[Claimed]) -> anyhow::Result<HashMap<i64, Option<Arc<Target>>>> {
        let mut targets = HashMap::new();
        for event in events {
            if let std::collections::hash_map::Entry::Vacant(slot) = targets.entry(event.user_id) {
                slot.insert(self.webhooks.target(event.user_id).await?);
            }
        }
        Ok(targets)
    }

    /// Starts one attempt per event (their in-flight slots are already taken).
    async fn launch(
        self: &Arc<Self>,
        events: Vec<Claimed>,
        targets: HashMap<i64, Option<Arc<Target>>>,
        permits: &Arc<Semaphore>,
    ) -> anyhow::Result<()> {
        for event in events {
            let target = targets.get(&event.user_id).cloned().flatten();
            let permit: OwnedSemaphorePermit = permits.clone().acquire_owned().await?;
            let worker = self.clone();
            tokio::spawn(async move {
                let user_id = event.user_id;
                let outcome = worker.deliver(event, target).await;
                worker.outbox.record(outcome).await;
                drop(permit);
                worker.finished([user_id]);
                worker.signals.wake.notify_one();
            });
        }
        Ok(())
    }

    fn retry_or_fail(&self, attempts: i64, retry_after: Option<Duration>) -> Next {
        let index = (attempts - 1) as usize;
        match self.config.schedule.get(index) {
            Some(delay) => {
                let base = retry_after.unwrap_or(*delay).min(Duration::from_secs(86_400));
                // ±10% jitter so a receiver coming back is not hit by every retry at once.
                let jitter = if retry_after.is_some() { 1.0 } else { rand::thread_rng().gen_range(0.9..1.1) };
                Next::Retry { at_ms: unix_ms() + (base.as_millis() as f64 * jitter) as i64 }
            }
            None => Next::Failed,
        }
    }

    /// Fills the payload's media links at send time (fresh expiry on every attempt).
    fn body(&self, event: &Claimed) -> String {
        let Some(media) = &event.media else { return event.payload.clone() };
        let Ok(mut payload) = serde_json::from_str::<Value>(&event.payload) else { return event.payload.clone() };
        let kind = serde_json::from_str::<Value>(media).ok().and_then(|m| m["kind"].as_str().map(str::to_owned));
        // Stickers have no field of their own in the seed's payload; they go as images.
        let field = match kind.as_deref() {
            Some("sticker") => "image",
            Some(k) => k,
            None => return event.payload.clone(),
        };
        payload["media"][field] = json!(self.webhooks.media_link(event.id));
        payload.to_string()
    }

    async fn deliver(&self, event: Claimed, target: Option<Arc<Target>>) -> Outcome {
        let attempts = event.attempts + 1;
        let mut outcome = Outcome {
            id: event.id,
            user_id: event.user_id,
            kind: event.kind.clone(),
            url: None,
            status: None,
            latency_ms: 0,
            error: None,
            response_body: None,
            attempts: event.attempts,
            next: Next::Skipped,
        };
        let Some(target) = target.filter(|t| !matches!(t.callback, Callback::Unset)) else {
            outcome.error = Some("no callback URL configured".into());
            return outcome;
        };
        if target.gone {
            outcome.error = Some("the endpoint answered 410 Gone; set a new callback URL or resend".into());
            outcome.next = Next::Failed;
            return outcome;
        }
        let endpoint = match &target.callback {
            Callback::Set(e) if event.kind == "session" => &e.session,
            Callback::Set(e) => &e.message,
            Callback::Unset | Callback::Invalid => {
                outcome.error = Some("the callback URL is not a valid URL".into());
                outcome.next = Next::Failed;
                return outcome;
            }
        };
        let body = self.body(&event);
        let timestamp = crate::clock::unix_now();
        let signature = super::signing::signature_header(target.keys(), &event.event_id, timestamp, body.as_bytes());
        let mut request = self
            .client
            .post(endpoint.url.clone())
            .timeout(self.config.timeout)
            .header("content-type", "application/json")
            .header("webhook-id", &event.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(body);
        request = match &target.auth {
            OutboundAuth::None => request,
            OutboundAuth::Basic { username, password } => request.basic_auth(username, Some(password)),
            OutboundAuth::Bearer { token } => request.bearer_auth(token),
        };
        outcome.url = Some(endpoint.text.clone());
        outcome.attempts = attempts;
        let started = Instant::now();
        let result = request.send().await;
        match result {
            Ok(response) => {
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get("retry-after")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map(Duration::from_secs);
                outcome.response_body = read_limited(response).await;
                outcome.latency_ms = started.elapsed().as_millis() as i64;
                outcome.status = Some(status.as_u16());
                outcome.next = if status.is_success() {
                    Next::Delivered
                } else if status == reqwest::StatusCode::GONE {
                    outcome.error = Some("410 Gone: retries to this endpoint stopped".into());
                    Next::Gone
                } else {
                    outcome.error = Some(format!("HTTP {status}"));
                    self.retry_or_fail(attempts, retry_after)
                };
            }
            Err(e) => {
                outcome.latency_ms = started.elapsed().as_millis() as i64;
                outcome.error = Some(if e.is_timeout() { "timed out".to_owned() } else { error_chain(&e) });
                outcome.next = self.retry_or_fail(attempts, None);
            }
        }
        tracing::debug!(event = event.id, user_id = event.user_id, state = outcome.next.state(), "webhook attempt");
        outcome
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The first KiB of a response body, for the delivery log.
async fn read_limited(mut response: reqwest::Response) -> Option<String> {
    let mut bytes = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        bytes.extend_from_slice(&chunk);
        if bytes.len() >= RESPONSE_BODY_LIMIT {
            bytes.truncate(RESPONSE_BODY_LIMIT);
            break;
        }
    }
    (!bytes.is_empty()).then(|| String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    #[test]
    fn endpoints_never_have_double_slashes() {
        assert_eq!(super::endpoint("https://a.b/hook/", "message"), "https://a.b/hook/message");
        assert_eq!(super::endpoint("https://a.b/hook", "session"), "https://a.b/hook/session");
    }
}
