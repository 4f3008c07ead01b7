/* Compiled as strict C99 by the example's CMakeLists.txt: proves that
 * plugin_abi.h is a valid C header. It also shows the C spelling of a
 * version check on a struct that may come from an older host. */
#include "rtscope/plugin_abi.h"

int skeleton_c_check_table(const rts_plugin_api* api);

int skeleton_c_check_table(const rts_plugin_api* api) {
  if (api == NULL || api->abi_major != RTS_ABI_VERSION_MAJOR) return 0;
  if (!RTS_HAS_FIELD(api, rts_plugin_api, validate_settings)) return 1;
  return api->validate_settings != NULL ? 2 : 1;
}
