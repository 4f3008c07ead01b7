#include "engine.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>
#include <thread>

#include "context.hpp"
#include "execution_plan.hpp"
#include "kit_names.hpp"
#include "plugin.hpp"
#include "rtscope/kit/parallel_for.hpp"

namespace rtscope::cpu {
namespace {

// What the CPU makes of each node: its op spec, dtype checks, and whether
// f16 runs through f32 kernels.
struct CpuTyper {
  void bind(EngineNode& node) const { node.spec = &op_table().bind(*node.desc); }
  rts_dtype type(EngineNode& node, std::span<const rts_dtype> dtypes) const {
    op_table().check_node(*node.spec, *node.desc, dtypes);
    node.float_dtype = op_table().float_dtype(*node.spec, dtypes);
    return op_table().output_dtype(*node.spec, dtypes);
  }
};

// Storage for `count` floats. The f32 copies of f16 weights are the
// plugin's largest allocation at build: in 2 MiB-aligned storage marked for
// transparent huge pages, filling them faults once per 2 MiB instead of
// once per 4 KiB page (the faults, not the conversion, dominated).
std::unique_ptr<float, FreeDeleter> allocate_f32(size_t count) {
  constexpr size_t kHugePage = size_t{2} << 20;
  const size_t bytes = std::max<size_t>(count * sizeof(float), 1);
  const size_t align = bytes >= kHugePage ? kHugePage : AlignedBuffer::kAlignment;
  const size_t rounded = (bytes + align - 1) / align * align;
  void* memory = std::aligned_alloc(align, rounded);
  if (memory == nullptr) throw std::bad_alloc();
  if (align == kHugePage) ::madvise(memory, rounded, MADV_HUGEPAGE);  // a hint; may be refused
  return std::unique_ptr<float, FreeDeleter>(static_cast<float*>(memory));
}

}  // namespace

Engine::Engine(CpuPlugin& plugin, GraphDesc graph)
    : kit::Engine(plugin), ResolvedGraph(std::move(graph), CpuTyper{}), plugin_(plugin) {
  first_data_dependent_node_ = nodes().size();
  for (size_t index = 0; index < nodes().size(); ++index) {
    if (is_data_dependent(*nodes()[index].spec, *nodes()[index].desc)) {
      first_data_dependent_node_ = index;
      break;
    }
  }
  convert_f16_constants();

  // With static inputs every shape is known now: check them all before
  // anything runs.
  const GraphDesc& desc = ResolvedGraph::graph();  // `graph` is the moved-from argument
  if (const auto input_dims = kit::static_input_dims(desc)) {
    build_plan(*this, *input_dims, ContextSettings{});
  }

  size_t constant_bytes = 0;
  for (const ConstantDesc& constant : desc.constants) {
    constant_bytes += constant.bytes.size();
    (constant.borrowed() ? constant_bytes_.borrowed : constant_bytes_.copied) +=
        constant.bytes.size();
  }
  plugin_.log(RTS_LOG_DEBUG, str_cat("cpu: built engine '", desc.name, "': ", nodes().size(),
                                     " nodes, ", desc.constants.size(), " constants (",
                                     constant_bytes, " bytes), ", aliases().size(), " aliases"));
}

std::unique_ptr<kit::Context> Engine::create_context(const rts_runtime_settings* settings) const {
  return std::make_unique<Context>(*this, settings);
}

void Engine::convert_f16_constants() {
  const GraphDesc& desc = graph();
  constants_f32_.resize(desc.constants.size());
  std::vector<uint32_t> wanted;
  for (const EngineNode& node : nodes()) {
    if (!node.computes_f16_in_f32()) continue;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const EngineValue& value = values()[node.inputs[i]];
      if (value.role != ValueRole::kConstant ||
          op_table().input_kind(*node.spec, i) != InputKind::kFloat) {
        continue;
      }
      if (std::find(wanted.begin(), wanted.end(), value.role_index) == wanted.end()) {
        wanted.push_back(value.role_index);
      }
    }
  }
  for (uint32_t index : wanted) {
    constant_bytes_.converted += 2 * desc.constants[index].bytes.size();
  }
  // On all cores: an f16 checkpoint's weights are most of the model.
  kit::parallel_for(wanted.size(), std::max(1u, std::thread::hardware_concurrency()),
                    [&](size_t w) {
                      const ConstantDesc& constant = desc.constants[wanted[w]];
                      const int64_t count = element_count(constant.value.dims);
                      constants_f32_[wanted[w]] = allocate_f32(static_cast<size_t>(count));
                      half_to_float(reinterpret_cast<const uint16_t*>(constant.bytes.data()),
                                    constants_f32_[wanted[w]].get(), count);
                    });
}

const void* Engine::constant_data(uint32_t constant) const {
  return graph().constants[constant].bytes.data();
}

const float* Engine::constant_as_f32(uint32_t constant) const {
  return constants_f32_[constant].get();
}

void Engine::fill_info(rts_engine_info& info) const {
  ResolvedGraph::fill_info(info);
  // An output produced at or after the first data-dependent node has its
  // size known only after running: the host's allocator provides it.
  info.needs_output_allocation = 0;
  for (uint32_t id : output_values()) {
    const int producer = values()[id].producer;
    if (producer >= 0 && static_cast<size_t>(producer) >= first_data_dependent_node_) {
      info.needs_output_allocation = 1;
    }
  }
}

}  // namespace rtscope::cpu
