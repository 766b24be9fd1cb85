//! The `wa-gateway` binary itself: `migrate`, `serve` from env vars, graceful SIGTERM;
//! and the build invariant that only one SQLite library is linked.

use std::{
    net::TcpListener,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_wa-gateway");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[test]
fn migrate_creates_the_database_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("nested/folder/gw.db");
    let out = Command::new(BIN)
        .arg("migrate")
        .env("DATABASE_URL", format!("sqlite://{}", db.display()))
        .env("DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(db.exists());
}

#[tokio::test]
async fn serve_is_the_default_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("DATABASE_URL", format!("sqlite://{}", dir.path().join("gw.db").display()))
        .env("DATA_DIR", dir.path().join("data"))
        .env("WA_ENGINE", "simulated")
        .env("ADMIN_PASSWORD", "from-env-pw")
        .env("RUST_LOG", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    let health = format!("http://127.0.0.1:{port}/health");
    let started = Instant::now();
    loop {
        if let Ok(r) = client.get(&health).send().await {
            assert_eq!(r.text().await.unwrap(), r#"{"status":"ok"}"#);
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "server did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let me = client
        .get(format!("http://127.0.0.1:{port}/auth/me"))
        .basic_auth("admin", Some("from-env-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "exit status {status}");
    let output = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("shutting down"), "{log}");
    assert!(!log.contains("from-env-pw"), "the log must never hold a password");
}

/// The gateway binary as a child process on a loopback port, with its own data folder.
struct Child {
    process: std::process::Child,
    base: String,
}

fn spawn_gateway(dir: &std::path::Path, port: u16) -> Child {
    let process = Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("DATABASE_URL", format!("sqlite://{}", dir.join("gw.db").display()))
        .env("DATA_DIR", dir.join("data"))
        .env("WA_ENGINE", "simulated")
        .env("SIM_QR_PERIOD_MS", "60000")
        .env("WEBHOOK_RETRY_SCHEDULE", "100ms,200ms,400ms,800ms")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Child { process, base: format!("http://127.0.0.1:{port}") }
}

impl Child {
    async fn wait_healthy(&self) {
        let started = Instant::now();
        while reqwest::get(format!("{}/health", self.base)).await.is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "server did not come up");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        user: (&str, &str),
        body: serde_json::Value,
    ) -> serde_json::Value {
        let resp = reqwest::Client::new()
            .request(method, format!("{}{path}", self.base))
            .basic_auth(user.0, Some(user.1))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(resp.status().is_success(), "{path}: {}", resp.status());
        resp.json().await.unwrap()
    }

    fn kill_9(mut self) {
        self.process.kill().unwrap(); // SIGKILL: no shutdown code runs
        self.process.wait().unwrap();
    }
}

#[tokio::test]
async fn events_acknowledged_before_a_sigkill_survive_it() {
    use reqwest::Method;
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let gw = spawn_gateway(dir.path(), port);
    gw.wait_healthy().await;
    let admin = ("admin", "admin");
    gw.call(Method::POST, "/admin/users", admin, json!({"username": "crash", "password": "crash-pw"})).await;
    gw.call(Method::POST, "/dashboard/start-session", ("crash", "crash-pw"), json!({})).await;
    gw.call(Method::POST, "/sim/sessions/crash/scan", admin, json!({"phone": "6281111111"})).await;
    let mut connected = false;
    for _ in 0..100 {
        let info = gw.call(Method::GET, "/dashboard/session-info", ("crash", "crash-pw"), json!({})).await;
        if info["data"]["status"] == "connected" {
            connected = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(connected);
    const N: usize = 200;
    for i in 0..N {
        let body = json!({"from": "6282222222", "text": format!("burst {i}"), "id": format!("ID{i}")});
        gw.call(Method::POST, "/sim/sessions/crash/messages", admin, body).await;
    }
    gw.kill_9();

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", dir.path().join("gw.db").display())).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar(
        "SELECT json_extract(payload, '$.messageId') FROM webhook_events WHERE kind = 'message' ORDER BY id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    pool.close().await;
    let expected: Vec<String> = (0..N).map(|i| format!("ID{i}")).collect();
    assert_eq!(stored, expected, "every acknowledged message is stored, in order, once");

    // After the crash the linked session resumes by itself.
    let gw = spawn_gateway(dir.path(), port);
    gw.wait_healthy().await;
    let mut resumed = false;
    for _ in 0..200 {
        let info = gw.call(Method::GET, "/dashboard/session-info", ("crash", "crash-pw"), json!({})).await;
        if info["data"]["status"] == "connected" {
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(resumed, "the linked session reconnects after a crash");
    let body = json!({"from": "6282222222", "text": "after", "id": "AFTER"});
    gw.call(Method::POST, "/sim/sessions/crash/messages", admin, body).await;
    gw.kill_9();
}

#[tokio::test]
async fn webhooks_survive_a_sigkill_in_the_middle_of_a_burst() {
    use crate::receiver::{Behavior, Receiver};
    use reqwest::Method;
    use serde_json::json;
    use std::collections::{HashMap, HashSet};
    use std::sync::{Arc, Mutex};

    let rx = Receiver::start(Behavior::Ok).await;
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let gw = spawn_gateway(dir.path(), port);
    gw.wait_healthy().await;
    let admin = ("admin", "admin");
    let user = ("burst", "burst-pw");
    gw.call(
        Method::POST,
        "/admin/users",
        admin,
        json!({"username": "burst", "password": "burst-pw", "callback_url": rx.url}),
    )
    .await;
    gw.call(Method::POST, "/dashboard/start-session", user, json!({})).await;
    gw.call(Method::POST, "/sim/sessions/burst/scan", admin, json!({"phone": "6281111111"})).await;
    rx.wait_for("/session", 2).await;

    // 8 clients inject 1,000 messages; the gateway is killed when half are acknowledged.
    const N: usize = 1000;
    let acked = Arc::new(Mutex::new(HashSet::new()));
    let base = gw.base.clone();
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (acked, base) = (acked.clone(), base.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in (worker..N).step_by(8) {
                let sent = client
                    .post(format!("{base}/sim/sessions/burst/messages"))
                    .basic_auth("admin", Some("admin"))
                    .json(&json!({"from": "6282222222", "text": format!("burst {i}"), "id": format!("B{i}")}))
                    .send()
                    .await;
                match sent {
                    Ok(r) if r.status().is_success() => {
                        acked.lock().unwrap().insert(format!("B{i}"));
                    }
                    _ => return, // the gateway is gone
                }
            }
        }));
    }
    while acked.lock().unwrap().len() < N / 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    gw.kill_9();
    for t in tasks {
        t.await.unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= N / 2 && acked.len() < N, "killed mid-burst: {} acknowledged", acked.len());

    let gw = spawn_gateway(dir.path(), port);
    gw.wait_healthy().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let by_message = loop {
        let mut by_message: HashMap<String, HashSet<String>> = HashMap::new();
        for hit in rx.hits().iter().filter(|h| h.path.ends_with("/message")) {
            let id = hit.json()["messageId"].as_str().unwrap().to_owned();
            by_message.entry(id).or_default().insert(hit.header("webhook-id").to_owned());
        }
        if acked.iter().all(|id| by_message.contains_key(id)) {
            break by_message;
        }
        assert!(Instant::now() < deadline, "{} of {} acknowledged messages delivered", by_message.len(), acked.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for (message, webhook_ids) in &by_message {
        assert_eq!(webhook_ids.len(), 1, "{message} was sent under several webhook-ids: {webhook_ids:?}");
    }
    gw.kill_9();
}

/// whatsapp-rust's store and sqlx both link SQLite; two versions cannot coexist.
#[test]
fn exactly_one_libsqlite3_sys_is_locked() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
    let versions: Vec<&str> = lock
        .split("[[package]]")
        .filter(|p| p.contains("\nname = \"libsqlite3-sys\"\n"))
        .filter_map(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .collect();
    assert_eq!(versions.len(), 1, "libsqlite3-sys versions: {versions:?}");
    assert!(lock.contains("name = \"whatsapp-rust-sqlite-storage\""));
}
