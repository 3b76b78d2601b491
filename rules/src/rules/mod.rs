//! The rules, one per file; each file's `//!` comment is the rule's documentation (see
//! [`crate::registry`]).

pub mod kp001_key_outside_security_account;
pub mod kp002_key_admin_can_use_key;
pub mod kp003_workload_can_administer_key;
pub mod kp004_external_access;
pub mod kp005_public_key;
pub mod kp006_key_deletion_outside_security;
pub mod kp007_key_policy_lockout;
pub mod kp008_grant_escalation;
pub mod kp009_grant_to_unknown_or_external_principal;
pub mod kp010_replica_outside_allowed_regions;
pub mod kp011_replica_policy_drift;
pub mod kp012_compliance_zone_crossing;
pub mod kp013_shared_key_throttling_risk;
pub mod kp014_service_principal_without_source_condition;
pub mod kp015_rotation_disabled;
pub mod kp016_broad_account_delegation;
pub mod kp017_statement_blocked_by_rcp;
pub mod kp018_key_administration_reachable;
