/* Never returns from init, as a driver waiting on absent hardware might.
 * Loaded as an optional plugin, its probe must be killed after the time
 * limit and the plugin dropped with a warning. */
#define _POSIX_C_SOURCE 200809L
#include <unistd.h>

#include "stub_plugin.h"

static rts_status hang_init(rts_plugin** out, const rts_error_sink* err) {
  (void)out;
  (void)err;
  for (;;) pause();
  return RTS_ERROR_INTERNAL;
}

STUB_PLUGIN_ENTRY(RTS_ABI_VERSION_MAJOR, "hang_init", hang_init)
