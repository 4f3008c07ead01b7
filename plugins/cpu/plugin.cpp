#include "plugin.hpp"

#include <cblas.h>

#include <thread>

#include "engine.hpp"
#include "kit_names.hpp"

namespace rtscope::cpu {
namespace {

unsigned pool_size() {
  const unsigned cores = std::thread::hardware_concurrency();
  return cores > 0 ? cores : 1;
}

}  // namespace

CpuPlugin::CpuPlugin(const rts_host_api* host, uint32_t abi_minor)
    : kit::OneDeviceBackend(host, abi_minor, kFormat, describe_host_cpu()), pool_(pool_size()) {
  // The pool is the only parallelism: each OpenBLAS call runs on the
  // thread that makes it (column blocks over the pool make large products
  // parallel). OpenBLAS's own workers would contend with the pool, and
  // they spin after every call they take part in. The threaded build stays
  // linked because it is safe to call from several threads at once;
  // Debian's serial build is not (its buffers are shared without locks).
  // Process-wide: it applies to any other OpenBLAS user in the process.
  openblas_set_num_threads(1);
  log(RTS_LOG_DEBUG, std::string("cpu plugin ") + kFormat.plugin_version + " on '" + device().name +
                         "', " + std::to_string(pool_.size()) + " threads");
}

std::unique_ptr<kit::Engine> CpuPlugin::build_engine(uint32_t, GraphDesc graph) {
  return std::make_unique<Engine>(*this, std::move(graph));
}

}  // namespace rtscope::cpu
