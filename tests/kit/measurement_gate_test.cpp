// The gate between lazy tuning's timed runs and the context's executes
// (rtscope/kit/measurement_gate.hpp): while a plan is tuned the two never
// overlap, and neither side starves; with no tuning under way an execute
// never waits.
#include "rtscope/kit/measurement_gate.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <thread>

namespace rtscope::kit {
namespace {

using namespace std::chrono_literals;

void busy_for(std::chrono::microseconds duration) {
  const auto until = std::chrono::steady_clock::now() + duration;
  while (std::chrono::steady_clock::now() < until) {
  }
}

TEST(CpuMeasurementGate, TimedRunsNeverOverlapAnExecute) {
  MeasurementGate gate;
  gate.open();
  std::atomic<bool> executing{false};
  std::atomic<bool> measuring{false};
  std::atomic<int> overlaps{0};
  std::atomic<bool> tuning_done{false};
  int executes = 0;
  std::thread tuner([&] {
    for (int i = 0; i < 200; ++i) {
      gate.measure([&] {
        measuring = true;
        if (executing) ++overlaps;
        busy_for(30us);
        if (executing) ++overlaps;
        measuring = false;
      });
    }
    gate.close();
    tuning_done = true;
  });
  // Executes go on until the tuning ends, and after it.
  while (!tuning_done || executes < 200) {
    const MeasurementGate::Turn turn(gate);
    executing = true;
    if (measuring) ++overlaps;
    busy_for(20us);
    if (measuring) ++overlaps;
    executing = false;
    ++executes;
  }
  tuner.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_FALSE(gate.active());
}

TEST(CpuMeasurementGate, AnExecuteWaitsForNothingWhenNoPlanIsTuned) {
  MeasurementGate gate;
  std::promise<void> inside;
  std::promise<void> finish;
  std::thread tuner([&] {
    gate.measure([&] {
      inside.set_value();
      finish.get_future().wait();
    });
    gate.close();
  });
  inside.get_future().wait();
  // A timed run is in progress, but no tuning was opened: the execute's
  // turn is free. (Were it to wait, the test would hang.)
  { const MeasurementGate::Turn turn(gate); }
  finish.set_value();
  tuner.join();
}

TEST(CpuMeasurementGate, ExecutesResumeWhenTheTunerYields) {
  MeasurementGate gate;
  gate.open();
  std::promise<void> held;
  std::promise<void> release;
  std::thread tuner([&] {
    gate.measure([&] {});  // the slice (5 ms at least) keeps the gate held
    held.set_value();
    release.get_future().wait();
    gate.close();
  });
  held.get_future().wait();
  auto execute = std::async(std::launch::async, [&] { const MeasurementGate::Turn turn(gate); });
  EXPECT_EQ(execute.wait_for(50ms), std::future_status::timeout);  // held by the tuner
  release.set_value();
  EXPECT_EQ(execute.wait_for(10s), std::future_status::ready);
  tuner.join();
}

}  // namespace
}  // namespace rtscope::kit
