//! What AWS says about KMS actions and condition keys: the KMS part of AWS's Service
//! Authorization Reference (`data/kms-service-reference.json`, a copy of it) and the global
//! condition keys of the IAM User Guide (reference_policies_condition-keys).

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

#[derive(Debug, Deserialize)]
struct RawReference {
    actions: BTreeMap<String, RawAction>,
    #[serde(rename = "conditionKeys")]
    condition_keys: BTreeMap<String, RawKey>,
    #[serde(rename = "resourceTypes")]
    resource_types: BTreeMap<String, RawResourceType>,
}

#[derive(Debug, Deserialize)]
struct RawAction {
    #[serde(rename = "accessLevel")]
    access_level: String,
    #[serde(rename = "conditionKeys")]
    condition_keys: Vec<String>,
    #[serde(rename = "resourceTypes")]
    resource_types: Vec<String>,
}

#[derive(Debug, Deserialize)]
struct RawKey {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Debug, Deserialize)]
struct RawResourceType {
    #[serde(rename = "conditionKeys")]
    condition_keys: Vec<String>,
}

/// One KMS action.
#[derive(Debug, Clone)]
pub struct KmsAction {
    /// The service prefix: `kms` for every action of the KMS reference; `sts` or `iam` for the
    /// few other actions the transitive who-can's edges ask about ([`Reference::other_action`]).
    pub service: &'static str,
    /// `Decrypt`, without the `kms:` prefix.
    pub name: String,
    pub access_level: String,
    /// Whether the action acts on a KMS key (resource type `key`).
    pub on_key: bool,
    /// Condition keys (lower case) that can be present in a request for this action on a key:
    /// the action's own and the `key` resource type's.
    pub condition_keys: BTreeSet<String>,
}

/// The type of a condition key's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    String,
    Arn,
    Numeric,
    Date,
    Bool,
    Ip,
    Binary,
}

/// Where a condition key's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Follows from the principal (filled from the snapshot).
    Principal,
    /// Follows from the key (filled from the snapshot).
    Resource,
    /// Given by the caller with the request; absent when not given.
    Request,
    /// Given by the caller; AWS sends it with every request, so when it is not given its value
    /// is unknown (not absent).
    AlwaysPresent,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    pub kind: KeyType,
    pub multivalued: bool,
    pub source: KeySource,
}

/// The global `aws:` condition keys keyproof knows (IAM reference_policies_condition-keys).
/// Prefix entries (ending in `/`) cover a tag family. Names as the IAM User Guide spells them;
/// they are compared ignoring case.
const GLOBAL_KEYS: &[(&str, KeyType, bool, KeySource)] = &[
    ("aws:PrincipalArn", KeyType::Arn, false, KeySource::Principal),
    ("aws:PrincipalAccount", KeyType::String, false, KeySource::Principal),
    ("aws:PrincipalOrgID", KeyType::String, false, KeySource::Principal),
    ("aws:PrincipalOrgPaths", KeyType::String, true, KeySource::Principal),
    ("aws:PrincipalTag/", KeyType::String, false, KeySource::Principal),
    ("aws:PrincipalIsAWSService", KeyType::Bool, false, KeySource::Principal),
    ("aws:PrincipalServiceName", KeyType::String, false, KeySource::Principal),
    ("aws:PrincipalServiceNamesList", KeyType::String, true, KeySource::Principal),
    ("aws:PrincipalType", KeyType::String, false, KeySource::Principal),
    ("aws:userid", KeyType::String, false, KeySource::Principal),
    ("aws:username", KeyType::String, false, KeySource::Principal),
    ("aws:ResourceAccount", KeyType::String, false, KeySource::Resource),
    ("aws:ResourceOrgID", KeyType::String, false, KeySource::Resource),
    ("aws:ResourceOrgPaths", KeyType::String, true, KeySource::Resource),
    ("aws:ResourceTag/", KeyType::String, false, KeySource::Resource),
    ("aws:RequestedRegion", KeyType::String, false, KeySource::Resource),
    ("aws:SourceIp", KeyType::Ip, false, KeySource::Request),
    ("aws:VpcSourceIp", KeyType::Ip, false, KeySource::Request),
    ("aws:SourceVpc", KeyType::String, false, KeySource::Request),
    ("aws:SourceVpcArn", KeyType::Arn, false, KeySource::Request),
    ("aws:SourceVpce", KeyType::String, false, KeySource::Request),
    ("aws:SecureTransport", KeyType::Bool, false, KeySource::AlwaysPresent),
    ("aws:CurrentTime", KeyType::Date, false, KeySource::AlwaysPresent),
    ("aws:EpochTime", KeyType::Date, false, KeySource::AlwaysPresent),
    ("aws:ViaAWSService", KeyType::Bool, false, KeySource::AlwaysPresent),
    ("aws:TokenIssueTime", KeyType::Date, false, KeySource::Request),
    ("aws:MultiFactorAuthPresent", KeyType::Bool, false, KeySource::Request),
    ("aws:MultiFactorAuthAge", KeyType::Numeric, false, KeySource::Request),
    ("aws:CalledVia", KeyType::String, true, KeySource::Request),
    ("aws:CalledViaFirst", KeyType::String, false, KeySource::Request),
    ("aws:CalledViaLast", KeyType::String, false, KeySource::Request),
    ("aws:SourceArn", KeyType::Arn, false, KeySource::Request),
    ("aws:SourceAccount", KeyType::String, false, KeySource::Request),
    ("aws:SourceOrgID", KeyType::String, false, KeySource::Request),
    ("aws:SourceOrgPaths", KeyType::String, true, KeySource::Request),
    ("aws:UserAgent", KeyType::String, false, KeySource::Request),
    ("aws:Referer", KeyType::String, false, KeySource::Request),
    ("aws:RequestTag/", KeyType::String, false, KeySource::Request),
    ("aws:TagKeys", KeyType::String, true, KeySource::Request),
    ("aws:SourceIdentity", KeyType::String, false, KeySource::Request),
    ("aws:FederatedProvider", KeyType::String, false, KeySource::Request),
    ("aws:AssumedRoot", KeyType::Bool, false, KeySource::Request),
    ("aws:Ec2InstanceSourceVpc", KeyType::String, false, KeySource::Request),
    ("aws:Ec2InstanceSourcePrivateIPv4", KeyType::Ip, false, KeySource::Request),
];

