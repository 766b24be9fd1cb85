//! Durable, signed webhooks. Sessions hand events to the `queue`; the `writer` commits
//! them to the `outbox` before any attempt and passes them on in memory; the `worker`
//! signs (`signing`) and POSTs them to `{callback_url}/message` or `/session`, claims
//! retries due in the outbox, and sends every attempt's outcome back to the writer.
//! This module's service holds the per-user settings: signing secrets, outbound auth,
//! media links.

pub mod outbox;
pub mod queue;
pub mod signing;
pub mod worker;
pub mod writer;

use crate::{
    clock::unix_now,
    error::{ApiError, ApiResult},
};
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use sqlx::SqlitePool;
use std::{
    collections::{HashMap, HashSet},
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc, Mutex,
    },
    time::Duration,
};
use utoipa::ToSchema;

/// Parses `WEBHOOK_RETRY_SCHEDULE`, e.g. `5s,5m,30m,2h,5h,10h,10h` or `100ms,200ms`.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| humantime::parse_duration(s).map_err(|e| format!("WEBHOOK_RETRY_SCHEDULE: {s:?}: {e}")))
        .collect()
}

/// Outbound authentication the receiver asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundAuth {
    None,
    Basic { username: String, password: String },
    Bearer { token: String },
}

/// An endpoint parsed once per user (the HTTP client would parse the text per request).
#[derive(Clone)]
pub struct Endpoint {
    pub url: reqwest::Url,
    pub text: String,
}

impl Endpoint {
    fn parse(callback: &str, kind: &str) -> Option<Self> {
        let text = worker::endpoint(callback, kind);
        Some(Self { url: reqwest::Url::parse(&text).ok()?, text })
    }
}

/// A user's callback URL as the worker needs it.
#[derive(Clone)]
pub enum Callback {
    Unset,
    /// Stored, but not a URL the HTTP client accepts.
    Invalid,
    Set(Box<Endpoints>),
}

/// `{callback_url}/message` and `/session`.
#[derive(Clone)]
pub struct Endpoints {
    pub message: Endpoint,
    pub session: Endpoint,
}

impl Callback {
    fn parse(callback: Option<&str>) -> Self {
        let Some(c) = callback else { return Self::Unset };
        match (Endpoint::parse(c, "message"), Endpoint::parse(c, "session")) {
            (Some(message), Some(session)) => Self::Set(Box::new(Endpoints { message, session })),
            _ => Self::Invalid,
        }
    }
}

/// What a user has set for deliveries, as the worker needs it.
#[derive(Clone)]
pub struct Target {
    pub callback: Callback,
    key: signing::Key,
    /// The previous secret's key and until when (unix s) it still signs.
    previous: Option<(signing::Key, i64)>,
    pub gone: bool,
    pub auth: OutboundAuth,
}

impl Target {
    /// The keys that sign now: the current one, and the previous one during its overlap.
    pub fn keys(&self) -> impl Iterator<Item = &signing::Key> {
        let now = unix_now();
        std::iter::once(&self.key).chain(self.previous.iter().filter(move |(_, until)| *until > now).map(|(k, _)| k))
    }
}

/// Users' delivery settings as last read, so the worker does not read them per event.
/// Whatever changes a user's callback URL, secrets, auth or gone flag calls `forget`.
#[derive(Default)]
pub struct Targets {
    cache: Mutex<Cache>,
    /// Bumped by every `forget`: a read that began before one is not cached.
    epoch: AtomicU64,
}

#[derive(Default)]
struct Cache {
    entries: HashMap<i64, Arc<Target>>,
    /// Users whose endpoint answered 410 Gone, marked before that is committed, so no
    /// attempt in between still goes there. Cleared by `forget` (a new URL, a resend).
    gone: HashSet<i64>,
}

impl Targets {
    pub fn forget(&self, user_id: i64) {
        let mut cache = self.cache.lock().expect("targets");
        self.epoch.fetch_add(1, Ordering::SeqCst);
        cache.entries.remove(&user_id);
        cache.gone.remove(&user_id);
    }

    pub fn mark_gone(&self, user_id: i64) {
        self.cache.lock().expect("targets").gone.insert(user_id);
    }

    fn get(&self, user_id: i64) -> Option<Arc<Target>> {
        let cache = self.cache.lock().expect("targets");
        cache.entries.get(&user_id).map(|t| Self::overlay(&cache, user_id, t.clone()))
    }

    fn overlay(cache: &Cache, user_id: i64, target: Arc<Target>) -> Arc<Target> {
        if !target.gone && cache.gone.contains(&user_id) {
            Arc::new(Target { gone: true, ..(*target).clone() })
        } else {
            target
        }
    }

    fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    fn keep(&self, user_id: i64, target: Arc<Target>, read_at: u64) -> Arc<Target> {
        let mut cache = self.cache.lock().expect("targets");
        if self.epoch() == read_at {
            cache.entries.insert(user_id, target.clone());
        }
        Self::overlay(&cache, user_id, target)
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SecretView {
    pub secret: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuthView {
    /// `none`, `basic` or `bearer`.
    pub kind: String,
    pub username: Option<String>,
    /// Whether a password/token is stored (it is never returned).
    pub has_secret: bool,
}

/// `PUT /dashboard/webhook-auth`: a blank or missing password/token keeps the stored one.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthRequest {
    pub kind: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    #[serde(default)]
    pub token: Option<String>,
}

pub struct Webhooks {
    pool: SqlitePool,
    targets: Arc<Targets>,
    overlap: Duration,
    media_key: [u8; 32],
    media_ttl: Duration,
    public_url: String,
}

impl Webhooks {
    pub async fn new(
        pool: SqlitePool,
        targets: Arc<Targets>,
        overlap: Duration,
        media_ttl: Duration,
        public_url: String,
    ) -> anyhow::Result<Self> {
        let media_key = server_key(&pool, "media-links").await?;
        let public_url = public_url.trim_end_matches('/').to_owned();
        Ok(Self { pool, targets, overlap, media_key, media_ttl, public_url })
    }

    /// The user's current secret, created on first use.
    pub async fn secret(&self, user_id: i64) -> ApiResult<String> {
        let fresh = signing::new_secret();
        let secret: Option<String> = sqlx::query_scalar(
            "UPDATE users SET webhook_secret = COALESCE(webhook_secret, ?) WHERE id = ? RETURNING webhook_secret",
        )
        .bind(fresh)
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        secret.ok_or_else(|| ApiError::NotFound("User not found".into()))
    }

    /// Replaces the secret; the old one keeps signing during the overlap.
    pub async fn rotate_secret(&self, user_id: i64) -> ApiResult<String> {
        let current = self.secret(user_id).await?;
        let fresh = signing::new_secret();
        sqlx::query(
            "UPDATE users SET webhook_secret = ?, webhook_secret_previous = ?, webhook_secret_previous_until = ? WHERE id = ?",
        )
        .bind(&fresh)
        .bind(&current)
        .bind(unix_now() + self.overlap.as_secs() as i64)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        self.targets.forget(user_id);
        tracing::info!(user_id, "webhook secret rotated");
        Ok(fresh)
    }

    pub async fn auth(&self, user_id: i64) -> ApiResult<AuthView> {
        let row: Option<(String, Option<String>, bool)> = sqlx::query_as(
            "SELECT webhook_auth_kind, webhook_auth_username, webhook_auth_secret IS NOT NULL FROM users WHERE id = ?",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        let (kind, username, has_secret) = row.ok_or_else(|| ApiError::NotFound("User not found".into()))?;
        Ok(AuthView { kind, username, has_secret })
    }

    pub async fn set_auth(&self, user_id: i64, req: AuthRequest) -> ApiResult<AuthView> {
        let blank = |v: &Option<String>| v.as_deref().is_none_or(|s| s.is_empty());
        let current = self.auth(user_id).await?;
        let (username, secret) = match req.kind.as_str() {
            "none" => (None, None),
            "basic" => {
                let username = req.username.filter(|u| !u.is_empty() && !u.contains(':')).ok_or_else(|| {
                    ApiError::BadRequest(
                        "Invalid username field 'username' on json: required for basic, without ':'".into(),
                    )
                })?;
                if blank(&req.password) && !(current.kind == "basic" && current.has_secret) {
                    return Err(ApiError::BadRequest("Invalid password field 'password' on json: required".into()));
                }
                (Some(username), req.password.filter(|p| !p.is_empty()))
            }
            "bearer" => {
                if blank(&req.token) && !(current.kind == "bearer" && current.has_secret) {
                    return Err(ApiError::BadRequest("Invalid token field 'token' on json: required".into()));
                }
                (None, req.token.filter(|t| !t.is_empty()))
            }
            _ => {
                return Err(ApiError::BadRequest("Invalid kind field 'kind' on json: use none, basic or bearer".into()))
            }
        };
        // A blank secret keeps the stored one (only when the kind stays the same).
        sqlx::query(
            "UPDATE users SET webhook_auth_kind = ?1, webhook_auth_username = ?2, \
             webhook_auth_secret = CASE WHEN ?1 = 'none' THEN NULL ELSE COALESCE(?3, webhook_auth_secret) END WHERE id = ?4",
        )
        .bind(&req.kind)
        .bind(username)
        .bind(secret)
        .bind(user_id)
        .execute(&self.pool)
        .await?;
        self.targets.forget(user_id);
        self.auth(user_id).await
    }

    /// Makes one of the user's events due now with a fresh schedule. False if not theirs.
    pub async fn resend(&self, user_id: i64, id: i64) -> ApiResult<bool> {
        let done = outbox::resend(&self.pool, user_id, id).await?;
        self.targets.forget(user_id);
        Ok(done)
    }

    /// Resends every failed event of the user; returns how many.
    pub async fn resend_failed(&self, user_id: i64) -> ApiResult<u64> {
        let done = outbox::resend_failed(&self.pool, user_id).await?;
        self.targets.forget(user_id);
        Ok(done)
    }

    /// Everything the worker needs for a user's deliveries (None: no such user).
    pub async fn target(&self, user_id: i64) -> anyhow::Result<Option<Arc<Target>>> {
        if let Some(target) = self.targets.get(user_id) {
            return Ok(Some(target));
        }
        let read_at = self.targets.epoch();
        type Row =
            (Option<String>, Option<String>, Option<String>, Option<i64>, bool, String, Option<String>, Option<String>);
        let row: Option<Row> = sqlx::query_as(
            "SELECT callback_url, webhook_secret, webhook_secret_previous, webhook_secret_previous_until, callback_gone, \
             webhook_auth_kind, webhook_auth_username, webhook_auth_secret FROM users WHERE id = ?",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        let Some((callback_url, secret, previous, previous_until, gone, kind, username, auth_secret)) = row else {
            return Ok(None);
        };
        let secret = match secret {
            Some(s) => s,
            None => self.secret(user_id).await.map_err(|e| anyhow::anyhow!("{e}"))?,
        };
        let key = signing::Key::parse(&secret).ok_or_else(|| anyhow::anyhow!("user {user_id}: bad webhook secret"))?;
        let previous = match (previous.as_deref().and_then(signing::Key::parse), previous_until) {
            (Some(k), Some(until)) => Some((k, until)),
            _ => None,
        };
        let auth = match (kind.as_str(), username, auth_secret) {
            ("basic", Some(username), Some(password)) => OutboundAuth::Basic { username, password },
            ("bearer", _, Some(token)) => OutboundAuth::Bearer { token },
            _ => OutboundAuth::None,
        };
        let callback = Callback::parse(callback_url.as_deref());
        let target = Arc::new(Target { callback, key, previous, gone, auth });
        Ok(Some(self.targets.keep(user_id, target, read_at)))
    }

    fn media_mac(&self, event_id: i64, expires: i64) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.media_key).expect("any key size");
        mac.update(format!("{event_id}.{expires}").as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// An absolute, signed, expiring link to an event's media file.
    pub fn media_link(&self, event_id: i64) -> String {
        let expires = unix_now() + self.media_ttl.as_secs() as i64;
        format!("{}/media/{event_id}?expires={expires}&sig={}", self.public_url, self.media_mac(event_id, expires))
    }

    /// Checks a media link's signature and expiry.
    pub fn verify_media_link(&self, event_id: i64, expires: i64, sig: &str) -> bool {
        let expected = self.media_mac(event_id, expires);
        let same = expected.len() == sig.len()
            && expected.bytes().zip(sig.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
        same && expires >= unix_now()
    }

    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

/// A random key of the gateway, stored so links stay valid across restarts.
async fn server_key(pool: &SqlitePool, name: &str) -> anyhow::Result<[u8; 32]> {
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    sqlx::query("INSERT INTO server_keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING")
        .bind(name)
        .bind(&fresh[..])
        .execute(pool)
        .await?;
    let stored: Vec<u8> =
        sqlx::query_scalar("SELECT value FROM server_keys WHERE name = ?").bind(name).fetch_one(pool).await?;
    stored.try_into().map_err(|_| anyhow::anyhow!("server key {name} has the wrong length"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_parse_with_units() {
        let s = parse_schedule("5s,5m,30m,2h,5h,10h,10h").unwrap();
        assert_eq!(s[0], Duration::from_secs(5));
        assert_eq!(s[3], Duration::from_secs(7200));
        assert_eq!(parse_schedule("100ms, 200ms").unwrap(), [Duration::from_millis(100), Duration::from_millis(200)]);
        assert!(parse_schedule("5 parsecs").is_err());
    }
}
