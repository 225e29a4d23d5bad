//! The `wiredesk` command: parse the CLI, set up logging, load the config,
//! run. Everything else lives in the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use wiredesk::app::App;
use wiredesk::cli;
use wiredesk::config::{self, Settings};
use wiredesk::poll::PollOutcome;
use wiredesk::store::Store;

/// Exit code for a config that cannot be used.
const EXIT_CONFIG: u8 = 2;

/// A feed aggregator daemon: polls the feeds in a config file, stores their
/// items in SQLite, merges copies of the same story and serves one feed.
#[derive(Debug, Parser)]
#[command(name = "wiredesk", version, about)]
struct Cli {
    /// The config file.
    #[arg(
        long,
        short,
        global = true,
        env = "WIREDESK_CONFIG",
        default_value = "config/wiredesk.toml"
    )]
    config: PathBuf,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the daemon: poll every source on its schedule and serve the merged
    /// feed until SIGINT or SIGTERM.
    Run,
    /// Poll every source once, print one line per source, and exit. Exits
    /// non-zero only if the config or the database cannot be used.
    Poll,
    /// Print every source with its poll state: last poll, status, next poll,
    /// failures in a row, last error.
    Sources,
    /// Print the newest stories with their copies (the copy shown in the
    /// merged feed is marked *), with the item ids `explain` takes.
    Stories {
        /// How many stories.
        #[arg(long, short = 'n', default_value_t = 20)]
        limit: usize,
    },
    /// Print the dedup scores of two stored items and the rule that merges
    /// or separates them.
    Explain {
        /// An item id, as `stories` prints it.
        item_a: i64,
        /// Another item id.
        item_b: i64,
    },
    /// Check the config and exit: 0 when it is valid, 2 with a message naming
    /// the file and the key at fault otherwise.
    Check,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(match cli.command {
        Command::Run => "info",
        _ => "warn",
    });
    let settings = match config::load(&cli.config, std::env::vars()) {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("wiredesk: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let result = match cli.command {
        Command::Check => {
            println!(
                "{}: ok ({} sources)",
                settings.file.display(),
                settings.sources.len()
            );
            return ExitCode::SUCCESS;
        }
        Command::Poll => runtime().and_then(|rt| rt.block_on(poll(settings))),
        Command::Run => runtime().and_then(|rt| rt.block_on(run(settings))),
        Command::Sources => report(&settings, |store| cli::sources(&settings, store)),
        Command::Stories { limit } => report(&settings, |store| cli::stories(store, limit)),
        Command::Explain { item_a, item_b } => report(&settings, |store| {
            cli::explain(store, &settings.dedup, item_a, item_b)
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wiredesk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn run(settings: Settings) -> anyhow::Result<()> {
    let app = App::build(settings)
        .await
        .context("cannot start the daemon")?;
    app.run(shutdown_signal()).await?;
    Ok(())
}

async fn poll(settings: Settings) -> anyhow::Result<()> {
    let app = App::build_offline(settings).context("cannot open the store")?;
    for report in app.poll_once().await {
        match report.outcome {
            PollOutcome::Ok { seen, new, .. } => {
                println!("{}\tok\t{seen} items\t{new} new", report.source);
            }
            PollOutcome::NotModified => println!("{}\tnot modified", report.source),
            PollOutcome::Unchanged => println!("{}\tunchanged", report.source),
            PollOutcome::Failed { reason } => {
                println!("{}\terror\t{}", report.source, reason.escape_debug());
            }
        }
    }
    Ok(())
}

/// Opens the store and prints what `f` makes of it.
fn report(
    settings: &Settings,
    f: impl FnOnce(&Store) -> Result<String, cli::CliError>,
) -> anyhow::Result<()> {
    let store = Store::open(&settings.storage.path).context("cannot open the store")?;
    store.sync_sources(&settings.sources)?;
    print!("{}", f(&store)?);
    Ok(())
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

/// Logs to stderr; the level comes from `RUST_LOG`, else `default`.
fn init_logging(default: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr)
        .init();
}
