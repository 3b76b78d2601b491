//! The collector's one error type, and how AWS errors are described in `not-collected.json`.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum CollectError {
    #[error("cannot find who the collector runs as (sts:GetCallerIdentity): {reason}")]
    #[diagnostic(
        code(keyproof::collect::credentials),
        help("give credentials with --profile or the AWS_* environment variables")
    )]
    Credentials { reason: String },

    #[error("cannot read the organization: {reason}")]
    #[diagnostic(code(keyproof::collect::organization))]
    Organization { reason: String },

    #[error("the output folder {} exists and is not empty", path.display())]
    #[diagnostic(code(keyproof::collect::out_exists), help("name a new folder, or remove this one first"))]
    OutExists { path: PathBuf },

    /// The I/O error is said in the message, not again as a cause.
    #[error("cannot write the snapshot to {}: {error}", path.display())]
    #[diagnostic(code(keyproof::collect::write))]
    Write { path: PathBuf, error: std::io::Error },

    #[error("invalid option: {0}")]
    #[diagnostic(code(keyproof::collect::option))]
    Option(String),

    #[error("cannot start the async runtime: {0}")]
    #[diagnostic(code(keyproof::collect::runtime))]
    Runtime(std::io::Error),
}

/// An SDK error, as every service client returns it.
pub type Sdk<E> = aws_sdk_kms::error::SdkError<E, aws_sdk_kms::config::http::HttpResponse>;

/// The text between `open` and `close` in `text`.
fn between<'t>(text: &'t str, open: &str, close: &str) -> Option<&'t str> {
    let start = text.find(open)? + open.len();
    let len = text[start..].find(close)?;
    Some(&text[start..start + len])
}

/// The code and message of an error response whose shape the SDK did not recognise (an
/// `<ErrorResponse><Errors><Error>` nesting, as some endpoints such as moto send for STS).
fn from_body<E>(e: &Sdk<E>) -> Option<(String, Option<String>)> {
    let body = e.raw_response()?.body().bytes()?;
    let text = String::from_utf8_lossy(body);
    let code = between(&text, "<Code>", "</Code>")?.to_string();
    Some((code, between(&text, "<Message>", "</Message>").map(str::to_string)))
}

/// An AWS error as one line: its code and message when the service sent them, else the whole
/// chain of causes (connection refused, timeout, …).
pub fn describe<E>(e: &Sdk<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => match from_body(e) {
            Some((code, Some(message))) => format!("{code}: {message}"),
            Some((code, None)) => code,
            None => DisplayErrorContext(e).to_string(),
        },
    }
}

/// The error code, when the service sent one.
pub fn code<E: ProvideErrorMetadata>(e: &Sdk<E>) -> Option<String> {
    e.code().map(str::to_string).or_else(|| from_body(e).map(|(code, _)| code))
}
