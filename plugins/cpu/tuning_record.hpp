// The runtime-cache form of one tuning result: the key naming the op and
// its concrete shapes, and a self-checking payload (magic, version,
// length, checksum) so that bytes from another version, a torn write or
// another producer are recognized and treated as a miss.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "kernels/op_spec.hpp"
#include "kit_names.hpp"

namespace rtscope::cpu {

// Raised whenever an op's candidates change, so that stored choices are
// measured again (2: oneDNN for matmul and linear; 3: no pool split of
// tiny work; 4: OpenBLAS on one thread per call, and matmul.split_n,
// column blocks of it over the pool).
inline constexpr uint16_t kTuningRecordVersion = 4;

// "tune.v4/linear/[1,1,256][256,1024]/t2": the op, every input shape, the
// integer and integer-list attributes the op declares (they can change the
// work and the candidates), and the pool size the measurement ran with.
std::string tuning_key(const OpSpec& spec, const NodeDesc& node, std::span<const Dims> inputs,
                       unsigned pool_threads);

struct TuningRecord {
  std::string variant;  // KernelVariant::name
  KernelTuning tuning;
  uint64_t best_ns = 0;  // the winner's measured time, for diagnostics
};

std::vector<uint8_t> encode_tuning_record(const TuningRecord& record);
// nullopt when the bytes are not a complete, intact record of this version.
std::optional<TuningRecord> decode_tuning_record(std::span<const uint8_t> bytes);

}  // namespace rtscope::cpu