/// KMS keys whose values follow from the caller or the key rather than from the request.
const KMS_DERIVED: &[(&str, KeySource)] = &[
    ("kms:calleraccount", KeySource::Principal),
    ("kms:keyspec", KeySource::Resource),
    ("kms:keyusage", KeySource::Resource),
    ("kms:keyorigin", KeySource::Resource),
    ("kms:multiregion", KeySource::Resource),
    ("kms:multiregionkeytype", KeySource::Resource),
    ("kms:resourcealiases", KeySource::Resource),
    ("kms:customermasterkeyspec", KeySource::Resource),
    ("kms:customermasterkeyusage", KeySource::Resource),
];

/// The catalogue, parsed once.
#[derive(Debug)]
pub struct Reference {
    actions: BTreeMap<String, KmsAction>,
    /// Lower-case KMS condition key (families as `kms:encryptioncontext:`) → info.
    kms_keys: BTreeMap<String, KeyInfo>,
    /// The KMS condition keys as the reference spells them (families as `kms:EncryptionContext:`).
    kms_key_names: Vec<String>,
    /// The STS and IAM actions of [`OTHER_ACTIONS`], by lower-case full name.
    others: BTreeMap<String, KmsAction>,
}

/// The actions outside KMS that the transitive who-can asks about: assuming a role, and the IAM
/// writes that give a principal identity permissions (IAM UG id_roles_use_permissions-to-switch,
/// reference_policies_evaluation-logic; the IAM Service Authorization Reference).
pub const OTHER_ACTIONS: &[&str] = &[
    "sts:AssumeRole",
    "iam:PutRolePolicy",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "iam:AttachUserPolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:AddUserToGroup",
    "iam:PutGroupPolicy",
    "iam:AttachGroupPolicy",
    "iam:UpdateAssumeRolePolicy",
];

impl KmsAction {
    /// `kms:Decrypt`, `sts:AssumeRole`.
    pub fn full_name(&self) -> String {
        format!("{}:{}", self.service, self.name)
    }
}

/// How a condition key is classified for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyClass {
    Known(KeyInfo),
    /// A key of this service that the action never carries, or a key of another service: absent
    /// from every KMS request for this action.
    NeverPresent,
    /// A key in the `aws:` or `kms:` namespace keyproof does not know (a typo, or a key newer
    /// than keyproof): its value is unknown, never guessed.
    Unknown,
}

