#include "kernels/onednn_conv.hpp"

#include <algorithm>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "aligned_buffer.hpp"
#include "kernels/channel_blocks.hpp"
#include "kernels/fused_elementwise.hpp"
#include "kernels/onednn_support.hpp"
#include "kit_names.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;

Tag plain_tag(int spatial) { return plain_activation_tag(spatial); }
Tag blocked_tag(int spatial) {
  static constexpr Tag kTags[] = {Tag::nCw16c, Tag::nChw16c, Tag::nCdhw16c};
  return kTags[spatial - 1];
}
constexpr int64_t kBlock = kChannelBlock;  // channels per block of blocked_tag()
Tag weights_tag(int spatial, bool grouped) {
  static constexpr Tag kPlain[] = {Tag::oiw, Tag::oihw, Tag::oidhw};
  static constexpr Tag kGrouped[] = {Tag::goiw, Tag::goihw, Tag::goidhw};
  return grouped ? kGrouped[spatial - 1] : kPlain[spatial - 1];
}

// A window of one plain image and a dense buffer holding it in the
// primitive's layout: `channels` planes (`plane_stride` floats apart in
// the image), `positions` of each from `offset` floats in. A channel slice
// takes whole planes, a row slice a range of rows of every plane.
struct WindowCopy {
  int64_t offset = 0;
  int64_t channels = 0;
  int64_t positions = 0;
  int64_t plane_stride = 0;
  float* dense = nullptr;
  bool blocked = true;  // else the planes packed one after another
};

void copy_into(const WindowCopy& window, const float* image) {
  const float* from = image + window.offset;
  if (window.blocked) {
    to_channel_blocks(from, window.plane_stride, window.dense, window.channels, window.positions);
    return;
  }
  for (int64_t c = 0; c < window.channels; ++c) {
    std::memcpy(window.dense + c * window.positions, from + c * window.plane_stride,
                static_cast<size_t>(window.positions) * sizeof(float));
  }
}

// Outputs are always blocked. `tail`: its residual laid out like `image`.
void copy_back(const WindowCopy& window, float* image, BlockTail tail) {
  if (tail.residual != nullptr) tail.residual += window.offset;
  from_channel_blocks(window.dense, image + window.offset, window.plane_stride, window.channels,
                      window.positions, tail);
}

// `epilogue` (for the output `y`) as the copy out of the blocked layout
// applies it to the image at `image`: none, relu, a residual add, or both;
// nullopt for one it cannot take (a gate, or a residual the product was to
// accumulate onto in place), which then runs on its own.
std::optional<BlockTail> block_tail_of(const LinearEpilogue* epilogue, const float* image,
                                       const float* y) {
  if (epilogue == nullptr) return BlockTail{};
  using Kind = LinearEpilogue::Kind;
  switch (epilogue->kind) {
    case Kind::kRelu:
      return BlockTail{.relu = true};
    case Kind::kResidualAdd:
    case Kind::kResidualAddRelu:
      if (epilogue->accumulates_in_place(y)) return std::nullopt;
      return BlockTail{.residual = epilogue->operand + (image - y),
                       .relu = epilogue->kind == Kind::kResidualAddRelu};
    case Kind::kSiluGateMul:
      return std::nullopt;
  }
  return std::nullopt;
}

