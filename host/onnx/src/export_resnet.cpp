// export_resnet18_onnx(), see rtscope/onnx_export.hpp: ResNet-18's layout
// (torchvision's) with seeded weights, as a Conv2d benchmark model.
#include <fmt/format.h>

#include <cmath>

#include "onnx_writer.hpp"
#include "rtscope/error.hpp"
#include "rtscope/onnx_export.hpp"

namespace rtscope {
namespace {

using onnx_export::OnnxWriter;

class ResNetExporter {
 public:
  explicit ResNetExporter(const ResNetParams& p) : p_(p), w_("resnet18") {
    if (p.image < 32 || p.classes < 1) {
      throw InputError(fmt::format(
          "builtin:resnet18: image must be >= 32 and classes >= 1; got image {}, classes {}",
          p.image, p.classes));
    }
  }

  void write(const std::filesystem::path& path) {
    w_.input(
        "input",
        {DType::f32, {Dim::named("N"), Dim::fixed(3), Dim::fixed(p_.image), Dim::fixed(p_.image)}});
    std::string x = conv_bn("conv1", "input", 3, 64, 7, 2, true);
    auto& pool = w_.node("MaxPool", {x}, {"maxpool"});
    OnnxWriter::set_ints(pool, "kernel_shape", {3, 3});
    OnnxWriter::set_ints(pool, "strides", {2, 2});
    OnnxWriter::set_ints(pool, "pads", {1, 1, 1, 1});
    x = "maxpool";
    int64_t channels = 64;
    const int64_t widths[] = {64, 128, 256, 512};
    for (int stage = 0; stage < 4; ++stage) {
      for (int block = 0; block < 2; ++block) {
        const int64_t stride = stage > 0 && block == 0 ? 2 : 1;
        x = basic_block(fmt::format("layer{}.{}", stage + 1, block), x, channels, widths[stage],
                        stride);
        channels = widths[stage];
      }
    }
    w_.op("GlobalAveragePool", {x}, "avgpool");
    OnnxWriter::set_int(w_.node("Flatten", {"avgpool"}, {"flatten"}), "axis", 1);
    auto& fc = w_.node("Gemm",
                       {"flatten", random("fc.weight", {p_.classes, channels}, channels),
                        random("fc.bias", {p_.classes}, channels)},
                       {"logits"});
    OnnxWriter::set_int(fc, "transB", 1);
    w_.output("logits", {DType::f32, {Dim::named("N"), Dim::fixed(p_.classes)}});
    w_.save(path.string());
  }

 private:
  // Uniform weights with variance 2 / fan_in (He), so activations keep
  // their scale through the ReLUs.
  std::string random(const std::string& name, const Shape& shape, int64_t fan_in) {
    const double scale = std::sqrt(6.0 / static_cast<double>(fan_in));
    return w_.tensor(name, Tensor::random(DType::f32, shape, p_.seed + counter_++, scale));
  }
  // Per-channel values around `center`.
  std::string around(const std::string& name, int64_t channels, double center, double spread) {
    Tensor t = Tensor::random(DType::f32, {channels}, p_.seed + counter_++, spread);
    for (int64_t i = 0; i < channels; ++i) t.data_as<float>()[i] += static_cast<float>(center);
    return w_.tensor(name, t);
  }

  // Conv (no bias) + BatchNormalization (+ Relu), as torchvision exports it.
  std::string conv_bn(const std::string& name, const std::string& x, int64_t in, int64_t out,
                      int64_t kernel, int64_t stride, bool relu) {
    auto& conv = w_.node(
        "Conv", {x, random(name + ".weight", {out, in, kernel, kernel}, in * kernel * kernel)},
        {name + "/conv"});
    OnnxWriter::set_ints(conv, "kernel_shape", {kernel, kernel});
    OnnxWriter::set_ints(conv, "strides", {stride, stride});
    const int64_t pad = kernel / 2;
    OnnxWriter::set_ints(conv, "pads", {pad, pad, pad, pad});
    const std::string bn = name + "/bn";
    auto& norm = w_.node(
        "BatchNormalization",
        {name + "/conv", around(bn + ".scale", out, 1.0, 0.1), around(bn + ".bias", out, 0.0, 0.1),
         around(bn + ".mean", out, 0.0, 0.1), around(bn + ".var", out, 1.0, 0.1)},
        {bn});
    OnnxWriter::set_float(norm, "epsilon", 1e-5);
    return relu ? w_.op("Relu", {bn}, name + "/relu") : bn;
  }

  std::string basic_block(const std::string& name, const std::string& x, int64_t in, int64_t out,
                          int64_t stride) {
    std::string y = conv_bn(name + ".conv1", x, in, out, 3, stride, true);
    y = conv_bn(name + ".conv2", y, out, out, 3, 1, false);
    const std::string shortcut =
        stride != 1 || in != out ? conv_bn(name + ".downsample", x, in, out, 1, stride, false) : x;
    const std::string sum = w_.op("Add", {y, shortcut}, name + "/add");
    return w_.op("Relu", {sum}, name + "/out");
  }

  ResNetParams p_;
  OnnxWriter w_;
  uint64_t counter_ = 0;
};

}  // namespace

void export_resnet18_onnx(const ResNetParams& params, const std::filesystem::path& path) {
  ResNetExporter(params).write(path);
}

}  // namespace rtscope
