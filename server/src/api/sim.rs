//! Control routes of the simulated WhatsApp (`WA_ENGINE=simulated` only, admin only):
//! what a phone and the WhatsApp network would do, on demand.

use super::{data, done, ApiJson, Data, Done};
use crate::{
    auth::AdminUser,
    domain::Phone,
    engine::{
        simulated::{SimError, SimulatedEngine},
        InboundMedia, InboundMessage, MediaKind,
    },
    error::{ApiError, ApiResult},
    AppState,
};
use axum::{
    extract::{Path, State},
    routing::{get, post, put},
    Json, Router,
};
use base64::{engine::general_purpose::STANDARD, Engine};
use serde::Deserialize;
use std::sync::Arc;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/sim/sessions/{session}/scan", post(scan))
        .route("/sim/sessions/{session}/messages", post(message))
        .route("/sim/sessions/{session}/drop", post(drop_connection))
        .route("/sim/sessions/{session}/unlink", post(unlink))
        .route("/sim/sessions/{session}/replace", post(replace))
        .route("/sim/sessions/{session}/sent", get(sent))
        .route("/sim/numbers", put(numbers))
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        match e {
            SimError::NotRunning(_) => Self::NotFound(e.to_string()),
            SimError::WrongState(m) => Self::Conflict(m),
            SimError::NotStored => Self::Unavailable(e.to_string()),
        }
    }
}

fn sim(state: &AppState) -> ApiResult<&Arc<SimulatedEngine>> {
    state.sim.as_ref().ok_or(ApiError::RouteNotFound)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScanRequest {
    #[serde(default)]
    phone: Option<String>,
}

async fn scan(
    _: AdminUser,
    State(state): State<AppState>,
    Path(session): Path<String>,
    body: axum::body::Bytes,
) -> ApiResult<Json<Data<Done>>> {
    // The body is optional here: empty means "any phone number".
    let req: ScanRequest =
        if body.iter().all(u8::is_ascii_whitespace) { ScanRequest::default() } else { super::parse_json(&body)? };
    let phone = match req.phone {
        Some(p) => Some(Phone::parse(&p, "phone")?.digits().to_owned()),
        None => None,
    };
    sim(&state)?.scan(&session, phone).await?;
    Ok(done("Scanned"))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimMedia {
    kind: String,
    mimetype: String,
    #[serde(default)]
    file_name: Option<String>,
    data_base64: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SimMessage {
    from: String,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    is_group: bool,
    #[serde(default)]
    participant: Option<String>,
    #[serde(default)]
    media: Option<SimMedia>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    push_name: Option<String>,
}

fn user_jid(number: &str, field: &'static str) -> ApiResult<String> {
    if number.contains('@') {
        return Ok(number.to_owned());
    }
    Ok(format!("{}@s.whatsapp.net", Phone::parse(number, field)?.digits()))
}

async fn message(
    _: AdminUser,
    State(state): State<AppState>,
    Path(session): Path<String>,
    ApiJson(m): ApiJson<SimMessage>,
) -> ApiResult<Json<Data<serde_json::Value>>> {
    let media =
        match m.media {
            Some(media) => Some(InboundMedia {
                kind: MediaKind::parse(&media.kind).ok_or_else(|| {
                    ApiError::BadRequest(
                        "Invalid field 'media.kind' on json: use image, video, document, audio or sticker".into(),
                    )
                })?,
                mimetype: media.mimetype,
                file_name: media.file_name,
                data: Some(STANDARD.decode(media.data_base64.as_bytes()).map_err(|_| {
                    ApiError::BadRequest("Invalid field 'media.data_base64' on json: not base64".into())
                })?),
            }),
            None => None,
        };
    let (chat, sender) = if m.is_group {
        let group = if m.from.contains('@') { m.from.clone() } else { format!("{}@g.us", m.from) };
        let participant = m
            .participant
            .as_deref()
            .ok_or_else(|| ApiError::BadRequest("A group message needs 'participant'".into()))?;
        (group, user_jid(participant, "participant")?)
    } else {
        let jid = user_jid(&m.from, "from")?;
        (jid.clone(), jid)
    };
    let id = m.id.unwrap_or_else(|| format!("SIMIN{}", uuid::Uuid::new_v4().simple()).to_uppercase());
    let message = InboundMessage {
        id: id.clone(),
        chat,
        sender,
        is_group: m.is_group,
        push_name: m.push_name,
        text: m.text,
        media,
        timestamp: crate::clock::unix_now(),
    };
    sim(&state)?.inject(&session, message).await?;
    Ok(data(serde_json::json!({ "id": id })))
}

async fn drop_connection(
    _: AdminUser,
    State(state): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<Data<Done>>> {
    sim(&state)?.drop_connection(&session).await?;
    Ok(done("Connection dropped"))
}

async fn unlink(
    _: AdminUser,
    State(state): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<Data<Done>>> {
    sim(&state)?.unlink(&session).await?;
    Ok(done("Device unlinked"))
}

async fn replace(
    _: AdminUser,
    State(state): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<Data<Done>>> {
    sim(&state)?.replace(&session).await?;
    Ok(done("Connection taken over"))
}

async fn sent(
    _: AdminUser,
    State(state): State<AppState>,
    Path(session): Path<String>,
) -> ApiResult<Json<Data<Vec<serde_json::Value>>>> {
    Ok(data(sim(&state)?.sent(&session)?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NumbersRequest {
    numbers: Vec<String>,
}

async fn numbers(
    _: AdminUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<NumbersRequest>,
) -> ApiResult<Json<Data<Done>>> {
    sim(&state)?.set_numbers(&req.numbers);
    Ok(done("Numbers set"))
}
