// The smallest backend on the installed kit: one device, no ops. It shows
// that an out-of-tree plugin gets the whole C table from kit::plugin_api
// (and its one device from kit::OneDeviceBackend) and still exports only
// rts_plugin_entry.
#include <cstdio>
#include <memory>
#include <rtscope/kit/op_table.hpp>  // compiles against the installed op schema
#include <rtscope/kit/plugin_api.hpp>

namespace {

rts_device_info demo_device() {
  rts_device_info device{};
  device.struct_size = sizeof(device);
  std::snprintf(device.name, sizeof(device.name), "kit demo device");
  return device;
}

class KitDemo : public rtscope::kit::OneDeviceBackend {
 public:
  static constexpr rtscope::kit::EngineBlobFormat kFormat = {
      "kitdemo", {'K', 'I', 'T', 'D', 'E', 'M', 'O', '1'}, 1, "0.1.0"};
  static constexpr bool kDeviceMemory = false;

  KitDemo(const rts_host_api* host, uint32_t abi_minor)
      : OneDeviceBackend(host, abi_minor, kFormat, demo_device()) {}
  rts_support query_node(uint32_t, const rtscope::kit::NodeDesc& node, const rts_value*,
                         const rts_value*) override {
    rts_support answer{};
    answer.detail = refusal(node, "kitdemo runs no ops");
    return answer;
  }
  std::unique_ptr<rtscope::kit::Engine> build_engine(uint32_t, rtscope::kit::GraphDesc) override {
    rtscope::kit::fail(RTS_ERROR_UNSUPPORTED, "kitdemo runs no ops");
  }
};

}  // namespace

extern "C" RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) {
  return &rtscope::kit::plugin_api<KitDemo>();
}
