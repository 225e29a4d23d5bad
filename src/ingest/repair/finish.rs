//! The end of a repair: a truncated document closed after its last complete
//! entry, and the repairs counted into warnings.

use super::{Counts, Repaired, Scanner};
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
    /// its last complete entry; returns the warning that says so.
    fn close_truncated(&mut self, at: usize) -> Warning {
        // Drop the incomplete entry, then close what is still open.
        let mut dropped_partial = false;
        if let Some(cur) = self.current.take() {
            self.out.truncate(cur.start);
            while self.stack.last().is_some_and(|o| !o.is_entry) {
                self.stack.pop();
            }
            self.stack.pop();
            dropped_partial = true;
        }
        while let Some(open) = self.stack.pop() {
            self.out.push_str("</");
            self.out.push_str(&open.name);
            self.out.push('>');
        }
        Warning::new(
            WarningKind::Truncated,
            format!(
                "the document ends inside an element at byte {at}; {} complete entr{} kept{}",
                self.entries.len(),
                if self.entries.len() == 1 { "y" } else { "ies" },
                if dropped_partial {
                    ", the incomplete one dropped"
                } else {
                    ""
                }
            ),
        )
    }
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
