//! Liveness and other routes that need no authentication.

use crate::AppState;
use axum::{routing::get, Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new().route("/health", get(health))
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
