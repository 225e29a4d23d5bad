//! The status page (`GET /`): the sources with their health and the latest
//! stories with their copies, as one small HTML document with no external
//! assets (inline CSS, no script, no images). Rendering is pure.
//!
//! Everything that came from a feed or a server — names, titles, links,
//! errors — is HTML-escaped, and only `http`/`https` links become `href`s.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use crate::model::Story;
use crate::store::SourceState;

/// One source's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceRow {
    pub id: String,
    pub name: String,
    /// `ok`, `not_modified`, `unchanged`, `gone`, `error`, `new` or `removed`.
    pub status: String,
    pub http_status: Option<u16>,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub next_poll_at: Option<DateTime<Utc>>,
    pub failures: u32,
    pub error: Option<String>,
    /// Polls that found a gap, and when the last one was.
    pub gaps: u32,
    pub last_gap_at: Option<DateTime<Utc>>,
    /// Items the source sent again under new ids (its ids churn), not
    /// stored again; 0 if never.
    pub repeats: u64,
}

impl SourceRow {
    /// The row of a stored state; `configured` tells a removed source.
    pub fn new(state: SourceState, configured: bool) -> SourceRow {
        SourceRow {
            status: state.shown_status(configured),
            id: state.id.to_string(),
            name: state.name,
            http_status: state.last_http_status,
            last_polled_at: state.last_polled_at,
            next_poll_at: state.next_poll_at,
            failures: state.consecutive_failures,
            error: state.last_error,
            gaps: state.gaps,
            last_gap_at: state.last_gap_at,
            repeats: 0,
        }
    }
}

/// What the page shows.
pub struct StatusPage<'a> {
    pub title: &'a str,
    pub sources: &'a [SourceRow],
    pub stories: &'a [Story],
    /// Appended to the feed links (`?token=…`), or empty.
    pub query: &'a str,
    pub now: DateTime<Utc>,
}

const STYLE: &str = "body{font:15px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:70em;padding:0 1em;color:#222}\
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.5em}table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.3em .5em;border-bottom:1px solid #ddd;vertical-align:top}\
th{font-weight:600;background:#f4f4f4}.ok{color:#176d2c}.bad{color:#b00020;font-weight:600}\
.quiet{color:#666}.err{font-family:monospace;font-size:.9em;word-break:break-word}\
ol{padding-left:1.4em}li{margin:.4em 0}.copies{color:#555;font-size:.9em}";

/// The page, as HTML.
pub fn render(page: &StatusPage<'_>) -> String {
    let mut out = String::with_capacity(8192);
    let title = text(page.title);
    let q = attr(page.query);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} status</title>\
         <link rel=\"alternate\" type=\"application/atom+xml\" title=\"{t} (Atom)\" href=\"feed.atom{q}\">\
         <link rel=\"alternate\" type=\"application/rss+xml\" title=\"{t} (RSS)\" href=\"feed.rss{q}\">\
         <link rel=\"alternate\" type=\"application/feed+json\" title=\"{t} (JSON Feed)\" href=\"feed.json{q}\">\
         <style>{STYLE}</style></head><body>\n<h1>{title}</h1>\n\
         <p>Subscribe: <a href=\"feed.atom{q}\">Atom</a> · <a href=\"feed.rss{q}\">RSS</a> · \
         <a href=\"feed.json{q}\">JSON Feed</a> · <a href=\"sources.opml{q}\">OPML</a></p>\n",
        t = attr(page.title),
    );
    sources(&mut out, page);
    stories(&mut out, page.stories);
    out.push_str("</body></html>\n");
    out
}

