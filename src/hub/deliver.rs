//! The hub's HTTP client: the only requests the hub sends. Verification
//! of intent (`GET callback?hub.mode=…&hub.challenge=…`), content
//! distribution (`POST callback`, signed when the subscriber gave a
//! secret), and the ping of an external hub (`websub.hub`).
//!
//! Every request: no redirect followed, at most `websub.callback_timeout`
//! in all, at most [`MAX_ANSWER`] bytes of the answer read. A callback
//! host that resolves to a loopback, private or link-local address is not
//! connected to unless the operator lists it in `websub.allowed_callbacks`
//! (judged on the addresses resolved, so a name cannot change its answer
//! between the check and the connection).

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::poll::fetch::{PublicOnly, Trust};
use crate::poll::websub::signature::{random_hex, sign_sha256};
use crate::serve::hub::{Mode, host_allowed};

/// The most bytes of a callback's answer read (a challenge is short).
pub const MAX_ANSWER: usize = 4096;

/// The hub's client.
#[derive(Clone)]
pub struct Deliverer {
    client: reqwest::Client,
    timeout: Duration,
}

/// Why a request to a callback failed, as logged.
#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("{0}")]
    Http(String),
    #[error("answered {0}")]
    Status(u16),
    #[error("did not answer the challenge")]
    WrongChallenge,
}

impl DeliverError {
    /// The callback said `410 Gone`: it wants no more.
    pub fn is_gone(&self) -> bool {
        matches!(self, DeliverError::Status(410))
    }
}

/// The callback hosts the operator allows (`websub.allowed_callbacks`):
/// only they may resolve to loopback, private or link-local addresses.
struct AllowedCallbacks(Vec<String>);

impl Trust for AllowedCallbacks {
    fn trusts(&self, host: &str) -> bool {
        host_allowed(host, &self.0)
    }

    fn refusal(&self, host: &str) -> String {
        format!("{host} resolves to no public address, and is not in websub.allowed_callbacks")
    }
}

impl Deliverer {
    pub fn new(
        user_agent: &str,
        timeout: Duration,
        allowed: &[String],
    ) -> Result<Deliverer, String> {
        crate::poll::fetch::install_crypto_provider();
        let client = reqwest::Client::builder()
            .user_agent(format!("{user_agent} (WebSub hub)"))
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .dns_resolver(Arc::new(PublicOnly {
                trust: Arc::new(AllowedCallbacks(allowed.to_vec())),
            }))
            .build()
            .map_err(|e| format!("cannot build the hub's HTTP client: {e}"))?;
        Ok(Deliverer { client, timeout })
    }

    /// Verification of intent: `true` when the callback answers 2xx with
    /// exactly the challenge.
    pub async fn verify(
        &self,
        callback: &Url,
        mode: Mode,
        topic: &str,
        lease: Option<Duration>,
    ) -> Result<(), DeliverError> {
        // Unguessable, so only the callback's owner can answer it.
        let challenge = random_hex(20).map_err(DeliverError::Http)?;
        let mut url = callback.clone();
        {
            let mut pairs = url.query_pairs_mut();
            pairs
                .append_pair("hub.mode", mode.as_str())
                .append_pair("hub.topic", topic)
                .append_pair("hub.challenge", &challenge);
            if let Some(lease) = lease {
                pairs.append_pair("hub.lease_seconds", &lease.as_secs().to_string());
            }
        }
        let body = self.send(self.client.get(url)).await?;
        if body == challenge.as_bytes() {
            Ok(())
        } else {
            Err(DeliverError::WrongChallenge)
        }
    }

    /// Tells a callback its subscription request was denied (spec §5.2).
    pub async fn deny(&self, callback: &Url, topic: &str, reason: &str) {
        let mut url = callback.clone();
        url.query_pairs_mut()
            .append_pair("hub.mode", "denied")
            .append_pair("hub.topic", topic)
            .append_pair("hub.reason", reason);
        let _ = self.send(self.client.get(url)).await;
    }

    /// Content distribution: POSTs `body` to `callback`.
    pub async fn distribute(
        &self,
        callback: &str,
        content_type: &str,
        link: &str,
        secret: Option<&str>,
        body: String,
    ) -> Result<(), DeliverError> {
        let mut request = self
            .client
            .post(callback)
            .header(reqwest::header::CONTENT_TYPE, content_type)
            .header(reqwest::header::LINK, link);
        if let Some(secret) = secret {
            request = request.header(
                "X-Hub-Signature",
                sign_sha256(secret.as_bytes(), body.as_bytes()),
            );
        }
        self.send(request.body(body)).await.map(drop)
    }

    /// Pings an external hub: the topic `topic` has new content.
    pub async fn publish(&self, hub: &Url, topic: &str) -> Result<(), DeliverError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("hub.mode", "publish")
            .append_pair("hub.url", topic)
            .finish();
        let request = self
            .client
            .post(hub.clone())
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .body(form);
        self.send(request).await.map(drop)
    }

    /// Sends `request` within the timeout; the answer's first
    /// [`MAX_ANSWER`] bytes on a 2xx.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Vec<u8>, DeliverError> {
        let exchange = async {
            let mut response = request
                .send()
                .await
                .map_err(|e| DeliverError::Http(error_chain(&e)))?;
            let status = response.status();
            let mut body = Vec::new();
            while body.len() < MAX_ANSWER {
                match response.chunk().await {
                    Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                    _ => break,
                }
            }
            body.truncate(MAX_ANSWER);
            if status.is_success() {
                Ok(body)
            } else {
                Err(DeliverError::Status(status.as_u16()))
            }
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or_else(|_| Err(DeliverError::Http("timed out".into())))
    }
}

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
