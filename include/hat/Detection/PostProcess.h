//===- PostProcess.h - A detector's CPU post-processing by name -*- C++ -*-===//
//
// What runs on the CPU after the network of a detector, shared by the
// trainer's predict path (int_infer included), hat-infer and hat-run: the
// network's named float outputs and the `hat.post_process` description the
// lowering recorded (an HBM carries the same JSON) go in; per-image
// detections in original-image pixels come out.
//
//   DetectionPostProcessor pp = DetectionPostProcessor::fromJson(json);
//   auto dets = pp.decode(outputs);          // network-input pixels
//   pp.toOriginalImage(dets[i], meta[i]);    // undo Pad / Resize
//
// Torch-free: outputs are plain float buffers with their shapes.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_DETECTION_POSTPROCESS_H
#define HAT_DETECTION_POSTPROCESS_H

#include "hat/Detection/DetrDecode.h"
#include "hat/Detection/FcosDecode.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace hat::detection {

/// One network output: name (the function result's hat.name), NCHW shape
/// and contiguous float32 data (not owned).
struct NamedOutput {
  std::string name;
  std::vector<int64_t> shape;
  const float *data = nullptr;
};

/// "[2, 1, 40, 100]": a shape for error messages.
std::string shapeText(const std::vector<int64_t> &shape);

/// Where an image of a collated batch came from: the data pipeline's resize
/// factors, the region of the batch tensor holding the image (Pad and
/// collate_2d pad right/bottom) and the stored image's size.
struct ImageMeta {
  int64_t imageId = -1;
  float scaleX = 1, scaleY = 1;
  /// x1, y1, x2, y2 in network-input pixels.
  std::array<float, 4> validRegion{0, 0, 0, 0};
  int64_t originalHeight = 0, originalWidth = 0;
};

class DetectionPostProcessor {
public:
  /// The detector family the description decodes.
  enum class Kind { Fcos, Detr };

  /// Parses a `hat.post_process` JSON object. Its "type" is
  /// "FCOSMultiStrideFilter", whose "outputs" name the cls, bbox and
  /// centerness outputs per stride, or "DeformableDETRPostProcess", whose
  /// "outputs" name the "logits" and "boxes" outputs (DetrDecode.h). Throws
  /// FcosDecodeError naming the key on a malformed description.
  static DetectionPostProcessor fromJson(const std::string &json);

  /// Decodes a batch; `outputs` must contain every output the description
  /// names, with the same N (FCOS: each [N, C, H, W]; DETR: [N, Q, C] and
  /// [N, Q, 4]). Throws FcosDecodeError naming the output for a missing one
  /// or a wrong shape.
  std::vector<ImageDetections>
  decode(const std::vector<NamedOutput> &outputs) const;

  /// Network-input pixels to the stored image: boxes are clipped to the
  /// valid region, moved by its origin, divided by the scale factors and
  /// clamped to the original size.
  static void toOriginalImage(ImageDetections &detections,
                              const ImageMeta &meta);

  Kind kind() const { return kind_; }
  int numClasses() const { return numClasses_; }
  const FcosDecodeOptions &options() const { return options_; }
  FcosDecodeOptions &options() { return options_; }
  /// Output names per level, in stride order.
  const std::vector<std::string> &clsOutputs() const { return cls_; }
  const std::vector<std::string> &bboxOutputs() const { return bbox_; }
  const std::vector<std::string> &centernessOutputs() const {
    return centerness_;
  }
  /// DETR: the class logits and box outputs of the last decoder layer.
  const std::string &logitsOutput() const { return logits_; }
  const std::string &boxesOutput() const { return boxes_; }
  const DetrDecodeOptions &detrOptions() const { return detrOptions_; }

private:
  std::vector<ImageDetections>
  decodeDetrOutputs(const std::vector<NamedOutput> &outputs) const;

  Kind kind_ = Kind::Fcos;
  FcosDecodeOptions options_;
  DetrDecodeOptions detrOptions_;
  std::string logits_, boxes_;
  int numClasses_ = 0;
  std::vector<std::string> cls_, bbox_, centerness_;
};

} // namespace hat::detection

#endif // HAT_DETECTION_POSTPROCESS_H
