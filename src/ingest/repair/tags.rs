//! The rules for start and end tags: where an entry and its children are,
//! the root's version and namespace, Atom 0.3 names and Atom text types.

use super::escape::{parse_attrs, unescape_attr};
use super::{Dialect, MAX_DEPTH, Open, Scanner, Span, local};
use crate::ingest::{IngestError, Warning, WarningKind};

const ATOM_NS: &str = "http://www.w3.org/2005/Atom";
const ATOM03_NS: &str = "http://purl.org/atom/ns#";
const RSS1_NS: &str = "http://purl.org/rss/1.0/";
const RSS090_NS: &str = "http://my.netscape.com/rdf/simple/0.9/";

impl Scanner<'_> {
    pub(super) fn start_tag(
        &mut self,
        name: &str,
        attrs: &str,
        self_closing: bool,
    ) -> Result<(), IngestError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(IngestError::Malformed {
                reason: format!("elements nested deeper than {MAX_DEPTH} levels"),
            });
        }
        let tag_start = self.out.len();
        let depth = self.stack.len();
        let lname = local(name);
        let is_entry = self.starts_entry(lname, depth);
        let is_entry_child =
            self.current.is_some() && self.stack.last().is_some_and(|o| o.is_entry);
        if is_entry && self.header_end.is_none() {
            self.end_header(tag_start);
        }

        let out_name = self.write_start_tag(name, attrs, depth);
        if self_closing {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
        }

        if is_entry {
            self.current = Some(Span {
                start: tag_start,
                end: tag_start,
                children: Vec::new(),
                enclosures: Vec::new(),
                base: xml_base(attrs).or_else(|| self.root_base.clone()),
                about: (self.dialect == Dialect::Rdf)
                    .then(|| rdf_about(attrs))
                    .flatten(),
            });
        }
        if is_entry_child && lname == "enclosure" && self.dialect != Dialect::Atom {
            self.record_enclosure(attrs);
        }
        if self_closing {
            if is_entry {
                self.close_entry();
            } else if is_entry_child {
                let end = self.out.len();
                if let Some(cur) = self.current.as_mut() {
                    cur.children.push((tag_start, end, name.to_owned()));
                }
            }
        } else {
            self.stack.push(Open {
                name: out_name,
                raw: name.to_owned(),
                out_start: tag_start,
                is_entry,
                is_entry_child,
            });
        }
        Ok(())
    }

    /// Whether an element named `lname` opened at `depth` starts an entry.
    fn starts_entry(&self, lname: &str, depth: usize) -> bool {
        self.current.is_none()
            && matches!(lname, "item" | "entry")
            && match self.dialect {
                // An Atom entry document's root is its one entry.
                Dialect::Atom => depth == 1 || (depth == 0 && lname == "entry"),
                Dialect::Rdf => depth == 1,
                Dialect::Rss => {
                    depth == 2
                        && self
                            .stack
                            .get(1)
                            .is_some_and(|o| local(&o.raw) == "channel")
                }
            }
    }

    /// The first entry starts at `tag_start`: the header ends there, and the
    /// elements open around it are the document's closers.
    fn end_header(&mut self, tag_start: usize) {
        self.header_end = Some(tag_start);
        let closers = self
            .stack
            .iter()
            .rev()
            .map(|o| format!("</{}>", o.name))
            .collect();
        self.closers = Some(closers);
    }

    /// Writes `<name attrs` (without its `>`), renamed and normalised as the
    /// root or Atom need; returns the name written.
    fn write_start_tag(&mut self, name: &str, attrs: &str, depth: usize) -> String {
        if depth == 0 {
            self.root_base = xml_base(attrs);
            self.root_tag(name, attrs);
            name.to_owned()
        } else if self.dialect == Dialect::Atom {
            self.atom_tag(name, attrs)
        } else {
            self.out.push('<');
            self.out.push_str(name);
            self.push_attrs(attrs);
            name.to_owned()
        }
    }

    /// Keeps an RSS `<enclosure>` of the current entry (see [`Span::enclosures`]).
    fn record_enclosure(&mut self, attrs: &str) {
        let list = parse_attrs(attrs);
        let get = |key: &str| {
            list.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| unescape_attr(v.trim()))
                .filter(|v| !v.is_empty())
        };
        if let (Some(url), Some(cur)) = (get("url"), self.current.as_mut()) {
            cur.enclosures.push(crate::model::Enclosure {
                url,
                mime_type: get("type"),
                length: get("length").and_then(|l| l.parse().ok()),
            });
        }
    }

    pub(super) fn close_entry(&mut self) {
        if let Some(mut cur) = self.current.take() {
            cur.end = self.out.len();
            self.entries.push(cur);
        }
    }

    /// An RSS 1.0 item closing with an `rdf:about` but no `<link>`: its
    /// `rdf:about` is written as its link, as feedparser reads it (RSS 1.0
    /// requires the attribute; some feeds give nothing else but a title).
    pub(super) fn link_from_about(&mut self) {
        let Some(cur) = self.current.as_ref() else {
            return;
        };
        let Some(about) = cur.about.as_deref() else {
            return;
        };
        if cur
            .children
            .iter()
            .any(|(_, _, name)| local(name) == "link")
        {
            return;
        }
        let escaped = about
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;");
        self.out.push_str("<link>");
        self.out.push_str(&escaped);
        self.out.push_str("</link>");
        self.warnings.push(Warning::new(
            WarningKind::FormatNormalised,
            "RSS 1.0 item without <link>: its rdf:about read as its link",
        ));
    }

    pub(super) fn end_tag(&mut self, raw: &str) {
        let Some(pos) = self.stack.iter().rposition(|o| o.raw == raw) else {
            self.counts.stray += 1;
            return;
        };
        while self.stack.len() > pos {
            let Some(open) = self.stack.pop() else { break };
            if self.stack.len() > pos {
                self.counts.closed += 1;
            }
            if open.is_entry {
                self.link_from_about();
            }
            self.out.push_str("</");
            self.out.push_str(&open.name);
            self.out.push('>');
            if open.is_entry {
                self.close_entry();
            } else if open.is_entry_child {
                let end = self.out.len();
                if let Some(cur) = self.current.as_mut() {
                    cur.children.push((open.out_start, end, open.raw.clone()));
                }
            }
        }
        if self.stack.is_empty() {
            self.root_closed = true;
        }
    }

    /// The root start tag: normalise RSS versions and old namespaces.
    fn root_tag(&mut self, name: &str, attrs: &str) {
        let mut list = parse_attrs(attrs);
        match self.dialect {
            Dialect::Rss => {
                let version = list
                    .iter()
                    .find(|(k, _)| k == "version")
                    .map(|(_, v)| v.trim().to_owned());
                let ok = matches!(version.as_deref(), Some("2.0" | "0.91" | "0.92"));
                if !ok {
                    self.warnings.push(Warning::new(
                        WarningKind::FormatNormalised,
                        format!(
                            "RSS version {:?} read as RSS 2.0",
                            version.as_deref().unwrap_or("(none)")
                        ),
                    ));
                    list.retain(|(k, _)| k != "version");
                    list.push(("version".into(), "2.0".into()));
                }
                // RSS 2.0's elements are in no namespace; feed-rs reads none
                // of them under a default one, such as UserLand's
                // `http://backend.userland.com/rss2` (feedparser ignores it).
                if let Some((_, ns)) = list.iter().find(|(k, _)| k == "xmlns") {
                    self.warnings.push(Warning::new(
                        WarningKind::FormatNormalised,
                        format!(
                            "RSS default namespace {:?} dropped: RSS 2.0 elements have none",
                            ns.trim()
                        ),
                    ));
                    list.retain(|(k, _)| k != "xmlns");
                }
            }
            Dialect::Rdf => {
                for (k, v) in list.iter_mut() {
                    if k.starts_with("xmlns") && v.trim() == RSS090_NS {
                        *v = RSS1_NS.into();
                        self.warnings.push(Warning::new(
                            WarningKind::FormatNormalised,
                            "RSS 0.90 namespace read as RSS 1.0",
                        ));
                    }
                }
            }
            Dialect::Atom => {
                for (k, v) in list.iter_mut() {
                    if k.starts_with("xmlns") && v.trim() == ATOM03_NS {
                        *v = ATOM_NS.into();
                        self.atom03 = true;
                    }
                }
                let v03 = list
                    .iter()
                    .any(|(k, v)| k == "version" && v.trim() == "0.3");
                if self.atom03 || v03 {
                    self.atom03 = true;
                    list.retain(|(k, _)| k != "version");
                    self.warnings.push(Warning::new(
                        WarningKind::FormatNormalised,
                        "Atom 0.3 mapped to Atom 1.0 (issued/modified/tagline/copyright/url, mode)",
                    ));
                }
            }
        }
        self.out.push('<');
        self.out.push_str(name);
        self.push_attr_list(&list);
    }

    /// Atom elements: map Atom 0.3 names and text-construct types feed-rs rejects.
    fn atom_tag(&mut self, name: &str, attrs: &str) -> String {
        let lname = local(name);
        let prefix = &name[..name.len() - lname.len()];
        let new_local = if self.atom03 {
            let parent = self.stack.last().map_or("", |o| local(&o.raw));
            atom03_local(lname, parent)
        } else {
            lname
        };
        let is_text = matches!(
            new_local,
            "content" | "summary" | "title" | "subtitle" | "rights"
        );
        let needs_attrs = is_text && (attrs.contains("type") || attrs.contains("mode"));
        if !needs_attrs {
            let out_name = format!("{prefix}{new_local}");
            self.out.push('<');
            self.out.push_str(&out_name);
            self.push_attrs(attrs);
            return out_name;
        }
        self.atom_text_tag(prefix, new_local, attrs)
    }

    /// An Atom text construct with a `type` or `mode`: kept, its type mapped
    /// to one feed-rs reads, or renamed out of the way when it is not text.
    fn atom_text_tag(&mut self, prefix: &str, new_local: &str, attrs: &str) -> String {
        let mut list = parse_attrs(attrs);
        let ty = list
            .iter()
            .find(|(k, _)| k == "type")
            .map(|(_, v)| v.trim().to_ascii_lowercase());
        let mode = list
            .iter()
            .find(|(k, _)| k == "mode")
            .map(|(_, v)| v.trim().to_ascii_lowercase());
        let has_src = list.iter().any(|(k, _)| k == "src");
        list.retain(|(k, _)| k != "mode");
        let mapped = atom_text_type(ty.as_deref(), mode.as_deref(), has_src, new_local);
        let out_name = match mapped {
            Some(m) => {
                if m != "keep" {
                    list.retain(|(k, _)| k != "type");
                    list.push(("type".into(), m.into()));
                    self.warnings.push(Warning::new(
                        WarningKind::FormatNormalised,
                        format!(
                            "Atom <{new_local}> type {:?} read as {m}",
                            ty.as_deref().unwrap_or("")
                        ),
                    ));
                }
                format!("{prefix}{new_local}")
            }
            None => {
                self.warnings.push(Warning::new(
                    WarningKind::FieldDropped,
                    format!(
                        "Atom <{new_local}> of type {:?}{} dropped: not text",
                        ty.as_deref().unwrap_or(""),
                        if mode.as_deref() == Some("base64") {
                            " (base64)"
                        } else {
                            ""
                        }
                    ),
                ));
                format!("wd-dropped-{new_local}")
            }
        };
        self.out.push('<');
        self.out.push_str(&out_name);
        self.push_attr_list(&list);
        out_name
    }
}

