// export_decoder_onnx(), see rtscope/onnx_export.hpp: the built-in decoder
// written with opset-17 ops the way Hugging Face exports Llama models
// (RMSNorm, rotate-half RoPE from cos/sin tables gathered by position_ids,
// attention as MatMul/Softmax/MatMul with a causal mask from positions,
// SwiGLU), with past/present KV I/O per layer.
#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>
#include <set>

#include "onnx_writer.hpp"
#include "rtscope/error.hpp"
#include "rtscope/onnx_export.hpp"
#include "rtscope/templates.hpp"

namespace rtscope {
namespace {

using onnx_export::OnnxWriter;

class DecoderExporter {
 public:
  DecoderExporter(const DecoderParams& p, KvCacheStyle style)
      : p_(p),
        style_(style),
        builtin_(build_decoder(p)),
        w_("decoder"),
        dt_(p.dtype),
        head_dim_(p.d_model / p.heads),
        kv_heads_(p.kv_heads == 0 ? p.heads : p.kv_heads),
        ffn_(p.ffn == 0 ? 4 * p.d_model : p.ffn) {
    if (p.tied_embeddings || p.out_in_weights) {
      throw InputError(
          "builtin:decoder: the ONNX export writes [in, out] projections and an lm_head weight; "
          "drop tied_embeddings");
    }
    for (const Weight& w : builtin_.weights) weights_[w.info.name] = &w;
  }

  void write(const std::filesystem::path& path) {
    declare_io();
    std::string x = w_.op("Gather", {weight("embed"), "input_ids"}, "/embed/out");
    rope_tables();
    for (int64_t l = 0; l < p_.layers; ++l) x = layer(l, x);
    x = rmsnorm("/final_norm", x, "final_norm");
    w_.op("MatMul", {x, weight("lm_head")}, "logits");
    w_.save(path.string());
  }

 private:
  // The cache length dim of past and present: symbolic for concat-style
  // caches that grow by each step's rows, fixed for in-place ones.
  Dim past_len() const {
    return style_ == KvCacheStyle::concat ? Dim::named("past_len") : Dim::fixed(p_.max_seq);
  }
  Dim present_len() const {
    return style_ == KvCacheStyle::concat ? Dim::named("total_len") : Dim::fixed(p_.max_seq);
  }

  void declare_io() {
    const Dim batch = Dim::fixed(p_.batch), seq = Dim::named("seq");
    w_.input("input_ids", {DType::i64, {batch, seq}});
    w_.input("position_ids", {DType::i64, {batch, seq}});
    for (int64_t l = 0; l < p_.layers; ++l) {
      for (const char* kv : {"key", "value"}) {
        w_.input(fmt::format("past_key_values.{}.{}", l, kv),
                 {dt_, {batch, Dim::fixed(kv_heads_), past_len(), Dim::fixed(head_dim_)}});
      }
    }
    w_.output("logits", {dt_, {batch, seq, Dim::fixed(p_.vocab)}});
    for (int64_t l = 0; l < p_.layers; ++l) {
      for (const char* kv : {"key", "value"}) {
        w_.output(fmt::format("present.{}.{}", l, kv),
                  {dt_, {batch, Dim::fixed(kv_heads_), present_len(), Dim::fixed(head_dim_)}});
      }
    }
  }

  std::string weight(const std::string& name) {
    auto it = weights_.find(name);
    if (it == weights_.end()) throw InputError("builtin:decoder: no weight '" + name + "'");
    if (written_.insert(name).second) w_.tensor(name, materialize_weight(*it->second));
    return name;
  }

  Tensor table(const Shape& shape, const std::vector<double>& values) const {
    Tensor t = Tensor::empty(dt_, shape);
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (dt_ == DType::f16) {
        t.data_as<uint16_t>()[i] = float_to_half(static_cast<float>(values[i]));
      } else {
        t.data_as<float>()[i] = static_cast<float>(values[i]);
      }
    }
    return t;
  }

