#include "fusion.hpp"

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>

#include "engine.hpp"
#include "rtscope/kit/op_attrs.hpp"

namespace rtscope::cpu {
namespace {

bool is_op(const EngineNode& node, const char* op) { return std::strcmp(node.spec->op, op) == 0; }

bool is_product(const EngineNode& node) { return is_op(node, "linear") || is_op(node, "matmul"); }

// What the matcher needs to know about the engine's values and nodes.
class Matcher {
 public:
  Matcher(const Engine& engine, std::span<const Dims> dims, size_t first_dynamic_node)
      : engine_(engine),
        dims_(dims),
        limit_(std::min(first_dynamic_node, engine.nodes().size())),
        uses_(engine.values().size(), 0),
        consumer_(engine.values().size(), -1),
        claimed_(engine.nodes().size(), 0) {
    const auto& nodes = engine.nodes();
    for (size_t n = 0; n < nodes.size(); ++n) {
      for (uint32_t id : nodes[n].inputs) {
        ++uses_[id];
        consumer_[id] = static_cast<int>(n);
      }
    }
    for (uint32_t id : engine.output_values()) uses_[id] += 2;  // never internal
  }

  // The node producing `value` when it may disappear inside a group: an
  // unclaimed f32 node before the dynamic part whose only reader is the
  // group.
  int internal_producer(uint32_t value) const {
    const EngineValue& v = engine_.values()[value];
    if (v.role != ValueRole::kIntermediate || v.producer < 0 || uses_[value] != 1) return -1;
    const auto producer = static_cast<size_t>(v.producer);
    if (producer >= limit_ || claimed_[producer] || !is_f32(producer)) return -1;
    return v.producer;
  }

  // The only node reading `value` when the group may absorb it.
  int internal_consumer(uint32_t value) const {
    if (uses_[value] != 1 || engine_.values()[value].role != ValueRole::kIntermediate) return -1;
    const int consumer = consumer_[value];
    if (consumer < 0 || static_cast<size_t>(consumer) >= limit_ || claimed_[consumer] ||
        !is_f32(static_cast<size_t>(consumer))) {
      return -1;
    }
    return consumer;
  }

  bool is_f32(size_t node) const {
    const EngineNode& n = engine_.nodes()[node];
    if (n.float_dtype != RTS_DTYPE_F32) return false;
    for (uint32_t id : n.outputs) {
      if (engine_.values()[id].dtype != RTS_DTYPE_F32) return false;
    }
    return true;
  }

  bool same_dims(uint32_t a, uint32_t b) const { return dims_[a] == dims_[b]; }
  const Dims& dims(uint32_t value) const { return dims_[value]; }
  rts_dtype dtype(uint32_t value) const { return engine_.values()[value].dtype; }
  const EngineNode& node(size_t n) const { return engine_.nodes()[n]; }
  size_t limit() const { return limit_; }
  bool claimed(size_t n) const { return claimed_[n] != 0; }

  // A group reads its inputs where its last member runs: no node between
  // its first and last member may update a tensor in place meanwhile.
  bool no_update_between(std::span<const uint32_t> members) const {
    const auto [lo, hi] = std::minmax_element(members.begin(), members.end());
    for (uint32_t n = *lo + 1; n < *hi; ++n) {
      if (std::find(members.begin(), members.end(), n) != members.end()) continue;
      if (engine_.nodes()[n].spec->output_updates_input) return false;
    }
    return true;
  }

  void claim(FusedGroup& group) {
    std::sort(group.nodes.begin(), group.nodes.end());
    for (uint32_t n : group.nodes) claimed_[n] = 1;
  }

