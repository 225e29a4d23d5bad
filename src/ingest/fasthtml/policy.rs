//! ammonia's default policy, as far as the fast path needs it: the elements
//! it accepts and how the tree builder treats each, the attributes kept on
//! them, and what becomes of a URL. A test checks these against ammonia's
//! own tables.

use url::Url;

/// Elements with no special tree-construction rule beyond push and pop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Class {
    /// Block containers: may hold blocks, inline content and text.
    Container,
    /// `p` and `h1`-`h6`: inline content and text only.
    Leaf,
    /// `li`: a container whose parent must be `ul`/`ol`.
    ListItem,
    /// Inline elements (formatting elements included).
    Inline,
    /// `br`, `img`.
    Void,
}

pub(super) fn class(name: &str) -> Option<Class> {
    Some(match name {
        // `figure` and `figcaption` are in `div`'s group of the tree
        // builder's rules, for start and end tags alike.
        "div" | "blockquote" | "ul" | "ol" | "figure" | "figcaption" => Class::Container,
        "li" => Class::ListItem,
        "p" | "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => Class::Leaf,
        // Formatting elements (html5ever's active formatting list; never
        // nested in themselves here, so the adoption agency has nothing to do)
        "a" | "b" | "code" | "em" | "i" | "s" | "small" | "strike" | "strong" | "tt" | "u"
        // ...and phrasing elements handled as "any other start/end tag".
        | "abbr" | "acronym" | "bdi" | "cite" | "data" | "del" | "dfn" | "ins" | "kbd"
        | "mark" | "q" | "samp" | "span" | "sub" | "sup" | "time" | "var" => Class::Inline,
        "br" | "img" => Class::Void,
        _ => return None,
    })
}

/// Attributes ammonia's default policy keeps on `tag` (generic ones included).
pub(crate) fn allowed_attr(tag: &str, attr: &str) -> bool {
    matches!(attr, "lang" | "title")
        || matches!(
            (tag, attr),
            ("a", "href" | "hreflang")
                | ("img", "align" | "alt" | "height" | "src" | "width")
                | ("blockquote" | "q", "cite")
                | ("del" | "ins", "cite" | "datetime")
                | ("ol", "start")
        )
}

/// `raw` (any case) as a static lower-case name when ammonia keeps it on `tag`.
pub(super) fn allowed_attr_name(tag: &str, raw: &str) -> Option<&'static str> {
    const NAMES: &[&str] = &[
        "href", "src", "alt", "title", "lang", "hreflang", "align", "height", "width", "cite",
        "datetime", "start",
    ];
    let name = NAMES
        .iter()
        .copied()
        .find(|n| n.len() == raw.len() && n.eq_ignore_ascii_case(raw))?;
    allowed_attr(tag, name).then_some(name)
}

/// ammonia's default `url_schemes`.
pub(crate) const URL_SCHEMES: &[&str] = &[
    "bitcoin",
    "ftp",
    "ftps",
    "geo",
    "http",
    "https",
    "im",
    "irc",
    "ircs",
    "magnet",
    "mailto",
    "mms",
    "mx",
    "news",
    "nntp",
    "openpgp4fpr",
    "sip",
    "sms",
    "smsto",
    "ssh",
    "tel",
    "url",
    "webcal",
    "wtai",
    "xmpp",
];

pub(super) const LINK_REL: &str = "noopener noreferrer";

/// What ammonia does with a URL attribute value: keep it (possibly
/// rewritten) or drop the attribute. `Err(())` when dropping would make
/// ammonia reorder the attributes (its `swap_remove`): not handled here.
pub(super) fn url_value(v: &str, base: Option<&Url>) -> Result<Option<String>, ()> {
    match Url::parse(v) {
        Ok(u) => Ok(URL_SCHEMES.contains(&u.scheme()).then(|| v.to_owned())),
        Err(url::ParseError::RelativeUrlWithoutBase) => match base {
            // Relative URLs are kept by the filter, then rewritten; a failed
            // rewrite is removed with `swap_remove`.
            Some(b) => b.join(v).map(|u| Some(String::from(u))).map_err(|_| ()),
            // `UrlRelative::Deny`: removed by the filter, order kept.
            None => Ok(None),
        },
        Err(_) => Ok(None),
    }
}

/// The accepted element named `name` (any case), as a static lower-case name.
pub(super) fn static_name(name: &str) -> Option<&'static str> {
    if name.len() > 10 {
        return None;
    }
    TAGS_STATIC
        .iter()
        .copied()
        .find(|t| t.len() == name.len() && t.eq_ignore_ascii_case(name))
}

/// Every element [`class`] accepts, most frequent first.
const TAGS_STATIC: &[&str] = &[
    "p",
    "a",
    "br",
    "img",
    "em",
    "strong",
    "b",
    "i",
    "li",
    "ul",
    "ol",
    "div",
    "blockquote",
    "figure",
    "figcaption",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "code",
    "s",
    "small",
    "strike",
    "tt",
    "u",
    "abbr",
    "acronym",
    "bdi",
    "cite",
    "data",
    "del",
    "dfn",
    "ins",
    "kbd",
    "mark",
    "q",
    "samp",
    "span",
    "sub",
    "sup",
    "time",
    "var",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_matches_ammonias_defaults() {
        let b = ammonia::Builder::default();
        let tags = b.clone_tags();
        let clean_content = b.clone_clean_content_tags();
        let generic = b.clone_generic_attributes();
        let per_tag = b.clone_tag_attributes();
        assert_eq!(b.get_link_rel(), Some(LINK_REL));
        let mut schemes: Vec<&str> = b.clone_url_schemes().into_iter().collect();
        schemes.sort_unstable();
        assert_eq!(schemes, URL_SCHEMES);
        assert!(b.clone_tag_attribute_values().is_empty());
        assert!(b.clone_set_tag_attribute_values().is_empty());
        assert!(b.clone_generic_attribute_prefixes().is_none());
        assert!(b.clone_allowed_classes().is_empty());
        let candidates = [
            "href", "hreflang", "src", "alt", "title", "lang", "align", "height", "width", "cite",
            "datetime", "start", "dir", "class", "id", "style", "rel", "onclick", "target", "name",
            "type", "value", "span", "summary",
        ];
        for tag in TAGS_STATIC {
            assert!(tags.contains(tag), "{tag}");
            assert!(!clean_content.contains(tag), "{tag}");
            assert!(class(tag).is_some(), "{tag}");
            for attr in candidates {
                let theirs = generic.contains(attr)
                    || per_tag.get(tag).is_some_and(|set| set.contains(attr));
                assert_eq!(allowed_attr(tag, attr), theirs, "{tag} {attr}");
            }
            if let Some(set) = per_tag.get(tag) {
                for attr in set {
                    assert!(allowed_attr(tag, attr), "{tag} {attr}");
                    assert_eq!(allowed_attr_name(tag, attr), Some(*attr), "{tag}");
                }
            }
        }
        for attr in &generic {
            assert!(allowed_attr("span", attr), "{attr}");
            assert_eq!(allowed_attr_name("span", attr), Some(*attr));
        }
    }
}
