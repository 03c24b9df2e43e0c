//===- Pack.cpp - Packing source datasets into LMDB -----------------------===//
#include "hat/Data/Pack.h"
#include "hat/Data/Error.h"
#include "hat/Data/Idx.h"
#include "hat/Data/Lmdb.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;

namespace hat::data {

namespace {

std::vector<uint8_t> readFile(const std::string &path) {
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (!fs::exists(status))
    throw DataError(path, "",
                    fs::is_symlink(fs::symlink_status(path, ec))
                        ? "cannot read file: dangling symbolic link"
                        : "cannot read file: no such file");
  if (!fs::is_regular_file(status))
    throw DataError(path, "", "cannot read file: not a regular file");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw DataError(path, "", "cannot read file");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in),
                              std::istreambuf_iterator<char>());
}

std::string firstLine(const std::string &text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > 300 ? line.substr(0, 300) + "..." : line;
}

// Decodes to check the image and learn its size; an undecodable source image
// is reported at pack time rather than in the middle of training.
cv::Mat decodeOrThrow(const std::vector<uint8_t> &bytes,
                      const std::string &path, const std::string &key) {
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX))
    throw DataError(path, key, "image file is larger than 2 GiB");
  cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1,
                  const_cast<uint8_t *>(bytes.data()));
  cv::Mat image;
  try {
    // OpenCV refuses headers beyond CV_IO_MAX_IMAGE_PIXELS with an
    // exception (a PNG declaring 60000x60000); name the file instead.
    if (!bytes.empty())
      image = cv::imdecode(encoded, cv::IMREAD_COLOR);
  } catch (const cv::Exception &error) {
    throw DataError(path, key,
                    "image does not decode (" + std::to_string(bytes.size()) +
                        " bytes): OpenCV: " + firstLine(error.what()));
  } catch (const std::bad_alloc &) {
    throw DataError(path, key,
                    "image does not decode: its declared size does not fit "
                    "in memory");
  }
  if (image.empty())
    throw DataError(path, key,
                    "image does not decode (" + std::to_string(bytes.size()) +
                        " bytes)");
  return image;
}

// PNG and JPEG are stored byte for byte; anything else is re-encoded as PNG
// so every reader can rely on those two codecs.
void setImage(RecordData &record, std::vector<uint8_t> bytes,
              const cv::Mat &decoded) {
  record.encoding = sniffEncoding(bytes);
  if (record.encoding == ImageEncoding::Other) {
    cv::imencode(".png", decoded, bytes);
    record.encoding = ImageEncoding::Png;
  }
  record.image = std::move(bytes);
  record.width = decoded.cols;
  record.height = decoded.rows;
  record.channels = decoded.channels();
}

bool hasImageExtension(const fs::path &path) {
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png" || ext == ".bmp";
}

// Runs `produce(i)` for each source item and writes the records in order,
// applying the on_error policy to DataErrors.
template <typename Produce>
PackResult writeAll(const PackOptions &options, std::size_t total,
                    DatasetMeta meta, Produce produce) {
  LmdbWriter writer(options.out, options.overwrite);
  PackResult result;
  for (std::size_t i = 0; i < total; ++i) {
    try {
      RecordData record = produce(i);
      record.key = recordKey(result.count);
      writer.putRecord(record);
      ++result.count;
    } catch (const DataError &error) {
      if (options.on_error != "skip")
        throw;
      ++result.skipped;
      result.errors.push_back(error.what());
    }
    if (options.progress)
      options.progress(i + 1, total);
  }
  meta.schemaVersion = options.schemaVersion;
  meta.count = result.count;
  meta.split = options.split;
  meta.source = fs::absolute(options.src).lexically_normal().string();
  meta.createdBy =
      "hat-pack (record schema v" + std::to_string(options.schemaVersion) + ")";
  writer.commit(meta);
  return result;
}

std::size_t limited(std::size_t total, std::size_t limit) {
  return limit ? std::min(total, limit) : total;
}

