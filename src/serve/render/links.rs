//! What a link looks like once served (issue #18): only `http` and `https`
//! are served (a `file:` source's path, or an item link resolved against
//! it, is a local path and never leaves the machine), and the tracking
//! parameters publishers append for their analytics are taken off. The
//! stored item keeps its link as the source gave it.
//!
//! An enclosure the source gave no type is typed from its URL's extension.

use url::Url;

use super::xml_safe;

/// The link as served: XML-safe, `http(s)` only, without tracking
/// parameters; `None` for anything else (a local path, a `javascript:` or
/// `data:` link, a blank or relative one).
pub(crate) fn served_link(href: &str) -> Option<String> {
    let mut url = Url::parse(xml_safe(href).trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") {
        return None;
    }
    if let Some(query) = url.query() {
        // The query is filtered as written (not decoded and re-encoded), so
        // the parameters kept are served byte for byte.
        let kept: Vec<&str> = query
            .split('&')
            .filter(|pair| !pair.is_empty() && !is_tracking(pair))
            .collect();
        let kept = kept.join("&");
        url.set_query((!kept.is_empty()).then_some(kept.as_str()));
    }
    Some(url.into())
}

/// Whether `key=value` is a tracking parameter: `utm_*` (Google
/// Analytics' campaign tags), `fbclid`, `gclid` (Facebook's and Google Ads'
/// click ids), `mc_cid`, `mc_eid` (Mailchimp), `wt_mc` and `WT.mc_id`
/// (Webtrends). None of them selects the page.
fn is_tracking(pair: &str) -> bool {
    let key = pair.split_once('=').map_or(pair, |(k, _)| k);
    let key = key.to_ascii_lowercase();
    key.starts_with("utm_")
        || matches!(
            key.as_str(),
            "fbclid" | "gclid" | "mc_cid" | "mc_eid" | "wt_mc" | "wt.mc_id"
        )
}

/// The enclosure's media type: the source's, else one known from the URL's
/// extension; `None` when neither says (a writer then omits it or says
/// `application/octet-stream` where the format needs a type).
pub(crate) fn enclosure_type(url: &str, given: Option<&str>) -> Option<String> {
    let given = given.map(xml_safe);
    let given = given.as_deref().map(str::trim).unwrap_or("");
    if !given.is_empty() && given != "application/octet-stream" {
        return Some(given.to_owned());
    }
    let path = Url::parse(url).ok()?.path().to_ascii_lowercase();
    let name = path.rsplit('/').next().unwrap_or("");
    let (_, extension) = name.rsplit_once('.')?;
    let known = match extension {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "svg" => "image/svg+xml",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "ogg" | "oga" | "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "mp4" | "m4v" => "video/mp4",
        "webm" => "video/webm",
        "mov" => "video/quicktime",
        "pdf" => "application/pdf",
        _ => return None,
    };
    Some(known.to_owned())
}

/// The enclosure's length in bytes when it is known: a length of 0 is a
/// source's placeholder for "unknown", not a size.
pub(crate) fn enclosure_length(length: Option<u64>) -> Option<u64> {
    length.filter(|&l| l > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracking_parameters_are_taken_off_and_the_rest_kept_as_written() {
        let served = |href: &str| served_link(href).unwrap();
        assert_eq!(
            served("https://a.example/x?utm_source=rss&utm_medium=feed&id=7"),
            "https://a.example/x?id=7"
        );
        assert_eq!(
            served("https://a.example/x?q=a+b%20c&fbclid=IwAR0&page=2#top"),
            "https://a.example/x?q=a+b%20c&page=2#top"
        );
        assert_eq!(
            served("https://a.example/x?gclid=1&mc_cid=2&mc_eid=3&WT.mc_id=4&wt_mc=5&UTM_Term=6"),
            "https://a.example/x"
        );
        assert_eq!(
            served("https://a.example/x?a=1&b=2"),
            "https://a.example/x?a=1&b=2"
        );
        assert_eq!(
            served("https://a.example/x?utmost=1"),
            "https://a.example/x?utmost=1"
        );
    }

    #[test]
    fn a_local_or_odd_link_is_never_served() {
        for href in [
            "file:///tmp/desk/wire.xml",
            "file:///local/7",
            "javascript:alert(1)",
            "data:text/html,x",
            "/relative/7",
            "",
            "  ",
        ] {
            assert_eq!(served_link(href), None, "{href}");
        }
    }

    #[test]
    fn an_untyped_enclosure_is_typed_from_its_extension() {
        let t = |url: &str, given: Option<&str>| enclosure_type(url, given);
        assert_eq!(
            t("https://i.example/p.JPG?w=2", None).unwrap(),
            "image/jpeg"
        );
        assert_eq!(
            t("https://i.example/p.webp", Some("")).unwrap(),
            "image/webp"
        );
        assert_eq!(
            t("https://i.example/p.png", Some("application/octet-stream")).unwrap(),
            "image/png"
        );
        assert_eq!(
            t("https://i.example/p.png", Some("image/x-png")).unwrap(),
            "image/x-png"
        );
        assert_eq!(t("https://i.example/download", None), None);
        assert_eq!(t("https://i.example/a.b/file", None), None);
        assert_eq!(enclosure_length(Some(0)), None);
        assert_eq!(enclosure_length(Some(12)), Some(12));
    }
}
