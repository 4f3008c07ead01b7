#include "kernels/onednn_conv.hpp"

#include <omp.h>

#include <algorithm>
#include <oneapi/dnnl/dnnl.hpp>
#include <vector>

#include "aligned_buffer.hpp"
#include "kit_names.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

// oneDNN decides its thread partitioning when a primitive is created and
// would start an OpenMP team per call; the plugin's pool is the
// parallelism, so creation and execution both run with one OpenMP thread.
// Leaves the thread's setting as it found it.
class SingleOpenMpThread {
 public:
  SingleOpenMpThread() : outer_(omp_get_max_threads()) {
    if (outer_ != 1) omp_set_num_threads(1);
  }
  ~SingleOpenMpThread() {
    if (outer_ != 1) omp_set_num_threads(outer_);
  }
  SingleOpenMpThread(const SingleOpenMpThread&) = delete;
  SingleOpenMpThread& operator=(const SingleOpenMpThread&) = delete;

 private:
  int outer_;
};

const dnnl::engine& cpu_engine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

Tag plain_tag(int spatial) {
  static constexpr Tag kTags[] = {Tag::ncw, Tag::nchw, Tag::ncdhw};
  return kTags[spatial - 1];
}
Tag weights_tag(int spatial, bool grouped) {
  static constexpr Tag kPlain[] = {Tag::oiw, Tag::oihw, Tag::oidhw};
  static constexpr Tag kGrouped[] = {Tag::goiw, Tag::goihw, Tag::goidhw};
  return grouped ? kGrouped[spatial - 1] : kPlain[spatial - 1];
}

// One slice of the output channels (or groups) with its own primitive.
// Offsets are in floats; src and dst ones are within one call's images.
struct ConvSlice {
  dnnl::convolution_forward conv;
  dnnl::reorder weights_reorder;  // the node's weights slice -> the primitive's layout
  memory src, weights, user_weights, bias, dst, scratchpad;
  AlignedBuffer weights_buffer;
  AlignedBuffer scratchpad_buffer;
  dnnl::stream stream;
  int64_t src_offset = 0;
  int64_t dst_offset = 0;
  int64_t weights_offset = 0;  // into the node's oihw (goihw) weights
  int64_t bias_offset = 0;
};

struct OnednnConv final : PreparedKernel {
  std::vector<ConvSlice> slices;
  // The constant the weights were reordered from at prepare time; nullptr
  // when input 1 was not a constant.
  const void* weights_source = nullptr;
  bool has_bias = false;
  int64_t calls = 1;       // primitive calls per slice: images one at a time, or one for all
  int64_t src_stride = 0;  // floats between the images of successive calls
  int64_t dst_stride = 0;
};

void check(dnnl_status_t status, const char* what) {
  if (status != dnnl_success) {
    fail(RTS_ERROR_INTERNAL, "cpu: oneDNN ", what, " failed (dnnl status ",
         static_cast<int>(status), ")");
  }
}

void execute_conv(ConvSlice& slice, bool has_bias) {
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, slice.src.get()},
                                  {DNNL_ARG_WEIGHTS, slice.weights.get()},
                                  {DNNL_ARG_DST, slice.dst.get()},
                                  {DNNL_ARG_SCRATCHPAD, slice.scratchpad.get()},
                                  {DNNL_ARG_BIAS, slice.bias.get()}};
  check(dnnl_primitive_execute(slice.conv.get(), slice.stream.get(), has_bias ? 5 : 4, args),
        "convolution");
}

void reorder_weights(ConvSlice& slice) {
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, slice.user_weights.get()},
                                  {DNNL_ARG_TO, slice.weights.get()}};
  check(dnnl_primitive_execute(slice.weights_reorder.get(), slice.stream.get(), 2, args),
        "weights reorder");
}

// Slice boundaries over `units` (output channels, or groups): output
// channel slices start on multiples of 16, the block oneDNN's vector
// kernels work in, where there are enough channels for it.
std::vector<int64_t> slice_bounds(int64_t units, int64_t slices, bool channels) {
  std::vector<int64_t> bounds(static_cast<size_t>(slices) + 1);
  const int64_t align = channels && units >= 16 * slices ? 16 : 1;
  for (int64_t s = 0; s <= slices; ++s) bounds[s] = units * s / slices / align * align;
  bounds[slices] = units;
  return bounds;
}

}  // namespace

