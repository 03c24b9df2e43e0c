//===- FcosTarget.cpp - FCOS label assignment and losses ------------------===//
#include "hat/Engine/FcosTarget.h"

#include "hat/Data/DataLoader.h"
#include "hat/Engine/Builders.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <functional>
#include <numeric>
#include <sstream>
#include <stdexcept>

namespace hat::engine {

namespace {

std::string levelText(std::size_t level, int64_t stride) {
  return "level " + std::to_string(level) + " (stride " +
         std::to_string(stride) + ")";
}

} // namespace

//===----------------------------------------------------------------------===//
// Helpers
//===----------------------------------------------------------------------===//

at::Tensor distanceToBox(const at::Tensor &points, const at::Tensor &ltrb) {
  const at::Tensor x = points.select(-1, 0), y = points.select(-1, 1);
  return at::stack({x - ltrb.select(-1, 0), y - ltrb.select(-1, 1),
                    x + ltrb.select(-1, 2), y + ltrb.select(-1, 3)},
                   -1);
}

at::Tensor fcosCenterness(const at::Tensor &ltrb) {
  const at::Tensor l = ltrb.select(-1, 0), t = ltrb.select(-1, 1),
                   r = ltrb.select(-1, 2), b = ltrb.select(-1, 3);
  // Positive points lie strictly inside their box, so every distance is
  // > 0; the clamp only keeps a stray zero from making 0 / 0.
  const at::Tensor horizontal =
      at::minimum(l, r) / at::maximum(l, r).clamp_min(FLT_MIN);
  const at::Tensor vertical =
      at::minimum(t, b) / at::maximum(t, b).clamp_min(FLT_MIN);
  return (horizontal * vertical).sqrt();
}

DetectionGroundTruth groundTruthFromBatch(const data::Batch &batch) {
  DetectionGroundTruth truth;
  const int64_t images = batch.size();
  if (static_cast<int64_t>(batch.boxOffsets.size()) != images + 1)
    throw std::invalid_argument(
        "the batch has no per-image box offsets (was it collated by "
        "collate_2d?)");
  for (int64_t n = 0; n < images; ++n) {
    const int64_t begin = batch.boxOffsets[n], end = batch.boxOffsets[n + 1];
    const int64_t count = end - begin;
    at::Tensor boxes = at::empty({count, 4}, at::kFloat);
    at::Tensor labels = at::empty({count}, at::kLong);
    auto boxData = boxes.accessor<float, 2>();
    auto labelData = labels.accessor<int64_t, 1>();
    for (int64_t i = 0; i < count; ++i) {
      for (int c = 0; c < 4; ++c)
        boxData[i][c] = batch.boxes[(begin + i) * 4 + c];
      const bool crowd =
          static_cast<std::size_t>(begin + i) < batch.boxIsCrowd.size() &&
          batch.boxIsCrowd[begin + i] != 0;
      labelData[i] = crowd ? -1 : batch.boxLabels[begin + i];
    }
    truth.boxes.push_back(boxes);
    truth.labels.push_back(labels);
  }
  return truth;
}

//===----------------------------------------------------------------------===//
// DynamicFcosTarget
//===----------------------------------------------------------------------===//

DynamicFcosTarget::DynamicFcosTarget(DynamicFcosTargetOptions options)
    : options_(std::move(options)) {
  const std::string who = "DynamicFcosTarget: ";
  if (options_.strides.empty())
    throw std::invalid_argument(who + "strides must not be empty");
  for (int64_t stride : options_.strides)
    if (stride <= 0)
      throw std::invalid_argument(who + "strides must be positive");
  if (options_.topK < 1)
    throw std::invalid_argument(who + "topK must be >= 1");
  if (options_.cls_out_channels < 1)
    throw std::invalid_argument(who + "cls_out_channels must be >= 1");
  if (options_.background_label != options_.cls_out_channels)
    throw std::invalid_argument(
        who + "background_label must equal cls_out_channels (" +
        std::to_string(options_.cls_out_channels) + "): labels 0.." +
        std::to_string(options_.cls_out_channels - 1) +
        " are classes and the next one is the background, got " +
        std::to_string(options_.background_label));
  if (!options_.loss_cls || !options_.loss_reg)
    throw std::invalid_argument(who + "loss_cls and loss_reg are required");
  for (const DetectionLossPtr &loss : {options_.loss_cls, options_.loss_reg})
    if (loss->reduction() != LossReduction::None)
      throw std::invalid_argument(
          who + "the cost losses must keep one value per point: give " +
          loss->typeName() + " reduction=\"none\" (it has \"" +
          lossReductionName(loss->reduction()) + "\")");
  if (auto *focal = dynamic_cast<const FocalLoss *>(options_.loss_cls.get()))
    if (focal->numClasses() != options_.cls_out_channels + 1)
      throw std::invalid_argument(
          who +
          "loss_cls has num_classes=" + std::to_string(focal->numClasses()) +
          " but cls_out_channels=" + std::to_string(options_.cls_out_channels) +
          " (num_classes counts the background: it must be " +
          std::to_string(options_.cls_out_channels + 1) + ")");
  if (!(options_.center_sampling_radius > 0))
    throw std::invalid_argument(who + "center_sampling_radius must be > 0");
}

at::Tensor DynamicFcosTarget::levelPoints(int64_t height, int64_t width,
                                          int64_t stride,
                                          const at::TensorOptions &options) {
  const at::Tensor xs = at::arange(width, options) * stride + stride / 2;
  const at::Tensor ys = at::arange(height, options) * stride + stride / 2;
  std::vector<at::Tensor> grid = at::meshgrid({ys, xs}, "ij");
  return at::stack({grid[1].reshape(-1), grid[0].reshape(-1)}, 1);
}

struct DynamicFcosTarget::Flat {
  at::Tensor cls;        // [N, P, C]
  at::Tensor bbox;       // [N, P, 4]
  at::Tensor centerness; // [N, P]
  at::Tensor points;     // [P, 2] input pixels
  at::Tensor strides;    // [P]
};

DynamicFcosTarget::Flat
DynamicFcosTarget::flatten(const FcosHeadOutputs &outputs,
                           int64_t numImages) const {
  const std::size_t levels = options_.strides.size();
  if (outputs.clsScores.size() != levels ||
      outputs.bboxPreds.size() != levels || outputs.centerness.size() != levels)
    throw std::invalid_argument(
        "DynamicFcosTarget: " + std::to_string(levels) +
        " strides but the head gave " +
        std::to_string(outputs.clsScores.size()) + " cls, " +
        std::to_string(outputs.bboxPreds.size()) + " bbox and " +
        std::to_string(outputs.centerness.size()) + " centerness levels");
  const int64_t channels = options_.cls_out_channels;
  std::vector<at::Tensor> cls, bbox, centerness, points, strides;
  for (std::size_t l = 0; l < levels; ++l) {
    const int64_t stride = options_.strides[l];
    const at::Tensor &c = outputs.clsScores[l];
    const at::Tensor &b = outputs.bboxPreds[l];
    const at::Tensor &o = outputs.centerness[l];
    if (!c.defined() || c.dim() != 4 || c.size(0) != numImages ||
        c.size(1) != channels)
      throw std::invalid_argument("DynamicFcosTarget: " + levelText(l, stride) +
                                  " cls scores are " + tensorShapeText(c) +
                                  ", expected [" + std::to_string(numImages) +
                                  ", " + std::to_string(channels) +
                                  ", H, W] (one image per ground truth)");
    const int64_t height = c.size(2), width = c.size(3);
    auto expect = [&](const at::Tensor &t, int64_t ch, const char *what) {
      if (!t.defined() || t.dim() != 4 || t.size(0) != numImages ||
          t.size(1) != ch || t.size(2) != height || t.size(3) != width)
        throw std::invalid_argument(
            "DynamicFcosTarget: " + levelText(l, stride) + " " + what + " is " +
            tensorShapeText(t) + ", expected [" + std::to_string(numImages) +
            ", " + std::to_string(ch) + ", " + std::to_string(height) + ", " +
            std::to_string(width) + "]");
    };
    expect(b, 4, "bbox pred");
    expect(o, 1, "centerness");
    cls.push_back(c.permute({0, 2, 3, 1}).reshape({numImages, -1, channels}));
    bbox.push_back(b.permute({0, 2, 3, 1}).reshape({numImages, -1, 4}));
    centerness.push_back(o.reshape({numImages, -1}));
    const at::TensorOptions pointOptions =
        at::TensorOptions().dtype(b.scalar_type()).device(b.device());
    points.push_back(levelPoints(height, width, stride, pointOptions));
    strides.push_back(
        at::full({height * width}, static_cast<double>(stride), pointOptions));
  }
  Flat flat{at::cat(cls, 1), at::cat(bbox, 1), at::cat(centerness, 1),
            at::cat(points, 0), at::cat(strides, 0)};
  if (options_.bbox_relu)
    flat.bbox = at::relu(flat.bbox);
  return flat;
}

namespace {

/// One image's assignment, on CPU vectors: the cost and IoU of each
/// candidate (point, GT) pair, pairs sorted by point then GT.
struct Candidates {
  std::vector<int64_t> point, gt;
  std::vector<double> cost, iou;
};

/// simOTA: each GT keeps its k lowest-cost candidates, k = max(1,
/// floor(sum of its topK largest IoUs)); a point kept by several GTs goes
/// to the GT of lowest cost there (among all GTs it is a candidate of).
/// Returns, per candidate pair, whether it is the point's assignment.
std::vector<char> matchCandidates(const Candidates &c, int64_t numGts,
                                  int64_t topK) {
  const std::size_t pairs = c.point.size();
  std::vector<std::vector<std::size_t>> perGt(numGts);
  for (std::size_t k = 0; k < pairs; ++k)
    perGt[c.gt[k]].push_back(k);
  std::vector<int> claims(pairs, 0);
  std::vector<char> claimed(pairs, 0);
  for (int64_t g = 0; g < numGts; ++g) {
    std::vector<std::size_t> &own = perGt[g];
    if (own.empty())
      continue;
    std::vector<double> ious;
    for (std::size_t k : own)
      ious.push_back(c.iou[k]);
    const std::size_t top = std::min<std::size_t>(topK, ious.size());
    std::partial_sort(ious.begin(), ious.begin() + top, ious.end(),
                      std::greater<double>());
    // float32 like the reference: the sum is truncated to an integer.
    float iouSum = 0;
    for (std::size_t i = 0; i < top; ++i)
      iouSum += static_cast<float>(ious[i]);
    const std::size_t dynamicK = std::min(
        own.size(),
        static_cast<std::size_t>(std::max(1, static_cast<int>(iouSum))));
    // Lowest cost first; equal costs by point order (a stable choice).
    std::stable_sort(own.begin(), own.end(), [&](std::size_t a, std::size_t b) {
      return c.cost[a] < c.cost[b];
    });
    for (std::size_t i = 0; i < dynamicK; ++i)
      claimed[own[i]] = 1;
  }
  std::vector<char> assigned(pairs, 0);
  // Pairs of one point are contiguous (sorted by point).
  for (std::size_t begin = 0; begin < pairs;) {
    std::size_t end = begin;
    int claimCount = 0;
    std::size_t claimer = 0, cheapest = begin;
    while (end < pairs && c.point[end] == c.point[begin]) {
      if (claimed[end]) {
        ++claimCount;
        claimer = end;
      }
      if (c.cost[end] < c.cost[cheapest])
        cheapest = end;
      ++end;
    }
    if (claimCount == 1)
      assigned[claimer] = 1;
    else if (claimCount > 1)
      assigned[cheapest] = 1;
    begin = end;
  }
  return assigned;
}

std::vector<double> toDoubles(const at::Tensor &t) {
  at::Tensor cpu = t.detach().to(at::kCPU, at::kDouble).contiguous();
  return std::vector<double>(cpu.data_ptr<double>(),
                             cpu.data_ptr<double>() + cpu.numel());
}

std::vector<int64_t> toLongs(const at::Tensor &t) {
  at::Tensor cpu = t.detach().to(at::kCPU, at::kLong).contiguous();
  return std::vector<int64_t>(cpu.data_ptr<int64_t>(),
                              cpu.data_ptr<int64_t>() + cpu.numel());
}

} // namespace

FcosTargets DynamicFcosTarget::assign(const FcosHeadOutputs &outputs,
                                      const DetectionGroundTruth &truth) const {
  at::NoGradGuard noGrad;
  const int64_t images = static_cast<int64_t>(truth.boxes.size());
  if (truth.labels.size() != truth.boxes.size())
    throw std::invalid_argument(
        "DynamicFcosTarget: " + std::to_string(truth.boxes.size()) +
        " images of boxes but " + std::to_string(truth.labels.size()) +
        " of labels");
  const Flat flat = flatten(outputs, images);
  const int64_t numPoints = flat.points.size(0);
  const int64_t total = images * numPoints;
  const int64_t channels = options_.cls_out_channels;

  at::Tensor clsTargets =
      at::full({total}, options_.background_label, at::kLong);
  at::Tensor labelWeights = at::ones({total}, at::kFloat);
  at::Tensor bboxTargets = at::zeros({total, 4}, at::kFloat);
  at::Tensor centernessTargets = at::zeros({total}, at::kFloat);
  at::Tensor assignedGt = at::full({total}, -1, at::kLong);
  at::Tensor positive = at::zeros({total}, at::kBool);
  auto clsData = clsTargets.accessor<int64_t, 1>();
  auto weightData = labelWeights.accessor<float, 1>();
  auto bboxData = bboxTargets.accessor<float, 2>();
  auto centernessData = centernessTargets.accessor<float, 1>();
  auto gtData = assignedGt.accessor<int64_t, 1>();
  auto positiveData = positive.accessor<bool, 1>();

  const at::Tensor px = flat.points.select(1, 0).unsqueeze(1); // [P, 1]
  const at::Tensor py = flat.points.select(1, 1).unsqueeze(1);
  const at::Tensor pointStride = flat.strides.unsqueeze(1);
  for (int64_t n = 0; n < images; ++n) {
    const std::string image = "image " + std::to_string(n);
    const at::Tensor boxes =
        truth.boxes[n].to(flat.points.device(), flat.points.scalar_type());
    const at::Tensor labels =
        truth.labels[n].to(flat.points.device(), at::kLong);
    if (boxes.dim() != 2 || boxes.size(1) != 4)
      throw std::invalid_argument("DynamicFcosTarget: " + image +
                                  ": boxes must be [M, 4], got " +
                                  tensorShapeText(boxes));
    const int64_t numGts = boxes.size(0);
    if (labels.dim() != 1 || labels.size(0) != numGts)
      throw std::invalid_argument(
          "DynamicFcosTarget: " + image + ": " + std::to_string(numGts) +
          " boxes but labels " + tensorShapeText(labels));
    if (numGts == 0)
      continue;
    if (!at::isfinite(boxes).all().item<bool>())
      throw std::invalid_argument("DynamicFcosTarget: " + image +
                                  ": a box is not finite");
    const int64_t largest = labels.max().item<int64_t>();
    if (largest >= channels)
      throw std::invalid_argument(
          "DynamicFcosTarget: " + image + ": label " + std::to_string(largest) +
          " is not below cls_out_channels (" + std::to_string(channels) + ")");
    const at::Tensor x1 = boxes.select(1, 0), y1 = boxes.select(1, 1),
                     x2 = boxes.select(1, 2), y2 = boxes.select(1, 3);
    if ((x2 < x1).any().item<bool>() || (y2 < y1).any().item<bool>())
      throw std::invalid_argument("DynamicFcosTarget: " + image +
                                  ": a box has x2 < x1 or y2 < y1");
    // [P, M, 4] distances in pixels from each point to each box's sides.
    const at::Tensor ltrb = at::stack({px - x1, py - y1, x2 - px, y2 - py}, -1);
    at::Tensor inside;
    if (options_.center_sampling) {
      const at::Tensor radius = pointStride * options_.center_sampling_radius;
      const at::Tensor cx = (x1 + x2) / 2, cy = (y1 + y2) / 2;
      const at::Tensor left = at::maximum(cx - radius, x1);
      const at::Tensor top = at::maximum(cy - radius, y1);
      const at::Tensor right = at::minimum(cx + radius, x2);
      const at::Tensor bottom = at::minimum(cy + radius, y2);
      inside = at::stack({px - left, py - top, right - px, bottom - py}, -1)
                   .amin(-1) > 0;
    } else {
      inside = ltrb.amin(-1) > 0;
    }
    const at::Tensor ignoreGt = (labels < 0).unsqueeze(0);
    const std::vector<int64_t> ignoredPoints =
        toLongs((inside & ignoreGt).any(1).nonzero().reshape(-1));
    for (int64_t p : ignoredPoints)
      weightData[n * numPoints + p] = 0;
    const at::Tensor pairs = (inside & ignoreGt.logical_not()).nonzero();
    if (pairs.size(0) == 0)
      continue;
    const at::Tensor pointIndex = pairs.select(1, 0),
                     gtIndex = pairs.select(1, 1);
    const at::Tensor targetLtrb = ltrb.index({pointIndex, gtIndex}) /
                                  flat.strides.index({pointIndex}).unsqueeze(1);
    const at::Tensor predLtrb = flat.bbox[n].index({pointIndex});
    // Both boxes around the same point: the point cancels out of IoU and
    // GIoU, so decode around the origin.
    const at::Tensor origin = at::zeros({1, 2}, predLtrb.options());
    const at::Tensor predBoxes = distanceToBox(origin, predLtrb);
    const at::Tensor targetBoxes = distanceToBox(origin, targetLtrb);
    const at::Tensor iou = alignedIoU(predBoxes, targetBoxes);
    const at::Tensor clsCost = options_.loss_cls
                                   ->compute({flat.cls[n].index({pointIndex}),
                                              labels.index({gtIndex}),
                                              {},
                                              std::nullopt})
                                   .sum(-1);
    const at::Tensor regCost =
        options_.loss_reg->compute({predBoxes, targetBoxes, {}, std::nullopt});
    if (regCost.sizes() != clsCost.sizes())
      throw std::invalid_argument(
          "DynamicFcosTarget: loss_reg must give one cost per point");

    Candidates candidates{toLongs(pointIndex), toLongs(gtIndex),
                          toDoubles(clsCost + regCost), toDoubles(iou)};
    const std::vector<char> assigned =
        matchCandidates(candidates, numGts, options_.topK);
    const std::vector<int64_t> labelOf = toLongs(labels);
    const at::Tensor targetsCpu =
        targetLtrb.to(at::kCPU, at::kFloat).contiguous();
    auto targetData = targetsCpu.accessor<float, 2>();
    for (std::size_t k = 0; k < assigned.size(); ++k) {
      if (!assigned[k])
        continue;
      const int64_t index = n * numPoints + candidates.point[k];
      const int64_t gt = candidates.gt[k];
      clsData[index] = labelOf[gt];
      for (int c = 0; c < 4; ++c)
        bboxData[index][c] = targetData[k][c];
      centernessData[index] = static_cast<float>(candidates.iou[k]);
      gtData[index] = gt;
      positiveData[index] = weightData[index] > 0;
    }
  }

  FcosTargets targets;
  const at::Device device = flat.points.device();
  targets.clsTargets = clsTargets.to(device);
  targets.labelWeights = labelWeights.to(device);
  targets.bboxTargets = bboxTargets.to(device);
  targets.centernessTargets = centernessTargets.to(device);
  targets.assignedGt = assignedGt.to(device);
  targets.numPositive = positive.sum().item<int64_t>();
  targets.positive = positive.to(device);
  targets.pointsPerImage = numPoints;
  return targets;
}

FcosLossInputs DynamicFcosTarget::lossInputs(const FcosHeadOutputs &outputs,
                                             const DetectionGroundTruth &truth,
                                             FcosTargets *targetsOut) const {
  FcosTargets targets = assign(outputs, truth);
  const Flat flat = flatten(outputs, static_cast<int64_t>(truth.boxes.size()));
  const at::Tensor clsScores =
      flat.cls.reshape({-1, options_.cls_out_channels});
  const at::Tensor bboxPreds = flat.bbox.reshape({-1, 4});
  const at::Tensor centerness = flat.centerness.reshape({-1});
  const int64_t positives = targets.numPositive;

  FcosLossInputs inputs;
  inputs.cls = {clsScores, targets.clsTargets, targets.labelWeights,
                static_cast<double>(std::max<int64_t>(positives, 1))};

  const at::TensorOptions floatOptions = bboxPreds.options();
  at::Tensor positiveIndex =
      positives > 0
          ? targets.positive.nonzero().reshape(-1)
          : at::zeros({1}, at::TensorOptions().dtype(at::kLong).device(
                               bboxPreds.device()));
  const at::Tensor positiveTargets =
      targets.bboxTargets.index_select(0, positiveIndex).to(floatOptions);
  const at::Tensor origin = at::zeros({1, 2}, floatOptions);
  inputs.reg.pred =
      distanceToBox(origin, bboxPreds.index_select(0, positiveIndex));
  inputs.reg.target = distanceToBox(origin, positiveTargets);
  inputs.centerness.pred = centerness.index_select(0, positiveIndex);
  if (positives > 0) {
    inputs.reg.weight = fcosCenterness(positiveTargets);
    inputs.reg.avgFactor = inputs.reg.weight.sum().item<double>();
    inputs.centerness.target =
        targets.centernessTargets.index_select(0, positiveIndex)
            .to(floatOptions);
  } else {
    inputs.reg.weight = at::zeros({1}, floatOptions);
    inputs.centerness.target = at::zeros({1}, floatOptions);
    inputs.centerness.weight = at::zeros({1}, floatOptions);
  }
  if (targetsOut)
    *targetsOut = std::move(targets);
  return inputs;
}

//===----------------------------------------------------------------------===//
// FcosLoss
//===----------------------------------------------------------------------===//

FcosLoss::FcosLoss(std::shared_ptr<const DynamicFcosTarget> target,
                   DetectionLossPtr lossCls, DetectionLossPtr lossReg,
                   DetectionLossPtr lossCenterness)
    : target_(std::move(target)), lossCls_(std::move(lossCls)),
      lossReg_(std::move(lossReg)), lossCenterness_(std::move(lossCenterness)) {
  if (!target_ || !lossCls_ || !lossReg_ || !lossCenterness_)
    throw std::invalid_argument(
        "FCOS training needs targets, loss_cls, loss_reg and loss_centerness");
  // The classification and box losses get an avg_factor (positives, the
  // centerness sum): only "mean" divides by it.
  for (const auto &[loss, key] :
       {std::pair{lossCls_, "loss_cls"}, std::pair{lossReg_, "loss_reg"}})
    if (loss->reduction() != LossReduction::Mean)
      throw std::invalid_argument(
          std::string(key) + " (" + loss->typeName() +
          ") must use reduction=\"mean\": FCOS averages it over the positive "
          "points; it has \"" +
          lossReductionName(loss->reduction()) + "\"");
  if (lossCenterness_->reduction() == LossReduction::None)
    throw std::invalid_argument(
        "loss_centerness must reduce to one number (reduction \"mean\" or "
        "\"sum\")");
  if (auto *focal = dynamic_cast<const FocalLoss *>(lossCls_.get()))
    if (focal->numClasses() != target_->options().cls_out_channels + 1)
      throw std::invalid_argument(
          "loss_cls has num_classes=" + std::to_string(focal->numClasses()) +
          " but the targets' cls_out_channels is " +
          std::to_string(target_->options().cls_out_channels) +
          " (num_classes counts the background)");
  const std::string names[] = {lossCls_->name(), lossReg_->name(),
                               lossCenterness_->name()};
  for (int i = 0; i < 3; ++i)
    for (int j = i + 1; j < 3; ++j)
      if (names[i] == names[j])
        throw std::invalid_argument(
            "two FCOS losses are named '" + names[i] +
            "': give each its own loss_name (the output dict is keyed by it)");
}

std::vector<std::pair<std::string, at::Tensor>>
FcosLoss::operator()(const FcosHeadOutputs &outputs,
                     const DetectionGroundTruth &truth) const {
  const FcosLossInputs inputs = target_->lossInputs(outputs, truth);
  return {
      {lossCls_->name(), lossCls_->compute(inputs.cls)},
      {lossReg_->name(), lossReg_->compute(inputs.reg)},
      {lossCenterness_->name(), lossCenterness_->compute(inputs.centerness)}};
}

//===----------------------------------------------------------------------===//
// Config
//===----------------------------------------------------------------------===//

namespace {

using TargetPtr = std::shared_ptr<const DynamicFcosTarget>;

std::vector<int64_t> stridesKwarg(const config::BuildArgs &args) {
  config::Value v = args.get("strides");
  std::vector<int64_t> strides;
  if (v.isList() || v.isTuple())
    for (const config::Value &item : v.sequenceItems()) {
      if (!item.isInt() || item.asInt() <= 0)
        throw EngineError(args.error("'strides' must be a list of positive "
                                     "ints, got " +
                                     v.repr())
                              .str());
      strides.push_back(item.asInt());
    }
  if (strides.empty())
    throw EngineError(
        args.error("'strides' must be a non-empty list of positive ints, got " +
                   v.repr())
            .str());
  return strides;
}

DetectionLossPtr lossKwarg(const config::BuildArgs &args,
                           const std::string &name) {
  auto built = buildDetectionLoss(args.get(name), name);
  if (!built) {
    config::Diagnostic diagnostic = built.error();
    if (!diagnostic.hasLocation()) {
      std::vector<std::string> notes = diagnostic.notes;
      diagnostic = args.error(diagnostic.message);
      diagnostic.notes = notes;
    }
    diagnostic.notes.push_back("in '" + name + "' of " + args.typeName());
    throw EngineError(diagnosticText(diagnostic));
  }
  return *built;
}

config::Expected<std::any>
buildDynamicFcosTarget(const config::BuildArgs &args) {
  try {
    DynamicFcosTargetOptions options;
    options.strides = stridesKwarg(args);
    options.topK = intKwarg(args, "topK", options.topK);
    options.cls_out_channels = intKwarg(args, "cls_out_channels", 0);
    options.background_label = intKwarg(args, "background_label", 0);
    options.loss_cls = lossKwarg(args, "loss_cls");
    options.loss_reg = lossKwarg(args, "loss_reg");
    options.center_sampling =
        boolKwarg(args, "center_sampling", options.center_sampling);
    options.center_sampling_radius = numberKwarg(
        args, "center_sampling_radius", options.center_sampling_radius);
    options.bbox_relu = boolKwarg(args, "bbox_relu", options.bbox_relu);
    return std::any(TargetPtr(std::make_shared<DynamicFcosTarget>(options)));
  } catch (const EngineError &e) {
    return config::Diagnostic(e.what());
  } catch (const std::invalid_argument &e) {
    return args.error(e.what());
  }
}

} // namespace

HAT_REGISTER("target", {"DynamicFcosTarget"},
             config::KwargSpec{
                 {"strides", "topK", "loss_cls", "loss_reg", "cls_out_channels",
                  "background_label"},
                 {"center_sampling", "center_sampling_radius", "bbox_relu"}},
             buildDynamicFcosTarget);

config::Expected<std::shared_ptr<const FcosLoss>>
buildFcosLoss(const config::Value &fcosModelConfig) {
  if (!fcosModelConfig.isDict())
    return config::Diagnostic("an FCOS model config must be a dict, got " +
                              fcosModelConfig.repr());
  const config::DictData &dict = fcosModelConfig.asDict();
  auto located = [&](const std::string &message) {
    return dict.loc.valid() ? config::Diagnostic(dict.loc, message)
                            : config::Diagnostic(message);
  };
  auto required = [&](const char *key) -> const config::Value * {
    const config::Value *v = dict.find(key);
    return v && !v->isNone() ? v : nullptr;
  };
  for (const char *key : {"targets", "loss_cls", "loss_reg", "loss_centerness"})
    if (!required(key))
      return located(std::string("FCOS needs '") + key + "' to train");
  auto target =
      config::Registry::instance().build(*required("targets"), "target");
  if (!target)
    return target.error();
  const TargetPtr *targetPtr = std::any_cast<TargetPtr>(&*target);
  if (!targetPtr)
    return located("FCOS 'targets' must be a DynamicFcosTarget, got " +
                   required("targets")->repr());
  DetectionLossPtr losses[3];
  const char *keys[] = {"loss_cls", "loss_reg", "loss_centerness"};
  for (int i = 0; i < 3; ++i) {
    auto loss = buildDetectionLoss(*required(keys[i]), keys[i]);
    if (!loss)
      return loss.error();
    losses[i] = *loss;
  }
  try {
    return std::shared_ptr<const FcosLoss>(std::make_shared<FcosLoss>(
        *targetPtr, losses[0], losses[1], losses[2]));
  } catch (const std::invalid_argument &e) {
    return located(std::string("FCOS: ") + e.what());
  }
}

} // namespace hat::engine
