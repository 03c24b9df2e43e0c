//===- CocoJson.cpp - COCO ground truth and result files ------------------===//

#include "hat/Detection/CocoJson.h"

#include <nlohmann/json.hpp>

#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

namespace hat::detection {

using nlohmann::json;

CocoFormatError::CocoFormatError(std::string file, std::string entry,
                                 std::string reason)
    : std::runtime_error(file + ": " + (entry.empty() ? "" : entry + ": ") +
                         reason),
      file_(std::move(file)), entry_(std::move(entry)),
      reason_(std::move(reason)) {}

namespace {

std::string readText(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw CocoFormatError(path, "", "cannot open file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

[[noreturn]] void throwParseError(const std::string &text,
                                  const std::string &file,
                                  std::size_t byteCount,
                                  const std::string &what) {
  // Report a line and column; nlohmann only knows the byte.
  std::size_t byte =
      std::min<std::size_t>(byteCount > 0 ? byteCount - 1 : 0, text.size());
  std::size_t line = 1, lineStart = 0;
  for (std::size_t i = 0; i < byte; ++i)
    if (text[i] == '\n') {
      ++line;
      lineStart = i + 1;
    }
  std::string where = "line " + std::to_string(line) + ", column " +
                      std::to_string(byte - lineStart + 1);
  std::string hint;
  for (std::size_t i = lineStart; i <= byte && i < text.size(); ++i)
    if (text.compare(i, 3, "NaN") == 0 || text.compare(i, 8, "Infinity") == 0)
      hint = " (NaN and Infinity are not JSON numbers; Python's json "
             "writes them for non-finite values, e.g. a NaN score)";
  const std::size_t syntax = what.find("syntax error");
  throw CocoFormatError(
      file, where,
      "invalid JSON: " +
          (syntax == std::string::npos ? what : what.substr(syntax)) + hint);
}

void refuseEmpty(const std::string &text, const std::string &file,
                 const char *expected) {
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw CocoFormatError(file, "",
                          std::string("empty file: expected ") + expected);
}

json parseJson(const std::string &text, const std::string &file,
               const char *expected) {
  refuseEmpty(text, file, expected);
  try {
    return json::parse(text);
  } catch (const json::parse_error &error) {
    throwParseError(text, file, error.byte, error.what());
  }
}

// Field access with messages naming the entry.
struct Entry {
  const std::string &file;
  std::string name;
  const json &value;

  [[noreturn]] void fail(const std::string &reason) const {
    throw CocoFormatError(file, name, reason);
  }

  const json &field(const char *key) const {
    auto found = value.find(key);
    if (found == value.end())
      fail(std::string("missing \"") + key + "\"");
    return *found;
  }

  int64_t integer(const char *key) const {
    const json &v = field(key);
    if (v.is_number_integer())
      return v.get<int64_t>();
    if (v.is_number_float()) {
      const double d = v.get<double>();
      if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15)
        return static_cast<int64_t>(d);
    }
    fail(std::string("\"") + key + "\" must be an integer, not " + v.dump());
  }

  double number(const char *key) const {
    const json &v = field(key);
    if (!v.is_number())
      fail(std::string("\"") + key + "\" must be a number, not " + v.dump());
    const double d = v.get<double>();
    if (!std::isfinite(d))
      fail(std::string("\"") + key + "\" is not finite");
    return d;
  }

  void box(double out[4]) const {
    const json &v = field("bbox");
    if (!v.is_array() || v.size() != 4)
      fail("\"bbox\" must be [x, y, width, height], not " + v.dump());
    for (int i = 0; i < 4; ++i) {
      if (!v[i].is_number())
        fail("\"bbox\" must be 4 numbers, not " + v.dump());
      out[i] = v[i].get<double>();
      if (!std::isfinite(out[i]))
        fail("\"bbox\" " + v.dump() + " is not finite");
    }
  }
};

std::string entryName(const char *array, std::size_t i, const json &value) {
  std::string name = std::string(array) + "[" + std::to_string(i) + "]";
  auto id = value.is_object() ? value.find("id") : value.end();
  if (value.is_object() && id != value.end() && id->is_number())
    name += " (id " + id->dump() + ")";
  return name;
}

const json &arrayField(const json &root, const char *key,
                       const std::string &file, bool required) {
  static const json empty = json::array();
  auto found = root.find(key);
  if (found == root.end()) {
    if (required)
      throw CocoFormatError(file, "",
                            std::string("not a COCO instances file: no \"") +
                                key + "\" array");
    return empty;
  }
  if (!found->is_array())
    throw CocoFormatError(file, "",
                          std::string("\"") + key + "\" must be an array");
  return *found;
}

// The shortest text that reads back to the same double.
std::string formatNumber(double value) {
  char buffer[32];
  auto [end, error] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  return std::string(buffer, error == std::errc() ? end : buffer);
}

} // namespace

CocoGroundTruth parseCocoGroundTruth(const std::string &text,
                                     const std::string &file,
                                     std::vector<std::string> *warnings) {
  const json root = parseJson(text, file, "a COCO instances object");
  if (!root.is_object())
    throw CocoFormatError(file, "",
                          "not a COCO instances file: the top level must be "
                          "an object with images, annotations, categories");
  CocoGroundTruth gt;
  std::unordered_map<int64_t, std::size_t> imageOf;
  std::unordered_set<int64_t> categoryIds, annotationIds;

  const json &images = arrayField(root, "images", file, true);
  for (std::size_t i = 0; i < images.size(); ++i) {
    Entry entry{file, entryName("images", i, images[i]), images[i]};
    if (!images[i].is_object())
      entry.fail("must be an object");
    CocoImage image;
    image.id = entry.integer("id");
    if (images[i].contains("width"))
      image.width = static_cast<int>(entry.integer("width"));
    if (images[i].contains("height"))
      image.height = static_cast<int>(entry.integer("height"));
    auto name = images[i].find("file_name");
    if (name != images[i].end() && name->is_string())
      image.fileName = name->get<std::string>();
    if (!imageOf.emplace(image.id, gt.images.size()).second)
      entry.fail("duplicate image id " + std::to_string(image.id));
    gt.images.push_back(std::move(image));
  }

  const json &categories = arrayField(root, "categories", file, true);
  for (std::size_t i = 0; i < categories.size(); ++i) {
    Entry entry{file, entryName("categories", i, categories[i]), categories[i]};
    if (!categories[i].is_object())
      entry.fail("must be an object");
    CocoCategory category;
    category.id = entry.integer("id");
    auto name = categories[i].find("name");
    if (name != categories[i].end() && name->is_string())
      category.name = name->get<std::string>();
    if (!categoryIds.insert(category.id).second)
      entry.fail("duplicate category id " + std::to_string(category.id));
    gt.categories.push_back(std::move(category));
  }

  const json &annotations = arrayField(root, "annotations", file, false);
  gt.annotations.reserve(annotations.size());
  for (std::size_t i = 0; i < annotations.size(); ++i) {
    const json &value = annotations[i];
    Entry entry{file, entryName("annotations", i, value), value};
    if (!value.is_object())
      entry.fail("must be an object");
    GroundTruthBox box;
    box.id = entry.integer("id");
    box.imageId = entry.integer("image_id");
    box.categoryId = entry.integer("category_id");
    double b[4];
    entry.box(b);
    box.x = b[0];
    box.y = b[1];
    box.width = b[2];
    box.height = b[3];
    box.area = entry.number("area");
    auto crowd = value.find("iscrowd");
    if (crowd != value.end()) {
      if (crowd->is_boolean())
        box.iscrowd = crowd->get<bool>();
      else if (crowd->is_number_integer())
        box.iscrowd = crowd->get<int64_t>() != 0;
      else if (crowd->is_number_float() &&
               (crowd->get<double>() == 0 || crowd->get<double>() == 1))
        box.iscrowd = crowd->get<double>() == 1;
      else
        entry.fail("\"iscrowd\" must be 0, 1 or a boolean, not " +
                   crowd->dump());
    }
    if (!annotationIds.insert(box.id).second)
      entry.fail("duplicate annotation id " + std::to_string(box.id));
    auto image = imageOf.find(box.imageId);
    if (image == imageOf.end())
      entry.fail("image_id " + std::to_string(box.imageId) +
                 " is not in \"images\"");
    if (!categoryIds.count(box.categoryId))
      entry.fail("category_id " + std::to_string(box.categoryId) +
                 " is not in \"categories\"");
    if (warnings) {
      const std::string where = file + ": " + entry.name + ": ";
      if (box.id == 0)
        warnings->push_back(where +
                            "annotation id 0: pycocotools (and so this "
                            "evaluator) counts a detection matched to it as "
                            "a false positive; number annotations from 1");
      if (!(box.width > 0) || !(box.height > 0))
        warnings->push_back(where + "degenerate bbox " + value["bbox"].dump() +
                            " (w or h <= 0) can never be matched");
      const CocoImage &im = gt.images[image->second];
      if (im.width > 0 && im.height > 0 &&
          (box.x < 0 || box.y < 0 || box.x + box.width > im.width ||
           box.y + box.height > im.height))
        warnings->push_back(where + "bbox " + value["bbox"].dump() +
                            " reaches outside its " + std::to_string(im.width) +
                            "x" + std::to_string(im.height) +
                            " image (evaluated as given)");
    }
    gt.annotations.push_back(box);
  }
  return gt;
}

CocoGroundTruth loadCocoGroundTruth(const std::string &path,
                                    std::vector<std::string> *warnings) {
  return parseCocoGroundTruth(readText(path), path, warnings);
}

namespace {

// Streams a results array into DetectionBox records. A DOM of 500,000
// detections costs more time and memory than evaluating them, so the
// results file is read event by event; the checks and messages are those
// of the ground-truth reader.
class DetectionsReader : public nlohmann::json_sax<json> {
public:
  DetectionsReader(const std::string &text, const std::string &file,
                   const CocoGroundTruth &gt, std::vector<DetectionBox> &out)
      : text(text), file(file), out(out) {
    for (const CocoImage &image : gt.images)
      images.insert(image.id);
    for (const CocoCategory &category : gt.categories)
      categories.insert(category.id);
  }

