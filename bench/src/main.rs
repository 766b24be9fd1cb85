//! Benchmarks (not tests): each scenario starts the real gateway in-process on a
//! loopback port and drives it over HTTP, measuring a baseline in the same run so
//! results are read as ratios on noisy machines. Figures go to docs/PERFORMANCE.md.
//!
//! `cargo run --release -p bench -- auth [--seconds 5] [--concurrency 16]`

mod auth;
mod load;

use anyhow::{bail, Result};

pub struct Options {
    pub seconds: u64,
    pub concurrency: usize,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut opts = Options { seconds: 5, concurrency: 16 };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| anyhow::anyhow!("{arg} needs a value"));
        match arg.as_str() {
            "--seconds" => opts.seconds = value()?.parse()?,
            "--concurrency" => opts.concurrency = value()?.parse()?,
            other => bail!("unknown option {other}"),
        }
    }
    Ok(opts)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((scenario, rest)) = args.split_first() else {
        bail!("usage: bench auth [--seconds N] [--concurrency N]");
    };
    let opts = parse(rest)?;
    match scenario.as_str() {
        "auth" => auth::run(&opts).await,
        other => bail!("unknown scenario {other}; try: auth"),
    }
}
