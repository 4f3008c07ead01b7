// Module under concurrent use: many threads executing one module, settings
// changes and wait_idle while executes run, and a context that cannot be
// created while several executes wait for it. The testing plugin fails an
// execute that enters a context another execute is still running on, so
// a module that lets two through at once fails these tests even where a
// race detector is not watching.
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "execution_context.hpp"
#include "rtscope/error.hpp"
#include "rtscope/model.hpp"
#include "rtscope/plugin_registry.hpp"
#include "rtscope/scopes.hpp"
#include "support/abi_values.hpp"
#include "support/env_guard.hpp"
#include "support/plugin_fixtures.hpp"
#include "support/tiny_graphs.hpp"

namespace rtscope {
namespace {

constexpr int kThreads = 8;

// y = relu(2 x), the scale_relu graph's function, in float64.
std::vector<double> expected_y(const Tensor& x) {
  std::vector<double> y;
  for (double v : x.to_doubles()) y.push_back(v * 2.0 > 0.0 ? v * 2.0 : 0.0);
  return y;
}

class ModuleConcurrencyTest : public testing::ScaleReluOnTesting {};

TEST_F(ModuleConcurrencyTest, ManyThreadsExecutingOneModuleEachGetTheirOwnResult) {
  constexpr int kCalls = 400;
  std::atomic<int> wrong{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Each thread its own input and preallocated output, as a server
      // with one request per thread would bind them.
      const std::vector<Tensor> x{Tensor::random(DType::f32, {16}, 100 + t)};
      const std::vector<double> expected = expected_y(x[0]);
      std::vector<Tensor> y{Tensor::empty(DType::f32, {16})};
      for (int i = 0; i < kCalls; ++i) {
        try {
          module_->execute_into(x, y);
          if (y[0].to_doubles() != expected) ++wrong;
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
          ++failed;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(failed.load(), 0);
  const ModuleStats stats = module_->stats();
  EXPECT_EQ(stats.contexts_created, 1u) << "one context, shared by every thread in turn";
  EXPECT_EQ(stats.executes, uint64_t{kThreads} * kCalls) << "no execute may go uncounted";
  EXPECT_EQ(stats.plugin_counters.at("executes"), uint64_t{kThreads} * kCalls);
}

TEST_F(ModuleConcurrencyTest, SettingsChangesWhileThreadsExecuteDropEveryOldContext) {
  std::atomic<bool> stop{false};
  std::atomic<int> wrong{0};
  std::atomic<uint64_t> calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      const std::vector<Tensor> x{Tensor::random(DType::f32, {16}, 200 + t)};
      const std::vector<double> expected = expected_y(x[0]);
      std::vector<Tensor> y{Tensor::empty(DType::f32, {16})};
      while (!stop) {
        module_->execute_into(x, y);
        if (y[0].to_doubles() != expected) ++wrong;
        ++calls;
      }
    });
  }
  // Every thread has executed before the settings start changing: on a
  // slow machine (a sanitizer build) the 300 changes could otherwise all
  // land before the first execute, leaving nothing to drop.
  while (calls.load() < 4) std::this_thread::yield();
  for (int i = 0; i < 300; ++i) {
    RuntimeSettings settings;
    settings.kernel_specialization =
        i % 2 ? KernelSpecialization::eager : KernelSpecialization::none;
    module_->set_runtime_settings(settings);
    std::this_thread::yield();
  }
  stop = true;
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(module_->stats().executes, calls.load());
  // Every context a settings change dropped was destroyed by the execute
  // holding it, before that execute returned: one more execute leaves
  // exactly its own context alive.
  module_->execute({Tensor::random(DType::f32, {16}, 1)});
  const ModuleStats stats = module_->stats();
  EXPECT_EQ(stats.plugin_counters.at("contexts_live"), 1u);
  EXPECT_GE(stats.contexts_created, 2u);
  EXPECT_LE(stats.contexts_created, 302u);
}

TEST_F(ModuleConcurrencyTest, WaitIdleReturnsOnlyAfterTheExecuteInFlightFinished) {
  module_->execute({Tensor::random(DType::f32, {16}, 1)});  // the context exists
  testing::EnvGuard slow("RTSCOPE_TESTING_CONFIG", "execute_cost_us=100000");
  std::atomic<bool> started{false};
  std::thread runner([&] {
    started = true;
    module_->execute({Tensor::random(DType::f32, {16}, 2)});
  });
  while (!started) std::this_thread::yield();
  // Wait until the plugin runs it (its context reports one more execute
  // only at its end, so poll the module's count, taken with the context).
  while (module_->stats().executes < 2) std::this_thread::yield();
  module_->wait_idle();
  EXPECT_EQ(module_->stats().plugin_counters.at("executes"), 2u)
      << "wait_idle returned while the execute was still running";
  runner.join();
}

TEST_F(ModuleConcurrencyTest, ContextThatCannotBeCreatedFailsEveryWaitingExecute) {
  {
    testing::EnvGuard fail("RTSCOPE_TESTING_CONFIG", "fail_create_context=no context today");
    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&] {
        try {
          module_->execute({Tensor::random(DType::f32, {16}, 3)});
        } catch (const PluginError&) {
          ++failures;
        }
      });
    }
    for (auto& thread : threads) thread.join();
    EXPECT_EQ(failures.load(), kThreads) << "every execute tries, and fails, on its own";
  }
  EXPECT_EQ(module_->stats().contexts_created, 0u);
  const Tensor x = Tensor::random(DType::f32, {16}, 4);
  EXPECT_EQ(module_->execute({x})[0].to_doubles(), expected_y(x));
  EXPECT_EQ(module_->stats().contexts_created, 1u);
}

