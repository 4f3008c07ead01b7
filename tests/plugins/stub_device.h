/* The device side shared by the small C test plugins: one virtual device
 * named after STUB_DEVICE_OWNER (define it before including; "stub" when
 * not), an error report helper, and no-op shutdown and counters. Each file
 * includes it once, so the functions are static there. */
#ifndef RTSCOPE_TEST_STUB_DEVICE_H
#define RTSCOPE_TEST_STUB_DEVICE_H

#include <stdio.h>
#include <string.h>

#include "rtscope/plugin_abi.h"

#ifndef STUB_DEVICE_OWNER
#define STUB_DEVICE_OWNER "stub"
#endif

static void stub_report(const rts_error_sink* err, rts_status status, const char* message) {
  if (err && err->report) err->report(err->user, status, message);
}

static void stub_shutdown(rts_plugin* plugin) { (void)plugin; }

static uint32_t stub_device_count(rts_plugin* plugin) {
  (void)plugin;
  return 1;
}

static rts_status stub_device_info(rts_plugin* plugin, uint32_t device, rts_device_info* out,
                                   const rts_error_sink* err) {
  uint32_t size;
  (void)plugin;
  if (device != 0 || !out || !RTS_HAS_FIELD(out, rts_device_info, fingerprint)) {
    stub_report(err, RTS_ERROR_INVALID_ARGUMENT,
                STUB_DEVICE_OWNER ": one device (0) with a full struct");
    return RTS_ERROR_INVALID_ARGUMENT;
  }
  size = out->struct_size;
  memset(out, 0, sizeof(*out));
  out->struct_size = size;
  snprintf(out->name, sizeof(out->name), "%s", STUB_DEVICE_OWNER " virtual device");
  out->kind = RTS_DEVICE_VIRTUAL;
  snprintf(out->fingerprint, sizeof(out->fingerprint), "%s", STUB_DEVICE_OWNER "/virtual/0");
  return RTS_OK;
}

static void stub_context_counters(rts_context* context, const rts_counter_sink* sink) {
  (void)context;
  (void)sink;
}

#endif /* RTSCOPE_TEST_STUB_DEVICE_H */
