// import_onnx(): parse, check, infer shapes, check opsets, then fold, prune
// and map every node (see rtscope/onnx_import.hpp).
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>

#include <climits>
#include <new>
#include <set>

#include "context.hpp"
#include "fuse_patterns.hpp"
#include "kv_alias.hpp"
#include "onnx_tensor.hpp"
#include "onnx_writer.hpp"
#include "parsed_model.hpp"
#include "passes.hpp"
#include "regular_file.hpp"
#include "rtscope/error.hpp"
#include "rtscope/onnx_import.hpp"

// libonnx 1.12 exports the checker entry that takes a context (the one its
// check_model(path) uses) without declaring it; the context carries the
// model's folder, so external data is looked up next to the model rather
// than in the working directory.
namespace onnx::checker {
void check_model(const ModelProto& model, CheckerContext& ctx);
}  // namespace onnx::checker

namespace rtscope {
namespace onnx_import {
namespace {

namespace fs = std::filesystem;

// Only the default domain has rtscope mappings; the range of each known
// domain is what this libonnx knows.
void check_opsets(Context& ctx, const onnx::ModelProto& model) {
  const auto& known = onnx::OpSchemaRegistry::DomainToVersionRange::Instance().Map();
  for (const auto& entry : model.opset_import()) {
    const std::string domain = entry.domain() == "ai.onnx" ? "" : entry.domain();
    const std::string shown = domain.empty() ? "ai.onnx" : domain;
    auto range = known.find(domain);
    if (range == known.end()) {
      throw InputError(ctx.file + ": opset_import names domain '" + shown +
                       "', which this importer does not know (known: ai.onnx, ai.onnx.ml)");
    }
    if (entry.version() < range->second.first || entry.version() > range->second.second) {
      throw InputError(ctx.file + ": opset " + std::to_string(entry.version()) + " of domain '" +
                       shown + "' is outside the supported " + std::to_string(range->second.first) +
                       ".." + std::to_string(range->second.second) +
                       "; convert the model to an older opset (onnx.version_converter)");
    }
    ctx.opsets[domain] = entry.version();
  }
  if (!ctx.opsets.count("")) ctx.opsets[""] = 1;
}

// A model input's type, with user shapes applied and dim_params as symbols.
ValueInfo input_info(Context& ctx, const onnx::ValueInfoProto& input,
                     const OnnxImportOptions& options, std::map<std::string, int64_t>& sizes) {
  ValueInfo info;
  info.name = input.name();
  info.loc.file = ctx.file;
  if (!input.type().has_tensor_type()) {
    throw InputError(ctx.file + ": " + kUnsupported + "input '" + input.name() +
                     "' is not a tensor (sequences, maps and optionals are not supported)");
  }
  const auto& tensor_type = input.type().tensor_type();
  const auto dtype = onnx_import::dtype_of(tensor_type.elem_type());
  if (!dtype) {
    throw InputError(ctx.file + ": " + kUnsupported + "input '" + input.name() + "' has type " +
                     elem_type_name(tensor_type.elem_type()) +
                     ", which rtscope has no dtype for (f32, f16, i32, i64, bool)");
  }
  info.type.dtype = *dtype;
  auto given = options.shapes.find(input.name());
  const auto& dims = tensor_type.shape().dim();
  if (given != options.shapes.end() && tensor_type.has_shape() &&
      static_cast<std::size_t>(dims.size()) != given->second.size()) {
    throw InputError(ctx.file + ": shape given for input '" + input.name() + "' has rank " +
                     std::to_string(given->second.size()) + ", the model declares rank " +
                     std::to_string(dims.size()));
  }
  if (given != options.shapes.end()) {
    for (std::size_t d = 0; d < given->second.size(); ++d) {
      const int64_t size = given->second[d];
      if (size < 0) {
        throw InputError(ctx.file + ": shape given for input '" + input.name() +
                         "' has the negative dim " + std::to_string(size));
      }
      if (tensor_type.has_shape() && dims[static_cast<int>(d)].has_dim_param()) {
        sizes[dims[static_cast<int>(d)].dim_param()] = size;
      }
      info.type.shape.push_back(Dim::fixed(size));
    }
    return info;
  }
  if (!tensor_type.has_shape()) {
    throw InputError(ctx.file + ": " + kUnsupported + "input '" + input.name() +
                     "' has no shape; give one (--shapes " + input.name() + ":1x16)");
  }
  for (int d = 0; d < dims.size(); ++d) {
    const auto& dim = dims[d];
    if (dim.has_dim_value()) {
      if (dim.dim_value() < 0) {
        throw InputError(ctx.file + ": input '" + input.name() + "' has the negative dim " +
                         std::to_string(dim.dim_value()));
      }
      info.type.shape.push_back(Dim::fixed(dim.dim_value()));
    } else {
      const std::string symbol = dim.has_dim_param() && !dim.dim_param().empty()
                                     ? dim.dim_param()
                                     : input.name() + "_d" + std::to_string(d);
      info.type.shape.push_back(Dim::named(symbol));
    }
  }
  return info;
}

// Writes the concrete input shapes into the model so ONNX shape inference
// sees them.
void patch_input_shape(onnx::ValueInfoProto& input, const ValueType& type) {
  onnx_export::set_shape(*input.mutable_type()->mutable_tensor_type()->mutable_shape(), type.shape);
}

Graph import_model(const ParsedModel& parsed, const fs::path& file,
                   const OnnxImportOptions& options) {
  Context ctx;
  ctx.file = file.string();
  ctx.dir = file.parent_path();
  const std::shared_ptr<onnx::ModelProto> model = parsed.working_copy();
  check_opsets(ctx, *model);
  if (options.check) {
    try {
      onnx::checker::CheckerContext checker;
      checker.set_model_dir(ctx.dir.empty() ? std::string(".") : ctx.dir.string());
      onnx::checker::check_model(parsed.full(), checker);
    } catch (const std::exception& e) {
      std::string text = e.what();
      for (char& c : text) c = c == '\n' ? ' ' : c;
      throw InputError(ctx.file + ": the ONNX checker rejects the model: " + text);
    }
  }
  onnx::GraphProto& graph = *model->mutable_graph();
  const std::map<std::size_t, KvPair> kv_pairs = find_kv_pairs(ctx, graph, options);
  ctx.graph.name = file.stem().string();
  ctx.graph.loc.file = ctx.file;

  // Initializers first: an input that has one is a constant (old IR
  // versions list every initializer as an input too).
  const std::vector<Tensor> initializers = parsed.initializers({ctx.file, ctx.dir, nullptr});
  for (int i = 0; i < graph.initializer_size(); ++i) {
    const std::string& name = graph.initializer(i).name();
    ctx.constants[name] = initializers[static_cast<std::size_t>(i)];
    ctx.names.insert(name);
  }
  std::map<std::string, int64_t> sizes;
  for (auto& input : *graph.mutable_input()) {
    if (ctx.constants.count(input.name())) continue;
    if (auto fixed = options.values.find(input.name()); fixed != options.values.end()) {
      const auto declared = input.type().has_tensor_type()
                                ? onnx_import::dtype_of(input.type().tensor_type().elem_type())
                                : std::nullopt;
      if (!declared || *declared != fixed->second.dtype()) {
        throw InputError(ctx.file + ": the value given for input '" + input.name() + "' is " +
                         std::string(to_string(fixed->second.dtype())) +
                         ", the model declares another type");
      }
      ctx.constants[input.name()] = fixed->second;
      ctx.names.insert(input.name());
      continue;
    }
    ValueInfo info = input_info(ctx, input, options, sizes);
    ctx.graph.inputs.push_back(info);
  }
  // A dim_param sized through one input takes that size everywhere.
  for (ValueInfo& info : ctx.graph.inputs) {
    for (Dim& d : info.type.shape) {
      if (!d.is_static()) {
        if (auto it = sizes.find(d.symbol); it != sizes.end()) {
          d = Dim::fixed(it->second);
        } else {
          ctx.graph.symbols[d.symbol] = SymbolRange{1, 1, options.symbol_max};
        }
      }
    }
    ctx.types[info.name] = info.type;
    ctx.names.insert(info.name);
    for (auto& input : *graph.mutable_input()) {
      if (input.name() == info.name) patch_input_shape(input, info.type);
    }
  }
  for (const auto& output : graph.output()) {
    ctx.graph_outputs.insert(output.name());
    ctx.graph.outputs.push_back(output.name());
  }
  make_kv_states(ctx, kv_pairs);
  fold_batchnorm(ctx, graph);
  const std::vector<bool> live = live_nodes(graph);
  for (int i = 0; i < graph.node_size(); ++i) {
    for (const std::string& out : graph.node(i).output()) ctx.names.insert(out);
  }
  for (int i = 0; i < graph.node_size(); ++i) {
    if (!live[static_cast<std::size_t>(i)]) continue;
    const onnx::NodeProto& node = graph.node(i);
    if (auto kv = kv_pairs.find(static_cast<std::size_t>(i)); kv != kv_pairs.end()) {
      ctx.begin_node(node, static_cast<std::size_t>(i));
      map_kv_update(ctx, kv->second);
    } else {
      import_node(ctx, node, static_cast<std::size_t>(i));
    }
  }
  // Outputs known at import time still come out of a node (an identity
  // named after the output).
  onnx::NodeProto output_node;
  output_node.set_op_type("Identity");
  for (const std::string& out : ctx.graph.outputs) {
    if (ctx.types.count(out)) continue;
    output_node.set_name(out + "/output");
    ctx.begin_node(output_node, 0);
    if (ctx.constant(out) == nullptr) {
      throw InputError(ctx.file + ": graph output '" + out + "' is produced by no node");
    }
    ctx.identity(ctx.value(out), out);
  }
  if (!kv_pairs.empty()) {
    output_node.set_name("next_token/argmax");
    ctx.begin_node(output_node, 0);
    add_next_token(ctx);
  }
  for (const std::string& out : ctx.graph.outputs) {
    for (const ValueInfo& in : ctx.graph.inputs) {
      if (in.name == out) {
        throw InputError(ctx.file + ": " + kUnsupported + "graph output '" + out +
                         "' is a graph input passed through unchanged");
      }
    }
  }
  // ONNX's cross-check sees each aliased update as what it now is: the
  // cache, the same size after the step.
  for (const auto& [index, pair] : kv_pairs) {
    onnx::NodeProto& node = *graph.mutable_node(static_cast<int>(index));
    node.set_op_type("Identity");
    node.clear_input();
    node.add_input(pair.past);
    node.clear_attribute();
  }
  // Dead nodes leave the model too, so inference sees only checked nodes.
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (int i = 0; i < graph.node_size(); ++i) {
    if (live[static_cast<std::size_t>(i)]) kept.Add()->Swap(graph.mutable_node(i));
  }
  graph.mutable_node()->Swap(&kept);
  // ONNX shape inference runs once every node has passed the op schema's
  // own checks: libonnx 1.12's inference functions index dims without
  // checking ranks (a LayerNormalization of a rank-0 input crashes it), so
  // only a graph the schema accepted reaches it. The importer takes every
  // type from the schema; this is ONNX's cross-check of the same model.
  try {
    // Node-level inference errors are not fatal: old opsets declare types
    // more narrowly than exporters used them.
    onnx::ShapeInferenceOptions inference(/*check_type=*/false, /*error_mode=*/0);
    onnx::shape_inference::InferShapes(*model, onnx::OpSchemaRegistry::Instance(), inference);
  } catch (const std::exception& e) {
    std::string text = e.what();
    for (char& c : text) c = c == '\n' ? ' ' : c;
    throw InputError(ctx.file + ": ONNX shape inference fails: " + text);
  }
  if (options.fuse) fuse_patterns(ctx);
  try {
    validate(ctx.graph);
  } catch (const InputError& e) {
    throw InputError(std::string(e.what()));
  }
  return std::move(ctx.graph);
}

}  // namespace
}  // namespace onnx_import

namespace {

// Every check the importer makes throws rtscope's errors; anything else is
// a gap in them. The file still gets one line, never a crash.
template <typename Import>
Graph guarded_import(const std::filesystem::path& file, const Import& import) {
  try {
    return import();
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw InputError(file.string() + ": out of memory while importing it");
  } catch (const std::exception& e) {
    throw InputError(file.string() + ": internal error while importing it (" + e.what() +
                     "); please report it with the file");
  }
}

}  // namespace

Graph import_onnx_bytes(const void* data, std::size_t size, const std::filesystem::path& file_name,
                        const OnnxImportOptions& options) {
  return guarded_import(file_name, [&] {
    const auto parsed = std::make_shared<const onnx_import::ParsedModel>(data, size, file_name);
    return onnx_import::import_model(*parsed, file_name, options);
  });
}

Graph import_onnx(const std::filesystem::path& path, const OnnxImportOptions& options) {
  return guarded_import(path, [&] {
    const auto parsed = onnx_import::open_model(path);
    return onnx_import::import_model(*parsed, path, options);
  });
}

std::vector<std::string> onnx_input_names(const std::filesystem::path& path) {
  const auto parsed = onnx_import::open_model(path);
  const onnx::ModelProto* model = &parsed->full();
  std::set<std::string> initialized;
  for (const auto& init : model->graph().initializer()) initialized.insert(init.name());
  std::vector<std::string> names;
  for (const auto& input : model->graph().input()) {
    if (initialized.count(input.name())) continue;
    if (!input.type().has_tensor_type()) {
      throw InputError(path.string() + ": " + onnx_import::kUnsupported + "input '" + input.name() +
                       "' is not a tensor (sequences, maps and optionals are not supported)");
    }
    names.push_back(input.name());
  }
  return names;
}

OnnxTensorFile load_onnx_tensor(const std::filesystem::path& path) {
  const RegularFile file(path);
  if (!file.is_open()) {
    throw InputError(path.string() + ": " +
                     (file.missing() ? std::string("not found") : "is " + file.problem()));
  }
  if (file.size() > static_cast<uint64_t>(INT_MAX)) {
    throw InputError(path.string() + ": more than protobuf's 2 GiB limit");
  }
  std::string bytes(static_cast<std::size_t>(file.size()), '\0');
  if (!file.read_all(bytes.data(), bytes.size())) {
    throw InputError(path.string() + ": could not be read in full");
  }
  auto proto = std::make_shared<onnx::TensorProto>();
  if (!proto->ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
    throw InputError(path.string() + ": is not a valid TensorProto (protobuf parse failed)");
  }
  onnx_import::TensorSource source{path.string(), path.parent_path(), proto};
  return {proto->name(), onnx_import::tensor_from_proto(*proto, source)};
}

std::string onnx_type_name(int32_t elem_type) { return onnx_import::elem_type_name(elem_type); }

}  // namespace rtscope
