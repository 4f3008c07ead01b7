/* A valid plugin (one virtual device, no ops) that records each time the
 * dynamic loader initialises it: every run of its constructor appends a
 * line to the file named by RTSCOPE_TEST_LOAD_LOG. The registry must load
 * (and so initialise) a plugin library once per load, as a BLAS that starts
 * its threads when loaded would otherwise do that work twice. */
#include <stdio.h>
#include <stdlib.h>

#include "stub_plugin.h"

static int instance;

__attribute__((constructor)) static void record_load(void) {
  const char* log = getenv("RTSCOPE_TEST_LOAD_LOG");
  FILE* file;
  if (!log || !*log) return;
  file = fopen(log, "a");
  if (!file) return;
  fputs("loaded\n", file);
  fclose(file);
}

static rts_status counts_loads_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                                    const rts_error_sink* err) {
  (void)host;
  (void)abi_minor;
  (void)err;
  *out = (rts_plugin*)&instance;
  return RTS_OK;
}

static const rts_plugin_api kApi = {
    .struct_size = sizeof(rts_plugin_api),
    .abi_major = RTS_ABI_VERSION_MAJOR,
    .abi_minor = RTS_ABI_VERSION_MINOR,
    .id = "counts_loads",
    .version = "0.0.1",
    .init = counts_loads_init,
    STUB_PLUGIN_SLOTS,
};

RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi; }