// One slice of the output channels (or groups) with its own primitive.
// Offsets are in floats, within one call's images.
struct ConvSlice {
  dnnl::convolution_forward conv;
  dnnl::reorder weights_reorder;  // the node's weights slice -> the primitive's layout
  memory src, weights, user_weights, bias, dst, scratchpad, weights_reorder_scratchpad;
  AlignedBuffer weights_buffer;
  AlignedBuffer scratchpad_buffer;
  AlignedBuffer weights_reorder_scratchpad_buffer;
  dnnl::stream stream;
  int64_t src_offset = 0;
  int64_t dst_offset = 0;
  int64_t weights_offset = 0;  // into the node's oihw (goihw) weights
  int64_t bias_offset = 0;
  int64_t rows = 0;  // output channels (of every image in the call) the slice writes
  // Blocked layout: the slice's output back into the plain output.
  std::optional<WindowCopy> dst_back;
  // Split by output rows: the input rows the slice reads (with its halo),
  // copied into `src_buffer` in the primitive's layout, and its output
  // rows in `dst_buffer` until `dst_back` writes them out.
  std::optional<WindowCopy> src_window;
  AlignedBuffer src_buffer;
  AlignedBuffer dst_buffer;
  // Output positions [first, end) of each channel the slice writes: all of
  // them for a channel slice, its rows' for a row slice.
  int64_t positions_begin = 0;
  int64_t positions_end = 0;
};

struct OnednnConv final : PreparedKernel {
  std::vector<ConvSlice> slices;
  // Blocked layout: the input image into `src_blocked`, by channel slices
  // (empty: the primitive reads the plain input).
  std::vector<WindowCopy> src_in;
  AlignedBuffer src_blocked;
  AlignedBuffer dst_blocked;  // blocked layout: one image of output
  // The constant the weights were reordered from at prepare time; nullptr
  // when input 1 was not a constant.
  const void* weights_source = nullptr;
  bool has_bias = false;
  int64_t calls = 1;       // primitive calls per slice: images one at a time, or one for all
  int64_t src_stride = 0;  // floats between the images of successive calls
  int64_t dst_stride = 0;
  int64_t out_size = 0;  // output positions per channel

  size_t bytes() const override {
    size_t total = src_blocked.capacity() + dst_blocked.capacity();
    for (const ConvSlice& slice : slices) {
      total += slice.weights_buffer.capacity() + slice.scratchpad_buffer.capacity() +
               slice.weights_reorder_scratchpad_buffer.capacity() + slice.src_buffer.capacity() +
               slice.dst_buffer.capacity();
    }
    return total;
  }
};

void execute_conv(ConvSlice& slice, bool has_bias) {
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, slice.src.get()},
                                  {DNNL_ARG_WEIGHTS, slice.weights.get()},
                                  {DNNL_ARG_DST, slice.dst.get()},
                                  {DNNL_ARG_SCRATCHPAD, slice.scratchpad.get()},
                                  {DNNL_ARG_BIAS, slice.bias.get()}};
  execute_primitive(slice.conv, slice.stream, args, has_bias ? 5 : 4, "convolution");
}

// A reorder with a scratchpad of its own (`buffer`, described by
// `scratchpad`): the Winograd weight transform uses one, and pool threads
// run reorders at once.
dnnl::reorder make_reorder(const memory& from, const memory& to, AlignedBuffer& buffer,
                           memory& scratchpad) {
  const dnnl::reorder::primitive_desc pd(from, to, user_scratchpad_attr());
  scratchpad = user_scratchpad(pd, buffer);
  return dnnl::reorder(pd);
}

void reorder_weights(ConvSlice& slice) {
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_FROM, slice.user_weights.get()},
                                  {DNNL_ARG_TO, slice.weights.get()},
                                  {DNNL_ARG_SCRATCHPAD, slice.weights_reorder_scratchpad.get()}};
  execute_primitive(slice.weights_reorder, slice.stream, args, 3, "weights reorder");
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

bool onednn_conv_blocked_supports(const NodeDesc& node, const Dims& weights) {
  return node.attr_int("group") == 1 && weights[0] % kBlock == 0;
}

bool onednn_conv_winograd_supports(const NodeDesc& node, std::span<const Dims* const> inputs) {
  const Dims& x = *inputs[0];
  const Dims& w = *inputs[1];
  if (x.size() != 4 || w[2] != 3 || w[3] != 3 || !onednn_conv_blocked_supports(node, w)) {
    return false;
  }
  if (x[1] % kBlock != 0) return false;
  const auto all_one = [](const std::vector<int64_t>& values) {
    return std::all_of(values.begin(), values.end(), [](int64_t v) { return v == 1; });
  };
  return all_one(node.attr_ints("strides")) && all_one(node.attr_ints("dilations"));
}

