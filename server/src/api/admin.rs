//! Admin-only user management: create, list, read, change password or session config,
//! delete. Handlers parse and delegate; the rules live in `users`.

use super::{data, done, ApiJson, Data, Done, Id};
use crate::{auth::AdminUser, error::ApiResult, AppState};
use app::api::{CreateUserRequest, SessionConfigRequest, SetPasswordRequest, UserView};
use axum::{
    extract::State,
    routing::{get, post, put},
    Json, Router,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", post(create_user).get(list_users))
        .route("/admin/users/{id}", get(get_user).delete(delete_user))
        .route("/admin/users/{id}/password", put(set_password))
        .route("/admin/users/{id}/session-config", put(set_session_config))
}

/// Creates a user; `session_name` defaults to the username.
#[utoipa::path(post, path = "/admin/users", tag = "admin", request_body = CreateUserRequest,
    responses((status = 200, body = Data<UserView>),
              (status = 400, description = "Invalid field, or \"Username already exists\"", body = super::ErrorBody),
              (status = 409, description = "Session name already in use", body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn create_user(
    _: AdminUser,
    State(state): State<AppState>,
    ApiJson(req): ApiJson<CreateUserRequest>,
) -> ApiResult<Json<Data<UserView>>> {
    state.users.create(req).await.map(data)
}

/// Lists all users with their session name, callback URL and last known status.
#[utoipa::path(get, path = "/admin/users", tag = "admin",
    responses((status = 200, body = Data<Vec<UserView>>)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn list_users(_: AdminUser, State(state): State<AppState>) -> ApiResult<Json<Data<Vec<UserView>>>> {
    state.users.list().await.map(data)
}

#[utoipa::path(get, path = "/admin/users/{id}", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = Data<UserView>), (status = 404, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn get_user(_: AdminUser, State(state): State<AppState>, Id(id): Id) -> ApiResult<Json<Data<UserView>>> {
    state.users.get(id).await.map(data)
}

/// Deletes a user with its tokens and logins; an admin cannot delete itself.
#[utoipa::path(delete, path = "/admin/users/{id}", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = Data<Done>), (status = 404, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn delete_user(
    AdminUser(admin): AdminUser,
    State(state): State<AppState>,
    Id(id): Id,
) -> ApiResult<Json<Data<Done>>> {
    state.users.delete(id, admin.id).await?;
    Ok(done("User deleted"))
}

/// Sets a user's password (the admin's own included); ends that user's browser logins.
#[utoipa::path(put, path = "/admin/users/{id}/password", tag = "admin", request_body = SetPasswordRequest,
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = Data<UserView>), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn set_password(
    _: AdminUser,
    State(state): State<AppState>,
    Id(id): Id,
    ApiJson(req): ApiJson<SetPasswordRequest>,
) -> ApiResult<Json<Data<UserView>>> {
    state.users.set_password(id, &req.password).await.map(data)
}

/// Changes only the keys present: `session_name`, and `callback_url` (`null` clears it).
#[utoipa::path(put, path = "/admin/users/{id}/session-config", tag = "admin", request_body = SessionConfigRequest,
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = Data<UserView>), (status = 400, body = super::ErrorBody),
              (status = 404, body = super::ErrorBody),
              (status = 409, description = "Name in use, or the session is running", body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn set_session_config(
    _: AdminUser,
    State(state): State<AppState>,
    Id(id): Id,
    ApiJson(req): ApiJson<SessionConfigRequest>,
) -> ApiResult<Json<Data<UserView>>> {
    state.users.set_session_config(id, req).await.map(data)
}
