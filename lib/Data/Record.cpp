//===- Record.cpp - flatbuffers encoding of records and meta --------------===//
#include "hat/Data/Record.h"
#include "hat/Data/Record_generated.h"

#include <cstdio>
#include <cstring>

namespace hat::data {

namespace {
// The meta record shares the schema file but has its own identifier, so a
// meta value can never be verified as a sample record or vice versa.
constexpr const char *kMetaIdentifier = "HATM";
} // namespace

std::string recordKey(std::size_t index) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%010zu", index);
  return buffer;
}

ImageEncoding sniffEncoding(const std::vector<uint8_t> &bytes) {
  static const uint8_t png[] = {0x89, 'P', 'N', 'G'};
  if (bytes.size() >= 4 && std::memcmp(bytes.data(), png, 4) == 0)
    return ImageEncoding::Png;
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 &&
      bytes[2] == 0xFF)
    return ImageEncoding::Jpeg;
  return ImageEncoding::Other;
}

std::vector<uint8_t> encodeRecord(const RecordData &record) {
  flatbuffers::FlatBufferBuilder builder(record.image.size() + 1024);
  std::vector<flatbuffers::Offset<fb::Object>> objects;
  objects.reserve(record.objects.size());
  for (const RecordObject &object : record.objects) {
    fb::Box box(object.x1, object.y1, object.x2, object.y2);
    objects.push_back(fb::CreateObject(builder, &box, object.categoryId,
                                       object.label, object.iscrowd,
                                       object.area));
  }
  std::vector<flatbuffers::Offset<fb::Lane>> lanes;
  lanes.reserve(record.lanes.size());
  for (const std::vector<float> &lane : record.lanes)
    lanes.push_back(fb::CreateLaneDirect(builder, &lane));
  // Strings by length, not c_str(): a name with a NUL byte is stored whole.
  // (Creation order as CreateRecordDirect's, so packs stay byte-identical.)
  auto key = builder.CreateString(record.key);
  auto fileName = builder.CreateString(record.fileName);
  auto image = builder.CreateVector(record.image);
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Object>>>
      objectVector;
  if (!objects.empty())
    objectVector = builder.CreateVector(objects);
  flatbuffers::Offset<flatbuffers::Vector<flatbuffers::Offset<fb::Lane>>>
      laneVector;
  if (!lanes.empty())
    laneVector = builder.CreateVector(lanes);
  auto root = fb::CreateRecord(
      builder, key, fileName, static_cast<fb::ImageEncoding>(record.encoding),
      image, record.width, record.height, record.channels, record.label,
      record.imageId, objectVector, laneVector);
  fb::FinishRecordBuffer(builder, root);
  return {builder.GetBufferPointer(),
          builder.GetBufferPointer() + builder.GetSize()};
}

bool decodeRecord(const void *data, std::size_t size, RecordData &record,
                  std::string &reason) {
  const auto *bytes = static_cast<const uint8_t *>(data);
  flatbuffers::Verifier verifier(bytes, size);
  if (!fb::VerifyRecordBuffer(verifier)) {
    reason =
        size >= 8 && flatbuffers::BufferHasIdentifier(bytes, kMetaIdentifier)
            ? "is the meta record, not a sample record"
            : "record is corrupt (fails flatbuffers verification of "
              "schema 'HATR')";
    return false;
  }
  const fb::Record *root = fb::GetRecord(bytes);
  record = RecordData();
  if (root->key())
    record.key = root->key()->str();
  if (root->file_name())
    record.fileName = root->file_name()->str();
  record.encoding = static_cast<ImageEncoding>(root->encoding());
  if (root->image())
    record.image.assign(root->image()->begin(), root->image()->end());
  record.width = root->width();
  record.height = root->height();
  record.channels = root->channels();
  record.label = root->label();
  record.imageId = root->image_id();
  if (root->objects()) {
    for (const fb::Object *object : *root->objects()) {
      RecordObject out;
      if (const fb::Box *box = object->box()) {
        out.x1 = box->x1();
        out.y1 = box->y1();
        out.x2 = box->x2();
        out.y2 = box->y2();
      }
      out.categoryId = object->category_id();
      out.label = object->label();
      out.iscrowd = object->iscrowd();
      out.area = object->area();
      record.objects.push_back(out);
    }
  }
  if (root->lanes()) {
    for (const fb::Lane *lane : *root->lanes()) {
      std::vector<float> points;
      if (lane->points())
        points.assign(lane->points()->begin(), lane->points()->end());
      record.lanes.push_back(std::move(points));
    }
  }
  return true;
}

std::vector<uint8_t> encodeMeta(const DatasetMeta &meta) {
  flatbuffers::FlatBufferBuilder builder(1024);
  std::vector<flatbuffers::Offset<flatbuffers::String>> names;
  for (const std::string &name : meta.classNames)
    names.push_back(builder.CreateString(name));
  auto format = builder.CreateString(meta.format);
  auto split = builder.CreateString(meta.split);
  auto nameVector = builder.CreateVector(names);
  auto categoryIds = builder.CreateVector(meta.categoryIds);
  auto source = builder.CreateString(meta.source);
  auto createdBy = builder.CreateString(meta.createdBy);
  auto root =
      fb::CreateMeta(builder, meta.schemaVersion, format, split, meta.count,
                     nameVector, categoryIds, source, createdBy);
  builder.Finish(root, kMetaIdentifier);
  return {builder.GetBufferPointer(),
          builder.GetBufferPointer() + builder.GetSize()};
}

bool decodeMeta(const void *data, std::size_t size, DatasetMeta &meta,
                std::string &reason) {
  const auto *bytes = static_cast<const uint8_t *>(data);
  flatbuffers::Verifier verifier(bytes, size);
  if (size < 8 || !flatbuffers::BufferHasIdentifier(bytes, kMetaIdentifier) ||
      !verifier.VerifyBuffer<fb::Meta>(kMetaIdentifier)) {
    reason = "meta record is not a HAT meta record (identifier 'HATM'); the "
             "LMDB predates the versioned schema or is corrupt";
    return false;
  }
  const fb::Meta *root = flatbuffers::GetRoot<fb::Meta>(bytes);
  meta = DatasetMeta();
  meta.schemaVersion = root->schema_version();
  if (root->format())
    meta.format = root->format()->str();
  if (root->split())
    meta.split = root->split()->str();
  meta.count = root->count();
  if (root->class_names())
    for (const flatbuffers::String *name : *root->class_names())
      meta.classNames.push_back(name->str());
  if (root->category_ids())
    meta.categoryIds.assign(root->category_ids()->begin(),
                            root->category_ids()->end());
  if (root->source())
    meta.source = root->source()->str();
  if (root->created_by())
    meta.createdBy = root->created_by()->str();
  return true;
}

} // namespace hat::data
