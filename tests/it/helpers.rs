//! Test helpers: a fake feed server, settings built from strings, and an
//! app started on port 0.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};

use wiredesk::app::App;
use wiredesk::config::{self, Settings};

/// The bundled sample feeds, served by the fake server in tests.
pub const AGENCY_RSS: &str = include_str!("../../config/samples/northwind-agency.xml");
pub const OUTLET_ATOM: &str = include_str!("../../config/samples/harbour-herald.xml");

/// One canned response of the fake feed server.
#[derive(Clone)]
pub struct Canned {
    pub status: StatusCode,
    pub content_type: &'static str,
    pub body: String,
}

impl Canned {
    pub fn ok(content_type: &'static str, body: &str) -> Canned {
        Canned {
            status: StatusCode::OK,
            content_type,
            body: body.to_owned(),
        }
    }
}

/// A feed server on 127.0.0.1 that answers `/{name}` from a table the test
/// can change, and counts the requests per path.
#[derive(Clone)]
pub struct FeedServer {
    pub addr: SocketAddr,
    feeds: Arc<Mutex<HashMap<String, Canned>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl FeedServer {
    pub async fn start() -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = FeedServer {
            addr: listener.local_addr().unwrap(),
            feeds: Arc::default(),
            hits: Arc::default(),
        };
        let app = Router::new()
            .route("/{name}", get(serve_canned))
            .with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    pub fn set(&self, name: &str, canned: Canned) {
        self.feeds.lock().unwrap().insert(name.to_owned(), canned);
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }

    pub fn hits(&self, name: &str) -> usize {
        self.hits.lock().unwrap().get(name).copied().unwrap_or(0)
    }
}

async fn serve_canned(
    State(server): State<FeedServer>,
    UrlPath(name): UrlPath<String>,
) -> Response {
    *server.hits.lock().unwrap().entry(name.clone()).or_default() += 1;
    let canned = server.feeds.lock().unwrap().get(&name).cloned();
    match canned {
        Some(c) => (c.status, [(header::CONTENT_TYPE, c.content_type)], c.body).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Settings from config text, with the database in `dir` and the server on
/// port 0; the process environment is never read.
pub fn settings(dir: &Path, sources_toml: &str) -> Settings {
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ntitle = \"test desk\"\n\
         [storage]\npath = \"test.db\"\n\
         [poll]\ntimeout = \"5s\"\n\
         {sources_toml}"
    );
    config::from_str(&text, &dir.join("test.toml"), dir, []).unwrap()
}

/// `[[sources]]` blocks for (id, name, url, priority).
pub fn sources_toml(sources: &[(&str, &str, &str, i64)]) -> String {
    sources
        .iter()
        .map(|(id, name, url, priority)| {
            format!(
                "[[sources]]\nid = \"{id}\"\nname = \"{name}\"\nurl = \"{url}\"\npriority = {priority}\n"
            )
        })
        .collect()
}

/// A running daemon: its address and the handle that stops it.
pub struct Running {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    done: tokio::task::JoinHandle<Result<(), wiredesk::app::AppError>>,
}

impl Running {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Stops the daemon and waits for it to exit cleanly.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.done.await.unwrap().unwrap();
    }
}

/// Starts `app` serving on its port-0 listener.
pub fn spawn_app(app: App) -> Running {
    let addr = app.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(app.run(async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        done,
    }
}

pub async fn get_text(url: &str) -> (StatusCode, String) {
    // reqwest is built without a TLS provider of its own (see poll::fetch).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::get(url).await.unwrap();
    let status = StatusCode::from_u16(response.status().as_u16()).unwrap();
    (status, response.text().await.unwrap())
}

/// What a scripted server saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: axum::http::HeaderMap,
}

type Script = dyn Fn(&Seen, usize) -> Response + Send + Sync;

/// A server on 127.0.0.1 whose every answer comes from a closure given the
/// request and how many times its path was asked for before; it records
/// every request and the most requests it had in flight at once.
#[derive(Clone)]
pub struct ScriptedServer {
    pub addr: SocketAddr,
    script: Arc<Script>,
    seen: Arc<Mutex<Vec<Seen>>>,
    in_flight: Arc<Mutex<(usize, usize)>>,
    /// How long each answer is held back, to make requests overlap.
    hold: std::time::Duration,
}

impl ScriptedServer {
    pub async fn start(
        hold: std::time::Duration,
        script: impl Fn(&Seen, usize) -> Response + Send + Sync + 'static,
    ) -> ScriptedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let server = ScriptedServer {
            addr: listener.local_addr().unwrap(),
            script: Arc::new(script),
            seen: Arc::default(),
            in_flight: Arc::default(),
            hold,
        };
        let app = Router::new().fallback(scripted).with_state(server.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn hits(&self, path: &str) -> usize {
        self.seen().iter().filter(|s| s.path == path).count()
    }

    /// The most requests that were in flight at once.
    pub fn max_in_flight(&self) -> usize {
        self.in_flight.lock().unwrap().1
    }
}

async fn scripted(
    State(server): State<ScriptedServer>,
    request: axum::extract::Request,
) -> Response {
    let seen = Seen {
        path: request.uri().path().to_owned(),
        headers: request.headers().clone(),
    };
    let before = {
        let mut all = server.seen.lock().unwrap();
        let before = all.iter().filter(|s| s.path == seen.path).count();
        all.push(seen.clone());
        before
    };
    {
        let mut flight = server.in_flight.lock().unwrap();
        flight.0 += 1;
        flight.1 = flight.1.max(flight.0);
    }
    if !server.hold.is_zero() {
        tokio::time::sleep(server.hold).await;
    }
    let response = (server.script)(&seen, before);
    server.in_flight.lock().unwrap().0 -= 1;
    response
}

/// A raw TCP server on 127.0.0.1 that runs `conn` on every connection, for
/// answers no well-behaved HTTP server gives (trickles, endless bodies,
/// silence).
pub async fn raw_server<F, Fut>(conn: F) -> SocketAddr
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(conn(stream));
        }
    });
    addr
}

