//! The SQL of one page: one small function per filter, each giving its
//! condition for the rows walked (stories, or items with `copies=all`) under
//! the plan chosen for it, and the values it binds. The text depends only on
//! which filters are set and their plans (so at most a few dozen statements
//! are cached); values are always bound, never spliced in.

use chrono::{DateTime, Utc};
use rusqlite::types::Value;

use super::plan::{FilterPlan, Plans, SearchPlan, source_list};
use super::{FeedQuery, PageKey};
use crate::model::SourceId;
use crate::store::ITEM_COLUMNS;

/// What a page lists: stories (`st`), or every item on its own (`i`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rows {
    Stories,
    Items,
}

/// One condition of the page's `WHERE`, and the values it binds in order.
struct Filter {
    sql: &'static str,
    values: Vec<Value>,
}

impl Filter {
    fn new(sql: &'static str, values: impl IntoIterator<Item = Value>) -> Filter {
        Filter {
            sql,
            values: values.into_iter().collect(),
        }
    }
}

/// The SQL and its parameters for one page of `query` under `plans`. Its
/// rows: the story id and uid, [`ITEM_COLUMNS`], then the page key (the
/// arrival time and the story or item id); a story's copies in a row each.
pub(super) fn page_sql(query: &FeedQuery, plans: Plans) -> (String, Vec<Value>) {
    let rows = if query.copies {
        Rows::Items
    } else {
        Rows::Stories
    };
    let filters: Vec<Filter> = [
        query.after.map(|key| after(rows, key)),
        query.since.map(|at| since(rows, at)),
        (!query.sources.is_empty()).then(|| sources(rows, plans.sources, &query.sources)),
        query.tag.as_deref().map(|t| tag(rows, plans.tag, t)),
        query
            .search
            .as_deref()
            .map(|q| search(rows, plans.search, q)),
    ]
    .into_iter()
    .flatten()
    .collect();
    let filter = if filters.is_empty() {
        String::new()
    } else {
        let conditions: Vec<&str> = filters.iter().map(|f| f.sql).collect();
        format!("WHERE {}", conditions.join(" AND "))
    };
    let mut values: Vec<Value> = filters.into_iter().flat_map(|f| f.values).collect();
    // One more than asked, to know whether there is a next page.
    let limit = i64::try_from(query.limit.max(1))
        .unwrap_or(i64::MAX - 1)
        .saturating_add(1);
    values.push(Value::Integer(limit));
    (select(rows, &filter), values)
}

/// The page's statement around its `WHERE` clause: the page's rows picked
/// newest-arrived first (by the `stories_by_arrival` or `items_by_arrival`
/// index), then joined to their items and sources.
fn select(rows: Rows, filter: &str) -> String {
    match rows {
        Rows::Items => format!(
            "WITH page AS (
                SELECT i.id, i.first_seen AS d FROM items i
                {filter}
                ORDER BY i.first_seen DESC, i.id DESC LIMIT ?
             )
             SELECT st.id, st.uid, {ITEM_COLUMNS}, page.d, page.id
             FROM page
             JOIN items i ON i.id = page.id
             JOIN stories st ON st.id = i.story_id
             JOIN sources s ON s.id = i.source_id
             ORDER BY page.d DESC, page.id DESC"
        ),
        Rows::Stories => format!(
            "WITH page AS (
                SELECT st.id, st.uid, st.arrived_at FROM stories st
                {filter}
                ORDER BY st.arrived_at DESC, st.id DESC LIMIT ?
             )
             SELECT page.id, page.uid, {ITEM_COLUMNS}, page.arrived_at, page.id
             FROM page
             JOIN items i ON i.story_id = page.id
             JOIN sources s ON s.id = i.source_id
             ORDER BY page.arrived_at DESC, page.id DESC, i.id"
        ),
    }
}

/// `cursor=`: what arrived before the previous page's last row.
fn after(rows: Rows, key: PageKey) -> Filter {
    let sql = match rows {
        Rows::Stories => "(st.arrived_at, st.id) < (?, ?)",
        Rows::Items => "(i.first_seen, i.id) < (?, ?)",
    };
    Filter::new(sql, [Value::Integer(key.date), Value::Integer(key.id)])
}

