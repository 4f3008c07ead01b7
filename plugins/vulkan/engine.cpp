#include "engine.hpp"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <string_view>
#include <system_error>

#include "context.hpp"
#include "device.hpp"
#include "error.hpp"
#include "half.hpp"
#include "kernels/skinny_product.hpp"
#include "plugin.hpp"
#include "rtscope/kit/elapsed.hpp"
#include "upload.hpp"

namespace rtscope::vulkan {
namespace {

// What the device makes of each node: its op spec, dtype and device
// checks, and the shader variants it may run.
struct VulkanTyper {
  const DeviceCaps& caps;
  void bind(EngineNode& node) const { node.spec = &op_table().bind(*node.desc); }
  rts_dtype type(EngineNode& node, std::span<const rts_dtype> dtypes) const {
    op_table().check_node(*node.spec, *node.desc, dtypes);
    if (std::string reason = check_device_support(*node.spec, dtypes, caps); !reason.empty()) {
      fail(RTS_ERROR_UNSUPPORTED, node.desc->label(), ": ", reason);
    }
    node.shaders = vulkan::shader_variants(*node.spec, dtypes, caps);
    return op_table().output_dtype(*node.spec, dtypes);
  }
};

}  // namespace

Engine::Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph)
    : Engine(plugin, device, std::move(graph), false) {}

Engine::Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph, AsSegment)
    : Engine(plugin, device, std::move(graph), true) {}

Engine::~Engine() = default;

Engine::Engine(VulkanPlugin& plugin, uint32_t device, GraphDesc graph, bool segment)
    : kit::Engine(plugin),
      ResolvedGraph(std::move(graph), VulkanTyper{plugin.physical(device).caps}),
      plugin_(plugin),
      device_index_(device),
      caps_(plugin.physical(device).caps) {
  for (EngineValue& value : values()) value.device_dtype = device_dtype(value.dtype, caps_);
  transpose_linear_weights();
  fold_norm_gains();
  collect_shader_variants();

  // With static inputs every shape is known now: check them all before
  // touching the device.
  const GraphDesc& desc = ResolvedGraph::graph();  // `graph` is the moved-from argument
  if (const auto input_dims = kit::static_input_dims(desc)) infer_shapes(*input_dims);

  device_ = &plugin_.device(device_index_);
  if (!segment) split_into_segments();
  if (segments_.empty()) upload_constants();
  size_t constant_bytes = 0;
  for (const ConstantDesc& constant : desc.constants) constant_bytes += constant.bytes.size();
  plugin_.log(RTS_LOG_DEBUG,
              str_cat("vulkan: built engine '", desc.name, "': ", nodes().size(), " nodes, ",
                      shader_variants_.size(), " shader variants, ", desc.constants.size(),
                      " constants (", constant_bytes,
                      upload_thread_ ? " bytes uploading in the background, " : " bytes uploaded, ",
                      upload_stats_.shared_bytes, " of them shared with another engine), ",
                      aliases().size(), " aliases"));
}

std::unique_ptr<kit::Context> Engine::create_context(const rts_runtime_settings* settings) const {
  return std::make_unique<Context>(*this, settings);
}

void Engine::split_into_segments() {
  std::vector<uint8_t> data_dependent(nodes().size(), 0);
  bool any = false;
  for (size_t n = 0; n < nodes().size(); ++n) {
    data_dependent[n] = is_data_dependent(*nodes()[n].spec, *nodes()[n].desc) ? 1 : 0;
    any = any || data_dependent[n];
  }
  if (!any) return;
  const auto ranges = segment_ranges(data_dependent);
  for (size_t s = 0; s < ranges.size(); ++s) {
    const auto [begin, end] = ranges[s];
    segments_.push_back(build_segment(plugin_, device_index_, graph(), begin, end,
                                      data_dependent[end - 1] != 0, s));
  }
  shader_variants_.clear();  // each segment engine has its own
  plugin_.log(RTS_LOG_DEBUG,
              str_cat("vulkan: engine '", graph().name, "' runs as ", segments_.size(),
                      " segments: its data-dependent outputs are sized after "
                      "their node ran"));
}

void Engine::transpose_linear_weights() {
  if (!caps_.subgroup_arithmetic) return;
  std::vector<int> linear_reads(values().size(), 0);  // as a linear's weight
  std::vector<int> other_reads(values().size(), 0);
  for (const EngineNode& node : nodes()) {
    const bool linear = std::string_view(node.spec->op) == "linear";
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      ++(linear && i == 1 ? linear_reads : other_reads)[node.inputs[i]];
    }
  }
  for (uint32_t id = 0; id < values().size(); ++id) {
    EngineValue& value = values()[id];
    if (value.role != ValueRole::kConstant || linear_reads[id] == 0 || other_reads[id] > 0) {
      continue;
    }
    const Dims& dims = graph().constants[value.role_index].value.dims;
    if (dims.size() != 2 || dims[0] % vector_elements(value.device_dtype) != 0) continue;
    value.transposed = true;
  }
  for (EngineNode& node : nodes()) {
    if (std::string_view(node.spec->op) != "linear" || !values()[node.inputs[1]].transposed)
      continue;
    const std::string suffix = node.shaders[1].substr(node.shaders[1].rfind('_'));
    node.shaders[1] =
        suffix == "_f16" && caps_.f16_products ? "matvec_t_f16math" : "matvec_t" + suffix;
    // Fourth, after matmul_coop_f16: the skinny product on tensor cores.
    if (adds_skinny_coop_variant(caps_.coop_matrix_f16, suffix == "_f16", caps_.skinny)) {
      node.shaders.emplace_back(caps_.skinny_coop->shader);
    }
  }
}

