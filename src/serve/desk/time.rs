//! Times as the desk shows them: relative text ("3 min ago") written on the
//! server, inside a `<time>` whose `datetime` and `title` carry the exact
//! UTC time; `desk.js`, where scripts run, rewrites the title in the
//! reader's time zone.

use chrono::{DateTime, SecondsFormat, Utc};

/// `t` relative to `now`: "just now", "3 min ago", "in 5 min", "2 h ago",
/// "4 days ago"; past a fortnight, the date.
pub fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    let (n, future) = (secs.unsigned_abs(), secs < 0);
    let span = match n {
        0..45 => return "just now".into(),
        45..5_400 => format!("{} min", n.div_ceil(60).max(1)),
        5_400..172_800 => format!("{} h", (n + 1_800) / 3_600),
        172_800..1_209_600 => format!("{} days", (n + 43_200) / 86_400),
        _ => return t.format("%Y-%m-%d").to_string(),
    };
    if future {
        format!("in {span}")
    } else {
        format!("{span} ago")
    }
}

/// A `<time>` element for `t` (or "–" when there is none): relative text,
/// the exact UTC time as its `datetime` and hover title.
pub fn tag(t: Option<DateTime<Utc>>, now: DateTime<Utc>) -> String {
    match t {
        Some(t) => {
            let iso = t.to_rfc3339_opts(SecondsFormat::Secs, true);
            format!(
                "<time datetime=\"{iso}\" title=\"{}\">{}</time>",
                t.format("%Y-%m-%d %H:%M:%S UTC"),
                ago(t, now)
            )
        }
        None => "–".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 10, 12, 0, 0).unwrap()
    }

    #[test]
    fn times_read_as_how_long_ago_or_how_soon() {
        let s = |secs: i64| ago(now() - chrono::TimeDelta::seconds(secs), now());
        assert_eq!(s(0), "just now");
        assert_eq!(s(44), "just now");
        assert_eq!(s(45), "1 min ago");
        assert_eq!(s(180), "3 min ago");
        assert_eq!(s(5_399), "90 min ago");
        assert_eq!(s(5_400), "2 h ago");
        assert_eq!(s(3 * 3_600 + 10), "3 h ago");
        assert_eq!(s(47 * 3_600), "47 h ago");
        assert_eq!(s(4 * 86_400), "4 days ago");
        assert_eq!(s(20 * 86_400), "2026-04-20");
        assert_eq!(s(-300), "in 5 min");
        assert_eq!(s(-2 * 3_600), "in 2 h");
    }

    #[test]
    fn a_time_element_carries_the_exact_utc_time() {
        let t = Utc.with_ymd_and_hms(2026, 5, 10, 11, 57, 0).unwrap();
        assert_eq!(
            tag(Some(t), now()),
            "<time datetime=\"2026-05-10T11:57:00Z\" title=\"2026-05-10 11:57:00 UTC\">3 min ago</time>"
        );
        assert_eq!(tag(None, now()), "–");
    }
}
