//! Logs: human lines (the default) or JSON lines, on stderr. The level comes
//! from `RUST_LOG`, else `[log].level`, else the command's default.
//!
//! Feed-supplied text (titles, error messages quoting a server) is logged as
//! field values. tracing-subscriber 0.3.20+ escapes control characters in a
//! message, but not in a field recorded with `%` (Display): measured on
//! 0.3.23, `title = %t` wrote a raw ESC. So the human format writes every
//! field through [`escape_controls`] (see the tests), and JSON escapes every
//! control character by itself. A feed cannot write escape sequences, fake
//! log lines or reorder text (bidi controls) on an operator's terminal.

use std::io::IsTerminal;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::format::{self, Writer};

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<LogFormat, String> {
        match s {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("{other:?} is not a log format: text or json")),
        }
    }
}

/// Checks a level filter such as `info` or `wiredesk=debug,warn`.
pub fn check_level(level: &str) -> Result<(), String> {
    EnvFilter::try_new(level)
        .map(drop)
        .map_err(|e| format!("{level:?} is not a log level or filter: {e}"))
}

/// The filter in force: `RUST_LOG` when set and valid, else `configured`,
/// else `default`.
fn filter(configured: Option<&str>, default: &str) -> EnvFilter {
    EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(configured.unwrap_or(default)))
        .unwrap_or_else(|_| EnvFilter::new(default))
}

/// Installs the global subscriber, writing to stderr.
pub fn init(format: LogFormat, configured: Option<&str>, default: &str) {
    let filter = filter(configured, default);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .fmt_fields(format::debug_fn(write_field).delimited(" "))
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_ansi(false)
            .try_init(),
    };
    if let Err(e) = result {
        eprintln!("wiredesk: cannot set up logging: {e}");
    }
}

/// Writes one field of a human log line with its control characters
/// escaped; the message goes without its name.
fn write_field(
    w: &mut Writer<'_>,
    field: &tracing::field::Field,
    value: &dyn std::fmt::Debug,
) -> std::fmt::Result {
    let text = escape_controls(&format!("{value:?}"));
    if field.name() == "message" {
        w.write_str(&text)
    } else {
        write!(w, "{}={text}", field.name())
    }
}

/// `text` with control characters (C0, DEL, C1) and bidirectional
/// overrides written as `\u{…}` escapes.
pub fn escape_controls(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let bidi = matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if c.is_control() || bidi {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Buffer {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
        }
    }

    const HOSTILE: &str = "Title\u{1b}]0;pwned\u{7}\u{1b}[2J\r\nforged line";

    fn log_hostile_title(format: LogFormat) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let builder = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false);
        let dispatch = match format {
            LogFormat::Text => tracing::Dispatch::new(
                builder
                    .fmt_fields(format::debug_fn(write_field).delimited(" "))
                    .finish(),
            ),
            LogFormat::Json => tracing::Dispatch::new(builder.json().finish()),
        };
        tracing::dispatcher::with_default(&dispatch, || {
            tracing::warn!(title = %HOSTILE, error = ?HOSTILE, "poll failed: {HOSTILE}");
        });
        buffer.text()
    }

    #[test]
    fn human_logs_escape_control_characters_from_feeds() {
        let out = log_hostile_title(LogFormat::Text);
        assert!(!out.contains('\u{1b}'), "{out:?}");
        assert!(!out.contains('\u{7}'), "{out:?}");
        assert_eq!(out.trim_end().lines().count(), 1, "{out:?}");
        assert!(out.contains("title=Title\\u{1b}]0;pwned"), "{out:?}");
    }

    #[test]
    fn escaping_keeps_printable_text_and_escapes_bidi_overrides() {
        assert_eq!(escape_controls("Café – ok"), "Café – ok");
        assert_eq!(escape_controls("a\u{202e}b\u{9b}c"), "a\\u{202e}b\\u{9b}c");
    }

    #[test]
    fn json_logs_are_one_object_per_line_with_control_characters_escaped() {
        let out = log_hostile_title(LogFormat::Json);
        assert!(!out.contains('\u{1b}'), "{out:?}");
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 1, "{out:?}");
        let value: serde_json::Value = serde_json::from_str(lines[0]).unwrap_or_default();
        assert_eq!(value["fields"]["title"], HOSTILE, "{out}");
    }

    #[test]
    fn a_bad_level_is_refused_and_a_good_filter_accepted() {
        assert!(check_level("wiredesk=debug,warn").is_ok());
        assert!(check_level("loud=").is_err() || check_level("=[").is_err());
    }
}
