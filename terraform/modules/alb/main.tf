# The load balancer: HTTPS only, reachable from CloudFront only (security group). Browser routes
# sign in through Cognito first: /api/* answers 401 without a session (deny), /oauth2/* sends the
# browser to the sign-in page (authenticate) and back to the app. The auth-proxy verifies the
# signed x-amzn-oidc-data header the ALB adds.

variable "name" {
  type        = string
  description = "Name prefix."
}

variable "vpc_id" {
  type        = string
  description = "The VPC."
}

variable "public_subnet_ids" {
  type        = list(string)
  description = "Public subnets, one per availability zone."
}

variable "security_group_id" {
  type        = string
  description = "The ALB's security group (CloudFront only)."
}

variable "certificate_arn" {
  type        = string
  description = "Regional certificate for the app's name and origin.<name>."
}

variable "target_port" {
  type        = number
  description = "auth-proxy's container port."
}

variable "deregistration_delay" {
  type        = number
  description = "Seconds a deregistering auth-proxy keeps serving open streams."
}

variable "cognito_user_pool_arn" {
  type        = string
  description = "User pool ARN."
}

variable "cognito_client_id" {
  type        = string
  description = "The ALB's app client."
}

variable "cognito_domain" {
  type        = string
  description = "Hosted sign-in domain prefix."
}

variable "bearer_api" {
  type        = bool
  description = "Forward /api requests that carry `Authorization: Bearer` without Cognito sign-in: the auth-proxy verifies the Cognito access token itself."
  default     = true
}

variable "session_timeout_seconds" {
  type        = number
  description = "Lifetime of the ALB's authentication session cookie."
}

locals {
  session_cookie_name = "AWSELBAuthSessionCookie"
  # above the 10 s stream heartbeat, below gunicorn's 75 s keep-alive (so the ALB closes idle
  # connections, never the service under a request)
  idle_timeout = 60
}

data "aws_elb_service_account" "this" {}