int64_t onednn_conv_max_slices(const NodeDesc& node, const Dims& weights, unsigned threads) {
  const int64_t group = node.attr_int("group");
  const int64_t units = group > 1 ? group : weights[0];
  // A slice of fewer than 16 channels (or 2 groups) costs more in calls
  // than it gains in parallelism.
  const int64_t least = group > 1 ? 2 : kBlock;
  return std::clamp<int64_t>(units / least, 1, threads);
}

namespace {

// The geometry of one convolution node, in oneDNN's terms.
struct ConvGeometry {
  int spatial = 0;
  memory::dims strides, dilates, pad_l, pad_r, in_spatial, out_spatial, kernel;
  int64_t in_size = 1, out_size = 1, kernel_size = 1;
};

ConvGeometry conv_geometry(const NodeDesc& node, const TensorRef& x, const TensorRef& w,
                           const TensorRef& y) {
  ConvGeometry g;
  g.spatial = x.rank() - 2;
  const auto& strides = node.attr_ints("strides");
  const auto& dilations = node.attr_ints("dilations");
  const auto& pads = node.attr_ints("pads");
  for (int d = 0; d < g.spatial; ++d) {
    g.strides.push_back(strides.empty() ? 1 : strides[d]);
    g.dilates.push_back((dilations.empty() ? 1 : dilations[d]) - 1);  // oneDNN counts from 0
    g.pad_l.push_back(pads.empty() ? 0 : pads[d]);
    g.pad_r.push_back(pads.empty() ? 0 : pads[g.spatial + d]);
    g.in_spatial.push_back(x.dims[2 + d]);
    g.out_spatial.push_back(y.dims[2 + d]);
    g.kernel.push_back(w.dims[2 + d]);
    g.in_size *= x.dims[2 + d];
    g.out_size *= y.dims[2 + d];
    g.kernel_size *= w.dims[2 + d];
  }
  return g;
}

// The slice's primitive for `src_md` -> `dst_md` with weights `w_dims`
// (paddings `pad_l`/`pad_r`), its scratchpad, and its weights in the
// primitive's layout: reordered from `weights` (the node's constant, at
// the slice's offset) now, or per execute when `weights` is null.
// `shared` is an earlier slice whose reordered weights this one reuses
// when the layouts agree (constant weights only).
void build_slice(ConvSlice& slice, const NodeDesc& node, const ConvGeometry& g,
                 const memory::desc& src_md, const memory::desc& dst_md, const memory::dims& w_dims,
                 bool grouped, bool has_bias, const memory::dims& pad_l, const memory::dims& pad_r,
                 dnnl::algorithm algorithm, const float* weights, const ConvSlice* shared) {
  const auto& engine = onednn_cpu_engine();
  const memory::desc user_w_md(w_dims, memory::data_type::f32, weights_tag(g.spatial, grouped));
  const memory::desc any_w_md(w_dims, memory::data_type::f32, Tag::any);
  const memory::desc bias_md({dst_md.dims()[1]}, memory::data_type::f32, Tag::x);
  const auto desc = has_bias ? dnnl::convolution_forward::desc(
                                   dnnl::prop_kind::forward_inference, algorithm, src_md, any_w_md,
                                   bias_md, dst_md, g.strides, g.dilates, pad_l, pad_r)
                             : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                               algorithm, src_md, any_w_md, dst_md,
                                                               g.strides, g.dilates, pad_l, pad_r);
  const dnnl::convolution_forward::primitive_desc pd(desc, user_scratchpad_attr(), engine);
  refuse_reference(pd, node.label(), "convolution", "this layout");
  slice.conv = dnnl::convolution_forward(pd);
  slice.stream = dnnl::stream(engine);
  slice.scratchpad = user_scratchpad(pd, slice.scratchpad_buffer);
  slice.bias = memory(bias_md, engine, DNNL_MEMORY_NONE);
  if (shared != nullptr && weights != nullptr && shared->weights.get_desc() == pd.weights_desc()) {
    // Constant weights in the same layout: reordered once, by `shared`.
    slice.weights = shared->weights;
    slice.user_weights = shared->user_weights;
    return;
  }
  slice.weights_buffer.reserve(std::max<size_t>(pd.weights_desc().get_size(), 1));
  slice.weights = memory(pd.weights_desc(), engine, slice.weights_buffer.data());
  slice.user_weights = memory(user_w_md, engine, DNNL_MEMORY_NONE);
  slice.weights_reorder =
      make_reorder(slice.user_weights, slice.weights, slice.weights_reorder_scratchpad_buffer,
                   slice.weights_reorder_scratchpad);
  if (weights != nullptr) {
    slice.user_weights.set_data_handle(const_cast<float*>(weights) + slice.weights_offset);
    reorder_weights(slice);
  }
}

