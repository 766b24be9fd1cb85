//! The session registry and one supervisor per running session.
//!
//! The supervisor turns engine events into one status machine
//! (`disconnected → connecting → qr → connected`, `connected → connecting` on a drop,
//! `→ logged_out` when the phone unlinks) and owns what follows from each step: the
//! status is persisted, the activity log (`session_events`) and the durable outbox
//! (`webhook_events`) are written **in the same transaction**, and only then is the
//! engine acknowledged and the change published to `/ws`. A crash at any point loses
//! nothing the engine was told is stored.

use crate::{
    clock::{rfc3339_now, unix_now},
    db::{self, users::UserRow},
    engine::{EngineError, EngineEvent, EngineSession, EventEnvelope, InboundMessage, Pairing, StartRequest, WaEngine},
    live::Live,
    media::MediaStore,
    metrics::Metrics,
    qr,
    webhooks::{
        outbox::Claimed,
        queue::{Outbox, Stored},
    },
};
use serde_json::json;
use sqlx::SqlitePool;
use std::{
    collections::HashMap,
    path::PathBuf,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};
use tokio::sync::{mpsc, watch};

/// The seed's `/message` payload (links to media are filled in when it is sent).
#[derive(serde::Serialize)]
struct MessagePayload<'a> {
    session: &'a str,
    from: &'a str,
    message: &'a str,
    media: NoMedia,
    #[serde(rename = "messageId")]
    message_id: &'a str,
    timestamp: i64,
    #[serde(rename = "pushName")]
    push_name: Option<&'a str>,
    #[serde(rename = "isGroup")]
    is_group: bool,
    participant: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a str,
}

/// Every field `null` (a unit serialises as `null`).
#[derive(serde::Serialize)]
struct NoMedia {
    image: (),
    video: (),
    document: (),
    audio: (),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Disconnected,
    Connecting,
    Qr,
    Connected,
    LoggedOut,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disconnected => "disconnected",
            Self::Connecting => "connecting",
            Self::Qr => "qr",
            Self::Connected => "connected",
            Self::LoggedOut => "logged_out",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "connecting" => Self::Connecting,
            "qr" => Self::Qr,
            "connected" => Self::Connected,
            "logged_out" => Self::LoggedOut,
            _ => Self::Disconnected,
        }
    }

    /// The three statuses webhook receivers know (the seed's contract): waiting for a
    /// scan counts as `connecting`, a logged-out session as `disconnected`.
    pub fn wire(self) -> &'static str {
        match self {
            Self::Connected => "connected",
            Self::Connecting | Self::Qr => "connecting",
            Self::Disconnected | Self::LoggedOut => "disconnected",
        }
    }

    pub const ALL: [Status; 5] = [Self::Disconnected, Self::Connecting, Self::Qr, Self::Connected, Self::LoggedOut];
}

/// What is known about one session right now.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub user_id: i64,
    pub session: String,
    pub status: Status,
    pub qr: Option<String>,
    pub qr_png: Option<String>,
    pub pair_code: Option<String>,
    pub phone: Option<String>,
    pub push_name: Option<String>,
    pub reason: Option<String>,
    /// While the engine retries a failed connect: which attempt failed, and the wait.
    pub retry: Option<Retry>,
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub attempt: u32,
    pub in_seconds: u64,
}

impl Snapshot {
    fn from_row(row: &UserRow) -> Self {
        Self {
            user_id: row.id,
            session: row.effective_session_name().to_owned(),
            status: Status::parse(&row.session_status),
            qr: None,
            qr_png: None,
            pair_code: None,
            phone: row.session_phone.clone(),
            push_name: row.session_push_name.clone(),
            reason: row.session_reason.clone(),
            retry: None,
            at: rfc3339_now(),
        }
    }

    /// The state after the session stopped running: no QR or pair code any more.
    fn ended(&self, status: Status, reason: &str) -> Self {
        Self {
            status,
            reason: Some(reason.to_owned()),
            qr: None,
            qr_png: None,
            pair_code: None,
            retry: None,
            at: rfc3339_now(),
            ..self.clone()
        }
    }

