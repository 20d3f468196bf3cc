//! `chatctl`: runs the chat service and its tools.

use anyhow::Context;
use chat_server::{Config, Node};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "chatctl", version, about = "A WhatsApp-class chat backend")]
struct Cli {
    /// TOML configuration file (defaults, then this file, then CHAT__… variables).
    #[arg(long, global = true, env = "CHAT_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the gateway and every processor in one process on the embedded engines.
    Serve {
        /// Where the log and store files live.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Mints a token for a user and device with the configured secret.
    Token {
        #[arg(long)]
        user: String,
        #[arg(long)]
        device: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
    match cli.command {
        Command::Serve { data_dir, listen } => {
            tracing_subscriber::fmt()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| "info".into()),
                )
                .init();
            if let Some(d) = data_dir {
                config.server.data_dir = d;
            }
            if let Some(l) = listen {
                config.server.listen = l;
            }
            let node = Node::start(config).await?;
            // Printed for scripts and tests that start the server on port 0.
            println!("listening on {}", node.addr);
            shutdown_signal().await;
            tracing::info!("Shutting down.");
            node.stop().await;
        }
        Command::Token { user, device } => {
            let tokens = chat_gateway::auth::Tokens::new(
                &config.gateway.jwt_secret,
                config.gateway.token_ttl_secs,
            );
            let token = tokens
                .mint(&user, &device)
                .map_err(|e| anyhow::anyhow!(e))?;
            println!("{token}");
        }
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
