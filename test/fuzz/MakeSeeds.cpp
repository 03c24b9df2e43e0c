//===- MakeSeeds.cpp - Writes the binary seed corpus of the record fuzzer -===//
//
// The record seeds in test/fuzz/record are flatbuffers records as hat-pack
// writes them; this program regenerates them:
//   cmake --build build-fuzz --target hat-fuzz-make-seeds
//   build-fuzz/bin/hat-fuzz-make-seeds test/fuzz/record
//
//===----------------------------------------------------------------------===//

#include "hat/Data/Record.h"

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

using namespace hat::data;

namespace {
std::vector<uint8_t> image(int width, int height, int channels,
                           const std::string &extension) {
  cv::Mat pixels(height, width, channels == 1 ? CV_8UC1 : CV_8UC3);
  cv::randu(pixels, 0, 255);
  std::vector<uint8_t> bytes;
  cv::imencode(extension, pixels, bytes);
  return bytes;
}

void write(const std::string &path, const std::vector<uint8_t> &bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char *>(bytes.data()),
            std::streamsize(bytes.size()));
  if (!out) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}
} // namespace

int main(int argc, char **argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUTPUT_DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];

  RecordData classification;
  classification.key = recordKey(0);
  classification.fileName = "train/0.png";
  classification.image = image(8, 8, 1, ".png");
  classification.width = classification.height = 8;
  classification.channels = 1;
  classification.label = 3;
  write(dir + "/classification-png.rec", encodeRecord(classification));

  RecordData detection;
  detection.key = recordKey(7);
  detection.fileName = "val/000007.jpg";
  detection.encoding = ImageEncoding::Jpeg;
  detection.image = image(16, 12, 3, ".jpg");
  detection.width = 16;
  detection.height = 12;
  detection.channels = 3;
  detection.imageId = 7;
  detection.objects = {{1, 1, 9, 8, 1, 0, false, 56},
                       {4, 2, 15, 11, 3, 2, true, 99}};
  write(dir + "/detection-jpeg.rec", encodeRecord(detection));

  RecordData lanes = classification;
  lanes.key = recordKey(2);
  lanes.fileName = "driver/2.png";
  lanes.image = image(10, 6, 3, ".png");
  lanes.width = 10;
  lanes.height = 6;
  lanes.channels = 3;
  lanes.label = -1;
  lanes.lanes = {{0, 5, 4, 3, 8, 1}, {9, 5, 7, 0}};
  write(dir + "/lanes-png.rec", encodeRecord(lanes));

  DatasetMeta meta;
  meta.format = "coco";
  meta.split = "val";
  meta.count = 2;
  meta.classNames = {"shirt", "bag", "shoe"};
  meta.categoryIds = {1, 3, 7};
  meta.source = "fashion_det";
  meta.createdBy = "hat-pack";
  write(dir + "/meta.rec", encodeMeta(meta));
  return 0;
}