fn key_type(kind: &str) -> (KeyType, bool) {
    let (multi, base) = match kind.strip_prefix("ArrayOf") {
        Some(b) => (true, b),
        None => (false, kind),
    };
    let t = match base {
        "ARN" | "Arn" => KeyType::Arn,
        "Numeric" => KeyType::Numeric,
        "Date" => KeyType::Date,
        "Bool" => KeyType::Bool,
        "IPAddress" => KeyType::Ip,
        "Binary" => KeyType::Binary,
        _ => KeyType::String,
    };
    (t, multi)
}

/// The lower-case family name of a templated key: `kms:EncryptionContext:${EncryptionContextKey}`
/// → `kms:encryptioncontext:`.
fn family(key: &str) -> String {
    match key.find("${") {
        Some(i) => key[..i].to_ascii_lowercase(),
        None => key.to_ascii_lowercase(),
    }
}

impl Reference {
    fn load() -> Result<Reference, serde_json::Error> {
        let raw: RawReference = serde_json::from_str(include_str!("../data/kms-service-reference.json"))?;
        let key_resource_keys: BTreeSet<String> = raw
            .resource_types
            .get("key")
            .map(|k| k.condition_keys.iter().map(|c| family(c)).collect())
            .unwrap_or_default();
        let mut kms_keys = BTreeMap::new();
        let mut kms_key_names = Vec::new();
        for (name, info) in &raw.condition_keys {
            if !name.to_ascii_lowercase().starts_with("kms:") {
                continue;
            }
            kms_key_names.push(name.find("${").map_or(name.as_str(), |i| &name[..i]).to_string());
            let (kind, multivalued) = key_type(&info.kind);
            let fam = family(name);
            let source = KMS_DERIVED.iter().find(|(k, _)| *k == fam).map_or(KeySource::Request, |(_, s)| *s);
            kms_keys.insert(fam, KeyInfo { kind, multivalued, source });
        }
        let actions = raw
            .actions
            .into_iter()
            .map(|(name, a)| {
                let on_key = a.resource_types.iter().any(|r| r == "key");
                let mut keys: BTreeSet<String> = a.condition_keys.iter().map(|c| family(c)).collect();
                if on_key {
                    keys.extend(key_resource_keys.iter().cloned());
                }
                (
                    name.to_ascii_lowercase(),
                    KmsAction { service: "kms", name, access_level: a.access_level, on_key, condition_keys: keys },
                )
            })
            .collect();
        let others = OTHER_ACTIONS
            .iter()
            .map(|full| {
                let (service, name) = full.split_once(':').unwrap_or(("iam", full));
                let service: &'static str = if service == "sts" { "sts" } else { "iam" };
                (
                    full.to_ascii_lowercase(),
                    KmsAction {
                        service,
                        name: name.to_string(),
                        access_level: "Write".into(),
                        on_key: false,
                        condition_keys: BTreeSet::new(),
                    },
                )
            })
            .collect();
        Ok(Reference { actions, kms_keys, kms_key_names, others })
    }

    /// The catalogue. It is compiled in; a test checks that it parses.
    pub fn get() -> &'static Reference {
        static REFERENCE: OnceLock<Reference> = OnceLock::new();
        REFERENCE.get_or_init(|| {
            Reference::load().unwrap_or_else(|_| Reference {
                actions: BTreeMap::new(),
                kms_keys: BTreeMap::new(),
                kms_key_names: Vec::new(),
                others: BTreeMap::new(),
            })
        })
    }

    /// A KMS action by name, with or without `kms:`, any case.
    pub fn action(&self, name: &str) -> Option<&KmsAction> {
        let lower = name.to_ascii_lowercase();
        let bare = lower.strip_prefix("kms:").unwrap_or(&lower);
        self.actions.get(bare)
    }

    /// One of [`OTHER_ACTIONS`] by full name, any case.
    pub fn other_action(&self, name: &str) -> Option<&KmsAction> {
        self.others.get(&name.to_ascii_lowercase())
    }

    pub fn actions(&self) -> impl Iterator<Item = &KmsAction> {
        self.actions.values()
    }

    /// Every condition key keyproof knows, as AWS spells it: the KMS keys of the reference and
    /// the global `aws:` keys (a family such as `aws:PrincipalTag/` ends in `/` or `:`). For
    /// did-you-mean suggestions.
    pub fn condition_key_names(&self) -> impl Iterator<Item = &str> {
        self.kms_key_names.iter().map(String::as_str).chain(GLOBAL_KEYS.iter().map(|(n, ..)| *n))
    }

    /// Classifies a condition key (any case) for a request of `action`.
    pub fn classify(&self, key: &str, action: &KmsAction) -> KeyClass {
        let lower = key.to_ascii_lowercase();
        if lower.starts_with("aws:") {
            for (name, kind, multivalued, source) in GLOBAL_KEYS {
                let hit = if name.ends_with('/') {
                    lower.len() > name.len() && lower.as_bytes()[..name.len()].eq_ignore_ascii_case(name.as_bytes())
                } else {
                    lower.eq_ignore_ascii_case(name)
                };
                if hit {
                    return KeyClass::Known(KeyInfo { kind: *kind, multivalued: *multivalued, source: *source });
                }
            }
            return KeyClass::Unknown;
        }
        if lower.starts_with("kms:") {
            let fam = self
                .kms_keys
                .keys()
                .find(|f| {
                    if f.ends_with(':') || f.ends_with('/') {
                        lower.starts_with(f.as_str()) && lower.len() > f.len()
                    } else {
                        lower == **f
                    }
                })
                .cloned();
            return match fam {
                None => KeyClass::Unknown,
                Some(f) if action.condition_keys.contains(&f) => {
                    self.kms_keys.get(&f).map_or(KeyClass::Unknown, |i| KeyClass::Known(*i))
                }
                Some(_) => KeyClass::NeverPresent,
            };
        }
        // An STS request carries its own service's keys (sts:ExternalId, sts:RoleSessionName,
        // sts:SourceIdentity, sts:TransitiveTagKeys…), all set by the caller (IAM UG
        // reference_policies_iam-condition-keys, "Available keys for AWS STS").
        if action.service == "sts" && lower.starts_with("sts:") {
            return KeyClass::Known(KeyInfo { kind: KeyType::String, multivalued: true, source: KeySource::Request });
        }
        // Keys of other services (s3:, ec2:, sts:…) are never in the context of a KMS request.
        KeyClass::NeverPresent
    }
}

