//! The `wa-gateway` binary: `serve` (the default) or `migrate`.

use clap::{Parser, Subcommand};
use server::{config::Config, Gateway};

/// mimalloc instead of the system allocator: the webhook path allocates per event, and
/// with glibc's malloc that cost ≈ 6% more CPU per event (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "wa-gateway", version, about = "Self-hosted multi-user WhatsApp HTTP gateway")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    config: Config,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    server::telemetry::init();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            let gateway = Gateway::build(cli.config).await?;
            gateway.run(server::shutdown_signal()).await
        }
        Command::Migrate => {
            let pool = server::open_database(&cli.config).await?;
            pool.close().await;
            tracing::info!("migrations applied");
            Ok(())
        }
    }
}
