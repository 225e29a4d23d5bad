//! The desk page's parameters: the feed filters it shares with the feeds
//! (`q`, `source`, `tag`, `cursor`; parsed by [`super::super::query`]), and
//! its own `view` and `chart`; and the links that change one of them while
//! keeping the rest (and the token).
//!
//! A plain HTML form sends every field, empty ones too (`q=&tag=`): an
//! empty value means "not set" here, where the feeds call it an error.

use crate::serve::query::{self, ParamError};
use crate::store::{FeedQuery, PageKey};

/// Stories on one page of the desk.
pub const PAGE_STORIES: usize = 30;

/// Which stories the desk lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// Newest-arrived first, paged, filtered.
    #[default]
    Latest,
    /// The stories with the most copies in the last 24 h.
    Running,
}

/// The span the arrivals chart covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Span {
    #[default]
    Day,
    Week,
}

impl Span {
    pub fn hours(self) -> u32 {
        match self {
            Span::Day => 24,
            Span::Week => 24 * 7,
        }
    }
}

/// A desk request's parameters, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeskParams {
    /// The filters and the page position; `limit` is [`PAGE_STORIES`].
    pub feed: FeedQuery,
    pub view: View,
    pub span: Span,
    pub token: Option<String>,
}

impl Default for DeskParams {
    fn default() -> Self {
        DeskParams {
            feed: FeedQuery {
                limit: PAGE_STORIES,
                ..FeedQuery::default()
            },
            view: View::default(),
            span: Span::default(),
            token: None,
        }
    }
}

/// Parses the page's raw query; `is_source` says whether a source id is
/// configured. `limit`, `since` and `copies` are the feeds' and ignored.
pub fn parse(
    raw: Option<&str>,
    is_source: impl Fn(&str) -> bool,
) -> Result<DeskParams, ParamError> {
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(raw.unwrap_or("").as_bytes())
        .map(|(k, v)| (k.into_owned(), v.trim().to_owned()))
        .filter(|(k, v)| !v.is_empty() && !matches!(k.as_str(), "limit" | "since" | "copies"))
        .collect();
    let mut desk = DeskParams::default();
    let bad = |param: &str, message: String| ParamError {
        param: param.into(),
        message,
    };
    for (key, value) in &pairs {
        match (key.as_str(), value.as_str()) {
            ("view", "latest") => desk.view = View::Latest,
            ("view", "running") => desk.view = View::Running,
            ("view", v) => return Err(bad("view", format!("{v:?} is not `latest` or `running`"))),
            ("chart", "day") => desk.span = Span::Day,
            ("chart", "week") => desk.span = Span::Week,
            ("chart", v) => return Err(bad("chart", format!("{v:?} is not `day` or `week`"))),
            _ => {}
        }
    }
    let feed_only: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs.iter().filter(|(k, _)| k != "view" && k != "chart"))
        .finish();
    let parsed = query::parse(Some(&feed_only), is_source)?;
    desk.feed = FeedQuery {
        limit: PAGE_STORIES,
        ..parsed.query
    };
    desk.token = parsed.token;
    Ok(desk)
}

impl DeskParams {
    /// The desk's query string for these parameters, `?`-prefixed (or
    /// empty), in one order: filters, view, chart, cursor, token.
    pub fn href(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        self.filters(&mut out);
        if self.view == View::Running {
            out.append_pair("view", "running");
        }
        if self.span == Span::Week {
            out.append_pair("chart", "week");
        }
        if let Some(key) = self.feed.after {
            out.append_pair("cursor", &query::encode_cursor(key));
        }
        if let Some(token) = &self.token {
            out.append_pair("token", token);
        }
        question(out.finish())
    }

    /// The same filters as a feed (`feed.atom` + this), without paging.
    pub fn feed_href(&self) -> String {
        let feed = FeedQuery {
            limit: query::DEFAULT_LIMIT,
            sources: self.feed.sources.clone(),
            tag: self.feed.tag.clone(),
            search: self.feed.search.clone(),
            ..FeedQuery::default()
        };
        question(query::canonical(&feed, self.token.as_deref()))
    }

