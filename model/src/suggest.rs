//! Did-you-mean suggestions for a misspelt name (a KMS action, a condition key, an account or OU
//! name): the closest known name, when it is close enough to be what was meant.

use crate::reference::Reference;

pub use keyproof_parser::suggest::{closest, did_you_mean};

/// The KMS actions on keys, as `kms:Name`.
pub fn key_actions() -> Vec<String> {
    Reference::get().actions().filter(|a| a.on_key).map(|a| format!("kms:{}", a.name)).collect()
}

/// The suggestion for a misspelt KMS action (`kms:Decryp` → `kms:Decrypt`).
pub fn action(word: &str) -> String {
    let names = key_actions();
    let with_prefix = if word.contains(':') { word.to_string() } else { format!("kms:{word}") };
    did_you_mean(&with_prefix, names.iter().map(String::as_str))
}

/// The suggestion for an action pattern that covers no KMS action on keys (`kms:Genrate*` →
/// `kms:Generate*`): the closest camel-case prefix of an action name, with the pattern's wildcard.
pub fn action_pattern(pattern: &str) -> String {
    if !pattern.contains(':') {
        // `Generate*`: the service prefix is missing.
        let with_prefix = format!("kms:{pattern}");
        if key_actions().iter().any(|a| crate::wildcard::glob(&with_prefix, a, true)) {
            return format!(" (did you mean `{with_prefix}`?)");
        }
    }
    let cut = pattern.find(['*', '?']).unwrap_or(pattern.len());
    let (literal, rest) = pattern.split_at(cut);
    let literal =
        if literal.contains(':') || literal.is_empty() { literal.to_string() } else { format!("kms:{literal}") };
    let mut prefixes: Vec<String> = Vec::new();
    for name in key_actions() {
        for (i, c) in name.char_indices().skip("kms:".len() + 1) {
            if c.is_ascii_uppercase() {
                prefixes.push(name[..i].to_string());
            }
        }
        prefixes.push(name);
    }
    prefixes.sort();
    prefixes.dedup();
    match closest(&literal, prefixes.iter().map(String::as_str)) {
        Some(p) if p != literal => format!(" (did you mean `{p}{rest}`?)"),
        _ => String::new(),
    }
}

/// The suggestion for an OU that [`Organization::find_ou`](crate::org::Organization::find_ou)
/// does not know: a name path by similarity; an id (`ou-…`, `r-…`) only for a typo, since ids
/// share their prefix.
pub fn ou(word: &str, org: &crate::org::Organization) -> String {
    let names = org.ou_names();
    let is_id = |s: &str| s.starts_with("ou-") || s.starts_with("r-");
    if is_id(word) {
        keyproof_parser::suggest::did_you_mean_typo(word, names.iter().map(String::as_str).filter(|n| is_id(n)), 2)
    } else {
        did_you_mean(word, names.iter().map(String::as_str).filter(|n| !is_id(n)))
    }
}

/// The suggestion for a misspelt condition key (`aws:PrincipleOrgID` → `aws:PrincipalOrgID`).
/// For a family (`kms:EncryptionContext:…`), the part before the family's separator counts.
pub fn condition_key(word: &str) -> String {
    let reference = Reference::get();
    let names: Vec<&str> = reference.condition_key_names().collect();
    // A key of a family is compared by its prefix: `kms:EncryptionContex:Dept`.
    let families = names.iter().copied().filter(|n| n.ends_with(':') || n.ends_with('/'));
    for f in families {
        let sep = f.len();
        if let Some(head) = word.get(..word.rfind([':', '/']).map_or(0, |i| i + 1)) {
            if head.len() > 4
                && head.len().abs_diff(sep) <= 3
                && keyproof_parser::suggest::similarity(head, f) >= 0.8
                && !head.eq_ignore_ascii_case(f)
            {
                return format!(" (did you mean `{f}{}`?)", &word[head.len()..]);
            }
        }
    }
    did_you_mean(word, names.iter().copied().filter(|n| !n.ends_with(':') && !n.ends_with('/')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misspelt_names_get_the_closest_known_one() {
        assert_eq!(action("kms:Decryp"), " (did you mean `kms:Decrypt`?)");
        assert_eq!(action("kms:GenerateDataKy"), " (did you mean `kms:GenerateDataKey`?)");
        assert_eq!(action("kms:Frobnicate"), "");
        assert_eq!(action_pattern("kms:Genrate*"), " (did you mean `kms:Generate*`?)");
        assert_eq!(action_pattern("kms:ReEncrpt*"), " (did you mean `kms:ReEncrypt*`?)");
        assert_eq!(action_pattern("kms:Zzzzzz*"), "");
        assert_eq!(action_pattern("Generate*"), " (did you mean `kms:Generate*`?)");
        assert_eq!(action_pattern("s3:Get*"), "");
        assert_eq!(condition_key("aws:PrincipleOrgID"), " (did you mean `aws:PrincipalOrgID`?)");
        assert_eq!(condition_key("kms:ViaServce"), " (did you mean `kms:ViaService`?)");
        assert_eq!(
            condition_key("kms:EncryptionContex:Department"),
            " (did you mean `kms:EncryptionContext:Department`?)"
        );
        assert_eq!(closest("Prd", ["Prod", "Test", "Dev"]), Some("Prod"));
        assert_eq!(closest("Workloads/Prd", ["Workloads/Prod", "Workloads/Test"]), Some("Workloads/Prod"));
        assert_eq!(closest("xyz", ["Prod", "Test"]), None);
        assert_eq!(closest("prod", ["Prod", "Test"]), Some("Prod"));
    }
}
