//===- Pack.cpp - Packing source datasets into LMDB -----------------------===//
#include "hat/Data/Pack.h"
#include "hat/Data/Error.h"
#include "hat/Data/Idx.h"
#include "hat/Data/Lmdb.h"

#include <nlohmann/json.hpp>
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace fs = std::filesystem;

namespace hat::data {

namespace {

std::vector<uint8_t> readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw DataError(path, "", "cannot read file");
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in),
                              std::istreambuf_iterator<char>());
}

// Decodes to check the image and learn its size; an undecodable source image
// is reported at pack time rather than in the middle of training.
cv::Mat decodeOrThrow(const std::vector<uint8_t> &bytes,
                      const std::string &path, const std::string &key) {
  cv::Mat encoded(1, static_cast<int>(bytes.size()), CV_8UC1,
                  const_cast<uint8_t *>(bytes.data()));
  cv::Mat image =
      bytes.empty() ? cv::Mat() : cv::imdecode(encoded, cv::IMREAD_COLOR);
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
      if (entry.is_regular_file() && hasImageExtension(entry.path()))
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
  if (!coco.contains("images") || !coco.contains("annotations") ||
      !coco.contains("categories"))
    throw DataError(annotationPath, "",
                    "not a COCO instances file (needs images, annotations, "
                    "categories)");

  DatasetMeta meta;
  meta.format = "coco";
  std::vector<std::pair<int, std::string>> categories;
  for (const auto &category : coco["categories"])
    categories.emplace_back(category.at("id").get<int>(),
                            category.at("name").get<std::string>());
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
    std::vector<const nlohmann::json *> annotations;
  };
  std::vector<Image> images;
  std::map<int64_t, std::size_t> imageById;
  for (const auto &image : coco["images"]) {
    Image entry{image.at("id").get<int64_t>(),
                image.at("file_name").get<std::string>(),
                image.value("width", 0),
                image.value("height", 0),
                {}};
    imageById[entry.id] = images.size();
    images.push_back(std::move(entry));
  }
  for (const auto &annotation : coco["annotations"]) {
    auto found = imageById.find(annotation.at("image_id").get<int64_t>());
    if (found == imageById.end())
      throw DataError(annotationPath, "",
                      "annotation " +
                          annotation.value("id", nlohmann::json()).dump() +
                          " refers to unknown image_id " +
                          annotation.at("image_id").dump());
    images[found->second].annotations.push_back(&annotation);
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
        RecordData record;
        setImage(record, std::move(bytes), decoded);
        record.fileName = image.fileName;
        record.imageId = image.id;
        for (const nlohmann::json *annotation : image.annotations) {
          const auto &bbox = annotation->at("bbox");
          const std::string which =
              "annotation " + annotation->value("id", nlohmann::json()).dump() +
              " of image " + std::to_string(image.id);
          if (!bbox.is_array() || bbox.size() != 4)
            throw DataError(annotationPath, key,
                            which + ": bbox is not [x, y, w, h]");
          const float x = bbox[0].get<float>(), y = bbox[1].get<float>();
          const float w = bbox[2].get<float>(), h = bbox[3].get<float>();
          if (!(w > 0) || !(h > 0))
            throw DataError(annotationPath, key,
                            which + ": bbox " + bbox.dump() + " has no area");
          const int categoryId = annotation->at("category_id").get<int>();
          auto label = labelOfCategory.find(categoryId);
          if (label == labelOfCategory.end())
            throw DataError(annotationPath, key,
                            which + ": unknown category_id " +
                                std::to_string(categoryId));
          RecordObject object;
          object.x1 = x;
          object.y1 = y;
          object.x2 = x + w;
          object.y2 = y + h;
          object.categoryId = categoryId;
          object.label = label->second;
          object.iscrowd = annotation->value("iscrowd", 0) != 0;
          object.area = annotation->value("area", w * h);
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
  if (options.format == "fashion-mnist")
    return packFashionMnist(options);
  if (options.format == "imagefolder")
    return packImageFolder(options);
  if (options.format == "coco")
    return packCoco(options);
  return packCuLane(options);
}

} // namespace hat::data
