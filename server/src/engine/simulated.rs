//! An in-process WhatsApp stand-in (`WA_ENGINE=simulated`) for tests, demos and
//! benchmarks. It behaves like the real engine from the supervisor's side: QR codes
//! rotate and run out, a simulated scan pairs the device (its "keys" are a file in the
//! session's store folder, so a paired session resumes after a gateway restart),
//! connections drop and come back, the phone can unlink, messages arrive, and every
//! outbound call is recorded. The `/sim/...` routes drive it.

use super::{
    EngineError, EngineEvent, EngineSession, EventEnvelope, EventSender, GroupInfo, GroupMember, InboundMessage,
    OutboundContent, OutboundMessage, Pairing, Profile, StartRequest, WaEngine,
};
use async_trait::async_trait;
use base64::{engine::general_purpose::STANDARD, Engine};
use rand::{Rng, RngCore};
use serde_json::{json, Value};
use std::{
    collections::{HashMap, HashSet},
    path::PathBuf,
    sync::{Arc, Mutex, RwLock},
    time::Duration,
};
use tokio::task::JoinHandle;

const DEVICE_FILE: &str = "sim-device.json";

#[derive(Debug, Clone)]
pub struct SimConfig {
    pub qr_period: Duration,
    pub qr_count: u32,
    pub reconnect_delay: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("Session '{0}' is not running")]
    NotRunning(String),
    #[error("{0}")]
    WrongState(String),
    #[error("The gateway did not store the event")]
    NotStored,
}

pub struct SimulatedEngine {
    config: SimConfig,
    sessions: Mutex<HashMap<String, Arc<SimSession>>>,
    numbers: Arc<RwLock<HashSet<String>>>,
}

struct SimState {
    connected: bool,
    linked: bool,
    stopped: bool,
    tasks: Vec<JoinHandle<()>>,
}

pub struct SimSession {
    engine: std::sync::Weak<SimulatedEngine>,
    name: String,
    store_dir: PathBuf,
    events: EventSender,
    numbers: Arc<RwLock<HashSet<String>>>,
    config: SimConfig,
    state: Mutex<SimState>,
    sent: Mutex<Vec<Value>>,
}

fn not_connected(name: &str) -> SimError {
    SimError::WrongState(format!("Session '{name}' is not connected"))
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn digits(s: &str) -> String {
    s.split('@').next().unwrap_or("").chars().filter(char::is_ascii_digit).collect()
}

/// A QR payload shaped like WhatsApp's: a ref and three base64 keys, comma-separated.
fn qr_code() -> String {
    let mut rng = rand::thread_rng();
    let mut part = |n: usize| {
        let mut b = vec![0u8; n];
        rng.fill_bytes(&mut b);
        STANDARD.encode(b)
    };
    format!("2@{},{},{},{}", part(18), part(32), part(32), part(32))
}

fn pair_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let mut code: String = (0..8).map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char).collect();
    code.insert(4, '-');
    code
}

impl SimulatedEngine {
    pub fn new(config: SimConfig) -> Self {
        Self { config, sessions: Mutex::default(), numbers: Arc::default() }
    }

    fn session(&self, name: &str) -> Result<Arc<SimSession>, SimError> {
        self.sessions
            .lock()
            .expect("sim sessions")
            .get(&key(name))
            .cloned()
            .ok_or_else(|| SimError::NotRunning(name.to_owned()))
    }

    /// The phone scans the QR code (or confirms the pair code): pairs and connects.
    pub async fn scan(&self, name: &str, phone: Option<String>) -> Result<(), SimError> {
        let s = self.session(name)?;
        {
            let mut st = s.state.lock().expect("sim state");
            if st.linked || st.stopped {
                return Err(SimError::WrongState(format!("Session '{name}' is not waiting for a scan")));
            }
            st.linked = true;
            st.connected = true;
            st.tasks.drain(..).for_each(|t| t.abort());
        }
        let phone = phone.unwrap_or_else(|| format!("62812{:07}", rand::thread_rng().gen_range(0..10_000_000)));
        let _ = std::fs::create_dir_all(&s.store_dir);
        let _ = std::fs::write(s.store_dir.join(DEVICE_FILE), json!({ "phone": phone }).to_string());
        s.emit(EngineEvent::Paired { phone: phone.clone(), push_name: Some(format!("Sim {phone}")) }).await;
        s.emit(EngineEvent::Connected).await;
        Ok(())
    }

    fn connected_session(&self, name: &str) -> Result<Arc<SimSession>, SimError> {
        let s = self.session(name)?;
        if s.state.lock().expect("sim state").connected {
            Ok(s)
        } else {
            Err(not_connected(name))
        }
    }

