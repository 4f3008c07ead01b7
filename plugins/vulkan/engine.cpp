#include "engine.hpp"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <thread>

#include "context.hpp"
#include "device.hpp"
#include "error.hpp"
#include "plugin.hpp"
#include "rtscope/kit/parallel_for.hpp"
#include "upload.hpp"

namespace rtscope::vulkan {
namespace {

// [rows, cols] row-major elements -> [cols, rows], in 64 x 64 tiles so that
// reads and writes both stay within cache lines (a strided element copy of
// a 1 GB model's weights takes seconds).
template <typename Element>
void transpose_tiles(const Element* in, Element* out, size_t rows, size_t cols) {
  constexpr size_t kTile = 64;
  for (size_t r0 = 0; r0 < rows; r0 += kTile) {
    const size_t r1 = std::min(rows, r0 + kTile);
    for (size_t c0 = 0; c0 < cols; c0 += kTile) {
      const size_t c1 = std::min(cols, c0 + kTile);
      for (size_t r = r0; r < r1; ++r) {
        for (size_t c = c0; c < c1; ++c) out[c * rows + r] = in[r * cols + c];
      }
    }
  }
}

std::vector<std::byte> transpose_matrix(const std::vector<std::byte>& bytes, const Dims& dims,
                                        size_t element) {
  const size_t rows = static_cast<size_t>(dims[0]);
  const size_t cols = static_cast<size_t>(dims[1]);
  std::vector<std::byte> out(bytes.size());
  if (element == 2) {
    transpose_tiles(reinterpret_cast<const uint16_t*>(bytes.data()),
                    reinterpret_cast<uint16_t*>(out.data()), rows, cols);
  } else if (element == 4) {
    transpose_tiles(reinterpret_cast<const uint32_t*>(bytes.data()),
                    reinterpret_cast<uint32_t*>(out.data()), rows, cols);
  } else {
    for (size_t r = 0; r < rows; ++r) {
      for (size_t c = 0; c < cols; ++c) {
        std::memcpy(&out[(c * rows + r) * element], &bytes[(r * cols + c) * element], element);
      }
    }
  }
  return out;
}

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
  plugin_.log(RTS_LOG_DEBUG, str_cat("vulkan: built engine '", desc.name, "': ", nodes().size(),
                                     " nodes, ", shader_variants_.size(), " shader variants, ",
                                     desc.constants.size(), " constants (", constant_bytes,
                                     " bytes uploaded), ", aliases().size(), " aliases"));
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
    const int64_t vector_elements = 16 / static_cast<int64_t>(dtype_size(value.device_dtype));
    if (dims.size() != 2 || dims[0] % vector_elements != 0) continue;
    value.transposed = true;
  }
  for (EngineNode& node : nodes()) {
    if (std::string_view(node.spec->op) != "linear" || !values()[node.inputs[1]].transposed)
      continue;
    const std::string suffix = node.shaders[1].substr(node.shaders[1].rfind('_'));
    node.shaders[1] = "matvec_t" + suffix;
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

void Engine::upload_constants() {
  const size_t count = graph().constants.size();
  // Weights stored [N, K] are transposed on all cores first; they stay
  // alive until upload() returns.
  std::vector<std::vector<std::byte>> transposed(count);
  kit::parallel_for(count, std::max(1u, std::thread::hardware_concurrency()), [&](size_t i) {
    const ConstantDesc& constant = graph().constants[i];
    if (!values()[find_value(constant.value.name)].transposed) return;
    transposed[i] =
        transpose_matrix(constant.bytes, constant.value.dims, dtype_size(constant.value.dtype));
  });
  std::vector<UploadItem> items;
  for (size_t i = 0; i < count; ++i) {
    const ConstantDesc& constant = graph().constants[i];
    const rts_dtype stored = device_dtype(constant.value.dtype, caps_);
    const size_t elements = static_cast<size_t>(element_count(constant.value.dims));
    constants_.push_back(device_->device_memory().allocate(
        elements * dtype_size(stored), str_cat("constant '", constant.value.name, "'")));
    const void* data = transposed[i].empty() ? constant.bytes.data()
                                             : static_cast<const void*>(transposed[i].data());
    items.push_back({data, elements, constant.value.dtype, stored, constants_.back().region()});
  }
  upload(*device_, items);
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
