//! `serve::query::parse` on arbitrary query strings; what it accepts is
//! written back by `canonical` and parses again to the same parameters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wiredesk::serve::query::{canonical, parse};

fuzz_target!(|raw: &str| {
    let is_source = |id: &str| matches!(id, "a" | "b" | "reuters" | "x-1");
    if let Ok(params) = parse(Some(raw), is_source) {
        let again = canonical(&params.query, params.token.as_deref());
        let reparsed = parse(Some(&again), is_source).expect("a canonical query parses");
        assert_eq!(reparsed, params, "{raw:?} -> {again:?}");
    }
});
