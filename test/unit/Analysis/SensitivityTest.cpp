//===- SensitivityTest.cpp - Ranking a deliberately sensitive layer -------===//
//
// Trains a small TinyResNet on 2048 Fashion-MNIST images, then makes one
// layer deliberately hard to quantize: output channel 3 of layer1.conv1
// becomes a constant 400 (its BN scale 0, shift 400) that its consumer
// ignores (layer1.conv2's weights for that input channel are zeroed), so
// the float model only loses that channel while the layer's min-max range
// grows to 400: int8 leaves the other channels a few levels, int16 hundreds.
// The analysis must rank that layer first, the float -> integer accuracy
// gap must be >= 0.2 points, and re-calibrating with the fragment that moves
// it to int16 must recover at least half of the gap.
//
//===----------------------------------------------------------------------===//

#include "hat/Analysis/QuantAnalysis.h"

#include "hat/Config/Config.h"
#include "hat/Data/Idx.h"
#include "hat/Data/Pack.h"
#include "hat/Engine/Engine.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

using namespace hat;

namespace {

const char *const kConfig = R"PY(
import os
import torch
import hat

data_dir = os.environ["HAT_ANALYSIS_TEST_DATA"]
ckpt_dir = os.environ["HAT_ANALYSIS_TEST_CKPT"]
seed = 5
backbone = dict(type="TinyResNet", channels=[8, 16], num_classes=10)
model = dict(type="Classifier", backbone=backbone,
             losses=dict(type="CrossEntropyLoss"))
deploy_inputs = dict(img=torch.randn((1, 1, 28, 28)))
transforms = [dict(type="ToTensor"), dict(type="Normalize", mean=72.94, std=90.02)]
data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(type="FashionMNIST", data_path=os.path.join(data_dir, "train_lmdb"),
                 transforms=transforms),
    sampler=dict(type=torch.utils.data.DistributedSampler),
    batch_size=64, shuffle=True, num_workers=1, drop_last=True,
    collate_fn=hat.data.collates.collate_2d)
val_data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(type="FashionMNIST", data_path=os.path.join(data_dir, "val_lmdb"),
                 transforms=transforms),
    batch_size=250, shuffle=False, num_workers=1,
    collate_fn=hat.data.collates.collate_2d)
val_metrics = [dict(type="Accuracy")]


def update_metric(metrics, batch, model_outs):
    for metric in metrics:
        metric.update(batch["labels"], model_outs)


val_processor = dict(type="BasicBatchProcessor", need_grad_update=False)
val_callback = dict(type="Validation", data_loader=val_data_loader,
                    batch_processor=val_processor,
                    callbacks=[dict(type="MetricUpdater", metric_update_func=update_metric,
                                    log_prefix="Validation")],
                    val_interval=1)
ckpt_callback = dict(type="Checkpoint", save_dir=ckpt_dir, save_interval=1,
                     mode="max", monitor_metric_key="accuracy")
float_trainer = dict(
    type="Trainer", model=model, data_loader=data_loader,
    optimizer=dict(type=torch.optim.SGD, lr=0.05, momentum=0.9),
    batch_processor=dict(type="BasicBatchProcessor", need_grad_update=True,
                         loss_collector=hat.engine.processors.loss_collector.collect_loss_by_index(1)),
    num_epochs=3, device=None, callbacks=[val_callback, ckpt_callback],
    val_metrics=val_metrics)
calibration_trainer = dict(
    type="Calibrator", model=model,
    model_convert_pipeline=dict(
        type="ModelConvertPipeline", qat_mode="fuse_bn",
        converters=[
            dict(type="LoadCheckpoint",
                 checkpoint_path=os.path.join(ckpt_dir, "float-checkpoint-best.pth.tar")),
            dict(type="Float2Calibration", observer="minmax"),
        ]),
    data_loader=data_loader, batch_processor=val_processor, num_steps=8,
    device=None, callbacks=[val_callback, ckpt_callback], val_metrics=val_metrics)
)PY";

void runStage(const std::string &configPath, const std::string &stage,
              const std::vector<std::string> &merges = {}) {
  setenv("HAT_TRAINING_STEP", stage.c_str(), 1);
  auto module = config::loadConfigWithMerges(configPath, merges, {});
  ASSERT_TRUE(module) << module.error().str();
  engine::RunContext &ctx = engine::runContext();
  ctx.stage = stage;
  ctx.config = *module;
  ctx.configPath = configPath;
  ctx.seed = 5;
  at::manual_seed(5);
  engine::LoopPtr loop = engine::buildLoop(*(*module)->get(stage + "_trainer"));
  loop->fit();
}

