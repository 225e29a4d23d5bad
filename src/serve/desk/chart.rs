//! Arrivals per hour per source over the last day or week, as an inline
//! SVG of stacked bars. Colours come from classes in `desk.css` (the CSP
//! allows no inline style); each bar segment has a `<title>` for hover,
//! and the figure a text summary for screen readers.

use std::collections::HashMap;
use std::fmt::Write;

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use html_escape::encode_text as text;

use super::params::{DeskParams, Span};
use crate::store::HourlyArrivals;

/// Sources drawn in their own colour; the rest are summed as "others".
pub const COLOURS: usize = 6;

/// The chart's data: per series (a source, or "others"), its count in
/// each hour from `start`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bins {
    pub start: DateTime<Utc>,
    /// (label, count per hour), busiest series first.
    pub series: Vec<(String, Vec<u64>)>,
}

impl Bins {
    fn hours(&self) -> usize {
        self.series.first().map_or(0, |(_, c)| c.len())
    }

    /// The total of the busiest hour.
    fn peak(&self) -> u64 {
        (0..self.hours())
            .map(|h| self.series.iter().map(|(_, c)| c[h]).sum())
            .max()
            .unwrap_or(0)
    }

    fn total(&self) -> u64 {
        self.series.iter().flat_map(|(_, c)| c).sum()
    }
}

/// Bins `rows` into the `hours` whole hours ending with the current one;
/// the [`COLOURS`] busiest sources get a series each (named by `names`),
/// the others share one.
pub fn bins(
    rows: &[HourlyArrivals],
    names: &HashMap<String, String>,
    hours: u32,
    now: DateTime<Utc>,
) -> Bins {
    let this_hour = now
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let start = this_hour - TimeDelta::hours(i64::from(hours) - 1);
    let n = hours as usize;
    let mut per_source: HashMap<&str, Vec<u64>> = HashMap::new();
    for row in rows {
        let Ok(at) = usize::try_from((row.hour - start).num_hours()) else {
            continue;
        };
        if at < n {
            per_source
                .entry(row.source.as_str())
                .or_insert_with(|| vec![0; n])[at] += row.items;
        }
    }
    let mut ranked: Vec<(&str, Vec<u64>)> = per_source.into_iter().collect();
    ranked.sort_by(|a, b| {
        b.1.iter()
            .sum::<u64>()
            .cmp(&a.1.iter().sum())
            .then(a.0.cmp(b.0))
    });
    let mut series: Vec<(String, Vec<u64>)> = Vec::new();
    let mut others = vec![0; n];
    for (i, (id, counts)) in ranked.into_iter().enumerate() {
        if i < COLOURS {
            series.push((
                names.get(id).cloned().unwrap_or_else(|| id.to_owned()),
                counts,
            ));
        } else {
            others.iter_mut().zip(counts).for_each(|(o, c)| *o += c);
        }
    }
    if others.iter().any(|c| *c > 0) {
        series.push(("other sources".into(), others));
    }
    Bins { start, series }
}

const WIDTH: u32 = 720;
const HEIGHT: u32 = 150;
const LEFT: u32 = 34;
const BOTTOM: u32 = 20;

