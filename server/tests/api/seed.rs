//! The seed changelog's curl examples that need no WhatsApp, as written there.

use crate::helpers::*;
use reqwest::{Method, StatusCode};

#[tokio::test]
async fn testing_section_create_then_configure_user_2() {
    let app = TestApp::spawn().await;
    // curl -u admin:admin -X POST http://localhost:5001/admin/users \
    //   -H "Content-Type: application/json" -d '{"username": "testuser", "password": "test123"}'
    let r = app
        .send(
            app.builder(Method::POST, "/admin/users", &admin())
                .header("Content-Type", "application/json")
                .body(r#"{"username": "testuser", "password": "test123"}"#),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let user = &r.body["data"];
    assert_eq!(user["id"], 2, "the first created user is id 2, as the seed assumes");
    assert_eq!(user["username"], "testuser");
    assert_eq!(user["session_name"], "testuser", "session name defaults to the username");
    assert_eq!(user["callback_url"], serde_json::Value::Null);
    assert_eq!(user["is_admin"], false);
    assert_eq!(user["status"], "disconnected");
    assert!(user["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(user.get("password").is_none() && user.get("password_hash").is_none());

    // curl -u admin:admin -X PUT http://localhost:5001/admin/users/2/session-config ... both keys
    let r = app
        .send(
            app.builder(Method::PUT, "/admin/users/2/session-config", &admin())
                .header("Content-Type", "application/json")
                .body(
                    r#"{
    "session_name": "testuser-whatsapp",
    "callback_url": "https://webhook.site/unique-id"
  }"#,
                ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["session_name"], "testuser-whatsapp");
    assert_eq!(r.body["data"]["callback_url"], "https://webhook.site/unique-id");

    // The user can read its own account with the seed's credentials.
    let me = app.get("/auth/me", &basic("testuser", "test123")).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["data"]["session_name"], "testuser-whatsapp");
}

#[tokio::test]
async fn migration_guide_sets_one_key_at_a_time() {
    let app = TestApp::spawn().await;
    let id = app.create_user("testuser", "test123").await;
    assert_eq!(id, 2);
    let put = |body: &'static str| {
        app.send(
            app.builder(Method::PUT, "/admin/users/2/session-config", &admin())
                .header("Content-Type", "application/json")
                .body(body),
        )
    };
    // Migration guide step 1: only the session name.
    let r = put(r#"{"session_name": "user-whatsapp"}"#).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["session_name"], "user-whatsapp");
    assert_eq!(r.body["data"]["callback_url"], serde_json::Value::Null);
    // Step 2: only the callback; the session name stays.
    let r = put(r#"{"callback_url": "https://api.example.com/webhook"}"#).await;
    assert_eq!(r.body["data"]["session_name"], "user-whatsapp");
    assert_eq!(r.body["data"]["callback_url"], "https://api.example.com/webhook");
    // null clears the callback; absent keys stay.
    let r = put(r#"{"callback_url": null}"#).await;
    assert_eq!(r.body["data"]["callback_url"], serde_json::Value::Null);
    assert_eq!(r.body["data"]["session_name"], "user-whatsapp");
    // null session name resets it to the username.
    let r = put(r#"{"session_name": null}"#).await;
    assert_eq!(r.body["data"]["session_name"], "testuser");
    // An empty object changes nothing.
    let r = put("{}").await;
    assert_eq!(r.status, StatusCode::OK);

    let list = app.get("/admin/users", &admin()).await;
    let users = list.body["data"].as_array().unwrap();
    assert_eq!(users.len(), 2);
    for key in ["id", "username", "session_name", "callback_url", "status", "created_at"] {
        assert!(users[1].get(key).is_some(), "{key}");
    }
    let one = app.get("/admin/users/2", &admin()).await;
    assert_eq!(one.body["data"], users[1]);
}
