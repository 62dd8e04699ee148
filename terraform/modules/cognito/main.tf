# Sign-in: a user pool (email addresses, strong passwords, optional MFA, optionally only some email
# domains), the hosted sign-in domain, an `admins` group, and the app clients (the load balancer's,
# and one for programs).

variable "name" {
  type        = string
  description = "Name prefix."
}

variable "domain_name" {
  type        = string
  description = "The app's address (callback and sign-out return URLs)."
}

variable "domain_prefix" {
  type        = string
  description = "Hosted sign-in domain prefix."
}

variable "self_sign_up" {
  type        = bool
  description = "Whether people may sign up themselves."
}

variable "mfa" {
  type        = string
  description = "OFF, OPTIONAL or ON."
}

variable "api_client" {
  type        = bool
  description = "Create an app client for programs that call /api with Cognito access tokens."
  default     = true
}

variable "allowed_email_domains" {
  type        = list(string)
  description = "If not empty, only addresses in these domains may sign up (a pre sign-up trigger checks)."
  default     = []
}

variable "kms_key_arn" {
  type        = string
  description = "Key the sign-up trigger's log group is encrypted with."
}

variable "log_retention_days" {
  type        = number
  description = "How long the sign-up trigger's logs are kept."
}

variable "session_hours" {
  type        = number
  description = "Lifetime of ID/access tokens (the ALB session is set separately)."
}

data "aws_region" "current" {}

resource "aws_cognito_user_pool" "this" {
  name                     = var.name
  username_attributes      = ["email"]
  auto_verified_attributes = ["email"]
  mfa_configuration        = var.mfa
  deletion_protection      = "ACTIVE"

  username_configuration {
    case_sensitive = false
  }

  password_policy {
    minimum_length                   = 12
    require_lowercase                = true
    require_uppercase                = true
    require_numbers                  = true
    require_symbols                  = true
    temporary_password_validity_days = 3
  }

  dynamic "software_token_mfa_configuration" {
    for_each = var.mfa == "OFF" ? [] : [1]
    content {
      enabled = true
    }
  }

  admin_create_user_config {
    allow_admin_create_user_only = !var.self_sign_up
  }

  dynamic "lambda_config" {
    for_each = local.restrict_domains ? [1] : []
    content {
      pre_sign_up = aws_lambda_function.pre_sign_up[0].arn
    }
  }

  account_recovery_setting {
    recovery_mechanism {
      name     = "verified_email"
      priority = 1
    }
  }

  user_pool_add_ons {
    advanced_security_mode = "OFF"
  }
}

resource "aws_cognito_user_pool_domain" "this" {
  domain       = var.domain_prefix
  user_pool_id = aws_cognito_user_pool.this.id
}

resource "aws_cognito_user_group" "admins" {
  name         = "admins"
  user_pool_id = aws_cognito_user_pool.this.id
  description  = "rolechat administrators"
}

resource "aws_cognito_user_pool_client" "alb" {
  name                                 = "${var.name}-alb"
  user_pool_id                         = aws_cognito_user_pool.this.id
  generate_secret                      = true # the ALB is a confidential client
  allowed_oauth_flows_user_pool_client = true
  allowed_oauth_flows                  = ["code"]
  allowed_oauth_scopes                 = ["openid", "email", "profile"]
  supported_identity_providers         = ["COGNITO"]
  callback_urls                        = ["https://${var.domain_name}/oauth2/idpresponse"]
  logout_urls                          = ["https://${var.domain_name}/"]
  prevent_user_existence_errors        = "ENABLED"
  enable_token_revocation              = true
  explicit_auth_flows                  = ["ALLOW_REFRESH_TOKEN_AUTH"]
  access_token_validity                = min(var.session_hours, 24)
  id_token_validity                    = min(var.session_hours, 24)
  refresh_token_validity               = 30

  token_validity_units {
    access_token  = "hours"
    id_token      = "hours"
    refresh_token = "days"
  }
}

# Programs (scripts, other services) sign in with SRP and send the access token as
# `Authorization: Bearer`; a public client (no secret), short-lived access tokens.
resource "aws_cognito_user_pool_client" "api" {
  count                         = var.api_client ? 1 : 0
  name                          = "${var.name}-api"
  user_pool_id                  = aws_cognito_user_pool.this.id
  generate_secret               = false
  prevent_user_existence_errors = "ENABLED"
  enable_token_revocation       = true
  explicit_auth_flows           = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]
  access_token_validity         = 1
  id_token_validity             = 1
  refresh_token_validity        = 30

  token_validity_units {
    access_token  = "hours"
    id_token      = "hours"
    refresh_token = "days"
  }
}

