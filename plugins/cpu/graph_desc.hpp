// The kit's owned copy of an rts_graph (rtscope/kit/graph_desc.hpp).
// build_engine copies the host's graph into one, the engine blob stores
// one, and the engine is built from one either way.
#pragma once

#include "kit_names.hpp"
#include "rtscope/kit/graph_desc.hpp"