  bool null() override { return scalar("null", Kind::Other, 0); }
  bool boolean(bool value) override {
    return scalar(value ? "true" : "false", Kind::Other, 0);
  }
  bool number_integer(number_integer_t value) override {
    return scalar(std::to_string(value), Kind::Integer,
                  static_cast<double>(value), value);
  }
  bool number_unsigned(number_unsigned_t value) override {
    return scalar(
        std::to_string(value), Kind::Integer, static_cast<double>(value),
        value > static_cast<uint64_t>(INT64_MAX) ? INT64_MAX
                                                 : static_cast<int64_t>(value));
  }
  bool number_float(number_float_t value, const string_t &raw) override {
    return scalar(raw, Kind::Float, value);
  }
  bool string(string_t &value) override {
    return scalar(json(value).dump(), Kind::Other, 0);
  }
  bool binary(binary_t &) override {
    return scalar("<binary>", Kind::Other, 0);
  }

  bool start_object(std::size_t) override {
    if (depth == 0)
      notAnArray();
    if (depth == 1) {
      ++index;
      record = Record();
    } else if (depth == 3 && inBox) {
      nestedInBox("{...}");
    } else if (depth == 2 && field != Field::Other) {
      wrongType("an object");
    }
    ++depth;
    return true;
  }
  bool end_object() override {
    --depth;
    if (depth == 1)
      finishRecord();
    return true;
  }
  bool key(string_t &name) override {
    if (depth == 2)
      field = name == "image_id"      ? Field::ImageId
              : name == "category_id" ? Field::CategoryId
              : name == "bbox"        ? Field::Bbox
              : name == "score"       ? Field::Score
                                      : Field::Other;
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth == 1) {
      ++index;
      fail("must be an object, not an array");
    }
    if (depth == 2 && field == Field::Bbox) {
      inBox = true;
      record.box.clear();
      record.boxText.clear();
      record.boxNumeric = true;
    } else if (depth == 3 && inBox) {
      nestedInBox("[...]");
    } else if (depth == 2 && field != Field::Other) {
      wrongType("an array");
    }
    ++depth;
    if (depth == 1)
      sawArray = true;
    return true;
  }
  bool end_array() override {
    --depth;
    if (depth == 2 && inBox) {
      inBox = false;
      record.hasBox = true;
    }
    return true;
  }
  bool parse_error(std::size_t position, const std::string &,
                   const nlohmann::detail::exception &error) override {
    throwParseError(text, file, position, error.what());
  }

