#!/usr/bin/env bash
# Installs dependencies, builds, and runs rtscope-run on a config.
# Usage: scripts/run.sh [config.yaml] [rtscope-run options, e.g. --set k=v --json out.json]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

config="${1:-configs/default.yaml}"
shift || true

bash scripts/install-deps.sh
bash scripts/build.sh build
exec build/host/runner/rtscope-run "$config" "$@"
