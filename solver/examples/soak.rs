//! Long differential runs (evaluator vs encoding on random organizations and requests), outside
//! `cargo test`:
//!
//! ```text
//! cargo run --release -p keyproof-solver --example soak -- [--requests N] SEED... | FROM..TO
//! cargo run --release -p keyproof-solver --example soak -- --dump DIR SEED
//! ```
//!
//! The comparison is the one of `tests/differential_random.rs` (shared through `#[path]`);
//! `--dump` writes the organization of one seed, to minimise a disagreement by hand.

#[path = "../tests/differential_random.rs"]
mod differential_random;

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
    let mut dump = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let parsed = match a.as_str() {
            "--requests" => {
                it.next().and_then(|n| n.parse().ok()).map(|n| requests = n).ok_or("`--requests` needs a number".into())
            }
            "--dump" => it.next().map(|d| dump = Some(d.clone())).ok_or("`--dump` needs a folder".into()),
            s => seeds(s).map(|s| all.extend(s)),
        };
        if let Err(e) = parsed {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    }
    if let Some(dir) = dump {
        for seed in &all {
            let p = differential_random::small_params(*seed);
            match keyproof_testgen::write_snapshot(std::path::Path::new(&dir), &p) {
                Ok(_) => println!("wrote seed {seed} ({p:?}) to {dir}"),
                Err(e) => {
                    eprintln!("cannot write `{dir}`: {e}");
                    return ExitCode::from(2);
                }
            }
        }
        return ExitCode::SUCCESS;
    }
    if all.is_empty() {
        eprintln!("usage: soak [--requests N] SEED... | FROM..TO   or   soak --dump DIR SEED");
        return ExitCode::from(2);
    }
    let start = Instant::now();
    let n = all.len();
    let tally = differential_random::run_seeds(all, requests);
    println!(
        "{n} seeds: {} compared ({} allow, {} deny, {} unknown; {} solver unknown), {} rejected, {} disagreements, in {:.1?}",
        tally.compared,
        tally.allow,
        tally.deny,
        tally.unknown,
        tally.solver_unknown,
        tally.rejected,
        tally.disagreements.len(),
        start.elapsed()
    );
    for d in &tally.disagreements {
        println!("{d}");
    }
    if tally.disagreements.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
