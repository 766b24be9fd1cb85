//! Durable, signed webhooks against real receivers on 127.0.0.1.

use crate::{
    helpers::*,
    receiver::{Behavior, Receiver},
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// A user with a linked session whose callback points at `callback`.
async fn linked_user(app: &TestApp, name: &str, callback: &str) -> Auth {
    app.create_user(name, &format!("{name}-pw")).await;
    let user = basic(name, &format!("{name}-pw"));
    let r = app.call(Method::PUT, "/dashboard/callback", &user, Some(json!({"callback_url": callback}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    app.link(&user, name, "6281234567890").await;
    user
}

async fn inject(app: &TestApp, session: &str, body: Value) {
    let r = app.call(Method::POST, &format!("/sim/sessions/{session}/messages"), &admin(), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Polls the delivery log until `pred` holds for the listed deliveries (10 s at most).
async fn wait_deliveries(app: &TestApp, user: &Auth, query: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = app.get(&format!("/dashboard/deliveries?per_page=200{query}"), user).await;
        let items = r.body["data"]["items"].as_array().cloned().unwrap_or_default();
        if pred(&items) {
            return items;
        }
        assert!(Instant::now() < deadline, "deliveries never matched: {items:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn payloads_headers_and_signatures_match_the_contract() {
    let rx = Receiver::start(Behavior::Ok).await;
    let app = TestApp::spawn().await;
    // A trailing slash must not produce `//message`.
    let user = linked_user(&app, "alice", &format!("{}/", rx.url)).await;
    inject(&app, "alice", json!({"from": "6281111111111", "text": "Hello World", "id": "M1", "push_name": "Budi"}))
        .await;

    let hits = rx.wait_for("/message", 1).await;
    let hit = &hits[0];
    assert_eq!(hit.path, "/hooks/message");
    let body = hit.json();
    // The seed's example, field by field, plus the extra fields only.
    assert_eq!(body["session"], "alice");
    assert_eq!(body["from"], "6281111111111@s.whatsapp.net");
    assert_eq!(body["message"], "Hello World");
    assert_eq!(body["media"], json!({"image": null, "video": null, "document": null, "audio": null}));
    assert_eq!(body["messageId"], "M1");
    assert_eq!(body["pushName"], "Budi");
    assert_eq!(body["isGroup"], false);
    assert_eq!(body["type"], "text");
    assert!(body["timestamp"].is_i64());
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    for key in keys {
        assert!(
            [
                "session",
                "from",
                "message",
                "media",
                "messageId",
                "timestamp",
                "pushName",
                "isGroup",
                "participant",
                "type"
            ]
            .contains(&key),
            "unexpected field {key}"
        );
    }
    assert_eq!(hit.header("content-type"), "application/json");
    assert!(hit.header("user-agent").starts_with("wa-gateway/"));
    assert!(hit.header("webhook-id").starts_with("msg_"));

    // The signature verifies with the Standard Webhooks reference implementation.
    let secret = app.get("/dashboard/webhook-secret", &user).await.body["data"]["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let verifier = standardwebhooks::Webhook::new(&secret).unwrap();
    verifier.verify(&hit.body, &hit.headers).expect("signature verifies");
    let forged = standardwebhooks::Webhook::new(&standardwebhooks_secret()).unwrap();
    assert!(forged.verify(&hit.body, &hit.headers).is_err());

    // Status changes went to /session with the seed's shape.
    let sessions = rx.wait_for("/session", 2).await;
    let statuses: Vec<Value> = sessions.iter().map(|h| h.json()["status"].clone()).collect();
    assert_eq!(statuses, [json!("connecting"), json!("connected")]);
    assert_eq!(sessions[1].json()["session"], "alice");
    assert_eq!(sessions[1].path, "/hooks/session");
    for h in &sessions {
        verifier.verify(&h.body, &h.headers).unwrap();
    }
}

fn standardwebhooks_secret() -> String {
    "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into()
}

#[tokio::test]
async fn failures_are_retried_with_a_stable_webhook_id_and_logged() {
    let rx = Receiver::start(Behavior::FailFirst(4)).await;
    let app = TestApp::spawn().await;
    // Session events also hit the receiver; send messages only once connected.
    let user = linked_user(&app, "bob", &rx.url).await;
    rx.wait_for("/session", 2).await;
    let before = rx.hits().len();
    inject(&app, "bob", json!({"from": "6282222222222", "text": "retry me", "id": "R1"})).await;
    let hits = rx.wait_for("/message", 1).await;
    let message_hits: Vec<_> = rx.hits().into_iter().skip(before).collect();
    assert!(!hits.is_empty() && !message_hits.is_empty());
    let items = wait_deliveries(&app, &user, "", |items| items.iter().all(|d| d["state"] == "delivered")).await;
    let message = items.iter().find(|d| d["kind"] == "message").unwrap();
    let ids: std::collections::HashSet<String> =
        rx.hits().iter().filter(|h| h.path.ends_with("/message")).map(|h| h.header("webhook-id").to_owned()).collect();
    assert_eq!(ids.len(), 1, "one webhook-id across retries");
    assert_eq!(ids.into_iter().next().unwrap(), message["event_id"].as_str().unwrap());

    // Every attempt is in the log: status, latency, error, response body.
    let detail = app.get(&format!("/dashboard/deliveries/{}", message["id"]), &user).await.body["data"].clone();
    let attempts = detail["attempts"].as_array().unwrap();
    let total_attempts: usize = items.iter().map(|d| d["attempts"].as_u64().unwrap() as usize).sum();
    assert_eq!(total_attempts, rx.hits().len(), "one logged attempt per request received");
    assert_eq!(attempts.last().unwrap()["status_code"], 204);
    assert!(attempts.iter().any(|a| a["status_code"] == 500
        && a["response_body"] == "boom"
        && a["error"] == "HTTP 500 Internal Server Error"));
    assert!(attempts
        .iter()
        .all(|a| a["latency_ms"].is_i64() && a["url"].as_str().unwrap().ends_with("/hooks/message")));
}

#[tokio::test]
async fn timeouts_retry_after_and_gone_are_honoured() {
    // 429 with Retry-After: the next attempt waits for it, not for the 50 ms schedule.
    let rx = Receiver::start(Behavior::RetryAfterOnce(1)).await;
    let app = TestApp::spawn().await;
    app.create_user("carl", "carl-pw").await;
    let carl = basic("carl", "carl-pw");
    app.call(Method::PUT, "/dashboard/callback", &carl, Some(json!({"callback_url": rx.url}))).await;
    app.post("/dashboard/start-session", &carl).await;
    let hits = rx.wait_for("/session", 2).await;
    let gap = hits[1].at - hits[0].at;
    assert!(gap >= Duration::from_millis(900), "Retry-After ignored: retried after {gap:?}");
    assert_eq!(hits[0].header("webhook-id"), hits[1].header("webhook-id"));

    // A receiver that never answers in time: the attempt is logged as timed out.
    let hang = Receiver::start(Behavior::Hang).await;
    let app = TestApp::spawn_with(|c| {
        c.webhook_timeout_ms = 200;
        c.webhook_retry_schedule = "50ms".into();
    })
    .await;
    app.create_user("dina", "dina-pw").await;
    let dina = basic("dina", "dina-pw");
    app.call(Method::PUT, "/dashboard/callback", &dina, Some(json!({"callback_url": hang.url}))).await;
    app.post("/dashboard/start-session", &dina).await;
    let items = wait_deliveries(&app, &dina, "&state=failed", |items| !items.is_empty()).await;
    assert_eq!(items[0]["last_error"], "timed out");
    assert_eq!(items[0]["attempts"], 2, "first attempt + one retry from the schedule");

    // 410 Gone: retries to that endpoint stop, and later events are not sent there.
    let gone = Receiver::start(Behavior::Status(410)).await;
    let app = TestApp::spawn().await;
    app.create_user("eve", "eve-pw").await;
    let eve = basic("eve", "eve-pw");
    app.call(Method::PUT, "/dashboard/callback", &eve, Some(json!({"callback_url": gone.url}))).await;
    app.post("/dashboard/start-session", &eve).await;
    let items = wait_deliveries(&app, &eve, "&state=failed", |items| !items.is_empty()).await;
    assert_eq!(items[0]["last_status"], 410);
    assert_eq!(items[0]["attempts"], 1);
    app.call(Method::POST, "/sim/sessions/eve/scan", &admin(), None).await;
    wait_deliveries(&app, &eve, "&state=failed", |items| items.len() == 2).await;
    assert_eq!(gone.hits().len(), 1, "nothing more was sent to a gone endpoint");
    // A new URL resumes deliveries.
    let ok = Receiver::start(Behavior::Ok).await;
    app.call(Method::PUT, "/dashboard/callback", &eve, Some(json!({"callback_url": ok.url}))).await;
    app.post("/sim/sessions/eve/drop", &admin()).await;
    ok.wait_for("/session", 1).await;
}

#[tokio::test]
async fn a_receiver_down_for_the_whole_schedule_gets_everything_after_resend_failed() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let app = TestApp::spawn().await;
    let callback = format!("http://127.0.0.1:{port}/hooks");
    app.create_user("fay", "fay-pw").await;
    let fay = basic("fay", "fay-pw");
    app.call(Method::PUT, "/dashboard/callback", &fay, Some(json!({"callback_url": callback}))).await;
    app.link(&fay, "fay", "6283333333333").await;
    for i in 0..5 {
        inject(&app, "fay", json!({"from": "6284444444444", "text": format!("m{i}"), "id": format!("D{i}")})).await;
    }
    let failed = wait_deliveries(&app, &fay, "&state=failed", |items| items.len() == 7).await;
    assert!(failed.iter().all(|d| d["attempts"] == 4), "1 + the 3-step schedule: {failed:?}");
    assert!(failed[0]["last_error"].as_str().unwrap().contains("error"), "{failed:?}");

    let rx = Receiver::start_on(port, Behavior::Ok).await;
    let r = app.post("/dashboard/deliveries/resend-failed", &fay).await;
    assert_eq!(r.body["data"]["resent"], 7);
    let messages = rx.wait_for("/message", 5).await;
    let texts: Vec<Value> = messages.iter().map(|h| h.json()["message"].clone()).collect();
    assert_eq!(texts, ["m0", "m1", "m2", "m3", "m4"], "first attempts go out in event order");
    rx.wait_for("/session", 2).await;
    wait_deliveries(&app, &fay, "", |items| items.iter().all(|d| d["state"] == "delivered")).await;

    // One resend of a single delivery.
    let id = failed[0]["id"].as_i64().unwrap();
    let r = app.post(&format!("/dashboard/deliveries/{id}/resend"), &fay).await;
    assert_eq!(r.status, StatusCode::OK);
    wait_deliveries(&app, &fay, "", |items| items.iter().all(|d| d["state"] == "delivered")).await;
    assert_eq!(rx.hits().len(), 8);
    // Its log keeps every attempt in order, numbered on across both resends: the four
    // refused ones, the delivery after resend-failed, and the one after the resend.
    let detail = app.get(&format!("/dashboard/deliveries/{id}"), &fay).await.body["data"].clone();
    let attempts = detail["attempts"].as_array().unwrap();
    let numbers: Vec<i64> = attempts.iter().map(|a| a["number"].as_i64().unwrap()).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6], "{attempts:?}");
    let statuses: Vec<&Value> = attempts.iter().map(|a| &a["status_code"]).collect();
    assert_eq!(
        statuses,
        [&Value::Null, &Value::Null, &Value::Null, &Value::Null, &json!(200), &json!(200)],
        "{attempts:?}"
    );
    assert!(attempts.iter().all(|a| a["url"].as_str().unwrap().ends_with("/hooks/message")
        && a["latency_ms"].is_i64()
        && a["attempted_at"].is_string()));
    assert!(attempts[4]["attempted_at"].as_str() <= attempts[5]["attempted_at"].as_str());
}

#[tokio::test]
async fn no_callback_means_skipped_not_lost() {
    let app = TestApp::spawn().await;
    let gus = app.linked("gus", "6285555555555").await;
    inject(&app, "gus", json!({"from": "6286666666666", "text": "nobody listens"})).await;
    let items = wait_deliveries(&app, &gus, "&state=skipped", |items| items.len() == 3).await;
    assert!(items.iter().all(|d| d["last_error"] == "no callback URL configured"));
    // Still there to resend once a receiver exists.
    let rx = Receiver::start(Behavior::Ok).await;
    app.call(Method::PUT, "/dashboard/callback", &gus, Some(json!({"callback_url": rx.url}))).await;
    let id = items[0]["id"].as_i64().unwrap();
    app.post(&format!("/dashboard/deliveries/{id}/resend"), &gus).await;
    rx.wait_for("/message", 1).await;
}

#[tokio::test]
async fn media_links_serve_the_file_until_they_expire() {
    let rx = Receiver::start(Behavior::Ok).await;
    let app = TestApp::spawn().await;
    linked_user(&app, "hana", &rx.url).await;
    let bytes = b"%PDF-1.4 simulated document";
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(bytes);
    inject(
        &app,
        "hana",
        json!({"from": "6287777777777", "text": "the contract", "media": {"kind": "document", "mimetype": "application/pdf", "file_name": "contract.pdf", "data_base64": data}}),
    )
    .await;
    let hit = rx.wait_for("/message", 1).await.remove(0);
    let body = hit.json();
    assert_eq!(body["type"], "document");
    assert_eq!(body["message"], "the contract");
    assert_eq!(body["media"]["image"], Value::Null);
    let link = body["media"]["document"].as_str().unwrap().to_owned();
    assert!(link.starts_with(&format!("http://{}/media/", app.addr)), "{link}");
    let resp = reqwest::get(&link).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "application/pdf");
    assert!(resp.headers()["content-disposition"].to_str().unwrap().contains("contract.pdf"));
    assert_eq!(&resp.bytes().await.unwrap()[..], bytes);
    let tampered = link.replace("sig=", "sig=x");
    assert_eq!(reqwest::get(&tampered).await.unwrap().status(), StatusCode::FORBIDDEN);
    let expired = link.split("expires=").next().unwrap().to_owned() + "expires=1&sig=abc";
    assert_eq!(reqwest::get(&expired).await.unwrap().status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn one_dead_receiver_does_not_delay_other_users() {
    let dead = Receiver::start(Behavior::Hang).await;
    let live = Receiver::start(Behavior::Ok).await;
    let app = TestApp::spawn_with(|c| {
        c.webhook_timeout_ms = 5000;
        c.webhook_concurrency = 16;
        c.webhook_per_user_concurrency = 4;
    })
    .await;
    linked_user(&app, "ivan", &dead.url).await;
    for i in 0..40 {
        inject(&app, "ivan", json!({"from": "6288888888888", "text": format!("x{i}")})).await;
    }
    let jane = linked_user(&app, "jane", &live.url).await;
    for i in 0..10 {
        inject(&app, "jane", json!({"from": "6289999999999", "text": format!("y{i}")})).await;
    }
    live.wait_for("/message", 10).await;
    wait_deliveries(&app, &jane, "", |items| items.iter().all(|d| d["state"] == "delivered")).await;
    // All of Jane's arrived while Ivan's first attempts were still hanging.
    let ivan_attempts: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_attempts a JOIN users u ON u.id = a.user_id WHERE u.username = 'ivan'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(ivan_attempts, 0, "no attempt of the dead receiver had finished yet");
    assert!(dead.hits().len() <= 4, "Ivan never held more than his cap: {}", dead.hits().len());
}

#[tokio::test]
async fn secrets_rotate_with_overlap_and_outbound_auth_is_write_only() {
    let rx = Receiver::start(Behavior::Ok).await;
    let app = TestApp::spawn().await;
    app.create_user("kai", "kai-pw").await;
    let kai = basic("kai", "kai-pw");
    let old = app.get("/dashboard/webhook-secret", &kai).await.body["data"]["secret"].as_str().unwrap().to_owned();
    assert_eq!(app.get("/dashboard/webhook-secret", &kai).await.body["data"]["secret"], old.as_str(), "stable");
    let new =
        app.post("/dashboard/webhook-secret/rotate", &kai).await.body["data"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(old, new);

    let set = |v: Value| app.call(Method::PUT, "/dashboard/webhook-auth", &kai, Some(v));
    assert_eq!(set(json!({"kind": "digest"})).await.status, StatusCode::BAD_REQUEST);
    assert_eq!(set(json!({"kind": "basic", "username": "hook"})).await.status, StatusCode::BAD_REQUEST);
    let r = set(json!({"kind": "basic", "username": "hook", "password": "s3cret"})).await;
    assert_eq!(r.body["data"], json!({"kind": "basic", "username": "hook", "has_secret": true}));
    let r = set(json!({"kind": "basic", "username": "hook2", "password": ""})).await;
    assert_eq!(r.body["data"]["has_secret"], true, "a blank password keeps the stored one");
    assert!(!app.get("/dashboard/webhook-auth", &kai).await.body.to_string().contains("s3cret"));

    app.call(Method::PUT, "/dashboard/callback", &kai, Some(json!({"callback_url": rx.url}))).await;
    app.post("/dashboard/start-session", &kai).await;
    let hit = rx.wait_for("/session", 1).await.remove(0);
    let signatures: Vec<&str> = hit.header("webhook-signature").split(' ').collect();
    assert_eq!(signatures.len(), 2, "both secrets sign during the overlap");
    standardwebhooks::Webhook::new(&new).unwrap().verify(&hit.body, &hit.headers).unwrap();
    standardwebhooks::Webhook::new(&old).unwrap().verify(&hit.body, &hit.headers).unwrap();
    use base64::Engine;
    let expected = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("hook2:s3cret"));
    assert_eq!(hit.header("authorization"), expected);
}

#[tokio::test]
async fn delivery_logs_are_private_but_the_admin_reads_any() {
    let rx = Receiver::start(Behavior::Ok).await;
    let app = TestApp::spawn().await;
    let lia = linked_user(&app, "lia", &rx.url).await;
    app.create_user("max", "max-pw").await;
    let max = basic("max", "max-pw");
    let mine = wait_deliveries(&app, &lia, "", |items| items.len() == 2).await;
    let id = mine[0]["id"].as_i64().unwrap();
    assert_eq!(app.get(&format!("/dashboard/deliveries/{id}"), &max).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.post(&format!("/dashboard/deliveries/{id}/resend"), &max).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/dashboard/deliveries", &max).await.body["data"]["total"], 0);
    let lia_id = app.get("/auth/me", &lia).await.body["data"]["id"].as_i64().unwrap();
    let admin_view = app.get(&format!("/admin/users/{lia_id}/deliveries"), &admin()).await;
    assert_eq!(admin_view.body["data"]["total"], 2);
    assert_eq!(app.get(&format!("/admin/users/{lia_id}/deliveries"), &max).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/dashboard/deliveries?state=weird", &lia).await.status, StatusCode::BAD_REQUEST);
}

/// Deleting a user while its webhook is in flight must not stall anyone else's log.
#[tokio::test]
async fn deleting_a_user_mid_delivery_does_not_block_other_deliveries() {
    let hang = Receiver::start(Behavior::Hang).await;
    let ok = Receiver::start(Behavior::Ok).await;
    let app = TestApp::spawn_with(|c| c.webhook_timeout_ms = 300).await;
    let gone_id = app.create_user("olga", "olga-pw").await;
    let olga = basic("olga", "olga-pw");
    app.call(Method::PUT, "/dashboard/callback", &olga, Some(json!({"callback_url": hang.url}))).await;
    app.post("/dashboard/start-session", &olga).await;
    hang.wait_for("/session", 1).await; // an attempt is in flight
    let r = app.call(Method::DELETE, &format!("/admin/users/{gone_id}"), &admin(), None).await;
    assert_eq!(r.status, StatusCode::OK);

    let pia = linked_user(&app, "pia", &ok.url).await;
    ok.wait_for("/session", 2).await;
    wait_deliveries(&app, &pia, "", |items| items.len() == 2 && items.iter().all(|d| d["state"] == "delivered")).await;
}

/// Delivery settings are cached per user after the first delivery: every change must
/// reach the very next one.
#[tokio::test]
async fn settings_changed_after_a_delivery_apply_to_the_next_one() {
    let (first, second) = (Receiver::start(Behavior::Ok).await, Receiver::start(Behavior::Ok).await);
    let app = TestApp::spawn().await;
    let lou = linked_user(&app, "lou", &first.url).await;
    let message = |text: &str, id: &str| json!({"from": "6287777777777", "text": text, "id": id});
    inject(&app, "lou", message("warm", "W1")).await;
    let hit = first.wait_for("/message", 1).await.remove(0);
    assert_eq!(hit.header("authorization"), "", "no outbound auth yet");

    let r =
        app.call(Method::PUT, "/dashboard/webhook-auth", &lou, Some(json!({"kind": "bearer", "token": "t1"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    inject(&app, "lou", message("with auth", "W2")).await;
    let hit = first.wait_for("/message", 2).await.remove(1);
    assert_eq!(hit.header("authorization"), "Bearer t1");

    let old = app.get("/dashboard/webhook-secret", &lou).await.body["data"]["secret"].as_str().unwrap().to_owned();
    let new =
        app.post("/dashboard/webhook-secret/rotate", &lou).await.body["data"]["secret"].as_str().unwrap().to_owned();
    inject(&app, "lou", message("rotated", "W3")).await;
    let hit = first.wait_for("/message", 3).await.remove(2);
    assert_eq!(hit.header("webhook-signature").split(' ').count(), 2, "the new and the previous secret sign");
    standardwebhooks::Webhook::new(&new).unwrap().verify(&hit.body, &hit.headers).unwrap();
    standardwebhooks::Webhook::new(&old).unwrap().verify(&hit.body, &hit.headers).unwrap();

    let r = app.call(Method::PUT, "/dashboard/callback", &lou, Some(json!({"callback_url": second.url}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    inject(&app, "lou", message("moved", "W4")).await;
    assert_eq!(second.wait_for("/message", 1).await[0].json()["message"], "moved");
    assert_eq!(first.hits().iter().filter(|h| h.path.ends_with("/message")).count(), 3, "nothing more to the old URL");
}

/// Events waiting in memory for their first attempt when the gateway stops are queued
/// again at the next start, oldest first, with the same `webhook-id`.
#[tokio::test]
async fn events_waiting_in_memory_survive_a_restart_in_order() {
    let hang = Receiver::start(Behavior::Hang).await;
    let app = TestApp::spawn_with(|c| {
        c.webhook_per_user_concurrency = 1;
        c.webhook_timeout_ms = 10_000;
    })
    .await;
    // Linked before the callback is set, so no session event stands in the way.
    let max = app.linked("max", "6281234567890").await;
    let r = app.call(Method::PUT, "/dashboard/callback", &max, Some(json!({"callback_url": hang.url}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    for i in 0..3 {
        inject(&app, "max", json!({"from": "6288888888888", "text": format!("r{i}"), "id": format!("R{i}")})).await;
    }
    // r0 hangs in flight; r1 and r2 wait behind it (one attempt at a time for this user).
    let first = hang.wait_for("/message", 1).await.remove(0);
    let ok = Receiver::start(Behavior::Ok).await;
    let r = app.call(Method::PUT, "/dashboard/callback", &max, Some(json!({"callback_url": ok.url}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let app = app.restart().await;
    let hits = ok.wait_for("/message", 3).await;
    let texts: Vec<Value> = hits.iter().map(|h| h.json()["message"].clone()).collect();
    assert_eq!(texts, ["r0", "r1", "r2"], "queued again in event order");
    assert_eq!(hits[0].header("webhook-id"), first.header("webhook-id"), "the same event, not a new one");
    let delivered =
        |items: &[Value]| items.iter().filter(|d| d["kind"] == "message" && d["state"] == "delivered").count() == 3;
    wait_deliveries(&app, &max, "", delivered).await;
}
