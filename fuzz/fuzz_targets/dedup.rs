//! Normalisation and hashing on arbitrary strings: `dedup::fingerprint`
//! (title, summary, content, link), `title_key`, `canonical_link`, `fold`.
//! Besides "never panics": each is deterministic, and the folds are
//! idempotent.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wiredesk::dedup::{DedupInput, NoBoilerplate, canonical_link, fingerprint, fold, title_key};

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    title: &'a str,
    summary: &'a str,
    content: &'a str,
    link: Option<&'a str>,
    published: i64,
}

fuzz_target!(|input: Input<'_>| {
    let item = DedupInput {
        source: "fuzz",
        title: input.title,
        link: input.link,
        published: input.published,
        summary_html: input.summary,
        content_html: input.content,
    };
    let a = fingerprint(&item, &NoBoilerplate);
    let b = fingerprint(&item, &NoBoilerplate);
    assert_eq!(a, b, "fingerprint is deterministic");

    let folded = fold(input.title);
    assert_eq!(fold(&folded), folded, "fold is idempotent");
    let key = title_key(input.title);
    assert_eq!(title_key(&key), key, "title_key is idempotent");

    if let Some(link) = input.link {
        if let Some(canonical) = canonical_link(link) {
            assert_eq!(
                canonical_link(&canonical),
                Some(canonical.clone()),
                "canonical_link is idempotent"
            );
        }
    }
});