    /// A message arrives; returns once the gateway has stored it (or says it did not).
    pub async fn inject(&self, name: &str, message: InboundMessage) -> Result<(), SimError> {
        let s = self.connected_session(name)?;
        let (ack, stored) = tokio::sync::oneshot::channel();
        let envelope = EventEnvelope { event: EngineEvent::Message(message), ack: Some(ack) };
        s.events.send(envelope).await.map_err(|_| SimError::NotStored)?;
        stored.await.map_err(|_| SimError::NotStored)
    }

    /// The connection drops; it comes back by itself after the reconnect delay.
    pub async fn drop_connection(&self, name: &str) -> Result<(), SimError> {
        let s = self.session(name)?;
        {
            let mut st = s.state.lock().expect("sim state");
            if !st.connected {
                return Err(not_connected(name));
            }
            st.connected = false;
        }
        s.emit(EngineEvent::Disconnected { reason: "connection lost (simulated)".into(), will_retry: true }).await;
        s.emit(EngineEvent::Reconnecting { attempt: 1, delay: s.config.reconnect_delay, reason: None }).await;
        let session = s.clone();
        let task = tokio::spawn(async move {
            tokio::time::sleep(session.config.reconnect_delay).await;
            let ok = {
                let mut st = session.state.lock().expect("sim state");
                let ok = !st.stopped && st.linked;
                st.connected = ok;
                ok
            };
            if ok {
                session.emit(EngineEvent::Connected).await;
            }
        });
        s.state.lock().expect("sim state").tasks.push(task);
        Ok(())
    }

    /// Another client takes over the device's connection (WhatsApp's "stream replaced"):
    /// the session stops, its keys stay.
    pub async fn replace(&self, name: &str) -> Result<(), SimError> {
        let s = self.connected_session(name)?;
        s.halt();
        s.emit(EngineEvent::Stopped { reason: "another client took over this device's connection (simulated)".into() })
            .await;
        Ok(())
    }

    /// The phone removes this linked device.
    pub async fn unlink(&self, name: &str) -> Result<(), SimError> {
        let s = self.session(name)?;
        if !s.state.lock().expect("sim state").linked {
            return Err(SimError::WrongState(format!("Session '{name}' is not linked")));
        }
        s.halt();
        let _ = std::fs::remove_file(s.store_dir.join(DEVICE_FILE));
        s.emit(EngineEvent::LoggedOut { reason: "The phone unlinked this device".into() }).await;
        Ok(())
    }

    pub fn sent(&self, name: &str) -> Result<Vec<Value>, SimError> {
        Ok(self.session(name)?.sent.lock().expect("sim sent").clone())
    }

    pub fn set_numbers(&self, numbers: &[String]) {
        *self.numbers.write().expect("sim numbers") = numbers.iter().map(|n| digits(n)).collect();
    }

    /// Removes `s` from the registry, unless a newer session took its name.
    fn forget(&self, s: &SimSession) {
        let mut map = self.sessions.lock().expect("sim sessions");
        if map.get(&key(&s.name)).is_some_and(|cur| std::ptr::eq(Arc::as_ptr(cur), s)) {
            map.remove(&key(&s.name));
        }
    }
}

impl SimSession {
    async fn emit(&self, event: EngineEvent) {
        let _ = self.events.send(EventEnvelope { event, ack: None }).await;
    }

    /// Stops the session's timers and takes it out of the simulator's registry.
    fn halt(&self) {
        {
            let mut st = self.state.lock().expect("sim state");
            st.stopped = true;
            st.connected = false;
            st.tasks.drain(..).for_each(|t| t.abort());
        }
        if let Some(engine) = self.engine.upgrade() {
            engine.forget(self);
        }
    }

    fn record(&self, entry: Value) {
        self.sent.lock().expect("sim sent").push(entry);
    }

    fn ensure_connected(&self) -> Result<(), EngineError> {
        if self.state.lock().expect("sim state").connected {
            Ok(())
        } else {
            Err(EngineError::NotConnected)
        }
    }
}

/// Rotates QR codes until scanned or out of codes, like WhatsApp's pairing window.
async fn rotate_qr(session: Arc<SimSession>, engine_count: u32) {
    for _ in 0..engine_count {
        session.emit(EngineEvent::Qr { code: qr_code(), valid_for: session.config.qr_period }).await;
        tokio::time::sleep(session.config.qr_period).await;
    }
    let exhausted = {
        let mut st = session.state.lock().expect("sim state");
        let exhausted = !st.linked && !st.stopped;
        if exhausted {
            st.stopped = true;
        }
        exhausted
    };
    if exhausted {
        session.emit(EngineEvent::QrExhausted).await;
    }
}

