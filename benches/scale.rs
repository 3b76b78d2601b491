//! The scale benchmark: the `keyproof` binary run as a user runs it, on any snapshot folder —
//! load only, `who-can` on sample keys, `check` of two organization-wide properties, `lint` of
//! every rule and `diff` of a two-file change — each command's whole-process wall time and peak
//! memory (the child's `VmHWM`, sampled every few milliseconds).
//!
//! ```sh
//! cargo bench --bench scale -- --snapshot DIR [--sample-keys sample_keys.json] [--limit SECONDS] [--only NAMES]
//! cargo bench --bench scale -- --generate --accounts 100 --roles 10 --keys 400 --grants 4000
//! ```
//!
//! `--sample-keys` is a JSON object `{"shape": {"arn": …}, …}` naming one key of each policy
//! shape (the shared benchmark generator writes one); without it the first keys of the snapshot
//! are used. `--generate` writes a `testgen` organization first. `--limit` stops a command after
//! that many seconds (reported as `killed`). Results go to BENCHMARKS.md by hand, with the
//! machine.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark program: a failure is a panic with the reason"
)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NO_EXTERNAL_ACCESS: &str = r#"
property no_external_access {
  forall principal, key:
    can(principal, kms:Decrypt, key) implies principal in org
}
"#;

const SEPARATION_OF_DUTIES: &str = r#"
property separation_of_duties {
  forall principal, key:
    not (can(principal, kms:PutKeyPolicy, key) and can(principal, kms:Decrypt, key))
}
"#;

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).map(String::as_str)
}

