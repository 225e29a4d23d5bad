//! The desk's sources: failing and gap-reporting ones first, each with a
//! short error a person reads (the full text one click away), what it has
//! stored, when it is polled, and its own feed links.

use std::fmt::Write;
use std::time::Duration;

use chrono::{DateTime, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::params::DeskParams;
use super::time;

/// One source as the desk shows it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SourceCard {
    pub id: String,
    pub name: String,
    /// `ok`, `not_modified`, `unchanged`, `gone`, `error`, `new` or `removed`.
    pub status: String,
    pub http_status: Option<u16>,
    pub failures: u32,
    /// The poll's error as recorded (an HTTP library's text).
    pub error: Option<String>,
    pub gaps: u32,
    pub last_gap_at: Option<DateTime<Utc>>,
    /// Items sent again under new ids (ids churn).
    pub repeats: u64,
    pub last_polled_at: Option<DateTime<Utc>>,
    pub next_poll_at: Option<DateTime<Utc>>,
    /// Items stored now, and when the newest arrived.
    pub items: u64,
    pub last_new_at: Option<DateTime<Utc>>,
    /// The publishing rate its polls learned, items an hour.
    pub items_per_hour: Option<f64>,
    /// The configured polling interval (none for a removed source).
    pub interval: Option<Duration>,
    /// Its subscription to a publisher's WebSub hub (#16), if any.
    pub push: Option<crate::store::Subscription>,
}

impl SourceCard {
    /// Not polled: removed from the config, or listed `enabled = false`.
    pub(super) fn is_off(&self) -> bool {
        matches!(self.status.as_str(), "removed" | "disabled")
    }

    fn failing(&self) -> bool {
        !self.is_off() && (self.failures > 0 || matches!(self.status.as_str(), "error" | "gone"))
    }

    /// Where it is listed: failing, then reporting gaps, then never
    /// polled, then healthy, then removed.
    fn rank(&self) -> u8 {
        match () {
            _ if self.is_off() => 4,
            _ if self.failing() => 0,
            _ if self.gaps > 0 => 1,
            _ if self.status == "new" => 2,
            _ => 3,
        }
    }
}

/// `cards` in the desk's order: by [`SourceCard::rank`], then by name.
pub fn order(cards: &mut [SourceCard]) {
    cards.sort_by(|a, b| {
        a.rank()
            .cmp(&b.rank())
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.id.cmp(&b.id))
    });
}

/// A poll error in a few words: the HTTP status, or what the chain of
/// causes an HTTP library wrote comes down to.
pub fn short_error(error: &str, http_status: Option<u16>) -> String {
    if let Some(code) = http_status.filter(|c| *c >= 400) {
        return format!("HTTP {code}");
    }
    let e = error.to_lowercase();
    let has = |needles: &[&str]| needles.iter().any(|n| e.contains(n));
    let short = if has(&["notvalidforname", "not valid for name"]) {
        "TLS: certificate not valid for this name"
    } else if has(&["certificate expired", "expired certificate", "expired"])
        && has(&["certificate"])
    {
        "TLS: certificate expired"
    } else if has(&[
        "unknownissuer",
        "unknown issuer",
        "self-signed",
        "self signed",
    ]) {
        "TLS: certificate not trusted"
    } else if has(&["certificate", "tls", "handshake"]) {
        "TLS error"
    } else if has(&["connection refused"]) {
        "connection refused"
    } else if has(&["connection reset"]) {
        "connection reset"
    } else if has(&[
        "dns error",
        "failed to lookup",
        "name or service not known",
        "no address",
    ]) {
        "host not found"
    } else if has(&["timed out", "timeout"]) {
        "timed out"
    } else if e.starts_with("not a feed")
        || e.starts_with("malformed feed")
        || e.starts_with("the parse failed")
    {
        "not a feed"
    } else if has(&["over the limit", "larger than"]) {
        "feed too large"
    } else if has(&["redirect"]) {
        "bad redirect"
    } else if let Some(code) = e.strip_prefix("http ").and_then(|r| r.get(..3)) {
        return format!("HTTP {code}");
    } else if e.starts_with("cannot read") {
        "file not readable"
    } else {
        // Unknown: its first clause, cut short.
        let first = error.split(": ").next().unwrap_or(error).trim();
        return first.chars().take(60).collect();
    };
    short.to_owned()
}