/// The Atom 1.0 name of the Atom 0.3 element `lname` inside `parent`.
fn atom03_local<'a>(lname: &'a str, parent: &str) -> &'a str {
    match lname {
        "issued" => "published",
        "modified" => "updated",
        "created" => "wd-created",
        "tagline" => "subtitle",
        "copyright" => "rights",
        "url" if parent == "author" || parent == "contributor" => "uri",
        other => other,
    }
}

/// What an Atom text construct's `type`/`mode` (lower case) becomes: `"keep"`,
/// a type feed-rs reads, or `None` when the element carries no text.
fn atom_text_type(
    ty: Option<&str>,
    mode: Option<&str>,
    has_src: bool,
    new_local: &str,
) -> Option<&'static str> {
    match (ty, mode) {
        (_, Some("base64")) => None,
        (_, _) if has_src && new_local == "content" => ty.map(|_| "keep"),
        (Some("text" | "html" | "xhtml"), _) => Some("keep"),
        (Some("text/html"), _) | (None, Some("escaped")) => Some("html"),
        (Some("application/xhtml+xml"), _) | (None, Some("xml")) => Some("xhtml"),
        (Some(t), _) if t.is_empty() || t.starts_with("text/") => Some("text"),
        (Some(t), _) if new_local == "content" && (t.ends_with("+xml") || t.ends_with("/xml")) => {
            Some("keep")
        }
        (None, _) => Some("keep"),
        (Some(_), _) => None,
    }
}

fn rdf_about(attrs: &str) -> Option<String> {
    if !attrs.contains("about") {
        return None;
    }
    parse_attrs(attrs)
        .into_iter()
        .find(|(k, _)| local(k) == "about")
        .map(|(_, v)| unescape_attr(v.trim()))
        .filter(|v| !v.is_empty())
}

fn xml_base(attrs: &str) -> Option<String> {
    if !attrs.contains("xml:base") {
        return None;
    }
    parse_attrs(attrs)
        .into_iter()
        .find(|(k, _)| k == "xml:base")
        .map(|(_, v)| unescape_attr(v.trim()))
        .filter(|v| !v.is_empty())
}
