#!/usr/bin/env bash
# Builds the three service images and the front end, pushes the images to the ECR repositories
# Terraform made, and writes terraform/image.auto.tfvars.json so the next `terraform apply`
# deploys exactly these images (tags are immutable: the git commit, plus -dirty-<time> for
# uncommitted changes).
#
#   terraform -chdir=terraform apply -target=module.ecr   # once, before the first push
#   terraform/scripts/build-and-push.sh
#   terraform -chdir=terraform apply
#
# Needs: docker (with buildx), the AWS CLI v2 signed in to the account, npm, terraform.
# Images are built for linux/amd64 (the task definitions' X86_64 runtime platform).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"

TAG="${IMAGE_TAG:-$(git rev-parse --short=12 HEAD)}"
if [ -z "${IMAGE_TAG:-}" ] && [ -n "$(git status --porcelain -- services libs constraints.txt)" ]; then
  TAG="$TAG-dirty-$(date -u +%Y%m%d%H%M%S)"
fi

REPOS_JSON="$(terraform -chdir=terraform output -json ecr_repository_urls)"
FIRST_URL="$(python3 -c 'import json,sys; print(next(iter(json.load(sys.stdin).values())))' <<<"$REPOS_JSON")"
REGISTRY="${FIRST_URL%%/*}"
REGION="$(cut -d. -f4 <<<"$REGISTRY")"

echo "signing in to $REGISTRY"
aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$REGISTRY"

for service in auth-proxy chat memory; do
  url="$(python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$service" <<<"$REPOS_JSON")"
  echo "building $service -> $url:$TAG"
  docker buildx build --platform linux/amd64 -f "services/$service/Dockerfile" -t "$url:$TAG" --push .
done

echo "building the front end"
(cd frontend && npm ci --no-audit --no-fund && npm run build)

printf '{\n  "image_tag": "%s"\n}\n' "$TAG" > terraform/image.auto.tfvars.json
echo "pushed $TAG; wrote terraform/image.auto.tfvars.json — now run: terraform -chdir=terraform apply"