fn num(args: &[String], name: &str, default: usize) -> usize {
    arg(args, name).and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The peak resident memory of a running process, in KiB.
fn peak_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

struct Run {
    wall: f64,
    peak_mib: f64,
    /// The exit code, or `None` when the command was stopped at the limit.
    code: Option<i32>,
    stdout: String,
}

/// Runs one command to its end (or to `limit`), sampling its peak memory.
fn run(cmd: &mut Command, limit: Duration) -> Run {
    let out_path = std::env::temp_dir().join(format!("keyproof-bench-out-{}", std::process::id()));
    let out_file = std::fs::File::create(&out_path).unwrap();
    let t = Instant::now();
    let mut child = cmd.stdout(out_file).stderr(Stdio::null()).spawn().unwrap();
    let pid = child.id();
    let mut peak = 0u64;
    let code = loop {
        if let Some(p) = peak_kib(pid) {
            peak = peak.max(p);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if t.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(4));
    };
    let wall = t.elapsed().as_secs_f64();
    let stdout = std::fs::read_to_string(&out_path).unwrap_or_default();
    let _ = std::fs::remove_file(&out_path);
    Run { wall, peak_mib: peak as f64 / 1024.0, code, stdout }
}

fn report(name: &str, r: &Run, note: &str) {
    let code = match r.code {
        Some(c) => format!("exit {c}"),
        None => "killed at the limit".to_string(),
    };
    println!("{name:<34} {:>8.2} s {:>8.0} MB  {code}  {note}", r.wall, r.peak_mib);
}

/// Bytes of every file under `dir`.
fn bytes(dir: &Path) -> u64 {
    let mut total = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        total += if p.is_dir() { bytes(&p) } else { e.metadata().map(|m| m.len()).unwrap_or(0) };
    }
    total
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        let target = to.join(e.file_name());
        if p.is_dir() {
            copy_dir(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

/// The key files of a snapshot, in a stable order.
fn key_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p).unwrap().flatten().map(|e| e.path()).collect();
        entries.sort();
        for e in entries {
            if e.is_dir() {
                walk(&e, out);
            } else if e.components().any(|c| c.as_os_str() == "kms") && e.extension().is_some_and(|x| x == "json") {
                out.push(e);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("accounts"), &mut out);
    out
}

/// The ARN in a key file.
fn key_arn(file: &Path) -> String {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    v["KeyMetadata"]["Arn"].as_str().unwrap().to_string()
}

/// A two-file change: two key policies each gain a statement letting one more account decrypt.
fn two_file_change(after: &Path, files: &[PathBuf], before: &Path) {
    for f in files.iter().take(2) {
        let rel = f.strip_prefix(before).unwrap();
        let target = after.join(rel);
        let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&target).unwrap()).unwrap();
        let policy_text = v["Policy"].as_str().unwrap().to_string();
        let mut policy: serde_json::Value = serde_json::from_str(&policy_text).unwrap();
        policy["Statement"].as_array_mut().unwrap().push(serde_json::json!({
            "Sid": "BenchAddedPartnerDecrypt",
            "Effect": "Allow",
            "Principal": { "AWS": "arn:aws:iam::999988887777:root" },
            "Action": "kms:Decrypt",
            "Resource": "*"
        }));
        v["Policy"] = serde_json::Value::String(policy.to_string());
        std::fs::write(&target, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let bin = env!("CARGO_BIN_EXE_keyproof");
    let limit = Duration::from_secs(num(&args, "--limit", 600) as u64);
    let only: Vec<&str> = arg(&args, "--only").map(|o| o.split(',').collect()).unwrap_or_default();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| name.starts_with(o));
    let work = std::env::temp_dir().join(format!("keyproof-bench-{}", std::process::id()));
    std::fs::create_dir_all(&work).unwrap();

    let dir: PathBuf = if args.iter().any(|a| a == "--generate") {
        let params = keyproof_testgen::Params {
            accounts: num(&args, "--accounts", 500),
            roles_per_account: num(&args, "--roles", 10),
            keys: num(&args, "--keys", 2000),
            // `--grants` is the total, spread over the keys.
            grants_per_key: num(&args, "--grants", 20_000) / num(&args, "--keys", 2000).max(1),
            seed: num(&args, "--seed", 7) as u64,
            conditions: true,
            oracle: false,
        };
        let dir = work.join("generated");
        let t = Instant::now();
        let summary = keyproof_testgen::write_snapshot(&dir, &params).unwrap();
        println!(
            "generated {} principals, {} keys in {:.2} s",
            summary.principals.len(),
            summary.keys.len(),
            t.elapsed().as_secs_f64()
        );
        dir
    } else {
        PathBuf::from(arg(&args, "--snapshot").expect("--snapshot DIR or --generate"))
    };
    let files = key_files(&dir);
    let samples: Vec<(String, String)> = match arg(&args, "--sample-keys") {
        Some(p) => {
            let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            v.as_object().unwrap().iter().map(|(k, x)| (k.clone(), x["arn"].as_str().unwrap().to_string())).collect()
        }
        None => files.iter().take(2).enumerate().map(|(i, f)| (format!("key{i}"), key_arn(f))).collect(),
    };
    let size = bytes(&dir);
    println!(
        "snapshot {} — {:.1} MB in files, {} key files; limit {} s per command",
        dir.display(),
        size as f64 / 1e6,
        files.len(),
        limit.as_secs()
    );

    if wanted("json.load") {
        // The parse floor: Python's json.load of every file of the snapshot.
        let script = "import json,os,sys\nfor r,_,fs in os.walk(sys.argv[1]):\n  for f in fs:\n    if f.endswith('.json'):\n      json.load(open(os.path.join(r,f)))\n";
        let r = run(Command::new("python3").arg("-c").arg(script).arg(&dir), limit);
        report("python json.load (reference)", &r, "");
    }
    let snap = dir.to_str().unwrap();
    if wanted("load") {
        let missing = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000";
        let r = run(Command::new(bin).args(["who-can", "kms:Decrypt", missing, "--snapshot", snap]), limit);
        report("load (who-can on a missing key)", &r, "");
    }
    for (shape, arn) in &samples {
        let name = format!("who-can {shape}");
        if !wanted(&name) {
            continue;
        }
        let r =
            run(Command::new(bin).args(["who-can", "kms:Decrypt", arn, "--snapshot", snap, "--format", "json"]), limit);
        let entries = serde_json::from_str::<serde_json::Value>(&r.stdout)
            .ok()
            .and_then(|v| v["principals"].as_array().map(Vec::len))
            .map(|n| format!("{n} entries"))
            .unwrap_or_default();
        report(&name, &r, &entries);
    }
    for (name, text) in
        [("check no_external_access", NO_EXTERNAL_ACCESS), ("check separation_of_duties", SEPARATION_OF_DUTIES)]
    {
        if !wanted(name) {
            continue;
        }
        let file = work.join(format!("{}.kp", name.replace(' ', "_")));
        std::fs::write(&file, text).unwrap();
        let r = run(Command::new(bin).args(["check"]).arg(&file).args(["--snapshot", snap, "--format", "json"]), limit);
        let status = serde_json::from_str::<serde_json::Value>(&r.stdout)
            .ok()
            .map(|v| format!("{} ({} instances)", v["results"][0]["status"], v["results"][0]["instances"]))
            .unwrap_or_default();
        report(name, &r, &status);
    }
    if wanted("lint") {
        let r = run(Command::new(bin).args(["lint", "--snapshot", snap, "--format", "json"]).current_dir(&work), limit);
        let findings = serde_json::from_str::<serde_json::Value>(&r.stdout)
            .ok()
            .and_then(|v| v["findings"].as_array().map(Vec::len))
            .map(|n| format!("{n} findings"))
            .unwrap_or_default();
        report("lint (every rule)", &r, &findings);
    }
    if wanted("diff") {
        let after = work.join("after");
        copy_dir(&dir, &after);
        two_file_change(&after, &files, &dir);
        let r = run(Command::new(bin).args(["diff", snap]).arg(&after).args(["--format", "json"]), limit);
        let classes = serde_json::from_str::<serde_json::Value>(&r.stdout)
            .ok()
            .and_then(|v| v["added"].as_array().map(Vec::len))
            .map(|n| format!("{n} classes added"))
            .unwrap_or_default();
        report("diff (two key policies changed)", &r, &classes);
    }
    let _ = std::fs::remove_dir_all(&work);
}
