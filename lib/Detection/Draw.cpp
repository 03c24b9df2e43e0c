//===- Draw.cpp - Drawing detections on an image (OpenCV) -----------------===//

#include "hat/Detection/Draw.h"

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdio>

namespace hat::detection {

cv::Scalar labelColor(int label) {
  // Golden-ratio steps around the hue circle keep neighbouring labels apart.
  const double hue = std::fmod(0.61803398875 * (label + 1), 1.0) * 180.0;
  cv::Mat hsv(1, 1, CV_8UC3, cv::Scalar(hue, 200, 255)), bgr;
  cv::cvtColor(hsv, bgr, cv::COLOR_HSV2BGR);
  const cv::Vec3b c = bgr.at<cv::Vec3b>(0, 0);
  return cv::Scalar(c[0], c[1], c[2]);
}

void drawDetections(cv::Mat &image, const ImageDetections &detections,
                    const std::vector<std::string> &classNames,
                    const DrawOptions &options) {
  if (image.depth() != CV_8U ||
      (image.channels() != 3 && image.channels() != 1))
    throw std::invalid_argument(
        "drawDetections: expects an 8-bit BGR or grey image");
  if (image.channels() == 1)
    cv::cvtColor(image, image, cv::COLOR_GRAY2BGR);
  for (std::size_t i = 0; i < detections.size(); ++i) {
    if (detections.scores[i] < options.minScore)
      continue;
    const Box &box = detections.boxes[i];
    const int label = detections.labels[i];
    const cv::Scalar color = labelColor(label);
    const cv::Point p1(static_cast<int>(std::lround(box.x1)),
                       static_cast<int>(std::lround(box.y1)));
    const cv::Point p2(static_cast<int>(std::lround(box.x2)),
                       static_cast<int>(std::lround(box.y2)));
    cv::rectangle(image, p1, p2, color, options.thickness, cv::LINE_8);

    char score[16];
    std::snprintf(score, sizeof(score), " %.2f", detections.scores[i]);
    const std::string name =
        label >= 0 && static_cast<std::size_t>(label) < classNames.size()
            ? classNames[label]
            : std::to_string(label);
    const std::string text = name + score;
    int baseline = 0;
    const cv::Size size = cv::getTextSize(text, cv::FONT_HERSHEY_SIMPLEX,
                                          options.fontScale, 1, &baseline);
    // The tag sits above the box, or inside it at the top edge of the image.
    const int top = p1.y - size.height - baseline >= 0
                        ? p1.y - size.height - baseline
                        : p1.y;
    cv::rectangle(image, cv::Point(p1.x, top),
                  cv::Point(p1.x + size.width, top + size.height + baseline),
                  color, cv::FILLED);
    cv::putText(image, text, cv::Point(p1.x, top + size.height),
                cv::FONT_HERSHEY_SIMPLEX, options.fontScale,
                cv::Scalar(0, 0, 0), 1, cv::LINE_AA);
  }
}

} // namespace hat::detection
