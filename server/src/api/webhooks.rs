//! Webhook settings and the delivery log: the signing secret (view, rotate), optional
//! outbound auth, deliveries with their attempts, resend; and the signed media links.

use super::{data, ApiJson, ApiQuery, Data, Id, Paging};
use crate::{
    auth::{AdminUser, AuthUser},
    error::{ApiError, ApiResult},
    media::StoredMedia,
    webhooks::{
        outbox::{self, AttemptRow, DeliveryRow},
        AuthRequest, AuthView, SecretView,
    },
    AppState,
};
use axum::{
    body::Body,
    extract::State,
    http::header,
    response::{IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/webhook-secret", get(secret))
        .route("/dashboard/webhook-secret/rotate", post(rotate_secret))
        .route("/dashboard/webhook-auth", get(auth).put(set_auth))
        .route("/dashboard/deliveries", get(deliveries))
        .route("/dashboard/deliveries/resend-failed", post(resend_failed))
        .route("/dashboard/deliveries/{id}", get(delivery))
        .route("/dashboard/deliveries/{id}/resend", post(resend))
        .route("/admin/users/{id}/deliveries", get(user_deliveries))
        .route("/media/{id}", get(media))
}

/// The `whsec_…` secret that signs the caller's webhooks (Standard Webhooks).
#[utoipa::path(get, path = "/dashboard/webhook-secret", tag = "webhooks",
    responses((status = 200, body = Data<SecretView>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn secret(AuthUser(user): AuthUser, State(state): State<AppState>) -> ApiResult<Json<Data<SecretView>>> {
    Ok(data(SecretView { secret: state.webhooks.secret(user.id).await? }))
}

/// A new secret; the previous one still signs (space-separated) during the overlap.
#[utoipa::path(post, path = "/dashboard/webhook-secret/rotate", tag = "webhooks",
    responses((status = 200, body = Data<SecretView>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn rotate_secret(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Data<SecretView>>> {
    Ok(data(SecretView { secret: state.webhooks.rotate_secret(user.id).await? }))
}

#[utoipa::path(get, path = "/dashboard/webhook-auth", tag = "webhooks",
    responses((status = 200, body = Data<AuthView>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn auth(AuthUser(user): AuthUser, State(state): State<AppState>) -> ApiResult<Json<Data<AuthView>>> {
    state.webhooks.auth(user.id).await.map(data)
}

/// Outbound auth for the receiver: `none`, `basic` (username + password) or `bearer`
/// (token). Secrets are write-only; a blank one keeps what is stored.
#[utoipa::path(put, path = "/dashboard/webhook-auth", tag = "webhooks", request_body = AuthRequest,
    responses((status = 200, body = Data<AuthView>), (status = 400, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn set_auth(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<AuthRequest>,
) -> ApiResult<Json<Data<AuthView>>> {
    state.webhooks.set_auth(user.id, req).await.map(data)
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct StateFilter {
    /// `pending`, `delivered`, `failed` or `skipped`.
    state: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveriesPage {
    pub items: Vec<DeliveryRow>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

async fn page_of(state: &AppState, user_id: i64, paging: Paging, filter: StateFilter) -> ApiResult<DeliveriesPage> {
    if let Some(s) = &filter.state {
        if !["pending", "delivered", "failed", "skipped"].contains(&s.as_str()) {
            return Err(ApiError::BadRequest("Invalid query: state is pending, delivered, failed or skipped".into()));
        }
    }
    let (items, total) =
        outbox::page(&state.pool, user_id, filter.state.as_deref(), paging.per_page, paging.offset()).await?;
    Ok(DeliveriesPage { items, page: paging.page, per_page: paging.per_page, total })
}

/// The caller's webhook deliveries, newest first; `?state=failed` for the failed ones.
#[utoipa::path(get, path = "/dashboard/deliveries", tag = "webhooks", params(Paging, StateFilter),
    responses((status = 200, body = Data<DeliveriesPage>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn deliveries(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    paging: Paging,
    ApiQuery(filter): ApiQuery<StateFilter>,
) -> ApiResult<Json<Data<DeliveriesPage>>> {
    page_of(&state, user.id, paging, filter).await.map(data)
}

/// Any user's deliveries (admin).
#[utoipa::path(get, path = "/admin/users/{id}/deliveries", tag = "admin", params(("id" = i64, Path), Paging, StateFilter),
    responses((status = 200, body = Data<DeliveriesPage>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn user_deliveries(
    _: AdminUser,
    State(state): State<AppState>,
    Id(id): Id,
    paging: Paging,
    ApiQuery(filter): ApiQuery<StateFilter>,
) -> ApiResult<Json<Data<DeliveriesPage>>> {
    state.users.get(id).await?;
    page_of(&state, id, paging, filter).await.map(data)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDetail {
    pub delivery: DeliveryRow,
    pub attempts: Vec<AttemptRow>,
}

/// One delivery with every attempt (time, URL, status, latency, error, response body).
#[utoipa::path(get, path = "/dashboard/deliveries/{id}", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = Data<DeliveryDetail>), (status = 404, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn delivery(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<Data<DeliveryDetail>>> {
    let delivery = outbox::get(&state.pool, user.id, id).await?.ok_or_else(not_found)?;
    let attempts = outbox::attempts(&state.pool, user.id, id).await?;
    Ok(data(DeliveryDetail { delivery, attempts }))
}

fn not_found() -> ApiError {
    ApiError::NotFound("Delivery not found".into())
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Resent {
    pub resent: u64,
}

/// Sends one delivery again, now, with a fresh retry schedule.
#[utoipa::path(post, path = "/dashboard/deliveries/{id}/resend", tag = "webhooks", params(("id" = i64, Path)),
    responses((status = 200, body = Data<Resent>), (status = 404, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn resend(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<Data<Resent>>> {
    if !state.webhooks.resend(user.id, id).await? {
        return Err(not_found());
    }
    state.webhooks_wake();
    Ok(data(Resent { resent: 1 }))
}

/// Sends every failed delivery again.
#[utoipa::path(post, path = "/dashboard/deliveries/resend-failed", tag = "webhooks",
    responses((status = 200, body = Data<Resent>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn resend_failed(AuthUser(user): AuthUser, State(state): State<AppState>) -> ApiResult<Json<Data<Resent>>> {
    let resent = state.webhooks.resend_failed(user.id).await?;
    state.webhooks_wake();
    Ok(data(Resent { resent }))
}

#[derive(Debug, Deserialize)]
pub struct MediaQuery {
    expires: i64,
    sig: String,
}

/// A media file of an incoming message, by the signed, expiring link in its webhook.
pub async fn media(
    State(state): State<AppState>,
    Id(id): Id,
    q: Result<ApiQuery<MediaQuery>, ApiError>,
) -> ApiResult<Response> {
    let ApiQuery(q) = q.map_err(|_| ApiError::Forbidden("Invalid or expired media link".into()))?;
    if !state.webhooks.verify_media_link(id, q.expires, &q.sig) {
        return Err(ApiError::Forbidden("Invalid or expired media link".into()));
    }
    let media = outbox::media(&state.pool, id).await?;
    let media: StoredMedia = media
        .and_then(|m| serde_json::from_str(&m).ok())
        .ok_or_else(|| ApiError::NotFound("Media not found".into()))?;
    let bytes = tokio::fs::read(state.config.data_dir.join(&media.path))
        .await
        .map_err(|_| ApiError::NotFound("Media no longer stored".into()))?;
    let name = media.file_name.unwrap_or_else(|| format!("{}-{id}", media.kind)).replace(['"', '\\', '\r', '\n'], "_");
    Ok((
        [
            (header::CONTENT_TYPE, media.mimetype),
            (header::CONTENT_DISPOSITION, format!("inline; filename=\"{name}\"")),
            (header::CACHE_CONTROL, "private, max-age=3600".to_owned()),
        ],
        Body::from(bytes),
    )
        .into_response())
}
