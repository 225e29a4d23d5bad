//! Wires the WebSub callback routes (`serve::websub`) to the subscriber
//! (`poll::websub`): `serve` knows neither the subscriber nor the poller.

use axum::http::StatusCode;

use crate::poll::websub::{PushAnswer, Subscriber, decide::Verification};
use crate::serve::websub::{Answer, Callbacks, VerifyQuery};

impl Callbacks for Subscriber {
    fn verify(&self, token: String, query: VerifyQuery) -> Answer<'_, Option<String>> {
        Box::pin(async move {
            let v = Verification {
                mode: query.mode,
                topic: query.topic,
                challenge: query.challenge,
                lease_seconds: query.lease_seconds,
                reason: query.reason,
            };
            Subscriber::verify(self, token, v).await.ok()
        })
    }

    fn push(
        &self,
        token: String,
        signature: Option<String>,
        content_type: Option<String>,
        bytes: Vec<u8>,
    ) -> Answer<'_, StatusCode> {
        Box::pin(async move {
            match Subscriber::push(self, token, signature, content_type, bytes).await {
                PushAnswer::Accepted => StatusCode::ACCEPTED,
                PushAnswer::Gone => StatusCode::GONE,
                PushAnswer::Busy => StatusCode::TOO_MANY_REQUESTS,
            }
        })
    }

    fn max_body(&self) -> usize {
        Subscriber::max_body(self)
    }
}
