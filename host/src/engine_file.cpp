// Engine files: a host header that identifies the plugin, device and
// bindings, followed by the plugin's own blob. Every load checks the header
// before the plugin sees a byte.
#include <xxhash.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine.hpp"
#include "regular_file.hpp"
#include "rtscope/checked_math.hpp"
#include "rtscope/error.hpp"
#include "rtscope/log.hpp"
#include "rtscope/module.hpp"
#include "rtscope/plugin_registry.hpp"

namespace rtscope {
namespace {

constexpr char kMagic[8] = {'R', 'T', 'S', 'E', 'N', 'G', 'N', '\0'};
// 2: alias map and output-allocation flag in the header.
// 3: compile options as key/value pairs (a version-2 file loads with every
//    option at its default, and so does a later file's unknown key).
constexpr uint32_t kFormatVersion = 3;
constexpr uint32_t kOldestReadableFormat = 2;

class Writer {
 public:
  explicit Writer(std::ostream& out) : out_(out) {}
  void bytes(const void* data, std::size_t size) {
    out_.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  template <typename T>
  void pod(T value) {
    bytes(&value, sizeof(value));
  }
  void str(const std::string& s) {
    pod<uint32_t>(static_cast<uint32_t>(s.size()));
    bytes(s.data(), s.size());
  }
  void dims(const std::vector<int64_t>& d) {
    for (int64_t v : d) pod<int64_t>(v);
  }

 private:
  std::ostream& out_;
};

// Reads the header, trusting no count in it: every count is bounded by the
// bytes left in the file before anything is allocated for it, so a corrupt
// or hostile file fails at once instead of asking for gigabytes.
class Reader {
 public:
  Reader(std::istream& in, std::string source) : in_(in), source_(std::move(source)) {
    // The bytes left, when the stream can tell (files and string streams
    // can; a pipe cannot, and then allocations grow only as data arrives).
    const std::istream::pos_type start = in_.tellg();
    if (start != std::istream::pos_type(-1) && in_.seekg(0, std::ios::end)) {
      const std::istream::pos_type end = in_.tellg();
      if (end != std::istream::pos_type(-1) && end >= start) {
        left_ = static_cast<uint64_t>(end - start);
      }
    }
    in_.clear();
    in_.seekg(start);
    in_.clear();
  }
  void bytes(void* data, std::size_t size) {
    if (size > left_) truncated();
    in_.read(static_cast<char*>(data), static_cast<std::streamsize>(size));
    if (static_cast<std::size_t>(in_.gcount()) != size) truncated();
    left_ -= size;
  }
  template <typename T>
  T pod() {
    T value;
    bytes(&value, sizeof(value));
    return value;
  }
  std::string str() {
    const auto size = pod<uint32_t>();
    if (size > (1u << 20)) throw InputError("engine file " + source_ + " is corrupt");
    check_fits(size, 1, "a string");
    std::string s(size, '\0');
    bytes(s.data(), size);
    return s;
  }
  std::vector<int64_t> dims(uint32_t rank) {
    check_fits(rank, sizeof(int64_t), "a binding's dims");
    std::vector<int64_t> d(rank);
    for (auto& v : d) v = pod<int64_t>();
    return d;
  }
  // A count of records that each take at least `record_bytes` in the file.
  uint32_t count(const std::string& what, uint64_t record_bytes) {
    const auto value = pod<uint32_t>();
    check_fits(value, record_bytes, what);
    return value;
  }
  // `size` bytes, read in bounded chunks so a size the stream cannot vouch
  // for never allocates more than the data that actually arrives.
  std::vector<uint8_t> blob(uint64_t size) {
    check_fits(size, 1, "the plugin blob");
    constexpr uint64_t kChunk = uint64_t{64} << 20;
    std::vector<uint8_t> out;
    while (out.size() < size) {
      const auto offset = out.size();
      out.resize(offset + static_cast<std::size_t>(std::min<uint64_t>(kChunk, size - offset)));
      bytes(out.data() + offset, out.size() - offset);
    }
    return out;
  }

