// The imported rtscope graph as the fusion passes (fuse_patterns.hpp) see
// it: who writes and who reads each value, the constants behind weights,
// and rewrites that replace the node writing one value by fused nodes,
// checked by the op schema before anything changes.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "context.hpp"

namespace rtscope::onnx_import {

class FuseGraph;

// An integer attribute of a node (`fallback` when absent, nullopt when of
// another kind), and a list attribute (nullopt when absent or not a list).
std::optional<int64_t> int_attr(const Node& node, const std::string& name, int64_t fallback);
std::optional<std::vector<int64_t>> ints_attr(const Node& node, const std::string& name);

// New nodes replacing the node that writes one value. Each added node is
// type-checked by the op schema as it is added; a rejection marks the
// rewrite failed (commit then changes nothing).
class Rewrite {
 public:
  explicit Rewrite(FuseGraph& graph) : graph_(graph) {}

  // Adds a node; its output is `out` (a fresh name when empty). Returns the
  // output name ("" once the rewrite failed).
  std::string add(const std::string& op, std::vector<std::string> inputs, AttrMap attrs = {},
                  std::string out = {});
  bool ok() const { return ok_; }
  ValueType type(const std::string& value) const;
  // Type-checks the added nodes as if `value` had `type` (a state the
  // rewrite changes).
  void assume(const std::string& value, const ValueType& type) { types_[value] = type; }

 private:
  friend class FuseGraph;
  FuseGraph& graph_;
  std::vector<Node> nodes_;
  std::map<std::string, ValueType> types_;
  bool ok_ = true;
};

class FuseGraph {
 public:
  explicit FuseGraph(Context& ctx);

  Context& ctx() { return ctx_; }
  const Graph& graph() const { return ctx_.graph; }

  // The node writing `value`; nullptr for inputs, weights and states.
  const Node* producer(const std::string& value) const;
  // The node writing `value` when it is an `op` node, else nullptr.
  const Node* produced_by(const std::string& value, std::string_view op) const;
  // How many node inputs read `value`, plus one if it leaves the graph (an
  // output or a state's next value).
  std::size_t uses(const std::string& value) const;
  // The nodes reading `value`.
  std::vector<const Node*> readers(const std::string& value) const;
  // `value` seen through reshapes that keep its type (mappers emit such
  // identities, e.g. after a Slice).
  std::string skip_identities(const std::string& value) const;

  ValueType type(const std::string& value) const { return ctx_.type(value); }
  // The data of a weight; nullptr for any other value.
  const Tensor* weight(const std::string& value) const;
  // The value of a one-element weight, seen through casts and reshapes.
  std::optional<double> scalar(const std::string& value) const;
  const StateBuffer* state(const std::string& value) const;

  // Replaces the node writing `out` by the rewrite's nodes, the last of
  // which must write `out`. Unless `retype` is set, `out` must keep its
  // type. Returns false and changes nothing when the rewrite failed or the
  // type differs.
  bool commit(const std::string& out, Rewrite& rewrite, bool retype = false);
  // Gives a state buffer a new type (its readers are rewritten by the
  // caller in the same step).
  void retype_state(const std::string& name, const ValueType& type);
  std::string fresh(const std::string& hint) { return ctx_.fresh(hint); }

  // Drops nodes that no output or state needs and weights no node reads.
  void remove_dead();

 private:
  void index();

  Context& ctx_;
  std::map<std::string, std::size_t> producer_;
  std::map<std::string, std::size_t> uses_;
  std::map<std::string, std::size_t> weights_;
  std::set<std::string> escaping_;
};

}  // namespace rtscope::onnx_import
