//! Dates as feeds really write them.
//!
//! RFC 3339 and RFC 822/2822 first (chrono), then a forgiving reading of the
//! broken variants seen in the wild: no time zone (read as UTC), named zones
//! (EST, PDT, CEST, ...), two-digit years, a weekday that does not match the
//! date (ignored), long month names, month-before-day, `T`-less ISO dates,
//! `AM`/`PM`, `24:` hours. Anything else is `None`: the store falls back to
//! first-seen, which beats a wrong date.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};

/// Parses a feed date leniently; `None` when it cannot be understood.
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() || s.len() > 100 {
        return None;
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.to_utc());
    }
    if let Ok(d) = DateTime::parse_from_rfc2822(s) {
        return Some(d.to_utc());
    }
    iso_lenient(s).or_else(|| words_lenient(s))
}

/// Offsets of the zone names feeds use, in minutes east of UTC.
fn named_zone(name: &str) -> Option<i32> {
    let h = |x: i32| Some(x * 60);
    match name.to_ascii_uppercase().as_str() {
        "Z" | "UT" | "UTC" | "GMT" | "WET" | "ZULU" => h(0),
        "EST" => h(-5),
        "EDT" => h(-4),
        "CST" => h(-6),
        "CDT" => h(-5),
        "MST" => h(-7),
        "MDT" => h(-6),
        "PST" => h(-8),
        "PDT" => h(-7),
        "AKST" => h(-9),
        "AKDT" => h(-8),
        "HST" => h(-10),
        "AST" => h(-4),
        "ADT" => h(-3),
        "NST" => Some(-210),
        "NDT" => Some(-150),
        "IST" => Some(330),
        "BST" | "CET" | "MET" | "WEST" => h(1),
        "CEST" | "MEST" | "EET" | "SAST" => h(2),
        "EEST" | "MSK" => h(3),
        "PKT" => h(5),
        "ICT" | "WIB" => h(7),
        "HKT" | "SGT" | "AWST" | "PHT" => h(8),
        "JST" | "KST" => h(9),
        "ACST" => Some(570),
        "AEST" => h(10),
        "AEDT" => h(11),
        "NZST" => h(12),
        "NZDT" => h(13),
        _ => None,
    }
}

/// `+0100`, `+01:00`, `-05`, `Z`, or a zone name.
fn offset_minutes(tok: &str) -> Option<i32> {
    if let Some(m) = named_zone(tok) {
        return Some(m);
    }
    let tok = tok
        .strip_prefix("GMT")
        .or_else(|| tok.strip_prefix("UTC"))
        .unwrap_or(tok);
    let (sign, digits) = match tok.as_bytes().first()? {
        b'+' => (1, &tok[1..]),
        b'-' => (-1, &tok[1..]),
        _ => return None,
    };
    let digits: String = digits.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let (hh, mm) = match digits.len() {
        1 | 2 => (digits.parse::<i32>().ok()?, 0),
        4 => (
            digits[..2].parse::<i32>().ok()?,
            digits[2..].parse::<i32>().ok()?,
        ),
        _ => return None,
    };
    (hh <= 14 && mm < 60).then_some(sign * (hh * 60 + mm))
}

fn finish(date: NaiveDate, time: NaiveTime, offset_min: i32) -> Option<DateTime<Utc>> {
    let off = FixedOffset::east_opt(offset_min * 60)?;
    off.from_local_datetime(&NaiveDateTime::new(date, time))
        .single()
        .map(|d| d.to_utc())
}

/// `H:M`, `H:M:S`, `H:M:S.fff`; hour 24 read as 0.
fn parse_time(t: &str) -> Option<NaiveTime> {
    let mut parts = t.split(':');
    let h: u32 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let (s, nanos) = match parts.next() {
        Some(sec) => {
            let (whole, frac) = sec.split_once(['.', ',']).unwrap_or((sec, ""));
            let s: u32 = whole.parse().ok()?;
            let frac: String = frac.chars().take(9).collect();
            let nanos = if frac.is_empty() {
                0
            } else {
                frac.parse::<u32>().ok()? * 10u32.pow(9 - frac.len() as u32)
            };
            (s.min(59), nanos)
        }
        None => (0, 0),
    };
    if parts.next().is_some() {
        return None;
    }
    NaiveTime::from_hms_nano_opt(if h == 24 { 0 } else { h }, m, s, nanos)
}

