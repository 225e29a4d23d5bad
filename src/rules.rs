//! Keep/block rules (#18): which new items of a source are stored blocked
//! (never served, never merged, counted), as Miniflux's block/keep rules
//! and newsboat's killfile do. The only `regex` user; pure.
//!
//! A source's `block = [...]` and `keep = [...]` are regular expressions
//! matched case-insensitively against an item's title and against its
//! text (summary and content, without markup), each on its own. An item is
//! blocked when a block rule matches, or when there are keep rules and
//! none matches.
//!
//! Patterns come from the config, which an operator may have pasted from
//! anywhere: the `regex` crate matches in linear time, and the compiled
//! size is capped ([`SIZE_LIMIT`]) so that a pattern like `(a{1000}){1000}`
//! is a config error, not memory.

use std::fmt;

use regex::{Regex, RegexBuilder};

use crate::model::Item;

/// The most memory one compiled rule may take (its NFA, and each of its
/// lazy DFA caches): far above any title or word filter, far below harm.
pub const SIZE_LIMIT: usize = 1 << 20;

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN: usize = 1000;

/// A source's rules; none by default (nothing is blocked).
#[derive(Clone, Default)]
pub struct Rules {
    keep: Vec<Rule>,
    block: Vec<Rule>,
}

#[derive(Clone)]
struct Rule {
    pattern: String,
    regex: Regex,
}

/// A rule that cannot be used: its key (`keep[1]`) and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {message}")]
pub struct RuleError {
    pub key: String,
    pub message: String,
}

/// Why an item is blocked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blocked {
    /// It matches this block rule.
    ByBlock(String),
    /// There are keep rules and it matches none of them.
    NoKeepMatched,
}

impl Rules {
    /// Compiles `keep` and `block`; the first bad pattern is an error
    /// naming it (`block[2]`).
    pub fn new(keep: &[String], block: &[String]) -> Result<Rules, RuleError> {
        Ok(Rules {
            keep: compile("keep", keep)?,
            block: compile("block", block)?,
        })
    }

    /// Whether there are no rules (nothing is ever blocked).
    pub fn is_empty(&self) -> bool {
        self.keep.is_empty() && self.block.is_empty()
    }

    /// The decision for an item with this title and text: `None` to store
    /// it as usual.
    pub fn decide(&self, title: &str, text: &str) -> Option<Blocked> {
        let hits = |rule: &Rule| rule.regex.is_match(title) || rule.regex.is_match(text);
        if let Some(rule) = self.block.iter().find(|r| hits(r)) {
            return Some(Blocked::ByBlock(rule.pattern.clone()));
        }
        if !self.keep.is_empty() && !self.keep.iter().any(hits) {
            return Some(Blocked::NoKeepMatched);
        }
        None
    }

    /// [`Rules::decide`] for an item: its title, and its summary and
    /// content as text.
    pub fn decide_item(&self, item: &Item) -> Option<Blocked> {
        if self.is_empty() {
            return None;
        }
        let text: Vec<String> = [&item.summary, &item.content]
            .into_iter()
            .flatten()
            .flat_map(|html| crate::dedup::html_to_blocks(html))
            .collect();
        self.decide(&item.title, &text.join("\n"))
    }
}

fn compile(key: &str, patterns: &[String]) -> Result<Vec<Rule>, RuleError> {
    patterns
        .iter()
        .enumerate()
        .map(|(i, pattern)| {
            let bad = |message: String| RuleError {
                key: format!("{key}[{i}]"),
                message,
            };
            if pattern.trim().is_empty() {
                return Err(bad("must not be empty (it would match every item)".into()));
            }
            if pattern.len() > MAX_PATTERN {
                return Err(bad(format!("is longer than {MAX_PATTERN} bytes")));
            }
            let regex = RegexBuilder::new(pattern)
                .case_insensitive(true)
                .size_limit(SIZE_LIMIT)
                .dfa_size_limit(SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    bad(format!(
                        "{pattern:?} is not a usable regular expression: {e}"
                    ))
                })?;
            Ok(Rule {
                pattern: pattern.clone(),
                regex,
            })
        })
        .collect()
}

