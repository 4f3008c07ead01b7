# A prebuilt tree on a GPU machine: a build dir, or a bundle from
# scripts/gpu-bundle.sh (no compiler or Debian packages needed there).
# Sourced by scripts/device-bench.sh and scripts/device-ab.sh.

# prebuilt_tree_use TOOL BUILD_DIR: sets `build` to BUILD_DIR's absolute
# path, checks the runner and the plugins are there and their libraries
# resolve, then exports what running them from there needs. Exits with
# status 2 and a message naming TOOL and what is missing otherwise.
prebuilt_tree_use() {
  local tool="$1"
  build="$(cd "$2" 2>/dev/null && pwd)" || {
    echo "$tool: build dir '$2' does not exist" >&2
    exit 2
  }
  local runner="$build/host/runner/rtscope-run"
  local vulkan_plugin="$build/plugins/vulkan/librtscope_plugin_vulkan.so"
  local cpu_plugin="$build/plugins/cpu/librtscope_plugin_cpu.so"
  local file
  for file in "$runner" "$vulkan_plugin"; do
    [[ -x "$file" || -f "$file" ]] || {
      echo "$tool: $file is missing; build with -DRTSCOPE_BUILD_VULKAN=ON (or bundle with scripts/gpu-bundle.sh)" >&2
      exit 2
    }
  done
  # The build's own libraries first, then a bundle's deps/; the bundle's
  # glvnd/ copies go last, used only when the machine lacks those libraries
  # (bare GPU images lack libGLdispatch, which the NVIDIA ICD libGLX_nvidia
  # needs).
  export LD_LIBRARY_PATH="$build/host:$build/deps${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}:$build/glvnd"
  # The build tree's plugin dir is compiled in as an absolute path, which a
  # copied tree does not have; name the dirs explicitly.
  export RTSCOPE_PLUGIN_PATH="$build/plugins/cpu:$build/plugins/vulkan${RTSCOPE_PLUGIN_PATH:+:$RTSCOPE_PLUGIN_PATH}"
  # NVIDIA containers often keep the Vulkan ICD outside the loader's search
  # path.
  if [[ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ]]; then
    local icd
    for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
      [[ -f "$icd" ]] && break
      icd=""
    done
    if [[ -z "$icd" && -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]]; then
      export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    fi
  fi
  # A bundle carries the Khronos validation layer that test_vulkan enables.
  if [[ -d "$build/layers" ]]; then
    export VK_ADD_LAYER_PATH="$build/layers${VK_ADD_LAYER_PATH:+:$VK_ADD_LAYER_PATH}"
  fi
  # Warm starts come from rtscope's runtime cache alone.
  export __GL_SHADER_DISK_CACHE=0 MESA_SHADER_CACHE_DISABLE=true
  # A plain build dir needs the build machine's libraries (yaml-cpp, spdlog,
  # OpenBLAS, ...); a GPU machine without them needs a bundle.
  local missing
  missing="$(ldd "$runner" "$vulkan_plugin" "$cpu_plugin" 2>/dev/null | awk '/not found/ {print $1}' | sort -u | paste -sd ' ' -)"
  if [[ -n "$missing" ]]; then
    echo "$tool: libraries not found for $build: $missing; on a machine without the build's packages, run scripts/gpu-bundle.sh $build BUNDLE where it was built and pass BUNDLE instead" >&2
    exit 2
  fi
  unset RTSCOPE_VULKAN_VALIDATION
}

# prebuilt_tree_commit BUILD_DIR REPO: the binaries' commit: a bundle's
# source-commit (scripts/gpu-bundle.sh), else REPO's HEAD ("+dirty" with
# local changes; "unknown" without git).
prebuilt_tree_commit() {
  local build="$1" repo="$2" id
  if [[ -s "$build/source-commit" ]]; then
    head -c 64 "$build/source-commit" | tr -cd '0-9a-zA-Z+._-'
    return
  fi
  id="$(git -C "$repo" rev-parse --short HEAD 2>/dev/null)" || { echo unknown; return; }
  git -C "$repo" diff --quiet HEAD 2>/dev/null || id+="+dirty"
  echo "$id"
}
