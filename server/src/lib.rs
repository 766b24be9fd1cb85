//! WA Gateway server: a multi-user WhatsApp HTTP gateway.
//!
//! - `config`: typed settings from the environment; `telemetry`: logging.
//! - `db`: the SQLite pool, migrations and every query.
//! - `domain`: validated input types; `error`: the API error envelope.
//! - `auth`: Basic/Bearer/cookie authentication and its extractors.
//! - `users`, `tokens`: the services shared by REST and the browser UI.
//! - `engine`: the WhatsApp port and its implementations; `sessions`: the registry
//!   and supervisors; `live`: `/ws` fan-out; `media`, `qr`: files and QR images.
//! - `api`: the REST routers; `web`: Leptos pages and site assets; `metrics`.

pub mod api;
pub mod auth;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod engine;
pub mod error;
pub mod live;
pub mod media;
pub mod messages;
pub mod metrics;
pub mod qr;
pub mod sessions;
pub mod telemetry;
pub mod tokens;
pub mod users;
mod web;
pub mod webhooks;

use anyhow::Context;
use axum::{
    extract::{DefaultBodyLimit, FromRef},
    Router,
};
use config::{Config, EngineKind};
use engine::simulated::{SimConfig, SimulatedEngine};
use leptos::config::LeptosOptions;
use sqlx::SqlitePool;
use std::{future::Future, net::SocketAddr, sync::Arc, time::Duration};
use tokio::net::TcpListener;
use tower_http::{compression::CompressionLayer, trace::TraceLayer};

/// Everything a request handler may need; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub pool: SqlitePool,
    pub config: Arc<Config>,
    pub auth: Arc<auth::Authenticator>,
    pub users: Arc<users::Users>,
    pub tokens: Arc<tokens::Tokens>,
    pub sessions: Arc<sessions::Sessions>,
    pub messages: Arc<messages::Messages>,
    pub webhooks: Arc<webhooks::Webhooks>,
    outbox: webhooks::queue::Outbox,
    pub live: live::Live,
    pub metrics: Arc<metrics::Metrics>,
    /// The simulated engine's controls, when it is the engine.
    pub sim: Option<Arc<SimulatedEngine>>,
    pub leptos: LeptosOptions,
}

