# Logs and alarms: one encrypted log group per service with retention; an SNS topic with alarms
# on 5xx answers and unhealthy auth-proxy targets.

variable "name" {
  type        = string
  description = "Name prefix."
}

variable "services" {
  type        = list(string)
  description = "Services that log."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the log groups."
}

variable "kms_key_arn" {
  type        = string
  description = "Key encrypting logs and the alarm topic."
}

variable "alarm_email" {
  type        = string
  description = "Address subscribed to alarms; empty for none."
}

variable "alb_arn_suffix" {
  type        = string
  description = "The ALB's ARN suffix."
}

variable "target_group_arn_suffix" {
  type        = string
  description = "auth-proxy's target group ARN suffix."
}

resource "aws_cloudwatch_log_group" "service" {
  for_each          = toset(var.services)
  name              = "/${var.name}/${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  count     = var.alarm_email == "" ? 0 : 1
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

locals {
  alarms = {
    target-5xx = {
      metric      = "HTTPCode_Target_5XX_Count"
      threshold   = 5
      description = "auth-proxy (or chat/memory behind it) answered 5xx"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      statistic   = "Sum"
    }
    alb-5xx = {
      metric      = "HTTPCode_ELB_5XX_Count"
      threshold   = 5
      description = "the load balancer answered 5xx (no healthy target, timeouts)"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      statistic   = "Sum"
    }
    unhealthy-targets = {
      metric      = "UnHealthyHostCount"
      threshold   = 0
      description = "an auth-proxy task fails its health check"
      dimensions  = { LoadBalancer = var.alb_arn_suffix, TargetGroup = var.target_group_arn_suffix }
      statistic   = "Maximum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "this" {
  for_each            = local.alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value.metric
  dimensions          = each.value.dimensions
  statistic           = each.value.statistic
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

output "log_group_names" {
  description = "Log group of each service."
  value       = { for s, g in aws_cloudwatch_log_group.service : s => g.name }
}

output "log_group_arns" {
  description = "Log group ARN of each service."
  value       = { for s, g in aws_cloudwatch_log_group.service : s => g.arn }
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = aws_sns_topic.alarms.arn
}
