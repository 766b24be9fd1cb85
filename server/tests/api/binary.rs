//! The `wa-gateway` binary itself: `migrate`, `serve` from env vars, graceful SIGTERM;
//! and the build invariant that only one SQLite library is linked.

use std::{
    net::TcpListener,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

const BIN: &str = env!("CARGO_BIN_EXE_wa-gateway");

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
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
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(db.exists());
}

#[tokio::test]
async fn serve_is_the_default_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut child = Command::new(BIN)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env(
            "DATABASE_URL",
            format!("sqlite://{}", dir.path().join("gw.db").display()),
        )
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
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not come up"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let me = client
        .get(format!("http://127.0.0.1:{port}/auth/me"))
        .basic_auth("admin", Some("from-env-pw"))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
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
    let log = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        !log.contains("from-env-pw"),
        "the log must never hold a password"
    );
}

/// whatsapp-rust's store and sqlx both link SQLite; two versions cannot coexist.
#[test]
fn exactly_one_libsqlite3_sys_is_locked() {
    let lock =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.lock")).unwrap();
    let versions: Vec<&str> = lock
        .split("[[package]]")
        .filter(|p| p.contains("\nname = \"libsqlite3-sys\"\n"))
        .filter_map(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
        .collect();
    assert_eq!(versions.len(), 1, "libsqlite3-sys versions: {versions:?}");
    assert!(lock.contains("name = \"whatsapp-rust-sqlite-storage\""));
}
