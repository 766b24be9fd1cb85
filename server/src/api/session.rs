//! The seed's session routes: start the caller's configured session (JSON or a live QR
//! page), list sessions, log out.

use super::{dashboard::start_message, data, done, Data, Done};
use crate::{auth::AuthUser, engine::Pairing, error::ApiResult, sessions::Status, AppState};
use app::api::SessionView;
use axum::{
    extract::State,
    response::{Html, IntoResponse, Response},
    routing::{get, post},
    Json, Router,
};
use serde::Serialize;
use utoipa::ToSchema;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/session/start", post(start).get(start_page))
        .route("/session", get(list))
        .route("/session/logout", get(logout).post(logout))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StartResponse {
    pub session: String,
    pub status: String,
    /// The raw QR string (render it yourself), while waiting for a scan.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Starts the caller's session; answers with the raw QR string or "Session connected".
#[utoipa::path(post, path = "/session/start", tag = "session",
    responses((status = 200, body = Data<StartResponse>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn start(AuthUser(user): AuthUser, State(state): State<AppState>) -> ApiResult<Json<Data<StartResponse>>> {
    let s = state.sessions.start(&user, Pairing::Qr).await?;
    Ok(data(StartResponse {
        session: s.session.clone(),
        status: s.status.as_str().to_owned(),
        qr: s.qr.clone(),
        message: start_message(&s),
    }))
}

/// Starts the caller's session and shows a page whose QR code follows the rotation
/// live (websocket) and which says "Connected" once the phone is linked.
#[utoipa::path(get, path = "/session/start", tag = "session",
    responses((status = 200, description = "An HTML page", content_type = "text/html")),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn start_page(AuthUser(user): AuthUser, State(state): State<AppState>) -> ApiResult<Response> {
    let s = state.sessions.start(&user, Pairing::Qr).await?;
    let ticket = state.live.ticket_for(user.id);
    let page = QR_PAGE
        .replace("{session}", &s.session)
        .replace("{status}", if s.status == Status::Connected { "Connected" } else { s.status.as_str() })
        .replace("{qr}", s.qr_png.as_deref().unwrap_or(""))
        .replace("{ticket}", &ticket);
    Ok(Html(page).into_response())
}

/// A user's one session, or (for an admin) every session.
#[utoipa::path(get, path = "/session", tag = "session",
    responses((status = 200, description = "Users: one session object; admins: an array of all", body = Data<SessionView>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn list(AuthUser(user): AuthUser, State(state): State<AppState>) -> ApiResult<Response> {
    let view = |s: &crate::sessions::Snapshot| SessionView {
        session: s.session.clone(),
        user_id: s.user_id,
        status: s.status.as_str().to_owned(),
        is_connected: s.status == Status::Connected,
        phone: s.phone.clone(),
        reason: s.reason.clone(),
    };
    Ok(if user.is_admin {
        data(state.sessions.all_snapshots().await?.iter().map(view).collect::<Vec<_>>()).into_response()
    } else {
        data(view(&state.sessions.snapshot(user.id).await?)).into_response()
    })
}

/// Logs the caller's session out and deletes its keys.
#[utoipa::path(post, path = "/session/logout", tag = "session",
    responses((status = 200, body = Data<Done>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn logout(AuthUser(user): AuthUser, State(state): State<AppState>) -> ApiResult<Json<Data<Done>>> {
    Ok(if state.sessions.logout(&user, "logged out by the user").await? {
        done("Session logged out")
    } else {
        done("Session is not connected")
    })
}

const QR_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Link WhatsApp: {session}</title>
<style>body{font-family:system-ui,sans-serif;text-align:center;margin:2rem;color:#1d2521}
img{width:264px;height:264px;image-rendering:pixelated}#status{font-size:1.3rem;font-weight:600}</style>
</head><body>
<h1>Session {session}</h1>
<p id="status" role="status">{status}</p>
<img id="qr" alt="QR code to scan with WhatsApp" src="{qr}">
<p>Open WhatsApp on the phone → Linked devices → Link a device, and scan the code.</p>
<script>
const img = document.getElementById('qr'), status = document.getElementById('status');
if (!img.getAttribute('src')) img.hidden = true;
if (status.textContent === 'Connected') img.hidden = true;
function connect() {
  const proto = location.protocol === 'https:' ? 'wss' : 'ws';
  const ws = new WebSocket(`${proto}://${location.host}/ws?ticket={ticket}`);
  ws.onmessage = (m) => {
    const e = JSON.parse(m.data);
    if (e.type !== 'status') return;
    if (e.status === 'connected') { status.textContent = 'Connected'; img.hidden = true; return; }
    status.textContent = e.status + (e.reason ? ': ' + e.reason : '');
    if (e.qr) { img.src = e.qr; img.hidden = false; } else { img.hidden = true; }
  };
}
connect();
</script></body></html>"#;