output "api_client_ids" {
  description = "App clients whose access tokens the auth-proxy accepts as `Authorization: Bearer` (empty when api_client is off)."
  value       = aws_cognito_user_pool_client.api[*].id
}

locals {
  hosted_domain = "${aws_cognito_user_pool_domain.this.domain}.auth.${data.aws_region.current.region}.amazoncognito.com"
}

output "user_pool_id" {
  description = "User pool ID."
  value       = aws_cognito_user_pool.this.id
}

output "user_pool_arn" {
  description = "User pool ARN (the ALB's authenticate-cognito action)."
  value       = aws_cognito_user_pool.this.arn
}

output "client_id" {
  description = "The ALB's app client (COGNITO_CLIENT_ID)."
  value       = aws_cognito_user_pool_client.alb.id
}

output "domain_prefix" {
  description = "Hosted domain prefix (the ALB's user_pool_domain)."
  value       = aws_cognito_user_pool_domain.this.domain
}

output "issuer" {
  description = "Issuer of the pool's tokens (COGNITO_ISSUER)."
  value       = "https://cognito-idp.${data.aws_region.current.region}.amazonaws.com/${aws_cognito_user_pool.this.id}"
}

output "logout_url" {
  description = "Cognito's logout endpoint for this client, returning to the app."
  value       = "https://${local.hosted_domain}/logout?client_id=${aws_cognito_user_pool_client.alb.id}&logout_uri=${urlencode("https://${var.domain_name}/")}"
}

output "admin_group_name" {
  description = "The administrators' group."
  value       = aws_cognito_user_group.admins.name
}

# --- only some email domains may sign up ---------------------------------------------------------
locals {
  restrict_domains = length(var.allowed_email_domains) > 0
  trigger_name     = "${var.name}-pre-sign-up"
}

data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "pre_sign_up" {
  count              = local.restrict_domains ? 1 : 0
  name_prefix        = "${var.name}-pre-sign-up-"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

resource "aws_cloudwatch_log_group" "pre_sign_up" {
  count             = local.restrict_domains ? 1 : 0
  name              = "/aws/lambda/${local.trigger_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

# the trigger only writes its own logs
resource "aws_iam_role_policy" "pre_sign_up_logs" {
  count = local.restrict_domains ? 1 : 0
  name  = "logs"
  role  = aws_iam_role.pre_sign_up[0].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Effect   = "Allow"
      Action   = ["logs:CreateLogStream", "logs:PutLogEvents"]
      Resource = "${aws_cloudwatch_log_group.pre_sign_up[0].arn}:*"
    }]
  })
}

resource "aws_lambda_function" "pre_sign_up" {
  #checkov:skip=CKV_AWS_116:a synchronous Cognito trigger: a refused sign-up is its answer, there is nothing to retry from a dead-letter queue
  #checkov:skip=CKV_AWS_117:it calls nothing on the network, so it needs no VPC
  #checkov:skip=CKV_AWS_173:its only environment variable is the public list of allowed domains
  #checkov:skip=CKV_AWS_272:the code is this repository's pre_sign_up.zip, checked against its source by the tests
  #checkov:skip=CKV_AWS_50:a string comparison taking milliseconds: traces would cost more than they tell
  count                          = local.restrict_domains ? 1 : 0
  function_name                  = local.trigger_name
  description                    = "Only addresses in the allowed email domains may sign up"
  role                           = aws_iam_role.pre_sign_up[0].arn
  runtime                        = "python3.12"
  handler                        = "handler.handler"
  filename                       = "${path.module}/pre_sign_up.zip"
  source_code_hash               = filebase64sha256("${path.module}/pre_sign_up.zip")
  timeout                        = 3
  memory_size                    = 128
  reserved_concurrent_executions = 20

  environment {
    variables = {
      ALLOWED_EMAIL_DOMAINS = join(",", var.allowed_email_domains)
    }
  }

  depends_on = [aws_cloudwatch_log_group.pre_sign_up, aws_iam_role_policy.pre_sign_up_logs]
}

resource "aws_lambda_permission" "pre_sign_up" {
  count         = local.restrict_domains ? 1 : 0
  statement_id  = "CognitoPreSignUp"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.pre_sign_up[0].function_name
  principal     = "cognito-idp.amazonaws.com"
  source_arn    = aws_cognito_user_pool.this.arn
}
