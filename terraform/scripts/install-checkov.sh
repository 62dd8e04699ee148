#!/usr/bin/env bash
# Installs checkov (pinned in checkov-requirements.txt beside this script) into its own virtual
# environment, .venv/checkov, because its dependency pins conflict with the project's own
# constraints.txt. tests/test_terraform_checkov.py runs it from there. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
VENV=.venv/checkov
REQS=terraform/scripts/checkov-requirements.txt
if [ -x "$VENV/bin/checkov" ] && cmp -s "$REQS" "$VENV/.requirements" 2>/dev/null; then
  exit 0
fi
test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
cp "$REQS" "$VENV/.requirements"
