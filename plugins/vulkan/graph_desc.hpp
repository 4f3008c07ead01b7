// An owned copy of an rts_graph (rtscope/kit/graph_desc.hpp, shared by the
// plugins). build_engine copies the host's graph into one, the engine blob
// stores one, and the engine is built from one either way.
#pragma once

#include "rtscope/kit/graph_desc.hpp"

namespace rtscope::vulkan {

using kit::AttrDesc;
using kit::ConstantDesc;
using kit::copy_graph;
using kit::copy_node;
using kit::copy_value;
using kit::Dims;
using kit::element_count;
using kit::GraphDesc;
using kit::NodeDesc;
using kit::ValueDesc;

}  // namespace rtscope::vulkan