/// Renders the chart's section.
pub fn render(out: &mut String, bins: &Bins, params: &DeskParams) {
    let (span, other, other_label) = match params.span {
        Span::Day => ("24 hours", Span::Week, "last 7 days"),
        Span::Week => ("7 days", Span::Day, "last 24 hours"),
    };
    let total = bins.total();
    let _ = write!(
        out,
        "<section aria-labelledby=\"chart-h\"><h2 id=\"chart-h\">Arrivals per hour, last {span}</h2>\n\
         <p class=\"quiet\">{} stored · <a href=\"{}\">Show the {other_label}</a></p>\n",
        super::count(total, "item"),
        html_escape::encode_double_quoted_attribute(&format!(
            ".{}",
            params.with_span(other).href()
        )),
    );
    if total == 0 {
        out.push_str("<p class=\"quiet\">Nothing arrived in this time.</p></section>\n");
        return;
    }
    let peak = bins.peak().max(1);
    let hours = bins.hours().max(1) as u32;
    let plot_w = WIDTH - LEFT;
    let plot_h = HEIGHT - BOTTOM;
    let bar_w = f64::from(plot_w) / f64::from(hours);
    let _ = write!(
        out,
        "<figure class=\"chart\"><svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"chart-t\">\
         <title id=\"chart-t\">{} in the last {span}; the busiest hour had {peak}</title>\
         <text x=\"{x}\" y=\"10\" class=\"axis\" text-anchor=\"end\">{peak}</text>\
         <text x=\"{x}\" y=\"{plot_h}\" class=\"axis\" text-anchor=\"end\">0</text>\
         <line x1=\"{LEFT}\" y1=\"{plot_h}\" x2=\"{WIDTH}\" y2=\"{plot_h}\" class=\"base\"/>",
        super::count(total, "item"),
        x = LEFT - 4,
    );
    let tick_every = if hours <= 24 { 6 } else { 24 };
    for h in 0..hours {
        let at = bins.start + TimeDelta::hours(i64::from(h));
        let x = f64::from(LEFT) + f64::from(h) * bar_w;
        if at.hour().is_multiple_of(tick_every) {
            let label = if tick_every == 24 {
                at.format("%a %d").to_string()
            } else {
                at.format("%H:00").to_string()
            };
            let _ = write!(
                out,
                "<text x=\"{x:.1}\" y=\"{}\" class=\"axis\">{label}</text>",
                HEIGHT - 4
            );
        }
        let mut y = f64::from(plot_h);
        for (i, (name, counts)) in bins.series.iter().enumerate() {
            let c = counts[h as usize];
            if c == 0 {
                continue;
            }
            let bar_h = f64::from(plot_h - 12) * c as f64 / peak as f64;
            y -= bar_h;
            let _ = write!(
                out,
                "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{bar_h:.1}\" class=\"c{i}\">\
                 <title>{} UTC · {}: {c}</title></rect>",
                at.format("%Y-%m-%d %H:00"),
                text(name),
                w = (bar_w - 1.0).max(0.5),
            );
        }
    }
    out.push_str("</svg><figcaption><ul class=\"legend\">");
    for (i, (name, counts)) in bins.series.iter().enumerate() {
        let _ = write!(
            out,
            "<li><span class=\"swatch c{i}\" aria-hidden=\"true\"></span>{} ({})</li>",
            text(name),
            counts.iter().sum::<u64>()
        );
    }
    out.push_str("</ul></figcaption></figure></section>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceId;
    use chrono::TimeZone;

    fn row(source: &str, h: u32, items: u64) -> HourlyArrivals {
        HourlyArrivals {
            source: SourceId::new(source),
            hour: Utc.with_ymd_and_hms(2026, 5, 10, h, 0, 0).unwrap(),
            items,
        }
    }

    #[test]
    fn arrivals_land_in_their_hour_and_busy_sources_get_their_own_colour() {
        let now = Utc.with_ymd_and_hms(2026, 5, 10, 12, 40, 0).unwrap();
        let names = HashMap::from([("a".to_owned(), "Agency <A>".to_owned())]);
        let mut rows = vec![
            row("a", 12, 3),
            row("a", 9, 1),
            row("b", 9, 2),
            row("old", 8, 5),
        ];
        for i in 0..COLOURS {
            rows.push(row(&format!("s{i}"), 11, 1));
        }
        let b = bins(&rows, &names, 4, now);
        assert_eq!(b.start, Utc.with_ymd_and_hms(2026, 5, 10, 9, 0, 0).unwrap());
        assert_eq!(b.series[0], ("Agency <A>".to_owned(), vec![1, 0, 0, 3]));
        assert_eq!(b.series[1], ("b".to_owned(), vec![2, 0, 0, 0]));
        assert_eq!(
            b.series.len(),
            COLOURS + 1,
            "the hour before the window is out"
        );
        assert_eq!(
            b.series[COLOURS],
            ("other sources".to_owned(), vec![0, 0, 2, 0])
        );
        assert_eq!(
            b.peak(),
            COLOURS as u64,
            "hour 11: one from each small source"
        );
        assert_eq!(b.total(), 4 + 2 + COLOURS as u64);
    }

    #[test]
    fn the_chart_escapes_source_names_and_says_what_it_shows() {
        let now = Utc.with_ymd_and_hms(2026, 5, 10, 12, 40, 0).unwrap();
        let names = HashMap::from([("a".to_owned(), "<script>x</script>".to_owned())]);
        let b = bins(&[row("a", 12, 3)], &names, 24, now);
        let mut html = String::new();
        render(&mut html, &b, &DeskParams::default());
        assert!(!html.contains("<script"), "{html}");
        assert!(
            html.contains("3 items in the last 24 hours; the busiest hour had 3"),
            "{html}"
        );
        assert!(
            html.contains(
                "<title>2026-05-10 12:00 UTC · &lt;script&gt;x&lt;/script&gt;: 3</title>"
            ),
            "{html}"
        );
        assert!(html.contains("href=\".?chart=week\""), "{html}");
        let mut empty = String::new();
        render(
            &mut empty,
            &bins(&[], &names, 24, now),
            &DeskParams::default(),
        );
        assert!(empty.contains("Nothing arrived"), "{empty}");
    }
}
