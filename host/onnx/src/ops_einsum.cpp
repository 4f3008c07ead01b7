// Einsum as the ops it is made of, at import: each operand's letters
// summed out where nothing later needs them, operands contracted pairwise
// from the left as one batched matmul (batch letters, then the free
// letters of each side, over the shared letters that end there), and the
// result transposed into the output's order. An ellipsis stands for the
// leading dims, broadcast as numpy does. A letter repeated within one
// operand (a diagonal) is unsupported.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "mappers.hpp"

namespace rtscope::onnx_import {
namespace {

// One operand (or an intermediate result): its value and one letter per
// dim.
struct Term {
  std::string value;
  std::string letters;
};

// Letters standing for ellipsis dims: upper case, never in an equation's
// explicit part (which ONNX restricts to lower case).
std::string ellipsis_letters(std::size_t count, std::size_t widest) {
  std::string letters;
  for (std::size_t i = widest - count; i < widest; ++i) letters += static_cast<char>('A' + i);
  return letters;
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts(1);
  for (char c : text) {
    if (c == separator) {
      parts.emplace_back();
    } else {
      parts.back() += c;
    }
  }
  return parts;
}

// `term` with every letter outside `keep` summed out.
Term sum_out(Context& ctx, const Term& term, const std::set<char>& keep) {
  std::vector<int64_t> axes;
  std::string letters;
  for (std::size_t d = 0; d < term.letters.size(); ++d) {
    if (keep.count(term.letters[d])) {
      letters += term.letters[d];
    } else {
      axes.push_back(static_cast<int64_t>(d));
    }
  }
  if (axes.empty()) return term;
  return {ctx.emit("reduce_sum", {term.value}, {{"axes", axes}, {"keepdims", int64_t{0}}}),
          letters};
}

// `term` transposed so its letters read `order` (a permutation of them).
Term arrange(Context& ctx, const Term& term, const std::string& order) {
  if (term.letters == order) return term;
  std::vector<int64_t> perm;
  for (char c : order) perm.push_back(static_cast<int64_t>(term.letters.find(c)));
  return {ctx.emit("transpose", {term.value}, {{"perm", perm}}), order};
}

int64_t product(const std::string& letters, const std::map<char, int64_t>& dims) {
  int64_t n = 1;
  for (char c : letters) n *= dims.at(c);
  return n;
}

// `term` broadcast to the letters' full dims where it holds a 1.
Term broadcast(Context& ctx, const Term& term, const std::map<char, int64_t>& dims) {
  const Shape shape = ctx.static_shape(term.value);
  Shape full;
  bool differs = false;
  for (std::size_t d = 0; d < shape.size(); ++d) {
    full.push_back(dims.at(term.letters[d]));
    differs = differs || full.back() != shape[d];
  }
  if (!differs) return term;
  return {ctx.emit("expand", {term.value}, {{"shape", full}}), term.letters};
}

// a · b over their shared letters that `keep` does not hold.
Term contract(Context& ctx, Term a, Term b, const std::set<char>& keep,
              const std::map<char, int64_t>& dims) {
  std::set<char> a_keep = keep, b_keep = keep;
  a_keep.insert(b.letters.begin(), b.letters.end());
  b_keep.insert(a.letters.begin(), a.letters.end());
  a = broadcast(ctx, sum_out(ctx, a, a_keep), dims);
  b = broadcast(ctx, sum_out(ctx, b, b_keep), dims);
  std::string batch, left, right, shared;
  for (char c : a.letters) {
    if (b.letters.find(c) == std::string::npos) {
      left += c;
    } else if (keep.count(c)) {
      batch += c;
    } else {
      shared += c;
    }
  }
  for (char c : b.letters) {
    if (a.letters.find(c) == std::string::npos) right += c;
  }
  const int64_t n_batch = product(batch, dims), m = product(left, dims);
  const int64_t k = product(shared, dims), n = product(right, dims);
  a = arrange(ctx, a, batch + left + shared);
  b = arrange(ctx, b, batch + shared + right);
  const std::string out = ctx.emit(
      "matmul", {ctx.reshape(a.value, {n_batch, m, k}), ctx.reshape(b.value, {n_batch, k, n})});
  Shape shape;
  for (char c : batch + left + right) shape.push_back(dims.at(c));
  return {ctx.reshape(out, shape), batch + left + right};
}

void map_einsum(Context& ctx) {
  std::string equation;
  for (char c : ctx.attr_string("equation", "")) {
    if (c != ' ') equation += c;
  }
  const auto arrow = equation.find("->");
  const std::vector<std::string> lhs = split(equation.substr(0, arrow), ',');
  if (lhs.size() != ctx.input_count()) {
    ctx.fail("equation '" + equation + "' names " + std::to_string(lhs.size()) + " operands for " +
             std::to_string(ctx.input_count()) + " inputs");
  }
  // Each operand's letters, its ellipsis spelled out.
  std::vector<Term> terms;
  std::size_t widest = 0;
  std::vector<std::size_t> ellipsis_dims;
  for (std::size_t i = 0; i < lhs.size(); ++i) {
    const std::size_t rank = ctx.static_shape(ctx.input(i)).size();
    const auto dots = lhs[i].find("...");
    const std::size_t explicit_letters = lhs[i].size() - (dots == std::string::npos ? 0 : 3);
    if (explicit_letters > rank || (dots == std::string::npos && explicit_letters != rank)) {
      ctx.fail("operand " + std::to_string(i) + " '" + lhs[i] + "' does not match its rank " +
               std::to_string(rank));
    }
    ellipsis_dims.push_back(dots == std::string::npos ? 0 : rank - explicit_letters);
    widest = std::max(widest, ellipsis_dims.back());
  }
  std::map<char, int64_t> dims;
  for (std::size_t i = 0; i < lhs.size(); ++i) {
    std::string letters = lhs[i];
    if (const auto dots = letters.find("..."); dots != std::string::npos) {
      letters.replace(dots, 3, ellipsis_letters(ellipsis_dims[i], widest));
    }
    const Shape shape = ctx.static_shape(ctx.input(i));
    for (std::size_t d = 0; d < letters.size(); ++d) {
      const char c = letters[d];
      if (!(c >= 'a' && c <= 'z') && !(c >= 'A' && c < 'A' + static_cast<int>(widest))) {
        ctx.fail("equation '" + equation + "' has the character '" + std::string(1, c) + "'");
      }
      if (letters.find(c) != d) {
        ctx.unsupported("letter '" + std::string(1, c) + "' repeats within operand " +
                        std::to_string(i) + " (a diagonal)");
      }
      auto [it, fresh] = dims.try_emplace(c, shape[d]);
      if (!fresh && it->second != shape[d]) {
        if (it->second == 1) {
          it->second = shape[d];
        } else if (shape[d] != 1) {
          ctx.fail("letter '" + std::string(1, c) + "' has sizes " + std::to_string(it->second) +
                   " and " + std::to_string(shape[d]));
        }
      }
    }
    terms.push_back({ctx.input(i), letters});
  }
  // The output's letters: given, or (implicit form) the ellipsis and then
  // every letter used once, in alphabetical order.
  std::string output;
  if (arrow != std::string::npos) {
    output = equation.substr(arrow + 2);
    if (const auto dots = output.find("..."); dots != std::string::npos) {
      output.replace(dots, 3, ellipsis_letters(widest, widest));
    }
  } else {
    std::map<char, int> uses;
    for (const Term& t : terms) {
      for (char c : t.letters) ++uses[c];
    }
    output = ellipsis_letters(widest, widest);
    for (const auto& [c, n] : uses) {
      if (n == 1 && c >= 'a') output += c;
    }
  }
  for (char c : output) {
    if (!dims.count(c) || std::count(output.begin(), output.end(), c) != 1) {
      ctx.fail("output letter '" + std::string(1, c) + "' is not an input letter, or repeats");
    }
  }
  // Contract from the left; each step keeps what later operands or the
  // output still need.
  Term acc = terms[0];
  for (std::size_t i = 1; i < terms.size(); ++i) {
    std::set<char> keep(output.begin(), output.end());
    for (std::size_t j = i + 1; j < terms.size(); ++j) {
      keep.insert(terms[j].letters.begin(), terms[j].letters.end());
    }
    acc = contract(ctx, acc, terms[i], keep, dims);
  }
  acc = broadcast(ctx, sum_out(ctx, acc, std::set<char>(output.begin(), output.end())), dims);
  acc = arrange(ctx, acc, output);
  ctx.identity(acc.value, ctx.output(0));
}

}  // namespace

void add_einsum_mappers(MapperTable& t) { t["Einsum"] = {map_einsum, 12}; }

}  // namespace rtscope::onnx_import
