//! Sessions end to end against the simulated engine: real HTTP, a real websocket
//! client, a real SQLite file.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn status_is(status: &'static str) -> impl Fn(&Value) -> bool {
    move |e| e["type"] == "status" && e["status"] == status
}

#[tokio::test]
async fn full_life_cycle_over_http_and_websocket() {
    let app = TestApp::spawn().await;
    let id = app.create_user("alice", "alice-pw").await;
    let alice = basic("alice", "alice-pw");
    let mut ws = app.ws(&alice).await;
    let first = ws.next_within(2000).await.expect("current state on connect");
    assert_eq!(first["session"], "alice");
    assert_eq!(first["status"], "disconnected");

    // Start → QR (a PNG data URL), rotating.
    let r = app.post("/dashboard/start-session", &alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["session_name"], "alice");
    assert_eq!(r.body["data"]["status"], "qr");
    assert!(r.body["data"]["qr"].as_str().unwrap().starts_with("data:image/png;base64,"));
    let qr1 = ws.wait_for("a QR", |e| e["status"] == "qr" && e["qr"].is_string()).await;
    let qr2 = ws.wait_for("a rotated QR", |e| e["status"] == "qr" && e["qr"].is_string() && e["qr"] != qr1["qr"]).await;
    assert!(qr2["at"].is_string());
    let info = app.get("/dashboard/session-info", &alice).await.body["data"].clone();
    assert_eq!(info["status"], "qr");
    assert_eq!(info["is_connected"], false);
    assert!(info["qr"].as_str().unwrap().starts_with("data:image/png;base64,"));

    // Scan → connected, with the phone.
    let r = app.call(Method::POST, "/sim/sessions/alice/scan", &admin(), Some(json!({"phone": "628123456789"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let connected = ws.wait_for("connected", status_is("connected")).await;
    assert_eq!(connected["phone"], "628123456789");
    assert!(connected.get("qr").is_none());
    let info = app.get("/dashboard/session-info", &alice).await.body["data"].clone();
    assert_eq!(info["is_connected"], true);
    assert_eq!(info["phone"], "628123456789");
    assert!(app.data_dir().join(format!("sessions/{id}")).exists(), "the session has a store");

    // Drop → connecting (reconnecting) → connected by itself.
    assert_eq!(app.post("/sim/sessions/alice/drop", &admin()).await.status, StatusCode::OK);
    let connecting = ws.wait_for("connecting", status_is("connecting")).await;
    assert!(connecting["reason"].is_string());
    ws.wait_for("reconnecting", |e| e["reason"].as_str().is_some_and(|r| r.starts_with("reconnecting"))).await;
    ws.wait_for("connected again", status_is("connected")).await;

    // Unlink on the phone → logged out, keys deleted.
    assert_eq!(app.post("/sim/sessions/alice/unlink", &admin()).await.status, StatusCode::OK);
    let out = ws.wait_for("logged out", status_is("logged_out")).await;
    assert_eq!(out["reason"], "The phone unlinked this device");
    assert!(!app.data_dir().join(format!("sessions/{id}")).exists(), "keys are deleted");
    assert_eq!(app.get("/dashboard/session-info", &alice).await.body["data"]["status"], "logged_out");

    // The activity log, newest first.
    let events = app.get("/dashboard/events?per_page=100", &alice).await.body["data"].clone();
    let statuses: Vec<&str> =
        events["items"].as_array().unwrap().iter().map(|e| e["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.first(), Some(&"logged_out"));
    for s in ["connecting", "qr", "connected"] {
        assert!(statuses.contains(&s), "{s} missing from {statuses:?}");
    }
    assert_eq!(events["total"].as_i64().unwrap() as usize, statuses.len());
    let page2 = app.get("/dashboard/events?per_page=2&page=2", &alice).await.body["data"].clone();
    assert_eq!(page2["items"][0]["status"], statuses[2]);

    // The durable path holds one `session` event per wire-status change, in order.
    let wire: Vec<String> =
        app.outbox("session").await.iter().map(|p| p["status"].as_str().unwrap().to_owned()).collect();
    assert_eq!(wire, ["connecting", "connected", "connecting", "connected", "disconnected"]);
    for p in app.outbox("session").await {
        assert_eq!(p["session"], "alice");
        assert!(p["timestamp"].is_i64());
    }
}

#[tokio::test]
async fn start_is_idempotent_and_says_when_connected() {
    let app = TestApp::spawn().await;
    app.create_user("bob", "bob-pw").await;
    let bob = basic("bob", "bob-pw");
    let (a, b) = tokio::join!(app.post("/dashboard/start-session", &bob), app.post("/session/start", &bob));
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(b.status, StatusCode::OK);
    assert_eq!(b.body["data"]["session"], "bob");
    let raw = b.body["data"]["qr"].as_str().unwrap();
    assert!(raw.starts_with("2@"), "POST /session/start returns the raw QR: {raw}");
    // One engine session only: the log has a single start.
    let starts: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM session_events WHERE detail = 'starting'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(starts, 1);

    app.call(Method::POST, "/sim/sessions/bob/scan", &admin(), None).await;
    app.wait_status(&bob, "connected").await;
    let again = app.post("/dashboard/start-session", &bob).await;
    assert_eq!(again.body["data"]["message"], "Session connected");
    assert!(again.body["data"].get("qr").is_none());
    let again = app.post("/session/start", &bob).await;
    assert_eq!(again.body["data"]["message"], "Session connected");
}

#[tokio::test]
async fn qr_codes_run_out_then_connect_starts_afresh() {
    let app = TestApp::spawn_with(|c| {
        c.sim_qr_period_ms = 50;
        c.sim_qr_count = 2;
    })
    .await;
    app.create_user("carol", "carol-pw").await;
    let carol = basic("carol", "carol-pw");
    app.post("/dashboard/start-session", &carol).await;
    let info = app.wait_status(&carol, "disconnected").await;
    assert!(info["reason"].as_str().unwrap().contains("QR codes expired"), "{info}");
    let r = app.post("/dashboard/start-session", &carol).await;
    assert_eq!(r.body["data"]["status"], "qr");
}

#[tokio::test]
async fn disconnect_logs_out_and_is_idempotent() {
    let app = TestApp::spawn().await;
    let id = app.create_user("dan", "dan-pw").await;
    let dan = basic("dan", "dan-pw");
    let r = app.post("/dashboard/disconnect-session", &dan).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["message"], "Session is not connected");

    app.link(&dan, "dan", "628111222333").await;
    let r = app.post("/dashboard/disconnect-session", &dan).await;
    assert_eq!(r.body["data"]["message"], "Session disconnected");
    assert_eq!(app.get("/dashboard/session-info", &dan).await.body["data"]["status"], "logged_out");
    assert!(!app.data_dir().join(format!("sessions/{id}")).exists());

    app.link(&dan, "dan", "628111222333").await;
    for logout in [Method::GET, Method::POST] {
        let r = app.call(logout, "/session/logout", &dan, None).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    assert_eq!(app.get("/dashboard/session-info", &dan).await.body["data"]["status"], "logged_out");
}

#[tokio::test]
async fn an_engine_that_gives_up_stops_the_session_but_keeps_its_keys() {
    let app = TestApp::spawn().await;
    let id = app.create_user("ivy", "ivy-pw").await;
    let ivy = basic("ivy", "ivy-pw");
    assert_eq!(app.post("/sim/sessions/ivy/replace", &admin()).await.status, StatusCode::NOT_FOUND);
    app.link(&ivy, "ivy", "628777000111").await;
    assert_eq!(app.post("/sim/sessions/ivy/replace", &admin()).await.status, StatusCode::OK);
    let info = app.wait_status(&ivy, "disconnected").await;
    assert!(info["reason"].as_str().unwrap().contains("took over"), "{info}");
    assert!(app.data_dir().join(format!("sessions/{id}/sim-device.json")).exists(), "keys kept");
    let log: Vec<String> = sqlx::query_scalar("SELECT COALESCE(detail, '') FROM session_events WHERE user_id = ?")
        .bind(id)
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert!(log.iter().any(|d| d.contains("took over")), "the reason is in the session log: {log:?}");
    let hook = app.outbox("session").await;
    assert_eq!(hook.last().unwrap()["status"], "disconnected");
    // Connect again: the stored keys resume the session without a scan.
    app.post("/dashboard/start-session", &ivy).await;
    app.wait_status(&ivy, "connected").await;
}

#[tokio::test]
async fn linked_sessions_resume_after_a_gateway_restart() {
    let app = TestApp::spawn().await;
    app.create_user("erin", "erin-pw").await;
    app.create_user("fred", "fred-pw").await;
    let erin = basic("erin", "erin-pw");
    let fred = basic("fred", "fred-pw");
    app.link(&erin, "erin", "628999000111").await;
    app.post("/dashboard/start-session", &fred).await; // left waiting for a scan

    let app = app.restart().await;
    let mut ws = app.ws(&erin).await;
    ws.wait_for("erin resumes", |e| e["status"] == "connected").await;
    let info = app.get("/dashboard/session-info", &erin).await.body["data"].clone();
    assert_eq!(info["phone"], "628999000111");
    // The resumed session is live in the new process: a drop reconnects by itself.
    assert_eq!(app.post("/sim/sessions/erin/drop", &admin()).await.status, StatusCode::OK);
    ws.wait_for("erin reconnecting", |e| e["status"] == "connecting").await;
    ws.wait_for("erin back", |e| e["status"] == "connected").await;
    let log: Vec<String> = sqlx::query_scalar("SELECT status FROM session_events WHERE session = 'erin' ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    let restarts = log.iter().filter(|s| *s == "connecting").count();
    assert!(restarts >= 2, "the restart shows as connecting → connected: {log:?}");
    let fred_info = app.get("/dashboard/session-info", &fred).await.body["data"].clone();
    assert_eq!(fred_info["status"], "disconnected");
    assert_eq!(fred_info["reason"], "the gateway restarted");
}

#[tokio::test]
async fn users_see_only_their_own_session_and_events() {
    let app = TestApp::spawn().await;
    app.create_user("gina", "gina-pw").await;
    app.create_user("hank", "hank-pw").await;
    let gina = basic("gina", "gina-pw");
    let hank = basic("hank", "hank-pw");
    let mut hank_ws = app.ws(&hank).await;
    let mut admin_ws = app.ws(&admin()).await;
    app.link(&gina, "gina", "628100200300").await;
    admin_ws
        .wait_for("gina connected (admin sees all)", |e| e["session"] == "gina" && e["status"] == "connected")
        .await;
    while let Some(event) = hank_ws.next_within(300).await {
        assert_eq!(event["session"], "hank", "hank saw {event}");
    }
    let mine = app.get("/session", &hank).await.body["data"].clone();
    assert_eq!(mine["session"], "hank");
    assert_eq!(mine["status"], "disconnected");
    let all = app.get("/session", &admin()).await.body["data"].clone();
    assert_eq!(all.as_array().unwrap().len(), 3);
    // Hank's log has nothing of Gina's.
    let hank_events = app.get("/dashboard/events", &hank).await.body["data"]["total"].clone();
    assert_eq!(hank_events, 0);
    // Sim controls are the admin's, and name sessions that exist.
    assert_eq!(app.post("/sim/sessions/gina/drop", &hank).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.post("/sim/sessions/nobody/drop", &admin()).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.post("/sim/sessions/hank/scan", &admin()).await.status, StatusCode::NOT_FOUND);
    // A websocket without credentials is refused.
    let refused = app.client.get(app.url("/ws")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn incoming_messages_are_stored_durably_once() {
    let app = TestApp::spawn().await;
    let id = app.create_user("ivy", "ivy-pw").await;
    let ivy = basic("ivy", "ivy-pw");
    // Not connected yet: the simulated phone cannot deliver.
    app.post("/dashboard/start-session", &ivy).await;
    let early = app
        .call(Method::POST, "/sim/sessions/ivy/messages", &admin(), Some(json!({"from": "6285550001", "text": "x"})))
        .await;
    assert_eq!(early.status, StatusCode::CONFLICT);
    app.call(Method::POST, "/sim/sessions/ivy/scan", &admin(), None).await;
    app.wait_status(&ivy, "connected").await;

    let text = json!({"from": "6281234567890", "text": "Hello World", "id": "MSG1", "push_name": "Budi"});
    for _ in 0..2 {
        let r = app.call(Method::POST, "/sim/sessions/ivy/messages", &admin(), Some(text.clone())).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    }
    let group = json!({"from": "120363000000@g.us", "is_group": true, "participant": "6287770001", "text": "hi all"});
    let r = app.call(Method::POST, "/sim/sessions/ivy/messages", &admin(), Some(group)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let image = json!({"from": "6289990001", "text": "a caption", "media": {"kind": "image", "mimetype": "image/png", "file_name": "p.png", "data_base64": "iVBORw0KGgo="}});
    let r = app.call(Method::POST, "/sim/sessions/ivy/messages", &admin(), Some(image)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let bad_kind = json!({"from": "6289990001", "media": {"kind": "gif", "mimetype": "x", "data_base64": ""}});
    let r = app.call(Method::POST, "/sim/sessions/ivy/messages", &admin(), Some(bad_kind)).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    let messages = app.outbox("message").await;
    assert_eq!(messages.len(), 3, "the redelivered MSG1 is stored once: {messages:?}");
    let m = &messages[0];
    assert_eq!(m["session"], "ivy");
    assert_eq!(m["from"], "6281234567890@s.whatsapp.net");
    assert_eq!(m["message"], "Hello World");
    assert_eq!(m["media"], json!({"image": null, "video": null, "document": null, "audio": null}));
    assert_eq!(m["messageId"], "MSG1");
    assert_eq!(m["pushName"], "Budi");
    assert_eq!(m["isGroup"], false);
    assert_eq!(m["type"], "text");
    assert!(m["timestamp"].is_i64());
    assert_eq!(messages[1]["from"], "120363000000@g.us");
    assert_eq!(messages[1]["participant"], "6287770001@s.whatsapp.net");
    assert_eq!(messages[1]["isGroup"], true);
    assert_eq!(messages[2]["type"], "image");
    assert_eq!(messages[2]["message"], "a caption");
    let media: String = sqlx::query_scalar("SELECT media FROM webhook_events WHERE media IS NOT NULL")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    let media: Value = serde_json::from_str(&media).unwrap();
    let stored = std::fs::read(app.data_dir().join(media["path"].as_str().unwrap())).unwrap();
    assert_eq!(stored, b"\x89PNG\r\n\x1a\n");
    assert!(media["path"].as_str().unwrap().starts_with(&format!("media/{id}/")));
}

#[tokio::test]
async fn callback_pair_code_rename_and_delete_follow_the_session() {
    let app = TestApp::spawn().await;
    let id = app.create_user("jack", "jack-pw").await;
    let jack = basic("jack", "jack-pw");
    let set = |v: Value| app.call(Method::PUT, "/dashboard/callback", &jack, Some(v));
    assert_eq!(
        set(json!({"callback_url": "http://127.0.0.1:9/hook/"})).await.body["data"]["callback_url"],
        "http://127.0.0.1:9/hook/"
    );
    assert_eq!(set(json!({"callback_url": "ftp://x"})).await.message(), "Invalid url field 'callback_url' on json");
    assert!(set(json!({})).await.message().contains("missing field `callback_url`"));
    assert_eq!(set(json!({"callback_url": null})).await.body["data"]["callback_url"], Value::Null);

    let bad = app.call(Method::POST, "/dashboard/pair-code", &jack, Some(json!({"phone": "12"}))).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let r = app.call(Method::POST, "/dashboard/pair-code", &jack, Some(json!({"phone": "+62 812-0000-1111"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let code = r.body["data"]["pair_code"].as_str().unwrap();
    assert_eq!(code.len(), 9);
    assert_eq!(&code[4..5], "-");
    app.call(Method::POST, "/sim/sessions/jack/scan", &admin(), Some(json!({"phone": "6281200001111"}))).await;
    app.wait_status(&jack, "connected").await;
    let again = app.call(Method::POST, "/dashboard/pair-code", &jack, Some(json!({"phone": "6281200001111"}))).await;
    assert_eq!(again.status, StatusCode::CONFLICT);

    let rename = app
        .call(
            Method::PUT,
            &format!("/admin/users/{id}/session-config"),
            &admin(),
            Some(json!({"session_name": "jack2"})),
        )
        .await;
    assert_eq!(rename.status, StatusCode::CONFLICT);

    let r = app.call(Method::DELETE, &format!("/admin/users/{id}"), &admin(), None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(!app.data_dir().join(format!("sessions/{id}")).exists());
    let sent = app.get("/sim/sessions/jack/sent", &admin()).await;
    assert_eq!(sent.status, StatusCode::NOT_FOUND, "the deleted user's session is gone");
}

#[tokio::test]
async fn ready_and_metrics_report_sessions() {
    let app = TestApp::spawn().await;
    app.create_user("kim", "kim-pw").await;
    app.link(&basic("kim", "kim-pw"), "kim", "628123123123").await;
    let ready = app.get("/ready", &Auth::None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["database"], "ok");
    assert_eq!(ready.body["sessions"]["connected"], 1);
    assert_eq!(ready.body["sessions"]["disconnected"], 1);
    let text = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("wa_gateway_sessions{status=\"connected\"} 1"), "{text}");
    assert!(text.contains("wa_gateway_engine_events_total{kind=\"connected\"}"), "{text}");
    assert!(text.contains("wa_gateway_http_request_duration_seconds_bucket"), "{text}");
    assert!(text.contains("route=\"/dashboard/start-session\""), "routes are labelled by template: {text}");

    app.pool.close().await;
    let down = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(down.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body: Value = down.json().await.unwrap();
    assert_eq!(body["message"], "Service unavailable: database unreachable");
}

#[tokio::test]
async fn the_qr_page_follows_the_session_live() {
    let app = TestApp::spawn().await;
    app.create_user("lena", "lena-pw").await;
    let lena = basic("lena", "lena-pw");
    let page = app.send(app.builder(Method::GET, "/session/start", &lena)).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.body.as_str().unwrap().to_owned();
    assert!(html.contains("data:image/png;base64,"));
    let ticket = html.split("ticket=").nth(1).unwrap().split('`').next().unwrap().to_owned();
    // The page's ticket opens the websocket once, as Lena.
    let ws_url = format!("ws://{}/ws?ticket={ticket}", app.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(ws_url.clone()).await.expect("ticket works");
    use futures_util::StreamExt;
    let first = ws.next().await.unwrap().unwrap();
    assert!(first.to_text().unwrap().contains("\"session\":\"lena\""));
    assert!(tokio_tungstenite::connect_async(ws_url).await.is_err(), "a ticket is single-use");
}

#[tokio::test]
async fn an_engine_that_cannot_start_is_reported_not_hidden() {
    let app = TestApp::spawn_with(crate::helpers::offline).await;
    let id = app.create_user("nina", "nina-pw").await;
    let nina = basic("nina", "nina-pw");
    // The session folder cannot be created: a file is in its way.
    std::fs::create_dir_all(app.data_dir().join("sessions")).unwrap();
    std::fs::write(app.data_dir().join(format!("sessions/{id}")), b"not a folder").unwrap();
    let r = app.post("/dashboard/start-session", &nina).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["data"]["status"], "disconnected", "{}", r.body);
    assert!(r.body["data"]["message"].as_str().unwrap().contains("could not start"), "{}", r.body);
    let info = app.get("/dashboard/session-info", &nina).await.body["data"].clone();
    assert_eq!(info["status"], "disconnected");
    // No simulator controls exist with the real engine.
    assert_eq!(app.post("/sim/sessions/nina/scan", &admin()).await.status, StatusCode::NOT_FOUND);
}
