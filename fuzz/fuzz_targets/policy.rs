//! Arbitrary bytes as a policy document of every kind, through the same path as the snapshot
//! reader: `parse_json`, then `parse_policy`. Errors are fine; a panic or a stack overflow is a
//! bug. The embedded-document path (a JSON string, URL-encoded or not) is fed too.

#![no_main]

use keyproof_parser::json::{parse_json, Reader};
use keyproof_parser::policy::{parse_policy, parse_policy_value, PolicyKind};
use keyproof_parser::SourceMap;
use libfuzzer_sys::fuzz_target;

const KINDS: [PolicyKind; 6] = [
    PolicyKind::KeyPolicy,
    PolicyKind::Identity,
    PolicyKind::PermissionsBoundary,
    PolicyKind::Trust,
    PolicyKind::Scp,
    PolicyKind::Rcp,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut sources = SourceMap::new();
    let id = sources.add("fuzz.json", text.to_string(), None);
    let Ok(doc) = parse_json(&sources, id) else {
        return;
    };
    for kind in KINDS {
        let mut r = Reader::new(&mut sources);
        // A top-level string is read as an embedded document, as a key file's `Policy` is.
        let _ = parse_policy_value(&mut r, &doc, kind, "Policy");
        let _ = parse_policy(&mut r, &doc, kind);
        let _ = r.finish("fuzz.json");
    }
});
