# Inputs of the rolechat deployment. The README's "Deploying to AWS" section has a table generated
# from this file (terraform/scripts/variables_table.py); a test keeps the two in step.

variable "name" {
  type        = string
  description = "Name prefix of every resource (lowercase letters, digits and hyphens)."
  default     = "rolechat"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.name))
    error_message = "name must be 3-20 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "region" {
  type        = string
  description = "AWS region for everything except the CloudFront certificate (always us-east-1)."
  default     = "eu-west-1"

  validation {
    condition     = can(regex("^[a-z]{2}(-gov)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1."
  }
}

variable "domain_name" {
  type        = string
  description = "The address people open, e.g. chat.example.com; must lie in the Route 53 hosted zone."

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,}$", var.domain_name))
    error_message = "domain_name must be a lowercase DNS name such as chat.example.com."
  }
}

variable "route53_zone_id" {
  type        = string
  description = "ID of the public Route 53 hosted zone that holds domain_name (records and certificate validation)."

  validation {
    condition     = can(regex("^Z[A-Z0-9]{6,31}$", var.route53_zone_id))
    error_message = "route53_zone_id must be a Route 53 hosted zone ID such as Z0123456789ABCDEFGHIJ."
  }
}

variable "cognito_domain_prefix" {
  type        = string
  description = "Prefix of the Cognito hosted sign-in domain (<prefix>.auth.<region>.amazoncognito.com); globally unique."

  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$", var.cognito_domain_prefix)) && !strcontains(var.cognito_domain_prefix, "aws") && !strcontains(var.cognito_domain_prefix, "cognito")
    error_message = "cognito_domain_prefix must be 1-63 lowercase letters, digits and hyphens, and must not contain \"aws\" or \"cognito\"."
  }
}

variable "openai_api_key" {
  type        = string
  description = "Key for the model provider. Ephemeral: written to Secrets Manager write-only, never stored in state or plan; pass it on every plan/apply (TF_VAR_openai_api_key)."
  sensitive   = true
  ephemeral   = true

  validation {
    condition     = length(var.openai_api_key) >= 8
    error_message = "openai_api_key must be set (at least 8 characters)."
  }
}

variable "openai_api_key_version" {
  type        = number
  description = "Bump to write a new openai_api_key into Secrets Manager (write-only values are sent only when this changes)."
  default     = 1

  validation {
    condition     = var.openai_api_key_version >= 1 && floor(var.openai_api_key_version) == var.openai_api_key_version
    error_message = "openai_api_key_version must be a whole number of at least 1."
  }
}

variable "internal_identity_secret_version" {
  type        = number
  description = "Bump to generate a new internal identity signing secret (then redeploy the services)."
  default     = 1

  validation {
    condition     = var.internal_identity_secret_version >= 1 && floor(var.internal_identity_secret_version) == var.internal_identity_secret_version
    error_message = "internal_identity_secret_version must be a whole number of at least 1."
  }
}

variable "openai_base_url" {
  type        = string
  description = "Base URL of an OpenAI-compatible server ending in /v1; empty for OpenAI itself."
  default     = ""

  validation {
    condition     = var.openai_base_url == "" || can(regex("^https://[^\\s/]+(/.*)?/v1/?$", var.openai_base_url))
    error_message = "openai_base_url must be empty or an https URL ending in /v1."
  }
}

variable "model_catalog" {
  type = list(object({
    id    = string
    label = optional(string)
  }))
  description = "Models offered in the picker (fine-tuned ids included); empty: whatever the provider's /v1/models lists."
  default     = []

  validation {
    condition     = alltrue([for m in var.model_catalog : length(trimspace(m.id)) > 0 && length(m.id) <= 200])
    error_message = "Every model_catalog entry needs an id of 1-200 characters."
  }

  validation {
    condition     = length(distinct([for m in var.model_catalog : m.id])) == length(var.model_catalog)
    error_message = "model_catalog lists a model id twice."
  }
}

variable "default_model" {
  type        = string
  description = "Model of new conversations; empty: gpt-4o-mini when offered, else the first one."
  default     = ""

  validation {
    condition     = length(var.default_model) <= 200
    error_message = "default_model must be at most 200 characters."
  }
}

