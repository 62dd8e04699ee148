#!/usr/bin/env bash
# Installs llama-cpp-python (the bundled model's server) built portably, with GGML_NATIVE=OFF as in
# services/local-model/Dockerfile. pip's own wheel cache keeps whichever build came first, whatever
# the flags; a native build uses every instruction the build machine's CPU reports, and on virtual
# machines that report AMX without supporting it the model server died on its first answer
# (a general protection fault in libggml-cpu). The portable wheel is kept outside the repository,
# so a new clone on the same machine installs it without building again (about 5 minutes).
# Usage: scripts/llama-wheel.sh PIP
set -euo pipefail
pip="$1"
root="$(cd "$(dirname "$0")/.." && pwd)"
version="$(grep -o 'llama-cpp-python\[server\]==[0-9.]*' "$root/services/local-model/pyproject.toml" | cut -d= -f3)"
dir="${ROLECHAT_WHEEL_CACHE:-$HOME/.cache/rolechat/wheels}/llama-cpp-python-$version-portable"
if ! compgen -G "$dir/llama_cpp_python-$version-*.whl" >/dev/null; then
  mkdir -p "$dir.partial"
  CMAKE_ARGS="-DGGML_NATIVE=OFF" "$pip" wheel -q --no-cache-dir --no-deps -w "$dir.partial" "llama-cpp-python==$version"
  rm -rf "$dir" && mv "$dir.partial" "$dir"
fi
"$pip" install -q --force-reinstall --no-deps "$dir"/llama_cpp_python-"$version"-*.whl
