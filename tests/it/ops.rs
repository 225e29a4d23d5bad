//! Issue 7, operating the daemon: readiness, metrics, logs and the status
//! page, as an operator (or Prometheus, or systemd) sees them.

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use axum::http::StatusCode;

use wiredesk::app::App;
use wiredesk::config::{self, Settings};

use crate::helpers::{
    AGENCY_RSS, Canned, Daemon, FeedServer, gated_feed_server, get_text, settings, sources_toml,
    spawn_app,
};

/// Settings from a whole config text, with relative paths in `dir`.
fn settings_from(dir: &Path, text: &str) -> Result<Settings, config::ConfigError> {
    config::from_str(text, &dir.join("test.toml"), dir, [])
}

async fn get_with_token(url: &str, token: Option<&str>) -> (StatusCode, String) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    (status, response.text().await.unwrap())
}

/// Parses the text exposition format strictly: every line is a `# HELP`,
/// `# TYPE` or `# UNIT` line, the final `# EOF`, or a sample of a declared
/// family with quoted labels and a number. Returns each series' value,
/// keyed by the sample's text before the value.
fn parse_exposition(text: &str) -> HashMap<String, f64> {
    assert!(text.ends_with("# EOF\n"), "no # EOF at the end");
    let mut families: HashMap<String, String> = HashMap::new();
    let mut samples = HashMap::new();
    let valid_name = |name: &str| {
        !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    for line in text.lines() {
        if line == "# EOF" {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# ") {
            let mut parts = rest.splitn(3, ' ');
            let kind = parts.next().unwrap();
            let name = parts.next().unwrap_or_default();
            assert!(valid_name(name), "bad family name in {line:?}");
            match kind {
                "TYPE" => {
                    let t = parts.next().unwrap_or_default();
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "info",
                            "unknown"
                        ]
                        .contains(&t),
                        "bad type in {line:?}"
                    );
                    families.insert(name.to_owned(), t.to_owned());
                }
                "HELP" | "UNIT" => {}
                _ => panic!("unknown comment line {line:?}"),
            }
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v
                .parse()
                .unwrap_or_else(|_| panic!("bad value in {line:?}")),
        };
        let name = series.split('{').next().unwrap();
        assert!(valid_name(name), "bad sample name in {line:?}");
        if let Some(labels) = series.strip_prefix(name).filter(|l| !l.is_empty()) {
            let inner = labels
                .strip_prefix('{')
                .and_then(|l| l.strip_suffix('}'))
                .unwrap_or_else(|| panic!("bad labels in {line:?}"));
            for pair in inner.split("\",") {
                let (key, value) = pair.split_once("=\"").expect("label=\"value\"");
                assert!(valid_name(key), "bad label name in {line:?}");
                assert!(!value.trim_end_matches('"').contains('"'), "{line:?}");
            }
        }
        let family = ["_total", "_bucket", "_count", "_sum", "_created", ""]
            .iter()
            .filter_map(|suffix| name.strip_suffix(suffix))
            .find(|base| families.contains_key(*base));
        assert!(family.is_some(), "sample {line:?} of no declared family");
        samples.insert(series.to_owned(), value);
    }
    samples
}

