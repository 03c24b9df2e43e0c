//===- Datasets.h - Datasets by HAT's config names ------------------------===//
#ifndef HAT_DATA_DATASETS_H
#define HAT_DATA_DATASETS_H

#include "hat/Data/Idx.h"
#include "hat/Data/Lmdb.h"
#include "hat/Data/Sample.h"
#include "hat/Data/Transforms.h"

#include <memory>
#include <string>
#include <vector>

namespace hat::data {

/// A random-access dataset. load() reads and decodes one sample; get() also
/// runs the transforms with the sample's own RNG. Both are const and
/// thread-safe; failures throw DataError naming source, key and reason.
class Dataset {
public:
  explicit Dataset(std::vector<TransformPtr> transforms)
      : transforms_(std::move(transforms)) {}
  virtual ~Dataset();

  virtual std::size_t size() const = 0;
  virtual Sample load(std::size_t index) const = 0;
  virtual const std::vector<std::string> &classNames() const = 0;

  Sample get(std::size_t index, uint64_t seed, uint64_t epoch) const;
  const std::vector<TransformPtr> &transforms() const { return transforms_; }

private:
  std::vector<TransformPtr> transforms_;
};

using DatasetPtr = std::shared_ptr<const Dataset>;

/// Base of the LMDB-backed datasets: opens the LMDB, checks its schema
/// version and that its format is one this dataset reads.
class LmdbDataset : public Dataset {
public:
  LmdbDataset(const std::string &dataPath, std::vector<TransformPtr> transforms,
              const std::vector<std::string> &acceptedFormats,
              const char *datasetName);
  std::size_t size() const override { return reader_->size(); }
  Sample load(std::size_t index) const override;
  const std::vector<std::string> &classNames() const override {
    return reader_->meta().classNames;
  }
  const LmdbReader &reader() const { return *reader_; }

private:
  std::unique_ptr<LmdbReader> reader_;
};

/// Decodes a record's image and annotation into a Sample, checking that the
/// annotation fits the image; throws DataError with `source` and the key.
Sample decodeSample(const RecordData &record, const std::string &source,
                    std::size_t numClasses);

struct ImageNetFromLMDBOptions {
  std::string data_path;
  std::vector<TransformPtr> transforms;
};
/// Classification records (imagefolder or fashion-mnist packs).
class ImageNetFromLMDB : public LmdbDataset {
public:
  explicit ImageNetFromLMDB(ImageNetFromLMDBOptions options);
};

struct CocoFromLMDBOptions {
  std::string data_path;
  std::vector<TransformPtr> transforms;
};
/// COCO-format detection records. HAT's `Coco` with an LMDB data_path is the
/// same dataset, hence the alias.
class CocoFromLMDB : public LmdbDataset {
public:
  explicit CocoFromLMDB(CocoFromLMDBOptions options);
};
using Coco = CocoFromLMDB;
using CocoOptions = CocoFromLMDBOptions;

struct CuLaneFromLMDBOptions {
  std::string data_path;
  std::vector<TransformPtr> transforms;
  /// Images are RGB (colorSpace "rgb") before the transforms run. The
  /// config's CuLaneDataset defaults it to true as HAT does,
  /// CuLaneFromLMDB to false.
  bool to_rgb = false;
};
/// Registered as CuLaneFromLMDB and as HAT's CuLaneDataset.
class CuLaneFromLMDB : public LmdbDataset {
public:
  explicit CuLaneFromLMDB(CuLaneFromLMDBOptions options);
  Sample load(std::size_t index) const override;

private:
  bool toRgb_ = false;
};

struct FashionMNISTOptions {
  /// A packed LMDB, or a directory of the four IDX .gz files.
  std::string data_path = kDefaultFashionMnistDir;
  /// For an IDX directory: the training split, else t10k ("val").
  bool train = true;
  std::vector<TransformPtr> transforms;
};
/// Fashion-MNIST as 28x28 grey images with labels, straight from the IDX files
/// (no packing needed) or from a fashion-mnist LMDB.
class FashionMNIST : public Dataset {
public:
  explicit FashionMNIST(FashionMNISTOptions options);
  std::size_t size() const override;
  Sample load(std::size_t index) const override;
  const std::vector<std::string> &classNames() const override;

private:
  std::unique_ptr<LmdbDataset> lmdb_;
  FashionMnistSplit idx_;
};

} // namespace hat::data

#endif // HAT_DATA_DATASETS_H
