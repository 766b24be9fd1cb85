//! The signed-in user's own session and settings: session info, start/disconnect,
//! pair code, callback URL, the activity log, and API tokens.

use super::{data, done, ApiJson, Data, Done, Id, Paging};
use crate::{
    auth::AuthUser,
    db::{self, session_events::SessionEventRow},
    domain::Phone,
    engine::Pairing,
    error::{ApiError, ApiResult},
    sessions::{Snapshot, Status},
    AppState,
};
use app::api::{
    CallbackRequest, CreateTokenRequest, CreatedToken, PairCodeRequest, PairCodeResponse, SessionInfo,
    StartSessionResponse, TokenView, UserView,
};
use axum::{
    extract::State,
    routing::{delete, get, post, put},
    Json, Router,
};
use serde::Serialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/session-info", get(session_info))
        .route("/dashboard/start-session", post(start_session))
        .route("/dashboard/disconnect-session", post(disconnect_session))
        .route("/dashboard/pair-code", post(pair_code))
        .route("/dashboard/callback", put(set_callback))
        .route("/dashboard/events", get(events))
        .route("/dashboard/tokens", get(list_tokens).post(create_token))
        .route("/dashboard/tokens/{id}", delete(revoke_token))
}

pub fn session_info_from(snapshot: &Snapshot, callback_url: Option<String>) -> SessionInfo {
    SessionInfo {
        session_name: snapshot.session.clone(),
        callback_url,
        is_connected: snapshot.status == Status::Connected,
        status: snapshot.status.as_str().to_owned(),
        phone: snapshot.phone.clone(),
        push_name: snapshot.push_name.clone(),
        qr: snapshot.qr_png.clone(),
        pair_code: snapshot.pair_code.clone(),
        reason: snapshot.reason.clone(),
    }
}

/// The caller's session: name, callback, live status, phone, and the QR while pairing.
#[utoipa::path(get, path = "/dashboard/session-info", tag = "dashboard",
    responses((status = 200, body = Data<SessionInfo>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn session_info(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Data<SessionInfo>>> {
    let snapshot = state.sessions.snapshot(user.id).await?;
    Ok(data(session_info_from(&snapshot, user.callback_url)))
}

/// Starts the session and waits briefly for its QR code (a PNG data URL), or says it
/// is connected. Never hangs: after the bounded wait it answers with the status.
#[utoipa::path(post, path = "/dashboard/start-session", tag = "dashboard",
    responses((status = 200, body = Data<StartSessionResponse>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn start_session(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Data<StartSessionResponse>>> {
    let s = state.sessions.start(&user, Pairing::Qr).await?;
    Ok(data(StartSessionResponse {
        session_name: s.session.clone(),
        status: s.status.as_str().to_owned(),
        qr: s.qr_png.clone(),
        message: start_message(&s),
    }))
}

pub fn start_message(s: &Snapshot) -> Option<String> {
    match s.status {
        Status::Connected => Some("Session connected".into()),
        Status::Qr => None,
        _ => Some(match &s.reason {
            Some(reason) => format!("Session is {}: {reason}", s.status.as_str().replace('_', " ")),
            None => format!("Session is {}", s.status.as_str().replace('_', " ")),
        }),
    }
}

/// Links by pair code instead of QR: returns the code to type on the phone.
#[utoipa::path(post, path = "/dashboard/pair-code", tag = "dashboard", request_body = PairCodeRequest,
    responses((status = 200, body = Data<PairCodeResponse>), (status = 400, body = super::ErrorBody),
              (status = 409, description = "Already connected, or no code arrived in time", body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn pair_code(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<PairCodeRequest>,
) -> ApiResult<Json<Data<PairCodeResponse>>> {
    let phone = Phone::parse(&req.phone, "phone")?;
    let s = state.sessions.start(&user, Pairing::PairCode { phone: phone.digits().to_owned() }).await?;
    match s.pair_code {
        Some(code) => Ok(data(PairCodeResponse { session_name: s.session, pair_code: code })),
        None if s.status == Status::Connected => Err(ApiError::Conflict("Session is already connected".into())),
        None => Err(ApiError::Conflict(
            start_message(&s)
                .unwrap_or_else(|| "Session is waiting for a QR scan; disconnect it to pair by code".into()),
        )),
    }
}

/// Logs the device out (unlinks it from the phone) and deletes the session's keys.
#[utoipa::path(post, path = "/dashboard/disconnect-session", tag = "dashboard",
    responses((status = 200, body = Data<Done>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn disconnect_session(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Data<Done>>> {
    Ok(if state.sessions.logout(&user, "logged out by the user").await? {
        done("Session disconnected")
    } else {
        done("Session is not connected")
    })
}

/// Sets or clears (`null`) the caller's callback URL.
#[utoipa::path(put, path = "/dashboard/callback", tag = "dashboard", request_body = CallbackRequest,
    responses((status = 200, body = Data<UserView>), (status = 400, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn set_callback(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CallbackRequest>,
) -> ApiResult<Json<Data<UserView>>> {
    state.users.set_session_config(user.id, req.into_session_config()).await.map(data)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPage {
    pub items: Vec<SessionEventRow>,
    pub page: i64,
    pub per_page: i64,
    pub total: i64,
}

/// The session's activity log, newest first.
#[utoipa::path(get, path = "/dashboard/events", tag = "dashboard", params(Paging),
    responses((status = 200, body = Data<EventsPage>), (status = 400, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn events(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    paging: Paging,
) -> ApiResult<Json<Data<EventsPage>>> {
    let items = db::session_events::page(&state.pool, user.id, paging.per_page, paging.offset()).await?;
    let total = db::session_events::count(&state.pool, user.id).await?;
    Ok(data(EventsPage { items, page: paging.page, per_page: paging.per_page, total }))
}

#[utoipa::path(get, path = "/dashboard/tokens", tag = "dashboard",
    responses((status = 200, body = Data<Vec<TokenView>>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn list_tokens(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
) -> ApiResult<Json<Data<Vec<TokenView>>>> {
    state.tokens.list(user.id).await.map(data)
}

/// Creates a bearer token; `secret` is shown only in this answer.
#[utoipa::path(post, path = "/dashboard/tokens", tag = "dashboard", request_body = CreateTokenRequest,
    responses((status = 200, body = Data<CreatedToken>), (status = 400, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn create_token(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateTokenRequest>,
) -> ApiResult<Json<Data<CreatedToken>>> {
    state.tokens.create(user.id, &req.name).await.map(data)
}

#[utoipa::path(delete, path = "/dashboard/tokens/{id}", tag = "dashboard",
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 200, body = Data<Done>), (status = 404, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn revoke_token(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<Data<Done>>> {
    state.tokens.revoke(user.id, id).await?;
    Ok(done("Token revoked"))
}
