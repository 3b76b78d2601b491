//! `keyproof-gen`: writes a synthetic organization snapshot.
//!
//! ```text
//! keyproof-gen --out DIR --accounts N --roles N --keys N --grants N --seed S [--no-conditions]
//! ```
//!
//! `--grants` is the total number of grants, spread over the keys.

use keyproof_testgen::{write_snapshot, Params};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str =
    "usage: keyproof-gen --out DIR [--accounts N] [--roles N] [--keys N] [--grants N] [--seed S] [--no-conditions]";

fn parse(args: &[String]) -> Result<(PathBuf, Params, usize), String> {
    let mut out = None;
    let mut p = Params {
        accounts: 10,
        roles_per_account: 3,
        keys: 20,
        grants_per_key: 0,
        seed: 1,
        conditions: true,
        oracle: false,
    };
    let mut grants = 40usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut number = |name: &str| -> Result<u64, String> {
            let v = it.next().ok_or_else(|| format!("`{name}` needs a value"))?;
            v.parse::<u64>().map_err(|_| format!("`{name}` needs a number, not `{v}`"))
        };
        match a.as_str() {
            "--out" => out = Some(PathBuf::from(it.next().ok_or("`--out` needs a folder")?)),
            "--accounts" => p.accounts = number(a)? as usize,
            "--roles" => p.roles_per_account = number(a)? as usize,
            "--keys" => p.keys = number(a)? as usize,
            "--grants" => grants = number(a)? as usize,
            "--seed" => p.seed = number(a)?,
            "--no-conditions" => p.conditions = false,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
        }
    }
    let out = out.ok_or_else(|| format!("`--out` is required\n{USAGE}"))?;
    p.grants_per_key = grants.div_ceil(p.keys.max(1));
    Ok((out, p, grants))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, p, _) = match parse(&args) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let start = Instant::now();
    match write_snapshot(&out, &p) {
        Ok(s) => {
            println!(
                "wrote {} accounts, {} principals, {} keys, {} request keys to {} in {:.2?}",
                s.accounts.len(),
                s.principals.len(),
                s.keys.len(),
                s.context_keys.len(),
                out.display(),
                start.elapsed()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot write `{}`: {e}", out.display());
            ExitCode::from(2)
        }
    }
}
