//! Three-valued logic (Kleene): `Unknown` stands for "depends on something the snapshot does not
//! hold" (the IAM policies of an account that was not collected, an unknown condition key). It
//! lets the concrete evaluator decide what can be decided and say `unknown` for the rest.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Tri {
    False,
    Unknown,
    True,
}

impl Tri {
    pub fn from_bool(b: bool) -> Tri {
        if b {
            Tri::True
        } else {
            Tri::False
        }
    }

    pub fn and(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::False, _) | (_, Tri::False) => Tri::False,
            (Tri::True, Tri::True) => Tri::True,
            _ => Tri::Unknown,
        }
    }

    pub fn or(self, other: Tri) -> Tri {
        match (self, other) {
            (Tri::True, _) | (_, Tri::True) => Tri::True,
            (Tri::False, Tri::False) => Tri::False,
            _ => Tri::Unknown,
        }
    }

    #[allow(clippy::should_implement_trait)]
    pub fn not(self) -> Tri {
        match self {
            Tri::True => Tri::False,
            Tri::False => Tri::True,
            Tri::Unknown => Tri::Unknown,
        }
    }

    pub fn is_true(self) -> bool {
        self == Tri::True
    }

    pub fn is_false(self) -> bool {
        self == Tri::False
    }

    /// OR over many values.
    pub fn any(items: impl IntoIterator<Item = Tri>) -> Tri {
        items.into_iter().fold(Tri::False, Tri::or)
    }

    /// AND over many values.
    pub fn all(items: impl IntoIterator<Item = Tri>) -> Tri {
        items.into_iter().fold(Tri::True, Tri::and)
    }

    /// The same value whatever the hypothesis: `True`/`False` when every item agrees.
    pub fn agree(items: impl IntoIterator<Item = Tri>) -> Tri {
        let mut out: Option<Tri> = None;
        for t in items {
            out = Some(match out {
                None => t,
                Some(prev) if prev == t => t,
                Some(_) => Tri::Unknown,
            });
        }
        out.unwrap_or(Tri::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::Tri::*;
    use super::*;

    #[test]
    fn kleene_tables() {
        assert_eq!(True.and(Unknown), Unknown);
        assert_eq!(False.and(Unknown), False);
        assert_eq!(True.or(Unknown), True);
        assert_eq!(False.or(Unknown), Unknown);
        assert_eq!(Unknown.not(), Unknown);
        assert_eq!(Tri::any([False, False]), False);
        assert_eq!(Tri::all([]), True);
        assert_eq!(Tri::agree([True, True]), True);
        assert_eq!(Tri::agree([True, False]), Unknown);
    }
}
