# A pull request in the security account's Terraform: a grant for the Test account's AppRole on
# the Prod S3 key, a new reports key with its alias, and a role that reads it.

terraform {
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

provider "aws" {
  region              = "us-east-1"
  # The account (keyproof reads it from --plan-account, or from allowed_account_ids when set).
  # allowed_account_ids would make the offline plan call STS.

  # Offline planning: fake credentials, no calls to STS or the metadata service.
  access_key                  = "AKIAFAKEFAKEFAKEFAKE"
  secret_key                  = "fake"
  skip_credentials_validation = true
  skip_requesting_account_id  = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
}

# The change under review: the Test account's application role may decrypt with the Prod key.
resource "aws_kms_grant" "test_app_on_prod_s3" {
  name              = "test-app-reads-prod-s3"
  key_id            = "arn:aws:kms:us-east-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"
  grantee_principal = "arn:aws:iam::555566667777:role/AppRole"
  operations        = ["Decrypt", "DescribeKey"]
}

resource "aws_kms_key" "reports" {
  description             = "Reports of the security account"
  deletion_window_in_days = 30
  enable_key_rotation     = true
}

resource "aws_kms_alias" "reports" {
  name          = "alias/reports-key"
  target_key_id = aws_kms_key.reports.key_id
}

resource "aws_kms_key_policy" "reports" {
  key_id = aws_kms_key.reports.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "Enable IAM User Permissions"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::111122223333:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "ReportReaderDecrypts"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::111122223333:role/ReportReader" }
        Action    = ["kms:Decrypt", "kms:DescribeKey"]
        Resource  = "*"
      },
    ]
  })
}

resource "aws_iam_role" "report_reader" {
  name = "ReportReader"
  assume_role_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect    = "Allow"
      Principal = { Service = "lambda.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role_policy" "report_reader_kms" {
  name = "ReadReports"
  role = aws_iam_role.report_reader.name
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["kms:Decrypt"]
      Resource = "arn:aws:kms:us-east-1:111122223333:key/*"
    }]
  })
}

# Not modelled by keyproof: listed, never silently dropped.
resource "aws_s3_bucket" "reports" {
  bucket = "security-reports-111122223333"
}