    /// The `/ws` event: `{"type":"status","session","status","qr"?,"phone"?,"at",…}`.
    pub fn to_live_json(&self) -> String {
        let mut v = json!({ "type": "status", "session": self.session, "status": self.status.as_str(), "at": self.at });
        let optional = [
            ("qr", &self.qr_png),
            ("pair_code", &self.pair_code),
            ("phone", &self.phone),
            ("push_name", &self.push_name),
            ("reason", &self.reason),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                v[key] = json!(value);
            }
        }
        if let Some(retry) = self.retry {
            v["attempt"] = json!(retry.attempt);
            v["retry_in"] = json!(retry.in_seconds);
        }
        v.to_string()
    }
}

/// Deletes a folder; one that is already gone is fine, anything else is logged.
async fn remove_dir(dir: &std::path::Path, user_id: i64, what: &str) {
    if let Err(e) = tokio::fs::remove_dir_all(dir).await {
        if e.kind() != std::io::ErrorKind::NotFound {
            tracing::warn!(user_id, error = %e, "could not delete {what}");
        }
    }
}

struct Running {
    generation: u64,
    client: Option<Arc<dyn EngineSession>>,
    state: watch::Sender<Snapshot>,
    supervisor: Option<tokio::task::AbortHandle>,
}

impl Running {
    /// Takes the session out of service, supervisor first so no event lands after; the
    /// caller then stops or logs out the client.
    fn into_client(self) -> Option<Arc<dyn EngineSession>> {
        if let Some(s) = self.supervisor {
            s.abort();
        }
        self.client
    }
}

pub struct Sessions {
    engine: Arc<dyn WaEngine>,
    pool: SqlitePool,
    live: Live,
    metrics: Arc<Metrics>,
    media: MediaStore,
    sessions_dir: PathBuf,
    start_wait: Duration,
    running: Mutex<HashMap<i64, Running>>,
    generations: AtomicU64,
    outbox: Outbox,
}

/// What a supervisor does after an event.
enum Flow {
    Continue,
    /// The engine client is gone (QR codes ran out, or logged out).
    End,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl From<SessionError> for crate::error::ApiError {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::Engine(EngineError::NotConnected) => Self::Conflict("Session is not connected".into()),
            SessionError::Engine(EngineError::NotRegistered) => Self::BadRequest("Target is not registered".into()),
            SessionError::Engine(EngineError::Rejected(m)) => Self::BadRequest(m),
            SessionError::Engine(EngineError::Failed(m)) => Self::Internal(anyhow::anyhow!(m)),
            SessionError::Db(e) => e.into(),
        }
    }
}

pub struct SessionsConfig {
    /// Where webhook events go.
    pub outbox: Outbox,
    pub data_dir: PathBuf,
    pub start_wait: Duration,
    pub media_max_bytes: usize,
}

impl Sessions {
    pub fn new(
        engine: Arc<dyn WaEngine>,
        pool: SqlitePool,
        live: Live,
        metrics: Arc<Metrics>,
        config: SessionsConfig,
    ) -> Arc<Self> {
        Arc::new(Self {
            engine,
            pool,
            live,
            metrics,
            media: MediaStore::new(&config.data_dir, config.media_max_bytes),
            sessions_dir: config.data_dir.join("sessions"),
            start_wait: config.start_wait,
            running: Mutex::default(),
            generations: AtomicU64::new(1),
            outbox: config.outbox,
        })
    }

    fn store_dir(&self, user_id: i64) -> PathBuf {
        self.sessions_dir.join(user_id.to_string())
    }

    /// How many sessions have a client running.
    pub fn running_count(&self) -> usize {
        self.running.lock().expect("registry").len()
    }

    pub fn is_running(&self, user_id: i64) -> bool {
        self.running.lock().expect("registry").contains_key(&user_id)
    }

    /// The current state: live if the session runs, else as last persisted.
    pub async fn snapshot(&self, user_id: i64) -> anyhow::Result<Snapshot> {
        if let Some(s) = self.live_snapshot(user_id) {
            return Ok(s);
        }
        let row = db::users::by_id(&self.pool, user_id).await?.ok_or_else(|| anyhow::anyhow!("no user {user_id}"))?;
        Ok(Snapshot::from_row(&row))
    }

    fn live_snapshot(&self, user_id: i64) -> Option<Snapshot> {
        self.running.lock().expect("registry").get(&user_id).map(|r| r.state.borrow().clone())
    }