PackResult packFashionMnist(const PackOptions &options) {
  FashionMnistSplit split = readFashionMnist(options.src, options.split);
  const std::size_t total = limited(split.labels.dims[0], options.limit);
  const int rows = static_cast<int>(split.images.dims[1]);
  const int cols = static_cast<int>(split.images.dims[2]);
  const std::string source = (options.split == "train" ? "train" : "t10k") +
                             std::string("-images-idx3-ubyte.gz#");
  DatasetMeta meta;
  meta.format = "fashion-mnist";
  meta.classNames = fashionMnistClassNames();
  return writeAll(options, total, meta, [&](std::size_t i) {
    cv::Mat image(rows, cols, CV_8UC1,
                  split.images.data.data() + i * split.images.itemSize());
    RecordData record;
    record.fileName = source + std::to_string(i);
    cv::imencode(".png", image, record.image);
    record.encoding = ImageEncoding::Png;
    record.width = cols;
    record.height = rows;
    record.channels = 1;
    record.label = split.labels.data[i];
    if (record.label >= static_cast<int>(meta.classNames.size()))
      throw DataError(options.src, recordKey(i),
                      "label " + std::to_string(record.label) +
                          " out of range");
    return record;
  });
}

PackResult packImageFolder(const PackOptions &options) {
  fs::path root = fs::path(options.src) / options.split;
  if (!fs::is_directory(root))
    root = options.src;
  std::vector<std::string> classes;
  for (const auto &entry : fs::directory_iterator(root))
    if (entry.is_directory())
      classes.push_back(entry.path().filename().string());
  std::sort(classes.begin(), classes.end());
  if (classes.empty())
    throw DataError(root.string(), "", "no class directories found");
  std::vector<std::pair<fs::path, int>> files;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    std::vector<fs::path> inClass;
    for (const auto &entry :
         fs::recursive_directory_iterator(root / classes[c]))
      // Dangling symlinks and other non-files with an image name are kept,
      // so that reading them fails (or is skipped) with a message naming
      // them instead of vanishing from the count.
      if (hasImageExtension(entry.path()) && !entry.is_directory())
        inClass.push_back(entry.path());
    std::sort(inClass.begin(), inClass.end());
    for (fs::path &path : inClass)
      files.emplace_back(std::move(path), static_cast<int>(c));
  }
  DatasetMeta meta;
  meta.format = "imagefolder";
  meta.classNames = classes;
  return writeAll(
      options, limited(files.size(), options.limit), meta, [&](std::size_t i) {
        const std::string path = files[i].first.string();
        std::vector<uint8_t> bytes = readFile(path);
        cv::Mat decoded = decodeOrThrow(bytes, path, recordKey(i));
        RecordData record;
        setImage(record, std::move(bytes), decoded);
        record.fileName = fs::relative(files[i].first, root).string();
        record.label = files[i].second;
        return record;
      });
}

std::string firstExisting(const std::vector<fs::path> &candidates,
                          bool directory, const std::string &what) {
  for (const fs::path &candidate : candidates)
    if (directory ? fs::is_directory(candidate)
                  : fs::is_regular_file(candidate))
      return candidate.string();
  std::string tried;
  for (const fs::path &candidate : candidates)
    tried += "\n  " + candidate.string();
  throw DataError(candidates.front().parent_path().string(), "",
                  "no " + what + " found; tried:" + tried);
}

/// Largest image side hat-pack accepts from an annotation or a decoded
/// header; far beyond any camera, small enough that width * height fits.
constexpr int64_t kMaxImageSide = 1 << 16;
/// Box overhang past the image border that is clipped rather than refused:
/// COCO's own annotations overhang by rounding (x + w = W + 0.5).
constexpr double kBoxClipSlack = 1.0;