#[tokio::test]
async fn readyz_answers_503_until_the_first_poll_round_has_run_and_200_after() {
    let (url, gate) = gated_feed_server().await;
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[("agency", "Northwind", &url, 0)]),
    );
    let app = App::build(settings).await.unwrap();
    let readiness = app.readiness().clone();
    let running = spawn_app(app);

    // The first poll is held at the feed server: alive, not ready.
    let (status, body) = get_text(&running.url("/readyz")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body.contains("no poll round has run yet"), "{body}");
    assert_eq!(get_text(&running.url("/healthz")).await.0, StatusCode::OK);

    gate.add_permits(100);
    tokio::time::timeout(Duration::from_secs(20), readiness.wait())
        .await
        .expect("ready after the first round");
    let (status, body) = get_text(&running.url("/readyz")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    running.stop().await;
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text_and_count_polls_as_they_happen() {
    let feeds = FeedServer::start().await;
    feeds.set("agency.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[
            ("agency", "Northwind", &feeds.url("agency.xml"), 0),
            ("broken", "Broken", &feeds.url("nothing-here.xml"), 0),
        ]),
    );
    let app = App::build(settings).await.unwrap();
    let metrics = app.metrics().clone();
    let ok = "wiredesk_polls_total{source=\"agency\",outcome=\"ok\"}";
    let failed = "wiredesk_polls_total{source=\"broken\",outcome=\"error\"}";

    let before = parse_exposition(&metrics.render());
    assert_eq!(before.get(ok), None);

    app.poll_once().await;
    let after = parse_exposition(&metrics.render());
    assert_eq!(after.get(ok), Some(&1.0));
    assert_eq!(after.get(failed), Some(&1.0));
    assert!(after["wiredesk_items_stored_total{source=\"agency\"}"] > 0.0);
    assert!(after["wiredesk_fetched_bytes_total{source=\"agency\"}"] >= AGENCY_RSS.len() as f64);
    assert_eq!(
        after["wiredesk_fetch_duration_seconds_count{source=\"agency\"}"],
        1.0
    );
    assert_eq!(
        after["wiredesk_fetch_duration_seconds_bucket{le=\"+Inf\",source=\"agency\"}"],
        1.0
    );

    // Served over HTTP, with the store's gauges and the requests counted.
    let running = spawn_app(app);
    let (status, _) = get_text(&running.url("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        get_text(&running.url("/no-such-page")).await.0,
        StatusCode::NOT_FOUND
    );
    let (_, text) = get_text(&running.url("/metrics")).await;
    let served = parse_exposition(&text);
    assert_eq!(served.get(ok), Some(&1.0), "the daemon did not poll again");
    assert!(served["wiredesk_stories"] > 0.0);
    assert_eq!(served["wiredesk_sources_failing"], 1.0);
    assert!(served["wiredesk_database_size_bytes"] > 0.0);
    assert!(served.contains_key("wiredesk_next_poll_lag_seconds"));
    assert_eq!(
        served["wiredesk_http_requests_total{route=\"/metrics\",status=\"200\"}"],
        1.0
    );
    assert_eq!(
        served["wiredesk_http_requests_total{route=\"other\",status=\"404\"}"],
        1.0
    );
    assert!(served.contains_key(
        "wiredesk_http_request_duration_seconds_bucket{le=\"0.005\",route=\"/metrics\"}"
    ));
    running.stop().await;
}

#[tokio::test]
async fn metrics_need_no_token_but_the_status_page_does_and_metrics_can_be_turned_off() {
    let dir = tempfile::tempdir().unwrap();
    let token = "s3cret-token-0123456789";
    let text = |metrics: bool| {
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntoken = \"{token}\"\nmetrics = {metrics}\n\
             [storage]\npath = \"test.db\"\n"
        )
    };
    let app = App::build(settings_from(dir.path(), &text(true)).unwrap())
        .await
        .unwrap();
    let running = spawn_app(app);
    assert_eq!(get_text(&running.url("/metrics")).await.0, StatusCode::OK);
    assert_eq!(get_text(&running.url("/readyz")).await.0, StatusCode::OK);
    assert_eq!(
        get_text(&running.url("/")).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        get_with_token(&running.url("/"), Some(token)).await.0,
        StatusCode::OK
    );
    running.stop().await;

    let app = App::build(settings_from(dir.path(), &text(false)).unwrap())
        .await
        .unwrap();
    let running = spawn_app(app);
    assert_eq!(
        get_text(&running.url("/metrics")).await.0,
        StatusCode::NOT_FOUND
    );
    running.stop().await;
}

const HOSTILE_RSS: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Hostile</title><link>https://hostile.example/</link>
<description>x</description>
<item><title>Rates rise as 1 &lt; 2 &amp; 3 &gt; 2, "say" officials</title>
<link>https://hostile.example/a?x=1&amp;y="2"</link><guid>a</guid>
<description>Dock workers return.</description><pubDate>Mon, 02 Nov 2026 08:00:00 GMT</pubDate></item>
</channel></rss>"#;

