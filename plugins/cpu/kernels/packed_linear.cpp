#include "kernels/packed_linear.hpp"

#include <algorithm>
#include <memory>
#include <oneapi/dnnl/dnnl.hpp>
#include <span>
#include <vector>

#include "aligned_buffer.hpp"
#include "kernels/fused_elementwise.hpp"
#include "kernels/onednn_support.hpp"
#include "thread_pool.hpp"

namespace rtscope::cpu {
namespace {

using dnnl::memory;

// One primitive per column block [begin, end) of the output, with the
// block's columns of the weights packed for it. A run gives every block to
// one pool task, and a context runs one execute at a time, so no block's
// memory objects are pointed at tensors by two threads at once.
class PackedLinear final : public PreparedKernel {
 public:
  struct Block {
    int64_t begin = 0;
    int64_t end = 0;
    dnnl::matmul primitive;
    dnnl::stream stream;
    memory src, weights, bias, dst, scratchpad;
  };

  PackedLinear(int64_t m, int64_t n, int64_t k) : m_(m), n_(n), k_(k) {
    // Where the product goes when the output already holds a residual it
    // must be added onto; a sum post-op could pick another weight layout.
    scratch_.reserve(static_cast<size_t>(m * n) * sizeof(float));
  }

  void add_block(int64_t begin, int64_t end, const float* weights, const float* bias) {
    const int64_t width = end - begin;
    const dnnl::engine& engine = onednn_cpu_engine();
    const memory::desc src_md({m_, k_}, memory::data_type::f32, memory::dims{k_, 1});
    const memory::desc dst_md({m_, width}, memory::data_type::f32, memory::dims{n_, 1});
    const memory::desc weights_md({k_, width}, memory::data_type::f32, memory::dims{n_, 1});
    const memory::desc any_weights_md({k_, width}, memory::data_type::f32, memory::format_tag::any);
    const memory::desc bias_md({1, width}, memory::data_type::f32, memory::dims{width, 1});
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    const dnnl::matmul::desc desc =
        bias != nullptr ? dnnl::matmul::desc(src_md, any_weights_md, bias_md, dst_md)
                        : dnnl::matmul::desc(src_md, any_weights_md, dst_md);
    const dnnl::matmul::primitive_desc pd(desc, attr, engine);
    Block& block = blocks_.emplace_back();
    block.begin = begin;
    block.end = end;
    block.stream = dnnl::stream(engine);
    block.weights = memory(pd.weights_desc(), engine);
    memory plain(weights_md, engine, const_cast<float*>(weights + begin));
    dnnl::reorder(plain, block.weights).execute(block.stream, plain, block.weights);
    block.stream.wait();
    if (bias != nullptr) block.bias = memory(bias_md, engine, const_cast<float*>(bias + begin));
    block.src = memory(src_md, engine, DNNL_MEMORY_NONE);
    block.dst = memory(dst_md, engine, DNNL_MEMORY_NONE);
    block.scratchpad = memory(pd.scratchpad_desc(), engine);
    block.primitive = dnnl::matmul(pd);
    bytes_ += pd.weights_desc().get_size() + pd.scratchpad_desc().get_size();
  }

  // Columns [begin, end) of out = x · W (+ bias), written into `out`.
  void run_block(const Block& block, const float* x, float* out) const {
    dnnl_status_t status =
        dnnl_memory_set_data_handle_v2(block.src.get(), const_cast<float*>(x), block.stream.get());
    if (status == dnnl_success) {
      status =
          dnnl_memory_set_data_handle_v2(block.dst.get(), out + block.begin, block.stream.get());
    }
    if (status == dnnl_success) {
      const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, block.src.get()},
                                      {DNNL_ARG_WEIGHTS, block.weights.get()},
                                      {DNNL_ARG_DST, block.dst.get()},
                                      {DNNL_ARG_SCRATCHPAD, block.scratchpad.get()},
                                      {DNNL_ARG_BIAS, block.bias.get(/*allow_empty=*/true)}};
      const int n_args = block.bias ? 5 : 4;
      status = dnnl_primitive_execute(block.primitive.get(), block.stream.get(), n_args, args);
    }
    if (status != dnnl_success) {
      fail(RTS_ERROR_INTERNAL, "cpu: oneDNN matmul ", m_, "x", block.end - block.begin, "x", k_,
           " on packed weights failed (dnnl status ", static_cast<int>(status), ")");
    }
  }

  std::span<const Block> blocks() const { return blocks_; }
  int64_t rows() const { return m_; }
  float* scratch() const { return static_cast<float*>(scratch_.data()); }
  size_t bytes() const override { return bytes_ + scratch_.capacity(); }

