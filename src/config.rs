//! `keyproof.toml`: which one a command reads (ruff-style discovery), and `keyproof config`,
//! which prints the resolved settings and where each came from.
//!
//! The file is `--config FILE` when given; else the first `keyproof.toml` in the snapshot folder
//! or one of its parents; else the first in the current folder or one of its parents; else none
//! (the built-in defaults). `--isolated` reads none.

use crate::err::CliError;
use crate::output::emit;
use clap::Args;
use keyproof_rules::{Config, Severity};
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The file name looked for.
pub const FILE_NAME: &str = "keyproof.toml";

/// How a command finds its settings (flattened into `lint` and `config`).
#[derive(Debug, Clone, Default, Args)]
pub struct ConfigArgs {
    /// The settings file. Default: the first keyproof.toml in the snapshot folder or one of its
    /// parents, else in the current folder or one of its parents, else built-in defaults.
    #[arg(long, value_name = "keyproof.toml", conflicts_with = "isolated")]
    pub config: Option<PathBuf>,

    /// Read no keyproof.toml: the built-in defaults and the flags only.
    #[arg(long)]
    pub isolated: bool,
}

/// Where the settings came from.
#[derive(Debug, Clone)]
pub enum Origin {
    /// `--config FILE`.
    Flag(PathBuf),
    /// Found in the snapshot folder or a parent of it.
    NearSnapshot(PathBuf),
    /// Found in the current folder or a parent of it.
    NearCwd(PathBuf),
    /// No file: `--isolated`, or none was found.
    None { isolated: bool },
}

impl Origin {
    pub fn file(&self) -> Option<&Path> {
        match self {
            Origin::Flag(p) | Origin::NearSnapshot(p) | Origin::NearCwd(p) => Some(p),
            Origin::None { .. } => None,
        }
    }

    fn describe(&self) -> String {
        match self {
            Origin::Flag(p) => format!("{} (--config)", p.display()),
            Origin::NearSnapshot(p) => format!("{} (found from the snapshot folder)", p.display()),
            Origin::NearCwd(p) => format!("{} (found from the current folder)", p.display()),
            Origin::None { isolated: true } => "none (--isolated): built-in defaults".into(),
            Origin::None { isolated: false } => {
                format!(
                    "none found (no {FILE_NAME} from the snapshot folder or the current folder up): built-in defaults"
                )
            }
        }
    }
}

/// The settings a command runs with.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub config: Config,
    pub origin: Origin,
    /// The top-level keys the file sets.
    pub keys: Vec<String>,
}

impl Resolved {
    /// The snapshot folder the file names (relative to the file's folder), if it names one.
    pub fn snapshot(&self) -> Option<PathBuf> {
        let named = self.config.snapshot.as_ref()?;
        let base = self.origin.file().and_then(Path::parent).unwrap_or(Path::new(""));
        Some(base.join(named))
    }
}

/// The first `keyproof.toml` in `dir` or one of its parents.
fn find_upward(dir: &Path) -> Option<PathBuf> {
    let start = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let absolute = std::path::absolute(start).ok()?;
    for d in absolute.ancestors() {
        let candidate = d.join(FILE_NAME);
        if candidate.is_file() {
            // Shown relative to the current folder when it is under it, as the user would type it.
            let shown = std::env::current_dir()
                .ok()
                .and_then(|cwd| candidate.strip_prefix(&cwd).ok().map(Path::to_path_buf))
                .unwrap_or(candidate);
            return Some(shown);
        }
    }
    None
}

/// Finds and reads the settings for a command on `snapshot` (None: the embedded demo).
pub fn resolve(args: &ConfigArgs, snapshot: Option<&Path>) -> Result<Resolved, CliError> {
    let origin = if let Some(p) = &args.config {
        Origin::Flag(p.clone())
    } else if args.isolated {
        Origin::None { isolated: true }
    } else if let Some(p) = snapshot.and_then(find_upward) {
        Origin::NearSnapshot(p)
    } else if let Some(p) = find_upward(Path::new(".")) {
        Origin::NearCwd(p)
    } else {
        Origin::None { isolated: false }
    };
    let Some(path) = origin.file() else {
        return Ok(Resolved { config: Config::default_settings(), origin, keys: Vec::new() });
    };
    let text =
        std::fs::read_to_string(path).map_err(|e| CliError::Read { path: path.display().to_string(), error: e })?;
    let config = Config::parse(&path.display().to_string(), &text)?;
    let keys = toml::from_str::<toml::Table>(&text)
        .map(|t| t.keys().map(|k| k.replace('-', "_")).collect())
        .unwrap_or_default();
    Ok(Resolved { config, origin, keys })
}

/// `keyproof config`.
#[derive(Debug, Args)]
pub struct ConfigCommandArgs {
    /// The snapshot folder whose keyproof.toml is looked for first.
    #[arg(long, value_name = "DIR")]
    pub snapshot: Option<PathBuf>,

    #[command(flatten)]
    pub config: ConfigArgs,

    /// As `lint --fail-on`: shown as coming from the flag.
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<crate::lint::FailOn>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = crate::cli::Format::Text)]
    pub format: crate::cli::Format,
}

