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

/// Substitutes every `${...}` in `text`.
pub fn substitute(text: &str, ctx: &Context) -> Subst {
    if !text.contains("${") {
        return Subst::Text(text.to_string());
    }
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            // An unterminated `${` is literal text.
            out.push_str(&rest[start..]);
            return Subst::Text(out);
        };
        let inner = after[..end].trim();
        match inner {
            "*" => out.push('*'),
            "?" => out.push('?'),
            "$" => out.push('$'),
            _ => {
                let (key, default) = match inner.split_once(',') {
                    Some((k, d)) => {
                        let d = d.trim();
                        let d = d.strip_prefix('\'').and_then(|d| d.strip_suffix('\'')).unwrap_or(d);
                        (k.trim(), Some(d.to_string()))
                    }
                    None => (inner, None),
                };
                match ctx.lookup(key) {
                    Lookup::Values([one]) => out.push_str(one),
                    // A multivalued key cannot be a policy variable.
                    Lookup::Values(_) => return Subst::Missing,
                    Lookup::Absent => match default {
                        Some(d) => out.push_str(&d),
                        None => return Subst::Missing,
                    },
                    Lookup::Unknown(why) => return Subst::Unknown(why),
                    Lookup::OneOf(_, why) => return Subst::Unknown(why.to_string()),
                }
            }
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Subst::Text(out)
}
