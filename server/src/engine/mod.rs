//! The engine port: how the gateway talks to a WhatsApp client, in our own types only.
//! `simulated` implements it in-process for tests and demos; the real whatsapp-rust
//! adapter (the only place that may import that library) implements it too.
//!
//! A started session reports what happens through [`EngineEvent`]s; each comes with an
//! optional [`Ack`] that the supervisor fires once the event is durably stored, so an
//! engine can hold back its own acknowledgement (at-least-once delivery).

pub mod simulated;
pub mod whatsapp;

use async_trait::async_trait;
use std::{path::PathBuf, sync::Arc, time::Duration};
use tokio::sync::{mpsc, oneshot};

/// How a new device is linked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pairing {
    Qr,
    /// The phone number to link by an 8-character code typed on the phone.
    PairCode {
        phone: String,
    },
}

#[derive(Debug, Clone)]
pub struct StartRequest {
    pub user_id: i64,
    pub session_name: String,
    /// The session's own folder (`DATA_DIR/sessions/<user id>`): its keys live here.
    pub store_dir: PathBuf,
    pub pairing: Pairing,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaKind {
    Image,
    Video,
    Document,
    Audio,
    Sticker,
}

impl MediaKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Image => "image",
            Self::Video => "video",
            Self::Document => "document",
            Self::Audio => "audio",
            Self::Sticker => "sticker",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "image" => Self::Image,
            "video" => Self::Video,
            "document" => Self::Document,
            "audio" => Self::Audio,
            "sticker" => Self::Sticker,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
pub struct InboundMedia {
    pub kind: MediaKind,
    pub mimetype: String,
    pub file_name: Option<String>,
    /// `None`: the message announced media the engine did not fetch (over the size cap,
    /// or the download failed); the message is still reported, with its type.
    pub data: Option<Vec<u8>>,
}

/// One incoming message, already converted from the library's types.
#[derive(Debug, Clone)]
pub struct InboundMessage {
    pub id: String,
    /// The chat: a user JID, or a group JID for group messages.
    pub chat: String,
    /// Who sent it (the participant in groups).
    pub sender: String,
    pub is_group: bool,
    pub push_name: Option<String>,
    pub text: Option<String>,
    pub media: Option<InboundMedia>,
    pub timestamp: i64,
}

#[derive(Debug, Clone)]
pub enum EngineEvent {
    Qr {
        code: String,
        valid_for: Duration,
    },
    QrExhausted,
    PairCode {
        code: String,
    },
    Paired {
        phone: String,
        push_name: Option<String>,
    },
    Connected,
    Disconnected {
        reason: String,
        will_retry: bool,
    },
    /// A connect attempt failed; the engine tries again after `delay`.
    Reconnecting {
        attempt: u32,
        delay: Duration,
        reason: Option<String>,
    },
    LoggedOut {
        reason: String,
    },
    /// The engine gave up on its own (replaced by another client, banned, outdated):
    /// the session stops but keeps its keys, so a later start may resume it.
    Stopped {
        reason: String,
    },
    Message(InboundMessage),
    Receipt {
        message_id: String,
        status: String,
    },
}

/// Fired by the supervisor once the event is committed; dropping it means "not stored".
pub type Ack = oneshot::Sender<()>;

pub struct EventEnvelope {
    pub event: EngineEvent,
    pub ack: Option<Ack>,
}

pub type EventSender = mpsc::Sender<EventEnvelope>;

/// Where an outbound message goes and what it carries.
#[derive(Debug, Clone)]
pub struct OutboundMessage {
    pub to: String,
    pub content: OutboundContent,
    pub quoted_message_id: Option<String>,
}

#[derive(Debug, Clone)]
pub enum OutboundContent {
    Text(String),
    Media {
        kind: MediaKind,
        data: Vec<u8>,
        mimetype: String,
        caption: Option<String>,
        file_name: Option<String>,
        /// Audio only: sent as a voice note (push-to-talk) instead of an audio file.
        voice_note: bool,
    },
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct Profile {
    pub picture_url: Option<String>,
    pub status: Option<String>,
}

/// A group's metadata, as far as this account may see it.
#[derive(Debug, Clone)]
pub struct GroupInfo {
    pub id: String,
    pub subject: String,
    pub description: Option<String>,
    pub participants: Vec<GroupMember>,
}

#[derive(Debug, Clone)]
pub struct GroupMember {
    pub jid: String,
    /// The member's phone-number JID when WhatsApp shares it (members may be `@lid` only).
    pub phone: Option<String>,
    pub admin: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("Session is not connected")]
    NotConnected,
    #[error("Target is not registered")]
    NotRegistered,
    #[error("{0}")]
    Rejected(String),
    #[error("engine failure: {0}")]
    Failed(String),
}

/// A WhatsApp client factory.
#[async_trait]
pub trait WaEngine: Send + Sync + 'static {
    /// Starts a client for one session; it reports through `events` until stopped.
    async fn start(&self, req: StartRequest, events: EventSender) -> Result<Arc<dyn EngineSession>, EngineError>;
}

/// One running client.
#[async_trait]
pub trait EngineSession: Send + Sync + 'static {
    /// Stops the client, keeping its keys (it resumes on the next start).
    async fn stop(&self);
    /// Unlinks the device from the phone (best effort when offline) and stops.
    async fn logout(&self);
    async fn send(&self, msg: OutboundMessage) -> Result<String, EngineError>;
    async fn typing(&self, to: &str, on: bool) -> Result<(), EngineError>;
    /// Which of these phone numbers are on WhatsApp.
    async fn check_numbers(&self, numbers: &[String]) -> Result<Vec<(String, bool)>, EngineError>;
    async fn profile(&self, jid: &str) -> Result<Profile, EngineError>;
    /// Metadata of a group this account is in (`…@g.us`).
    async fn group(&self, jid: &str) -> Result<GroupInfo, EngineError>;
}
