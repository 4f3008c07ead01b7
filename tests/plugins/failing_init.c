/* Loads and negotiates fine, then init fails as on a machine without the
 * plugin's device: the host must pass the plugin's message on. */
#include "stub_plugin.h"

static rts_status failing_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                               const rts_error_sink* err) {
  (void)host;
  (void)abi_minor;
  *out = NULL;
  stub_report(err, RTS_ERROR_DEVICE, "no device available: simulated init failure");
  return RTS_ERROR_DEVICE;
}

static const rts_plugin_api kApi = {
    .struct_size = sizeof(rts_plugin_api),
    .abi_major = RTS_ABI_VERSION_MAJOR,
    .abi_minor = RTS_ABI_VERSION_MINOR,
    .id = "failing_init",
    .version = "0.0.1",
    .init = failing_init,
    STUB_PLUGIN_SLOTS,
};

RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi; }
