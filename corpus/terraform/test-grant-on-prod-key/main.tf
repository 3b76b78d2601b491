# The pull request of docs/ci.md: the Test account's AppRole may decrypt with the Prod EBS key.

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

resource "aws_kms_grant" "test_app_reads_prod_ebs" {
  name              = "test-app-reads-prod-ebs"
  key_id            = "arn:aws:kms:us-east-1:111122223333:key/6f1e2d3c-4b5a-4698-8776-5a4b3c2d1e0f"
  grantee_principal = "arn:aws:iam::555566667777:role/AppRole"
  operations        = ["Decrypt", "DescribeKey"]
}
