/* Calls a function no library defines. It links (undefined symbols are
 * allowed for this target) but dlopen with RTLD_NOW must fail with the
 * loader's "undefined symbol: rts_test_function_nobody_defines". */
#include "stub_plugin.h"

static int instance;

extern int rts_test_function_nobody_defines(void);

static rts_status unresolved_init(rts_plugin** out, const rts_error_sink* err) {
  (void)err;
  *out = (rts_plugin*)&instance;
  return rts_test_function_nobody_defines() == 0 ? RTS_OK : RTS_ERROR_INTERNAL;
}

STUB_PLUGIN_ENTRY(RTS_ABI_VERSION_MAJOR, "unresolved", unresolved_init)