double accuracy(const std::vector<std::pair<std::string, double>> &m) {
  for (auto &[k, v] : m)
    if (k == "accuracy")
      return v;
  ADD_FAILURE() << "no accuracy";
  return 0;
}

} // namespace

TEST(QuantAnalysis, RanksTheSensitiveLayerAndInt16RecoversTheGap) {
  at::set_num_threads(2);
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() /
                 ("hat-analysis-test-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "data");
  for (auto [split, limit] :
       {std::pair<const char *, size_t>{"train", 2048}, {"val", 1000}}) {
    data::PackOptions pack;
    pack.format = "fashion-mnist";
    pack.src = data::kDefaultFashionMnistDir;
    pack.split = split;
    pack.limit = limit;
    pack.out = (dir / "data" / (std::string(split) + "_lmdb")).string();
    data::pack(pack); // a missing dataset throws: the test fails, loudly
  }
  std::string configPath = (dir / "config.py").string();
  std::ofstream(configPath) << kConfig;
  setenv("HAT_ANALYSIS_TEST_DATA", (dir / "data").c_str(), 1);
  setenv("HAT_ANALYSIS_TEST_CKPT", (dir / "ckpt").c_str(), 1);

  runStage(configPath, "float");
  ASSERT_FALSE(HasFatalFailure());

  // Make layer1.conv1 deliberately sensitive (see the top of the file).
  const std::string best =
      (dir / "ckpt" / "float-checkpoint-best.pth.tar").string();
  engine::CheckpointData ck = engine::loadCheckpoint(best);
  const int64_t channel = 3;
  int touched = 0;
  for (auto &[name, t] : ck.model) {
    at::NoGradGuard guard;
    if (name == "layer1.bn1.weight") {
      t[channel].fill_(0.0);
      ++touched;
    } else if (name == "layer1.bn1.bias") {
      t[channel].fill_(400.0);
      ++touched;
    } else if (name == "layer1.conv2.weight") {
      t.select(1, channel).zero_();
      ++touched;
    }
  }
  ASSERT_EQ(touched, 3);
  engine::saveCheckpoint(best, ck, nullptr);

  runStage(configPath, "calibration");
  ASSERT_FALSE(HasFatalFailure());

  analysis::AnalysisOptions options;
  options.configPath = configPath;
  options.numBatches = 0; // all 4 batches of 250
  options.quantStage = "calibration";
  analysis::AnalysisReport report = analysis::runQuantAnalysis(options);
  EXPECT_EQ(report.images, 1000);
  ASSERT_FALSE(report.sensitivity.empty());
  EXPECT_EQ(report.sensitivity[0].layer, "layer1.conv1")
      << analysis::reportText(report, 0);
  const double floatAcc = accuracy(report.floatMetrics);
  const double intAcc = accuracy(report.intMetrics);
  const double gap = floatAcc - intAcc;
  EXPECT_GE(gap, 0.002) << analysis::reportText(report, 0);
  // Every layer of the fake-quant model has its integer op.
  for (const analysis::LayerResult &l : report.layers)
    EXPECT_TRUE(l.inInteger) << l.name;

  // Move the top layer to int16 with the fragment and calibrate again.
  std::string fragment = (dir / "int16.py").string();
  std::ofstream(fragment) << analysis::int16Fragment(report, 1);
  runStage(configPath, "calibration", {fragment});
  ASSERT_FALSE(HasFatalFailure());
  options.merges = {fragment};
  options.sensitivity = false;
  analysis::AnalysisReport after = analysis::runQuantAnalysis(options);
  bool found = false;
  for (const analysis::LayerResult &l : after.layers)
    if (l.name == "layer1.conv1") {
      found = true;
      EXPECT_EQ(l.bits, 16);
    } else {
      EXPECT_EQ(l.bits, 8) << l.name;
    }
  EXPECT_TRUE(found);
  const double intAcc16 = accuracy(after.intMetrics);
  EXPECT_GE(intAcc16 - intAcc, 0.5 * gap)
      << "float " << floatAcc << ", int8 " << intAcc << ", with int16 "
      << intAcc16;
  std::cout << "float " << floatAcc << ", integer " << intAcc
            << ", integer with layer1.conv1 in int16 " << intAcc16 << "\n";
  fs::remove_all(dir);
}
