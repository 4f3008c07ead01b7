#include "execution_plan.hpp"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>

#include "device.hpp"
#include "engine.hpp"
#include "error.hpp"
#include "pipelines.hpp"
#include "shader_interface.hpp"

namespace rtscope::vulkan {
namespace {

VkDeviceSize value_bytes(const Dims& dims, rts_dtype device_dtype) {
  return static_cast<VkDeviceSize>(element_count(dims)) * dtype_size(device_dtype);
}

// Hands out reusable buffer slots: the smallest free one that fits, else
// the largest free one (which then grows), else a new one.
class SlotAllocator {
 public:
  uint32_t take(VkDeviceSize bytes) {
    int best = -1;
    for (size_t i = 0; i < free_.size(); ++i) {
      if (best < 0) {
        best = static_cast<int>(i);
        continue;
      }
      const VkDeviceSize capacity = bytes_[free_[i]];
      const VkDeviceSize best_capacity = bytes_[free_[best]];
      const bool fits = capacity >= bytes;
      const bool best_fits = best_capacity >= bytes;
      if ((fits && (!best_fits || capacity < best_capacity)) ||
          (!fits && !best_fits && capacity > best_capacity)) {
        best = static_cast<int>(i);
      }
    }
    uint32_t slot;
    if (best >= 0) {
      slot = free_[best];
      free_.erase(free_.begin() + best);
    } else {
      slot = static_cast<uint32_t>(bytes_.size());
      bytes_.push_back(0);
    }
    bytes_[slot] = std::max(bytes_[slot], bytes);
    return slot;
  }
  void give_back(uint32_t slot) { free_.push_back(slot); }
  const std::vector<VkDeviceSize>& bytes() const { return bytes_; }

 private:
  std::vector<VkDeviceSize> bytes_;
  std::vector<uint32_t> free_;
};

constexpr VkDeviceSize kStagingAlignment = 256;

// Host bindings up to this size are used in the staging buffer (host
// memory) itself: an output its dispatch writes there (a decode step's next
// tokens need no copy at the end, nor the barrier before it), and an input
// that a single node reads (the tokens an embedding reads while the other
// inputs are copied in). An input several nodes read (a position every
// layer reads) is copied to device memory, where reads are cheap.
constexpr VkDeviceSize kDirectStagingMaxBytes = 4096;

VkDeviceSize align_up(VkDeviceSize value) {
  return (value + kStagingAlignment - 1) / kStagingAlignment * kStagingAlignment;
}

class PlanBuilder {
 public:
  PlanBuilder(const Engine& engine, const DeviceBindings& device_bindings,
              const PipelineSet& pipelines, ExecutionPlan& plan)
      : engine_(engine),
        device_bindings_(device_bindings),
        pipelines_(pipelines),
        plan_(plan),
        values_(engine.values()),
        nodes_(engine.nodes()),
        root_(values_.size()),
        last_use_(values_.size(), -1),
        slot_of_(values_.size(), -1) {}

  void build(std::span<const Dims> input_dims) {
    plan_.dims = engine_.infer_shapes(input_dims);
    plan_.regions.resize(values_.size());
    runs_.assign(nodes_.size(), true);
    residual_.assign(nodes_.size(), false);
    row_norm_eps_.assign(nodes_.size(), std::nullopt);
    gated_.assign(nodes_.size(), false);
    heads_.assign(nodes_.size(), std::nullopt);
    argmax_state_.assign(nodes_.size(), std::nullopt);
    fuse_row_norms();
    fuse_gated_products();
    fuse_rope_projections();
    fuse_residual_adds();
    if (engine_.device().caps().fuse_argmax) fuse_argmaxes();
    find_views();
    schedule_nodes();
    choose_direct_staging();
    place_values();
    place_scratch();
    place_argmax_states();
    stage_bindings();
    add_host_checks();
    encode();
    if (engine_.device().caps().chain_batches) enable_chaining();
    plan_.commands.finalize(engine_.device().handle(), engine_.device().set_layout());
  }

 private:
  std::string engine_label() const { return str_cat("engine '", engine_.graph().name, "'"); }

  // Whether `node` runs matvec_t for this plan's shapes, so that it can
  // take in a neighbour (OpSpec::runs_matvec_t).
  bool runs_matvec_t(const EngineNode& node) const {
    if (node.spec->runs_matvec_t == nullptr || node.inputs.size() < 2) return false;
    std::vector<const Dims*> dims;
    for (uint32_t id : node.inputs) dims.push_back(&plan_.dims[id]);
    return node.spec->runs_matvec_t(dims, values_[node.inputs[1]].transposed);
  }

  // The node producing each value (-1: none) and how many nodes and engine
  // outputs read it, as the fusions so far have rewired the nodes.
  struct Links {
    std::vector<int> producer;
    std::vector<int> readers;
  };
  Links links() const {
    Links links{std::vector<int>(values_.size(), -1), std::vector<int>(values_.size(), 0)};
    for (size_t n = 0; n < nodes_.size(); ++n) {
      for (uint32_t id : nodes_[n].outputs) links.producer[id] = static_cast<int>(n);
      for (uint32_t id : nodes_[n].inputs) ++links.readers[id];
    }
    for (uint32_t id : engine_.output_values()) ++links.readers[id];
    return links;
  }

  // A node another one took in: it runs nothing and names no values.
  void drop(size_t n) {
    runs_[n] = false;
    nodes_[n].inputs.clear();
    nodes_[n].outputs.clear();
  }

