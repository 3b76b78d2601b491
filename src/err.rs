//! The CLI's one error type: everything below it, plus what the CLI itself checks.

use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum CliError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Model(#[from] keyproof_model::ModelError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Parse(#[from] keyproof_parser::ParseError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Solver(#[from] keyproof_solver::err::SolverError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Rules(#[from] keyproof_rules::RulesError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Collect(#[from] keyproof_collect::CollectError),

    /// The I/O error is said in the message, not again as a cause.
    #[error("cannot read `{path}`: {error}")]
    #[diagnostic(code(keyproof::cli::read))]
    Read { path: String, error: std::io::Error },

    #[error("`{path}` holds no property: a check of nothing would pass")]
    #[diagnostic(
        code(keyproof::cli::no_properties),
        help("write at least one `property NAME: ...` (docs/properties.md); comments alone are not properties")
    )]
    NoProperties { path: String },

    #[error("internal error: {0}")]
    #[diagnostic(code(keyproof::internal), help("this is a bug in keyproof; please report it with the snapshot"))]
    Internal(String),

    #[error("invalid `--context {entry}`: expected KEY=VALUE")]
    #[diagnostic(
        code(keyproof::cli::context),
        help("repeat --context for several keys; repeat the same key for a multivalued key")
    )]
    ContextSyntax { entry: String },

    #[error("{0}")]
    #[diagnostic(code(keyproof::cli::usage))]
    Usage(String),

    /// A name on the command line the snapshot does not have (an account, an OU, a principal,
    /// an action pattern), with a did-you-mean when one is close.
    #[error("{message}")]
    #[diagnostic(code(keyproof::cli::not_found))]
    NotFound { message: String },

    /// Not `#[from]`: that would make the I/O error a cause, said a second time.
    #[error("cannot write the output: {0}")]
    #[diagnostic(code(keyproof::cli::output))]
    Output(std::io::Error),

    #[error("cannot write `{path}`: {error}")]
    #[diagnostic(code(keyproof::cli::write))]
    Write { path: String, error: std::io::Error },

    #[error("cannot encode the output as JSON: {0}")]
    #[diagnostic(code(keyproof::cli::json))]
    Json(#[from] serde_json::Error),
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> CliError {
        CliError::Output(e)
    }
}
