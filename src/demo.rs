//! `keyproof demo`: the questions keyproof answers, asked of the embedded demo organization
//! (corpus/central-kms): explain, who-can, check, and lint, which finds every planted
//! misconfiguration (among them the delegation to an outside account that the RCP blocks).

use crate::cli::{CheckArgs, CheckFormat, ExplainArgs, Format, SnapshotArgs, WhoCanArgs};
use crate::err::CliError;
use crate::output::emit;

/// The demo's properties and lint settings, compiled in.
const PROPERTIES: &str = include_str!("../corpus/central-kms/properties.kp");
const SETTINGS: &str = include_str!("../corpus/central-kms/keyproof.toml");

/// The demo's last line: where the planted misconfigurations are described (a file of the
/// repository; `tests/cli.rs` checks that it exists).
pub const DEMO_END: &str = "The violations are planted misconfigurations: corpus/central-kms/README.md (in the keyproof repository) describes each one and the command that finds it.";

pub fn run() -> Result<i32, CliError> {
    emit("━━ 1. explain: can the Test account's AppRole decrypt with the prod S3 key?\n\n")?;
    emit("$ keyproof explain --principal arn:aws:sts::555566667777:assumed-role/AppRole/ci --action kms:Decrypt \\\n    --key alias/s3-prod-key --context kms:EncryptionContext:aws:s3:arn=arn:aws:s3:::payments-test-fixtures\n\n")?;
    crate::explain::run(&ExplainArgs {
        principal: "arn:aws:sts::555566667777:assumed-role/AppRole/ci".into(),
        action: "kms:Decrypt".into(),
        key: "alias/s3-prod-key".into(),
        context: vec!["kms:EncryptionContext:aws:s3:arn=arn:aws:s3:::payments-test-fixtures".into()],
        snapshot: SnapshotArgs { snapshot: None, format: Format::Text, plan: Default::default() },
    })?;
    emit("\n━━ 2. who-can: who can decrypt with the prod S3 key at all?\n\n$ keyproof who-can kms:Decrypt alias/s3-prod-key\n\n")?;
    crate::who_can::run(&WhoCanArgs {
        action: "kms:Decrypt".into(),
        key: "alias/s3-prod-key".into(),
        timeout: 10_000,
        transitive: false,
        max_hops: 4,
        account: None,
        ou: None,
        kind: None,
        json: None,
        markdown: None,
        snapshot: SnapshotArgs { snapshot: None, format: Format::Text, plan: Default::default() },
    })?;
    emit("\n━━ 3. check: do the organization's properties hold for every possible request?\n\n$ keyproof check corpus/central-kms/properties.kp\n\n")?;
    let dir = std::env::temp_dir().join(format!("keyproof-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = dir.join("properties.kp");
    std::fs::write(&file, PROPERTIES)?;
    let result = crate::check::run(&CheckArgs {
        properties: file,
        snapshot: None,
        format: CheckFormat::Text,
        timeout: 10_000,
        shard: None,
        max_hops: keyproof_solver::check::DEFAULT_MAX_HOPS,
        plan: Default::default(),
        outputs: Default::default(),
    });
    let result = result.and_then(|_| {
        emit("\n━━ 4. lint: what do the rules find? (the demo's settings: corpus/central-kms/keyproof.toml)\n\n$ keyproof lint\n\n")?;
        let settings = dir.join("keyproof.toml");
        std::fs::write(&settings, SETTINGS)?;
        crate::lint::run(&crate::lint::LintArgs {
            snapshot: None,
            config: crate::config::ConfigArgs { config: Some(settings), isolated: false },
            format: CheckFormat::Text,
            select: Vec::new(),
            ignore: Vec::new(),
            fail_on: None,
            timeout: 10_000,
            shard: None,
            plan: Default::default(),
            outputs: Default::default(),
        })
    });
    let _ = std::fs::remove_dir_all(&dir);
    result?;
    emit(&format!("\n{DEMO_END}\n"))?;
    Ok(0)
}
