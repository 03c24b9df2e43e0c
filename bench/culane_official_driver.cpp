//===- culane_official_driver.cpp - Per-image output of the official tool -===//
//
// Not part of the HAT build: bench/culane-verify.sh compiles it together
// with the official CULane evaluator's sources (SCNN tools/lane_evaluation)
// to print, for every image of a list, what that code decides:
//
//   IMAGE TP FP FN | MATCH... | IOU...
//
// MATCH: for each GT lane the prediction it is a true positive with, or -1
// (Counter::count_im_pair); IOU: LaneCompare::get_lane_similarity of every
// (GT lane, prediction) pair, GT-major, printed with %.17g.
// bench/culane_compare.py compares it with hat-culane-eval --per-image.
//
//   culane-official-driver GT_DIR/ PRED_DIR/ LIST WIDTH IOU IMAGE_W IMAGE_H
//
//===----------------------------------------------------------------------===//

#include "counter.hpp"
#include "lane_compare.hpp"

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

// The official reader, from its evaluate.cpp (compiled with main renamed).
void read_lane_file(const std::string &file_name,
                    std::vector<std::vector<cv::Point2f>> &lanes);

int main(int argc, char **argv) {
  if (argc != 8) {
    std::fprintf(stderr,
                 "usage: %s GT_DIR/ PRED_DIR/ LIST WIDTH IOU "
                 "IMAGE_W IMAGE_H\n",
                 argv[0]);
    return 2;
  }
  const std::string gtDir = argv[1], predDir = argv[2];
  const int laneWidth = std::atoi(argv[4]);
  const double threshold = std::atof(argv[5]);
  const int width = std::atoi(argv[6]), height = std::atoi(argv[7]);
  Counter counter(width, height, threshold, laneWidth);
  LaneCompare similarity(width, height, laneWidth, LaneCompare::IOU);
  std::ifstream list(argv[3]);
  std::string image;
  while (std::getline(list, image)) {
    if (image.empty())
      continue;
    // The official naming: the text after the last '.' becomes lines.txt.
    const std::string lanesFile =
        image.substr(0, image.find_last_of('.')) + ".lines.txt";
    std::vector<std::vector<cv::Point2f>> gt, pred;
    read_lane_file(gtDir + lanesFile, gt);
    read_lane_file(predDir + lanesFile, pred);
    const auto outcome = counter.count_im_pair(gt, pred);
    std::printf("%s %ld %ld %ld |", image.c_str(), std::get<1>(outcome),
                std::get<2>(outcome), std::get<4>(outcome));
    for (int match : std::get<0>(outcome))
      std::printf(" %d", match);
    std::printf(" |");
    if (!pred.empty())
      for (const auto &g : gt)
        for (const auto &p : pred)
          std::printf(" %.17g", similarity.get_lane_similarity(g, p));
    std::printf("\n");
  }
  return 0;
}