#[tokio::test]
async fn the_status_page_shows_sources_and_stories_escaped_and_links_the_feeds() {
    let feeds = FeedServer::start().await;
    feeds.set("agency.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    feeds.set(
        "hostile.xml",
        Canned::ok("application/rss+xml", HOSTILE_RSS),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[
            ("agency", "Northwind <Agency>", &feeds.url("agency.xml"), 0),
            ("hostile", "Hostile", &feeds.url("hostile.xml"), 0),
            ("broken", "Broken", &feeds.url("nothing-here.xml"), 0),
        ]),
    );
    let app = App::build(settings).await.unwrap();
    app.poll_once().await;
    let running = spawn_app(app);
    let (status, page) = get_text(&running.url("/")).await;
    assert_eq!(status, StatusCode::OK);

    for (kind, path) in [
        ("application/atom+xml", "feed.atom"),
        ("application/rss+xml", "feed.rss"),
        ("application/feed+json", "feed.json"),
    ] {
        assert!(
            page.contains(&format!("rel=\"alternate\" type=\"{kind}\""))
                && page.contains(&format!("href=\"{path}\"")),
            "no autodiscovery link for {path}"
        );
    }
    assert!(
        page.contains("Northwind &lt;Agency&gt;"),
        "source names are escaped"
    );
    assert!(
        page.contains("Rates rise as 1 &lt; 2 &amp; 3 &gt; 2"),
        "{page}"
    );
    assert_eq!(
        page.matches("<script").count(),
        1,
        "no script from a feed; our own is a file the CSP allows"
    );
    assert!(page.contains("<script src=\"desk.js?v="), "{page}");
    assert!(
        page.contains("href=\"https://hostile.example/a?x=1&amp;y=%222%22\""),
        "{page}"
    );
    assert!(
        page.contains("<p class=\"state\">failing: HTTP 404</p>"),
        "the failing source shows, in a few words"
    );
    let failing = page.find("id=\"source-broken\"").unwrap();
    let healthy = page.find("id=\"source-agency\"").unwrap();
    assert!(failing < healthy, "failing sources come first");
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"//"),
        "no external assets"
    );
    let (status, css) = get_text(&running.url("/desk.css")).await;
    assert_eq!(status, StatusCode::OK, "the stylesheet needs no token");
    assert!(css.contains(".stories"));
    let (status, _) = get_text(&running.url("/desk.js")).await;
    assert_eq!(status, StatusCode::OK);
    let (status, page) = get_text(&running.url("/?view=everything")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a bad parameter is named");
    assert!(page.contains("parameter `view`"), "{page}");
    running.stop().await;
}

#[test]
fn a_bad_log_level_in_the_config_is_an_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let err = settings_from(dir.path(), "[log]\nlevel = \"wiredesk=loud\"\n").unwrap_err();
    assert!(err.to_string().contains("log.level"), "{err}");
    let ok = settings_from(dir.path(), "[log]\nlevel = \"wiredesk=debug,warn\"\n").unwrap();
    assert_eq!(ok.log.level.as_deref(), Some("wiredesk=debug,warn"));
}

#[test]
fn log_format_json_writes_one_json_object_per_line_at_the_configured_level() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("wiredesk.toml");
    std::fs::write(
        &config,
        "[storage]\npath = \"data.db\"\n[log]\nlevel = \"info\"\n\
         [[sources]]\nid = \"missing\"\nurl = \"file:missing.xml\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_wiredesk"))
        .arg("--config")
        .arg(&config)
        .args(["--log-format", "json", "poll"])
        .env_remove("WIREDESK_CONFIG")
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    // `poll` logs at warn by default; [log] level = "info" shows its info lines.
    assert!(lines.iter().any(|l| l["level"] == "INFO"), "{stderr}");
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "WARN" && l["source"] == "missing"),
        "{stderr}"
    );
}

#[test]
fn under_systemd_the_daemon_notifies_ready_watchdog_status_reload_and_stopping() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agency.xml"), AGENCY_RSS).unwrap();
    let config = dir.path().join("wiredesk.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"data.db\"\n\
         [[sources]]\nid = \"agency\"\nurl = \"file:agency.xml\"\n",
    )
    .unwrap();
    let mut daemon = Daemon::start(&config, dir.path(), &[("WATCHDOG_USEC", "200000")]);
    // Ready first; then, while the scheduler runs, watchdog pings and a
    // status line after the poll.
    daemon.wait_for(|seen| {
        Daemon::saw(seen, "READY=1")
            && Daemon::saw(seen, "WATCHDOG=1")
            && Daemon::saw(seen, "last poll: agency ok")
    });
    let ready = daemon.seen.iter().find(|m| m.contains("READY=1")).unwrap();
    assert!(ready.contains("STATUS=serving on 127.0.0.1:"), "{ready:?}");

    // SIGHUP re-reads the config: the added source is polled.
    std::fs::write(dir.path().join("outlet.xml"), crate::helpers::OUTLET_ATOM).unwrap();
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("[[sources]]\nid = \"outlet\"\nurl = \"file:outlet.xml\"\n");
    std::fs::write(&config, text).unwrap();
    daemon.signal("HUP");
    daemon.wait_for(|seen| {
        Daemon::saw(seen, "STATUS=config reloaded: 2 sources")
            && Daemon::saw(seen, "last poll: outlet ok")
    });

    daemon.signal("TERM");
    daemon.wait_for(|seen| Daemon::saw(seen, "STOPPING=1"));
    assert!(daemon.wait().success());
}

