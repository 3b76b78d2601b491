//! Principals as a request presents them, and as policies and grants name them.
//!
//! IAM reference_policies_elements_principal and reference_identifiers (IAM ARNs): an account is
//! named by its id or `arn:aws:iam::ID:root`; a role by its ARN with its path; a role session by
//! `arn:aws:sts::ID:assumed-role/ROLE/SESSION` (no path); a federated user by
//! `arn:aws:sts::ID:federated-user/NAME`; a service by its service principal name.

use keyproof_parser::snapshot::is_account_id;

/// The principal of a request, parsed from what the user gave.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PrincipalRef {
    /// The account's root user (`arn:aws:iam::A:root`).
    Root {
        account: String,
    },
    User {
        account: String,
        path: String,
        name: String,
    },
    /// A session of the role whose name no statement singles out.
    Role {
        account: String,
        path: String,
        name: String,
    },
    Session {
        account: String,
        role: String,
        session: String,
    },
    FederatedUser {
        account: String,
        name: String,
    },
    /// An AWS service principal (`s3.amazonaws.com`).
    Service(String),
    /// An unsigned request.
    Anonymous,
}

impl PrincipalRef {
    /// Parses a request principal: an IAM or STS ARN, a service principal name, or `anonymous`.
    pub fn parse(text: &str) -> Result<PrincipalRef, String> {
        let t = text.trim();
        if t == "anonymous" || t == "*" {
            return Ok(PrincipalRef::Anonymous);
        }
        if !t.starts_with("arn:") {
            if t.ends_with(".amazonaws.com") || t.ends_with(".amazonaws.com.cn") {
                return Ok(PrincipalRef::Service(t.to_string()));
            }
            if is_account_id(t) {
                return Ok(PrincipalRef::Root { account: t.to_string() });
            }
            return Err(format!("`{t}` is not a principal: expected an IAM/STS ARN, a service principal such as `s3.amazonaws.com`, or `anonymous`"));
        }
        let parts: Vec<&str> = t.splitn(6, ':').collect();
        if parts.len() != 6 {
            return Err(format!("`{t}` is not an ARN"));
        }
        let (service, account, resource) = (parts[2], parts[4].to_string(), parts[5]);
        if !is_account_id(&account) {
            return Err(format!("`{t}` does not name a 12-digit account"));
        }
        match service {
            "iam" => {
                if resource == "root" {
                    return Ok(PrincipalRef::Root { account });
                }
                let (kind, rest) =
                    resource.split_once('/').ok_or_else(|| format!("`{t}` is not a user, role or root ARN"))?;
                let (path, name) = split_path(rest);
                if name.is_empty() {
                    return Err(format!("`{t}` has an empty name"));
                }
                match kind {
                    "user" => Ok(PrincipalRef::User { account, path, name }),
                    "role" => Ok(PrincipalRef::Role { account, path, name }),
                    other => Err(format!("`{t}`: an IAM {other} cannot make requests (expected user, role or root)")),
                }
            }
            "sts" => {
                let mut it = resource.splitn(3, '/');
                match (it.next(), it.next(), it.next()) {
                    (Some("assumed-role"), Some(role), Some(session)) if !role.is_empty() && !session.is_empty() => {
                        Ok(PrincipalRef::Session { account, role: role.to_string(), session: session.to_string() })
                    }
                    (Some("federated-user"), Some(name), None) if !name.is_empty() => {
                        Ok(PrincipalRef::FederatedUser { account, name: name.to_string() })
                    }
                    _ => Err(format!("`{t}` is not an assumed-role or federated-user ARN")),
                }
            }
            _ => Err(format!("`{t}` is not an IAM or STS principal ARN")),
        }
    }

    pub fn account(&self) -> Option<&str> {
        match self {
            PrincipalRef::Root { account }
            | PrincipalRef::User { account, .. }
            | PrincipalRef::Role { account, .. }
            | PrincipalRef::Session { account, .. }
            | PrincipalRef::FederatedUser { account, .. } => Some(account),
            PrincipalRef::Service(_) | PrincipalRef::Anonymous => None,
        }
    }

    /// The principal's ARN as AWS shows it in a request (a session's STS ARN).
    pub fn arn(&self) -> String {
        match self {
            PrincipalRef::Root { account } => format!("arn:aws:iam::{account}:root"),
            PrincipalRef::User { account, path, name } => format!("arn:aws:iam::{account}:user{path}{name}"),
            PrincipalRef::Role { account, path, name } => format!("arn:aws:iam::{account}:role{path}{name}"),
            PrincipalRef::Session { account, role, session } => {
                format!("arn:aws:sts::{account}:assumed-role/{role}/{session}")
            }
            PrincipalRef::FederatedUser { account, name } => {
                format!("arn:aws:sts::{account}:federated-user/{name}")
            }
            PrincipalRef::Service(s) => s.clone(),
            PrincipalRef::Anonymous => "anonymous".to_string(),
        }
    }

