//! The corpus's questions and expected answers (`corpus/**/cases.toml`, format in
//! corpus/README.md), read once for every test that walks them: the evaluator's corpus test, the
//! differential test against the encoding, and who-can against the evaluator.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// One question of a `cases.toml`.
#[derive(Debug, Clone, Deserialize)]
pub struct Case {
    pub name: String,
    pub principal: String,
    pub action: String,
    pub key: String,
    /// Context values as given (strings, booleans, numbers or arrays of them), as text.
    #[serde(default, deserialize_with = "context_values")]
    pub context: BTreeMap<String, Vec<String>>,
    pub expect: String,
    #[serde(default)]
    pub covers: Vec<String>,
    #[serde(default)]
    pub why: String,
}

/// A snapshot folder with its questions.
#[derive(Debug, Clone)]
pub struct Folder {
    pub dir: PathBuf,
    /// The folder relative to the corpus root, for messages.
    pub rel: String,
    pub cases: Vec<Case>,
}

#[derive(Deserialize)]
struct File {
    #[serde(default, rename = "case")]
    cases: Vec<Case>,
}

fn flatten(v: &toml::Value, out: &mut Vec<String>) {
    match v {
        toml::Value::Array(items) => items.iter().for_each(|i| flatten(i, out)),
        toml::Value::String(s) => out.push(s.clone()),
        other => out.push(other.to_string()),
    }
}

fn context_values<'de, D: serde::Deserializer<'de>>(d: D) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let raw: BTreeMap<String, toml::Value> = BTreeMap::deserialize(d)?;
    Ok(raw
        .into_iter()
        .map(|(k, v)| {
            let mut out = Vec::new();
            flatten(&v, &mut out);
            (k, out)
        })
        .collect())
}

/// Every folder under `root` that has a `cases.toml`, sorted, with its cases.
pub fn read(root: &Path) -> Result<Vec<Folder>, String> {
    let mut dirs = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if dir.join("cases.toml").is_file() {
            dirs.push(dir.clone());
        }
        for e in std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?.flatten() {
            let p = e.path();
            if p.is_dir() && p.file_name().is_some_and(|n| n != "accounts") {
                stack.push(p);
            }
        }
    }
    dirs.sort();
    dirs.into_iter()
        .map(|dir| {
            let path = dir.join("cases.toml");
            let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            let file: File = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
            let rel = dir.strip_prefix(root).map_or_else(|_| dir.display().to_string(), |r| r.display().to_string());
            Ok(Folder { dir, rel, cases: file.cases })
        })
        .collect()
}
