//===- Draw.h - Drawing detections on an image (OpenCV) ---------*- C++ -*-===//
//
// For --visualize in hat-infer / hat-run. Kept out of HatDetection so the
// evaluator and the decoder stay OpenCV-free: link HatDetectionDraw.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_DETECTION_DRAW_H
#define HAT_DETECTION_DRAW_H

#include "hat/Detection/FcosDecode.h"

#include <opencv2/core.hpp>

#include <string>
#include <vector>

namespace hat::detection {

struct DrawOptions {
  /// Detections scoring below this are not drawn.
  float minScore = 0.0f;
  int thickness = 2;
  double fontScale = 0.45;
};

/// A fixed, distinct BGR colour per label (stable across runs and images).
cv::Scalar labelColor(int label);

/// Draws each detection's box and a "name score" tag (e.g. "dress 0.87") on
/// an 8-bit BGR or grey image in place. A label without a name is drawn as
/// its number.
void drawDetections(cv::Mat &image, const ImageDetections &detections,
                    const std::vector<std::string> &classNames,
                    const DrawOptions &options = {});

} // namespace hat::detection

#endif // HAT_DETECTION_DRAW_H
