# The edge: CloudFront serves the front end from a private S3 bucket (origin access control) and
# sends /api/* and /oauth2/* to the ALB uncached, with cookies and headers, and an origin read
# timeout above the stream heartbeat. /oauth2/logout is answered at the edge: it expires the
# ALB's session cookies and continues to Cognito's logout endpoint, which ends the Cognito
# session and returns to the app.

terraform {
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      configuration_aliases = [aws.us_east_1]
    }
  }
}

locals {
  s3_origin  = "frontend"
  alb_origin = "alb"
  mime = {
    html  = "text/html; charset=utf-8"
    js    = "text/javascript; charset=utf-8"
    mjs   = "text/javascript; charset=utf-8"
    css   = "text/css; charset=utf-8"
    json  = "application/json"
    svg   = "image/svg+xml"
    png   = "image/png"
    ico   = "image/x-icon"
    webp  = "image/webp"
    woff2 = "font/woff2"
    txt   = "text/plain; charset=utf-8"
    map   = "application/json"
  }
  files = fileset(var.frontend_dist_dir, "**")
  # the front end's runtime configuration, from Terraform's own outputs
  frontend_config = {
    auth      = "cognito"
    loginUrl  = "https://${var.domain_name}/oauth2/login"
    logoutUrl = "https://${var.domain_name}/oauth2/logout"
  }
}

resource "aws_s3_bucket" "frontend" {
  #checkov:skip=CKV_AWS_144:the build is reproducible from the repository; cross-region replication is not wanted
  #checkov:skip=CKV_AWS_145:public static assets; SSE-S3 avoids giving CloudFront a KMS grant
  #checkov:skip=CKV2_AWS_62:nothing consumes events of the front-end bucket
  #checkov:skip=CKV_AWS_18:objects are written only by Terraform; reads are logged by CloudTrail/CloudFront if enabled
  bucket_prefix = "${var.name}-frontend-"
  force_destroy = true
}

