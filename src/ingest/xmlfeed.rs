//! RSS / RDF / Atom through feed-rs, with a fallback that never loses the
//! whole feed to one bad entry.
//!
//! feed-rs is only ever given the UTF-8, declaration-rewritten output of
//! [`super::repair`] (the inputs that make it panic are UTF-16 ones), and it
//! is still called behind `catch_unwind`. When it rejects the document, the
//! header (everything before the first entry) is parsed alone, then each
//! entry inside a copy of the header; an entry that still fails is retried
//! with one child element left out at a time, so it is kept without its bad
//! field. Each loss is a precise warning.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Mutex};

use feed_rs::model::{Entry, Feed, Text};
use url::Url;

use super::entry::{self, Body, RawEntry, RawFeed};
use super::repair::{Dialect, Repaired, Span};
use super::{IngestError, Warning, WarningKind};
use crate::model::Enclosure;

/// An entry with more children than this is not retried field by field.
const MAX_FIELD_RETRIES: usize = 40;

/// Runs feed-rs. A fresh parser per run: feed-rs keeps per-entry MediaRSS
/// state in the parser, and after a failed parse that state makes the next
/// parse panic (regression test: `a_failed_entry_does_not_poison_the_next_one`).
struct Runner {
    url: String,
    bad_dates: Arc<Mutex<Vec<String>>>,
}

impl Runner {
    fn new(url: &Url) -> Self {
        Self {
            url: url.to_string(),
            bad_dates: Arc::default(),
        }
    }

    fn parser(&self) -> feed_rs::parser::Parser {
        let sink = Arc::clone(&self.bad_dates);
        feed_rs::parser::Builder::new()
            .base_uri(Some(self.url.as_str()))
            // "" means "the feed gave no id": identity is computed by us, never invented.
            .id_generator(|_, _, _| String::new())
            .timestamp_parser(move |s| {
                let d = super::date::parse_date(s);
                if d.is_none()
                    && !s.trim().is_empty()
                    && let Ok(mut v) = sink.lock()
                    && v.len() < 20
                    && !v.iter().any(|x| x == s)
                {
                    v.push(s.chars().take(80).collect());
                }
                d
            })
            .build()
    }

    /// feed-rs, guarded: its panics become errors.
    fn run(&self, xml: &str) -> Result<Feed, String> {
        let parser = self.parser();
        match catch_unwind(AssertUnwindSafe(|| parser.parse(xml.as_bytes()))) {
            Ok(Ok(feed)) => Ok(feed),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the XML parser panicked".to_owned()),
        }
    }
}

