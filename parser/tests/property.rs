//! The property language: the examples of issue 3 parse to the ASTs they mean, precedence,
//! every error at its `file:line:column`, and parse → print → parse on random ASTs.

#![cfg(test)]

use keyproof_parser::property::{
    parse_properties, Binder, ContextCond, Formula, KeyTerm, PrincipalTerm, Property, PropertyFile, SetExpr, Var,
    MAX_OPERATORS,
};
use keyproof_parser::{ParseError, SourceMap, Span, Spanned};
use proptest::prelude::*;

/// The five properties of issue 3, verbatim.
const ISSUE_EXAMPLES: &str = r#"# Only principals in accounts under OU Workloads/Prod can decrypt with the prod S3 key.
property prod_only_decrypt {
  forall principal:
    can(principal, kms:Decrypt, key "alias/s3-prod-key") implies principal in ou "Root/Workloads/Prod"
}

# Nobody outside the organization can use any key in any way.
property no_external_access {
  forall principal, key:
    can(principal, kms:*, key) implies principal in org
}

# Separation of duties: whoever can change a key's policy cannot decrypt with it.
property separation_of_duties {
  forall principal, key:
    not (can(principal, kms:PutKeyPolicy, key) and can(principal, kms:Decrypt, key))
}

# The prod S3 key decrypts only through S3.
property s3_key_only_via_s3 {
  forall principal:
    not can(principal, kms:Decrypt, key "alias/s3-prod-key")
        where not (context "kms:ViaService" like "s3.*.amazonaws.com")
}

# Only the security account's KeyAdmin role can schedule key deletion.
property deletion_by_key_admin_only {
  forall principal, key in account "security":
    can(principal, kms:ScheduleKeyDeletion, key) implies principal == "arn:aws:iam::111122223333:role/KeyAdmin"
}
"#;

fn parse(text: &str) -> Result<PropertyFile, ParseError> {
    parse_properties(&mut SourceMap::new(), "props.kp", text.to_string())
}

fn parse_ok(text: &str) -> PropertyFile {
    match parse(text) {
        Ok(file) => file,
        Err(e) => panic!("`{text}` does not parse: {:?}", leaves(&e)),
    }
}

/// `(location, message)` of every error.
fn leaves(e: &ParseError) -> Vec<(String, String)> {
    e.leaves()
        .into_iter()
        .map(|leaf| match leaf {
            ParseError::Invalid { location, message, .. } => (location.clone(), message.clone()),
            other => ("<no location>".to_string(), other.to_string()),
        })
        .collect()
}

fn errors(text: &str) -> Vec<(String, String)> {
    match parse(text) {
        Ok(file) => panic!("`{text}` parses, as {file:?}"),
        Err(e) => leaves(&e),
    }
}

// Builders for expected ASTs; spans are ignored by equality, so they are left at zero.

fn s(text: &str) -> Spanned<String> {
    Spanned::new(text.to_string(), Span::default())
}

fn binder(var: Var, domain: Option<SetExpr>) -> Binder {
    Binder { var, domain, span: Span::default() }
}

fn can(principal: PrincipalTerm, action: &str, key: KeyTerm, context: Option<ContextCond>) -> Formula {
    Formula::Can { principal, action: s(action), key, context, span: Span::default() }
}

fn pvar() -> PrincipalTerm {
    PrincipalTerm::Var(Span::default())
}

fn kvar() -> KeyTerm {
    KeyTerm::Var(Span::default())
}

fn klit(key: &str) -> KeyTerm {
    KeyTerm::Literal(s(key))
}

fn not(f: Formula) -> Formula {
    Formula::Not(Box::new(f))
}

fn and(a: Formula, b: Formula) -> Formula {
    Formula::And(Box::new(a), Box::new(b))
}

fn implies(a: Formula, b: Formula) -> Formula {
    Formula::Implies(Box::new(a), Box::new(b))
}

fn property(name: &str, doc: &str, binders: Vec<Binder>, body: Formula) -> Property {
    Property { name: s(name), doc: Some(doc.to_string()), binders, body, span: Span::default() }
}

