//! The browser side of the server: server-rendered Leptos pages, the built site assets
//! (wasm, JS, CSS, public/), and `/` sending each visitor to the right page.

use crate::{auth::ClientIp, error::ApiError, AppState};
use axum::{
    extract::State,
    handler::HandlerWithoutStateExt,
    http::HeaderMap,
    response::{IntoResponse, Redirect},
    routing::get,
    Router,
};
use leptos_axum::{generate_route_list, LeptosRoutes};
use tower_http::services::ServeDir;

pub fn router(state: &AppState) -> Router<AppState> {
    let routes = generate_route_list(app::App);
    let options = state.leptos.clone();
    let site = ServeDir::new(state.config.site_root.clone())
        .call_fallback_on_method_not_allowed(true)
        .not_found_service(route_not_found.into_service());
    Router::new()
        .route("/", get(start_page))
        .leptos_routes(state, routes, move || app::shell(options.clone()))
        .fallback_service(site)
}

async fn route_not_found() -> ApiError {
    ApiError::RouteNotFound
}

/// `/` → the admin panel, the dashboard, or the login page, by who is signed in.
async fn start_page(State(state): State<AppState>, ClientIp(ip): ClientIp, headers: HeaderMap) -> impl IntoResponse {
    match state.auth.authenticate(&headers, ip).await {
        Ok(user) if user.is_admin => Redirect::to("/admin"),
        Ok(_) => Redirect::to("/dashboard"),
        Err(_) => Redirect::to("/login"),
    }
}
