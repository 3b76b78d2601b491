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
    // ASCII on both sides (nearly every policy): bytes are characters, and ASCII case folding
    // is Unicode's for them. Otherwise the characters are compared as Unicode scalars.
    if pattern.is_ascii() && text.is_ascii() {
        return glob_star(pattern.as_bytes(), text.as_bytes(), case_insensitive);
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    glob_star(&p, &t, case_insensitive)
}

/// A character of a pattern or a text: a byte of ASCII, or a Unicode scalar.
trait Unit: Copy + PartialEq {
    fn is(self, c: char) -> bool;
    fn same(self, other: Self, ci: bool) -> bool;
}

impl Unit for u8 {
    fn is(self, c: char) -> bool {
        c.is_ascii() && self == c as u8
    }
    fn same(self, other: u8, ci: bool) -> bool {
        if ci {
            self.eq_ignore_ascii_case(&other)
        } else {
            self == other
        }
    }
}

impl Unit for char {
    fn is(self, c: char) -> bool {
        self == c
    }
    fn same(self, other: char, ci: bool) -> bool {
        if ci {
            self.to_lowercase().eq(other.to_lowercase())
        } else {
            self == other
        }
    }
}

/// Glob with unrestricted stars: backtracking over the last star.
fn glob_star<U: Unit>(p: &[U], t: &[U], ci: bool) -> bool {
    let (mut pi, mut ti) = (0usize, 0usize);
    let mut star: Option<usize> = None;
    let mut mark = 0usize;
    while ti < t.len() {
        if pi < p.len() && (p[pi].is('?') || (!p[pi].is('*') && p[pi].same(t[ti], ci))) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi].is('*') {
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
    while pi < p.len() && p[pi].is('*') {
        pi += 1;
    }
    pi == p.len()
}

/// Glob where a `*` that is not at the end of a segment may not consume `stop`, and `?` never
/// matches it: dynamic programming over the text (patterns are short).
fn glob_dp<U: Unit>(p: &[U], t: &[U], stop: char) -> bool {
    // reach[j] = pattern prefix p[..i] can match t[..j].
    let mut reach = vec![false; t.len() + 1];
    let mut next = vec![false; t.len() + 1];
    reach[0] = true;
    for (i, &pc) in p.iter().enumerate() {
        next.iter_mut().for_each(|n| *n = false);
        if pc.is('*') {
            // A star that ends a segment (followed by the stop character or the end of the
            // pattern) may span it; any other star stays within its segment.
            let spans = p.get(i + 1).is_none_or(|&c| c.is(stop));
            let mut open = false;
            for j in 0..=t.len() {
                if reach[j] {
                    open = true;
                }
                next[j] = open;
                if j < t.len() && !spans && t[j].is(stop) {
                    open = false;
                }
            }
        } else {
            for j in 0..t.len() {
                if reach[j] && (pc.is('?') || pc.same(t[j], false)) && !(pc.is('?') && t[j].is(stop)) {
                    next[j + 1] = true;
                }
            }
        }
        std::mem::swap(&mut reach, &mut next);
    }
    reach[t.len()]
}

/// The `Resource` element rule: case-sensitive, a `*` stays within its colon-separated segment
/// unless it ends the segment.
pub fn resource_matches(pattern: &str, arn: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    if !pattern.contains(['*', '?']) {
        return pattern == arn;
    }
    if pattern.is_ascii() && arn.is_ascii() {
        return glob_dp(pattern.as_bytes(), arn.as_bytes(), ':');
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = arn.chars().collect();
    glob_dp(&p, &t, ':')
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
