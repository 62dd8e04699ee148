# The whole traffic graph, in one place (tests/test_terraform_consistency.py checks it):
#   CloudFront -> alb:443 -> auth-proxy -> chat -> memory -> redis
#                                 \__________________/^       ^
#                                  \___________________________/  (shared rate limits)
# Tasks may also leave on 443 (OpenAI, the ALB key endpoint, AWS APIs) and reach the VPC endpoints.

data "aws_ec2_managed_prefix_list" "cloudfront" {
  name = "com.amazonaws.global.cloudfront.origin-facing"
}

locals {
  groups = {
    alb        = "the load balancer: HTTPS from CloudFront only"
    auth-proxy = "auth-proxy tasks: from the load balancer only"
    chat       = "chat tasks: from the auth-proxy only"
    memory     = "memory tasks: from the auth-proxy and chat only"
    redis      = "MemoryDB: from memory and the auth-proxy (limits) only"
    endpoints  = "VPC interface endpoints: HTTPS from the tasks"
  }

  # [to, from, port] for every task-to-task path
  service_paths = {
    alb_to_auth_proxy    = { to = "auth-proxy", from = "alb", port = var.ports["auth-proxy"] }
    auth_proxy_to_chat   = { to = "chat", from = "auth-proxy", port = var.ports["chat"] }
    auth_proxy_to_memory = { to = "memory", from = "auth-proxy", port = var.ports["memory"] }
    chat_to_memory       = { to = "memory", from = "chat", port = var.ports["memory"] }
    memory_to_redis      = { to = "redis", from = "memory", port = var.redis_port }
    auth_proxy_to_redis  = { to = "redis", from = "auth-proxy", port = var.redis_port }
  }

  tasks = ["auth-proxy", "chat", "memory"]
}

resource "aws_security_group" "this" {
  #checkov:skip=CKV2_AWS_5:attached in other modules (alb, ecs, redis, VPC endpoints), which checkov does not follow across module outputs
  for_each    = local.groups
  name_prefix = "${var.name}-${each.key}-"
  description = "${var.name} ${each.value}"
  vpc_id      = aws_vpc.this.id

  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_vpc_security_group_ingress_rule" "alb_from_cloudfront" {
  security_group_id = aws_security_group.this["alb"].id
  description       = "HTTPS from CloudFront origin-facing servers"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = data.aws_ec2_managed_prefix_list.cloudfront.id
}

resource "aws_vpc_security_group_ingress_rule" "path" {
  for_each                     = local.service_paths
  security_group_id            = aws_security_group.this[each.value.to].id
  referenced_security_group_id = aws_security_group.this[each.value.from].id
  description                  = "${each.value.from} to ${each.value.to}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
}

resource "aws_vpc_security_group_egress_rule" "path" {
  for_each                     = local.service_paths
  security_group_id            = aws_security_group.this[each.value.from].id
  referenced_security_group_id = aws_security_group.this[each.value.to].id
  description                  = "${each.value.from} to ${each.value.to}"
  ip_protocol                  = "tcp"
  from_port                    = each.value.port
  to_port                      = each.value.port
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_tasks" {
  for_each                     = toset(local.tasks)
  security_group_id            = aws_security_group.this["endpoints"].id
  referenced_security_group_id = aws_security_group.this[each.key].id
  description                  = "HTTPS from ${each.key} tasks"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
}

# HTTPS out: the model provider (chat), the ALB public-key endpoint (auth-proxy), AWS APIs (all)
resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each          = toset(local.tasks)
  security_group_id = aws_security_group.this[each.key].id
  description       = "HTTPS to the internet and AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
