#include "workload.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <vector>

#include "rtscope/checked_math.hpp"
#include "rtscope/device_memory.hpp"
#include "rtscope/error.hpp"

namespace rtscope::runner {
namespace {

using Clock = std::chrono::steady_clock;

const ValueInfo* find_input(const Graph& graph, const std::string& name) {
  for (const ValueInfo& input : graph.inputs) {
    if (input.name == name) return &input;
  }
  return nullptr;
}

std::string describe_interface(const Graph& graph) {
  std::vector<std::string> inputs;
  for (const ValueInfo& input : graph.inputs) inputs.push_back(input.name + " " + input.type.str());
  return fmt::format("inputs [{}], outputs [{}]", fmt::join(inputs, ", "),
                     fmt::join(graph.outputs, ", "));
}

// Concrete size of a symbolic dim when the workload does not choose it.
int64_t default_size(const Graph& graph, const Dim& dim) {
  if (dim.is_static()) return dim.value;
  const auto range = graph.symbols.find(dim.symbol);
  return range == graph.symbols.end() ? 1 : range->second.opt;
}

// A decoder step's inputs are named as the built-in decoder has them
// (tokens [batch, seq], pos [1] or [batch]: the first position, shared or
// per row) or as Hugging Face exports do (input_ids [batch, seq],
// position_ids [batch, seq]).
struct StreamInputs {
  const char* tokens;
  const char* positions;
  bool per_token;  // positions hold every token's position
};
constexpr StreamInputs kBuiltinInputs{"tokens", "pos", false};
constexpr StreamInputs kExportInputs{"input_ids", "position_ids", true};

StreamInputs stream_inputs(const Graph& graph) {
  return find_input(graph, kBuiltinInputs.tokens) ? kBuiltinInputs : kExportInputs;
}

class StreamWorkload : public Workload {
 public:
  StreamWorkload(const WorkloadConfig& config, Model& model, Model& prefill)
      : config_(config), model_(model), prefill_(prefill) {
    const Graph& graph = model.graph();
    names_ = stream_inputs(graph);
    const ValueInfo* tokens = find_input(graph, names_.tokens);
    const bool has_next_token =
        std::find(graph.outputs.begin(), graph.outputs.end(), "next_token") != graph.outputs.end();
    if (!tokens || !find_input(graph, names_.positions) || !has_next_token ||
        tokens->type.shape.size() != 2) {
      throw InputError(fmt::format(
          "workload 'stream' needs a decoder-style model with inputs tokens [batch, seq] and "
          "pos [1] (or input_ids and position_ids [batch, seq]) and output next_token; this "
          "model has {}; use workload kind 'batch' for it",
          describe_interface(graph)));
    }
    const Dim& rows = tokens->type.shape[0];
    rows_ = rows.is_static() ? rows.value : std::max<int64_t>(1, default_size(graph, rows));
    if (config_.batch > 0 && config_.batch != rows_) {
      throw InputError(fmt::format(
          "workload 'stream' batch {} does not fit the model: input '{}' ({}) decodes {} "
          "stream(s) per step; build the model with that batch (e.g. --set "
          "models.<name>.params.batch={}) or drop the workload's batch",
          config_.batch, names_.tokens, tokens->type.str(), rows_, config_.batch));
    }
    const auto logits = graph.values.find("logits");
    if (logits == graph.values.end() || logits->second.shape.empty() ||
        !logits->second.shape.back().is_static()) {
      throw InputError(fmt::format(
          "workload 'stream' takes the vocabulary size from the static last dim of output "
          "'logits'; this model has {}",
          describe_interface(graph)));
    }
    vocab_ = logits->second.shape.back().value;
    check_positions(graph);
    decode_ = bind_step(model_, names_);
    prefill_step_ = &model_ == &prefill_ ? decode_ : bind_step(prefill_, names_);
    // One token column and one position (a column of them), rewritten in
    // place every step.
    next_ = Tensor::zeros(DType::i64, {rows_, 1});
    position_tensor_ = names_.per_token
                           ? Tensor::zeros(DType::i64, {rows_, 1})
                           : Tensor::zeros(DType::i64, {per_row_positions(graph) ? rows_ : 1});
    positions_.assign(static_cast<std::size_t>(rows_), 0);
  }