resource "aws_s3_bucket_public_access_block" "frontend" {
  bucket                  = aws_s3_bucket.frontend.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "frontend" {
  bucket = aws_s3_bucket.frontend.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_versioning" "frontend" {
  bucket = aws_s3_bucket.frontend.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "frontend" {
  bucket = aws_s3_bucket.frontend.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "frontend" {
  bucket = aws_s3_bucket.frontend.id
  rule {
    id     = "old-builds"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

resource "aws_cloudfront_origin_access_control" "frontend" {
  name                              = "${var.name}-frontend"
  origin_access_control_origin_type = "s3"
  signing_behavior                  = "always"
  signing_protocol                  = "sigv4"
}

data "aws_iam_policy_document" "frontend" {
  statement {
    sid       = "CloudFrontReads"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.frontend.arn}/*"]
    principals {
      type        = "Service"
      identifiers = ["cloudfront.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "AWS:SourceArn"
      values   = [aws_cloudfront_distribution.this.arn]
    }
  }
  statement {
    sid       = "TLSOnly"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.frontend.arn, "${aws_s3_bucket.frontend.arn}/*"]
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

resource "aws_s3_bucket_policy" "frontend" {
  bucket = aws_s3_bucket.frontend.id
  policy = data.aws_iam_policy_document.frontend.json
}

resource "aws_s3_object" "frontend" {
  for_each      = { for f in local.files : f => f if f != "config.json" }
  bucket        = aws_s3_bucket.frontend.id
  key           = each.key
  source        = "${var.frontend_dist_dir}/${each.key}"
  source_hash   = filemd5("${var.frontend_dist_dir}/${each.key}")
  content_type  = lookup(local.mime, lower(element(split(".", each.key), length(split(".", each.key)) - 1)), "application/octet-stream")
  cache_control = startswith(each.key, "assets/") ? "public, max-age=31536000, immutable" : "no-cache"
}

resource "aws_s3_object" "config" {
  bucket        = aws_s3_bucket.frontend.id
  key           = "config.json"
  content       = jsonencode(local.frontend_config)
  content_type  = "application/json"
  cache_control = "no-cache"
}

data "aws_cloudfront_cache_policy" "optimized" {
  name = "Managed-CachingOptimized"
}

data "aws_cloudfront_cache_policy" "disabled" {
  name = "Managed-CachingDisabled"
}

data "aws_cloudfront_origin_request_policy" "all_viewer" {
  name = "Managed-AllViewer"
}

locals {
  # %s: who may frame the page. Only a published bot's page (/b/<slug>) may be embedded elsewhere.
  content_security_policy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors %s; base-uri 'none'; form-action 'self'"
}

# the page of a published bot: the same policy, except that any HTTPS site may embed it (iframe)
resource "aws_cloudfront_response_headers_policy" "embeddable" {
  name = "${var.name}-embeddable"

  security_headers_config {
    content_security_policy {
      content_security_policy = format(local.content_security_policy, "https:")
      override                = true
    }
    content_type_options {
      override = true
    }
    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
  }
}

resource "aws_cloudfront_response_headers_policy" "security" {
  name = "${var.name}-security"

  security_headers_config {
    content_security_policy {
      content_security_policy = format(local.content_security_policy, "'none'")
      override                = true
    }
    content_type_options {
      override = true
    }
    frame_options {
      frame_option = "DENY"
      override     = true
    }
    referrer_policy {
      referrer_policy = "no-referrer"
      override        = true
    }
    strict_transport_security {
      access_control_max_age_sec = 31536000
      include_subdomains         = true
      preload                    = true
      override                   = true
    }
  }
}

resource "aws_cloudfront_function" "logout" {
  name    = "${var.name}-logout"
  runtime = "cloudfront-js-2.0"
  comment = "Sign-out: expire the ALB session cookies, then Cognito's logout endpoint"
  publish = true
  code = templatefile("${path.module}/logout.js.tftpl", {
    cognito_logout_url = var.cognito_logout_url
    session_cookie     = var.session_cookie
  })
}

resource "aws_cloudfront_function" "bot_page" {
  name    = "${var.name}-bot-page"
  runtime = "cloudfront-js-2.0"
  comment = "A published bot's public page (/b/<slug>) is served by the app's index.html"
  publish = true
  code    = file("${path.module}/bot-page.js")
}

resource "aws_cloudfront_distribution" "this" {
  #checkov:skip=CKV_AWS_68:no WAF by default (cost for a small team); the ALB accepts CloudFront only and the auth-proxy enforces limits
  #checkov:skip=CKV2_AWS_47:no WAF by default, see CKV_AWS_68
  #checkov:skip=CKV_AWS_86:access logging to S3 is left to the operator (CloudFront standard logs v2); the ALB keeps access logs
  #checkov:skip=CKV_AWS_310:an origin group needs a second origin; the front end has one bucket and the API one ALB
  #checkov:skip=CKV_AWS_374:geo restriction is a business decision; none by default
  enabled             = true
  is_ipv6_enabled     = true
  http_version        = "http2and3"
  comment             = var.name
  aliases             = [var.domain_name]
  price_class         = var.price_class
  default_root_object = "index.html"

  origin {
    origin_id                = local.s3_origin
    domain_name              = aws_s3_bucket.frontend.bucket_regional_domain_name
    origin_access_control_id = aws_cloudfront_origin_access_control.frontend.id
  }

  origin {
    origin_id   = local.alb_origin
    domain_name = var.origin_domain_name

    custom_origin_config {
      http_port              = 80
      https_port             = 443
      origin_protocol_policy = "https-only"
      origin_ssl_protocols   = ["TLSv1.2"]
      # silence between bytes the origin may keep: above the 10 s stream heartbeat
      origin_read_timeout      = 60
      origin_keepalive_timeout = 60
    }
  }

  default_cache_behavior {
    target_origin_id           = local.s3_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD", "OPTIONS"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.optimized.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id
  }

  ordered_cache_behavior {
    path_pattern               = "/oauth2/logout"
    target_origin_id           = local.alb_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    cache_policy_id            = data.aws_cloudfront_cache_policy.disabled.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id

    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.logout.arn
    }
  }

  ordered_cache_behavior {
    path_pattern               = "/b/*"
    target_origin_id           = local.s3_origin
    viewer_protocol_policy     = "redirect-to-https"
    allowed_methods            = ["GET", "HEAD"]
    cached_methods             = ["GET", "HEAD"]
    compress                   = true
    cache_policy_id            = data.aws_cloudfront_cache_policy.optimized.id
    response_headers_policy_id = aws_cloudfront_response_headers_policy.embeddable.id

    function_association {
      event_type   = "viewer-request"
      function_arn = aws_cloudfront_function.bot_page.arn
    }
  }

  # /v1/*: the OpenAI-compatible API of published bots (API keys, no sign-in)
  dynamic "ordered_cache_behavior" {
    for_each = ["/api/*", "/oauth2/*", "/v1/*"]
    content {
      path_pattern               = ordered_cache_behavior.value
      target_origin_id           = local.alb_origin
      viewer_protocol_policy     = "https-only"
      allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]
      cached_methods             = ["GET", "HEAD"]
      compress                   = false # streamed answers go out as they come
      cache_policy_id            = data.aws_cloudfront_cache_policy.disabled.id
      origin_request_policy_id   = data.aws_cloudfront_origin_request_policy.all_viewer.id
      response_headers_policy_id = aws_cloudfront_response_headers_policy.security.id
    }
  }

  restrictions {
    geo_restriction {
      restriction_type = "none"
    }
  }

  viewer_certificate {
    acm_certificate_arn      = var.certificate_arn
    ssl_support_method       = "sni-only"
    minimum_protocol_version = "TLSv1.2_2021"
  }
}

resource "aws_route53_record" "app" {
  for_each = toset(["A", "AAAA"])
  zone_id  = var.route53_zone_id
  name     = var.domain_name
  type     = each.key

  alias {
    name                   = aws_cloudfront_distribution.this.domain_name
    zone_id                = aws_cloudfront_distribution.this.hosted_zone_id
    evaluate_target_health = false
  }
}

resource "aws_route53_record" "origin" {
  zone_id = var.route53_zone_id
  name    = var.origin_domain_name
  type    = "A"

  alias {
    name                   = var.alb_dns_name
    zone_id                = var.alb_zone_id
    evaluate_target_health = true
  }
}

output "bucket_name" {
  description = "Front-end bucket."
  value       = aws_s3_bucket.frontend.id
}

output "distribution_id" {
  description = "CloudFront distribution ID."
  value       = aws_cloudfront_distribution.this.id
}

output "frontend_config" {
  description = "config.json as uploaded."
  value       = local.frontend_config
}
