//! The OpenAPI 3 document of every REST route, and a small self-contained page that
//! renders it (no CDN: the gateway may run where nothing else is reachable).

use super::{admin, auth, dashboard, message, session, system, webhooks};
use crate::AppState;
use axum::{response::Html, routing::get, Json, Router};
use utoipa::{
    openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme},
    Modify, OpenApi,
};

#[derive(OpenApi)]
#[openapi(
    info(title = "WA Gateway", description = "Self-hosted multi-user WhatsApp HTTP gateway. \
        Success bodies are `{\"data\": …}`, errors `{\"message\": …}`."),
    paths(
        system::health, system::ready, system::metrics,
        auth::login, auth::logout, auth::me, auth::change_password,
        admin::create_user, admin::list_users, admin::get_user, admin::delete_user,
        admin::set_password, admin::set_session_config,
        dashboard::list_tokens, dashboard::create_token, dashboard::revoke_token,
        dashboard::session_info, dashboard::start_session, dashboard::disconnect_session,
        dashboard::pair_code, dashboard::set_callback, dashboard::events,
        session::start, session::start_page, session::list, session::logout,
        webhooks::secret, webhooks::rotate_secret, webhooks::auth, webhooks::set_auth,
        webhooks::deliveries, webhooks::user_deliveries, webhooks::delivery, webhooks::resend,
        webhooks::resend_failed,
        message::send_text, message::send_text_get, message::send_media, message::send_location, message::profile,
        message::group,
    ),
    modifiers(&Security),
    tags((name = "system"), (name = "auth"), (name = "admin"), (name = "dashboard"), (name = "session"), (name = "webhooks"), (name = "message"))
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(crate::auth::SESSION_COOKIE))),
        );
    }
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api-docs/openapi.json", get(|| async { Json(ApiDoc::openapi()) }))
        .route("/api-docs", get(|| async { Html(DOCS_PAGE) }))
}

const DOCS_PAGE: &str = r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>WA Gateway API</title>
<style>
body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem;color:#1d2521}
.op{border:1px solid #cfd8d3;border-radius:8px;margin:.6rem 0;padding:.6rem .9rem}
.m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}
code,pre{background:#f1f4f2;border-radius:4px;padding:.1rem .3rem}pre{padding:.6rem;overflow:auto}
</style></head><body>
<h1>WA Gateway API</h1>
<p>Machine-readable: <a href="/api-docs/openapi.json">/api-docs/openapi.json</a> (OpenAPI 3).</p>
<div id="ops">Loading…</div>
<script>
fetch('/api-docs/openapi.json').then(r=>r.json()).then(doc=>{
  const root=document.getElementById('ops');root.textContent='';
  for(const [path,item] of Object.entries(doc.paths)){
    for(const [method,op] of Object.entries(item)){
      const d=document.createElement('details');d.className='op';
      const s=document.createElement('summary');
      s.innerHTML='<span class="m"></span><code></code> <span></span>';
      s.children[0].textContent=method;s.children[1].textContent=path;
      s.children[2].textContent=op.summary||'';
      d.appendChild(s);
      const pre=document.createElement('pre');
      pre.textContent=JSON.stringify({description:op.description,requestBody:op.requestBody,responses:op.responses},null,2);
      d.appendChild(pre);root.appendChild(d);
    }
  }
});
</script></body></html>"#;
