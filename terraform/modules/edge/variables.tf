variable "name" {
  type        = string
  description = "Name prefix."
}

variable "domain_name" {
  type        = string
  description = "The app's address."
}

variable "route53_zone_id" {
  type        = string
  description = "Hosted zone of domain_name."
}

variable "certificate_arn" {
  type        = string
  description = "us-east-1 certificate for domain_name."
}

variable "origin_domain_name" {
  type        = string
  description = "DNS name pointing at the ALB (covered by the ALB's certificate)."
}

variable "alb_dns_name" {
  type        = string
  description = "The ALB's DNS name."
}

variable "alb_zone_id" {
  type        = string
  description = "The ALB's hosted zone ID."
}

variable "price_class" {
  type        = string
  description = "CloudFront price class."
}

variable "frontend_dist_dir" {
  type        = string
  description = "Built front end."
}

variable "cognito_logout_url" {
  type        = string
  description = "Cognito's logout endpoint with client_id and logout_uri."
}

variable "session_cookie" {
  type        = string
  description = "Base name of the ALB session cookies to expire on sign-out."
}

