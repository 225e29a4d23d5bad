//! The feed URLs' query parameters: parsed strictly into a [`FeedQuery`],
//! and written back in one canonical order (for links and the page cache).
//!
//! Every known parameter is checked; an invalid or a repeated one is a
//! [`ParamError`] naming it, except `token`, which belongs to access
//! control. An unknown one is ignored (issue #18): readers and proxies add
//! their own (`utm_source=`, a cache-buster `_=123`), and a 400 for them
//! breaks a subscription the user never wrote. It is left out of the
//! canonical query, so it neither splits the page cache nor reaches links.

use std::collections::BTreeSet;
use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::model::SourceId;
use crate::store::{FeedQuery, PageKey};

/// Entries per page unless `limit` says otherwise: the store's default
/// page (see there why 100).
pub const DEFAULT_LIMIT: usize = crate::store::DEFAULT_PAGE;
/// The largest `limit` accepted.
pub const MAX_LIMIT: usize = 500;
/// The longest `q` accepted, in characters.
const MAX_SEARCH_CHARS: usize = 500;
/// The longest `tag` accepted, in characters.
const MAX_TAG_CHARS: usize = 100;

/// Every parameter the feed URLs take.
pub const KNOWN: &[&str] = &[
    "limit", "source", "tag", "q", "since", "copies", "cursor", "token",
];

/// A parameter that cannot be used, and why. Shown to the client as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub param: String,
    pub message: String,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "parameter `{}`: {}", self.param, self.message)
    }
}

/// A request's parameters, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Params {
    pub query: FeedQuery,
    /// The `token` parameter, if given.
    pub token: Option<String>,
}

/// The `token` parameter of a raw query string, without checking the rest
/// (access is decided before parameters are judged).
pub fn token_of(raw: Option<&str>) -> Option<String> {
    url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Parses a raw query string. `is_source` says whether a source id exists.
pub fn parse(raw: Option<&str>, is_source: impl Fn(&str) -> bool) -> Result<Params, ParamError> {
    let mut params = Params {
        query: FeedQuery {
            limit: DEFAULT_LIMIT,
            ..FeedQuery::default()
        },
        token: None,
    };
    let mut seen = BTreeSet::new();
    for (key, value) in url::form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        // Readers and proxies add their own (`utm_source`, a cache-buster
        // `_`): a parameter we do not know is left alone.
        if !KNOWN.contains(&key.as_ref()) {
            continue;
        }
        let bad = |message: String| ParamError {
            param: key.clone().into_owned(),
            message,
        };
        if !seen.insert(key.clone().into_owned()) {
            return Err(bad("is given more than once".into()));
        }
        apply(&mut params, &key, value.trim(), &is_source).map_err(bad)?;
    }
    Ok(params)
}

/// Sets the known parameter `key` from `value`, or says what is wrong with
/// the value.
fn apply(
    params: &mut Params,
    key: &str,
    value: &str,
    is_source: &impl Fn(&str) -> bool,
) -> Result<(), String> {
    let query = &mut params.query;
    match key {
        "limit" => query.limit = limit(value)?,
        "source" => query.sources = sources(value, is_source)?,
        "tag" => query.tag = Some(bounded(value, MAX_TAG_CHARS, "tag")?),
        "q" => {
            let search = bounded(value, MAX_SEARCH_CHARS, "search")?;
            search_cost(&search)?;
            query.search = Some(search);
        }
        "since" => {
            let since = DateTime::parse_from_rfc3339(value).map_err(|_| {
                format!("{value:?} is not an RFC 3339 time such as 2026-11-01T08:00:00Z")
            })?;
            query.since = Some(since.with_timezone(&Utc));
        }
        "copies" if value == "all" => query.copies = true,
        "copies" => {
            return Err(format!(
                "{value:?} is not understood; copies=all lists every item unmerged"
            ));
        }
        "cursor" => {
            query.after = Some(decode_cursor(value).ok_or_else(|| {
                "is not a cursor this server gave out (follow the feed's next link)".to_owned()
            })?);
        }
        "token" => params.token = Some(value.to_owned()),
        _ => unreachable!("every known parameter is handled"),
    }
    Ok(())
}

fn limit(value: &str) -> Result<usize, String> {
    value
        .parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or_else(|| format!("{value:?} is not a whole number from 1 to {MAX_LIMIT}"))
}