 private:
  [[noreturn]] void truncated() const {
    throw InputError("engine file " + source_ + " is truncated; rebuild the engine");
  }
  void check_fits(uint64_t count, uint64_t record_bytes, const std::string& what) const {
    if (checked::fits(count, record_bytes, left_)) return;
    const auto needed = checked::mul<uint64_t>(count, record_bytes);
    const std::string size =
        record_bytes == 1
            ? std::to_string(count) + " bytes"
            : std::to_string(count) + " entries (at least " +
                  (needed ? std::to_string(*needed) : std::string("2^64 or more")) + " bytes)";
    throw InputError("engine file " + source_ + " is corrupt: " + what + " of " + size +
                     " is more than the " + std::to_string(left_) +
                     " bytes left in the file; rebuild the engine");
  }

  std::istream& in_;
  std::string source_;
  uint64_t left_ = UINT64_MAX;  // unknown: bounded by the reads themselves
};

// The fewest bytes one record takes in the file, for count checks.
constexpr uint64_t kMinBindingBytes = sizeof(uint32_t) + sizeof(uint8_t) + sizeof(uint32_t);
constexpr uint64_t kAliasBytes = 3 * sizeof(uint32_t);
constexpr uint64_t kMinOptionBytes = 2 * sizeof(uint32_t);

void write_bindings(Writer& w, const std::vector<BindingInfo>& bindings) {
  w.pod<uint32_t>(static_cast<uint32_t>(bindings.size()));
  for (const auto& b : bindings) {
    w.str(b.name);
    w.pod<uint8_t>(static_cast<uint8_t>(b.dtype));
    w.pod<uint32_t>(static_cast<uint32_t>(b.dims.size()));
    w.dims(b.dims);
    w.dims(b.min_dims);
    w.dims(b.max_dims);
  }
}

std::vector<BindingInfo> read_bindings(Reader& r) {
  const auto count = r.count("the binding list", kMinBindingBytes);
  if (count > 100000) throw InputError("engine file has an implausible binding count");
  std::vector<BindingInfo> bindings(count);
  for (auto& b : bindings) {
    b.name = r.str();
    b.dtype = static_cast<DType>(r.pod<uint8_t>());
    const auto rank = r.pod<uint32_t>();
    if (rank > RTS_MAX_RANK) throw InputError("engine file has a binding of rank > 8");
    b.dims = r.dims(rank);
    b.min_dims = r.dims(rank);
    b.max_dims = r.dims(rank);
  }
  return bindings;
}

std::string describe(const std::vector<BindingInfo>& bindings) {
  std::string s;
  for (const auto& b : bindings) {
    if (!s.empty()) s += ", ";
    s += b.name;
    s += ':';
    s += to_string(b.dtype);
    s += '[';
    for (std::size_t i = 0; i < b.dims.size(); ++i) {
      if (i) s += ',';
      s += std::to_string(b.dims[i]);
    }
    s += "]";
  }
  return s;
}

bool same_bindings(const std::vector<BindingInfo>& a, const std::vector<BindingInfo>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].dtype != b[i].dtype || a[i].dims != b[i].dims ||
        a[i].min_dims != b[i].min_dims || a[i].max_dims != b[i].max_dims) {
      return false;
    }
  }
  return true;
}

std::vector<std::pair<std::string, std::string>> options_to_pairs(const CompileOptions& options) {
  std::string backends;
  for (const std::string& id : options.backends) backends += (backends.empty() ? "" : ",") + id;
  return {{"backends", backends},
          {"fallback_data_dependent_ops", options.fallback_data_dependent_ops ? "1" : "0"},
          {"require_full_compilation", options.require_full_compilation ? "1" : "0"}};
}

