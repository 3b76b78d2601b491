//! No input makes the policy parser panic: random strings, random edits of a valid key policy
//! and random JSON built from the policy vocabulary go through `parse_json` and `parse_policy`
//! (the path of the snapshot reader) for every kind of policy. Every error they report must
//! carry a location inside the text it names. The cargo-fuzz targets in `fuzz/` do the same
//! without a time limit.

#![expect(clippy::unwrap_used, clippy::panic, reason = "test helpers: a failed check is a panic that says what failed")]

use keyproof_parser::json::{parse_json, Reader};
use keyproof_parser::policy::{parse_policy, parse_policy_value, PolicyKind};
use keyproof_parser::{ParseError, SourceMap};
use proptest::prelude::*;

const KINDS: [PolicyKind; 6] = [
    PolicyKind::KeyPolicy,
    PolicyKind::Identity,
    PolicyKind::PermissionsBoundary,
    PolicyKind::Trust,
    PolicyKind::Scp,
    PolicyKind::Rcp,
];

/// A valid key policy (ASCII, so that every byte offset is a character boundary).
const KEY_POLICY: &str = r#"{
  "Version": "2012-10-17",
  "Id": "key-default-1",
  "Statement": [
    {
      "Sid": "EnableIamPolicies",
      "Effect": "Allow",
      "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
      "Action": "kms:*",
      "Resource": "*"
    },
    {
      "Sid": "AllowUseViaS3",
      "Effect": "Allow",
      "Principal": {"AWS": ["arn:aws:iam::444455556666:root", "arn:aws:iam::444455556666:role/App"]},
      "NotAction": ["kms:ScheduleKeyDeletion", "kms:Put*"],
      "Resource": "*",
      "Condition": {
        "StringEquals": {"kms:ViaService": "s3.us-east-1.amazonaws.com", "kms:CallerAccount": ["444455556666"]},
        "ForAnyValue:StringLike": {"aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*"},
        "Bool": {"aws:SecureTransport": true},
        "Null": {"kms:GrantIsForAWSResource": "false"}
      }
    }
  ]
}"#;

/// Checks that every error names the source and a line and column inside its text.
fn assert_located(sources: &SourceMap, e: &ParseError) {
    for leaf in e.leaves() {
        let ParseError::Invalid { location, .. } = leaf else {
            panic!("an error without a location: {leaf}");
        };
        let (name_line, column) = location.rsplit_once(':').unwrap();
        let (name, line) = name_line.rsplit_once(':').unwrap();
        let (line, column): (usize, usize) = (line.parse().unwrap(), column.parse().unwrap());
        let file = (0..sources.len())
            .map(|i| sources.get(keyproof_parser::SourceId(u32::try_from(i).unwrap())).unwrap())
            .find(|f| f.name == name)
            .unwrap_or_else(|| panic!("`{location}` names no source"));
        let lines: Vec<&str> = file.text.split('\n').collect();
        assert!(line >= 1 && line <= lines.len(), "`{location}`: line out of range");
        assert!(column >= 1 && column <= lines[line - 1].chars().count() + 1, "`{location}`: column out of range");
    }
}

/// Parses a text as a policy of every kind; returns how many kinds read it without an error.
fn parse_everything(text: &str) -> usize {
    let mut sources = SourceMap::new();
    let id = sources.add("policy.json", text.to_string(), None);
    let doc = match parse_json(&sources, id) {
        Ok(doc) => doc,
        Err(e) => {
            assert_located(&sources, &e);
            return 0;
        }
    };
    let mut clean = 0;
    for kind in KINDS {
        let mut r = Reader::new(&mut sources);
        // As a key file's `Policy`, the value may be a JSON string holding the document.
        let policy = parse_policy_value(&mut r, &doc, kind, "Policy");
        match r.finish("policy.json") {
            Ok(()) => {
                assert!(policy.is_some(), "no error and no policy for {text:?}");
                clean += 1;
            }
            Err(e) => assert_located(&sources, &e),
        }
        let mut r = Reader::new(&mut sources);
        let _ = parse_policy(&mut r, &doc, kind);
        if let Err(e) = r.finish("policy.json") {
            assert_located(&sources, &e);
        }
    }
    clean
}

#[test]
fn the_unmutated_key_policy_is_valid() {
    let mut sources = SourceMap::new();
    let id = sources.add("policy.json", KEY_POLICY.to_string(), None);
    let doc = parse_json(&sources, id).unwrap();
    let mut r = Reader::new(&mut sources);
    let policy = parse_policy(&mut r, &doc, PolicyKind::KeyPolicy).unwrap();
    r.finish("policy.json").unwrap();
    assert_eq!(policy.statements.len(), 2);
    assert_eq!(policy.statements[1].conditions.len(), 5);
}

#[test]
fn deeply_nested_input_is_an_error_not_a_stack_overflow() {
    for (open, close) in [("[", ""), ("{\"a\":", ""), ("[", "]"), ("{\"a\":", "}")] {
        // Unclosed, and closed: a valid document nested too deep is refused all the same.
        let text = format!("{}1{}", open.repeat(100_000), close.repeat(100_000));
        let mut sources = SourceMap::new();
        let id = sources.add("deep.json", text, None);
        let e = parse_json(&sources, id).unwrap_err();
        assert!(e.to_string().contains("recursion limit exceeded"), "{e}");
        assert_located(&sources, &e);
    }
}

