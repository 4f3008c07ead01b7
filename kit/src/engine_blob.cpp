#include "rtscope/kit/engine_blob.hpp"

#include <cstring>
#include <string>
#include <utility>

#include "rtscope/kit/blob_io.hpp"
#include "rtscope/kit/error.hpp"

namespace rtscope::kit {
namespace {

void write_graph(BlobWriter& writer, const GraphDesc& graph) {
  const auto value = [&](const ValueDesc& desc) { writer.value(desc); };
  const auto string = [&](const std::string& text) { writer.string(text); };
  writer.string(graph.name);
  writer.list(graph.inputs, value);
  writer.list(graph.outputs, value);
  writer.list(graph.constants, [&](const ConstantDesc& constant) {
    writer.value(constant.value);
    writer.scalar<uint64_t>(constant.bytes.size());
    writer.bytes(constant.bytes.data(), constant.bytes.size());
  });
  writer.list(graph.values, value);
  writer.list(graph.aliases, [&](const rts_alias& alias) {
    writer.scalar<uint32_t>(alias.output);
    writer.scalar<uint32_t>(alias.input);
    writer.scalar<uint32_t>(alias.kind);
  });
  writer.list(graph.nodes, [&](const NodeDesc& node) {
    writer.string(node.name);
    writer.string(node.op);
    writer.list(node.inputs, string);
    writer.list(node.outputs, string);
    writer.list(node.attrs, [&](const AttrDesc& attr) {
      writer.string(attr.name);
      writer.scalar<uint32_t>(attr.type);
      writer.scalar<int64_t>(attr.i);
      writer.scalar<double>(attr.f);
      writer.string(attr.s);
      writer.list(attr.ints, [&](int64_t i) { writer.scalar<int64_t>(i); });
    });
  });
}

ConstantDesc read_constant(BlobReader& reader) {
  ConstantDesc constant;
  constant.value = reader.value("constant");
  const uint64_t size = reader.scalar<uint64_t>("constant size");
  const int64_t elements = element_count(constant.value.dims);
  if (!constant.value.is_static() ||
      size != static_cast<uint64_t>(elements) * dtype_size(constant.value.dtype)) {
    fail_invalid("engine blob: constant '", constant.value.name, "' ", constant.value.type_str(),
                 " has ", size, " bytes");
  }
  const unsigned char* bytes = reader.take(size, "constant data");
  constant.assign_copy(bytes, static_cast<size_t>(size));
  return constant;
}

NodeDesc read_node(BlobReader& reader) {
  NodeDesc node;
  node.name = reader.string("node name");
  node.op = reader.string("node op");
  node.inputs = reader.list("node inputs", [&] { return reader.string("node input"); });
  node.outputs = reader.list("node outputs", [&] { return reader.string("node output"); });
  node.attrs = reader.list("node attributes", [&] {
    AttrDesc attr;
    attr.name = reader.string("attribute name");
    attr.type = static_cast<rts_attr_type>(reader.scalar<uint32_t>("attribute type"));
    attr.i = reader.scalar<int64_t>("attribute int");
    attr.f = reader.scalar<double>("attribute real");
    attr.s = reader.string("attribute string");
    attr.ints =
        reader.list("attribute ints", [&] { return reader.scalar<int64_t>("attribute ints"); });
    return attr;
  });
  return node;
}

GraphDesc read_graph(BlobReader& reader) {
  GraphDesc graph;
  graph.name = reader.string("graph name");
  graph.inputs = reader.list("inputs", [&] { return reader.value("input"); });
  graph.outputs = reader.list("outputs", [&] { return reader.value("output"); });
  graph.constants = reader.list("constants", [&] { return read_constant(reader); });
  graph.values = reader.list("values", [&] { return reader.value("value"); });
  graph.aliases = reader.list("aliases", [&] {
    rts_alias alias;
    alias.output = reader.scalar<uint32_t>("alias output");
    alias.input = reader.scalar<uint32_t>("alias input");
    alias.kind = static_cast<rts_alias_kind>(reader.scalar<uint32_t>("alias kind"));
    return alias;
  });
  graph.nodes = reader.list("nodes", [&] { return read_node(reader); });
  return graph;
}

}  // namespace

void write_engine_blob(const rts_blob_sink& sink, const EngineBlobFormat& format,
                       const GraphDesc& graph) {
  if (sink.write == nullptr) fail_invalid("engine blob: the sink has no write function");
  BlobWriter writer(sink);
  writer.bytes(format.magic, sizeof(format.magic));
  writer.scalar<uint32_t>(format.format_version);
  writer.string(format.plugin_version);
  write_graph(writer, graph);
  writer.finish();
}

GraphDesc read_engine_blob(const EngineBlobFormat& format, const void* data, uint64_t size) {
  const char* backend = format.backend;
  if (data == nullptr && size > 0) fail_invalid("engine blob: data is NULL");
  if (size < sizeof(format.magic) + sizeof(uint64_t) ||
      std::memcmp(data, format.magic, sizeof(format.magic)) != 0) {
    fail(RTS_ERROR_VERSION, "not a ", backend, " engine blob (bad magic; ", size, " bytes)");
  }
  const uint64_t body_size = size - sizeof(uint64_t);
  uint64_t stored_hash;
  std::memcpy(&stored_hash, static_cast<const unsigned char*>(data) + body_size,
              sizeof(stored_hash));
  BlobReader reader(data, body_size);
  reader.take(sizeof(format.magic), "magic");
  const uint32_t version_read = reader.scalar<uint32_t>("format version");
  if (version_read != format.format_version) {
    fail(RTS_ERROR_VERSION, backend, " engine blob has format version ", version_read,
         ", this plugin reads ", format.format_version, "; rebuild the engine");
  }
  const std::string version = reader.string("plugin version");
  if (version != format.plugin_version) {
    fail(RTS_ERROR_VERSION, backend, " engine blob was built by plugin version ", version,
         ", this is ", format.plugin_version, "; rebuild the engine");
  }
  if (fnv1a(kFnvOffset, data, body_size) != stored_hash) {
    fail_invalid(backend, " engine blob is corrupt (checksum mismatch)");
  }
  GraphDesc graph = read_graph(reader);
  if (reader.offset() != body_size) {
    fail_invalid(backend, " engine blob has ", body_size - reader.offset(),
                 " unexpected trailing bytes");
  }
  return graph;
}

}  // namespace rtscope::kit
