//! Dedup: decides which stored story a new item is a copy of. Pure: it
//! computes keys and takes decisions, the store looks candidates up and
//! writes.
//!
//! This first version recognises exact republications: two items are copies
//! when the hashes of their normalised text are equal.

use sha2::{Digest, Sha256};

use crate::model::{Candidate, ContentHash, Item, NewItem, StoryId};

/// The version of the normalisation rules, part of every content hash: a
/// change of rules must bump it, so that old and new hashes never match by
/// accident and a re-hash can be planned.
pub const NORMALISATION_VERSION: u32 = 1;

/// The hash of an item's normalised text: its content, else its summary,
/// else its title.
pub fn content_hash(item: &Item) -> ContentHash {
    let text = [item.content.as_deref(), item.summary.as_deref()]
        .into_iter()
        .flatten()
        .map(normalise_html)
        .find(|t| !t.is_empty())
        .unwrap_or_else(|| normalise_text(&item.title));
    let mut h = Sha256::new();
    h.update(NORMALISATION_VERSION.to_le_bytes());
    h.update(text.as_bytes());
    h.finalize().into()
}

/// Text of an HTML fragment, normalised: tags dropped (with the content of
/// scripts and styles), then as [`normalise_text`].
fn normalise_html(html: &str) -> String {
    normalise_text(&ammonia::Builder::empty().clean(html).to_string())
}

/// Lower case, white space folded to single spaces.
fn normalise_text(text: &str) -> String {
    text.split_whitespace()
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The story a new item joins: that of the oldest stored item with the same
/// content hash, or `None` for a new story.
pub fn assign(new: &NewItem, candidates: &[Candidate]) -> Option<StoryId> {
    candidates
        .iter()
        .filter(|c| c.content_hash == new.content_hash)
        .min_by_key(|c| c.item_id)
        .map(|c| c.story_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(content: &str) -> Item {
        Item {
            identity: "i".into(),
            title: "Title".into(),
            link: None,
            published: None,
            updated: None,
            author: None,
            summary: None,
            content: Some(content.into()),
            categories: vec![],
            enclosures: vec![],
        }
    }

    #[test]
    fn markup_and_spacing_do_not_change_the_hash() {
        let a = item("<p>Putin and Trump will meet in Paris.</p>");
        let b = item("<div>Putin  and <b>Trump</b>\nwill meet in Paris.</div>");
        assert_eq!(content_hash(&a), content_hash(&b));
    }

    #[test]
    fn different_text_has_a_different_hash() {
        let a = item("<p>Putin and Trump will meet in Paris.</p>");
        let b = item("<p>Putin and Trump will meet in Helsinki.</p>");
        assert_ne!(content_hash(&a), content_hash(&b));
    }
}
