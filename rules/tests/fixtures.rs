//! Every rule against its fixtures: `corpus/rules/<code>/fail/` must give at least one finding of
//! the rule and `pass/` none; the rendered findings are pinned with insta snapshots (reviewed by
//! eye). A rule without a documentation section or without fixtures fails here.

#![expect(clippy::unwrap_used, clippy::panic, reason = "tests: a failed check is a panic that says what failed")]

use keyproof_model::Snapshot;
use keyproof_rules::registry::DOC_SECTIONS;
use keyproof_rules::{lint, Config, LintReport, Selection, RULES};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/rules")
}

fn run(dir: &Path, code: &str) -> LintReport {
    let snapshot = Snapshot::load(dir).unwrap_or_else(|e| panic!("{}: {e:?}", dir.display()));
    let toml = dir.join("keyproof.toml");
    let config = if toml.is_file() {
        Config::parse(&toml.display().to_string(), &std::fs::read_to_string(&toml).unwrap()).unwrap()
    } else {
        Config::default()
    };
    lint(&snapshot, &config, &Selection { select: vec![code.to_string()], ignore: vec![] }, 10_000).unwrap()
}

/// The findings as a person reads them: message, places, replayed requests, notes.
fn render(report: &LintReport) -> String {
    let mut s = String::new();
    for f in &report.findings {
        let _ = writeln!(s, "{} [{}] {} on {}", f.code, f.severity.as_str(), f.name, f.key);
        let _ = writeln!(s, "  {}", f.message);
        for l in &f.locations {
            let _ = writeln!(s, "  at {}:{}:{} = {} ({})", l.place.file, l.place.line, l.place.column, l.place, l.what);
        }
        for r in &f.requests {
            let _ = writeln!(s, "  request: {} {} -> {}", r.principal, r.action, r.decision);
            for (k, v) in &r.context {
                let _ = writeln!(s, "    with {k} = {}", v.join(", "));
            }
            for a in &r.assumptions {
                let _ = writeln!(s, "    assuming {a}");
            }
            for b in &r.because {
                let _ = writeln!(s, "    allowed by {}", b.name());
            }
        }
        for n in &f.notes {
            let _ = writeln!(s, "  note: {n}");
        }
    }
    for u in &report.undetermined {
        let _ = writeln!(s, "undetermined: {u:?}");
    }
    s
}

#[test]
fn every_rule_fails_its_fail_fixture_and_passes_its_pass_fixture() {
    for rule in RULES {
        let dir = corpus().join(rule.code);
        let fail = run(&dir.join("fail"), rule.code);
        assert!(fail.findings.iter().any(|f| f.code == rule.code), "{}: the fail fixture gives no finding", rule.code);
        assert!(fail.undetermined.is_empty(), "{}: undetermined on the fail fixture", rule.code);
        insta::assert_snapshot!(format!("{}_fail", rule.code), render(&fail));
        let pass = run(&dir.join("pass"), rule.code);
        assert_eq!(render(&pass), "", "{}: the pass fixture gives findings", rule.code);
    }
}

#[test]
fn every_rule_has_its_doc_sections_and_fixtures() {
    for rule in RULES {
        let doc = rule.doc();
        assert!(
            doc.starts_with(&format!("# {} {}\n", rule.code, rule.name)),
            "{}: the doc must start with `# {} {}`",
            rule.code,
            rule.code,
            rule.name
        );
        assert!(!rule.summary().is_empty(), "{}: no summary sentence", rule.code);
        let mut last = 0;
        for section in DOC_SECTIONS {
            let at =
                doc.find(&format!("{section}\n")).unwrap_or_else(|| panic!("{}: no `{section}` in the doc", rule.code));
            assert!(at >= last, "{}: `{section}` is out of order", rule.code);
            last = at;
            let body = rule.section(section).unwrap();
            assert!(!body.is_empty(), "{}: `{section}` is empty", rule.code);
        }
        let refs = rule.references();
        assert!(
            !refs.is_empty() && refs.iter().all(|r| r.starts_with("https://docs.aws.amazon.com/")),
            "{}: References must list AWS documentation pages",
            rule.code
        );
        for side in ["fail", "pass"] {
            let dir = corpus().join(rule.code).join(side);
            assert!(
                dir.join("organization.json").is_file() || dir.join("accounts").is_dir(),
                "{}: no {side} fixture",
                rule.code
            );
        }
    }
}

#[test]
fn every_fixture_folder_belongs_to_a_rule() {
    for entry in std::fs::read_dir(corpus()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        assert!(RULES.iter().any(|r| r.code == name), "corpus/rules/{name} is not a rule code");
    }
}

#[test]
fn codes_are_unique_and_in_order() {
    for (i, r) in RULES.iter().enumerate() {
        assert_eq!(r.code, format!("KP{:03}", i + 1));
    }
}

#[test]
fn a_suppression_without_a_reason_is_an_error() {
    let e = Config::parse("keyproof.toml", "[[suppress]]\nrule = \"KP013\"\nkey = \"alias/x\"\n").unwrap_err();
    assert!(e.to_string().contains("has no `reason`"), "{e}");
    let e = Config::parse("keyproof.toml", "ignore = [\"KP099\"]\n").unwrap_err();
    assert_eq!(e.to_string(), "unknown rule `KP099`");
    let e = Config::parse("keyproof.toml", "security_acounts = []\n").unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
}

#[test]
fn a_suppression_with_a_reason_moves_the_finding_aside() {
    let dir = corpus().join("KP015/fail");
    let snapshot = Snapshot::load(&dir).unwrap();
    let config =
        Config::parse("keyproof.toml", "[[suppress]]\nrule = \"KP015\"\nkey = \"alias/app\"\nreason = \"HSM-backed keys rotate by re-import (SEC-7)\"\n")
            .unwrap();
    let r = lint(&snapshot, &config, &Selection { select: vec!["KP015".into()], ignore: vec![] }, 10_000).unwrap();
    assert!(r.findings.is_empty());
    assert_eq!(r.suppressed.len(), 1);
    assert_eq!(r.suppressed[0].reason, "HSM-backed keys rotate by re-import (SEC-7)");
}
