//! Condition operators (IAM reference_policies_elements_condition_operators) and the logic of
//! several values and keys (reference_policies_condition-logic-multiple-context-keys-or-values,
//! reference_policies_condition-single-vs-multi-valued-context-keys).
//!
//! - Several values for one key: OR; a negated operator: none may match.
//! - Key absent: `...IfExists` is true; `ForAllValues:` true; `ForAnyValue:` false; a negated
//!   operator true; any other operator false. `Null: true` tests for absence.
//! - `ForAnyValue:`: some request value matches; `ForAllValues:`: every request value matches.
//! - Unsettled by AWS's documentation, so `Unknown` where the readings disagree (SOUNDNESS.md,
//!   the direction of caution): `ForAnyValue:<op>IfExists` on an absent key (`IfExists` says
//!   true, `ForAnyValue:` says false; `ForAllValues:...IfExists` is true either way), and a
//!   single-valued operator on a key with several values in the request (the IAM guide only says
//!   "multivalued context keys require a condition set operator",
//!   reference_policies_condition-single-vs-multi-valued-context-keys): it is read as
//!   `ForAnyValue:` and as `ForAllValues:`, and decides only where both agree.
//!
//! Counterpart: `solver/src/encode/condition.rs`.

use super::variables::{substitute, Subst};
use crate::context::{Context, Lookup};
use crate::tri::Tri;
use crate::wildcard::{arn_like, glob};
use keyproof_parser::policy::{BaseOperator, Condition, OperatorFamily, SetOperator};
use std::net::IpAddr;

/// A policy value after variable substitution.
#[derive(Debug, Clone)]
pub enum PolicyValue {
    Known(String),
    Unknown,
}

/// Evaluates one condition (one key under one operator) against the context.
pub fn eval_condition(c: &Condition, ctx: &Context, variables: bool, reasons: &mut Vec<String>) -> Tri {
    let op = c.operator.value;
    let family = op.base.family();
    let mut values: Vec<PolicyValue> = Vec::new();
    for v in &c.values {
        if variables && matches!(family, OperatorFamily::String | OperatorFamily::Arn) {
            match substitute(&v.value, ctx) {
                Subst::Text(t) => values.push(PolicyValue::Known(t)),
                Subst::Missing => {}
                Subst::Unknown(why) => {
                    reasons.push(why);
                    values.push(PolicyValue::Unknown);
                }
            }
        } else {
            values.push(PolicyValue::Known(v.value.clone()));
        }
    }
    let unsettled = |t: Tri, reason: Option<String>, reasons: &mut Vec<String>| {
        if t == Tri::Unknown {
            if let Some(r) = reason {
                reasons.push(r);
            }
        }
        t
    };
    match ctx.lookup(&c.key.value) {
        Lookup::Absent => unsettled(absent(op.base, op.set, op.if_exists, &values), absent_unsettled(c), reasons),
        Lookup::Values(vs) => {
            unsettled(present(op.base, op.set, vs, &values), multivalued_unsettled(c).filter(|_| vs.len() > 1), reasons)
        }
        Lookup::Unknown(why) => {
            reasons.push(why);
            Tri::Unknown
        }
        Lookup::OneOf(options, why) => {
            let t = Tri::agree(options.iter().map(|o| match o {
                None => absent(op.base, op.set, op.if_exists, &values),
                Some(vs) if vs.is_empty() => absent(op.base, op.set, op.if_exists, &values),
                Some(vs) => present(op.base, op.set, vs, &values),
            }));
            if t == Tri::Unknown {
                reasons.push(why.to_string());
            }
            t
        }
    }
}

/// Why a condition on an absent key is unknown, when its operator's reading is unsettled.
pub fn absent_unsettled(c: &Condition) -> Option<String> {
    let op = c.operator.value;
    (op.if_exists && op.set == Some(SetOperator::ForAnyValue) && op.base != BaseOperator::Null).then(|| {
        format!(
            "`{}` on `{}`, which the request does not carry: AWS's documentation does not settle whether IfExists (true) or ForAnyValue (false) decides",
            op.name(),
            c.key.value
        )
    })
}

/// Why a condition with a single-valued operator is unknown on a key with several values.
pub fn multivalued_unsettled(c: &Condition) -> Option<String> {
    let op = c.operator.value;
    op.set.is_none().then(|| {
        format!(
            "`{}` without ForAnyValue:/ForAllValues: on `{}`, which has several values here: AWS's documentation does not settle how a single-valued operator reads a multivalued key",
            op.name(),
            c.key.value
        )
    })
}

