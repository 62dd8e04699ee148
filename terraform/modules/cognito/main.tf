# Sign-in: a user pool (email addresses, strong passwords, optional MFA), the hosted sign-in
# domain, an `admins` group, and the app client the load balancer authenticates with.

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