impl AppState {
    /// Wakes the webhook worker (after events were made due).
    pub fn webhooks_wake(&self) {
        self.outbox.wake_due();
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// Opens the database and applies migrations (also the `migrate` subcommand).
pub async fn open_database(config: &Config) -> anyhow::Result<SqlitePool> {
    let pool = db::connect(&config.database_url).await?;
    db::migrate(&pool).await?;
    Ok(pool)
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::router(state.sim.is_some(), state.config.media_max_bytes))
        .merge(web::router(&state))
        .method_not_allowed_fallback(|| async { error::ApiError::MethodNotAllowed })
        .layer(axum::middleware::map_response(auth::quiet_ui_challenge))
        .layer(axum::middleware::from_fn_with_state(state.metrics.clone(), metrics::track))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(CompressionLayer::new())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// A gateway bound to its port, ready to run.
pub struct Gateway {
    state: AppState,
    listener: TcpListener,
    worker: Arc<webhooks::worker::Worker>,
    /// Committed events, for the worker.
    fresh: tokio::sync::mpsc::UnboundedReceiver<webhooks::queue::Queued>,
    writer: webhooks::writer::Writer,
}

impl Gateway {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("cannot create DATA_DIR {}", config.data_dir.display()))?;
        let pool = open_database(&config).await?;
        let (engine, sim): (Arc<dyn engine::WaEngine>, _) = match config.wa_engine {
            EngineKind::Simulated => {
                let sim = Arc::new(SimulatedEngine::new(SimConfig {
                    qr_period: Duration::from_millis(config.sim_qr_period_ms.max(1)),
                    qr_count: config.sim_qr_count.max(1),
                    reconnect_delay: Duration::from_millis(config.sim_reconnect_ms),
                }));
                (Arc::new(sim.clone()), Some(sim))
            }
            EngineKind::Whatsapp => {
                let options =
                    engine::whatsapp::WhatsAppOptions::from_config(&config, engine::whatsapp::StoreKind::Sqlite);
                (Arc::new(engine::whatsapp::WhatsAppEngine::new(options)), None)
            }
        };
        let schedule = webhooks::parse_schedule(&config.webhook_retry_schedule).map_err(anyhow::Error::msg)?;
        let live = live::Live::new();
        let metrics = Arc::new(metrics::Metrics::new());
        let (outbox, writer_inbox, worker_inbox) = webhooks::queue::channel();
        let sessions = sessions::Sessions::new(
            engine,
            pool.clone(),
            live.clone(),
            metrics.clone(),
            sessions::SessionsConfig {
                outbox: outbox.clone(),
                data_dir: config.data_dir.clone(),
                start_wait: Duration::from_millis(config.session_start_wait_ms),
                media_max_bytes: config.media_max_bytes,
            },
        );
        let targets = Arc::new(webhooks::Targets::default());
        let users = users::Users::new(pool.clone(), &config, sessions.clone(), targets.clone());
        let messages = Arc::new(messages::Messages::new(
            sessions.clone(),
            messages::MessagesConfig {
                max_media_bytes: config.media_max_bytes,
                typing_ms_per_char: config.typing_ms_per_char,
                typing_max_ms: config.typing_max_ms,
                fetch_timeout: Duration::from_secs(30),
            },
        )?);
        users.ensure_admin(&config).await?;
        users.warn_default_passwords().await?;
        let listener = TcpListener::bind((config.host, config.port))
            .await
            .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
        let addr = listener.local_addr()?;
        let webhooks = Arc::new(
            webhooks::Webhooks::new(
                pool.clone(),
                targets.clone(),
                Duration::from_secs(config.webhook_secret_overlap_seconds),
                Duration::from_secs(config.media_link_ttl_seconds),
                config.public_base(addr),
            )
            .await?,
        );
        let (worker, fresh) = webhooks::worker::Worker::new(
            webhooks.clone(),
            webhooks::worker::WorkerConfig {
                schedule,
                timeout: Duration::from_millis(config.webhook_timeout_ms),
                concurrency: config.webhook_concurrency.max(1),
                per_user: config.webhook_per_user_concurrency.max(1),
            },
            worker_inbox,
        )?;
        let writer = webhooks::writer::Writer::new(pool.clone(), live.clone(), metrics.clone(), targets, writer_inbox);
        let leptos = LeptosOptions::builder()
            .output_name("wa-gateway")
            .site_root(config.site_root.to_string_lossy().as_ref())
            .site_pkg_dir("pkg")
            .site_addr(addr)
            .build();
        let state = AppState {
            auth: Arc::new(auth::Authenticator::new(pool.clone(), &config).await?),
            users: Arc::new(users),
            tokens: Arc::new(tokens::Tokens::new(pool.clone())),
            sessions,
            messages,
            webhooks,
            outbox,
            live,
            metrics,
            sim,
            pool,
            config: Arc::new(config),
            leptos,
        };
        Ok(Self { state, listener, worker, fresh, writer })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        tracing::info!(addr = %self.local_addr(), engine = ?self.state.config.wa_engine, "WA Gateway listening");
        let linked = self.state.sessions.interrupted().await?;
        let resuming = tokio::spawn({
            let sessions = self.state.sessions.clone();
            async move {
                let count = linked.len();
                let resumed = sessions.resume(linked).await;
                if count > 0 {
                    tracing::info!(resumed, of = count, "linked sessions resumed");
                }
            }
        });
        let housekeeping = tokio::spawn(housekeeping(self.state.clone()));
        let checkpoints = tokio::spawn(db::checkpoints(self.state.pool.clone()));
        let writer = self.writer.spawn();
        let deliveries = tokio::spawn(self.worker.clone().run(self.fresh));
        let sessions = self.state.sessions.clone();
        let app = router(self.state).into_make_service_with_connect_info::<SocketAddr>();
        let served = axum::serve(self.listener, app).with_graceful_shutdown(shutdown).await;
        // No session may start after the ones running are stopped.
        resuming.abort();
        let _ = resuming.await;
        housekeeping.abort();
        checkpoints.abort();
        deliveries.abort();
        // Sessions still store what arrives while they stop.
        sessions.shutdown().await;
        writer.stop().await;
        served.context("HTTP server failed")
    }
}

/// Periodic clean-up that keeps memory and tables bounded.
async fn housekeeping(state: AppState) {
    let mut tick = tokio::time::interval(Duration::from_secs(60));
    loop {
        tick.tick().await;
        state.auth.forget_idle_failures();
        if let Err(e) = db::browser_sessions::delete_expired(&state.pool, clock::unix_now()).await {
            tracing::warn!(error = %e, "could not delete expired browser logins");
        }
        let (data_dir, hours) = (state.config.data_dir.clone(), state.config.webhook_retention_hours);
        let _ = tokio::task::spawn_blocking(move || media::prune(&data_dir, Duration::from_secs(hours * 3600))).await;
        match webhooks::outbox::prune(&state.pool, state.config.webhook_retention_hours).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "pruned old webhook deliveries"),
            Err(e) => tracing::warn!(error = %e, "could not prune webhook deliveries"),
        }
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