  // n = rmsnorm(x, g) read only by projections running matvec_t on it
  // (without a bias): each of them normalizes x itself, with g in its bias
  // binding, and the norm runs nothing. Every projection recomputes the
  // row's sum of squares from the x it reads anyway.
  void fuse_row_norms() {
    std::vector<std::vector<size_t>> readers(values_.size());
    for (size_t n = 0; n < nodes_.size(); ++n) {
      for (uint32_t id : nodes_[n].inputs) readers[id].push_back(n);
    }
    std::vector<bool> engine_output(values_.size(), false);
    for (uint32_t id : engine_.output_values()) engine_output[id] = true;
    for (size_t r = 0; r < nodes_.size(); ++r) {
      EngineNode& norm = nodes_[r];
      if (norm.desc->op != "rmsnorm" || norm.inputs.size() != 2 || norm.outputs.size() != 1) {
        continue;
      }
      const uint32_t x = norm.inputs[0];
      const uint32_t gain = norm.inputs[1];
      const uint32_t normed = norm.outputs[0];
      if (engine_output[normed] || readers[normed].empty() ||
          values_[gain].role != ValueRole::kConstant ||
          values_[gain].device_dtype != values_[normed].device_dtype ||
          values_[x].device_dtype != values_[normed].device_dtype ||
          engine_.constant_region(values_[gain].role_index).offset % 16 != 0) {
        continue;
      }
      const bool all_fuse =
          std::all_of(readers[normed].begin(), readers[normed].end(), [&](size_t n) {
            const EngineNode& projection = nodes_[n];
            return projection.inputs.size() == 2 && projection.inputs[0] == normed &&
                   projection.inputs[1] != normed && !row_norm_eps_[n] && runs_matvec_t(projection);
          });
      if (!all_fuse) continue;
      const auto eps = static_cast<float>(norm.desc->attr_real("eps", 1e-5));
      for (size_t n : readers[normed]) {
        nodes_[n].inputs[0] = x;
        nodes_[n].inputs.push_back(gain);
        row_norm_eps_[n] = eps;
      }
      drop(r);
      ++plan_.fused_row_norms;
    }
  }

  // y = mul(silu(g), u) where g and u are projections of the same input
  // (the same fused rmsnorm too) running matvec_t without a bias, each
  // read by nothing else: g's node computes both and writes y, with u's
  // weight appended to its inputs; u's node, the silu and the mul run
  // nothing.
  void fuse_gated_products() {
    const auto [producer, readers] = links();
    auto plain_projection = [&](int p) {
      if (p < 0) return false;
      const EngineNode& node = nodes_[p];
      const size_t inputs = row_norm_eps_[p] ? 3 : 2;
      return node.desc->op == "linear" && node.inputs.size() == inputs &&
             node.outputs.size() == 1 && !gated_[p] && runs_matvec_t(node);
    };
    for (size_t m = 0; m < nodes_.size(); ++m) {
      EngineNode& mul = nodes_[m];
      if (mul.desc->op != "mul" || mul.inputs.size() != 2 || mul.outputs.size() != 1) continue;
      for (int side = 0; side < 2; ++side) {
        const uint32_t activated = mul.inputs[side];
        const uint32_t up_value = mul.inputs[1 - side];
        const int s = producer[activated];
        if (s < 0 || nodes_[s].desc->op != "silu" || nodes_[s].inputs.size() != 1 ||
            readers[activated] != 1) {
          continue;
        }
        const uint32_t gate_value = nodes_[s].inputs[0];
        const int g = producer[gate_value];
        const int u = producer[up_value];
        if (g == u || readers[gate_value] != 1 || readers[up_value] != 1 || !plain_projection(g) ||
            !plain_projection(u)) {
          continue;
        }
        EngineNode& gate = nodes_[g];
        const EngineNode& up = nodes_[u];
        const uint32_t y = mul.outputs[0];
        const uint32_t gate_weight = gate.inputs[1];
        const uint32_t up_weight = up.inputs[1];
        if (gate.inputs[0] != up.inputs[0] || row_norm_eps_[g] != row_norm_eps_[u] ||
            (row_norm_eps_[g] && gate.inputs[2] != up.inputs[2]) ||
            values_[up_weight].role != ValueRole::kConstant ||
            values_[up_weight].transposed != values_[gate_weight].transposed ||
            values_[up_weight].device_dtype != values_[gate_weight].device_dtype ||
            plan_.dims[up_weight] != plan_.dims[gate_weight] ||
            plan_.dims[y] != plan_.dims[gate_value] || plan_.dims[y] != plan_.dims[up_value] ||
            values_[y].device_dtype != values_[gate_value].device_dtype ||
            engine_.constant_region(values_[up_weight].role_index).offset % 16 != 0) {
          continue;
        }
        gate.inputs.push_back(up_weight);
        gate.outputs = {y};
        gated_[g] = true;
        for (size_t dead : {static_cast<size_t>(u), static_cast<size_t>(s), m}) drop(dead);
        ++plan_.fused_gated_products;
        break;
      }
    }
  }

