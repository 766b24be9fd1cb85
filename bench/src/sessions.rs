//! Sessions at scale on the simulated engine: gateway memory per idle session, the time
//! to restore N linked sessions at boot, and status event → websocket latency with
//! many sockets open.

use crate::Options;
use anyhow::{ensure, Result};
use futures_util::StreamExt;
use server::{config::Config, sessions::Status, AppState, Gateway};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Resident memory of this process (the gateway runs in it), in KiB.
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).map(|l| l.split_whitespace().nth(1).unwrap_or("0").to_owned())
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// A database with `count` users whose sessions are linked (simulated device keys on
/// disk) but not running (status `disconnected`, so "all connected" really means the
/// restore finished), plus one bearer token each. Returns the tokens.
pub async fn seed(config: &Config, count: usize) -> Result<Vec<String>> {
    let pool = server::open_database(config).await?;
    let hash = server::auth::hash_password("bench-password").await?;
    let mut tokens = Vec::with_capacity(count);
    let mut tx = pool.begin().await?;
    for i in 0..count {
        let name = format!("user{i:05}");
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO users (username, password_hash, session_status, session_linked, session_phone) \
             VALUES (?, ?, 'disconnected', 1, ?) RETURNING id",
        )
        .bind(&name)
        .bind(&hash)
        .bind(format!("62800{i:07}"))
        .fetch_one(&mut *tx)
        .await?;
        let (secret, token_hash, prefix) = server::auth::new_api_token();
        sqlx::query("INSERT INTO api_tokens (user_id, name, token_hash, prefix) VALUES (?, 'bench', ?, ?)")
            .bind(id)
            .bind(&token_hash[..])
            .bind(prefix)
            .execute(&mut *tx)
            .await?;
        tokens.push(secret);
        let dir = config.data_dir.join("sessions").join(id.to_string());
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("sim-device.json"), format!("{{\"phone\":\"62800{i:07}\"}}"))?;
    }
    tx.commit().await?;
    pool.close().await;
    Ok(tokens)
}

/// Waits until `count` sessions run and show `status`; returns the time since `started`.
pub async fn all_running(state: &AppState, status: Status, count: usize, started: Instant) -> Result<Duration> {
    loop {
        let counts = state.sessions.counts().await?;
        let reached = counts.iter().find(|(s, _)| *s == status).map_or(0, |c| c.1);
        if reached as usize == count && state.sessions.running_count() == count {
            return Ok(started.elapsed());
        }
        ensure!(started.elapsed() < Duration::from_secs(900), "the sessions did not all start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub async fn run(opts: &Options) -> Result<()> {
    println!("| sessions | restore at boot | RSS before | RSS after | per session |");
    println!("|---:|---:|---:|---:|---:|");
    for &count in &opts.sizes {
        let dir = tempfile::tempdir()?;
        let mut config = Config::for_tests(dir.path());
        config.sim_reconnect_ms = 50;
        seed(&config, count).await?;
        let gateway = Gateway::build(config).await?;
        let state = gateway.state().clone();
        let before = rss_kib();
        let started = Instant::now();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(gateway.run(async {
            let _ = stop_rx.await;
        }));
        let restore = all_running(&state, Status::Connected, count, started).await?;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let after = rss_kib();
        println!(
            "| {count} | {:.2} s | {} MiB | {} MiB | {:.1} KiB |",
            restore.as_secs_f64(),
            before / 1024,
            after / 1024,
            after.saturating_sub(before) as f64 / count as f64
        );
        let _ = stop_tx.send(());
        server.await??;
    }
    latency(opts).await
}

/// p50/p99 from a status change in the supervisor to the event arriving on the
/// owner's websocket, with `sockets` sockets open (one per user).
async fn latency(opts: &Options) -> Result<()> {
    let sockets = opts.sockets;
    let dir = tempfile::tempdir()?;
    let mut config = Config::for_tests(dir.path());
    config.sim_reconnect_ms = 60_000; // a dropped session stays "connecting" during the sample
    let tokens = seed(&config, sockets).await?;
    let gateway = Gateway::build(config).await?;
    let state = gateway.state().clone();
    let addr = gateway.local_addr();
    tokio::spawn(gateway.run(std::future::pending()));
    while state.sessions.counts().await?.iter().find(|(s, _)| *s == Status::Connected).map_or(0, |c| c.1)
        < sockets as i64
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut streams = Vec::with_capacity(sockets);
    for token in &tokens {
        let mut request = format!("ws://{addr}/ws").into_client_request()?;
        request.headers_mut().insert("authorization", format!("Bearer {token}").parse()?);
        let (mut ws, _) = tokio_tungstenite::connect_async(request).await?;
        ws.next().await; // the current state
        streams.push(ws);
    }
    let sim = state.sim.clone().expect("simulated engine");
    let samples = sockets.min(1000);
    let mut latencies = Vec::with_capacity(samples);
    for (i, ws) in streams.iter_mut().enumerate().take(samples) {
        let name = format!("user{i:05}");
        let t = Instant::now();
        sim.drop_connection(&name).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        loop {
            let msg = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await?
                .ok_or_else(|| anyhow::anyhow!("closed"))??;
            if msg.to_text()?.contains("\"connecting\"") {
                break;
            }
        }
        latencies.push(t.elapsed());
    }
    latencies.sort();
    let q = |p: f64| latencies[((latencies.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    println!();
    println!(
        "status event → websocket, {sockets} sockets open, {samples} samples: p50 {:.2} ms, p99 {:.2} ms",
        q(0.5),
        q(0.99)
    );
    Ok(())
}
