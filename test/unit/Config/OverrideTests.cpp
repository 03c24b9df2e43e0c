//===- OverrideTests.cpp - --set path=value ------------------------------===//

#include "TestHelpers.h"

using namespace hat::config;
using namespace hat::config::testing;

namespace {
const char *kConfig = R"(
from hat.utils.config import ConfigVersion
import torch
batch_size_per_gpu = 24
model = dict(type="FCOS", head=dict(num_classes=80, strides=[8, 16, 32]),
             stride2channels={8: 64, 16: 64})
data_loader = dict(batch_size=batch_size_per_gpu, transforms=[dict(type="Resize", size=(512, 512))])
float_trainer = dict(model=model, num_epochs=300, optimizer=dict(type=torch.optim.SGD, lr=0.1))
)";
} // namespace

TEST(Override, SetsNestedDictListAndTupleEntries) {
  std::shared_ptr<Module> m = load(kConfig);
  ASSERT_TRUE(m);
  ASSERT_TRUE(applyOverride(*m, "float_trainer.num_epochs=2").ok());
  ASSERT_TRUE(applyOverride(*m, "data_loader.batch_size=64").ok());
  ASSERT_TRUE(applyOverride(*m, "model.head.strides.-1=64").ok());
  ASSERT_TRUE(applyOverride(*m, "data_loader.transforms.0.size.1=320").ok());
  ASSERT_TRUE(applyOverride(*m, "model.stride2channels.8=32").ok());
  ASSERT_TRUE(
      applyOverride(*m, "float_trainer.optimizer.type=torch.optim.AdamW").ok());
  ASSERT_TRUE(applyOverride(*m, "float_trainer.optimizer.lr=1e-3").ok());
  ASSERT_TRUE(
      applyOverride(*m, "model.head.extra=[1, 'two', (3,), None, True]").ok());
  EXPECT_EQ(m->get("float_trainer")->asDict().find("num_epochs")->repr(), "2");
  EXPECT_EQ(m->get("data_loader")->asDict().find("batch_size")->repr(), "64");
  EXPECT_EQ(m->get("model")->asDict().find("head")->repr(),
            "{'num_classes': 80, 'strides': [8, 16, 64], 'extra': [1, 'two', "
            "(3,), None, True]}");
  EXPECT_EQ(m->get("data_loader")->asDict().find("transforms")->repr(),
            "[{'type': 'Resize', 'size': (512, 320)}]");
  EXPECT_EQ(m->get("model")->asDict().find("stride2channels")->repr(),
            "{8: 32, 16: 64}");
  EXPECT_EQ(m->get("float_trainer")->asDict().find("optimizer")->repr(),
            "{'type': torch.optim.AdamW, 'lr': 0.001}");
  // float_trainer.model is the same dict as model, as in Python.
  EXPECT_EQ(m->get("float_trainer")
                ->asDict()
                .find("model")
                ->asDict()
                .find("head")
                ->asDict()
                .find("strides")
                ->repr(),
            "[8, 16, 64]");
}

TEST(Override, ValuesMayNameConfigVariables) {
  std::shared_ptr<Module> m = load(kConfig);
  ASSERT_TRUE(m);
  ASSERT_TRUE(
      applyOverride(*m, "data_loader.batch_size=batch_size_per_gpu * 2").ok());
  EXPECT_EQ(m->get("data_loader")->asDict().find("batch_size")->repr(), "48");
  ASSERT_TRUE(applyOverride(*m, "batch_size_per_gpu=\"qat\"").ok());
  EXPECT_EQ(m->get("batch_size_per_gpu")->repr(), "'qat'");
}

