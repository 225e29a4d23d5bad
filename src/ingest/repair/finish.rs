//! The end of a repair: a truncated document closed after its last complete
//! entry, and the repairs counted into warnings.

use super::{Counts, Repaired, Scanner, Span, local};
use crate::ingest::{Warning, WarningKind};

impl Scanner<'_> {
    pub(super) fn finish(
        mut self,
        truncated_at: Option<usize>,
        warnings: &mut Vec<Warning>,
    ) -> Repaired {
        if let Some(at) = truncated_at {
            warnings.push(self.close_truncated(at));
        }
        push_count_warnings(&self.counts, warnings);
        push_distinct(self.warnings.drain(..), warnings);
        let header_end = self.header_end.unwrap_or(self.out.len());
        Repaired {
            closers: self.closers.unwrap_or_default(),
            xml: self.out,
            dialect: self.dialect,
            entries: self.entries,
            header_end,
            hints: self.hints,
        }
    }

    /// The input ended at `at` inside an element: closes the document after
    /// its last complete entry, or after the complete fields of the entry
    /// cut short when they identify it; returns the warning that says so.
    fn close_truncated(&mut self, at: usize) -> Warning {
        let before = self.entries.len();
        let partial = match self.current.as_ref() {
            None => Partial::None,
            Some(cur) => match salvageable_end(cur) {
                Some(end) => Partial::Kept {
                    end,
                    cut: self.cut_field(),
                },
                None => Partial::Dropped,
            },
        };
        match &partial {
            Partial::Kept { end, .. } => {
                // Keep its complete fields; close it where the last one ended.
                self.out.truncate(*end);
                while self.stack.last().is_some_and(|o| !o.is_entry) {
                    self.stack.pop();
                }
                if let Some(entry) = self.stack.pop() {
                    self.link_from_about();
                    self.out.push_str("</");
                    self.out.push_str(&entry.name);
                    self.out.push('>');
                    self.close_entry();
                }
            }
            Partial::Dropped => {
                if let Some(cur) = self.current.take() {
                    self.out.truncate(cur.start);
                }
                while self.stack.last().is_some_and(|o| !o.is_entry) {
                    self.stack.pop();
                }
                self.stack.pop();
            }
            Partial::None => {}
        }
        while let Some(open) = self.stack.pop() {
            self.out.push_str("</");
            self.out.push_str(&open.name);
            self.out.push('>');
        }
        let fate = match partial {
            Partial::None => String::new(),
            Partial::Dropped => ", the incomplete one dropped".to_owned(),
            Partial::Kept {
                cut: Some(field), ..
            } => {
                format!(", the incomplete one kept without its cut <{field}>")
            }
            Partial::Kept { cut: None, .. } => ", the incomplete one kept".to_owned(),
        };
        Warning::new(
            WarningKind::Truncated,
            format!(
                "the document ends inside an element at byte {at}; {before} complete entr{} kept{fate}",
                if before == 1 { "y" } else { "ies" },
            ),
        )
    }

    /// The child of the entry being read that the input ended inside, if any.
    fn cut_field(&self) -> Option<String> {
        let entry = self.stack.iter().rposition(|o| o.is_entry)?;
        self.stack.get(entry + 1).map(|o| o.raw.clone())
    }
}

/// What became of the entry the input ended inside.
enum Partial {
    /// The input ended outside any entry.
    None,
    /// Kept up to `end` (its last complete field); `cut` is the field the
    /// input ended inside.
    Kept {
        end: usize,
        cut: Option<String>,
    },
    Dropped,
}

/// Where an entry cut short can be closed: after its last complete field,
/// when one of its complete fields (or its `rdf:about`) gives it a stable
/// identity, so that the whole entry, read on a later poll, updates it
/// rather than being stored a second time. feedparser keeps such an entry
/// too (a download cut inside a CDATA section, issue #18).
fn salvageable_end(cur: &Span) -> Option<usize> {
    let identified = cur.about.is_some()
        || cur
            .children
            .iter()
            .any(|(_, _, name)| matches!(local(name), "guid" | "id" | "link"));
    let end = cur.children.iter().map(|(_, end, _)| *end).max()?;
    identified.then_some(end)
}

/// One warning per kind of repair counted in `c`.
fn push_count_warnings(c: &Counts, warnings: &mut Vec<Warning>) {
    if c.amp > 0 || c.entities > 0 || c.lt > 0 {
        let mut detail = format!(
            "{} bare '&' escaped, {} HTML/cp1252 entit{} mapped, {} stray '<' escaped",
            c.amp,
            c.entities,
            if c.entities == 1 { "y" } else { "ies" },
            c.lt
        );
        if !c.unknown_entities.is_empty() {
            detail.push_str(&format!(
                "; unknown entities kept as text: {}",
                c.unknown_entities.join(", ")
            ));
        }
        warnings.push(Warning::new(WarningKind::EntitiesRepaired, detail));
    }
    if c.ctrl > 0 {
        warnings.push(Warning::new(
            WarningKind::ControlCharsRemoved,
            format!(
                "{} control character(s)/NUL(s) or references to them removed",
                c.ctrl
            ),
        ));
    }
    if c.closed > 0 || c.stray > 0 || c.trailing {
        warnings.push(Warning::new(
            WarningKind::TagsRepaired,
            format!(
                "{} unclosed element(s) closed, {} stray end tag(s) dropped{}",
                c.closed,
                c.stray,
                if c.trailing {
                    ", junk after the root element dropped"
                } else {
                    ""
                }
            ),
        ));
    }
}

/// Appends `repairs` to `warnings`, each distinct one once with its count.
fn push_distinct(repairs: impl Iterator<Item = Warning>, warnings: &mut Vec<Warning>) {
    // One warning per distinct repair, with a count, not one per entry.
    let mut distinct: Vec<(Warning, usize)> = Vec::new();
    for w in repairs {
        match distinct.iter_mut().find(|(d, _)| *d == w) {
            Some((_, n)) => *n += 1,
            None => distinct.push((w, 1)),
        }
    }
    for (mut w, n) in distinct {
        if n > 1 {
            w.detail.push_str(&format!(" ({n} times)"));
        }
        warnings.push(w);
    }
}