  // y = rope(reshape(p), pos) where p is a projection's output running
  // matvec_t without a bias, read only by the reshape (read only by the
  // rope), and the reshape gives [B, S, heads, head_dim] with p's last dim
  // heads * head_dim: the projection computes each pair of rotated columns
  // and writes y, with pos appended to its inputs; the reshape and the
  // rope run nothing.
  void fuse_rope_projections() {
    const auto [producer, readers] = links();
    for (size_t r = 0; r < nodes_.size(); ++r) {
      EngineNode& rope = nodes_[r];
      if (rope.desc->op != "rope" || rope.inputs.size() != 2 || rope.outputs.size() != 1) continue;
      const uint32_t heads_view = rope.inputs[0];
      const int v = producer[heads_view];
      if (v < 0 || !nodes_[v].spec->output_views_input || nodes_[v].inputs.size() < 1 ||
          readers[heads_view] != 1) {
        continue;
      }
      const uint32_t product = nodes_[v].inputs[0];
      const int p = producer[product];
      if (p < 0 || readers[product] != 1) continue;
      EngineNode& projection = nodes_[p];
      const size_t plain_inputs = row_norm_eps_[p] ? 3 : 2;
      if (projection.desc->op != "linear" || projection.inputs.size() != plain_inputs ||
          projection.outputs.size() != 1 || gated_[p] || heads_[p] || !runs_matvec_t(projection)) {
        continue;
      }
      const Dims& heads = plan_.dims[heads_view];
      const Dims& flat = plan_.dims[product];
      if (heads.size() != 4 || heads[3] <= 0 || heads[3] % 2 != 0 || flat.empty() ||
          flat.back() != heads[2] * heads[3] || heads[1] <= 0 ||
          values_[rope.outputs[0]].device_dtype != values_[product].device_dtype ||
          heads[1] > UINT32_MAX || heads[3] > UINT32_MAX) {
        continue;
      }
      projection.inputs.push_back(rope.inputs[1]);
      projection.outputs = {rope.outputs[0]};
      heads_[p] = EncodeArgs::Heads{
          .head_dim = static_cast<uint32_t>(heads[3]),
          .seq = static_cast<uint32_t>(heads[1]),
          .rope = true,
          .log2_base = static_cast<float>(std::log2(rope.desc->attr_real("base", 10000.0)))};
      drop(static_cast<size_t>(v));
      drop(r);
      ++plan_.fused_ropes;
    }
  }

  // y = add(p, r) where p is a projection's output read by nothing else
  // and r has p's shape: the projection adds r itself and writes y (its
  // OpSpec::runs_matvec_t says for which shapes), and the add runs
  // nothing. r must exist before the projection runs: an engine input, a
  // constant, or the output of an earlier node.
  void fuse_residual_adds() {
    const auto [producer, readers] = links();
    for (size_t a = 0; a < nodes_.size(); ++a) {
      EngineNode& add = nodes_[a];
      if (add.desc->op != "add" || add.inputs.size() != 2 || add.outputs.size() != 1) continue;
      for (int side = 0; side < 2; ++side) {
        const uint32_t product = add.inputs[side];
        const uint32_t residual = add.inputs[1 - side];
        const int p = producer[product];
        if (p < 0 || readers[product] != 1 || product == residual) continue;
        EngineNode& projection = nodes_[p];
        if (projection.outputs.size() != 1 || residual_[p] || gated_[p] || heads_[p] ||
            producer[residual] >= p) {
          continue;
        }
        const Dims& out = plan_.dims[add.outputs[0]];
        if (plan_.dims[product] != out || plan_.dims[residual] != out ||
            values_[residual].device_dtype != values_[product].device_dtype ||
            values_[add.outputs[0]].device_dtype != values_[product].device_dtype) {
          continue;
        }
        if (!runs_matvec_t(projection)) continue;
        projection.inputs.push_back(residual);
        projection.outputs = {add.outputs[0]};
        residual_[p] = true;
        drop(a);
        ++plan_.fused_residual_adds;
        break;
      }
    }
  }

  static bool over_last_axis(const EngineNode& argmax, size_t rank) {
    const int64_t axis = argmax.desc->attr_int("axis", -1);
    return axis == -1 || axis == static_cast<int64_t>(rank) - 1;
  }

  // i = argmax(p) over p's last axis, where p is an f16 projection running
  // matvec_t without a residual, a gate or heads, of at most
  // kMatvecArgmaxMaxRows rows and kMatvecArgmaxPages pages of columns: the
  // projection writes p as before (the logits may be read elsewhere) and
  // i as a second output (kMatmulArgmax), and the argmax runs nothing. A
  // decode step then picks its next token without a dispatch of its own.
  void fuse_argmaxes() {
    const std::vector<int> producer = links().producer;
    for (size_t m = 0; m < nodes_.size(); ++m) {
      EngineNode& argmax = nodes_[m];
      if (argmax.desc->op != "argmax" || argmax.inputs.size() != 1 || argmax.outputs.size() != 1) {
        continue;
      }
      const uint32_t logits = argmax.inputs[0];
      const uint32_t index = argmax.outputs[0];
      const int p = producer[logits];
      if (p < 0) continue;
      EngineNode& projection = nodes_[p];
      const Dims& dims = plan_.dims[logits];
      const size_t plain_inputs = row_norm_eps_[p] ? 3 : 2;
      if (projection.desc->op != "linear" || projection.inputs.size() != plain_inputs ||
          projection.outputs.size() != 1 || residual_[p] || gated_[p] || heads_[p] ||
          !runs_matvec_t(projection) || dims.empty() || !over_last_axis(argmax, dims.size()) ||
          values_[logits].device_dtype != RTS_DTYPE_F16 ||
          values_[index].device_dtype != RTS_DTYPE_I64) {
        continue;
      }
      const int64_t columns = dims.back();
      if (columns <= 0 || element_count(dims) / columns > kMatvecArgmaxMaxRows ||
          columns > int64_t{kMatvecArgmaxPages} * kMatvecArgmaxPageColumns) {
        continue;
      }
      projection.outputs.push_back(index);
      argmax_state_[p] = BufferRegion{};  // placed by place_argmax_states
      drop(m);
      ++plan_.fused_argmaxes;
    }
  }