  std::chrono::nanoseconds run_iteration() override {
    if (!stream_started_ || step_ == config_.tokens) start_stream();
    std::chrono::nanoseconds elapsed{};
    write_positions();
    decode_.inputs[decode_.tokens] = next_;
    decode_.inputs[decode_.pos] = position_tensor_;
    timed_run(model_, decode_.inputs, decode_.outputs, elapsed);
    take_last_column(decode_.outputs[decode_.next_token]);
    keep_unread_outputs_on_device(model_, decode_);
    for (int64_t& position : positions_) ++position;
    ++step_;
    return elapsed;
  }

  int64_t items_per_iteration() const override { return rows_; }
  std::string item_unit() const override { return "tokens"; }
  std::string describe() const override {
    if (rows_ == 1)
      return fmt::format("stream prompt {}, tokens {}", config_.prompt, config_.tokens);
    return fmt::format("stream batch {}, prompt {}, tokens {}", rows_, config_.prompt,
                       config_.tokens);
  }
  std::span<const int64_t> last_tokens() const override {
    return {next_.data_as<int64_t>(), static_cast<std::size_t>(rows_)};
  }

 private:
  // Every position a stream writes must fit the KV cache
  // (k_cache_<l>: [batch, heads, max_seq, head_dim]).
  void check_positions(const Graph& graph) const {
    const std::optional<int64_t> sum = checked::add<int64_t>(config_.prompt, config_.tokens);
    if (!sum) {
      throw InputError(
          fmt::format("workload 'stream': prompt {} + tokens {} overflows; use "
                      "smaller values",
                      config_.prompt, config_.tokens));
    }
    const int64_t needed = *sum;
    for (const StateBuffer& state : graph.states) {
      const SymShape& shape = state.info.type.shape;
      if ((state.info.name.starts_with("k_cache") || state.info.name.starts_with("past_key")) &&
          shape.size() == 4 && shape[2].is_static() && shape[2].value < needed) {
        throw InputError(fmt::format(
            "workload 'stream' needs {} positions (prompt {} + tokens {}) but the model keeps "
            "{} in {}; lower prompt/tokens or raise the model's max_seq",
            needed, config_.prompt, config_.tokens, shape[2].value, state.info.name));
      }
    }
  }

  // Whether the model's pos input takes one position per stream: a
  // [batch] or symbolic dim that allows rows_ (the built-in decoder with
  // batch > 1); otherwise every stream shares pos [1].
  bool per_row_positions(const Graph& graph) const {
    if (names_.per_token || rows_ == 1) return false;
    const ValueInfo* pos = find_input(graph, names_.positions);
    if (pos->type.shape.size() != 1) return false;
    const Dim& dim = pos->type.shape[0];
    if (dim.is_static()) return dim.value == rows_;
    const auto range = graph.symbols.find(dim.symbol);
    return range == graph.symbols.end() ||
           (range->second.min <= rows_ && rows_ <= range->second.max);
  }

  // The next step's positions: each stream's (pos [batch]), the first
  // stream's (pos [1]: streams advance together), or each token's
  // (position_ids [batch, 1]).
  void write_positions() {
    int64_t* out = position_tensor_.data_as<int64_t>();
    const int64_t count = position_tensor_.numel();
    for (int64_t i = 0; i < count; ++i) out[i] = positions_[static_cast<std::size_t>(i)];
  }