  void finish() const {
    if (!sawArray)
      notAnArray();
  }

private:
  enum class Field { ImageId, CategoryId, Bbox, Score, Other };
  enum class Kind { Integer, Float, Other };
  struct Record {
    std::optional<int64_t> imageId, categoryId;
    std::optional<double> score;
    std::vector<double> box;
    std::string boxText;
    bool boxNumeric = true, hasBox = false;
  };

  [[noreturn]] void fail(const std::string &reason) const {
    throw CocoFormatError(file, "detection " + std::to_string(index - 1),
                          reason);
  }
  [[noreturn]] void notAnArray() const {
    throw CocoFormatError(file, "",
                          "COCO results must be a JSON array of {image_id, "
                          "category_id, bbox, score} objects");
  }
  const char *fieldName() const {
    switch (field) {
    case Field::ImageId:
      return "image_id";
    case Field::CategoryId:
      return "category_id";
    case Field::Bbox:
      return "bbox";
    case Field::Score:
      return "score";
    default:
      return "";
    }
  }
  [[noreturn]] void wrongType(const std::string &what) const {
    if (field == Field::Bbox)
      fail("\"bbox\" must be [x, y, width, height], not " + what);
    fail(std::string("\"") + fieldName() + "\" must be " +
         (field == Field::Score ? "a number" : "an integer") + ", not " + what);
  }

