// Loops compiled once per x86 vector ISA (AVX-512, AVX2, the baseline),
// with the build for this CPU picked at the first call. The plugin is
// built for the baseline ISA so that it loads anywhere; a hot loop that
// the compiler vectorizes gains 2-4x from the wider builds. Not
// target_clones: its ifunc resolvers run while the dynamic loader
// relocates, before a sanitizer's runtime is up, which crashes the
// sanitizer builds of programs that link the plugin's files.
#pragma once

namespace rtscope::cpu {

// NAME_avx512, NAME_avx2 and NAME_baseline: NAME_loop (an always_inline
// function) built for each ISA.
#define RTSCOPE_ISA_BUILDS(name, params, args)                                       \
  __attribute__((target("avx512f"))) void name##_avx512 params { name##_loop args; } \
  __attribute__((target("avx2,fma"))) void name##_avx2 params { name##_loop args; }  \
  void name##_baseline params { name##_loop args; }

// Whether this CPU runs AVX-512 (foundation) code, for files with a
// hand-written AVX-512 path beside a portable one.
inline bool cpu_has_avx512() { return __builtin_cpu_supports("avx512f"); }

// The build of one loop for this CPU: AVX-512, else AVX2, else the baseline.
template <auto Avx512, auto Avx2, auto Baseline>
decltype(Baseline) for_this_cpu() {
  if (cpu_has_avx512()) return Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Avx2;
  return Baseline;
}

}  // namespace rtscope::cpu
