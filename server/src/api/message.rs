//! `/message/send-*` and `/profile`: REST clients send through the caller's session.
//! The request names the session (as in the original gateway); it must be the
//! caller's own.

use super::{data, ApiJson, ApiQuery, Data};
use crate::{
    auth::AuthUser,
    domain::Recipient,
    engine::{MediaKind, OutboundContent},
    error::{ApiError, ApiResult},
    messages::{default_mimetype, Messages, Sent},
    AppState,
};
use axum::{
    extract::{Path, State},
    routing::post,
    Json, Router,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// `max_media_bytes` sets the body limit here: base64 media is 4/3 of the file.
pub fn router(max_media_bytes: usize) -> Router<AppState> {
    Router::new()
        .route("/message/send-text", post(send_text).get(send_text_get))
        .route("/message/send-location", post(send_location))
        .route("/message/{kind}", post(send_media))
        .route("/profile", post(profile))
        .route("/group", post(group))
        .layer(axum::extract::DefaultBodyLimit::max(max_media_bytes / 3 * 4 + 64 * 1024))
}

#[derive(Debug, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct TextRequest {
    pub session: String,
    pub to: String,
    pub text: String,
    #[serde(default)]
    pub is_group: bool,
    #[serde(default)]
    pub quoted_message_id: Option<String>,
}

async fn text(state: &AppState, user: &crate::db::users::UserRow, req: TextRequest) -> ApiResult<Json<Data<Sent>>> {
    Messages::check_session(user, &req.session)?;
    let to = Recipient::parse(&req.to, req.is_group)?;
    if req.text.is_empty() || req.text.len() > 65_536 {
        return Err(ApiError::BadRequest("Invalid text field 'text' on json: 1 to 65536 bytes".into()));
    }
    state.messages.send(user, to, OutboundContent::Text(req.text), req.quoted_message_id).await.map(data)
}

