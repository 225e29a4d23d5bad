//! The configured sources as OPML 2.0 (<http://opml.org/spec2.opml>), for
//! importing them into a feed reader.

use html_escape::encode_double_quoted_attribute as attr;

use super::xml_safe;
use crate::model::Source;

/// The OPML 2.0 document listing `sources`, one `outline type="rss"` each;
/// a source's tags become its `category` attribute. A source read from a
/// local file is listed by name only, without `type` and `xmlUrl`: a local
/// path is never served (issue #18), and no reader elsewhere could read it.
pub fn opml(title: &str, sources: &[Source]) -> String {
    let mut out =
        String::from("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<opml version=\"2.0\">\n");
    out.push_str(&format!(
        "<head><title>{}</title></head>\n<body>\n",
        html_escape::encode_text(&xml_safe(title)),
    ));
    for source in sources {
        let name = attr(&xml_safe(&source.name)).into_owned();
        if matches!(source.url.scheme(), "http" | "https") {
            out.push_str(&format!(
                "<outline type=\"rss\" text=\"{name}\" title=\"{name}\" xmlUrl=\"{}\"",
                attr(&xml_safe(source.url.as_str()))
            ));
        } else {
            out.push_str(&format!("<outline text=\"{name}\" title=\"{name}\""));
        }
        if !source.tags.is_empty() {
            // OPML categories are comma-separated; a comma inside a tag
            // would split it, so it is dropped.
            let tags: Vec<String> = source.tags.iter().map(|t| t.replace(',', " ")).collect();
            out.push_str(&format!(
                " category=\"{}\"",
                attr(&xml_safe(&tags.join(",")))
            ));
        }
        out.push_str("/>\n");
    }
    out.push_str("</body>\n</opml>\n");
    out
}