    /// These parameters on the first page.
    pub fn first_page(&self) -> DeskParams {
        let mut p = self.clone();
        p.feed.after = None;
        p
    }

    /// These parameters from `key` on.
    pub fn page_after(&self, key: PageKey) -> DeskParams {
        let mut p = self.clone();
        p.feed.after = Some(key);
        p
    }

    pub fn with_view(&self, view: View) -> DeskParams {
        let mut p = self.first_page();
        p.view = view;
        p
    }

    pub fn with_span(&self, span: Span) -> DeskParams {
        let mut p = self.clone();
        p.span = span;
        p
    }

    /// Only the token: the desk with nothing chosen.
    pub fn cleared(&self) -> DeskParams {
        DeskParams {
            token: self.token.clone(),
            ..DeskParams::default()
        }
    }

    /// These parameters, filtered to `source` alone.
    pub fn for_source(&self, source: &str) -> DeskParams {
        let mut p = self.cleared();
        p.feed.sources = vec![crate::model::SourceId::new(source)];
        p
    }

    fn filters(&self, out: &mut url::form_urlencoded::Serializer<'_, String>) {
        if let Some(q) = &self.feed.search {
            out.append_pair("q", q);
        }
        if !self.feed.sources.is_empty() {
            let ids: Vec<&str> = self.feed.sources.iter().map(|s| s.as_str()).collect();
            out.append_pair("source", &ids.join(","));
        }
        if let Some(tag) = &self.feed.tag {
            out.append_pair("tag", tag);
        }
    }
}

fn question(query: String) -> String {
    if query.is_empty() {
        query
    } else {
        format!("?{query}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(id: &str) -> bool {
        matches!(id, "agency" | "outlet")
    }

    #[test]
    fn a_form_submission_with_empty_fields_is_the_plain_desk() {
        let p = parse(Some("q=&source=&tag=+&view=&token=t"), known).unwrap();
        assert_eq!(p.feed.search, None);
        assert!(p.feed.sources.is_empty());
        assert_eq!(p.feed.tag, None);
        assert_eq!(p.feed.limit, PAGE_STORIES);
        assert_eq!(p.token.as_deref(), Some("t"));
        assert_eq!(p.href(), "?token=t");
    }

    #[test]
    fn filters_view_and_chart_round_trip_through_the_link() {
        let raw = "q=port+%26+harbour&source=outlet&tag=Politics&view=running&chart=week&limit=5";
        let p = parse(Some(raw), known).unwrap();
        assert_eq!(p.feed.search.as_deref(), Some("port & harbour"));
        assert_eq!(p.view, View::Running);
        assert_eq!(p.span, Span::Week);
        assert_eq!(p.feed.limit, PAGE_STORIES, "the page size is the desk's");
        let href = p.href();
        assert_eq!(
            href,
            "?q=port+%26+harbour&source=outlet&tag=Politics&view=running&chart=week"
        );
        assert_eq!(parse(Some(&href[1..]), known).unwrap(), p);
        assert_eq!(
            p.feed_href(),
            "?source=outlet&tag=Politics&q=port+%26+harbour"
        );
    }

    #[test]
    fn a_bad_value_names_its_parameter() {
        assert_eq!(parse(Some("view=all"), known).unwrap_err().param, "view");
        assert_eq!(parse(Some("chart=year"), known).unwrap_err().param, "chart");
        assert_eq!(
            parse(Some("source=nope"), known).unwrap_err().param,
            "source"
        );
        assert_eq!(parse(Some("cursor=zz"), known).unwrap_err().param, "cursor");
    }

    #[test]
    fn paging_keeps_the_filters_and_a_new_view_starts_on_the_first_page() {
        let p = parse(Some("q=x&token=t"), known).unwrap();
        let next = p.page_after(PageKey { date: 100, id: 7 });
        let again = parse(Some(&next.href()[1..]), known).unwrap();
        assert_eq!(again.feed.after, Some(PageKey { date: 100, id: 7 }));
        assert_eq!(again.feed.search.as_deref(), Some("x"));
        assert_eq!(again.with_view(View::Running).feed.after, None);
        assert_eq!(p.for_source("agency").href(), "?source=agency&token=t");
    }
}
