//! The real engine (`WA_ENGINE=whatsapp`): whatsapp-rust 0.7 behind the port. This
//! folder is the only code that names the library; everything leaves it in our types.
//!
//! Every start builds a fresh `Bot` on the session's own store
//! (`DATA_DIR/sessions/<user id>/whatsapp.db`), because a client is never reused after
//! a disconnect. Incoming messages go through the library's inbound durability hook:
//! WhatsApp's ack waits until the supervisor has committed them (at-least-once; the
//! outbox is idempotent on chat + sender + id).

mod convert;
mod observe;

use super::{
    EngineError, EngineEvent, EngineSession, EventEnvelope, EventSender, GroupInfo, GroupMember, InboundMedia,
    InboundMessage, MediaKind, OutboundContent, OutboundMessage, Pairing, Profile, StartRequest, WaEngine,
};
use async_trait::async_trait;
use observe::{Attempts, Note, ObservedTransport, Observer};
use std::{
    sync::{Arc, Mutex, Weak},
    time::Duration,
};
use tokio::{sync::mpsc, task::JoinHandle};
use whatsapp_rust::{
    buffa::MessageField,
    download::MediaType,
    media::{self, AudioOptions, DocumentOptions, ImageOptions, VideoOptions},
    pair_code::PairCodeOptions,
    prelude::{Bot, BotHandle, Client, SqliteStore},
    store::traits::Backend,
    transport::TokioWebSocketTransportFactory,
    upload::UploadResponse,
    wacore::store::{DevicePropsOverride, InMemoryBackend},
    waproto::whatsapp::{self as wa, device_props::PlatformType},
    InboundDurabilityHook, Jid, UploadOptions,
};

/// The session store's file inside the session folder.
pub const STORE_FILE: &str = "whatsapp.db";

/// How long `stop` and `logout` wait for the library before aborting it.
const STOP_WAIT: Duration = Duration::from_secs(10);

/// Where a session's keys live.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// A SQLite file in the session folder (what the gateway uses).
    Sqlite,
    /// The library's in-memory backend: nothing survives a stop (tests, measurements).
    Memory,
}

#[derive(Debug, Clone)]
pub struct WhatsAppOptions {
    /// Dial this WebSocket URL instead of WhatsApp's (a relay; tests use a closed port).
    pub socket_url: Option<String>,
    /// A pinned WhatsApp Web version; skips the version lookup over HTTP.
    pub version: Option<(u32, u32, u32)>,
    /// Shown on the phone under "Linked devices".
    pub device_name: String,
    /// Incoming media larger than this is not downloaded.
    pub media_max_bytes: u64,
    pub store: StoreKind,
}

impl WhatsAppOptions {
    pub fn from_config(config: &crate::config::Config, store: StoreKind) -> Self {
        Self {
            socket_url: config.wa_socket_url.clone(),
            version: config.wa_version.map(|v| (v.0, v.1, v.2)),
            device_name: config.wa_device_name.clone(),
            media_max_bytes: config.media_max_bytes as u64,
            store,
        }
    }
}

pub struct WhatsAppEngine {
    options: WhatsAppOptions,
}

impl WhatsAppEngine {
    pub fn new(options: WhatsAppOptions) -> Self {
        // rustls needs one process-wide crypto provider; the WebSocket transport is built on ring.
        let _ = rustls::crypto::ring::default_provider().install_default();
        Self { options }
    }

    async fn backend(&self, req: &StartRequest) -> Result<Arc<dyn Backend>, EngineError> {
        Ok(match self.options.store {
            StoreKind::Memory => Arc::new(InMemoryBackend::new()),
            StoreKind::Sqlite => {
                std::fs::create_dir_all(&req.store_dir)
                    .map_err(|e| EngineError::Failed(format!("cannot create the session folder: {e}")))?;
                let path = req.store_dir.join(STORE_FILE);
                let store = SqliteStore::new(&path.to_string_lossy())
                    .await
                    .map_err(|e| EngineError::Failed(format!("cannot open the session store: {e}")))?;
                Arc::new(store)
            }
        })
    }
}

