// Bad input to the importer: every case is one InputError line naming the
// file (and the node where there is one), never a crash.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>

#include "onnx_model_builder.hpp"
#include "rtscope/error.hpp"
#include "rtscope/onnx_import.hpp"

namespace rtscope {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::OnnxModelBuilder;

std::string import_error(const std::filesystem::path& path, const OnnxImportOptions& options = {}) {
  try {
    import_onnx(path, options);
  } catch (const InputError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    return message;
  }
  ADD_FAILURE() << "import of " << path << " succeeded";
  return {};
}

OnnxModelBuilder relu_model() {
  OnnxModelBuilder b;
  b.input("x", {2, 3}).output("y", {2, 3});
  b.node("Relu", {"x"}, {"y"}, "act");
  return b;
}

TEST(OnnxImportErrors, MissingFile) {
  EXPECT_THAT(import_error("/nonexistent/model.onnx"),
              AllOf(HasSubstr("/nonexistent/model.onnx"), HasSubstr("not found")));
}

TEST(OnnxImportErrors, NotProtobuf) {
  const auto dir = testing::fresh_dir("garbage");
  std::ofstream(dir / "model.onnx") << "this is not a protobuf \xff\xff\xff\xff";
  EXPECT_THAT(import_error(dir / "model.onnx"),
              AllOf(HasSubstr("model.onnx"), HasSubstr("not a valid ONNX model")));
}

TEST(OnnxImportErrors, TruncatedFileAtEveryLength) {
  const std::string bytes = relu_model().bytes();
  for (std::size_t length = 0; length < bytes.size(); ++length) {
    try {
      import_onnx_bytes(bytes.data(), length, "cut.onnx");
    } catch (const InputError& e) {
      EXPECT_THAT(e.what(), HasSubstr("cut.onnx"));
    }
  }
}

TEST(OnnxImportErrors, OpsetTooNewNamesIt) {
  OnnxModelBuilder b(99);
  b.input("x", {2}).output("y", {2});
  b.node("Relu", {"x"}, {"y"});
  const auto path = b.write(testing::fresh_dir("opset"));
  EXPECT_THAT(import_error(path), AllOf(HasSubstr("model.onnx"), HasSubstr("opset 99"),
                                        HasSubstr("ai.onnx"), HasSubstr("1..17")));
}

TEST(OnnxImportErrors, UnknownDomainNamesIt) {
  OnnxModelBuilder b;
  auto* import = b.model().add_opset_import();
  import->set_domain("com.example");
  import->set_version(1);
  b.input("x", {2}).output("y", {2});
  b.node("Relu", {"x"}, {"y"});
  EXPECT_THAT(import_error(b.write(testing::fresh_dir("domain"))),
              AllOf(HasSubstr("model.onnx"), HasSubstr("com.example")));
}

TEST(OnnxImportErrors, UnsupportedOpNamesNodeTypeDomainOpsetAndFile) {
  OnnxModelBuilder b;
  b.input("x", {3, 3}).output("y", {-1});
  b.node("Unique", {"x"}, {"y"}, "unique");
  EXPECT_THAT(import_error(b.write(testing::fresh_dir("op"))),
              AllOf(HasSubstr("model.onnx"), HasSubstr("node 'unique'"), HasSubstr("Unique"),
                    HasSubstr("domain ai.onnx"), HasSubstr("opset 13")));
}

TEST(OnnxImportErrors, DanglingInputIsRejected) {
  OnnxModelBuilder b;
  b.input("x", {2, 3}).output("y", {2, 3});
  b.node("Add", {"x", "nowhere"}, {"y"}, "add");
  OnnxImportOptions options;
  options.check = false;  // the checker would name it too; the importer must as well
  EXPECT_THAT(import_error(b.write(testing::fresh_dir("dangling")), options),
              AllOf(HasSubstr("model.onnx"), HasSubstr("nowhere")));
  EXPECT_THAT(import_error(b.write(testing::fresh_dir("dangling_checked"))),
              HasSubstr("model.onnx"));
}

TEST(OnnxImportErrors, TypeWithoutRtscopeDtypeNamesIt) {
  OnnxModelBuilder b;
  b.input("x", {2}, onnx::TensorProto::DOUBLE).output("y", {2}, onnx::TensorProto::DOUBLE);
  b.node("Relu", {"x"}, {"y"});
  EXPECT_THAT(import_error(b.write(testing::fresh_dir("double"))),
              AllOf(HasSubstr("model.onnx"), HasSubstr("'x'"), HasSubstr("DOUBLE")));
}

OnnxModelBuilder external_model(const std::string& location) {
  OnnxModelBuilder b;
  b.input("x", {2, 3}).output("y", {2, 3});
  b.external_floats("w", {3, 2}, {1, 2, 3, 4, 5, 6}, location);
  b.node("MatMul", {"x", "w"}, {"y"});
  return b;
}

TEST(OnnxImportErrors, ExternalLocationEscapingTheFolderIsRefused) {
  const auto dir = testing::fresh_dir("escape");
  OnnxModelBuilder b = external_model("../outside.bin");
  std::filesystem::create_directories(dir / "model");
  std::ofstream(dir / "model" / "model.onnx", std::ios::binary) << b.bytes();
  std::ofstream(dir / "outside.bin", std::ios::binary) << std::string(24, '\0');
  OnnxImportOptions options;
  options.check = false;  // the importer's own check, not the checker's
  EXPECT_THAT(import_error(dir / "model" / "model.onnx", options),
              AllOf(HasSubstr("initializer 'w'"), HasSubstr("leaves the model's folder")));
}

TEST(OnnxImportErrors, AbsoluteExternalLocationIsRefused) {
  OnnxModelBuilder b = external_model("/etc/passwd");
  std::ofstream out;
  const auto dir = testing::fresh_dir("absolute");
  std::ofstream(dir / "model.onnx", std::ios::binary) << b.bytes();
  OnnxImportOptions options;
  options.check = false;
  EXPECT_THAT(import_error(dir / "model.onnx", options), HasSubstr("is absolute"));
}

TEST(OnnxImportErrors, MissingExternalFileIsNamed) {
  OnnxModelBuilder b = external_model("weights.bin");
  const auto dir = testing::fresh_dir("missing_external");
  std::ofstream(dir / "model.onnx", std::ios::binary) << b.bytes();
  EXPECT_THAT(import_error(dir / "model.onnx"),
              AllOf(HasSubstr("model.onnx"), HasSubstr("weights.bin")));
  OnnxImportOptions options;
  options.check = false;  // the importer's own check, not the checker's
  EXPECT_THAT(
      import_error(dir / "model.onnx", options),
      AllOf(HasSubstr("initializer 'w'"), HasSubstr("weights.bin"), HasSubstr("not found")));
}

TEST(OnnxImportErrors, ShortExternalFileIsNamed) {
  OnnxModelBuilder b = external_model("weights.bin");
  const auto dir = testing::fresh_dir("short_external");
  std::ofstream(dir / "model.onnx", std::ios::binary) << b.bytes();
  std::ofstream(dir / "weights.bin", std::ios::binary) << std::string(10, '\0');
  EXPECT_THAT(import_error(dir / "model.onnx"),
              AllOf(HasSubstr("weights.bin"), HasSubstr("runs past its end")));
}

TEST(OnnxImportErrors, RawDataOfTheWrongSizeIsNamed) {
  OnnxModelBuilder b;
  b.input("x", {2, 3}).output("y", {2, 3});
  b.raw_floats("w", {3, 2}, {1, 2, 3});  // 3 values for 6
  b.node("MatMul", {"x", "w"}, {"y"});
  OnnxImportOptions options;
  options.check = false;
  EXPECT_THAT(import_error(b.write(testing::fresh_dir("raw_size")), options),
              AllOf(HasSubstr("initializer 'w'"), HasSubstr("raw_data has 12 bytes")));
}

TEST(OnnxImportErrors, HugeDimsAreRefusedBeforeAllocating) {
  OnnxModelBuilder b;
  b.input("x", {2, 3}).output("y", {2, 3});
  auto* t = b.model().mutable_graph()->add_initializer();
  t->set_name("w");
  t->set_data_type(onnx::TensorProto::FLOAT);
  t->add_dims(int64_t{1} << 40);
  t->add_dims(int64_t{1} << 40);
  b.node("Add", {"x", "w"}, {"y"});
  OnnxImportOptions options;
  options.check = false;
  EXPECT_THAT(import_error(b.write(testing::fresh_dir("huge")), options), HasSubstr("'w'"));
}

TEST(OnnxImportErrors, GivenShapeOfTheWrongRankIsNamed) {
  OnnxImportOptions options;
  options.shapes["x"] = {2};
  EXPECT_THAT(import_error(relu_model().write(testing::fresh_dir("rank")), options),
              AllOf(HasSubstr("'x'"), HasSubstr("rank 1"), HasSubstr("rank 2")));
}

}  // namespace
}  // namespace rtscope
