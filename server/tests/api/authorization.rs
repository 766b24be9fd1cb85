//! The authorization matrix: anonymous, user A, user B's data, admin × every route.
//! A can never see or change B.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

struct Case {
    method: Method,
    path: String,
    body: Option<Value>,
    anonymous: u16,
    user_a: u16,
    admin: u16,
}

fn case(method: Method, path: impl Into<String>, body: Option<Value>, anonymous: u16, user_a: u16, admin: u16) -> Case {
    Case { method, path: path.into(), body, anonymous, user_a, admin }
}

#[tokio::test]
async fn every_route_by_caller() {
    let app = TestApp::spawn().await;
    let a_id = app.create_user("alice", "alice-pw").await;
    let b_id = app.create_user("bob", "bob-pw").await;
    let a = basic("alice", "alice-pw");
    let b = basic("bob", "bob-pw");
    let (b_token_id, b_token) = app.create_token(&b).await;
    let victim_for_admin = app.create_user("victim", "victim-pw").await;
    let before_b = app.get(&format!("/admin/users/{b_id}"), &admin()).await.body;

    let cases = [
        case(Method::GET, "/health", None, 200, 200, 200),
        case(Method::GET, "/api-docs/openapi.json", None, 200, 200, 200),
        case(Method::GET, "/auth/me", None, 401, 200, 200),
        case(Method::GET, "/admin/users", None, 401, 403, 200),
        case(Method::POST, "/admin/users", Some(json!({"username": "newbie", "password": "newbie-pw"})), 401, 403, 200),
        case(Method::GET, format!("/admin/users/{b_id}"), None, 401, 403, 200),
        case(Method::PUT, format!("/admin/users/{b_id}/password"), Some(json!({"password": "bob-pw"})), 401, 403, 200),
        case(
            Method::PUT,
            format!("/admin/users/{b_id}/session-config"),
            Some(json!({"callback_url": "https://b.example/hook"})),
            401,
            403,
            200,
        ),
        case(Method::DELETE, format!("/admin/users/{victim_for_admin}"), None, 401, 403, 200),
        case(Method::GET, "/dashboard/tokens", None, 401, 200, 200),
        case(Method::POST, "/dashboard/tokens", Some(json!({"name": "mine"})), 401, 200, 200),
        // B's token is B's alone: neither A nor the admin can revoke it through this route.
        case(Method::DELETE, format!("/dashboard/tokens/{b_token_id}"), None, 401, 404, 404),
    ];
    for c in &cases {
        for (who, auth, expected) in [("anonymous", Auth::None, c.anonymous), ("alice", a.clone(), c.user_a)] {
            let r = app.call(c.method.clone(), &c.path, &auth, c.body.clone()).await;
            assert_eq!(r.status.as_u16(), expected, "{who} {} {}: {}", c.method, c.path, r.body);
            if expected == 403 {
                assert_eq!(r.message(), "Admin access required");
            }
            if expected == 401 {
                assert_eq!(r.headers["www-authenticate"], "Basic realm=\"WA Gateway\"");
            }
        }
    }
    // B is untouched by everything A tried.
    assert_eq!(app.get(&format!("/admin/users/{b_id}"), &admin()).await.body, before_b);
    assert_eq!(app.get("/auth/me", &Auth::Bearer(b_token.clone())).await.status, StatusCode::OK);
    let a_tokens = app.get("/dashboard/tokens", &a).await.body;
    assert!(a_tokens["data"].as_array().unwrap().iter().all(|t| t["id"] != b_token_id), "A sees only its own tokens");
    let me = app.get("/auth/me", &a).await;
    assert_eq!(me.body["data"]["id"], a_id);

    for c in &cases {
        let r = app.call(c.method.clone(), &c.path, &admin(), c.body.clone()).await;
        assert_eq!(r.status.as_u16(), c.admin, "admin {} {}: {}", c.method, c.path, r.body);
    }
    assert_eq!(app.get("/auth/me", &Auth::Bearer(b_token)).await.status, StatusCode::OK);
    let after_b = app.get(&format!("/admin/users/{b_id}"), &admin()).await.body;
    assert_eq!(after_b["data"]["callback_url"], "https://b.example/hook");
}

#[tokio::test]
async fn bearer_and_cookie_callers_get_the_same_answers_as_basic() {
    let app = TestApp::spawn().await;
    app.create_user("alice", "alice-pw").await;
    let (_, user_token) = app.create_token(&basic("alice", "alice-pw")).await;
    let (_, admin_token) = app.create_token(&admin()).await;
    assert_eq!(app.get("/admin/users", &Auth::Bearer(user_token.clone())).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/admin/users", &Auth::Bearer(admin_token)).await.status, StatusCode::OK);
    assert_eq!(app.get("/dashboard/tokens", &Auth::Bearer(user_token)).await.status, StatusCode::OK);
}
