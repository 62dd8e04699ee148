# ACM certificates, validated in Route 53: one in us-east-1 for CloudFront (the app's name), one
# in the region for the ALB (the app's name, which CloudFront forwards as Host, and origin.<name>,
# the ALB's own DNS name that CloudFront connects to).

terraform {
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      configuration_aliases = [aws.us_east_1]
    }
  }
}

variable "domain_name" {
  type        = string
  description = "The app's address."
}

variable "route53_zone_id" {
  type        = string
  description = "Hosted zone of domain_name."
}

locals {
  origin_domain_name = "origin.${var.domain_name}"
}

resource "aws_acm_certificate" "cloudfront" {
  provider          = aws.us_east_1
  domain_name       = var.domain_name
  validation_method = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_acm_certificate" "regional" {
  domain_name               = var.domain_name
  subject_alternative_names = [local.origin_domain_name]
  validation_method         = "DNS"

  lifecycle {
    create_before_destroy = true
  }
}

locals {
  # both certificates share the record for domain_name; keyed by record name to avoid duplicates
  validation_records = {
    for o in concat(tolist(aws_acm_certificate.cloudfront.domain_validation_options), tolist(aws_acm_certificate.regional.domain_validation_options)) :
    o.resource_record_name => { type = o.resource_record_type, value = o.resource_record_value }...
  }
}

resource "aws_route53_record" "validation" {
  for_each        = local.validation_records
  zone_id         = var.route53_zone_id
  name            = each.key
  type            = each.value[0].type
  records         = [each.value[0].value]
  ttl             = 300
  allow_overwrite = true
}

resource "aws_acm_certificate_validation" "cloudfront" {
  provider                = aws.us_east_1
  certificate_arn         = aws_acm_certificate.cloudfront.arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

resource "aws_acm_certificate_validation" "regional" {
  certificate_arn         = aws_acm_certificate.regional.arn
  validation_record_fqdns = [for r in aws_route53_record.validation : r.fqdn]
}

output "cloudfront_certificate_arn" {
  description = "Validated certificate for CloudFront (us-east-1)."
  value       = aws_acm_certificate_validation.cloudfront.certificate_arn
}

output "regional_certificate_arn" {
  description = "Validated certificate for the ALB."
  value       = aws_acm_certificate_validation.regional.certificate_arn
}

output "origin_domain_name" {
  description = "DNS name CloudFront uses to reach the ALB."
  value       = local.origin_domain_name
}