  std::string axes(const std::string& name, std::vector<int64_t> values) {
    return w_.ints("/const/" + name, values);
  }

  // cos/sin [max_seq, head_dim] with each frequency in both halves (rotate
  // half), gathered by position_ids into [B, S, 1, Dh].
  void rope_tables() {
    const int64_t half = head_dim_ / 2;
    std::vector<double> cos_values, sin_values;
    for (int64_t pos = 0; pos < p_.max_seq; ++pos) {
      for (int64_t j = 0; j < head_dim_; ++j) {
        const int64_t i = j % half;
        const double theta =
            static_cast<double>(pos) *
            std::pow(p_.rope_theta, -2.0 * static_cast<double>(i) / static_cast<double>(head_dim_));
        cos_values.push_back(std::cos(theta));
        sin_values.push_back(std::sin(theta));
      }
    }
    const Shape shape{p_.max_seq, head_dim_};
    w_.tensor("/rope/cos_table", table(shape, cos_values));
    w_.tensor("/rope/sin_table", table(shape, sin_values));
    const std::string unsq = axes("axis2", {2});
    for (const char* f : {"cos", "sin"}) {
      const std::string gathered =
          w_.op("Gather", {fmt::format("/rope/{}_table", f), "position_ids"},
                fmt::format("/rope/{}_bsd", f));
      w_.op("Unsqueeze", {gathered, unsq}, fmt::format("/rope/{}", f));
    }
    // Query positions [B, 1, S, 1] for the causal mask (and the cache
    // writes of the in-place style).
    w_.op("Unsqueeze", {"position_ids", axes("axes13", {1, 3})}, "/pos/query");
  }

  // Causal mask [B, 1, S, T]: 0 where key position <= query position, the
  // lowest finite value elsewhere (rows of the cache not written yet too).
  std::string mask(const std::string& present_k) {
    if (!mask_.empty()) return mask_;
    std::string keys;
    if (style_ == KvCacheStyle::concat) {
      const std::string shape = w_.op("Shape", {present_k}, "/mask/present_shape");
      const std::string total =
          w_.op("Gather", {shape, w_.ints("/const/two", {2}, /*scalar=*/true)}, "/mask/total_len");
      keys = w_.op("Range",
                   {w_.ints("/const/zero", {0}, true), total, w_.ints("/const/one", {1}, true)},
                   "/mask/key_pos");
    } else {
      std::vector<int64_t> rows(static_cast<std::size_t>(p_.max_seq));
      for (int64_t i = 0; i < p_.max_seq; ++i) rows[static_cast<std::size_t>(i)] = i;
      keys = w_.ints("/mask/key_pos", rows);
    }
    const std::string allowed = w_.op("LessOrEqual", {keys, "/pos/query"}, "/mask/allowed");
    const double lowest = dt_ == DType::f16 ? -65504.0 : std::numeric_limits<float>::lowest();
    mask_ = w_.op("Where",
                  {allowed, w_.scalar("/const/mask_zero", dt_, 0.0),
                   w_.scalar("/const/mask_lowest", dt_, lowest)},
                  "/mask/additive");
    return mask_;
  }

  std::string rmsnorm(const std::string& prefix, const std::string& x, const std::string& gain) {
    const std::string sq = w_.op("Mul", {x, x}, prefix + "/square");
    auto& mean = w_.node("ReduceMean", {sq}, {prefix + "/mean_square"});
    OnnxWriter::set_ints(mean, "axes", {-1});
    OnnxWriter::set_int(mean, "keepdims", 1);
    if (eps_.empty()) eps_ = w_.scalar("/const/norm_eps", dt_, p_.norm_eps);
    const std::string var = w_.op("Add", {prefix + "/mean_square", eps_}, prefix + "/plus_eps");
    const std::string rms = w_.op("Sqrt", {var}, prefix + "/rms");
    const std::string normed = w_.op("Div", {x, rms}, prefix + "/normalized");
    return w_.op("Mul", {normed, weight(gain)}, prefix + "/out");
  }

