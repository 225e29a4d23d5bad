//! `wiredesk man`: the manual page, wiredesk(1), in roff.
//!
//! NAME, SYNOPSIS, DESCRIPTION and OPTIONS are rendered by `clap_mangen`
//! from the same clap definition as `--help`; COMMANDS too comes from it,
//! written here because `clap_mangen` would point at one page per command
//! (`wiredesk-run(1)`, ...) that nobody installs. FILES, ENVIRONMENT,
//! SIGNALS, EXIT STATUS and EXAMPLES say what no option's help can.

use std::io::Write;

/// The sections after COMMANDS: (heading, paragraphs); a paragraph that
/// starts with a tab is a `.TP` item whose tag is the text before the
/// first ` | `.
const SECTIONS: &[(&str, &[&str])] = &[
    (
        "FILES",
        &[
            "\t/etc/wiredesk/wiredesk.toml | The config file of the Debian package and the systemd unit. Without --config or WIREDESK_CONFIG, the first that exists of config/wiredesk.toml (in the working directory), $XDG_CONFIG_HOME/wiredesk/wiredesk.toml (~/.config/wiredesk/wiredesk.toml when unset) and /etc/wiredesk/wiredesk.toml is read.",
            "\t/etc/wiredesk/env | Environment variables for the systemd unit (secrets such as WIREDESK_SERVER__TOKEN kept out of the config file).",
            "\t/var/lib/wiredesk/wiredesk.db | The SQLite database of the packaged service (storage.path), with its -wal and -shm files beside it.",
        ],
    ),
    (
        "ENVIRONMENT",
        &[
            "\tWIREDESK_CONFIG | The config file, as --config.",
            "\tWIREDESK_LOG_FORMAT | text or json, as --log-format.",
            "\tWIREDESK_<SECTION>__<KEY> | Overrides one key of the config file, e.g. WIREDESK_SERVER__LISTEN=0.0.0.0:8080 or WIREDESK_STORAGE__PATH=/var/lib/wiredesk/wiredesk.db. An invalid value is blamed on the variable.",
            "\tRUST_LOG | A log filter such as debug or wiredesk=debug,warn; wins over [log] level.",
            "\tHTTPS_PROXY, HTTP_PROXY, NO_PROXY | The proxy for polls, unless poll.proxy is set.",
            "\tNOTIFY_SOCKET | Set by systemd for Type=notify: wiredesk sends READY=1, WATCHDOG=1, STATUS= and STOPPING=1 there.",
        ],
    ),
    (
        "SIGNALS",
        &[
            "\tSIGINT, SIGTERM | Stop: no new polls start, polls in flight get poll.shutdown_grace to finish, open connections are closed, and the daemon exits 0.",
            "\tSIGHUP | Read the config file again: changed [[sources]] take effect at once; other changes are logged as needing a restart; an invalid file is refused and the running config kept. A change to the file on disk is picked up the same way without a signal.",
        ],
    ),
    (
        "EXIT STATUS",
        &[
            "\t0 | Success (for run, a clean stop after SIGINT or SIGTERM).",
            "\t1 | The command failed: the database, the listener, a file to read or write, or a URL to fetch could not be used.",
            "\t2 | The config cannot be used; the message names the file (or environment variable) and the key.",
        ],
    ),
    (
        "EXAMPLES",
        &[
            "\twiredesk --config /etc/wiredesk/wiredesk.toml check | Check a config before a restart.",
            "\twiredesk poll | Poll every source once and print one line per source.",
            "\twiredesk import-opml reader-export.opml --append /etc/wiredesk/wiredesk.toml | Add the feeds of a feed reader's export to the config; URLs already there are skipped and named.",
            "\twiredesk discover https://www.example.org/ | Print the feeds a web page links to as [[sources]] blocks.",
            "\twiredesk completions bash > /etc/bash_completion.d/wiredesk | Install the completions for bash.",
            "\tcurl http://127.0.0.1:8080/feed.atom | Read the merged feed (also /feed.rss and /feed.json).",
        ],
    ),
    (
        "SEE ALSO",
        &[
            "systemd.service(5), sqlite3(1). The README shipped with wiredesk (/usr/share/doc/wiredesk/README.md in the Debian package) describes every config key and HTTP route.",
        ],
    ),
];

/// The manual page of `cmd` (the `wiredesk` command's clap definition).
pub fn render(cmd: clap::Command) -> Result<Vec<u8>, std::io::Error> {
    let man = clap_mangen::Man::new(cmd.clone());
    let mut out = Vec::new();
    man.render_title(&mut out)?;
    man.render_name_section(&mut out)?;
    man.render_synopsis_section(&mut out)?;
    man.render_description_section(&mut out)?;
    man.render_options_section(&mut out)?;
    commands(&cmd, &mut out)?;
    for (heading, paragraphs) in SECTIONS {
        writeln!(out, ".SH {heading}")?;
        for paragraph in *paragraphs {
            match paragraph
                .strip_prefix('\t')
                .and_then(|p| p.split_once(" | "))
            {
                Some((tag, text)) => {
                    writeln!(out, ".TP\n\\fB{}\\fR\n{}", escape(tag), escape(text))?;
                }
                None => writeln!(out, ".PP\n{}", escape(paragraph))?,
            }
        }
    }
    man.render_version_section(&mut out)?;
    Ok(out)
}

/// COMMANDS: each visible subcommand with its arguments and help.
fn commands(cmd: &clap::Command, out: &mut Vec<u8>) -> Result<(), std::io::Error> {
    writeln!(out, ".SH COMMANDS")?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let mut line = format!("{} {}", cmd.get_name(), sub.get_name());
        let args: Vec<&clap::Arg> = sub
            .get_arguments()
            .filter(|a| !a.is_hide_set() && !a.is_global_set())
            .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
            .collect();
        for arg in &args {
            let value = arg
                .get_value_names()
                .and_then(|v| v.first())
                .map_or_else(|| arg.get_id().as_str().to_uppercase(), ToString::to_string);
            match arg.get_long() {
                Some(long) if arg.get_action().takes_values() => {
                    line.push_str(&format!(" [--{long} {value}]"));
                }
                Some(long) => line.push_str(&format!(" [--{long}]")),
                None => line.push_str(&format!(" {value}")),
            }
        }
        writeln!(out, ".TP\n\\fB{}\\fR", escape(&line))?;
        if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
            writeln!(out, "{}", escape(&about.to_string()))?;
        }
        for arg in &args {
            let Some(help) = arg.get_long_help().or_else(|| arg.get_help()) else {
                continue;
            };
            let name = match arg.get_long() {
                Some(long) => format!("--{long}"),
                None => arg.get_id().as_str().to_uppercase(),
            };
            writeln!(
                out,
                ".RS\n.TP\n{}\n{}\n.RE",
                escape(&name),
                escape(&help.to_string())
            )?;
        }
    }
    Ok(())
}

/// Text for roff: backslashes and hyphens escaped, and no line that starts
/// with a control character.
fn escape(text: &str) -> String {
    text.lines()
        .map(|line| {
            let line = line.replace('\\', "\\e").replace('-', "\\-");
            if line.starts_with('.') || line.starts_with('\'') {
                format!("\\&{line}")
            } else {
                line
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roff_control_characters_at_a_line_start_are_escaped() {
        assert_eq!(
            escape(".hidden\n'also\nC:\\x a-b"),
            "\\&.hidden\n\\&'also\nC:\\ex a\\-b"
        );
    }
}
