//===- Pack.h - Packing source datasets into LMDB, synthesizing samples ---===//
#ifndef HAT_DATA_PACK_H
#define HAT_DATA_PACK_H

#include "hat/Data/Record.h"

#include <cstdint>
#include <functional>
#include <string>

namespace hat::data {

struct PackOptions {
  std::string format; // fashion-mnist | imagefolder | coco | culane
  std::string src;
  std::string split = "train"; // train | val
  std::string out;
  std::size_t limit = 0; // 0: every sample
  bool overwrite = false;
  /// "fail" stops at the first bad source sample; "skip" leaves it out.
  std::string on_error = "fail";
  /// Only for producing old-schema LMDBs in tests of the refusal path.
  uint32_t schemaVersion = kRecordSchemaVersion;
  /// Called as (done, total) while packing.
  std::function<void(std::size_t, std::size_t)> progress;
};

struct PackResult {
  std::size_t count = 0, skipped = 0;
  std::vector<std::string> errors;
};

/// Packs one split; throws DataError (source, key, reason) on failure, and
/// leaves `out` untouched unless the pack completes.
PackResult pack(const PackOptions &options);

/// Bounds of `--size` and `--num-images`: a 8192² image is 200 MB decoded,
/// and a million synthetic images is far past what a stand-in dataset needs.
constexpr int kMaxSynthesizeSize = 8192;
constexpr std::size_t kMaxSynthesizeImages = 1'000'000;

struct SynthesizeOptions {
  std::string kind; // fashion-det | culane
  std::string out;
  std::string split = "train";
  std::size_t numImages = 100;
  int size = 256; // fashion-det: square side; culane: image width
  uint64_t seed = 0;
  std::string fashionMnistDir; // default: Debian's dataset-fashion-mnist
  std::function<void(std::size_t, std::size_t)> progress;
};

/// fashion-det: COCO-format images (<split>2017/*.jpg) and
/// annotations/instances_<split>2017.json with real Fashion-MNIST items on
/// textured backgrounds. culane: CuLane-format images, .lines.txt and
/// list/<split>.txt with synthetic lanes. Deterministic for a seed. Sizes
/// are checked before anything is written, and a run that fails removes
/// what it created.
void synthesize(const SynthesizeOptions &options);

} // namespace hat::data

#endif // HAT_DATA_PACK_H