    pub async fn all_snapshots(&self) -> anyhow::Result<Vec<Snapshot>> {
        let rows = db::users::list(&self.pool).await?;
        Ok(rows.iter().map(|row| self.live_snapshot(row.id).unwrap_or_else(|| Snapshot::from_row(row))).collect())
    }

    /// The engine client of a connected session, for sends and lookups.
    pub fn client(&self, user_id: i64) -> Result<Arc<dyn EngineSession>, SessionError> {
        let running = self.running.lock().expect("registry");
        match running.get(&user_id) {
            Some(r) if r.state.borrow().status == Status::Connected => {
                r.client.clone().ok_or(EngineError::NotConnected.into())
            }
            _ => Err(EngineError::NotConnected.into()),
        }
    }

    /// Starts the user's session if it is not running, then waits (bounded) until it
    /// shows a QR code, a pair code, is connected, or has failed.
    pub async fn start(self: &Arc<Self>, user: &UserRow, pairing: Pairing) -> anyhow::Result<Snapshot> {
        let mut rx = self.ensure_started(user, pairing.clone()).await?;
        let wants_code = matches!(pairing, Pairing::PairCode { .. });
        let ready = |s: &Snapshot| match s.status {
            Status::Connected | Status::Disconnected | Status::LoggedOut => true,
            // The real engine shows QR codes while a pair code is on its way: wait for the one asked for.
            Status::Qr => {
                if wants_code {
                    s.pair_code.is_some()
                } else {
                    s.qr.is_some()
                }
            }
            // A failed connect attempt: say so now rather than after the whole wait.
            Status::Connecting => wants_code && s.pair_code.is_some() || s.retry.is_some(),
        };
        let _ = tokio::time::timeout(self.start_wait, rx.wait_for(ready)).await;
        if !self.is_running(user.id) {
            // The session ended while we waited (start failed, codes ran out): its
            // final state is in the database, not in the closed watch channel.
            return self.snapshot(user.id).await;
        }
        let snapshot = rx.borrow().clone();
        Ok(snapshot)
    }

    async fn ensure_started(
        self: &Arc<Self>,
        user: &UserRow,
        pairing: Pairing,
    ) -> anyhow::Result<watch::Receiver<Snapshot>> {
        let generation = self.generations.fetch_add(1, Ordering::Relaxed);
        let (events_tx, events_rx) = mpsc::channel::<EventEnvelope>(256);
        let mut initial = Snapshot::from_row(user);
        initial.status = Status::Connecting;
        initial.reason = None;
        initial.qr = None;
        initial.qr_png = None;
        let (state_tx, state_rx) = watch::channel(initial.clone());
        {
            let mut running = self.running.lock().expect("registry");
            if let Some(existing) = running.get(&user.id) {
                return Ok(existing.state.subscribe());
            }
            running.insert(user.id, Running { generation, client: None, state: state_tx, supervisor: None });
        }
        let from = Status::parse(&user.session_status);
        if let Err(e) = self.persist(&initial, from, None, Some("starting")).await {
            // Not started after all: leave no half-registered session behind.
            self.running.lock().expect("registry").remove(&user.id);
            return Err(e);
        }
        self.publish(&initial);

        let supervisor = tokio::spawn(self.clone().supervise(user.id, generation, events_rx));
        let request = StartRequest {
            user_id: user.id,
            session_name: initial.session.clone(),
            store_dir: self.store_dir(user.id),
            pairing,
        };
        match self.engine.start(request, events_tx).await {
            Ok(client) => {
                let mut running = self.running.lock().expect("registry");
                match running.get_mut(&user.id) {
                    Some(r) if r.generation == generation => {
                        r.client = Some(client);
                        r.supervisor = Some(supervisor.abort_handle());
                    }
                    _ => supervisor.abort(),
                }
            }
            Err(e) => {
                supervisor.abort();
                self.start_failed(user.id, generation, format!("could not start: {e}")).await?;
            }
        }
        Ok(state_rx)
    }