variable "max_answer_tokens" {
  type        = number
  description = "max_tokens of every answer."
  default     = 1024

  validation {
    condition     = var.max_answer_tokens >= 1 && var.max_answer_tokens <= 128000
    error_message = "max_answer_tokens must be between 1 and 128000."
  }
}

variable "max_stream_seconds" {
  type        = number
  description = "Cap on one answer's duration; the load balancer's deregistration delay is set above it so a deploy never cuts a stream."
  default     = 900

  validation {
    condition     = var.max_stream_seconds >= 30 && var.max_stream_seconds <= 3500
    error_message = "max_stream_seconds must be between 30 and 3500 (the ALB's deregistration delay is at most 3600 s)."
  }
}

variable "self_sign_up" {
  type        = bool
  description = "Whether people may create their own accounts on the sign-in page (otherwise an administrator invites them)."
  default     = false
}

variable "mfa" {
  type        = string
  description = "Multi-factor sign-in: OFF, OPTIONAL (people may add an authenticator app) or ON."
  default     = "OPTIONAL"

  validation {
    condition     = contains(["OFF", "OPTIONAL", "ON"], var.mfa)
    error_message = "mfa must be OFF, OPTIONAL or ON."
  }
}

variable "session_hours" {
  type        = number
  description = "How long a sign-in lasts at the load balancer before Cognito is asked again."
  default     = 12

  validation {
    condition     = var.session_hours >= 1 && var.session_hours <= 168
    error_message = "session_hours must be between 1 and 168 (7 days)."
  }
}

variable "image_tag" {
  type        = string
  description = "Tag of the service images in ECR to deploy; scripts/build-and-push.sh writes it to image.auto.tfvars.json."
  default     = "latest-build"

  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid image tag (letters, digits, _ . -; at most 128)."
  }
}

variable "frontend_dist_dir" {
  type        = string
  description = "Directory of the built front end (npm run build), relative to terraform/ or absolute."
  default     = "../frontend/dist"

  validation {
    condition     = fileexists("${var.frontend_dist_dir}/index.html")
    error_message = "frontend_dist_dir has no index.html: build the front end first (scripts/build-and-push.sh does)."
  }
}

variable "services" {
  type = map(object({
    cpu        = number
    memory     = number
    min_count  = number
    max_count  = number
    cpu_target = optional(number, 60)
    log_level  = optional(string, "info")
  }))
  description = "Size and scaling of each service (auth-proxy, chat, memory): Fargate cpu units, memory MiB, task counts, CPU target %."
  default = {
    auth-proxy = { cpu = 256, memory = 512, min_count = 2, max_count = 6 }
    chat       = { cpu = 256, memory = 512, min_count = 2, max_count = 6 }
    memory     = { cpu = 256, memory = 512, min_count = 2, max_count = 4 }
  }

  validation {
    condition     = toset(keys(var.services)) == toset(["auth-proxy", "chat", "memory"])
    error_message = "services must have exactly the keys auth-proxy, chat and memory."
  }

  validation {
    condition = alltrue([for s in values(var.services) : contains([256, 512, 1024, 2048, 4096], s.cpu)
    && s.memory >= 512 && s.memory <= 30720 && s.min_count >= 1 && s.max_count >= s.min_count])
    error_message = "Each service needs cpu in 256/512/1024/2048/4096, memory 512-30720 MiB, min_count >= 1 and max_count >= min_count."
  }

  validation {
    condition     = alltrue([for s in values(var.services) : contains(["debug", "info", "warning", "error"], s.log_level) && s.cpu_target >= 20 && s.cpu_target <= 90])
    error_message = "log_level must be debug, info, warning or error; cpu_target between 20 and 90."
  }
}

variable "requests_per_target" {
  type        = number
  description = "Target of the auth-proxy's request-count scaling (ALB requests per task per minute)."
  default     = 600

  validation {
    condition     = var.requests_per_target >= 10
    error_message = "requests_per_target must be at least 10."
  }
}

variable "redis_node_type" {
  type        = string
  description = "MemoryDB node type."
  default     = "db.t4g.small"

  validation {
    condition     = can(regex("^db\\.[a-z0-9]+\\.[a-z0-9]+$", var.redis_node_type))
    error_message = "redis_node_type must be a MemoryDB node type such as db.t4g.small or db.r7g.large."
  }
}