#[async_trait]
impl WaEngine for WhatsAppEngine {
    async fn start(&self, req: StartRequest, events: EventSender) -> Result<Arc<dyn EngineSession>, EngineError> {
        let backend = self.backend(&req).await?;
        let (notes, notes_rx) = mpsc::unbounded_channel();
        let attempts = Arc::new(Attempts::default());
        let mut socket = TokioWebSocketTransportFactory::new();
        if let Some(url) = &self.options.socket_url {
            socket = socket.with_url(url.clone());
        }
        let device = DevicePropsOverride::new()
            .with_os(self.options.device_name.clone())
            .with_platform_type(PlatformType::DESKTOP);
        let mut builder = Bot::builder()
            .with_backend_arc(backend)
            .with_transport_factory(ObservedTransport::new(socket, attempts.clone(), notes.clone()))
            .skip_history_sync()
            .with_device_props(device)
            .with_inbound_durability_hook(Durable {
                events: events.clone(),
                media_max_bytes: self.options.media_max_bytes,
            })
            .with_event_handler(Observer { attempts, notes });
        if let Some(version) = self.options.version {
            builder = builder.with_version(version);
        }
        let pair_code = match &req.pairing {
            Pairing::PairCode { phone } => Some(PairCodeOptions {
                phone_number: phone.clone(),
                display_os: Some(self.options.device_name.clone()),
                ..Default::default()
            }),
            Pairing::Qr => None,
        };
        if let Some(options) = &pair_code {
            builder = builder.with_pair_code(options.clone());
        }
        let bot = builder.build().await.map_err(|e| EngineError::Failed(format!("cannot build the client: {e}")))?;
        let handle = bot.spawn();
        let client = handle.client();
        let forwarder =
            tokio::spawn(forward(notes_rx, events, Arc::downgrade(&client), self.options.media_max_bytes, pair_code));
        Ok(Arc::new(WaSession { client, handle: Mutex::new(Some(handle)), forwarder }))
    }
}

/// Hands observed events to the supervisor in order; converts messages the durability
/// hook did not see (their redelivery is not the library's promise, so no ack); asks
/// for a new pair code when WhatsApp wants one (it arrives as a `PairingCode` event).
async fn forward(
    mut notes: mpsc::UnboundedReceiver<Note>,
    events: EventSender,
    client: Weak<Client>,
    cap: u64,
    pair_code: Option<PairCodeOptions>,
) {
    while let Some(note) = notes.recv().await {
        let batch = match note {
            Note::Event(event) => vec![event],
            Note::RefreshPairCode => {
                if let (Some(client), Some(options)) = (client.upgrade(), pair_code.clone()) {
                    // Failures come back as `PairingCodeError` events.
                    tokio::spawn(async move { client.pair_with_code(options).await });
                }
                continue;
            }
            Note::Messages(messages) => {
                let Some(client) = client.upgrade() else { return };
                let mut converted = Vec::with_capacity(messages.len());
                for m in messages.iter() {
                    if let Some(message) = inbound(&client, m, cap).await {
                        converted.push(EngineEvent::Message(message));
                    }
                }
                converted
            }
        };
        for event in batch {
            if events.send(EventEnvelope { event, ack: None }).await.is_err() {
                return;
            }
        }
    }
}

/// The library's at-least-once hook: returns only after the supervisor committed the batch.
struct Durable {
    events: EventSender,
    media_max_bytes: u64,
}

#[async_trait]
impl InboundDurabilityHook for Durable {
    async fn on_messages(
        &self,
        client: Arc<Client>,
        batch: &[whatsapp_rust::prelude::InboundMessage],
    ) -> anyhow::Result<()> {
        let mut stored = Vec::with_capacity(batch.len());
        for m in batch {
            let Some(message) = inbound(&client, m, self.media_max_bytes).await else { continue };
            let (ack, done) = tokio::sync::oneshot::channel();
            let envelope = EventEnvelope { event: EngineEvent::Message(message), ack: Some(ack) };
            self.events.send(envelope).await.map_err(|_| anyhow::anyhow!("the session stopped"))?;
            stored.push(done);
        }
        for done in stored {
            done.await.map_err(|_| anyhow::anyhow!("the gateway did not store the message"))?;
        }
        Ok(())
    }
}

/// Converts one library message, resolving an `@lid` sender and fetching its media.
async fn inbound(client: &Arc<Client>, m: &whatsapp_rust::prelude::InboundMessage, cap: u64) -> Option<InboundMessage> {
    let info = &m.info;
    if !convert::is_reportable(info) {
        return None;
    }
    let mut phone = convert::phone_from_source(&info.source);
    if phone.is_none() && info.source.sender.is_lid() {
        phone = match client.get_lid_pn_entry(&info.source.sender).await {
            Ok(entry) => entry.map(|e| Jid::pn(e.phone_number.as_ref())),
            Err(e) => {
                tracing::debug!(error = %e, "LID lookup failed; the @lid stays");
                None
            }
        };
    }
    let media = match convert::media_of(&m.message) {
        Some(media) => Some(fetch(client, media, cap).await),
        None => None,
    };
    convert::to_inbound(&m.message, info, phone, media)
}

