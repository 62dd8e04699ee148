# One private repository per service image: immutable tags, scanned on push, KMS-encrypted.

variable "name" {
  type        = string
  description = "Name prefix."
}

variable "services" {
  type        = list(string)
  description = "Services that get a repository."
}

variable "kms_key_arn" {
  type        = string
  description = "Key encrypting the images."
}

resource "aws_ecr_repository" "this" {
  for_each             = toset(var.services)
  name                 = "${var.name}/${each.key}"
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each   = aws_ecr_repository.this
  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the 30 newest images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 30 }
      action       = { type = "expire" }
    }]
  })
}

output "repository_urls" {
  description = "Repository URL of each service."
  value       = { for s, r in aws_ecr_repository.this : s => r.repository_url }
}
