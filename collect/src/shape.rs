//! The SDK's types in the JSON shapes that the AWS CLI prints (PascalCase field names, policy
//! documents of `get-account-authorization-details` decoded into JSON objects, timestamps in
//! ISO 8601), which is what `keyproof_parser::snapshot` reads.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use serde_json::{json, Map, Value};

/// Inserts `value` under `name` when it is present.
fn put(m: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(v) = value {
        m.insert(name.to_string(), v);
    }
}

fn s(v: Option<&str>) -> Option<Value> {
    v.map(|x| Value::String(x.to_string()))
}

pub fn date(d: Option<&DateTime>) -> Option<Value> {
    d.and_then(|d| d.fmt(Format::DateTime).ok()).map(Value::String)
}

/// A policy document as IAM returns it (URL-encoded JSON) as a JSON value, as the CLI prints
/// it. A document that does not decode is kept as its string, so that the parser reports it
/// with its position instead of the collector dropping it.
pub fn policy_document(raw: &str) -> Value {
    if let Ok(v) = serde_json::from_str::<Value>(raw) {
        return v;
    }
    let decoded = percent_encoding::percent_decode_str(raw).decode_utf8_lossy().to_string();
    serde_json::from_str::<Value>(&decoded).unwrap_or(Value::String(decoded))
}

mod iam {
    pub use aws_sdk_iam::types::{
        AttachedPermissionsBoundary, AttachedPolicy, GroupDetail, ManagedPolicyDetail, PolicyDetail, RoleDetail, Tag,
        UserDetail,
    };
}

fn inline_policies(list: &[iam::PolicyDetail]) -> Value {
    Value::Array(
        list.iter()
            .map(|p| {
                let mut m = Map::new();
                put(&mut m, "PolicyName", s(p.policy_name()));
                put(&mut m, "PolicyDocument", p.policy_document().map(policy_document));
                Value::Object(m)
            })
            .collect(),
    )
}

fn attached(list: &[iam::AttachedPolicy]) -> Value {
    Value::Array(
        list.iter()
            .map(|p| {
                let mut m = Map::new();
                put(&mut m, "PolicyName", s(p.policy_name()));
                put(&mut m, "PolicyArn", s(p.policy_arn()));
                Value::Object(m)
            })
            .collect(),
    )
}

fn boundary(b: Option<&iam::AttachedPermissionsBoundary>) -> Option<Value> {
    let b = b?;
    let mut m = Map::new();
    put(&mut m, "PermissionsBoundaryType", s(b.permissions_boundary_type().map(|t| t.as_str())));
    put(&mut m, "PermissionsBoundaryArn", s(b.permissions_boundary_arn()));
    Some(Value::Object(m))
}

fn iam_tags(tags: &[iam::Tag]) -> Value {
    Value::Array(tags.iter().map(|t| json!({"Key": t.key(), "Value": t.value()})).collect())
}

pub fn user(u: &iam::UserDetail) -> Value {
    let mut m = Map::new();
    put(&mut m, "Path", s(u.path()));
    put(&mut m, "UserName", s(u.user_name()));
    put(&mut m, "UserId", s(u.user_id()));
    put(&mut m, "Arn", s(u.arn()));
    put(&mut m, "CreateDate", date(u.create_date()));
    m.insert("UserPolicyList".into(), inline_policies(u.user_policy_list()));
    m.insert("GroupList".into(), json!(u.group_list()));
    m.insert("AttachedManagedPolicies".into(), attached(u.attached_managed_policies()));
    put(&mut m, "PermissionsBoundary", boundary(u.permissions_boundary()));
    m.insert("Tags".into(), iam_tags(u.tags()));
    Value::Object(m)
}

pub fn group(g: &iam::GroupDetail) -> Value {
    let mut m = Map::new();
    put(&mut m, "Path", s(g.path()));
    put(&mut m, "GroupName", s(g.group_name()));
    put(&mut m, "GroupId", s(g.group_id()));
    put(&mut m, "Arn", s(g.arn()));
    put(&mut m, "CreateDate", date(g.create_date()));
    m.insert("GroupPolicyList".into(), inline_policies(g.group_policy_list()));
    m.insert("AttachedManagedPolicies".into(), attached(g.attached_managed_policies()));
    Value::Object(m)
}