    async fn supervise(self: Arc<Self>, user_id: i64, generation: u64, mut events: mpsc::Receiver<EventEnvelope>) {
        let mut received = Vec::with_capacity(256);
        // The last messages sent to the writer: a status change waits for them to be
        // committed, so the outbox keeps the order in which events happened.
        let mut storing: Option<Stored> = None;
        while events.recv_many(&mut received, 256).await > 0 {
            let mut queue = std::mem::take(&mut received).into_iter().peekable();
            while let Some(EventEnvelope { event, ack }) = queue.next() {
                self.metrics.engine_event(&event);
                if let EngineEvent::Message(first) = event {
                    // The messages already waiting go to the writer together.
                    let (mut messages, mut acks) = (vec![first], vec![ack]);
                    while matches!(queue.peek(), Some(EventEnvelope { event: EngineEvent::Message(_), .. })) {
                        let Some(EventEnvelope { event, ack }) = queue.next() else { break };
                        self.metrics.engine_event(&event);
                        if let EngineEvent::Message(m) = event {
                            messages.push(m);
                            acks.push(ack);
                        }
                    }
                    let Some(snapshot) = self.current(user_id, generation) else { return };
                    // Acks are answered by the writer after the commit; on an error they
                    // are dropped, and the engine learns the messages were not stored.
                    match self.send_messages(&snapshot, messages, acks.into_iter().flatten().collect()).await {
                        Ok(stored) => storing = Some(stored),
                        Err(e) => tracing::error!(user_id, error = %e, "could not record incoming messages"),
                    }
                    continue;
                }
                if let Some(stored) = storing.take() {
                    let _ = stored.await;
                }
                match self.apply(user_id, generation, event).await {
                    Ok(flow) => {
                        if let Some(ack) = ack {
                            let _ = ack.send(());
                        }
                        if matches!(flow, Flow::End) {
                            return;
                        }
                    }
                    // The ack is dropped: the engine learns the event was not stored.
                    Err(e) => tracing::error!(user_id, error = %e, "could not record a session event"),
                }
            }
        }
    }

    fn current(&self, user_id: i64, generation: u64) -> Option<Snapshot> {
        let running = self.running.lock().expect("registry");
        running.get(&user_id).filter(|r| r.generation == generation).map(|r| r.state.borrow().clone())
    }

    fn set(&self, user_id: i64, generation: u64, snapshot: &Snapshot) {
        let running = self.running.lock().expect("registry");
        if let Some(r) = running.get(&user_id).filter(|r| r.generation == generation) {
            r.state.send_replace(snapshot.clone());
        }
    }

    async fn apply(&self, user_id: i64, generation: u64, event: EngineEvent) -> anyhow::Result<Flow> {
        let Some(before) = self.current(user_id, generation) else {
            return Ok(Flow::End);
        };
        let mut next = before.clone();
        next.at = rfc3339_now();
        next.retry = None;
        // QR rotations and repeated failed connect attempts stay in memory and on /ws.
        let mut quiet = false;
        let mut linked = None;
        let mut detail = None;
        let mut flow = Flow::Continue;
        match event {
            EngineEvent::Message(message) => {
                let stored = self.send_messages(&before, vec![message], Vec::new()).await?;
                stored.await?.map_err(anyhow::Error::msg)?;
                return Ok(Flow::Continue);
            }
            EngineEvent::Receipt { .. } => return Ok(Flow::Continue),
            EngineEvent::Qr { code, valid_for } => {
                quiet = before.status == Status::Qr;
                next.status = Status::Qr;
                next.qr_png = qr::png_data_url(&code);
                next.qr = Some(code);
                next.reason = Some(format!("scan within {} s", valid_for.as_secs()));
            }
            EngineEvent::PairCode { code } => {
                next.pair_code = Some(code);
                next.reason = Some("enter the pair code on the phone".into());
            }
            EngineEvent::QrExhausted => {
                next.status = Status::Disconnected;
                next.reason = Some("QR codes expired before a scan; start the session again".into());
                linked = Some(false);
                flow = Flow::End;
            }
            EngineEvent::Paired { phone, push_name } => {
                next.phone = Some(phone);
                next.push_name = push_name;
                next.reason = Some("paired".into());
                linked = Some(true);
            }
            EngineEvent::Connected => {
                next.status = Status::Connected;
                next.reason = None;
                linked = Some(true);
            }
            EngineEvent::Disconnected { reason, will_retry } => {
                next.status = if will_retry { Status::Connecting } else { Status::Disconnected };
                next.reason = Some(reason);
            }
            EngineEvent::Reconnecting { attempt, delay, reason } => {
                quiet = before.retry.is_some();
                next.status = Status::Connecting;
                let in_seconds = delay.as_secs_f64().ceil() as u64;
                next.retry = Some(Retry { attempt, in_seconds });
                let retry = format!("attempt {attempt}, retry in {in_seconds} s");
                next.reason = Some(match reason {
                    Some(why) => format!("connecting: {retry}: {why}"),
                    None => format!("reconnecting: {retry}"),
                });
            }
            EngineEvent::Stopped { reason } => {
                next.status = Status::Disconnected;
                next.reason = Some(reason);
                flow = Flow::End;
            }
            EngineEvent::LoggedOut { reason } => {
                next.status = Status::LoggedOut;
                next.reason = Some(reason);
                linked = Some(false);
                flow = Flow::End;
            }
        }
        if next.status != Status::Qr {
            next.qr = None;
            next.qr_png = None;
        }
        if next.status == Status::Connected {
            next.pair_code = None;
        }
        if next.status != before.status || linked.is_some() || next.reason != before.reason && !quiet {
            detail = detail.or(next.reason.clone());
            self.persist(&next, before.status, linked, detail.as_deref()).await?;
        }
        if matches!(flow, Flow::End) {
            if next.status == Status::LoggedOut {
                self.remove_store(user_id).await;
            }
            self.running.lock().expect("registry").remove(&user_id);
        } else {
            self.set(user_id, generation, &next);
        }
        self.publish(&next);
        Ok(flow)
    }

