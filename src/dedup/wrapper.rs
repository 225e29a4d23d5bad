//! Removing what an outlet wraps around a story: datelines, page lines above and below
//! the body, captions, ad labels and learned per-source boilerplate.
//!
//! Everything here works on blocks already folded by [`super::text::fold`] (case kept).
//! The rules are structural, not lists of phrases: a republisher's wrapper text varies
//! from outlet to outlet, so recurring lines are *learned* per source
//! ([`BoilerplateStats`]), and the fixed rules only describe shapes that every news page
//! shares (a date line, a line in parentheses, a photo credit `Agency/Name`).

use super::dateline;
use super::text::{for_each_token, hash_bytes, joined_tokens};

/// A paragraph that appeared in at least this many earlier items of the same source,
/// each with a different remaining text, is boilerplate. A story paragraph legitimately
/// recurs in up to ~4 items of one agency (the wire copy, a write-thru, a re-filed copy,
/// a follow-up quoting it), so the bar sits above that. Part of the normalisation:
/// changing it changes [`super::NORMALISATION_VERSION`].
///
/// "Different remaining text" is what keeps a story from being learned as its source's
/// boilerplate when the same item comes back: a feed that served its 3 items under new
/// ids on every poll had them learned as boilerplate from the 6th poll on, and every copy
/// became a new story (#21). The remaining texts are counted in a 64-bit set
/// ([`Observation::rest_bit`]): two different ones may share a bit, which only makes
/// learning take an item more; the same item seen again never counts twice.
pub const BOILERPLATE_MIN_ITEMS: u32 = 5;

/// Only this many blocks at each edge of a body are looked up / recorded for
/// boilerplate learning (wrappers sit above and below the text), so an item costs at
/// most `2 * EDGE_BLOCKS` lookups.
pub const EDGE_BLOCKS: usize = 4;

/// Per-source paragraph statistics, the learned half of boilerplate removal.
///
/// The store implements it as a table
/// `dedup_boilerplate(source TEXT, para_hash INTEGER, rests INTEGER, PRIMARY KEY(source, para_hash))`;
/// after writing an item it ORs [`Observation::rest_bit`] into `rests` for each of
/// [`super::Fingerprint::boilerplate_observations`] (distinct paragraphs within the item),
/// and answers with the number of bits set.
pub trait BoilerplateStats {
    /// In how many earlier items of `source` with different remaining texts a paragraph
    /// with this [`paragraph_hash`] appeared (0 if never; see [`BOILERPLATE_MIN_ITEMS`]).
    fn distinct_items(&self, source: &str, paragraph_hash: u64) -> u32;
}

/// One edge paragraph of an item, to count for its source's boilerplate learning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Observation {
    /// Its [`paragraph_hash`].
    pub paragraph: u64,
    /// A hash of the rest of the item: its title key and its other paragraphs (digits
    /// masked as in [`paragraph_hash`]).
    pub rest: u64,
}

impl Observation {
    /// The bit of a 64-bit set that stands for the rest of the item.
    pub fn rest_bit(&self) -> u64 {
        1u64 << (self.rest % 64)
    }
}

/// No learned state (cold start, tests).
#[derive(Debug, Clone, Copy, Default)]
pub struct NoBoilerplate;

impl BoilerplateStats for NoBoilerplate {
    fn distinct_items(&self, _source: &str, _paragraph_hash: u64) -> u32 {
        0
    }
}

impl<S: std::hash::BuildHasher> BoilerplateStats
    for std::collections::HashMap<(String, u64), u32, S>
{
    fn distinct_items(&self, source: &str, paragraph_hash: u64) -> u32 {
        self.get(&(source.to_owned(), paragraph_hash))
            .copied()
            .unwrap_or(0)
    }
}

/// Hash of a paragraph for boilerplate learning: its lower-cased tokens with every digit
/// run replaced by `0`, so `17 Sep 2026, 01:09` and `18 Sep 2026, 07:30` page lines of one
/// outlet count as the same line.
pub fn paragraph_hash(block: &str) -> u64 {
    paragraph_hash_of_tokens(&joined_tokens(block).0)
}