variable "redis_replicas" {
  type        = number
  description = "MemoryDB replicas per shard (in other availability zones); 1 or more for failover without downtime."
  default     = 1

  validation {
    condition     = var.redis_replicas >= 0 && var.redis_replicas <= 5
    error_message = "redis_replicas must be between 0 and 5."
  }
}

variable "vpc_cidr" {
  type        = string
  description = "CIDR block of the VPC (a /16 to /22)."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 22
    error_message = "vpc_cidr must be an IPv4 CIDR block between /16 and /22."
  }
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway for both zones (cheaper) instead of one per zone (survives a zone outage)."
  default     = true
}

variable "interface_endpoints" {
  type        = bool
  description = "VPC interface endpoints for ECR, Secrets Manager and CloudWatch Logs (four endpoints in two zones, about $58 a month); worth it once image pulls and logs make NAT traffic costly."
  default     = false
}

variable "log_retention_days" {
  type        = number
  description = "How long CloudWatch keeps the services' logs."
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch accepts (e.g. 30, 90, 365)."
  }
}

variable "alarm_email" {
  type        = string
  description = "Address that receives alarm notifications (5xx, unhealthy targets); empty for none."
  default     = ""

  validation {
    condition     = var.alarm_email == "" || can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.alarm_email))
    error_message = "alarm_email must be empty or an email address."
  }
}

variable "cloudfront_price_class" {
  type        = string
  description = "CloudFront price class: PriceClass_100 (North America, Europe), PriceClass_200 or PriceClass_All."
  default     = "PriceClass_100"

  validation {
    condition     = contains(["PriceClass_100", "PriceClass_200", "PriceClass_All"], var.cloudfront_price_class)
    error_message = "cloudfront_price_class must be PriceClass_100, PriceClass_200 or PriceClass_All."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags added to every resource."
  default     = {}
}

variable "limits" {
  type = object({
    rate_limit_per_minute           = optional(number, 120)
    concurrent_streams              = optional(number, 3)
    daily_tokens                    = optional(number, 200000)
    anonymous_rate_limit_per_minute = optional(number, 30)
  })
  description = "Per-user limits: API requests per minute, answers streaming at once, prompt + answer tokens per UTC day; and requests per minute per client IP on routes without sign-in. null means unlimited."
  default     = {}

  validation {
    condition = alltrue([for v in [var.limits.rate_limit_per_minute, var.limits.concurrent_streams, var.limits.daily_tokens,
    var.limits.anonymous_rate_limit_per_minute] : v == null ? true : (v >= 1 && floor(v) == v)])
    error_message = "Each limit must be a whole number of at least 1, or null for unlimited."
  }
}

variable "limits_by_group" {
  type = map(object({
    rate_limit_per_minute = optional(number)
    concurrent_streams    = optional(number)
    daily_tokens          = optional(number)
  }))
  description = "Limits for members of a Cognito group (the most generous of a user's groups applies); a limit left null is unlimited for that group."
  default = {
    admins = {}
  }

  validation {
    condition = alltrue(flatten([for g in values(var.limits_by_group) : [for v in [g.rate_limit_per_minute, g.concurrent_streams, g.daily_tokens] :
    v == null ? true : (v >= 1 && floor(v) == v)]]))
    error_message = "Each group limit must be a whole number of at least 1, or null for unlimited."
  }
}

variable "api_clients" {
  type        = bool
  description = "Let programs call /api with Cognito access tokens (`Authorization: Bearer`): creates an app client for them and a load-balancer rule that forwards such requests to the auth-proxy, which verifies the token."
  default     = true
}

variable "allowed_email_domains" {
  type        = list(string)
  description = "If not empty, only email addresses in these domains may sign up themselves (e.g. [\"example.com\"]); a Cognito pre sign-up trigger enforces it. Administrators may still invite anyone."
  default     = []

  validation {
    condition     = alltrue([for d in var.allowed_email_domains : can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,63}$", d))])
    error_message = "Each allowed email domain must be a lower-case domain name such as example.com."
  }
}