#[test]
fn issue_examples_parse_to_their_asts() {
    let file = parse_ok(ISSUE_EXAMPLES);
    let expected = PropertyFile {
        properties: vec![
            property(
                "prod_only_decrypt",
                "Only principals in accounts under OU Workloads/Prod can decrypt with the prod S3 key.",
                vec![binder(Var::Principal, None)],
                implies(
                    can(pvar(), "kms:Decrypt", klit("alias/s3-prod-key"), None),
                    Formula::PrincipalIn(SetExpr::Ou(s("Root/Workloads/Prod")), Span::default()),
                ),
            ),
            property(
                "no_external_access",
                "Nobody outside the organization can use any key in any way.",
                vec![binder(Var::Principal, None), binder(Var::Key, None)],
                implies(can(pvar(), "kms:*", kvar(), None), Formula::PrincipalIn(SetExpr::Org, Span::default())),
            ),
            property(
                "separation_of_duties",
                "Separation of duties: whoever can change a key's policy cannot decrypt with it.",
                vec![binder(Var::Principal, None), binder(Var::Key, None)],
                not(and(can(pvar(), "kms:PutKeyPolicy", kvar(), None), can(pvar(), "kms:Decrypt", kvar(), None))),
            ),
            property(
                "s3_key_only_via_s3",
                "The prod S3 key decrypts only through S3.",
                vec![binder(Var::Principal, None)],
                not(can(
                    pvar(),
                    "kms:Decrypt",
                    klit("alias/s3-prod-key"),
                    Some(ContextCond::Not(Box::new(ContextCond::Like {
                        key: s("kms:ViaService"),
                        pattern: s("s3.*.amazonaws.com"),
                    }))),
                )),
            ),
            property(
                "deletion_by_key_admin_only",
                "Only the security account's KeyAdmin role can schedule key deletion.",
                vec![binder(Var::Principal, None), binder(Var::Key, Some(SetExpr::Account(s("security"))))],
                implies(
                    can(pvar(), "kms:ScheduleKeyDeletion", kvar(), None),
                    Formula::PrincipalEq(s("arn:aws:iam::111122223333:role/KeyAdmin"), false, Span::default()),
                ),
            ),
        ],
    };
    assert_eq!(file, expected);
}

#[test]
fn s3_key_only_via_s3_is_a_negated_can_with_its_where() {
    let file = parse_ok(ISSUE_EXAMPLES);
    let Some(property) = file.get("s3_key_only_via_s3") else { panic!("no s3_key_only_via_s3 in {file:?}") };
    let Formula::Not(inner) = &property.body else { panic!("not a `not`: {:?}", property.body) };
    let Formula::Can { principal: PrincipalTerm::Var(_), action, key: KeyTerm::Literal(key), context, .. } = &**inner
    else {
        panic!("not a `can`: {inner:?}")
    };
    assert_eq!(action.value, "kms:Decrypt");
    assert_eq!(key.value, "alias/s3-prod-key");
    let Some(ContextCond::Not(condition)) = context else { panic!("no negated condition: {context:?}") };
    let ContextCond::Like { key, pattern } = &**condition else { panic!("not a `like`: {condition:?}") };
    assert_eq!((key.value.as_str(), pattern.value.as_str()), ("kms:ViaService", "s3.*.amazonaws.com"));
}