  void nestedInBox(const char *what) {
    record.boxText += (record.boxText.empty() ? "" : ",") + std::string(what);
    record.boxNumeric = false;
    record.box.push_back(0);
  }

  bool scalar(const std::string &textValue, Kind kind, double value,
              int64_t integer = 0) {
    if (depth == 0)
      notAnArray();
    if (depth == 1) {
      ++index;
      fail("must be an object, not " + textValue);
    }
    if (depth == 3 && inBox) {
      record.boxText += (record.boxText.empty() ? "" : ",") + textValue;
      if (kind == Kind::Other || !std::isfinite(value))
        record.boxNumeric = false;
      record.box.push_back(value);
      return true;
    }
    if (depth != 2)
      return true; // inside a field this reader does not use
    switch (field) {
    case Field::ImageId:
    case Field::CategoryId: {
      std::optional<int64_t> id;
      if (kind == Kind::Integer)
        id = integer;
      else if (kind == Kind::Float && std::isfinite(value) &&
               value == std::floor(value) && std::fabs(value) < 9.0e15)
        id = static_cast<int64_t>(value);
      if (!id)
        wrongType(textValue);
      (field == Field::ImageId ? record.imageId : record.categoryId) = id;
      break;
    }
    case Field::Score:
      if (kind == Kind::Other)
        wrongType(textValue);
      if (!std::isfinite(value))
        fail("\"score\" is not finite");
      record.score = value;
      break;
    case Field::Bbox:
      wrongType(textValue);
    case Field::Other:
      break;
    }
    return true;
  }

