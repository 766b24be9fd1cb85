//! Requests/s of an authenticated GET with cached Basic auth, against argon2 on every
//! request and an unauthenticated route, all on the same machine in the same run.

use crate::{load, Options};
use anyhow::Result;
use server::{config::Config, Gateway};
use std::net::SocketAddr;

/// Builds one request of a scenario.
type MakeRequest = Box<dyn Fn() -> reqwest::RequestBuilder + Send + Sync>;

const USER: &str = "bench";
const PASSWORD: &str = "bench-password";

struct Running {
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

async fn start(cache_seconds: u64) -> Result<Running> {
    let dir = tempfile::tempdir()?;
    let mut config = Config::for_tests(dir.path());
    config.auth_cache_seconds = cache_seconds;
    let gateway = Gateway::build(config).await?;
    let addr = gateway.local_addr();
    tokio::spawn(gateway.run(std::future::pending()));
    let client = reqwest::Client::new();
    let created = client
        .post(format!("http://{addr}/admin/users"))
        .basic_auth("admin", Some("admin"))
        .json(&serde_json::json!({"username": USER, "password": PASSWORD}))
        .send()
        .await?;
    anyhow::ensure!(created.status().is_success(), "creating the bench user failed");
    Ok(Running { addr, _dir: dir })
}

async fn token(addr: SocketAddr) -> Result<String> {
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{addr}/dashboard/tokens"))
        .basic_auth(USER, Some(PASSWORD))
        .json(&serde_json::json!({"name": "bench"}))
        .send()
        .await?
        .json()
        .await?;
    Ok(body["data"]["secret"].as_str().unwrap_or_default().to_owned())
}

pub async fn run(opts: &Options) -> Result<()> {
    let cached = start(600).await?;
    let uncached = start(0).await?;
    let bearer = token(cached.addr).await?;
    let client = reqwest::Client::new();

    let scenarios: Vec<(&str, MakeRequest)> = {
        let (c1, c2, c3, c4) = (client.clone(), client.clone(), client.clone(), client.clone());
        let (a, b) = (cached.addr, uncached.addr);
        vec![
            ("GET /health (no auth, baseline)", Box::new(move || c1.get(format!("http://{a}/health")))),
            (
                "GET /auth/me, Basic, cached",
                Box::new(move || c2.get(format!("http://{a}/auth/me")).basic_auth(USER, Some(PASSWORD))),
            ),
            (
                "GET /auth/me, Bearer token",
                Box::new(move || c3.get(format!("http://{a}/auth/me")).bearer_auth(&bearer)),
            ),
            (
                "GET /auth/me, Basic, argon2 every request",
                Box::new(move || c4.get(format!("http://{b}/auth/me")).basic_auth(USER, Some(PASSWORD))),
            ),
        ]
    };

    println!(
        "concurrency {}, {} s per scenario, {} cores",
        opts.concurrency,
        opts.seconds,
        std::thread::available_parallelism()?
    );
    println!("| scenario | requests/s | p50 | p99 | vs baseline |");
    println!("|---|---:|---:|---:|---:|");
    let mut baseline = None;
    for (name, make) in scenarios {
        let make = std::sync::Arc::new(make);
        let outcome = load::run(opts.seconds, opts.concurrency, move || make()).await?;
        let rate = outcome.per_second();
        let base = *baseline.get_or_insert(rate);
        println!(
            "| {name} | {rate:.0} | {:.2} ms | {:.2} ms | {:.3}× |",
            outcome.p50.as_secs_f64() * 1e3,
            outcome.p99.as_secs_f64() * 1e3,
            rate / base
        );
    }
    Ok(())
}
