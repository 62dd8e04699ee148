output "vpc_id" {
  description = "The VPC."
  value       = aws_vpc.this.id
}

output "public_subnet_ids" {
  description = "Public subnets (the load balancer and NAT)."
  value       = [for s in aws_subnet.public : s.id]
}

output "private_subnet_ids" {
  description = "Private subnets (tasks and MemoryDB)."
  value       = [for s in aws_subnet.private : s.id]
}

output "security_group_ids" {
  description = "Security group of each tier: alb, auth-proxy, chat, memory, redis, endpoints."
  value       = { for k, sg in aws_security_group.this : k => sg.id }
}
