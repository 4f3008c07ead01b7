// Schemas of the decoder attention ops: rope, attention over a KV cache, and
// kv_cache_update (in place on the cache). Each takes `pos` as i64 [1] (one
// position for all batch rows) or i64 [B] (batch row b at pos[b]: its rope
// angle, the cache rows it writes, and the keys it sees, pos[b] + S).
// Attention is grouped-query: the caches hold Hkv heads, a divisor of the
// query's H, and query head h reads KV head h / (H / Hkv) (Hkv = H is plain
// multi-head attention), so a cache never stores a head twice.
#include "op_shapes.hpp"

namespace rtscope::schema::detail {
namespace {

std::vector<ValueType> infer_rope(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& x = in[0];
  require_rank("x", x, 4);  // [B, S, H, Dh]
  require_position("pos", in[1], x.shape[0]);
  const Dim& head_dim = x.shape[3];
  if (head_dim.is_static() && head_dim.value % 2 != 0) {
    fail(describe("x", x) + " must have an even head dim (last dim), got " + head_dim.str());
  }
  if (!(attr_real(attrs, "base") > 0.0)) {
    fail("base must be > 0, got " + std::to_string(attr_real(attrs, "base")));
  }
  return {x};
}

// Checks that `other` [B, H, *, Dh] matches `q` in batch, heads and head dim.
void check_heads(std::string_view q_role, const ValueType& q, std::string_view role,
                 const ValueType& other) {
  const std::string pair = " of " + describe(q_role, q) + " and " + describe(role, other);
  require_same_dim(q.shape[0], other.shape[0], "batch dims (0)" + pair);
  require_same_dim(q.shape[1], other.shape[1], "head counts (dim 1)" + pair);
  require_same_dim(q.shape[3], other.shape[3], "head dims (dim 3)" + pair);
}

// Checks that the cache [B, Hkv, T, Dh] matches `q` [B, H, S, Dh] in batch
// and head dim, and that its Hkv heads divide H (grouped-query attention).
// Symbolic head counts must be the same symbol: the grouping is fixed when
// the graph is built.
void check_grouped_heads(const ValueType& q, const ValueType& cache) {
  const std::string pair = " of " + describe("q", q) + " and " + describe("k_cache", cache);
  require_same_dim(q.shape[0], cache.shape[0], "batch dims (0)" + pair);
  require_same_dim(q.shape[3], cache.shape[3], "head dims (dim 3)" + pair);
  const Dim& heads = q.shape[1];
  const Dim& kv_heads = cache.shape[1];
  if (!heads.is_static() || !kv_heads.is_static()) {
    require_same_dim(heads, kv_heads, "head counts (dim 1)" + pair);
    return;
  }
  // 0 KV heads serve only an empty query (no heads at all).
  const bool divides = kv_heads.value > 0 ? heads.value % kv_heads.value == 0 : heads.value == 0;
  if (!divides) {
    fail("query heads " + heads.str() + " of " + describe("q", q) +
         " are not a multiple of KV heads " + kv_heads.str() + " of " + describe("k_cache", cache) +
         "; grouped-query attention needs H % Hkv == 0 (each KV head serves H / Hkv query heads)");
  }
}

void check_fits(std::string_view role, const ValueType& seq_owner, const ValueType& cache) {
  const Dim& s = seq_owner.shape[2];
  const Dim& t = cache.shape[2];
  if (s.is_static() && t.is_static() && s.value > t.value) {
    fail(describe(role, seq_owner) + " has " + s.str() + " positions but " +
         describe("cache", cache) + " holds only " + t.str());
  }
}

std::vector<ValueType> infer_attention(const std::vector<ValueType>& in, const AttrMap& attrs) {
  const ValueType& q = in[0];
  const ValueType& k = in[1];
  const ValueType& v = in[2];
  require_rank("q", q, 4);  // [B, H, S, Dh]
  require_rank("k_cache", k, 4);
  require_rank("v_cache", v, 4);
  if (!(k.shape == v.shape)) {
    fail(describe("k_cache", k) + " and " + describe("v_cache", v) + " must have one shape");
  }
  check_grouped_heads(q, k);
  check_fits("q", q, k);
  require_position("pos", in[3], q.shape[0]);
  if (!(attr_real(attrs, "scale") >= 0.0)) {
    fail("scale must be >= 0 (0 means 1/sqrt(head dim)), got " +
         std::to_string(attr_real(attrs, "scale")));
  }
  return {q};
}

std::vector<ValueType> infer_kv_cache_update(const std::vector<ValueType>& in, const AttrMap&) {
  const ValueType& cache = in[0];
  const ValueType& fresh = in[1];
  require_rank("cache", cache, 4);  // [B, Hkv, T, Dh]: the heads attention reads
  require_rank("new", fresh, 4);    // [B, Hkv, S, Dh]
  check_heads("cache", cache, "new", fresh);
  check_fits("new", fresh, cache);
  require_position("pos", in[2], cache.shape[0]);
  return {cache};
}

}  // namespace

void add_attention_schemas(std::vector<OpSchema>& schemas) {
  schemas.push_back(fixed_inputs("rope",
                                 {{"x", InputDtype::floating}, {"pos", InputDtype::position}},
                                 {{"base", AttrKind::real, false, 10000.0}}, infer_rope));
  schemas.push_back(fixed_inputs("attention",
                                 {{"q", InputDtype::floating},
                                  {"k_cache", InputDtype::same_as_first},
                                  {"v_cache", InputDtype::same_as_first},
                                  {"pos", InputDtype::position}},
                                 {{"scale", AttrKind::real, false, 0.0}}, infer_attention));
  OpSchema update = fixed_inputs("kv_cache_update",
                                 {{"cache", InputDtype::floating},
                                  {"new", InputDtype::same_as_first},
                                  {"pos", InputDtype::position}},
                                 {}, infer_kv_cache_update);
  update.aliases_input = 0;  // the output is the cache, written in place
  schemas.push_back(std::move(update));
}

}  // namespace rtscope::schema::detail
