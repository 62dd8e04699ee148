# Least privilege: per service, an execution role (pull its image, write its log group, read its
# own secrets and nothing else) and a task role with no permissions (the services call no AWS API).

variable "name" {
  type        = string
  description = "Name prefix."
}

variable "kms_key_arn" {
  type        = string
  description = "Key the secrets are encrypted with."
}

variable "log_group_arns" {
  type        = map(string)
  description = "Log group ARN of each service."
}

variable "secret_arns" {
  type        = map(list(string))
  description = "The Secrets Manager ARNs each service may read."
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  for_each           = var.secret_arns
  name_prefix        = "${var.name}-${each.key}-exec-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "execution" {
  for_each = var.secret_arns

  statement {
    sid       = "PullImages"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"] # GetAuthorizationToken has no resource-level permissions
  }

  statement {
    sid       = "PullOwnImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = ["arn:aws:ecr:*:*:repository/${var.name}/${each.key}"]
  }

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${var.log_group_arns[each.key]}:*"]
  }

  statement {
    sid       = "OwnSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = each.value
  }

  statement {
    sid       = "DecryptSecretsAndImages"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = var.secret_arns
  role     = aws_iam_role.execution[each.key].id
  policy   = data.aws_iam_policy_document.execution[each.key].json
}

resource "aws_iam_role" "task" {
  for_each           = var.secret_arns
  name_prefix        = "${var.name}-${each.key}-task-"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

output "execution_role_arns" {
  description = "Execution role of each service."
  value       = { for s, r in aws_iam_role.execution : s => r.arn }
}

output "task_role_arns" {
  description = "Task role of each service."
  value       = { for s, r in aws_iam_role.task : s => r.arn }
}
