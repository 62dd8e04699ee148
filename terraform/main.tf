# rolechat on AWS: CloudFront (front end from S3, /api and /oauth2 to the ALB) -> ALB with Cognito
# sign-in -> auth-proxy -> chat / memory on ECS Fargate -> MemoryDB. Each module has one job.

locals {
  # container ports: the same as docker-compose.yml; Service Connect names are the compose names
  ports = {
    auth-proxy = 8081
    chat       = 8082
    memory     = 8083
  }
  redis_port = 6379

  # the same policy reaches the auth-proxy (requests, streams) and memory (daily tokens)
  limits_environment = {
    RATE_LIMIT_PER_MINUTE           = var.limits.rate_limit_per_minute == null ? "unlimited" : tostring(var.limits.rate_limit_per_minute)
    MAX_CONCURRENT_STREAMS          = var.limits.concurrent_streams == null ? "unlimited" : tostring(var.limits.concurrent_streams)
    DAILY_TOKEN_QUOTA               = var.limits.daily_tokens == null ? "unlimited" : tostring(var.limits.daily_tokens)
    ANONYMOUS_RATE_LIMIT_PER_MINUTE = var.limits.anonymous_rate_limit_per_minute == null ? "unlimited" : tostring(var.limits.anonymous_rate_limit_per_minute)
    LIMITS_BY_GROUP                 = jsonencode(var.limits_by_group)
  }
}

module "kms" {
  source = "./modules/kms"
  name   = var.name
}

module "network" {
  source              = "./modules/network"
  name                = var.name
  cidr                = var.vpc_cidr
  single_nat_gateway  = var.single_nat_gateway
  interface_endpoints = var.interface_endpoints
  ports               = local.ports
  redis_port          = local.redis_port
  flow_log_kms_key    = module.kms.key_arn
  log_retention_days  = var.log_retention_days
}

module "ecr" {
  source      = "./modules/ecr"
  name        = var.name
  services    = keys(local.ports)
  kms_key_arn = module.kms.key_arn
}

module "cognito" {
  source        = "./modules/cognito"
  name          = var.name
  domain_name   = var.domain_name
  domain_prefix = var.cognito_domain_prefix
  self_sign_up  = var.self_sign_up
  mfa           = var.mfa
  session_hours = var.session_hours
  api_client    = var.api_clients

  allowed_email_domains = var.allowed_email_domains
  kms_key_arn           = module.kms.key_arn
  log_retention_days    = var.log_retention_days
}

module "redis" {
  source            = "./modules/redis"
  name              = var.name
  port              = local.redis_port
  node_type         = var.redis_node_type
  replicas          = var.redis_replicas
  subnet_ids        = module.network.private_subnet_ids
  security_group_id = module.network.security_group_ids["redis"]
  kms_key_arn       = module.kms.key_arn
  alarm_topic_arn   = module.observability.alarm_topic_arn
}

module "secrets" {
  source                           = "./modules/secrets"
  name                             = var.name
  kms_key_arn                      = module.kms.key_arn
  openai_api_key                   = var.openai_api_key
  openai_api_key_version           = var.openai_api_key_version
  internal_identity_secret_version = var.internal_identity_secret_version
}

module "edge_certificates" {
  source          = "./modules/edge/certificates"
  domain_name     = var.domain_name
  route53_zone_id = var.route53_zone_id
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
}

module "alb" {
  source                  = "./modules/alb"
  name                    = var.name
  vpc_id                  = module.network.vpc_id
  public_subnet_ids       = module.network.public_subnet_ids
  security_group_id       = module.network.security_group_ids["alb"]
  certificate_arn         = module.edge_certificates.regional_certificate_arn
  target_port             = local.ports["auth-proxy"]
  deregistration_delay    = var.max_stream_seconds + 60
  cognito_user_pool_arn   = module.cognito.user_pool_arn
  cognito_client_id       = module.cognito.client_id
  cognito_domain          = module.cognito.domain_prefix
  session_timeout_seconds = var.session_hours * 3600
  bearer_api              = var.api_clients
}

