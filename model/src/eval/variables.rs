//! Policy variables: `${aws:PrincipalTag/team}`, `${aws:PrincipalAccount}`, `${key, 'default'}`
//! and the escapes `${*}`, `${?}`, `${$}` (IAM reference_policies_variables). They are
//! substituted only when the policy's `Version` is `2012-10-17`; a variable whose key has no
//! value makes the element match nothing (unless it has a default).

use crate::context::{Context, Lookup};

/// The result of substituting the variables of one policy value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subst {
    Text(String),
    /// A variable had no value and no default: the value matches nothing.
    Missing,
    /// A variable's value is unknown.
    Unknown(String),
}

/// A policy value split into literal text and variables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// `${key}` or `${key, 'default'}`.
    Var {
        key: &'a str,
        default: Option<&'a str>,
    },
}

/// Splits a policy value at its `${...}` variables; `${*}`, `${?}` and `${$}` are the escaped
/// characters, and an unterminated `${` is literal text. The evaluator and the encoding both
/// substitute through this one reading of the syntax.
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            out.push(Piece::Text(&rest[..start]));
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            out.push(Piece::Text(&rest[start..]));
            return out;
        };
        let inner = after[..end].trim();
        out.push(match inner {
            "*" => Piece::Text("*"),
            "?" => Piece::Text("?"),
            "$" => Piece::Text("$"),
            _ => match inner.split_once(',') {
                Some((k, d)) => {
                    let d = d.trim();
                    Piece::Var {
                        key: k.trim(),
                        default: Some(d.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')).unwrap_or(d)),
                    }
                }
                None => Piece::Var { key: inner, default: None },
            },
        });
        rest = &after[end + 1..];
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    out
}

/// Substitutes every `${...}` in `text`.
pub fn substitute(text: &str, ctx: &Context) -> Subst {
    if !text.contains("${") {
        return Subst::Text(text.to_string());
    }
    let mut out = String::new();
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var { key, default } => match ctx.lookup(key) {
                Lookup::Values([one]) => out.push_str(one),
                // A multivalued key cannot be a policy variable.
                Lookup::Values(_) => return Subst::Missing,
                Lookup::Absent => match default {
                    Some(d) => out.push_str(d),
                    None => return Subst::Missing,
                },
                Lookup::Unknown(why) => return Subst::Unknown(why),
                Lookup::OneOf(_, why) => return Subst::Unknown(why.to_string()),
            },
        }
    }
    Subst::Text(out)
}

/// Why a `Resource`/`NotResource` pattern with a policy variable before its resource part (in the
/// partition, service, region or account field, as in AWS managed policies'
/// `arn:aws:kms:*:${aws:PrincipalAccount}:key/*`) is unsettled: the IAM guide says variables
/// work in the resource part of an ARN only (reference_policies_variables, "Where you can use
/// policy variables"), and does not say what happens elsewhere. Such a pattern decides only where
/// it matches nothing either way; where the substituted pattern would match, it is unknown.
pub fn variable_outside_resource_part(pattern: &str) -> Option<String> {
    let mut fields = 0;
    let mut rest = pattern;
    while fields < 5 {
        let i = rest.find(':')?;
        if rest[..i].contains("${") {
            return Some(format!(
                "the resource pattern `{pattern}` has a policy variable outside the ARN's resource part, where the IAM guide does not say variables are substituted"
            ));
        }
        rest = &rest[i + 1..];
        fields += 1;
    }
    None
}
