#include "capture_chain.hpp"

#include <cstdint>
#include <cstring>

#include "engine.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

enum class ChainOpKind : uint8_t { kAdd, kSub, kMul, kScale, kRelu };

struct ChainOp {
  ChainOpKind kind;
  // The running value is the node's second input (sub: operand - value).
  bool value_second;
  const float* operand;  // binary ops: the other input
  float factor;          // scale
};

struct ChainStep {
  const float* in;
  float* out;
  int64_t count;
  std::vector<ChainOp> ops;
};

// Four lanes: the x86-64 baseline's SSE registers. Four of them hold a
// block of 16 elements; GCC's vector extensions compile each operation
// below to the same single-precision instruction the scalar kernels use
// per element.
using Lanes = float __attribute__((vector_size(16)));
constexpr int kLanes = 4;
constexpr int64_t kBlock = 4 * kLanes;

Lanes load(const float* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void store(float* p, Lanes v) { std::memcpy(p, &v, sizeof v); }

Lanes apply(const ChainOp& op, Lanes x, const float* operand) {
  switch (op.kind) {
    case ChainOpKind::kAdd:
      return op.value_second ? load(operand) + x : x + load(operand);
    case ChainOpKind::kSub:
      return op.value_second ? load(operand) - x : x - load(operand);
    case ChainOpKind::kMul:
      return op.value_second ? load(operand) * x : x * load(operand);
    case ChainOpKind::kScale:
      return x * op.factor;
    case ChainOpKind::kRelu: {
      const Lanes zero = {};
      return x > zero ? x : zero;
    }
  }
  return x;
}

float apply(const ChainOp& op, float x, float operand) {
  switch (op.kind) {
    case ChainOpKind::kAdd:
      return op.value_second ? operand + x : x + operand;
    case ChainOpKind::kSub:
      return op.value_second ? operand - x : x - operand;
    case ChainOpKind::kMul:
      return op.value_second ? operand * x : x * operand;
    case ChainOpKind::kScale:
      return x * op.factor;
    case ChainOpKind::kRelu:
      return x > 0.0f ? x : 0.0f;
  }
  return x;
}

void run_chain(const ChainStep& step) {
  int64_t i = 0;
  // Blocks of 16: every operand is read before the block's output is
  // stored, so an output sharing bytes with an input is still correct.
  for (; i + kBlock <= step.count; i += kBlock) {
    Lanes v0 = load(step.in + i);
    Lanes v1 = load(step.in + i + kLanes);
    Lanes v2 = load(step.in + i + 2 * kLanes);
    Lanes v3 = load(step.in + i + 3 * kLanes);
    for (const ChainOp& op : step.ops) {
      const float* operand = op.operand != nullptr ? op.operand + i : nullptr;
      v0 = apply(op, v0, operand);
      v1 = apply(op, v1, operand ? operand + kLanes : nullptr);
      v2 = apply(op, v2, operand ? operand + 2 * kLanes : nullptr);
      v3 = apply(op, v3, operand ? operand + 3 * kLanes : nullptr);
    }
    store(step.out + i, v0);
    store(step.out + i + kLanes, v1);
    store(step.out + i + 2 * kLanes, v2);
    store(step.out + i + 3 * kLanes, v3);
  }
  for (; i < step.count; ++i) {
    float x = step.in[i];
    for (const ChainOp& op : step.ops) x = apply(op, x, op.operand ? op.operand[i] : 0.0f);
    step.out[i] = x;
  }
}

bool overlaps(const void* a, const void* b, size_t bytes) {
  const auto* x = static_cast<const std::byte*>(a);
  const auto* y = static_cast<const std::byte*>(b);
  return x < y + bytes && y < x + bytes;
}

// The chain op node `n` runs, when it can join a chain at all.
bool chain_op(const EngineNode& node, ChainOpKind* kind) {
  static constexpr struct {
    const char* op;
    ChainOpKind kind;
    size_t inputs;
  } kOps[] = {{"add", ChainOpKind::kAdd, 2},
              {"sub", ChainOpKind::kSub, 2},
              {"mul", ChainOpKind::kMul, 2},
              {"scale", ChainOpKind::kScale, 1},
              {"relu", ChainOpKind::kRelu, 1}};
  for (const auto& candidate : kOps) {
    if (std::strcmp(node.spec->op, candidate.op) != 0) continue;
    if (node.inputs.size() != candidate.inputs || node.outputs.size() != 1) return false;
    *kind = candidate.kind;
    return true;
  }
  return false;
}

}  // namespace