/// [`paragraph_hash`] of a block already tokenised ([`Block::tokens`]).
pub(super) fn paragraph_hash_of_tokens(tokens: &str) -> u64 {
    let mut buf = String::with_capacity(tokens.len() + 1);
    for t in tokens.split(' ').filter(|t| !t.is_empty()) {
        if t.chars().all(|c| c.is_ascii_digit()) {
            buf.push('0');
        } else {
            buf.push_str(t);
        }
        buf.push(' ');
    }
    hash_bytes(buf.as_bytes())
}

/// A folded block, tokenised once.
#[derive(Debug, Clone)]
pub struct Block {
    /// The folded text ([`super::text::fold`]).
    pub text: String,
    /// Its lower-cased tokens joined by single spaces.
    pub tokens: String,
    /// How many tokens.
    pub ntok: usize,
}

impl Block {
    /// Folded text to a block.
    pub fn new(text: String) -> Block {
        let (tokens, ntok) = joined_tokens(&text);
        Block { text, tokens, ntok }
    }
}

const DATE_WORDS: &[&str] = &[
    "jan",
    "january",
    "feb",
    "february",
    "mar",
    "march",
    "apr",
    "april",
    "may",
    "jun",
    "june",
    "jul",
    "july",
    "aug",
    "august",
    "sep",
    "sept",
    "september",
    "oct",
    "october",
    "nov",
    "november",
    "dec",
    "december",
    "mon",
    "monday",
    "tue",
    "tues",
    "tuesday",
    "wed",
    "wednesday",
    "thu",
    "thur",
    "thurs",
    "thursday",
    "fri",
    "friday",
    "sat",
    "saturday",
    "sun",
    "sunday",
    "am",
    "pm",
    "ago",
    "second",
    "seconds",
    "minute",
    "minutes",
    "min",
    "mins",
    "hour",
    "hours",
    "hr",
    "hrs",
    "day",
    "days",
    "week",
    "weeks",
    "month",
    "months",
    "year",
    "years",
    "updated",
    "published",
    "posted",
    "last",
    "on",
    "at",
    "gmt",
    "utc",
    "bst",
    "cet",
    "est",
    "edt",
    "pst",
    "pdt",
    "ist",
    "st",
    "nd",
    "rd",
    "th",
    "t",
    "z",
    "read",
    "time",
];

/// Rule "page date line": a block made only of numbers and date/time words, with at least
/// one number (`Sunday, 25 August, 2019`; `24 Oct 2018, 00:47 ( 10 Months ago)`).
pub fn is_date_line(block: &str) -> bool {
    // A date line is short; skip the token walk for paragraphs.
    if block.len() > 120 {
        return false;
    }
    let mut digits = false;
    let mut all = true;
    let mut n = 0;
    for_each_token(block, |t| {
        n += 1;
        if t.chars().all(|c| c.is_ascii_digit()) {
            digits = true;
        } else if !DATE_WORDS.contains(&t) {
            all = false;
        }
    });
    n > 0 && all && digits
}

/// Rule "ad label": a short block naming an ad slot (`Advertisement`,
/// `Story continues below advertisement`). Ad labels are a convention of every news page,
/// not an outlet's wording.
pub fn is_ad_label(block: &str) -> bool {
    if block.len() > 80 {
        return false;
    }
    const AD: &[&str] = &[
        "advertisement",
        "advertising",
        "advert",
        "ad",
        "ads",
        "sponsored",
    ];
    const FILL: &[&str] = &[
        "story",
        "continues",
        "below",
        "after",
        "this",
        "the",
        "content",
        "scroll",
        "to",
        "continue",
        "reading",
        "article",
        "by",
        "promoted",
    ];
    let mut has_ad = false;
    let mut ok = true;
    let mut n = 0;
    for_each_token(block, |t| {
        n += 1;
        if AD.contains(&t) {
            has_ad = true;
        } else if !FILL.contains(&t) {
            ok = false;
        }
    });
    has_ad && ok && n <= 6
}

/// Rule "prose": a block that reads as a sentence of the story: at least 4 tokens and it
/// ends with sentence punctuation (`.` `!` `?` a closing quote, `...`, `[...]`). Page
/// lines (`Read more`, `Share on Facebook | Share on Twitter`, `Editor: Lee`,
/// `Text size: A A A`, `XY-Agency Report`) are not prose.
pub fn is_prose(b: &Block) -> bool {
    b.ntok >= 4
        && b.text
            .trim_end()
            .chars()
            .last()
            .is_some_and(|c| matches!(c, '.' | '!' | '?' | '"' | '\'' | ']' | ':'))
}

