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
    let files = match dir {
        Some(d) if !d.is_dir() => {
            return Err(Snapshot::load(d).err().unwrap_or_else(|| {
                ModelError::Input(keyproof_parser::ParseError::Snapshot {
                    message: format!("cannot read `{}`", d.display()),
                    help: None,
                })
            }))
        }
        Some(d) => SnapshotFiles::Dir(d.to_path_buf()),
        None => embedded(),
    };
    let mut sources = sources_for(dir);
    let raw = keyproof_parser::snapshot::read_snapshot(&files, &mut sources)?;
    let snapshot = Snapshot::from_raw(raw, sources)?;
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

/// The source map a snapshot is read into: its files named under the folder as the user gave
/// it, the embedded demo's under `corpus/central-kms`.
pub fn sources_for(dir: Option<&Path>) -> keyproof_parser::SourceMap {
    let mut s = keyproof_parser::SourceMap::new();
    s.set_root(&dir.map_or_else(|| DEMO_ROOT.to_string(), |d| d.display().to_string()));
    s
}

/// Where the embedded demo's files are in the repository.
pub const DEMO_ROOT: &str = "corpus/central-kms";

/// The embedded demo's files (for `--plan` without `--snapshot`).
pub fn embedded() -> SnapshotFiles {
    SnapshotFiles::Embedded { name: DEMO_NAME.to_string(), files: demo::DEMO_FILES.to_vec() }
}
