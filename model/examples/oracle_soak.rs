//! Long runs of the oracle comparison (the concrete evaluator against `@cloud-copilot/iam-simulate`
//! on random organizations and requests), outside `cargo test`:
//!
//! ```text
//! ./scripts/setup --test-tools
//! cargo run -p keyproof-model --example oracle_soak -- [--requests N] SEED... | FROM..TO
//! KEYPROOF_ORACLE_VERBOSE=1 cargo run -p keyproof-model --example oracle_soak -- 17
//! ```
//!
//! The comparison and its table of known divergences are the ones of `tests/oracle.rs` (shared
//! through `#[path]`); `KEYPROOF_ORACLE_VERBOSE` prints keyproof's trace, the simulation and the
//! oracle's analysis of every divergence no row explains, `KEYPROOF_ORACLE_DEBUG` each combination
//! of rows tried on a divergence and the answers it got.

#[path = "../tests/oracle.rs"]
mod oracle;

use std::process::ExitCode;
use std::time::Instant;

fn seeds(arg: &str) -> Result<Vec<u64>, String> {
    let bad = || format!("`{arg}` is not a seed or a range FROM..TO");
    match arg.split_once("..") {
        Some((a, b)) => {
            let (a, b) = (a.parse::<u64>().map_err(|_| bad())?, b.parse::<u64>().map_err(|_| bad())?);
            Ok((a..b).collect())
        }
        None => Ok(vec![arg.parse::<u64>().map_err(|_| bad())?]),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut requests = 200usize;
    let mut all = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let parsed = match a.as_str() {
            "--requests" => {
                it.next().and_then(|n| n.parse().ok()).map(|n| requests = n).ok_or("`--requests` needs a number".into())
            }
            s => seeds(s).map(|s| all.extend(s)),
        };
        if let Err(e) = parsed {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    }
    if all.is_empty() {
        eprintln!("usage: oracle_soak [--requests N] SEED... | FROM..TO");
        return ExitCode::from(2);
    }
    if let Err(e) = oracle::Oracle::start() {
        eprintln!("{e}");
        return ExitCode::from(2);
    }
    let start = Instant::now();
    let n = all.len();
    let tally = oracle::run_seeds(all, requests);
    println!("{n} seeds: {}", oracle::report(&tally, start.elapsed()));
    for d in &tally.divergences {
        println!("{d}");
    }
    if tally.divergences.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