    /// The role name of a role or role session.
    pub fn role_name(&self) -> Option<&str> {
        match self {
            PrincipalRef::Role { name, .. } => Some(name),
            PrincipalRef::Session { role, .. } => Some(role),
            _ => None,
        }
    }
}

/// Splits `path/to/Name` into (`/path/to/`, `Name`).
fn split_path(rest: &str) -> (String, String) {
    match rest.rfind('/') {
        Some(i) => (format!("/{}/", &rest[..i]), rest[i + 1..].to_string()),
        None => ("/".to_string(), rest.to_string()),
    }
}

/// How a principal is named in a policy or a grant.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NamedPrincipal {
    /// `"*"`: everyone, anonymous included.
    Everyone,
    /// An account (`"111122223333"` or `arn:aws:iam::111122223333:root`): the account, which
    /// delegates to its IAM policies.
    Account(String),
    /// An IAM user or role ARN (with path), an STS session or federated-user ARN.
    Arn(String),
    /// A unique id (`AROA…`, `AIDA…`), which AWS shows when the named principal was deleted.
    UniqueId(String),
    Service(String),
    /// `Federated` and `CanonicalUser` principals, which never make KMS requests directly.
    Other(String),
}

impl NamedPrincipal {
    /// Reads a value of a `Principal` element's `AWS` list (or a grantee principal).
    pub fn from_aws(value: &str) -> NamedPrincipal {
        if value == "*" {
            return NamedPrincipal::Everyone;
        }
        if is_account_id(value) {
            return NamedPrincipal::Account(value.to_string());
        }
        if let Some(rest) = value.strip_prefix("arn:aws:iam::") {
            if let Some(account) = rest.strip_suffix(":root") {
                if is_account_id(account) {
                    return NamedPrincipal::Account(account.to_string());
                }
            }
            return NamedPrincipal::Arn(value.to_string());
        }
        if value.starts_with("arn:") {
            return NamedPrincipal::Arn(value.to_string());
        }
        if value.len() >= 16 && value.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()) {
            return NamedPrincipal::UniqueId(value.to_string());
        }
        if value.ends_with(".amazonaws.com") || value.ends_with(".amazonaws.com.cn") {
            return NamedPrincipal::Service(value.to_string());
        }
        NamedPrincipal::Other(value.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_request_principals() {
        assert_eq!(
            PrincipalRef::parse("arn:aws:iam::111122223333:role/team/KeyAdmin"),
            Ok(PrincipalRef::Role { account: "111122223333".into(), path: "/team/".into(), name: "KeyAdmin".into() })
        );
        assert_eq!(
            PrincipalRef::parse("arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice"),
            Ok(PrincipalRef::Session {
                account: "111122223333".into(),
                role: "KeyAdmin".into(),
                session: "alice".into()
            })
        );
        assert_eq!(
            PrincipalRef::parse("arn:aws:iam::111122223333:root"),
            Ok(PrincipalRef::Root { account: "111122223333".into() })
        );
        assert_eq!(PrincipalRef::parse("s3.amazonaws.com"), Ok(PrincipalRef::Service("s3.amazonaws.com".into())));
        assert!(PrincipalRef::parse("arn:aws:iam::1111:role/x").is_err());
        assert!(PrincipalRef::parse("arn:aws:iam::111122223333:group/x").is_err());
        assert!(PrincipalRef::parse("bob").is_err());
    }

    #[test]
    fn arn_round_trip() {
        for t in [
            "arn:aws:iam::111122223333:role/team/KeyAdmin",
            "arn:aws:iam::111122223333:user/bob",
            "arn:aws:sts::111122223333:assumed-role/KeyAdmin/alice",
            "arn:aws:sts::111122223333:federated-user/carol",
        ] {
            assert_eq!(PrincipalRef::parse(t).map(|p| p.arn()), Ok(t.to_string()));
        }
    }

    #[test]
    fn named_principals() {
        assert_eq!(NamedPrincipal::from_aws("*"), NamedPrincipal::Everyone);
        assert_eq!(NamedPrincipal::from_aws("111122223333"), NamedPrincipal::Account("111122223333".into()));
        assert_eq!(
            NamedPrincipal::from_aws("arn:aws:iam::111122223333:root"),
            NamedPrincipal::Account("111122223333".into())
        );
        assert_eq!(
            NamedPrincipal::from_aws("AROAEXAMPLEID1234567"),
            NamedPrincipal::UniqueId("AROAEXAMPLEID1234567".into())
        );
    }
}