  // Prefill of a fresh stream; not timed (the first one is the model's
  // first inference, reported on its own).
  void start_stream() {
    // Both models hold the same buffers when they differ.
    prefill_.reset_state();
    // Sized from the config: checked, and named, before it is allocated.
    tensor_bytes(DType::i64, {rows_, config_.prompt}, "the stream workload's prompt");
    // Row b of the n-th batch of streams is seeded with seed + n·rows + b,
    // so that every stream has its own tokens, and stream b of a batch
    // equals the stream a batch-1 run with seed + b starts with.
    Tensor prompt = Tensor::empty(DType::i64, {rows_, config_.prompt});
    for (int64_t row = 0; row < rows_; ++row) {
      const Tensor tokens =
          Tensor::random(DType::i64, {1, config_.prompt},
                         config_.seed + streams_ * static_cast<uint64_t>(rows_) + row,
                         static_cast<double>(vocab_ - 1));
      std::copy_n(tokens.data_as<int64_t>(), config_.prompt,
                  prompt.data_as<int64_t>() + row * config_.prompt);
    }
    std::chrono::nanoseconds ignored{};
    begin_untimed();
    prefill_step_.inputs[prefill_step_.tokens] = prompt;
    if (names_.per_token) {
      Tensor positions = Tensor::empty(DType::i64, {rows_, config_.prompt});
      for (int64_t i = 0; i < positions.numel(); ++i) {
        positions.data_as<int64_t>()[i] = i % config_.prompt;
      }
      prefill_step_.inputs[prefill_step_.pos] = positions;
    } else {
      std::fill(positions_.begin(), positions_.end(), 0);
      write_positions();
      prefill_step_.inputs[prefill_step_.pos] = position_tensor_;
    }
    timed_run(prefill_, prefill_step_.inputs, prefill_step_.outputs, ignored);
    take_last_column(prefill_step_.outputs[prefill_step_.next_token]);
    keep_unread_outputs_on_device(prefill_, prefill_step_);
    end_untimed();
    std::fill(positions_.begin(), positions_.end(), config_.prompt);
    step_ = 0;
    ++streams_;
    stream_started_ = true;
  }

  // A model's step by position: names resolved once, here, so that a step
  // builds no map and looks nothing up.
  struct StepBindings {
    std::size_t tokens = 0;
    std::size_t pos = 0;
    std::size_t next_token = 0;
    std::vector<Tensor> inputs;
    std::vector<Tensor> outputs;
  };
  static StepBindings bind_step(const Model& model, const StreamInputs& names) {
    const Graph& graph = model.graph();
    for (const ValueInfo& input : graph.inputs) {
      if (input.name != names.tokens && input.name != names.positions) {
        throw InputError("model '" + graph.name + "': missing input '" + input.name + "' (" +
                         input.type.str() + ")");
      }
    }
    if (std::find(graph.outputs.begin(), graph.outputs.end(), "next_token") ==
        graph.outputs.end()) {
      throw InputError("the model returned no 'next_token' output");
    }
    StepBindings step;
    step.tokens = model.input_index(names.tokens);
    step.pos = model.input_index(names.positions);
    step.next_token = model.output_index("next_token");
    step.inputs.resize(graph.inputs.size());
    step.outputs.resize(graph.outputs.size());
    return step;
  }

  // The outputs a stream does not read (the logits) stay on the device
  // that computes them from the next step on (Model::run_into writes such
  // slots in place): a step then copies only its next tokens to the host,
  // as a PyTorch decode loop does.
  static void keep_unread_outputs_on_device(const Model& model, StepBindings& step) {
    for (std::size_t k = 0; k < step.outputs.size(); ++k) {
      Tensor& output = step.outputs[k];
      if (k == step.next_token || !output.defined() || output.on_device()) continue;
      if (std::shared_ptr<const DeviceMemory> device = model.output_device(k)) {
        output = Tensor::empty_on(std::move(device), output.dtype(), output.shape());
      }
    }
  }

  // The last column of next_token, read as integers into next_ (in place:
  // ids never pass through floating point).
  void take_last_column(const Tensor& next_token) {
    const Shape& shape = next_token.shape();
    if (shape.size() != 2 || shape[0] != rows_ || shape[1] < 1) {
      throw InputError(fmt::format("the model's next_token has shape {}, expected [{}, seq]",
                                   shape_to_string(shape), rows_));
    }
    const Tensor host = next_token.on_device() ? next_token.to_host() : Tensor();
    const Tensor& values = next_token.on_device() ? host : next_token;
    int64_t* column = next_.data_as<int64_t>();
    for (int64_t row = 0; row < rows_; ++row) {
      const int64_t at = row * shape[1] + shape[1] - 1;
      switch (values.dtype()) {
        case DType::i64:
          column[row] = values.data_as<int64_t>()[at];
          break;
        case DType::i32:
          column[row] = values.data_as<int32_t>()[at];
          break;
        default:
          throw InputError(fmt::format("the model's next_token is {}; token ids must be i64 or i32",
                                       to_string(values.dtype())));
      }
    }
  }

