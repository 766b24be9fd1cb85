//! Benchmarks (not tests): each scenario starts the real gateway in-process on a
//! loopback port and drives it over HTTP, measuring a baseline in the same run so
//! results are read as ratios on noisy machines. Figures go to docs/PERFORMANCE.md.
//!
//! ```text
//! cargo run --release -p bench -- auth [--seconds 5] [--concurrency 16]
//! cargo run --release -p bench -- sessions [--sizes 1000,10000] [--sockets 1000]
//! cargo run --release -p bench -- webhooks [--events 20000] [--users 4] [--rate 2000] [--injectors 32]
//! cargo run --release -p bench -- engines [--sizes 100,1000]
//! cargo run --release -p bench -- sqlcost
//! ```

/// The allocator the `wa-gateway` binary ships with, so figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

mod auth;
mod engines;
mod load;
mod sessions;
mod sqlcost;
mod webhooks;

use anyhow::{bail, Result};

pub struct Options {
    pub seconds: u64,
    pub concurrency: usize,
    pub sizes: Vec<usize>,
    pub sockets: usize,
    pub events: usize,
    pub users: usize,
    pub rate: f64,
    /// Messages injected concurrently (each waits until the gateway stored it).
    pub injectors: usize,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut opts = Options {
        seconds: 5,
        concurrency: 16,
        sizes: vec![1000, 10_000],
        sockets: 1000,
        events: 20_000,
        users: 4,
        rate: 2000.0,
        injectors: 32,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow::anyhow!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => opts.seconds = value()?.parse()?,
            "--concurrency" => opts.concurrency = value()?.parse()?,
            "--sizes" => opts.sizes = value()?.split(',').map(str::parse).collect::<Result<_, _>>()?,
            "--sockets" => opts.sockets = value()?.parse()?,
            "--events" => opts.events = value()?.parse()?,
            "--users" => opts.users = value()?.parse()?,
            "--rate" => opts.rate = value()?.parse()?,
            "--injectors" => opts.injectors = value()?.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(opts)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((scenario, rest)) = args.split_first() else {
        bail!("usage: bench auth|sessions|webhooks|engines|sqlcost [options]; see bench/src/main.rs");
    };
    let opts = parse(rest)?;
    match scenario.as_str() {
        "auth" => auth::run(&opts).await,
        "sessions" => sessions::run(&opts).await,
        "webhooks" => webhooks::run(&opts).await,
        "engines" => engines::run(&opts).await,
        "sqlcost" => sqlcost::run().await,
        other => bail!("unknown scenario {other}; try: auth, sessions, webhooks, engines, sqlcost"),
    }
}
