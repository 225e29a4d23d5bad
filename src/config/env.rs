//! The environment layer: `WIREDESK_<SECTION>__<KEY>` variables override
//! the file, and an error in a key one of them set is blamed on the
//! variable, not on the file (issue #18).

/// The prefix of environment overrides: `WIREDESK_SERVER__LISTEN=0.0.0.0:8080`
/// sets `server.listen`.
pub const ENV_PREFIX: &str = "WIREDESK";

/// Environment variables with the prefix that are not config keys: the
/// config file's path and the log format (`--log-format`), both read by the
/// command line.
const ENV_NOT_KEYS: &[&str] = &["WIREDESK_CONFIG", "WIREDESK_LOG_FORMAT"];

/// The overriding variables of one environment, and the key each one sets.
pub(super) struct Overrides {
    vars: config::Map<String, String>,
    /// (key as the config crate reads it, variable), e.g.
    /// `("server.listen", "WIREDESK_SERVER__LISTEN")`.
    keys: Vec<(String, String)>,
}

impl Overrides {
    /// Keeps the variables with the prefix that set config keys.
    pub fn new(env: impl IntoIterator<Item = (String, String)>) -> Overrides {
        let prefix = format!("{ENV_PREFIX}_");
        let vars: config::Map<String, String> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with(&prefix) && !ENV_NOT_KEYS.contains(&k.as_str()))
            .collect();
        let keys = vars
            .keys()
            .map(|var| {
                let key = var.strip_prefix(&prefix).unwrap_or(var);
                (key.to_lowercase().replace("__", "."), var.clone())
            })
            .collect();
        Overrides { vars, keys }
    }

    /// The layer to put over the file.
    pub fn source(&self) -> config::Environment {
        config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("_")
            .separator("__")
            .source(Some(self.vars.clone()))
    }

    /// The variable that set `key`, or a key below it (a misspelt section
    /// is an error about the section, set by `WIREDESK_SERVR__LISTEN`).
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.keys
            .iter()
            .find(|(k, _)| {
                k == key
                    || k.strip_prefix(key)
                        .is_some_and(|rest| rest.starts_with('.'))
            })
            .map(|(_, var)| var.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn overrides(vars: &[&str]) -> Overrides {
        Overrides::new(vars.iter().map(|v| ((*v).to_owned(), "1".to_owned())))
    }

    #[test]
    fn a_key_is_blamed_on_the_variable_that_set_it_or_a_key_below_it() {
        let env = overrides(&["WIREDESK_SERVER__LISTEN", "WIREDESK_SERVR__TITLE"]);
        assert_eq!(
            env.setting("server.listen"),
            Some("WIREDESK_SERVER__LISTEN")
        );
        assert_eq!(env.setting("servr"), Some("WIREDESK_SERVR__TITLE"));
        assert_eq!(env.setting("server.list"), None);
        assert_eq!(env.setting("server.title"), None);
    }

    #[test]
    fn only_prefixed_variables_that_set_keys_are_overrides() {
        let env = overrides(&[
            "WIREDESK_CONFIG",
            "HOME",
            "WIREDESKX",
            "WIREDESK_LOG__LEVEL",
        ]);
        assert_eq!(env.vars.len(), 1);
        assert_eq!(env.setting("log.level"), Some("WIREDESK_LOG__LEVEL"));
    }
}
