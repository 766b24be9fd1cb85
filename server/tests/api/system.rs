//! Health, unknown routes, the OpenAPI document and the browser pages' plumbing.

use crate::helpers::*;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn health_is_ok_without_auth() {
    let app = TestApp::spawn().await;
    let r = app.get("/health", &Auth::None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body, serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let app = TestApp::spawn().await;
    for (method, path) in [(Method::GET, "/nope"), (Method::POST, "/nope"), (Method::GET, "/admin/users/2/nothing")] {
        let r = app.call(method, path, &admin(), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(r.body, serde_json::json!({"message": "Route not found"}));
        assert!(r.headers["content-type"].to_str().unwrap().starts_with("application/json"));
    }
    let r = app.call(Method::PATCH, "/admin/users", &admin(), None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.message(), "Method not allowed");
}

/// Every route the API serves must be in the OpenAPI document.
#[tokio::test]
async fn openapi_covers_every_route() {
    let app = TestApp::spawn().await;
    let r = app.get("/api-docs/openapi.json", &Auth::None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body["openapi"].as_str().unwrap().starts_with("3."));
    let routes = [
        ("get", "/health"),
        ("post", "/auth/login"),
        ("post", "/auth/logout"),
        ("get", "/auth/me"),
        ("put", "/auth/password"),
        ("get", "/admin/users"),
        ("post", "/admin/users"),
        ("get", "/admin/users/{id}"),
        ("delete", "/admin/users/{id}"),
        ("put", "/admin/users/{id}/password"),
        ("put", "/admin/users/{id}/session-config"),
        ("get", "/dashboard/tokens"),
        ("post", "/dashboard/tokens"),
        ("delete", "/dashboard/tokens/{id}"),
        ("get", "/ready"),
        ("get", "/metrics"),
        ("get", "/dashboard/session-info"),
        ("post", "/dashboard/start-session"),
        ("post", "/dashboard/disconnect-session"),
        ("post", "/dashboard/pair-code"),
        ("put", "/dashboard/callback"),
        ("get", "/dashboard/events"),
        ("post", "/session/start"),
        ("get", "/session/start"),
        ("get", "/session"),
        ("post", "/session/logout"),
        ("get", "/dashboard/webhook-secret"),
        ("post", "/dashboard/webhook-secret/rotate"),
        ("get", "/dashboard/webhook-auth"),
        ("put", "/dashboard/webhook-auth"),
        ("get", "/dashboard/deliveries"),
        ("get", "/dashboard/deliveries/{id}"),
        ("post", "/dashboard/deliveries/{id}/resend"),
        ("post", "/dashboard/deliveries/resend-failed"),
        ("get", "/admin/users/{id}/deliveries"),
        ("post", "/message/send-text"),
        ("get", "/message/send-text"),
        ("post", "/message/{kind}"),
        ("post", "/message/send-location"),
        ("post", "/profile"),
        ("post", "/group"),
    ];
    for (method, path) in routes {
        assert!(r.body["paths"][path][method].is_object(), "{method} {path} missing from OpenAPI");
    }
    let schemes = &r.body["components"]["securitySchemes"];
    for scheme in ["basic", "bearer", "cookie"] {
        assert!(schemes[scheme].is_object(), "{scheme}");
    }
    let page = app.client.get(app.url("/api-docs")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("/api-docs/openapi.json"));
}

#[tokio::test]
async fn pages_render_on_the_server_and_root_redirects_by_role() {
    let app = TestApp::spawn().await;
    for path in ["/login", "/admin", "/dashboard"] {
        let resp = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let html = resp.text().await.unwrap();
        assert!(html.contains("/pkg/wa-gateway.js"), "{path} lacks the hydration script");
        assert!(html.contains("WA Gateway"));
    }
    let location = |r: &Response| r.headers["location"].to_str().unwrap().to_owned();
    let r = app.get("/", &Auth::None).await;
    assert!(r.status.is_redirection());
    assert_eq!(location(&r), "/login");
    assert_eq!(location(&app.get("/", &admin()).await), "/admin");
    app.create_user("alice", "alice-pw").await;
    assert_eq!(location(&app.get("/", &basic("alice", "alice-pw")).await), "/dashboard");
}

#[tokio::test]
async fn ui_requests_get_no_basic_challenge() {
    let app = TestApp::spawn().await;
    let r = app.get("/auth/me", &Auth::None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers["www-authenticate"], "Basic realm=\"WA Gateway\"");
    let r =
        app.send(app.builder(Method::GET, "/auth/me", &Auth::None).header("X-Requested-With", "wa-gateway-ui")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.headers.get("www-authenticate").is_none());
}
