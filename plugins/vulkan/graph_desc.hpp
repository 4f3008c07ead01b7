// An owned copy of an rts_graph (plugin_kit/graph_desc.hpp, shared by the
// plugins). build_engine copies the host's graph into one, the engine blob
// stores one, and the engine is built from one either way.
#pragma once

#include "plugin_kit/graph_desc.hpp"

namespace rtscope::vulkan {

using plugin_kit::AttrDesc;
using plugin_kit::ConstantDesc;
using plugin_kit::copy_graph;
using plugin_kit::copy_node;
using plugin_kit::copy_value;
using plugin_kit::Dims;
using plugin_kit::element_count;
using plugin_kit::GraphDesc;
using plugin_kit::NodeDesc;
using plugin_kit::ValueDesc;

}  // namespace rtscope::vulkan
