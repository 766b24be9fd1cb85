//! A closed-loop HTTP load generator: `concurrency` workers send one request after
//! another until the time is up; every answer must be the expected status.

use anyhow::{ensure, Result};
use std::time::{Duration, Instant};

pub struct Outcome {
    pub requests: usize,
    pub elapsed: Duration,
    pub p50: Duration,
    pub p99: Duration,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        self.requests as f64 / self.elapsed.as_secs_f64()
    }
}

/// Runs `make` (which builds one request) in a closed loop and reports throughput.
pub async fn run<F>(seconds: u64, concurrency: usize, make: F) -> Result<Outcome>
where
    F: Fn() -> reqwest::RequestBuilder + Clone + Send + 'static,
{
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..concurrency {
        let make = make.clone();
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let t = Instant::now();
                let resp = make().send().await?;
                ensure!(resp.status().is_success(), "unexpected status {}", resp.status());
                resp.bytes().await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, anyhow::Error>(latencies)
        }));
    }
    let mut all = Vec::new();
    for w in workers {
        all.extend(w.await??);
    }
    let elapsed = started.elapsed();
    all.sort();
    let pick = |q: f64| all.get(((all.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
    Ok(Outcome { requests: all.len(), elapsed, p50: pick(0.5), p99: pick(0.99) })
}