TEST(Override, MissingPathsAreErrors) {
  std::shared_ptr<Module> m = load(kConfig);
  ASSERT_TRUE(m);
  Status typo = applyOverride(*m, "model.haed.num_classes=3");
  ASSERT_FALSE(typo.ok());
  EXPECT_EQ(typo.error().message, "--set model.haed.num_classes=3: 'model' has "
                                  "no key 'haed'; did you mean 'head'?");

  Status root = applyOverride(*m, "float_trainr.num_epochs=2");
  ASSERT_FALSE(root.ok());
  EXPECT_NE(root.error().message.find(
                "no variable 'float_trainr'; did you mean 'float_trainer'?"),
            std::string::npos);

  Status index = applyOverride(*m, "model.head.strides.3=1");
  ASSERT_FALSE(index.ok());
  EXPECT_NE(index.error().message.find("index 3 is out of range"),
            std::string::npos);

  Status scalar = applyOverride(*m, "float_trainer.num_epochs.x=1");
  ASSERT_FALSE(scalar.ok());
  EXPECT_NE(scalar.error().message.find("is a int (300)"), std::string::npos);

  Status imported = applyOverride(*m, "torch=1");
  ASSERT_FALSE(imported.ok());

  Status noEquals = applyOverride(*m, "model.type");
  ASSERT_FALSE(noEquals.ok());
  EXPECT_NE(noEquals.error().message.find("path.to.key=value"),
            std::string::npos);

  // Nothing was changed by the failed overrides.
  EXPECT_EQ(m->get("float_trainer")->asDict().find("num_epochs")->repr(),
            "300");
}

TEST(Override, BadValuesAreLocatedInTheOverride) {
  std::shared_ptr<Module> m = load(kConfig);
  ASSERT_TRUE(m);
  Status syntax = applyOverride(*m, "model.type=[1, 2");
  ASSERT_FALSE(syntax.ok());
  EXPECT_EQ(syntax.error().file, "<--set model.type>");
  EXPECT_EQ(syntax.error().line, 1u);
  EXPECT_EQ(syntax.error().column, 1u);
  EXPECT_NE(syntax.error().message.find("'[' was never closed"),
            std::string::npos);

  Status bareWord = applyOverride(*m, "model.type=RetinaNet");
  ASSERT_FALSE(bareWord.ok());
  EXPECT_NE(bareWord.error().message.find("name 'RetinaNet' is not defined"),
            std::string::npos);
  ASSERT_FALSE(bareWord.error().notes.empty());
  EXPECT_NE(bareWord.error().notes[0].find("quote it"), std::string::npos);
}

TEST(Override, NewKeyInExistingDictIsAllowed) {
  std::shared_ptr<Module> m = load(kConfig);
  ASSERT_TRUE(m);
  ASSERT_TRUE(applyOverride(*m, "model.neck=dict(type='BiFPN')").ok());
  EXPECT_EQ(m->get("model")->asDict().find("neck")->repr(),
            "{'type': 'BiFPN'}");
  // ...but not a new key in a dict that does not exist.
  EXPECT_FALSE(applyOverride(*m, "model.backbone.type='x'").ok());
}

TEST(Merge, DictsMergeKeyByKeyOtherValuesAreReplaced) {
  std::shared_ptr<Module> base = load(R"(
qconfig = dict(module_name={"a.conv": "qint16"}, other=1)
epochs = 3
model = dict(type="X", channels=[1, 2])
)");
  std::shared_ptr<Module> overlay = load(R"(
import os
qconfig = dict(module_name={"b.conv": "qint16", "a.conv": "qint8"})
epochs = 5
model = dict(channels=[4])
extra = "new"
)");
  ASSERT_TRUE(base && overlay);
  ASSERT_TRUE(mergeModule(*base, *overlay).ok());
  EXPECT_EQ(base->get("qconfig")->repr(),
            "{'module_name': {'a.conv': 'qint8', 'b.conv': 'qint16'}, "
            "'other': 1}");
  EXPECT_EQ(base->get("epochs")->repr(), "5");
  // Lists are values, not merged element by element.
  EXPECT_EQ(base->get("model")->repr(), "{'type': 'X', 'channels': [4]}");
  EXPECT_EQ(base->get("extra")->repr(), "'new'");
  // The overlay's imports are not config variables.
  EXPECT_EQ(base->get("os"), nullptr);
}
