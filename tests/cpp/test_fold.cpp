// ESMFold's host-side rules that need no model: the configuration's metadata round trip and its checks, which
// records can be folded, the request's bounds, and the fold rows of the option table against the request's own
// defaults. The numbers are tested against transformers in tests/python/test_fold.py and test_structure.py.
#include <gtest/gtest.h>

#include <map>
#include <string>

#include "esm_onnx/base/errors.h"
#include "esm_onnx/base/fold_config.h"
#include "esm_onnx/base/option_specs.h"
#include "esm_onnx/base/structure.h"
#include "esm_onnx/engines/fold_model.h"
#include "esm_onnx/jobs/fold.h"

using namespace esm_onnx;

TEST(Fold, ConfigRoundTripsThroughMetadata) {
  FoldConfig c;
  c.esm_layers = 36;
  c.esm_dim = 2560;
  c.structure.num_heads_ipa = 7;
  c.structure.inf = 123.5f;
  FoldModelInfo info;
  info.config = c;
  info.stem_file = "m.stem.onnx";
  info.source_file = "esmfold_3B_v1.pt";
  info.source_sha256 = std::string(64, 'a');
  info.converter_version = "0";
  const auto back = FoldModelInfo::from_metadata(info.to_metadata(), "m.onnx");
  EXPECT_EQ(back.config.to_json(), c.to_json());
  EXPECT_EQ(back.stem_file, "m.stem.onnx");
  EXPECT_TRUE(FoldModelInfo::is_fold(info.to_metadata()));
}

TEST(Fold, DamagedMetadataIsAFormatError) {
  FoldModelInfo info;
  info.config.esm_layers = 2;
  info.config.esm_dim = 8;
  info.stem_file = "../elsewhere.onnx";
  EXPECT_THROW(FoldModelInfo::from_metadata(info.to_metadata(), "m.onnx"), FormatError);
  info.stem_file = "s.onnx";
  auto m = info.to_metadata();
  m["esm_onnx.fold"] = R"({"esm_layers": 2})";
  EXPECT_THROW(FoldModelInfo::from_metadata(m, "m.onnx"), FormatError);
  m = info.to_metadata();
  m["esm_onnx.fold_format_revision"] = "99";
  EXPECT_THROW(FoldModelInfo::from_metadata(m, "m.onnx"), FormatError);
  FoldConfig odd = info.config;
  odd.sequence_head_width = 33;  // does not divide 1024
  EXPECT_THROW(odd.validate("x"), FormatError);
  odd = info.config;
  odd.structure.num_angles = 5;
  EXPECT_THROW(odd.validate("x"), FormatError);
}

TEST(Fold, WhichRecordsFold) {
  EXPECT_EQ(fold_record_problem("MKTAYIAK"), "");
  EXPECT_EQ(fold_record_problem("MKT:AYI"), "");
  EXPECT_EQ(fold_record_problem("XBZUO"), "");  // folded as X, as fair-esm does
  EXPECT_NE(fold_record_problem(""), "");
  EXPECT_NE(fold_record_problem("mkt").find("lower-case"), std::string::npos);
  EXPECT_NE(fold_record_problem("MK1").find("'1'"), std::string::npos);
  EXPECT_NE(fold_record_problem("MK-T").find("'-'"), std::string::npos);
  EXPECT_NE(fold_record_problem(":MKT").find("empty chain"), std::string::npos);
  EXPECT_NE(fold_record_problem("MKT::A").find("empty chain"), std::string::npos);
  EXPECT_NE(fold_record_problem(std::string("MK\x01T", 4)).find("\\x01"), std::string::npos);
}

TEST(Fold, RequestBounds) {
  FoldRequest r;
  EXPECT_NO_THROW(r.validate());
  r.num_recycles = -1;
  EXPECT_THROW(r.validate(), UsageError);
  r.num_recycles = kMaxRecycles + 1;
  EXPECT_THROW(r.validate(), UsageError);
  r = {};
  r.chunk_size = 0;
  EXPECT_THROW(r.validate(), UsageError);
  r = {};
  r.chain_linker = "GG1";
  EXPECT_THROW(r.validate(), UsageError);
}

TEST(Fold, OptionRowsAreTheRequestsDefaults) {
  const FoldRequest request;
  const FoldOptions options;
  EXPECT_EQ(std::get<int64_t>(option_spec("max_tokens_per_batch", OptionJob::Fold).value), request.max_tokens_per_batch);
  EXPECT_EQ(std::get<int64_t>(option_spec("read_ahead", OptionJob::Fold).value), options.read_ahead);
  EXPECT_EQ(std::get<bool>(option_spec("strict", OptionJob::Fold).value), options.strict);
  EXPECT_TRUE(std::holds_alternative<std::monostate>(option_spec("num_recycles", OptionJob::Fold).value));
  EXPECT_TRUE(std::holds_alternative<std::monostate>(option_spec("chunk_size", OptionJob::Fold).value));
  // Fold takes the runtime's shared rows, not the tiling ones.
  EXPECT_NO_THROW(option_spec("threads", OptionJob::Fold));
  EXPECT_THROW(option_spec("tile_overlap", OptionJob::Fold), InternalError);
}

TEST(Fold, ResidueTypes) {
  EXPECT_EQ(structure::residue_type('A'), 0);
  EXPECT_EQ(structure::residue_type('V'), 19);
  EXPECT_EQ(structure::residue_type('X'), structure::kUnknownResidue);
  EXPECT_EQ(structure::residue_type('B'), structure::kUnknownResidue);
}
