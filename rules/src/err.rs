//! The rules crate's one error type: a bad `keyproof.toml`, a selection that names no rule, or a
//! disagreement between the solver and the evaluator (a bug, never reported as a finding).

use miette::{Diagnostic, NamedSource, SourceSpan};
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum RulesError {
    /// `keyproof.toml` is not valid TOML or has a field keyproof does not know.
    #[error("invalid `{path}`: {message}")]
    #[diagnostic(code(keyproof::config::syntax), help("see `rules/README.md` for the settings of keyproof.toml"))]
    ConfigSyntax {
        path: String,
        message: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("here")]
        span: Option<SourceSpan>,
    },

    /// A suppression must say why it is there, so that a reviewer can judge it later.
    #[error("the suppression of `{rule}` in `{path}` has no `reason`")]
    #[diagnostic(
        code(keyproof::config::suppression_without_reason),
        help("add `reason = \"…\"`: why the finding is accepted, and who accepted it")
    )]
    SuppressionWithoutReason {
        path: String,
        rule: String,
        #[source_code]
        src: NamedSource<String>,
        #[label("this suppression")]
        span: Option<SourceSpan>,
    },

    /// A rule code that is not in the registry (in `--select`, `--ignore` or `keyproof.toml`).
    #[error("unknown rule `{code}`")]
    #[diagnostic(code(keyproof::rules::unknown_rule), help("`keyproof rules` lists the rules: KP001 … KP018"))]
    UnknownRule { code: String },

    /// A setting names something the snapshot does not have (an OU of a compliance zone).
    #[error("{message}")]
    #[diagnostic(code(keyproof::config::unknown_name))]
    UnknownName { message: String },

    /// The solver's request did not replay through the evaluator: a bug in one of them.
    #[error("internal error in rule {rule}: {message}")]
    #[diagnostic(code(keyproof::internal), help("this is a bug in keyproof; please report it with the snapshot"))]
    Internal { rule: String, message: String },
}
