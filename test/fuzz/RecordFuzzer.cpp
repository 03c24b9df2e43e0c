//===- RecordFuzzer.cpp - libFuzzer target: the LMDB record decoder -------===//
//
// The bytes of one LMDB value go through what LmdbReader and LmdbDataset do
// with it: the meta decoder, the record decoder (flatbuffers verification)
// and decodeSample (image decoding, box/label/lane checks). Every refusal is
// a reason or a DataError; a record that decodes must encode and decode back
// to the same fields.
//
//===----------------------------------------------------------------------===//

#include "hat/Data/Datasets.h"
#include "hat/Data/Error.h"
#include "hat/Data/Record.h"

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>

using namespace hat::data;

namespace {
// Equal values, NaN equal to NaN. Not bitwise: flatbuffers leaves out a
// scalar field equal to its default, so an `area` of -0.0 reads back as 0.0.
bool sameFloat(float a, float b) {
  return a == b || (std::isnan(a) && std::isnan(b));
}

bool sameObjects(const std::vector<RecordObject> &a,
                 const std::vector<RecordObject> &b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const RecordObject &x = a[i], &y = b[i];
    if (!sameFloat(x.x1, y.x1) || !sameFloat(x.y1, y.y1) ||
        !sameFloat(x.x2, y.x2) || !sameFloat(x.y2, y.y2) ||
        !sameFloat(x.area, y.area) || x.categoryId != y.categoryId ||
        x.label != y.label || x.iscrowd != y.iscrowd)
      return false;
  }
  return true;
}

bool sameLanes(const std::vector<std::vector<float>> &a,
               const std::vector<std::vector<float>> &b) {
  if (a.size() != b.size())
    return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].size() != b[i].size() ||
        (!a[i].empty() &&
         std::memcmp(a[i].data(), b[i].data(), a[i].size() * sizeof(float))))
      return false;
  return true;
}
} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  std::string reason;
  DatasetMeta meta;
  if (decodeMeta(data, size, meta, reason)) {
    std::vector<uint8_t> bytes = encodeMeta(meta);
    DatasetMeta back;
    if (!decodeMeta(bytes.data(), bytes.size(), back, reason) ||
        back.schemaVersion != meta.schemaVersion ||
        back.format != meta.format || back.split != meta.split ||
        back.count != meta.count || back.classNames != meta.classNames ||
        back.categoryIds != meta.categoryIds || back.source != meta.source ||
        back.createdBy != meta.createdBy)
      std::abort();
  } else if (reason.empty()) {
    std::abort();
  }

  RecordData record;
  reason.clear();
  if (!decodeRecord(data, size, record, reason)) {
    if (reason.empty())
      std::abort();
    return 0;
  }
  std::vector<uint8_t> bytes = encodeRecord(record);
  RecordData back;
  if (!decodeRecord(bytes.data(), bytes.size(), back, reason) ||
      back.key != record.key || back.fileName != record.fileName ||
      back.encoding != record.encoding || back.image != record.image ||
      back.width != record.width || back.height != record.height ||
      back.channels != record.channels || back.label != record.label ||
      back.imageId != record.imageId ||
      !sameObjects(back.objects, record.objects) ||
      !sameLanes(back.lanes, record.lanes))
    std::abort();

  try {
    Sample sample = decodeSample(record, "fuzz.lmdb", 10);
    if (sample.image.empty() || sample.boxes.size() != record.objects.size())
      std::abort();
  } catch (const DataError &error) {
    if (error.source() != "fuzz.lmdb" || error.reason().empty())
      std::abort();
  }
  return 0;
}