/// The value of a condition whose key is absent from the request.
pub fn absent(base: BaseOperator, set: Option<SetOperator>, if_exists: bool, values: &[PolicyValue]) -> Tri {
    if base == BaseOperator::Null {
        return Tri::any(values.iter().map(|v| match v {
            PolicyValue::Known(t) => Tri::from_bool(t.eq_ignore_ascii_case("true")),
            PolicyValue::Unknown => Tri::Unknown,
        }));
    }
    if if_exists {
        // `IfExists` makes an absent key true, `ForAnyValue:` makes it false: the IAM guide does
        // not say which wins (and AWS has been seen to answer false), so `ForAnyValue:` with
        // `IfExists` is unknown. `ForAllValues:` is true on an absent key either way.
        return if set == Some(SetOperator::ForAnyValue) { Tri::Unknown } else { Tri::True };
    }
    match set {
        Some(SetOperator::ForAllValues) => Tri::True,
        Some(SetOperator::ForAnyValue) => Tri::False,
        None => Tri::from_bool(base.is_negated()),
    }
}

/// The value of a condition whose key has the values `request`.
pub fn present(base: BaseOperator, set: Option<SetOperator>, request: &[String], values: &[PolicyValue]) -> Tri {
    if base == BaseOperator::Null {
        return Tri::any(values.iter().map(|v| match v {
            PolicyValue::Known(t) => Tri::from_bool(t.eq_ignore_ascii_case("false")),
            PolicyValue::Unknown => Tri::Unknown,
        }));
    }
    let positive = base.positive();
    let any_policy_value = |r: &str| {
        Tri::any(values.iter().map(|p| match p {
            PolicyValue::Known(p) => Tri::from_bool(matches(positive, r, p)),
            PolicyValue::Unknown => Tri::Unknown,
        }))
    };
    let negated = base.is_negated();
    match set {
        None if request.len() > 1 => {
            // A single-valued operator on several request values: read as `ForAnyValue:` and as
            // `ForAllValues:`; unknown where the readings disagree (module doc).
            let any = present(base, Some(SetOperator::ForAnyValue), request, values);
            let all = present(base, Some(SetOperator::ForAllValues), request, values);
            Tri::agree([any, all])
        }
        None => {
            let m = Tri::any(request.iter().map(|r| any_policy_value(r)));
            if negated {
                m.not()
            } else {
                m
            }
        }
        Some(SetOperator::ForAnyValue) => Tri::any(request.iter().map(|r| {
            let m = any_policy_value(r);
            if negated {
                m.not()
            } else {
                m
            }
        })),
        Some(SetOperator::ForAllValues) => Tri::all(request.iter().map(|r| {
            let m = any_policy_value(r);
            if negated {
                m.not()
            } else {
                m
            }
        })),
    }
}

/// Whether one request value matches one policy value under a positive operator.
pub fn matches(op: BaseOperator, request: &str, policy: &str) -> bool {
    use BaseOperator::*;
    match op {
        StringEquals => request == policy,
        StringEqualsIgnoreCase => request.to_lowercase() == policy.to_lowercase(),
        StringLike => glob(policy, request, false),
        NumericEquals | NumericLessThan | NumericLessThanEquals | NumericGreaterThan | NumericGreaterThanEquals => {
            match (parse_number(request), parse_number(policy)) {
                (Some(r), Some(p)) => compare(op, r.partial_cmp(&p)),
                _ => false,
            }
        }
        DateEquals | DateLessThan | DateLessThanEquals | DateGreaterThan | DateGreaterThanEquals => {
            match (parse_date(request), parse_date(policy)) {
                (Some(r), Some(p)) => compare(op, Some(r.cmp(&p))),
                _ => false,
            }
        }
        Bool => request.eq_ignore_ascii_case(policy),
        BinaryEquals => request == policy,
        IpAddress => ip_in(request, policy),
        ArnEquals | ArnLike => arn_like(policy, request),
        // Negated operators are evaluated through their positive form.
        StringNotEquals
        | StringNotEqualsIgnoreCase
        | StringNotLike
        | NumericNotEquals
        | DateNotEquals
        | NotIpAddress
        | ArnNotEquals
        | ArnNotLike
        | Null => false,
    }
}

fn compare(op: BaseOperator, ord: Option<std::cmp::Ordering>) -> bool {
    use std::cmp::Ordering::*;
    use BaseOperator::*;
    let Some(o) = ord else { return false };
    match op {
        NumericEquals | DateEquals => o == Equal,
        NumericLessThan | DateLessThan => o == Less,
        NumericLessThanEquals | DateLessThanEquals => o != Greater,
        NumericGreaterThan | DateGreaterThan => o == Greater,
        NumericGreaterThanEquals | DateGreaterThanEquals => o != Less,
        _ => false,
    }
}