/// Rules are equal when their patterns are (a config reload compares
/// sources).
impl PartialEq for Rules {
    fn eq(&self, other: &Rules) -> bool {
        let patterns = |rules: &[Rule]| rules.iter().map(|r| r.pattern.clone()).collect::<Vec<_>>();
        patterns(&self.keep) == patterns(&other.keep)
            && patterns(&self.block) == patterns(&other.block)
    }
}

impl Eq for Rules {}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let patterns = |rules: &[Rule]| rules.iter().map(|r| r.pattern.clone()).collect::<Vec<_>>();
        f.debug_struct("Rules")
            .field("keep", &patterns(&self.keep))
            .field("block", &patterns(&self.block))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(keep: &[&str], block: &[&str]) -> Rules {
        let own = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        Rules::new(&own(keep), &own(block)).unwrap()
    }

    #[test]
    fn no_rules_block_nothing() {
        assert_eq!(rules(&[], &[]).decide("Anything", "at all"), None);
    }

    #[test]
    fn a_block_rule_matches_title_or_text_whatever_the_case() {
        let r = rules(&[], &["sponsored", r"\bhoroscope\b"]);
        assert_eq!(
            r.decide("SPONSORED: a new phone", ""),
            Some(Blocked::ByBlock("sponsored".into()))
        );
        assert_eq!(
            r.decide("Your week", "Today's Horoscope for Leo"),
            Some(Blocked::ByBlock(r"\bhoroscope\b".into()))
        );
        assert_eq!(r.decide("Parliament votes", "horoscopes aside"), None);
    }

    #[test]
    fn with_keep_rules_an_item_matching_none_is_blocked_and_block_wins_over_keep() {
        let r = rules(&["election", "^Breaking"], &["live blog"]);
        assert_eq!(r.decide("Election results", ""), None);
        assert_eq!(r.decide("breaking: quake", ""), None);
        assert_eq!(
            r.decide("Football scores", "no match"),
            Some(Blocked::NoKeepMatched)
        );
        assert_eq!(
            r.decide("Election live blog", ""),
            Some(Blocked::ByBlock("live blog".into()))
        );
    }

    #[test]
    fn an_item_is_judged_on_its_text_not_its_markup() {
        let r = rules(&[], &["advert"]);
        let item = Item {
            identity: "1".into(),
            title: "Markets".into(),
            link: None,
            published: None,
            updated: None,
            author: None,
            summary: Some(r#"<p class="advert">Shares rose.</p>"#.into()),
            content: None,
            categories: vec![],
            enclosures: vec![],
        };
        assert_eq!(r.decide_item(&item), None);
        let item = Item {
            content: Some("<p>This ADVERT is paid for.</p>".into()),
            ..item
        };
        assert!(r.decide_item(&item).is_some());
    }

    #[test]
    fn bad_empty_and_oversized_patterns_are_errors_naming_the_rule() {
        let own = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let e = Rules::new(&own(&["ok", "(unclosed"]), &[]).unwrap_err();
        assert_eq!(e.key, "keep[1]");
        assert!(e.message.contains("(unclosed"), "{}", e.message);
        let e = Rules::new(&[], &own(&[" "])).unwrap_err();
        assert_eq!(e.key, "block[0]");
        // Compiles to far more than the size limit: refused, quickly.
        let e = Rules::new(&[], &own(&["(a{1000}){1000}"])).unwrap_err();
        assert_eq!(e.key, "block[0]");
        let e = Rules::new(&[], &own(&[&"a".repeat(MAX_PATTERN + 1)])).unwrap_err();
        assert!(e.message.contains("longer"), "{}", e.message);
    }
}