/// ISO-like dates: `2024-01-05`, `2024-01-05 10:00`, `2024-01-05T10:00:00`
/// with or without a zone, `+0100` without a colon, `2024-01-05T10:00:00 EST`.
fn iso_lenient(s: &str) -> Option<DateTime<Utc>> {
    let b = s.as_bytes();
    if b.len() < 8 || !b[..4].iter().all(u8::is_ascii_digit) || !matches!(b[4], b'-' | b'/') {
        return None;
    }
    let sep = b[4] as char;
    let date_end = s.find(['T', 't', ' ']).unwrap_or(s.len());
    let mut dp = s[..date_end].split(sep);
    let (y, m, d) = (
        dp.next()?.parse().ok()?,
        dp.next()?.parse().ok()?,
        dp.next()?.parse().ok()?,
    );
    if dp.next().is_some() {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(y, m, d)?;
    let rest = s[date_end..].trim_start_matches(['T', 't', ' ']);
    if rest.is_empty() {
        return finish(date, NaiveTime::MIN, 0);
    }
    // Split the time from the zone: the zone starts at Z, +, - or a space.
    let zone_at = rest.find(['Z', 'z', '+', '-', ' ']).unwrap_or(rest.len());
    let time = parse_time(&rest[..zone_at])?;
    let zone = rest[zone_at..].trim();
    let off = if zone.is_empty() {
        0
    } else {
        offset_minutes(zone)?
    };
    finish(date, time, off)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];
const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// RFC 822-like dates in any order: `Thurs, 5 Jan 24 10:00 CEST`, `January 5, 2024 10:00 PM`.
fn words_lenient(s: &str) -> Option<DateTime<Utc>> {
    let tokens = lenient_tokens(s);
    if tokens.len() > 10 {
        return None;
    }
    let mut p = Parts::default();
    for (idx, tok) in tokens.iter().enumerate() {
        let lower = tok.to_ascii_lowercase();
        let lower = lower.trim_end_matches('.');
        if lower.bytes().all(|b| b.is_ascii_alphabetic()) {
            p.word(lower, idx + 1 == tokens.len())?;
        } else if tok.contains(':') && p.time.is_none() && !tok.starts_with(['+', '-']) {
            let zone_at = tok.find(['Z', 'z', '+', '-']).unwrap_or(tok.len());
            let (t, z) = tok.split_at(zone_at);
            let t = t.trim_end_matches(|c: char| c.is_ascii_alphabetic());
            p.time = Some(parse_time(t)?);
            if !z.is_empty() {
                p.off = Some(offset_minutes(z)?);
            }
        } else if tok.starts_with(['+', '-'])
            || lower.starts_with("gmt")
            || lower.starts_with("utc")
        {
            p.off = Some(offset_minutes(tok)?);
        } else {
            p.number(lower)?;
        }
    }
    let date = NaiveDate::from_ymd_opt(p.year?, p.month?, p.day?)?;
    let mut time = p.time.unwrap_or(NaiveTime::MIN);
    if let Some(pm) = p.pm {
        use chrono::Timelike;
        let h = time.hour() % 12 + if pm { 12 } else { 0 };
        time = time.with_hour(h)?;
    }
    finish(date, time, p.off.unwrap_or(0))
}

/// The words of `s`, split at spaces and commas, and at `-` and `/` inside
/// a word that has letters (`5-Jan-2024`) or slashes (`5/1/2024`).
fn lenient_tokens(s: &str) -> Vec<&str> {
    s.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|t| !t.is_empty())
        .flat_map(|t| {
            let has_alpha = t.bytes().any(|b| b.is_ascii_alphabetic());
            let split_dash = has_alpha && t.contains('-') && !t.starts_with('-');
            let split_slash = t.contains('/');
            if split_dash || split_slash {
                t.split(['-', '/']).collect::<Vec<_>>()
            } else {
                vec![t]
            }
        })
        .collect()
}

/// What [`words_lenient`] has read so far.
#[derive(Default)]
struct Parts {
    day: Option<u32>,
    month: Option<u32>,
    year: Option<i32>,
    time: Option<NaiveTime>,
    /// The zone's offset in minutes.
    off: Option<i32>,
    pm: Option<bool>,
}

