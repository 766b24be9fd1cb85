//! Typed settings from the environment (and an optional `.env`), with flags as overrides.
//!
//! Secrets are wrapped in [`Secret`] so that a `{:?}` of the config never prints them.

use std::{fmt, net::IpAddr, path::PathBuf, str::FromStr};

/// Which WhatsApp engine runs the sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EngineKind {
    /// The real WhatsApp client (needs internet access).
    Whatsapp,
    /// An in-process stand-in for tests, demos and benchmarks.
    Simulated,
}

/// A WhatsApp Web version, `primary.secondary.tertiary`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WaVersion(pub u32, pub u32, pub u32);

fn parse_wa_version(s: &str) -> Result<WaVersion, String> {
    let parts: Vec<u32> = s.trim().split('.').map(str::parse).collect::<Result<_, _>>().map_err(|_| bad_version(s))?;
    match parts[..] {
        [a, b, c] => Ok(WaVersion(a, b, c)),
        _ => Err(bad_version(s)),
    }
}

fn bad_version(s: &str) -> String {
    format!("'{s}' is not a WhatsApp Web version like 2.3000.1023456789")
}

/// A value that must never reach a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl FromStr for Secret {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self(s.to_owned()))
    }
}

#[derive(Debug, Clone, clap::Args)]
pub struct Config {
    /// TCP port of the HTTP server.
    #[arg(long, env = "PORT", default_value_t = 5001)]
    pub port: u16,
    /// Address to listen on.
    #[arg(long, env = "HOST", default_value = "0.0.0.0")]
    pub host: IpAddr,
    /// SQLite database; the file and its folder are created on first start.
    #[arg(long, env = "DATABASE_URL", default_value = "sqlite://data/wa-gateway.db")]
    pub database_url: String,
    /// Where session keys and media live.
    #[arg(long, env = "DATA_DIR", default_value = "data")]
    pub data_dir: PathBuf,
    /// WhatsApp engine.
    #[arg(long, env = "WA_ENGINE", value_enum, default_value_t = EngineKind::Whatsapp)]
    pub wa_engine: EngineKind,
    /// Username of the admin created on first start.
    #[arg(long, env = "ADMIN_USER", default_value = "admin")]
    pub admin_user: String,
    /// Password of the admin created on first start (default `admin`, with a warning).
    #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<Secret>,
    /// Folder with the built site (wasm, JS, CSS, public assets).
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: PathBuf,
    /// Public base URL of this gateway, used in links it hands out.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Shortest password accepted for users.
    #[arg(long, env = "MIN_PASSWORD_LENGTH", default_value_t = 6)]
    pub min_password_length: usize,
    /// Largest request body accepted by the JSON API, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Lifetime of a browser login, in hours.
    #[arg(long, env = "LOGIN_SESSION_HOURS", default_value_t = 24 * 7)]
    pub login_session_hours: u64,
    /// How long a verified password is remembered, in seconds (0: verify every request).
    #[arg(long, env = "AUTH_CACHE_SECONDS", default_value_t = 600)]
    pub auth_cache_seconds: u64,
    /// How long `start-session` waits for a QR code or connection before answering.
    #[arg(long, env = "SESSION_START_WAIT_MS", default_value_t = 8000)]
    pub session_start_wait_ms: u64,
    /// Largest incoming media file stored, in bytes.
    #[arg(long, env = "MEDIA_MAX_BYTES", default_value_t = 64 * 1024 * 1024)]
    pub media_max_bytes: usize,
    /// Real engine: WebSocket endpoint to dial instead of WhatsApp's (a relay or proxy).
    #[arg(long, env = "WA_SOCKET_URL")]
    pub wa_socket_url: Option<String>,
    /// Real engine: pin the WhatsApp Web version (`2.3000.1023456789`) instead of
    /// looking up the current one before each connect (at most once a day).
    #[arg(long, env = "WA_VERSION", value_parser = parse_wa_version)]
    pub wa_version: Option<WaVersion>,
    /// Real engine: the name the phone shows under "Linked devices".
    #[arg(long, env = "WA_DEVICE_NAME", default_value = "WA Gateway")]
    pub wa_device_name: String,
    /// Simulated engine: how long each QR code is shown.
    #[arg(long, env = "SIM_QR_PERIOD_MS", default_value_t = 20_000)]
    pub sim_qr_period_ms: u64,
    /// Simulated engine: how many QR codes before pairing gives up.
    #[arg(long, env = "SIM_QR_COUNT", default_value_t = 6)]
    pub sim_qr_count: u32,
    /// Simulated engine: delay before a dropped connection comes back.
    #[arg(long, env = "SIM_RECONNECT_MS", default_value_t = 1000)]
    pub sim_reconnect_ms: u64,
    /// Typing indicator before a send: milliseconds per character of text or caption…
    #[arg(long, env = "TYPING_MS_PER_CHAR", default_value_t = 100)]
    pub typing_ms_per_char: u64,
    /// …and at most this long (0 turns the indicator off).
    #[arg(long, env = "TYPING_MAX_MS", default_value_t = 5000)]
    pub typing_max_ms: u64,
    /// Delays between webhook attempts (units ms, s, m, h); after the last, an event fails.
    #[arg(long, env = "WEBHOOK_RETRY_SCHEDULE", default_value = "5s,5m,30m,2h,5h,10h,10h")]
    pub webhook_retry_schedule: String,
    /// Timeout of one webhook attempt.
    #[arg(long, env = "WEBHOOK_TIMEOUT_MS", default_value_t = 15_000)]
    pub webhook_timeout_ms: u64,
    /// Webhook attempts in flight at once, in all.
    #[arg(long, env = "WEBHOOK_CONCURRENCY", default_value_t = 256)]
    pub webhook_concurrency: usize,
    /// Webhook attempts in flight at once for one user.
    #[arg(long, env = "WEBHOOK_PER_USER_CONCURRENCY", default_value_t = 16)]
    pub webhook_per_user_concurrency: usize,
    /// After a secret rotation, how long the previous secret still signs, in seconds.
    #[arg(long, env = "WEBHOOK_SECRET_OVERLAP_SECONDS", default_value_t = 24 * 3600)]
    pub webhook_secret_overlap_seconds: u64,
    /// Finished deliveries (and their attempt log) are kept this long, in hours.
    #[arg(long, env = "WEBHOOK_RETENTION_HOURS", default_value_t = 7 * 24)]
    pub webhook_retention_hours: u64,
    /// Lifetime of the signed media links in webhook payloads, in seconds.
    #[arg(long, env = "MEDIA_LINK_TTL_SECONDS", default_value_t = 24 * 3600)]
    pub media_link_ttl_seconds: u64,
    /// Failed logins allowed per client IP and username per minute before slowing down.
    #[arg(long, env = "AUTH_FAILURES_PER_MINUTE", default_value_t = 10)]
    pub auth_failures_per_minute: u32,
}