// Slices over the rows of the first spatial dim of the output, every
// slice with all channels and the whole weights: each copies the input
// rows it reads into a buffer of its own, convolves them, and writes its
// rows back, so the slices share nothing but the weights. A Winograd
// convolution transforms each input tile once this way, where channel
// slices would each transform the whole input.
void prepare_row_slices(OnednnConv& state, const NodeDesc& node, const ConvGeometry& g,
                        const TensorRef& x, const TensorRef& w, int64_t grain,
                        dnnl::algorithm algorithm) {
  const int64_t channels = x.dims[1];
  const int64_t m_total = w.dims[0];
  const int64_t out_rows = g.out_spatial[0];
  const int64_t in_rows = g.in_spatial[0];
  const int64_t slices = std::clamp<int64_t>(grain, 1, out_rows);
  const int64_t in_row = g.in_size / in_rows;
  const int64_t out_row = g.out_size / out_rows;
  const Tag src_tag = channels % kBlock == 0 ? blocked_tag(g.spatial) : plain_tag(g.spatial);
  const int64_t extent = g.dilates[0] * (g.kernel[0] - 1) + g.kernel[0];  // rows one output reads
  state.slices.resize(static_cast<size_t>(slices));
  for (int64_t s = 0; s < slices; ++s) {
    ConvSlice& slice = state.slices[s];
    const int64_t row_begin = out_rows * s / slices;
    const int64_t row_end = out_rows * (s + 1) / slices;
    slice.positions_begin = row_begin * out_row;
    slice.positions_end = row_end * out_row;
    slice.rows = m_total;
    // Input rows the slice's outputs read, padding included, then
    // clipped to the image: what is cut off becomes the slice's padding.
    const int64_t first = row_begin * g.strides[0] - g.pad_l[0];
    const int64_t last = (row_end - 1) * g.strides[0] - g.pad_l[0] + extent;  // exclusive
    const int64_t lo = std::max<int64_t>(first, 0);
    const int64_t hi = std::min<int64_t>(last, in_rows);
    memory::dims pad_l = g.pad_l;
    memory::dims pad_r = g.pad_r;
    pad_l[0] = lo - first;
    pad_r[0] = last - hi;
    memory::dims in_window = g.in_spatial;
    in_window[0] = hi - lo;
    memory::dims out_window = g.out_spatial;
    out_window[0] = row_end - row_begin;
    const memory::dims src_dims = with_spatial({1, channels}, in_window);
    const memory::dims dst_dims = with_spatial({1, m_total}, out_window);
    const memory::desc src_md(src_dims, memory::data_type::f32, src_tag);
    const memory::desc dst_md(dst_dims, memory::data_type::f32, blocked_tag(g.spatial));
    slice.src_buffer.reserve(src_md.get_size());
    slice.dst_buffer.reserve(dst_md.get_size());
    slice.src = memory(src_md, onednn_cpu_engine(), slice.src_buffer.data());
    slice.dst = memory(dst_md, onednn_cpu_engine(), slice.dst_buffer.data());
    slice.src_window = WindowCopy{.offset = lo * in_row,
                                  .channels = channels,
                                  .positions = (hi - lo) * in_row,
                                  .plane_stride = g.in_size,
                                  .dense = static_cast<float*>(slice.src_buffer.data()),
                                  .blocked = src_tag != plain_tag(g.spatial)};
    slice.dst_back = WindowCopy{.offset = slice.positions_begin,
                                .channels = m_total,
                                .positions = slice.positions_end - slice.positions_begin,
                                .plane_stride = g.out_size,
                                .dense = static_cast<float*>(slice.dst_buffer.data())};
    build_slice(slice, node, g, src_md, dst_md, with_spatial({m_total, channels}, g.kernel), false,
                state.has_bias, pad_l, pad_r, algorithm, w.as<float>(),
                s > 0 ? &state.slices[0] : nullptr);
  }
}

