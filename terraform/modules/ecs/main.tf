# The cluster and the three Fargate services. They find each other by their compose names
# (auth-proxy, chat, memory) through Service Connect. Secrets arrive as ECS `secrets` (ARNs).
# Deploys roll back by themselves if new tasks do not become healthy (circuit breaker).

locals {
  # Fargate's longest stop timeout; gunicorn's graceful stop is set just below it so in-flight
  # answers finish before SIGKILL
  stop_timeout     = 120
  graceful_timeout = 110

  common_environment = {
    HOST                     = "0.0.0.0"
    KEEPALIVE_SECONDS        = "75" # above the ALB's 60 s idle timeout
    GRACEFUL_TIMEOUT_SECONDS = tostring(local.graceful_timeout)
  }
}

resource "aws_ecs_cluster" "this" {
  name = var.name

  setting {
    name  = "containerInsights"
    value = "enhanced"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  cluster_name       = aws_ecs_cluster.this.name
  capacity_providers = ["FARGATE"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_service_discovery_http_namespace" "this" {
  name        = var.name
  description = "Service Connect names of ${var.name}: auth-proxy, chat, memory"
}

resource "aws_ecs_task_definition" "this" {
  for_each                 = var.services
  family                   = "${var.name}-${each.key}"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = tostring(each.value.cpu)
  memory                   = tostring(each.value.memory)
  execution_role_arn       = var.execution_role_arns[each.key]
  task_role_arn            = var.task_role_arns[each.key]

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # gunicorn needs a writable temporary directory; the root file system is read-only
  volume {
    name = "tmp"
  }

  container_definitions = jsonencode([{
    name                   = each.key
    image                  = var.images[each.key]
    essential              = true
    readonlyRootFilesystem = true
    stopTimeout            = local.stop_timeout
    portMappings = [{
      name          = "http"
      containerPort = var.ports[each.key]
      protocol      = "tcp"
      appProtocol   = "http"
    }]
    environment = [for k, v in merge(local.common_environment, {
      PORT      = tostring(var.ports[each.key])
      LOG_LEVEL = each.value.log_level
      # one gevent worker per whole vCPU: a worker uses one core at most
      WEB_CONCURRENCY = tostring(max(1, floor(each.value.cpu / 1024)))
    }, var.environment[each.key]) : { name = k, value = v }]
    secrets = [for k, arn in var.secrets[each.key] : { name = k, valueFrom = arn }]
    mountPoints = [{
      sourceVolume  = "tmp"
      containerPath = "/tmp"
      readOnly      = false
    }]
    linuxParameters = { initProcessEnabled = true }
    healthCheck = {
      command     = ["CMD", "python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${var.ports[each.key]}/healthz', timeout=4)"]
      interval    = 15
      timeout     = 5
      retries     = 3
      startPeriod = 30
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = var.log_group_names[each.key]
        awslogs-region        = var.region
        awslogs-stream-prefix = each.key
      }
    }
  }])
}

resource "aws_ecs_service" "this" {
  for_each               = var.services
  name                   = each.key
  cluster                = aws_ecs_cluster.this.id
  task_definition        = aws_ecs_task_definition.this[each.key].arn
  desired_count          = each.value.min_count
  launch_type            = "FARGATE"
  platform_version       = "LATEST"
  propagate_tags         = "SERVICE"
  enable_execute_command = false
  # started after the services it calls, so the first deploy is healthy in one pass
  health_check_grace_period_seconds  = each.key == "auth-proxy" ? 60 : null
  deployment_minimum_healthy_percent = 100
  deployment_maximum_percent         = 200

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  network_configuration {
    subnets          = var.subnet_ids
    security_groups  = [var.security_group_ids[each.key]]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = each.key == "auth-proxy" ? [1] : []
    content {
      target_group_arn = var.target_group_arn
      container_name   = each.key
      container_port   = var.ports[each.key]
    }
  }

  service_connect_configuration {
    enabled   = true
    namespace = aws_service_discovery_http_namespace.this.arn

    service {
      port_name      = "http"
      discovery_name = each.key

      client_alias {
        dns_name = each.key
        port     = var.ports[each.key]
      }

      timeout {
        # streamed answers: no per-request cap at the proxy (the services cap streams themselves)
        per_request_timeout_seconds = 0
        idle_timeout_seconds        = 0
      }
    }
  }

  lifecycle {
    ignore_changes = [desired_count] # owned by autoscaling after creation
  }

  depends_on = [aws_ecs_cluster_capacity_providers.this]
}

resource "aws_appautoscaling_target" "this" {
  for_each           = var.services
  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this.name}/${aws_ecs_service.this[each.key].name}"
  min_capacity       = each.value.min_count
  max_capacity       = each.value.max_count
}

resource "aws_appautoscaling_policy" "cpu" {
  for_each           = var.services
  name               = "${var.name}-${each.key}-cpu"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.this[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.this[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = each.value.cpu_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ECSServiceAverageCPUUtilization"
    }
  }
}

resource "aws_appautoscaling_policy" "requests" {
  name               = "${var.name}-auth-proxy-requests"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.this["auth-proxy"].service_namespace
  scalable_dimension = aws_appautoscaling_target.this["auth-proxy"].scalable_dimension
  resource_id        = aws_appautoscaling_target.this["auth-proxy"].resource_id

  target_tracking_scaling_policy_configuration {
    target_value       = var.requests_per_target
    scale_in_cooldown  = 300
    scale_out_cooldown = 60
    predefined_metric_specification {
      predefined_metric_type = "ALBRequestCountPerTarget"
      resource_label         = var.alb_resource_label
    }
  }
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_names" {
  description = "Service names (also their Service Connect names)."
  value       = { for s, svc in aws_ecs_service.this : s => svc.name }
}
