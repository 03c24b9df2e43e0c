//===- CocoJson.h - COCO ground truth and result files ----------*- C++ -*-===//
//
// Reads COCO instance annotations and COCO detection results (the format of
// pycocotools' loadRes: a JSON array of {image_id, category_id, bbox
// [x, y, w, h], score}) into the evaluator's structs, and writes results.
// Bad input is refused with CocoFormatError naming the file and the entry;
// what COCO tolerates is accepted and, where it is likely a mistake,
// reported as a warning:
//
//   refused: not JSON / empty file (with line and column), NaN or Infinity
//     (not JSON; Python writes them for NaN scores), missing or mistyped
//     fields, non-integer ids, non-finite numbers, bbox not 4 numbers,
//     duplicate image/category/annotation ids, annotations or detections
//     naming an image or category the ground truth does not have (pycocotools
//     asserts on unknown images and silently drops unknown categories: a
//     silent drop hides a label-mapping bug, so it is refused here), GT
//     annotations without "area".
//   accepted as COCO does: images without objects (their detections are
//     false positives), categories without detections, boxes outside the
//     image, degenerate boxes (w or h <= 0: they overlap nothing), negative
//     scores, an empty result array (every AP is 0, AP -1 without objects;
//     pycocotools itself crashes on it), a missing "iscrowd" (taken as 0).
//   warned about: annotation id 0 (see CocoEval.h), degenerate GT boxes, GT
//     boxes reaching outside their image, an empty result array.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_DETECTION_COCOJSON_H
#define HAT_DETECTION_COCOJSON_H

#include "hat/Detection/CocoEval.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace hat::detection {

class CocoFormatError : public std::runtime_error {
public:
  CocoFormatError(std::string file, std::string entry, std::string reason);
  const std::string &file() const { return file_; }
  const std::string &entry() const { return entry_; }
  const std::string &reason() const { return reason_; }

private:
  std::string file_, entry_, reason_;
};

/// Parses COCO instances JSON text; `file` names it in errors and warnings.
CocoGroundTruth
parseCocoGroundTruth(const std::string &text, const std::string &file,
                     std::vector<std::string> *warnings = nullptr);
CocoGroundTruth
loadCocoGroundTruth(const std::string &path,
                    std::vector<std::string> *warnings = nullptr);

/// Parses a COCO results array against `groundTruth` (for the image and
/// category checks).
std::vector<DetectionBox>
parseCocoDetections(const std::string &text, const std::string &file,
                    const CocoGroundTruth &groundTruth,
                    std::vector<std::string> *warnings = nullptr);
std::vector<DetectionBox>
loadCocoDetections(const std::string &path, const CocoGroundTruth &groundTruth,
                   std::vector<std::string> *warnings = nullptr);

/// The results array pycocotools' loadRes reads (numbers printed so that
/// they read back to the same doubles). Throws CocoFormatError for a
/// non-finite box or score (JSON cannot hold it).
std::string cocoDetectionsToJson(const std::vector<DetectionBox> &detections);
/// Writes it to `path`; throws CocoFormatError when the file can't be written.
void writeCocoDetections(const std::string &path,
                         const std::vector<DetectionBox> &detections);

} // namespace hat::detection

#endif // HAT_DETECTION_COCOJSON_H