/// A number as IAM's numeric operators read it (integers and decimals).
pub fn parse_number(s: &str) -> Option<f64> {
    let t = s.trim();
    if t.is_empty() || !t.chars().all(|c| c.is_ascii_digit() || c == '.' || c == '-' || c == '+') {
        return None;
    }
    t.parse::<f64>().ok()
}

/// A date as IAM's date operators read it: ISO 8601 (date, or date and time) or epoch seconds.
/// Returns milliseconds since the epoch.
pub fn parse_date(s: &str) -> Option<i64> {
    let t = s.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return t.parse::<i64>().ok().map(|secs| secs.saturating_mul(1000));
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%MZ", "%Y-%m-%dT%H:%M:%S%.fZ"] {
        if let Ok(ndt) = chrono::NaiveDateTime::parse_from_str(t, fmt) {
            return Some(ndt.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|ndt| ndt.and_utc().timestamp_millis());
    }
    None
}

/// Whether an IP address lies in a CIDR block (or equals an address).
pub fn ip_in(request: &str, policy: &str) -> bool {
    let Ok(ip) = request.trim().parse::<IpAddr>() else {
        return false;
    };
    let p = policy.trim();
    if let Ok(net) = p.parse::<ipnet::IpNet>() {
        return net.contains(&ip);
    }
    p.parse::<IpAddr>().is_ok_and(|a| a == ip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use BaseOperator::*;

    fn k(v: &[&str]) -> Vec<PolicyValue> {
        v.iter().map(|s| PolicyValue::Known(s.to_string())).collect()
    }
    fn r(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn absent_key_rules() {
        assert_eq!(absent(StringEquals, None, false, &k(&["a"])), Tri::False);
        assert_eq!(absent(StringNotEquals, None, false, &k(&["a"])), Tri::True);
        assert_eq!(absent(StringEquals, None, true, &k(&["a"])), Tri::True);
        assert_eq!(absent(StringEquals, Some(SetOperator::ForAllValues), false, &k(&["a"])), Tri::True);
        assert_eq!(absent(StringEquals, Some(SetOperator::ForAnyValue), false, &k(&["a"])), Tri::False);
        assert_eq!(absent(Null, None, false, &k(&["true"])), Tri::True);
        assert_eq!(absent(Null, None, false, &k(&["false"])), Tri::False);
    }

    #[test]
    fn several_values_and_negation() {
        assert_eq!(present(StringEquals, None, &r(&["b"]), &k(&["a", "b"])), Tri::True);
        assert_eq!(present(StringNotEquals, None, &r(&["b"]), &k(&["a", "b"])), Tri::False);
        assert_eq!(present(StringNotEquals, None, &r(&["c"]), &k(&["a", "b"])), Tri::True);
    }

    #[test]
    fn set_operators() {
        let fa = Some(SetOperator::ForAllValues);
        let fy = Some(SetOperator::ForAnyValue);
        assert_eq!(present(StringEquals, fa, &r(&["a", "b"]), &k(&["a", "b", "c"])), Tri::True);
        assert_eq!(present(StringEquals, fa, &r(&["a", "d"]), &k(&["a", "b", "c"])), Tri::False);
        assert_eq!(present(StringEquals, fy, &r(&["x", "b"]), &k(&["a", "b"])), Tri::True);
        assert_eq!(present(StringEquals, fy, &r(&["x", "y"]), &k(&["a", "b"])), Tri::False);
        assert_eq!(present(StringNotEquals, fy, &r(&["a", "y"]), &k(&["a", "b"])), Tri::True);
        assert_eq!(present(StringNotEquals, fa, &r(&["a", "y"]), &k(&["a", "b"])), Tri::False);
    }

    #[test]
    fn families() {
        assert!(matches(StringEqualsIgnoreCase, "ABC", "abc"));
        assert!(matches(StringLike, "s3.us-east-1.amazonaws.com", "s3.*.amazonaws.com"));
        assert!(!matches(StringLike, "S3.us-east-1.amazonaws.com", "s3.*.amazonaws.com"));
        assert!(matches(NumericLessThan, "3", "10"));
        assert!(!matches(NumericLessThan, "x", "10"));
        assert!(matches(DateGreaterThan, "2026-01-02T00:00:00Z", "2026-01-01"));
        assert!(matches(DateLessThan, "1700000000", "2024-01-01T00:00:00Z"));
        assert!(matches(Bool, "TRUE", "true"));
        assert!(matches(IpAddress, "203.0.113.7", "203.0.113.0/24"));
        assert!(!matches(IpAddress, "198.51.100.1", "203.0.113.0/24"));
        assert!(matches(IpAddress, "2001:db8::1", "2001:db8::/32"));
        assert!(matches(ArnLike, "arn:aws:iam::111122223333:role/a", "arn:aws:iam::*:role/*"));
        assert!(matches(BinaryEquals, "QmluYXJ5", "QmluYXJ5"));
    }
}