#[test]
fn issue_examples_keep_their_spans() {
    let mut sources = SourceMap::new();
    let file = match parse_properties(&mut sources, "issue.kp", ISSUE_EXAMPLES.to_string()) {
        Ok(file) => file,
        Err(e) => panic!("{:?}", leaves(&e)),
    };
    let first = &file.properties[0];
    assert_eq!(sources.location(first.name.span), "issue.kp:2:10");
    assert_eq!(sources.location(first.span), "issue.kp:2:1");
    assert_eq!(sources.slice(first.binders[0].span), "principal");
    let Formula::Implies(lhs, rhs) = &first.body else { panic!("{:?}", first.body) };
    let Formula::Can { action, key: KeyTerm::Literal(key), span, .. } = &**lhs else { panic!("{lhs:?}") };
    assert_eq!(sources.location(*span), "issue.kp:4:5");
    assert_eq!(sources.slice(*span), r#"can(principal, kms:Decrypt, key "alias/s3-prod-key")"#);
    assert_eq!(sources.slice(action.span), "kms:Decrypt");
    assert_eq!(sources.slice(key.span), r#""alias/s3-prod-key""#);
    let Formula::PrincipalIn(SetExpr::Ou(ou), span) = &**rhs else { panic!("{rhs:?}") };
    assert_eq!(sources.slice(*span), r#"principal in ou "Root/Workloads/Prod""#);
    assert_eq!(sources.location(ou.span), "issue.kp:4:82");
    let last = &file.properties[4];
    assert_eq!(sources.slice(last.binders[1].span), r#"key in account "security""#);
}

#[test]
fn issue_examples_print_in_canonical_form() {
    let file = parse_ok(ISSUE_EXAMPLES);
    let expected = r#"# Only principals in accounts under OU Workloads/Prod can decrypt with the prod S3 key.
property prod_only_decrypt {
  forall principal:
    can(principal, kms:Decrypt, key "alias/s3-prod-key") implies principal in ou "Root/Workloads/Prod"
}

# Nobody outside the organization can use any key in any way.
property no_external_access {
  forall principal, key:
    can(principal, kms:*, key) implies principal in org
}

# Separation of duties: whoever can change a key's policy cannot decrypt with it.
property separation_of_duties {
  forall principal, key:
    not (can(principal, kms:PutKeyPolicy, key) and can(principal, kms:Decrypt, key))
}

# The prod S3 key decrypts only through S3.
property s3_key_only_via_s3 {
  forall principal:
    not can(principal, kms:Decrypt, key "alias/s3-prod-key") where not context "kms:ViaService" like "s3.*.amazonaws.com"
}

# Only the security account's KeyAdmin role can schedule key deletion.
property deletion_by_key_admin_only {
  forall principal, key in account "security":
    can(principal, kms:ScheduleKeyDeletion, key) implies principal == "arn:aws:iam::111122223333:role/KeyAdmin"
}
"#;
    assert_eq!(file.to_string(), expected);
    assert_eq!(parse_ok(&file.to_string()), file);
}

/// The formula's tree, fully parenthesized: `(and A B)`, atoms in brackets.
fn tree(f: &Formula) -> String {
    match f {
        Formula::Not(a) => format!("(not {})", tree(a)),
        Formula::And(a, b) => format!("(and {} {})", tree(a), tree(b)),
        Formula::Or(a, b) => format!("(or {} {})", tree(a), tree(b)),
        Formula::Implies(a, b) => format!("(implies {} {})", tree(a), tree(b)),
        Formula::Can { principal, action, key, context: Some(c), .. } => {
            format!("(where [can({principal}, {}, {key})] {})", action.value, condition_tree(c))
        }
        atom => format!("[{atom}]"),
    }
}

fn condition_tree(c: &ContextCond) -> String {
    match c {
        ContextCond::Not(a) => format!("(not {})", condition_tree(a)),
        ContextCond::And(a, b) => format!("(and {} {})", condition_tree(a), condition_tree(b)),
        ContextCond::Or(a, b) => format!("(or {} {})", condition_tree(a), condition_tree(b)),
        atom => format!("[{atom}]"),
    }
}

/// Parses `formula` as the body of a property over `principal` and `key` and compares its tree.
fn check_tree(formula: &str, expected: &str) {
    let file = parse_ok(&format!("property t {{ forall principal, key: {formula} }}"));
    assert_eq!(tree(&file.properties[0].body), expected, "for `{formula}`");
    // The canonical form has the same tree.
    let reprinted = parse_ok(&file.to_string());
    assert_eq!(tree(&reprinted.properties[0].body), expected, "for `{formula}` printed as `{file}`");
}

#[test]
fn precedence_implies_or_and_not() {
    check_tree("true or false and true", "(or [true] (and [false] [true]))");
    check_tree("true and false or true", "(or (and [true] [false]) [true])");
    check_tree("true and false and true", "(and (and [true] [false]) [true])");
    check_tree("true or false or true", "(or (or [true] [false]) [true])");
    check_tree("true implies false implies true", "(implies [true] (implies [false] [true]))");
    check_tree("(true implies false) implies true", "(implies (implies [true] [false]) [true])");
    check_tree("true or false implies true and false", "(implies (or [true] [false]) (and [true] [false]))");
    check_tree("not true and false", "(and (not [true]) [false])");
    check_tree("not (true and false)", "(not (and [true] [false]))");
    check_tree("not not true or false", "(or (not (not [true])) [false])");
    check_tree("true and (false or true)", "(and [true] (or [false] [true]))");
    check_tree(
        "principal in org and key in region \"eu-west-1\" implies not principal like \"arn:aws:iam::*:role/Admin*\"",
        "(implies (and [principal in org] [key in region \"eu-west-1\"]) (not [principal like \"arn:aws:iam::*:role/Admin*\"]))",
    );
}

#[test]
fn where_binds_tighter_than_not_and_and() {
    check_tree(
        "not can(principal, kms:Decrypt, key) where context \"a\" exists",
        "(not (where [can(principal, kms:Decrypt, key)] [context \"a\" exists]))",
    );
    check_tree(
        "can(principal, kms:Decrypt, key) where context \"a\" exists and principal in org",
        "(and (where [can(principal, kms:Decrypt, key)] [context \"a\" exists]) [principal in org])",
    );
    check_tree(
        "can(principal, kms:Decrypt, key) where context \"a\" exists and context \"b\" exists",
        "(where [can(principal, kms:Decrypt, key)] (and [context \"a\" exists] [context \"b\" exists]))",
    );
    check_tree(
        "can(principal, kms:Decrypt, key) where context \"a\" exists or not context \"b\" == \"x\" implies false",
        "(implies (where [can(principal, kms:Decrypt, key)] (or [context \"a\" exists] (not [context \"b\" == \"x\"]))) [false])",
    );
    check_tree(
        "can(principal, kms:Decrypt, key) where context \"a\" exists and not can(principal, kms:Encrypt, key)",
        "(and (where [can(principal, kms:Decrypt, key)] [context \"a\" exists]) (not [can(principal, kms:Encrypt, key)]))",
    );
    check_tree(
        "can(principal, kms:Decrypt, key) where not context \"a\" exists or context \"b\" exists and context \"c\" exists",
        "(where [can(principal, kms:Decrypt, key)] (or (not [context \"a\" exists]) (and [context \"b\" exists] [context \"c\" exists])))",
    );
}

#[test]
fn every_context_condition_parses() {
    let file = parse_ok(
        r#"property conditions {
  forall principal, key:
    can(principal, kms:Generate*, key)
      where context "kms:EncryptionContext:app" == "billing"
        and context "aws:PrincipalTag/team" != "ops"
        and context "kms:CallerAccount" in ["111122223333", "444455556666"]
        and context "aws:SourceIp" in cidr "10.0.0.0/8"
        and context "aws:SourceVpce" exists
        and context "kms:ViaService" like "s3.*.amazonaws.com"
}"#,
    );
    let Formula::Can { action, context: Some(condition), .. } = &file.properties[0].body else {
        panic!("{:?}", file.properties[0].body)
    };
    assert_eq!(action.value, "kms:Generate*");
    let mut atoms = Vec::new();
    let mut c = condition;
    while let ContextCond::And(rest, last) = c {
        atoms.push(&**last);
        c = rest;
    }
    atoms.push(c);
    atoms.reverse();
    assert_eq!(
        atoms,
        vec![
            &ContextCond::Eq { key: s("kms:EncryptionContext:app"), value: s("billing"), negated: false },
            &ContextCond::Eq { key: s("aws:PrincipalTag/team"), value: s("ops"), negated: true },
            &ContextCond::In { key: s("kms:CallerAccount"), values: vec![s("111122223333"), s("444455556666")] },
            &ContextCond::InCidr { key: s("aws:SourceIp"), cidr: s("10.0.0.0/8") },
            &ContextCond::Exists(s("aws:SourceVpce")),
            &ContextCond::Like { key: s("kms:ViaService"), pattern: s("s3.*.amazonaws.com") },
        ]
    );
}

#[test]
fn every_test_on_the_variables_parses() {
    let file = parse_ok(
        r#"property tests {
  forall principal in account "111122223333", key in ou "ou-ab12-34cd56ef":
    principal in ou "Root/Workloads" and principal in account "app-prod" and principal in org
    and principal == "arn:aws:iam::111122223333:role/A" and principal != "s3.amazonaws.com"
    and principal like "arn:aws:iam::*:role/Admin*"
    and key in account "security" and key in region "eu-west-1" and key in ou "Root" and key in org
    and key == "alias/x" and key != "mrk-1234abcd12ab34cd56ef1234567890ab"
    and can("arn:aws:iam::111122223333:root", kms:Describe?ey, key "arn:aws:kms:eu-west-1:111122223333:alias/x")
    and (true or false)
}"#,
    );
    let property = &file.properties[0];
    assert_eq!(
        property.binders,
        vec![
            binder(Var::Principal, Some(SetExpr::Account(s("111122223333")))),
            binder(Var::Key, Some(SetExpr::Ou(s("ou-ab12-34cd56ef")))),
        ]
    );
    let mut conjuncts = Vec::new();
    let mut f = &property.body;
    while let Formula::And(rest, last) = f {
        conjuncts.push(&**last);
        f = rest;
    }
    conjuncts.push(f);
    conjuncts.reverse();
    let d = Span::default();
    let expected = vec![
        Formula::PrincipalIn(SetExpr::Ou(s("Root/Workloads")), d),
        Formula::PrincipalIn(SetExpr::Account(s("app-prod")), d),
        Formula::PrincipalIn(SetExpr::Org, d),
        Formula::PrincipalEq(s("arn:aws:iam::111122223333:role/A"), false, d),
        Formula::PrincipalEq(s("s3.amazonaws.com"), true, d),
        Formula::PrincipalLike(s("arn:aws:iam::*:role/Admin*"), d),
        Formula::KeyIn(SetExpr::Account(s("security")), d),
        Formula::KeyIn(SetExpr::Region(s("eu-west-1")), d),
        Formula::KeyIn(SetExpr::Ou(s("Root")), d),
        Formula::KeyIn(SetExpr::Org, d),
        Formula::KeyEq(s("alias/x"), false, d),
        Formula::KeyEq(s("mrk-1234abcd12ab34cd56ef1234567890ab"), true, d),
        can(
            PrincipalTerm::Literal(s("arn:aws:iam::111122223333:root")),
            "kms:Describe?ey",
            klit("arn:aws:kms:eu-west-1:111122223333:alias/x"),
            None,
        ),
        Formula::Or(Box::new(Formula::Bool(true)), Box::new(Formula::Bool(false))),
    ];
    assert_eq!(conjuncts, expected.iter().collect::<Vec<_>>());
}

#[test]
fn strings_docs_comments_and_empty_files() {
    let file = parse_ok(
        "# file header, not a doc\n\n#doc line one\n#   indented\n#\n# last\nproperty x-1_ { # trailing comment\n  forall principal: principal == \"a \\\"quoted\\\" \\\\ back\" # comment\n}\n\
         property y { forall principal: true } # not y's doc\nproperty z { forall principal: false }",
    );
    let [x, y, z] = &file.properties[..] else { panic!("{file:?}") };
    assert_eq!(x.name.value, "x-1_");
    assert_eq!(x.doc.as_deref(), Some("doc line one\n  indented\n\nlast"));
    assert_eq!(x.binders, vec![binder(Var::Principal, None)]);
    assert_eq!(x.body, Formula::PrincipalEq(s("a \"quoted\" \\ back"), false, Span::default()));
    assert_eq!(y.doc, None);
    assert_eq!(z.doc, None);
    assert_eq!(parse_ok(""), PropertyFile::default());
    assert_eq!(parse_ok("  # only a comment\n"), PropertyFile::default());
}

/// Each input gives exactly these `(file:line:column, message)` errors.
fn check_errors(text: &str, expected: &[(&str, &str)]) {
    let expected: Vec<(String, String)> = expected.iter().map(|(l, m)| (l.to_string(), m.to_string())).collect();
    assert_eq!(errors(text), expected, "for `{text}`");
}

#[test]
fn syntax_errors_say_what_was_expected_where() {
    check_errors(
        "property a {\n  forall principal:\n    can(principal, kms:Decrypt, key) foo\n}",
        &[("props.kp:3:38", "expected `implies`, `or`, `and`, `where` or `}`, found `foo`")],
    );
    check_errors(
        "property a {\n  forall principal, key:\n    principal in org and\n}",
        &[("props.kp:4:1", "expected a formula, found `}`")],
    );
    check_errors(
        "property a { forall principal can(principal, kms:Decrypt, key) }",
        &[("props.kp:1:31", "expected `in`, `,` or `:`, found `can`")],
    );
    check_errors("garbage", &[("props.kp:1:1", "expected `property`, found `garbage`")]);
    check_errors("property 1a { true }", &[("props.kp:1:10", "expected a property name, found `1a`")]);
    check_errors(
        "property a { true",
        &[("props.kp:1:18", "expected `implies`, `or`, `and` or `}`, found end of input")],
    );
    check_errors(
        "property a { forall principal: principal }",
        &[("props.kp:1:42", "expected `in`, `like`, `==` or `!=`, found `}`")],
    );
    check_errors(
        "property a { forall key: key like \"x\" }",
        &[("props.kp:1:30", "expected `in`, `==` or `!=`, found `like`")],
    );
    check_errors(
        "property a { forall principal: principal in ou }",
        &[("props.kp:1:48", "expected a string, found `}`")],
    );
    check_errors(
        "property a { forall principal: principal in galaxy \"x\" }",
        &[("props.kp:1:45", "expected `ou`, `account`, `org` or `region`, found `galaxy`")],
    );
    check_errors(
        "property a { forall principal, key: can(principal, kms:Decrypt) }",
        &[("props.kp:1:63", "expected `,`, found `)`")],
    );
    check_errors(
        "property a { forall principal, key: can(principal, kms:Decrypt, key) where principal in org }",
        &[("props.kp:1:76", "expected a context condition, found `principal`")],
    );
    check_errors(
        "property a { forall principal, key: can(principal, kms:Decrypt, key) where context \"k\" }",
        &[("props.kp:1:88", "expected `in`, `like`, `exists`, `==` or `!=`, found `}`")],
    );
    check_errors(
        "property a { forall principal, key: notable }",
        &[("props.kp:1:37", "expected a formula, found `notable`")],
    );
}

#[test]
fn malformed_strings_are_named() {
    check_errors(
        "property a {\n  principal == \"arn:aws:iam::1:role/A\n}",
        &[("props.kp:2:16", "unterminated string")],
    );
    check_errors("property a { principal == \"a\\nb\" }", &[("props.kp:1:29", "unknown escape `\\n` in a string")]);
}

#[test]
fn semantic_errors_are_all_reported_at_their_place() {
    let text = r#"property a {
  forall principal, principal:
    can(principal, s3:GetObject, key)
      where context "aws:SourceIp" in cidr "10.0.0.0/33"
}

property b {
  forall key in account "security", key:
    principal in org and key in org and can(principal, kms:Decrypt-Now, key)
      where context "aws:SourceIp" in cidr "not-an-ip" or context "aws:SourceIp" in cidr "2001:db8::/32"
}

property a {
  forall principal in region "eu-west-1":
    principal == "x" or principal like "y*" or key == "k"
}
"#;
    check_errors(
        text,
        &[
            ("props.kp:2:21", "`principal` is bound twice"),
            ("props.kp:3:20", "`s3:GetObject` is not a KMS action"),
            ("props.kp:3:34", "`key` is used but not bound"),
            ("props.kp:4:44", "`10.0.0.0/33` is not a CIDR block"),
            ("props.kp:8:37", "`key` is bound twice"),
            ("props.kp:9:5", "`principal` is used but not bound"),
            ("props.kp:9:45", "`principal` is used but not bound"),
            ("props.kp:9:56", "`kms:Decrypt-Now` is not a KMS action"),
            ("props.kp:10:44", "`not-an-ip` is not a CIDR block"),
            ("props.kp:13:10", "property `a` is defined twice"),
            ("props.kp:14:10", "`principal in region` is not meaningful: principals are global, not in `eu-west-1`"),
            ("props.kp:15:48", "`key` is used but not bound"),
        ],
    );
}

#[test]
fn semantic_errors_carry_help_with_the_first_place() {
    let Err(ParseError::Invalid { help, location, label, .. }) = parse("property a { true }\n\nproperty a { false }")
    else {
        panic!("expected one error")
    };
    assert_eq!(location, "props.kp:3:10");
    assert_eq!(label, "defined again here");
    assert_eq!(help.as_deref(), Some("first defined at props.kp:1:10"));
}

#[test]
fn actions_must_be_kms_actions_or_patterns() {
    for good in ["kms:Decrypt", "kms:*", "kms:Generate*", "kms:Re?ncrypt*", "kms:ListKeys"] {
        let text = format!("property a {{ forall principal, key: can(principal, {good}, key) }}");
        let file = parse_ok(&text);
        let Formula::Can { action, .. } = &file.properties[0].body else { panic!("{file:?}") };
        assert_eq!(action.value, good);
    }
    for bad in ["kms:", "KMS:Decrypt", "s3:*", "*", "kms:Decrypt2", "kms:De-crypt", "kms:a:b"] {
        let text = format!("property a {{ forall principal, key: can(principal, {bad}, key) }}");
        assert_eq!(errors(&text), vec![("props.kp:1:52".to_string(), format!("`{bad}` is not a KMS action"))]);
    }
}

#[test]
fn cidrs_must_be_ip_blocks() {
    for good in ["10.0.0.0/8", "192.0.2.1", "0.0.0.0/0", "2001:db8::/32", "::1/128", "203.0.113.7/32"] {
        let text = format!(
            "property a {{ can(\"p\", kms:Decrypt, key \"k\") where context \"aws:SourceIp\" in cidr \"{good}\" }}"
        );
        assert!(parse(&text).is_ok(), "{good}");
    }
    for bad in ["10.0.0.0/33", "10.0.0/8", "2001:db8::/129", "10.0.0.0/", "10.0.0.0/+8", "", "x/8", "10.0.0.0/08x"] {
        let text = format!(
            "property a {{ can(\"p\", kms:Decrypt, key \"k\") where context \"aws:SourceIp\" in cidr \"{bad}\" }}"
        );
        assert_eq!(errors(&text), vec![("props.kp:1:82".to_string(), format!("`{bad}` is not a CIDR block"))]);
    }
}

#[test]
fn nesting_up_to_the_limit_parses_and_one_more_is_an_error() {
    let n = MAX_OPERATORS;
    let deep = [
        format!("property a {{ {}true{} }}", "(".repeat(n), ")".repeat(n)),
        format!("property a {{ {}true }}", "not ".repeat(n)),
        format!("property a {{ true{} }}", " and true".repeat(n)),
        format!("property a {{ true{} }}", " implies true".repeat(n)),
        format!(
            "property a {{ can(\"p\", kms:Decrypt, key \"k\") where {}context \"a\" exists{} }}",
            "(".repeat(n - 1),
            ")".repeat(n - 1)
        ),
    ];
    for text in &deep {
        let file = parse_ok(text);
        assert_eq!(parse_ok(&file.to_string()), file);
    }
    // One more operator than allowed: the error is at the first one too many.
    let text = format!("property a {{ {}true }}", "not ".repeat(n + 1));
    let location = format!("props.kp:1:{}", 14 + 4 * n);
    assert_eq!(errors(&text), vec![(location, format!("property too large: more than {n} operators and parentheses"))]);
    // The count is per property, and `can(` does not count.
    let text = format!(
        "property a {{ {}true }}\nproperty b {{ {}true and can(\"p\", kms:Decrypt, key \"k\") }}",
        "not ".repeat(n),
        "not ".repeat(n - 1)
    );
    assert_eq!(parse_ok(&text).properties.len(), 2);
    // Far too deep for any stack: an error, not a crash.
    let text = format!("property a {{ {}true{} }}", "(".repeat(100_000), ")".repeat(100_000));
    assert_eq!(errors(&text)[0].1, format!("property too large: more than {n} operators and parentheses"));
}

// Random ASTs for the round trip. Every generated AST is valid: unique names, bound variables,
// KMS actions, parseable CIDRs, strings without a line break, docs without trailing blanks.

fn text() -> impl Strategy<Value = Spanned<String>> {
    "[ -~\u{e9}\u{4e16}\"\\\\]{0,12}".prop_map(|t| s(&t))
}

fn action() -> impl Strategy<Value = Spanned<String>> {
    "kms:[A-Za-z*?]{1,12}".prop_map(|a| s(&a))
}

fn cidr() -> impl Strategy<Value = Spanned<String>> {
    prop_oneof![
        (any::<[u8; 4]>(), 0u8..=32).prop_map(|(a, p)| s(&format!("{}.{}.{}.{}/{p}", a[0], a[1], a[2], a[3]))),
        (any::<[u16; 8]>(), 0u8..=128).prop_map(|(a, p)| s(&format!("{}/{p}", std::net::Ipv6Addr::from(a)))),
        any::<[u8; 4]>().prop_map(|a| s(&std::net::Ipv4Addr::from(a).to_string())),
    ]
}

fn set(var: Var) -> BoxedStrategy<SetExpr> {
    let common = prop_oneof![text().prop_map(SetExpr::Ou), text().prop_map(SetExpr::Account), Just(SetExpr::Org),];
    match var {
        Var::Principal => common.boxed(),
        Var::Key => prop_oneof![common, text().prop_map(SetExpr::Region)].boxed(),
    }
}

fn condition() -> impl Strategy<Value = ContextCond> {
    let leaf = prop_oneof![
        (text(), text(), any::<bool>()).prop_map(|(key, value, negated)| ContextCond::Eq { key, value, negated }),
        (text(), text()).prop_map(|(key, pattern)| ContextCond::Like { key, pattern }),
        (text(), prop::collection::vec(text(), 0..4)).prop_map(|(key, values)| ContextCond::In { key, values }),
        (text(), cidr()).prop_map(|(key, cidr)| ContextCond::InCidr { key, cidr }),
        text().prop_map(ContextCond::Exists),
    ];
    leaf.prop_recursive(4, 16, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|c| ContextCond::Not(Box::new(c))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| ContextCond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| ContextCond::Or(Box::new(a), Box::new(b))),
        ]
    })
}

