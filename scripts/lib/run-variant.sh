# A variant of a GPU run: NAME:VAR=VALUE[,VAR=VALUE...], the variables a
# run of the variant sets. scripts/device-ab.sh takes variants as
# arguments and scripts/device-bench.sh from RTSCOPE_BENCH_B16_ENV; both
# parse and apply them here, so they accept the same variants and run
# them alike. Sourced after scripts/lib/prebuilt-tree.sh.

# run_variant_parse TOOL VARIANT: sets `variant_name` and the array
# `variant_assignments`, or prints why VARIANT is malformed (naming TOOL)
# and returns 1. NAME is letters, digits and '-' (it names files and
# folders, where '_' separates the round); each VAR a variable name.
run_variant_parse() {
  local tool="$1" variant="$2" assignment
  variant_name="${variant%%:*}"
  if [[ "$variant" != *:* || ! "$variant_name" =~ ^[A-Za-z0-9-]+$ ]]; then
    echo "$tool: variant '$variant': not NAME:VAR=VALUE[,VAR=VALUE...] with a NAME of letters, digits and '-'" >&2
    return 1
  fi
  IFS=, read -ra variant_assignments <<<"${variant#*:}"
  if [[ ${#variant_assignments[@]} -eq 0 ]]; then
    echo "$tool: variant '$variant_name' sets no variable" >&2
    return 1
  fi
  for assignment in "${variant_assignments[@]}"; do
    if [[ ! "$assignment" =~ ^[A-Za-z_][A-Za-z0-9_]*=.*$ ]]; then
      echo "$tool: variant '$variant_name': '$assignment' is not VAR=VALUE" >&2
      return 1
    fi
  done
}

# run_variant_complete_plugin_path: an RTSCOPE_PLUGIN_PATH among
# `variant_assignments` gets the tree's plugin dirs (prebuilt_tree_use's
# RTSCOPE_PLUGIN_PATH) after its own, which still serve the plugins the
# variant does not replace: the runner loads cpu too, and in a bundle the
# compiled-in plugin dir is wrong.
run_variant_complete_plugin_path() {
  local i
  for i in "${!variant_assignments[@]}"; do
    if [[ "${variant_assignments[$i]}" == RTSCOPE_PLUGIN_PATH=* ]]; then
      variant_assignments[i]+=":$RTSCOPE_PLUGIN_PATH"
    fi
  done
}
