//! Browser-side calls to the REST API and the live websocket. Only the hydrated WASM
//! bundle runs them; during server rendering they report that they cannot run.

use crate::api::{LoginRequest, UserView};
use serde::{de::DeserializeOwned, Serialize};

/// Marks the UI's own requests so a 401 does not make the browser pop up its Basic-auth
/// dialog (the server then leaves out `WWW-Authenticate`).
pub const UI_HEADER: (&str, &str) = ("X-Requested-With", "wa-gateway-ui");

#[cfg(feature = "hydrate")]
#[derive(serde::Deserialize)]
struct Envelope<T> {
    data: T,
}

#[cfg(feature = "hydrate")]
#[derive(serde::Deserialize)]
struct ErrorBody {
    message: String,
}

/// Calls the API with the session cookie; `Ok(data)` or `Err(server message)`.
pub async fn call<T: DeserializeOwned, B: Serialize>(method: &str, url: &str, body: Option<&B>) -> Result<T, String> {
    #[cfg(feature = "hydrate")]
    {
        use gloo_net::http::{Method, RequestBuilder};
        let method = match method {
            "GET" => Method::GET,
            "PUT" => Method::PUT,
            "DELETE" => Method::DELETE,
            _ => Method::POST,
        };
        let builder = RequestBuilder::new(url).method(method).header(UI_HEADER.0, UI_HEADER.1);
        let request = match body {
            Some(b) => builder.json(b).map_err(|e| e.to_string())?,
            None => builder.build().map_err(|e| e.to_string())?,
        };
        let resp = request.send().await.map_err(|e| e.to_string())?;
        if resp.ok() {
            resp.json::<Envelope<T>>().await.map(|e| e.data).map_err(|e| e.to_string())
        } else {
            let status = resp.status();
            match resp.json::<ErrorBody>().await {
                Ok(body) => Err(body.message),
                Err(_) => Err(format!("Request failed ({status})")),
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = (method, url, body);
        Err("not available during server rendering".into())
    }
}

pub async fn get<T: DeserializeOwned>(url: &str) -> Result<T, String> {
    call::<T, ()>("GET", url, None).await
}

/// Logs in with the browser session cookie; the password never stays in JS state.
pub async fn login(req: LoginRequest) -> Result<UserView, String> {
    call("POST", "/auth/login", Some(&req)).await
}

pub async fn logout() -> Result<(), String> {
    call::<serde_json::Value, ()>("POST", "/auth/logout", None).await.map(|_| ())
}

/// The signed-in user, or `None` when the browser has no valid session.
pub async fn me() -> Result<Option<UserView>, String> {
    match get::<UserView>("/auth/me").await {
        Ok(user) => Ok(Some(user)),
        Err(m) if m == "Unauthorized" => Ok(None),
        Err(m) => Err(m),
    }
}

/// Sends the browser to another page (a full load, so the new page renders fresh).
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Follows `/ws` for as long as the page lives, reconnecting after a drop, and hands
/// every JSON event to `on_event`. `on_open` runs after each (re)connect.
pub fn follow_live(on_event: impl Fn(serde_json::Value) + 'static, on_open: impl Fn() + 'static) {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        use futures::StreamExt;
        use gloo_net::websocket::{futures::WebSocket, Message};
        let mut delay_ms = 500;
        loop {
            let Some(location) = web_sys::window().map(|w| w.location()) else { return };
            let scheme = if location.protocol().unwrap_or_default() == "https:" { "wss" } else { "ws" };
            let url = format!("{scheme}://{}/ws", location.host().unwrap_or_default());
            if let Ok(mut socket) = WebSocket::open(&url) {
                let mut opened = false;
                while let Some(Ok(message)) = socket.next().await {
                    if !opened {
                        opened = true;
                        delay_ms = 500;
                        on_open();
                    }
                    if let Message::Text(text) = message {
                        if let Ok(value) = serde_json::from_str(&text) {
                            on_event(value);
                        }
                    }
                }
            }
            gloo_timers::future::TimeoutFuture::new(delay_ms).await;
            delay_ms = (delay_ms * 2).min(10_000);
        }
    });
    #[cfg(not(feature = "hydrate"))]
    let _ = (on_event, on_open);
}
