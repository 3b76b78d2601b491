//! Did-you-mean: the closest known name to a misspelt one, when it is close enough to be what
//! was meant (`keyproof_model::suggest` adds the KMS actions and condition keys).

/// The candidate most like `word` (normalized Damerau–Levenshtein similarity, ignoring case),
/// if it is at least 0.7 similar and not `word` itself.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let lower = word.to_lowercase();
    let mut best: Option<(f64, &'a str)> = None;
    for c in candidates {
        let cl = c.to_lowercase();
        if c == word {
            continue;
        }
        let score = strsim::normalized_damerau_levenshtein(&lower, &cl);
        if score >= 0.7 && best.is_none_or(|(b, _)| score > b) {
            best = Some((score, c));
        }
    }
    best.map(|(_, c)| c)
}

/// ` (did you mean `X`?)` after a message, or nothing.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map(|c| format!(" (did you mean `{c}`?)")).unwrap_or_default()
}

/// How alike two names are, ignoring case: 1.0 for the same, 0.0 for nothing in common.
pub fn similarity(a: &str, b: &str) -> f64 {
    strsim::normalized_damerau_levenshtein(&a.to_lowercase(), &b.to_lowercase())
}

/// For identifiers that share a long common prefix (`ou-a1b2-…`), where similarity says little:
/// the candidate at most `max_edits` typos (Damerau–Levenshtein, ignoring case) from `word`.
pub fn did_you_mean_typo<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>, max_edits: usize) -> String {
    let lower = word.to_lowercase();
    candidates
        .into_iter()
        .filter(|c| *c != word)
        .map(|c| (strsim::damerau_levenshtein(&lower, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= max_edits)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| format!(" (did you mean `{c}`?)"))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_gets_a_suggestion_only_for_a_typo() {
        let ids = ["ou-a1b2-sec00001", "ou-a1b2-wkld0001", "ou-a1b2-prod0001"];
        assert_eq!(did_you_mean_typo("ou-a1b2-wkld0010", ids, 2), " (did you mean `ou-a1b2-wkld0001`?)");
        assert_eq!(did_you_mean_typo("ou-a1b2-nope0001", ids, 2), "");
    }
}
