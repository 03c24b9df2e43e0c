//===- TestUtil.h - Shared helpers of the HatData tests -------------------===//
#ifndef HAT_TEST_UNIT_DATA_TESTUTIL_H
#define HAT_TEST_UNIT_DATA_TESTUTIL_H

#include "hat/Data/Sample.h"

#include <string>

namespace hat::data::test {

/// A fresh directory under $TMPDIR, removed when the object goes away.
class TempDir {
public:
  TempDir();
  ~TempDir();
  const std::string &path() const { return path_; }
  std::string operator/(const std::string &name) const {
    return path_ + "/" + name;
  }

private:
  std::string path_;
};

/// Debian's dataset-fashion-mnist is installed (tests that need it skip
/// otherwise, saying so).
bool haveFashionMnist();

/// A BGR image whose pixel (x, y) is (x, y, 7): after a nearest-neighbour
/// geometric transform every pixel says where it came from.
cv::Mat coordinateImage(int width, int height);

} // namespace hat::data::test

#endif
