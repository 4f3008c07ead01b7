#!/usr/bin/env bash
# Installs the Debian 12 packages rtscope builds and tests with. Idempotent:
# asks apt only for packages dpkg does not already have installed.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libboost-dev libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libxxhash-dev
  libopenblas-dev libeigen3-dev
  # the CPU plugin's oneDNN sgemm candidates (OpenMP is its threading runtime)
  libdnnl-dev
  # the runtime cache's remote tier: its client, and a server the tests start
  libhiredis-dev redis-server
  # ONNX import (host/onnx) and ONNX's backend test data (tests/onnx)
  libonnx-dev libprotobuf-dev libonnx-testdata
  libgtest-dev libgmock-dev libbenchmark-dev nlohmann-json3-dev
  libvulkan-dev glslc spirv-tools mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  # scripts/fuzz.sh: clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # the GPU report's test (tests/bench/device_bench_report_test.py)
  python3
)

missing=()
for package in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$package" 2>/dev/null || true)"
  if [[ "$status" != "installed" ]]; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

sudo=()
if [[ "$(id -u)" -ne 0 ]]; then
  sudo=(sudo)
fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
  apt-get install -y --no-install-recommends "${missing[@]}"
