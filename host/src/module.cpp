#include "rtscope/module.hpp"

#include <boost/container/small_vector.hpp>
#include <cstring>

#include "engine.hpp"
#include "execution_context.hpp"
#include "rtscope/error.hpp"
#include "rtscope/log.hpp"
#include "rtscope/runtime_cache.hpp"
#include "rtscope/trace.hpp"

namespace rtscope {
namespace {

std::string dims_to_string(const std::vector<int64_t>& dims) {
  std::string s = "[";
  for (std::size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ',';
    s += dims[i] < 0 ? std::string("?") : std::to_string(dims[i]);
  }
  return s + "]";
}

void check_binding(const std::string& module, const BindingInfo& binding, const Tensor& tensor) {
  auto fail = [&](const std::string& what) {
    throw InputError("module '" + module + "': input '" + binding.name + "' " + what);
  };
  if (!tensor.defined()) fail("is not bound");
  if (tensor.dtype() != binding.dtype) {
    fail("has dtype " + std::string(to_string(tensor.dtype())) + ", expected " +
         std::string(to_string(binding.dtype)));
  }
  const Shape& shape = tensor.shape();
  if (shape.size() != binding.dims.size()) {
    fail("has shape " + shape_to_string(shape) + ", expected rank " +
         std::to_string(binding.dims.size()) + " " + dims_to_string(binding.dims));
  }
  for (std::size_t d = 0; d < shape.size(); ++d) {
    const bool ok = binding.dims[d] >= 0
                        ? shape[d] == binding.dims[d]
                        : shape[d] >= binding.min_dims[d] && shape[d] <= binding.max_dims[d];
    if (!ok) {
      std::string expected = binding.dims[d] >= 0 ? std::to_string(binding.dims[d])
                                                  : std::to_string(binding.min_dims[d]) + ".." +
                                                        std::to_string(binding.max_dims[d]);
      fail("has shape " + shape_to_string(shape) + ": dim " + std::to_string(d) + " must be " +
           expected);
    }
  }
}

// Sets every field of `t` in place, in an array left uninitialized. Built
// and returned by value instead, each binding was copied back with wide
// loads over the narrow stores just made (a store-forwarding stall per
// binding), and zero-initializing the arrays first cost a memset each.
void fill_abi_tensor(rts_tensor& t, const std::string& name, const Tensor& tensor,
                     const DeviceMemory* device) {
  t.struct_size = sizeof(t);
  t.name = name.c_str();
  t.dtype = static_cast<rts_dtype>(tensor.dtype());
  t.rank = static_cast<uint32_t>(tensor.shape().size());
  for (uint32_t d = 0; d < RTS_MAX_RANK; ++d) t.dims[d] = d < t.rank ? tensor.shape()[d] : 0;
  t.data = const_cast<void*>(tensor.data());
  t.size_bytes = tensor.size_bytes();
  t.residency = RTS_RESIDENCY_HOST;
  t.device = 0;
  if (tensor.on_device()) {
    // Callers stage tensors of other devices first.
    t.residency = RTS_RESIDENCY_DEVICE;
    t.device = device->device();
  }
}

// An output the plugin allocates: name and dtype, no storage.
void fill_unbound_output(rts_tensor& t, const BindingInfo& binding) {
  t.struct_size = sizeof(t);
  t.name = binding.name.c_str();
  t.dtype = static_cast<rts_dtype>(binding.dtype);
  t.rank = 0;
  for (int64_t& dim : t.dims) dim = 0;
  t.data = nullptr;
  t.size_bytes = 0;
  t.residency = RTS_RESIDENCY_HOST;
  t.device = 0;
}

// Whether `tensor` can be bound as it is to an engine on `device` (null:
// a host-only plugin).
bool binds_in_place(const Tensor& tensor, const DeviceMemory* device) {
  if (!tensor.on_device()) return true;
  return device && tensor.device_memory()->same_as(*device);
}

Shape shape_of(const rts_tensor& t) { return Shape(t.dims, t.dims + t.rank); }

// Small arrays of bindings live on the stack: execute is the hot path.
template <typename T>
using BindingArray = boost::container::small_vector<T, 6>;

bool same_shape(const Shape& shape, const rts_tensor& t) {
  if (shape.size() != t.rank) return false;
  for (uint32_t d = 0; d < t.rank; ++d) {
    if (shape[d] != t.dims[d]) return false;
  }
  return true;
}

// Output storage the plugin asks for; kept in `allocated` by index.
// Sized on the first allocation: with every output preallocated (the
// steady state) nothing is constructed.
struct OutputAllocations {
  std::size_t outputs = 0;
  BindingArray<Tensor> allocated;

  bool has(std::size_t index) const {
    return index < allocated.size() && allocated[index].defined();
  }

