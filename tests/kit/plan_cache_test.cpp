// kit::PlanCache: plans keyed by input shapes, bounded by starting over.
#include "rtscope/kit/plan_cache.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

namespace rtscope::kit {
namespace {

struct Plan {
  int id = 0;
};

rts_execute_args args_with_shape(rts_tensor& tensor, int64_t rows) {
  tensor = rts_tensor{};
  tensor.rank = 2;
  tensor.dims[0] = rows;
  tensor.dims[1] = 8;
  rts_execute_args args{};
  args.n_inputs = 1;
  args.inputs = &tensor;
  return args;
}

TEST(PlanCache, KeysPlansByRankAndDimsOfEveryInput) {
  PlanCache<Plan> cache;
  rts_tensor tensor;
  const rts_execute_args args = args_with_shape(tensor, 3);
  EXPECT_EQ(cache.key_input_shapes(args), (std::vector<int64_t>{2, 3, 8}));
  EXPECT_EQ(cache.find(), nullptr);
  cache.insert(std::make_unique<Plan>(Plan{7}));
  ASSERT_NE(cache.find(), nullptr);
  EXPECT_EQ(cache.find()->id, 7);

  const rts_execute_args other = args_with_shape(tensor, 4);
  cache.key_input_shapes(other);
  EXPECT_EQ(cache.find(), nullptr);
  // A backend may extend the key (device bindings): another plan.
  cache.key_input_shapes(args).push_back(99);
  EXPECT_EQ(cache.find(), nullptr);
  EXPECT_EQ(cache.find({2, 3, 8})->id, 7);
}

TEST(PlanCache, StartsOverBeyondItsBoundAndReleasesEveryEvictedPlan) {
  std::vector<int> evicted;
  PlanCache<Plan> cache([&evicted](Plan& plan) { evicted.push_back(plan.id); });
  rts_tensor tensor;
  for (int i = 0; i < static_cast<int>(PlanCache<Plan>::kMaxPlans); ++i) {
    cache.key_input_shapes(args_with_shape(tensor, i + 1));
    cache.insert(std::make_unique<Plan>(Plan{i}));
  }
  EXPECT_EQ(cache.size(), 16u);
  EXPECT_TRUE(evicted.empty());
  EXPECT_EQ(cache.find({2, 1, 8})->id, 0);

  cache.key_input_shapes(args_with_shape(tensor, 100));
  Plan& added = cache.insert(std::make_unique<Plan>(Plan{100}));
  EXPECT_EQ(added.id, 100);
  EXPECT_EQ(cache.size(), 1u);
  EXPECT_EQ(evicted.size(), 16u);
  EXPECT_EQ(cache.find({2, 1, 8}), nullptr);
  EXPECT_EQ(cache.find()->id, 100);
}

TEST(PlanCache, ReleasesItsPlansWhenDestroyed) {
  int released = 0;
  {
    PlanCache<Plan> cache([&released](Plan&) { ++released; });
    rts_tensor tensor;
    cache.key_input_shapes(args_with_shape(tensor, 2));
    cache.insert(std::make_unique<Plan>());
  }
  EXPECT_EQ(released, 1);
}

}  // namespace
}  // namespace rtscope::kit