/// `source=a,b`: configured ids, each once, in order.
fn sources(value: &str, is_source: &impl Fn(&str) -> bool) -> Result<Vec<SourceId>, String> {
    let mut ids = BTreeSet::new();
    for id in value.split(',').map(str::trim) {
        if id.is_empty() {
            return Err("lists source ids separated by commas, with none empty".into());
        }
        if !is_source(id) {
            return Err(format!("{id:?} is not a configured source"));
        }
        ids.insert(id.to_owned());
    }
    Ok(ids.into_iter().map(SourceId::new).collect())
}

/// A text of 1 to `max` characters (a `what`).
/// Most words (terms and prefixes) in one search.
const MAX_SEARCH_TERMS: usize = 32;
/// Most prefix terms (`harb*`) in one search: each one walks every indexed
/// word it starts, and `NEAR` over several multiplies them.
const MAX_SEARCH_PREFIXES: usize = 4;
/// Fewest characters before a prefix's `*`: `a*` is most of the index.
const MIN_PREFIX_CHARS: usize = 2;
/// The widest `NEAR` distance accepted.
const MAX_NEAR_DISTANCE: u32 = 100;

/// Refuses, before any read, a search whose cost has no useful bound (#20:
/// `NEAR(b* b* …, 99999)` held a reader for 2.7 s on 25 k items; the page
/// read's time budget stops such a search, this refuses it without
/// spending the budget). Quoted phrases count their words; operators and
/// column names are not words.
fn search_cost(search: &str) -> Result<(), String> {
    let mut terms = 0;
    let mut prefixes = 0;
    let mut words = String::new();
    let mut quoted = false;
    for c in search.chars() {
        if c == '"' {
            quoted = !quoted;
        }
        words.push(if quoted || !matches!(c, '(' | ')' | ',') {
            c
        } else {
            ' '
        });
    }
    let tokens: Vec<&str> = words.split_whitespace().collect();
    for (i, token) in tokens.iter().enumerate() {
        let bare = token.trim_matches(|c| matches!(c, '"' | '^' | '-' | '+'));
        if matches!(bare, "AND" | "OR" | "NOT" | "NEAR") || bare.is_empty() {
            continue;
        }
        // The distance after NEAR's terms: `NEAR(a b, 5)`.
        if tokens[..i].contains(&"NEAR") && bare.chars().all(|c| c.is_ascii_digit()) {
            let distance: u32 = bare.parse().unwrap_or(u32::MAX);
            if distance > MAX_NEAR_DISTANCE {
                return Err(format!(
                    "NEAR's distance may be at most {MAX_NEAR_DISTANCE} words"
                ));
            }
            continue;
        }
        let bare = bare.rsplit(':').next().unwrap_or(bare);
        terms += 1;
        if let Some(stem) = bare.strip_suffix('*') {
            prefixes += 1;
            if stem.chars().count() < MIN_PREFIX_CHARS {
                return Err(format!(
                    "a prefix search needs at least {MIN_PREFIX_CHARS} characters before its *"
                ));
            }
        }
    }
    if terms > MAX_SEARCH_TERMS {
        return Err(format!("may hold at most {MAX_SEARCH_TERMS} words"));
    }
    if prefixes > MAX_SEARCH_PREFIXES {
        return Err(format!(
            "may hold at most {MAX_SEARCH_PREFIXES} prefix searches (word*)"
        ));
    }
    Ok(())
}

fn bounded(value: &str, max: usize, what: &str) -> Result<String, String> {
    if value.is_empty() || value.chars().count() > max {
        return Err(format!("must be a {what} of 1 to {max} characters"));
    }
    Ok(value.to_owned())
}

/// The parameters of `query` (and `token`, if given) as a query string in
/// one fixed order, without the `?`; empty for the defaults.
pub fn canonical(query: &FeedQuery, token: Option<&str>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    if query.limit != DEFAULT_LIMIT {
        out.append_pair("limit", &query.limit.to_string());
    }
    if !query.sources.is_empty() {
        let ids: Vec<&str> = query.sources.iter().map(SourceId::as_str).collect();
        out.append_pair("source", &ids.join(","));
    }
    if let Some(tag) = &query.tag {
        out.append_pair("tag", tag);
    }
    if let Some(q) = &query.search {
        out.append_pair("q", q);
    }
    if let Some(since) = query.since {
        out.append_pair("since", &super::render::rfc3339(since));
    }
    if query.copies {
        out.append_pair("copies", "all");
    }
    if let Some(key) = query.after {
        out.append_pair("cursor", &encode_cursor(key));
    }
    if let Some(token) = token {
        out.append_pair("token", token);
    }
    out.finish()
}