bool onednn_conv_supports(std::span<const Dims* const> inputs, std::span<const Dims> outputs) {
  const Dims& x = *inputs[0];
  const size_t rank = x.size();
  return rank >= 3 && rank <= 5 && element_count(x) > 0 && element_count(outputs[0]) > 0;
}

int64_t onednn_conv_max_slices(const NodeDesc& node, const Dims& weights, unsigned threads) {
  const int64_t group = node.attr_int("group");
  const int64_t units = group > 1 ? group : weights[0];
  // A slice of fewer than 16 channels (or 2 groups) costs more in calls
  // than it gains in parallelism.
  const int64_t least = group > 1 ? 2 : 16;
  return std::clamp<int64_t>(units / least, 1, threads);
}

std::shared_ptr<PreparedKernel> prepare_onednn_conv(const NodeDesc& node,
                                                    std::span<const TensorRef> inputs,
                                                    std::span<const TensorRef> outputs,
                                                    const KernelTuning& tuning) {
  const SingleOpenMpThread single;
  const TensorRef& x = inputs[0];
  const TensorRef& w = inputs[1];
  const TensorRef& y = outputs[0];
  const int spatial = x.rank() - 2;
  if (spatial < 1 || spatial > 3) {
    fail(RTS_ERROR_UNSUPPORTED, "cpu: ", node.label(),
         ": oneDNN conv takes 1 to 3 spatial dims, not ", spatial);
  }
  const int64_t batch = x.dims[0];
  const int64_t channels = x.dims[1];
  const int64_t m_total = w.dims[0];
  const int64_t group = node.attr_int("group");
  const int64_t c_per_group = channels / group;
  const int64_t m_per_group = m_total / group;
  const bool grouped = group > 1;
  const int64_t units = grouped ? group : m_total;
  const int64_t slices = std::clamp<int64_t>(tuning.grain, 1, units);
  const std::vector<int64_t> bounds = slice_bounds(units, slices, !grouped);

  const auto& strides = node.attr_ints("strides");
  const auto& dilations = node.attr_ints("dilations");
  const auto& pads = node.attr_ints("pads");
  memory::dims stride_dims, dilate_dims, pad_l, pad_r, in_spatial, out_spatial, kernel;
  int64_t in_size = 1, out_size = 1, kernel_size = 1;
  for (int d = 0; d < spatial; ++d) {
    stride_dims.push_back(strides.empty() ? 1 : strides[d]);
    dilate_dims.push_back((dilations.empty() ? 1 : dilations[d]) - 1);  // oneDNN counts from 0
    pad_l.push_back(pads.empty() ? 0 : pads[d]);
    pad_r.push_back(pads.empty() ? 0 : pads[spatial + d]);
    in_spatial.push_back(x.dims[2 + d]);
    out_spatial.push_back(y.dims[2 + d]);
    kernel.push_back(w.dims[2 + d]);
    in_size *= x.dims[2 + d];
    out_size *= y.dims[2 + d];
    kernel_size *= w.dims[2 + d];
  }
  // One slice covers every image in one call; several slices take the
  // images one at a time (a channel slice of several images is not dense).
  auto state = std::make_shared<OnednnConv>();
  state->has_bias = inputs.size() > 2;
  state->weights_source = w.data;
  const int64_t images = slices == 1 ? batch : 1;
  state->calls = slices == 1 ? 1 : batch;
  state->src_stride = channels * in_size;
  state->dst_stride = m_total * out_size;
  const auto& engine = cpu_engine();
  try {
    state->slices.resize(static_cast<size_t>(slices));
    for (int64_t s = 0; s < slices; ++s) {
      ConvSlice& slice = state->slices[s];
      const int64_t u0 = bounds[s];
      const int64_t u_count = bounds[s + 1] - u0;
      const int64_t m0 = grouped ? u0 * m_per_group : u0;  // first output channel
      const int64_t m_count = grouped ? u_count * m_per_group : u_count;
      const int64_t c_count = grouped ? u_count * c_per_group : channels;
      slice.src_offset = grouped ? u0 * c_per_group * in_size : 0;
      slice.dst_offset = m0 * out_size;
      slice.weights_offset = m0 * c_per_group * kernel_size;
      slice.bias_offset = m0;

      memory::dims src_dims{images, c_count}, dst_dims{images, m_count}, w_dims;
      src_dims.insert(src_dims.end(), in_spatial.begin(), in_spatial.end());
      dst_dims.insert(dst_dims.end(), out_spatial.begin(), out_spatial.end());
      if (grouped) {
        w_dims = {u_count, m_per_group, c_per_group};
      } else {
        w_dims = {m_count, channels};
      }
      w_dims.insert(w_dims.end(), kernel.begin(), kernel.end());
      const memory::desc src_md(src_dims, memory::data_type::f32, plain_tag(spatial));
      const memory::desc dst_md(dst_dims, memory::data_type::f32, plain_tag(spatial));
      const memory::desc user_w_md(w_dims, memory::data_type::f32, weights_tag(spatial, grouped));
      const memory::desc any_w_md(w_dims, memory::data_type::f32, Tag::any);
      const memory::desc bias_md({m_count}, memory::data_type::f32, Tag::x);
      const auto desc =
          state->has_bias
              ? dnnl::convolution_forward::desc(
                    dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md,
                    any_w_md, bias_md, dst_md, stride_dims, dilate_dims, pad_l, pad_r)
              : dnnl::convolution_forward::desc(
                    dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src_md,
                    any_w_md, dst_md, stride_dims, dilate_dims, pad_l, pad_r);
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      const dnnl::convolution_forward::primitive_desc pd(desc, attr, engine);
      slice.conv = dnnl::convolution_forward(pd);
      slice.stream = dnnl::stream(engine);
      slice.weights_buffer.reserve(std::max<size_t>(pd.weights_desc().get_size(), 1));
      slice.weights = memory(pd.weights_desc(), engine, slice.weights_buffer.data());
      slice.scratchpad_buffer.reserve(std::max<size_t>(pd.scratchpad_desc().get_size(), 1));
      slice.scratchpad = memory(pd.scratchpad_desc(), engine, slice.scratchpad_buffer.data());
      slice.user_weights = memory(user_w_md, engine, DNNL_MEMORY_NONE);
      slice.src = memory(src_md, engine, DNNL_MEMORY_NONE);
      slice.dst = memory(dst_md, engine, DNNL_MEMORY_NONE);
      slice.bias = memory(bias_md, engine, DNNL_MEMORY_NONE);
      slice.weights_reorder = dnnl::reorder(slice.user_weights, slice.weights);
      if (w.data != nullptr) {
        slice.user_weights.set_data_handle(w.as<float>() + slice.weights_offset);
        reorder_weights(slice);
      }
    }
  } catch (const dnnl::error& error) {
    fail(RTS_ERROR_UNSUPPORTED, "cpu: ", node.label(), ": oneDNN has no convolution for input ",
         shape_str(x.dims), ", weights ", shape_str(w.dims), " (", error.what(), ")");
  }
  return state;
}