/// The sources' table: one row each, with how its last poll went.
fn sources(out: &mut String, page: &StatusPage<'_>) {
    let failing = page
        .sources
        .iter()
        .filter(|s| s.status != "removed" && s.failures > 0)
        .count();
    let _ = write!(
        out,
        "<h2>Sources</h2>\n<p class=\"quiet\">{} sources, {failing} failing · as of {}</p>\n\
         <table><thead><tr><th>Source</th><th>Status</th><th>Last poll</th><th>Next poll</th>\
         <th>Error</th></tr></thead><tbody>\n",
        page.sources.len(),
        time(Some(page.now)),
    );
    for s in page.sources {
        let class = match s.status.as_str() {
            "ok" | "not_modified" | "unchanged" => "ok",
            "error" | "gone" => "bad",
            _ => "quiet",
        };
        let http = s.http_status.map(|c| format!(" ({c})")).unwrap_or_default();
        let failures = if s.failures > 1 {
            format!(", {} in a row", s.failures)
        } else {
            String::new()
        };
        let gaps = match s.gaps {
            0 => String::new(),
            n => format!(
                "<br><span class=\"quiet\">{n} gap{}, last {}</span>",
                if n == 1 { "" } else { "s" },
                time(s.last_gap_at)
            ),
        };
        let churn = if s.repeats > 0 {
            format!(
                "<br><span class=\"quiet\">ids churn: {} items sent again under new ids</span>",
                s.repeats
            )
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "<tr><td>{name}<br><span class=\"quiet\">{id}</span></td>\
             <td class=\"{class}\">{status}{http}{failures}{gaps}{churn}</td><td>{last}</td><td>{next}</td>\
             <td class=\"err\">{error}</td></tr>",
            name = text(&s.name),
            id = text(&s.id),
            status = text(&s.status),
            last = time(s.last_polled_at),
            next = time(s.next_poll_at),
            error = text(s.error.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</tbody></table>\n");
}

/// The latest stories, as they arrived, each with its other copies.
fn stories(out: &mut String, stories: &[Story]) {
    out.push_str("<h2>Latest stories</h2>\n");
    if stories.is_empty() {
        out.push_str("<p class=\"quiet\">No stories yet.</p>\n");
    } else {
        out.push_str("<ol>\n");
        for story in stories {
            let chosen = &story.chosen;
            // Stories are listed as they arrived; one that came with an
            // older date says when it arrived.
            let late = story.arrived - chosen.date() > chrono::TimeDelta::minutes(5);
            let arrived = if late {
                format!(" · arrived {}", time(Some(story.arrived)))
            } else {
                String::new()
            };
            let _ = write!(
                out,
                "<li>{} <span class=\"quiet\">— {} · {}{arrived}</span>",
                link(&chosen.item.title, chosen.item.link.as_deref()),
                text(&chosen.source_name),
                time(Some(chosen.date())),
            );
            if !story.others.is_empty() {
                out.push_str("<br><span class=\"copies\">Also: ");
                for (i, copy) in story.others.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&link(&copy.source_name, copy.item.link.as_deref()));
                }
                out.push_str("</span>");
            }
            out.push_str("</li>\n");
        }
        out.push_str("</ol>\n");
    }
}

/// `label`, linked to `href` when it is an http(s) URL.
fn link(label: &str, href: Option<&str>) -> String {
    let label = if label.trim().is_empty() {
        "(untitled)"
    } else {
        label
    };
    match href.filter(|h| h.starts_with("https://") || h.starts_with("http://")) {
        Some(href) => format!("<a href=\"{}\">{}</a>", attr(href), text(label)),
        None => text(label).into_owned(),
    }
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
        .unwrap_or_else(|| "–".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_links_become_hrefs_and_labels_are_escaped() {
        assert_eq!(
            link("<b>x</b>", Some("javascript:alert(1)")),
            "&lt;b&gt;x&lt;/b&gt;"
        );
        assert_eq!(
            link("a & b", Some("https://e.example/?q=\"x\"")),
            "<a href=\"https://e.example/?q=&quot;x&quot;\">a &amp; b</a>"
        );
        assert_eq!(link(" ", None), "(untitled)");
    }

    #[test]
    fn a_source_error_and_name_are_escaped_in_its_row() {
        let rows = [SourceRow {
            id: "x".into(),
            name: "<img src=x onerror=alert(1)>".into(),
            status: "error".into(),
            http_status: Some(500),
            last_polled_at: None,
            next_poll_at: None,
            failures: 3,
            error: Some("</td><script>alert(1)</script>".into()),
            gaps: 0,
            last_gap_at: None,
            repeats: 0,
        }];
        let html = render(&StatusPage {
            title: "t\"<",
            sources: &rows,
            stories: &[],
            query: "",
            now: DateTime::UNIX_EPOCH,
        });
        assert!(
            !html.contains("<img") && !html.contains("<script"),
            "{html}"
        );
        assert!(html.contains("error (500), 3 in a row"), "{html}");
        assert!(html.contains("<title>t\"&lt; status</title>"), "{html}");
        assert!(html.contains("title=\"t&quot;&lt; (Atom)\""), "{html}");
        assert!(!html.contains("ids churn"), "{html}");
    }

    #[test]
    fn a_source_whose_ids_churn_says_so_in_its_row() {
        let rows = [SourceRow {
            id: "churn".into(),
            name: "Churn".into(),
            status: "ok".into(),
            http_status: Some(200),
            last_polled_at: None,
            next_poll_at: None,
            failures: 0,
            error: None,
            repeats: 57,
            gaps: 2,
            last_gap_at: Some(DateTime::UNIX_EPOCH),
        }];
        let html = render(&StatusPage {
            title: "t",
            sources: &rows,
            stories: &[],
            query: "",
            now: DateTime::UNIX_EPOCH,
        });
        assert!(
            html.contains("ids churn: 57 items sent again under new ids"),
            "{html}"
        );
        // Gaps in its feed are told beside it.
        assert!(html.contains("2 gaps, last 1970-01-01"), "{html}");
    }
}
