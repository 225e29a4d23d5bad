//! Feeds found by `import-opml` and `discover`, turned into `[[sources]]`:
//! which are new, which are skipped and why, what id each gets; then either
//! TOML text to paste or the config file edited in place.
//!
//! Deciding is pure ([`plan`], [`slug`]); the file edit ([`append_to_file`])
//! keeps the file's comments and layout (`toml_edit`) and refuses to write a
//! config that would not load.

use std::path::{Path, PathBuf};

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, value};
use url::Url;

/// A feed as found: in an OPML outline or an HTML page's `<link>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// Its title, if it had one.
    pub name: Option<String>,
    /// Its URL as written.
    pub url: String,
    /// Folder names (OPML) or none.
    pub tags: Vec<String>,
}

/// A source to add.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSource {
    pub id: String,
    pub name: String,
    pub url: Url,
    pub tags: Vec<String>,
}

/// A feed not added, and why (worded to follow its URL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub url: String,
    pub name: Option<String>,
    pub why: String,
}

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{:?} ({name}): {}", self.url, self.why),
            None => write!(f, "{:?}: {}", self.url, self.why),
        }
    }
}

/// What to do with the feeds found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub added: Vec<NewSource>,
    pub skipped: Vec<Skipped>,
}

/// A source already configured: its id and URL as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub id: String,
    pub url: String,
}

/// Why the config file could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error("{file}: {reason}")]
    Io { file: PathBuf, reason: String },
    #[error("{file}: not TOML the config can be edited in: {reason}")]
    NotToml { file: PathBuf, reason: String },
    #[error("{file}: `sources` must be written as [[sources]] tables to add to it")]
    SourcesNotTables { file: PathBuf },
    /// The file with the new sources would not load; nothing was written.
    #[error("not written, the result would be invalid: {0}")]
    WouldBeInvalid(crate::config::ConfigError),
}

/// Decides which of `found` become sources: each needs an http(s) URL not
/// configured yet (in `existing`) nor found earlier in `found`; its id comes
/// from its name ([`slug`]), or from its URL's host when the name has no
/// Latin form, unique against `existing` and the other new ones.
pub fn plan(found: &[Found], existing: &[Existing]) -> Plan {
    let mut used: Vec<String> = existing.iter().map(|e| e.id.clone()).collect();
    let mut seen: Vec<(String, String)> = existing
        .iter()
        .map(|e| {
            (
                url_key(&e.url),
                format!("already configured as id {:?}", e.id),
            )
        })
        .collect();
    let mut out = Plan::default();
    for feed in found {
        let skip = |why: String| Skipped {
            url: feed.url.clone(),
            name: feed.name.clone(),
            why,
        };
        let url = match feed_url(&feed.url) {
            Ok(url) => url,
            Err(why) => {
                out.skipped.push(skip(why));
                continue;
            }
        };
        let key = url_key(url.as_str());
        if let Some((_, why)) = seen.iter().find(|(k, _)| *k == key) {
            out.skipped.push(skip(why.clone()));
            continue;
        }
        let name = feed
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| url.host_str().unwrap_or("feed").to_owned());
        let id = unique_id(&id_for(&name, &url), &mut used);
        seen.push((key, format!("listed twice (added once, as id {id:?})")));
        out.added.push(NewSource {
            id,
            name,
            url,
            tags: feed.tags.clone(),
        });
    }
    out
}

/// A URL a source can poll: http or https with a host.
fn feed_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text.trim()).map_err(|e| format!("not a URL ({e})"))?;
    match url.scheme() {
        "http" | "https" if url.host_str().is_some_and(|h| !h.is_empty()) => Ok(url),
        "http" | "https" => Err("the URL has no host".into()),
        other => Err(format!(
            "scheme {other:?} is not polled (only http and https)"
        )),
    }
}

