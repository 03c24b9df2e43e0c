//===- HardeningTests.cpp - Deep values, long diagnostics, JSON limits ----===//

#include "TestHelpers.h"

#include "hat/Config/Value.h"

using namespace hat::config;
using namespace hat::config::testing;

namespace {

// Destroying a container nested a million deep used to recurse once per
// level in the destructors and overflow the stack (SIGSEGV).
TEST(Hardening, DeeplyNestedValuesAreDestroyedWithoutRecursion) {
  {
    Value list = Value::list();
    for (int i = 0; i < 1'000'000; ++i)
      list = Value::list({list});
  }
  {
    Value dict = Value::dict();
    for (int i = 0; i < 300'000; ++i) {
      Value outer = Value::dict();
      outer.asDict().set("x", dict);
      dict = outer;
    }
  }
  {
    Value mixed = Value::tuple();
    for (int i = 0; i < 300'000; ++i) {
      auto call = std::make_shared<CallData>();
      call->callee = "f";
      call->kwargs.emplace_back("k", Value::list({mixed}));
      mixed = Value::tuple({Value::call(call)});
    }
  }
  SUCCEED();
}

TEST(Hardening, ConfigBuiltNestingIsRefusedWhenPrinted) {
  std::shared_ptr<Module> m =
      load("a = []\nfor i in range(200000):\n    a = [a]\n");
  ASSERT_TRUE(m);
  Expected<std::string> json = moduleToJson(*m);
  ASSERT_FALSE(json.ok());
  EXPECT_NE(json.error().message.find("nested too deeply"), std::string::npos);
  EXPECT_EQ(m->get("a")->repr().substr(0, 4), "[[[[");
}

TEST(Hardening, LongSourceLinesAreShownAsAWindowAroundTheColumn) {
  Diagnostic d;
  d.file = "x.py";
  d.line = 1;
  d.column = 500'001;
  d.message = "boom";
  d.sourceLine = std::string(500'000, 'a') + "Z" + std::string(500'000, 'b');
  const std::string text = d.str();
  EXPECT_LT(text.size(), 500u) << text.size();
  // The caret sits under the Z.
  size_t first = text.find('\n'), second = text.find('\n', first + 1);
  std::string shown = text.substr(first + 1, second - first - 1);
  std::string caret =
      text.substr(second + 1, text.find('\n', second + 1) - second - 1);
  ASSERT_EQ(caret.back(), '^');
  EXPECT_EQ(shown[caret.size() - 1], 'Z') << shown << "\n" << caret;
  EXPECT_EQ(shown.substr(0, 3), "...");
}

TEST(Hardening, DiagnosticsEscapeBinaryAndCutLongMessages) {
  Diagnostic d;
  d.file = "x.py";
  d.line = 1;
  d.column = 3;
  d.message = std::string("bad \x01\xff byte ") + std::string(10'000, 'm');
  d.sourceLine = std::string("a\x02") + "\xc3\xa9" + "b\xff";
  const std::string text = d.str();
  EXPECT_NE(text.find("bad \\x01\\xff byte"), std::string::npos) << text;
  EXPECT_NE(text.find("more bytes)"), std::string::npos);
  EXPECT_LT(text.size(), 2300u);
  EXPECT_NE(text.find("a\\x02\xc3\xa9"
                      "b\\xff\n"),
            std::string::npos)
      << text;
  // Column 3 is the é: the caret skips "a" and the four-character escape.
  EXPECT_NE(text.find("\n     ^\n"), std::string::npos) << text;
  for (char c : text)
    EXPECT_TRUE(c == '\n' || static_cast<unsigned char>(c) >= 0x20);
}

TEST(Hardening, IntOverflowIsNamedAsSuch) {
  Diagnostic d = errorOf("x = int('99999999999999999999')\n");
  EXPECT_NE(d.message.find("integer overflow"), std::string::npos) << d.str();
  d = errorOf("x = int('12ab')\n");
  EXPECT_NE(d.message.find("invalid literal"), std::string::npos) << d.str();
}

TEST(Hardening, JsonWritesNonFiniteAsNullAndInvalidUtf8AsReplacement) {
  std::shared_ptr<Module> m = load("a = [float('nan'), float('inf'), 1.5]\n"
                                   "s = 'x\\xff'\n");
  ASSERT_TRUE(m);
  // \xff in a str literal is U+00FF (valid); put raw invalid bytes in too.
  Value raw = Value::string(std::string("q\xff\xed\xa0\x80z"));
  Expected<std::string> json = toJson(raw, -1);
  ASSERT_TRUE(json.ok());
  EXPECT_EQ(*json, "\"q\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz\"");
  Expected<std::string> numbers = toJson(*m->get("a"), -1);
  ASSERT_TRUE(numbers.ok());
  EXPECT_EQ(*numbers, "[null,null,1.5]");
  // Keys are escaped like values.
  Value dict = Value::dict();
  dict.asDict().set("k\"\n", Value::integer(1));
  EXPECT_EQ(*toJson(dict, -1), "{\"k\\\"\\n\":1}");
}

TEST(Hardening, ConfigFilesThatAreNotConfigsAreRefused) {
  Expected<std::shared_ptr<Module>> dir = loadConfigFile("/tmp");
  ASSERT_FALSE(dir.ok());
  EXPECT_NE(dir.error().message.find("is a directory"), std::string::npos);
  Expected<std::shared_ptr<Module>> zero = loadConfigFile("/dev/zero");
  ASSERT_FALSE(zero.ok());
  EXPECT_NE(zero.error().message.find("is a device"), std::string::npos);
}

} // namespace
