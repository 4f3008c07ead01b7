// Umbrella header of the rtscope C++ API.
//
//   rtscope::PluginRegistry registry;
//   registry.load({.name = "cpu"});
//   auto model = rtscope::Model::build(rtscope::build_decoder({}), registry, {.backends =
//   {"cpu"}}); auto out = model->run({{"tokens", tokens}, {"pos", pos}});
#pragma once

#include "rtscope/device_memory.hpp"
#include "rtscope/dtype.hpp"
#include "rtscope/error.hpp"
#include "rtscope/graph.hpp"
#include "rtscope/graph_yaml.hpp"
#include "rtscope/llama_checkpoint.hpp"
#include "rtscope/model.hpp"
#include "rtscope/module.hpp"
#include "rtscope/op_registry.hpp"
#include "rtscope/plugin.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/runtime_cache.hpp"
#include "rtscope/runtime_settings.hpp"
#include "rtscope/scopes.hpp"
#include "rtscope/templates.hpp"
#include "rtscope/tensor.hpp"
#include "rtscope/trace.hpp"