/// A formula that uses only the variables bound (`principal`, `key`).
fn formula(principal: bool, key: bool) -> impl Strategy<Value = Formula> {
    let d = Span::default();
    let principal_term = if principal {
        prop_oneof![Just(PrincipalTerm::Var(d)), text().prop_map(PrincipalTerm::Literal)].boxed()
    } else {
        text().prop_map(PrincipalTerm::Literal).boxed()
    };
    let key_term = if key {
        prop_oneof![Just(KeyTerm::Var(d)), text().prop_map(KeyTerm::Literal)].boxed()
    } else {
        text().prop_map(KeyTerm::Literal).boxed()
    };
    let can = (principal_term, action(), key_term, prop::option::of(condition()))
        .prop_map(move |(principal, action, key, context)| Formula::Can { principal, action, key, context, span: d });
    let mut leaves: Vec<BoxedStrategy<Formula>> = vec![can.boxed(), any::<bool>().prop_map(Formula::Bool).boxed()];
    if principal {
        leaves.push(set(Var::Principal).prop_map(move |set| Formula::PrincipalIn(set, d)).boxed());
        leaves.push((text(), any::<bool>()).prop_map(move |(v, n)| Formula::PrincipalEq(v, n, d)).boxed());
        leaves.push(text().prop_map(move |p| Formula::PrincipalLike(p, d)).boxed());
    }
    if key {
        leaves.push(set(Var::Key).prop_map(move |set| Formula::KeyIn(set, d)).boxed());
        leaves.push((text(), any::<bool>()).prop_map(move |(v, n)| Formula::KeyEq(v, n, d)).boxed());
    }
    prop::strategy::Union::new(leaves).prop_recursive(5, 24, 2, |inner| {
        prop_oneof![
            inner.clone().prop_map(|f| Formula::Not(Box::new(f))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Formula::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Formula::Or(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Formula::Implies(Box::new(a), Box::new(b))),
        ]
    })
}

fn doc() -> impl Strategy<Value = Option<String>> {
    // Lines without a line break and without trailing blanks (the parser trims them).
    prop::option::of(prop::collection::vec("( ?[!-~\u{e9}]{1,10}){0,3}", 1..4).prop_map(|lines| lines.join("\n")))
}

fn a_property(index: usize) -> impl Strategy<Value = Property> {
    let binders = prop_oneof![
        Just(vec![]),
        prop::option::of(set(Var::Principal)).prop_map(|d| vec![binder(Var::Principal, d)]),
        prop::option::of(set(Var::Key)).prop_map(|d| vec![binder(Var::Key, d)]),
        (prop::option::of(set(Var::Principal)), prop::option::of(set(Var::Key)))
            .prop_map(|(p, k)| vec![binder(Var::Principal, p), binder(Var::Key, k)]),
        (prop::option::of(set(Var::Key)), prop::option::of(set(Var::Principal)))
            .prop_map(|(k, p)| vec![binder(Var::Key, k), binder(Var::Principal, p)]),
    ];
    (binders, "[A-Za-z_][A-Za-z0-9_-]{0,8}", doc()).prop_flat_map(move |(binders, name, doc)| {
        let principal = binders.iter().any(|b| b.var == Var::Principal);
        let key = binders.iter().any(|b| b.var == Var::Key);
        formula(principal, key).prop_map(move |body| Property {
            name: s(&format!("{name}_{index}")),
            doc: doc.clone(),
            binders: binders.clone(),
            body,
            span: Span::default(),
        })
    })
}

fn a_file() -> impl Strategy<Value = PropertyFile> {
    (0usize..4).prop_flat_map(|n| {
        (0..n).map(a_property).collect::<Vec<_>>().prop_map(|properties| PropertyFile { properties })
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// parse(print(ast)) == ast, and printing is a fixed point.
    #[test]
    fn print_then_parse_gives_the_same_ast(file in a_file()) {
        let printed = file.to_string();
        let parsed = match parse(&printed) {
            Ok(parsed) => parsed,
            Err(e) => return Err(TestCaseError::fail(format!("{printed}\ndoes not parse: {:?}", leaves(&e)))),
        };
        prop_assert_eq!(&parsed, &file, "printed as:\n{}", printed);
        prop_assert_eq!(parsed.to_string(), printed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// No input makes the parser panic.
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let _ = parse(&text);
    }

    /// Nor does a soup of the language's own tokens, which gets much further into the grammar;
    /// whatever of it parses also survives the round trip.
    #[test]
    fn token_soup_never_panics_and_round_trips(tokens in prop::collection::vec(prop::sample::select(vec![
        "property", "p", "{", "}", "forall", "principal", "key", ",", ":", "in", "ou", "account", "org",
        "region", "\"x\"", "\"a\\\"b\"", "can", "(", ")", "kms:Decrypt", "kms:*", "s3:Get", "where",
        "context", "==", "!=", "like", "exists", "cidr", "\"10.0.0.0/8\"", "[", "]", "not", "and", "or",
        "implies", "true", "false", "#c\n", "\n", "\"", "\\",
    ]), 0..60)) {
        let text = tokens.join(" ");
        if let Ok(file) = parse(&text) {
            prop_assert_eq!(parse(&file.to_string()).ok(), Some(file));
        }
    }
}

/// Every complete example in `docs/properties.md` parses, and the five of the issue are there.
#[test]
fn examples_in_the_docs_parse() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/properties.md");
    let docs = match std::fs::read_to_string(path) {
        Ok(docs) => docs,
        Err(e) => panic!("cannot read {path}: {e}"),
    };
    let mut names = Vec::new();
    for (i, block) in docs.split("```").enumerate() {
        // Odd pieces are inside a fence; a fence with a language tag is not the property language.
        if i % 2 == 0 || !block.starts_with('\n') || !block.lines().any(|l| l.starts_with("property ")) {
            continue;
        }
        let file = parse_ok(block);
        names.extend(file.properties.into_iter().map(|p| p.name.value));
    }
    for name in ["prod_only_decrypt", "no_external_access", "separation_of_duties", "s3_key_only_via_s3"] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
    assert!(names.len() >= 10, "{names:?}");
}

#[test]
fn can_reach_parses_prints_and_checks_its_terms() {
    let text = "property no_reach {\n  forall principal: not principal in ou \"Root/Prod\" implies not can_reach(principal, kms:Decrypt, key \"alias/prod\")\n}\n";
    let file = parse_ok(text);
    let Formula::Implies(_, rhs) = &file.properties[0].body else { panic!("{:?}", file.properties[0].body) };
    let Formula::Not(inner) = &**rhs else { panic!("{rhs:?}") };
    let Formula::CanReach { principal: PrincipalTerm::Var(_), action, key: KeyTerm::Literal(key), .. } = &**inner
    else {
        panic!("not a `can_reach`: {inner:?}")
    };
    assert_eq!((action.value.as_str(), key.value.as_str()), ("kms:Decrypt", "alias/prod"));
    // The printer writes it back, and the printed text parses to the same AST.
    let printed = file.properties[0].to_string();
    assert!(printed.contains("not can_reach(principal, kms:Decrypt, key \"alias/prod\")"), "{printed}");
    assert_eq!(parse_ok(&printed), file);
    // `can_reach` and `can` are different atoms.
    assert_ne!(parse_ok(&text.replace("can_reach", "can")), file);
    // The terms are checked as `can`'s: an unbound variable, a non-KMS action.
    let unbound = errors("property p { can_reach(principal, kms:Decrypt, key \"k\") }");
    assert!(unbound.iter().any(|(_, m)| m.contains("`principal` is used but not bound")), "{unbound:?}");
    let not_kms = errors("property p { can_reach(\"arn:aws:iam::111122223333:role/R\", s3:GetObject, key \"k\") }");
    assert!(not_kms.iter().any(|(_, m)| m.contains("is not a KMS action")), "{not_kms:?}");
    // No `where`: the search has no request context to constrain.
    assert!(
        parse("property p { can_reach(\"111122223333\", kms:Decrypt, key \"k\") where context \"a\" exists }").is_err()
    );
}