pub(crate) fn parse(
    rep: &Repaired,
    url: &Url,
    warnings: &mut Vec<Warning>,
) -> Result<RawFeed, IngestError> {
    let runner = Runner::new(url);
    let mut raw = match runner.run(&rep.xml) {
        Ok(feed) => {
            let title = feed.title.as_ref().map(|t| text_body(t, rep.dialect));
            let older = ["prev-archive", "next"].iter().find_map(|rel| {
                feed.links
                    .iter()
                    .find(|l| l.rel.as_deref() == Some(*rel))
                    .map(|l| l.href.clone())
            });
            let rel = |name: &'static str| -> Vec<String> {
                feed.links
                    .iter()
                    .filter(|l| {
                        l.rel
                            .as_deref()
                            .is_some_and(|r| r.eq_ignore_ascii_case(name))
                    })
                    .map(|l| l.href.clone())
                    .collect()
            };
            let hubs = rel("hub");
            let self_link = rel("self").into_iter().next();
            let feed_authors = names(&feed.authors);
            // Spans line up with feed-rs's entries when it saw the same number.
            let spans = (feed.entries.len() == rep.entries.len()).then_some(&rep.entries);
            let found = feed.entries.len().max(rep.entries.len());
            let skipped = found - feed.entries.len();
            if skipped > 0 {
                // feed-rs skips an RSS 1.0 item with no <link> (one with an
                // rdf:about was given one by repair): say so, not nothing.
                warnings.push(Warning::new(
                    WarningKind::EntryDropped,
                    format!(
                        "{skipped} of {found} entries skipped: no link{}",
                        if rep.dialect == Dialect::Rdf {
                            " nor rdf:about"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            let entries = feed
                .entries
                .into_iter()
                .enumerate()
                .map(|(i, e)| {
                    let mut raw = convert(e, i + 1, rep.dialect, &feed_authors);
                    if let Some(span) = spans.and_then(|s| s.get(i)) {
                        raw.enclosures.extend(span.enclosures.iter().cloned());
                        raw.base = span.base.clone().or(raw.base);
                    }
                    raw
                })
                .collect();
            RawFeed {
                title,
                entries,
                hints: Default::default(),
                older,
                found,
                hubs,
                self_link,
            }
        }
        Err(whole) => fallback(&runner, rep, &whole, warnings)?,
    };
    if let Ok(bad) = runner.bad_dates.lock() {
        for d in bad.iter() {
            warnings.push(Warning::new(
                WarningKind::DateUnparseable,
                format!("date {d:?} could not be understood; left empty"),
            ));
        }
    }
    raw.hints = entry::hints(
        rep.hints.ttl.as_deref(),
        rep.hints.update_period.as_deref(),
        rep.hints.update_frequency.as_deref(),
    );
    Ok(raw)
}

fn fallback(
    runner: &Runner,
    rep: &Repaired,
    whole: &str,
    warnings: &mut Vec<Warning>,
) -> Result<RawFeed, IngestError> {
    let header = &rep.xml[..rep.header_end];
    let wrap = |body: &str| -> String {
        let mut doc = String::with_capacity(header.len() + body.len() + rep.closers.len());
        doc.push_str(header);
        doc.push_str(body);
        doc.push_str(&rep.closers);
        doc
    };
    let head = runner.run(&wrap("")).map_err(|e| IngestError::Malformed {
        reason: if rep.entries.is_empty() {
            whole.to_owned()
        } else {
            format!("the feed header is unreadable: {e}")
        },
    })?;
    let title = head.title.as_ref().map(|t| text_body(t, rep.dialect));
    let feed_authors = names(&head.authors);
    let mut entries = Vec::with_capacity(rep.entries.len());
    // Field-by-field retries are bounded: a hostile document of many bad
    // entries must not cost more than a few dozen whole-document parses.
    let mut budget = Budget {
        left: rep.xml.len().saturating_mul(FALLBACK_BUDGET_FACTOR) + (1 << 20),
        preferred: None,
    };
    for (i, span) in rep.entries.iter().enumerate() {
        let position = i + 1;
        match parse_one(runner, rep, span, &wrap, &mut budget) {
            Ok((e, dropped)) => {
                if let Some((field, err)) = dropped {
                    budget.preferred = Some(field.clone());
                    warnings.push(Warning::new(
                        WarningKind::FieldDropped,
                        format!(
                            "entry {position}: <{field}> dropped, it could not be parsed ({err})"
                        ),
                    ));
                }
                let mut raw = convert(e, position, rep.dialect, &feed_authors);
                raw.enclosures.extend(span.enclosures.iter().cloned());
                raw.base = span.base.clone().or(raw.base);
                entries.push(raw);
            }
            Err(err) => warnings.push(Warning::new(
                WarningKind::EntryDropped,
                format!(
                    "entry {position} (bytes {}..{}) skipped: {err}",
                    span.start, span.end
                ),
            )),
        }
    }
    Ok(RawFeed {
        title,
        entries,
        hints: Default::default(),
        older: None,
        found: rep.entries.len(),
        // Read entry by entry, the feed's own links are not known.
        hubs: Vec::new(),
        self_link: None,
    })
}

type Dropped = Option<(String, String)>;

/// Bytes of feed-rs parsing the fallback may spend, per byte of document.
const FALLBACK_BUDGET_FACTOR: usize = 24;

struct Budget {
    left: usize,
    /// The field whose removal saved the previous entry: tried first, since
    /// a broken feed is usually broken the same way in every entry.
    preferred: Option<String>,
}

fn parse_one(
    runner: &Runner,
    rep: &Repaired,
    span: &Span,
    wrap: &dyn Fn(&str) -> String,
    budget: &mut Budget,
) -> Result<(Entry, Dropped), String> {
    let spend = std::cell::Cell::new(0usize);
    let one = |body: &str| -> Result<Entry, String> {
        let doc = wrap(body);
        spend.set(spend.get() + doc.len());
        let mut feed = runner.run(&doc)?;
        if feed.entries.is_empty() {
            return Err("not recognised as an entry".into());
        }
        Ok(feed.entries.swap_remove(0))
    };
    let err = match one(&rep.xml[span.start..span.end]) {
        Ok(e) => {
            budget.left = budget.left.saturating_sub(spend.get());
            return Ok((e, None));
        }
        Err(e) => e,
    };
    let mut children: Vec<&(usize, usize, String)> =
        span.children.iter().take(MAX_FIELD_RETRIES).collect();
    if let Some(p) = &budget.preferred {
        children.sort_by_key(|(_, _, name)| name != p);
    }
    let mut result = Err(err.clone());
    for (cs, ce, name) in children {
        if spend.get() > budget.left {
            result = Err(format!("{err} (no budget left to retry it field by field)"));
            break;
        }
        let mut body = String::with_capacity(span.end - span.start);
        body.push_str(&rep.xml[span.start..*cs]);
        body.push_str(&rep.xml[*ce..span.end]);
        if let Ok(e) = one(&body) {
            result = Ok((e, Some((name.clone(), err))));
            break;
        }
    }
    budget.left = budget.left.saturating_sub(spend.get());
    result
}

fn text_body(t: &Text, dialect: Dialect) -> Body {
    let ty = t.content_type.to_string();
    // Atom says what its text is; RSS/RDF titles are de-facto HTML.
    if dialect == Dialect::Atom && ty.starts_with("text/plain") {
        Body::plain(t.content.clone())
    } else {
        Body::html(t.content.clone())
    }
}

fn names(people: &[feed_rs::model::Person]) -> Vec<String> {
    people.iter().filter_map(person).collect()
}

/// A person as one string: the name, or RSS's own form `email (Name)` when
/// both are given, so the address survives and the name reads as a name.
/// feed-rs splits RSS's `english@news.cn (Xinhua)` into the address and
/// `(Xinhua)`, parentheses kept: they go (issue #18).
fn person(p: &feed_rs::model::Person) -> Option<String> {
    let name = p
        .name
        .as_deref()
        .map(|n| unbracket(n.trim()).trim())
        .filter(|n| !n.is_empty());
    let email = p.email.as_deref().map(str::trim).filter(|e| !e.is_empty());
    match (name, email) {
        (Some(name), Some(email)) if name != email => Some(format!("{email} ({name})")),
        (Some(name), _) => Some(name.to_owned()),
        (None, email) => email.map(str::to_owned),
    }
}

/// `text` without one pair of enclosing parentheses or angle brackets.
fn unbracket(text: &str) -> &str {
    [('(', ')'), ('<', '>')]
        .into_iter()
        .find_map(|(open, close)| text.strip_prefix(open)?.strip_suffix(close))
        .unwrap_or(text)
}

fn convert(e: Entry, position: usize, dialect: Dialect, feed_authors: &[String]) -> RawEntry {
    let guid = Some(e.id.trim().to_owned()).filter(|g| !g.is_empty());
    let link = e
        .links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| {
            e.links.iter().find(|l| {
                !matches!(
                    l.rel.as_deref(),
                    Some("enclosure" | "self" | "edit" | "replies" | "license")
                )
            })
        })
        .map(|l| l.href.clone());
    let mut enclosures: Vec<Enclosure> = e
        .links
        .iter()
        .filter(|l| l.rel.as_deref() == Some("enclosure"))
        .map(|l| Enclosure {
            url: l.href.clone(),
            mime_type: l.media_type.clone(),
            length: l.length,
        })
        .collect();
    for m in &e.media {
        for c in &m.content {
            if let Some(u) = &c.url {
                enclosures.push(Enclosure {
                    url: u.to_string(),
                    mime_type: c.content_type.as_ref().map(|t| t.to_string()),
                    length: c.size,
                });
            }
        }
    }
    let content = e.content.as_ref().and_then(|c| {
        let body = c.body.clone()?;
        let ty = c.content_type.to_string();
        Some(if ty.starts_with("text/plain") {
            Body::plain(body)
        } else {
            Body::html(body)
        })
    });
    let mut authors = names(&e.authors);
    if authors.is_empty() {
        authors = feed_authors.to_vec();
    }
    RawEntry {
        position,
        guid,
        title: e.title.as_ref().map(|t| text_body(t, dialect)),
        link,
        published: e.published,
        updated: e.updated,
        authors,
        summary: e.summary.as_ref().map(|t| text_body(t, dialect)),
        content,
        categories: e
            .categories
            .iter()
            .map(|c| c.label.clone().unwrap_or_else(|| c.term.clone()))
            .collect(),
        enclosures,
        base: e.base.clone(),
    }
}