#[async_trait]
impl WaEngine for Arc<SimulatedEngine> {
    async fn start(&self, req: StartRequest, events: EventSender) -> Result<Arc<dyn EngineSession>, EngineError> {
        std::fs::create_dir_all(&req.store_dir).map_err(|e| EngineError::Failed(e.to_string()))?;
        let linked = req.store_dir.join(DEVICE_FILE).exists();
        let session = Arc::new(SimSession {
            engine: Arc::downgrade(self),
            name: req.session_name.clone(),
            store_dir: req.store_dir.clone(),
            events,
            numbers: self.numbers.clone(),
            config: self.config.clone(),
            state: Mutex::new(SimState { connected: false, linked, stopped: false, tasks: Vec::new() }),
            sent: Mutex::default(),
        });
        let replaced = self.sessions.lock().expect("sim sessions").insert(key(&req.session_name), session.clone());
        if let Some(old) = replaced {
            // Stop the old one's timers; it is no longer in the registry to forget.
            old.state.lock().expect("sim state").tasks.drain(..).for_each(|t| t.abort());
        }
        let s = session.clone();
        let task = if linked {
            // Resume from stored keys: connect without pairing.
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let ok = {
                    let mut st = s.state.lock().expect("sim state");
                    st.connected = !st.stopped;
                    st.connected
                };
                if ok {
                    s.emit(EngineEvent::Connected).await;
                }
            })
        } else {
            match req.pairing {
                Pairing::Qr => {
                    let count = self.config.qr_count;
                    tokio::spawn(rotate_qr(s, count))
                }
                Pairing::PairCode { .. } => tokio::spawn(async move {
                    s.emit(EngineEvent::PairCode { code: pair_code() }).await;
                }),
            }
        };
        session.state.lock().expect("sim state").tasks.push(task);
        Ok(session)
    }
}

#[async_trait]
impl EngineSession for SimSession {
    async fn stop(&self) {
        self.halt();
    }

    async fn logout(&self) {
        self.halt();
        let _ = std::fs::remove_file(self.store_dir.join(DEVICE_FILE));
        self.record(json!({ "type": "logout" }));
    }

    async fn send(&self, msg: OutboundMessage) -> Result<String, EngineError> {
        self.ensure_connected()?;
        let id = format!("SIM{:016X}", rand::thread_rng().gen::<u64>());
        let mut entry = match &msg.content {
            OutboundContent::Text(text) => json!({ "type": "text", "text": text }),
            OutboundContent::Media { kind, data, mimetype, caption, file_name, voice_note } => json!({
                "type": kind.as_str(), "bytes": data.len(), "mimetype": mimetype,
                "caption": caption, "file_name": file_name, "voice_note": voice_note,
            }),
            OutboundContent::Location { latitude, longitude, name, address } => json!({
                "type": "location", "latitude": latitude, "longitude": longitude, "name": name, "address": address,
            }),
        };
        entry["id"] = json!(id);
        entry["to"] = json!(msg.to);
        entry["quoted_message_id"] = json!(msg.quoted_message_id);
        self.record(entry);
        Ok(id)
    }

    async fn typing(&self, to: &str, on: bool) -> Result<(), EngineError> {
        self.ensure_connected()?;
        self.record(json!({ "type": if on { "typing" } else { "paused" }, "to": to }));
        Ok(())
    }

    async fn check_numbers(&self, numbers: &[String]) -> Result<Vec<(String, bool)>, EngineError> {
        self.ensure_connected()?;
        let known = self.numbers.read().expect("sim numbers");
        Ok(numbers.iter().map(|n| (n.clone(), known.contains(&digits(n)))).collect())
    }

    async fn profile(&self, jid: &str) -> Result<Profile, EngineError> {
        self.ensure_connected()?;
        if !self.numbers.read().expect("sim numbers").contains(&digits(jid)) {
            return Err(EngineError::NotRegistered);
        }
        Ok(Profile { picture_url: None, status: Some("Hey there! I am using WhatsApp.".into()) })
    }

    /// Every group exists; its members are the registered numbers, the first one admin.
    async fn group(&self, jid: &str) -> Result<GroupInfo, EngineError> {
        self.ensure_connected()?;
        let mut numbers: Vec<String> = self.numbers.read().expect("sim numbers").iter().cloned().collect();
        numbers.sort();
        let participants = numbers
            .into_iter()
            .enumerate()
            .map(|(i, n)| GroupMember {
                jid: format!("{n}@s.whatsapp.net"),
                phone: Some(format!("{n}@s.whatsapp.net")),
                admin: i == 0,
            })
            .collect();
        Ok(GroupInfo {
            id: jid.to_owned(),
            subject: format!("Simulated group {}", digits(jid)),
            description: None,
            participants,
        })
    }
}