    fn publish(&self, snapshot: &Snapshot) {
        self.live.publish(snapshot.user_id, snapshot.to_live_json());
    }

    /// Writes a transition: status columns, the activity log, and (when the status seen
    /// by webhook receivers changes) a `session` event in the outbox, atomically.
    async fn persist(
        &self,
        s: &Snapshot,
        from: Status,
        linked: Option<bool>,
        detail: Option<&str>,
    ) -> anyhow::Result<()> {
        let _turn = db::write_turn().await;
        let mut tx = self.pool.begin().await?;
        let state = db::users::SessionState {
            status: s.status.as_str(),
            phone: s.phone.as_deref(),
            push_name: s.push_name.as_deref(),
            reason: s.reason.as_deref(),
            linked,
        };
        db::users::set_session_state(&mut tx, s.user_id, &state).await?;
        db::session_events::insert(&mut tx, s.user_id, &s.session, s.status.as_str(), detail).await?;
        if s.status.wire() != from.wire() {
            let mut payload = json!({ "session": s.session, "status": s.status.wire(), "timestamp": unix_now() });
            if let Some(reason) = &s.reason {
                payload["reason"] = json!(reason);
            }
            let event = db::outbox::NewEvent {
                user_id: s.user_id,
                kind: "session",
                payload: payload.to_string(),
                dedupe_key: None,
                media: None,
            };
            let stored = db::outbox::insert_held(&mut tx, &event).await?;
            tx.commit().await?;
            if let Some((id, event_id)) = stored {
                self.outbox.hand(Claimed::fresh(event, id, event_id));
            }
        } else {
            tx.commit().await?;
        }
        Ok(())
    }

    /// Stores the media files of incoming messages and sends the messages to the outbox's
    /// writer; `acks` are answered once they are committed.
    async fn send_messages(
        &self,
        s: &Snapshot,
        messages: Vec<InboundMessage>,
        acks: Vec<crate::engine::Ack>,
    ) -> anyhow::Result<Stored> {
        let mut events = Vec::with_capacity(messages.len());
        for m in messages {
            let stored = match &m.media {
                Some(media) => match self.media.store(s.user_id, media).await {
                    Ok(stored) => Some(stored),
                    Err(e) => {
                        // Too large or unwritable: the message still goes out, without the file.
                        tracing::warn!(user_id = s.user_id, error = %e, "media not stored");
                        None
                    }
                },
                None => None,
            };
            let kind = m.media.as_ref().map_or("text", |media| media.kind.as_str());
            let payload = MessagePayload {
                session: &s.session,
                from: &m.chat,
                message: m.text.as_deref().unwrap_or_default(),
                media: NoMedia { image: (), video: (), document: (), audio: () },
                message_id: &m.id,
                timestamp: m.timestamp,
                push_name: m.push_name.as_deref(),
                is_group: m.is_group,
                participant: m.is_group.then_some(m.sender.as_str()),
                kind,
            };
            events.push(db::outbox::NewEvent {
                user_id: s.user_id,
                kind: "message",
                payload: serde_json::to_string(&payload)?,
                dedupe_key: Some(format!("{}|{}|{}|{}", s.user_id, m.chat, m.sender, m.id)),
                media: stored.map(|s| serde_json::to_string(&s)).transpose()?,
            });
        }
        self.outbox.send(events, acks).await
    }

