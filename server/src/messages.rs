//! Sending through the caller's one session: ownership and connection checks, the
//! typing indicator before text and media, and media fetched from http(s) URLs only,
//! size-capped and with a timeout.

use crate::{
    db::users::UserRow,
    domain::{CallbackUrl, Recipient},
    engine::{MediaKind, OutboundContent, OutboundMessage},
    error::{ApiError, ApiResult},
    sessions::Sessions,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Serialize;
use std::{sync::Arc, time::Duration};
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct MessageKey {
    #[serde(rename = "remoteJid")]
    pub remote_jid: String,
    #[serde(rename = "fromMe")]
    pub from_me: bool,
    pub id: String,
}

/// What a send answers; `key` keeps clients of the original gateway working.
#[derive(Debug, Serialize, ToSchema)]
pub struct Sent {
    pub id: String,
    pub to: String,
    pub status: &'static str,
    pub key: MessageKey,
}

pub struct Messages {
    sessions: Arc<Sessions>,
    http: reqwest::Client,
    max_media_bytes: usize,
    typing_ms_per_char: u64,
    typing_max_ms: u64,
}

pub struct MessagesConfig {
    pub max_media_bytes: usize,
    pub typing_ms_per_char: u64,
    pub typing_max_ms: u64,
    pub fetch_timeout: Duration,
}

impl Messages {
    pub fn new(sessions: Arc<Sessions>, config: MessagesConfig) -> anyhow::Result<Self> {
        // Redirects may only lead to http(s) (reqwest's default), at most 3 of them.
        let http = reqwest::Client::builder()
            .timeout(config.fetch_timeout)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()?;
        Ok(Self {
            sessions,
            http,
            max_media_bytes: config.max_media_bytes,
            typing_ms_per_char: config.typing_ms_per_char,
            typing_max_ms: config.typing_max_ms,
        })
    }

    /// The request must name the caller's own session.
    pub fn check_session(user: &UserRow, session: &str) -> ApiResult<()> {
        let own = user.effective_session_name();
        if session.eq_ignore_ascii_case(own) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!("You can only use your session: {own}")))
        }
    }

    pub async fn send(
        &self,
        user: &UserRow,
        to: Recipient,
        content: OutboundContent,
        quoted_message_id: Option<String>,
    ) -> ApiResult<Sent> {
        let client = self.sessions.client(user.id)?;
        let chars = match &content {
            OutboundContent::Text(t) => t.chars().count(),
            OutboundContent::Media { caption, .. } => caption.as_deref().map_or(0, |c| c.chars().count()),
            OutboundContent::Location { .. } => 0,
        } as u64;
        let typing = (self.typing_ms_per_char * chars).min(self.typing_max_ms);
        if typing > 0 {
            // Looking human is best effort: a failed indicator never blocks the send.
            let _ = client.typing(to.jid(), true).await;
            tokio::time::sleep(Duration::from_millis(typing)).await;
            let _ = client.typing(to.jid(), false).await;
        }
        let message = OutboundMessage { to: to.jid().to_owned(), content, quoted_message_id };
        let id = client.send(message).await.map_err(crate::sessions::SessionError::from)?;
        tracing::info!(user_id = user.id, "message sent");
        Ok(Sent {
            id: id.clone(),
            to: to.jid().to_owned(),
            status: "sent",
            key: MessageKey { remote_jid: to.jid().to_owned(), from_me: true, id },
        })
    }

    /// The bytes of a media field: `<kind>_base64` (plain or a data URL) or `<kind>_url`.
    pub async fn media_bytes(
        &self,
        kind: &MediaKind,
        url: Option<&str>,
        base64: Option<&str>,
    ) -> ApiResult<(Vec<u8>, Option<String>)> {
        let name = kind.as_str();
        match (url, base64) {
            (Some(_), Some(_)) => {
                Err(ApiError::BadRequest(format!("Give either '{name}_url' or '{name}_base64', not both")))
            }
            (None, None) => Err(ApiError::BadRequest(format!("Missing field '{name}_url' or '{name}_base64'"))),
            (None, Some(data)) => {
                let (mimetype, payload) = match data.strip_prefix("data:").and_then(|d| d.split_once(";base64,")) {
                    Some((mime, payload)) => (Some(mime.to_owned()), payload),
                    None => (None, data),
                };
                let bytes = STANDARD
                    .decode(payload.trim())
                    .map_err(|_| ApiError::BadRequest(format!("Invalid base64 field '{name}_base64' on json")))?;
                self.check_size(bytes.len())?;
                Ok((bytes, mimetype))
            }
            (Some(url), None) => self.fetch(name, url).await,
        }
    }

    fn check_size(&self, size: usize) -> ApiResult<()> {
        if size > self.max_media_bytes {
            return Err(ApiError::PayloadTooLarge(format!("Media is larger than {} bytes", self.max_media_bytes)));
        }
        Ok(())
    }

    async fn fetch(&self, name: &str, url: &str) -> ApiResult<(Vec<u8>, Option<String>)> {
        // http(s) only: never file:// or a local path.
        CallbackUrl::parse(url).map_err(|_| ApiError::BadRequest(format!("Invalid url field '{name}_url' on json")))?;
        let failed = |why: String| ApiError::BadRequest(format!("Could not fetch '{name}_url': {why}"));
        let mut resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| failed(if e.is_timeout() { "timed out".into() } else { "unreachable".into() }))?;
        if !resp.status().is_success() {
            return Err(failed(format!("HTTP {}", resp.status())));
        }
        if let Some(len) = resp.content_length() {
            self.check_size(len as usize)?;
        }
        let mimetype = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|_| failed("the download broke off".into()))? {
            bytes.extend_from_slice(&chunk);
            self.check_size(bytes.len())?;
        }
        Ok((bytes, mimetype))
    }

    /// Profile picture and about text of a registered number.
    pub async fn profile(&self, user: &UserRow, target: Recipient) -> ApiResult<crate::engine::Profile> {
        let client = self.sessions.client(user.id)?;
        let registered = client
            .check_numbers(&[target.jid().to_owned()])
            .await
            .map_err(crate::sessions::SessionError::from)?
            .first()
            .is_some_and(|(_, on)| *on);
        if !registered {
            return Err(ApiError::BadRequest("Target is not registered".into()));
        }
        Ok(client.profile(target.jid()).await.map_err(crate::sessions::SessionError::from)?)
    }

    /// Metadata of a group the caller's account is in.
    pub async fn group(&self, user: &UserRow, group: Recipient) -> ApiResult<crate::engine::GroupInfo> {
        let client = self.sessions.client(user.id)?;
        Ok(client.group(group.jid()).await.map_err(crate::sessions::SessionError::from)?)
    }
}

/// The mimetype to send when neither the client nor the download said one.
pub fn default_mimetype(kind: &MediaKind) -> &'static str {
    match kind {
        MediaKind::Image => "image/jpeg",
        MediaKind::Video => "video/mp4",
        MediaKind::Document => "application/octet-stream",
        MediaKind::Audio => "audio/ogg; codecs=opus",
        MediaKind::Sticker => "image/webp",
    }
}
