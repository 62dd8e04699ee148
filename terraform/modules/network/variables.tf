variable "name" {
  type        = string
  description = "Name prefix."
}

variable "cidr" {
  type        = string
  description = "VPC CIDR block."
}

variable "single_nat_gateway" {
  type        = bool
  description = "One NAT gateway instead of one per availability zone."
}

variable "ports" {
  type        = map(number)
  description = "Container port of each service (auth-proxy, chat, memory)."
}

variable "redis_port" {
  type        = number
  description = "MemoryDB port."
}

variable "flow_log_kms_key" {
  type        = string
  description = "KMS key for the VPC flow log group."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the VPC flow logs."
}

variable "interface_endpoints" {
  type        = bool
  description = "Interface endpoints for ECR, Secrets Manager and CloudWatch Logs."
}