// The detector the tests above rely on: two executes entering one context
// at once are refused by the testing plugin.
TEST(TestingPluginContext, RefusesAnExecuteThatOverlapsAnotherOnTheSameContext) {
  PluginRegistry registry;
  auto plugin = registry.load({.name = "testing"});
  // x f32[4] passed straight through: no nodes.
  const rts_value x = testing::static_value("x", RTS_DTYPE_F32, {4});
  const rts_graph graph = testing::pass_through_graph("pass", &x);
  ExecutionContext context(Engine::build(plugin, 0, graph), RuntimeSettings{}, nullptr);

  struct Call {
    float in[4] = {1, 2, 3, 4};
    float out[4] = {};
    rts_tensor tensors[2] = {};
    rts_execute_args args{};
    Call() {
      for (int i = 0; i < 2; ++i) {
        rts_tensor& t = tensors[i];
        t.struct_size = sizeof(t);
        t.name = "x";
        t.dtype = RTS_DTYPE_F32;
        t.rank = 1;
        t.dims[0] = 4;
        t.data = i == 0 ? in : out;
        t.size_bytes = sizeof(in);
        t.residency = RTS_RESIDENCY_HOST;
      }
      args = execute_args({&tensors[0], 1}, {&tensors[1], 1});
    }
  } first, second;
  context.execute(first.args, "m");  // alone: fine

  testing::EnvGuard slow("RTSCOPE_TESTING_CONFIG", "execute_cost_us=200000");
  std::atomic<bool> started{false};
  std::thread runner([&] {
    started = true;
    context.execute(first.args, "m");
  });
  while (!started) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  try {
    context.execute(second.args, "m");
    ADD_FAILURE() << "an execute overlapping another on one context was accepted";
  } catch (const PluginError& e) {
    EXPECT_NE(std::string(e.what()).find("serialize the executes of one context"),
              std::string::npos)
        << e.what();
  }
  runner.join();
  context.execute(second.args, "m");  // once the other finished: fine again
  EXPECT_EQ(context.counters().at("executes"), 3u);
}

}  // namespace
}  // namespace rtscope
