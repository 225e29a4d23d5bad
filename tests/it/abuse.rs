//! The running daemon under abuse (#20), observed from outside as a user
//! would: through its notify socket and its HTTP port.

use std::io::Write;
use std::time::Duration;

use crate::helpers::Daemon;

/// A feed of `n` items with no `ttl`, so it is polled at the configured
/// interval.
fn feed(n: usize) -> String {
    let items: String = (0..n)
        .map(|i| {
            format!(
                "<item><guid>story-{i}</guid><title>Harbour story {i}</title>\
                 <description>Story {i} from the harbour desk.</description>\
                 <pubDate>Sat, 05 Dec 2026 0{}:00:00 GMT</pubDate></item>",
                i % 10
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Agency</title>\
         <link>https://agency.example/</link><description>d</description>{items}</channel></rss>"
    )
}

/// The address the daemon said it serves on (`READY=1`'s status).
fn serving_address(seen: &[String]) -> std::net::SocketAddr {
    seen.iter()
        .find_map(|m| {
            let rest = m.split("serving on ").nth(1)?;
            rest.split(';').next()?.trim().parse().ok()
        })
        .expect("the daemon says where it serves")
}

/// How many polls of `source` the daemon has reported, and the last one's
/// word (`ok`, `unchanged`, `error`...).
fn polls_of(seen: &[String], source: &str) -> (usize, Option<String>) {
    let needle = format!("last poll: {source} ");
    let polls: Vec<&str> = seen
        .iter()
        .filter_map(|m| m.split(&needle).nth(1))
        .collect();
    let last = polls
        .last()
        .map(|w| w.split_whitespace().next().unwrap_or("").to_owned());
    (polls.len(), last)
}

#[test]
fn a_connection_flood_under_a_low_descriptor_limit_never_starves_polling() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agency.xml"), feed(3)).unwrap();
    let config = dir.path().join("wiredesk.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"data.db\"\n\
         [poll]\ninterval = \"10s\"\nmin_interval = \"10s\"\njitter = 0.0\nadaptive = false\n\
         [[sources]]\nid = \"agency\"\nurl = \"file:agency.xml\"\n",
    )
    .unwrap();
    // 128 descriptors in all, as a small container or a careless unit
    // gives: the daemon cannot raise it, and serves at most 16 connections.
    let mut daemon = Daemon::start_limited(&config, dir.path(), &[], Some(128));
    daemon.wait_for(|seen| polls_of(seen, "agency").0 >= 1);
    daemon.wait_for(|seen| seen.iter().any(|m| m.contains("serving on ")));
    let addr = serving_address(&daemon.seen);

    // 300 connections that pipeline requests and never read (#20: they
    // held every descriptor, and every poll failed "Too many open files").
    let request = "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".repeat(2000);
    let mut flood = Vec::new();
    for _ in 0..300 {
        if let Ok(mut conn) =
            std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(500))
        {
            let _ = conn.set_write_timeout(Some(Duration::from_millis(200)));
            let _ = conn.write_all(request.as_bytes());
            flood.push(conn);
        }
    }
    // The feed changes: the next poll, ten seconds after the first, must
    // read, parse and store it while the flood holds on.
    std::fs::write(dir.path().join("agency.xml"), feed(5)).unwrap();
    daemon.wait_for(|seen| polls_of(seen, "agency").0 >= 2);
    let (_, last) = polls_of(&daemon.seen, "agency");
    assert_eq!(
        last.as_deref(),
        Some("ok"),
        "the poll during the flood: {:?}",
        daemon.seen.last()
    );
    drop(flood);
    daemon.signal("TERM");
    assert!(daemon.wait().success());
}

#[test]
fn a_config_saved_empty_is_refused_and_polling_goes_on_until_sources_are_cleared_on_purpose() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agency.xml"), feed(3)).unwrap();
    let config = dir.path().join("wiredesk.toml");
    let full = "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"data.db\"\n\
                [poll]\ninterval = \"10s\"\nmin_interval = \"10s\"\njitter = 0.0\nadaptive = false\n";
    std::fs::write(
        &config,
        format!("{full}[[sources]]\nid = \"agency\"\nurl = \"file:agency.xml\"\n"),
    )
    .unwrap();
    let mut daemon = Daemon::start(&config, dir.path(), &[]);
    daemon.wait_for(|seen| polls_of(seen, "agency").0 >= 1);

    // An editor's half-written save: an empty file (#20: every poll stopped).
    std::fs::write(&config, "").unwrap();
    daemon.signal("HUP");
    daemon.wait_for(|seen| Daemon::saw(seen, "config reload rejected: it lists no sources"));
    // The source is still polled: its next poll comes, and stores the change.
    std::fs::write(dir.path().join("agency.xml"), feed(5)).unwrap();
    daemon.wait_for(|seen| polls_of(seen, "agency").0 >= 2);
    assert_eq!(polls_of(&daemon.seen, "agency").1.as_deref(), Some("ok"));

    // Said in so many words, no sources is what the operator gets.
    std::fs::write(&config, format!("sources = []\n{full}")).unwrap();
    daemon.signal("HUP");
    daemon.wait_for(|seen| Daemon::saw(seen, "config reloaded: 0 sources"));
    daemon.signal("TERM");
    assert!(daemon.wait().success());
}
