output "url" {
  description = "Where people sign in and chat."
  value       = "https://${var.domain_name}/"
}

output "cognito_user_pool_id" {
  description = "The user pool (create the first administrator in it; see the README)."
  value       = module.cognito.user_pool_id
}

output "cognito_admin_group" {
  description = "Name of the administrators' group."
  value       = module.cognito.admin_group_name
}

output "ecr_repository_urls" {
  description = "ECR repository of each service image (scripts/build-and-push.sh pushes to these)."
  value       = module.ecr.repository_urls
}

output "ecs_cluster_name" {
  description = "The ECS cluster running auth-proxy, chat and memory."
  value       = module.ecs.cluster_name
}

output "frontend_bucket" {
  description = "The private S3 bucket serving the front end through CloudFront."
  value       = module.edge.bucket_name
}

output "cloudfront_distribution_id" {
  description = "CloudFront distribution (for cache invalidations after a front-end update)."
  value       = module.edge.distribution_id
}

output "frontend_config" {
  description = "The config.json uploaded beside the front end."
  value       = module.edge.frontend_config
}

output "alb_arn" {
  description = "The load balancer whose signed identity header the auth-proxy accepts (ALB_ARN)."
  value       = module.alb.arn
}

output "cognito_api_client_ids" {
  description = "App clients programs sign in with to call /api with `Authorization: Bearer` (empty when api_clients is false)."
  value       = module.cognito.api_client_ids
}