/// `since=`: what arrived at or after `at`.
fn since(rows: Rows, at: DateTime<Utc>) -> Filter {
    let sql = match rows {
        Rows::Stories => "st.arrived_at >= ?",
        Rows::Items => "i.first_seen >= ?",
    };
    Filter::new(sql, [Value::Integer(at.timestamp())])
}

/// `source=`: stories with a copy from one of `ids` (items from one).
fn sources(rows: Rows, plan: FilterPlan, ids: &[SourceId]) -> Filter {
    let sql = match (rows, plan) {
        (Rows::Items, _) => "i.source_id IN (SELECT value FROM json_each(?))",
        (Rows::Stories, FilterPlan::Map) => {
            "st.id IN (SELECT f.story_id FROM items f
                       WHERE f.source_id IN (SELECT value FROM json_each(?)))"
        }
        (Rows::Stories, FilterPlan::Walk) => {
            "EXISTS (SELECT 1 FROM items f WHERE f.story_id = st.id
                     AND f.source_id IN (SELECT value FROM json_each(?)))"
        }
    };
    Filter::new(sql, [Value::Text(source_list(ids))])
}

/// `tag=`: stories with a copy whose source has the tag or whose own
/// categories hold it (items that do).
fn tag(rows: Rows, plan: FilterPlan, tag: &str) -> Filter {
    let sql = match (rows, plan) {
        (Rows::Items, FilterPlan::Map) => {
            "i.id IN (SELECT item_id FROM item_tags WHERE tag = lower(?)
                      UNION ALL
                      SELECT f.id FROM items f WHERE f.source_id IN
                          (SELECT fs.id FROM sources fs, json_each(fs.tags) t
                           WHERE lower(t.value) = lower(?)))"
        }
        (Rows::Items, FilterPlan::Walk) => {
            "(EXISTS (SELECT 1 FROM sources fs, json_each(fs.tags) t
                      WHERE fs.id = i.source_id AND lower(t.value) = lower(?))
              OR EXISTS (SELECT 1 FROM json_each(i.categories) c
                         WHERE lower(c.value) = lower(?)))"
        }
        (Rows::Stories, FilterPlan::Map) => {
            "st.id IN (SELECT f.story_id FROM items f WHERE f.id IN
                           (SELECT item_id FROM item_tags WHERE tag = lower(?))
                       UNION ALL
                       SELECT f.story_id FROM items f WHERE f.source_id IN
                           (SELECT fs.id FROM sources fs, json_each(fs.tags) t
                            WHERE lower(t.value) = lower(?)))"
        }
        (Rows::Stories, FilterPlan::Walk) => {
            "EXISTS (SELECT 1 FROM items f JOIN sources fs ON fs.id = f.source_id
                     WHERE f.story_id = st.id
                     AND (EXISTS (SELECT 1 FROM json_each(fs.tags) t
                                  WHERE lower(t.value) = lower(?))
                          OR EXISTS (SELECT 1 FROM json_each(f.categories) c
                                     WHERE lower(c.value) = lower(?))))"
        }
    };
    Filter::new(sql, [Value::Text(tag.into()), Value::Text(tag.into())])
}

/// `q=`: stories with a copy the search matches (items it matches).
fn search(rows: Rows, plan: SearchPlan, search: &str) -> Filter {
    let sql = match (rows, plan) {
        (Rows::Items, SearchPlan::Matches) => {
            "i.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)"
        }
        // `+` keeps SQLite from looking each match up in the walk: the set
        // is gathered once and each item tested against it.
        (Rows::Items, SearchPlan::Sieve) => {
            "+i.id IN (SELECT rowid FROM items_fts WHERE items_fts MATCH ?)"
        }
        (Rows::Items, SearchPlan::Walk) => {
            "EXISTS (SELECT 1 FROM items_fts WHERE items_fts.rowid = i.id AND items_fts MATCH ?)"
        }
        (Rows::Stories, SearchPlan::Matches) => {
            "st.id IN (SELECT f.story_id FROM items f WHERE f.id IN
                       (SELECT rowid FROM items_fts WHERE items_fts MATCH ?))"
        }
        // `+` keeps SQLite from seeking every match within each story (6 s
        // at a million items): the set of matches is gathered once and each
        // of the story's item ids tested.
        (Rows::Stories, SearchPlan::Sieve) => {
            "EXISTS (SELECT 1 FROM items f WHERE f.story_id = st.id AND +f.id IN
                     (SELECT rowid FROM items_fts WHERE items_fts MATCH ?))"
        }
        // CROSS JOIN keeps the story's items outermost: otherwise SQLite
        // runs the whole search once per story.
        (Rows::Stories, SearchPlan::Walk) => {
            "EXISTS (SELECT 1 FROM items f CROSS JOIN items_fts ON items_fts.rowid = f.id
                     WHERE f.story_id = st.id AND items_fts MATCH ?)"
        }
    };
    Filter::new(sql, [Value::Text(search.into())])
}

