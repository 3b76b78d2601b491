//! Differential test (wildcard matcher vs a regex oracle): `glob`, `resource_matches` and
//! `arn_like` must agree with regular expressions built independently from the documented rules
//! on random patterns and texts over a small alphabet.
//!
//! - `*` is any run of characters (the empty one included), `?` exactly one character
//!   (IAM reference_policies_elements_condition_operators, "String condition operators").
//! - `Resource`: case-sensitive; `*` and `?` stay within their colon-separated ARN segment, except
//!   that a `*` which is the last character of a segment may expand beyond the colons
//!   (IAM reference_policies_elements_resource).
//! - `ArnLike`: the ARN is split into six colon-separated components (the last keeps any further
//!   colons) and each component is matched on its own; fewer than six never match
//!   (IAM reference_policies_elements_condition_operators, "Amazon Resource Name (ARN) condition
//!   operators").

use keyproof_model::wildcard::{arn_like, glob, resource_matches};
use proptest::prelude::*;
use regex::Regex;

/// One pattern character as a regex: `star` and `one` are what `*` and `?` become.
fn translate(c: char, star: &str, one: &str) -> String {
    match c {
        '*' => star.to_string(),
        '?' => one.to_string(),
        other => regex::escape(&other.to_string()),
    }
}

/// Whether the whole `text` matches the regex `body`. The bodies are built from escaped
/// characters and fixed fragments, so they always parse; a body that did not would make every
/// comparison fail loudly.
fn full_match(body: &str, case_insensitive: bool, text: &str) -> bool {
    let flags = if case_insensitive { "(?s)(?i)" } else { "(?s)" };
    Regex::new(&format!("{flags}^(?:{body})$")).is_ok_and(|r| r.is_match(text))
}

fn glob_oracle(pattern: &str, text: &str, ci: bool) -> bool {
    let body: String = pattern.chars().map(|c| translate(c, ".*", ".")).collect();
    full_match(&body, ci, text)
}

fn resource_oracle(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut body = String::new();
    for (i, &c) in chars.iter().enumerate() {
        // A `*` that ends a segment: followed by `:` or by the end of the pattern.
        let ends_segment = matches!(chars.get(i + 1), None | Some(':'));
        body.push_str(&match c {
            '*' if ends_segment => ".*".to_string(),
            c => translate(c, "[^:]*", "[^:]"),
        });
    }
    full_match(&body, false, arn)
}

fn arn_like_oracle(pattern: &str, arn: &str) -> bool {
    // The pattern's first five colons separate components; anything after them is the sixth.
    let parts: Vec<&str> = pattern.splitn(6, ':').collect();
    if parts.len() != 6 {
        return false;
    }
    let mut body = String::new();
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            body.push(':');
        }
        let (star, one) = if i < 5 { ("[^:]*", "[^:]") } else { (".*", ".") };
        body.extend(part.chars().map(|c| translate(c, star, one)));
    }
    full_match(&body, false, arn)
}

fn pattern() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop::sample::select(vec!['a', 'b', 'A', ':', '*', '?', '/']), 0..9)
        .prop_map(|cs| cs.into_iter().collect())
}

fn text() -> impl Strategy<Value = String> {
    proptest::collection::vec(prop::sample::select(vec!['a', 'b', 'A', 'B', ':', '/']), 0..11)
        .prop_map(|cs| cs.into_iter().collect())
}

/// An ARN-shaped text: six or more components most of the time.
fn arn_text() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(proptest::collection::vec(prop::sample::select(vec!['a', 'b', 'A', '/']), 0..3), 5..8)
            .prop_map(|parts| parts.into_iter().map(|p| p.into_iter().collect::<String>()).collect::<Vec<_>>().join(":")),
        1 => text(),
    ]
}

/// An ARN-shaped pattern.
fn arn_pattern() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => proptest::collection::vec(
                proptest::collection::vec(prop::sample::select(vec!['a', 'b', 'A', '/', '*', '?']), 0..3), 5..8)
            .prop_map(|parts| parts.into_iter().map(|p| p.into_iter().collect::<String>()).collect::<Vec<_>>().join(":")),
        1 => pattern(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn glob_agrees_with_the_oracle(p in pattern(), t in text()) {
        prop_assert_eq!(glob(&p, &t, false), glob_oracle(&p, &t, false), "case-sensitive: pattern {:?} text {:?}", p, t);
        prop_assert_eq!(glob(&p, &t, true), glob_oracle(&p, &t, true), "case-insensitive: pattern {:?} text {:?}", p, t);
    }

    #[test]
    fn resource_matches_agrees_with_the_oracle(p in arn_pattern(), t in arn_text()) {
        prop_assert_eq!(resource_matches(&p, &t), resource_oracle(&p, &t), "pattern {:?} arn {:?}", p, t);
    }

    #[test]
    fn arn_like_agrees_with_the_oracle(p in arn_pattern(), t in arn_text()) {
        prop_assert_eq!(arn_like(&p, &t), arn_like_oracle(&p, &t), "pattern {:?} arn {:?}", p, t);
    }
}

#[test]
fn the_oracles_follow_the_documented_examples() {
    let arn = "arn:aws:kms:us-east-1:111122223333:key/abcd";
    assert!(resource_oracle("arn:aws:kms:*:111122223333:key/*", arn));
    assert!(resource_oracle("arn:aws:kms:*", arn));
    assert!(!resource_oracle("arn:aws:kms:us-*3333:key/abcd", arn));
    assert!(arn_like_oracle("arn:aws:iam::*:role/*", "arn:aws:iam::111122223333:role/path/KeyAdmin"));
    assert!(!arn_like_oracle("arn:aws:iam::*", "arn:aws:iam::111122223333:role/KeyAdmin"));
    assert!(glob_oracle("kms:?ecrypt", "kms:Decrypt", false));
    assert!(glob_oracle("KMS:decrypt", "kms:Decrypt", true));
}