bool run_onednn_conv(const KernelArgs& args) {
  auto* state =
      args.tuning != nullptr ? dynamic_cast<OnednnConv*>(args.tuning->prepared.get()) : nullptr;
  if (state == nullptr) return false;
  auto* x = args.inputs[0].as<float>();
  auto* w = args.inputs[1].as<float>();
  auto* bias = state->has_bias ? args.inputs[2].as<float>() : nullptr;
  float* y = args.outputs[0].as<float>();
  const bool fresh_weights = w != state->weights_source;
  const int64_t slices = static_cast<int64_t>(state->slices.size());
  args.pool.parallel_for(slices, 1, [&](int64_t begin, int64_t end) {
    const SingleOpenMpThread single;
    for (int64_t s = begin; s < end; ++s) {
      ConvSlice& slice = state->slices[s];
      if (fresh_weights) {
        slice.user_weights.set_data_handle(w + slice.weights_offset);
        reorder_weights(slice);
      }
      if (bias != nullptr) slice.bias.set_data_handle(bias + slice.bias_offset);
      for (int64_t call = 0; call < state->calls; ++call) {
        slice.src.set_data_handle(x + call * state->src_stride + slice.src_offset);
        slice.dst.set_data_handle(y + call * state->dst_stride + slice.dst_offset);
        execute_conv(slice, bias != nullptr);
      }
    }
  });
  return true;
}

}  // namespace rtscope::cpu
