//! Reading an OPML file (a feed reader's export) for `import-opml`: every
//! outline with an `xmlUrl` is a feed; the titles of the outlines it is
//! nested in (folders) are its tags.

use super::CliError;
use super::new_sources::Found;

/// The feeds an OPML document lists, in document order. `bytes` may be in
/// any encoding (declared, or with a byte-order mark), as feeds may.
pub fn feeds(bytes: &[u8]) -> Result<Vec<Found>, CliError> {
    use quick_xml::events::Event;
    let base = url::Url::parse("file:///opml").map_err(|e| CliError::BadOpml(e.to_string()))?;
    let text = crate::ingest::decode_text(bytes, None, &base);
    let mut reader = quick_xml::Reader::from_str(&text);
    let mut folders: Vec<Option<String>> = Vec::new();
    let mut found = Vec::new();
    let mut saw_opml = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| CliError::BadOpml(format!("at byte {}: {e}", reader.buffer_position())))?;
        let (element, empty) = match event {
            Event::Start(e) => (e, false),
            Event::Empty(e) => (e, true),
            Event::End(e) if e.name().as_ref() == "outline" => {
                folders.pop();
                continue;
            }
            Event::Eof => break,
            _ => continue,
        };
        match element.name().as_ref() {
            "opml" => saw_opml = true,
            "outline" => {
                let mut text = None;
                let mut title = None;
                let mut xml_url = None;
                for attr in element.attributes().flatten() {
                    let value = attr
                        .normalized_value(quick_xml::XmlVersion::Implicit1_0)
                        .map(|v| v.trim().to_owned())
                        .ok()
                        .filter(|v| !v.is_empty());
                    match attr.key.as_ref() {
                        "text" => text = value,
                        "title" => title = value,
                        "xmlUrl" | "xmlurl" | "xmlURL" => xml_url = value,
                        _ => {}
                    }
                }
                let name = title.or(text);
                if let Some(url) = xml_url {
                    found.push(Found {
                        name: name.clone(),
                        url,
                        tags: folders.iter().flatten().cloned().collect(),
                    });
                }
                if !empty {
                    folders.push(name);
                }
            }
            _ => {}
        }
    }
    if !saw_opml {
        return Err(CliError::BadOpml("no <opml> element".into()));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(name: &str, url: &str, tags: &[&str]) -> Found {
        Found {
            name: Some(name.to_owned()),
            url: url.to_owned(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    #[test]
    fn outlines_with_an_xml_url_are_feeds_and_their_folders_tags() {
        let opml = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>Reader export</title></head><body>
  <outline text="World">
    <outline type="rss" text="Xinhua | World" xmlUrl="http://www.xinhuanet.com/english/rss/worldrss.xml"/>
    <outline type="rss" text="BBC News &amp; Co" title="BBC News" xmlUrl="https://feeds.bbci.co.uk/news/world/rss.xml"/>
  </outline>
  <outline type="rss" text="BBC News" xmlUrl="https://feeds.bbci.co.uk/news/rss.xml"/>
  <outline text="Just a folder"/>
</body></opml>"#;
        assert_eq!(
            feeds(opml.as_bytes()).unwrap(),
            [
                found(
                    "Xinhua | World",
                    "http://www.xinhuanet.com/english/rss/worldrss.xml",
                    &["World"]
                ),
                found(
                    "BBC News",
                    "https://feeds.bbci.co.uk/news/world/rss.xml",
                    &["World"]
                ),
                found("BBC News", "https://feeds.bbci.co.uk/news/rss.xml", &[]),
            ]
        );
    }

    /// Issue #18: an ISO-8859-1 OPML file was refused.
    #[test]
    fn an_opml_file_in_latin_1_is_read() {
        let mut opml =
            b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<opml version=\"1.0\"><body>\
            <outline text=\"S"
                .to_vec();
        opml.push(0xFC); // ü in ISO-8859-1
        opml.extend_from_slice(
            b"ddeutsche Zeitung Politik\" xmlUrl=\"https://rss.sueddeutsche.de/politik\"/>\
              </body></opml>",
        );
        assert_eq!(
            feeds(&opml).unwrap(),
            [found(
                "Süddeutsche Zeitung Politik",
                "https://rss.sueddeutsche.de/politik",
                &[]
            )]
        );
    }

    #[test]
    fn a_file_that_is_not_opml_is_refused() {
        assert!(matches!(feeds(b"<rss></rss>"), Err(CliError::BadOpml(_))));
        assert!(matches!(
            feeds(b"<opml><body><outline"),
            Err(CliError::BadOpml(_))
        ));
    }
}
