# MemoryDB (Valkey): every write is acknowledged only after it is committed to a Multi-AZ
# transaction log, so failing over to a replica loses no acknowledged write. TLS in transit,
# an ACL user with a password, KMS at rest. memory gets the URL (password included) as a secret.

variable "name" {
  type        = string
  description = "Name prefix."
}

variable "port" {
  type        = number
  description = "Port MemoryDB listens on."
}

variable "node_type" {
  type        = string
  description = "Node type."
}

variable "replicas" {
  type        = number
  description = "Replicas per shard."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets."
}

variable "security_group_id" {
  type        = string
  description = "Security group admitting memory only."
}

variable "kms_key_arn" {
  type        = string
  description = "Key for data at rest and the URL secret."
}

variable "alarm_topic_arn" {
  type        = string
  description = "SNS topic for MemoryDB events."
}

# MemoryDB's ACL passwords are not write-only, so this one is in state (sensitive): keep state
# encrypted and private (the README's backend advice).
resource "random_password" "redis" {
  length  = 48
  special = false
}

resource "aws_memorydb_user" "memory" {
  user_name     = "${var.name}-memory"
  access_string = "on ~* &* +@all -@dangerous"

  authentication_mode {
    type      = "password"
    passwords = [random_password.redis.result]
  }
}

resource "aws_memorydb_acl" "this" {
  name       = var.name
  user_names = [aws_memorydb_user.memory.user_name]
}

resource "aws_memorydb_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_memorydb_cluster" "this" {
  name                       = var.name
  engine                     = "valkey"
  engine_version             = "7.2"
  node_type                  = var.node_type
  num_shards                 = 1
  num_replicas_per_shard     = var.replicas
  port                       = var.port
  tls_enabled                = true
  acl_name                   = aws_memorydb_acl.this.name
  subnet_group_name          = aws_memorydb_subnet_group.this.name
  security_group_ids         = [var.security_group_id]
  kms_key_arn                = var.kms_key_arn
  snapshot_retention_limit   = 7
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:04:30-sun:05:30"
  sns_topic_arn              = var.alarm_topic_arn
  auto_minor_version_upgrade = true
}

resource "aws_secretsmanager_secret" "redis_url" {
  #checkov:skip=CKV2_AWS_57:the password belongs to the MemoryDB ACL user managed here; rotate it by replacing random_password.redis and applying
  name_prefix = "${var.name}/redis-url-"
  description = "REDIS_URL: memory's connection to MemoryDB (TLS, ACL user)"
  kms_key_id  = var.kms_key_arn
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id     = aws_secretsmanager_secret.redis_url.id
  secret_string = "rediss://${aws_memorydb_user.memory.user_name}:${random_password.redis.result}@${aws_memorydb_cluster.this.cluster_endpoint[0].address}:${aws_memorydb_cluster.this.cluster_endpoint[0].port}/0"
}

output "redis_url_secret_arn" {
  description = "ARN of REDIS_URL."
  value       = aws_secretsmanager_secret.redis_url.arn
}

output "endpoint" {
  description = "Cluster endpoint address."
  value       = aws_memorydb_cluster.this.cluster_endpoint[0].address
}