pub fn role(r: &iam::RoleDetail) -> Value {
    let mut m = Map::new();
    put(&mut m, "Path", s(r.path()));
    put(&mut m, "RoleName", s(r.role_name()));
    put(&mut m, "RoleId", s(r.role_id()));
    put(&mut m, "Arn", s(r.arn()));
    put(&mut m, "CreateDate", date(r.create_date()));
    put(&mut m, "AssumeRolePolicyDocument", r.assume_role_policy_document().map(policy_document));
    m.insert(
        "InstanceProfileList".into(),
        Value::Array(
            r.instance_profile_list()
                .iter()
                .map(|p| {
                    json!({"Path": p.path(), "InstanceProfileName": p.instance_profile_name(),
                           "InstanceProfileId": p.instance_profile_id(), "Arn": p.arn()})
                })
                .collect(),
        ),
    );
    m.insert("RolePolicyList".into(), inline_policies(r.role_policy_list()));
    m.insert("AttachedManagedPolicies".into(), attached(r.attached_managed_policies()));
    put(&mut m, "PermissionsBoundary", boundary(r.permissions_boundary()));
    m.insert("Tags".into(), iam_tags(r.tags()));
    Value::Object(m)
}

pub fn managed_policy(p: &iam::ManagedPolicyDetail) -> Value {
    let mut m = Map::new();
    // The name is the ARN's last segment; it is derived when a service leaves it out (moto
    // does in GetAccountAuthorizationDetails).
    let name = p.policy_name().or_else(|| p.arn().and_then(|a| a.rsplit('/').next()));
    put(&mut m, "PolicyName", s(name));
    put(&mut m, "PolicyId", s(p.policy_id()));
    put(&mut m, "Arn", s(p.arn()));
    put(&mut m, "Path", s(p.path()));
    put(&mut m, "DefaultVersionId", s(p.default_version_id()));
    put(&mut m, "AttachmentCount", p.attachment_count().map(Value::from));
    put(&mut m, "PermissionsBoundaryUsageCount", p.permissions_boundary_usage_count().map(Value::from));
    m.insert("IsAttachable".into(), Value::Bool(p.is_attachable()));
    put(&mut m, "Description", s(p.description()));
    put(&mut m, "CreateDate", date(p.create_date()));
    put(&mut m, "UpdateDate", date(p.update_date()));
    m.insert(
        "PolicyVersionList".into(),
        Value::Array(
            p.policy_version_list()
                .iter()
                .map(|v| {
                    let mut vm = Map::new();
                    put(&mut vm, "Document", v.document().map(policy_document));
                    put(&mut vm, "VersionId", s(v.version_id()));
                    vm.insert("IsDefaultVersion".into(), Value::Bool(v.is_default_version()));
                    put(&mut vm, "CreateDate", date(v.create_date()));
                    Value::Object(vm)
                })
                .collect(),
        ),
    );
    Value::Object(m)
}

mod kms {
    pub use aws_sdk_kms::types::{AliasListEntry, GrantListEntry, KeyMetadata, MultiRegionKey, Tag};
}

fn strings<T, F: Fn(&T) -> &str>(list: &[T], f: F) -> Option<Value> {
    (!list.is_empty()).then(|| Value::Array(list.iter().map(|x| Value::String(f(x).to_string())).collect()))
}

fn mrk(k: &kms::MultiRegionKey) -> Value {
    let mut m = Map::new();
    put(&mut m, "Arn", s(k.arn()));
    put(&mut m, "Region", s(k.region()));
    Value::Object(m)
}

/// `describe-key`'s `KeyMetadata`.
pub fn key_metadata(k: &kms::KeyMetadata) -> Value {
    let mut m = Map::new();
    put(&mut m, "AWSAccountId", s(k.aws_account_id()));
    m.insert("KeyId".into(), Value::String(k.key_id().to_string()));
    put(&mut m, "Arn", s(k.arn()));
    put(&mut m, "CreationDate", date(k.creation_date()));
    m.insert("Enabled".into(), Value::Bool(k.enabled()));
    put(&mut m, "Description", s(k.description()));
    put(&mut m, "KeyUsage", s(k.key_usage().map(|x| x.as_str())));
    put(&mut m, "KeyState", s(k.key_state().map(|x| x.as_str())));
    put(&mut m, "DeletionDate", date(k.deletion_date()));
    put(&mut m, "ValidTo", date(k.valid_to()));
    put(&mut m, "Origin", s(k.origin().map(|x| x.as_str())));
    put(&mut m, "CustomKeyStoreId", s(k.custom_key_store_id()));
    put(&mut m, "CloudHsmClusterId", s(k.cloud_hsm_cluster_id()));
    put(&mut m, "ExpirationModel", s(k.expiration_model().map(|x| x.as_str())));
    put(&mut m, "KeyManager", s(k.key_manager().map(|x| x.as_str())));
    put(&mut m, "KeySpec", s(k.key_spec().map(|x| x.as_str())));
    put(&mut m, "EncryptionAlgorithms", strings(k.encryption_algorithms(), |x| x.as_str()));
    put(&mut m, "SigningAlgorithms", strings(k.signing_algorithms(), |x| x.as_str()));
    put(&mut m, "KeyAgreementAlgorithms", strings(k.key_agreement_algorithms(), |x| x.as_str()));
    put(&mut m, "MacAlgorithms", strings(k.mac_algorithms(), |x| x.as_str()));
    put(&mut m, "MultiRegion", k.multi_region().map(Value::Bool));
    if let Some(c) = k.multi_region_configuration() {
        let mut cm = Map::new();
        put(&mut cm, "MultiRegionKeyType", s(c.multi_region_key_type().map(|x| x.as_str())));
        put(&mut cm, "PrimaryKey", c.primary_key().map(mrk));
        cm.insert("ReplicaKeys".into(), Value::Array(c.replica_keys().iter().map(mrk).collect()));
        m.insert("MultiRegionConfiguration".into(), Value::Object(cm));
    }
    put(&mut m, "PendingDeletionWindowInDays", k.pending_deletion_window_in_days().map(Value::from));
    put(&mut m, "CurrentKeyMaterialId", s(k.current_key_material_id()));
    Value::Object(m)
}

