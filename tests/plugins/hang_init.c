/* Never returns from init, as a driver waiting on absent hardware might.
 * Loaded as an optional plugin, its probe must be killed after the time
 * limit and the plugin dropped with a warning. */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include "stub_plugin.h"

static rts_status hang_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                            const rts_error_sink* err) {
  (void)host;
  (void)abi_minor;
  (void)out;
  (void)err;
  for (;;) pause();
  return RTS_ERROR_INTERNAL;
}

static const rts_plugin_api kApi = {
    .struct_size = sizeof(rts_plugin_api),
    .abi_major = RTS_ABI_VERSION_MAJOR,
    .abi_minor = RTS_ABI_VERSION_MINOR,
    .id = "hang_init",
    .version = "0.0.1",
    .init = hang_init,
    STUB_PLUGIN_SLOTS,
};

RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi; }
