//! wiredesk's integration tests: one binary, with the helpers in `helpers`.
//! Every server a test needs runs in-process on 127.0.0.1, port 0.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod abuse;
mod browser;
mod cli;
mod crash;
mod dedup;
mod delivery;
mod end_to_end;
mod helpers;
mod hostile;
mod hub;
mod ingest;
mod ingest_properties;
mod ops;
mod poll;
mod properties;
mod push_through;
mod retention;
mod rhythm;
mod serve;
mod source_options;
mod storage;
mod websub;
