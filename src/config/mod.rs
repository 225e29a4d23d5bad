//! Configuration: one TOML file plus `WIREDESK_*` environment overrides,
//! loaded once with the `config` crate and validated into typed settings.
//!
//! Loading is two steps. [`load`] reads the layers into raw serde structs that
//! refuse unknown keys (`deny_unknown_fields`: a typo never passes silently),
//! then validation turns them into [`Settings`], whose every field has
//! already been checked. Every error names the file, the key and, for a
//! source, its index and id, e.g.
//! `config/wiredesk.toml: sources[1] (id "agency").url: "htp//x" has no scheme: …`.
//! A key set by a `WIREDESK_*` variable is blamed on the variable instead:
//! `environment variable WIREDESK_SERVER__LISTN (overriding wiredesk.toml): server.listn: …`.
//!
//! Paths are resolved against the folder of the config file: `storage.path`
//! when relative, and source URLs written as `file:relative/path`.
//!
//! The rooms, in the order a config passes through them:
//! - `env.rs`: which `WIREDESK_*` variables override the file, and which
//!   variable to blame for a key;
//! - `raw.rs`: the file's shape as serde reads it from the layers;
//! - `validate.rs`: raw → [`Settings`], one function per section;
//! - `settings.rs`: the typed settings and their [`defaults`];
//! - this file: the public API ([`locate`], [`load`], [`from_str`]) and
//!   [`ConfigError`].

mod env;
mod raw;
mod settings;
#[cfg(test)]
mod tests;
mod validate;
mod websub;

use std::path::{Path, PathBuf};

pub use env::ENV_PREFIX;
pub use settings::{
    DedupSettings, LogSettings, PollSettings, ServerSettings, Settings, StorageSettings,
    WebSubSettings, defaults,
};

/// Why a config could not be used. The message names the file (or the
/// environment variable) and the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{file}: cannot read the config: {reason}")]
    Read { file: PathBuf, reason: String },
    #[error("{file}: {key}: {message}")]
    Invalid {
        file: PathBuf,
        key: String,
        message: String,
    },
    /// A key set by an environment variable (which wins over the file).
    #[error("environment variable {var} (overriding {file}): {key}: {message}")]
    InvalidEnv {
        var: String,
        file: PathBuf,
        key: String,
        message: String,
    },
    #[error(
        "no config file: looked for {} (name one with --config PATH or WIREDESK_CONFIG)",
        searched_list(.searched)
    )]
    NotFound { searched: Vec<PathBuf> },
}

fn searched_list(paths: &[PathBuf]) -> String {
    let paths: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    paths.join(", ")
}

/// A value that cannot be used, before it is known which file or variable
/// it came from: the key at fault and why.
struct Invalid {
    key: String,
    message: String,
}

/// Where the config is read from when `--config` and `WIREDESK_CONFIG` are
/// not given: the first of these that exists; with none, an error naming
/// every place searched.
///
/// 1. `config/wiredesk.toml` in the working directory,
/// 2. `$XDG_CONFIG_HOME/wiredesk/wiredesk.toml` (`~/.config/...` when unset),
/// 3. `/etc/wiredesk/wiredesk.toml`.
pub fn locate(
    xdg_config_home: Option<&Path>,
    home: Option<&Path>,
    exists: impl Fn(&Path) -> bool,
) -> Result<PathBuf, ConfigError> {
    let mut candidates = vec![PathBuf::from("config/wiredesk.toml")];
    match (xdg_config_home, home) {
        (Some(xdg), _) if xdg.is_absolute() => candidates.push(xdg.join("wiredesk/wiredesk.toml")),
        (_, Some(home)) => candidates.push(home.join(".config/wiredesk/wiredesk.toml")),
        _ => {}
    }
    candidates.push(PathBuf::from("/etc/wiredesk/wiredesk.toml"));
    match candidates.iter().find(|p| exists(p)) {
        Some(found) => Ok(found.clone()),
        None => Err(ConfigError::NotFound {
            searched: candidates,
        }),
    }
}

/// Reads `file` and the `WIREDESK_*` variables of `env`, then validates.
///
/// `env` is passed in (usually `std::env::vars()`) so tests never touch the
/// process environment.
pub fn load(
    file: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Read {
        file: file.to_owned(),
        reason: e.to_string(),
    })?;
    from_str(&text, file, &folder_of(file), env)
}

/// The folder a config file's relative paths start from: `wiredesk.toml`
/// given bare is in the current folder (its `parent()` is empty, not none).
fn folder_of(file: &Path) -> PathBuf {
    file.parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Parses config text as if read from `file`, resolving relative paths
/// against `base_dir`.
pub fn from_str(
    text: &str,
    file: &Path,
    base_dir: &Path,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<Settings, ConfigError> {
    let env = env::Overrides::new(env);
    // An error in a key a variable set is the variable's (issue #18).
    let blame = |Invalid { key, message }| match env.setting(&key) {
        Some(var) => ConfigError::InvalidEnv {
            var: var.to_owned(),
            file: file.to_owned(),
            key,
            message,
        },
        None => ConfigError::Invalid {
            file: file.to_owned(),
            key,
            message,
        },
    };
    let layered = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .add_source(env.source())
        .build()
        .map_err(|e| ConfigError::Read {
            file: file.to_owned(),
            reason: e.to_string(),
        })?;
    let raw = raw::read(layered).map_err(blame)?;
    let mut settings = validate::validate(raw, file, base_dir).map_err(blame)?;
    settings.sources_cleared = says_no_sources(text);
    Ok(settings)
}

/// Whether the file says `sources = []` in so many words: a wish for no
/// sources, where a file without any `[[sources]]` may be one an editor
/// caught half-written (see `app::reload`).
fn says_no_sources(text: &str) -> bool {
    text.parse::<toml_edit::DocumentMut>()
        .ok()
        .and_then(|doc| {
            doc.get("sources")?
                .as_array()
                .map(toml_edit::Array::is_empty)
        })
        .unwrap_or(false)
}
