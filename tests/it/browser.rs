//! The desk in a real browser (#19): headless Chromium, driven through
//! chromedriver over the W3C WebDriver protocol, at 390 px (a phone) and
//! 1280 px. It checks that nothing runs off the right edge, that the search
//! form finds the matching stories, that the served script localises the
//! times under the strict CSP, and leaves screenshots in
//! `target/desk-screenshots/` for a person to look at.
//!
//! Skipped, with a printed reason, where Chromium or chromedriver is not
//! installed (`.ci/run` installs them on Debian).
//!
//! The WebDriver client is the few commands below, over reqwest and
//! serde_json (already in the build) rather than a driver crate: the test
//! needs nine endpoints, and a crate would add its HTTP stack and
//! WebDriver types to every build of the test binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use crate::helpers::*;
use wiredesk::app::App;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const TOKEN: &str = "desk-token-0123456789";
/// WebDriver's key for an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Calls `check` until it returns `Some`, at most for `limit`; every
/// `every` in between (a poll for a condition, not a wait for time).
async fn eventually<T, F, Fut>(limit: Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    let mut every = tokio::time::interval(Duration::from_millis(50));
    loop {
        every.tick().await;
        if let Some(value) = check().await {
            return value;
        }
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
    }
}

/// A chromedriver process of ours; killed when dropped.
struct Driver {
    child: Child,
    base: String,
    http: reqwest::Client,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    async fn start() -> Driver {
        // A free port for chromedriver, which cannot take port 0.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver {
            child,
            base: format!("http://127.0.0.1:{port}"),
            http: reqwest::Client::new(),
        };
        let status = format!("{}/status", driver.base);
        eventually(Duration::from_secs(30), "chromedriver", || {
            let request = driver.http.get(&status).send();
            async move {
                let body = request.await.ok()?.text().await.ok()?;
                let body: Value = serde_json::from_str(&body).ok()?;
                body["value"]["ready"].as_bool().filter(|r| *r)
            }
        })
        .await;
        driver
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        let answer = request.send().await.unwrap().text().await.unwrap();
        let answer: Value = serde_json::from_str(&answer).unwrap();
        assert!(answer["value"]["error"].is_null(), "{path}: {answer}");
        answer["value"].clone()
    }

    async fn session(&self, profile: &Path) -> Session<'_> {
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let value = self
            .call(reqwest::Method::POST, "/session", Some(caps))
            .await;
        Session {
            driver: self,
            id: value["sessionId"].as_str().unwrap().to_owned(),
        }
    }
}

struct Session<'a> {
    driver: &'a Driver,
    id: String,
}

impl Session<'_> {
    async fn post(&self, path: &str, body: Value) -> Value {
        let path = format!("/session/{}{path}", self.id);
        self.driver
            .call(reqwest::Method::POST, &path, Some(body))
            .await
    }

    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.post("/goog/cdp/execute", json!({"cmd": cmd, "params": params}))
            .await
    }

    /// The viewport of a device `width` × `height` CSS pixels.
    async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        let metrics =
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        self.cdp("Emulation.setDeviceMetricsOverride", metrics)
            .await;
    }

    async fn js(&self, script: &str) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    /// Opens `url` and waits until the page and its script have run.
    async fn open(&self, url: &str) {
        self.post("/url", json!({"url": url})).await;
        self.loaded().await;
    }

    async fn loaded(&self) {
        eventually(Duration::from_secs(30), "the page and desk.js", || async {
            let ready = self
                .js("return document.readyState === 'complete' && \
                     document.documentElement.hasAttribute('data-local-times')")
                .await;
            ready.as_bool().filter(|r| *r)
        })
        .await;
    }

    async fn element(&self, css: &str) -> String {
        let found = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await;
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("{css}: {found}"))
            .to_owned()
    }

    /// A screenshot of the whole page, `name`.png under `dir`.
    async fn screenshot(&self, dir: &Path, name: &str, width: u32, mobile: bool) -> PathBuf {
        let height = self
            .js("return document.documentElement.scrollHeight")
            .await;
        let height = height.as_u64().unwrap().clamp(200, 6000) as u32;
        self.viewport(width, height, mobile).await;
        self.shot(dir, name).await
    }

    /// A screenshot of the viewport, `name`.png under `dir`.
    async fn shot(&self, dir: &Path, name: &str) -> PathBuf {
        let shot = self
            .driver
            .call(
                reqwest::Method::GET,
                &format!("/session/{}/screenshot", self.id),
                None,
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot.as_str().unwrap())
            .unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).unwrap();
        path
    }

    async fn end(self) {
        let path = format!("/session/{}", self.id);
        self.driver.call(reqwest::Method::DELETE, &path, None).await;
    }
}

/// (scrollWidth, clientWidth) of the document, with every `<details>` open.
const WIDTHS: &str = "document.querySelectorAll('details').forEach(function (d) { d.open = true; });\
    var e = document.documentElement; return [e.scrollWidth, e.clientWidth];";

