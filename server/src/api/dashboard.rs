//! The signed-in user's own things. So far: API tokens.

use super::{data, done, ApiJson, Data, Done, Id};
use crate::{auth::AuthUser, error::ApiResult, AppState};
use app::api::{CreateTokenRequest, CreatedToken, TokenView};
use axum::{
    extract::State,
    routing::{delete, get},
    Json, Router,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/tokens", get(list_tokens).post(create_token))
        .route("/dashboard/tokens/{id}", delete(revoke_token))
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
