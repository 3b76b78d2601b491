//! Wildcard matching: `*` (any run of characters, empty included) and `?` (exactly one
//! character), as IAM uses them in actions, resources, `StringLike` and `ArnLike`.
//!
//! - Actions compare case-insensitively (IAM reference_policies_elements_action).
//! - `StringLike` and ARNs compare case-sensitively.
//! - `ArnLike`/`ArnEquals` compare each of the six colon-separated ARN components on its own
//!   (IAM reference_policies_elements_condition_operators, "Amazon Resource Name (ARN) condition
//!   operators").
//! - In the `Resource` element a `*` stays within its ARN segment, except that a `*` which ends a
//!   segment may expand beyond the colons (IAM reference_policies_elements_resource).

/// Matches `text` against `pattern` with `*` and `?`. Iterative, linear in practice.
pub fn glob(pattern: &str, text: &str, case_insensitive: bool) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_chars(&p, &t, case_insensitive, None)
}

fn eq_char(a: char, b: char, ci: bool) -> bool {
    if ci {
        a.to_lowercase().eq(b.to_lowercase())
    } else {
        a == b
    }
}

/// Glob over characters; when `stop` is set, a `*` that is not at the end of a segment may not
/// consume that character.
fn glob_chars(p: &[char], t: &[char], ci: bool, stop: Option<char>) -> bool {
    // Backtracking over the last star only works when stars are unrestricted; with a stop
    // character, fall back to dynamic programming (patterns are short).
    if stop.is_some() {
        return glob_dp(p, t, ci, stop);
    }
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<usize> = None;
    let mut mark = 0usize;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || (p[pi] != '*' && eq_char(p[pi], t[ti], ci))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn glob_dp(p: &[char], t: &[char], ci: bool, stop: Option<char>) -> bool {
    // reach[j] = pattern prefix p[..i] can match t[..j].
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    for (i, &pc) in p.iter().enumerate() {
        let mut next = vec![false; t.len() + 1];
        if pc == '*' {
            // A star that ends a segment (followed by ':' or the end of the pattern) may span
            // colons; any other star stays within its segment.
            let spans = stop.is_none() || p.get(i + 1).is_none_or(|&c| Some(c) == stop);
            let mut open = false;
            for j in 0..=t.len() {
                if reach[j] {
                    open = true;
                }
                next[j] = open;
                if j < t.len() && !spans && Some(t[j]) == stop {
                    open = false;
                }
            }
        } else {
            for j in 0..t.len() {
                if reach[j] && (pc == '?' || eq_char(pc, t[j], ci)) && !(pc == '?' && stop == Some(t[j])) {
                    next[j + 1] = true;
                }
            }
        }
        reach = next;
    }
    reach[t.len()]
}

/// The `Resource` element rule: case-sensitive, a `*` stays within its colon-separated segment
/// unless it ends the segment.
pub fn resource_matches(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = arn.chars().collect();
    glob_chars(&p, &t, false, Some(':'))
}

/// Action patterns: case-insensitive glob over `service:Action`.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    glob(pattern, action, true)
}

/// `ArnLike`/`ArnEquals`: both values split into six components (the last keeps any further
/// colons); each component is globbed on its own. Fewer than six components never match.
pub fn arn_like(pattern: &str, arn: &str) -> bool {
    let pp: Vec<&str> = pattern.splitn(6, ':').collect();
    let aa: Vec<&str> = arn.splitn(6, ':').collect();
    if pp.len() != 6 || aa.len() != 6 {
        return false;
    }
    pp.iter().zip(aa.iter()).all(|(p, a)| glob(p, a, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_basics() {
        assert!(glob("kms:*", "kms:Decrypt", false));
        assert!(glob("kms:Re*", "kms:ReEncryptFrom", false));
        assert!(!glob("kms:Re*", "kms:Decrypt", false));
        assert!(glob("kms:?ecrypt", "kms:Decrypt", false));
        assert!(!glob("kms:?ecrypt", "kms:ecrypt", false));
        assert!(glob("*", "", false));
        assert!(!glob("a", "A", false));
        assert!(glob("a", "A", true));
    }

    #[test]
    fn actions_are_case_insensitive() {
        assert!(action_matches("KMS:decrypt", "kms:Decrypt"));
        assert!(action_matches("kms:generatedatakey*", "kms:GenerateDataKeyPair"));
    }

    #[test]
    fn resource_star_within_segment() {
        let arn = "arn:aws:kms:us-east-1:111122223333:key/abcd";
        assert!(resource_matches("arn:aws:kms:*:111122223333:key/*", arn));
        assert!(resource_matches("arn:aws:kms:us-*-1:111122223333:key/*", arn));
        assert!(!resource_matches("arn:aws:kms:us-east-1:444455556666:key/*", arn));
        // A star that ends a segment may run past colons.
        assert!(resource_matches("arn:aws:kms:*", arn));
        // A star inside a segment may not.
        assert!(!resource_matches("arn:aws:kms:us-*3333:key/abcd", arn));
        assert!(!resource_matches("ARN:aws:kms:*", arn));
    }

    #[test]
    fn arn_like_per_component() {
        let arn = "arn:aws:iam::111122223333:role/path/KeyAdmin";
        assert!(arn_like("arn:aws:iam::*:role/*", arn));
        assert!(arn_like("arn:aws:iam::111122223333:role/path/*", arn));
        assert!(!arn_like("arn:aws:iam::*", arn));
        assert!(!arn_like("arn:aws:iam::111122223333:role/keyadmin", "arn:aws:iam::111122223333:role/KeyAdmin"));
    }
}