  static int allocate(void* user, uint32_t index, rts_tensor* tensor) {
    auto* self = static_cast<OutputAllocations*>(user);
    if (index >= self->outputs || tensor->rank > RTS_MAX_RANK) return 1;
    try {
      if (self->allocated.empty()) self->allocated.resize(self->outputs);
      Tensor t = Tensor::empty(static_cast<DType>(tensor->dtype), shape_of(*tensor));
      tensor->data = t.data();
      tensor->size_bytes = t.size_bytes();
      tensor->residency = RTS_RESIDENCY_HOST;
      self->allocated[index] = std::move(t);
      return 0;
    } catch (...) {
      return 1;
    }
  }
};

}  // namespace

Module::Module(std::string name, std::shared_ptr<Engine> engine, CompileOptions options)
    : name_(std::move(name)),
      engine_(std::move(engine)),
      device_memory_(DeviceMemory::of(engine_->plugin_ptr(), engine_->device())),
      compile_options_(std::move(options)) {}

Module::~Module() {
  if (!implicit_cache_) return;
  trace::Span span("cache", "save runtime cache");
  span.arg("path", implicit_cache_path_.string());
  implicit_cache_->try_save_final(implicit_cache_path_);
}

const Plugin& Module::plugin() const { return engine_->plugin(); }
uint32_t Module::device() const { return engine_->device(); }
const std::vector<BindingInfo>& Module::inputs() const { return engine_->inputs(); }
const std::vector<BindingInfo>& Module::outputs() const { return engine_->outputs(); }
const std::vector<AliasInfo>& Module::aliases() const { return engine_->aliases(); }

RuntimeSettings Module::runtime_settings() const {
  std::lock_guard lock(mutex_);
  return settings_;
}

void Module::set_runtime_settings(const RuntimeSettings& settings) {
  {
    std::lock_guard lock(mutex_);
    if (settings == settings_) return;
  }
  engine_->plugin().validate_settings(engine_->handle(), to_abi_settings(settings, nullptr),
                                      "settings for module '" + name_ + "'");
  // A new cache path saves the old implicit cache and loads the new one;
  // the same path keeps the cache already loaded.
  const auto* path = std::get_if<std::filesystem::path>(&settings.runtime_cache);
  bool keep_cache = false;
  std::shared_ptr<RuntimeCache> old_cache;
  std::filesystem::path old_path;
  {
    std::lock_guard lock(mutex_);
    keep_cache = path && implicit_cache_ && *path == implicit_cache_path_;
    if (!keep_cache) {
      old_cache = implicit_cache_;
      old_path = implicit_cache_path_;
    }
  }
  if (old_cache) {
    trace::Span span("cache", "save runtime cache");
    span.arg("path", old_path.string());
    old_cache->try_save(old_path);
  }
  std::shared_ptr<RuntimeCache> new_cache;
  if (path && !keep_cache) {
    new_cache = std::make_shared<RuntimeCache>();
    trace::Span span("cache", "load runtime cache");
    span.arg("path", path->string());
    new_cache->load(*path);
  }
  std::shared_ptr<ExecutionContext> dropped;
  {
    std::lock_guard lock(mutex_);
    settings_ = settings;
    if (!keep_cache) {
      implicit_cache_ = std::move(new_cache);
      implicit_cache_path_ = path ? *path : std::filesystem::path();
    }
    // From here on no execute takes the context without the mutex.
    const uint32_t state = state_.fetch_or(kSlow, std::memory_order_acq_rel);
    if (state & kBusy) {
      // The execute in flight keeps running on it and drops it when done.
      context_stale_ = context_ != nullptr;
    } else {
      dropped = std::move(context_);
    }
  }
  // `dropped` is destroyed here, outside the lock, when nothing runs on it.
}

ExecutionContext& Module::acquire_context() {
  uint32_t expected = 0;
  if (state_.compare_exchange_strong(expected, kBusy, std::memory_order_acquire,
                                     std::memory_order_relaxed)) [[likely]] {
    executes_.store(executes_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
    return *context_;
  }
  return acquire_context_slowly();
}

ExecutionContext& Module::acquire_context_slowly() {
  std::unique_lock lock(mutex_);
  state_.fetch_or(kSlow, std::memory_order_acquire);
  ++context_waiters_;
  idle_.wait(lock, [&] { return !(state_.load(std::memory_order_acquire) & kBusy); });
  --context_waiters_;
  state_.store(kSlow | kBusy, std::memory_order_relaxed);
  if (!context_) {
    try {
      std::shared_ptr<RuntimeCache> cache;
      if (auto* shared = std::get_if<std::shared_ptr<RuntimeCache>>(&settings_.runtime_cache)) {
        cache = *shared;
      } else if (std::holds_alternative<std::filesystem::path>(settings_.runtime_cache)) {
        cache = implicit_cache_;
      }
      trace::Span span("context", "create context " + name_);
      context_ = std::make_shared<ExecutionContext>(engine_, settings_, std::move(cache));
    } catch (...) {
      state_.store(kSlow, std::memory_order_release);
      if (context_waiters_ > 0 || idle_waiters_ > 0) idle_.notify_all();
      throw;
    }
    ++contexts_created_;
  }
  executes_.store(executes_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // Nobody else waits: the release can take the fast path.
  if (context_waiters_ == 0 && idle_waiters_ == 0) state_.store(kBusy, std::memory_order_release);
  return *context_;
}

void Module::release_context() noexcept {
  uint32_t expected = kBusy;
  if (state_.compare_exchange_strong(expected, 0, std::memory_order_release,
                                     std::memory_order_relaxed)) [[likely]] {
    return;
  }
  release_context_slowly();
}

void Module::release_context_slowly() noexcept {
  std::unique_lock lock(mutex_);
  if (context_stale_) {
    // Destroyed before the context is given back, so that a wait_idle
    // returning afterwards finds no work of this module still running.
    std::shared_ptr<ExecutionContext> dropped = std::move(context_);
    context_stale_ = false;
    lock.unlock();
    dropped.reset();
    lock.lock();
  }
  // Under the mutex (and with kSlow set) until the end: once a waiter can
  // see kBusy clear, this thread no longer touches the module (its caller
  // may destroy it right away).
  state_.store(kSlow, std::memory_order_release);
  reopen_fast_path();
  if (context_waiters_ > 0 || idle_waiters_ > 0) idle_.notify_all();
}

void Module::reopen_fast_path() const {
  if (context_ && !context_stale_ && context_waiters_ == 0 && idle_waiters_ == 0) {
    state_.store(0, std::memory_order_release);
  }
}

void Module::wait_idle() const {
  std::unique_lock lock(mutex_);
  ++idle_waiters_;
  state_.fetch_or(kSlow, std::memory_order_acq_rel);
  idle_.wait(lock, [&] {
    return !(state_.load(std::memory_order_acquire) & kBusy) && context_waiters_ == 0;
  });
  --idle_waiters_;
  reopen_fast_path();
}

std::shared_ptr<RuntimeCache> Module::runtime_cache() const {
  std::lock_guard lock(mutex_);
  if (auto* shared = std::get_if<std::shared_ptr<RuntimeCache>>(&settings_.runtime_cache)) {
    return *shared;
  }
  return implicit_cache_;
}

std::vector<Tensor> Module::execute(const std::vector<Tensor>& inputs,
                                    std::vector<Tensor> outputs) {
  outputs.resize(engine_->outputs().size());
  execute_into(inputs, outputs);
  return outputs;
}

void Module::execute_into(std::span<const Tensor> inputs, std::span<Tensor> outputs) {
  const auto& in_bindings = engine_->inputs();
  const auto& out_bindings = engine_->outputs();
  if (outputs.size() != out_bindings.size()) {
    throw InputError("module '" + name_ + "': got " + std::to_string(outputs.size()) +
                     " output slots, expected " + std::to_string(out_bindings.size()));
  }
  if (inputs.size() != in_bindings.size()) {
    std::string names;
    for (const auto& b : in_bindings) names += (names.empty() ? "" : ", ") + b.name;
    throw InputError("module '" + name_ + "': got " + std::to_string(inputs.size()) +
                     " inputs, expected " + std::to_string(in_bindings.size()) + " (" + names +
                     ")");
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) check_binding(name_, in_bindings[i], inputs[i]);
  execute_bound(inputs, outputs);
}

void Module::check_input(std::size_t index, const Tensor& tensor) const {
  check_binding(name_, engine_->inputs().at(index), tensor);
}

namespace {

// The inputs of a Model step: pointers to where each tensor lives.
struct InputPointers {
  std::span<const Tensor* const> tensors;
  std::size_t size() const { return tensors.size(); }
  const Tensor& operator[](std::size_t i) const { return *tensors[i]; }
};

}  // namespace

void Module::execute_unchecked(std::span<const Tensor* const> inputs, std::span<Tensor> outputs) {
  execute_bound(InputPointers{inputs}, outputs);
}

template <typename Inputs>
void Module::execute_bound(const Inputs& inputs, std::span<Tensor> outputs) {
  const auto& in_bindings = engine_->inputs();
  const auto& out_bindings = engine_->outputs();
  const DeviceMemory* device = device_memory_.get();

  // Tensors of another device are bound through host copies; `staged`
  // is empty on the usual path.
  BindingArray<Tensor> staged;
  auto bound = [&](std::size_t i) -> const Tensor& {
    return staged.empty() || !staged[i].defined() ? inputs[i] : staged[i];
  };
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (binds_in_place(inputs[i], device)) continue;
    if (staged.empty()) staged.resize(inputs.size());
    if (!logged_staging_.exchange(true)) {
      log().info(
          "module '{}' stages input '{}' from {} through host memory ({}); bind tensors of {} "
          "to avoid the copies",
          name_, in_bindings[i].name, inputs[i].device_memory()->label(),
          device ? "it runs on " + device->label() : "its plugin reads host memory only",
          device ? device->label() : std::string("the host"));
    }
    staged[i] = inputs[i].to_host();
    staged_bytes_.fetch_add(staged[i].size_bytes(), std::memory_order_relaxed);
  }
  BindingArray<rts_tensor> abi_inputs(inputs.size(), boost::container::default_init);
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    fill_abi_tensor(abi_inputs[i], in_bindings[i].name, bound(i), device);
  }
  BindingArray<rts_tensor> abi_outputs(out_bindings.size(), boost::container::default_init);
  for (std::size_t o = 0; o < out_bindings.size(); ++o) {
    const int alias = engine_->aliased_input(static_cast<uint32_t>(o));
    if (alias >= 0) {
      // In place: the output is the input's storage, never a preallocated buffer.
      if (outputs[o].data() != inputs[alias].data()) outputs[o] = inputs[alias];
      fill_abi_tensor(abi_outputs[o], out_bindings[o].name, bound(alias), device);
    } else if (outputs[o].defined() && !binds_in_place(outputs[o], device)) {
      throw InputError("module '" + name_ + "': preallocated output '" + out_bindings[o].name +
                       "' lives on " + outputs[o].device_memory()->label() +
                       "; this module runs on " +
                       (device ? device->label() : "plugin '" + plugin().id() + "' (host memory)") +
                       ": pass an undefined tensor to have it allocated");
    } else if (outputs[o].defined()) {
      fill_abi_tensor(abi_outputs[o], out_bindings[o].name, outputs[o], device);
    } else {
      fill_unbound_output(abi_outputs[o], out_bindings[o]);
    }
  }

  OutputAllocations allocations;
  allocations.outputs = out_bindings.size();
  rts_output_allocator allocator{&allocations, &OutputAllocations::allocate};
  const rts_execute_args args = execute_args({abi_inputs.data(), abi_inputs.size()},
                                             {abi_outputs.data(), abi_outputs.size()}, &allocator);

  // Held until the outputs are in place: wait_idle waits for all of it.
  struct InFlight {
    Module* module;
    ExecutionContext& context;
    ~InFlight() { module->release_context(); }
  } in_flight{this, acquire_context()};
  if (trace::enabled()) [[unlikely]] {
    trace::Span span("execute", name_);
    in_flight.context.execute(args, name_);
  } else {
    // No Span at all: even an idle one is two calls and an Event to build
    // and destroy, a tenth of an empty engine's round trip.
    in_flight.context.execute(args, name_);
  }

  // Aliased outputs written into a host copy go back to their device.
  for (std::size_t o = 0; o < out_bindings.size() && !staged.empty(); ++o) {
    const int alias = engine_->aliased_input(static_cast<uint32_t>(o));
    if (alias < 0 || !staged[alias].defined()) continue;
    outputs[o].copy_from(staged[alias]);
    staged_bytes_.fetch_add(staged[alias].size_bytes(), std::memory_order_relaxed);
  }

  // Results replace the caller's bindings in place: a preallocated output
  // of the right shape is returned as it is, without copying its shape.
  for (std::size_t o = 0; o < out_bindings.size(); ++o) {
    const rts_tensor& written = abi_outputs[o];
    if (allocations.has(o)) {
      outputs[o] = std::move(allocations.allocated[o]);
    } else if (!outputs[o].defined()) {
      throw PluginError("plugin '" + engine_->plugin().id() + "': module '" + name_ +
                        "' produced no storage for output '" + out_bindings[o].name + "'");
    } else if (!same_shape(outputs[o].shape(), written)) {
      const Shape shape = shape_of(written);
      if (element_count(shape) == outputs[o].numel()) {
        outputs[o] = outputs[o].reshaped(shape);
      } else {
        // Written into the front of a larger preallocated buffer.
        const Tensor host = outputs[o].to_host();
        outputs[o] = Tensor::from_bytes(outputs[o].dtype(), shape, host.data());
      }
    }
  }
}

ModuleStats Module::stats() const {
  std::shared_ptr<ExecutionContext> context;
  ModuleStats stats;
  {
    std::lock_guard lock(mutex_);
    stats.contexts_created = contexts_created_;
    stats.executes = executes_.load(std::memory_order_relaxed);
    stats.staged_bytes = staged_bytes_.load(std::memory_order_relaxed);
    // A context that a settings change dropped is no longer this module's.
    if (!context_stale_) context = context_;
  }
  if (context) stats.plugin_counters = context->counters();
  return stats;
}

}  // namespace rtscope