  void finishRecord() {
    if (!record.imageId)
      fail("missing \"image_id\"");
    if (!record.categoryId)
      fail("missing \"category_id\"");
    if (!record.hasBox)
      fail("missing \"bbox\"");
    if (record.box.size() != 4)
      fail("\"bbox\" must be [x, y, width, height], not [" + record.boxText +
           "]");
    if (!record.boxNumeric)
      fail("\"bbox\" must be 4 finite numbers, not [" + record.boxText + "]");
    if (!record.score)
      fail("missing \"score\"");
    if (!images.count(*record.imageId))
      fail("image_id " + std::to_string(*record.imageId) +
           " is not an image of the ground truth");
    if (!categories.count(*record.categoryId))
      fail("category_id " + std::to_string(*record.categoryId) +
           " is not a category of the ground truth");
    DetectionBox det;
    det.imageId = *record.imageId;
    det.categoryId = *record.categoryId;
    det.x = record.box[0];
    det.y = record.box[1];
    det.width = record.box[2];
    det.height = record.box[3];
    det.score = *record.score;
    out.push_back(det);
  }

  const std::string &text;
  const std::string &file;
  std::vector<DetectionBox> &out;
  std::unordered_set<int64_t> images, categories;
  int depth = 0;
  std::size_t index = 0;
  Field field = Field::Other;
  bool inBox = false, sawArray = false;
  Record record;
};

} // namespace

std::vector<DetectionBox>
parseCocoDetections(const std::string &text, const std::string &file,
                    const CocoGroundTruth &gt,
                    std::vector<std::string> *warnings) {
  refuseEmpty(text, file, "a JSON array of detections");
  std::vector<DetectionBox> detections;
  // ~100 bytes per detection in typical files.
  detections.reserve(text.size() / 100);
  DetectionsReader reader(text, file, gt, detections);
  json::sax_parse(text, &reader);
  reader.finish();
  if (detections.empty() && warnings)
    warnings->push_back(file + ": no detections: every AP and AR is 0 (-1 "
                               "where there are no objects)");
  return detections;
}

std::vector<DetectionBox>
loadCocoDetections(const std::string &path, const CocoGroundTruth &gt,
                   std::vector<std::string> *warnings) {
  return parseCocoDetections(readText(path), path, gt, warnings);
}

std::string cocoDetectionsToJson(const std::vector<DetectionBox> &detections) {
  // Written by hand: nlohmann's DOM would cost ~10x the memory of the
  // detections for a 500k-entry file.
  std::string out = "[";
  for (std::size_t i = 0; i < detections.size(); ++i) {
    const DetectionBox &d = detections[i];
    if (!std::isfinite(d.x) || !std::isfinite(d.y) || !std::isfinite(d.width) ||
        !std::isfinite(d.height) || !std::isfinite(d.score))
      throw CocoFormatError("COCO results", "detection " + std::to_string(i),
                            "bbox or score is not finite (JSON has no NaN)");
    out += i ? ",\n" : "\n";
    out += "{\"image_id\": " + std::to_string(d.imageId) +
           ", \"category_id\": " + std::to_string(d.categoryId) +
           ", \"bbox\": [" + formatNumber(d.x) + ", " + formatNumber(d.y) +
           ", " + formatNumber(d.width) + ", " + formatNumber(d.height) +
           "], \"score\": " + formatNumber(d.score) + "}";
  }
  out += detections.empty() ? "]\n" : "\n]\n";
  return out;
}

void writeCocoDetections(const std::string &path,
                         const std::vector<DetectionBox> &detections) {
  std::ofstream out(path, std::ios::binary);
  if (!out)
    throw CocoFormatError(path, "", "cannot open for writing");
  out << cocoDetectionsToJson(detections);
  if (!out.flush())
    throw CocoFormatError(path, "", "write failed");
}

} // namespace hat::detection
