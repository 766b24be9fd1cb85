//! Who is calling: HTTP Basic, `Bearer` API tokens and the browser's session cookie,
//! resolved by one [`Authenticator`] and exposed to handlers as the [`AuthUser`] and
//! [`AdminUser`] extractors.
//!
//! A full argon2 verify costs tens of milliseconds, so successful Basic credentials are
//! remembered under a keyed hash of (user id, stored hash, presented password): a
//! password change alters the stored hash and so misses the cache by itself, and a
//! deleted user is never found. Failed attempts are throttled per client IP + username,
//! so an attacker locks out only itself.

use crate::{
    clock::unix_now,
    config::Config,
    db::{self, users::UserRow},
    error::{ApiError, ApiResult},
    AppState,
};
use argon2::{
    password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{header, request::Parts, HeaderMap},
};
use base64::{engine::general_purpose::STANDARD, engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota, RateLimiter};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::{Digest, Sha256};
use sqlx::SqlitePool;
use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    time::{Duration, Instant},
};

pub const SESSION_COOKIE: &str = "wa_session";
const TOKEN_PREFIX: &str = "wag_";

type FailureKey = (Option<IpAddr>, String);

pub struct Authenticator {
    pool: SqlitePool,
    cache_key: [u8; 32],
    /// `None` when `AUTH_CACHE_SECONDS=0`: every request pays for argon2.
    verified: Option<moka::sync::Cache<[u8; 32], ()>>,
    failures: DefaultKeyedRateLimiter<FailureKey>,
    blocked: moka::sync::Cache<FailureKey, Instant>,
    /// Verified against when the username is unknown, so timing does not reveal users.
    dummy_hash: String,
    login_ttl: Duration,
    secure_cookie: bool,
}

/// Hashes a password with argon2id off the async runtime.
pub async fn hash_password(password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))
    })
    .await?
}

async fn verify_password(hash: String, password: String) -> bool {
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .map(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// SHA-256 of a high-entropy secret (API token, cookie): enough, as these are never guessed.
pub fn token_hash(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

fn random_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new API token: the secret to show once, its hash to store, a prefix to list.
pub fn new_api_token() -> (String, [u8; 32], String) {
    let secret = random_secret(TOKEN_PREFIX);
    let hash = token_hash(&secret);
    let prefix = secret.chars().take(TOKEN_PREFIX.len() + 6).collect();
    (secret, hash, prefix)
}

enum Presented {
    Basic { username: String, password: String },
    Bearer(String),
    Cookie(String),
    Nothing,
}

fn presented(headers: &HeaderMap) -> ApiResult<Presented> {
    if let Some(value) = headers.get(header::AUTHORIZATION) {
        let value = value.to_str().map_err(|_| ApiError::Unauthorized)?;
        let (scheme, rest) = value.split_once(' ').ok_or(ApiError::Unauthorized)?;
        let rest = rest.trim();
        return if scheme.eq_ignore_ascii_case("basic") {
            let decoded = STANDARD.decode(rest).map_err(|_| ApiError::Unauthorized)?;
            let text = String::from_utf8(decoded).map_err(|_| ApiError::Unauthorized)?;
            // The password may itself contain ':'; the username may not.
            let (username, password) = text.split_once(':').ok_or(ApiError::Unauthorized)?;
            Ok(Presented::Basic { username: username.to_owned(), password: password.to_owned() })
        } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
            Ok(Presented::Bearer(rest.to_owned()))
        } else {
            Err(ApiError::Unauthorized)
        };
    }
    Ok(session_cookie(headers).map_or(Presented::Nothing, Presented::Cookie))
}

fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

impl Authenticator {
    pub async fn new(pool: SqlitePool, config: &Config) -> anyhow::Result<Self> {
        let mut cache_key = [0u8; 32];
        rand::thread_rng().fill_bytes(&mut cache_key);
        let per_minute = NonZeroU32::new(config.auth_failures_per_minute.max(1)).expect("max(1)");
        Ok(Self {
            pool,
            cache_key,
            verified: (config.auth_cache_seconds > 0).then(|| {
                moka::sync::Cache::builder()
                    .max_capacity(10_000)
                    .time_to_live(Duration::from_secs(config.auth_cache_seconds))
                    .build()
            }),
            failures: RateLimiter::keyed(Quota::per_minute(per_minute)),
            blocked: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(Duration::from_secs(3600)).build(),
            dummy_hash: hash_password("not a real password").await?,
            login_ttl: Duration::from_secs(config.login_session_hours.max(1) * 3600),
            secure_cookie: config.is_https(),
        })
    }

    fn cache_key_for(&self, user: &UserRow, password: &str) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.cache_key).expect("any key size");
        mac.update(&user.id.to_le_bytes());
        mac.update(user.password_hash.as_bytes());
        mac.update(&[0]);
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    /// Checks a username/password pair, throttling repeated failures from one client.
    pub async fn check_password(&self, username: &str, password: &str, ip: Option<IpAddr>) -> ApiResult<UserRow> {
        let key: FailureKey = (ip, username.to_lowercase());
        if let Some(until) = self.blocked.get(&key) {
            let now = Instant::now();
            if until > now {
                return Err(too_many(until - now));
            }
        }
        let user = db::users::by_username(&self.pool, username).await?;
        let ok = match &user {
            Some(user) => {
                let cache_key = self.cache_key_for(user, password);
                let cached = self.verified.as_ref().is_some_and(|c| c.contains_key(&cache_key));
                if cached {
                    true
                } else if verify_password(user.password_hash.clone(), password.to_owned()).await {
                    if let Some(cache) = &self.verified {
                        cache.insert(cache_key, ());
                    }
                    true
                } else {
                    false
                }
            }
            None => {
                verify_password(self.dummy_hash.clone(), password.to_owned()).await;
                false
            }
        };
        match user {
            Some(user) if ok => Ok(user),
            _ => {
                if let Err(not_until) = self.failures.check_key(&key) {
                    let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
                    self.blocked.insert(key, Instant::now() + wait);
                    tracing::warn!(ip = ?ip, "repeated failed logins; slowing this client down");
                    return Err(too_many(wait));
                }
                Err(ApiError::InvalidCredentials)
            }
        }
    }

    /// Resolves the caller from `Authorization` (Basic or Bearer) or the session cookie.
    pub async fn authenticate(&self, headers: &HeaderMap, ip: Option<IpAddr>) -> ApiResult<UserRow> {
        let user_id = match presented(headers)? {
            Presented::Basic { username, password } => {
                return self.check_password(&username, &password, ip).await;
            }
            Presented::Bearer(secret) => db::tokens::owner(&self.pool, &token_hash(&secret)).await?,
            Presented::Cookie(secret) => {
                db::browser_sessions::owner(&self.pool, &token_hash(&secret), unix_now()).await?
            }
            Presented::Nothing => None,
        };
        let user_id = user_id.ok_or(ApiError::Unauthorized)?;
        db::users::by_id(&self.pool, user_id).await?.ok_or(ApiError::Unauthorized)
    }

    /// Logs a browser in: returns the user and the `Set-Cookie` value.
    pub async fn login(&self, username: &str, password: &str, ip: Option<IpAddr>) -> ApiResult<(UserRow, String)> {
        let user = self.check_password(username, password, ip).await?;
        let secret = random_secret("");
        let expires = unix_now() + self.login_ttl.as_secs() as i64;
        db::browser_sessions::insert(&self.pool, &token_hash(&secret), user.id, expires).await?;
        let cookie = cookie::Cookie::build((SESSION_COOKIE, secret))
            .http_only(true)
            .same_site(cookie::SameSite::Strict)
            .secure(self.secure_cookie)
            .path("/")
            .max_age(cookie::time::Duration::seconds(self.login_ttl.as_secs() as i64))
            .build();
        Ok((user, cookie.to_string()))
    }

    /// Ends the browser login named by the request's cookie; returns a clearing cookie.
    pub async fn logout(&self, headers: &HeaderMap) -> ApiResult<String> {
        if let Some(secret) = session_cookie(headers) {
            db::browser_sessions::delete(&self.pool, &token_hash(&secret)).await?;
        }
        let cookie = cookie::Cookie::build((SESSION_COOKIE, ""))
            .http_only(true)
            .same_site(cookie::SameSite::Strict)
            .secure(self.secure_cookie)
            .path("/")
            .max_age(cookie::time::Duration::ZERO)
            .build();
        Ok(cookie.to_string())
    }

    /// Drops throttling state of keys that are idle again; run periodically.
    pub fn forget_idle_failures(&self) {
        self.failures.retain_recent();
    }
}

fn too_many(wait: Duration) -> ApiError {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    ApiError::TooManyRequests {
        message: format!("Too many failed login attempts; try again in {secs} s"),
        retry_after_secs: secs.max(1),
    }
}

/// Leaves `WWW-Authenticate` out of 401s to the browser UI's own requests, which would
/// otherwise open the browser's Basic-auth dialog and stall the request.
pub async fn quiet_ui_challenge(
    request_headers: HeaderMap,
    mut response: axum::response::Response,
) -> axum::response::Response {
    let (name, value) = app::client::UI_HEADER;
    let from_ui = request_headers.get(name).is_some_and(|v| v.as_bytes() == value.as_bytes());
    if from_ui && response.status() == axum::http::StatusCode::UNAUTHORIZED {
        response.headers_mut().remove(header::WWW_AUTHENTICATE);
    }
    response
}

fn client_ip(parts: &Parts) -> Option<IpAddr> {
    parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip())
}