std::shared_ptr<PreparedKernel> prepare(const NodeDesc& node, std::span<const TensorRef> inputs,
                                        std::span<const TensorRef> outputs, int64_t grain,
                                        bool blocked, bool by_rows, dnnl::algorithm algorithm) {
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
  if (blocked && (grouped || m_total % kBlock != 0)) {
    fail(RTS_ERROR_UNSUPPORTED, "cpu: ", node.label(),
         ": the blocked oneDNN conv needs one group and output channels in blocks of ", kBlock);
  }
  const ConvGeometry g = conv_geometry(node, x, w, y);
  auto state = std::make_shared<OnednnConv>();
  state->has_bias = inputs.size() > 2;
  state->weights_source = w.data;
  state->src_stride = channels * g.in_size;
  state->dst_stride = m_total * g.out_size;
  state->out_size = g.out_size;
  try {
    if (by_rows) {
      if (!blocked || spatial < 2) {
        fail(RTS_ERROR_UNSUPPORTED, "cpu: ", node.label(),
             ": oneDNN conv splits rows only in the blocked layout, with 2 or 3 spatial dims");
      }
      state->calls = batch;
      prepare_row_slices(*state, node, g, x, w, grain, algorithm);
      return state;
    }
    const int64_t units = grouped ? group : m_total;
    const int64_t slices = std::clamp<int64_t>(grain, 1, units);
    const std::vector<int64_t> bounds = slice_bounds(units, slices, !grouped);
    // Plain and one slice: every image in one call. Otherwise images go
    // one at a time (a channel slice of several images is not dense).
    const int64_t images = slices == 1 && !blocked ? batch : 1;
    state->calls = batch / images;
    // Blocked: an input whose channels fill whole blocks is reordered per
    // image, in channel slices over the pool; a few channels (the first
    // layer's) stay plain, which oneDNN's blocked kernels read directly.
    const bool blocked_src = blocked && channels % kBlock == 0;
    const Tag src_tag = blocked_src ? blocked_tag(spatial) : plain_tag(spatial);
    const Tag dst_tag = blocked ? blocked_tag(spatial) : plain_tag(spatial);
    const auto& engine = onednn_cpu_engine();
    if (blocked_src) {
      state->src_blocked.reserve(static_cast<size_t>(state->src_stride) * sizeof(float));
      const int64_t src_slices = std::clamp<int64_t>(channels / kBlock, 1, slices);
      const std::vector<int64_t> src_bounds = slice_bounds(channels, src_slices, true);
      for (int64_t s = 0; s < src_slices; ++s) {
        const int64_t c0 = src_bounds[s];
        state->src_in.push_back(
            WindowCopy{.offset = c0 * g.in_size,
                       .channels = src_bounds[s + 1] - c0,
                       .positions = g.in_size,
                       .plane_stride = g.in_size,
                       .dense = static_cast<float*>(state->src_blocked.data()) + c0 * g.in_size});
      }
    }
    if (blocked) state->dst_blocked.reserve(static_cast<size_t>(state->dst_stride) * sizeof(float));
    state->slices.resize(static_cast<size_t>(slices));
    for (int64_t s = 0; s < slices; ++s) {
      ConvSlice& slice = state->slices[s];
      const int64_t u0 = bounds[s];
      const int64_t u_count = bounds[s + 1] - u0;
      const int64_t m0 = grouped ? u0 * m_per_group : u0;  // first output channel
      const int64_t m_count = grouped ? u_count * m_per_group : u_count;
      const int64_t c_count = grouped ? u_count * c_per_group : channels;
      slice.src_offset = grouped ? u0 * c_per_group * g.in_size : 0;
      slice.dst_offset = m0 * g.out_size;
      slice.weights_offset = m0 * c_per_group * g.kernel_size;
      slice.bias_offset = m0;
      slice.rows = images * m_count;  // one slice when several images: contiguous
      slice.positions_end = g.out_size;

      const memory::dims dst_dims = with_spatial({images, m_count}, g.out_spatial);
      const memory::dims w_dims =
          with_spatial(grouped ? memory::dims{u_count, m_per_group, c_per_group}
                               : memory::dims{m_count, channels},
                       g.kernel);
      const memory::desc src_md(with_spatial({images, c_count}, g.in_spatial),
                                memory::data_type::f32, src_tag);
      const memory::desc dst_md(dst_dims, memory::data_type::f32, dst_tag);
      slice.src =
          memory(src_md, engine, blocked_src ? state->src_blocked.data() : DNNL_MEMORY_NONE);
      if (blocked) {
        float* dst = static_cast<float*>(state->dst_blocked.data());
        slice.dst = memory(dst_md, engine, dst + slice.dst_offset);
        if (m0 % kBlock != 0) {
          fail(RTS_ERROR_UNSUPPORTED, "cpu: ", node.label(),
               ": a blocked oneDNN conv slice must start on a block of ", kBlock, " channels");
        }
        slice.dst_back = WindowCopy{.offset = slice.dst_offset,
                                    .channels = m_count,
                                    .positions = g.out_size,
                                    .plane_stride = g.out_size,
                                    .dense = dst + slice.dst_offset};
      } else {
        slice.dst = memory(dst_md, engine, DNNL_MEMORY_NONE);
      }
      build_slice(slice, node, g, src_md, dst_md, w_dims, grouped, state->has_bias, g.pad_l,
                  g.pad_r, algorithm, w.as<float>(), nullptr);
    }
  } catch (const dnnl::error& error) {
    fail(RTS_ERROR_UNSUPPORTED, "cpu: ", node.label(), ": oneDNN has no convolution for input ",
         shape_str(x.dims), ", weights ", shape_str(w.dims), " (", error.what(), ")");
  }
  return state;
}

}  // namespace