void Engine::fold_norm_gains() {
  if (!caps_.fold_norm_gains) return;
  const GraphDesc& desc = graph();
  std::vector<std::vector<std::pair<size_t, size_t>>> readers(values().size());  // node, input
  for (size_t n = 0; n < nodes().size(); ++n) {
    for (size_t i = 0; i < nodes()[n].inputs.size(); ++i) {
      readers[nodes()[n].inputs[i]].emplace_back(n, i);
    }
  }
  std::vector<bool> engine_output(values().size(), false);
  for (uint32_t id : output_values()) engine_output[id] = true;
  const auto op = [&](size_t n) { return std::string_view(nodes()[n].spec->op); };
  for (uint32_t g = 0; g < values().size(); ++g) {
    const EngineValue& gain = values()[g];
    if (gain.role != ValueRole::kConstant || readers[g].empty() || engine_output[g]) continue;
    const ConstantDesc& gain_constant = desc.constants[gain.role_index];
    const Dims& gain_dims = gain_constant.value.dims;
    const size_t k = gain_dims.size() == 1 ? static_cast<size_t>(gain_dims[0]) : 0;
    if (k == 0 || gain_constant.bytes.size() != k * dtype_size(gain.dtype) ||
        (gain.dtype != RTS_DTYPE_F32 && gain.dtype != RTS_DTYPE_F16)) {
      continue;
    }
    // g's readers: rmsnorms taking it as their gain; theirs: linears taking
    // the norm as their input and a transposed weight of K rows.
    std::vector<uint32_t> normed;
    std::vector<uint32_t> weights;
    bool folds = true;
    for (const auto& [n, i] : readers[g]) {
      const EngineNode& norm = nodes()[n];
      folds = folds && op(n) == "rmsnorm" && i == 1 && norm.inputs.size() == 2 &&
              norm.inputs[0] != g && norm.outputs.size() == 1 && !engine_output[norm.outputs[0]] &&
              !readers[norm.outputs[0]].empty();
      if (!folds) break;
      normed.push_back(norm.outputs[0]);
      for (const auto& [p, j] : readers[norm.outputs[0]]) {
        const EngineNode& projection = nodes()[p];
        folds = op(p) == "linear" && j == 0 && projection.inputs.size() >= 2 &&
                projection.inputs[1] != norm.outputs[0] &&
                values()[projection.inputs[1]].transposed;
        if (!folds) break;
        weights.push_back(projection.inputs[1]);
      }
      if (!folds) break;
    }
    // Each weight read only with one of g's norms (transposed weights are
    // read by linears alone), and of K rows.
    for (size_t w = 0; folds && w < weights.size(); ++w) {
      const EngineValue& weight = values()[weights[w]];
      folds = weight.scaled_by < 0 &&
              desc.constants[weight.role_index].value.dims[0] == static_cast<int64_t>(k);
      for (const auto& [p, j] : readers[weights[w]]) {
        folds = folds && j == 1 &&
                std::find(normed.begin(), normed.end(), nodes()[p].inputs[0]) != normed.end();
      }
    }
    if (!folds) continue;
    std::vector<float> scale(k);
    convert_elements(scale.data(), RTS_DTYPE_F32, gain_constant.bytes.data(), gain.dtype, k,
                     sizeof(float));
    const auto index = static_cast<int32_t>(folded_gains_.size());
    folded_gains_.push_back({gain_constant.bytes.data(), std::move(scale)});
    values()[g].unit_gain = true;
    for (const uint32_t w : weights) values()[w].scaled_by = index;
  }
}

void Engine::collect_shader_variants() {
  for (const EngineNode& node : nodes()) {
    for (const std::string& shader : node.shaders) {
      if (std::find(shader_variants_.begin(), shader_variants_.end(), shader) ==
          shader_variants_.end()) {
        shader_variants_.push_back(shader);
      }
    }
  }
}

ConstantPool::Share Engine::place_constant(const ConstantDesc& constant, const ConstantKey& key,
                                           size_t bytes, BlockAllocator*& direct) {
  const auto allocate = [&] {
    const std::string what = str_cat("constant '", constant.value.name, "'");
    Allocation allocation;
    if (direct != nullptr) {
      try {
        allocation = direct->allocate(bytes, what);
      } catch (const Error&) {
        // The mapped memory is full (a small BAR window): stage the rest.
        direct = nullptr;
      }
    }
    if (!allocation) allocation = device_->device_memory().allocate(bytes, what);
    return allocation;
  };
  if (device_->upload_options().share && !constant.bytes.empty()) {
    return device_->constants().acquire(key, allocate);
  }
  return {std::make_shared<SharedConstant>(allocate()), true};
}

