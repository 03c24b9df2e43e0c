//===- DetrLosses.cpp - Hungarian matcher and set criterion ---------------===//

#include "hat/Engine/DetrLosses.h"

#include "hat/Config/Registry.h"
#include "hat/Detection/Assignment.h"
#include "hat/Engine/Builders.h"
#include "hat/Engine/DetectionLosses.h"

#include <ATen/ATen.h>

#include <cmath>
#include <stdexcept>

namespace hat::engine {

at::Tensor boxCxcywhToXyxy(const at::Tensor &boxes) {
  const at::Tensor c = boxes.narrow(-1, 0, 2), s = boxes.narrow(-1, 2, 2);
  return at::cat({c - 0.5 * s, c + 0.5 * s}, -1);
}

at::Tensor pairwiseGIoU(const at::Tensor &a, const at::Tensor &b) {
  const at::Tensor areaA =
      (a.select(1, 2) - a.select(1, 0)) * (a.select(1, 3) - a.select(1, 1));
  const at::Tensor areaB =
      (b.select(1, 2) - b.select(1, 0)) * (b.select(1, 3) - b.select(1, 1));
  const at::Tensor lt =
      at::max(a.unsqueeze(1).narrow(2, 0, 2), b.unsqueeze(0).narrow(2, 0, 2));
  const at::Tensor rb =
      at::min(a.unsqueeze(1).narrow(2, 2, 2), b.unsqueeze(0).narrow(2, 2, 2));
  const at::Tensor wh = (rb - lt).clamp_min(0);
  const at::Tensor inter = wh.select(2, 0) * wh.select(2, 1);
  const at::Tensor unionArea = areaA.unsqueeze(1) + areaB.unsqueeze(0) - inter;
  const at::Tensor iou = inter / unionArea;
  const at::Tensor ltC =
      at::min(a.unsqueeze(1).narrow(2, 0, 2), b.unsqueeze(0).narrow(2, 0, 2));
  const at::Tensor rbC =
      at::max(a.unsqueeze(1).narrow(2, 2, 2), b.unsqueeze(0).narrow(2, 2, 2));
  const at::Tensor whC = (rbC - ltC).clamp_min(0);
  const at::Tensor areaC = whC.select(2, 0) * whC.select(2, 1);
  return iou - (areaC - unionArea) / areaC;
}

namespace {
void checkOutputs(const at::Tensor &logits, const at::Tensor &boxes,
                  const SetTargets &targets) {
  if (logits.dim() != 3 || boxes.dim() != 3 || boxes.size(2) != 4 ||
      logits.size(0) != boxes.size(0) || logits.size(1) != boxes.size(1))
    throw std::invalid_argument(
        "DETR outputs: logits must be [N, Q, C] and boxes [N, Q, 4], got " +
        tensorShapeText(logits) + " and " + tensorShapeText(boxes));
  const auto images = static_cast<size_t>(logits.size(0));
  if (targets.labels.size() != images || targets.boxes.size() != images)
    throw std::invalid_argument(
        "DETR targets: " + std::to_string(targets.labels.size()) +
        " label and " + std::to_string(targets.boxes.size()) +
        " box tensors for " + std::to_string(images) + " images");
  for (size_t n = 0; n < images; ++n) {
    const at::Tensor &l = targets.labels[n], &b = targets.boxes[n];
    if (l.dim() != 1 || b.dim() != 2 || b.size(1) != 4 ||
        l.size(0) != b.size(0))
      throw std::invalid_argument("DETR targets of image " + std::to_string(n) +
                                  ": labels " + tensorShapeText(l) +
                                  ", boxes " + tensorShapeText(b));
    if (l.numel() && (l.min().item<int64_t>() < 0 ||
                      l.max().item<int64_t>() >= logits.size(2)))
      throw std::invalid_argument("DETR targets of image " + std::to_string(n) +
                                  ": a label is outside 0.." +
                                  std::to_string(logits.size(2) - 1));
  }
}
} // namespace

HungarianMatcher::HungarianMatcher(HungarianMatcherOptions options)
    : options_(options) {
  if (options_.costClass == 0 && options_.costBbox == 0 &&
      options_.costGiou == 0)
    throw std::invalid_argument("HungarianMatcher: all costs can't be 0");
}

at::Tensor HungarianMatcher::costMatrix(const at::Tensor &logits,
                                        const at::Tensor &boxes,
                                        const SetTargets &targets,
                                        int64_t n) const {
  at::NoGradGuard noGrad;
  const at::Tensor prob = logits[n].sigmoid();
  const at::Tensor labels = targets.labels[n].to(at::kLong);
  const at::Tensor tgt = targets.boxes[n].to(boxes.scalar_type());
  const double a = options_.focalAlpha, g = options_.focalGamma;
  const at::Tensor neg = (1 - a) * prob.pow(g) * -(1 - prob + 1e-8).log();
  const at::Tensor pos = a * (1 - prob).pow(g) * -(prob + 1e-8).log();
  const at::Tensor costClass =
      pos.index_select(1, labels) - neg.index_select(1, labels);
  const at::Tensor costBbox = at::cdist(boxes[n], tgt, 1);
  const at::Tensor costGiou =
      -pairwiseGIoU(boxCxcywhToXyxy(boxes[n]), boxCxcywhToXyxy(tgt));
  return options_.costBbox * costBbox + options_.costClass * costClass +
         options_.costGiou * costGiou;
}

std::vector<std::pair<at::Tensor, at::Tensor>>
HungarianMatcher::match(const at::Tensor &logits, const at::Tensor &boxes,
                        const SetTargets &targets) const {
  checkOutputs(logits, boxes, targets);
  std::vector<std::pair<at::Tensor, at::Tensor>> result;
  for (int64_t n = 0; n < logits.size(0); ++n) {
    const int64_t queries = logits.size(1);
    const int64_t objects = targets.labels[n].size(0);
    if (objects == 0) {
      result.emplace_back(at::empty({0}, at::kLong), at::empty({0}, at::kLong));
      continue;
    }
    at::Tensor cost =
        costMatrix(logits, boxes, targets, n).to(at::kCPU, at::kDouble);
    cost = cost.contiguous();
    std::vector<double> values(cost.data_ptr<double>(),
                               cost.data_ptr<double>() + cost.numel());
    std::vector<std::pair<std::size_t, std::size_t>> pairs;
    try {
      pairs = detection::linearSumAssignment(values, queries, objects);
    } catch (const std::invalid_argument &e) {
      throw std::invalid_argument("HungarianMatcher, image " +
                                  std::to_string(n) + ": " + e.what());
    }
    at::Tensor q = at::empty({(int64_t)pairs.size()}, at::kLong);
    at::Tensor o = at::empty({(int64_t)pairs.size()}, at::kLong);
    for (size_t k = 0; k < pairs.size(); ++k) {
      q[k] = static_cast<int64_t>(pairs[k].first);
      o[k] = static_cast<int64_t>(pairs[k].second);
    }
    result.emplace_back(q, o);
  }
  return result;
}

SetCriterion::SetCriterion(HungarianMatcher matcher,
                           SetCriterionOptions options)
    : matcher_(std::move(matcher)), options_(options) {}

std::vector<std::pair<std::string, at::Tensor>> SetCriterion::operator()(
    const std::vector<std::pair<at::Tensor, at::Tensor>> &layers,
    const SetTargets &targets) const {
  if (layers.empty())
    throw std::invalid_argument("SetCriterion: no decoder outputs");
  int64_t total = 0;
  for (const at::Tensor &l : targets.labels)
    total += l.size(0);
  const double numBoxes = std::max<double>(static_cast<double>(total), 1.0);
  std::vector<std::pair<std::string, at::Tensor>> losses;
  // The last layer first (its losses have no suffix), then the others.
  std::vector<size_t> order = {layers.size() - 1};
  for (size_t i = 0; i + 1 < layers.size(); ++i)
    order.push_back(i);
  for (size_t i : order) {
    const at::Tensor &logits = layers[i].first, &boxes = layers[i].second;
    const auto matches = matcher_.match(logits, boxes, targets);
    const std::string suffix =
        i + 1 == layers.size() ? "" : "_" + std::to_string(i);
    // Classification: one-hot targets of the matched queries.
    at::Tensor onehot = at::zeros_like(logits);
    std::vector<at::Tensor> srcBoxes, tgtBoxes;
    for (size_t n = 0; n < matches.size(); ++n) {
      const auto &[q, o] = matches[n];
      if (q.numel() == 0)
        continue;
      const at::Tensor labels =
          targets.labels[n].to(at::kLong).index_select(0, o);
      onehot[static_cast<int64_t>(n)].index_put_(
          {q.to(logits.device()), labels.to(logits.device())},
          at::ones({q.numel()}, logits.options()));
      srcBoxes.push_back(
          boxes[static_cast<int64_t>(n)].index_select(0, q.to(boxes.device())));
      tgtBoxes.push_back(targets.boxes[n]
                             .to(boxes.device(), boxes.scalar_type())
                             .index_select(0, o.to(boxes.device())));
    }
    const double a = options_.focalAlpha, g = options_.focalGamma;
    const at::Tensor prob = logits.sigmoid();
    const at::Tensor ce = at::binary_cross_entropy_with_logits(
        logits, onehot, {}, {}, at::Reduction::None);
    const at::Tensor pt = prob * onehot + (1 - prob) * (1 - onehot);
    const at::Tensor alphaT = a * onehot + (1 - a) * (1 - onehot);
    const at::Tensor focal = alphaT * ce * (1 - pt).pow(g);
    losses.emplace_back("loss_ce" + suffix,
                        options_.lossCe * focal.sum() / numBoxes);
    if (srcBoxes.empty()) {
      // No object: zero losses still connected to the boxes.
      losses.emplace_back("loss_bbox" + suffix, boxes.sum() * 0.0);
      losses.emplace_back("loss_giou" + suffix, boxes.sum() * 0.0);
      continue;
    }
    const at::Tensor src = at::cat(srcBoxes), tgt = at::cat(tgtBoxes);
    losses.emplace_back("loss_bbox" + suffix,
                        options_.lossBbox * (src - tgt).abs().sum() / numBoxes);
    const at::Tensor giou =
        pairwiseGIoU(boxCxcywhToXyxy(src), boxCxcywhToXyxy(tgt)).diagonal();
    losses.emplace_back("loss_giou" + suffix,
                        options_.lossGiou * (1 - giou).sum() / numBoxes);
  }
  return losses;
}

SetTargets setTargetsFromBoxes(const std::vector<at::Tensor> &boxes,
                               const std::vector<at::Tensor> &labels,
                               int64_t height, int64_t width) {
  if (boxes.size() != labels.size())
    throw std::invalid_argument(
        "DETR targets: " + std::to_string(boxes.size()) + " box and " +
        std::to_string(labels.size()) + " label tensors");
  if (height < 1 || width < 1)
    throw std::invalid_argument("DETR targets: the input size must be "
                                "positive");
  SetTargets targets;
  const at::Tensor scale =
      at::tensor({1.f / float(width), 1.f / float(height), 1.f / float(width),
                  1.f / float(height)});
  for (size_t n = 0; n < boxes.size(); ++n) {
    at::Tensor b = boxes[n].to(at::kCPU, at::kFloat).reshape({-1, 4});
    at::Tensor l = labels[n].to(at::kCPU, at::kLong).reshape({-1});
    if (b.size(0) != l.size(0))
      throw std::invalid_argument("DETR targets of image " + std::to_string(n) +
                                  ": " + std::to_string(b.size(0)) +
                                  " boxes and " + std::to_string(l.size(0)) +
                                  " labels");
    const at::Tensor keep = l.ge(0).nonzero().reshape({-1});
    b = b.index_select(0, keep) * scale;
    l = l.index_select(0, keep);
    const at::Tensor x1 = b.select(1, 0), y1 = b.select(1, 1),
                     x2 = b.select(1, 2), y2 = b.select(1, 3);
    targets.boxes.push_back(
        at::stack({(x1 + x2) * 0.5, (y1 + y2) * 0.5, x2 - x1, y2 - y1}, 1));
    targets.labels.push_back(l);
  }
  return targets;
}

namespace {
using MatcherPtr = std::shared_ptr<const HungarianMatcher>;
using CriterionPtr = std::shared_ptr<const SetCriterion>;

double nonNegative(const config::BuildArgs &args, const std::string &name,
                   double fallback) {
  const double v = numberKwarg(args, name, fallback);
  if (!(v >= 0) || !std::isfinite(v))
    throw EngineError(
        args.error("'" + name + "' must be a finite number >= 0").str());
  return v;
}

config::Expected<std::any> buildMatcher(const config::BuildArgs &args) {
  try {
    HungarianMatcherOptions o;
    o.costClass = nonNegative(args, "cost_class", o.costClass);
    o.costBbox = nonNegative(args, "cost_bbox", o.costBbox);
    o.costGiou = nonNegative(args, "cost_giou", o.costGiou);
    o.focalAlpha = nonNegative(args, "focal_alpha", o.focalAlpha);
    o.focalGamma = nonNegative(args, "focal_gamma", o.focalGamma);
    return std::any(MatcherPtr(std::make_shared<HungarianMatcher>(o)));
  } catch (const EngineError &e) {
    return config::Diagnostic(e.what());
  } catch (const std::invalid_argument &e) {
    return args.error(e.what());
  }
}

config::Expected<std::any> buildCriterion(const config::BuildArgs &args) {
  try {
    MatcherPtr matcher =
        args.has("matcher")
            ? buildAs<MatcherPtr>(args.get("matcher"), "matcher")
            : std::make_shared<HungarianMatcher>(HungarianMatcherOptions{});
    SetCriterionOptions o;
    o.lossCe = nonNegative(args, "loss_ce", o.lossCe);
    o.lossBbox = nonNegative(args, "loss_bbox", o.lossBbox);
    o.lossGiou = nonNegative(args, "loss_giou", o.lossGiou);
    o.focalAlpha = nonNegative(args, "focal_alpha", o.focalAlpha);
    o.focalGamma = nonNegative(args, "focal_gamma", o.focalGamma);
    if (o.focalAlpha > 1)
      throw EngineError(args.error("'focal_alpha' must be in [0, 1]").str());
    return std::any(CriterionPtr(std::make_shared<SetCriterion>(*matcher, o)));
  } catch (const EngineError &e) {
    return config::Diagnostic(e.what());
  } catch (const std::invalid_argument &e) {
    return args.error(e.what());
  }
}
} // namespace

HAT_REGISTER("matcher", {"HungarianMatcher"},
             config::KwargSpec{{},
                               {"cost_class", "cost_bbox", "cost_giou",
                                "focal_alpha", "focal_gamma"}},
             buildMatcher);

HAT_REGISTER("criterion", {"SetCriterion"},
             config::KwargSpec{{},
                               {"matcher", "loss_ce", "loss_bbox", "loss_giou",
                                "focal_alpha", "focal_gamma"}},
             buildCriterion);

config::Expected<std::shared_ptr<const SetCriterion>>
buildSetCriterion(const config::Value &detrModelConfig) {
  if (!detrModelConfig.isDict())
    return config::Diagnostic("a DeformableDETR model config must be a dict, "
                              "got " +
                              detrModelConfig.repr());
  const config::DictData &dict = detrModelConfig.asDict();
  const config::Value *criterion = dict.find("criterion");
  if (!criterion || criterion->isNone())
    return dict.loc.valid()
               ? config::Diagnostic(dict.loc, "DeformableDETR needs "
                                              "'criterion' to train")
               : config::Diagnostic("DeformableDETR needs 'criterion' to "
                                    "train");
  auto built = config::Registry::instance().build(*criterion, "criterion");
  if (!built)
    return built.error();
  if (auto *c = std::any_cast<CriterionPtr>(&*built))
    return *c;
  return config::Diagnostic("DeformableDETR 'criterion' must be a "
                            "SetCriterion, got " +
                            criterion->repr());
}

} // namespace hat::engine
