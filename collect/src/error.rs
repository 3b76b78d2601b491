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

    #[error("no usable AWS credentials: {reason}")]
    #[diagnostic(
        code(keyproof::collect::no_credentials),
        help(
            "give --profile (for an SSO profile, run `aws sso login --profile NAME` first), or set AWS_ACCESS_KEY_ID \
             and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)"
        )
    )]
    NoCredentials { reason: String },

    #[error("cannot reach {endpoint}: {reason}")]
    #[diagnostic(code(keyproof::collect::unreachable), help("check --endpoint-url, --region and the network"))]
    Unreachable { endpoint: String, reason: String },

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

/// The causes of an error, outermost first, each said once (the SDK nests the same message in
/// several wrappers), without the debug dump that `DisplayErrorContext` appends.
pub fn causes(e: &(dyn std::error::Error + 'static)) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(err) = next {
        let text = err.to_string();
        if !text.is_empty() && !out.iter().any(|o| o.contains(&text)) {
            out.push(text);
        }
        next = err.source();
    }
    out
}

/// Why the first call (sts:GetCallerIdentity, which every collection starts with) failed, as
/// one line: no credentials, an endpoint that cannot be reached, or the service's own answer.
pub fn identity_error<E>(e: &Sdk<E>, endpoint: &str) -> CollectError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(c) = s.downcast_ref::<aws_credential_types::provider::error::CredentialsError>() {
            let reason = match c {
                aws_credential_types::provider::error::CredentialsError::CredentialsNotLoaded(_) => {
                    "none was found in the environment, the profile, SSO, web identity, ECS or the instance metadata"
                        .to_string()
                }
                _ => causes(c).join(": "),
            };
            return CollectError::NoCredentials { reason };
        }
        source = s.source();
    }
    if let aws_sdk_kms::error::SdkError::DispatchFailure(d) = e {
        if d.is_io() || d.is_timeout() {
            let all = causes(e);
            // The innermost cause is the one a person acts on ("Connection refused (os error 111)").
            let reason = all.last().cloned().unwrap_or_else(|| "no connection".into());
            return CollectError::Unreachable { endpoint: endpoint.to_string(), reason };
        }
    }
    CollectError::Credentials { reason: describe(e) }
}
