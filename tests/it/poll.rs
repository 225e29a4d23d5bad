//! Polling like a good citizen, against servers that record every request.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, TimeZone, Utc};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiredesk::config::Settings;
use wiredesk::poll::{PollOutcome, Poller};
use wiredesk::store::Store;

use crate::helpers::{AGENCY_RSS, ScriptedServer, raw_server, settings, sources_toml};

const RSS: &str = "application/rss+xml";

fn feed(body: &str) -> Response {
    ([(header::CONTENT_TYPE, RSS)], body.to_owned()).into_response()
}

fn status(code: u16, headers: &[(&'static str, &str)]) -> Response {
    let mut response = StatusCode::from_u16(code).unwrap().into_response();
    for (name, value) in headers {
        response
            .headers_mut()
            .insert(*name, HeaderValue::from_str(value).unwrap());
    }
    response
}

/// A poller over a fresh store in `dir`, reading time from a fixed clock.
fn poller(
    dir: &std::path::Path,
    sources: &str,
    extra_poll: &str,
    now: DateTime<Utc>,
) -> (Settings, Store, Poller) {
    let mut settings = settings(dir, sources);
    if !extra_poll.is_empty() {
        let timeout = if extra_poll.contains("timeout") {
            ""
        } else {
            "timeout = \"5s\""
        };
        let text = format!("[poll]\n{timeout}\n{extra_poll}\n{sources}");
        settings = wiredesk::config::from_str(&text, &dir.join("t.toml"), dir, []).unwrap();
        settings.storage.path = dir.join("test.db");
    }
    let store = Store::open(&settings.storage.path).unwrap();
    store.sync_sources(&settings.sources).unwrap();
    let poller = Poller::with_clock(
        &settings.poll,
        &settings.dedup,
        store.clone(),
        Arc::new(move || now),
    )
    .unwrap();
    (settings, store, poller)
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
}

fn one(id: &str, url: &str) -> String {
    sources_toml(&[(id, id, url, 0)])
}

#[tokio::test]
async fn the_second_poll_sends_the_validators_and_a_304_writes_nothing() {
    let server = ScriptedServer::start(Duration::ZERO, |seen, _| {
        if seen
            .headers
            .get(header::IF_NONE_MATCH)
            .map(|v| v.as_bytes())
            == Some(b"\"v1\"")
        {
            return status(304, &[("etag", "\"v1\"")]);
        }
        let mut r = feed(AGENCY_RSS);
        r.headers_mut()
            .insert(header::ETAG, HeaderValue::from_static("\"v1\""));
        r.headers_mut().insert(
            header::LAST_MODIFIED,
            HeaderValue::from_static("Thu, 26 Nov 2026 06:12:00 GMT"),
        );
        r
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (settings, store, poller) =
        poller(dir.path(), &one("agency", &server.url("/feed")), "", t0());
    let source = &settings.sources[0];

    let first = poller.poll_source(source).await;
    assert!(
        matches!(first.outcome, PollOutcome::Ok { new: 3, .. }),
        "{first:?}"
    );
    let first_seen = server.seen();
    assert!(first_seen[0].headers.get(header::IF_NONE_MATCH).is_none());
    let stories = store.latest_stories(50).unwrap();

    let second = poller.poll_source(source).await;
    assert_eq!(second.outcome, PollOutcome::NotModified);
    let sent = &server.seen()[1].headers;
    assert_eq!(sent[header::IF_NONE_MATCH], "\"v1\"");
    assert_eq!(
        sent[header::IF_MODIFIED_SINCE],
        "Thu, 26 Nov 2026 06:12:00 GMT"
    );
    assert_eq!(store.latest_stories(50).unwrap(), stories);
    let state = store.source_state(&source.id).unwrap().unwrap();
    assert_eq!(state.last_status.as_deref(), Some("not_modified"));
    assert_eq!(state.validators.etag.as_deref(), Some("\"v1\""));
}

#[tokio::test]
async fn a_user_agent_naming_wiredesk_is_sent() {
    let server = ScriptedServer::start(Duration::ZERO, |_, _| feed(AGENCY_RSS)).await;
    let dir = tempfile::tempdir().unwrap();
    let (settings, _, poller) = poller(
        dir.path(),
        &one("agency", &server.url("/feed")),
        "contact = \"https://desk.example/about\"",
        t0(),
    );
    poller.poll_source(&settings.sources[0]).await;
    let ua = server.seen()[0].headers[header::USER_AGENT]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(ua.starts_with("wiredesk/"), "{ua}");
    assert!(ua.contains("https://desk.example/about"), "{ua}");
}

#[tokio::test]
async fn a_permanent_redirect_is_adopted_after_two_feeds_and_then_polled_directly() {
    let server = ScriptedServer::start(Duration::ZERO, |seen, _| match seen.path.as_str() {
        "/old" => status(301, &[("location", "/new")]),
        "/new" => feed(AGENCY_RSS),
        _ => status(404, &[]),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (settings, store, poller) =
        poller(dir.path(), &one("agency", &server.url("/old")), "", t0());
    let source = &settings.sources[0];
    for _ in 0..4 {
        let report = poller.poll_source(source).await;
        assert!(
            !matches!(report.outcome, PollOutcome::Failed { .. }),
            "{report:?}"
        );
    }
    assert_eq!(
        server.hits("/old"),
        2,
        "the old URL is left once two polls were sent to a feed at the new one (#20)"
    );
    assert_eq!(server.hits("/new"), 4);
    let state = store.source_state(&source.id).unwrap().unwrap();
    assert_eq!(
        state.effective_url.as_deref(),
        Some(server.url("/new").as_str())
    );
    assert_eq!(state.moved_count, 4);
}

#[tokio::test]
async fn a_permanent_redirect_to_a_page_that_is_not_a_feed_is_never_adopted() {
    let server = ScriptedServer::start(Duration::ZERO, |seen, _| match seen.path.as_str() {
        "/feed" => status(301, &[("location", "/parked")]),
        "/parked" => (
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>This domain is for sale</body></html>",
        )
            .into_response(),
        _ => status(404, &[]),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (settings, store, poller) =
        poller(dir.path(), &one("agency", &server.url("/feed")), "", t0());
    let source = &settings.sources[0];
    for _ in 0..3 {
        poller.poll_source(source).await;
    }
    assert_eq!(
        server.hits("/feed"),
        3,
        "every poll starts at the configured URL"
    );
    let state = store.source_state(&source.id).unwrap().unwrap();
    assert_eq!(state.effective_url, None);
    assert_eq!(state.moved_to, None);
}

#[tokio::test]
async fn a_temporary_redirect_keeps_the_configured_url() {
    let server = ScriptedServer::start(Duration::ZERO, |seen, _| match seen.path.as_str() {
        "/feed" => status(302, &[("location", "/elsewhere")]),
        "/elsewhere" => feed(AGENCY_RSS),
        _ => status(404, &[]),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (settings, store, poller) =
        poller(dir.path(), &one("agency", &server.url("/feed")), "", t0());
    let source = &settings.sources[0];
    poller.poll_source(source).await;
    poller.poll_source(source).await;
    assert_eq!(server.hits("/feed"), 2);
    let state = store.source_state(&source.id).unwrap().unwrap();
    assert_eq!(state.effective_url, None);
}

#[tokio::test]
async fn a_refused_connection_is_said_in_two_words_not_an_error_chain() {
    let refused = {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/feed.xml", closed.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let (settings, store, poller) = poller(dir.path(), &one("down", &refused), "", t0());
    let source = &settings.sources[0];
    let report = poller.poll_source(source).await;
    assert!(
        matches!(report.outcome, PollOutcome::Failed { .. }),
        "{report:?}"
    );
    let state = store.source_state(&source.id).unwrap().unwrap();
    assert_eq!(
        state.last_error.as_deref(),
        Some("cannot connect: connection refused")
    );
}

#[tokio::test]
async fn a_public_source_redirected_to_a_private_address_is_refused_unless_allowed() {
    // The test server stands in as the proxy every fetch goes through, so
    // the source can have a public name: it answers news.example's feed
    // with a 301 to the metrics port of this machine (#20).
    let server = ScriptedServer::start(Duration::ZERO, |seen, _| match seen.path.as_str() {
        "/feed" => status(301, &[("location", "http://127.0.0.1:9090/metrics")]),
        "/metrics" => feed(AGENCY_RSS),
        _ => status(404, &[]),
    })
    .await;
    let proxy = format!("proxy = \"{}\"", server.url("/"));
    for (allow, refused) in [("", true), ("allow_private = true", false)] {
        let dir = tempfile::tempdir().unwrap();
        let (settings, store, poller) = poller(
            dir.path(),
            &one("public", "http://news.example/feed"),
            &format!("{proxy}\n{allow}"),
            t0(),
        );
        let source = &settings.sources[0];
        poller.poll_source(source).await;
        let state = store.source_state(&source.id).unwrap().unwrap();
        if refused {
            let error = state.last_error.unwrap_or_default();
            assert!(error.contains("loopback or private"), "{error}");
            assert_eq!(server.hits("/metrics"), 0, "nothing was fetched there");
        } else {
            assert_eq!(
                state.last_status.as_deref(),
                Some("ok"),
                "{:?}",
                state.last_error
            );
            assert_eq!(server.hits("/metrics"), 1);
        }
    }
}

#[tokio::test]
async fn a_redirect_loop_is_a_recorded_error() {
    let server = ScriptedServer::start(Duration::ZERO, |seen, _| match seen.path.as_str() {
        "/a" => status(301, &[("location", "/b")]),
        _ => status(301, &[("location", "/a")]),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (settings, store, poller) = poller(dir.path(), &one("agency", &server.url("/a")), "", t0());
    let report = poller.poll_source(&settings.sources[0]).await;
    let PollOutcome::Failed { reason } = report.outcome else {
        panic!("{report:?}")
    };
    assert!(reason.contains("redirect loop"), "{reason}");
    assert!(server.seen().len() <= 3);
    let state = store.source_states().unwrap();
    assert_eq!(state[0].last_error.as_deref(), Some(reason.as_str()));
}

#[tokio::test]
async fn a_redirect_chain_longer_than_five_hops_is_refused() {
    let server = ScriptedServer::start(Duration::ZERO, |seen, _| {
        let n: u32 = seen.path.trim_start_matches('/').parse().unwrap_or(0);
        status(302, &[("location", &format!("/{}", n + 1))])
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (settings, _, poller) = poller(dir.path(), &one("agency", &server.url("/0")), "", t0());
    let report = poller.poll_source(&settings.sources[0]).await;
    assert_eq!(
        report.outcome,
        PollOutcome::Failed {
            reason: "more than 5 redirects".into()
        }
    );
    assert_eq!(server.seen().len(), 6);
}

#[tokio::test]
async fn a_gone_source_is_marked_and_polled_daily() {
    let server = ScriptedServer::start(Duration::ZERO, |_, _| status(410, &[])).await;
    let dir = tempfile::tempdir().unwrap();
    let (settings, store, poller) =
        poller(dir.path(), &one("agency", &server.url("/feed")), "", t0());
    let report = poller.poll_source(&settings.sources[0]).await;
    assert!(matches!(report.outcome, PollOutcome::Failed { .. }));
    assert_eq!(report.next_poll_at, t0() + chrono::Duration::hours(24));
    let state = &store.source_states().unwrap()[0];
    assert_eq!(state.last_status.as_deref(), Some("gone"));
    assert_eq!(state.last_http_status, Some(410));
}

#[tokio::test]
async fn retry_after_in_seconds_and_as_a_date_is_honoured() {
    let server = ScriptedServer::start(Duration::ZERO, |seen, _| match seen.path.as_str() {
        "/busy" => status(429, &[("retry-after", "7200")]),
        _ => status(503, &[("retry-after", "Sat, 28 Nov 2026 15:00:00 GMT")]),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sources = sources_toml(&[
        ("busy", "busy", &server.url("/busy"), 0),
        ("down", "down", &server.url("/down"), 0),
    ]);
    let (settings, _, poller) = poller(dir.path(), &sources, "", t0());
    let busy = poller.poll_source(&settings.sources[0]).await;
    let down = poller.poll_source(&settings.sources[1]).await;
    let hours =
        |r: &wiredesk::poll::PollReport| (r.next_poll_at - t0()).num_minutes() as f64 / 60.0;
    // The backoff after one failure is at most 2 × 15 minutes, so the
    // server's wish is what decides.
    assert_eq!(hours(&busy), 2.0);
    assert_eq!(hours(&down), 3.0);
}

#[tokio::test]
async fn backoff_grows_with_each_failure_and_one_success_resets_it() {
    let server = ScriptedServer::start(Duration::ZERO, |_, before| {
        if before < 4 {
            status(500, &[])
        } else {
            feed(AGENCY_RSS)
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (settings, store, poller) =
        poller(dir.path(), &one("agency", &server.url("/feed")), "", t0());
    let source = &settings.sources[0];
    let minutes =
        |r: &wiredesk::poll::PollReport| (r.next_poll_at - t0()).num_seconds() as f64 / 60.0;
    for failures in 1..=4u32 {
        let report = poller.poll_source(source).await;
        assert!(matches!(report.outcome, PollOutcome::Failed { .. }));
        let waited = minutes(&report);
        let upper = 15.0 * f64::from(2u32.pow(failures));
        assert!(
            (15.0..=upper).contains(&waited),
            "failure {failures}: {waited} min"
        );
        let state = store.source_state(&source.id).unwrap().unwrap();
        assert_eq!(state.consecutive_failures, failures);
    }
    let report = poller.poll_source(source).await;
    assert!(matches!(report.outcome, PollOutcome::Ok { .. }));
    let waited = minutes(&report);
    assert!(
        (15.0..=16.5).contains(&waited),
        "after success: {waited} min"
    );
    assert_eq!(
        store
            .source_state(&source.id)
            .unwrap()
            .unwrap()
            .consecutive_failures,
        0
    );
}

#[tokio::test]
async fn gzip_brotli_deflate_and_zstd_bodies_are_decoded() {
    use std::io::Write;
    let body = AGENCY_RSS.as_bytes();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(body).unwrap();
    let mut zlib = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    zlib.write_all(body).unwrap();
    let mut br = Vec::new();
    brotli::BrotliCompress(&mut &body[..], &mut br, &Default::default()).unwrap();
    // (coding, its bytes): served at /<coding> when the request accepts it.
    let codings: Vec<(&'static str, Vec<u8>)> = vec![
        ("gzip", gz.finish().unwrap()),
        ("br", br),
        ("deflate", zlib.finish().unwrap()),
        ("zstd", zstd::encode_all(body, 3).unwrap()),
    ];
    let served = codings.clone();
    let server = ScriptedServer::start(Duration::ZERO, move |seen, _| {
        let accepted = seen.headers[header::ACCEPT_ENCODING].to_str().unwrap();
        match served
            .iter()
            .find(|(name, _)| seen.path == format!("/{name}") && accepted.contains(name))
        {
            Some((name, bytes)) => (
                [
                    (header::CONTENT_TYPE, RSS),
                    (header::CONTENT_ENCODING, *name),
                ],
                bytes.clone(),
            )
                .into_response(),
            None => status(406, &[]),
        }
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let urls: Vec<String> = codings
        .iter()
        .map(|(name, _)| server.url(&format!("/{name}")))
        .collect();
    let list: Vec<(&str, &str, &str, i64)> = codings
        .iter()
        .zip(&urls)
        .map(|((name, _), url)| (*name, *name, url.as_str(), 0))
        .collect();
    let (settings, _, poller) = poller(dir.path(), &sources_toml(&list), "", t0());
    for source in &settings.sources {
        let report = poller.poll_source(source).await;
        assert!(
            matches!(report.outcome, PollOutcome::Ok { seen: 3, .. }),
            "{report:?}"
        );
    }
}

#[tokio::test]
async fn a_body_over_the_limit_is_cut_and_reported() {
    // Announced: refused from the Content-Length.
    let big = "x".repeat(4096);
    let server = ScriptedServer::start(Duration::ZERO, move |_, _| feed(&big)).await;
    // Endless: no length, bytes until the client hangs up.
    let endless = raw_server(|mut stream| async move {
        let _ = stream.read(&mut [0u8; 4096]).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n\r\n")
            .await;
        let chunk = [b'a'; 1024];
        while stream.write_all(&chunk).await.is_ok() {}
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sources = sources_toml(&[
        ("big", "big", &server.url("/feed"), 0),
        ("endless", "endless", &format!("http://{endless}/feed"), 0),
    ]);
    let (settings, _, poller) = poller(dir.path(), &sources, "max_body = 2048", t0());
    for source in &settings.sources {
        let report = poller.poll_source(source).await;
        assert_eq!(
            report.outcome,
            PollOutcome::Failed {
                reason: "the body is over the limit of 2048 bytes".into()
            },
            "{}",
            source.id
        );
    }
}

#[tokio::test]
async fn a_trickling_or_silent_server_hits_the_total_timeout() {
    let trickle = raw_server(|mut stream| async move {
        let _ = stream.read(&mut [0u8; 4096]).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n<rss>")
            .await;
        // Then nothing more; the connection stays open.
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
    .await;
    let silent = raw_server(|stream| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(stream);
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sources = sources_toml(&[
        ("trickle", "trickle", &format!("http://{trickle}/feed"), 0),
        ("silent", "silent", &format!("http://{silent}/feed"), 0),
    ]);
    let (settings, _, poller) = poller(dir.path(), &sources, "timeout = \"1s\"", t0());
    let reports = poller.poll_sources(&settings.sources).await;
    for report in reports {
        let PollOutcome::Failed { reason } = &report.outcome else {
            panic!("{report:?}")
        };
        assert!(reason.contains("timed out"), "{}: {reason}", report.source);
        assert!(report.elapsed < Duration::from_secs(10));
    }
}

#[tokio::test]
async fn no_more_than_one_request_at_a_time_goes_to_one_host() {
    let server = ScriptedServer::start(Duration::from_millis(30), |_, _| feed(AGENCY_RSS)).await;
    let dir = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
    let urls: Vec<String> = (0..6).map(|i| server.url(&format!("/feed{i}"))).collect();
    let list: Vec<(&str, &str, &str, i64)> = ids
        .iter()
        .zip(&urls)
        .map(|(id, url)| (id.as_str(), id.as_str(), url.as_str(), 0))
        .collect();
    let (settings, _, poller) = poller(dir.path(), &sources_toml(&list), "concurrency = 8", t0());
    let reports = poller.poll_sources(&settings.sources).await;
    assert!(
        reports
            .iter()
            .all(|r| matches!(r.outcome, PollOutcome::Ok { .. }))
    );
    assert_eq!(server.seen().len(), 6);
    assert_eq!(server.max_in_flight(), 1);
}

#[tokio::test]
async fn the_per_host_limit_is_configurable() {
    let server = ScriptedServer::start(Duration::from_millis(30), |_, _| feed(AGENCY_RSS)).await;
    let dir = tempfile::tempdir().unwrap();
    let urls: Vec<String> = (0..6).map(|i| server.url(&format!("/feed{i}"))).collect();
    let ids: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
    let list: Vec<(&str, &str, &str, i64)> = ids
        .iter()
        .zip(&urls)
        .map(|(id, url)| (id.as_str(), id.as_str(), url.as_str(), 0))
        .collect();
    let (settings, _, poller) = poller(
        dir.path(),
        &sources_toml(&list),
        "concurrency = 8\nper_host = 2",
        t0(),
    );
    poller.poll_sources(&settings.sources).await;
    assert!(server.max_in_flight() <= 2);
}

#[tokio::test]
async fn a_restart_keeps_the_schedule() {
    let server = ScriptedServer::start(Duration::ZERO, |_, _| feed(AGENCY_RSS)).await;
    let dir = tempfile::tempdir().unwrap();
    let (settings, store, poller) =
        poller(dir.path(), &one("agency", &server.url("/feed")), "", t0());
    let report = poller.poll_source(&settings.sources[0]).await;
    drop((store, poller));

    let reopened = Store::open(&settings.storage.path).unwrap();
    reopened.sync_sources(&settings.sources).unwrap();
    let state = reopened
        .source_state(&settings.sources[0].id)
        .unwrap()
        .unwrap();
    assert_eq!(state.next_poll_at, Some(report.next_poll_at));
    let later = t0() + chrono::Duration::minutes(5);
    // The scheduler's own queue, planned as a restarted daemon plans it.
    let ids = settings.sources.iter().map(|s| s.id.clone());
    let queue = wiredesk::poll::Queue::plan(ids, &[state], later);
    assert!(
        queue.due(later).next().is_none(),
        "not due again 5 minutes after a poll"
    );
    assert_eq!(queue.next_due(), Some(report.next_poll_at));
}

#[tokio::test(start_paused = true)]
async fn the_scheduler_polls_each_source_when_it_falls_due_and_stops_on_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    // Without its <ttl>, which would lengthen the interval to 15 minutes.
    let feed = AGENCY_RSS.replace("<ttl>15</ttl>", "");
    std::fs::write(dir.path().join("agency.xml"), feed).unwrap();
    let sources = "[[sources]]\nid = \"agency\"\nurl = \"file:agency.xml\"\ninterval = \"1m\"\n\
                   [[sources]]\nid = \"slow\"\nurl = \"file:agency.xml\"\ninterval = \"4m\"\n";
    let (settings, store, _) = poller(dir.path(), sources, "jitter = 0.0", t0());
    // A clock that follows tokio's paused time from t0.
    let start = tokio::time::Instant::now();
    let clock = Arc::new(move || {
        t0() + chrono::Duration::from_std(tokio::time::Instant::now() - start).unwrap()
    });
    let poller = Poller::with_clock(&settings.poll, &settings.dedup, store.clone(), clock).unwrap();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let scheduler = tokio::spawn(poller.run(settings.sources.clone(), shutdown.clone()));

    tokio::time::sleep(Duration::from_secs(10 * 60 + 30)).await;
    shutdown.cancel();
    scheduler.await.unwrap();

    let states = store.source_states().unwrap();
    let minute = |m: i64| Some(t0() + chrono::Duration::minutes(m));
    let agency = states.iter().find(|s| s.id.as_str() == "agency").unwrap();
    assert_eq!(agency.last_polled_at, minute(10));
    assert_eq!(agency.next_poll_at, minute(11));
    let slow = states.iter().find(|s| s.id.as_str() == "slow").unwrap();
    assert_eq!(slow.last_polled_at, minute(8));
    assert_eq!(slow.next_poll_at, minute(12));
}

#[tokio::test(start_paused = true)]
async fn many_sources_due_at_once_are_all_polled_a_few_tasks_at_a_time() {
    // With one poll at a time, the scheduler keeps 258 polls as tasks and
    // the others in its queue: all 300 are polled in the first round, and
    // the daemon is ready only once the last of them has been.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("agency.xml"), AGENCY_RSS).unwrap();
    let sources: String = (0..300)
        .map(|i| {
            format!("[[sources]]\nid = \"s{i}\"\nurl = \"file:agency.xml\"\ninterval = \"1h\"\n")
        })
        .collect();
    let (settings, store, _) = poller(dir.path(), &sources, "concurrency = 1", t0());
    let start = tokio::time::Instant::now();
    let clock = Arc::new(move || {
        t0() + chrono::Duration::from_std(tokio::time::Instant::now() - start).unwrap()
    });
    let poller = Poller::with_clock(&settings.poll, &settings.dedup, store.clone(), clock).unwrap();
    let readiness = poller.readiness().clone();
    readiness.store_opened();
    assert!(readiness.not_ready_because().is_some());
    let shutdown = tokio_util::sync::CancellationToken::new();
    let scheduler = tokio::spawn(poller.run(settings.sources.clone(), shutdown.clone()));
    readiness.wait().await;
    // At once, while the scheduler's task waits its turn on this thread.
    let states = store.source_states().unwrap();
    assert_eq!(states.len(), 300);
    let polled = states.iter().filter(|s| s.last_polled_at.is_some()).count();
    assert_eq!(polled, 300, "ready only once every source was polled");
    shutdown.cancel();
    scheduler.await.unwrap();
}

#[tokio::test]
async fn a_feed_ttl_lengthens_the_interval_but_never_shortens_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ttl15.xml"), AGENCY_RSS).unwrap();
    std::fs::write(
        dir.path().join("ttl1.xml"),
        AGENCY_RSS.replace("<ttl>15</ttl>", "<ttl>1</ttl>"),
    )
    .unwrap();
    let sources = "[[sources]]\nid = \"long\"\nurl = \"file:ttl15.xml\"\ninterval = \"5m\"\n\
                   [[sources]]\nid = \"short\"\nurl = \"file:ttl1.xml\"\ninterval = \"5m\"\n";
    let (settings, _, poller) = poller(dir.path(), sources, "jitter = 0.0", t0());
    let reports = poller.poll_sources(&settings.sources).await;
    assert_eq!(
        reports[0].next_poll_at,
        t0() + chrono::Duration::minutes(15)
    );
    assert_eq!(reports[1].next_poll_at, t0() + chrono::Duration::minutes(5));
}

#[tokio::test]
async fn a_compression_bomb_is_cut_at_the_decompressed_cap() {
    use std::io::Write;
    // 4 MiB of zeros, four times the cap below: a few kB compressed.
    let zeros = vec![0u8; 4 << 20];
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&zeros).unwrap();
    let gzip = gz.finish().unwrap();
    let mut br = Vec::new();
    brotli::BrotliCompress(&mut &zeros[..], &mut br, &Default::default()).unwrap();
    assert!(gzip.len() < 64 << 10 && br.len() < 64 << 10);
    let bombs = vec![("gzip", gzip), ("br", br)];
    let served = bombs.clone();
    let server = ScriptedServer::start(Duration::ZERO, move |seen, _| {
        let (name, bytes) = served
            .iter()
            .find(|(name, _)| seen.path == format!("/{name}"))
            .unwrap();
        (
            [
                (header::CONTENT_TYPE, RSS),
                (header::CONTENT_ENCODING, *name),
            ],
            bytes.clone(),
        )
            .into_response()
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sources = sources_toml(&[
        ("gzip", "gzip", &server.url("/gzip"), 0),
        ("br", "br", &server.url("/br"), 0),
    ]);
    let (settings, _, poller) = poller(dir.path(), &sources, "max_body = 1048576", t0());
    for source in &settings.sources {
        let report = poller.poll_source(source).await;
        assert_eq!(
            report.outcome,
            PollOutcome::Failed {
                reason: "the body is over the limit of 1048576 bytes".into()
            },
            "{}",
            source.id
        );
    }
}

#[tokio::test]
async fn a_reset_mid_body_and_huge_headers_are_recorded_errors_for_that_source_only() {
    // Sends half a body, then closes the connection.
    let reset = raw_server(|mut stream| async move {
        let _ = stream.read(&mut [0u8; 4096]).await;
        let _ = stream
            .write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n<rss version=\"2.0\"><channel>",
            )
            .await;
        drop(stream);
    })
    .await;
    // Answers with a megabyte of headers.
    let huge = raw_server(|mut stream| async move {
        let _ = stream.read(&mut [0u8; 4096]).await;
        let mut head = String::from("HTTP/1.1 200 OK\r\n");
        for i in 0..20_000 {
            head.push_str(&format!("X-Filler-{i}: {}\r\n", "y".repeat(40)));
        }
        head.push_str("Content-Length: 0\r\n\r\n");
        let _ = stream.write_all(head.as_bytes()).await;
    })
    .await;
    let good = ScriptedServer::start(Duration::ZERO, |_, _| feed(AGENCY_RSS)).await;
    let dir = tempfile::tempdir().unwrap();
    let sources = sources_toml(&[
        ("reset", "reset", &format!("http://{reset}/feed"), 0),
        ("huge", "huge", &format!("http://{huge}/feed"), 0),
        ("good", "good", &good.url("/feed"), 0),
    ]);
    let (settings, store, poller) = poller(dir.path(), &sources, "", t0());
    let reports = poller.poll_sources(&settings.sources).await;
    assert!(
        matches!(reports[0].outcome, PollOutcome::Failed { .. }),
        "{reports:?}"
    );
    assert!(
        matches!(reports[1].outcome, PollOutcome::Failed { .. }),
        "{reports:?}"
    );
    assert!(
        matches!(reports[2].outcome, PollOutcome::Ok { new: 3, .. }),
        "{reports:?}"
    );
    let states = store.source_states().unwrap();
    for id in ["reset", "huge"] {
        let state = states.iter().find(|s| s.id.as_str() == id).unwrap();
        assert!(state.last_error.is_some(), "{id}");
    }
    assert_eq!(store.counts().unwrap().items, 3);
}

#[tokio::test]
async fn a_tls_error_is_a_recorded_error_for_that_source_only() {
    // An https:// source whose server does not speak TLS: the handshake
    // fails on garbage.
    let not_tls = raw_server(|mut stream| async move {
        let _ = stream.read(&mut [0u8; 4096]).await;
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\n\r\nnot a TLS record")
            .await;
    })
    .await;
    let good = ScriptedServer::start(Duration::ZERO, |_, _| feed(AGENCY_RSS)).await;
    let dir = tempfile::tempdir().unwrap();
    let sources = sources_toml(&[
        ("tls", "tls", &format!("https://{not_tls}/feed"), 0),
        ("good", "good", &good.url("/feed"), 0),
    ]);
    let (settings, store, poller) = poller(dir.path(), &sources, "", t0());
    let reports = poller.poll_sources(&settings.sources).await;
    let PollOutcome::Failed { reason } = &reports[0].outcome else {
        panic!("{reports:?}")
    };
    assert!(
        reason.to_ascii_lowercase().contains("tls") || reason.contains("corrupt"),
        "{reason}"
    );
    assert!(matches!(reports[1].outcome, PollOutcome::Ok { new: 3, .. }));
    let state = store
        .source_state(&settings.sources[0].id)
        .unwrap()
        .unwrap();
    assert_eq!(state.consecutive_failures, 1);
}

#[tokio::test]
async fn a_feed_that_yields_no_items_says_why_on_the_source() {
    // Issue #18 item 8: each of these was recorded as `ok` with nothing to
    // tell it from a quiet feed.
    let server = ScriptedServer::start(Duration::ZERO, |seen, _| match seen.path.as_str() {
        "/empty" => feed(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel>\
             <title>Quiet</title><link>https://quiet.example/</link></channel></rss>",
        ),
        "/linkless" => feed(
            "<?xml version=\"1.0\"?>\
             <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" \
             xmlns=\"http://purl.org/rss/1.0/\"><channel><title>Notes</title></channel>\
             <item><title>One</title></item><item><title>Two</title></item></rdf:RDF>",
        ),
        _ => (
            [(header::CONTENT_TYPE, "application/feed+json")],
            r#"{"version": "https://jsonfeed.org/version/1.1", "title": "J", "items": [1, 2, 3]}"#,
        )
            .into_response(),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let sources = sources_toml(&[
        ("empty", "Empty", &server.url("/empty"), 0),
        ("linkless", "Linkless", &server.url("/linkless"), 0),
        ("numbers", "Numbers", &server.url("/numbers"), 0),
    ]);
    let (settings, store, poller) = poller(dir.path(), &sources, "", t0());
    let expected = [
        ("empty", "the feed lists no items"),
        (
            "linkless",
            "2 entries, none usable: 2 of 2 entries skipped: no link nor rdf:about",
        ),
        (
            "numbers",
            "3 entries, none usable: JSON Feed item 1 skipped: invalid type: integer `1`, expected struct JsonItem",
        ),
    ];
    for (source, (id, note)) in settings.sources.iter().zip(expected) {
        let report = poller.poll_source(source).await;
        assert!(
            matches!(
                report.outcome,
                PollOutcome::Ok {
                    seen: 0,
                    new: 0,
                    ..
                }
            ),
            "{id}: {report:?}"
        );
        let state = store.source_state(&source.id).unwrap().unwrap();
        assert_eq!(state.last_status.as_deref(), Some("ok"), "{id}");
        assert_eq!(state.last_error.as_deref(), Some(note), "{id}");
    }
    // `wiredesk sources` shows it in its ERROR column.
    let table = wiredesk::cli::sources(&settings, &store).unwrap();
    let row = table.lines().find(|l| l.starts_with("empty")).unwrap();
    assert!(row.ends_with("the feed lists no items"), "{row}");
    // The same body polled again keeps the note; a feed with items clears it.
    let report = poller.poll_source(&settings.sources[0]).await;
    assert_eq!(report.outcome, PollOutcome::Unchanged);
    let state = store
        .source_state(&settings.sources[0].id)
        .unwrap()
        .unwrap();
    assert_eq!(state.last_error.as_deref(), Some("the feed lists no items"));
}

#[tokio::test]
async fn a_feed_with_items_has_no_note() {
    let server = ScriptedServer::start(Duration::ZERO, |_, _| feed(AGENCY_RSS)).await;
    let dir = tempfile::tempdir().unwrap();
    let (settings, store, poller) = poller(dir.path(), &one("agency", &server.url("/a")), "", t0());
    let report = poller.poll_source(&settings.sources[0]).await;
    assert!(matches!(report.outcome, PollOutcome::Ok { new, .. } if new > 0));
    let state = store
        .source_state(&settings.sources[0].id)
        .unwrap()
        .unwrap();
    assert_eq!(state.last_error, None);
}