void Engine::upload_constants() {
  // Weights stored [N, K] for a linear are transposed while they are
  // written: no host copy of them is made.
  const auto start = std::chrono::steady_clock::now();
  BlockAllocator* direct = device_->direct_memory();
  const UploadOptions& options = device_->upload_options();
  try {
    for (const ConstantDesc& constant : graph().constants) {
      const rts_dtype stored = device_dtype(constant.value.dtype, caps_);
      const size_t elements = static_cast<size_t>(element_count(constant.value.dims));
      const size_t bytes = elements * dtype_size(stored);
      const EngineValue& value = values()[find_value(constant.value.name)];
      const FoldedGain* folded =
          value.scaled_by >= 0 ? &folded_gains_[static_cast<size_t>(value.scaled_by)] : nullptr;
      const ConstantKey key{constant.bytes.data(),
                            elements,
                            constant.value.dtype,
                            stored,
                            value.transposed ? static_cast<size_t>(constant.value.dims[0]) : 0,
                            value.unit_gain,
                            folded != nullptr ? folded->source : nullptr};
      ConstantPool::Share share = place_constant(constant, key, bytes, direct);
      const Allocation& allocation = share.constant->allocation();
      const UploadItem item{key.data,
                            elements,
                            key.host_dtype,
                            key.device_dtype,
                            allocation.region(),
                            allocation.mapped(),
                            key.transpose_rows,
                            key.ones,
                            folded != nullptr ? folded->scale.data() : nullptr};
      if (share.created) {
        created_.push_back(constants_.size());
        upload_items_.push_back(item);
      } else {
        shared_.push_back({constants_.size(), item});
        upload_stats_.shared_bytes += bytes;
      }
      constants_.push_back(std::move(share.constant));
    }
  } catch (...) {
    // Copies this engine made and will never write: an engine that
    // shares one writes it itself instead of waiting.
    for (const size_t index : created_) constants_[index]->mark(SharedConstant::State::failed);
    throw;
  }
  upload_stats_.alloc_ns = kit::elapsed_ns(start);
  if (upload_items_.empty()) return;
  if (options.overlap) {
    try {
      upload_thread_ = std::make_unique<UploadThread>(
          [this] { return upload_created(); },
          [this](const std::string& failure) {
            plugin_.log(RTS_LOG_WARN,
                        str_cat("vulkan: engine '", graph().name,
                                "': the background upload of its constants failed (", failure,
                                "); uploading them again before the first submit"));
          });
      upload_stats_.overlapped = true;
      return;
    } catch (const std::system_error& error) {
      plugin_.log(RTS_LOG_WARN, str_cat("vulkan: engine '", graph().name,
                                        "': no thread for a background upload (", error.what(),
                                        "); uploading the constants during the build"));
    }
  }
  upload_stats_.transfer = upload_created();
}

UploadStats Engine::upload_created() const {
  const auto mark = [this](SharedConstant::State state) {
    for (const size_t index : created_) constants_[index]->mark(state);
  };
  try {
    UploadStats stats = upload(*device_, upload_items_, device_->upload_options());
    mark(SharedConstant::State::written);
    return stats;
  } catch (...) {
    mark(SharedConstant::State::failed);
    throw;
  }
}

uint64_t Engine::wait_for_shared_constants() const {
  if (shared_.empty() || shared_written_.load(std::memory_order_acquire)) return 0;
  const auto start = std::chrono::steady_clock::now();
  for (const SharedUse& use : shared_) {
    SharedConstant& constant = *constants_[use.index];
    if (constant.wait_written()) continue;
    // The engine that uploads it failed: the bytes are this engine's too.
    try {
      upload(*device_, std::span(&use.item, 1), device_->upload_options());
    } catch (const Error& error) {
      fail(error.status(), "vulkan: engine '", graph().name, "': uploading constant '",
           graph().constants[use.index].value.name, "' failed: ", error.what());
    }
    constant.mark(SharedConstant::State::written);
  }
  shared_written_.store(true, std::memory_order_release);
  return kit::elapsed_ns(start);
}

Engine::UploadReport Engine::upload_report() const {
  UploadReport report = upload_stats_;
  if (upload_thread_) report.transfer = upload_thread_->stats().value_or(UploadStats{});
  return report;
}

uint64_t Engine::wait_for_constants() const {
  uint64_t waited = 0;
  if (upload_thread_) {
    try {
      waited = upload_thread_->wait();
    } catch (const Error& error) {
      fail(error.status(), "vulkan: engine '", graph().name,
           "': uploading its constants failed: ", error.what());
    }
  }
  return waited + wait_for_shared_constants();
}

std::vector<Dims> Engine::infer_shapes(std::span<const Dims> input_dims) const {
  return op_table().infer_dims(*this, input_dims);
}

void Engine::fill_info(rts_engine_info& info) const {
  ResolvedGraph::fill_info(info);
  // A segmented engine binds its outputs once their size is known.
  info.needs_output_allocation = segments_.empty() ? 0 : 1;
}

}  // namespace rtscope::vulkan