  // Lifetimes and views. A reshape output views its input, and so does a
  // transpose that keeps the memory order for these shapes; a
  // kv_cache_update output views the cache when nothing reads the old cache
  // afterwards (then the update happens in place on the device).
  void find_views() {
    const Links before_views = links();
    const int end = static_cast<int>(nodes_.size());
    for (uint32_t id = 0; id < values_.size(); ++id) root_[id] = id;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      for (uint32_t id : nodes_[n].inputs) last_use_[id] = static_cast<int>(n);
    }
    for (uint32_t id : engine_.output_values()) last_use_[id] = end;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      const EngineNode& node = nodes_[n];
      if (node.outputs.empty()) continue;  // fused into another node
      const uint32_t output = node.outputs[0];
      uint32_t viewed = UINT32_MAX;
      if (node.spec->output_views_input ||
          (node.spec->views_input_for != nullptr &&
           node.spec->views_input_for(*node.desc, plan_.dims[node.inputs[0]]))) {
        viewed = root_[node.inputs[0]];
        runs_[n] = false;
      } else if (node.desc->op == "kv_cache_update") {
        const uint32_t cache = root_[node.inputs[0]];
        if (values_[cache].role != ValueRole::kConstant &&
            last_use_[cache] <= static_cast<int>(n) && may_update_in_place(cache, output)) {
          viewed = cache;
          ++plan_.in_place_updates;
          if (engine_.device().caps().fuse_cache_writes) fuse_cache_write(n, before_views);
        }
      }
      if (viewed == UINT32_MAX) continue;
      root_[output] = viewed;
      last_use_[viewed] = std::max(last_use_[viewed], last_use_[output]);
    }
  }

  // An in-place kv_cache_update n of transpose(perm 0,2,1,3) of y, where y
  // is [B, S, H, Dh] (S or H 1, so the transpose is a view) and is a
  // projection's output with its rope fused, or a reshape view of the
  // output [B, S, H·Dh] of a projection running matvec_t without a
  // residual or a gate, each value read only by the next: the projection
  // writes its rows into the cache at the position itself
  // (kMatmulCacheWrite), with the position appended to its inputs unless
  // its rope already brought that one, and
  // the update runs nothing (its inputs stay for the host's position
  // check). Nothing else may read the cache between the two.
  void fuse_cache_write(size_t n, const Links& links) {
    const EngineNode& update = nodes_[n];
    if (update.inputs.size() != 3 || update.outputs.size() != 1) return;
    // The node producing `value` when it is a view of kind `op` (it runs
    // nothing) and `value` has no other reader; else -1.
    const auto view_producer = [&](uint32_t value, const char* op) {
      const int v = links.producer[value];
      return v >= 0 && links.readers[value] == 1 && !runs_[v] && nodes_[v].desc->op == op &&
                     nodes_[v].inputs.size() == 1
                 ? v
                 : -1;
    };
    const int t = view_producer(update.inputs[1], "transpose");
    if (t < 0 || nodes_[t].desc->attr_ints("perm") != std::vector<int64_t>{0, 2, 1, 3}) return;
    const uint32_t heads_value = nodes_[t].inputs[0];
    if (links.readers[heads_value] != 1) return;
    const Dims& cache = plan_.dims[update.inputs[0]];
    const Dims& x = plan_.dims[update.inputs[1]];
    const Dims& heads = plan_.dims[heads_value];
    if (cache.size() != 4 || x.size() != 4 || heads.size() != 4 || x[0] != cache[0] ||
        x[1] != cache[1] || x[3] != cache[3] || heads != Dims{x[0], x[2], x[1], x[3]} ||
        (x[1] != 1 && x[2] != 1) || x[2] <= 0 || x[3] <= 0 || cache[2] > UINT32_MAX ||
        x[3] > UINT32_MAX || x[2] > cache[2]) {
      return;
    }
    int p = links.producer[heads_value];
    if (p >= 0 && !heads_[p]) {
      // No rope: a reshape view of the flat product.
      const int r = view_producer(heads_value, "reshape");
      if (r < 0) return;
      const uint32_t flat = nodes_[r].inputs[0];
      if (links.readers[flat] != 1 || plan_.dims[flat].empty() ||
          plan_.dims[flat].back() != x[1] * x[3]) {
        return;
      }
      p = links.producer[flat];
    }
    if (p < 0 || !runs_[p]) return;
    EngineNode& projection = nodes_[p];
    const uint32_t pos = update.inputs[2];
    if (projection.desc->op != "linear" || projection.outputs.size() != 1 || residual_[p] ||
        gated_[p] || !runs_matvec_t(projection) ||
        values_[update.outputs[0]].device_dtype != values_[projection.outputs[0]].device_dtype ||
        (heads_[p] && root_[projection.inputs.back()] != root_[pos])) {
      return;
    }
    const uint32_t storage = root_[update.inputs[0]];
    for (size_t m = static_cast<size_t>(p) + 1; m < n; ++m) {
      for (uint32_t id : nodes_[m].inputs) {
        if (root_[id] == storage) return;
      }
    }
    projection.outputs = {update.outputs[0]};
    if (!heads_[p]) {
      // Without a rope the position comes in here; with one it is there.
      projection.inputs.push_back(pos);
      heads_[p] = EncodeArgs::Heads{.head_dim = static_cast<uint32_t>(x[3]),
                                    .seq = static_cast<uint32_t>(x[2])};
    }
    heads_[p]->cache_len = static_cast<uint32_t>(cache[2]);
    runs_[n] = false;
    ++plan_.fused_cache_writes;
  }

