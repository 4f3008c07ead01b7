/* Crashes (SIGSEGV) in init, as a broken driver might. Loaded as an
 * optional plugin, it must be probed in a child process and dropped with a
 * warning; the host process must survive. */
#include <signal.h>

#include "stub_plugin.h"

static rts_status crash_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                             const rts_error_sink* err) {
  (void)host;
  (void)abi_minor;
  (void)out;
  (void)err;
  raise(SIGSEGV);
  return RTS_ERROR_INTERNAL;
}

static const rts_plugin_api kApi = {
    .struct_size = sizeof(rts_plugin_api),
    .abi_major = RTS_ABI_VERSION_MAJOR,
    .abi_minor = RTS_ABI_VERSION_MINOR,
    .id = "crash_init",
    .version = "0.0.1",
    .init = crash_init,
    STUB_PLUGIN_SLOTS,
};

RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi; }
