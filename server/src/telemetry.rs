//! Builds the tracing subscriber once. `RUST_LOG` picks the level; spans name user and
//! session ids, never passwords, tokens or message text.

use tracing_subscriber::{fmt, EnvFilter};

/// The WhatsApp library logs every failed connect attempt as an error; the session
/// status already reports each attempt, so by default only its warnings show.
pub const DEFAULT_FILTER: &str =
    "info,sqlx=warn,tower_http=warn,wacore=warn,whatsapp_rust=warn,whatsapp_rust::client::lifecycle=off";

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let _ = fmt().with_env_filter(filter).with_target(true).try_init();
}