/// A search as FTS5 should read it: a bare word with punctuation inside it
/// (`Hong-Kong`, `covid-19`, `U.S.A`, `O'Brien`) becomes the phrase it is
/// meant to be, `"Hong-Kong"`, where FTS5 would read the `-` as a column
/// filter or stop at the `.` and refuse the query (issue #18). Everything
/// else is left as written: quoted phrases, `AND`/`OR`/`NOT`, `NEAR(…)`,
/// a `*` prefix, `^`, column filters (`title:`), a leading `-`.
pub(crate) fn fts_expression(search: &str) -> std::borrow::Cow<'_, str> {
    fn word_char(c: char) -> bool {
        c.is_alphanumeric() || c == '_' || !c.is_ascii()
    }
    fn needs_quotes(token: &str) -> bool {
        let core = token.strip_suffix('*').unwrap_or(token);
        let (Some(first), Some(last)) = (core.chars().next(), core.chars().last()) else {
            return false;
        };
        word_char(first)
            && word_char(last)
            && !core.contains(':')
            && core.chars().any(|c| !word_char(c))
    }
    let mut out = String::with_capacity(search.len() + 8);
    let mut changed = false;
    let mut token = String::new();
    let mut quoted = false;
    let flush = |token: &mut String, out: &mut String, changed: &mut bool| {
        if needs_quotes(token) {
            let (core, star) = match token.strip_suffix('*') {
                Some(core) => (core, "*"),
                None => (token.as_str(), ""),
            };
            out.push('"');
            out.push_str(core);
            out.push('"');
            out.push_str(star);
            *changed = true;
        } else {
            out.push_str(token);
        }
        token.clear();
    };
    for c in search.chars() {
        if quoted {
            out.push(c);
            quoted = c != '"';
        } else if c == '"' {
            flush(&mut token, &mut out, &mut changed);
            out.push(c);
            quoted = true;
        } else if c.is_whitespace() || c == '(' || c == ')' || c == ',' {
            flush(&mut token, &mut out, &mut changed);
            out.push(c);
        } else {
            token.push(c);
        }
    }
    flush(&mut token, &mut out, &mut changed);
    if changed {
        std::borrow::Cow::Owned(out)
    } else {
        std::borrow::Cow::Borrowed(search)
    }
}

#[cfg(test)]
mod fts_tests {
    use super::fts_expression;

    #[test]
    fn a_word_with_punctuation_inside_is_read_as_a_phrase() {
        let cases = [
            ("Hong-Kong", "\"Hong-Kong\""),
            ("covid-19 vaccine", "\"covid-19\" vaccine"),
            ("U.S.A OR Canada", "\"U.S.A\" OR Canada"),
            ("O'Brien*", "\"O'Brien\"*"),
            ("NEAR(Hong-Kong strike, 5)", "NEAR(\"Hong-Kong\" strike, 5)"),
        ];
        for (search, fts) in cases {
            assert_eq!(fts_expression(search), fts, "{search}");
        }
    }

    #[test]
    fn what_fts5_reads_already_is_left_alone() {
        for search in [
            "port strike",
            "\"Hong-Kong based\" port",
            "title:strike",
            "-title:strike",
            "dock* AND NOT strike",
            "^Putin",
            "(a OR b) c",
            "",
        ] {
            assert_eq!(fts_expression(search), search);
        }
    }
}
