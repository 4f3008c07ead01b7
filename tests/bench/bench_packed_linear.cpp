// The products of a decode step, y[M,N] = x[M,K] · W[K,N] in f32 on one
// thread, by the libraries the cpu plugin can choose from:
//   BM_OpenBlas     cblas_sgemv (M = 1) or cblas_sgemm on W as it is
//   BM_DnnlSgemm    oneDNN's dnnl_sgemm on W as it is (linear.onednn)
//   BM_DnnlPacked   oneDNN's matmul primitive on W reordered once into the
//                   layout it picks for format_tag::any (linear.onednn_packed)
//   BM_Xnnpack      XNNPACK's fully-connected operator on W packed once at
//                   creation (built only where libxnnpack-dev is installed)
// M 1, 4, 16; (K, N) the default decoder's products, an odd shape and
// larger model widths. Read the CPU column (thread CPU time): on a shared
// machine wall time moves with other load. Inputs are seeded uniform
// values in [-1, 1].
#include <benchmark/benchmark.h>
#include <cblas.h>
#include <omp.h>

#include <cmath>
#include <oneapi/dnnl/dnnl.hpp>
#include <random>
#include <vector>
#ifdef RTSCOPE_BENCH_XNNPACK
#include <xnnpack.h>
#endif

namespace {

struct Operands {
  int64_t m, k, n;
  std::vector<float> x, w, y;

  explicit Operands(const benchmark::State& state)
      : m(state.range(0)), k(state.range(1)), n(state.range(2)) {
    std::mt19937 generator(static_cast<uint32_t>(m * 131 + k * 7 + n));
    std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
    x.resize(static_cast<size_t>(m * k));
    w.resize(static_cast<size_t>(k * n));
    y.resize(static_cast<size_t>(m * n));
    for (float& v : x) v = uniform(generator);
    for (float& v : w) v = uniform(generator);
  }
};

void report(benchmark::State& state, const Operands& o) {
  state.counters["GFLOP/s"] = benchmark::Counter(
      2.0 * static_cast<double>(o.m * o.k * o.n) * static_cast<double>(state.iterations()),
      benchmark::Counter::kIsRate);
}

void BM_OpenBlas(benchmark::State& state) {
  Operands o(state);
  for (auto _ : state) {
    if (o.m == 1) {
      cblas_sgemv(CblasRowMajor, CblasTrans, static_cast<int>(o.k), static_cast<int>(o.n), 1.0f,
                  o.w.data(), static_cast<int>(o.n), o.x.data(), 1, 0.0f, o.y.data(), 1);
    } else {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(o.m),
                  static_cast<int>(o.n), static_cast<int>(o.k), 1.0f, o.x.data(),
                  static_cast<int>(o.k), o.w.data(), static_cast<int>(o.n), 0.0f, o.y.data(),
                  static_cast<int>(o.n));
    }
    benchmark::DoNotOptimize(o.y.data());
  }
  report(state, o);
}

void BM_DnnlSgemm(benchmark::State& state) {
  Operands o(state);
  omp_set_num_threads(1);
  for (auto _ : state) {
    dnnl_sgemm('N', 'N', o.m, o.n, o.k, 1.0f, o.x.data(), o.k, o.w.data(), o.n, 0.0f, o.y.data(),
               o.n);
    benchmark::DoNotOptimize(o.y.data());
  }
  report(state, o);
}

void BM_DnnlPacked(benchmark::State& state) {
  Operands o(state);
  omp_set_num_threads(1);
  using dnnl::memory;
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const memory::desc src_md({o.m, o.k}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc dst_md({o.m, o.n}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc w_md({o.k, o.n}, memory::data_type::f32, memory::format_tag::ab);
  const memory::desc any_md({o.k, o.n}, memory::data_type::f32, memory::format_tag::any);
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src_md, any_md, dst_md), attr, engine);
  memory plain(w_md, engine, o.w.data());
  memory packed(pd.weights_desc(), engine);
  dnnl::reorder(plain, packed).execute(stream, plain, packed);
  memory src(src_md, engine, o.x.data());
  memory dst(dst_md, engine, o.y.data());
  memory scratchpad(pd.scratchpad_desc(), engine);
  const dnnl::matmul primitive(pd);
  const dnnl_exec_arg_t args[] = {{DNNL_ARG_SRC, src.get()},
                                  {DNNL_ARG_WEIGHTS, packed.get()},
                                  {DNNL_ARG_DST, dst.get()},
                                  {DNNL_ARG_SCRATCHPAD, scratchpad.get()}};
  for (auto _ : state) {
    dnnl_primitive_execute(primitive.get(), stream.get(), 4, args);
    benchmark::DoNotOptimize(o.y.data());
  }
  report(state, o);
  state.SetLabel(pd.impl_info_str());
}

#ifdef RTSCOPE_BENCH_XNNPACK
void BM_Xnnpack(benchmark::State& state) {
  Operands o(state);
  xnn_initialize(nullptr);
  xnn_operator_t op = nullptr;
  if (xnn_create_fully_connected_nc_f32(o.k, o.n, o.k, o.n, o.w.data(), nullptr, -INFINITY,
                                        INFINITY, XNN_FLAG_TRANSPOSE_WEIGHTS,
                                        &op) != xnn_status_success) {
    state.SkipWithError("xnn_create_fully_connected_nc_f32 failed");
    return;
  }
  for (auto _ : state) {
    xnn_setup_fully_connected_nc_f32(op, o.m, o.x.data(), o.y.data(), nullptr);
    xnn_run_operator(op, nullptr);
    benchmark::DoNotOptimize(o.y.data());
  }
  xnn_delete_operator(op);
  report(state, o);
}
#endif

void shapes(benchmark::internal::Benchmark* bench) {
  const int64_t kn[][2] = {{256, 256},   {256, 768},   {256, 1024},  {1024, 256}, {333, 517},
                           {1024, 1024}, {1024, 4096}, {4096, 1024}, {4096, 4096}};
  for (const auto& [k, n] : kn) {
    for (const int64_t m : {1, 4, 16}) bench->Args({m, k, n});
  }
  bench->ArgNames({"M", "K", "N"});
}

BENCHMARK(BM_OpenBlas)->Apply(shapes);
BENCHMARK(BM_DnnlSgemm)->Apply(shapes);
BENCHMARK(BM_DnnlPacked)->Apply(shapes);
#ifdef RTSCOPE_BENCH_XNNPACK
BENCHMARK(BM_Xnnpack)->Apply(shapes);
#endif

}  // namespace

BENCHMARK_MAIN();