/// What is wrong with a search, in words a person understands, from
/// SQLite's FTS5 message (issue #18: `q=-x` answered `no such column: x`).
pub fn search_problem(sqlite: &str) -> String {
    const QUOTE: &str = "put words with punctuation in double quotes, e.g. \"Hong Kong-based\"";
    if let Some(field) = sqlite.strip_prefix("no such column: ") {
        return format!(
            "\"{field}\" is not a field (title, summary or content): a word after \"-\" or \
             before \":\" is read as a field; {QUOTE}"
        );
    }
    if sqlite == "fts5: syntax error near \"\"" {
        return "it ends too early: an operator, a field or a parenthesis lacks what follows"
            .to_owned();
    }
    if let Some(near) = sqlite.strip_prefix("fts5: syntax error near ") {
        return format!(
            "it cannot be read near {near}: AND, OR and NOT need words on both sides; {QUOTE}"
        );
    }
    if sqlite == "unterminated string" {
        return "a double quote is not closed".to_owned();
    }
    if sqlite.starts_with("unknown special query") {
        return "\"*\" must end a word, as in dock*".to_owned();
    }
    if sqlite.starts_with("expected integer") {
        return "NEAR's distance must be a whole number, as in NEAR(port strike, 5)".to_owned();
    }
    format!("the search engine says: {sqlite}")
}

/// The longest search shown in a feed's title, in characters.
const TITLE_SEARCH_CHARS: usize = 60;

/// The title of the feed `query` selects: `base` (the configured title),
/// then what narrows it, so that subscriptions to a source, a tag and a
/// search look different in a reader (issue #18), e.g. `wiredesk — Golem,
/// tag agency, search “Putin”, every copy`. Sources are named by
/// `name_of`. Paging (`limit`, `cursor`) and `since` leave it unchanged: a
/// feed's next page has the feed's title.
pub fn title(base: &str, query: &FeedQuery, name_of: impl Fn(&SourceId) -> String) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !query.sources.is_empty() {
        let names: Vec<String> = query.sources.iter().map(name_of).collect();
        parts.push(names.join(", "));
    }
    if let Some(tag) = &query.tag {
        parts.push(format!("tag {tag}"));
    }
    if let Some(q) = &query.search {
        let mut shown: String = q.chars().take(TITLE_SEARCH_CHARS).collect();
        if q.chars().count() > TITLE_SEARCH_CHARS {
            shown.push('…');
        }
        parts.push(format!("search “{shown}”"));
    }
    if query.copies {
        parts.push("every copy".to_owned());
    }
    if parts.is_empty() {
        base.to_owned()
    } else {
        format!("{base} — {}", parts.join(", "))
    }
}

/// A cursor is opaque to readers: a versioned position, base64url-encoded.
/// Version 2 is a position in arrival order (#14); a version 1 cursor was
/// a position in story-date order and is refused.
pub fn encode_cursor(key: PageKey) -> String {
    URL_SAFE_NO_PAD.encode(format!("2:{}:{}", key.date, key.id))
}

