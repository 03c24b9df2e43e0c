//===- SupportTest.cpp - Checked numbers, CRC-32, MLIR nesting bound ------===//

#include "hat/Support/Checksum.h"
#include "hat/Support/ParseMlir.h"
#include "hat/Support/ParseNumber.h"
#include "hat/Support/ToolError.h"

#include <gtest/gtest.h>

#include <string>

using namespace hat;

namespace {

TEST(ParseNumber, IntegerAcceptsOnlyPlainDecimalsInRange) {
  EXPECT_EQ(parseInteger("0", 0, 10), 0);
  EXPECT_EQ(parseInteger("10", 0, 10), 10);
  EXPECT_EQ(parseInteger("-5", -10, 10), -5);
  EXPECT_EQ(parseInteger("-9223372036854775808", INT64_MIN, 0), INT64_MIN);
  EXPECT_EQ(parseInteger("9223372036854775807", 0, INT64_MAX), INT64_MAX);
  for (const char *bad : {"", "-", "2x", "abc", "1e3", " 5", "5 ", "+5", "0x10",
                          "1.0", "--1", "11", "-11", "18446744073709551617",
                          "9223372036854775808", "-9223372036854775809"})
    EXPECT_FALSE(parseInteger(bad, -10, 10).has_value()) << bad;
  EXPECT_FALSE(parseInteger("9223372036854775808", 0, INT64_MAX).has_value());
  EXPECT_EQ(badIntegerMessage("--threads", "2x", 0, 1024),
            "--threads: '2x' is not an integer in 0..1024");
}

TEST(Checksum, Crc32KnownValuesAndChaining) {
  EXPECT_EQ(crc32("123456789", 9), 0xCBF43926u); // the CRC-32 check value
  EXPECT_EQ(crc32("", 0), 0u);
  std::string text(1000, '\0');
  for (size_t i = 0; i < text.size(); ++i)
    text[i] = char(i * 7 + 3);
  const uint32_t whole = crc32(text.data(), text.size());
  for (size_t split : {0, 1, 7, 8, 9, 500, 999, 1000})
    EXPECT_EQ(crc32(text.data() + split, text.size() - split,
                    crc32(text.data(), split)),
              whole)
        << split;
  // Any single-byte change changes the CRC.
  for (size_t at = 0; at < text.size(); at += 37) {
    std::string changed = text;
    changed[at] ^= 0x5a;
    EXPECT_NE(crc32(changed.data(), changed.size()), whole) << at;
  }
}

TEST(ParseMlir, NestingBound) {
  EXPECT_EQ(
      findExcessiveNesting("module { func.func @f() -> tensor<1x2xf32> "
                           "{ %0 = dense<[[1, 2]]> : tensor<1x2xf32> } }"),
      llvm::StringRef::npos);
  const std::string deep = std::string(kMaxMlirNesting + 1, '[');
  EXPECT_EQ(findExcessiveNesting(deep), kMaxMlirNesting);
  EXPECT_EQ(findExcessiveNesting(std::string(kMaxMlirNesting, '[')),
            llvm::StringRef::npos);
  // Brackets inside strings and comments do not count; "->" closes nothing.
  const std::string quoted = "\"" + deep + "\" // " + deep + "\n";
  EXPECT_EQ(findExcessiveNesting(quoted), llvm::StringRef::npos);
  std::string arrows;
  for (size_t i = 0; i < kMaxMlirNesting; ++i)
    arrows += "(->";
  EXPECT_EQ(findExcessiveNesting(arrows + "("), kMaxMlirNesting * 3);
  // Balanced nesting never accumulates.
  std::string flat;
  for (int i = 0; i < 10000; ++i)
    flat += "module { } ";
  EXPECT_EQ(findExcessiveNesting(flat), llvm::StringRef::npos);
}

TEST(ToolError, OneSeverityPerLine) {
  // A plain message gets the severity; a located diagnostic keeps its own.
  EXPECT_EQ(toolErrorLine("hat-train", "missing --config"),
            "hat-train: error: missing --config");
  EXPECT_EQ(toolErrorLine("hat-train", "a.py:3:7: error: bad lr\n  lr=x\n"),
            "hat-train: a.py:3:7: error: bad lr\n  lr=x\n");
  EXPECT_EQ(toolErrorLine("hat-infer", "/x.py: error: cannot open config file"),
            "hat-infer: /x.py: error: cannot open config file");
  EXPECT_EQ(toolErrorLine("hat-train", "error: no stage"),
            "hat-train: error: no stage");
  // Only the first line decides: a later "error:" is part of the text.
  EXPECT_EQ(toolErrorLine("hat-train", "stopping\nrank 1: error: x"),
            "hat-train: error: stopping\nrank 1: error: x");
  // "error" inside a word or without the colon and space is not a severity.
  EXPECT_FALSE(carriesSeverity("the terror: x"));
  EXPECT_FALSE(carriesSeverity("error:x"));
}

} // namespace