template <OnednnConvForm Form>
std::shared_ptr<PreparedKernel> prepare_onednn_conv(const NodeDesc& node,
                                                    std::span<const TensorRef> inputs,
                                                    std::span<const TensorRef> outputs,
                                                    const KernelTuning& tuning) {
  constexpr bool kWinograd =
      Form == OnednnConvForm::kWinograd || Form == OnednnConvForm::kWinogradRows;
  constexpr bool kRows =
      Form == OnednnConvForm::kBlockedRows || Form == OnednnConvForm::kWinogradRows;
  return prepare(
      node, inputs, outputs, tuning.grain, Form != OnednnConvForm::kPlain, kRows,
      kWinograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_direct);
}

template std::shared_ptr<PreparedKernel> prepare_onednn_conv<OnednnConvForm::kPlain>(
    const NodeDesc&, std::span<const TensorRef>, std::span<const TensorRef>, const KernelTuning&);
template std::shared_ptr<PreparedKernel> prepare_onednn_conv<OnednnConvForm::kBlocked>(
    const NodeDesc&, std::span<const TensorRef>, std::span<const TensorRef>, const KernelTuning&);
template std::shared_ptr<PreparedKernel> prepare_onednn_conv<OnednnConvForm::kBlockedRows>(
    const NodeDesc&, std::span<const TensorRef>, std::span<const TensorRef>, const KernelTuning&);
