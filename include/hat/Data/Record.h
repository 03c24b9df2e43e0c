//===- Record.h - Versioned LMDB record schema ----------------------------===//
//
// C++ views of the flatbuffers tables in lib/Data/Record.fbs. Packing fills a
// RecordData and encodes it; datasets decode and verify it. The meta record
// stored under kMetaKey carries the schema version so that an LMDB written by
// an older (or newer) HAT is refused with a message instead of misread.
//
//===----------------------------------------------------------------------===//
#ifndef HAT_DATA_RECORD_H
#define HAT_DATA_RECORD_H

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace hat::data {

/// Version of the record layout this build writes and reads.
/// v1: first flatbuffers schema (Record/Meta tables, identifiers HATR/HATM).
constexpr uint32_t kRecordSchemaVersion = 1;

/// LMDB key of the meta record; sorts after every zero-padded sample key.
inline constexpr const char *kMetaKey = "__meta__";

/// Zero-padded key of sample `index`, so LMDB order is index order.
std::string recordKey(std::size_t index);

enum class ImageEncoding : int8_t { Png = 0, Jpeg = 1, Other = 2 };

/// Guesses the encoding from the leading bytes of an encoded image.
ImageEncoding sniffEncoding(const std::vector<uint8_t> &bytes);

struct RecordObject {
  float x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  int categoryId = 0;
  int label = 0;
  bool iscrowd = false;
  float area = 0;
};

struct RecordData {
  std::string key;
  std::string fileName;
  ImageEncoding encoding = ImageEncoding::Png;
  std::vector<uint8_t> image;
  int width = 0, height = 0, channels = 0;
  int label = -1;
  int64_t imageId = -1;
  std::vector<RecordObject> objects;
  /// Each lane is x0, y0, x1, y1, ... in stored-image pixels.
  std::vector<std::vector<float>> lanes;
};

struct DatasetMeta {
  uint32_t schemaVersion = kRecordSchemaVersion;
  std::string format;
  std::string split;
  uint64_t count = 0;
  std::vector<std::string> classNames;
  std::vector<int> categoryIds;
  std::string source;
  std::string createdBy;
};

std::vector<uint8_t> encodeRecord(const RecordData &record);
std::vector<uint8_t> encodeMeta(const DatasetMeta &meta);

/// Verifies and decodes; on failure returns false and says why in `reason`.
bool decodeRecord(const void *data, std::size_t size, RecordData &record,
                  std::string &reason);
bool decodeMeta(const void *data, std::size_t size, DatasetMeta &meta,
                std::string &reason);

} // namespace hat::data

#endif // HAT_DATA_RECORD_H
