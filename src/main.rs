//! The `wiredesk` command: parse the CLI, set up logging, load the config,
//! run. Everything else lives in the library.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand};

use wiredesk::app::{self, App};
use wiredesk::cli;
use wiredesk::config::{self, Settings};
use wiredesk::ops::logging::{self, LogFormat};
use wiredesk::poll::PollOutcome;
use wiredesk::store::Store;

/// Exit code for a config that cannot be used.
const EXIT_CONFIG: u8 = 2;

/// A feed aggregator daemon: polls the feeds in a config file, stores their
/// items in SQLite, merges copies of the same story and serves one feed.
#[derive(Debug, Parser)]
#[command(name = "wiredesk", version, about)]
struct Cli {
    /// The config file. Without it (and without WIREDESK_CONFIG), the first
    /// that exists of config/wiredesk.toml, $XDG_CONFIG_HOME/wiredesk/wiredesk.toml
    /// (~/.config/... when unset) and /etc/wiredesk/wiredesk.toml.
    #[arg(long, short, global = true, env = "WIREDESK_CONFIG")]
    config: Option<PathBuf>,

    /// How log lines are written to stderr: `text` (for people) or `json`
    /// (one object per line, for a log collector).
    #[arg(
        long,
        global = true,
        env = "WIREDESK_LOG_FORMAT",
        default_value = "text"
    )]
    log_format: LogFormat,

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
    /// the file (or environment variable) and the key at fault otherwise.
    Check,
    /// Print `[[sources]]` blocks for the feeds of an OPML file (a feed
    /// reader's export), to paste into the config: ids made from the titles
    /// and unique, folders as tags.
    ImportOpml {
        /// The OPML file.
        file: PathBuf,
    },
    /// Print the configured sources as OPML 2.0, for a feed reader.
    ExportOpml,
    /// Print a shell completion script (e.g. `wiredesk completions bash >
    /// /etc/bash_completion.d/wiredesk`).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff; e.g. `wiredesk man | man -l -`).
    Man,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(done) = without_config(&cli.command) {
        return done;
    }
    let config_path = match cli.config.clone() {
        Some(path) => Ok(path),
        None => {
            let env_path = |name: &str| std::env::var_os(name).map(PathBuf::from);
            config::locate(
                env_path("XDG_CONFIG_HOME").as_deref(),
                env_path("HOME").as_deref(),
                |p| p.is_file(),
            )
        }
    };
    if let Command::ImportOpml { file } = &cli.command {
        return import_opml(file, config_path.as_deref().ok());
    }
    let loaded = config_path.and_then(|path| {
        let settings = config::load(&path, std::env::vars())?;
        Ok((path, settings))
    });
    let (config_path, settings) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("wiredesk: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let default_level = match cli.command {
        Command::Run => "info",
        _ => "warn",
    };
    logging::init(cli.log_format, settings.log.level.as_deref(), default_level);
    match with_config(cli.command, settings, config_path) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wiredesk: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command that needs no config; `None` for the others.
fn without_config(command: &Command) -> Option<ExitCode> {
    match command {
        Command::Completions { shell } => {
            clap_complete::generate(
                *shell,
                &mut Cli::command(),
                "wiredesk",
                &mut std::io::stdout(),
            );
            Some(ExitCode::SUCCESS)
        }
        Command::Man => Some(
            match clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("wiredesk: {e}");
                    ExitCode::FAILURE
                }
            },
        ),
        _ => None,
    }
}

