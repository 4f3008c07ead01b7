/* A valid shared library that exports a symbol, just not rts_plugin_entry:
 * the host must name the missing entry symbol. */
#include "rtscope/plugin_abi.h"

RTS_PLUGIN_EXPORT int rts_not_the_plugin_entry(void) { return 42; }
