//! The solver's one error type.

use keyproof_parser::ParseError;
use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum SolverError {
    /// A property names something the snapshot does not have (an OU, an account, a key).
    #[error(transparent)]
    #[diagnostic(transparent)]
    Property(#[from] ParseError),

    /// The solver and the evaluator disagree: a bug in keyproof, never reported as a finding.
    #[error("internal error: {0}")]
    #[diagnostic(
        code(keyproof::internal),
        help("this is a bug in keyproof; please report it with the snapshot and the property")
    )]
    Internal(String),
}
