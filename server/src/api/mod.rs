//! The REST API: one router per route group, merged here, plus the extractors that turn
//! bad input into our JSON errors (never axum's plain-text rejections).

pub mod admin;
pub mod auth;
pub mod dashboard;
pub mod docs;
pub mod message;
pub mod session;
pub mod sim;
pub mod system;
pub mod webhooks;

use crate::{error::ApiError, AppState};
use axum::{
    body::Bytes,
    extract::{FromRequest, FromRequestParts, Path, Request},
    http::{header, request::Parts, StatusCode},
    Json, Router,
};
use serde::{de::DeserializeOwned, Serialize};
use utoipa::ToSchema;

pub fn router(simulated: bool, max_media_bytes: usize) -> Router<AppState> {
    let api = Router::new()
        .merge(system::router())
        .merge(auth::router())
        .merge(admin::router())
        .merge(dashboard::router())
        .merge(session::router())
        .merge(webhooks::router())
        .merge(message::router(max_media_bytes))
        .merge(crate::live::router())
        .merge(docs::router());
    // The simulator's control routes exist only when it is the engine.
    if simulated {
        api.merge(sim::router())
    } else {
        api
    }
}

/// The success envelope: `{"data": …}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Data<T> {
    pub data: T,
}

pub fn data<T: Serialize>(value: T) -> Json<Data<T>> {
    Json(Data { data: value })
}

/// A short confirmation for actions that have nothing else to return.
#[derive(Debug, Serialize, ToSchema)]
pub struct Done {
    pub message: String,
}

pub fn done(message: &str) -> Json<Data<Done>> {
    data(Done { message: message.to_owned() })
}

/// The error envelope, for the OpenAPI document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub message: String,
}

/// A JSON body that must have a JSON content type; every failure names the problem
/// (and, for a wrong type, the field) in a 400, or 413 when too large.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .is_some_and(|m| m == "application/json" || (m.starts_with("application/") && m.ends_with("+json")));
        if !is_json {
            return Err(ApiError::BadRequest(
                "Expected a JSON body with header 'Content-Type: application/json'".into(),
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge("Request body is too large".into())
            } else {
                ApiError::BadRequest(format!("Could not read the request body: {}", e.body_text()))
            }
        })?;
        parse_json(&bytes).map(Self)
    }
}

pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        ApiError::BadRequest(if inner.is_syntax() || inner.is_eof() {
            format!("Malformed JSON body: {inner}")
        } else if path == "." {
            format!("Invalid JSON body: {inner}")
        } else {
            format!("Invalid field '{path}' on json: {inner}")
        })
    })?;
    de.end().map_err(|e| ApiError::BadRequest(format!("Malformed JSON body: {e}")))?;
    Ok(value)
}

/// `?page=&per_page=`: a 1-based page of 1 to 200 items (50 unless given).
#[derive(Debug, Clone, Copy, serde::Deserialize, utoipa::IntoParams)]
pub struct Paging {
    /// 1-based page number.
    #[serde(default = "first_page")]
    pub page: i64,
    /// Items per page, 1 to 200 (default 50).
    #[serde(default = "default_per_page")]
    pub per_page: i64,
}

fn first_page() -> i64 {
    1
}

fn default_per_page() -> i64 {
    50
}

impl Paging {
    pub fn offset(&self) -> i64 {
        (self.page - 1) * self.per_page
    }
}

/// A query string as `T`, or a 400 that says what is wrong with it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(q)| Self(q))
            .map_err(|e| ApiError::BadRequest(format!("Invalid query: {}", e.body_text())))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Paging {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let ApiQuery(paging) = ApiQuery::<Paging>::from_request_parts(parts, state).await?;
        if paging.page < 1 || !(1..=200).contains(&paging.per_page) {
            return Err(ApiError::BadRequest("Invalid query: page must be ≥ 1 and per_page 1 to 200".into()));
        }
        Ok(paging)
    }
}

/// A positive integer id from the path; anything else is a 400 naming it.
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::BadRequest("Invalid id in path".into()))?;
        raw.parse::<i64>().ok().filter(|n| *n > 0).map(Self).ok_or_else(|| {
            let shown: String = raw.chars().take(40).collect();
            ApiError::BadRequest(format!("Invalid id '{shown}' in path: expected a positive integer"))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::api::CreateUserRequest;

    fn message(e: ApiError) -> String {
        e.to_string()
    }

    #[test]
    fn json_errors_say_what_is_wrong() {
        let m = message(parse_json::<CreateUserRequest>(b"{\"username\":").unwrap_err());
        assert!(m.starts_with("Malformed JSON body"), "{m}");
        let m = message(parse_json::<CreateUserRequest>(br#"{"username":5,"password":"x"}"#).unwrap_err());
        assert!(m.starts_with("Invalid field 'username' on json"), "{m}");
        let m = message(parse_json::<CreateUserRequest>(br#"{"password":"x"}"#).unwrap_err());
        assert!(m.contains("missing field `username`"), "{m}");
        let m = message(parse_json::<CreateUserRequest>(br#"{"username":"a","password":"b"} x"#).unwrap_err());
        assert!(m.starts_with("Malformed JSON body"), "{m}");
    }
}
