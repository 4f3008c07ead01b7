/* A plugin built against a future major ABI: the host must refuse it before
 * calling any slot, naming both major versions and the file. */
#include "stub_plugin.h"

static rts_status bad_major_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                                 const rts_error_sink* err) {
  (void)host;
  (void)abi_minor;
  *out = NULL;
  stub_report(err, RTS_ERROR_VERSION, "bad_major: init called despite the major mismatch");
  return RTS_ERROR_VERSION;
}

static const rts_plugin_api kApi = {
    .struct_size = sizeof(rts_plugin_api),
    .abi_major = RTS_ABI_VERSION_MAJOR + 1,
    .abi_minor = RTS_ABI_VERSION_MINOR,
    .id = "bad_major",
    .version = "0.0.1",
    .init = bad_major_init,
    STUB_PLUGIN_SLOTS,
};

RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi; }
