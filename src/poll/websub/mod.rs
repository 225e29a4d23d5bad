//! Push from publishers' hubs (WebSub, W3C Recommendation 2018; #16, the
//! subscriber side).
//!
//! - `discover.rs`: the hub and topic a response's `Link` header names (the
//!   document's links come from `ingest`, as [`crate::model::PushLinks`]);
//! - `decide.rs`: the pure decisions: when to subscribe, renew, give up
//!   and unsubscribe, and whether a hub's verification of intent matches a
//!   request we made;
//! - `signature.rs`: checking a push's `X-Hub-Signature`;
//! - `subscriber.rs`: the requests to hubs, the answers to their
//!   verifications, pushes checked and queued;
//! - `ingest.rs`: a push ingested as a poll's body is.
//!
//! Subscription state is kept by the store (`store/websub.rs`), so it
//! survives a restart. While a source's subscription is verified its polls
//! are spaced at `[poll].max_interval` ([`super::schedule::while_pushed`]).

pub mod decide;
pub mod discover;
mod ingest;
pub mod signature;
mod subscriber;
#[cfg(test)]
mod tests;

pub use subscriber::{PUSH_QUEUE, PushAnswer, Subscriber};

use crate::model::{PushLinks, SourceId};

/// The hubs a poll of a source found, for the subscriber.
#[derive(Debug, Clone)]
pub struct Advert {
    pub source: SourceId,
    pub links: PushLinks,
}

/// A body a hub pushed, signed as it should be, for the poller.
#[derive(Debug)]
pub struct Push {
    pub source: SourceId,
    pub body: super::fetch::Body,
}
