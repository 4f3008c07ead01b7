// The exception type the CPU plugin uses internally and its message
// helpers: the kit's (rtscope/kit/error.hpp). The kit's trampolines turn
// Error into an rts_status plus a message for the host's error sink;
// nothing thrown ever crosses the C boundary.
#pragma once

#include "kit_names.hpp"
#include "rtscope/kit/error.hpp"