    /// Records that the engine could not start the session: `disconnected` with the
    /// reason. The linked flag and any keys stay, so a later start tries again.
    async fn start_failed(&self, user_id: i64, generation: u64, reason: String) -> anyhow::Result<()> {
        let removed = {
            let mut running = self.running.lock().expect("registry");
            match running.get(&user_id) {
                Some(r) if r.generation == generation => running.remove(&user_id),
                _ => None,
            }
        };
        let before = match &removed {
            Some(r) => r.state.borrow().clone(),
            None => self.snapshot(user_id).await?,
        };
        let next = before.ended(Status::Disconnected, &reason);
        self.persist(&next, before.status, None, Some(&reason)).await?;
        self.publish(&next);
        Ok(())
    }

    async fn remove_store(&self, user_id: i64) {
        remove_dir(&self.store_dir(user_id), user_id, "the session store").await;
    }

    /// Deletes a (deleted) user's stored media.
    pub async fn remove_media(&self, user_id: i64) {
        remove_dir(&self.media.user_dir(user_id), user_id, "the user's media").await;
    }

    /// Logs the device out and deletes its keys. False if there was nothing to log out.
    pub async fn logout(&self, user: &UserRow, reason: &str) -> anyhow::Result<bool> {
        let removed = self.running.lock().expect("registry").remove(&user.id);
        let linked = db::users::by_id(&self.pool, user.id).await?.is_some_and(|u| u.session_linked);
        if removed.is_none() && !linked {
            return Ok(false);
        }
        let before = match &removed {
            Some(r) => r.state.borrow().clone(),
            None => Snapshot::from_row(user),
        };
        if let Some(client) = removed.and_then(Running::into_client) {
            client.logout().await;
        }
        self.remove_store(user.id).await;
        let next = before.ended(Status::LoggedOut, reason);
        self.persist(&next, before.status, Some(false), Some(reason)).await?;
        self.publish(&next);
        tracing::info!(user_id = user.id, "session logged out");
        Ok(true)
    }

    /// At boot: marks sessions that were mid-pairing when the gateway stopped as
    /// disconnected, and returns the linked ones for [`Self::resume`].
    pub async fn interrupted(&self) -> anyhow::Result<Vec<UserRow>> {
        let reset = db::users::reset_unlinked_sessions(&self.pool, "the gateway restarted").await?;
        tracing::debug!(reset, "sessions left mid-pairing marked disconnected");
        Ok(db::users::list(&self.pool).await?.into_iter().filter(|u| u.session_linked).collect())
    }

    /// Restarts linked sessions a few at a time, while the API already answers (a real
    /// session's store takes milliseconds to open; a thousand would hold up the boot).
    pub async fn resume(self: Arc<Self>, users: Vec<UserRow>) -> usize {
        use futures_util::StreamExt;
        futures_util::stream::iter(users)
            .map(|user| {
                let this = self.clone();
                async move {
                    let started = this.ensure_started(&user, Pairing::Qr).await;
                    if let Err(e) = &started {
                        tracing::error!(user_id = user.id, error = %e, "could not resume a session");
                    }
                    started.is_ok()
                }
            })
            .buffer_unordered(8)
            .filter(|started| std::future::ready(*started))
            .count()
            .await
    }

    /// Stops every client, keeping keys and the linked flag so they resume next start.
    /// All at once: a real client's graceful stop flushes its store, and a thousand of
    /// them one after another would stretch the shutdown.
    pub async fn shutdown(&self) {
        let all: Vec<Running> = self.running.lock().expect("registry").drain().map(|(_, r)| r).collect();
        let stops = all.into_iter().filter_map(Running::into_client).map(|client| async move { client.stop().await });
        futures_util::future::join_all(stops).await;
    }

    /// Counts of sessions by status, for `/ready` and `/metrics`.
    pub async fn counts(&self) -> anyhow::Result<Vec<(Status, i64)>> {
        let snapshots = self.all_snapshots().await?;
        Ok(Status::ALL.iter().map(|st| (*st, snapshots.iter().filter(|s| s.status == *st).count() as i64)).collect())
    }
}
