//===- Metrics.h - Training and validation metrics --------------*- C++ -*-===//
//
// Metrics are config-built (`dict(type="Accuracy")`) and updated from the
// config's own update functions (`metric.update(batch["labels"], preds)`),
// so they are HostObjects whose `update` method the config can call.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_METRICS_METRICS_H
#define HAT_METRICS_METRICS_H

#include "hat/Config/Value.h"
#include "hat/Detection/CocoAccumulator.h"
#include "hat/Lane/CulaneMetric.h"

#include <ATen/core/Tensor.h>

#include <memory>
#include <string>
#include <vector>

namespace hat::metrics {

class Metric : public config::HostObject {
public:
  /// name -> value, e.g. {("accuracy", 0.93)}; empty before any update.
  virtual std::vector<std::pair<std::string, double>> get() const = 0;
  virtual void reset() = 0;
  /// What the metric has accumulated, as numbers, so data-parallel ranks can
  /// combine their shards: every rank's state is gathered and merged in rank
  /// order. Counts are added; a metric over detections would append the
  /// gathered detections and evaluate them once, on the whole set.
  virtual std::vector<double> state() const = 0;
  /// Adds another rank's state() to this one; a malformed state is an error.
  virtual config::Expected<config::Value>
  mergeState(const std::vector<double> &other) = 0;
  /// The update of the config's `metric.update(...)`.
  virtual config::Expected<config::Value>
  update(const std::vector<config::Value> &args) = 0;

  config::Expected<config::Value>
  callMethod(const std::string &name, const std::vector<config::Value> &args,
             const config::Kwargs &kwargs) override;
};

using MetricPtr = std::shared_ptr<Metric>;

/// Top-1 accuracy over class logits: update(labels, preds).
class Accuracy : public Metric {
public:
  std::string typeName() const override { return "Accuracy"; }
  std::vector<std::pair<std::string, double>> get() const override;
  void reset() override { correct = total = 0; }
  std::vector<double> state() const override {
    return {(double)correct, (double)total};
  }
  config::Expected<config::Value>
  mergeState(const std::vector<double> &other) override;
  config::Expected<config::Value>
  update(const std::vector<config::Value> &args) override;
  void updateTensors(const at::Tensor &labels, const at::Tensor &preds);

private:
  int64_t correct = 0, total = 0;
};

/// Top-k accuracy: update(labels, preds); named "top<k>".
class TopKAccuracy : public Metric {
public:
  explicit TopKAccuracy(int64_t k) : k(k) {}
  std::string typeName() const override { return "TopKAccuracy"; }
  std::vector<std::pair<std::string, double>> get() const override;
  void reset() override { correct = total = 0; }
  std::vector<double> state() const override {
    return {(double)correct, (double)total};
  }
  config::Expected<config::Value>
  mergeState(const std::vector<double> &other) override;
  config::Expected<config::Value>
  update(const std::vector<config::Value> &args) override;

private:
  int64_t k;
  int64_t correct = 0, total = 0;
};

/// Running mean of the losses: update(losses) with a tensor, a list/tuple
/// of tensors or a dict of named tensors.
class LossShow : public Metric {
public:
  std::string typeName() const override { return "LossShow"; }
  std::vector<std::pair<std::string, double>> get() const override;
  void reset() override {
    sums.clear();
    count = 0;
  }
  /// count, then the sum of each loss (names come from the first update:
  /// every rank runs the same model).
  std::vector<double> state() const override;
  config::Expected<config::Value>
  mergeState(const std::vector<double> &other) override;
  config::Expected<config::Value>
  update(const std::vector<config::Value> &args) override;

private:
  std::vector<std::pair<std::string, double>> sums;
  int64_t count = 0;
};

/// HAT's COCODetectionMetric(ann_file=...): collects the detections of a
/// detector's predict outputs (`pred_bboxes`, one [K, 6] tensor per image:
/// x1, y1, x2, y2 in the stored image's pixels, score, 0-based label; and
/// `img_id` [N]) through update(model_outs), and scores them with
/// hat::detection's CocoAccumulator (pycocotools' numbers; only the images
/// seen are evaluated). get() reports "mAP" (AP@[.5:.95], the key
/// checkpoints monitor) and the other eleven COCO numbers; nothing before
/// the first update.
class CocoDetectionMetric : public Metric {
public:
  /// Loads the annotation file; throws std::runtime_error naming it.
  explicit CocoDetectionMetric(const std::string &annFile);
  ~CocoDetectionMetric() override;
  std::string typeName() const override { return "COCODetectionMetric"; }
  std::vector<std::pair<std::string, double>> get() const override;
  void reset() override;
  /// Seen image ids, then the detections (image id, category id, x, y, w,
  /// h, score): every rank's are gathered and evaluated once.
  std::vector<double> state() const override;
  config::Expected<config::Value>
  mergeState(const std::vector<double> &other) override;
  config::Expected<config::Value>
  update(const std::vector<config::Value> &args) override;

  /// Everything collected so far (for hat-infer --out / --visualize).
  const detection::CocoAccumulator &accumulator() const { return *data; }

private:
  std::unique_ptr<detection::CocoAccumulator> data;
};

/// HAT's CulaneF1Score (kwargs: hat::inference::parseCulaneF1Score): the
/// CULane F1 of the official evaluator (hat::lane::CulaneF1Score) over
/// lanes in the stored image's pixels. update(annos, preds) takes, per
/// image, a list of [P, 2] (x, y) tensors: the ground truth (the batch's
/// `ori_gt_lines`) and the predictions (a lane detector's `pred_lanes`, or
/// its predict outputs dict holding them); update(batch, model_outs) reads
/// those two keys. get() reports the F1 under the metric's name, then
/// "precision", "recall" and the lane counts "tp", "fp", "fn".
class CulaneF1ScoreMetric : public Metric {
public:
  CulaneF1ScoreMetric(std::string name, lane::CulaneOptions options);
  std::string typeName() const override { return "CulaneF1Score"; }
  std::vector<std::pair<std::string, double>> get() const override;
  void reset() override { score.reset(); }
  std::vector<double> state() const override { return score.state(); }
  config::Expected<config::Value>
  mergeState(const std::vector<double> &other) override;
  config::Expected<config::Value>
  update(const std::vector<config::Value> &args) override;

private:
  std::string name;
  lane::CulaneF1Score score;
};

/// A metric or a list of metrics built from config.
config::Expected<std::vector<MetricPtr>> buildMetrics(const config::Value &cfg);

} // namespace hat::metrics

#endif // HAT_METRICS_METRICS_H
