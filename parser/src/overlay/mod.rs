//! Overlays: a planned change — a Terraform plan or a CloudFormation template — applied to a
//! snapshot's raw files before the model is built, so that every command answers for the state
//! after the change.
//!
//! The front-ends (`terraform`, `cloudformation`) read their input and decide which keys,
//! policies, principals and organization policies are created or changed, with the values that
//! are known only after deployment determined where AWS determines them (a new key's ARN) and
//! reported unknown otherwise; [`apply`] is the one module that changes the raw snapshot. Both
//! produce the same [`OverlayReport`].

pub mod apply;
pub mod cloudformation;
pub mod terraform;

use crate::source::Spanned;

/// What an overlay did, and what it could not do.
#[derive(Debug, Clone, Default)]
pub struct OverlayReport {
    /// What the input is: `plan`, `template` or `stackset`.
    pub input: &'static str,
    /// The plan or template file as given.
    pub file: String,
    /// Every change applied: `aws_kms_grant.test_app: create`, `Resources.CentralKey: create`.
    pub applied: Vec<String>,
    /// Resources in the input that keyproof does not model.
    pub not_modelled: Vec<Spanned<String>>,
    /// Values unknown before deployment that decide access: the answers do not cover them (exit 2).
    pub unknown: Vec<Spanned<String>>,
    /// Values keyproof determined although the input leaves them to deployment (a new key's ARN).
    pub determined: Vec<Spanned<String>>,
}

/// AWS's default key policy, which a key created without one gets (KDG key-policy-default, "Default
/// key policy when you create a KMS key programmatically"): one statement that lets the account
/// use IAM policies to allow access to every KMS operation on the key.
pub fn default_key_policy(account: &str) -> String {
    format!(
        "{{\"Version\":\"2012-10-17\",\"Id\":\"key-default-1\",\"Statement\":[{{\"Sid\":\"Enable IAM User Permissions\",\"Effect\":\"Allow\",\"Principal\":{{\"AWS\":\"arn:aws:iam::{account}:root\"}},\"Action\":\"kms:*\",\"Resource\":\"*\"}}]}}"
    )
}
