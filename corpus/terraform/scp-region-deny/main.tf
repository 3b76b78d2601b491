# The management account's Terraform: an SCP that stops the Workloads OU from decrypting
# outside us-east-1, and a tag policy keyproof does not model.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

provider "aws" {
  region = "us-east-1"

  # Offline planning: fake credentials, no calls to STS or the metadata service.
  access_key                  = "AKIAFAKEFAKEFAKEFAKE"
  secret_key                  = "fake"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

resource "aws_organizations_policy" "workloads_decrypt_us_east_1" {
  name = "WorkloadsDecryptOnlyInUsEast1"
  type = "SERVICE_CONTROL_POLICY"
  content = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid      = "DenyDecryptOutsideUsEast1"
      Effect   = "Deny"
      Action   = ["kms:Decrypt"]
      Resource = "*"
      Condition = {
        StringNotEquals = { "aws:RequestedRegion" = "us-east-1" }
      }
    }]
  })
}

resource "aws_organizations_policy_attachment" "workloads" {
  policy_id = aws_organizations_policy.workloads_decrypt_us_east_1.id
  target_id = "ou-a1b2-wkld0001"
}

resource "aws_organizations_policy" "tags" {
  name = "CostCenterTags"
  type = "TAG_POLICY"
  content = jsonencode({
    tags = { costcenter = { tag_key = { "@@assign" = "CostCenter" } } }
  })
}
