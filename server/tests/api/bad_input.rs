//! Bad input gets a clear 4xx JSON message naming the problem, never a 500, and leaves
//! the database exactly as it was.

use crate::helpers::*;
use reqwest::{Method, StatusCode};

struct Bad {
    method: Method,
    path: &'static str,
    content_type: Option<&'static str>,
    body: String,
    status: u16,
    message: &'static str,
}

fn bad(method: Method, path: &'static str, body: &str, status: u16, message: &'static str) -> Bad {
    Bad { method, path, content_type: Some("application/json"), body: body.into(), status, message }
}

#[tokio::test]
async fn bad_requests_are_named_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.create_user("taken", "taken-pw").await; // id 2
    app.create_user("other", "other-pw").await; // id 3
    let huge = format!(r#"{{"username":"big","password":"{}"}}"#, "x".repeat(100 * 1024));
    use Method as M;
    let cases = vec![
        Bad {
            content_type: None,
            ..bad(M::POST, "/admin/users", r#"{"username":"nc","password":"nc-pass"}"#, 400, "Expected a JSON body")
        },
        Bad { content_type: Some("text/plain"), ..bad(M::POST, "/admin/users", "{}", 400, "Expected a JSON body") },
        bad(M::POST, "/admin/users", r#"{"username": "x", "#, 400, "Malformed JSON body"),
        bad(M::POST, "/admin/users", "", 400, "Malformed JSON body"),
        bad(M::POST, "/admin/users", "[]", 400, "Invalid JSON body"),
        bad(
            M::POST,
            "/admin/users",
            r#"{"username": 5, "password": "abcdef"}"#,
            400,
            "Invalid field 'username' on json",
        ),
        bad(M::POST, "/admin/users", r#"{"username": "okname"}"#, 400, "Invalid JSON body: missing field `password`"),
        bad(
            M::POST,
            "/admin/users",
            r#"{"username": "okname", "password": "abcdef", "role": "admin"}"#,
            400,
            "unknown field `role`",
        ),
        bad(
            M::POST,
            "/admin/users",
            r#"{"username": "a", "password": "abcdef"}"#,
            400,
            "Invalid username field 'username' on json",
        ),
        bad(
            M::POST,
            "/admin/users",
            r#"{"username": "../etc", "password": "abcdef"}"#,
            400,
            "Invalid username field 'username' on json",
        ),
        bad(
            M::POST,
            "/admin/users",
            r#"{"username": "okname", "password": "12345"}"#,
            400,
            "Invalid password field 'password' on json",
        ),
        bad(
            M::POST,
            "/admin/users",
            r#"{"username": "okname", "password": "abcdef", "session_name": "x y"}"#,
            400,
            "Invalid session name field 'session_name' on json",
        ),
        bad(
            M::POST,
            "/admin/users",
            r#"{"username": "okname", "password": "abcdef", "callback_url": "ftp://x.y"}"#,
            400,
            "Invalid url field 'callback_url' on json",
        ),
        bad(M::POST, "/admin/users", r#"{"username": "taken", "password": "abcdef"}"#, 400, "Username already exists"),
        bad(M::POST, "/admin/users", r#"{"username": "TAKEN", "password": "abcdef"}"#, 400, "Username already exists"),
        bad(
            M::POST,
            "/admin/users",
            r#"{"username": "okname", "password": "abcdef", "session_name": "other"}"#,
            409,
            "Session name 'other' is already in use",
        ),
        bad(M::POST, "/admin/users", &huge, 413, "Request body is too large"),
        bad(M::PUT, "/admin/users/abc/password", r#"{"password": "abcdef"}"#, 400, "Invalid id 'abc' in path"),
        bad(M::PUT, "/admin/users/0/password", r#"{"password": "abcdef"}"#, 400, "Invalid id '0' in path"),
        bad(M::PUT, "/admin/users/99999999999999999999/password", r#"{"password": "abcdef"}"#, 400, "Invalid id"),
        bad(M::PUT, "/admin/users/999/password", r#"{"password": "abcdef"}"#, 404, "User not found"),
        bad(M::PUT, "/admin/users/2/password", r#"{"password": ""}"#, 400, "Invalid password field 'password' on json"),
        bad(M::PUT, "/admin/users/2/password", r#"{"password": null}"#, 400, "Invalid field 'password' on json"),
        bad(
            M::PUT,
            "/admin/users/2/session-config",
            r#"{"session_name": "no"}"#,
            400,
            "Invalid session name field 'session_name' on json",
        ),
        bad(
            M::PUT,
            "/admin/users/2/session-config",
            r#"{"callback_url": 5}"#,
            400,
            "Invalid field 'callback_url' on json",
        ),
        bad(
            M::PUT,
            "/admin/users/2/session-config",
            r#"{"callback_url": "notaurl"}"#,
            400,
            "Invalid url field 'callback_url' on json",
        ),
        bad(
            M::PUT,
            "/admin/users/2/session-config",
            r#"{"callback_url": "javascript:alert(1)"}"#,
            400,
            "Invalid url field 'callback_url' on json",
        ),
        bad(
            M::PUT,
            "/admin/users/2/session-config",
            r#"{"session_name": "other"}"#,
            409,
            "Session name 'other' is already in use",
        ),
        bad(M::PUT, "/admin/users/2/session-config", r#"{"session_name": "OTHER"}"#, 409, "already in use"),
        bad(
            M::PUT,
            "/admin/users/2/session-config",
            r#"{"session_name": "fine-name", "callback_url": "bad"}"#,
            400,
            "Invalid url field 'callback_url' on json",
        ),
        bad(M::PUT, "/admin/users/999/session-config", r#"{"session_name": "fine-name"}"#, 404, "User not found"),
        bad(M::PUT, "/admin/users/2/session-config", r#"{"callback": "https://a.b"}"#, 400, "unknown field `callback`"),
        bad(M::DELETE, "/admin/users/1", "", 400, "You cannot delete your own account"),
        bad(M::DELETE, "/admin/users/999", "", 404, "User not found"),
        bad(M::DELETE, "/admin/users/-4", "", 400, "Invalid id"),
        bad(M::POST, "/dashboard/tokens", r#"{"name": "   "}"#, 400, "Invalid name field 'name' on json"),
        bad(M::POST, "/dashboard/tokens", r#"{}"#, 400, "missing field `name`"),
        bad(M::DELETE, "/dashboard/tokens/12345", "", 404, "Token not found"),
        bad(M::PUT, "/auth/password", r#"{"current_password": "admin"}"#, 400, "missing field `new_password`"),
    ];
    let before = app.snapshot().await;
    for c in cases {
        let mut req = app.builder(c.method.clone(), c.path, &admin()).body(c.body.clone());
        if let Some(ct) = c.content_type {
            req = req.header("content-type", ct);
        }
        let r = app.send(req).await;
        assert_eq!(r.status.as_u16(), c.status, "{} {} {:.80}: {}", c.method, c.path, c.body, r.body);
        assert!(
            r.message().contains(c.message),
            "{} {} {:.80}: got {:?}, want {:?}",
            c.method,
            c.path,
            c.body,
            r.message(),
            c.message
        );
        assert_eq!(app.snapshot().await, before, "{} {} {:.80} changed the database", c.method, c.path, c.body);
    }
    let r = app
        .send(
            app.builder(Method::POST, "/auth/login", &Auth::None).header("content-type", "application/json").body("{"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

/// A running session keeps its name: renaming it would orphan the live engine client.
#[tokio::test]
async fn renaming_a_running_session_is_refused() {
    let app = TestApp::spawn().await;
    let id = app.create_user("runner", "runner-pw").await;
    sqlx::query("UPDATE users SET session_status = 'connected' WHERE id = ?")
        .bind(id)
        .execute(&app.pool)
        .await
        .unwrap();
    let path = format!("/admin/users/{id}/session-config");
    let r = app.call(Method::PUT, &path, &admin(), Some(serde_json::json!({"session_name": "renamed"}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.message(), "Session 'runner' is running; disconnect it before renaming");
    // The callback can still change, and re-stating the same name is not a rename.
    let r = app
        .call(
            Method::PUT,
            &path,
            &admin(),
            Some(serde_json::json!({"session_name": "runner", "callback_url": "http://127.0.0.1:9/x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