  // Dependency levels of the nodes: one more than the latest earlier node
  // writing storage this one reads or writes, or reading storage it
  // writes. Computed on the values' own storage (views resolved), before
  // any buffer is shared, so that only real dependencies order nodes;
  // nodes of one level run between the same barriers (the q, k and v
  // paths of an attention block, a gate and up projection).
  void schedule_nodes() {
    level_.assign(nodes_.size(), 0);
    std::vector<std::vector<uint32_t>> reads(nodes_.size());
    std::vector<std::vector<uint32_t>> writes(nodes_.size());
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (!runs_[n]) continue;  // a view runs nothing
      for (uint32_t id : nodes_[n].inputs) {
        if (values_[root_[id]].role != ValueRole::kConstant) reads[n].push_back(root_[id]);
      }
      for (uint32_t id : nodes_[n].outputs) writes[n].push_back(root_[id]);
    }
    auto shares = [](const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
      return std::any_of(a.begin(), a.end(), [&b](uint32_t id) {
        return std::find(b.begin(), b.end(), id) != b.end();
      });
    };
    for (size_t n = 0; n < nodes_.size(); ++n) {
      for (size_t m = 0; m < n; ++m) {
        if (level_[m] + 1 <= level_[n]) continue;
        if (shares(writes[n], reads[m]) || shares(writes[n], writes[m]) ||
            shares(reads[n], writes[m])) {
          level_[n] = level_[m] + 1;
        }
      }
    }
    order_.resize(nodes_.size());
    for (size_t n = 0; n < nodes_.size(); ++n) order_[n] = n;
    std::stable_sort(order_.begin(), order_.end(),
                     [this](size_t a, size_t b) { return level_[a] < level_[b]; });
  }

  // Host bindings used in the staging buffer itself (kDirectStagingMaxBytes):
  // a value that is no constant or view, small, and bound once; an input
  // read by one node, an output computed here.
  void choose_direct_staging() {
    direct_.assign(values_.size(), false);
    auto small = [&](uint32_t id) {
      return root_[id] == id &&
             value_bytes(plan_.dims[id], values_[id].device_dtype) <= kDirectStagingMaxBytes;
    };
    const std::vector<uint32_t>& inputs = engine_.input_values();
    for (uint32_t i = 0; i < inputs.size(); ++i) {
      const uint32_t id = inputs[i];
      if (device_input(i) || !small(id) || std::count(inputs.begin(), inputs.end(), id) != 1 ||
          std::count(engine_.output_values().begin(), engine_.output_values().end(), id) != 0) {
        continue;
      }
      size_t readers = 0;
      for (size_t n = 0; n < nodes_.size(); ++n) {
        if (!runs_[n]) continue;
        readers += std::any_of(nodes_[n].inputs.begin(), nodes_[n].inputs.end(),
                               [&](uint32_t input) { return root_[input] == id; });
      }
      direct_[id] = readers == 1;
    }
    const std::vector<uint32_t>& outputs = engine_.output_values();
    for (uint32_t o = 0; o < outputs.size(); ++o) {
      const uint32_t id = outputs[o];
      direct_[id] = !device_output(o) && small(id) &&
                    values_[id].role == ValueRole::kIntermediate &&
                    std::count(outputs.begin(), outputs.end(), id) == 1;
    }
  }

  // Where output `output` is computed into the caller's device memory
  // directly, instead of into a slot copied there at the end (a decode
  // step's logits left on the device), or nullopt: a value of its own,
  // bound to this output only, at an offset a dispatch can bind, and apart
  // from every other device binding (an aliased KV cache is updated in
  // place its own way).
  std::optional<BufferRegion> computed_in_binding(uint32_t output) const {
    const std::optional<BufferRegion>& bound = device_output(output);
    const std::vector<uint32_t>& outputs = engine_.output_values();
    const uint32_t id = outputs[output];
    if (!bound || root_[id] != id || values_[id].role != ValueRole::kIntermediate ||
        std::count(outputs.begin(), outputs.end(), id) != 1) {
      return std::nullopt;
    }
    const VkDeviceSize bytes = value_bytes(plan_.dims[id], values_[id].device_dtype);
    const VkDeviceSize bound_bytes = std::max<VkDeviceSize>(bytes, 4);  // as a slot's region
    const VkDeviceSize alignment =
        std::max<VkDeviceSize>(16, engine_.device().caps().storage_offset_alignment);
    if (bytes == 0 || bound->size < bound_bytes || bound->offset % alignment != 0) {
      return std::nullopt;
    }
    for (const auto& input : device_bindings_.inputs) {
      if (input && input->overlaps(*bound)) return std::nullopt;
    }
    for (uint32_t o = 0; o < outputs.size(); ++o) {
      if (o != output && device_output(o) && device_output(o)->overlaps(*bound)) {
        return std::nullopt;
      }
    }
    return BufferRegion{bound->buffer, bound->offset, bound_bytes};
  }

  // Constants live in the engine; every engine input gets its own buffer
  // (staging writes it before anything runs); outputs computed into the
  // caller's device memory are placed there; other intermediates and
  // outputs share slots by lifetime.
  void place_values() {
    Device& device = engine_.device();
    std::vector<bool> in_binding(values_.size(), false);
    for (uint32_t o = 0; o < engine_.output_values().size(); ++o) {
      const std::optional<BufferRegion> region = computed_in_binding(o);
      if (!region) continue;
      const uint32_t id = engine_.output_values()[o];
      in_binding[id] = true;
      plan_.regions[id] = *region;
    }
    for (uint32_t id = 0; id < values_.size(); ++id) {
      if (values_[id].role == ValueRole::kConstant) {
        plan_.regions[id] = engine_.constant_region(values_[id].role_index);
      } else if (values_[id].role == ValueRole::kInput && device_input(values_[id].role_index)) {
        plan_.regions[id] = *device_input(values_[id].role_index);
      } else if (values_[id].role == ValueRole::kInput && !direct_[id]) {
        plan_.buffers.push_back(device.device_memory().allocate(
            value_bytes(plan_.dims[id], values_[id].device_dtype),
            str_cat(engine_label(), " input '", values_[id].name, "'")));
        plan_.regions[id] = plan_.buffers.back().region();
      }
    }
    // Slots in dependency-level order: a value's slot is free for outputs
    // of the levels after the last one reading it, so reuse never orders
    // two nodes of one level (which would cost a barrier).
    std::vector<int> last_level(values_.size(), -1);
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (!runs_[n]) continue;  // a view
      for (uint32_t id : nodes_[n].inputs) {
        last_level[root_[id]] = std::max(last_level[root_[id]], level_[n]);
      }
      for (uint32_t id : nodes_[n].outputs) {
        last_level[root_[id]] = std::max(last_level[root_[id]], level_[n]);
      }
    }
    for (uint32_t id : engine_.output_values()) last_level[root_[id]] = INT_MAX;
    SlotAllocator slots;
    std::vector<uint8_t> released(values_.size(), 0);
    for (size_t first = 0; first < order_.size();) {
      const int level = level_[order_[first]];
      size_t end = first;
      while (end < order_.size() && level_[order_[end]] == level) ++end;
      for (size_t i = first; i < end; ++i) {
        for (uint32_t id : nodes_[order_[i]].outputs) {
          if (root_[id] != id || slot_of_[id] >= 0 || direct_[id] || in_binding[id]) continue;
          slot_of_[id] =
              static_cast<int>(slots.take(value_bytes(plan_.dims[id], values_[id].device_dtype)));
        }
      }
      // Released only after the level's outputs took their slots: a node
      // never writes over what it reads.
      auto release_if_dead = [&](uint32_t id) {
        const uint32_t root = root_[id];
        if (slot_of_[root] < 0 || released[root] || last_level[root] > level) return;
        released[root] = 1;
        slots.give_back(static_cast<uint32_t>(slot_of_[root]));
      };
      for (size_t i = first; i < end; ++i) {
        for (uint32_t id : nodes_[order_[i]].inputs) release_if_dead(id);
        for (uint32_t id : nodes_[order_[i]].outputs) release_if_dead(id);
      }
      first = end;
    }
    const size_t first_slot_buffer = plan_.buffers.size();
    for (VkDeviceSize bytes : slots.bytes()) {
      plan_.buffers.push_back(
          device.device_memory().allocate(bytes, str_cat(engine_label(), " intermediate buffer")));
    }
    for (uint32_t id = 0; id < values_.size(); ++id) {
      if (slot_of_[id] >= 0) {
        const BufferRegion slot = plan_.buffers[first_slot_buffer + slot_of_[id]].region();
        plan_.regions[id] = {
            slot.buffer, slot.offset,
            std::max<VkDeviceSize>(value_bytes(plan_.dims[id], values_[id].device_dtype), 4)};
      }
    }
    for (uint32_t id = 0; id < values_.size(); ++id) {
      if (root_[id] != id) plan_.regions[id] = plan_.regions[root_[id]];
    }
  }

  // One scratch buffer, of the largest size a node asks for
  // (OpSpec::scratch_bytes), shared by every node that asks.
  void place_scratch() {
    wants_scratch_.assign(nodes_.size(), false);
    uint64_t bytes = 0;
    std::vector<const Dims*> dims;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      const EngineNode& node = nodes_[n];
      if (!runs_[n] || node.spec->scratch_bytes == nullptr) continue;
      dims.clear();
      for (uint32_t id : node.inputs) dims.push_back(&plan_.dims[id]);
      const uint64_t wanted = node.spec->scratch_bytes(dims, engine_.device().caps());
      wants_scratch_[n] = wanted > 0;
      bytes = std::max(bytes, wanted);
      if (wanted > 0 && node.spec->scratch_zeroed_bytes != nullptr) {
        scratch_zeroed_ = std::max(scratch_zeroed_,
                                   node.spec->scratch_zeroed_bytes(dims, engine_.device().caps()));
      }
    }
    if (bytes == 0) return;
    plan_.buffers.push_back(
        engine_.device().device_memory().allocate(bytes, str_cat(engine_label(), " scratch")));
    scratch_ = plan_.buffers.back().region();
  }

  // Each fused argmax's counter and keys (kMatvecArgmaxStateBytes), its
  // own: two of them may run between the same barriers.
  void place_argmax_states() {
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (!argmax_state_[n]) continue;
      plan_.buffers.push_back(engine_.device().device_memory().allocate(
          kMatvecArgmaxStateBytes, str_cat(engine_label(), " argmax state")));
      argmax_state_[n] = plan_.buffers.back().region();
    }
  }

  // Counters for batches the commands chain instead of separating them by
  // a barrier (CommandList::enable_chaining): word 0 unused and one per
  // batch at most.
  void enable_chaining() {
    const uint64_t dispatches = plan_.commands.dispatches();
    if (dispatches < 2 || !plan_.commands.has_waiting_dispatch()) return;
    plan_.buffers.push_back(engine_.device().device_memory().allocate(
        4 * (dispatches + 1), str_cat(engine_label(), " chain counters")));
    const BufferRegion staging = plan_.staging.region();
    plan_.commands.enable_chaining(plan_.buffers.back().region(),
                                   {staging.buffer, staging.offset + plan_.stall_word_offset, 4},
                                   engine_.device().caps().chain_stall_diagnostic);
  }

  // Staging layout: inputs the engine reads, then every output, then the
  // stall word of chained waits.
  void stage_bindings() {
    VkDeviceSize offset = 0;
    auto add = [&](std::vector<StagedTensor>& list, uint32_t binding, uint32_t id) {
      const EngineValue& value = values_[id];
      StagedTensor staged;
      staged.binding = binding;
      staged.value = id;
      staged.staging_offset = offset;
      staged.elements = static_cast<size_t>(element_count(plan_.dims[id]));
      staged.host_dtype = value.dtype;
      staged.device_dtype = value.device_dtype;
      const VkDeviceSize bytes = staged.bytes();
      offset += align_up(bytes);
      list.push_back(staged);
      return bytes;
    };
    for (uint32_t i = 0; i < engine_.input_values().size(); ++i) {
      const uint32_t id = engine_.input_values()[i];
      if (last_use_[id] < 0 || device_input(i)) continue;  // unread, or read in place
      plan_.staged_in_bytes += add(plan_.staged_inputs, i, id);
    }
    for (uint32_t o = 0; o < engine_.output_values().size(); ++o) {
      if (device_output(o)) continue;
      plan_.staged_out_bytes += add(plan_.staged_outputs, o, engine_.output_values()[o]);
    }
    plan_.stall_word_offset = offset;  // CommandList::enable_chaining
    offset += align_up(4);
    plan_.staging =
        engine_.device().staging_memory().allocate(offset, str_cat(engine_label(), " staging"));
    for (auto* list : {&plan_.staged_inputs, &plan_.staged_outputs}) {
      for (StagedTensor& staged : *list) {
        if (!direct_[staged.value]) continue;
        staged.direct = true;
        const BufferRegion staging = plan_.staging.region();
        const BufferRegion region{staging.buffer, staging.offset + staged.staging_offset,
                                  std::max<VkDeviceSize>(staged.bytes(), 4)};
        for (uint32_t id = 0; id < values_.size(); ++id) {
          if (root_[id] == staged.value) plan_.regions[id] = region;
        }
      }
    }
  }

  // Positions and ids that are engine inputs are visible to the host:
  // check them before submitting, so a bad one fails like on the CPU.
  void add_host_checks() {
    for (const EngineNode& node : nodes_) {
      const std::string& op = node.desc->op;
      HostCheck check;
      check.node = node.desc;
      uint32_t source;
      if (op == "kv_cache_update" || op == "attention") {
        source = node.inputs[op == "attention" ? 3 : 2];
        check.kind = HostCheck::Kind::kPosition;
        check.steps = plan_.dims[node.inputs[op == "attention" ? 0 : 1]][2];
        check.limit = plan_.dims[node.inputs[op == "attention" ? 1 : 0]][2];
        check.dims = plan_.dims[node.inputs[0]];
      } else if (op == "embedding") {
        source = node.inputs[1];
        check.kind = HostCheck::Kind::kIds;
        check.limit = plan_.dims[node.inputs[0]][0];
        check.dims = plan_.dims[source];
      } else {
        continue;
      }
      const EngineValue& value = values_[root_[source]];
      if (value.role != ValueRole::kInput) continue;
      check.input = value.role_index;
      plan_.checks.push_back(std::move(check));
    }
  }

  void encode() {
    // Counters the scratch's users keep zero between their runs start at
    // zero in every execute, whatever an earlier, failed one left.
    if (scratch_zeroed_ > 0) {
      plan_.commands.zero({scratch_.buffer, scratch_.offset, scratch_zeroed_});
    }
    for (const std::optional<BufferRegion>& state : argmax_state_) {
      if (state) plan_.commands.zero(*state);
    }
    for (const StagedTensor& staged : plan_.staged_inputs) {
      if (staged.direct) continue;  // read where the host wrote it
      plan_.commands.copy(plan_.staging.region(), staged.staging_offset,
                          plan_.regions[staged.value], 0, staged.bytes());
    }
    std::vector<TensorArg> inputs;
    std::vector<TensorArg> outputs;
    std::vector<uint32_t> pipelines;
    // Nodes that run per dependency level: one alone has its batch.
    std::vector<uint32_t> level_nodes;
    for (size_t n = 0; n < nodes_.size(); ++n) {
      if (!runs_[n]) continue;
      const auto level = static_cast<size_t>(level_[n]);
      if (level >= level_nodes.size()) level_nodes.resize(level + 1, 0);
      ++level_nodes[level];
    }
    auto arg = [&](uint32_t id) {
      return TensorArg{values_[id].device_dtype, plan_.dims[id], plan_.regions[id],
                       values_[id].transposed, values_[id].unit_gain};
    };
    for (size_t n : order_) {
      const EngineNode& node = nodes_[n];
      if (!runs_[n]) continue;  // a view
      inputs.clear();
      outputs.clear();
      for (uint32_t id : node.inputs) inputs.push_back(arg(id));
      for (uint32_t id : node.outputs) outputs.push_back(arg(id));
      // A fused argmax's indices: the second output.
      std::optional<TensorArg> argmax;
      if (argmax_state_[n]) {
        argmax = outputs.back();
        outputs.pop_back();
      }
      // Fused inputs were appended: the gain, the up weight, the position
      // (of a rope, a cache write or both), the residual.
      std::optional<TensorArg> residual;
      std::optional<TensorArg> gain;
      std::optional<TensorArg> up;
      if (residual_[n]) {
        residual = inputs.back();
        inputs.pop_back();
      }
      std::optional<TensorArg> pos;
      EncodeArgs::Heads heads;
      if (heads_[n]) {
        pos = inputs.back();
        inputs.pop_back();
        heads = *heads_[n];
        heads.pos = &*pos;
      }
      if (gated_[n]) {
        up = inputs.back();
        inputs.pop_back();
      }
      if (row_norm_eps_[n]) {
        gain = inputs.back();
        inputs.pop_back();
      }
      pipelines.clear();
      for (const std::string& shader : node.shaders)
        pipelines.push_back(pipelines_.index_of(shader));
      node.spec->encode(EncodeArgs{
          *node.desc, inputs, outputs, pipelines, engine_.device().caps(), plan_.commands,
          residual ? &*residual : nullptr, gain ? &*gain : nullptr, row_norm_eps_[n].value_or(0.0f),
          up ? &*up : nullptr, wants_scratch_[n] ? &scratch_ : nullptr, heads,
          EncodeArgs::Argmax{argmax ? &*argmax : nullptr,
                             argmax_state_[n].value_or(BufferRegion{})},
          level_nodes[static_cast<size_t>(level_[n])] == 1});
    }
    for (uint32_t p = 0; p < pipelines_.size(); ++p) {
      if (shader_family(pipelines_.name(p)).starts_with("skinny_coop")) {
        plan_.skinny_coop_products += plan_.commands.dispatches_on(p);
      }
      if (pipelines_.name(p) == "matvec_t_f16math") {
        plan_.f16_math_products += plan_.commands.dispatches_on(p);
      }
      if (shader_family(pipelines_.name(p)) == "matvec_t") {
        plan_.spread_products +=
            plan_.commands.dispatches_on(p, offsetof(MatvecPush, flags) / 4, kMatmulSpreadTeams);
      }
    }
    for (const StagedTensor& staged : plan_.staged_outputs) {
      if (staged.direct) continue;  // written in place
      plan_.commands.copy(plan_.regions[staged.value], 0, plan_.staging.region(),
                          staged.staging_offset, staged.bytes());
    }
    // A device-resident output not already written in place (an aliased
    // cache updated in place is) gets its value copied over.
    for (uint32_t o = 0; o < engine_.output_values().size(); ++o) {
      const std::optional<BufferRegion>& bound = device_output(o);
      const uint32_t id = engine_.output_values()[o];
      const VkDeviceSize bytes = value_bytes(plan_.dims[id], values_[id].device_dtype);
      if (!bound || bytes == 0) continue;
      const BufferRegion& value = plan_.regions[id];
      if (value.buffer == bound->buffer && value.offset == bound->offset) continue;
      plan_.commands.copy(value, 0, *bound, 0, bytes);
    }
  }

  // A device-resident input is the caller's memory: it is updated in place
  // only when the caller bound the updated value onto it (an aliased cache).
  // A host input is the plan's own copy.
  bool may_update_in_place(uint32_t cache, uint32_t updated) const {
    if (values_[cache].role != ValueRole::kInput) return true;
    const std::optional<BufferRegion>& bound = device_input(values_[cache].role_index);
    if (!bound) return true;
    for (uint32_t o = 0; o < engine_.output_values().size(); ++o) {
      if (engine_.output_values()[o] == updated && device_output(o) == bound) return true;
    }
    return false;
  }

  const std::optional<BufferRegion>& device_input(uint32_t input) const {
    return device_bindings_.inputs[input];
  }
  const std::optional<BufferRegion>& device_output(uint32_t output) const {
    return device_bindings_.outputs[output];
  }

  const Engine& engine_;
  const DeviceBindings& device_bindings_;
  const PipelineSet& pipelines_;
  ExecutionPlan& plan_;
  const std::vector<EngineValue>& values_;
  // The engine's nodes, as this plan runs them (fuse_residual_adds edits).
  std::vector<EngineNode> nodes_;
  // Per node: its last input is a residual added to its output.
  std::vector<bool> residual_;
  // Per node: the eps of an rmsnorm it applies to input 0 itself, with the
  // gain appended to its inputs (before a residual).
  std::vector<std::optional<float>> row_norm_eps_;
  // Per node: it computes silu(its product) · (input 0 · the weight
  // appended after the gain), fuse_gated_products.
  std::vector<bool> gated_;
  // Per node: the rope (fuse_rope_projections) and the cache write
  // (fuse_cache_write) it applies to its output, with their one position
  // appended to its inputs after the up weight; pos is set when encoding.
  std::vector<std::optional<EncodeArgs::Heads>> heads_;
  // Per node: it computes an argmax of its output too (fuse_argmaxes), the
  // indices its second output, with this state (place_argmax_states).
  std::vector<std::optional<BufferRegion>> argmax_state_;
  std::vector<bool> wants_scratch_;  // per node: it gets scratch_ (place_scratch)
  BufferRegion scratch_{};
  VkDeviceSize scratch_zeroed_ = 0;  // bytes of scratch_ zeroed at the start (place_scratch)
  std::vector<uint32_t> root_;       // the value whose storage each value uses
  std::vector<int> last_use_;        // last node reading the value (or a view of it)
  std::vector<int> slot_of_;         // arena slot of each root intermediate; -1: none
  std::vector<bool> direct_;         // per value: bound in staging (choose_direct_staging)
  std::vector<bool> runs_;           // per node: false for a view in this plan
  std::vector<int> level_;           // dependency level of each node
  std::vector<size_t> order_;        // nodes by level, then graph order
};

}  // namespace

std::unique_ptr<ExecutionPlan> build_plan(const Engine& engine, std::span<const Dims> input_dims,
                                          const DeviceBindings& device_bindings,
                                          const PipelineSet& pipelines) {
  auto plan = std::make_unique<ExecutionPlan>();
  PlanBuilder(engine, device_bindings, pipelines, *plan).build(input_dims);
  return plan;
}

}  // namespace rtscope::vulkan
