//! wiredesk: a feed aggregator daemon that merges copies of the same wire
//! story across sources into one feed.
//!
//! # Data flow
//!
//! ```text
//! config ──> poll (schedule, fetch) ──> ingest (parse, normalise) ──> merge (dedup ──> store) ──> serve
//! ```
//!
//! - [`config`]: the TOML file and `WIREDESK_*` overrides, validated into [`config::Settings`].
//! - [`poll`]: which sources are due; one poll (fetch → ingest → merge) per source, its outcome
//!   decided by a pure function ([`poll::decide`]). [`poll::fetch`] is the only HTTP client code.
//!   [`poll::websub`] subscribes sources to the WebSub hubs their feeds name and ingests what
//!   the hubs push through the same path a poll's body takes.
//! - [`ingest`]: feed bytes → clean, safe, stably identified [`model::Item`]s (the only feed-rs user).
//! - [`merge`]: the dedup → store step of a poll: each new item joins the story it is a copy of
//!   or founds its own, in group-committed write transactions ([`merge::group`]). Polling calls
//!   it; so do `explain`, the examples and the benchmarks.
//! - [`dedup`]: pure keys and decisions: which story a new item is a copy of.
//! - [`store`]: SQLite, the only SQL; migrations live in `migrations/`.
//! - [`serve`]: the merged feed over HTTP; rendering is pure ([`serve::render`]).
//! - [`hub`]: wiredesk's own WebSub hub (#16): verification, leases, content distribution
//!   of new entries to subscribers (its door is `serve::hub`), or pings of an external hub.
//! - [`app`]: wires the stages together, runs them until shutdown, and applies config reloads
//!   (on SIGHUP or when the file is saved).
//! - [`cli`]: the text of the read-only commands (`sources`, `stories`, `explain`).
//! - [`ops`]: what operators see: metrics, readiness, systemd notifications, log setup.
//! - [`model`]: the shared vocabulary.
//! - [`rules`]: a source's keep/block rules, the pure decision which new items are stored blocked.
//!
//! # Glossary
//!
//! - **source**: one configured feed URL.
//! - **item**: one entry from one source, normalised.
//! - **story**: what the merged feed shows once; it has one or more items, its **copies**.
//! - **poll**: one fetch + ingest + dedup + store pass for one source.

pub mod app;
pub mod cli;
pub mod config;
pub mod dedup;
pub mod hub;
pub mod ingest;
pub mod merge;
pub mod model;
pub mod ops;
pub mod poll;
pub mod rules;
pub mod serve;
pub mod store;