std::vector<int> count_readers(const Engine& engine) {
  std::vector<int> readers(engine.values().size(), 0);
  for (const EngineNode& node : engine.nodes()) {
    for (uint32_t id : node.inputs) ++readers[id];
  }
  for (uint32_t id : engine.output_values()) readers[id] += 2;
  return readers;
}

size_t record_elementwise_chain(const Engine& engine, const ExecutionPlan& plan,
                                std::span<void* const> storage, std::span<const int> readers,
                                size_t first, StepList& steps) {
  const std::vector<EngineValue>& values = engine.values();
  const size_t end = std::min(plan.first_dynamic_node, engine.nodes().size());
  ChainStep step{};
  uint32_t carried = 0;  // the value the next member must read
  size_t n = first;
  for (; n < end; ++n) {
    const EngineNode& node = engine.nodes()[n];
    ChainOpKind kind;
    if (plan.group_of[n] >= 0 || plan.runs_nothing(n) || !chain_op(node, &kind)) break;
    if (node.float_dtype != RTS_DTYPE_F32) break;
    const uint32_t out = node.outputs[0];
    bool f32_same_shape = values[out].dtype == RTS_DTYPE_F32;
    for (uint32_t id : node.inputs) {
      f32_same_shape = f32_same_shape && values[id].dtype == RTS_DTYPE_F32 &&
                       plan.dims[id] == plan.dims[out] && storage[id] != nullptr;
    }
    if (!f32_same_shape || storage[out] == nullptr) break;
    // Larger tensors run on the pool node by node.
    const KernelTuning* tuning = plan.tuning_for(n);
    const int64_t grain =
        tuning != nullptr && tuning->grain > 0 ? tuning->grain : kMinElementsPerTask;
    const int64_t count = element_count(plan.dims[out]);
    if (count > grain) break;

    bool value_second = false;
    if (n > first) {
      // The member before must have written the one value this one reads
      // as the running value, and nothing else may read it.
      if (count != step.count || readers[carried] != 1 ||
          values[carried].role != ValueRole::kIntermediate) {
        break;
      }
      const bool first_side = node.inputs[0] == carried;
      const bool second_side = node.inputs.size() == 2 && node.inputs[1] == carried;
      if (first_side == second_side) break;  // neither, or both (x * x)
      value_second = second_side;
    } else {
      step.in = static_cast<const float*>(storage[node.inputs[0]]);
      step.count = count;
    }
    ChainOp op{kind, value_second, nullptr, 0.0f};
    if (node.inputs.size() == 2) {
      op.operand = static_cast<const float*>(storage[node.inputs[value_second ? 0 : 1]]);
    }
    if (kind == ChainOpKind::kScale) op.factor = static_cast<float>(node.desc->attr_real("factor"));
    step.ops.push_back(op);
    step.out = static_cast<float*>(storage[out]);
    carried = out;
  }
  const size_t members = n - first;
  if (members < 2) return 0;
  // Every read of a block comes before its store; across blocks an output
  // that overlaps what the chain reads could be overwritten too early.
  const size_t bytes = static_cast<size_t>(step.count) * sizeof(float);
  if (step.count > kBlock) {
    bool shared = overlaps(step.out, step.in, bytes);
    for (const ChainOp& op : step.ops) {
      shared = shared || (op.operand != nullptr && overlaps(step.out, op.operand, bytes));
    }
    if (shared) return 0;
  }
  steps.add<run_chain>(std::move(step));
  return members;
}

}  // namespace rtscope::cpu