/// Renders the sources' section.
pub fn render(out: &mut String, cards: &[SourceCard], params: &DeskParams, now: DateTime<Utc>) {
    let failing = cards.iter().filter(|c| c.failing()).count();
    let gaps = cards
        .iter()
        .filter(|c| !c.failing() && c.gaps > 0 && !c.is_off())
        .count();
    let _ = write!(
        out,
        "<section aria-labelledby=\"sources-h\"><h2 id=\"sources-h\">Sources</h2>\n\
         <p class=\"quiet\">{} · {failing} failing · {gaps} reporting gaps</p>\n<ul class=\"sources\">\n",
        super::count(cards.len() as u64, "source"),
    );
    for c in cards {
        card(out, c, params, now);
    }
    out.push_str("</ul></section>\n");
}

/// A source's push state (WebSub, #16): subscribed until when, its
/// pushes, the last one, and the badly signed ones; or why it is not.
fn push_line(out: &mut String, push: &crate::store::Subscription, now: DateTime<Utc>) {
    use crate::store::Phase;
    let mut line = match push.phase {
        Phase::Subscribed => format!(
            "pushed by its hub until {}; {} pushes, last {}",
            time::tag(push.lease_until, now),
            push.pushes,
            time::tag(push.last_push_at, now)
        ),
        phase => format!("push: {}", text(phase.as_str())),
    };
    if let Some(error) = push
        .last_error
        .as_deref()
        .filter(|_| push.phase != Phase::Subscribed)
    {
        line.push_str(&format!(" ({})", text(error)));
    }
    if push.bad_signatures > 0 {
        line.push_str(&format!("; {} badly signed, ignored", push.bad_signatures));
    }
    let _ = writeln!(out, "<p class=\"quiet\">{line}</p>");
}

