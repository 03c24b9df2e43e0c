//===- JsonTests.cpp - JSON rendering -------------------------------------===//

#include "TestHelpers.h"

using namespace hat::config;
using namespace hat::config::testing;

TEST(Json, MatchesPythonJsonDumpsWithIndent) {
  std::shared_ptr<Module> m = load(R"(
import torch
def f():
    pass
a = dict(b=[1, 2.5, (3, "x")], c={}, d=[], e=None, f=True, g=torch.optim.SGD, h=f,
         i={8: 64}, j=torch.randn((1, 2)), k="q\"\n\u00e9")
)");
  ASSERT_TRUE(m);
  Expected<std::string> json = moduleToJson(*m);
  ASSERT_TRUE(json.ok()) << json.error().str();
  EXPECT_EQ(*json, R"({
  "f": "<function f>",
  "a": {
    "b": [
      1,
      2.5,
      [
        3,
        "x"
      ]
    ],
    "c": {},
    "d": [],
    "e": null,
    "f": true,
    "g": "torch.optim.SGD",
    "h": "<function f>",
    "i": {
      "8": 64
    },
    "j": {
      "type": "torch.randn",
      "args": [
        [
          1,
          2
        ]
      ]
    },
    "k": "q\"\né"
  }
})");
}

TEST(Json, CircularStructuresAreErrorsNotCrashes) {
  std::shared_ptr<Module> m = load("a = []\na.append(a)\n");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->get("a")->repr(), "[[...]]");
  Expected<std::string> json = moduleToJson(*m);
  ASSERT_FALSE(json.ok());
  EXPECT_NE(json.error().message.find("circular reference"), std::string::npos);
}
