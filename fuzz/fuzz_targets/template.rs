//! Arbitrary text as a CloudFormation template (YAML with the short intrinsic tags, or JSON),
//! read and overlaid as a stack and as a StackSet on a small organization. Errors are fine; a
//! panic or a stack overflow is a bug.

#![no_main]

use keyproof_parser::overlay::cloudformation::{apply_template, read_template_lenient, targets_flag, Deployment};
use keyproof_parser::snapshot::{OrgFile, OrgNode, OrgNodeKind, RawSnapshot};
use keyproof_parser::{SourceMap, Span, Spanned};
use libfuzzer_sys::fuzz_target;

fn node(kind: OrgNodeKind, id: &str, children: Vec<OrgNode>) -> OrgNode {
    OrgNode { kind, id: Spanned::new(id.to_string(), Span::default()), name: None, policy_ids: Vec::new(), children, span: Span::default() }
}

fn snapshot() -> RawSnapshot {
    let account = node(OrgNodeKind::Account, "444455556666", Vec::new());
    let ou = node(OrgNodeKind::OrganizationalUnit, "ou-a1b2-prod0001", vec![account]);
    RawSnapshot {
        organization: Some(OrgFile {
            id: Spanned::new("o-a1b2c3d4e5".into(), Span::default()),
            management_account: Spanned::new("999988887777".into(), Span::default()),
            roots: vec![node(OrgNodeKind::Root, "r-a1b2", vec![ou])],
            policies: Vec::new(),
            other_policy_ids: Vec::new(),
            policy_types: None,
        }),
        ..RawSnapshot::default()
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for stackset in [false, true] {
        let mut sources = SourceMap::new();
        let id = sources.add("template.yaml", text.to_string(), None);
        let Ok(template) = read_template_lenient(&sources, id) else { continue };
        let deployment = if stackset {
            let targets = targets_flag(&mut sources, "ou-a1b2-prod0001");
            Deployment::StackSet { name: "fuzz".into(), targets, regions: vec!["us-east-1".into()] }
        } else {
            Deployment::Stack { account: "111122223333".into(), region: "us-east-1".into(), stack_name: "fuzz".into() }
        };
        let mut raw = snapshot();
        let _ = apply_template(&mut raw, &mut sources, template, &[], &deployment);
    }
});
