//! The desk's stories: the search form and filters, the list (newest
//! arrived first, or what is running everywhere), each story with its
//! number of copies and the copies behind a `<details>`, paging links, and
//! the same query as a feed.

use std::fmt::Write;

use chrono::{DateTime, Utc};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};

use super::params::{DeskParams, View};
use super::time;
use crate::model::{StoredItem, Story};
use crate::store::PageKey;

/// The stories' part of the page.
pub struct StoriesPart<'a> {
    pub params: &'a DeskParams,
    pub stories: &'a [Story],
    /// Where the next page starts (`Latest` only).
    pub next: Option<PageKey>,
    /// Configured sources (id, name), for the filter.
    pub sources: &'a [(String, String)],
    /// Tags the configured sources carry, for the tag field's suggestions.
    pub tags: &'a [String],
    /// Why the stories could not be listed (a bad parameter or search).
    pub notice: Option<&'a str>,
}

pub fn render(out: &mut String, part: &StoriesPart<'_>, now: DateTime<Utc>) {
    let p = part.params;
    let (latest, running) = match p.view {
        View::Latest => (" aria-current=\"page\"", ""),
        View::Running => ("", " aria-current=\"page\""),
    };
    let _ = write!(
        out,
        "<section aria-labelledby=\"stories-h\"><h2 id=\"stories-h\">Stories</h2>\n\
         <nav class=\"tabs\" aria-label=\"Which stories\"><a href=\"{l}\"{latest}>Latest</a>\
         <a href=\"{r}\"{running}>Running everywhere (most copies, 24 h)</a></nav>\n",
        l = attr(&format!(".{}", p.with_view(View::Latest).href())),
        r = attr(&format!(".{}", p.with_view(View::Running).href())),
    );
    form(out, part);
    if let Some(notice) = part.notice {
        let _ = writeln!(
            out,
            "<p class=\"notice\" role=\"alert\">{}</p>",
            text(notice)
        );
    }
    let feed = attr(&p.feed_href()).into_owned();
    let _ = writeln!(
        out,
        "<p class=\"links\">This {what} as a feed: <a href=\"feed.atom{feed}\">Atom</a> · \
         <a href=\"feed.rss{feed}\">RSS</a> · <a href=\"feed.json{feed}\">JSON</a></p>",
        what = if p.view == View::Running {
            "search and filter"
        } else {
            "list"
        },
    );
    if part.stories.is_empty() && part.notice.is_none() {
        out.push_str("<p class=\"quiet\">No stories match.</p>\n");
    }
    if !part.stories.is_empty() {
        out.push_str("<ol class=\"stories\">\n");
        for story in part.stories {
            item(out, story, now);
        }
        out.push_str("</ol>\n");
    }
    paging(out, part);
    out.push_str("</section>\n");
}

/// The search form: plain GET, so it works without script.
fn form(out: &mut String, part: &StoriesPart<'_>) {
    let p = part.params;
    let _ = write!(
        out,
        "<form class=\"search\" method=\"get\" action=\".\" role=\"search\">\
         <div><label for=\"q\">Search</label><input type=\"search\" id=\"q\" name=\"q\" value=\"{q}\" maxlength=\"500\"></div>\
         <div><label for=\"source\">Source</label><select id=\"source\" name=\"source\"><option value=\"\">All sources</option>",
        q = attr(p.feed.search.as_deref().unwrap_or("")),
    );
    for (id, name) in part.sources {
        let selected = if p.feed.sources.len() == 1 && p.feed.sources[0].as_str() == id {
            " selected"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<option value=\"{}\"{selected}>{}</option>",
            attr(id),
            text(name)
        );
    }
    let _ = write!(
        out,
        "</select></div><div><label for=\"tag\">Tag</label><input id=\"tag\" name=\"tag\" list=\"tags\" value=\"{}\" maxlength=\"100\">\
         <datalist id=\"tags\">",
        attr(p.feed.tag.as_deref().unwrap_or(""))
    );
    for tag in part.tags {
        let _ = write!(out, "<option value=\"{}\">", attr(tag));
    }
    out.push_str("</datalist></div>");
    if p.view == View::Running {
        out.push_str("<input type=\"hidden\" name=\"view\" value=\"running\">");
    }
    if let Some(token) = &p.token {
        let _ = write!(
            out,
            "<input type=\"hidden\" name=\"token\" value=\"{}\">",
            attr(token)
        );
    }
    let _ = writeln!(
        out,
        "<div class=\"buttons\"><button type=\"submit\">Search</button> <a href=\"{}\">Clear</a></div></form>",
        attr(&format!(".{}", p.cleared().with_view(p.view).href()))
    );
}

fn item(out: &mut String, story: &Story, now: DateTime<Utc>) {
    let chosen = &story.chosen;
    let copies = 1 + story.others.len();
    let _ = write!(
        out,
        "<li><h3>{}</h3><p class=\"meta\">{} · arrived {}",
        // Never blank: the feeds' own title rule (first words, the link...).
        link(
            &crate::serve::render::title_of(story),
            chosen.item.link.as_deref()
        ),
        text(&chosen.source_name),
        time::tag(Some(story.arrived), now),
    );
    if copies > 1 {
        let _ = write!(
            out,
            " · <strong class=\"copies\">{copies} copies</strong></p>\
             <details><summary>The {copies} copies</summary><ul class=\"copies\">"
        );
        for copy in story.copies() {
            copy_line(out, copy, now);
        }
        out.push_str("</ul></details></li>\n");
    } else {
        out.push_str(" · 1 copy</p></li>\n");
    }
}

fn copy_line(out: &mut String, copy: &StoredItem, now: DateTime<Utc>) {
    let _ = write!(
        out,
        "<li>{}: {} <span class=\"quiet\">{}</span></li>",
        text(&copy.source_name),
        link(&copy.item.title, copy.item.link.as_deref()),
        time::tag(Some(copy.date()), now),
    );
}

fn paging(out: &mut String, part: &StoriesPart<'_>) {
    let p = part.params;
    let mut links = Vec::new();
    if p.feed.after.is_some() {
        links.push(format!(
            "<a href=\"{}\">Newest stories</a>",
            attr(&format!(".{}", p.first_page().href()))
        ));
    }
    if let Some(key) = part.next {
        links.push(format!(
            "<a href=\"{}\" rel=\"next\">Older stories</a>",
            attr(&format!(".{}", p.page_after(key).href()))
        ));
    }
    if !links.is_empty() {
        let _ = writeln!(
            out,
            "<nav class=\"paging\" aria-label=\"Pages\">{}</nav>",
            links.join(" ")
        );
    }
}

/// `label`, linked to `href` when it is an http(s) URL.
pub fn link(label: &str, href: Option<&str>) -> String {
    let href = href.filter(|h| h.starts_with("https://") || h.starts_with("http://"));
    // A copy without a title is named by where it links (#18: "(untitled)").
    let bare = href.map(|h| h.split_once("://").map_or(h, |(_, rest)| rest));
    let label = match (label.trim().is_empty(), bare) {
        (false, _) => label,
        (true, Some(bare)) => bare,
        (true, None) => "(no title)",
    };
    match href {
        Some(href) => format!("<a href=\"{}\">{}</a>", attr(href), text(label)),
        None => text(label).into_owned(),
    }
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
        assert_eq!(link(" ", None), "(no title)");
        assert_eq!(
            link(" ", Some("https://e.example/a")),
            "<a href=\"https://e.example/a\">e.example/a</a>"
        );
    }
}