  WorkloadConfig config_;
  Model& model_;
  Model& prefill_;
  StreamInputs names_ = kBuiltinInputs;
  int64_t rows_ = 1;
  int64_t vocab_ = 0;
  bool stream_started_ = false;
  uint64_t streams_ = 0;
  int64_t step_ = 0;                // decode steps done in this stream
  std::vector<int64_t> positions_;  // each stream's position of its next token
  Tensor next_;                     // i64 [rows, 1]: the tokens of the next step
  Tensor position_tensor_;          // i64 [1] or [rows], or [rows, 1] for position_ids
  StepBindings decode_;
  StepBindings prefill_step_;
};

class BatchWorkload : public Workload {
 public:
  BatchWorkload(const WorkloadConfig& config, Model& model) : config_(config), model_(model) {
    const Graph& graph = model.graph();
    uint64_t seed = config.seed;
    for (const ValueInfo& input : graph.inputs) {
      Shape shape;
      for (std::size_t i = 0; i < input.type.shape.size(); ++i) {
        const Dim& dim = input.type.shape[i];
        shape.push_back(i == 0 ? batch_dim(graph, input, dim) : default_size(graph, dim));
      }
      // Floats uniform in [-1, 1]; integers and bools in {0, 1}, which is a
      // valid id for any embedding table.
      // Sized from the graph and the config: checked, and named, before it
      // is allocated (a count that wraps to 0 would otherwise run silently).
      tensor_bytes(input.type.dtype, shape, fmt::format("input '{}'", input.name));
      inputs_.push_back(Tensor::random(input.type.dtype, shape, seed++, 1.0));
    }
    outputs_.resize(graph.outputs.size());
  }

  std::chrono::nanoseconds run_iteration() override {
    if (!model_.graph().states.empty()) model_.reset_state();
    std::chrono::nanoseconds elapsed{};
    timed_run(model_, inputs_, outputs_, elapsed);
    return elapsed;
  }

  int64_t items_per_iteration() const override { return config_.batch; }
  std::string item_unit() const override { return "samples"; }
  std::string describe() const override { return fmt::format("batch {}", config_.batch); }

 private:
  int64_t batch_dim(const Graph& graph, const ValueInfo& input, const Dim& dim) const {
    if (dim.is_static()) {
      if (dim.value != config_.batch) {
        throw InputError(fmt::format(
            "workload batch {} does not fit the model: input '{}' has a fixed first dim of {} ({})",
            config_.batch, input.name, dim.value, input.type.str()));
      }
      return dim.value;
    }
    if (const auto range = graph.symbols.find(dim.symbol); range != graph.symbols.end()) {
      if (config_.batch < range->second.min || config_.batch > range->second.max) {
        throw InputError(fmt::format(
            "workload batch {} is outside the range [{}, {}] of '{}' (first dim of input '{}')",
            config_.batch, range->second.min, range->second.max, dim.symbol, input.name));
      }
    }
    return config_.batch;
  }

  WorkloadConfig config_;
  Model& model_;
  std::vector<Tensor> inputs_;  // in graph input order
  std::vector<Tensor> outputs_;
};

}  // namespace

void Workload::timed_run(Model& model, std::span<const Tensor> inputs, std::span<Tensor> outputs,
                         std::chrono::nanoseconds& elapsed) {
  const auto start = Clock::now();
  model.run_into(inputs, outputs);
  const auto end = Clock::now();
  elapsed = std::chrono::duration_cast<std::chrono::nanoseconds>(end - start);
  if (!first_run_) {
    first_run_ = elapsed;
    first_run_end_ = end;
  }
}

std::unique_ptr<Workload> make_workload(const WorkloadConfig& config, Model& model,
                                        Model* prefill) {
  if (config.kind == WorkloadConfig::Kind::stream) {
    return std::make_unique<StreamWorkload>(config, model, prefill ? *prefill : model);
  }
  return std::make_unique<BatchWorkload>(config, model);
}

}  // namespace rtscope::runner
