variable "name" {
  type        = string
  description = "Name prefix."
}

variable "region" {
  type        = string
  description = "Region (log configuration)."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the tasks."
}

variable "security_group_ids" {
  type        = map(string)
  description = "Security group of each tier (keys auth-proxy, chat, memory used here)."
}

variable "ports" {
  type        = map(number)
  description = "Container port of each service."
}

variable "images" {
  type        = map(string)
  description = "Image (repository:tag) of each service."
}

variable "services" {
  type = map(object({
    cpu        = number
    memory     = number
    min_count  = number
    max_count  = number
    cpu_target = number
    log_level  = string
  }))
  description = "Size and scaling of each service."
}

variable "environment" {
  type        = map(map(string))
  description = "Plain environment of each service (no secrets)."
}

variable "secrets" {
  type        = map(map(string))
  description = "Secrets Manager ARN of each secret environment variable, per service."
}

variable "execution_role_arns" {
  type        = map(string)
  description = "Execution role of each service."
}

variable "task_role_arns" {
  type        = map(string)
  description = "Task role of each service."
}

variable "log_group_names" {
  type        = map(string)
  description = "Log group of each service."
}

variable "target_group_arn" {
  type        = string
  description = "auth-proxy's target group."
}

variable "alb_resource_label" {
  type        = string
  description = "Resource label for ALBRequestCountPerTarget."
}

variable "requests_per_target" {
  type        = number
  description = "Request-count scaling target of the auth-proxy."
}

