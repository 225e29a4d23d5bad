//! Near-duplicate detection: recognising copies of one news story across outlets.
//!
//! Pipeline for each new item (all functions here are pure: no clock, no I/O, no global
//! state, no panics):
//!
//! 1. [`fingerprint`] normalises the body ([`normalise_body`]: HTML → text blocks, Unicode
//!    and typography fold, wrapper lines, learned boilerplate and datelines removed),
//!    shingles it (4 tokens; CJK characters are tokens), and computes the exact keys
//!    (content hash versioned by [`NORMALISATION_VERSION`], [`canonical_link`],
//!    [`title_key`]).
//! 2. The store looks candidates up by [`Fingerprint::index_keys`] (exact keys, lead
//!    anchors, MinHash-LSH bands) within [`Thresholds::window_secs`] of the item's date.
//! 3. [`copies_of`] compares the item with each candidate ([`decide`]: exact shingle-set
//!    resemblance / containment with lead alignment / title key) and names every story
//!    it is a copy of; the store makes them one ([`same_item`] first tells an item its
//!    source sent before under another id).
//! 4. The store records the item's keys and its
//!    [`Fingerprint::boilerplate_observations`] for its source ([`BoilerplateStats`]).
//!
//! Store tables this implies:
//! ```sql
//! CREATE TABLE dedup_key (key INTEGER NOT NULL, item_id INTEGER NOT NULL,
//!   published INTEGER NOT NULL, PRIMARY KEY (key, item_id)) WITHOUT ROWID;
//! CREATE TABLE dedup_boilerplate (source_id INTEGER NOT NULL, para_hash INTEGER NOT NULL,
//!   rests INTEGER NOT NULL, PRIMARY KEY (source_id, para_hash)) WITHOUT ROWID;
//! -- item.story_id INTEGER, item.dedup_version INTEGER (= NORMALISATION_VERSION)
//! ```

mod dateline;
mod decide;
mod fingerprint;
mod html;
mod keys;
mod text;
mod wrapper;

#[cfg(test)]
mod tests;

pub use self::decide::{
    Rule, STORY_MIN_SHINGLES, Scores, Thresholds, Verdict, assign, copies_of, decide, explain,
    same_item, scores,
};
pub use self::fingerprint::{
    DecodeError, DedupInput, Fingerprint, LEAD_ANCHORS, LSH_BANDS, LSH_ROWS, MAX_TOKENS,
    NORMALISATION_VERSION, NormalisedBody, SHINGLE_TOKENS, fingerprint, normalise_body,
};
pub use self::html::html_to_blocks;
pub use self::keys::{canonical_link, title_key};
pub use self::text::fold;
pub use self::wrapper::{
    BOILERPLATE_MIN_ITEMS, BoilerplateStats, EDGE_BLOCKS, NoBoilerplate, Observation,
    paragraph_hash, strip_dateline,
};
