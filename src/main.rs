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
#[command(name = "wiredesk", version, about, long_about)]
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
        /// How many stories (at least 1; `--limit 0` said "no stories").
        #[arg(long, short = 'n', default_value_t = 20,
              value_parser = clap::value_parser!(u64).range(1..=100_000))]
        limit: u64,
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
    /// Add the feeds of an OPML file (a feed reader's export) as sources:
    /// printed as `[[sources]]` blocks to paste into the config, or with
    /// --append added to a config file in place. Ids are made from the
    /// titles and unique; folders become tags; URLs already configured,
    /// listed twice or not http(s) are skipped and named.
    ImportOpml {
        /// The OPML file, in any encoding.
        file: PathBuf,
        /// Add the new sources to this config file, keeping its comments
        /// and layout, instead of printing them.
        #[arg(long, value_name = "CONFIG")]
        append: Option<PathBuf>,
    },
    /// Find the feeds a web page links to (its `<link rel="alternate">`
    /// tags) and print them as `[[sources]]` blocks, or with --append add
    /// them to a config file. A URL that is a feed itself is said to be one.
    Discover {
        /// The page's address (http or https).
        url: String,
        /// Add the feeds found to this config file, keeping its comments and
        /// layout, instead of printing them.
        #[arg(long, value_name = "CONFIG")]
        append: Option<PathBuf>,
    },
    /// Print the configured sources as OPML 2.0, for a feed reader.
    ExportOpml,
    /// Print a shell completion script (e.g. `wiredesk completions bash >
    /// /etc/bash_completion.d/wiredesk`).
    #[command(hide = true)]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page, wiredesk(1), in roff (e.g. `wiredesk man |
    /// man -l -`).
    #[command(hide = true)]
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
    match &cli.command {
        Command::ImportOpml { file, append } => {
            return import_opml(file, append.as_deref(), config_path.as_deref().ok());
        }
        Command::Discover { url, append } => {
            return discover(url, append.as_deref(), config_path.as_deref().ok());
        }
        _ => {}
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
        // `poll` prints each source's outcome on stdout; the poller's own
        // "poll failed" warnings said each failure a second time (#18).
        Command::Poll => "warn,wiredesk::poll=error",
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
            match cli::manual::render(Cli::command())
                .and_then(|page| std::io::Write::write_all(&mut std::io::stdout(), &page))
            {
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

/// `import-opml`: the OPML file's feeds, added to `append` or printed.
fn import_opml(file: &Path, append: Option<&Path>, config: Option<&Path>) -> ExitCode {
    let found = std::fs::read(file)
        .map_err(|e| e.to_string())
        .and_then(|bytes| cli::opml::feeds(&bytes).map_err(|e| e.to_string()));
    match found {
        Ok(found) => add_sources(&found, append, config),
        Err(e) => {
            eprintln!("wiredesk: {}: {e}", file.display());
            ExitCode::FAILURE
        }
    }
}

/// `discover`: the feeds the page at `url` links to, added to `append` or
/// printed. The page is fetched with the `[poll]` settings of `append`, or
/// else of the config found as usual, or else the defaults.
fn discover(url: &str, append: Option<&Path>, config: Option<&Path>) -> ExitCode {
    let page = match url::Url::parse(url.trim()) {
        Ok(page) if matches!(page.scheme(), "http" | "https") => page,
        Ok(_) => {
            eprintln!("wiredesk: {url:?}: only http:// and https:// pages can be looked at");
            return ExitCode::FAILURE;
        }
        Err(e) => {
            eprintln!("wiredesk: {url:?} is not a URL: {e}");
            return ExitCode::FAILURE;
        }
    };
    let settings = match append.or(config) {
        Some(path) => config::load(path, std::env::vars()),
        None => config::from_str(
            "",
            Path::new("(defaults)"),
            Path::new("."),
            std::iter::empty(),
        ),
    };
    let settings = match settings {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("wiredesk: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let looked = wiredesk::poll::Fetcher::new(&settings.poll)
        .map_err(|e| e.to_string())
        .and_then(|fetcher| {
            let rt = runtime().map_err(|e| format!("{e:#}"))?;
            rt.block_on(cli::discover::discover(&fetcher, &page))
                .map_err(|e| e.to_string())
        });
    let found = match looked {
        Ok(cli::discover::Discovered::Feed(feed)) => {
            eprintln!("wiredesk: {page} is a feed itself");
            vec![feed]
        }
        Ok(cli::discover::Discovered::Page(feeds)) if feeds.is_empty() => {
            eprintln!(
                "wiredesk: {page} links to no feed (no <link rel=\"alternate\"> of a feed type)"
            );
            return ExitCode::FAILURE;
        }
        Ok(cli::discover::Discovered::Page(feeds)) => feeds,
        Err(e) => {
            eprintln!("wiredesk: {e}");
            return ExitCode::FAILURE;
        }
    };
    add_sources(&found, append, config)
}

/// Adds the feeds `found` to the config file `append`, or prints them as
/// `[[sources]]` blocks with ids unique against the config at `config` (if
/// there is one); each feed skipped is named on stderr.
fn add_sources(
    found: &[cli::new_sources::Found],
    append: Option<&Path>,
    config: Option<&Path>,
) -> ExitCode {
    use cli::new_sources;
    let against = append.or(config);
    let text = match against.map(std::fs::read_to_string) {
        Some(Ok(text)) => text,
        Some(Err(e)) if append.is_some() => {
            eprintln!(
                "wiredesk: {}: {e}",
                against.unwrap_or(Path::new("")).display()
            );
            return ExitCode::FAILURE;
        }
        _ => String::new(),
    };
    let plan = new_sources::plan(found, &new_sources::existing(&text));
    for skipped in &plan.skipped {
        eprintln!("wiredesk: skipped {skipped}");
    }
    let Some(path) = append else {
        print!("{}", new_sources::to_toml(&plan.added));
        return ExitCode::SUCCESS;
    };
    match new_sources::append_to_file(path, &plan.added) {
        Ok(()) => {
            let ids: Vec<&str> = plan.added.iter().map(|s| s.id.as_str()).collect();
            println!(
                "{}: added {} source{}{}{}",
                path.display(),
                ids.len(),
                if ids.len() == 1 { "" } else { "s" },
                if ids.is_empty() { "" } else { ": " },
                ids.join(", ")
            );
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
            let disabled = match settings.disabled_sources.len() {
                0 => String::new(),
                n => format!(", {n} disabled"),
            };
            println!(
                "{}: ok ({} sources{disabled})",
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
        Command::ImportOpml { .. }
        | Command::Discover { .. }
        | Command::Completions { .. }
        | Command::Man => Ok(()),
        Command::Sources => report(&settings, |store| cli::sources(&settings, store)),
        Command::Stories { limit } => report(&settings, |store| {
            cli::stories(store, usize::try_from(limit).unwrap_or(usize::MAX))
        }),
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
    note_missing_contact(&settings.poll);
    let app = App::build(settings)
        .await
        .context("cannot start the daemon")?;
    app.run_with_reloads(shutdown, app::watch_config(config))
        .await?;
    Ok(())
}

/// Says, once at start, that publishers cannot reach the operator when
/// `poll.contact` is unset and the `User-Agent` is the default one (#18:
/// wiredesk used to put a made-up home page there instead).
fn note_missing_contact(poll: &config::PollSettings) {
    if poll.contact.is_none()
        && poll.user_agent == format!("wiredesk/{}", env!("CARGO_PKG_VERSION"))
    {
        tracing::info!(
            user_agent = %poll.user_agent,
            "poll.contact is not set: publishers cannot tell whom to write about this desk's polling; \
             set [poll] contact = \"https://your.page/\" or \"you@example.org\""
        );
    }
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
