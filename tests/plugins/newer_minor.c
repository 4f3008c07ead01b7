/* A valid plugin (one virtual device, no ops) built against a newer minor
 * ABI: its table is larger and reports a higher minor. The host must accept
 * it, negotiate min(host, plugin), and never touch the slots it does not
 * know. */
#include "stub_plugin.h"

static int instance;

/* Slots a future minor version might add; the host must not call them. */
typedef struct newer_minor_api {
  rts_plugin_api base;
  rts_status (*future_slot_a)(rts_plugin* plugin, const rts_error_sink* err);
  uint64_t future_field_b;
} newer_minor_api;

static rts_status newer_init(const rts_host_api* host, uint32_t abi_minor, rts_plugin** out,
                             const rts_error_sink* err) {
  char line[96];
  (void)err;
  if (host && RTS_HAS_FIELD(host, rts_host_api, log) && host->log) {
    snprintf(line, sizeof(line), "newer_minor: built for ABI %d.%d, negotiated minor %u",
             RTS_ABI_VERSION_MAJOR, RTS_ABI_VERSION_MINOR + 5, (unsigned)abi_minor);
    host->log(host->user, RTS_LOG_DEBUG, line);
  }
  *out = (rts_plugin*)&instance;
  return RTS_OK;
}

static rts_status future_slot_a(rts_plugin* plugin, const rts_error_sink* err) {
  (void)plugin;
  stub_report(err, RTS_ERROR_INTERNAL, "newer_minor: the host called a slot it cannot know");
  return RTS_ERROR_INTERNAL;
}

static const newer_minor_api kApi = {
    .base =
        {
            .struct_size = sizeof(newer_minor_api),
            .abi_major = RTS_ABI_VERSION_MAJOR,
            .abi_minor = RTS_ABI_VERSION_MINOR + 5,
            .id = "newer_minor",
            .version = "0.0.1",
            .init = newer_init,
            STUB_PLUGIN_SLOTS,
        },
    .future_slot_a = future_slot_a,
    .future_field_b = 0x5eedu,
};

RTS_PLUGIN_EXPORT const rts_plugin_api* rts_plugin_entry(void) { return &kApi.base; }