/// One entry of `list-grants`' `Grants`.
pub fn grant(g: &kms::GrantListEntry) -> Value {
    let mut m = Map::new();
    put(&mut m, "KeyId", s(g.key_id()));
    put(&mut m, "GrantId", s(g.grant_id()));
    put(&mut m, "Name", s(g.name()));
    put(&mut m, "CreationDate", date(g.creation_date()));
    put(&mut m, "GranteePrincipal", s(g.grantee_principal()));
    put(&mut m, "GranteeServicePrincipal", s(g.grantee_service_principal()));
    put(&mut m, "RetiringPrincipal", s(g.retiring_principal()));
    put(&mut m, "RetiringServicePrincipal", s(g.retiring_service_principal()));
    put(&mut m, "IssuingAccount", s(g.issuing_account()));
    m.insert(
        "Operations".into(),
        Value::Array(g.operations().iter().map(|o| Value::String(o.as_str().to_string())).collect()),
    );
    if let Some(c) = g.constraints() {
        let mut cm = Map::new();
        let ctx = |h: Option<&std::collections::HashMap<String, String>>| {
            h.map(|h| {
                let sorted: std::collections::BTreeMap<_, _> = h.iter().collect();
                json!(sorted)
            })
        };
        put(&mut cm, "EncryptionContextSubset", ctx(c.encryption_context_subset()));
        put(&mut cm, "EncryptionContextEquals", ctx(c.encryption_context_equals()));
        // `SourceArn` is not read by keyproof's parser, which rejects unknown constraints: it is
        // kept out of the file and reported instead (see `constraint_notes`).
        m.insert("Constraints".into(), Value::Object(cm));
    }
    Value::Object(m)
}

/// Grant constraints that the snapshot format cannot carry, for the collection report.
pub fn constraint_notes(g: &kms::GrantListEntry) -> Option<String> {
    let c = g.constraints()?;
    c.source_arn().map(|arn| {
        format!(
            "grant {} has a SourceArn constraint ({arn}) that the snapshot does not carry",
            g.grant_id().unwrap_or("?")
        )
    })
}

/// One entry of `list-aliases`' `Aliases`.
pub fn alias(a: &kms::AliasListEntry) -> Value {
    let mut m = Map::new();
    put(&mut m, "AliasName", s(a.alias_name()));
    put(&mut m, "AliasArn", s(a.alias_arn()));
    put(&mut m, "TargetKeyId", s(a.target_key_id()));
    put(&mut m, "CreationDate", date(a.creation_date()));
    put(&mut m, "LastUpdatedDate", date(a.last_updated_date()));
    Value::Object(m)
}

pub fn kms_tags(tags: &[kms::Tag]) -> Value {
    Value::Array(tags.iter().map(|t| json!({"TagKey": t.tag_key(), "TagValue": t.tag_value()})).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_documents_are_decoded_as_the_cli_prints_them() {
        let encoded = "%7B%22Version%22%3A%222012-10-17%22%2C%22Statement%22%3A%5B%5D%7D";
        assert_eq!(policy_document(encoded), json!({"Version": "2012-10-17", "Statement": []}));
        assert_eq!(policy_document(r#"{"Statement":[]}"#), json!({"Statement": []}));
        assert_eq!(policy_document("not json"), json!("not json"));
    }
}