/// `json` as an integer in [lo, hi], or throws DataError naming `where`.
int64_t integerField(const nlohmann::json &entry, const char *name,
                     const std::string &file, const std::string &where,
                     int64_t lo, int64_t hi, bool required = true,
                     int64_t fallback = 0) {
  auto found = entry.find(name);
  if (found == entry.end() || found->is_null()) {
    if (!required)
      return fallback;
    throw DataError(file, "", where + ": '" + name + "' is missing");
  }
  if (!found->is_number_integer() && !found->is_boolean()) {
    const bool wholeFloat =
        found->is_number_float() && std::isfinite(found->get<double>()) &&
        std::floor(found->get<double>()) == found->get<double>();
    if (!wholeFloat)
      throw DataError(file, "",
                      where + ": '" + name + "' must be an integer, got " +
                          found->dump());
  }
  const double approx =
      found->is_boolean() ? found->get<bool>() : found->get<double>();
  if (approx < static_cast<double>(lo) || approx > static_cast<double>(hi))
    throw DataError(file, "",
                    where + ": '" + name + "' " + found->dump() +
                        " is out of range [" + std::to_string(lo) + ", " +
                        std::to_string(hi) + "]");
  if (found->is_boolean())
    return found->get<bool>();
  if (found->is_number_float())
    return static_cast<int64_t>(found->get<double>());
  if (found->is_number_unsigned())
    return static_cast<int64_t>(found->get<uint64_t>());
  return found->get<int64_t>();
}

const nlohmann::json &arrayMember(const nlohmann::json &coco, const char *name,
                                  const std::string &file) {
  const nlohmann::json &array = coco.at(name);
  if (!array.is_array())
    throw DataError(file, "",
                    std::string("'") + name + "' must be a list, got " +
                        array.type_name());
  for (std::size_t i = 0; i < array.size(); ++i)
    if (!array[i].is_object())
      throw DataError(file, "",
                      std::string(name) + "[" + std::to_string(i) +
                          "] must be an object, got " + array[i].type_name());
  return array;
}

std::string entryName(const char *array, std::size_t index,
                      const nlohmann::json &entry) {
  std::string name = std::string(array) + "[" + std::to_string(index) + "]";
  auto id = entry.find("id");
  if (id != entry.end())
    name += " (id " + id->dump() + ")";
  return name;
}

