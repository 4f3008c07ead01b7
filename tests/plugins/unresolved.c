/* Calls a function no library defines. It links (undefined symbols are
 * allowed for this target) but dlopen with RTLD_NOW must fail with the
 * loader's "undefined symbol: rts_test_function_nobody_defines". */
#include "stub_plugin.h"

static int instance;

extern int rts_test_function_nobody_defines(void);

static rts_status unresolved_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                                  const rts_error_sink* err) {
  (void)host;
  (void)abi_minor;
  (void)err;
  *out = (rts_plugin*)&instance;
  return rts_test_function_nobody_defines() == 0 ? RTS_OK : RTS_ERROR_INTERNAL;
}

static const rts_plugin_api kApi = {
    .struct_size = sizeof(rts_plugin_api),
    .abi_major = RTS_ABI_VERSION_MAJOR,
    .abi_minor = RTS_ABI_VERSION_MINOR,
    .id = "unresolved",
    .version = "0.0.1",
    .init = unresolved_init,
    STUB_PLUGIN_SLOTS,
};

RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi; }