module "edge" {
  source             = "./modules/edge"
  name               = var.name
  domain_name        = var.domain_name
  route53_zone_id    = var.route53_zone_id
  certificate_arn    = module.edge_certificates.cloudfront_certificate_arn
  origin_domain_name = module.edge_certificates.origin_domain_name
  alb_dns_name       = module.alb.dns_name
  alb_zone_id        = module.alb.zone_id
  price_class        = var.cloudfront_price_class
  frontend_dist_dir  = var.frontend_dist_dir
  cognito_logout_url = module.cognito.logout_url
  session_cookie     = module.alb.session_cookie_name
  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }
}

module "observability" {
  source                  = "./modules/observability"
  name                    = var.name
  services                = keys(local.ports)
  log_retention_days      = var.log_retention_days
  kms_key_arn             = module.kms.key_arn
  alarm_email             = var.alarm_email
  alb_arn_suffix          = module.alb.arn_suffix
  target_group_arn_suffix = module.alb.target_group_arn_suffix
}

module "iam" {
  source         = "./modules/iam"
  name           = var.name
  kms_key_arn    = module.kms.key_arn
  log_group_arns = module.observability.log_group_arns
  # each task reads only its own secrets
  secret_arns = {
    auth-proxy = [module.secrets.internal_identity_secret_arn, module.redis.redis_url_secret_arn]
    chat       = [module.secrets.internal_identity_secret_arn, module.secrets.openai_api_key_secret_arn]
    memory     = [module.secrets.internal_identity_secret_arn, module.redis.redis_url_secret_arn]
  }
}

module "ecs" {
  source              = "./modules/ecs"
  name                = var.name
  region              = var.region
  subnet_ids          = module.network.private_subnet_ids
  security_group_ids  = module.network.security_group_ids
  ports               = local.ports
  images              = { for s, url in module.ecr.repository_urls : s => "${url}:${var.image_tag}" }
  services            = var.services
  execution_role_arns = module.iam.execution_role_arns
  task_role_arns      = module.iam.task_role_arns
  log_group_names     = module.observability.log_group_names
  target_group_arn    = module.alb.target_group_arn
  alb_resource_label  = module.alb.request_count_resource_label
  requests_per_target = var.requests_per_target