const STORY_TITLES: &str = "return Array.from(document.querySelectorAll('ol.stories > li > h3'))\
    .map(function (h) { return h.textContent; });";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desk_fits_a_phone_and_a_wide_screen_and_its_search_finds_stories() {
    if !Path::new(CHROMIUM).exists() || !Path::new(CHROMEDRIVER).exists() {
        println!(
            "SKIPPED the_desk_fits_a_phone_and_a_wide_screen_and_its_search_finds_stories: \
             {CHROMIUM} or {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
        );
        return;
    }
    let feeds = FeedServer::start().await;
    feeds.set("agency.xml", Canned::ok("application/rss+xml", AGENCY_RSS));
    feeds.set(
        "outlet.xml",
        Canned::ok("application/atom+xml", OUTLET_ATOM),
    );
    let refused = {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/feed.xml", closed.local_addr().unwrap())
    };
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\ntitle = \"Night desk\"\ntoken = \"{TOKEN}\"\n\
         [storage]\npath = \"test.db\"\n[poll]\ntimeout = \"5s\"\n{}",
        sources_toml(&[
            (
                "agency",
                "Northwind Press Agency",
                &feeds.url("agency.xml"),
                1
            ),
            ("outlet", "The Harbour Herald", &feeds.url("outlet.xml"), 0),
            (
                "broken",
                "A source whose feed moved away",
                &feeds.url("gone.xml"),
                0
            ),
            ("refused", "A source whose server is down", &refused, 0),
        ])
    );
    let settings =
        wiredesk::config::from_str(&text, &dir.path().join("t.toml"), dir.path(), []).unwrap();
    let app = App::build(settings).await.unwrap();
    app.poll_once().await;
    let running = spawn_app(app);
    let desk = running.url(&format!("/?token={TOKEN}"));

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/desk-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let driver = Driver::start().await;
    let session = driver.session(&dir.path().join("profile")).await;
    session
        .cdp(
            "Emulation.setTimezoneOverride",
            json!({"timezoneId": "Asia/Tokyo"}),
        )
        .await;

    for (width, mobile) in [(390, true), (1280, false)] {
        session.viewport(width, 844, mobile).await;
        session.open(&desk).await;
        let widths = session.js(WIDTHS).await;
        let (scroll, client) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
        assert_eq!(client, u64::from(width), "the viewport is {width} px wide");
        assert!(
            scroll <= client,
            "at {width} px the page is {scroll} px wide"
        );
        let titles = session.js(STORY_TITLES).await;
        assert_eq!(
            titles.as_array().unwrap().len(),
            4,
            "six items, two wire stories merged: {titles}"
        );
        let states = session
            .js("return Array.from(document.querySelectorAll('.source .state')).map(function (p) { return p.textContent; });")
            .await;
        assert_eq!(
            states,
            json!([
                "failing: HTTP 404",
                "failing: connection refused",
                "ok",
                "ok"
            ]),
            "failing sources first, in a few words"
        );
        let copies = session
            .js("return Array.from(document.querySelectorAll('strong.copies')).map(function (s) { return s.textContent; });")
            .await;
        assert!(
            copies.as_array().unwrap().contains(&json!("2 copies")),
            "{copies}"
        );
        let title = session
            .js("return document.querySelector('time').title")
            .await;
        assert!(
            title.as_str().unwrap().ends_with("(Asia/Tokyo)"),
            "desk.js localised {title}"
        );
        session
            .shot(&shots, &format!("desk-{width}-first-screen"))
            .await;
        let path = session
            .screenshot(&shots, &format!("desk-{width}"), width, mobile)
            .await;
        println!("screenshot: {}", path.display());
    }

    // The search form, as a person uses it.
    session.viewport(1280, 844, false).await;
    session.open(&desk).await;
    let q = session.element("#q").await;
    session
        .post(&format!("/element/{q}/value"), json!({"text": "ferry"}))
        .await;
    let submit = session.element("form.search button[type=submit]").await;
    session
        .post(&format!("/element/{submit}/click"), json!({}))
        .await;
    eventually(Duration::from_secs(30), "the search's answer", || async {
        let href = session.js("return location.search").await;
        href.as_str().filter(|s| s.contains("q=ferry")).map(|_| ())
    })
    .await;
    session.loaded().await;
    let titles = session.js(STORY_TITLES).await;
    assert_eq!(
        titles,
        json!(["Harbour ferry timetable changes for the winter"])
    );
    let search = session.js("return location.search").await;
    assert!(
        search.as_str().unwrap().contains(&format!("token={TOKEN}")),
        "the token stays"
    );
    let path = session
        .screenshot(&shots, "desk-search-1280", 1280, false)
        .await;
    println!("screenshot: {}", path.display());

    session.end().await;
    drop(driver);
    running.stop().await;
}
