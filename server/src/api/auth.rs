//! Browser login and logout (HttpOnly cookie), the caller's own account, and its password.

use super::{data, done, ApiJson, Data, Done};
use crate::{
    auth::{AuthUser, ClientIp},
    error::ApiResult,
    users::view,
    AppState,
};
use app::api::{ChangeOwnPasswordRequest, LoginRequest, UserView};
use axum::{
    extract::State,
    http::{header, HeaderMap},
    response::{AppendHeaders, IntoResponse},
    routing::{get, post, put},
    Json, Router,
};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/login", post(login))
        .route("/auth/logout", post(logout))
        .route("/auth/me", get(me))
        .route("/auth/password", put(change_password))
}

/// Signs a browser in and sets the `wa_session` cookie (HttpOnly, SameSite=Strict).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = Data<UserView>), (status = 401, body = super::ErrorBody),
              (status = 429, description = "Too many failed attempts from this client")))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    ApiJson(req): ApiJson<LoginRequest>,
) -> ApiResult<impl IntoResponse> {
    let (user, cookie) = state.auth.login(&req.username, &req.password, ip).await?;
    Ok((AppendHeaders([(header::SET_COOKIE, cookie)]), data(view(&user))))
}

/// Ends the browser login and clears its cookie.
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    responses((status = 200, body = Data<Done>)))]
pub async fn logout(State(state): State<AppState>, headers: HeaderMap) -> ApiResult<impl IntoResponse> {
    let cookie = state.auth.logout(&headers).await?;
    Ok((AppendHeaders([(header::SET_COOKIE, cookie)]), done("Logged out")))
}

/// The signed-in user.
#[utoipa::path(get, path = "/auth/me", tag = "auth",
    responses((status = 200, body = Data<UserView>), (status = 401, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn me(AuthUser(user): AuthUser) -> Json<Data<UserView>> {
    data(view(&user))
}

/// Changes the caller's own password (the current one is required).
#[utoipa::path(put, path = "/auth/password", tag = "auth", request_body = ChangeOwnPasswordRequest,
    responses((status = 200, body = Data<UserView>), (status = 400, body = super::ErrorBody),
              (status = 401, body = super::ErrorBody)),
    security(("basic" = []), ("bearer" = []), ("cookie" = [])))]
pub async fn change_password(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    AuthUser(user): AuthUser,
    ApiJson(req): ApiJson<ChangeOwnPasswordRequest>,
) -> ApiResult<Json<Data<UserView>>> {
    state.users.parse_password(&req.new_password, "new_password")?;
    state.auth.check_password(&user.username, &req.current_password, ip).await?;
    state.users.set_password(user.id, &req.new_password).await.map(data)
}