PackResult packCoco(const PackOptions &options) {
  const fs::path src = options.src;
  const std::string year = options.split + "2017";
  const std::string annotationPath = firstExisting(
      {src / "annotations" / ("instances_" + year + ".json"),
       src / "annotations" / ("instances_" + options.split + ".json")},
      false, "COCO annotation file");
  const std::string imageDir =
      firstExisting({src / year, src / options.split, src / "images" / year},
                    true, "COCO image directory");
  nlohmann::json coco;
  try {
    std::ifstream in(annotationPath);
    in >> coco;
  } catch (const std::exception &error) {
    throw DataError(annotationPath, "",
                    std::string("invalid JSON: ") + error.what());
  }
  if (!coco.is_object() || !coco.contains("images") ||
      !coco.contains("annotations") || !coco.contains("categories"))
    throw DataError(annotationPath, "",
                    "not a COCO instances file (needs images, annotations, "
                    "categories)");
  const nlohmann::json &jsonCategories =
      arrayMember(coco, "categories", annotationPath);
  const nlohmann::json &jsonImages =
      arrayMember(coco, "images", annotationPath);
  const nlohmann::json &jsonAnnotations =
      arrayMember(coco, "annotations", annotationPath);

  DatasetMeta meta;
  meta.format = "coco";
  std::vector<std::pair<int, std::string>> categories;
  std::map<int, std::size_t> categoryIndex;
  for (std::size_t i = 0; i < jsonCategories.size(); ++i) {
    const nlohmann::json &category = jsonCategories[i];
    const std::string where = entryName("categories", i, category);
    const int id = static_cast<int>(integerField(category, "id", annotationPath,
                                                 where, INT32_MIN, INT32_MAX));
    auto name = category.find("name");
    if (name == category.end() || !name->is_string())
      throw DataError(annotationPath, "", where + ": 'name' must be a string");
    auto [previous, inserted] = categoryIndex.emplace(id, i);
    if (!inserted)
      throw DataError(annotationPath, "",
                      where + ": duplicate category id " + std::to_string(id) +
                          " (also categories[" +
                          std::to_string(previous->second) + "])");
    categories.emplace_back(id, name->get<std::string>());
  }
  std::sort(categories.begin(), categories.end());
  std::map<int, int> labelOfCategory;
  for (const auto &[id, name] : categories) {
    labelOfCategory[id] = static_cast<int>(meta.classNames.size());
    meta.classNames.push_back(name);
    meta.categoryIds.push_back(id);
  }

  struct Image {
    int64_t id;
    std::string fileName;
    int width, height;
    std::vector<std::size_t> annotations; // indices into jsonAnnotations
  };
  std::vector<Image> images;
  std::map<int64_t, std::size_t> imageById;
  for (std::size_t i = 0; i < jsonImages.size(); ++i) {
    const nlohmann::json &image = jsonImages[i];
    const std::string where = entryName("images", i, image);
    Image entry;
    entry.id =
        integerField(image, "id", annotationPath, where, INT64_MIN, INT64_MAX);
    auto fileName = image.find("file_name");
    if (fileName == image.end() || !fileName->is_string() ||
        fileName->get<std::string>().empty())
      throw DataError(annotationPath, "",
                      where + ": 'file_name' must be a non-empty string");
    entry.fileName = fileName->get<std::string>();
    // 0 (or absent) means "take the size from the image".
    entry.width = static_cast<int>(integerField(
        image, "width", annotationPath, where, 0, kMaxImageSide, false));
    entry.height = static_cast<int>(integerField(
        image, "height", annotationPath, where, 0, kMaxImageSide, false));
    auto [previous, inserted] = imageById.emplace(entry.id, images.size());
    if (!inserted)
      throw DataError(annotationPath, "",
                      where + ": duplicate image id " +
                          std::to_string(entry.id));
    images.push_back(std::move(entry));
  }
  for (std::size_t i = 0; i < jsonAnnotations.size(); ++i) {
    const nlohmann::json &annotation = jsonAnnotations[i];
    const std::string where = entryName("annotations", i, annotation);
    const int64_t imageId = integerField(annotation, "image_id", annotationPath,
                                         where, INT64_MIN, INT64_MAX);
    auto found = imageById.find(imageId);
    if (found == imageById.end())
      throw DataError(annotationPath, "",
                      where + " refers to unknown image_id " +
                          std::to_string(imageId));
    images[found->second].annotations.push_back(i);
  }
  std::sort(images.begin(), images.end(),
            [](const Image &a, const Image &b) { return a.id < b.id; });

  return writeAll(
      options, limited(images.size(), options.limit), meta, [&](std::size_t i) {
        const Image &image = images[i];
        const std::string path = (fs::path(imageDir) / image.fileName).string();
        const std::string key = recordKey(i);
        std::vector<uint8_t> bytes = readFile(path);
        cv::Mat decoded = decodeOrThrow(bytes, path, key);
        if ((image.width && image.width != decoded.cols) ||
            (image.height && image.height != decoded.rows))
          throw DataError(annotationPath, key,
                          "image " + std::to_string(image.id) + " is " +
                              std::to_string(decoded.cols) + "x" +
                              std::to_string(decoded.rows) +
                              " but the annotation says " +
                              std::to_string(image.width) + "x" +
                              std::to_string(image.height));
        const double width = decoded.cols, height = decoded.rows;
        RecordData record;
        setImage(record, std::move(bytes), decoded);
        record.fileName = image.fileName;
        record.imageId = image.id;
        for (std::size_t index : image.annotations) {
          const nlohmann::json &annotation = jsonAnnotations[index];
          const std::string which =
              "annotation " + annotation.value("id", nlohmann::json()).dump() +
              " (annotations[" + std::to_string(index) + "]) of image " +
              std::to_string(image.id);
          auto fail = [&](const std::string &reason) {
            return DataError(annotationPath, key, which + ": " + reason);
          };
          auto bboxIt = annotation.find("bbox");
          if (bboxIt == annotation.end() || !bboxIt->is_array() ||
              bboxIt->size() != 4)
            throw fail("bbox is not [x, y, w, h]");
          const nlohmann::json &bbox = *bboxIt;
          double v[4];
          for (int k = 0; k < 4; ++k) {
            if (!bbox[k].is_number())
              throw fail("bbox " + bbox.dump() + " holds a non-number");
            v[k] = bbox[k].get<double>();
            if (!std::isfinite(v[k]))
              throw fail("bbox " + bbox.dump() + " is not finite");
          }
          const double x = v[0], y = v[1], w = v[2], h = v[3];
          if (!(w > 0) || !(h > 0))
            throw fail("bbox " + bbox.dump() + " has no area");
          // Overhang by rounding is clipped; anything more is a wrong box.
          if (x < -kBoxClipSlack || y < -kBoxClipSlack ||
              x + w > width + kBoxClipSlack || y + h > height + kBoxClipSlack)
            throw fail("bbox " + bbox.dump() + " lies outside the " +
                       std::to_string(decoded.cols) + "x" +
                       std::to_string(decoded.rows) +
                       " image (more than 1 px; boxes overhanging by rounding "
                       "are clipped)");
          const double x1 = std::clamp(x, 0.0, width);
          const double y1 = std::clamp(y, 0.0, height);
          const double x2 = std::clamp(x + w, 0.0, width);
          const double y2 = std::clamp(y + h, 0.0, height);
          if (!(x2 > x1) || !(y2 > y1))
            throw fail("bbox " + bbox.dump() + " has no area inside the image");
          int64_t categoryId;
          try {
            categoryId = integerField(annotation, "category_id", annotationPath,
                                      which, INT32_MIN, INT32_MAX);
          } catch (const DataError &error) {
            throw DataError(annotationPath, key, error.reason());
          }
          auto label = labelOfCategory.find(static_cast<int>(categoryId));
          if (label == labelOfCategory.end())
            throw fail("unknown category_id " + std::to_string(categoryId));
          auto crowd = annotation.find("iscrowd");
          if (crowd != annotation.end() &&
              !(crowd->is_boolean() ||
                (crowd->is_number_integer() && (*crowd == 0 || *crowd == 1))))
            throw fail("iscrowd must be 0 or 1, got " + crowd->dump());
          double area = (x2 - x1) * (y2 - y1);
          auto areaIt = annotation.find("area");
          if (areaIt != annotation.end() && !areaIt->is_null()) {
            if (!areaIt->is_number() || !std::isfinite(areaIt->get<double>()) ||
                areaIt->get<double>() < 0 ||
                areaIt->get<double>() > width * height)
              throw fail("area " + areaIt->dump() +
                         " is not a number from 0 to the image's " +
                         std::to_string(decoded.cols * decoded.rows) +
                         " pixels");
            area = areaIt->get<double>();
          }
          RecordObject object;
          object.x1 = static_cast<float>(x1);
          object.y1 = static_cast<float>(y1);
          object.x2 = static_cast<float>(x2);
          object.y2 = static_cast<float>(y2);
          object.categoryId = static_cast<int>(categoryId);
          object.label = label->second;
          object.iscrowd =
              crowd != annotation.end() &&
              (crowd->is_boolean() ? crowd->get<bool>() : *crowd == 1);
          object.area = static_cast<float>(area);
          record.objects.push_back(object);
        }
        return record;
      });
}