resource "aws_s3_bucket" "logs" {
  #checkov:skip=CKV_AWS_144:access logs are operational data kept in the region; cross-region replication is not wanted
  #checkov:skip=CKV_AWS_145:ALB access logs support only SSE-S3 (AES256), not KMS keys
  #checkov:skip=CKV2_AWS_62:nothing consumes events of the access-log bucket
  #checkov:skip=CKV_AWS_18:this is the access-log bucket itself; logging it into itself would loop
  bucket_prefix = "${var.name}-alb-logs-"
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "logs" {
  bucket                  = aws_s3_bucket.logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "logs" {
  bucket = aws_s3_bucket.logs.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  bucket = aws_s3_bucket.logs.id
  rule {
    id     = "expire"
    status = "Enabled"
    filter {}
    expiration {
      days = 90
    }
    noncurrent_version_expiration {
      noncurrent_days = 7
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

data "aws_iam_policy_document" "logs" {
  statement {
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.this.arn]
    }
  }
  statement {
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }
  }
  statement {
    sid       = "TLSOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.logs.arn, "${aws_s3_bucket.logs.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "logs" {
  bucket = aws_s3_bucket.logs.id
  policy = data.aws_iam_policy_document.logs.json
}

resource "aws_lb" "this" {
  #checkov:skip=CKV2_AWS_28:the ALB only accepts CloudFront (security group); request filtering belongs at the edge
  #checkov:skip=CKV2_AWS_20:there is no HTTP listener at all; CloudFront redirects HTTP to HTTPS
  name                       = var.name
  load_balancer_type         = "application"
  internal                   = false
  subnets                    = var.public_subnet_ids
  security_groups            = [var.security_group_id]
  idle_timeout               = local.idle_timeout
  drop_invalid_header_fields = true
  enable_deletion_protection = true

  access_logs {
    bucket  = aws_s3_bucket.logs.id
    enabled = true
  }

  depends_on = [aws_s3_bucket_policy.logs]
}

resource "aws_lb_target_group" "auth_proxy" {
  #checkov:skip=CKV_AWS_378:ALB to task traffic stays inside private subnets behind security groups; the identity it carries is a signed header
  name_prefix          = "authp-"
  port                 = var.target_port
  protocol             = "HTTP"
  target_type          = "ip"
  vpc_id               = var.vpc_id
  deregistration_delay = var.deregistration_delay

  health_check {
    path                = "/healthz"
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.this.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type = "fixed-response"
    fixed_response {
      content_type = "application/json"
      status_code  = "404"
      message_body = "{\"error\":{\"code\":\"not_found\",\"message\":\"No such route.\"}}"
    }
  }
}

locals {
  cognito = {
    user_pool_arn       = var.cognito_user_pool_arn
    user_pool_client_id = var.cognito_client_id
    user_pool_domain    = var.cognito_domain
    scope               = "openid email profile"
    session_cookie_name = local.session_cookie_name
    session_timeout     = var.session_timeout_seconds
  }
}

# Published bots: their public pages' API (anonymous visitors) and the OpenAI-compatible API (bot API
# keys) pass without Cognito sign-in; the auth-proxy identifies visitors and verifies keys itself.
resource "aws_lb_listener_rule" "published_bots" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 5

  condition {
    path_pattern {
      values = ["/api/public/*", "/v1/*"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.auth_proxy.arn
  }
}

# Programs calling /api with a Cognito access token (`Authorization: Bearer`): the auth-proxy verifies
# the token (RS256 from the pool's keys, issuer, token_use, client_id), so no sign-in action here.
resource "aws_lb_listener_rule" "bearer_api" {
  count        = var.bearer_api ? 1 : 0
  listener_arn = aws_lb_listener.https.arn
  priority     = 8

  condition {
    path_pattern {
      values = ["/api/*"]
    }
  }

  condition {
    http_header {
      http_header_name = "Authorization"
      values           = ["Bearer *"]
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.auth_proxy.arn
  }
}

# the API: a browser without a session gets 401 (the app then offers to sign in), never a redirect
resource "aws_lb_listener_rule" "api" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 10

  condition {
    path_pattern {
      values = ["/api/*"]
    }
  }

  action {
    type = "authenticate-cognito"
    authenticate_cognito {
      user_pool_arn              = local.cognito.user_pool_arn
      user_pool_client_id        = local.cognito.user_pool_client_id
      user_pool_domain           = local.cognito.user_pool_domain
      scope                      = local.cognito.scope
      session_cookie_name        = local.cognito.session_cookie_name
      session_timeout            = local.cognito.session_timeout
      on_unauthenticated_request = "deny"
    }
  }

  action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.auth_proxy.arn
  }
}

# sign-in: /oauth2/login (the app's loginUrl) sends the browser to Cognito; the ALB itself answers
# /oauth2/idpresponse; once signed in, back to the app. /oauth2/logout never gets here: CloudFront
# answers it (see the edge module).
resource "aws_lb_listener_rule" "oauth2" {
  listener_arn = aws_lb_listener.https.arn
  priority     = 20

  condition {
    path_pattern {
      values = ["/oauth2/*"]
    }
  }

  action {
    type = "authenticate-cognito"
    authenticate_cognito {
      user_pool_arn              = local.cognito.user_pool_arn
      user_pool_client_id        = local.cognito.user_pool_client_id
      user_pool_domain           = local.cognito.user_pool_domain
      scope                      = local.cognito.scope
      session_cookie_name        = local.cognito.session_cookie_name
      session_timeout            = local.cognito.session_timeout
      on_unauthenticated_request = "authenticate"
    }
  }

  action {
    type = "redirect"
    redirect {
      protocol    = "HTTPS"
      port        = "443"
      host        = "#{host}"
      path        = "/"
      query       = ""
      status_code = "HTTP_302"
    }
  }
}

output "arn" {
  description = "The ALB's ARN (ALB_ARN, the signer the auth-proxy accepts)."
  value       = aws_lb.this.arn
}

output "arn_suffix" {
  description = "ARN suffix for CloudWatch metrics."
  value       = aws_lb.this.arn_suffix
}

output "dns_name" {
  description = "The ALB's DNS name."
  value       = aws_lb.this.dns_name
}

output "zone_id" {
  description = "The ALB's hosted zone (alias records)."
  value       = aws_lb.this.zone_id
}

output "target_group_arn" {
  description = "auth-proxy's target group."
  value       = aws_lb_target_group.auth_proxy.arn
}

output "target_group_arn_suffix" {
  description = "Target group ARN suffix for CloudWatch metrics."
  value       = aws_lb_target_group.auth_proxy.arn_suffix
}

output "request_count_resource_label" {
  description = "Resource label of ALBRequestCountPerTarget scaling."
  value       = "${aws_lb.this.arn_suffix}/${aws_lb_target_group.auth_proxy.arn_suffix}"
}

output "session_cookie_name" {
  description = "Base name of the ALB's session cookies (-0, -1, ... shards)."
  value       = local.session_cookie_name
}