/// The bytes of a message's media, unless over `cap` or the download fails (then the
/// message is still reported, with its type and no file).
async fn fetch(client: &Client, media: convert::MediaRef<'_>, cap: u64) -> InboundMedia {
    let data = if media.length.is_some_and(|n| n > cap) {
        tracing::warn!(
            kind = media.kind.as_str(),
            bytes = media.length,
            "incoming media over MEDIA_MAX_BYTES, not fetched"
        );
        None
    } else {
        match client.download(media.source).await {
            Ok(data) => Some(data),
            Err(e) => {
                tracing::warn!(kind = media.kind.as_str(), error = %e, "incoming media could not be downloaded");
                None
            }
        }
    };
    InboundMedia { kind: media.kind, mimetype: media.mimetype, file_name: media.file_name, data }
}

pub struct WaSession {
    client: Arc<Client>,
    handle: Mutex<Option<BotHandle>>,
    forwarder: JoinHandle<()>,
}

impl WaSession {
    fn connected(&self) -> Result<&Arc<Client>, EngineError> {
        if self.client.is_connected() && self.client.is_logged_in() {
            Ok(&self.client)
        } else {
            Err(EngineError::NotConnected)
        }
    }

    /// Stops the run loop gracefully (it flushes keys and receipts).
    async fn shut_down(&self) {
        let handle = self.handle.lock().expect("bot handle").take();
        if let Some(handle) = handle {
            stop_gracefully(handle).await;
        }
        self.forwarder.abort();
    }
}

/// Waits for a graceful stop; if that hangs, dropping the handle aborts the client.
async fn stop_gracefully(handle: BotHandle) {
    if tokio::time::timeout(STOP_WAIT, handle.shutdown()).await.is_err() {
        tracing::warn!("WhatsApp client did not stop in time; aborted");
    }
}

impl Drop for WaSession {
    fn drop(&mut self) {
        // A session the supervisor let go of (logged out, codes exhausted, stopped by
        // WhatsApp): its client must not keep running.
        self.forwarder.abort();
        if let Some(handle) = self.handle.get_mut().ok().and_then(Option::take) {
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn(stop_gracefully(handle))),
                Err(_) => handle.abort(),
            }
        }
    }
}

fn jid(to: &str) -> Result<Jid, EngineError> {
    to.parse().map_err(|_| EngineError::Rejected(format!("'{to}' is not a WhatsApp address")))
}

fn failed(e: impl std::fmt::Display) -> EngineError {
    EngineError::Failed(e.to_string())
}

fn media_type(kind: &MediaKind) -> MediaType {
    match kind {
        MediaKind::Image => MediaType::Image,
        MediaKind::Video => MediaType::Video,
        MediaKind::Document => MediaType::Document,
        MediaKind::Audio => MediaType::Audio,
        MediaKind::Sticker => MediaType::Sticker,
    }
}

