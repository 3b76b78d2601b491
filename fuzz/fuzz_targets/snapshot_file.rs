//! Arbitrary bytes as a key file (`accounts/<id>/kms/<region>/<key-id>.json`), an `iam.json`
//! and an `organization.json`, read by the snapshot reader from a snapshot folder. Errors are
//! fine; a panic or a stack overflow is a bug.

#![no_main]

use keyproof_parser::snapshot::read_snapshot_dir;
use keyproof_parser::SourceMap;
use libfuzzer_sys::fuzz_target;
use std::path::PathBuf;

/// Where each input is written: one snapshot folder per file kind, reused by every run of this
/// process (a folder rather than `SnapshotFiles::Embedded`, whose `&'static str`s would leak).
const FILES: [(&str, &str); 3] = [
    ("key", "accounts/111122223333/kms/us-east-1/1234abcd-12ab-34cd-56ef-1234567890ab.json"),
    ("iam", "accounts/111122223333/iam.json"),
    ("org", "organization.json"),
];

fn root(kind: &str) -> PathBuf {
    std::env::temp_dir().join(format!("keyproof-fuzz-{}", std::process::id())).join(kind)
}

fuzz_target!(|data: &[u8]| {
    for (kind, rel) in FILES {
        let path = root(kind).join(rel);
        if let Some(dir) = path.parent() {
            if std::fs::create_dir_all(dir).is_err() {
                return;
            }
        }
        if std::fs::write(&path, data).is_err() {
            return;
        }
        let mut sources = SourceMap::new();
        let _ = read_snapshot_dir(&root(kind), &mut sources);
    }
});
