//! Browser-side calls to the REST API. Only compiled into the hydrated WASM bundle;
//! on the server the same functions exist but report that they cannot run there.

use crate::api::{LoginRequest, UserView};
#[cfg(feature = "hydrate")]
use serde::Deserialize;

/// Marks the UI's own requests so a 401 does not make the browser pop up its Basic-auth
/// dialog (the server then leaves out `WWW-Authenticate`).
pub const UI_HEADER: (&str, &str) = ("X-Requested-With", "wa-gateway-ui");

#[cfg(feature = "hydrate")]
#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[cfg(feature = "hydrate")]
#[derive(Deserialize)]
struct ErrorBody {
    message: String,
}

/// Logs in with the browser session cookie; the password never stays in JS state.
pub async fn login(req: LoginRequest) -> Result<UserView, String> {
    #[cfg(feature = "hydrate")]
    {
        let resp = gloo_net::http::Request::post("/auth/login")
            .header(UI_HEADER.0, UI_HEADER.1)
            .json(&req)
            .map_err(|e| e.to_string())?
            .send()
            .await
            .map_err(|e| e.to_string())?;
        decode(resp).await
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = req;
        Err("not available during server rendering".into())
    }
}

pub async fn logout() -> Result<(), String> {
    #[cfg(feature = "hydrate")]
    {
        gloo_net::http::Request::post("/auth/logout")
            .header(UI_HEADER.0, UI_HEADER.1)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }
    #[cfg(not(feature = "hydrate"))]
    Err("not available during server rendering".into())
}

/// The signed-in user, or `None` when the browser has no valid session.
pub async fn me() -> Result<Option<UserView>, String> {
    #[cfg(feature = "hydrate")]
    {
        let resp = gloo_net::http::Request::get("/auth/me")
            .header(UI_HEADER.0, UI_HEADER.1)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        if resp.status() == 401 {
            return Ok(None);
        }
        decode(resp).await.map(Some)
    }
    #[cfg(not(feature = "hydrate"))]
    Err("not available during server rendering".into())
}

#[cfg(feature = "hydrate")]
async fn decode<T: for<'de> Deserialize<'de>>(resp: gloo_net::http::Response) -> Result<T, String> {
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

/// Sends the browser to another page (a full load, so the new page renders fresh).
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(window) = web_sys::window() {
        let _ = window.location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}