fn card(out: &mut String, c: &SourceCard, params: &DeskParams, now: DateTime<Utc>) {
    let (class, state) = match () {
        _ if c.status == "removed" => ("quiet", "removed from the config".to_owned()),
        _ if c.status == "disabled" => ("quiet", "disabled in the config".to_owned()),
        _ if c.failing() => {
            let short = short_error(c.error.as_deref().unwrap_or(""), c.http_status);
            let times = if c.failures > 1 {
                format!(" ({} polls in a row)", c.failures)
            } else {
                String::new()
            };
            ("bad", format!("failing: {short}{times}"))
        }
        _ if c.status == "new" => ("quiet", "not polled yet".to_owned()),
        _ => ("ok", "ok".to_owned()),
    };
    let _ = write!(
        out,
        "<li class=\"source {class}\" id=\"source-{anchor}\"><h3>{name} <span class=\"id\">{id}</span></h3>\n\
         <p class=\"state\">{state}</p>\n",
        anchor = attr(&c.id),
        name = text(&c.name),
        id = text(&c.id),
        state = text(&state),
    );
    if let Some(full) = c.error.as_deref().filter(|e| !e.is_empty()) {
        let _ = writeln!(
            out,
            "<details><summary>Full error</summary><pre>{}</pre></details>",
            text(full)
        );
    }
    if c.gaps > 0 {
        let _ = writeln!(
            out,
            "<p class=\"warn\">{} gap{} (items probably missed between polls), last {}</p>",
            c.gaps,
            if c.gaps == 1 { "" } else { "s" },
            time::tag(c.last_gap_at, now),
        );
    }
    if let Some(push) = &c.push {
        push_line(out, push, now);
    }
    if c.repeats > 0 {
        let _ = writeln!(
            out,
            "<p class=\"quiet\">ids churn: {} items sent again under new ids</p>",
            c.repeats
        );
    }
    let rate = c.items_per_hour.map_or_else(
        || "not learned yet".to_owned(),
        |r| {
            if r < 0.05 {
                "under 0.1 items an hour".to_owned()
            } else {
                format!("about {r:.1} items an hour")
            }
        },
    );
    let every = c.interval.map_or_else(String::new, |d| {
        format!(", polled every {}", humantime::format_duration(d))
    });
    let _ = writeln!(
        out,
        "<dl><dt>Items stored</dt><dd>{items}</dd><dt>Last new item</dt><dd>{new}</dd>\
         <dt>Last poll</dt><dd>{last}</dd><dt>Next poll</dt><dd>{next}</dd>\
         <dt>Rhythm</dt><dd>{rhythm}</dd></dl>",
        items = c.items,
        new = time::tag(c.last_new_at, now),
        last = time::tag(c.last_polled_at, now),
        next = time::tag(c.next_poll_at, now),
        rhythm = text(&format!("{rate}{every}")),
    );
    let only = params.for_source(&c.id);
    let feed = attr(&only.feed_href()).into_owned();
    let _ = writeln!(
        out,
        "<p class=\"links\"><a href=\"{page}\">Its stories</a> · Feed: <a href=\"feed.atom{feed}\">Atom</a> · \
         <a href=\"feed.rss{feed}\">RSS</a> · <a href=\"feed.json{feed}\">JSON</a></p></li>",
        page = attr(&format!(".{}", only.href())),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card(id: &str, status: &str, failures: u32, gaps: u32) -> SourceCard {
        SourceCard {
            id: id.into(),
            name: id.to_uppercase(),
            status: status.into(),
            failures,
            gaps,
            ..SourceCard::default()
        }
    }

    #[test]
    fn failing_sources_come_first_then_those_with_gaps_then_the_rest() {
        let mut cards = vec![
            card("gone", "removed", 3, 0),
            card("fine", "ok", 0, 0),
            card("fresh", "new", 0, 0),
            card("holey", "ok", 0, 2),
            card("zbroken", "error", 1, 0),
            card("abroken", "error", 4, 1),
        ];
        order(&mut cards);
        let ids: Vec<&str> = cards.iter().map(|c| c.id.as_str()).collect();
        assert_eq!(
            ids,
            ["abroken", "zbroken", "holey", "fresh", "fine", "gone"]
        );
    }

    #[test]
    fn http_library_errors_read_as_a_few_words() {
        let cases = [
            (
                "cannot connect: error sending request for url (http://127.0.0.1:9/feed): client error (Connect): tcp connect error: Connection refused (os error 111)",
                None,
                "connection refused",
            ),
            (
                "cannot connect: error sending request: client error (Connect): invalid peer certificate: NotValidForName",
                None,
                "TLS: certificate not valid for this name",
            ),
            (
                "cannot connect: invalid peer certificate: certificate not valid for name \"a.example\"; certificate is only valid for DnsName(\"b.example\")",
                None,
                "TLS: certificate not valid for this name",
            ),
            (
                "cannot connect: invalid peer certificate: UnknownIssuer",
                None,
                "TLS: certificate not trusted",
            ),
            (
                "cannot connect: invalid peer certificate: Expired",
                None,
                "TLS: certificate expired",
            ),
            (
                "cannot connect: dns error: failed to lookup address information: Name or service not known",
                None,
                "host not found",
            ),
            ("timed out after 30s", None, "timed out"),
            ("HTTP 404", Some(404), "HTTP 404"),
            (
                "HTTP 503: the server asked to retry later",
                None,
                "HTTP 503",
            ),
            (
                "HTTP 410 Gone: the publisher removed this feed",
                Some(410),
                "HTTP 410",
            ),
            ("not a feed: the body is HTML", None, "not a feed"),
            ("malformed feed: unexpected end", Some(200), "not a feed"),
            (
                "the body is over the limit of 10 bytes",
                None,
                "feed too large",
            ),
            ("redirect loop at http://x/", None, "bad redirect"),
            ("something odd: deep detail", None, "something odd"),
        ];
        for (raw, status, short) in cases {
            assert_eq!(short_error(raw, status), short, "{raw}");
        }
    }

    #[test]
    fn a_failing_source_shows_its_short_error_and_keeps_the_full_text_escaped() {
        let c = SourceCard {
            error: Some("cannot connect: <b>Connection refused</b>".into()),
            ..card("x\"<", "error", 2, 0)
        };
        let mut html = String::new();
        render(
            &mut html,
            &[c],
            &DeskParams::default(),
            DateTime::UNIX_EPOCH,
        );
        assert!(
            html.contains("failing: connection refused (2 polls in a row)"),
            "{html}"
        );
        assert!(
            html.contains("<details><summary>Full error</summary><pre>cannot connect: &lt;b&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>") && !html.contains("x\"<"), "{html}");
        assert!(html.contains("href=\"feed.atom?source=x%22%3C\""), "{html}");
        assert!(html.contains("1 source · 1 failing"), "{html}");
    }
}
