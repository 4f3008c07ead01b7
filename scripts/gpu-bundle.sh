#!/usr/bin/env bash
# Copies what a GPU machine without compilers or Debian packages needs to run
# a prebuilt tree: the build's binaries and plugins in the build-dir layout
# (so scripts/device-bench.sh takes the bundle like a build dir), plus the
# shared libraries they need beyond the C/C++ runtime in deps/, the Khronos
# validation layer in layers/, and the Vulkan loader's GL dispatch libraries
# in glvnd/ (used only when the machine lacks them).
#
# Usage: scripts/gpu-bundle.sh BUILD_DIR OUT_DIR
set -euo pipefail

build="${1:?usage: scripts/gpu-bundle.sh BUILD_DIR OUT_DIR}"
out="${2:?usage: scripts/gpu-bundle.sh BUILD_DIR OUT_DIR}"
[[ -f "$build/host/runner/rtscope-run" ]] || {
  echo "gpu-bundle: $build has no host/runner/rtscope-run; build it first (scripts/build.sh $build)" >&2
  exit 1
}
[[ -f "$build/plugins/vulkan/librtscope_plugin_vulkan.so" ]] || {
  echo "gpu-bundle: $build was built without the Vulkan plugin (RTSCOPE_BUILD_VULKAN=ON)" >&2
  exit 1
}

rm -rf "$out"
mkdir -p "$out/deps" "$out/layers" "$out/glvnd"

copy() {  # copy FILE... keeping paths relative to the build dir
  for file in "$@"; do
    [[ -e "$file" ]] || continue
    mkdir -p "$out/$(dirname "${file#"$build"/}")"
    cp -a "$file" "$out/${file#"$build"/}"
  done
}

binaries=("$build/host/runner/rtscope-run")
for file in "$build"/tests/test_vulkan "$build"/tests/bench/bench_* "$build"/cache/tools/rtscope-cache \
  "$build"/host/conformance/rtscope-conformance "$build"/host/onnx/rtscope-onnx-export \
  "$build"/tools/*/rtscope-*; do
  [[ -f "$file" && -x "$file" ]] && binaries+=("$file")
done
copy "${binaries[@]}" "$build"/host/librtscope_host.so*
copy "$build"/plugins/*/librtscope_plugin_*.so
strip --strip-unneeded "$out"/host/librtscope_host.so.*.* "$out"/plugins/*/*.so 2>/dev/null || true

# Libraries outside the base system (glibc, libstdc++, libgcc) that the
# binaries and plugins link, resolved here.
base='^(linux-vdso|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|ld-linux|libstdc\+\+|libgcc_s)'
for file in "${binaries[@]}" "$build"/plugins/*/librtscope_plugin_*.so /usr/lib/x86_64-linux-gnu/libVkLayer_khronos_validation.so; do
  [[ -f "$file" ]] || continue
  ldd "$file" | awk '$3 ~ /^\// {print $1, $3}' | while read -r name path; do
    [[ "$name" =~ $base || "$name" == librtscope_host* ]] && continue
    [[ -e "$out/deps/$name" ]] || cp -L "$path" "$out/deps/$name"
  done
done
cp -L /usr/lib/x86_64-linux-gnu/libvulkan.so.1 "$out/deps/" 2>/dev/null || true

if [[ -f /usr/lib/x86_64-linux-gnu/libVkLayer_khronos_validation.so ]]; then
  cp -L /usr/lib/x86_64-linux-gnu/libVkLayer_khronos_validation.so "$out/deps/"
  sed 's|"library_path": *"[^"]*"|"library_path": "../deps/libVkLayer_khronos_validation.so"|' \
    /usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json >"$out/layers/VkLayer_khronos_validation.json"
fi
for lib in libGLdispatch.so.0 libGLX.so.0 libEGL.so.1 libOpenGL.so.0 libGL.so.1 libGLESv2.so.2; do
  cp -L "/usr/lib/x86_64-linux-gnu/$lib" "$out/glvnd/" 2>/dev/null || true
done

# The source tree's commit at bundling time (+dirty with uncommitted
# changes), which device-bench.sh reports: a copy of the repo on the GPU
# machine may carry git metadata that does not match the binaries.
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
commit="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git -C "$repo" diff --quiet HEAD 2>/dev/null || commit+="+dirty"
echo "$commit" >"$out/source-commit"

echo "gpu-bundle: $(du -sh "$out" | cut -f1) in $out ($(ls "$out/deps" | wc -l) libraries, commit $commit)"
