"""Builds the organization that `collect/tests/moto.rs` collects, on a running moto server.

Usage: python3 moto_setup.py http://127.0.0.1:PORT

Prints one JSON object on stdout: the account ids, key ids and the collector's access key. After
the setup, it switches moto's IAM authorization on (POST /moto-api/reset-auth), so that the
collector's own calls are checked against the collector's policies: the member account whose role
the collector may not assume then answers AssumeRole with AccessDenied, as AWS would.
"""

import json
import sys
import urllib.request

import boto3

ENDPOINT = sys.argv[1]
MGMT = "123456789012"  # moto's default account: the management account
ROLE = "KeyproofReadOnly"


def client(service, region="us-east-1", creds=None):
    kw = {}
    if creds:
        kw = {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }
    else:
        kw = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    return boto3.client(service, region_name=region, endpoint_url=ENDPOINT, **kw)


def doc(statements):
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


READ_ONLY = doc(
    [
        {
            "Effect": "Allow",
            "Action": [
                "iam:GetAccountAuthorizationDetails",
                "kms:ListKeys",
                "kms:DescribeKey",
                "kms:GetKeyPolicy",
                "kms:ListGrants",
                "kms:ListAliases",
                "kms:GetKeyRotationStatus",
                "kms:ListResourceTags",
                "sts:GetCallerIdentity",
            ],
            "Resource": "*",
        }
    ]
)

orgs = client("organizations")
orgs.create_organization(FeatureSet="ALL")
root = orgs.list_roots()["Roots"][0]["Id"]
try:
    orgs.enable_policy_type(RootId=root, PolicyType="SERVICE_CONTROL_POLICY")
except Exception:  # moto may have it enabled already
    pass
prod = orgs.create_organizational_unit(ParentId=root, Name="Prod")["OrganizationalUnit"]["Id"]
sandbox = orgs.create_organizational_unit(ParentId=root, Name="Sandbox")["OrganizationalUnit"]["Id"]


def account(name, ou):
    status = orgs.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
    aid = status["AccountId"]
    orgs.move_account(AccountId=aid, SourceParentId=root, DestinationParentId=ou)
    return aid


app = account("app-prod", prod)
locked = account("locked", sandbox)

scp = orgs.create_policy(
    Name="DenyKeyDeletion",
    Description="keys are deleted in the management account only",
    Type="SERVICE_CONTROL_POLICY",
    Content=doc(
        [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "kms:ScheduleKeyDeletion", "Resource": "*"},
        ]
    ),
)["Policy"]["PolicySummary"]["Id"]
orgs.attach_policy(PolicyId=scp, TargetId=prod)

