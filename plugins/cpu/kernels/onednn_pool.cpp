#include "kernels/onednn_pool.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "aligned_buffer.hpp"
#include "kernels/onednn_support.hpp"
#include "kit_names.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

using dnnl::memory;

// One channel slice of one image with its own primitive; offsets in
// floats within an image.
struct PoolSlice {
  dnnl::pooling_v2_forward pool;
  memory src, dst, scratchpad;
  AlignedBuffer scratchpad_buffer;
  dnnl::stream stream;
  int64_t src_offset = 0;
  int64_t dst_offset = 0;
};

struct OnednnPool final : PreparedKernel {
  std::vector<PoolSlice> slices;
  int64_t images = 0;
  int64_t src_stride = 0;  // floats per image
  int64_t dst_stride = 0;

  size_t bytes() const override {
    size_t total = 0;
    for (const PoolSlice& slice : slices) total += slice.scratchpad_buffer.capacity();
    return total;
  }
};

// The window geometry as oneDNN takes it. The end padding covers every
// window the output shape has: ceil_mode's last window may reach past the
// declared pads, which for max and for avg excluding padding changes
// nothing (those taps are skipped either way).
struct PoolGeometry {
  int spatial = 0;
  memory::dims in, out, kernel, strides, dilations, pad_l, pad_r;
  bool pads_extended = false;  // pad_r grew beyond the declared pads
};

PoolGeometry geometry(const NodeDesc& node, const Dims& x, const Dims& y) {
  PoolGeometry g;
  g.spatial = static_cast<int>(x.size()) - 2;
  const auto& kernel = node.attr_ints("kernel");
  const auto& strides = node.attr_ints("strides");
  const auto& dilations = node.attr_ints("dilations");
  const auto& pads = node.attr_ints("pads");
  for (int d = 0; d < g.spatial; ++d) {
    const int64_t stride = strides.empty() ? 1 : strides[d];
    const int64_t dilation = dilations.empty() ? 1 : dilations[d];
    const int64_t begin = pads.empty() ? 0 : pads[d];
    const int64_t end = pads.empty() ? 0 : pads[g.spatial + d];
    const int64_t reach = (kernel[d] - 1) * dilation + 1;
    const int64_t needed = (y[2 + d] - 1) * stride + reach - x[2 + d] - begin;
    g.in.push_back(x[2 + d]);
    g.out.push_back(y[2 + d]);
    g.kernel.push_back(kernel[d]);
    g.strides.push_back(stride);
    g.dilations.push_back(dilation - 1);  // oneDNN counts from 0
    g.pad_l.push_back(begin);
    g.pad_r.push_back(std::max(end, needed));
    g.pads_extended = g.pads_extended || needed > end;
  }
  return g;
}

std::shared_ptr<PreparedKernel> prepare(const NodeDesc& node, std::span<const TensorRef> inputs,
                                        std::span<const TensorRef> outputs, int64_t grain,
                                        dnnl::algorithm algorithm) {
  const SingleOpenMpThread single;
  const TensorRef& x = inputs[0];
  const TensorRef& y = outputs[0];
  const PoolGeometry g =
      geometry(node, Dims(x.dims.begin(), x.dims.end()), Dims(y.dims.begin(), y.dims.end()));
  if (g.spatial < 1 || g.spatial > 3) {
    fail(RTS_ERROR_UNSUPPORTED, "cpu: ", node.label(),
         ": oneDNN pooling takes 1 to 3 spatial dims, not ", g.spatial);
  }
  const int64_t channels = x.dims[1];
  const int64_t slices = std::clamp<int64_t>(grain, 1, channels);
  auto state = std::make_shared<OnednnPool>();
  state->images = x.dims[0];
  int64_t in_size = 1, out_size = 1;
  for (int d = 0; d < g.spatial; ++d) {
    in_size *= g.in[d];
    out_size *= g.out[d];
  }
  state->src_stride = channels * in_size;
  state->dst_stride = channels * out_size;
  const auto& engine = onednn_cpu_engine();
  try {
    state->slices.resize(static_cast<size_t>(slices));
    for (int64_t s = 0; s < slices; ++s) {
      PoolSlice& slice = state->slices[s];
      const int64_t c0 = channels * s / slices;
      const int64_t count = channels * (s + 1) / slices - c0;
      slice.src_offset = c0 * in_size;
      slice.dst_offset = c0 * out_size;
      const memory::desc src_md(with_spatial({1, count}, g.in), memory::data_type::f32,
                                plain_activation_tag(g.spatial));
      const memory::desc dst_md(with_spatial({1, count}, g.out), memory::data_type::f32,
                                plain_activation_tag(g.spatial));
      const dnnl::pooling_v2_forward::desc desc(dnnl::prop_kind::forward_inference, algorithm,
                                                src_md, dst_md, g.strides, g.kernel, g.dilations,
                                                g.pad_l, g.pad_r);
      const dnnl::pooling_v2_forward::primitive_desc pd(desc, user_scratchpad_attr(), engine);
      refuse_reference(pd, node.label(), "pooling", "this shape");
      slice.pool = dnnl::pooling_v2_forward(pd);
      slice.stream = dnnl::stream(engine);
      slice.scratchpad = user_scratchpad(pd, slice.scratchpad_buffer);
      slice.src = memory(src_md, engine, DNNL_MEMORY_NONE);
      slice.dst = memory(dst_md, engine, DNNL_MEMORY_NONE);
    }
  } catch (const dnnl::error& error) {
    fail(RTS_ERROR_UNSUPPORTED, "cpu: ", node.label(), ": oneDNN has no pooling for input ",
         shape_str(x.dims), " (", error.what(), ")");
  }
  return state;
}

}  // namespace

