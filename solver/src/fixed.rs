//! The encoding with a concrete request's context pinned: the term of the request's decision,
//! with every request key's variables fixed to the request's values, checked by Z3. It must agree
//! with the concrete evaluator on every request — the differential tests compare them.

use crate::encode::context::{Bounds, SymContext, SymVal};
use crate::encode::{allowed, Target};
use crate::term::{and, not, str_eq, Cmp, Str, Term};
use crate::z3_backend::{check, Answer};
use keyproof_model::context::{build_context, resolve_principal, Request};
use keyproof_model::eval::condition::{parse_date, parse_number};
use keyproof_model::reference::{KeyClass, KeySource, Reference};
use keyproof_model::{ModelError, Snapshot};
use std::collections::BTreeMap;

/// The solver's answer on a concrete request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FixedAnswer {
    /// Allowed (for some choice of what the snapshot does not hold, if anything).
    Allowed,
    NotAllowed,
    Unknown(String),
}

fn is_principal_key(k: &str) -> bool {
    k.to_lowercase().starts_with("aws:principaltag/")
}

/// Decides a concrete request through the encoding.
pub fn decide_fixed(snapshot: &Snapshot, bounds: &Bounds, request: &Request) -> Result<FixedAnswer, ModelError> {
    let action = Reference::get()
        .action(&request.action)
        .ok_or_else(|| ModelError::InvalidAction { action: request.action.clone() })?;
    let key = snapshot.key(&request.key)?;
    let principal = resolve_principal(snapshot, &request.principal)?;
    // The snapshot's part of the context (session tags count as the principal's); the request
    // keys stay symbolic.
    let tags: BTreeMap<String, Vec<String>> =
        request.context.iter().filter(|(k, _)| is_principal_key(k)).map(|(k, v)| (k.clone(), v.clone())).collect();
    let base = build_context(snapshot, &principal, key, action, &tags)?;
    let given: BTreeMap<String, Vec<String>> = request
        .context
        .iter()
        .filter(|(k, _)| !is_principal_key(k))
        .map(|(k, v)| (k.to_lowercase(), v.clone()))
        .collect();
    let mut sc = SymContext::new(&base, bounds);
    sc.fixed = Some(&request.context);
    let target = Target { snapshot, principal: &principal, action, key, base: &base };
    let goal = allowed(&target, &mut sc);
    // Pin the symbolic keys.
    let mut pins = sc.side.clone();
    let mut other_ec: Vec<(String, String)> = given
        .iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("kms:encryptioncontext:")?;
            if bounds.ec_names.contains_key(name) {
                None
            } else {
                Some((name.to_string(), v.first().cloned().unwrap_or_default()))
            }
        })
        .collect();
    other_ec.sort();
    // The request's spellings of named encryption context keys.
    for k in request.context.keys() {
        if let Some(prefix) = k.get(..22).filter(|p| p.eq_ignore_ascii_case("kms:EncryptionContext:")) {
            let _ = prefix;
            if let Some(v) = sc.spelling_var(&k[22..]) {
                pins.push(str_eq(Str::Var(v), Str::Lit(k[22..].to_string())));
            }
        }
    }
    for kv in sc.request_keys() {
        if kv.name == "keyproof:other-encryption-context-keys" {
            for (i, (p, v)) in kv.slots.iter().enumerate() {
                match (other_ec.get(i), v) {
                    (Some((name, _)), SymVal::Str(s)) => {
                        pins.push(and([p.clone(), str_eq(s.clone(), Str::Lit(name.clone()))]))
                    }
                    _ => pins.push(not(p.clone())),
                }
            }
            if other_ec.len() > kv.slots.len() {
                return Ok(FixedAnswer::Unknown("more unnamed encryption context keys than slots".into()));
            }
            continue;
        }
        let values = given.get(&kv.name.to_lowercase());
        // Keys AWS always sends are left free when the request does not give them: the
        // evaluator answers unknown then, and the encoding must find some value that allows.
        let always = match Reference::get().classify(&kv.name, action) {
            KeyClass::Known(info) => info.source == KeySource::AlwaysPresent,
            _ => false,
        } || (kv.name.eq_ignore_ascii_case("kms:GrantOperations") && action.name == "CreateGrant");
        if values.is_none() && always {
            continue;
        }
        for (i, (p, v)) in kv.slots.iter().enumerate() {
            match values.and_then(|vs| vs.get(i)) {
                Some(text) => pins.push(and([p.clone(), pin(v, text)])),
                None => pins.push(not(p.clone())),
            }
        }
        if values.is_some_and(|vs| vs.len() > kv.slots.len()) {
            return Ok(FixedAnswer::Unknown(format!("more values for `{}` than slots", kv.name)));
        }
    }
    let mut all = pins;
    all.push(goal);
    Ok(match check(&sc.vars, &and(all), &[], 20_000) {
        Answer::Sat(_) => FixedAnswer::Allowed,
        Answer::Unsat => FixedAnswer::NotAllowed,
        Answer::Unknown(why) => FixedAnswer::Unknown(why),
    })
}

/// A value variable equal to a request value.
fn pin(v: &SymVal, text: &str) -> Term {
    match v {
        SymVal::Str(s) => str_eq(s.clone(), Str::Lit(text.to_string())),
        SymVal::Real(r) => match parse_number(text) {
            Some(_) => Term::RealCmp(*r, Cmp::Eq, text.trim().trim_start_matches('+').to_string()),
            None => Term::Const(false),
        },
        SymVal::Date(d) => match parse_date(text) {
            Some(ms) if ms % 1000 == 0 => Term::IntCmp(*d, Cmp::Eq, ms / 1000),
            _ => Term::Const(false),
        },
        SymVal::Ip { is6, v4, v6 } => match text.trim().parse::<std::net::IpAddr>() {
            Ok(std::net::IpAddr::V4(a)) => and([not(Term::Var(*is6)), Term::Ip4In(*v4, u32::from(a), 32)]),
            Ok(std::net::IpAddr::V6(a)) => and([Term::Var(*is6), Term::Ip6In(*v6, u128::from(a), 128)]),
            Err(_) => Term::Const(false),
        },
    }
}