PackResult packCuLane(const PackOptions &options) {
  const fs::path src = options.src;
  std::vector<fs::path> lists = {src / "list" / (options.split + ".txt")};
  if (options.split == "train")
    lists.push_back(src / "list" / "train_gt.txt");
  else
    lists.push_back(src / "list" / "test.txt");
  const std::string listPath = firstExisting(lists, false, "CuLane list file");
  std::ifstream list(listPath);
  std::vector<std::string> entries;
  for (std::string line; std::getline(list, line);) {
    std::istringstream fields(line);
    std::string path;
    if (fields >> path)
      entries.push_back(path);
  }
  DatasetMeta meta;
  meta.format = "culane";
  meta.classNames = {"lane"};
  return writeAll(
      options, limited(entries.size(), options.limit), meta,
      [&](std::size_t i) {
        std::string relative = entries[i];
        while (!relative.empty() && relative.front() == '/')
          relative.erase(relative.begin());
        const fs::path imagePath = src / relative;
        const std::string key = recordKey(i);
        std::vector<uint8_t> bytes = readFile(imagePath.string());
        cv::Mat decoded = decodeOrThrow(bytes, imagePath.string(), key);
        RecordData record;
        setImage(record, std::move(bytes), decoded);
        record.fileName = relative;
        fs::path linesPath = imagePath;
        linesPath.replace_extension(".lines.txt");
        std::ifstream linesFile(linesPath);
        if (!linesFile)
          throw DataError(linesPath.string(), key, "lane annotation missing");
        for (std::string line; std::getline(linesFile, line);) {
          std::istringstream values(line);
          std::vector<float> lane;
          for (float value; values >> value;)
            lane.push_back(value);
          if (!values.eof())
            throw DataError(linesPath.string(), key,
                            "lane line is not numbers: '" + line + "'");
          if (lane.empty())
            continue;
          if (lane.size() % 2 != 0 || lane.size() < 4)
            throw DataError(
                linesPath.string(), key,
                "lane has " + std::to_string(lane.size()) +
                    " values; needs x y pairs, two points at least");
          record.lanes.push_back(std::move(lane));
        }
        return record;
      });
}

} // namespace