/// Rule "photo caption": a block of at most 50 tokens that carries a photo credit
/// `Agency/Name` (a letter, `/`, a capital letter) either in a closing parenthesis
/// (`… shows the minister. (Agency/Jo Bloggs)`) or, when the block names a photo or
/// picture, in its last 60 bytes (`… File Photo Agency/Partner/Jo Bloggs.`). A slash
/// inside ordinary words (`HIV/Aids` in a lead) is not a credit: a lead paragraph was
/// once dropped that way.
pub fn is_caption(b: &Block) -> bool {
    if b.ntok > 50 {
        return false;
    }
    let t = b.text.trim_end();
    let credit = |s: &str| {
        let chars: Vec<char> = s.chars().collect();
        chars.windows(3).any(|w| match w {
            [a, '/', c] => a.is_alphabetic() && c.is_uppercase(),
            _ => false,
        })
    };
    if let Some(inner) = t.strip_suffix(')')
        && let Some(open) = inner.rfind('(')
        && credit(inner.get(open..).unwrap_or(""))
    {
        return true;
    }
    let names_photo = b.tokens.split(' ').any(|w| {
        matches!(
            w,
            "photo" | "photos" | "picture" | "pictures" | "pictured" | "image" | "images"
        )
    });
    let start = t.len().saturating_sub(60);
    let tail = t.get(start..).unwrap_or(t);
    names_photo && credit(tail)
}

/// Rule "credit line": a block wholly inside parentheses or brackets, at most 30 tokens
/// (`(Reporting by …; Editing by …)`, `[Compiled by the desk]`).
pub fn is_credit_line(b: &Block) -> bool {
    let t = b.text.trim();
    b.ntok <= 30
        && ((t.starts_with('(') && t.ends_with(')')) || (t.starts_with('[') && t.ends_with(']')))
}

/// Strips a dateline from the start of a lead paragraph and returns the rest.
///
/// Accepted shapes (after the dash fold, so `—`/`–` read `-`):
/// `PLACE, DATE (AGENCY) -- `, `PLACE (AGENCY) - `, `Place, Date (Agency): `,
/// `(AGENCY) - `, `PLACE, DATE - ` and `PLACE - ` (place in capitals when no agency is
/// given). The place has at most 4 words starting with capitals, the date at most
/// 4 short words, the agency at most 4 words. Examples it came from:
/// `MOSCOW, Oct. 23 (Xinhua) --`, `LONDON (AFP) —`, `PARIS (Reuters) -`.
pub fn strip_dateline(s: &str) -> &str {
    if let Some(rest) = dateline::strip_bracketed(s)
        .or_else(|| dateline::strip_chinese(s))
        .or_else(|| dateline::strip_with_agency(s))
    {
        return rest;
    }
    let window_end = {
        let mut e = s.len().min(120);
        while e > 0 && !s.is_char_boundary(e) {
            e -= 1;
        }
        e
    };
    let window = s.get(..window_end).unwrap_or("");
    for (i, c) in window.char_indices() {
        let sep_len = match c {
            '-' => {
                let before = s.get(..i).and_then(|p| p.chars().last());
                if !matches!(before, Some(' ') | Some(')')) {
                    continue;
                }
                let run = s
                    .get(i..)
                    .map(|r| r.chars().take_while(|&c| c == '-').count())
                    .unwrap_or(0);
                let after = s.get(i + run..).and_then(|r| r.chars().next());
                if !matches!(after, Some(' ') | None) {
                    continue;
                }
                run
            }
            ':' => {
                let before = s.get(..i).and_then(|p| p.chars().last());
                if before != Some(')') {
                    continue;
                }
                1
            }
            _ => continue,
        };
        let prefix = s.get(..i).unwrap_or("").trim_end();
        if is_dateline_prefix(prefix) {
            let rest = s.get(i + sep_len..).unwrap_or("").trim_start();
            if rest.chars().any(char::is_alphanumeric) {
                // `МОСКВА, 13 ноября - РИА Новости. …`: the agency after the dash.
                return dateline::strip_agency_after(rest).unwrap_or(rest);
            }
        }
        return s;
    }
    s
}

fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split([' ', ',', '،']).filter(|w| !w.is_empty())
}

/// A word that starts with a capital, or in a script without capitals (Arabic).
fn starts_capitalised(w: &str) -> bool {
    w.chars()
        .next()
        .is_some_and(|c| c.is_uppercase() || (c.is_alphabetic() && !c.is_lowercase()))
}

fn is_dateline_prefix(prefix: &str) -> bool {
    if prefix.is_empty() || prefix.len() > 80 {
        return false;
    }
    let (place_date, agency) = match prefix.strip_suffix(')') {
        Some(p) => match p.rfind('(') {
            Some(open) => (
                p.get(..open).unwrap_or("").trim_end(),
                Some(p.get(open + 1..).unwrap_or("")),
            ),
            None => return false,
        },
        None => (prefix, None),
    };
    if let Some(a) = agency {
        let n = words(a).count();
        if n == 0 || n > 4 || !a.chars().next().is_some_and(char::is_alphabetic) {
            return false;
        }
    }
    let place_date = place_date.trim_end_matches([',', '،']).trim();
    let (place, date) = match place_date
        .char_indices()
        .find(|&(_, c)| c == ',' || c == '،')
    {
        Some((c, comma)) => (
            place_date.get(..c).unwrap_or(""),
            place_date.get(c + comma.len_utf8()..).unwrap_or("").trim(),
        ),
        None => (place_date, ""),
    };
    let place_words: Vec<&str> = words(place).collect();
    if place_words.is_empty() {
        return agency.is_some() && date.is_empty();
    }
    if place_words.len() > 4 || words(date).count() > 4 || date.len() > 24 {
        return false;
    }
    if date.contains(['(', ')']) || place.contains(['(', ')']) {
        return false;
    }
    let capitalised = place_words.iter().all(|w| starts_capitalised(w));
    // Capitals, not merely no small letters: a phrase in a script without capitals
    // before a dash is not a place (`قال البنك المركزي - في بيان -`).
    let all_caps = place.chars().filter(|c| c.is_uppercase()).count() >= 2
        && !place.chars().any(char::is_lowercase);
    if agency.is_some() {
        capitalised
    } else {
        all_caps
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blk(s: &str) -> Block {
        Block::new(s.to_owned())
    }

    #[test]
    fn datelines_of_several_shapes_are_stripped() {
        for s in [
            "OSLO, Nov. 2 (Nordpress) -- The fund sold its stake.",
            "KAMPALA (EAN) - The fund sold its stake.",
            "Lima, 3 March (Andes Wire): The fund sold its stake.",
            "SAO PAULO - The fund sold its stake.",
            "(Wirefeed) -- The fund sold its stake.",
            "CAIRO, Dec 1 - The fund sold its stake.",
        ] {
            assert_eq!(strip_dateline(s), "The fund sold its stake.", "{s}");
        }
    }

    #[test]
    fn ordinary_sentences_keep_their_start() {
        for s in [
            "The fund - which is state-owned - sold its stake.",
            "Mr Okafor said profits rose - a first in years.",
            "Shares fell 3% on Tuesday.",
            "Anti-graft rules were tightened on Monday.",
        ] {
            assert_eq!(strip_dateline(s), s);
        }
    }

    #[test]
    fn page_lines_are_recognised_by_shape() {
        assert!(is_date_line("Tuesday, 3 March, 2026"));
        assert!(is_date_line("3 Mar 2026, 09:12 ( 2 Weeks ago)"));
        assert!(!is_date_line("Profits rose 3% in March"));
        assert!(is_ad_label("Story continues below advertisement"));
        assert!(!is_prose(&blk("Share this page")));
        assert!(is_prose(&blk("The bank raised rates on Tuesday.")));
        assert!(is_caption(&blk(
            "The harbour at dawn. (Nordpress/Kari Holm)"
        )));
        assert!(is_caption(&blk(
            "Ministers meet in Oslo. File Photo Nordpress/Kari Holm."
        )));
        assert!(!is_caption(&blk(
            "The grant helps women infected with HIV/Aids."
        )));
        assert!(is_credit_line(&blk(
            "(Writing by A. Person; editing by B. Person)"
        )));
    }
}