/// What two URLs of the same feed have in common: parsed (so case in the
/// scheme and host, default ports and escapes do not matter), no fragment.
fn url_key(text: &str) -> String {
    match Url::parse(text.trim()) {
        Ok(mut url) => {
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => text.trim().to_owned(),
    }
}

/// The id for a source named `name` at `url`: the name's slug, or the
/// host's when the name has nothing to spell in Latin letters (新华网 at
/// english.news.cn is `news-cn`).
fn id_for(name: &str, url: &Url) -> String {
    let from_name = slug(name);
    if !from_name.is_empty() {
        return from_name;
    }
    let from_host = url.host_str().map(host_slug).unwrap_or_default();
    if from_host.is_empty() {
        "feed".to_owned()
    } else {
        from_host
    }
}

/// An id from a title: lower-case ASCII letters and digits, words joined by
/// `-`, at most 40 characters; empty when nothing is left.
///
/// Latin, Greek and Cyrillic letters are transliterated (`deunicode`), with
/// German umlauts and ß spelt out first as Germans write them without
/// (Süddeutsche → sueddeutsche; `deunicode` alone gives "suddeutsche").
/// Letters of other scripts are dropped: a transliteration of Chinese or
/// Arabic is not a name anyone reading the config would recognise.
pub fn slug(title: &str) -> String {
    let mut latin = String::new();
    for c in title.chars() {
        match c {
            'ä' => latin.push_str("ae"),
            'ö' => latin.push_str("oe"),
            'ü' => latin.push_str("ue"),
            'Ä' => latin.push_str("Ae"),
            'Ö' => latin.push_str("Oe"),
            'Ü' => latin.push_str("Ue"),
            'ß' => latin.push_str("ss"),
            'ẞ' => latin.push_str("SS"),
            c if c.is_alphabetic() && !spelt_in_latin(c) => latin.push(' '),
            c => latin.push(c),
        }
    }
    let ascii = deunicode::deunicode_with_tofu(&latin, " ");
    let mut id = String::new();
    for c in ascii.chars().map(|c| c.to_ascii_lowercase()) {
        if c.is_ascii_alphanumeric() {
            id.push(c);
        } else if !id.is_empty() && !id.ends_with('-') {
            id.push('-');
        }
    }
    let id: String = id.trim_end_matches('-').chars().take(40).collect();
    id.trim_end_matches('-').to_owned()
}

/// Whether `c` is a letter of a script with a common Latin spelling:
/// Latin (with its extensions), Greek or Cyrillic.
fn spelt_in_latin(c: char) -> bool {
    matches!(u32::from(c),
        0x0000..=0x052F      // Latin, IPA, Greek, Cyrillic
        | 0x1D00..=0x1FFF    // phonetic extensions, Latin and Greek extended
        | 0x2C60..=0x2C7F    // Latin extended-C
        | 0xA720..=0xA7FF    // Latin extended-D
        | 0xFF21..=0xFF5A) // full-width Latin
}

/// An id from a host: its name without the leading labels that only pick
/// a server (`english.news.cn` → `news-cn`, `www.xinhuanet.com` →
/// `xinhuanet-com`); a second-level label such as `co` in `co.uk` keeps
/// one more (`feeds.bbci.co.uk` → `bbci-co-uk`).
fn host_slug(host: &str) -> String {
    let labels: Vec<&str> = host.trim_end_matches('.').split('.').collect();
    let second_level = [
        "co", "com", "net", "org", "gov", "ac", "edu", "or", "ne", "go",
    ];
    let keep = match labels.as_slice() {
        [.., sld, tld] if tld.len() == 2 && second_level.contains(sld) => 3,
        _ => 2,
    };
    let start = labels.len().saturating_sub(keep);
    slug(&labels[start..].join(" "))
}

/// `base`, or `base-2`, `base-3`... whichever is not in `used` yet.
fn unique_id(base: &str, used: &mut Vec<String>) -> String {
    let mut id = base.to_owned();
    let mut n = 2;
    while used.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    used.push(id.clone());
    id
}

/// The sources of a config file's text, as written (ids and URLs that are
/// strings); a file that is not TOML has none.
pub fn existing(config_text: &str) -> Vec<Existing> {
    let Ok(doc) = config_text.parse::<DocumentMut>() else {
        return Vec::new();
    };
    let Some(sources) = doc.get("sources").and_then(Item::as_array_of_tables) else {
        return Vec::new();
    };
    sources
        .iter()
        .filter_map(|t| {
            Some(Existing {
                id: t.get("id")?.as_str()?.to_owned(),
                url: t.get("url")?.as_str()?.to_owned(),
            })
        })
        .collect()
}

/// `[[sources]]` blocks to paste into a config.
pub fn to_toml(sources: &[NewSource]) -> String {
    let mut doc = DocumentMut::new();
    let mut tables = ArrayOfTables::new();
    for source in sources {
        tables.push(table(source));
    }
    doc.insert("sources", Item::ArrayOfTables(tables));
    let text = doc.to_string();
    text.trim_start().to_owned()
}

/// One `[[sources]]` table, preceded by a blank line.
fn table(source: &NewSource) -> Table {
    let mut t = Table::new();
    t.insert("id", value(source.id.as_str()));
    t.insert("name", value(source.name.as_str()));
    t.insert("url", value(source.url.as_str()));
    if !source.tags.is_empty() {
        let tags: Array = source.tags.iter().map(String::as_str).collect();
        t.insert("tags", value(tags));
    }
    t.decor_mut().set_prefix("\n");
    t
}

/// `config_text` with `sources` added after its last `[[sources]]`,
/// everything else (comments, order, spacing) as it was.
pub fn append(
    config_text: &str,
    file: &Path,
    sources: &[NewSource],
) -> Result<String, AppendError> {
    let mut doc = config_text
        .parse::<DocumentMut>()
        .map_err(|e| AppendError::NotToml {
            file: file.to_owned(),
            reason: e.to_string().trim().to_owned(),
        })?;
    let entry = doc
        .entry("sources")
        .or_insert_with(|| Item::ArrayOfTables(ArrayOfTables::new()));
    let Some(tables) = entry.as_array_of_tables_mut() else {
        return Err(AppendError::SourcesNotTables {
            file: file.to_owned(),
        });
    };
    for source in sources {
        tables.push(table(source));
    }
    Ok(doc.to_string())
}

/// Adds `sources` to the config file at `path` in place: the new text is
/// loaded as the daemon would load it (relative paths against the file's
/// folder, the environment ignored) and written only if it is valid, to a
/// temporary file beside it that is then renamed over it (a running
/// daemon's reload never sees half a file). The file's permissions are kept.
pub fn append_to_file(path: &Path, sources: &[NewSource]) -> Result<(), AppendError> {
    let io = |e: std::io::Error| AppendError::Io {
        file: path.to_owned(),
        reason: e.to_string(),
    };
    let text = std::fs::read_to_string(path).map_err(io)?;
    if sources.is_empty() {
        return Ok(());
    }
    let new_text = append(&text, path, sources)?;
    let folder = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    crate::config::from_str(&new_text, path, &folder, std::iter::empty())
        .map_err(AppendError::WouldBeInvalid)?;
    let permissions = std::fs::metadata(path).map_err(io)?.permissions();
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "wiredesk.toml".into());
    let temp = folder.join(format!(".{name}.wiredesk-new"));
    let temp_io = |e: std::io::Error| AppendError::Io {
        file: temp.clone(),
        reason: e.to_string(),
    };
    std::fs::write(&temp, new_text).map_err(temp_io)?;
    std::fs::set_permissions(&temp, permissions).map_err(temp_io)?;
    std::fs::rename(&temp, path).map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        io(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(name: &str, url: &str) -> Found {
        Found {
            name: Some(name.to_owned()),
            url: url.to_owned(),
            tags: vec![],
        }
    }

    #[test]
    fn german_umlauts_and_sharp_s_are_spelt_out() {
        assert_eq!(
            slug("Süddeutsche Zeitung Politik"),
            "sueddeutsche-zeitung-politik"
        );
        assert_eq!(slug("Öko-Straße: Ärger"), "oeko-strasse-aerger");
        assert_eq!(slug("Le Monde — À la une"), "le-monde-a-la-une");
        assert_eq!(slug("Новости"), "novosti");
    }

    #[test]
    fn a_title_with_no_latin_form_takes_its_id_from_the_host() {
        let plan = plan(
            &[
                found("新华网", "http://english.news.cn/rss/world.xml"),
                found("BBC عربي", "https://feeds.bbci.co.uk/arabic/rss.xml"),
                found("بي بي سي", "https://feeds.bbci.co.uk/arabic/rss2.xml"),
            ],
            &[],
        );
        let ids: Vec<&str> = plan.added.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["news-cn", "bbc", "bbci-co-uk"]);
    }

    #[test]
    fn urls_already_configured_or_listed_twice_are_skipped_and_named() {
        let existing = [Existing {
            id: "bbc".into(),
            url: "https://feeds.bbci.co.uk/news/rss.xml".into(),
        }];
        let plan = plan(
            &[
                found("BBC again", "HTTPS://Feeds.BBCI.co.uk/news/rss.xml"),
                found("BBC", "https://feeds.bbci.co.uk/news/world/rss.xml"),
                found("BBC World", "https://feeds.bbci.co.uk/news/world/rss.xml"),
                found("Broken", "not a url"),
                found("Mail", "mailto:desk@example.org"),
            ],
            &existing,
        );
        assert_eq!(plan.added.len(), 1);
        assert_eq!(plan.added[0].id, "bbc-2");
        let why: Vec<String> = plan.skipped.iter().map(ToString::to_string).collect();
        assert_eq!(
            why,
            [
                "\"HTTPS://Feeds.BBCI.co.uk/news/rss.xml\" (BBC again): already configured as id \"bbc\"",
                "\"https://feeds.bbci.co.uk/news/world/rss.xml\" (BBC World): listed twice (added once, as id \"bbc-2\")",
                "\"not a url\" (Broken): not a URL (relative URL without a base)",
                "\"mailto:desk@example.org\" (Mail): scheme \"mailto\" is not polled (only http and https)",
            ]
        );
    }

    #[test]
    fn appending_keeps_the_files_comments_and_layout() {
        let before = "# My desk\n[server]\nlisten = \"127.0.0.1:8080\" # local only\n\n\
                      [[sources]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n\n\
                      # A commented example at the end\n# [[sources]]\n";
        let plan = plan(
            &[Found {
                name: Some("Süddeutsche".into()),
                url: "https://sz.example/rss".into(),
                tags: vec!["Politik".into()],
            }],
            &existing(before),
        );
        let after = append(before, Path::new("w.toml"), &plan.added).unwrap();
        assert_eq!(
            after,
            "# My desk\n[server]\nlisten = \"127.0.0.1:8080\" # local only\n\n\
             [[sources]]\nid = \"a\"\nurl = \"https://a.example/feed\"\n\n\
             [[sources]]\nid = \"sueddeutsche\"\nname = \"Süddeutsche\"\n\
             url = \"https://sz.example/rss\"\ntags = [\"Politik\"]\n\n\
             # A commented example at the end\n# [[sources]]\n"
        );
    }

    #[test]
    fn a_file_with_sources_in_another_form_is_not_edited() {
        let err = append(
            "sources = []\n",
            Path::new("w.toml"),
            &plan(&[found("A", "https://a.example/")], &[]).added,
        )
        .unwrap_err();
        assert!(err.to_string().starts_with("w.toml: `sources`"), "{err}");
    }

    #[test]
    fn pasted_toml_is_one_block_per_source() {
        let plan = plan(&[found("A \"quoted\"", "https://a.example/f")], &[]);
        assert_eq!(
            to_toml(&plan.added),
            "[[sources]]\nid = \"a-quoted\"\nname = 'A \"quoted\"'\nurl = \"https://a.example/f\"\n"
        );
    }
}