PackResult pack(const PackOptions &options) {
  static const char *formats[] = {"fashion-mnist", "imagefolder", "coco",
                                  "culane"};
  if (std::find(std::begin(formats), std::end(formats), options.format) ==
      std::end(formats))
    throw DataError("hat-pack", "",
                    "unknown format '" + options.format +
                        "' (fashion-mnist, imagefolder, coco, culane)");
  if (options.split != "train" && options.split != "val")
    throw DataError("hat-pack", "",
                    "unknown split '" + options.split + "' (train or val)");
  if (options.out.empty())
    throw DataError("hat-pack", "", "--out is required");
  if (!fs::is_directory(options.src))
    throw DataError(options.src, "", "source directory does not exist");
  if (options.on_error != "fail" && options.on_error != "skip")
    throw DataError("hat-pack", "", "--on-error must be fail or skip");
  // The output is replaced as a whole: it must never be, or hold, the
  // source (`--src X --out X --overwrite` would delete the dataset).
  {
    std::error_code ec;
    const fs::path src = fs::weakly_canonical(options.src, ec);
    const fs::path out = fs::weakly_canonical(options.out, ec);
    auto within = [](const fs::path &inner, const fs::path &outer) {
      auto o = outer.begin(), i = inner.begin();
      for (; o != outer.end(); ++o, ++i)
        if (i == inner.end() || *o != *i)
          return false;
      return true;
    };
    if (!ec && within(src, out))
      throw DataError(options.out, "",
                      out == src ? "--out is the source directory; choose "
                                   "another output"
                                 : "--out holds the source directory " +
                                       options.src + "; choose another output");
  }
  if (options.format == "fashion-mnist")
    return packFashionMnist(options);
  if (options.format == "imagefolder")
    return packImageFolder(options);
  if (options.format == "coco")
    return packCoco(options);
  return packCuLane(options);
}

} // namespace hat::data