# The management account: the keys, a key administrator in a group, a role with a grant, and the
# collector's own user.
iam = client("iam")
iam.create_group(GroupName="KeyAdmins")
iam.put_group_policy(
    GroupName="KeyAdmins",
    PolicyName="AdminKeys",
    PolicyDocument=doc([{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]),
)
iam.create_user(UserName="alice")
iam.add_user_to_group(GroupName="KeyAdmins", UserName="alice")
iam.create_user(UserName="carol")  # no KMS permission at all
iam.create_role(
    RoleName="GrantRole",
    AssumeRolePolicyDocument=doc(
        [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]
    ),
)
iam.create_user(UserName="keyproof-collector")
iam.put_user_policy(
    UserName="keyproof-collector",
    PolicyName="Collect",
    PolicyDocument=doc(
        json.loads(READ_ONLY)["Statement"]
        + [
            {
                "Effect": "Allow",
                "Action": ["organizations:Describe*", "organizations:List*"],
                "Resource": "*",
            },
            # The collector may assume its role in app-prod only: in `locked`, AssumeRole is
            # denied.
            {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": f"arn:aws:iam::{app}:role/{ROLE}"},
        ]
    ),
)
collector_key = iam.create_access_key(UserName="keyproof-collector")["AccessKey"]

keys = {}
east = client("kms", "us-east-1")
k1 = east.create_key(
    Description="app data key",
    Policy=doc(
        [
            {
                "Sid": "EnableRoot",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MGMT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            },
            {
                "Sid": "AllowAppDecrypt",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{app}:role/AppRole"},
                "Action": ["kms:Decrypt", "kms:DescribeKey"],
                "Resource": "*",
            },
            {
                "Sid": "DelegateToLocked",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{locked}:root"},
                "Action": "kms:Decrypt",
                "Resource": "*",
            },
        ]
    ),
    Tags=[{"TagKey": "team", "TagValue": "app"}],
)["KeyMetadata"]
keys["app"] = k1["KeyId"]
east.create_alias(AliasName="alias/app-key", TargetKeyId=k1["KeyId"])
east.enable_key_rotation(KeyId=k1["KeyId"])
grant = east.create_grant(
    KeyId=k1["KeyId"],
    GranteePrincipal=f"arn:aws:iam::{MGMT}:role/GrantRole",
    Operations=["Decrypt"],
    Name="grant-role-decrypt",
)
keys["grant"] = grant["GrantId"]

west = client("kms", "us-west-2")
k2 = west.create_key(
    Description="west key",
    Policy=doc(
        [
            {
                "Sid": "EnableRoot",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{MGMT}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    ),
)["KeyMetadata"]
keys["west"] = k2["KeyId"]
west.create_alias(AliasName="alias/west-key", TargetKeyId=k2["KeyId"])

# app-prod: the collector's role, an application role with a boundary, a user, and a key of its
# own in us-west-2.
sts = client("sts")
app_creds = sts.assume_role(RoleArn=f"arn:aws:iam::{app}:role/OrganizationAccountAccessRole", RoleSessionName="setup")[
    "Credentials"
]
app_iam = client("iam", creds=app_creds)
app_iam.create_role(
    RoleName=ROLE,
    AssumeRolePolicyDocument=doc(
        [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{MGMT}:root"}, "Action": "sts:AssumeRole"}]
    ),
)
app_iam.put_role_policy(RoleName=ROLE, PolicyName="Collect", PolicyDocument=READ_ONLY)
trust_ec2 = doc([{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}])
boundary = app_iam.create_policy(
    PolicyName="KmsBoundary",
    PolicyDocument=doc([{"Effect": "Allow", "Action": ["kms:Decrypt", "kms:Encrypt"], "Resource": "*"}]),
)["Policy"]["Arn"]
use = app_iam.create_policy(
    PolicyName="CentralKmsUse",
    PolicyDocument=doc([{"Sid": "UseCentralKeys", "Effect": "Allow", "Action": "kms:*", "Resource": "*"}]),
)["Policy"]["Arn"]
app_iam.create_role(RoleName="AppRole", AssumeRolePolicyDocument=trust_ec2, PermissionsBoundary=boundary)
app_iam.attach_role_policy(RoleName="AppRole", PolicyArn=use)
app_iam.create_role(RoleName="OtherRole", AssumeRolePolicyDocument=trust_ec2)
app_iam.attach_role_policy(RoleName="OtherRole", PolicyArn=use)
app_iam.create_user(UserName="bob")
app_iam.attach_user_policy(UserName="bob", PolicyArn=use)
app_west = client("kms", "us-west-2", creds=app_creds)
k3 = app_west.create_key(
    Description="app-prod local key",
    Policy=doc(
        [
            {
                "Sid": "EnableRoot",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{app}:root"},
                "Action": "kms:*",
                "Resource": "*",
            }
        ]
    ),
)["KeyMetadata"]
keys["app_local"] = k3["KeyId"]
app_west.create_alias(AliasName="alias/app-local", TargetKeyId=k3["KeyId"])

# From here on, moto checks every request against the caller's IAM policies.
req = urllib.request.Request(
    f"{ENDPOINT}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
)
urllib.request.urlopen(req).read()

print(
    json.dumps(
        {
            "management": MGMT,
            "app": app,
            "locked": locked,
            "prod_ou": prod,
            "sandbox_ou": sandbox,
            "scp": scp,
            "keys": keys,
            "access_key_id": collector_key["AccessKeyId"],
            "secret_access_key": collector_key["SecretAccessKey"],
        }
    )
)
