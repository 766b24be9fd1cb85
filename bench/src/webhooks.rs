//! Webhook throughput: events injected into the simulated engine, through the durable
//! outbox, signed and POSTed to a loopback receiver; next to a non-durable baseline
//! that POSTs the same payloads straight to the same receiver, in the same run.

use crate::Options;
use anyhow::{ensure, Result};
use axum::{body::Bytes, extract::State, Router};
use server::{config::Config, engine::InboundMessage, Gateway};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<HashMap<String, Instant>>>);

async fn receive(State(arrivals): State<Arrivals>, body: Bytes) -> &'static str {
    if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
        if let Some(id) = v["messageId"].as_str() {
            arrivals.0.lock().unwrap().entry(id.to_owned()).or_insert_with(Instant::now);
        }
    }
    "ok"
}

async fn receiver() -> Result<(String, Arrivals)> {
    let arrivals = Arrivals::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/hook", listener.local_addr()?);
    let app = Router::new().fallback(receive).with_state(arrivals.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok((url, arrivals))
}

fn message(i: usize) -> InboundMessage {
    InboundMessage {
        id: format!("BENCH{i}"),
        chat: "6281234567890@s.whatsapp.net".into(),
        sender: "6281234567890@s.whatsapp.net".into(),
        is_group: false,
        push_name: Some("Bench".into()),
        text: Some(format!("benchmark message {i}")),
        media: None,
        timestamp: 1_790_000_000,
    }
}

fn quantiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let q = |p: f64| v[((v.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    (q(0.5), q(0.99))
}

/// Injects `total` messages (optionally paced to `rate`/s) over `users` sessions and
/// waits until all arrived. Returns (events/s, per-event latencies).
async fn through_gateway(opts: &Options, total: usize, rate: Option<f64>) -> Result<(f64, Vec<Duration>)> {
    let (url, arrivals) = receiver().await?;
    let dir = tempfile::tempdir()?;
    let mut config = Config::for_tests(dir.path());
    config.webhook_concurrency = 256;
    config.webhook_per_user_concurrency = 64;
    let gateway = Gateway::build(config).await?;
    let state = gateway.state().clone();
    let addr = gateway.local_addr();
    tokio::spawn(gateway.run(std::future::pending()));
    let client = reqwest::Client::new();
    let users = opts.users;
    for u in 0..users {
        let name = format!("bench{u}");
        let r = client
            .post(format!("http://{addr}/admin/users"))
            .basic_auth("admin", Some("admin"))
            .json(&serde_json::json!({"username": name, "password": "bench-pw", "callback_url": url}))
            .send()
            .await?;
        ensure!(r.status().is_success(), "create user: {}", r.status());
        client
            .post(format!("http://{addr}/dashboard/start-session"))
            .basic_auth(&name, Some("bench-pw"))
            .send()
            .await?;
        state
            .sim
            .as_ref()
            .expect("sim")
            .scan(&name, Some(format!("6281{u:08}")))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sim = state.sim.clone().expect("sim");
    let sent_at: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let started = Instant::now();
    let injectors = opts.injectors.max(1);
    let mut tasks = Vec::new();
    for k in 0..injectors {
        let (sim, sent_at) = (sim.clone(), sent_at.clone());
        tasks.push(tokio::spawn(async move {
            for i in (k..total).step_by(injectors) {
                if let Some(rate) = rate {
                    let due = started + Duration::from_secs_f64(i as f64 / rate);
                    tokio::time::sleep_until(due.into()).await;
                }
                let t = Instant::now();
                sim.inject(&format!("bench{}", i % users), message(i)).await.map_err(|e| anyhow::anyhow!("{e}"))?;
                sent_at.lock().unwrap().insert(format!("BENCH{i}"), t);
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    while arrivals.0.lock().unwrap().len() < total {
        ensure!(started.elapsed() < Duration::from_secs(600), "deliveries did not finish");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    let arrived = arrivals.0.lock().unwrap().clone();
    let sent = sent_at.lock().unwrap().clone();
    let latencies = sent.iter().map(|(id, t)| arrived[id].duration_since(*t)).collect();
    Ok((total as f64 / elapsed.as_secs_f64(), latencies))
}

/// The same payloads POSTed straight to the receiver: no database, no signing.
async fn baseline(total: usize) -> Result<f64> {
    let (url, arrivals) = receiver().await?;
    let client = reqwest::Client::new();
    let started = Instant::now();
    let workers = 32;
    let mut tasks = Vec::new();
    for k in 0..workers {
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            for i in (k..total).step_by(workers) {
                let m = message(i);
                let body = serde_json::json!({
                    "session": "bench0", "from": m.chat, "message": m.text, "messageId": m.id,
                    "media": {"image": null, "video": null, "document": null, "audio": null},
                    "timestamp": m.timestamp, "pushName": m.push_name, "isGroup": false, "participant": null, "type": "text",
                });
                client.post(format!("{url}/message")).json(&body).send().await?;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    ensure!(arrivals.0.lock().unwrap().len() == total);
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// CPU time this process has used (user + system), from `/proc/self/stat`.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which is in parentheses): utime is the 12th, stime the 13th.
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks: u64 = fields.get(11..13).map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

pub async fn run(opts: &Options) -> Result<()> {
    let total = opts.events;
    let cpu = cpu_time();
    let base = baseline(total).await?;
    let base_cpu = (cpu_time() - cpu).as_secs_f64() * 1e6 / total as f64;
    let cpu = cpu_time();
    let (rate, latencies) = through_gateway(opts, total, None).await?;
    let gateway_cpu = (cpu_time() - cpu).as_secs_f64() * 1e6 / total as f64;
    let (p50, p99) = quantiles(latencies);
    println!("| path | events/s | p50 | p99 | CPU per event | vs baseline |");
    println!("|---|---:|---:|---:|---:|---:|");
    println!("| direct POST, no durability (baseline) | {base:.0} | | | {base_cpu:.0} µs | 1.000× |");
    println!("| gateway: inject → outbox → signed POST, as fast as possible | {rate:.0} | {p50:.1} ms | {p99:.1} ms | {gateway_cpu:.0} µs | {:.3}× |", rate / base);
    let offered = opts.rate;
    let (achieved, latencies) = through_gateway(opts, (offered * 5.0) as usize, Some(offered)).await?;
    let (p50, p99) = quantiles(latencies);
    println!(
        "| gateway at a fixed offered load of {offered:.0}/s for 5 s | {achieved:.0} | {p50:.1} ms | {p99:.1} ms | | |"
    );
    Ok(())
}
