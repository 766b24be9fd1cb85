//! Builds the tracing subscriber once. `RUST_LOG` picks the level; spans name user and
//! session ids, never passwords, tokens or message text.

use tracing_subscriber::{fmt, EnvFilter};

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    let _ = fmt().with_env_filter(filter).with_target(true).try_init();
}
