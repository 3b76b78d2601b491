//! Whether a statement applies: action and resource are decided in Rust (the snapshot fixes
//! them), conditions become terms.
//!
//! Counterpart: `model/src/eval/statement.rs`.

use super::condition::encode_condition;
use super::context::{Sym, SymContext};
use super::Target;
use crate::term::{and, constant, or, Term};
use keyproof_model::eval::variables::{pieces, variable_outside_resource_part, Piece};
use keyproof_model::wildcard::{action_matches, resource_matches};
use keyproof_parser::policy::Statement;

/// Substitutes policy variables with what the snapshot fixes. `Ok(None)`: a variable has no
/// value (the element matches nothing); `Err`: a variable's value is not fixed by the snapshot.
/// Mirrors `model/src/eval/variables.rs`.
pub fn substitute(text: &str, sc: &mut SymContext<'_>) -> Result<Option<String>, String> {
    if !text.contains("${") {
        return Ok(Some(text.to_string()));
    }
    let mut out = String::new();
    for piece in pieces(text) {
        match piece {
            Piece::Text(t) => out.push_str(t),
            Piece::Var { key, default } => match sc.lookup(key) {
                Sym::Values(v) if v.len() == 1 => out.push_str(&v[0]),
                Sym::Values(_) => return Ok(None),
                Sym::Absent => match default {
                    Some(d) => out.push_str(d),
                    None => return Ok(None),
                },
                Sym::Unknown(why) => return Err(why),
                _ => {
                    return Err(format!(
                    "the policy variable `${{{key}}}` takes its value from the request, which keyproof does not encode"
                ))
                }
            },
        }
    }
    Ok(Some(out))
}

/// Mirrors `applies`.
pub fn applies(stmt: &Statement, variables: bool, t: &Target<'_>, sc: &mut SymContext<'_>) -> Term {
    let Some(action) = &stmt.action else { return constant(false) };
    let Some(resource) = &stmt.resource else { return constant(false) };
    let action_name = format!("kms:{}", t.action.name);
    let any_action = action.values.iter().any(|p| action_matches(&p.value, &action_name));
    if any_action == action.negated {
        return constant(false);
    }
    let mut res = Vec::new();
    for p in &resource.values {
        let text = if variables { substitute(&p.value, sc) } else { Ok(Some(p.value.clone())) };
        res.push(match text {
            Ok(Some(pat)) => match variable_outside_resource_part(&p.value) {
                Some(why) if resource_matches(&pat, &t.key.arn) => sc.unknown(why),
                _ => constant(resource_matches(&pat, &t.key.arn)),
            },
            Ok(None) => constant(false),
            Err(why) => sc.unknown(why),
        });
    }
    let r = or(res);
    let r = if resource.negated { crate::term::not(r) } else { r };
    if r.as_const() == Some(false) {
        return r;
    }
    let mut parts = vec![r];
    for c in &stmt.conditions {
        let ct = encode_condition(c, sc, variables);
        if ct.as_const() == Some(false) {
            return ct;
        }
        parts.push(ct);
    }
    and(parts)
}
