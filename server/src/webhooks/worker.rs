//! The delivery worker: claim due events → sign → POST → record → schedule a retry.
//! It knows no axum. At-least-once: an event stays `pending` in the database until an
//! attempt's outcome is committed, so a crash only ever causes a repeat (same
//! `webhook-id`). Each user has a cap on attempts in flight, so one slow or dead
//! receiver never holds the slots other users' deliveries need.

use super::{
    outbox::{self, Claimed, Next, Outcome},
    OutboundAuth, Target, Webhooks,
};
use crate::{clock::unix_ms, live::Live};
use rand::Rng;
use serde_json::{json, Value};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};
use tokio::sync::{mpsc, Notify, Semaphore};

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
    /// Rung when an event is added or an attempt finishes.
    wake: Arc<Notify>,
    live: Live,
    in_flight: Mutex<HashMap<i64, usize>>,
}

const RESPONSE_BODY_LIMIT: usize = 1024;

/// `{callback}/message` without a double slash when the URL ends with `/`.
pub fn endpoint(callback: &str, kind: &str) -> String {
    format!("{}/{kind}", callback.trim_end_matches('/'))
}

impl Worker {
    pub fn new(
        webhooks: Arc<Webhooks>,
        config: WorkerConfig,
        wake: Arc<Notify>,
        live: Live,
    ) -> anyhow::Result<Arc<Self>> {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("wa-gateway/", env!("CARGO_PKG_VERSION")))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Arc::new(Self { webhooks, client, config, wake, live, in_flight: Mutex::default() }))
    }

    /// Runs until the task is aborted.
    pub async fn run(self: Arc<Self>) {
        if let Err(e) = outbox::release_all(self.webhooks.pool()).await {
            tracing::error!(error = %e, "could not release webhook leases");
        }
        let (done_tx, done_rx) = mpsc::channel::<Outcome>(4096);
        tokio::spawn(self.clone().record_loop(done_rx));
        let permits = Arc::new(Semaphore::new(self.config.concurrency));
        loop {
            match self.dispatch_once(&permits, &done_tx).await {
                Ok(0) => self.idle().await,
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(error = %e, "webhook dispatch failed; retrying shortly");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
    }

    /// Waits for a new event, a finished attempt, or the next retry falling due.
    async fn idle(&self) {
        let wait = match outbox::next_due(self.webhooks.pool()).await {
            Ok(Some(at)) => Duration::from_millis((at - unix_ms()).clamp(1, 1000) as u64),
            _ => Duration::from_secs(1),
        };
        let _ = tokio::time::timeout(wait, self.wake.notified()).await;
    }

    async fn dispatch_once(
        self: &Arc<Self>,
        permits: &Arc<Semaphore>,
        done: &mpsc::Sender<Outcome>,
    ) -> anyhow::Result<usize> {
        if permits.available_permits() == 0 {
            self.wake.notified().await;
            return Ok(1);
        }
        // While attempts are in flight, give more of them a moment (≤ 5 ms) to finish, so
        // one claim transaction serves many events; then claim whatever is free (never
        // more waiting than that: slots held by a slow receiver must not stall the rest).
        let block = self.config.concurrency.min(32);
        let deadline = tokio::time::Instant::now() + Duration::from_millis(5);
        while permits.available_permits() < block && permits.available_permits() < self.config.concurrency {
            if tokio::time::timeout_at(deadline, self.wake.notified()).await.is_err() {
                break;
            }
        }
        let free = permits.available_permits();
        let saturated: Vec<i64> = {
            let in_flight = self.in_flight.lock().expect("in flight");
            in_flight.iter().filter(|(_, n)| **n >= self.config.per_user).map(|(u, _)| *u).collect()
        };
        let lease = unix_ms() + self.config.timeout.as_millis() as i64 + 30_000;
        let claimed = outbox::claim(self.webhooks.pool(), unix_ms(), lease, free.min(256) as i64, &saturated).await?;
        let count = claimed.len();
        let mut targets: HashMap<i64, Option<Arc<Target>>> = HashMap::new();
        let mut over_cap = Vec::new();
        for event in claimed {
            {
                let mut in_flight = self.in_flight.lock().expect("in flight");
                let n = in_flight.entry(event.user_id).or_default();
                if *n >= self.config.per_user {
                    over_cap.push(event.id);
                    continue;
                }
                *n += 1;
            }
            let target = match targets.get(&event.user_id) {
                Some(t) => t.clone(),
                None => {
                    let t = self.webhooks.target(event.user_id).await?.map(Arc::new);
                    targets.insert(event.user_id, t.clone());
                    t
                }
            };
            let permit = permits.clone().acquire_owned().await?;
            let (worker, done) = (self.clone(), done.clone());
            tokio::spawn(async move {
                let user_id = event.user_id;
                let outcome = worker.deliver(event, target).await;
                let _ = done.send(outcome).await;
                drop(permit);
                if let Some(n) = worker.in_flight.lock().expect("in flight").get_mut(&user_id) {
                    *n = n.saturating_sub(1);
                }
                worker.wake.notify_one();
            });
        }
        outbox::release(self.webhooks.pool(), &over_cap).await?;
        Ok(count)
    }

    /// Batches outcomes into one transaction each, then tells `/ws`.
    async fn record_loop(self: Arc<Self>, mut rx: mpsc::Receiver<Outcome>) {
        let mut batch = Vec::with_capacity(512);
        while rx.recv_many(&mut batch, 512).await > 0 {
            // Under load, let outcomes gather for a moment: one transaction for many.
            if batch.len() < 64 {
                tokio::time::sleep(Duration::from_millis(2)).await;
                while batch.len() < 512 {
                    match rx.try_recv() {
                        Ok(outcome) => batch.push(outcome),
                        Err(_) => break,
                    }
                }
            }
            if let Err(e) = outbox::record(self.webhooks.pool(), &batch).await {
                // One at a time, so a single bad outcome cannot hold back the others. An
                // outcome that still fails is dropped: its event stays pending and is
                // attempted again when its lease runs out (at-least-once holds).
                tracing::warn!(error = %e, "recording a batch of webhook outcomes failed; recording one by one");
                let mut recorded = Vec::with_capacity(batch.len());
                for outcome in batch.drain(..) {
                    match outbox::record(self.webhooks.pool(), std::slice::from_ref(&outcome)).await {
                        Ok(()) => recorded.push(outcome),
                        Err(e) => tracing::error!(event = outcome.id, error = %e, "could not record a webhook outcome"),
                    }
                }
                batch = recorded;
            }
            // Building `/ws` events costs on the hot path; skip it when no socket listens.
            if self.live.has_listeners() {
                for o in &batch {
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
            batch.clear();
            self.wake.notify_one();
        }
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
        let Some(callback) = target.as_ref().and_then(|t| t.callback_url.clone()) else {
            outcome.error = Some("no callback URL configured".into());
            return outcome;
        };
        let target = target.expect("checked above");
        if target.gone {
            outcome.error = Some("the endpoint answered 410 Gone; set a new callback URL or resend".into());
            outcome.next = Next::Failed;
            return outcome;
        }
        let url = endpoint(&callback, &event.kind);
        let body = self.body(&event);
        let timestamp = crate::clock::unix_now();
        let signature = super::signing::signature_header(&target.secrets, &event.event_id, timestamp, body.as_bytes());
        let mut request = self
            .client
            .post(&url)
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
        outcome.url = Some(url);
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