CompileOptions options_from_pairs(const std::vector<std::pair<std::string, std::string>>& pairs,
                                  const std::string& source) {
  CompileOptions options;
  for (const auto& [key, value] : pairs) {
    if (key == "backends") {
      std::size_t start = 0;
      while (start < value.size()) {
        const std::size_t comma = value.find(',', start);
        const std::size_t end = comma == std::string::npos ? value.size() : comma;
        options.backends.push_back(value.substr(start, end - start));
        start = end + 1;
      }
    } else if (key == "fallback_data_dependent_ops") {
      options.fallback_data_dependent_ops = value == "1";
    } else if (key == "require_full_compilation") {
      options.require_full_compilation = value == "1";
    } else {
      log().debug("engine file {}: ignoring compile option '{}' this host does not know", source,
                  key);
    }
  }
  return options;
}

[[noreturn]] void mismatch(const std::string& source, const std::string& field,
                           const std::string& in_file, const std::string& here) {
  throw InputError("engine file " + source + ": " + field + " differs (file: " + in_file +
                   ", this host: " + here + "); rebuild the engine");
}

}  // namespace

void Module::save(std::ostream& out) const {
  const std::vector<uint8_t> blob = engine_->serialize();
  Writer w(out);
  w.bytes(kMagic, sizeof(kMagic));
  w.pod<uint32_t>(kFormatVersion);
  w.pod<uint32_t>(RTS_ABI_VERSION_MAJOR);
  w.pod<uint32_t>(engine_->plugin().abi_minor());
  w.str(name_);
  w.str(engine_->plugin().id());
  w.str(engine_->plugin().version());
  w.str(engine_->device_info().fingerprint);
  write_bindings(w, engine_->inputs());
  write_bindings(w, engine_->outputs());
  w.pod<uint32_t>(static_cast<uint32_t>(engine_->aliases().size()));
  for (const auto& a : engine_->aliases()) {
    w.pod<uint32_t>(a.output);
    w.pod<uint32_t>(a.input);
    w.pod<uint32_t>(static_cast<uint32_t>(a.kind));
  }
  w.pod<uint8_t>(engine_->needs_output_allocation() ? 1 : 0);
  const auto options = options_to_pairs(compile_options_);
  w.pod<uint32_t>(static_cast<uint32_t>(options.size()));
  for (const auto& [key, value] : options) {
    w.str(key);
    w.str(value);
  }
  w.pod<uint64_t>(blob.size());
  w.pod<uint64_t>(XXH3_64bits(blob.data(), blob.size()));
  w.bytes(blob.data(), blob.size());
  if (!out) throw Error("module '" + name_ + "': writing the engine file failed");
}

void Module::save(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) throw Error("cannot open engine file " + path + " for writing");
  save(out);
  out.flush();
  if (!out) throw Error("writing engine file " + path + " failed");
}

