//! Live status for browsers and clients: `GET /ws` upgrades to a websocket that pushes
//! the caller's session events (an admin's: every session's), starting with the current
//! state. Events are serialised once and shared; a slow socket only lags itself (it
//! then gets a fresh snapshot) and never blocks the supervisors or other sockets.

use crate::{auth::AuthUser, error::ApiError, AppState};
use axum::{
    extract::{
        ws::{Message, WebSocket, WebSocketUpgrade},
        FromRequestParts, Query, State,
    },
    http::request::Parts,
    response::Response,
    routing::get,
    Router,
};
use serde::Deserialize;
use std::{sync::Arc, time::Duration};
use tokio::sync::broadcast;

/// One event for the sockets: whose session it is, and its JSON text.
#[derive(Debug)]
pub struct LiveEvent {
    pub user_id: i64,
    pub json: String,
}

#[derive(Clone)]
pub struct Live {
    tx: broadcast::Sender<Arc<LiveEvent>>,
    tickets: moka::sync::Cache<String, i64>,
}

impl Default for Live {
    fn default() -> Self {
        Self::new()
    }
}

impl Live {
    pub fn new() -> Self {
        let (tx, _) = broadcast::channel(4096);
        let tickets = moka::sync::Cache::builder().max_capacity(10_000).time_to_live(Duration::from_secs(600)).build();
        Self { tx, tickets }
    }

    /// Publishes without waiting: no receiver, or a lagging one, never blocks the caller.
    pub fn publish(&self, user_id: i64, json: String) {
        let _ = self.tx.send(Arc::new(LiveEvent { user_id, json }));
    }

    /// Whether any socket listens; lets hot paths skip building events nobody reads.
    pub fn has_listeners(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<LiveEvent>> {
        self.tx.subscribe()
    }

    /// A short-lived ticket that lets a page open `/ws` as `user_id` without credentials
    /// in the URL (the QR page served to Basic-auth clients uses it).
    pub fn ticket_for(&self, user_id: i64) -> String {
        let ticket = crate::auth::new_api_token().0;
        self.tickets.insert(ticket.clone(), user_id);
        ticket
    }

    fn redeem(&self, ticket: &str) -> Option<i64> {
        self.tickets.remove(ticket)
    }
}

pub fn router() -> Router<AppState> {
    Router::new().route("/ws", get(upgrade))
}

#[derive(Deserialize)]
struct WsQuery {
    ticket: Option<String>,
}

/// The caller of `/ws`: a ticket from the QR page, else the usual credentials.
struct WsCaller(crate::db::users::UserRow);

impl FromRequestParts<AppState> for WsCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Query(q) = Query::<WsQuery>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::BadRequest("Invalid query string".into()))?;
        if let Some(ticket) = q.ticket {
            let user_id = state.live.redeem(&ticket).ok_or(ApiError::Unauthorized)?;
            let user = crate::db::users::by_id(&state.pool, user_id).await?;
            return user.map(Self).ok_or(ApiError::Unauthorized);
        }
        AuthUser::from_request_parts(parts, state).await.map(|AuthUser(u)| Self(u))
    }
}

async fn upgrade(WsCaller(user): WsCaller, State(state): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| serve(socket, state, user.id, user.is_admin))
}

async fn snapshot(state: &AppState, user_id: i64, all: bool) -> Vec<String> {
    let result = if all {
        state.sessions.all_snapshots().await
    } else {
        state.sessions.snapshot(user_id).await.map(|s| vec![s])
    };
    match result {
        Ok(list) => list.iter().map(|s| s.to_live_json()).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not read session snapshots");
            Vec::new()
        }
    }
}

async fn serve(mut socket: WebSocket, state: AppState, user_id: i64, all: bool) {
    // Subscribe before reading the snapshot so no event falls between the two.
    let mut rx = state.live.subscribe();
    for json in snapshot(&state, user_id, all).await {
        if socket.send(Message::Text(json.into())).await.is_err() {
            return;
        }
    }
    loop {
        tokio::select! {
            event = rx.recv() => match event {
                Ok(event) if all || event.user_id == user_id => {
                    if socket.send(Message::Text(event.json.clone().into())).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    for json in snapshot(&state, user_id, all).await {
                        if socket.send(Message::Text(json.into())).await.is_err() {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