 private:
  int64_t m_;
  int64_t n_;
  int64_t k_;
  size_t bytes_ = 0;
  AlignedBuffer scratch_;
  std::vector<Block> blocks_;
};

// Inputs: x [..., k], weights [k, n] (constant), optional bias [n]
// (constant, read in place: the engine outlives every plan). Blocks of
// `tuning.grain` columns.
std::shared_ptr<PreparedKernel> prepare_packed_linear(const NodeDesc& node,
                                                      std::span<const TensorRef> inputs,
                                                      std::span<const TensorRef> outputs,
                                                      const KernelTuning& tuning) {
  const int64_t k = inputs[1].dim(0);
  const int64_t n = inputs[1].dim(1);
  const int64_t m = n > 0 ? outputs[0].elements() / n : 0;
  const float* weights = inputs[1].as<const float>();
  const float* bias = inputs.size() >= 3 ? inputs[2].as<const float>() : nullptr;
  // The tuner offers the variant only on constant weights and bias
  // (needs_constant_operands); anything else is a wiring error.
  if (weights == nullptr || (inputs.size() >= 3 && bias == nullptr)) {
    fail(RTS_ERROR_INTERNAL, "cpu: ", node.label(),
         ": packed linear weights and bias must be engine constants");
  }
  const SingleOpenMpThread one_thread;
  auto packed = std::make_shared<PackedLinear>(m, n, k);
  const int64_t grain = std::clamp<int64_t>(tuning.grain > 0 ? tuning.grain : n, 1, n);
  try {
    for (int64_t begin = 0; begin < n; begin += grain) {
      packed->add_block(begin, std::min(n, begin + grain), weights, bias);
    }
  } catch (const dnnl::error& error) {
    fail(RTS_ERROR_INTERNAL, "cpu: oneDNN could not build a matmul on packed ", k, "x", n,
         " weights for ", m, " rows: ", error.what(), " (dnnl status ",
         static_cast<int>(error.status), ")");
  }
  return packed;
}

const PackedLinear& packed_of(const KernelArgs& args, int64_t rows) {
  if (args.tuning == nullptr || args.tuning->prepared == nullptr) {
    fail(RTS_ERROR_INTERNAL, "cpu: ", args.node.label(),
         " runs the packed linear kernel without its packed weights");
  }
  const auto& packed = static_cast<const PackedLinear&>(*args.tuning->prepared);
  if (packed.rows() != rows) {
    fail(RTS_ERROR_INTERNAL, "cpu: ", args.node.label(), " has weights packed for ", packed.rows(),
         " rows and runs on ", rows);
  }
  return packed;
}

void run_packed_block(const KernelArgs& args, const PackedLinear& packed,
                      const PackedLinear::Block& block, int64_t rows, int64_t n) {
  const float* x = args.inputs[0].as<const float>();
  float* out = args.outputs[0].as<float>();
  if (args.epilogue != nullptr && args.epilogue->accumulates_in_place(out)) {
    float* product = packed.scratch();
    packed.run_block(block, x, product);
    for (int64_t row = 0; row < rows; ++row) {
      for (int64_t c = block.begin; c < block.end; ++c) out[row * n + c] += product[row * n + c];
    }
  } else {
    packed.run_block(block, x, out);
    if (args.epilogue != nullptr) {
      apply_epilogue(*args.epilogue, out, rows, n, block.begin, block.end);
    }
  }
}

void run_packed_linear(const KernelArgs& args) {
  const int64_t n = args.inputs[1].dim(1);
  const int64_t rows = args.outputs[0].elements() / n;
  const PackedLinear& packed = packed_of(args, rows);
  const std::span<const PackedLinear::Block> blocks = packed.blocks();
  const SingleOpenMpThread one_thread;
  if (blocks.size() == 1) {
    run_packed_block(args, packed, blocks[0], rows, n);
    return;
  }
  args.pool.parallel_for(static_cast<int64_t>(blocks.size()), 1, [&](int64_t begin, int64_t end) {
    const SingleOpenMpThread worker_one_thread;  // OpenMP's setting is per thread
    for (int64_t b = begin; b < end; ++b) run_packed_block(args, packed, blocks[b], rows, n);
  });
}

}  // namespace

void add_packed_linear_variants(int64_t m, int64_t n, int64_t k, unsigned threads,
                                int64_t split_grain, std::vector<KernelVariant>& variants) {
  if (m < 2 || n <= 0 || k <= 0) return;
  variants.push_back({"linear.onednn_packed", run_packed_linear, {n}, prepare_packed_linear, true});
  if (threads > 1 && split_grain < n) {
    variants.push_back({"linear.onednn_packed_split_n",
                        run_packed_linear,
                        {split_grain},
                        prepare_packed_linear,
                        true});
  }
}

}  // namespace rtscope::cpu
