# The secrets the services read: the internal identity signing secret (generated, ephemeral) and
# the model provider's key (supplied by the operator, ephemeral). Both are written write-only:
# neither value is ever stored in Terraform state or plans.

variable "name" {
  type        = string
  description = "Name prefix."
}

variable "kms_key_arn" {
  type        = string
  description = "Key encrypting the secrets."
}

variable "openai_api_key" {
  type        = string
  description = "The model provider's key."
  sensitive   = true
  ephemeral   = true
}

variable "openai_api_key_version" {
  type        = number
  description = "Bumped to write a new key."
}

variable "internal_identity_secret_version" {
  type        = number
  description = "Bumped to generate a new signing secret."
}

ephemeral "aws_secretsmanager_random_password" "identity" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "internal_identity" {
  #checkov:skip=CKV2_AWS_57:rotation is a deliberate redeploy (bump internal_identity_secret_version); automatic rotation would split running tasks between two secrets
  name_prefix = "${var.name}/internal-identity-secret-"
  description = "INTERNAL_IDENTITY_SECRET: signs the identity passed between rolechat services"
  kms_key_id  = var.kms_key_arn
}

resource "aws_secretsmanager_secret_version" "internal_identity" {
  secret_id                = aws_secretsmanager_secret.internal_identity.id
  secret_string_wo         = ephemeral.aws_secretsmanager_random_password.identity.random_password
  secret_string_wo_version = var.internal_identity_secret_version
}

resource "aws_secretsmanager_secret" "openai_api_key" {
  #checkov:skip=CKV2_AWS_57:the key is issued by the model provider; the operator rotates it there and bumps openai_api_key_version
  name_prefix = "${var.name}/openai-api-key-"
  description = "OPENAI_API_KEY: the model provider's key"
  kms_key_id  = var.kms_key_arn
}

resource "aws_secretsmanager_secret_version" "openai_api_key" {
  secret_id                = aws_secretsmanager_secret.openai_api_key.id
  secret_string_wo         = var.openai_api_key
  secret_string_wo_version = var.openai_api_key_version
}

output "internal_identity_secret_arn" {
  description = "ARN of INTERNAL_IDENTITY_SECRET."
  value       = aws_secretsmanager_secret.internal_identity.arn
}

output "openai_api_key_secret_arn" {
  description = "ARN of OPENAI_API_KEY."
  value       = aws_secretsmanager_secret.openai_api_key.arn
}