fn decode_cursor(text: &str) -> Option<PageKey> {
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let mut parts = text.split(':');
    if parts.next()? != "2" {
        return None;
    }
    let date = parts.next()?.parse().ok()?;
    let id = parts.next()?.parse().ok()?;
    parts.next().is_none().then_some(PageKey { date, id })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> Params {
        parse(Some(raw), |id| matches!(id, "agency" | "outlet")).unwrap()
    }

    fn err(raw: &str) -> ParamError {
        parse(Some(raw), |id| matches!(id, "agency" | "outlet")).unwrap_err()
    }

    #[test]
    fn no_parameters_mean_the_first_page_of_a_hundred_merged_stories() {
        let p = ok("");
        assert_eq!(p.query.limit, 100);
        assert_eq!(p.query, FeedQuery::default());
        assert_eq!(canonical(&p.query, None), "");
    }

    #[test]
    fn every_parameter_is_read_and_written_back_in_one_order() {
        let cursor = encode_cursor(PageKey { date: 5, id: 9 });
        let p = ok(&format!(
            "token=t&cursor={cursor}&copies=all&since=2026-11-01T09:00:00%2B01:00&q=port+strike&tag=world&source=outlet,agency&limit=10"
        ));
        assert_eq!(p.query.limit, 10);
        assert_eq!(p.query.sources.len(), 2);
        assert_eq!(p.query.after, Some(PageKey { date: 5, id: 9 }));
        assert_eq!(p.token.as_deref(), Some("t"));
        assert_eq!(
            canonical(&p.query, None),
            format!(
                "limit=10&source=agency%2Coutlet&tag=world&q=port+strike&since=2026-11-01T08%3A00%3A00Z&copies=all&cursor={cursor}"
            )
        );
    }

    #[test]
    fn a_cursor_from_before_arrival_order_is_refused() {
        // Version 1 was a position in story-date order: followed now, it
        // would skip or repeat stories, so the reader is told to start over.
        let old = URL_SAFE_NO_PAD.encode("1:5:9");
        assert!(err(&format!("cursor={old}")).to_string().contains("cursor"));
    }

    #[test]
    fn a_search_whose_cost_has_no_bound_is_refused_before_any_read() {
        for (q, says) in [
            ("NEAR(b* c* d* e* f*, 5)", "prefix"),
            ("NEAR(bo* ca*, 99999)", "distance"),
            ("a* harbour", "at least 2"),
            (&"word ".repeat(40), "32 words"),
        ] {
            let e = err(&format!("q={}", url_encode(q)));
            assert_eq!(e.param, "q", "{q}");
            assert!(e.message.contains(says), "{q}: {}", e.message);
        }
        for q in [
            "port strike",
            "NEAR(port strike, 10)",
            "harb* OR \"port strike\"",
            "title:harbour -rain",
            "\"a b c d e f g h i j k l m n o p q r s t u v w x y z aa bb cc dd ee ff\"",
        ] {
            assert!(
                ok(&format!("q={}", url_encode(q))).query.search.is_some(),
                "{q}"
            );
        }
    }

    fn url_encode(text: &str) -> String {
        url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
    }

    #[test]
    fn a_bad_parameter_is_named() {
        for (raw, param) in [
            ("limit=0", "limit"),
            ("limit=501", "limit"),
            ("limit=ten", "limit"),
            ("source=agency,nope", "source"),
            ("source=", "source"),
            ("tag=", "tag"),
            ("q=", "q"),
            ("since=yesterday", "since"),
            ("copies=some", "copies"),
            ("cursor=abc", "cursor"),
            ("limit=5&limit=6", "limit"),
            ("utm_source=x&tag=a&tag=b", "tag"),
        ] {
            assert_eq!(err(raw).param, param, "{raw}");
        }
    }

    /// Issue #18: `?utm_source=x` and a cache-buster `_=123` were a 400.
    #[test]
    fn an_unknown_parameter_is_ignored_and_left_out_of_links() {
        let p = ok("utm_source=x&_=123&limit=5&utm_source=y&limt=9");
        assert_eq!(p.query.limit, 5);
        assert_eq!(canonical(&p.query, None), "limit=5");
        assert_eq!(ok("_=1"), ok(""));
    }

    /// Issue #18: three subscriptions to one server looked alike.
    #[test]
    fn a_narrowed_feed_says_how_in_its_title() {
        let name = |id: &SourceId| match id.as_str() {
            "agency" => "Agency & Co".to_owned(),
            other => other.to_owned(),
        };
        let t = |raw: &str| title("wiredesk", &ok(raw).query, name);
        assert_eq!(t(""), "wiredesk");
        assert_eq!(t("limit=5&since=2026-11-01T08:00:00Z"), "wiredesk");
        assert_eq!(t("source=agency"), "wiredesk — Agency & Co");
        assert_eq!(t("source=outlet,agency"), "wiredesk — Agency & Co, outlet");
        assert_eq!(t("tag=agency"), "wiredesk — tag agency");
        assert_eq!(t("q=Putin"), "wiredesk — search “Putin”");
        assert_eq!(
            t("copies=all&q=port+strike&tag=world&source=agency"),
            "wiredesk — Agency & Co, tag world, search “port strike”, every copy"
        );
        let long = format!("q={}", "x".repeat(200));
        assert_eq!(t(&long), format!("wiredesk — search “{}…”", "x".repeat(60)));
    }

    #[test]
    fn a_search_error_is_said_in_words() {
        let p = search_problem("no such column: x");
        assert!(p.starts_with("\"x\" is not a field"), "{p}");
        assert!(p.contains("double quotes"), "{p}");
        for (sqlite, words) in [
            ("fts5: syntax error near \"\"", "ends too early"),
            ("fts5: syntax error near \"AND\"", "near \"AND\""),
            ("unterminated string", "double quote is not closed"),
            ("unknown special query: ", "must end a word"),
            ("expected integer, got \"x\"", "NEAR"),
            ("something new", "something new"),
        ] {
            assert!(search_problem(sqlite).contains(words), "{sqlite}");
        }
    }
}