template std::shared_ptr<PreparedKernel> prepare_onednn_conv<OnednnConvForm::kWinograd>(
    const NodeDesc&, std::span<const TensorRef>, std::span<const TensorRef>, const KernelTuning&);
template std::shared_ptr<PreparedKernel> prepare_onednn_conv<OnednnConvForm::kWinogradRows>(
    const NodeDesc&, std::span<const TensorRef>, std::span<const TensorRef>, const KernelTuning&);

namespace {

// One slice of one image (`src`, `dst`; `y` is the whole output, which
// the fused tail's operand is laid out like). `refresh_weights`: input 1
// is not the constant the weights were reordered from.
void run_slice(const OnednnConv& state, ConvSlice& slice, const KernelArgs& args, const float* src,
               const float* w, const float* bias, float* dst, float* y, bool refresh_weights) {
  if (refresh_weights) {
    slice.user_weights.set_data_handle(const_cast<float*>(w) + slice.weights_offset);
    reorder_weights(slice);
  }
  if (bias != nullptr) slice.bias.set_data_handle(const_cast<float*>(bias) + slice.bias_offset);
  if (slice.src_window) {
    copy_into(*slice.src_window, src);
  } else if (state.src_in.empty()) {
    slice.src.set_data_handle(const_cast<float*>(src) + slice.src_offset);
  }
  if (slice.dst_back) {
    execute_conv(slice, bias != nullptr);
    // A relu or residual tail goes with the copy out of the blocked
    // layout, one pass over the slice's output instead of two.
    if (const std::optional<BlockTail> tail = block_tail_of(args.epilogue, dst, y)) {
      copy_back(*slice.dst_back, dst, *tail);
      return;
    }
    copy_back(*slice.dst_back, dst, {});
  } else {
    slice.dst.set_data_handle(dst + slice.dst_offset);
    execute_conv(slice, bias != nullptr);
  }
  if (args.epilogue != nullptr) {
    // A fused relu or residual add (fusion.hpp), on what the slice just
    // wrote while it is in this thread's cache.
    float* written = dst + slice.dst_offset;
    apply_epilogue(args.epilogue->shifted(written - y), written, slice.rows, state.out_size,
                   slice.positions_begin, slice.positions_end);
  }
}

}  // namespace

bool run_onednn_conv(const KernelArgs& args) {
  auto* state =
      args.tuning != nullptr ? dynamic_cast<OnednnConv*>(args.tuning->prepared.get()) : nullptr;
  if (state == nullptr) return false;
  auto* x = args.inputs[0].as<float>();
  auto* w = args.inputs[1].as<float>();
  auto* bias = state->has_bias ? args.inputs[2].as<float>() : nullptr;
  float* y = args.outputs[0].as<float>();
  const bool fresh_weights = w != state->weights_source;
  for (int64_t call = 0; call < state->calls; ++call) {
    float* src = x + call * state->src_stride;
    float* dst = y + call * state->dst_stride;
    if (!state->src_in.empty()) {
      const auto src_slices = static_cast<int64_t>(state->src_in.size());
      args.pool.parallel_for(src_slices, 1, [&](int64_t begin, int64_t end) {
        const SingleOpenMpThread single;
        for (int64_t s = begin; s < end; ++s) copy_into(state->src_in[s], src);
      });
    }
    const auto slices = static_cast<int64_t>(state->slices.size());
    args.pool.parallel_for(slices, 1, [&](int64_t begin, int64_t end) {
      const SingleOpenMpThread single;
      for (int64_t s = begin; s < end; ++s) {
        run_slice(*state, state->slices[s], args, src, w, bias, dst, y, fresh_weights && call == 0);
      }
    });
  }
  return true;
}

}  // namespace rtscope::cpu