impl Parts {
    /// A word of letters (lower case): a month, a weekday, AM/PM, a filler or
    /// a zone name. `None` when it is none of these.
    fn word(&mut self, lower: &str, last: bool) -> Option<()> {
        if lower.len() >= 3
            && self.month.is_none()
            && let Some(m) = MONTHS.iter().position(|m| lower.starts_with(m))
        {
            self.month = Some(m as u32 + 1);
            return Some(());
        }
        if lower.len() >= 3 && WEEKDAYS.iter().any(|w| lower.starts_with(w)) {
            return Some(());
        }
        match lower {
            "am" | "a.m" => self.pm = Some(false),
            "pm" | "p.m" => self.pm = Some(true),
            "at" | "of" => {}
            _ => match named_zone(lower) {
                Some(m) => self.off = Some(m),
                // An unknown zone name at the end is read as UTC.
                None if last && self.time.is_some() => self.off = Some(0),
                None => return None,
            },
        }
        Some(())
    }

    /// A number, perhaps with an ordinal suffix (`5th`): the year or the day.
    fn number(&mut self, lower: &str) -> Option<()> {
        let digits = lower.trim_end_matches(['s', 't', 'n', 'd', 'r', 'h']);
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 4 {
            return None;
        }
        let v: i32 = digits.parse().ok()?;
        if digits.len() == 4 || (self.day.is_some() && self.year.is_none()) || v > 31 {
            if self.year.is_some() {
                return None;
            }
            self.year = Some(match (digits.len(), v) {
                (4, _) => v,
                (_, 0..=49) => 2000 + v,
                _ => 1900 + v,
            });
        } else if self.day.is_none() {
            self.day = Some(v as u32);
        } else {
            return None;
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> Option<DateTime<Utc>> {
        Some(DateTime::parse_from_rfc3339(s).unwrap().to_utc())
    }

    #[test]
    fn standard_dates_parse() {
        assert_eq!(
            parse_date("2024-03-05T10:20:30Z"),
            utc("2024-03-05T10:20:30Z")
        );
        assert_eq!(
            parse_date("Tue, 05 Mar 2024 10:20:30 +0100"),
            utc("2024-03-05T09:20:30Z")
        );
        assert_eq!(
            parse_date("Tue, 05 Mar 2024 10:20:30 EST"),
            utc("2024-03-05T15:20:30Z")
        );
    }

    #[test]
    fn broken_dates_seen_in_feeds_parse() {
        let cases = [
            ("Tue, 05 Mar 2024 10:20:30", "2024-03-05T10:20:30Z"),
            ("Tue, 05 Mar 2024 10:20:30 CEST", "2024-03-05T08:20:30Z"),
            ("Tue, 05 Mar 2024 10:20:30 PDT", "2024-03-05T17:20:30Z"),
            ("Sun, 05 Mar 2024 10:20:30 GMT", "2024-03-05T10:20:30Z"),
            ("Thurs, 5 Mar 24 10:20 +0000", "2024-03-05T10:20:00Z"),
            ("05 Mar 99 10:20:30 GMT", "1999-03-05T10:20:30Z"),
            ("March 5, 2024 10:20 PM", "2024-03-05T22:20:00Z"),
            ("2024-03-05 10:20:30", "2024-03-05T10:20:30Z"),
            ("2024-03-05T10:20:30+0100", "2024-03-05T09:20:30Z"),
            ("2024-03-05T10:20:30.123", "2024-03-05T10:20:30.123Z"),
            ("2024-03-05", "2024-03-05T00:00:00Z"),
            ("05-Mar-2024 10:20", "2024-03-05T10:20:00Z"),
            ("Tue, 05 Mar 2024 24:20:30 Z", "2024-03-05T00:20:30Z"),
        ];
        for (input, want) in cases {
            assert_eq!(parse_date(input), utc(want), "{input}");
        }
    }

    #[test]
    fn nonsense_is_none_not_a_guess() {
        for s in [
            "",
            "yesterday",
            "Tue, 45 Mar 2024",
            "2024-13-01",
            "12:00",
            "1 2 3 4 5 6 7 8 9 10 11",
        ] {
            assert_eq!(parse_date(s), None, "{s}");
        }
    }
}
