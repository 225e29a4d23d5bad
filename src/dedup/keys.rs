//! Exact keys: the title key and the canonical link.

use super::text::{fold, tokens};

/// Leading title decorations (compared after lower-casing and dropping digits), each
/// followed by `-`, `:` or `|`: `UPDATE 2-`, `BREAKING: `, `In brief: `, `EXCLUSIVE-`.
/// These are the wire and web conventions for flags on a headline, not outlet names.
const PREFIX_FLAGS: &[&str] = &[
    "update",
    "updated",
    "refile",
    "refiled",
    "corrected",
    "correction",
    "breaking",
    "breaking news",
    "exclusive",
    "urgent",
    "flash",
    "alert",
    "news alert",
    "live",
    "analysis",
    "in brief",
    "brief",
    "briefly",
    "factbox",
    "explainer",
    "wrapup",
    "video",
    "watch",
    "just in",
    "developing",
    "newsflash",
    "instant view",
];

/// The title key: the title folded, with decorations removed, lower-cased, tokens joined
/// by one space. Rules, applied up to three times each:
///
/// * a leading flag from a fixed list of wire conventions followed by `-`, `:` or `|`,
///   with an optional number: `UPDATE 2-Rates rise` → `rates rise`,
///   `BREAKING: Rates rise` → `rates rise`;
/// * a leading label before `:` of at most 2 words, or of at most 4 ending in `Report`,
///   when at least 3 words follow: `Briefing: Rates rise`, `DF-Xinhua Report: Rates rise`
///   → `rates rise` (applied to every copy alike, so a title that itself starts with a
///   label, `At a glance: …`, still gives equal keys);
/// * a trailing ` - X`, ` | X`, ` -- X` or ` :: X` segment of at most 4 words, when at least
///   3 words remain: `Rates rise - Xinhua`, `Rates rise | The Daily Paper`;
/// * a trailing parenthesised flag of at most 2 words, when at least 3 words remain:
///   `Rates rise (video)`, `Rates rise (updated)`;
/// * capitals do not matter (`RATES RISE` equals `Rates rise`).
pub fn title_key(title: &str) -> String {
    let mut t = fold(title);
    for _ in 0..3 {
        let before = t.len();
        t = strip_title_prefix(&t).to_owned();
        t = strip_title_suffix(&t).to_owned();
        if t.len() == before {
            break;
        }
    }
    tokens(&t).join(" ")
}

fn strip_title_prefix(t: &str) -> &str {
    let Some(sep) = t.find(['-', ':', '|']) else {
        return t;
    };
    if sep > 40 {
        return t;
    }
    let head = t.get(..sep).unwrap_or("");
    let mut rest = t.get(sep..).unwrap_or("");
    rest = rest.trim_start_matches(['-', ':', '|', ' ']);
    let head_norm: String = tokens(head)
        .into_iter()
        .filter(|w| !w.chars().all(|c| c.is_ascii_digit()))
        .collect::<Vec<_>>()
        .join(" ");
    if PREFIX_FLAGS.contains(&head_norm.as_str()) && !rest.is_empty() {
        return rest;
    }
    // A short label before a colon: "Briefing: …", "XY-Agency Report: …".
    if let Some(colon) = t.find(':') {
        let label = t.get(..colon).unwrap_or("");
        let toks = tokens(label);
        let rest = t.get(colon + 1..).unwrap_or("").trim_start();
        let label_ok =
            toks.len() <= 2 || (toks.len() <= 4 && toks.last().is_some_and(|w| w == "report"));
        if !toks.is_empty() && label_ok && tokens(rest).len() >= 3 {
            return rest;
        }
    }
    t
}

fn strip_title_suffix(t: &str) -> &str {
    if let Some(inner) = t.strip_suffix(')')
        && let Some(open) = inner.rfind('(')
    {
        let head = t.get(..open).unwrap_or("").trim_end();
        let label = inner.get(open + 1..).unwrap_or("");
        if tokens(label).len() <= 2 && tokens(head).len() >= 3 {
            return head;
        }
    }
    for sep in [" | ", " - ", " -- ", " :: ", " / "] {
        if let Some(pos) = t.rfind(sep) {
            let head = t.get(..pos).unwrap_or("").trim_end();
            let tail = t.get(pos + sep.len()..).unwrap_or("");
            if tokens(tail).len() <= 4 && tokens(head).len() >= 3 {
                return head;
            }
        }
    }
    t
}

/// Query parameters that only track the reader.
fn is_tracking_param(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    n.starts_with("utm_")
        || n.starts_with("at_")
        || matches!(
            n.as_str(),
            "fbclid"
                | "gclid"
                | "dclid"
                | "gclsrc"
                | "msclkid"
                | "yclid"
                | "twclid"
                | "igshid"
                | "mc_cid"
                | "mc_eid"
                | "_ga"
                | "_gl"
                | "ref"
                | "ref_src"
                | "ref_url"
                | "referrer"
                | "cmpid"
                | "ocid"
                | "smid"
                | "sr_share"
                | "spm"
                | "wt.mc_id"
                | "s_cid"
                | "ito"
                | "rss"
                | "feed_id"
        )
}

/// The canonical form of an item link, or `None` for anything that is not an absolute
/// http(s) URL. Rules: scheme set to `https` (http and https copies are one page), host
/// lower-cased with a leading `www.` dropped, default port dropped, fragment dropped,
/// tracking parameters (`utm_*`, `at_*`, `fbclid`, `gclid`, `mc_cid`, …) dropped, the
/// remaining parameters sorted, a trailing `/` on a non-root path dropped.
/// `https://www.Paper.example/a/b/?utm_source=rss&p=7#top` → `https://paper.example/a/b?p=7`.
pub fn canonical_link(link: &str) -> Option<String> {
    let mut u = url::Url::parse(link.trim()).ok()?;
    if u.scheme() != "http" && u.scheme() != "https" {
        return None;
    }
    let host = u.host_str()?.to_ascii_lowercase();
    let host = host.strip_prefix("www.").unwrap_or(&host).to_owned();
    let mut pairs: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| !is_tracking_param(k))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    pairs.sort();
    u.set_fragment(None);
    u.set_query(None);
    let path = u.path().to_owned();
    let path = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        "/"
    };
    let mut out = format!("https://{host}");
    if let Some(port) = u.port() {
        out.push_str(&format!(":{port}"));
    }
    out.push_str(if path.is_empty() { "/" } else { path });
    if !pairs.is_empty() {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        out.push('?');
        out.push_str(&q);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn title_decorations_are_removed() {
        let k = title_key("Port strike ends after talks");
        for t in [
            "UPDATE 3-Port strike ends after talks",
            "BREAKING: Port strike ends after talks",
            "PORT STRIKE ENDS AFTER TALKS",
            "Port strike ends after talks - Nordpress",
            "Port strike ends after talks | The Harbour Times",
            "QX-Nordpress Report: Port strike ends after talks",
            "In brief: Port strike ends after talks",
            "Port strike ends after talks \u{2014} Andes Wire",
            "Port strike ends after talks (Updated)",
        ] {
            assert_eq!(title_key(t), k, "{t}");
        }
        assert_eq!(k, "port strike ends after talks");
    }

    #[test]
    fn canonical_links_drop_tracking_and_fragments() {
        assert_eq!(
            canonical_link("http://WWW.Paper.example/a/b/?utm_source=rss&p=7&utm_medium=x#top")
                .as_deref(),
            Some("https://paper.example/a/b?p=7")
        );
        assert_eq!(canonical_link("not a url"), None);
        assert_eq!(canonical_link("mailto:x@y.example"), None);
    }
}
