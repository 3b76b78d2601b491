//! The model's one error type.

use keyproof_parser::ParseError;
use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum ModelError {
    /// The snapshot could not be read or does not hold together.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Input(#[from] ParseError),

    #[error("no key `{key}` in the snapshot")]
    #[diagnostic(
        code(keyproof::unknown_key),
        help("name a key by ARN, key id, mrk- id, alias (`alias/name`) or alias ARN")
    )]
    UnknownKey { key: String },

    #[error("`{key}` names more than one key: {candidates}")]
    #[diagnostic(
        code(keyproof::ambiguous_key),
        help("name the key by its ARN or its alias ARN (with region and account)")
    )]
    AmbiguousKey { key: String, candidates: String },

    #[error("{message}")]
    #[diagnostic(code(keyproof::invalid_principal))]
    InvalidPrincipal { message: String },

    #[error("no principal `{principal}` in account {account}, whose IAM was collected")]
    #[diagnostic(
        code(keyproof::unknown_principal),
        help("the snapshot holds every role and user of a collected account; check the name and path")
    )]
    UnknownPrincipal { principal: String, account: String },

    #[error("`{action}` is not a KMS action{suggestion}", suggestion = crate::suggest::action(.action))]
    #[diagnostic(
        code(keyproof::invalid_action),
        help("KMS actions are listed in the Service Authorization Reference, e.g. kms:Decrypt")
    )]
    InvalidAction { action: String },

    #[error("`{action}` does not act on a KMS key")]
    #[diagnostic(
        code(keyproof::not_a_key_action),
        help("keyproof decides requests on keys; account-level actions such as kms:CreateKey are not modelled")
    )]
    NotAKeyAction { action: String },

    #[error("invalid context entry `{entry}`: {reason}")]
    #[diagnostic(code(keyproof::invalid_context))]
    InvalidContext { entry: String, reason: String },
}
