// kit::run_candidate_race: every candidate measured once, the close ones
// again in reverse order keeping their better score, failed candidates
// never chosen, cancellation honoured.
#include "rtscope/kit/candidate_race.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <vector>

namespace rtscope::kit {
namespace {

// Candidate i's scores in the order it is measured; nullopt: it fails.
class ScriptedTimes {
 public:
  explicit ScriptedTimes(std::vector<std::vector<std::optional<uint64_t>>> scripts)
      : scripts_(std::move(scripts)) {}

  std::optional<uint64_t> operator()(size_t i) {
    order.push_back(i);
    const size_t round = measured_[i]++;
    const auto& script = scripts_.at(i);
    return script.at(std::min(round, script.size() - 1));
  }

  std::vector<size_t> order;  // candidates in the order they were measured

 private:
  std::vector<std::vector<std::optional<uint64_t>>> scripts_;
  std::map<size_t, size_t> measured_;
};

bool never() { return false; }

TEST(CandidateRace, ACandidateCaughtByASlowSpellWinsOnItsSecondMeasurement) {
  // Candidate 0 is the faster kernel, but its first measurement ran slow;
  // one round would have chosen candidate 1.
  ScriptedTimes times({{120, 90}, {100, 100}});
  const RaceResult race = run_candidate_race(2, std::ref(times), never);
  ASSERT_TRUE(race.winner.has_value());
  EXPECT_EQ(*race.winner, 0u);
  EXPECT_EQ(race.best_ns, 90u);
  EXPECT_EQ(times.order, (std::vector<size_t>{0, 1, 1, 0}));  // close ones in reverse
}

TEST(CandidateRace, CandidatesFarBehindAreMeasuredOnce) {
  ScriptedTimes times({{300}, {100}, {110}, {126}});
  const RaceResult race = run_candidate_race(4, std::ref(times), never, 1.25);
  ASSERT_TRUE(race.winner.has_value());
  EXPECT_EQ(*race.winner, 1u);
  // 300 and 126 are beyond 1.25 x 100: only 1 and 2 run again.
  EXPECT_EQ(times.order, (std::vector<size_t>{0, 1, 2, 3, 2, 1}));
}

TEST(CandidateRace, AClearWinnerIsMeasuredOnce) {
  ScriptedTimes times({{500}, {100}, {400}});
  const RaceResult race = run_candidate_race(3, std::ref(times), never);
  EXPECT_EQ(race.winner, std::optional<size_t>(1));
  EXPECT_EQ(race.best_ns, 100u);
  EXPECT_EQ(times.order.size(), 3u);
}

TEST(CandidateRace, AFailedCandidateIsNeverChosenAndAllFailedIsNoWinner) {
  ScriptedTimes times({{std::nullopt}, {200}, {std::nullopt}});
  const RaceResult race = run_candidate_race(3, std::ref(times), never);
  EXPECT_EQ(race.winner, std::optional<size_t>(1));
  EXPECT_EQ(race.best_ns, 200u);

  ScriptedTimes failing({{std::nullopt}, {std::nullopt}});
  EXPECT_FALSE(run_candidate_race(2, std::ref(failing), never).winner.has_value());
  EXPECT_FALSE(run_candidate_race(0, std::ref(failing), never).winner.has_value());
}

TEST(CandidateRace, TiesGoToTheEarlierCandidate) {
  ScriptedTimes times({{100}, {100}});
  EXPECT_EQ(run_candidate_race(2, std::ref(times), never).winner, std::optional<size_t>(0));
}

TEST(CandidateRace, StopsMeasuringOnceCancelled) {
  ScriptedTimes times({{100}, {100}, {100}});
  const RaceResult race =
      run_candidate_race(3, std::ref(times), [&] { return times.order.size() >= 2; });
  EXPECT_EQ(times.order, (std::vector<size_t>{0, 1}));
  EXPECT_EQ(race.winner, std::optional<size_t>(0));
}

}  // namespace
}  // namespace rtscope::kit