/// Waits until `check` holds, up to 20 s.
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A daemon in-process, ready, that takes configs on `reload` as a
/// SIGHUP or an edited file would hand them over; `stop` ends it.
struct Reloadable {
    addr: std::net::SocketAddr,
    reload: tokio::sync::mpsc::Sender<
        Result<wiredesk::config::Settings, wiredesk::config::ConfigError>,
    >,
    stop: tokio::sync::oneshot::Sender<()>,
    done: tokio::task::JoinHandle<Result<(), wiredesk::app::AppError>>,
}

impl Reloadable {
    async fn start(settings: wiredesk::config::Settings) -> Reloadable {
        let app = App::build(settings).await.unwrap();
        let addr = app.local_addr().unwrap();
        let readiness = app.readiness().clone();
        let (reload, reloads) = tokio::sync::mpsc::channel(4);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let done = tokio::spawn(app.run_with_reloads(
            async move {
                let _ = stopped.await;
            },
            reloads,
        ));
        readiness.wait().await;
        Reloadable {
            addr,
            reload,
            stop,
            done,
        }
    }
}

#[tokio::test]
async fn a_reload_starts_added_sources_stops_removed_ones_and_refuses_an_invalid_config() {
    let feeds = FeedServer::start().await;
    feeds.set("a.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    feeds.set(
        "b.xml",
        Canned::ok("application/atom+xml", crate::helpers::OUTLET_ATOM),
    );
    let dir = tempfile::tempdir().unwrap();
    let only_a = settings(
        dir.path(),
        &sources_toml(&[("a", "A", &feeds.url("a.xml"), 0)]),
    );
    let a_and_b = settings(
        dir.path(),
        &sources_toml(&[
            ("a", "A", &feeds.url("a.xml"), 0),
            ("b", "B", &feeds.url("b.xml"), 0),
        ]),
    );
    let only_b = settings(
        dir.path(),
        &sources_toml(&[("b", "B", &feeds.url("b.xml"), 0)]),
    );
    let invalid = settings_from(dir.path(), "[poll]\ninterval = \"often\"\n").unwrap_err();

    let Reloadable {
        addr,
        reload,
        stop,
        done,
    } = Reloadable::start(only_a).await;
    let url = |path: &str| format!("http://{addr}{path}");
    assert_eq!(feeds.hits("a.xml"), 1);
    assert_eq!(
        get_text(&url("/feed.atom?source=b")).await.0,
        StatusCode::BAD_REQUEST
    );

    // An invalid config changes nothing; the next valid one adds b.
    reload.send(Err(invalid)).await.unwrap();
    reload.send(Ok(a_and_b)).await.unwrap();
    eventually("b is polled", || async { feeds.hits("b.xml") == 1 }).await;
    eventually("b is served", || async {
        get_text(&url("/feed.atom?source=b")).await.0 == StatusCode::OK
    })
    .await;
    assert_eq!(
        get_text(&url("/feed.atom?source=a")).await.0,
        StatusCode::OK
    );
    assert_eq!(feeds.hits("a.xml"), 1, "a stays on its schedule");

    // Removing a: no longer accepted, listed as removed, its items kept.
    reload.send(Ok(only_b)).await.unwrap();
    eventually("a is removed", || async {
        get_text(&url("/feed.atom?source=a")).await.0 == StatusCode::BAD_REQUEST
    })
    .await;
    let (_, sources) = get_text(&url("/sources.json")).await;
    let sources: serde_json::Value = serde_json::from_str(&sources).unwrap();
    let a = sources
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "a")
        .unwrap();
    assert_eq!(a["status"], "removed");
    let (_, page) = get_text(&url("/feed.json?copies=all")).await;
    assert!(page.contains("\"source\": \"a\""), "a's items stay: {page}");

    stop.send(()).unwrap();
    done.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_source_disabled_by_a_reload_is_shown_disabled_not_removed() {
    let feeds = FeedServer::start().await;
    feeds.set("a.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    let dir = tempfile::tempdir().unwrap();
    let a = sources_toml(&[("a", "A", &feeds.url("a.xml"), 0)]);
    let Reloadable {
        addr,
        reload,
        stop,
        done,
    } = Reloadable::start(settings(dir.path(), &a)).await;
    let disabled = settings(dir.path(), &format!("{a}enabled = false\n"));
    assert_eq!(disabled.disabled_sources, ["a"]);
    reload.send(Ok(disabled)).await.unwrap();
    let status = || async {
        let (_, body) = get_text(&format!("http://{addr}/sources.json")).await;
        let all: serde_json::Value = serde_json::from_str(&body).unwrap();
        all[0]["status"].as_str().unwrap_or_default().to_owned()
    };
    eventually("a is shown disabled", || async {
        status().await == "disabled"
    })
    .await;
    let (_, desk) = get_text(&format!("http://{addr}/")).await;
    assert!(
        desk.contains("disabled in the config"),
        "the desk says so too"
    );
    stop.send(()).unwrap();
    done.await.unwrap().unwrap();
}

#[test]
fn a_config_file_edited_on_disk_is_reloaded_without_a_signal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agency.xml"), AGENCY_RSS).unwrap();
    std::fs::write(dir.path().join("outlet.xml"), crate::helpers::OUTLET_ATOM).unwrap();
    let config = dir.path().join("wiredesk.toml");
    let one = "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"data.db\"\n\
               [[sources]]\nid = \"agency\"\nurl = \"file:agency.xml\"\n";
    std::fs::write(&config, one).unwrap();
    let mut daemon = Daemon::start(&config, dir.path(), &[]);
    daemon.wait_for(|seen| Daemon::saw(seen, "last poll: agency ok"));

    // An edit, and no signal: the file is re-read, the new source polled.
    std::fs::write(
        &config,
        format!("{one}[[sources]]\nid = \"outlet\"\nurl = \"file:outlet.xml\"\n"),
    )
    .unwrap();
    daemon.wait_for(|seen| {
        Daemon::saw(seen, "STATUS=config reloaded: 2 sources")
            && Daemon::saw(seen, "last poll: outlet ok")
    });
    daemon.signal("TERM");
    assert!(daemon.wait().success());
}

