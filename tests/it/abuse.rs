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

/// A feed of 300 long items whose every word starts with one of four
/// two-letter prefixes: a `NEAR` of those prefixes must look at every
/// position of every item, the costliest kind of search `q=` accepts.
fn wordy_feed() -> String {
    const PREFIXES: [&str; 4] = ["th", "an", "co", "re"];
    let mut seed: u64 = 0x5eed;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    let items: String = (0..300)
        .map(|i| {
            let words: Vec<String> = (0..2000)
                .map(|_| {
                    let (a, b) = (next() % 10, next() % 6);
                    format!(
                        "{}{}{}",
                        PREFIXES[next() % 4],
                        char::from(b'a' + a as u8),
                        char::from(b'k' + b as u8)
                    )
                })
                .collect();
            format!(
                "<item><guid>report-{i}</guid><title>Report {i}</title>\
                 <link>https://agency.example/{i}</link>\
                 <pubDate>Sat, 05 Dec 2026 0{}:00:00 GMT</pubDate>\
                 <description>{}</description></item>",
                i % 10,
                words.join(" ")
            )
        })
        .collect();
    format!(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>Wordy</title>\
         <link>https://agency.example/</link><description>d</description>{items}</channel></rss>"
    )
}

/// One `GET` over HTTP/1.0: its status, or 0 when the connection failed.
fn get_status(addr: std::net::SocketAddr, path: &str) -> u16 {
    use std::io::Read;
    let Ok(mut conn) = std::net::TcpStream::connect(addr) else {
        return 0;
    };
    let _ = conn.set_read_timeout(Some(Duration::from_secs(60)));
    if conn
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .is_err()
    {
        return 0;
    }
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer)
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn slow_searches_at_once_leave_healthz_and_plain_pages_answering() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Instant;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("wordy.xml"), wordy_feed()).unwrap();
    let config = dir.path().join("wiredesk.toml");
    std::fs::write(
        &config,
        "[server]\nlisten = \"127.0.0.1:0\"\n[storage]\npath = \"data.db\"\n\
         [poll]\ninterval = \"1h\"\n\
         [[sources]]\nid = \"wordy\"\nurl = \"file:wordy.xml\"\n",
    )
    .unwrap();
    let mut daemon = Daemon::start(&config, dir.path(), &[]);
    daemon.wait_for(|seen| polls_of(seen, "wordy").0 >= 1);
    daemon.wait_for(|seen| seen.iter().any(|m| m.contains("serving on ")));
    let addr = serving_address(&daemon.seen);
    // Each search its own distance, so that none is answered from the page
    // cache or joins another's read; one entry, so rendering costs nothing.
    let search =
        |distance: usize| format!("/feed.atom?limit=1&q=NEAR(th*%20an*%20co*%20re*,%20{distance})");
    let started = Instant::now();
    assert_eq!(get_status(addr, &search(100)), 200);
    let alone = started.elapsed();

    // Twelve at once (#20: three held every reader, and `/healthz` waited
    // 4.4 s behind them).
    const SEARCHES: usize = 12;
    let (sent, done) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let searches: Vec<_> = (0..SEARCHES)
        .map(|k| {
            let (sent, done, path) = (sent.clone(), done.clone(), search(99 - k));
            std::thread::spawn(move || {
                sent.fetch_add(1, Ordering::SeqCst);
                let status = get_status(addr, &path);
                done.fetch_add(1, Ordering::SeqCst);
                status
            })
        })
        .collect();
    while sent.load(Ordering::SeqCst) < SEARCHES {
        std::thread::yield_now();
    }
    let started = Instant::now();
    let health = get_status(addr, "/healthz");
    let page = get_status(addr, "/feed.atom?limit=5");
    let waited = started.elapsed();
    let finished = done.load(Ordering::SeqCst);
    let statuses: Vec<u16> = searches.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!((health, page), (200, 200));
    // Searches wait their turn for a slot, within a query's budget, or are
    // told to come back: never an error, never a dropped connection.
    assert!(
        statuses.iter().all(|s| matches!(s, 200 | 503)),
        "{statuses:?}"
    );
    eprintln!(
        "one search alone: {alone:?}; /healthz and a page beside {SEARCHES}: {waited:?}, {finished} searches done by then; {statuses:?}"
    );
    // Two searches read at a time; the others wait without a reader or a
    // thread, so `/healthz` and the page are answered long before the
    // searches have all been: each took about as long as one search alone.
    assert!(
        finished <= SEARCHES / 2,
        "{finished} of {SEARCHES} searches were answered before /healthz and a page ({waited:?}; one search alone: {alone:?})"
    );
    daemon.signal("TERM");
    assert!(daemon.wait().success());
}