/// A feed server answering `/agency.xml` with the sample agency feed, but
/// only once the test adds permits to the returned gate.
pub async fn gated_feed_server() -> (String, Arc<Semaphore>) {
    let gate = Arc::new(Semaphore::new(0));
    let waiting = gate.clone();
    let app = Router::new().route(
        "/agency.xml",
        get(move || {
            let gate = waiting.clone();
            async move {
                let _permit = gate.acquire().await.unwrap();
                ([(header::CONTENT_TYPE, "application/rss+xml")], AGENCY_RSS)
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/agency.xml", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, gate)
}

/// The real `wiredesk run` on a config, with a systemd notification socket
/// through which the test learns what the daemon did (no log scraping, no
/// sleeps).
pub struct Daemon {
    child: std::process::Child,
    socket: std::os::unix::net::UnixDatagram,
    /// Every notification received so far.
    pub seen: Vec<String>,
}

impl Daemon {
    /// Starts the daemon on `config`; the socket lives in `dir`. `env` is
    /// added to the daemon's environment (e.g. `WATCHDOG_USEC`).
    pub fn start(config: &Path, dir: &Path, env: &[(&str, &str)]) -> Daemon {
        Daemon::start_limited(config, dir, env, None)
    }

    /// [`Daemon::start`] with the open-file limit (soft and hard) lowered
    /// to `nofile` by the shell's `ulimit -n` before the daemon starts.
    pub fn start_limited(
        config: &Path,
        dir: &Path,
        env: &[(&str, &str)],
        nofile: Option<u32>,
    ) -> Daemon {
        let socket_path = dir.join("notify.sock");
        let socket = std::os::unix::net::UnixDatagram::bind(&socket_path).unwrap();
        socket
            .set_read_timeout(Some(std::time::Duration::from_secs(30)))
            .unwrap();
        let mut command = match nofile {
            None => std::process::Command::new(env!("CARGO_BIN_EXE_wiredesk")),
            Some(n) => {
                let mut sh = std::process::Command::new("sh");
                sh.arg("-c")
                    .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                    .arg(env!("CARGO_BIN_EXE_wiredesk"));
                sh
            }
        };
        command
            .arg("--config")
            .arg(config)
            .arg("run")
            .env("NOTIFY_SOCKET", &socket_path)
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("WIREDESK_CONFIG")
            .env_remove("RUST_LOG")
            .stderr(std::process::Stdio::null());
        for (name, value) in env {
            command.env(name, value);
        }
        Daemon {
            child: command.spawn().unwrap(),
            socket,
            seen: Vec::new(),
        }
    }

    /// Receives notifications until `done` holds for those seen so far
    /// (each read waits at most 30 s).
    pub fn wait_for(&mut self, done: impl Fn(&[String]) -> bool) {
        let mut buffer = [0u8; 4096];
        while !done(&self.seen) {
            let n = self
                .socket
                .recv(&mut buffer)
                .expect("a notification in time");
            self.seen
                .push(String::from_utf8_lossy(&buffer[..n]).into_owned());
        }
    }

    /// Whether any notification so far contains `text`.
    pub fn saw(seen: &[String], text: &str) -> bool {
        seen.iter().any(|m| m.contains(text))
    }

    /// The daemon's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (`HUP`, `TERM`...) to the daemon.
    pub fn signal(&self, name: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{name}"), self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the daemon to exit.
    pub fn wait(mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }
}

impl Drop for Daemon {
    /// A test that fails half-way must not leave its daemon running (it
    /// holds the test's output open, and its port).
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// What the W3C feed validator would reject in an Atom document, by the
/// rules of RFC 4287 it applies (issue #18): every entry has an author
/// unless the feed (or the entry's `source`) names one, no `content` is
/// blank, an entry has text (`content` or `summary`: "Missing textual
/// content"), ids and titles are not blank, no two entries share an id
/// (an error) or an `updated` (a warning), and every link is an absolute
/// IRI (a local path is not one to serve). Empty when valid.
pub fn atom_rule_breaks(xml: &str) -> Vec<String> {
    let feed = match atom_syndication::Feed::read_from(xml.as_bytes()) {
        Ok(feed) => feed,
        Err(e) => return vec![format!("not an Atom document: {e}")],
    };
    let named =
        |people: &[atom_syndication::Person]| people.iter().any(|p| !p.name.trim().is_empty());
    let mut breaks = Vec::new();
    if feed.id.trim().is_empty() {
        breaks.push("the feed's id is blank".to_owned());
    }
    if feed.title.value.trim().is_empty() {
        breaks.push("the feed's title is blank".to_owned());
    }
    let mut ids = std::collections::HashSet::new();
    let mut updated = std::collections::HashSet::new();
    for (n, entry) in feed.entries.iter().enumerate() {
        let mut says = |what: &str| breaks.push(format!("entry {n} ({}): {what}", entry.id));
        let mut fresh_id = false;
        if entry.id.trim().is_empty() {
            says("blank id");
        } else if !ids.insert(entry.id.clone()) {
            says("an id another entry has");
        } else {
            fresh_id = true;
        }
        if entry.title.value.trim().is_empty() {
            says("blank title");
        }
        // The validator compares the text as written (an entry repeated
        // whole is reported once, by its id).
        if !updated.insert(entry.updated.to_rfc3339()) && fresh_id {
            says("two entries with the same value for atom:updated");
        }
        let source_links = entry.source.iter().flat_map(|s| &s.links);
        for link in entry.links.iter().chain(source_links) {
            if !link.href.starts_with("http://") && !link.href.starts_with("https://") {
                says(&format!("a link to {}", link.href));
            }
        }
        let source_named = entry.source.as_ref().is_some_and(|s| named(&s.authors));
        if !named(&entry.authors) && !named(&feed.authors) && !source_named {
            says("missing entry element: author");
        }
        match &entry.content {
            Some(c) if c.src.is_none() && c.value.as_deref().unwrap_or("").trim().is_empty() => {
                says("content should not be blank");
            }
            Some(_) => {}
            None if entry.summary.is_none() => says("missing textual content"),
            None => {}
        }
        let alternate = entry
            .links
            .iter()
            .any(|l| l.rel == "alternate" && !l.href.trim().is_empty());
        if !alternate {
            says("no link rel=\"alternate\" (a reader has nothing to open)");
        }
    }
    breaks
}