#[tokio::test]
async fn the_desk_lists_what_runs_everywhere_and_finds_stories_by_search_and_source() {
    let feeds = FeedServer::start().await;
    feeds.set("agency.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    feeds.set(
        "outlet.xml",
        Canned::ok("application/atom+xml", crate::helpers::OUTLET_ATOM),
    );
    let dir = tempfile::tempdir().unwrap();
    let settings = settings(
        dir.path(),
        &sources_toml(&[
            ("agency", "Agency", &feeds.url("agency.xml"), 1),
            ("outlet", "Outlet", &feeds.url("outlet.xml"), 0),
        ]),
    );
    let app = App::build(settings).await.unwrap();
    app.poll_once().await;
    let running = spawn_app(app);
    let stories = |page: &str| -> Vec<String> {
        page.split("<li><h3>")
            .skip(1)
            .map(|s| s.split("</h3>").next().unwrap().to_owned())
            .collect()
    };

    let (status, page) = get_text(&running.url("/?view=running")).await;
    assert_eq!(status, StatusCode::OK);
    let top = stories(&page);
    assert_eq!(top.len(), 2, "only the merged wire stories: {top:?}");
    assert!(
        top.iter()
            .all(|s| !s.contains("ferry") && !s.contains("Zürich"))
    );
    assert_eq!(
        page.matches("<strong class=\"copies\">2 copies</strong>")
            .count(),
        2
    );

    let (_, page) = get_text(&running.url("/?view=running&q=Caldera&source=outlet&tag=")).await;
    let found = stories(&page);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("Port of Caldera reopens"), "{found:?}");

    let (_, page) = get_text(&running.url("/?q=ferry&source=&tag=")).await;
    let found = stories(&page);
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("Harbour ferry timetable"), "{found:?}");
    assert!(
        page.contains("href=\"feed.atom?q=ferry\""),
        "the search as a feed"
    );

    let (status, page) = get_text(&running.url("/?q=%22unclosed")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert!(
        page.contains("role=\"alert\">Not a search this server understands"),
        "{page}"
    );
    running.stop().await;
}
