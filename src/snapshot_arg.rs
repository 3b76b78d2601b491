//! `--snapshot DIR`, or the embedded demo.

use keyproof_model::{ModelError, Snapshot};
use keyproof_parser::snapshot::SnapshotFiles;
use std::path::Path;

mod demo {
    include!(concat!(env!("OUT_DIR"), "/demo.rs"));
}

/// The name the embedded demo is shown under.
pub const DEMO_NAME: &str = "corpus/central-kms (embedded)";

/// Loads the snapshot a command names, or the embedded demo, and says on stderr what the user
/// should know of it (see [`announce`]).
pub fn load(dir: Option<&Path>) -> Result<Snapshot, ModelError> {
    let snapshot = match dir {
        Some(d) => Snapshot::load(d)?,
        None => Snapshot::from_files(&SnapshotFiles::Embedded {
            name: DEMO_NAME.to_string(),
            files: demo::DEMO_FILES.to_vec(),
        })?,
    };
    announce(&snapshot, dir.is_none());
    Ok(snapshot)
}

/// On stderr: that the answers are the embedded demo's when no `--snapshot` was given (a CI job
/// that forgot it must not pass on the demo's answers without a word), and the snapshot's notes
/// (policy types inferred, a level where no SCP allows KMS), each with its location.
/// Nothing is said under `--quiet`.
pub fn announce(snapshot: &Snapshot, demo: bool) {
    if crate::output::quiet() {
        return;
    }
    // Once per process: `keyproof demo` loads the demo for each of its steps.
    static ANNOUNCED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if demo && !ANNOUNCED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!("keyproof: no --snapshot given: answering on the embedded demo organization {DEMO_NAME}");
    }
    for n in &snapshot.notes {
        eprintln!("note: {} ({})", n.value, snapshot.sources.location(n.span));
    }
}

/// What JSON and SARIF outputs say about the snapshot: its folder (or the embedded demo), and
/// its notes.
pub fn metadata(snapshot: &Snapshot, dir: Option<&Path>) -> serde_json::Value {
    serde_json::json!({
        "path": dir.map_or_else(|| DEMO_NAME.to_string(), |d| d.display().to_string()),
        "embedded_demo": dir.is_none(),
        "notes": snapshot
            .notes
            .iter()
            .map(|n| format!("{} ({})", n.value, snapshot.sources.location(n.span)))
            .collect::<Vec<_>>(),
    })
}

/// The embedded demo's files (for `--plan` without `--snapshot`).
pub fn embedded() -> SnapshotFiles {
    SnapshotFiles::Embedded { name: DEMO_NAME.to_string(), files: demo::DEMO_FILES.to_vec() }
}