  environment = {
    auth-proxy = {
      CHAT_URL                        = "http://chat:${local.ports["chat"]}"
      MEMORY_URL                      = "http://memory:${local.ports["memory"]}"
      ALB_ARN                         = module.alb.arn
      ALB_KEY_URL                     = "https://public-keys.auth.elb.${var.region}.amazonaws.com"
      COGNITO_ISSUER                  = module.cognito.issuer
      COGNITO_CLIENT_ID               = module.cognito.client_id
      COGNITO_JWKS_URL                = "${module.cognito.issuer}/.well-known/jwks.json"
      COGNITO_API_CLIENT_IDS          = join(",", module.cognito.api_client_ids)
      MAX_BODY_BYTES                  = "262144"
      ALB_TOKEN_LEEWAY_SECONDS        = "30"
      PROXY_READ_TIMEOUT_SECONDS      = "330"
      REDIS_CLUSTER                   = "true"
      TRUSTED_PROXY_HOPS              = "2" # CloudFront, then the load balancer
      STREAM_LEASE_SECONDS            = tostring(var.max_stream_seconds + 60)
      REDIS_MAX_CONNECTIONS           = "500"
      RATE_LIMIT_PER_MINUTE           = local.limits_environment.RATE_LIMIT_PER_MINUTE
      MAX_CONCURRENT_STREAMS          = local.limits_environment.MAX_CONCURRENT_STREAMS
      DAILY_TOKEN_QUOTA               = local.limits_environment.DAILY_TOKEN_QUOTA
      ANONYMOUS_RATE_LIMIT_PER_MINUTE = local.limits_environment.ANONYMOUS_RATE_LIMIT_PER_MINUTE
      LIMITS_BY_GROUP                 = local.limits_environment.LIMITS_BY_GROUP
    }
    chat = {
      MEMORY_URL                    = "http://memory:${local.ports["memory"]}"
      OPENAI_BASE_URL               = var.openai_base_url
      MODEL_CATALOG                 = length(var.model_catalog) == 0 ? "" : jsonencode([for m in var.model_catalog : { for k, v in m : k => v if v != null }])
      DEFAULT_MODEL                 = var.default_model
      MODEL_CATALOG_FILE            = "" # the catalog comes from model_catalog (MODEL_CATALOG)
      ROLE_PRESETS_FILE             = "" # empty: the built-in roles shipped with chat
      SSE_HEARTBEAT_SECONDS         = "10"
      SSE_COALESCE_MS               = "25"
      SSE_COALESCE_MAX_MS           = "250" # the interval's ceiling while a task is overloaded
      MAX_MESSAGE_CHARS             = "16000"
      MAX_INSTRUCTIONS_CHARS        = "8000"
      MAX_ANSWER_TOKENS             = tostring(var.max_answer_tokens)
      MAX_STREAM_SECONDS            = tostring(var.max_stream_seconds)
      UPSTREAM_READ_TIMEOUT_SECONDS = "300"
      UPSTREAM_MAX_CONNECTIONS      = "1000"
      # empty: the service's own default (sized from the model's context window)
      MAX_HISTORY_MESSAGES     = ""
      MAX_HISTORY_CHARS        = ""
      CONTEXT_SUMMARIES        = ""
      CONTEXT_MARGIN_TOKENS    = ""
      PINS_MAX_SHARE           = ""
      SUMMARY_REFRESH_MESSAGES = ""
      DEFAULT_CONTEXT_WINDOW   = ""
      MAX_BODY_BYTES           = "262144"
      MODELS_CACHE_SECONDS     = "60"
      MEMORY_TIMEOUT_SECONDS   = "10"
    }
    memory = {
      REDIS_CLUSTER                 = "true" # MemoryDB speaks the cluster protocol only
      REDIS_MAX_CONNECTIONS         = "500"
      MAX_CONVERSATIONS_PER_USER    = "1000"
      MAX_MESSAGES_PER_CONVERSATION = "50000"
      MAX_CONTENT_CHARS             = "200000"
      MAX_INSTRUCTIONS_CHARS        = "8000"
      MAX_BODY_BYTES                = "1048576"
      # empty: the service's own default
      MAX_PINS_PER_CONVERSATION        = ""
      MAX_PIN_CHARS                    = ""
      SEARCH_MAX_CONVERSATIONS         = ""
      SEARCH_MESSAGES_PER_CONVERSATION = ""
      MAX_ROLES_PER_USER               = ""
      MAX_PINS_PER_ROLE                = ""
      MAX_MODELS_PER_USER              = ""
      MAX_BOTS_PER_USER                = ""
      MAX_KEYS_PER_BOT                 = ""
      RATE_LIMIT_PER_MINUTE            = local.limits_environment.RATE_LIMIT_PER_MINUTE
      MAX_CONCURRENT_STREAMS           = local.limits_environment.MAX_CONCURRENT_STREAMS
      DAILY_TOKEN_QUOTA                = local.limits_environment.DAILY_TOKEN_QUOTA
      ANONYMOUS_RATE_LIMIT_PER_MINUTE  = local.limits_environment.ANONYMOUS_RATE_LIMIT_PER_MINUTE
      LIMITS_BY_GROUP                  = local.limits_environment.LIMITS_BY_GROUP
    }
  }

  # secrets reach the containers as ECS `secrets` (Secrets Manager ARNs), never as plain values
  secrets = {
    auth-proxy = {
      INTERNAL_IDENTITY_SECRET = module.secrets.internal_identity_secret_arn
      REDIS_URL                = module.redis.redis_url_secret_arn
    }
    chat = {
      INTERNAL_IDENTITY_SECRET = module.secrets.internal_identity_secret_arn
      OPENAI_API_KEY           = module.secrets.openai_api_key_secret_arn
    }
    memory = {
      INTERNAL_IDENTITY_SECRET = module.secrets.internal_identity_secret_arn
      REDIS_URL                = module.redis.redis_url_secret_arn
    }
  }
}