bool onednn_pool_supports(const NodeDesc& node, std::span<const Dims* const> inputs,
                          std::span<const Dims> outputs) {
  const Dims& x = *inputs[0];
  if (x.size() < 3 || x.size() > 5 || element_count(x) == 0 || element_count(outputs[0]) == 0) {
    return false;
  }
  // oneDNN 2.6 pools dilated windows with its reference code only.
  const auto& dilations = node.attr_ints("dilations");
  if (std::any_of(dilations.begin(), dilations.end(), [](int64_t d) { return d != 1; })) {
    return false;
  }
  const bool counts_padding = node.op == "avg_pool" && node.attr_int("count_include_pad", 0) != 0;
  return !counts_padding || !geometry(node, x, outputs[0]).pads_extended;
}

std::shared_ptr<PreparedKernel> prepare_onednn_max_pool(const NodeDesc& node,
                                                        std::span<const TensorRef> inputs,
                                                        std::span<const TensorRef> outputs,
                                                        const KernelTuning& tuning) {
  return prepare(node, inputs, outputs, tuning.grain, dnnl::algorithm::pooling_max);
}

std::shared_ptr<PreparedKernel> prepare_onednn_avg_pool(const NodeDesc& node,
                                                        std::span<const TensorRef> inputs,
                                                        std::span<const TensorRef> outputs,
                                                        const KernelTuning& tuning) {
  const bool counts_padding = node.attr_int("count_include_pad", 0) != 0;
  return prepare(node, inputs, outputs, tuning.grain,
                 counts_padding ? dnnl::algorithm::pooling_avg_include_padding
                                : dnnl::algorithm::pooling_avg_exclude_padding);
}

bool run_onednn_pool(const KernelArgs& args) {
  auto* state =
      args.tuning != nullptr ? dynamic_cast<OnednnPool*>(args.tuning->prepared.get()) : nullptr;
  if (state == nullptr) return false;
  auto* x = args.inputs[0].as<float>();
  float* y = args.outputs[0].as<float>();
  const auto slices = static_cast<int64_t>(state->slices.size());
  args.pool.parallel_for(slices, 1, [&](int64_t begin, int64_t end) {
    const SingleOpenMpThread single;
    for (int64_t s = begin; s < end; ++s) {
      PoolSlice& slice = state->slices[s];
      for (int64_t image = 0; image < state->images; ++image) {
        slice.src.set_data_handle(x + image * state->src_stride + slice.src_offset);
        slice.dst.set_data_handle(y + image * state->dst_stride + slice.dst_offset);
        const dnnl_exec_arg_t exec[] = {{DNNL_ARG_SRC, slice.src.get()},
                                        {DNNL_ARG_DST, slice.dst.get()},
                                        {DNNL_ARG_SCRATCHPAD, slice.scratchpad.get()}};
        execute_primitive(slice.pool, slice.stream, exec, 3, "pooling");
      }
    }
  });
  return true;
}

}  // namespace rtscope::cpu
