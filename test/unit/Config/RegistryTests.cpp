//===- RegistryTests.cpp - type= lookup, suggestions, kwarg checks --------===//

#include "TestHelpers.h"

#include "hat/Config/Registry.h"

using namespace hat::config;
using namespace hat::config::testing;

namespace {

struct FakeHead {
  int64_t numClasses;
  int64_t featChannels;
};

Expected<std::any> buildFakeHead(const BuildArgs &args) {
  Value classes = args.get("num_classes");
  if (!classes.isInt())
    return args.error("num_classes must be an int");
  Value channels = args.get("feat_channels");
  return std::any(
      FakeHead{classes.asInt(), channels.isInt() ? channels.asInt() : 256});
}

// Test-only builders, registered the way real ones are: from their own file.
HAT_REGISTER("test.head", {"FakeFCOSHead"},
             KwargSpec{{"num_classes"}, {"feat_channels", "stacked_convs"}},
             buildFakeHead);
HAT_REGISTER("test.head", {"FakeRetinaHead"}, KwargSpec{{"num_classes"}, {}},
             buildFakeHead);
HAT_REGISTER("test.optimizer", {"test.optim.FakeSGD"},
             KwargSpec{{}, {"lr", "momentum"}, /*allowOthers=*/false},
             [](const BuildArgs &args) -> Expected<std::any> {
               return std::any(args.get("lr").asNumber());
             });
HAT_REGISTER("test.loss", {"FakeFocalLoss", "fake_focal"},
             KwargSpec{{}, {}, true},
             [](const BuildArgs &) -> Expected<std::any> {
               return std::any(1);
             });

} // namespace

TEST(Registry, LooksUpStringsAndSymbols) {
  Registry &registry = Registry::instance();
  Expected<const RegistryEntry *> byString =
      registry.lookup(Value::string("FakeFCOSHead"));
  ASSERT_TRUE(byString.ok()) << byString.error().str();
  EXPECT_EQ((*byString)->category, "test.head");
  EXPECT_NE((*byString)->definedIn.find("RegistryTests.cpp"),
            std::string::npos);

  // A symbol matches the registered dotted name exactly...
  Expected<const RegistryEntry *> bySymbol =
      registry.lookup(Value::symbol("test.optim.FakeSGD"));
  ASSERT_TRUE(bySymbol.ok()) << bySymbol.error().str();
  EXPECT_EQ((*bySymbol)->category, "test.optimizer");
  // ...or by its last component, and a short string finds a dotted name.
  EXPECT_TRUE(registry.lookup(Value::symbol("other.module.FakeFCOSHead")).ok());
  EXPECT_TRUE(registry.lookup(Value::string("FakeSGD")).ok());
  // Aliases name the same builder.
  EXPECT_EQ(*registry.lookup(Value::string("fake_focal")),
            *registry.lookup(Value::string("FakeFocalLoss")));
  // A category restricts the search.
  EXPECT_FALSE(
      registry.lookup(Value::string("FakeFCOSHead"), "test.loss").ok());
}

TEST(Registry, UnknownTypeSuggestsClosestNames) {
  Expected<const RegistryEntry *> entry =
      Registry::instance().lookup(Value::string("FakeFCOSHed"));
  ASSERT_FALSE(entry.ok());
  EXPECT_EQ(entry.error().message,
            "unknown type 'FakeFCOSHed'; did you mean 'FakeFCOSHead'?");
  Expected<const RegistryEntry *> sym =
      Registry::instance().lookup(Value::symbol("torch.optim.FakeSDG"));
  ASSERT_FALSE(sym.ok());
  EXPECT_NE(sym.error().message.find("'test.optim.FakeSGD'"), std::string::npos)
      << sym.error().message;
  EXPECT_FALSE(Registry::instance().lookup(Value::integer(3)).ok());
}

TEST(Registry, BuildChecksKwargsByName) {
  std::shared_ptr<Module> m = load(R"(
good = dict(type="FakeFCOSHead", num_classes=80, feat_channels=64)
typo = dict(type="FakeFCOSHead", num_clases=80)
wrong_type = dict(type="FakeFCOSHead", num_classes="eighty")
no_type = dict(num_classes=80)
bad_name = dict(type="FakeFCOSHed", num_classes=80)
)");
  ASSERT_TRUE(m);
  Registry &registry = Registry::instance();
  Expected<std::any> good = registry.build(*m->get("good"));
  ASSERT_TRUE(good.ok()) << good.error().str();
  FakeHead head = std::any_cast<FakeHead>(*good);
  EXPECT_EQ(head.numClasses, 80);
  EXPECT_EQ(head.featChannels, 64);

  Expected<std::any> typo = registry.build(*m->get("typo"));
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(
      typo.error().message,
      "FakeFCOSHead: unknown kwarg 'num_clases'; did you mean 'num_classes'?; "
      "missing required kwarg 'num_classes'");
  // The error points at the config line that wrote the dict.
  EXPECT_EQ(typo.error().file, "test.py");
  EXPECT_EQ(typo.error().line, 3u);
  EXPECT_EQ(typo.error().column, 12u);

  Expected<std::any> wrongType = registry.build(*m->get("wrong_type"));
  ASSERT_FALSE(wrongType.ok());
  EXPECT_EQ(wrongType.error().message,
            "FakeFCOSHead: num_classes must be an int");
  EXPECT_EQ(wrongType.error().line, 4u);

  Expected<std::any> noType = registry.build(*m->get("no_type"));
  ASSERT_FALSE(noType.ok());
  EXPECT_NE(noType.error().message.find("no 'type' key"), std::string::npos);

  Expected<std::any> badName = registry.build(*m->get("bad_name"));
  ASSERT_FALSE(badName.ok());
  EXPECT_EQ(badName.error().line, 6u);
  EXPECT_NE(badName.error().message.find("did you mean 'FakeFCOSHead'"),
            std::string::npos);

  // allowOthers accepts any kwargs.
  EXPECT_TRUE(
      registry.build(*load("x = dict(type='fake_focal', anything=1)")->get("x"))
          .ok());
}

TEST(Registry, SymbolTypesBuild) {
  std::shared_ptr<Module> m =
      load("import test\nopt = dict(type=test.optim.FakeSGD, lr=0.5, "
           "nesterov=True)\n");
  ASSERT_TRUE(m);
  Expected<std::any> built = Registry::instance().build(*m->get("opt"));
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error().message,
            "test.optim.FakeSGD: unknown kwarg 'nesterov'");
  m->get("opt")->asDict().erase(Value::string("nesterov"));
  Expected<std::any> ok = Registry::instance().build(*m->get("opt"));
  ASSERT_TRUE(ok.ok()) << ok.error().str();
  EXPECT_EQ(std::any_cast<double>(*ok), 0.5);
}

TEST(Registry, DuplicateNamesAreAmbiguous) {
  Registry &registry = Registry::instance();
  registry.registerBuilder("test.dup", {"DupThing"}, {}, nullptr, "a.cpp");
  registry.registerBuilder("test.dup", {"DupThing"}, {}, nullptr, "b.cpp");
  Expected<const RegistryEntry *> entry =
      registry.lookup(Value::string("DupThing"));
  ASSERT_FALSE(entry.ok());
  EXPECT_NE(entry.error().message.find("a.cpp"), std::string::npos);
  EXPECT_NE(entry.error().message.find("b.cpp"), std::string::npos);
  registry.removeCategory("test.dup");
  EXPECT_FALSE(registry.lookup(Value::string("DupThing")).ok());
}
