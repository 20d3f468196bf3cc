//! `chatctl`: runs the chat service, or one of its roles, and its tools.

use anyhow::Context;
use chat_server::tools::baseline;
use chat_server::{Config, Node, ProcessorKind, Roles};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::time::Duration;

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
    /// Runs the gateway and every processor in one process (embedded engines by default).
    Serve {
        /// Where embedded engines keep their files.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Address to listen on.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Runs the gateway alone (needs shared engines: Kafka, PostgreSQL, Redis).
    Gateway {
        #[arg(long)]
        listen: Option<String>,
    },
    /// Runs processors alone (needs shared engines); serves /healthz and /readyz.
    Processor {
        /// sequencer, receipts, fanout, media, push, search, or all.
        #[arg(long, default_value = "all")]
        name: String,
        #[arg(long)]
        listen: Option<String>,
    },
    /// Mints a token for a user and device with the configured secret.
    Token {
        #[arg(long)]
        user: String,
        #[arg(long)]
        device: String,
        /// The data folder of a one-box server (its `--data-dir`), whose
        /// kept secret signs the token when none is configured.
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Creates the topics of kafka/topics.toml that do not exist yet.
    Topics,
    /// Rebuilds the store named by engines.store (meant to be empty) from the log.
    Replay {
        /// Replay reads every record the log held when it started (each
        /// partition's high watermark), then stops; it fails when no record
        /// comes for this long while some are still to read, milliseconds
        /// (at least 30 s before the first). `--idle-ms` is an old name.
        #[arg(long = "stall-ms", alias = "idle-ms", default_value_t = 10_000)]
        stall_ms: u64,
        /// Also rebuild the search index named by engines.search (meant to
        /// be empty) from chat.events, once the store is rebuilt.
        #[arg(long)]
        search: bool,
    },
    /// Prints a topic's records as JSON lines, decoded with the schema files.
    Tail {
        #[arg(long)]
        topic: String,
        /// Folder of .avsc files.
        #[arg(long, default_value = "schemas")]
        schemas: PathBuf,
        /// Keep printing new records.
        #[arg(long)]
        follow: bool,
        /// Without --follow, tail prints every record the topic held when it
        /// started, then stops; it fails when no record comes for this long
        /// while some are still to print, ms. `--idle-ms` is an old name.
        #[arg(long = "stall-ms", alias = "idle-ms", default_value_t = 10_000)]
        stall_ms: u64,
    },
    /// Measures the bare rate of each shared engine (log, store, real-time
    /// channels) through the service's own adapters and settings, with
    /// traffic shaped like the pipeline's; prints one JSON object.
    Baseline {
        #[command(subcommand)]
        what: BaselineCommand,
    },
}

#[derive(Subcommand)]
enum BaselineCommand {
    /// Appends send records to a scratch topic while a consumer reads them.
    Log(baseline::LogOptions),
    /// Writes sequencer batches of direct messages to the store.
    Store(baseline::StoreOptions),
    /// Publishes message deliveries to user channels this process reads.
    Channels(baseline::ChannelsOptions),
    /// The three, one after the other.
    All(baseline::AllOptions),
}

/// mimalloc instead of glibc's malloc: under load the server spent about
/// 15 % of its CPU in glibc's allocator (see loadtest/README.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref()).context("invalid configuration")?;
    // Before the runtime: the OTLP exporter's client blocks on its own thread.
    let telemetry = chat_server::telemetry::init(&config.telemetry)?;
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(run(cli, config));
    telemetry.shutdown();
    outcome
}

async fn run(cli: Cli, mut config: Config) -> anyhow::Result<()> {
    let roles = match cli.command {
        Command::Serve { data_dir, listen } => {
            if let Some(d) = data_dir {
                config.server.data_dir = d;
            }
            if let Some(l) = listen {
                config.server.listen = l;
            }
            Roles::all()
        }
        Command::Gateway { listen } => {
            if let Some(l) = listen {
                config.server.listen = l;
            }
            Roles::gateway()
        }
        Command::Processor { name, listen } => {
            if let Some(l) = listen {
                config.server.listen = l;
            }
            Roles::processors(ProcessorKind::parse(&name)?)
        }
        Command::Token {
            user,
            device,
            data_dir,
        } => {
            // Unset: the secret a one-box server keeps in its data folder
            // (read, never made here: a token of a secret no server has
            // would be refused).
            if let Some(d) = data_dir {
                config.server.data_dir = d;
            }
            if config.gateway.jwt_secret.is_empty() {
                config.gateway.jwt_secret =
                    chat_server::secrets::kept_token_secret(&config.server.data_dir)?;
            }
            let tokens = chat_gateway::auth::Tokens::new(
                &config.gateway.jwt_secret,
                config.gateway.token_ttl_secs,
            );
            let token = tokens
                .mint(&user, &device)
                .map_err(|e| anyhow::anyhow!(e))?;
            println!("{token}");
            return Ok(());
        }
        Command::Topics => {
            let (log, _) = chat_server::engines::open_log(&config).await?;
            log.health().await?;
            println!("the declared topics exist");
            return Ok(());
        }
        Command::Replay { stall_ms, search } => {
            let report =
                chat_server::tools::replay(&config, Duration::from_millis(stall_ms), search)
                    .await?;
            println!("{}", serde_json::to_string(&report)?);
            return Ok(());
        }
        Command::Tail {
            topic,
            schemas,
            follow,
            stall_ms,
        } => {
            let mut out = std::io::stdout();
            chat_server::tools::tail(
                &config,
                &topic,
                &schemas,
                follow,
                Duration::from_millis(stall_ms),
                &mut out,
            )
            .await?;
            return Ok(());
        }
        Command::Baseline { what } => {
            let figures = match what {
                BaselineCommand::Log(o) => baseline::Baselines {
                    log: Some(baseline::log(&config, &o).await?),
                    ..Default::default()
                },
                BaselineCommand::Store(o) => baseline::Baselines {
                    store: Some(baseline::store(&config, &o).await?),
                    ..Default::default()
                },
                BaselineCommand::Channels(o) => baseline::Baselines {
                    channels: Some(baseline::channels(&config, &o).await?),
                    ..Default::default()
                },
                BaselineCommand::All(o) => baseline::all(&config, &o).await?,
            };
            for line in figures.lines() {
                eprintln!("{line}");
            }
            println!("{}", serde_json::to_string(&figures)?);
            return Ok(());
        }
    };
    let node = Node::start_roles(config, roles, None).await?;
    // Printed for scripts and tests that start the server on port 0.
    println!("listening on {}", node.addr);
    shutdown_signal().await;
    tracing::info!("Shutting down.");
    node.stop().await;
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