impl Config {
    /// A config for tests and benchmarks: everything under `dir`, loopback, port 0.
    pub fn for_tests(dir: &std::path::Path) -> Self {
        Self {
            port: 0,
            host: IpAddr::from([127, 0, 0, 1]),
            database_url: format!("sqlite://{}", dir.join("test.db").display()),
            data_dir: dir.join("data"),
            wa_engine: EngineKind::Simulated,
            admin_user: "admin".into(),
            admin_password: None,
            site_root: PathBuf::from("target/site"),
            public_url: None,
            min_password_length: 6,
            max_body_bytes: 64 * 1024,
            login_session_hours: 24,
            auth_cache_seconds: 600,
            session_start_wait_ms: 3000,
            media_max_bytes: 1024 * 1024,
            wa_socket_url: None,
            wa_version: None,
            wa_device_name: "WA Gateway".into(),
            sim_qr_period_ms: 300,
            sim_qr_count: 6,
            sim_reconnect_ms: 200,
            auth_failures_per_minute: 10,
            typing_ms_per_char: 0,
            typing_max_ms: 0,
            webhook_retry_schedule: "50ms,100ms,200ms".into(),
            webhook_timeout_ms: 2000,
            webhook_concurrency: 64,
            webhook_per_user_concurrency: 8,
            webhook_secret_overlap_seconds: 3600,
            webhook_retention_hours: 24,
            media_link_ttl_seconds: 3600,
        }
    }

    /// The real engine with nowhere to go (tests, benchmarks): it dials a loopback port
    /// nobody listens on, and the pinned version means no lookup over HTTP, so nothing
    /// ever reaches WhatsApp.
    pub fn use_offline_real_engine(&mut self) {
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a loopback port");
        self.wa_engine = EngineKind::Whatsapp;
        self.wa_socket_url = Some(format!("ws://127.0.0.1:{closed}/ws/chat"));
        self.wa_version = Some(WaVersion(2, 3000, 1_023_456_789));
    }

    /// The base URL of links this gateway hands out (media links in webhooks).
    pub fn public_base(&self, bound: std::net::SocketAddr) -> String {
        self.public_url.clone().unwrap_or_else(|| {
            let host = if bound.ip().is_unspecified() { "localhost".to_owned() } else { bound.ip().to_string() };
            format!("http://{host}:{}", bound.port())
        })
    }

    /// Whether cookies may be marked `Secure` (only when served over https).
    pub fn is_https(&self) -> bool {
        self.public_url.as_deref().is_some_and(|u| u.starts_with("https://"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whatsapp_versions_parse_or_say_why_not() {
        assert_eq!(parse_wa_version(" 2.3000.1023456789 "), Ok(WaVersion(2, 3000, 1_023_456_789)));
        for bad in ["2.3000", "2.3000.x", "", "1.2.3.4"] {
            assert!(parse_wa_version(bad).unwrap_err().contains("like 2.3000.1023456789"), "{bad}");
        }
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(***)");
        let mut c = Config::for_tests(std::path::Path::new("/tmp"));
        c.admin_password = Some(s);
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
