//! Memory per session of each engine: N linked sessions restored at boot. The real
//! engine runs without a network (its WebSocket dials a closed loopback port, the
//! version is pinned), so every session sits in its reconnect loop with its own SQLite
//! store open; the simulated engine's sessions are connected. Same process, same run.

use crate::{
    sessions::{all_running, rss_kib, seed},
    Options,
};
use anyhow::Result;
use server::{
    config::{Config, EngineKind},
    sessions::Status,
    Gateway,
};
use std::time::{Duration, Instant};

pub async fn run(opts: &Options) -> Result<()> {
    println!(
        "| engine | sessions | all running after | RSS before | RSS after | per session | open files per session |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for &count in &opts.sizes {
        for engine in [EngineKind::Simulated, EngineKind::Whatsapp] {
            measure(engine, count).await?;
        }
    }
    Ok(())
}

async fn measure(engine: EngineKind, count: usize) -> Result<()> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::for_tests(dir.path());
    config.use_offline_real_engine();
    config.wa_engine = engine;
    // Boot restore is what starts them; sessions must wait for it, not for a wait timeout.
    seed(&config, count).await?;
    let (target, label) = match engine {
        EngineKind::Simulated => (Status::Connected, "simulated"),
        EngineKind::Whatsapp => (Status::Connecting, "whatsapp (offline)"),
    };
    let gateway = Gateway::build(config).await?;
    let state = gateway.state().clone();
    let before = rss_kib();
    let files_before = open_files();
    let started = Instant::now();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(gateway.run(async {
        let _ = stop_rx.await;
    }));
    let ready = all_running(&state, target, count, started).await?;
    // Let the real clients go through a few reconnect rounds (1, 1, 2, 3 s) first.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let after = rss_kib();
    println!(
        "| {label} | {count} | {:.2} s | {} MiB | {} MiB | {:.1} KiB | {:.1} |",
        ready.as_secs_f64(),
        before / 1024,
        after / 1024,
        after.saturating_sub(before) as f64 / count as f64,
        open_files().saturating_sub(files_before) as f64 / count as f64
    );
    let _ = stop_tx.send(());
    server.await??;
    Ok(())
}

/// File descriptors this process holds (each real session keeps its SQLite store open).
fn open_files() -> usize {
    std::fs::read_dir("/proc/self/fd").map(|d| d.count()).unwrap_or(0)
}