/// Sends a text message (after a typing indicator).
#[utoipa::path(post, path = "/message/send-text", tag = "message", request_body = TextRequest,
    responses((status = 200, body = Data<Sent>), (status = 400, body = super::ErrorBody),
              (status = 403, description = "Not the caller's session", body = super::ErrorBody),
              (status = 409, description = "Session is not connected", body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn send_text(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<TextRequest>,
) -> ApiResult<Json<Data<Sent>>> {
    text(&state, &user, req).await
}

/// The same as POST, with the fields in the query string.
#[utoipa::path(get, path = "/message/send-text", tag = "message", params(TextRequest),
    responses((status = 200, body = Data<Sent>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn send_text_get(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiQuery(req): ApiQuery<TextRequest>,
) -> ApiResult<Json<Data<Sent>>> {
    text(&state, &user, req).await
}

/// `send-image` … `send-sticker`: the media is `<kind>_url` (http/https) or
/// `<kind>_base64`; `text` is the caption.
#[derive(Debug, Deserialize, ToSchema)]
pub struct MediaRequest {
    pub session: String,
    pub to: String,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub is_group: bool,
    #[serde(default)]
    pub document_name: Option<String>,
    #[serde(default)]
    pub mimetype: Option<String>,
    #[serde(default)]
    pub quoted_message_id: Option<String>,
    /// `send-audio` only: deliver as a voice note (push-to-talk).
    #[serde(default)]
    pub voice_note: bool,
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub source: std::collections::BTreeMap<String, serde_json::Value>,
}

/// Sends an image, video, document, audio or sticker.
#[utoipa::path(post, path = "/message/{kind}", tag = "message", request_body = MediaRequest,
    params(("kind" = String, Path, description = "send-image, send-video, send-document, send-audio or send-sticker")),
    responses((status = 200, body = Data<Sent>), (status = 400, body = super::ErrorBody),
              (status = 413, description = "Media over the size cap", body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn send_media(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    Path(kind): Path<String>,
    ApiJson(req): ApiJson<MediaRequest>,
) -> ApiResult<Json<Data<Sent>>> {
    let kind = kind.strip_prefix("send-").and_then(MediaKind::parse).ok_or(ApiError::RouteNotFound)?;
    let name = kind.as_str();
    let (url_key, b64_key) = (format!("{name}_url"), format!("{name}_base64"));
    let mut url = None;
    let mut b64 = None;
    for (key, value) in &req.source {
        let text = value
            .as_str()
            .ok_or_else(|| ApiError::BadRequest(format!("Invalid field '{key}' on json: expected a string")));
        if *key == url_key {
            url = Some(text?.to_owned());
        } else if *key == b64_key {
            b64 = Some(text?.to_owned());
        } else {
            return Err(ApiError::BadRequest(format!("Invalid JSON body: unknown field `{key}`")));
        }
    }
    Messages::check_session(&user, &req.session)?;
    let to = Recipient::parse(&req.to, req.is_group)?;
    if req.voice_note && kind != MediaKind::Audio {
        return Err(ApiError::BadRequest("Invalid field 'voice_note' on json: only send-audio takes it".into()));
    }
    let (bytes, fetched_type) = state.messages.media_bytes(&kind, url.as_deref(), b64.as_deref()).await?;
    let mimetype = req.mimetype.or(fetched_type).unwrap_or_else(|| default_mimetype(&kind).to_owned());
    let content = OutboundContent::Media {
        kind,
        data: bytes,
        mimetype,
        caption: req.text,
        file_name: req.document_name,
        voice_note: req.voice_note,
    };
    state.messages.send(&user, to, content, req.quoted_message_id).await.map(data)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationRequest {
    pub session: String,
    pub to: String,
    pub latitude: f64,
    pub longitude: f64,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub address: Option<String>,
    #[serde(default)]
    pub is_group: bool,
}

#[utoipa::path(post, path = "/message/send-location", tag = "message", request_body = LocationRequest,
    responses((status = 200, body = Data<Sent>), (status = 400, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn send_location(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<LocationRequest>,
) -> ApiResult<Json<Data<Sent>>> {
    Messages::check_session(&user, &req.session)?;
    let to = Recipient::parse(&req.to, req.is_group)?;
    if !(-90.0..=90.0).contains(&req.latitude) {
        return Err(ApiError::BadRequest("Invalid latitude field 'latitude' on json: -90 to 90".into()));
    }
    if !(-180.0..=180.0).contains(&req.longitude) {
        return Err(ApiError::BadRequest("Invalid longitude field 'longitude' on json: -180 to 180".into()));
    }
    let content = OutboundContent::Location {
        latitude: req.latitude,
        longitude: req.longitude,
        name: req.name,
        address: req.address,
    };
    state.messages.send(&user, to, content, None).await.map(data)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileRequest {
    pub session: String,
    pub target: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    #[serde(rename = "profilePictureUrl")]
    pub profile_picture_url: Option<String>,
    pub status: Option<String>,
}

/// Profile picture URL and about text of a number; 400 "Target is not registered".
#[utoipa::path(post, path = "/profile", tag = "message", request_body = ProfileRequest,
    responses((status = 200, body = Data<ProfileView>), (status = 400, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn profile(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<ProfileRequest>,
) -> ApiResult<Json<Data<ProfileView>>> {
    Messages::check_session(&user, &req.session)?;
    let target =
        Recipient::parse(&req.target, false).map_err(|_| ApiError::BadRequest("Target is not registered".into()))?;
    let p = state.messages.profile(&user, target).await?;
    Ok(data(ProfileView { profile_picture_url: p.picture_url, status: p.status }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupRequest {
    pub session: String,
    /// The group id (`120363…`) or JID (`120363…@g.us`).
    pub group: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupView {
    pub id: String,
    pub subject: String,
    pub description: Option<String>,
    pub participants: Vec<GroupMemberView>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMemberView {
    pub jid: String,
    pub phone: Option<String>,
    pub admin: bool,
}

/// Subject, description and members of a group the session belongs to.
#[utoipa::path(post, path = "/group", tag = "message", request_body = GroupRequest,
    responses((status = 200, body = Data<GroupView>), (status = 400, body = super::ErrorBody),
              (status = 409, description = "Session is not connected", body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn group(
    AuthUser(user): AuthUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<GroupRequest>,
) -> ApiResult<Json<Data<GroupView>>> {
    Messages::check_session(&user, &req.session)?;
    let group = Recipient::parse(&req.group, true).ok().filter(|g| g.jid().ends_with("@g.us")).ok_or_else(|| {
        ApiError::BadRequest("Invalid group field 'group' on json: a group id like 120363025246125486".into())
    })?;
    let g = state.messages.group(&user, group).await?;
    let participants =
        g.participants.into_iter().map(|m| GroupMemberView { jid: m.jid, phone: m.phone, admin: m.admin }).collect();
    Ok(data(GroupView { id: g.id, subject: g.subject, description: g.description, participants }))
}