 private:
  const Engine& engine_;
  std::span<const Dims> dims_;
  size_t limit_;
  std::vector<int> uses_;      // node inputs reading each value (+2 for engine outputs)
  std::vector<int> consumer_;  // the last node reading each value
  std::vector<uint8_t> claimed_;
};

// mul(silu(gate), product) or add(residual, product), either operand order.
bool match_epilogue(Matcher& m, uint32_t n, FusedGroup& group) {
  const EngineNode& tail = m.node(n);
  const bool mul = is_op(tail, "mul");
  if ((!mul && !is_op(tail, "add")) || !m.is_f32(n) || tail.inputs.size() != 2) return false;
  const uint32_t out = tail.outputs[0];
  for (const int side : {1, 0}) {
    const uint32_t product_value = tail.inputs[side];
    const uint32_t other = tail.inputs[1 - side];
    const int product = m.internal_producer(product_value);
    if (product < 0 || !is_product(m.node(product)) || product_value == other) continue;
    if (!m.same_dims(product_value, out) || !m.same_dims(other, out)) continue;
    if (m.dtype(other) != RTS_DTYPE_F32) continue;
    std::vector<uint32_t> members{static_cast<uint32_t>(product), n};
    if (mul) {
      const int silu = m.internal_producer(other);
      if (silu < 0 || !is_op(m.node(silu), "silu")) continue;
      const uint32_t gate = m.node(silu).inputs[0];
      if (!m.same_dims(gate, out) || m.dtype(gate) != RTS_DTYPE_F32) continue;
      members.push_back(static_cast<uint32_t>(silu));
      group.kind = FusedKind::kLinearSiluMul;
      group.operand = gate;
    } else {
      group.kind = FusedKind::kLinearResidual;
      group.operand = other;
    }
    if (!m.no_update_between(members)) continue;
    group.nodes = members;
    group.main = static_cast<uint32_t>(product);
    group.output = out;
    group.reads = m.node(product).inputs;
    group.reads.push_back(group.operand);
    return true;
  }
  return false;
}

// relu(conv), add(residual, conv) and relu(add(residual, conv)), matched
// at the add or, without one, at the relu; either operand order.
bool match_conv_tail(Matcher& m, uint32_t n, FusedGroup& group) {
  const EngineNode& tail = m.node(n);
  if (!m.is_f32(n)) return false;
  if (is_op(tail, "relu") && tail.inputs.size() == 1) {
    const int conv = m.internal_producer(tail.inputs[0]);
    if (conv < 0 || !is_op(m.node(conv), "conv") || !m.same_dims(tail.inputs[0], tail.outputs[0])) {
      return false;
    }
    const std::vector<uint32_t> members{static_cast<uint32_t>(conv), n};
    if (!m.no_update_between(members)) return false;
    group.kind = FusedKind::kConvRelu;
    group.nodes = members;
    group.main = static_cast<uint32_t>(conv);
    group.operand = m.node(conv).inputs[0];
    group.output = tail.outputs[0];
    group.reads = m.node(conv).inputs;
    return true;
  }
  if (!is_op(tail, "add") || tail.inputs.size() != 2) return false;
  const uint32_t sum = tail.outputs[0];
  for (const int side : {1, 0}) {
    const uint32_t conv_value = tail.inputs[side];
    const uint32_t other = tail.inputs[1 - side];
    const int conv = m.internal_producer(conv_value);
    if (conv < 0 || !is_op(m.node(conv), "conv") || conv_value == other) continue;
    if (!m.same_dims(conv_value, sum) || !m.same_dims(other, sum)) continue;
    if (m.dtype(other) != RTS_DTYPE_F32) continue;
    std::vector<uint32_t> members{static_cast<uint32_t>(conv), n};
    group.kind = FusedKind::kConvResidual;
    group.output = sum;
    const int relu = m.internal_consumer(sum);
    if (relu >= 0 && is_op(m.node(relu), "relu") && m.same_dims(sum, m.node(relu).outputs[0])) {
      members.push_back(static_cast<uint32_t>(relu));
      group.kind = FusedKind::kConvResidualRelu;
      group.output = m.node(relu).outputs[0];
    }
    if (!m.no_update_between(members)) continue;
    group.nodes = members;
    group.main = static_cast<uint32_t>(conv);
    group.operand = other;
    group.reads = m.node(conv).inputs;
    group.reads.push_back(other);
    return true;
  }
  return false;
}

bool is_heads_transpose(const EngineNode& node, const Dims& input) {
  if (!is_op(node, "transpose") || input.size() != 4) return false;
  const std::array<int, RTS_MAX_RANK> perm = resolve_perm(*node.desc, 4);
  return perm[0] == 0 && perm[1] == 2 && perm[2] == 1 && perm[3] == 3;
}

// transpose(rope(x, pos)) [-> kv_cache_update(cache, ., pos)], matched
// at the rope.
bool match_rope(Matcher& m, uint32_t n, FusedGroup& group) {
  const EngineNode& rope = m.node(n);
  if (!is_op(rope, "rope") || !m.is_f32(n) || rope.inputs.size() != 2) return false;
  const uint32_t x = rope.inputs[0];
  const uint32_t pos = rope.inputs[1];
  const Dims& x_dims = m.dims(x);
  if (x_dims.size() != 4 || m.dtype(x) != RTS_DTYPE_F32 || x_dims[3] % 2 != 0) return false;
  // One position for every batch row, or one per row.
  const int64_t positions = element_count(m.dims(pos));
  if (positions != 1 && positions != x_dims[0]) return false;
  const int transpose = m.internal_consumer(rope.outputs[0]);
  if (transpose < 0 || !is_heads_transpose(m.node(transpose), x_dims)) return false;
  const uint32_t heads = m.node(transpose).outputs[0];

  group.main = n;
  group.x = x;
  group.pos = pos;
  const int update = m.internal_consumer(heads);
  if (update >= 0 && is_op(m.node(update), "kv_cache_update") &&
      m.node(update).inputs.size() == 3 && m.node(update).inputs[1] == heads &&
      m.node(update).inputs[2] == pos && m.dtype(m.node(update).inputs[0]) == RTS_DTYPE_F32) {
    const std::vector<uint32_t> members{n, static_cast<uint32_t>(transpose),
                                        static_cast<uint32_t>(update)};
    if (m.no_update_between(members)) {
      group.kind = FusedKind::kRopeIntoCache;
      group.nodes = members;
      group.cache = m.node(update).inputs[0];
      group.output = m.node(update).outputs[0];
      group.reads = {group.cache, x, pos};
      return true;
    }
  }
  group.kind = FusedKind::kRopeToHeads;
  group.nodes = {n, static_cast<uint32_t>(transpose)};
  group.output = heads;
  group.reads = {x, pos};
  return true;
}

// One table per (base, head_dim), as long as the longest cache it writes.
void attach_rope_tables(const Engine& engine, std::span<const Dims> dims,
                        std::vector<FusedGroup>& groups) {
  std::vector<std::shared_ptr<RopeTable>> tables;
  for (FusedGroup& group : groups) {
    if (group.kind != FusedKind::kRopeToHeads && group.kind != FusedKind::kRopeIntoCache) continue;
    const double base = engine.nodes()[group.main].desc->attr_real("base", 10000.0);
    const int64_t head_dim = dims[group.x][3];
    const int64_t capacity =
        group.kind == FusedKind::kRopeIntoCache ? dims[group.cache][2] : int64_t{0};
    auto found = std::find_if(tables.begin(), tables.end(), [&](const auto& table) {
      return table->base() == base && table->head_dim() == head_dim;
    });
    if (found == tables.end()) {
      tables.push_back(std::make_shared<RopeTable>(base, head_dim, capacity));
      found = tables.end() - 1;
    }
    (*found)->grow(capacity);
    group.table = *found;
  }
}

}  // namespace

bool fusion_requested() {
  const char* value = std::getenv("RTSCOPE_CPU_FUSION");
  return value == nullptr || std::strcmp(value, "0") != 0;
}

std::vector<FusedGroup> find_fused_groups(const Engine& engine, std::span<const Dims> dims,
                                          size_t first_dynamic_node) {
  Matcher m(engine, dims, first_dynamic_node);
  std::vector<FusedGroup> groups;
  for (uint32_t n = 0; n < m.limit(); ++n) {
    if (m.claimed(n)) continue;
    FusedGroup group;
    if (match_rope(m, n, group) || match_epilogue(m, n, group) || match_conv_tail(m, n, group)) {
      m.claim(group);
      groups.push_back(std::move(group));
    }
  }
  std::sort(groups.begin(), groups.end(), [](const FusedGroup& a, const FusedGroup& b) {
    return a.nodes.back() < b.nodes.back();
  });
  attach_rope_tables(engine, dims, groups);
  return groups;
}

bool runs_main_kernel(FusedKind kind) {
  return kind != FusedKind::kRopeToHeads && kind != FusedKind::kRopeIntoCache;
}

LinearEpilogue linear_epilogue(const FusedGroup& group, const TensorRef& operand) {
  switch (group.kind) {
    case FusedKind::kLinearSiluMul:
      return {LinearEpilogue::Kind::kSiluGateMul, operand.as<const float>()};
    case FusedKind::kConvRelu:
      return {LinearEpilogue::Kind::kRelu, nullptr};
    case FusedKind::kConvResidualRelu:
      return {LinearEpilogue::Kind::kResidualAddRelu, operand.as<const float>()};
    default:
      return {LinearEpilogue::Kind::kResidualAdd, operand.as<const float>()};
  }
}

FusedRopeArgs fused_rope_args(const FusedGroup& group, const TensorRef& x, const TensorRef& pos,
                              const TensorRef* cache, const TensorRef& output, ThreadPool& pool,
                              const NodeDesc& error_node) {
  FusedRopeArgs args;
  args.x = x.as<const float>();
  args.pos = pos.as<const int64_t>();
  args.pos_count = pos.elements();
  args.out = output.as<float>();
  args.batch = x.dims[0];
  args.seq = x.dims[1];
  args.heads = x.dims[2];
  args.head_dim = x.dims[3];
  args.out_seq = output.dims[2];
  args.into_cache = cache != nullptr;
  if (cache != nullptr) {
    args.cache = cache->data;
    args.cache_bytes = cache->bytes();
  }
  args.table = group.table.get();
  args.pool = &pool;
  args.node = &error_node;
  return args;
}

bool transpose_keeps_layout(const NodeDesc& node, const Dims& input) {
  const std::array<int, RTS_MAX_RANK> perm = resolve_perm(node, input.size());
  int last = -1;
  for (size_t i = 0; i < input.size(); ++i) {
    if (input[perm[i]] == 1) continue;
    if (perm[i] < last) return false;
    last = perm[i];
  }
  return true;
}

std::string group_name(const Engine& engine, const FusedGroup& group) {
  const std::string& first = engine.nodes()[group.nodes[0]].desc->name;
  std::string name = first;
  for (size_t i = 1; i < group.nodes.size(); ++i) {
    const std::string& member = engine.nodes()[group.nodes[i]].desc->name;
    // Drop the prefix shared with the first member, up to a '.'.
    size_t common = 0;
    for (size_t c = 0; c < std::min(first.size(), member.size()) && first[c] == member[c]; ++c) {
      if (first[c] == '.') common = c + 1;
    }
    name += '+';
    name += member.substr(common);
  }
  return name;
}

const char* group_kernel_suffix(FusedKind kind) {
  switch (kind) {
    case FusedKind::kLinearSiluMul:
      return "silu*mul epilogue";
    case FusedKind::kLinearResidual:
      return "residual epilogue";
    case FusedKind::kRopeToHeads:
      return "rope to heads";
    case FusedKind::kRopeIntoCache:
      return "rope into kv cache";
    case FusedKind::kConvRelu:
      return "relu epilogue";
    case FusedKind::kConvResidual:
      return "residual epilogue";
    case FusedKind::kConvResidualRelu:
      return "residual+relu epilogue";
  }
  return "?";
}

}  // namespace rtscope::cpu