  // [B, S, heads*Dh] -> [B, heads, S, Dh], rotated for q and k.
  std::string to_heads(const std::string& prefix, const std::string& x, int64_t heads, bool rope) {
    std::string v = w_.op("Reshape", {x, w_.ints(prefix + "/shape", {0, 0, heads, head_dim_})},
                          prefix + "/bshd");
    if (rope) {
      const int64_t half = head_dim_ / 2;
      if (half_starts_.empty()) {
        half_starts_ = axes("half_starts", {0});
        half_mid_ = axes("half_mid", {half});
        half_end_ = axes("half_end", {head_dim_});
        axis3_ = axes("axis3", {3});
      }
      const std::string x1 =
          w_.op("Slice", {v, half_starts_, half_mid_, axis3_}, prefix + "/rope/x1");
      const std::string x2 = w_.op("Slice", {v, half_mid_, half_end_, axis3_}, prefix + "/rope/x2");
      const std::string neg = w_.op("Neg", {x2}, prefix + "/rope/neg_x2");
      auto& cat = w_.node("Concat", {neg, x1}, {prefix + "/rope/rotated"});
      OnnxWriter::set_int(cat, "axis", 3);
      const std::string a = w_.op("Mul", {v, "/rope/cos"}, prefix + "/rope/x_cos");
      const std::string b =
          w_.op("Mul", {prefix + "/rope/rotated", "/rope/sin"}, prefix + "/rope/rot_sin");
      v = w_.op("Add", {a, b}, prefix + "/rope/out");
    }
    auto& t = w_.node("Transpose", {v}, {prefix + "/bhsd"});
    OnnxWriter::set_ints(t, "perm", {0, 2, 1, 3});
    return prefix + "/bhsd";
  }

  // present = past with the step's rows: appended (concat-style) or
  // written at position_ids (in-place style).
  std::string cache(int64_t l, const char* kv, const std::string& fresh) {
    const std::string past = fmt::format("past_key_values.{}.{}", l, kv);
    const std::string present = fmt::format("present.{}.{}", l, kv);
    if (style_ == KvCacheStyle::concat) {
      OnnxWriter::set_int(w_.node("Concat", {past, fresh}, {present}), "axis", 2);
    } else {
      const std::string shape = w_.op("Shape", {fresh}, present + "/rows_shape");
      const std::string rows = w_.op("Expand", {"/pos/query", shape}, present + "/rows");
      OnnxWriter::set_int(w_.node("ScatterElements", {past, rows, fresh}, {present}), "axis", 2);
    }
    return present;
  }

  // Grouped-query attention: each K/V head serves heads/kv_heads query
  // heads (Hugging Face's repeat_kv).
  std::string repeat_kv(const std::string& prefix, const std::string& x) {
    if (kv_heads_ == p_.heads) return x;
    const int64_t group = p_.heads / kv_heads_;
    const std::string one =
        w_.op("Reshape", {x, w_.ints(prefix + "/group_shape", {0, 0, 1, -1, head_dim_})},
              prefix + "/grouped");
    auto& cat = w_.node("Concat", std::vector<std::string>(static_cast<std::size_t>(group), one),
                        {prefix + "/repeated"});
    OnnxWriter::set_int(cat, "axis", 2);
    return w_.op(
        "Reshape",
        {prefix + "/repeated", w_.ints(prefix + "/merge_shape", {0, p_.heads, -1, head_dim_})},
        prefix + "/merged");
  }

