//! Sending through the caller's session, against the simulated engine's record.

use crate::{
    helpers::*,
    receiver::{Behavior, Receiver},
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn sent(app: &TestApp, session: &str) -> Vec<Value> {
    app.get(&format!("/sim/sessions/{session}/sent"), &admin()).await.body["data"].as_array().unwrap().clone()
}

#[tokio::test]
async fn text_is_sent_through_the_callers_own_connected_session() {
    let app = TestApp::spawn().await;
    app.create_user("ann", "ann-pw").await;
    let ann = basic("ann", "ann-pw");
    let body = json!({"session": "ann", "to": "+62 812-3456-7890", "text": "Hello"});
    let r = app.call(Method::POST, "/message/send-text", &ann, Some(body.clone())).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(r.message(), "Session is not connected");

    app.link(&ann, "ann", "6281111111111").await;
    let r = app.call(Method::POST, "/message/send-text", &ann, Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let d = &r.body["data"];
    assert_eq!(d["to"], "6281234567890@s.whatsapp.net");
    assert_eq!(d["status"], "sent");
    assert_eq!(d["key"]["remoteJid"], "6281234567890@s.whatsapp.net");
    assert_eq!(d["key"]["fromMe"], true);
    assert_eq!(d["key"]["id"], d["id"]);
    let log = sent(&app, "ann").await;
    assert_eq!(log[0]["type"], "text");
    assert_eq!(log[0]["text"], "Hello");
    assert_eq!(log[0]["id"], d["id"]);

    let r = app.get("/message/send-text?session=ann&to=120363000000&text=hi%20group&is_group=true", &ann).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["to"], "120363000000@g.us");

    // Another user's session name, a bad recipient, an empty text.
    app.create_user("ben", "ben-pw").await;
    let ben = basic("ben", "ben-pw");
    let r = app
        .call(
            Method::POST,
            "/message/send-text",
            &ben,
            Some(json!({"session": "ann", "to": "6281234567890", "text": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.message(), "You can only use your session: ben");
    let r = app
        .call(Method::POST, "/message/send-text", &ann, Some(json!({"session": "ann", "to": "nobody", "text": "x"})))
        .await;
    assert!(r.message().starts_with("Invalid recipient field 'to' on json"), "{}", r.message());
    let r = app
        .call(
            Method::POST,
            "/message/send-text",
            &ann,
            Some(json!({"session": "ann", "to": "6281234567890", "text": ""})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(sent(&app, "ann").await.len(), 2, "nothing else was sent");
}

#[tokio::test]
async fn a_typing_indicator_runs_before_the_message() {
    let app = TestApp::spawn_with(|c| {
        c.typing_ms_per_char = 1;
        c.typing_max_ms = 30;
    })
    .await;
    let cat = app.linked("cat", "6282222222222").await;
    let r = app
        .call(
            Method::POST,
            "/message/send-text",
            &cat,
            Some(json!({"session": "cat", "to": "6281234567890", "text": "Hello there"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let kinds: Vec<Value> = sent(&app, "cat").await.iter().map(|e| e["type"].clone()).collect();
    assert_eq!(kinds, ["typing", "paused", "text"]);
}

#[tokio::test]
async fn media_comes_from_base64_or_http_urls_only() {
    let files = Receiver::start(Behavior::Ok).await; // answers "ok" to any GET
    let app = TestApp::spawn().await;
    let dot = app.linked("dot", "6283333333333").await;
    let send = |kind: &str, body: Value| {
        let path = format!("/message/send-{kind}");
        let (app, dot) = (&app, &dot);
        async move { app.call(Method::POST, &path, dot, Some(body)).await }
    };
    let base = |extra: Value| {
        let mut b = json!({"session": "dot", "to": "6281234567890"});
        b.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        b
    };
    let r = send("image", base(json!({"image_base64": "iVBORw0KGgo=", "text": "a caption"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r =
        send("document", base(json!({"document_url": format!("{}/file.pdf", files.url), "document_name": "file.pdf"})))
            .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = send("audio", base(json!({"audio_base64": "data:audio/ogg;base64,T2dnUw==", "voice_note": true}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let log = sent(&app, "dot").await;
    assert_eq!(log[2]["voice_note"], true);
    assert_eq!(log[0]["voice_note"], false);
    assert_eq!(log[0]["type"], "image");
    assert_eq!(log[0]["bytes"], 8);
    assert_eq!(log[0]["caption"], "a caption");
    assert_eq!(log[1]["type"], "document");
    assert_eq!(log[1]["bytes"], 2);
    assert_eq!(log[1]["file_name"], "file.pdf");
    assert_eq!(log[2]["mimetype"], "audio/ogg");
    assert_eq!(files.hits()[0].path, "/hooks/file.pdf");

    for (kind, body, message) in [
        ("image", base(json!({"image_url": "file:///etc/passwd"})), "Invalid url field 'image_url' on json"),
        ("image", base(json!({"image_url": "/etc/passwd"})), "Invalid url field 'image_url' on json"),
        ("image", base(json!({"image_url": "http://127.0.0.1:9/x", "image_base64": "AA=="})), "Give either"),
        ("image", base(json!({})), "Missing field 'image_url' or 'image_base64'"),
        ("image", base(json!({"video_url": "http://127.0.0.1:9/x"})), "unknown field `video_url`"),
        ("image", base(json!({"image_base64": "%%%"})), "Invalid base64 field 'image_base64' on json"),
        ("video", base(json!({"video_url": "http://127.0.0.1:9/x"})), "Could not fetch 'video_url'"),
        ("image", base(json!({"image_base64": "AA==", "voice_note": true})), "Invalid field 'voice_note' on json"),
        ("audio", base(json!({"audio_base64": "AA==", "voice_note": "yes"})), "voice_note"),
    ] {
        let r = send(kind, body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{kind}: {}", r.body);
        assert!(r.message().contains(message), "{kind}: {} (want {message})", r.message());
    }
    let r = app.call(Method::POST, "/message/send-gif", &dot, Some(base(json!({})))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(sent(&app, "dot").await.len(), 3, "no failed request sent anything");
}

#[tokio::test]
async fn locations_and_profiles() {
    let app = TestApp::spawn().await;
    let eli = app.linked("eli", "6284444444444").await;
    let loc = json!({"session": "eli", "to": "6281234567890", "latitude": -6.2, "longitude": 106.8, "name": "Monas"});
    assert_eq!(app.call(Method::POST, "/message/send-location", &eli, Some(loc)).await.status, StatusCode::OK);
    let bad = json!({"session": "eli", "to": "6281234567890", "latitude": 91, "longitude": 0});
    let r = app.call(Method::POST, "/message/send-location", &eli, Some(bad)).await;
    assert!(r.message().starts_with("Invalid latitude field 'latitude' on json"));
    let log = sent(&app, "eli").await;
    assert_eq!(log[0]["type"], "location");
    assert_eq!(log[0]["name"], "Monas");

    app.call(Method::PUT, "/sim/numbers", &admin(), Some(json!({"numbers": ["6281234567890"]}))).await;
    let r =
        app.call(Method::POST, "/profile", &eli, Some(json!({"session": "eli", "target": "+62 812 3456 7890"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert!(r.body["data"].get("profilePictureUrl").is_some());
    assert_eq!(r.body["data"]["status"], "Hey there! I am using WhatsApp.");
    let r = app.call(Method::POST, "/profile", &eli, Some(json!({"session": "eli", "target": "6289999999999"}))).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.message(), "Target is not registered");
    let group = |g: &str| json!({"session": "eli", "group": g});
    let r = app.call(Method::POST, "/group", &eli, Some(group("120363025246125486"))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["data"]["id"], "120363025246125486@g.us");
    assert_eq!(r.body["data"]["participants"][0]["jid"], "6281234567890@s.whatsapp.net");
    assert_eq!(r.body["data"]["participants"][0]["admin"], true);
    for bad in ["6281234567890@s.whatsapp.net", "not a group"] {
        let r = app.call(Method::POST, "/group", &eli, Some(group(bad))).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
        assert!(r.message().starts_with("Invalid group field 'group' on json"), "{}", r.body);
    }
    let r = app.call(Method::POST, "/group", &eli, Some(json!({"session": "someone", "group": "1203"}))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}