/// `import-opml`: the ids of the config at `config`, if there is a valid
/// one, are taken; no config is fine too.
fn import_opml(file: &Path, config: Option<&Path>) -> ExitCode {
    let settings = config.and_then(|path| config::load(path, std::env::vars()).ok());
    let taken: Vec<&str> = settings
        .iter()
        .flat_map(|s| s.sources.iter().map(|s| s.id.as_str()))
        .collect();
    let result = std::fs::read_to_string(file)
        .map_err(|e| format!("{}: {e}", file.display()))
        .and_then(|text| {
            cli::import_opml(&text, &taken).map_err(|e| format!("{}: {e}", file.display()))
        });
    match result {
        Ok(toml) => {
            print!("{toml}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("wiredesk: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs a command with the config it loaded from `config_path`.
fn with_config(command: Command, settings: Settings, config_path: PathBuf) -> anyhow::Result<()> {
    match command {
        Command::Check => {
            println!(
                "{}: ok ({} sources)",
                settings.file.display(),
                settings.sources.len()
            );
            Ok(())
        }
        Command::Poll => runtime().and_then(|rt| rt.block_on(poll(settings))),
        Command::Run => runtime().and_then(|rt| rt.block_on(run(settings, config_path))),
        Command::ExportOpml => {
            print!("{}", cli::export_opml(&settings));
            Ok(())
        }
        Command::ImportOpml { .. } | Command::Completions { .. } | Command::Man => Ok(()),
        Command::Sources => report(&settings, |store| cli::sources(&settings, store)),
        Command::Stories { limit } => report(&settings, |store| cli::stories(store, limit)),
        Command::Explain { item_a, item_b } => report(&settings, |store| {
            cli::explain(store, &settings.dedup, item_a, item_b)
        }),
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Blocking work is parsing (one per core) and the store's writer
        // and reads (which queue for the store's connections anyway); HTTP
        // requests run on serving loops with blocking pools of their own
        // (`serve::server`). tokio's default of 512 threads only costs
        // memory: a thread and an allocator arena each (issue #8 measured
        // 108 threads and 90 MB on a cold poll).
        .max_blocking_threads(cores + 2)
        .build()
        .context("cannot start the async runtime")
}

async fn run(settings: Settings, config: PathBuf) -> anyhow::Result<()> {
    // Signal handlers first: the daemon starts polling as soon as it runs.
    let shutdown = shutdown_signal();
    raise_open_file_limit();
    let app = App::build(settings)
        .await
        .context("cannot start the daemon")?;
    app.run_with_reloads(shutdown, app::watch_config(config))
        .await?;
    Ok(())
}

/// Raises the soft limit on open files to the hard one, and says both:
/// every poll and every reader's connection takes a descriptor, and
/// systemd gives services a soft limit of 1 024 unless the unit sets
/// `LimitNOFILE` (#20: a flood of connections held them all, and polls
/// failed with "Too many open files").
fn raise_open_file_limit() {
    let (soft, hard) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap_or((0, 0));
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(now) => tracing::info!(soft = now, soft_before = soft, hard, "open-file limit"),
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
}

async fn poll(settings: Settings) -> anyhow::Result<()> {
    let app = App::build_offline(settings).context("cannot open the store")?;
    // On a terminal, a progress bar while the sources are polled; the lines
    // come after, in config order, either way (scripts read them).
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
        let bar = indicatif::ProgressBar::new(app.source_count() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} sources {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let reports = app
        .poll_once_with(|report| {
            if let Some(bar) = &progress {
                bar.set_message(report.source.to_string());
                bar.inc(1);
            }
        })
        .await;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    for report in reports {
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

/// Waits for one delivery of `signal`, or forever without one.
#[cfg(unix)]
async fn wait(signal: Option<&mut tokio::signal::unix::Signal>) {
    match signal {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

/// A future that completes on SIGINT (Ctrl-C) or SIGTERM. The handlers are
/// installed when this is called, not when the future is first polled, so a
/// signal that arrives while the daemon is still starting is not lost to
/// the default action (which would kill it without a clean shutdown).
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{Signal, SignalKind, signal};
        let listen = |kind: SignalKind, name: &str| -> Option<Signal> {
            signal(kind)
                .map_err(|e| tracing::error!(error = %e, "cannot listen for {name}"))
                .ok()
        };
        let mut interrupt = listen(SignalKind::interrupt(), "SIGINT");
        let mut terminate = listen(SignalKind::terminate(), "SIGTERM");
        async move {
            tokio::select! {
                () = wait(interrupt.as_mut()) => {},
                () = wait(terminate.as_mut()) => {},
            }
        }
    }
    #[cfg(not(unix))]
    async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