/// Builds the library message for one of our outbound messages (media already uploaded).
fn build_message(
    content: OutboundContent,
    upload: Option<UploadResponse>,
    quote: Option<Box<wa::ContextInfo>>,
) -> Result<wa::Message, EngineError> {
    let context = || quote.clone().map(|c| MessageField::some(*c)).unwrap_or_default();
    Ok(match content {
        OutboundContent::Text(text) => wa::Message {
            extended_text_message: MessageField::some(wa::message::ExtendedTextMessage {
                text: Some(text),
                context_info: context(),
                ..Default::default()
            }),
            ..Default::default()
        },
        OutboundContent::Location { latitude, longitude, name, address } => wa::Message {
            location_message: MessageField::some(wa::message::LocationMessage {
                degrees_latitude: Some(latitude),
                degrees_longitude: Some(longitude),
                name,
                address,
                context_info: context(),
                ..Default::default()
            }),
            ..Default::default()
        },
        OutboundContent::Media { kind, mimetype, caption, file_name, voice_note, .. } => {
            let upload = upload.ok_or_else(|| failed("media was not uploaded"))?;
            let mimetype = Some(mimetype);
            match kind {
                MediaKind::Image => media::image_message(
                    upload,
                    ImageOptions { caption, mimetype, context_info: quote, ..Default::default() },
                ),
                MediaKind::Video => media::video_message(
                    upload,
                    VideoOptions { caption, mimetype, context_info: quote, ..Default::default() },
                ),
                MediaKind::Document => media::document_message(
                    upload,
                    DocumentOptions {
                        caption,
                        mimetype,
                        title: file_name.clone(),
                        file_name,
                        context_info: quote,
                        ..Default::default()
                    },
                ),
                MediaKind::Audio => media::audio_message(
                    upload,
                    AudioOptions { mimetype, ptt: Some(voice_note), context_info: quote, ..Default::default() },
                ),
                MediaKind::Sticker => wa::Message {
                    sticker_message: MessageField::some(wa::message::StickerMessage {
                        url: Some(upload.url),
                        direct_path: Some(upload.direct_path),
                        media_key: Some(upload.media_key.to_vec()),
                        file_sha256: Some(upload.file_sha256.to_vec()),
                        file_enc_sha256: Some(upload.file_enc_sha256.to_vec()),
                        file_length: Some(upload.file_length),
                        media_key_timestamp: Some(upload.media_key_timestamp),
                        mimetype,
                        context_info: context(),
                        ..Default::default()
                    }),
                    ..Default::default()
                },
            }
        }
    })
}

#[async_trait]
impl EngineSession for WaSession {
    async fn stop(&self) {
        self.shut_down().await;
    }

    async fn logout(&self) {
        if self.client.is_connected() {
            // Best effort: tells WhatsApp to drop this companion device.
            if tokio::time::timeout(STOP_WAIT, self.client.logout()).await.is_err() {
                tracing::warn!("WhatsApp did not confirm the logout in time");
            }
        }
        self.shut_down().await;
    }

    async fn send(&self, msg: OutboundMessage) -> Result<String, EngineError> {
        let client = self.connected()?;
        let to = jid(&msg.to)?;
        let quote =
            msg.quoted_message_id.map(|id| Box::new(wa::ContextInfo { stanza_id: Some(id), ..Default::default() }));
        let upload = match &msg.content {
            OutboundContent::Media { kind, data, .. } => {
                Some(client.upload(data.clone(), media_type(kind), UploadOptions::default()).await.map_err(failed)?)
            }
            _ => None,
        };
        let message = build_message(msg.content, upload, quote)?;
        let sent = client.send_message(to, message).await.map_err(|e| match self.connected() {
            Err(not_connected) => not_connected,
            Ok(_) => failed(e),
        })?;
        Ok(sent.message_id)
    }

    async fn typing(&self, to: &str, on: bool) -> Result<(), EngineError> {
        let client = self.connected()?;
        let to = jid(to)?;
        let chat = client.chatstate();
        if on { chat.send_composing(&to).await } else { chat.send_paused(&to).await }.map_err(failed)
    }

    async fn check_numbers(&self, numbers: &[String]) -> Result<Vec<(String, bool)>, EngineError> {
        let client = self.connected()?;
        let jids = numbers.iter().map(|n| jid(n)).collect::<Result<Vec<_>, _>>()?;
        let found = client.contacts().is_on_whatsapp(&jids).await.map_err(failed)?;
        Ok(numbers
            .iter()
            .zip(&jids)
            .map(|(n, j)| (n.clone(), found.iter().any(|r| r.is_registered && r.jid.user_base() == j.user_base())))
            .collect())
    }

    async fn profile(&self, to: &str) -> Result<Profile, EngineError> {
        let client = self.connected()?;
        let target = jid(to)?;
        let contacts = client.contacts();
        let picture = contacts.get_profile_picture(&target, false).await.map_err(failed)?;
        let about = contacts.get_user_info(std::slice::from_ref(&target)).await.map_err(failed)?;
        let status = about.get(&target).or_else(|| about.values().next()).and_then(|u| u.status.clone());
        Ok(Profile { picture_url: picture.map(|p| p.url), status })
    }

