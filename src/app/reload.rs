//! Applying a re-read config to the running daemon: the sources change at
//! once; every other change is reported as needing a restart.

use std::collections::HashSet;

use tokio::sync::watch;

use super::App;
use crate::config::{ConfigError, Settings};
use crate::model::Source;
use crate::ops::notify;
use crate::serve::ServeState;

/// The settings a reload cannot change: each one that differs is reported
/// as needing a restart.
fn restart_needed(running: &Settings, loaded: &Settings) -> Vec<&'static str> {
    let (a, b) = (&running.server, &loaded.server);
    [
        ("server.listen", a.listen != b.listen),
        ("server.base_url", a.base_url != b.base_url),
        ("server.title", a.title != b.title),
        ("server.token", a.token != b.token),
        ("server.metrics", a.metrics != b.metrics),
        ("storage.path", running.storage.path != loaded.storage.path),
        ("poll", running.poll != loaded.poll),
        ("dedup", running.dedup != loaded.dedup),
        ("websub", running.websub != loaded.websub),
        ("log.level", running.log != loaded.log),
    ]
    .into_iter()
    .filter_map(|(key, changed)| changed.then_some(key))
    .collect()
}

/// Why a config that parsed must still not replace the running one, if it
/// must not: one that lists no sources where some are running is most
/// likely a file caught half-written by an editor or a deploy, and applying
/// it would stop every poll (#20).
///
/// A file that lists its sources all disabled, or says `sources = []`,
/// means it: that is applied (the stored stories are still served).
fn refusal(running: &Settings, loaded: &Settings) -> Option<String> {
    let lists_none = loaded.sources.is_empty() && loaded.disabled_sources.is_empty();
    (lists_none && !loaded.sources_cleared && !running.sources.is_empty()).then(|| {
        format!(
            "it lists no sources where {} are running (a file saved half-written?); \
             to stop polling every source, write `sources = []` or set each one \
             `enabled = false`",
            running.sources.len()
        )
    })
}

impl App {
    /// Applies a re-read config: the `[[sources]]` take effect at once
    /// (added ones start polling, removed ones stop, changed ones poll with
    /// their new settings); any other change is logged as needing a restart
    /// and left as it runs. An invalid config is logged, naming the key, and
    /// the running config stays.
    pub(super) async fn reload(
        &mut self,
        loaded: Result<Settings, ConfigError>,
        serving: Option<&ServeState>,
        sources_tx: &watch::Sender<Vec<Source>>,
    ) {
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(e) => {
                tracing::error!(error = %e, "config reload rejected; the running config stays");
                notify::status(&format!("config reload rejected: {e}"));
                return;
            }
        };
        if let Some(reason) = refusal(&self.settings, &loaded) {
            tracing::error!(reason, "config reload rejected; the running config stays");
            notify::status(&format!("config reload rejected: {reason}"));
            return;
        }
        for key in restart_needed(&self.settings, &loaded) {
            tracing::warn!(key, "changed in the config; takes effect after a restart");
        }
        let sources = loaded.sources;
        let old: HashSet<&str> = self
            .settings
            .sources
            .iter()
            .map(|s| s.id.as_str())
            .collect();
        let new: HashSet<&str> = sources.iter().map(|s| s.id.as_str()).collect();
        let added = new.difference(&old).count();
        let removed = old.difference(&new).count();
        // The served list first, then the store (which bumps the pages'
        // generation), so no page is cached with the old list under the new
        // generation.
        if let Some(state) = serving {
            state.set_sources(&sources, &loaded.disabled_sources);
        }
        let synced = sources.clone();
        if let Err(e) = self.store.run(move |s| s.sync_sources(&synced)).await {
            tracing::error!(error = %e, "config reload: cannot record the sources");
        }
        sources_tx.send_replace(sources.clone());
        self.settings.sources = sources;
        self.settings.disabled_sources = loaded.disabled_sources;
        tracing::info!(
            sources = self.settings.sources.len(),
            added,
            removed,
            "config reloaded"
        );
        notify::status(&format!(
            "config reloaded: {} sources",
            self.settings.sources.len()
        ));
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::path::Path;

    use super::*;
    use crate::config;

    fn settings(text: &str) -> Settings {
        config::from_str(text, Path::new("t.toml"), Path::new("/tmp"), []).unwrap()
    }

    #[test]
    fn a_reload_reports_listen_and_storage_changes_as_needing_a_restart() {
        let running = settings("[server]\nlisten = \"127.0.0.1:8080\"\n");
        let same = settings(
            "[server]\nlisten = \"127.0.0.1:8080\"\n[[sources]]\nid = \"a\"\nurl = \"https://a.example/f\"\n",
        );
        assert!(restart_needed(&running, &same).is_empty());
        let moved = settings(
            "[server]\nlisten = \"127.0.0.1:9090\"\n[storage]\npath = \"other.db\"\n[poll]\ninterval = \"5m\"\n",
        );
        assert_eq!(
            restart_needed(&running, &moved),
            ["server.listen", "server.base_url", "storage.path", "poll"]
        );
    }

    /// Issue #17: `[poll]` was compared by its `Debug` text.
    #[test]
    fn a_reload_compares_poll_settings_by_value() {
        let running = settings(
            "[poll]
interval = \"90m\"
",
        );
        let same = settings(
            "[poll]
interval = \"1h 30m\"
",
        );
        assert!(restart_needed(&running, &same).is_empty());
        let jitter = settings(
            "[poll]
interval = \"90m\"
jitter = 0.2
",
        );
        assert_eq!(restart_needed(&running, &jitter), ["poll"]);
    }

    #[test]
    fn a_config_with_no_sources_where_some_run_is_refused() {
        let two = settings(
            "[[sources]]\nid = \"a\"\nurl = \"https://a.example/f\"\n\
             [[sources]]\nid = \"b\"\nurl = \"https://b.example/f\"\n",
        );
        let none = settings("");
        let reason = refusal(&two, &none).expect("refused");
        assert!(
            reason.contains("no sources where 2 are running"),
            "{reason}"
        );
        // Fewer sources, or none from none, is an ordinary change.
        let one = settings("[[sources]]\nid = \"a\"\nurl = \"https://a.example/f\"\n");
        assert_eq!(refusal(&two, &one), None);
        assert_eq!(refusal(&none, &none), None);
        // No sources on purpose: said in so many words, or all disabled.
        assert_eq!(refusal(&two, &settings("sources = []\n")), None);
        let disabled =
            settings("[[sources]]\nid = \"a\"\nurl = \"https://a.example/f\"\nenabled = false\n");
        assert_eq!(refusal(&two, &disabled), None);
        // A half-written file that stops before its sources is still refused.
        assert!(refusal(&two, &settings("[server]\ntitle = \"Desk\"\n")).is_some());
    }
}