/// Prints every setting with its value and where it came from: a flag, the file, or the default.
pub fn run(args: &ConfigCommandArgs) -> Result<i32, CliError> {
    let mut resolved = resolve(&args.config, args.snapshot.as_deref())?;
    if let Some(f) = args.fail_on {
        resolved.config.fail_on = f.severity();
    }
    let file = resolved.origin.file().map(|p| p.display().to_string());
    let from = |key: &str| -> String {
        if key == "fail_on" && args.fail_on.is_some() {
            return "--fail-on".into();
        }
        match &file {
            Some(f) if resolved.keys.iter().any(|k| k == key) => f.clone(),
            _ => "default".into(),
        }
    };
    let settings = serde_json::to_value(&resolved.config)?;
    let snapshot = match (&args.snapshot, resolved.snapshot()) {
        (Some(s), _) => (s.display().to_string(), "--snapshot".to_string()),
        (None, Some(s)) => (s.display().to_string(), from("snapshot")),
        (None, None) => (crate::snapshot_arg::DEMO_NAME.to_string(), "default".to_string()),
    };
    match args.format {
        crate::cli::Format::Dot | crate::cli::Format::Mermaid => return Err(crate::who_can::graph_only()),
        crate::cli::Format::Json => {
            let mut out = serde_json::Map::new();
            out.insert("snapshot".into(), json!({ "value": snapshot.0, "from": snapshot.1 }));
            if let Some(obj) = settings.as_object() {
                for (k, v) in obj {
                    if k != "snapshot" {
                        out.insert(k.clone(), json!({ "value": v, "from": from(k) }));
                    }
                }
            }
            let v =
                crate::report::stamp(json!({ "file": file, "origin": resolved.origin.describe(), "settings": out }));
            emit(&crate::report::pretty(&v)?)?;
        }
        crate::cli::Format::Text => {
            let mut s = String::new();
            let _ = writeln!(s, "# {FILE_NAME}: {}", resolved.origin.describe());
            let _ = writeln!(s, "{:<48} # {}", format!("snapshot = {}", toml_value(&json!(snapshot.0))), snapshot.1);
            if let Some(obj) = settings.as_object() {
                for (k, v) in obj {
                    if k == "snapshot" {
                        continue;
                    }
                    let _ = writeln!(s, "{:<48} # {}", format!("{k} = {}", toml_value(v)), from(k));
                }
            }
            emit(&s)?;
        }
    }
    Ok(0)
}

/// A JSON value written as a TOML inline value.
fn toml_value(v: &Value) -> String {
    match v {
        Value::Null => "\"\"".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => format!("{s:?}"),
        Value::Array(a) => format!("[{}]", a.iter().map(toml_value).collect::<Vec<_>>().join(", ")),
        Value::Object(o) if o.is_empty() => "{}".into(),
        Value::Object(o) => {
            format!(
                "{{ {} }}",
                o.iter().map(|(k, v)| format!("{} = {}", toml_key(k), toml_value(v))).collect::<Vec<_>>().join(", ")
            )
        }
    }
}

fn toml_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        k.to_string()
    } else {
        format!("{k:?}")
    }
}

/// The severity from which `lint` fails: `--fail-on`, else the file's `fail_on`, else warning.
pub fn fail_on(flag: Option<crate::lint::FailOn>, resolved: &Resolved) -> Severity {
    flag.map_or(resolved.config.fail_on, crate::lint::FailOn::severity)
}

/// For a command run without `--snapshot`: the snapshot folder that the first `keyproof.toml`
/// from the current folder up names, if it names one (as `lint` reads it), said on stderr;
/// otherwise the command answers on the embedded demo, as before.
pub fn snapshot_from_file() -> Result<Option<PathBuf>, CliError> {
    let Some(file) = find_upward(Path::new(".")) else { return Ok(None) };
    let text =
        std::fs::read_to_string(&file).map_err(|e| CliError::Read { path: file.display().to_string(), error: e })?;
    // Only `snapshot` matters here: lint's own settings are lint's to check (a rule code this
    // version does not know must not stop `explain`). A file that is not TOML, or whose
    // `snapshot` is not a string, is refused with lint's located error.
    let table = toml::from_str::<toml::Table>(&text).ok();
    let named = match table.as_ref().map(|t| t.get("snapshot")) {
        Some(None) => None,
        Some(Some(toml::Value::String(s))) => Some(s.clone()),
        _ => {
            Config::parse(&file.display().to_string(), &text)?;
            None
        }
    };
    let dir = named.map(|n| file.parent().unwrap_or(Path::new("")).join(n));
    if let Some(d) = &dir {
        if !crate::output::quiet() {
            eprintln!("keyproof: no --snapshot given: the snapshot {} that {} names", d.display(), file.display());
        }
    }
    Ok(dir)
}

/// Fills in `--snapshot` from `keyproof.toml` ([`snapshot_from_file`]) for the commands that
/// answer on one snapshot (`lint` reads its own settings; `diff` names both snapshots).
pub fn default_snapshot(command: &mut crate::cli::Command) -> Result<(), CliError> {
    use crate::cli::Command;
    let slot = match command {
        Command::Explain(a) => &mut a.snapshot.snapshot,
        Command::WhoCan(a) => &mut a.snapshot.snapshot,
        Command::Can(a) => &mut a.snapshot.snapshot,
        Command::Check(a) => &mut a.snapshot,
        _ => return Ok(()),
    };
    if slot.is_none() {
        *slot = snapshot_from_file()?;
    }
    Ok(())
}