/// Any signed-in user (admin included).
pub struct AuthUser(pub UserRow);

/// A signed-in admin; others get 403 "Admin access required".
pub struct AdminUser(pub UserRow);

/// The client's IP, for handlers that throttle (login).
pub struct ClientIp(pub Option<IpAddr>);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        state.auth.authenticate(&parts.headers, client_ip(parts)).await.map(Self)
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(user) = AuthUser::from_request_parts(parts, state).await?;
        if user.is_admin {
            Ok(Self(user))
        } else {
            Err(ApiError::admin_required())
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_ip(parts)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn with_auth(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        h
    }

    #[test]
    fn basic_keeps_colons_in_passwords() {
        let h = with_auth(&format!("Basic {}", STANDARD.encode("bob:pa:ss:word")));
        match presented(&h).unwrap() {
            Presented::Basic { username, password } => {
                assert_eq!(username, "bob");
                assert_eq!(password, "pa:ss:word");
            }
            _ => panic!("expected basic"),
        }
    }

    #[test]
    fn malformed_authorization_is_unauthorized() {
        for bad in ["Basic !!!", "Basic", "Digest abc", "Bearer ", &format!("Basic {}", STANDARD.encode("nocolon"))] {
            assert!(matches!(presented(&with_auth(bad)), Err(ApiError::Unauthorized)), "{bad}");
        }
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(header::COOKIE, HeaderValue::from_static("a=1; wa_session=xyz; b=2"));
        assert!(matches!(presented(&h).unwrap(), Presented::Cookie(v) if v == "xyz"));
    }

    #[test]
    fn api_tokens_are_random_and_prefixed() {
        let (a, hash_a, prefix) = new_api_token();
        let (b, _, _) = new_api_token();
        assert_ne!(a, b);
        assert!(a.starts_with("wag_") && a.len() > 40);
        assert!(a.starts_with(&prefix));
        assert_eq!(hash_a, token_hash(&a));
    }
}
