// The engine blob: a versioned, checksummed copy of the engine's graph in
// the format of rtscope/kit/engine_blob.hpp, under the magic "RTSCPUEB".
#include "rtscope/kit/engine_blob.hpp"

#include <utility>

#include "engine.hpp"
#include "error.hpp"
#include "plugin.hpp"

namespace rtscope::cpu {
namespace {

constexpr kit::EngineBlobFormat kBlobFormat = {
    "cpu", {'R', 'T', 'S', 'C', 'P', 'U', 'E', 'B'}, 1, kPluginVersion};

}  // namespace

void Engine::serialize(const rts_blob_sink& sink) const {
  kit::write_engine_blob(sink, kBlobFormat, graph_);
}

std::unique_ptr<Engine> Engine::deserialize(CpuPlugin& plugin, const void* data, uint64_t size) {
  GraphDesc graph = kit::read_engine_blob(kBlobFormat, data, size);
  return std::make_unique<Engine>(plugin, std::move(graph));
}

}  // namespace rtscope::cpu
