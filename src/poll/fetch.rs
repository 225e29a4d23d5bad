//! Fetching a source's body: the only `reqwest` user.
//!
//! `http`/`https` sources are fetched with a total timeout and a body cap
//! enforced while streaming (the cap counts decompressed bytes, so a small
//! gzip body cannot expand without bound). `file` sources are read from disk
//! under the same cap, so the bundled example config runs offline.

use std::time::Duration;

use tokio::io::AsyncReadExt;
use url::Url;

use crate::config::PollSettings;

/// A fetched body.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub bytes: Vec<u8>,
    /// The `Content-Type` header, when the server sent one.
    pub content_type: Option<String>,
    /// The HTTP status (200 for a file).
    pub status: u16,
}

/// Why a fetch failed, worded for the source's recorded error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FetchError {
    #[error("HTTP {status}")]
    Status { status: u16 },
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("cannot connect: {0}")]
    Connect(String),
    #[error("the body is over the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("cannot read {path}: {reason}")]
    File { path: String, reason: String },
    #[error("{0}")]
    Other(String),
}

/// Fetches bodies; cheap to clone (the HTTP client pools connections).
#[derive(Clone)]
pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_body: usize,
}

impl Fetcher {
    /// A fetcher configured from `[poll]`.
    pub fn new(settings: &PollSettings) -> Result<Fetcher, FetchError> {
        install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(settings.user_agent.clone())
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::limited(5))
            .build()
            .map_err(|e| FetchError::Other(format!("cannot build the HTTP client: {e}")))?;
        Ok(Fetcher {
            client,
            timeout: settings.timeout,
            max_body: settings.max_body,
        })
    }

    /// Fetches `url`, whatever its scheme.
    pub async fn fetch(&self, url: &Url) -> Result<Fetched, FetchError> {
        match url.scheme() {
            "file" => self.read_file(url).await,
            _ => self.get(url).await,
        }
    }

    async fn get(&self, url: &Url) -> Result<Fetched, FetchError> {
        let mut response = self
            .client
            .get(url.clone())
            .send()
            .await
            .map_err(|e| self.classify(e))?;
        let status = response.status().as_u16();
        if !response.status().is_success() {
            return Err(FetchError::Status { status });
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(e))? {
            if bytes.len() + chunk.len() > self.max_body {
                return Err(FetchError::TooLarge {
                    limit: self.max_body,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            bytes,
            content_type,
            status,
        })
    }

    async fn read_file(&self, url: &Url) -> Result<Fetched, FetchError> {
        let path = url.to_file_path().map_err(|()| FetchError::File {
            path: url.to_string(),
            reason: "not a local path".into(),
        })?;
        let file_err = |e: std::io::Error| FetchError::File {
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let file = tokio::fs::File::open(&path).await.map_err(file_err)?;
        let mut bytes = Vec::new();
        let cap = u64::try_from(self.max_body).unwrap_or(u64::MAX);
        file.take(cap.saturating_add(1))
            .read_to_end(&mut bytes)
            .await
            .map_err(file_err)?;
        if bytes.len() > self.max_body {
            return Err(FetchError::TooLarge {
                limit: self.max_body,
            });
        }
        Ok(Fetched {
            bytes,
            content_type: None,
            status: 200,
        })
    }

    fn classify(&self, e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            FetchError::Timeout(self.timeout)
        } else if e.is_connect() {
            FetchError::Connect(error_chain(&e))
        } else {
            FetchError::Other(error_chain(&e))
        }
    }
}

/// The error and its causes on one line: reqwest's own message alone
/// ("error sending request") does not say what went wrong.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        text.push_str(": ");
        text.push_str(&c.to_string());
        cause = c.source();
    }
    text
}

/// reqwest is built without a TLS crypto provider (to keep aws-lc's C build
/// out); ring is installed as the process default before the first client.
fn install_crypto_provider() {
    // `Err` means a provider is already installed, which is the goal.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