#[test]
fn missing_comma_between_members_is_an_error() {
    // jsonc-parser alone reads `{"a": 1 "b": 2}` as two members.
    let mut sources = SourceMap::new();
    let id = sources.add("policy.json", "{\"a\": 1\n \"b\": 2}".to_string(), None);
    let e = parse_json(&sources, id).unwrap_err();
    let ParseError::Invalid { location, message, .. } = &e else { panic!("{e:?}") };
    assert_eq!(location, "policy.json:2:2");
    assert_eq!(message, "invalid JSON: expected `,` or `}`");
}

/// One edit of a text: delete a range, insert a token, or replace a byte.
#[derive(Debug, Clone)]
enum Edit {
    Delete(usize, usize),
    Insert(usize, &'static str),
    Replace(usize, char),
}

/// Fragments that make JSON and IAM policies interesting.
const TOKENS: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "\\",
    "\\u",
    "\\ud800",
    "null",
    "true",
    "false",
    "0",
    "-",
    "1e999",
    "5",
    "\"*\"",
    "\"Allow\"",
    "\"Deny\"",
    "\"Statement\"",
    "\"Principal\"",
    "\"NotPrincipal\"",
    "\"Action\"",
    "\"Resource\"",
    "\"Condition\"",
    "\"NullIfExists\"",
    "\"ForAllValues:StringEquals\"",
    "\"IfExists\"",
    "\"arn:aws:iam::*:root\"",
    "\"%7B%22\"",
    "\"%\"",
    "\"{\\\"Statement\\\":[]}\"",
    "//",
    "/*",
    "'",
    "\u{e9}",
    "\u{1F600}",
    "\n",
    "\t",
    "\u{0}",
];

fn edit() -> impl Strategy<Value = Edit> {
    let len = KEY_POLICY.len();
    prop_oneof![
        (0..len, 0..len).prop_map(|(a, b)| Edit::Delete(a.min(b), a.max(b))),
        (0..=len, proptest::sample::select(TOKENS)).prop_map(|(at, t)| Edit::Insert(at, t)),
        (0..len, any::<char>()).prop_map(|(at, c)| Edit::Replace(at, c)),
    ]
}

fn apply(edits: &[Edit]) -> String {
    let mut text = KEY_POLICY.to_string();
    for e in edits {
        // Positions are for the original text; clamp them and keep to character boundaries.
        let fit = |text: &str, mut i: usize| {
            i = i.min(text.len());
            while !text.is_char_boundary(i) {
                i -= 1;
            }
            i
        };
        match *e {
            Edit::Delete(a, b) => {
                let (a, b) = (fit(&text, a), fit(&text, b));
                text.replace_range(a..b, "");
            }
            Edit::Insert(at, t) => {
                let at = fit(&text, at);
                text.insert_str(at, t);
            }
            Edit::Replace(at, c) => {
                let at = fit(&text, at);
                if let Some(old) = text[at..].chars().next() {
                    text.replace_range(at..at + old.len_utf8(), c.encode_utf8(&mut [0; 4]));
                }
            }
        }
    }
    text
}

/// Random JSON whose names and strings come from the policy vocabulary.
fn policy_json() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let names = proptest::sample::select(vec![
        "Version",
        "Id",
        "Statement",
        "Sid",
        "Effect",
        "Principal",
        "NotPrincipal",
        "AWS",
        "Service",
        "Federated",
        "Action",
        "NotAction",
        "Resource",
        "NotResource",
        "Condition",
        "StringEquals",
        "StringLikeIfExists",
        "ForAnyValue:ArnLike",
        "Null",
        "NullIfExists",
        "Bool",
        "IpAddress",
        "kms:ViaService",
        "aws:PrincipalArn",
        "Actions",
        "Foo",
    ]);
    let strings = proptest::sample::select(vec![
        "2012-10-17",
        "2008-10-17",
        "Allow",
        "Deny",
        "Permit",
        "*",
        "kms:*",
        "kms:Decrypt",
        "kms:",
        ":",
        "s3:Get?",
        "arn:aws:iam::111122223333:root",
        "arn:aws:iam::*:root",
        "111122223333",
        "s3.amazonaws.com",
        "true",
        "false",
        "10.0.0.0/8",
        "${aws:PrincipalAccount}",
        "${",
        "%7B%7D",
        "{}",
        "{\"Statement\":[]}",
        "",
    ]);
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        strings.prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            proptest::collection::vec((names.clone(), inner), 0..6)
                .prop_map(|members| Value::Object(members.into_iter().map(|(k, v)| (k.to_string(), v)).collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn random_strings_do_not_panic(text in any::<String>()) {
        parse_everything(&text);
    }

    #[test]
    fn json_like_strings_do_not_panic(text in "[{}\\[\\]\":,a-zA-Z0-9*%\\\\ \n-]{0,200}") {
        parse_everything(&text);
    }

    #[test]
    fn edits_of_a_valid_key_policy_do_not_panic(edits in proptest::collection::vec(edit(), 1..6)) {
        parse_everything(&apply(&edits));
    }

    #[test]
    fn policy_shaped_json_does_not_panic(value in policy_json()) {
        let text = serde_json::to_string_pretty(&value).unwrap();
        parse_everything(&text);
        // The same document embedded in a JSON string, as the key policy is in a key file.
        parse_everything(&serde_json::to_string(&text).unwrap());
    }
}
