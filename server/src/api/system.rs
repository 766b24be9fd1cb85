//! Liveness and other routes that need no authentication.

use crate::{error::ApiError, AppState};
use axum::{extract::State, http::header, response::IntoResponse, routing::get, Json, Router};
use serde::Serialize;
use std::{collections::BTreeMap, time::Duration};
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready)).route("/metrics", get(metrics))
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    status: &'static str,
    database: &'static str,
    /// Number of sessions in each status.
    sessions: BTreeMap<&'static str, i64>,
}

/// Readiness: the database answers; sessions counted by status. 503 when it does not.
#[utoipa::path(get, path = "/ready", tag = "system",
    responses((status = 200, body = Readiness), (status = 503, body = super::ErrorBody)))]
pub async fn ready(State(state): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let ping = tokio::time::timeout(Duration::from_secs(2), crate::db::ping(&state.pool)).await;
    if !matches!(ping, Ok(Ok(_))) {
        return Err(ApiError::Unavailable("database unreachable".into()));
    }
    let counts = state.sessions.counts().await.map_err(|_| ApiError::Unavailable("database unreachable".into()))?;
    Ok(Json(Readiness {
        status: "ready",
        database: "ok",
        sessions: counts.into_iter().map(|(s, n)| (s.as_str(), n)).collect(),
    }))
}

/// Prometheus text exposition: sessions by status, engine events, HTTP latency.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let counts = state.sessions.counts().await?;
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render(&counts)))
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
}

/// Liveness: the process answers HTTP.
#[utoipa::path(get, path = "/health", tag = "system",
    responses((status = 200, description = "The gateway is alive", body = Health)))]
pub async fn health() -> Json<Health> {
    Json(Health { status: "ok" })
}
