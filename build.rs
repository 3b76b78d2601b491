//! Embeds the demo snapshot (`corpus/central-kms`) into the binary, so that every command runs
//! on it by default wherever the binary is.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            // `cloudformation/` holds templates and the hand-edited snapshot they must equal:
            // inputs of the tests, not part of the demo snapshot.
            if dir == root && p.file_name().is_some_and(|n| n == "cloudformation") {
                continue;
            }
            walk(root, &p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            let rel = p.strip_prefix(root).map(|r| r.to_string_lossy().replace('\\', "/")).unwrap_or_default();
            out.push((rel, p));
        }
    }
}

fn main() {
    let manifest = std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| ".".into());
    let root = Path::new(&manifest).join("corpus").join("central-kms");
    println!("cargo:rerun-if-changed=corpus/central-kms");
    let mut files = Vec::new();
    walk(&root, &root, &mut files);
    let mut code = String::from("/// The demo snapshot, compiled in.\npub static DEMO_FILES: &[(&str, &str)] = &[\n");
    for (rel, path) in &files {
        let _ = writeln!(code, "    ({rel:?}, include_str!({:?})),", path.display().to_string());
    }
    code.push_str("];\n");
    let out = std::env::var("OUT_DIR").unwrap_or_else(|_| ".".into());
    if let Err(e) = std::fs::write(Path::new(&out).join("demo.rs"), code) {
        println!("cargo:warning=cannot write the embedded demo: {e}");
    }
}