    async fn group(&self, to: &str) -> Result<GroupInfo, EngineError> {
        let client = self.connected()?;
        let meta = client.groups().get_metadata(&jid(to)?).await.map_err(failed)?;
        let participants = meta
            .participants
            .iter()
            .map(|p| GroupMember {
                jid: p.jid.to_non_ad().to_string(),
                phone: p.phone_number.as_ref().map(|j| j.to_non_ad().to_string()),
                admin: p.is_admin(),
            })
            .collect();
        Ok(GroupInfo { id: meta.id.to_string(), subject: meta.subject, description: meta.description, participants })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offline(store: StoreKind) -> WhatsAppEngine {
        let mut config = crate::config::Config::for_tests(std::path::Path::new("unused"));
        config.use_offline_real_engine();
        WhatsAppEngine::new(WhatsAppOptions::from_config(&config, store))
    }

    async fn start(
        engine: &WhatsAppEngine,
        dir: &std::path::Path,
    ) -> (Arc<dyn EngineSession>, mpsc::Receiver<EventEnvelope>) {
        let (tx, rx) = mpsc::channel(16);
        let req =
            StartRequest { user_id: 1, session_name: "t".into(), store_dir: dir.to_owned(), pairing: Pairing::Qr };
        (engine.start(req, tx).await.expect("the client builds"), rx)
    }

    async fn next(rx: &mut mpsc::Receiver<EventEnvelope>) -> EngineEvent {
        tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.expect("an event").expect("channel open").event
    }

    #[tokio::test]
    async fn in_memory_backend_retries_without_network_and_stops_promptly() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("memory");
        let (session, mut rx) = start(&offline(StoreKind::Memory), &store_dir).await;
        assert!(matches!(next(&mut rx).await, EngineEvent::Reconnecting { attempt: 1, reason: Some(_), .. }));
        assert!(matches!(next(&mut rx).await, EngineEvent::Reconnecting { attempt: 2, .. }));
        assert!(!store_dir.exists(), "the in-memory backend writes nothing");
        let text = OutboundMessage {
            to: "6281234567890@s.whatsapp.net".into(),
            content: OutboundContent::Text("hi".into()),
            quoted_message_id: None,
        };
        assert!(matches!(session.send(text).await, Err(EngineError::NotConnected)));
        assert!(matches!(session.typing("6281234567890@s.whatsapp.net", true).await, Err(EngineError::NotConnected)));
        tokio::time::timeout(Duration::from_secs(5), session.stop()).await.expect("stop during backoff is prompt");
    }

    #[tokio::test]
    async fn sqlite_store_lives_in_the_session_folder_and_survives_a_stop() {
        let dir = tempfile::tempdir().unwrap();
        let engine = offline(StoreKind::Sqlite);
        let (session, mut rx) = start(&engine, dir.path()).await;
        assert!(matches!(next(&mut rx).await, EngineEvent::Reconnecting { attempt: 1, .. }));
        assert!(dir.path().join(STORE_FILE).exists());
        tokio::time::timeout(Duration::from_secs(5), session.stop()).await.expect("prompt stop");
        // A fresh client from the same store, never the stopped one.
        let (again, mut rx) = start(&engine, dir.path()).await;
        assert!(matches!(next(&mut rx).await, EngineEvent::Reconnecting { attempt: 1, .. }));
        tokio::time::timeout(Duration::from_secs(5), again.logout()).await.expect("prompt logout offline");
    }

    #[test]
    fn outbound_messages_become_library_messages() {
        let quote = Some(Box::new(wa::ContextInfo { stanza_id: Some("ABC".into()), ..Default::default() }));
        let text = build_message(OutboundContent::Text("hello".into()), None, quote.clone()).unwrap();
        let ext = text.extended_text_message.as_option().unwrap();
        assert_eq!(ext.text.as_deref(), Some("hello"));
        assert_eq!(ext.context_info.as_option().and_then(|c| c.stanza_id.as_deref()), Some("ABC"));

        let location =
            OutboundContent::Location { latitude: -6.2, longitude: 106.8, name: Some("Monas".into()), address: None };
        let loc = build_message(location, None, None).unwrap();
        let loc = loc.location_message.as_option().unwrap();
        assert_eq!((loc.degrees_latitude, loc.name.as_deref()), (Some(-6.2), Some("Monas")));

        // Media bodies come from the library's builders over an upload (which needs
        // WhatsApp); without one nothing is sent.
        let media = OutboundContent::Media {
            kind: MediaKind::Video,
            data: vec![1, 2, 3],
            mimetype: "video/mp4".into(),
            caption: None,
            file_name: None,
            voice_note: false,
        };
        assert!(build_message(media, None, quote).is_err(), "media must be uploaded first");
    }
}
