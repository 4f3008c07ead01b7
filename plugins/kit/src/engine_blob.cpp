#include "rtscope/kit/engine_blob.hpp"

#include <cstring>
#include <string>
#include <utility>

#include "rtscope/kit/blob_io.hpp"
#include "rtscope/kit/error.hpp"

namespace rtscope::kit {
namespace {

void write_graph(BlobWriter& writer, const GraphDesc& graph) {
  writer.string(graph.name);
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph.inputs.size()));
  for (const ValueDesc& input : graph.inputs) writer.value(input);
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph.outputs.size()));
  for (const ValueDesc& output : graph.outputs) writer.value(output);
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph.constants.size()));
  for (const ConstantDesc& constant : graph.constants) {
    writer.value(constant.value);
    writer.scalar<uint64_t>(constant.bytes.size());
    writer.bytes(constant.bytes.data(), constant.bytes.size());
  }
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph.values.size()));
  for (const ValueDesc& value : graph.values) writer.value(value);
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph.aliases.size()));
  for (const rts_alias& alias : graph.aliases) {
    writer.scalar<uint32_t>(alias.output);
    writer.scalar<uint32_t>(alias.input);
    writer.scalar<uint32_t>(alias.kind);
  }
  writer.scalar<uint32_t>(static_cast<uint32_t>(graph.nodes.size()));
  for (const NodeDesc& node : graph.nodes) {
    writer.string(node.name);
    writer.string(node.op);
    writer.scalar<uint32_t>(static_cast<uint32_t>(node.inputs.size()));
    for (const std::string& input : node.inputs) writer.string(input);
    writer.scalar<uint32_t>(static_cast<uint32_t>(node.outputs.size()));
    for (const std::string& output : node.outputs) writer.string(output);
    writer.scalar<uint32_t>(static_cast<uint32_t>(node.attrs.size()));
    for (const AttrDesc& attr : node.attrs) {
      writer.string(attr.name);
      writer.scalar<uint32_t>(attr.type);
      writer.scalar<int64_t>(attr.i);
      writer.scalar<double>(attr.f);
      writer.string(attr.s);
      writer.scalar<uint32_t>(static_cast<uint32_t>(attr.ints.size()));
      for (int64_t value : attr.ints) writer.scalar<int64_t>(value);
    }
  }
}

GraphDesc read_graph(BlobReader& reader) {
  GraphDesc graph;
  graph.name = reader.string("graph name");
  for (uint32_t n = reader.count("inputs"); n > 0; --n) {
    graph.inputs.push_back(reader.value("input"));
  }
  for (uint32_t n = reader.count("outputs"); n > 0; --n) {
    graph.outputs.push_back(reader.value("output"));
  }
  for (uint32_t n = reader.count("constants"); n > 0; --n) {
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
    graph.constants.push_back(std::move(constant));
  }
  for (uint32_t n = reader.count("values"); n > 0; --n) {
    graph.values.push_back(reader.value("value"));
  }
  for (uint32_t n = reader.count("aliases"); n > 0; --n) {
    rts_alias alias;
    alias.output = reader.scalar<uint32_t>("alias output");
    alias.input = reader.scalar<uint32_t>("alias input");
    alias.kind = static_cast<rts_alias_kind>(reader.scalar<uint32_t>("alias kind"));
    graph.aliases.push_back(alias);
  }
  for (uint32_t n = reader.count("nodes"); n > 0; --n) {
    NodeDesc node;
    node.name = reader.string("node name");
    node.op = reader.string("node op");
    for (uint32_t i = reader.count("node inputs"); i > 0; --i) {
      node.inputs.push_back(reader.string("node input"));
    }
    for (uint32_t i = reader.count("node outputs"); i > 0; --i) {
      node.outputs.push_back(reader.string("node output"));
    }
    for (uint32_t i = reader.count("node attributes"); i > 0; --i) {
      AttrDesc attr;
      attr.name = reader.string("attribute name");
      attr.type = static_cast<rts_attr_type>(reader.scalar<uint32_t>("attribute type"));
      attr.i = reader.scalar<int64_t>("attribute int");
      attr.f = reader.scalar<double>("attribute real");
      attr.s = reader.string("attribute string");
      for (uint32_t k = reader.count("attribute ints"); k > 0; --k) {
        attr.ints.push_back(reader.scalar<int64_t>("attribute ints"));
      }
      node.attrs.push_back(std::move(attr));
    }
    graph.nodes.push_back(std::move(node));
  }
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