  std::string layer(int64_t l, const std::string& x) {
    const std::string pre = fmt::format("/layers.{}", l);
    const std::string n = fmt::format("layers.{}.", l);
    const std::string normed = rmsnorm(pre + "/attn_norm", x, n + "attn_norm");
    const std::string q = w_.op("MatMul", {normed, weight(n + "attn.wq")}, pre + "/attn/q");
    const std::string k = w_.op("MatMul", {normed, weight(n + "attn.wk")}, pre + "/attn/k");
    const std::string v = w_.op("MatMul", {normed, weight(n + "attn.wv")}, pre + "/attn/v");
    const std::string qh = to_heads(pre + "/attn/q", q, p_.heads, true);
    const std::string kh = cache(l, "key", to_heads(pre + "/attn/k", k, kv_heads_, true));
    const std::string vh = cache(l, "value", to_heads(pre + "/attn/v", v, kv_heads_, false));
    const std::string keys = repeat_kv(pre + "/attn/k_rep", kh);
    const std::string values = repeat_kv(pre + "/attn/v_rep", vh);
    auto& kt = w_.node("Transpose", {keys}, {pre + "/attn/k_t"});
    OnnxWriter::set_ints(kt, "perm", {0, 1, 3, 2});
    const std::string scores = w_.op("MatMul", {qh, pre + "/attn/k_t"}, pre + "/attn/scores");
    if (scale_.empty()) {
      scale_ = w_.scalar("/const/attn_scale", dt_, 1.0 / std::sqrt(static_cast<double>(head_dim_)));
    }
    const std::string scaled = w_.op("Mul", {scores, scale_}, pre + "/attn/scaled");
    const std::string masked = w_.op("Add", {scaled, mask(kh)}, pre + "/attn/masked");
    OnnxWriter::set_int(w_.node("Softmax", {masked}, {pre + "/attn/probs"}), "axis", -1);
    const std::string ctx = w_.op("MatMul", {pre + "/attn/probs", values}, pre + "/attn/ctx");
    OnnxWriter::set_ints(w_.node("Transpose", {ctx}, {pre + "/attn/ctx_bshd"}), "perm",
                         {0, 2, 1, 3});
    const std::string merged =
        w_.op("Reshape", {pre + "/attn/ctx_bshd", w_.ints(pre + "/attn/merge", {0, 0, p_.d_model})},
              pre + "/attn/ctx_merged");
    const std::string out = w_.op("MatMul", {merged, weight(n + "attn.wo")}, pre + "/attn/out");
    const std::string h = w_.op("Add", {x, out}, pre + "/attn/residual");

    const std::string fn = rmsnorm(pre + "/ffn_norm", h, n + "ffn_norm");
    const std::string gate = w_.op("MatMul", {fn, weight(n + "ffn.w_gate")}, pre + "/ffn/gate");
    const std::string sig = w_.op("Sigmoid", {gate}, pre + "/ffn/gate_sigmoid");
    const std::string silu = w_.op("Mul", {gate, sig}, pre + "/ffn/gate_silu");
    const std::string up = w_.op("MatMul", {fn, weight(n + "ffn.w_up")}, pre + "/ffn/up");
    const std::string hidden = w_.op("Mul", {silu, up}, pre + "/ffn/hidden");
    const std::string down = w_.op("MatMul", {hidden, weight(n + "ffn.w_down")}, pre + "/ffn/down");
    return w_.op("Add", {h, down}, pre + "/ffn/residual");
  }

  const DecoderParams& p_;
  KvCacheStyle style_;
  Graph builtin_;
  OnnxWriter w_;
  DType dt_;
  int64_t head_dim_;
  int64_t kv_heads_;
  int64_t ffn_;
  std::map<std::string, const Weight*> weights_;
  std::set<std::string> written_;
  std::string mask_, eps_, scale_, half_starts_, half_mid_, half_end_, axis3_;
};

}  // namespace

void export_decoder_onnx(const DecoderParams& params, KvCacheStyle style,
                         const std::filesystem::path& path) {
  DecoderExporter(params, style).write(path);
}

}  // namespace rtscope