std::unique_ptr<Module> Module::load(std::istream& in, const std::string& source,
                                     PluginRegistry& registry) {
  Reader r(in, source);
  char magic[sizeof(kMagic)];
  r.bytes(magic, sizeof(magic));
  if (std::memcmp(magic, kMagic, sizeof(kMagic)) != 0) {
    throw InputError("engine file " + source + ": not an rtscope engine file (bad magic)");
  }
  const auto format = r.pod<uint32_t>();
  if (format < kOldestReadableFormat || format > kFormatVersion) {
    mismatch(source, "format version", std::to_string(format),
             std::to_string(kOldestReadableFormat) + ".." + std::to_string(kFormatVersion));
  }
  const auto abi_major = r.pod<uint32_t>();
  const auto abi_minor = r.pod<uint32_t>();
  if (abi_major != RTS_ABI_VERSION_MAJOR) {
    mismatch(source, "ABI major version", std::to_string(abi_major),
             std::to_string(RTS_ABI_VERSION_MAJOR));
  }
  const std::string name = r.str();
  const std::string plugin_id = r.str();
  const std::string plugin_version = r.str();
  const std::string fingerprint = r.str();
  const auto inputs = read_bindings(r);
  const auto outputs = read_bindings(r);
  std::vector<AliasInfo> aliases(r.count("the alias map", kAliasBytes));
  for (auto& a : aliases) {
    a.output = r.pod<uint32_t>();
    a.input = r.pod<uint32_t>();
    a.kind = static_cast<rts_alias_kind>(r.pod<uint32_t>());
  }
  const bool needs_output_allocation = r.pod<uint8_t>() != 0;
  std::vector<std::pair<std::string, std::string>> option_pairs;
  if (format >= 3) {
    const auto count = r.count("the compile options", kMinOptionBytes);
    if (count > 1024) throw InputError("engine file " + source + " is corrupt");
    for (uint32_t i = 0; i < count; ++i) {
      std::string key = r.str();
      option_pairs.emplace_back(std::move(key), r.str());
    }
  }
  const CompileOptions compile_options = options_from_pairs(option_pairs, source);
  const auto blob_size = r.pod<uint64_t>();
  const auto checksum = r.pod<uint64_t>();

  auto plugin = registry.find(plugin_id);
  if (!plugin) {
    throw InputError("engine file " + source + " was built by plugin '" + plugin_id +
                     "', which is not loaded; load it or rebuild the engine");
  }
  if (plugin->version() != plugin_version) {
    mismatch(source, "plugin '" + plugin_id + "' version", plugin_version, plugin->version());
  }
  if (abi_minor > plugin->abi_minor()) {
    mismatch(source, "ABI minor version", std::to_string(abi_minor),
             std::to_string(plugin->abi_minor()));
  }
  uint32_t device = 0;
  bool found = false;
  for (uint32_t d = 0; d < plugin->devices().size(); ++d) {
    if (plugin->devices()[d].fingerprint == fingerprint) {
      device = d;
      found = true;
      break;
    }
  }
  if (!found) {
    mismatch(source, "device fingerprint", fingerprint,
             plugin->devices().empty() ? "(no device)" : plugin->devices()[0].fingerprint);
  }
  if (blob_size > (uint64_t{1} << 40)) throw InputError("engine file " + source + " is corrupt");
  const std::vector<uint8_t> blob = r.blob(blob_size);
  if (XXH3_64bits(blob.data(), blob.size()) != checksum) {
    throw InputError("engine file " + source +
                     ": plugin blob checksum mismatch (corrupt file); rebuild the engine");
  }

  auto engine = Engine::deserialize(plugin, device, blob);
  if (!same_bindings(engine->inputs(), inputs)) {
    mismatch(source, "input bindings", describe(inputs), describe(engine->inputs()));
  }
  if (!same_bindings(engine->outputs(), outputs)) {
    mismatch(source, "output bindings", describe(outputs), describe(engine->outputs()));
  }
  if (engine->needs_output_allocation() != needs_output_allocation) {
    mismatch(source, "needs-output-allocation flag", needs_output_allocation ? "1" : "0",
             engine->needs_output_allocation() ? "1" : "0");
  }
  bool same_aliases = aliases.size() == engine->aliases().size();
  for (std::size_t i = 0; same_aliases && i < aliases.size(); ++i) {
    const auto& a = aliases[i];
    const auto& b = engine->aliases()[i];
    same_aliases = a.output == b.output && a.input == b.input && a.kind == b.kind;
  }
  if (!same_aliases) {
    // The plugin knows what its kernels do in place; its report wins.
    log().warn(
        "engine file {}: alias map differs from what plugin '{}' reports; using the "
        "plugin's",
        source, plugin_id);
  }
  return std::make_unique<Module>(name, std::move(engine), compile_options);
}

std::unique_ptr<Module> Module::load(const std::string& path, PluginRegistry& registry) {
  // Checked without blocking first: a FIFO would hang the open and a device
  // such as /dev/zero would feed the reader forever.
  if (const RegularFile file(path); !file.is_open()) {
    throw InputError("engine file " + path + " " +
                     (file.missing() ? "not found" : "is " + file.problem()) +
                     "; give the path of an engine file saved by Module::save");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError("cannot open engine file " + path);
  return load(in, path, registry);
}

}  // namespace rtscope
