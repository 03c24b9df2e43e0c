//===- FcosLossBench.cpp - Cost of FCOS targets + losses per batch --------===//
//
// Times DynamicFcosTarget's assignment and the three FCOS losses (forward
// and backward) on random head outputs, for the fashion-det config (256 px,
// 10 classes, batch 16, up to 6 boxes) and the seed's COCO config (512 px,
// 80 classes, batch 24, 20 boxes an image). Prints figures, asserts nothing.
//
//===----------------------------------------------------------------------===//
#include "hat/Engine/FcosTarget.h"
#include "hat/Support/ParseNumber.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>

using namespace hat::engine;

namespace {

struct Setup {
  const char *name;
  int64_t size, classes, batch, boxesPerImage;
};

FcosLoss makeLoss(int64_t classes) {
  DynamicFcosTargetOptions options;
  options.strides = {8, 16, 32, 64, 128};
  options.cls_out_channels = classes;
  options.background_label = classes;
  options.topK = 10;
  FocalLossOptions costCls;
  costCls.num_classes = classes + 1;
  costCls.reduction = LossReduction::None;
  GIoULossOptions costReg;
  costReg.loss_weight = 2.0;
  costReg.reduction = LossReduction::None;
  options.loss_cls = std::make_shared<FocalLoss>(costCls);
  options.loss_reg = std::make_shared<GIoULoss>(costReg);
  FocalLossOptions cls;
  cls.num_classes = classes + 1;
  GIoULossOptions reg;
  SigmoidCrossEntropyLossOptions centerness;
  centerness.loss_name = "centerness";
  return FcosLoss(std::make_shared<DynamicFcosTarget>(options),
                  std::make_shared<FocalLoss>(cls),
                  std::make_shared<GIoULoss>(reg),
                  std::make_shared<SigmoidCrossEntropyLoss>(centerness));
}

void run(const Setup &setup, int repeats) {
  at::manual_seed(0);
  FcosLoss loss = makeLoss(setup.classes);
  FcosHeadOutputs out;
  for (int64_t stride : {8, 16, 32, 64, 128}) {
    const int64_t side = (setup.size + stride - 1) / stride;
    out.clsScores.push_back(
        (at::randn({setup.batch, setup.classes, side, side}) - 4.6)
            .set_requires_grad(true));
    out.bboxPreds.push_back((at::rand({setup.batch, 4, side, side}) * 3 + 0.2)
                                .set_requires_grad(true));
    out.centerness.push_back(
        at::randn({setup.batch, 1, side, side}).set_requires_grad(true));
  }
  DetectionGroundTruth truth;
  for (int64_t n = 0; n < setup.batch; ++n) {
    at::Tensor corner = at::rand({setup.boxesPerImage, 2}) * (setup.size * 0.7);
    at::Tensor extent =
        at::rand({setup.boxesPerImage, 2}) * (setup.size * 0.3) + 8;
    truth.boxes.push_back(at::cat({corner, corner + extent}, 1));
    truth.labels.push_back(
        at::randint(setup.classes, {setup.boxesPerImage}, at::kLong));
  }
  using Clock = std::chrono::steady_clock;
  double assignSeconds = 0, totalSeconds = 0;
  int64_t positives = 0;
  for (int r = 0; r < repeats + 1; ++r) {
    auto start = Clock::now();
    FcosTargets targets = loss.target().assign(out, truth);
    auto assigned = Clock::now();
    at::Tensor sum = at::zeros({});
    for (auto &[name, value] : loss(out, truth))
      sum = sum + value;
    sum.backward();
    auto end = Clock::now();
    if (r == 0)
      continue; // warm-up
    positives = targets.numPositive;
    assignSeconds += std::chrono::duration<double>(assigned - start).count();
    // loss() assigns again: the full step is the second interval.
    totalSeconds += std::chrono::duration<double>(end - assigned).count();
  }
  std::printf("%-28s batch %3lld  %4lld px  %2lld classes  %2lld boxes/img: "
              "assign %7.1f ms, targets+losses fwd+bwd %7.1f ms "
              "(%lld positives)\n",
              setup.name, (long long)setup.batch, (long long)setup.size,
              (long long)setup.classes, (long long)setup.boxesPerImage,
              1e3 * assignSeconds / repeats, 1e3 * totalSeconds / repeats,
              (long long)positives);
}

} // namespace

int main(int argc, char **argv) {
  std::optional<int64_t> threads = argc > 1
                                       ? hat::parseInteger(argv[1], 1, 1024)
                                       : std::optional<int64_t>(1);
  if (!threads || argc > 2) {
    std::fprintf(stderr, "usage: hat-fcos-loss-bench [THREADS in 1..1024]\n");
    return 2;
  }
  at::set_num_threads((int)*threads);
  std::printf("FCOS targets and losses, %d thread(s)\n", at::get_num_threads());
  run({"fashion-det (256 px)", 256, 10, 16, 6}, 5);
  run({"seed COCO (512 px)", 512, 80, 24, 20}, 3);
  return 0;
}
