//! The real whatsapp-rust engine without a network: its WebSocket is pointed at a closed
//! port on 127.0.0.1 and the WhatsApp Web version is pinned (so nothing is looked up
//! over HTTP). Nothing here reaches WhatsApp. Also the contract both engines share where
//! no phone is needed.

use crate::helpers::{basic, offline, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use server::config::Config;
use std::time::Duration;

fn simulated(_: &mut Config) {}

async fn session_log(app: &TestApp, user_id: i64) -> Vec<String> {
    sqlx::query_scalar("SELECT COALESCE(detail, '') FROM session_events WHERE user_id = ? ORDER BY id")
        .bind(user_id)
        .fetch_all(&app.pool)
        .await
        .unwrap()
}

/// Nothing a test does may hang: every call gets a generous ceiling.
async fn within<T>(what: &str, f: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), f).await.unwrap_or_else(|_| panic!("{what} hung"))
}

#[tokio::test]
async fn without_network_a_start_reports_connecting_with_growing_retry_delays() {
    let app = TestApp::spawn_with(offline).await;
    let id = app.create_user("rita", "secret12").await;
    let rita = basic("rita", "secret12");
    let mut ws = app.ws(&rita).await;

    let r = within("start-session", app.post("/dashboard/start-session", &rita)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["status"], "connecting");
    let message = r.body["data"]["message"].as_str().unwrap();
    assert!(message.contains("cannot reach WhatsApp"), "the reason is given: {message}");

    let first = ws.wait_for("attempt 1", |e| e["attempt"] == 1).await;
    assert_eq!(first["status"], "connecting");
    assert_eq!(first["retry_in"], 1);
    assert!(first["reason"].as_str().unwrap().contains("attempt 1, retry in 1 s"), "{first}");
    let fourth = ws.wait_for("attempt 4", |e| e["attempt"] == 4).await;
    assert!(fourth["retry_in"].as_u64().unwrap() > 1, "backoff grows: {fourth}");

    let info = app.get("/dashboard/session-info", &rita).await;
    assert_eq!(info.body["data"]["status"], "connecting");
    assert!(info.body["data"]["reason"].as_str().unwrap().starts_with("connecting: attempt"), "{}", info.body);
    assert!(app.data_dir().join(format!("sessions/{id}/whatsapp.db")).exists(), "one store per session");

    // Each attempt goes to /ws, but the session log records the streak once.
    let log = session_log(&app, id).await;
    assert_eq!(log.iter().filter(|d| d.contains("attempt")).count(), 1, "{log:?}");
    // A status event for webhooks only when the wire status changes (here: never).
    assert!(app.outbox("session").await.iter().all(|p| p["status"] == "connecting"));
}

#[tokio::test]
async fn shutdown_in_backoff_is_prompt_and_a_stored_session_resumes_after_restart() {
    let app = TestApp::spawn_with(offline).await;
    let id = app.create_user("sam", "secret12").await;
    let sam = basic("sam", "secret12");
    let r = app.post("/dashboard/start-session", &sam).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut ws = app.ws(&sam).await;
    ws.wait_for("attempt 3", |e| e["attempt"] == 3).await;
    // Pretend the phone had been paired: the gateway must resume this session on boot.
    sqlx::query("UPDATE users SET session_linked = 1 WHERE id = ?").bind(id).execute(&app.pool).await.unwrap();

    let app = within("a graceful restart during backoff", app.restart()).await;
    assert!(app.data_dir().join(format!("sessions/{id}/whatsapp.db")).exists(), "stop keeps the keys");
    let mut ws = app.ws(&sam).await;
    let resumed = ws.wait_for("resumed and retrying", |e| e["attempt"] == 2).await;
    assert_eq!(resumed["status"], "connecting");
    let log = session_log(&app, id).await;
    assert!(log.iter().filter(|d| d.contains("attempt")).count() <= 2, "no error storm: {log:?}");

    // Logout while offline: best effort towards WhatsApp, the store is deleted.
    let r = within("logout", app.post("/dashboard/disconnect-session", &sam)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!app.data_dir().join(format!("sessions/{id}")).exists(), "logout removes the store");
    let info = app.get("/dashboard/session-info", &sam).await;
    assert_eq!(info.body["data"]["status"], "logged_out", "{}", info.body);
}

#[tokio::test]
async fn deleting_a_user_removes_the_real_engine_store() {
    let app = TestApp::spawn_with(offline).await;
    let id = app.create_user("tess", "secret12").await;
    let r = app.post("/dashboard/start-session", &basic("tess", "secret12")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(app.data_dir().join(format!("sessions/{id}/whatsapp.db")).exists());
    let r =
        within("delete", app.call(Method::DELETE, &format!("/admin/users/{id}"), &crate::helpers::admin(), None)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(!app.data_dir().join(format!("sessions/{id}")).exists());
}

#[tokio::test]
async fn pair_code_without_network_explains_instead_of_hanging() {
    let app = TestApp::spawn_with(offline).await;
    app.create_user("uma", "secret12").await;
    let r = within(
        "pair-code",
        app.call(
            Method::POST,
            "/dashboard/pair-code",
            &basic("uma", "secret12"),
            Some(json!({"phone": "+62 812 3456 7890"})),
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    assert!(r.message().contains("cannot reach WhatsApp"), "{}", r.body);
}

/// What both engines must do alike before any phone is involved.
async fn contract(configure: fn(&mut Config), waiting: &str) {
    let app = TestApp::spawn_with(configure).await;
    let id = app.create_user("vic", "secret12").await;
    let vic = basic("vic", "secret12");

    // Sends before linking: the API's "not connected" error, from either engine.
    let send = json!({"session": "vic", "to": "+62 812 1111 2222", "text": "hi"});
    let r = app.call(Method::POST, "/message/send-text", &vic, Some(send.clone())).await;
    assert_eq!((r.status, r.message()), (StatusCode::CONFLICT, "Session is not connected"));

    let r = within("start", app.post("/dashboard/start-session", &vic)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["status"], waiting, "{}", r.body);
    // A second start is idempotent: same session, no second client.
    let again = within("start again", app.post("/dashboard/start-session", &vic)).await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.body["data"]["session_name"], "vic");
    let listed: Value = app.get("/session", &vic).await.body;
    assert_eq!(listed["data"]["session"], "vic", "{listed}");

    let r = app.call(Method::POST, "/message/send-text", &vic, Some(send)).await;
    assert_eq!((r.status, r.message()), (StatusCode::CONFLICT, "Session is not connected"));
    let r =
        app.call(Method::POST, "/profile", &vic, Some(json!({"session": "vic", "target": "+62 812 1111 2222"}))).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);

    // Stop (logout) and start again: a fresh client each time.
    let r = within("logout", app.post("/dashboard/disconnect-session", &vic)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(app.get("/dashboard/session-info", &vic).await.body["data"]["status"], "logged_out");
    let r = within("start after logout", app.post("/dashboard/start-session", &vic)).await;
    assert_eq!(r.body["data"]["status"], waiting, "{}", r.body);
    let events = session_log(&app, id).await;
    assert!(events.iter().any(|d| d == "logged out by the user"), "{events:?}");
}

#[tokio::test]
async fn contract_simulated_engine() {
    contract(simulated, "qr").await;
}

#[tokio::test]
async fn contract_real_engine_offline() {
    contract(offline, "connecting").await;
}
