//! The scale benchmark: a synthetic organization (testgen), then the timings of loading,
//! `who-can kms:Decrypt` on one key, and `check` of organization-wide properties over every key.
//!
//! `cargo bench --bench scale -- [--accounts N] [--roles N] [--keys N] [--grants N] [--seed S]`
//! (defaults: the issue's target size, 500 accounts × 10 roles, 2,000 keys, 20,000 grants).
//! Results go to BENCHMARKS.md by hand, with the machine.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "a benchmark program: a failure is a panic with the reason"
)]

use keyproof_model::reference::Reference;
use keyproof_model::Snapshot;
use keyproof_parser::property::parse_properties;
use keyproof_parser::SourceMap;
use keyproof_solver::check::{check_property, named_principals, Status};
use keyproof_solver::query::Prover;
use keyproof_solver::who_can::who_can;
use std::time::Instant;

const PROPERTIES: &str = r#"
property no_external_access {
  forall principal, key:
    can(principal, kms:Decrypt, key) implies principal in org
}

property separation_of_duties {
  forall principal, key:
    not (can(principal, kms:PutKeyPolicy, key) and can(principal, kms:Decrypt, key))
}
"#;

fn arg(args: &[String], name: &str, default: usize) -> usize {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let params = keyproof_testgen::Params {
        accounts: arg(&args, "--accounts", 500),
        roles_per_account: arg(&args, "--roles", 10),
        keys: arg(&args, "--keys", 2000),
        // `--grants` is the total, spread over the keys.
        grants_per_key: arg(&args, "--grants", 20_000) / arg(&args, "--keys", 2000).max(1),
        seed: arg(&args, "--seed", 7) as u64,
        conditions: true,
        oracle: false,
    };
    let dir = std::env::temp_dir().join(format!("keyproof-bench-{}", std::process::id()));
    let t = Instant::now();
    let summary = keyproof_testgen::write_snapshot(&dir, &params).unwrap();
    println!(
        "generate   {:>8.3} s  ({} accounts, {} principals, {} keys, {} grants requested)",
        t.elapsed().as_secs_f64(),
        params.accounts,
        summary.principals.len(),
        summary.keys.len(),
        params.grants_per_key
    );

    let t = Instant::now();
    let snapshot = Snapshot::load(&dir).unwrap();
    let load = t.elapsed().as_secs_f64();
    println!("load       {load:>8.3} s");

    let t = Instant::now();
    let prover = Prover::new(&snapshot, 10_000, &[]);
    let domain = prover.domain(&[]);
    let key = snapshot.key(&summary.keys[0]).unwrap();
    let decrypt = Reference::get().action("kms:Decrypt").unwrap();
    let answer = who_can(&prover, &domain, decrypt, key).unwrap();
    let wc = t.elapsed().as_secs_f64();
    println!(
        "who-can    {wc:>8.3} s  ({} principals asked, {} allowed; with loading {:.3} s)",
        domain.len(),
        answer.principals.len(),
        wc + load
    );

    let mut sources = SourceMap::new();
    let file = parse_properties(&mut sources, "bench.kp", PROPERTIES.to_string()).unwrap();
    let extra = named_principals(&file.properties);
    let prover = Prover::new(&snapshot, 10_000, &extra);
    let domain = prover.domain(&extra);
    for p in &file.properties {
        let t = Instant::now();
        let r = check_property(&prover, &sources, p, &domain).unwrap();
        let status = match r.status {
            Status::Proved => "proved",
            Status::Violated => "violated",
            Status::Vacuous => "vacuous",
            Status::Unknown => "unknown",
        };
        println!(
            "check      {:>8.3} s  {} — {status}, {} instances",
            t.elapsed().as_secs_f64(),
            p.name.value,
            r.instances
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
