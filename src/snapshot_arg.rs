//! `--snapshot DIR`, or the embedded demo.

use keyproof_model::{ModelError, Snapshot};
use keyproof_parser::snapshot::SnapshotFiles;
use std::path::Path;

mod demo {
    include!(concat!(env!("OUT_DIR"), "/demo.rs"));
}

/// The name the embedded demo is shown under.
pub const DEMO_NAME: &str = "corpus/central-kms (embedded)";

/// Loads the snapshot a command names, or the embedded demo.
pub fn load(dir: Option<&Path>) -> Result<Snapshot, ModelError> {
    match dir {
        Some(d) => Snapshot::load(d),
        None => Snapshot::from_files(&SnapshotFiles::Embedded {
            name: DEMO_NAME.to_string(),
            files: demo::DEMO_FILES.to_vec(),
        }),
    }
}

/// The embedded demo's files (for `--plan` without `--snapshot`).
pub fn embedded() -> SnapshotFiles {
    SnapshotFiles::Embedded { name: DEMO_NAME.to_string(), files: demo::DEMO_FILES.to_vec() }
}
