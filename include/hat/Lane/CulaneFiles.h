//===- CulaneFiles.h - CULane annotation files and lists --------*- C++ -*-===//
//
// The CULane file layout the official evaluator reads:
//
//  * a list file names one image per line, relative to the data root, e.g.
//    `/driver_100_30frame/05251517_0433.MP4/00000.jpg` (extra columns, as in
//    train_gt.txt, are ignored; blank lines are skipped);
//  * the lanes of image `a/b.jpg` are in `a/b.lines.txt` under the GT root
//    and under the prediction root: one lane per line, `x y` pairs separated
//    by spaces, in image pixels;
//  * the test categories are nine lists in list/test_split/
//    (test0_normal.txt ... test8_night.txt) that split list/test.txt.
//
// What the official tool accepts is accepted with its meaning; what it gets
// silently wrong is refused with LaneFormatError naming the file and line:
//
//   accepted: an empty .lines.txt (no lanes), a blank line in it (a lane with
//     no points: the official tool counts it as a lane that matches nothing,
//     and so does this one, reporting how many there were), lanes with one
//     point (likewise), points outside the image (drawn and clipped), a
//     missing prediction file (no predictions for that image, counted and
//     reported), images of a category list missing from the evaluated list
//     (counted and reported), predictions for images the list does not name
//     (never read, as in the official tool);
//   refused: a malformed or non-finite number, an odd count of numbers on a
//     line (the official tool silently drops the rest of the line), a
//     missing GT file or list file (the official tool evaluates it as an
//     image without lanes), a missing category list, an image named twice
//     in one list.
//
//===----------------------------------------------------------------------===//

#ifndef HAT_LANE_CULANEFILES_H
#define HAT_LANE_CULANEFILES_H

#include "hat/Lane/CulaneMetric.h"

#include <stdexcept>
#include <string>
#include <vector>

namespace hat::lane {

class LaneFormatError : public std::runtime_error {
public:
  /// `line` is 1-based; 0 when the problem is not on one line.
  LaneFormatError(const std::string &file, std::size_t line,
                  const std::string &reason);
};

/// Parses .lines.txt text; `file` names it in errors.
std::vector<Lane> parseLanesText(const std::string &text,
                                 const std::string &file);
/// Reads a .lines.txt file; throws LaneFormatError when it can't be read.
std::vector<Lane> readLanesFile(const std::string &path);
/// The .lines.txt text of `lanes` (the format of CULane's annotations;
/// floats printed so that they read back to the same floats).
std::string formatLanesText(const std::vector<Lane> &lanes);

/// One image named by a list file.
struct ListEntry {
  std::string image; ///< as written, e.g. /driver_37_30frame/x.MP4/00000.jpg
  std::size_t line = 0;
};
/// The images of a list file; throws LaneFormatError on a missing file or
/// an image named twice.
std::vector<ListEntry> readImageList(const std::string &path);
/// `image` with its extension replaced by .lines.txt, joined to `root`.
std::string culaneLanesPath(const std::string &root, const std::string &image);

struct CulaneDatasetOptions {
  std::string gtRoot, predRoot, listFile;
  /// A directory with the nine CULane split lists, or empty.
  std::string categoryDir;
  CulaneOptions metric;
  /// Worker threads reading and evaluating images (0: one per core).
  unsigned threads = 2;
  /// Keep each image's outcome in CulaneDatasetResult::images.
  bool keepImages = false;
};

struct CulaneCategoryResult {
  std::string name, listFile;
  CulaneCounts counts;
  /// Images of the category list that the evaluated list does not name.
  int64_t notInList = 0;
};

struct CulaneDatasetResult {
  CulaneCounts total;
  std::vector<CulaneCategoryResult> categories; ///< empty without categoryDir
  /// Images of the list in no category list (with categoryDir).
  int64_t uncategorized = 0;
  /// Images without a prediction file (evaluated as having no predictions).
  int64_t missingPredictions = 0;
  /// The first few of them, as paths, for the warning.
  std::vector<std::string> missingPredictionExamples;
  /// With keepImages: each image of the list, in list order.
  std::vector<std::pair<std::string, CulaneImageResult>> images;
};

/// Evaluates every image of the list (official semantics, see above).
CulaneDatasetResult evaluateCulaneDataset(const CulaneDatasetOptions &options);

} // namespace hat::lane

#endif // HAT_LANE_CULANEFILES_H