/// KMS operations that work across accounts (KDG key-policy-modifying-external-accounts):
/// every other action granted to another account has no effect.
pub const CROSS_ACCOUNT_ACTIONS: &[&str] = &[
    "CreateGrant",
    "Decrypt",
    "DeriveSharedSecret",
    "DescribeKey",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GetKeyRotationStatus",
    "GetPublicKey",
    "ListGrants",
    "ReEncryptFrom",
    "ReEncryptTo",
    "RetireGrant",
    "RevokeGrant",
    "Sign",
    "Verify",
    "VerifyMac",
];

/// Operations a grant can allow (KDG grants, "Grant operations").
pub const GRANT_OPERATIONS: &[&str] = &[
    "Decrypt",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyWithoutPlaintext",
    "ReEncryptFrom",
    "ReEncryptTo",
    "Sign",
    "Verify",
    "GetPublicKey",
    "CreateGrant",
    "RetireGrant",
    "DescribeKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateMac",
    "VerifyMac",
    "DeriveSharedSecret",
];

/// Grant operations for which encryption-context constraints are not applied (KDG
/// create-grant-overview, "Grant constraints").
pub const CONSTRAINT_FREE_OPERATIONS: &[&str] = &["DescribeKey", "RetireGrant"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_reference_parses() {
        let r = Reference::load().expect("kms-service-reference.json parses");
        assert_eq!(r.actions.len(), 56);
        let decrypt = r.action("kms:decrypt").expect("Decrypt");
        assert_eq!(decrypt.name, "Decrypt");
        assert!(decrypt.on_key);
        assert!(decrypt.condition_keys.contains("kms:viaservice"));
        assert!(decrypt.condition_keys.contains("kms:keyspec"), "resource-type keys are included");
    }

    #[test]
    fn classification() {
        let r = Reference::get();
        let decrypt = r.action("Decrypt").expect("Decrypt");
        assert!(matches!(r.classify("kms:ViaService", decrypt), KeyClass::Known(_)));
        assert!(matches!(r.classify("kms:EncryptionContext:Department", decrypt), KeyClass::Known(_)));
        assert!(matches!(r.classify("kms:ViaServce", decrypt), KeyClass::Unknown));
        assert!(matches!(r.classify("kms:GrantOperations", decrypt), KeyClass::NeverPresent));
        assert!(matches!(r.classify("s3:prefix", decrypt), KeyClass::NeverPresent));
        assert!(matches!(r.classify("aws:PrincipalTag/team", decrypt), KeyClass::Known(_)));
        assert!(matches!(r.classify("aws:PrincipalTags/team", decrypt), KeyClass::Unknown));
        let ck = r.classify("aws:PrincipalOrgPaths", decrypt);
        assert!(matches!(ck, KeyClass::Known(KeyInfo { multivalued: true, .. })));
    }
}
